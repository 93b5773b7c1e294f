/* h_events.c - GET /api/v1/events: the change feed (the store's event log) as a Server-Sent Events
 * stream, or a page of it as JSON (format=json).
 *
 * Each event is sent as
 *   id: <event id>
 *   event: <kind>                         "alert.firing", "task.overdue", ...
 *   data: {"id", "kind", "time", "data"}  (one line: the event's body under "data")
 * Filters: kind (comma-separated; "alert" or "alert.*" matches every alert.* kind), severity (the lowest
 * shown: events without a severity are then left out), unit (events about that org unit). The stream
 * starts after Last-Event-ID (the header, as EventSource sends it when it reconnects, or the last_event_id
 * parameter), else at the current end of the log. A comment line ": heartbeat" goes out after `heartbeat`
 * seconds of silence (1..300, default 15), which keeps proxies from closing the connection and tells a
 * client that the server is alive. The stream reads the log on the worker thread that sends it, with that
 * thread's store handle, whenever the alerts service wakes the streams (at once after each commit of
 * events, and once a second). */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/alerts_int.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "http/http_int.h"

#define PAGE_MAX 1000
#define CHUNK_MAX 65536 /* bytes of events gathered per read of the log */

typedef struct feed_filter {
  char *kinds[16];
  size_t n_kinds;
  int min_severity;
  const char *unit;
} feed_filter;

typedef struct sse {
  db_app *app;
  int64_t last_id;
  feed_filter f;
  char *unit;
  int64_t heartbeat_ms, last_write_ms;
  db_buf out;
  size_t off;
} sse;

/* Reads kind, severity and unit: 0, or answers 400 and returns -1. */
static int read_filter(const db_req *r, db_resp *w, feed_filter *f) {
  memset(f, 0, sizeof *f);
  const char *kind = db_req_query(r, "kind"), *sev = db_req_query(r, "severity");
  f->unit = db_req_query(r, "unit");
  if (sev && db_severity_parse(sev, &f->min_severity) != 0) {
    db__h_problem(w, 400, "severity", "expected info, warning, critical or emergency");
    return -1;
  }
  for (const char *p = kind; p && *p && f->n_kinds < 16;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n && p[n - 1] == '*') n--;
    if (n && p[n - 1] == '.') n--;
    if (n) f->kinds[f->n_kinds++] = db_strndup(p, n);
    p = comma ? comma + 1 : p + strlen(p);
  }
  return 0;
}

static void filter_free(feed_filter *f) {
  for (size_t i = 0; i < f->n_kinds; i++) db_free(f->kinds[i]);
  f->n_kinds = 0;
}

/* Whether event e passes f; *doc receives its parsed body (owned) when it does. */
static int passes(const feed_filter *f, const db_event *e, json_t **doc) {
  int ok = !f->n_kinds;
  for (size_t i = 0; i < f->n_kinds && !ok; i++) {
    size_t n = strlen(f->kinds[i]);
    ok = strncmp(e->kind, f->kinds[i], n) == 0 && (e->kind[n] == '\0' || e->kind[n] == '.');
  }
  if (!ok) return 0;
  json_t *body = json_loads(e->body, JSON_DECODE_ANY, NULL);
  if (f->min_severity) {
    int sev = 0;
    const char *s = json_string_value(json_object_get(body, "severity"));
    ok = s && db_severity_parse(s, &sev) == 0 && sev >= f->min_severity;
  }
  if (ok && f->unit) {
    const char *u = json_string_value(json_object_get(body, "unit"));
    ok = u && strcmp(u, f->unit) == 0;
  }
  if (!ok) {
    json_decref(body);
    return 0;
  }
  *doc = body ? body : json_null();
  return 1;
}

static json_t *event_json(const db_event *e, json_t *body) {
  char time[25];
  db_format_time_ms(e->time_ms, time);
  return json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)e->id, "kind", e->kind, "time", time, "data", body);
}

/* ---- the stream ---- */

static int sse_event(void *ctx, const db_event *e) {
  sse *st = ctx;
  json_t *body;
  st->last_id = e->id;
  if (passes(&st->f, e, &body)) {
    json_t *doc = event_json(e, body);
    char *text = json_dumps(doc, JSON_COMPACT);
    db_buf_printf(&st->out, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", e->id, e->kind, text);
    free(text);
    json_decref(doc);
  }
  return st->out.len >= CHUNK_MAX;
}

static long sse_read(void *ctx, db_stream *s, char *buf, size_t max) {
  sse *st = ctx;
  (void)s;
  if (st->off >= st->out.len) {
    db_buf_clear(&st->out);
    st->off = 0;
    db_store *store;
    if (db_app_reader(st->app, &store) != 0) return -1;
    if (db_store_event_read(store, st->last_id, sse_event, st) < 0) return -1;
    int64_t now = db_now_ms();
    if (!st->out.len && now - st->last_write_ms >= st->heartbeat_ms) db_buf_puts(&st->out, ": heartbeat\n\n");
    if (!st->out.len) return 0;
    st->last_write_ms = now;
  }
  size_t n = st->out.len - st->off < max ? st->out.len - st->off : max;
  memcpy(buf, st->out.data + st->off, n);
  st->off += n;
  return (long)n;
}

static void sse_close(void *ctx) {
  sse *st = ctx;
  filter_free(&st->f);
  db_free(st->unit);
  db_buf_free(&st->out);
  db_free(st);
}

static const db_stream_ops sse_ops = {sse_read, sse_close};

/* Where the stream starts: Last-Event-ID, else last_event_id, else the end of the log. 0, or -1 (400). */
static int start_id(const db_req *r, db_resp *w, int64_t *out) {
  const char *h = db_req_header(r, "Last-Event-ID"), *q = db_req_query(r, "last_event_id");
  const char *v = h ? h : q;
  if (!v) {
    db__alerts *a = db__alerts_of(r->app);
    *out = a ? atomic_load(&a->last_event) : 0;
    return 0;
  }
  if (db_parse_int64(v, strlen(v), out) != 0 || *out < 0) {
    db__h_problem(w, 400, h ? "Last-Event-ID" : "last_event_id", "expected an event id (a whole number >= 0)");
    return -1;
  }
  return 0;
}

/* ---- a page as JSON ---- */

typedef struct page {
  const feed_filter *f;
  json_t *events;
  int64_t limit, last;
} page;

static int page_event(void *ctx, const db_event *e) {
  page *p = ctx;
  json_t *body;
  p->last = e->id;
  if (passes(p->f, e, &body)) json_array_append_new(p->events, event_json(e, body));
  return (int64_t)json_array_size(p->events) >= p->limit;
}

static int events_page(db_req *r, db_resp *w, const feed_filter *f) {
  const char *after = db_req_query(r, "after"), *limit = db_req_query(r, "limit");
  page p = {f, json_array(), 100, 0};
  if (after && (db_parse_int64(after, strlen(after), &p.last) != 0 || p.last < 0)) {
    json_decref(p.events);
    return db__h_problem(w, 400, "after", "expected an event id (a whole number >= 0)");
  }
  if (limit && (db_parse_int64(limit, strlen(limit), &p.limit) != 0 || p.limit < 1 || p.limit > PAGE_MAX)) {
    json_decref(p.events);
    return db__h_problem(w, 400, "limit", "expected a whole number from 1 to %d", PAGE_MAX);
  }
  int err = db_store_event_read(r->store, p.last, page_event, &p);
  if (err < 0) {
    json_decref(p.events);
    return err;
  }
  db_resp_json(w, 200, json_pack("{s:o,s:I}", "events", p.events, "last", (json_int_t)p.last));
  return 0;
}

int db_h_events(db_req *r, db_resp *w) {
  feed_filter f;
  if (read_filter(r, w, &f) != 0) return 0;
  const char *format = db_req_query(r, "format");
  if (format && strcmp(format, "json") == 0) {
    int err = events_page(r, w, &f);
    filter_free(&f);
    return err;
  }
  const char *hb = db_req_query(r, "heartbeat");
  int64_t heartbeat = 15, start;
  if (hb && (db_parse_int64(hb, strlen(hb), &heartbeat) != 0 || heartbeat < 1 || heartbeat > 300)) {
    filter_free(&f);
    return db__h_problem(w, 400, "heartbeat", "expected seconds from 1 to 300");
  }
  if (start_id(r, w, &start) != 0) {
    filter_free(&f);
    return 0;
  }
  sse *st = db_calloc(1, sizeof *st);
  st->app = r->app;
  st->last_id = start;
  st->f = f;
  if (f.unit) st->unit = db_strdup(f.unit);
  st->f.unit = st->unit;
  st->heartbeat_ms = heartbeat * 1000;
  st->last_write_ms = 0; /* the first read sends a heartbeat at once: the client knows it is connected */
  db_resp_stream(w, 200, "text/event-stream; charset=utf-8", &sse_ops, st);
  db_resp_header(w, "X-Accel-Buffering", "no");
  return 0;
}
