/* h_audit.c - GET /api/v1/audit (admin): the audit trail, oldest first, a page at a time.
 *
 * ?after=ID starts after record ID (default 0: from the first); ?limit=N takes at most N records (1 to
 * 1000, default 100). The answer is {"records": [{id, time, time_ms, actor, action, object, detail,
 * prev_hash, hash}], "next_after": the id to pass as ?after= for the next page, or null at the end}.
 * A record's detail is its JSON when it is JSON, else its text. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/handlers.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000

typedef struct page {
  json_t *records;
  int64_t limit, last_id;
  int more; /* a record beyond the page exists */
} page;

/* A text field as JSON: null for NULL. */
static json_t *text_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static int add_record(void *ctx, const db_audit_link *l, const db_audit *a) {
  page *pg = ctx;
  if ((int64_t)json_array_size(pg->records) == pg->limit) {
    pg->more = 1;
    return 1;
  }
  char time[25];
  db_format_time_ms(a->time_ms, time);
  json_t *detail = a->detail ? json_loads(a->detail, JSON_DECODE_ANY, NULL) : json_null();
  if (!detail) detail = json_string(a->detail);
  json_t *rec = json_pack("{s:I,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)l->id, "time", time,
                          "time_ms", (json_int_t)a->time_ms, "actor", text_or_null(a->actor), "action",
                          text_or_null(a->action), "object", text_or_null(a->object), "detail", detail,
                          "prev_hash", text_or_null(l->prev_hash), "hash", text_or_null(l->hash));
  if (!rec || json_array_append_new(pg->records, rec) != 0) return DB_ENOMEM;
  pg->last_id = l->id;
  return 0;
}

/* Parses the integer query parameter `name` in [min, max] into *out (left as is when absent). Answers
 * 400 and returns 1 when it is malformed. */
static int int_param(db_req *r, db_resp *w, const char *name, int64_t min, int64_t max, int64_t *out) {
  const char *text = db_req_query(r, name);
  if (!text) return 0;
  if (db_parse_int64(text, strlen(text), out) == 0 && *out >= min && *out <= max) return 0;
  db__h_problem(w, 400, name, "'%s' is not an integer from %lld to %lld", text, (long long)min,
                (long long)max);
  return 1;
}

int db_h_audit_list(db_req *r, db_resp *w) {
  int64_t after = 0;
  page pg = {NULL, DEFAULT_LIMIT, 0, 0};
  if (int_param(r, w, "after", 0, INT64_MAX, &after) || int_param(r, w, "limit", 1, MAX_LIMIT, &pg.limit))
    return 0;
  pg.records = json_array();
  int err = pg.records ? db_store_audit_chain(r->store, after, add_record, &pg) : DB_ENOMEM;
  if (err) {
    json_decref(pg.records);
    return err;
  }
  json_t *next = pg.more ? json_integer((json_int_t)pg.last_id) : json_null();
  db_resp_json(w, 200, json_pack("{s:o,s:o}", "records", pg.records, "next_after", next));
  return 0;
}
