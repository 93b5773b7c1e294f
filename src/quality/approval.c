/* approval.c - a steward approves an (indicator group, unit, period): its observations become official
 * and locked, in one transaction with the approval record, its audit record and its event (contract in
 * quality.h; the lock itself is enforced by the ingest path, ingest.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "quality/quality_int.h"

typedef struct rows_ctx {
  db_obs *rows;
  size_t n, cap;
} rows_ctx;

static int collect(void *ctx, const db_obs_row *row) {
  rows_ctx *rc = ctx;
  if (rc->n == rc->cap) {
    rc->cap = rc->cap ? 2 * rc->cap : 64;
    rc->rows = db_realloc(rc->rows, rc->cap * sizeof *rc->rows);
  }
  rc->rows[rc->n++] = (db_obs){row->series, row->period, row->value, DB_STATUS_OFFICIAL};
  return 0;
}

/* The store ids of the data indicators of group whose periodicity is p's type; their count. */
static size_t group_indicators(const db_catalog *cat, const char *group, const db_period *p, int64_t *ids,
                               int *group_known) {
  size_t n = 0;
  size_t len = strlen(group);
  *group_known = 0;
  for (size_t i = 0; i < cat->n_indicators; i++) {
    const db_indicator *ind = &cat->indicators[i];
    int member = 0;
    for (const char *g = ind->groups; g && *g && !member;) {
      const char *end = strchr(g, ';');
      size_t k = end ? (size_t)(end - g) : strlen(g);
      member = k == len && memcmp(g, group, len) == 0;
      g = end ? end + 1 : NULL;
    }
    if (!member) continue;
    *group_known = 1;
    if (!ind->formula && ind->periodicity == p->type && ind->period_span == p->span) ids[n++] = ind->id;
  }
  return n;
}

/* The approval's record body. */
static char *approval_body(const char *group, const char *unit, const char *period, const char *actor,
                           const char *note, int64_t now_ms, int64_t seq, const rows_ctx *rc) {
  json_t *cells = json_array();
  for (size_t i = 0; i < rc->n; i++)
    json_array_append_new(cells, json_pack("[I, I]", (json_int_t)rc->rows[i].series, (json_int_t)rc->rows[i].period));
  json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s?, s:o}", "group", group, "orgunit", unit, "period",
                        period, "approved_by", actor, "approved_ms", (json_int_t)now_ms, "seq", (json_int_t)seq,
                        "note", note, "cells", cells);
  char *text = db__json_take(json_dumps(b, JSON_COMPACT));
  json_decref(b);
  return text;
}

int db_quality_approve(db_store *s, const db_catalog *cat, const char *group, const char *unit,
                       const char *period, const char *actor, const char *note, int64_t now_ms,
                       db_approval_result *out, db_diag *d) {
  memset(out, 0, sizeof *out);
  db_period p;
  char why[128];
  int bad = 0;
  const db_orgunit *u = unit ? db_catalog_unit(cat, unit) : NULL;
  if (!u) bad = db_diag_add(d, 0, 0, "orgunit", DB_EINVAL, "unknown org unit '%s'", unit ? unit : "");
  if (!period || db_period_parse(period, strlen(period), &p, why) != 0)
    bad = db_diag_add(d, 0, 0, "period", DB_EINVAL, "%s", period ? why : "period is required");
  if (!group || !*group) bad = db_diag_add(d, 0, 0, "group", DB_EINVAL, "group is required");
  if (bad) return DB_EINVAL;
  int64_t *ids = db_malloc((cat->n_indicators + 1) * sizeof *ids);
  int known;
  size_t n_ids = group_indicators(cat, group, &p, ids, &known);
  rows_ctx rc = {0};
  int err = 0;
  char pcode[DB_PERIOD_CODE_MAX];
  db_period_format(&p, pcode);
  if (!known) {
    err = db_diag_add(d, 0, 0, "group", DB_EINVAL, "no indicator is in group '%s'", group);
    goto done;
  }
  int64_t key = db_period_key(&p);
  db_obs_filter f = {.indicators = ids, .n_indicators = n_ids, .orgunits = &u->id, .n_orgunits = 1,
                     .period_from = key, .period_to = key};
  if (n_ids && (err = db_store_obs_read(s, &f, collect, &rc)) != 0) goto done;
  if (!rc.n) {
    err = db_diag_add(d, 0, 0, NULL, DB_ENOTFOUND, "no data of group %s at %s in %s to approve", group, u->code, pcode);
    goto done;
  }
  db_buf rkey = DB_BUF_INIT, object = DB_BUF_INIT;
  db_buf_printf(&rkey, "%s|%s|%s", group, u->code, pcode);
  db_buf_printf(&object, "approval:%s", db_buf_str(&rkey));
  db_batch_info info = {NULL, "approval", actor, now_ms};
  db_obs_outcome *outcomes = db_malloc(rc.n * sizeof *outcomes);
  char *body = NULL, *detail = NULL;
  if ((err = db_store_begin(s, 0)) != 0) goto free_all;
  err = db_store_batch_begin(s, &info, &out->seq);
  if (!err) err = db_store_obs_write(s, out->seq, rc.rows, rc.n, outcomes);
  for (size_t i = 0; i < rc.n && !err; i++) out->changed += outcomes[i] == DB_OBS_REVISED;
  out->cells = (int64_t)rc.n;
  if (!err) {
    json_t *j = json_pack("{s:I, s:I, s:I}", "seq", (json_int_t)out->seq, "revised", (json_int_t)out->changed,
                          "unchanged", (json_int_t)(out->cells - out->changed));
    detail = db__json_take(json_dumps(j, JSON_COMPACT));
    json_decref(j);
    db_batch_summary sum = {out->seq, 0, out->changed, out->cells - out->changed, detail};
    err = db_store_batch_finish(s, &sum);
  }
  if (!err) {
    body = approval_body(group, u->code, pcode, actor, note, now_ms, out->seq, &rc);
    db_record old, rec = {.kind = DB_APPROVAL_KIND, .key = db_buf_str(&rkey), .body = body};
    int got = db_store_record_get(s, DB_APPROVAL_KIND, 0, rec.key, &old);
    if (got == 0) {
      rec.id = old.id;
      db_record_free(&old);
    }
    err = got && got != DB_ENOTFOUND ? got : db_store_record_put(s, &rec, 0);
    out->id = rec.id;
  }
  if (!err) {
    db_audit a = {now_ms, actor, "quality.approve", db_buf_str(&object), body};
    err = db_store_audit_append(s, &a);
  }
  if (!err) {
    db_event ev = {.time_ms = now_ms, .kind = "quality.approved", .body = body};
    err = db_store_event_append(s, &ev);
  }
  if (!err) err = db_store_commit(s);
  if (err) {
    db_store_rollback(s);
    db_diag_add(d, 0, 0, NULL, err, "the approval could not be written: %s", db_strerror(err));
  }
free_all:
  db_free(outcomes);
  db_free(body);
  db_free(detail);
  db_buf_free(&rkey);
  db_buf_free(&object);
done:
  db_free(rc.rows);
  db_free(ids);
  return err;
}
