/* outbox.c - the durable webhook outbox (exchange.h): delivery records, and the sender thread that sends
 * them with libcurl, retries with backoff and jitter, and dead-letters them after the last try. */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "exchange/exchange.h"

struct db_outbox {
  db_outbox_hooks hooks;
  long timeout_ms;
  pthread_t thread;
  int running;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int stop;
  db_delivery **queue; /* pending deliveries, in no order */
  size_t n, cap;
  db_outbox_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void *sender_main(void *arg);
static void enqueue(db_outbox *ob, db_delivery *dl);

/* ---- delivery records ---- */

static char *dup_or_null(const char *s) { return s ? db_strdup(s) : NULL; }

char *db_delivery_body(const db_delivery *dl) {
  json_t *payload = json_loads(dl->payload ? dl->payload : "null", JSON_DECODE_ANY, NULL);
  json_t *log = json_loads(dl->log ? dl->log : "[]", 0, NULL);
  json_t *doc = json_pack("{s:I,s:I,s:s,s:s,s:s,s:i,s:I,s:I,s:o,s:o,s:{s:i,s:I,s:I}}", "webhook",
                          (json_int_t)dl->webhook, "event", (json_int_t)dl->event, "kind", dl->kind, "url",
                          dl->url, "status", dl->status, "attempts", dl->attempts, "next_ms",
                          (json_int_t)dl->next_ms, "created_ms", (json_int_t)dl->created_ms, "payload",
                          payload ? payload : json_null(), "log", log ? log : json_array(), "policy",
                          "max_attempts", dl->policy.max_attempts, "backoff_ms", (json_int_t)dl->policy.backoff_ms,
                          "max_backoff_ms", (json_int_t)dl->policy.max_backoff_ms);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  char *out = db_strdup(text);
  free(text);
  return out;
}

int db_exchange_delivery_new(db_store *s, int64_t webhook, const char *url, const db_retry_policy *policy,
                             const db_event *e, db_delivery *out) {
  memset(out, 0, sizeof *out);
  char time_text[25];
  db_format_time_ms(e->time_ms, time_text);
  json_t *data = json_loads(e->body, JSON_DECODE_ANY, NULL);
  json_t *payload = json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)e->id, "kind", e->kind, "time", time_text,
                              "data", data ? data : json_null());
  char *text = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  out->webhook = webhook;
  out->event = e->id;
  out->kind = db_strdup(e->kind);
  out->url = db_strdup(url);
  out->payload = db_strdup(text);
  free(text);
  out->policy = *policy;
  out->created_ms = out->next_ms = db_now_ms();
  out->status = db_strdup("pending");
  out->log = db_strdup("[]");
  char *body = db_delivery_body(out);
  db_record r = {.kind = DB_DELIVERY_KIND, .body = body};
  int err = db_store_record_put(s, &r, 0);
  db_free(body);
  if (err) {
    db_delivery_free(out);
    return err;
  }
  out->id = r.id;
  return 0;
}

int db_delivery_from_record(const db_record *r, db_delivery *out) {
  memset(out, 0, sizeof *out);
  json_t *doc = json_loads(r->body, 0, NULL);
  json_int_t webhook = 0, event = 0, next_ms = 0, created_ms = 0, backoff = 1000, max_backoff = 600000;
  int attempts = 0, max_attempts = 8;
  const char *kind = NULL, *url = NULL, *status = NULL;
  json_t *payload = NULL, *log = NULL;
  if (!doc || json_unpack(doc, "{s:I,s:I,s:s,s:s,s:s,s:i,s:I,s?I,s:o,s?o,s?{s?i,s?I,s?I}}", "webhook", &webhook,
                          "event", &event, "kind", &kind, "url", &url, "status", &status, "attempts", &attempts,
                          "next_ms", &next_ms, "created_ms", &created_ms, "payload", &payload, "log", &log,
                          "policy", "max_attempts", &max_attempts, "backoff_ms", &backoff, "max_backoff_ms",
                          &max_backoff) != 0) {
    json_decref(doc);
    return DB_EINVAL;
  }
  out->id = r->id;
  out->webhook = webhook;
  out->event = event;
  out->kind = db_strdup(kind);
  out->url = db_strdup(url);
  char *p = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY), *l = log ? json_dumps(log, JSON_COMPACT) : NULL;
  out->payload = db_strdup(p ? p : "null");
  out->log = db_strdup(l ? l : "[]");
  free(p);
  free(l);
  out->status = db_strdup(status);
  out->attempts = attempts;
  out->next_ms = next_ms;
  out->created_ms = created_ms;
  out->policy = (db_retry_policy){max_attempts, backoff, max_backoff};
  json_decref(doc);
  return 0;
}

void db_delivery_free(db_delivery *dl) {
  if (!dl) return;
  db_free(dl->kind);
  db_free(dl->url);
  db_free(dl->payload);
  db_free(dl->status);
  db_free(dl->log);
  memset(dl, 0, sizeof *dl);
}

static void delivery_copy(db_delivery *dst, const db_delivery *src) {
  *dst = *src;
  dst->kind = dup_or_null(src->kind);
  dst->url = dup_or_null(src->url);
  dst->payload = dup_or_null(src->payload);
  dst->status = dup_or_null(src->status);
  dst->log = dup_or_null(src->log);
}

/* ---- the outbox ---- */

typedef struct load_ctx {
  db_outbox *ob;
} load_ctx;

static int load_one(void *ctx, const db_record *r) {
  db_outbox *ob = ctx;
  db_delivery dl;
  if (db_delivery_from_record(r, &dl) != 0) return 0; /* not ours to judge: skipped */
  if (strcmp(dl.status, "pending") != 0) {
    db_delivery_free(&dl);
    return 0;
  }
  db_delivery *p = db_malloc(sizeof *p);
  *p = dl;
  enqueue(ob, p);
  return 0;
}

int db_outbox_open(db_store *s, const db_outbox_hooks *hooks, long timeout_ms, db_outbox **out, db_diag *d) {
  pthread_once(&curl_once, curl_init);
  db_outbox *ob = db_calloc(1, sizeof *ob);
  ob->hooks = *hooks;
  ob->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  pthread_mutex_init(&ob->lock, NULL);
  pthread_cond_init(&ob->wake, NULL);
  int err = db_store_record_scan(s, DB_DELIVERY_KIND, load_one, ob);
  if (err) {
    db_diag_add(d, 0, 0, NULL, err, "the webhook outbox cannot be read: %s", db_strerror(err));
    db_outbox_close(ob);
    return err;
  }
  ob->running = pthread_create(&ob->thread, NULL, sender_main, ob) == 0;
  if (!ob->running) {
    db_outbox_close(ob);
    return db_diag_add(d, 0, 0, NULL, DB_ENOMEM, "the webhook sender thread cannot start");
  }
  *out = ob;
  return 0;
}

/* Appends dl to the queue (the caller holds the lock or the sender is not running yet). */
static void enqueue(db_outbox *ob, db_delivery *dl) {
  if (ob->n == ob->cap) {
    ob->cap = ob->cap ? 2 * ob->cap : 16;
    ob->queue = db_realloc(ob->queue, ob->cap * sizeof *ob->queue);
  }
  ob->queue[ob->n++] = dl;
  ob->stats.queued = (int64_t)ob->n;
}

void db_outbox_add(db_outbox *ob, const db_delivery *dl) {
  db_delivery *p = db_malloc(sizeof *p);
  delivery_copy(p, dl);
  pthread_mutex_lock(&ob->lock);
  enqueue(ob, p);
  pthread_cond_signal(&ob->wake);
  pthread_mutex_unlock(&ob->lock);
}

void db_outbox_stats_get(db_outbox *ob, db_outbox_stats *out) {
  pthread_mutex_lock(&ob->lock);
  *out = ob->stats;
  pthread_mutex_unlock(&ob->lock);
}

void db_outbox_close(db_outbox *ob) {
  if (!ob) return;
  if (ob->running) {
    pthread_mutex_lock(&ob->lock);
    ob->stop = 1;
    pthread_cond_signal(&ob->wake);
    pthread_mutex_unlock(&ob->lock);
    pthread_join(ob->thread, NULL);
  }
  for (size_t i = 0; i < ob->n; i++) {
    db_delivery_free(ob->queue[i]);
    db_free(ob->queue[i]);
  }
  db_free(ob->queue);
  pthread_cond_destroy(&ob->wake);
  pthread_mutex_destroy(&ob->lock);
  db_free(ob);
}

/* ---- the sender ---- */

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p;
  (void)ctx;
  return size * n;
}

/* One HTTP attempt: 0 and *status (the HTTP status), or -1 with the reason in why. */
static int post_once(db_outbox *ob, const db_delivery *dl, const char *secret, long *status, char why[160]) {
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(why, 160, "cannot make an HTTP client");
    return -1;
  }
  int64_t ts = db_now_ms() / 1000;
  size_t len = strlen(dl->payload);
  char sig[DB_SIGNATURE_MAX], h[5][128];
  db_exchange_sign(secret, ts, dl->payload, len, sig);
  snprintf(h[0], sizeof h[0], "X-Databrain-Event-Id: %" PRId64, dl->event);
  snprintf(h[1], sizeof h[1], "X-Databrain-Delivery: %" PRId64, dl->id);
  snprintf(h[2], sizeof h[2], "X-Databrain-Timestamp: %" PRId64, ts);
  snprintf(h[3], sizeof h[3], "X-Databrain-Signature: %s", sig);
  snprintf(h[4], sizeof h[4], "X-Databrain-Event: %.100s", dl->kind);
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  for (int i = 0; i < 5; i++) headers = curl_slist_append(headers, h[i]);
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, dl->url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, dl->payload);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ob->timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  else snprintf(why, 160, "%.150s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return rc == CURLE_OK ? 0 : -1;
}

/* Appends an attempt to dl's log, keeping the last DB_OUTBOX_LOG_MAX. */
static void log_attempt(db_delivery *dl, int64_t at, long status, const char *error) {
  json_t *log = json_loads(dl->log ? dl->log : "[]", 0, NULL);
  if (!json_is_array(log)) {
    json_decref(log);
    log = json_array();
  }
  json_array_append_new(log, json_pack("{s:I,s:i,s:s}", "at_ms", (json_int_t)at, "status", (int)status, "error",
                                       error ? error : ""));
  while (json_array_size(log) > DB_OUTBOX_LOG_MAX) json_array_remove(log, 0);
  char *text = json_dumps(log, JSON_COMPACT);
  json_decref(log);
  db_free(dl->log);
  dl->log = db_strdup(text);
  free(text);
}

static void set_status(db_delivery *dl, const char *status) {
  db_free(dl->status);
  dl->status = db_strdup(status);
}

/* Sends dl once and decides what follows: delivered, dead, or another try later. */
static void attempt(db_outbox *ob, db_delivery *dl) {
  char secret[256], why[160] = "";
  long status = 0;
  int64_t now = db_now_ms();
  int found = ob->hooks.secret(ob->hooks.ctx, dl->webhook, secret, sizeof secret);
  int ok = 0;
  if (found != 0) {
    snprintf(why, sizeof why, "the webhook %" PRId64 " no longer exists", dl->webhook);
    dl->attempts = dl->policy.max_attempts;
  } else {
    ok = post_once(ob, dl, secret, &status, why) == 0 && status >= 200 && status < 300;
    if (!ok && !why[0]) snprintf(why, sizeof why, "the receiver answered %ld", status);
    dl->attempts++;
  }
  sodium_memzero(secret, sizeof secret);
  log_attempt(dl, now, status, ok ? NULL : why);
  if (ok) {
    set_status(dl, "delivered");
  } else if (dl->attempts >= dl->policy.max_attempts) {
    set_status(dl, "dead");
  } else {
    double rnd = (double)randombytes_uniform(1000000) / 1e6;
    dl->next_ms = db_now_ms() + db_retry_delay(&dl->policy, dl->attempts, rnd);
  }
}

/* The due delivery with the smallest (next_ms, id), or -1; *wait_ms how long until the next one. */
static long next_due(db_outbox *ob, int64_t now, int64_t *wait_ms) {
  long best = -1;
  for (size_t i = 0; i < ob->n; i++) {
    const db_delivery *dl = ob->queue[i];
    if (best < 0 || dl->next_ms < ob->queue[best]->next_ms ||
        (dl->next_ms == ob->queue[best]->next_ms && dl->id < ob->queue[best]->id))
      best = (long)i;
  }
  *wait_ms = best < 0 ? 3600000 : ob->queue[best]->next_ms - now;
  return best >= 0 && *wait_ms <= 0 ? best : -1;
}

static void *sender_main(void *arg) {
  db_outbox *ob = arg;
  pthread_mutex_lock(&ob->lock);
  while (!ob->stop) {
    int64_t wait_ms;
    long i = next_due(ob, db_now_ms(), &wait_ms);
    if (i < 0) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      if (wait_ms > 1000) wait_ms = 1000;
      until.tv_sec += wait_ms / 1000;
      until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
      if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&ob->wake, &ob->lock, &until);
      continue;
    }
    db_delivery *dl = ob->queue[i];
    ob->queue[i] = ob->queue[--ob->n]; /* out of the queue while it is sent */
    pthread_mutex_unlock(&ob->lock);
    attempt(ob, dl);
    int saved = ob->hooks.save(ob->hooks.ctx, dl);
    if (ob->hooks.attempted) ob->hooks.attempted(ob->hooks.ctx, dl);
    pthread_mutex_lock(&ob->lock);
    if (strcmp(dl->status, "delivered") == 0) ob->stats.delivered++;
    else ob->stats.failures++;
    if (strcmp(dl->status, "dead") == 0) ob->stats.dead++;
    if (saved != 0 && strcmp(dl->status, "pending") != 0) {
      /* the outcome is not durable: keep the delivery and write it again shortly */
      set_status(dl, "pending");
      dl->next_ms = db_now_ms() + 1000;
    }
    if (strcmp(dl->status, "pending") == 0) {
      enqueue(ob, dl);
    } else {
      db_delivery_free(dl);
      db_free(dl);
    }
    ob->stats.queued = (int64_t)ob->n;
  }
  pthread_mutex_unlock(&ob->lock);
  return NULL;
}
