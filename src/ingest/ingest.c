/* ingest.c - the observation write path: resolve, validate, batch, commit (contract in ingest.h).
 *
 * Rows are resolved on the caller's thread and appended to the current block. A full block goes to a
 * writer thread that creates the block's new series and writes its observations through the store,
 * while the caller fills the next block (two blocks, double-buffered). The caller reads the outcomes of
 * a finished block on its own thread, so the db_diag is only ever touched by the caller, and the store
 * handle is only used by the writer while a block is in flight (the caller touches it again only after
 * draining the writer).
 *
 * Duplicates: the store reports a row whose (series, period) this batch already wrote. A row that left
 * the stored value unchanged writes nothing, so the store cannot see a second copy of it: such rows are
 * remembered in a set (unchanged rows only; a fresh load never fills it).
 * Once a row is rejected, later rows are still resolved and written (the open transaction is the
 * scratch space that finds duplicates) and the batch is rolled back at the end.
 *
 * Locks: the approved cells (records of kind DB_INGEST_LOCK_KIND) are loaded into a set once per batch.
 * Only a row the store reports as revising an existing cell is looked up in it, so a load of new data
 * costs nothing; a revision of a locked cell is refused unless the batch gives a reason, and the accepted
 * ones are listed in an audit record with the reason. */
#include "ingest/ingest.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "ingest/ingest_int.h"

#define BLOCK_ROWS 16384

typedef struct block {
  db_obs rows[BLOCK_ROWS];
  db_obs_outcome outcomes[BLOCK_ROWS];
  long lines[BLOCK_ROWS];
  size_t keys[BLOCK_ROWS]; /* when keeping changes: offset of each row's dimension key in change_keys */
  size_t n;
  db_series *new_series; /* created by the writer before the rows */
  size_t n_new, cap_new;
  int err; /* store error met by the writer */
} block;

/* Per series known to the batch: catalog indexes, to name the series in messages. */
typedef struct series_info {
  int32_t indicator, unit; /* -1 when the object is no longer in the catalog */
} series_info;

struct db_ingest {
  db_store *store;
  const db_catalog *cat;
  db_diag *diag;
  int64_t seq;
  int failed; /* a row was rejected or the store failed: the batch will roll back */
  int dead;   /* the store failed: nothing more is written */
  db_ingest_result res;
  db_batch_info info;

  db_map series_by_key; /* (indicator id, unit id, dimkey) -> series id */
  db_map series_by_id;  /* series id -> series_info packed in the value */
  int64_t next_series_id;
  db_map unchanged_seen; /* (series id, period key) of rows that changed nothing */
  db_map locked;         /* (series id, period key) of approved cells -> approval record id */
  json_t *revised_locked; /* the locked cells this batch revised (with a reason), for the audit */
  char *reason;           /* db_ingest_set_reason; NULL when none */
  db_buf key;            /* scratch for map keys */

  /* one-entry caches: files are usually sorted by indicator and unit */
  char last_ind_code[72], last_unit_code[72], last_dims_raw[256];
  int64_t last_ind, last_unit; /* catalog indexes, -1 when unset */
  db_buf last_dims;            /* canonical form of last_dims_raw */

  db_ingest_guard guard;
  void *guard_ctx;

  /* the change set, when kept: rows with their dimension keys as offsets (key_of) into change_keys,
   * where each distinct key is stored once (key_index) */
  int keep;
  db_obs_row *changes;
  size_t *key_of;
  size_t n_changes, cap_changes;
  db_buf change_keys;
  db_map key_index;

  int columns[DB__F_COUNT];
  const char *path;
  db_buf where; /* scratch for problem locations */

  block *blocks[2];
  int cur;
  pthread_t writer;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  block *job;   /* block handed to the writer, NULL when none */
  int job_done; /* the writer finished `job` */
  int stopping;
};

static const char *const field_names[DB__F_COUNT] = {"indicator", "orgunit", "period", "value", "status",
                                                     "dimensions"};

/* Adds a problem about `field` of the current row, located by column (CSV) or JSON path. */
__attribute__((format(printf, 5, 6))) static int problem(db_ingest *in, long line, int field, int code,
                                                         const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  if (in->path) {
    db_buf_clear(&in->where);
    db_buf_printf(&in->where, "%s.%s", in->path, field_names[field]);
    db_diag_add(in->diag, 0, 0, db_buf_str(&in->where), code, "%s", db_buf_str(&msg));
  } else {
    db_diag_add(in->diag, line, in->columns[field], field_names[field], code, "%s", db_buf_str(&msg));
  }
  db_buf_free(&msg);
  in->failed = 1;
  return code;
}

/* ---------- writer thread ---------- */

static void write_block(db_ingest *in, block *b) {
  b->err = 0;
  for (size_t i = 0; i < b->n_new && !b->err; i++) b->err = db_store_put_series(in->store, &b->new_series[i]);
  if (!b->err && b->n) b->err = db_store_obs_write(in->store, in->seq, b->rows, b->n, b->outcomes);
}

static void *writer_main(void *arg) {
  db_ingest *in = arg;
  pthread_mutex_lock(&in->mu);
  for (;;) {
    while (!in->stopping && (!in->job || in->job_done)) pthread_cond_wait(&in->cv, &in->mu);
    if (in->stopping) break;
    block *b = in->job;
    pthread_mutex_unlock(&in->mu);
    write_block(in, b);
    pthread_mutex_lock(&in->mu);
    in->job_done = 1;
    pthread_cond_broadcast(&in->cv);
  }
  pthread_mutex_unlock(&in->mu);
  return NULL;
}

/* ---------- outcomes (caller's thread) ---------- */

/* The codes of an observation's indicator and unit ("?" when unknown) and its period code. */
static void name_cell(const db_ingest *in, const db_obs *o, const char **ind, const char **unit,
                      char code[DB_PERIOD_CODE_MAX]) {
  int64_t packed = 0;
  db_map_get(&in->series_by_id, &o->series, sizeof o->series, &packed);
  series_info si = {(int32_t)(packed >> 32), (int32_t)(packed & 0xffffffff)};
  db_period p;
  strcpy(code, "?");
  if (db_period_from_key(o->period, &p) == 0) db_period_format(&p, code);
  *ind = si.indicator >= 0 ? in->cat->indicators[si.indicator].code : "?";
  *unit = si.unit >= 0 ? in->cat->units[si.unit].code : "?";
}

/* 1 when the diag is full: the problem is counted as dropped instead. */
static int diag_full(db_ingest *in) {
  if (in->diag->count < (in->diag->limit ? in->diag->limit : DB_DIAG_DEFAULT_LIMIT)) return 0;
  in->diag->dropped++;
  return 1;
}

static void report_duplicate(db_ingest *in, long line, const db_obs *o) {
  in->res.rejected++;
  in->failed = 1;
  if (diag_full(in)) return;
  const char *ind, *unit;
  char code[DB_PERIOD_CODE_MAX];
  name_cell(in, o, &ind, &unit, code);
  db_diag_add(in->diag, line, 0, NULL, DB_EEXIST,
              "duplicate row: this batch already has a value of %s for %s in %s", ind, unit, code);
}

/* A row revised the locked cell o (approval `approval`): refused without a reason, else listed for the
 * audit record. */
static void revise_locked(db_ingest *in, long line, const db_obs *o, int64_t approval) {
  const char *ind, *unit;
  char code[DB_PERIOD_CODE_MAX];
  name_cell(in, o, &ind, &unit, code);
  if (in->reason) {
    json_array_append_new(in->revised_locked, json_pack("{s:s, s:s, s:s, s:f, s:I}", "indicator", ind, "orgunit", unit,
                                                        "period", code, "value", o->value, "approval",
                                                        (json_int_t)approval));
    return;
  }
  in->res.rejected++;
  in->failed = 1;
  if (diag_full(in)) return;
  db_diag_add(in->diag, line, 0, NULL, DB_ECONFLICT,
              "%s for %s in %s is approved (official and locked): a change needs a reason (the X-Change-Reason "
              "header, or --reason)",
              ind, unit, code);
}

/* Appends a row that changed the stored value to the change set (its dimension key at key_offset). */
static void keep_change(db_ingest *in, const db_obs *o, size_t key_offset) {
  if (in->n_changes == in->cap_changes) {
    in->cap_changes = in->cap_changes ? 2 * in->cap_changes : 1024;
    in->changes = db_realloc(in->changes, in->cap_changes * sizeof *in->changes);
    in->key_of = db_realloc(in->key_of, in->cap_changes * sizeof *in->key_of);
  }
  int64_t packed = 0;
  db_map_get(&in->series_by_id, &o->series, sizeof o->series, &packed);
  const db_indicator *ind = &in->cat->indicators[(int32_t)(packed >> 32)];
  const db_orgunit *unit = &in->cat->units[(int32_t)(packed & 0xffffffff)];
  in->key_of[in->n_changes] = key_offset;
  in->changes[in->n_changes++] = (db_obs_row){.series = o->series, .indicator = ind->id, .orgunit = unit->id,
                                              .period = o->period, .value = o->value, .status = o->status,
                                              .seq = in->seq};
}

/* The offset of dimension key dk in change_keys, stored there the first time it is met. */
static size_t key_offset(db_ingest *in, const char *dk) {
  int64_t at;
  if (db_map_gets(&in->key_index, dk, &at)) return (size_t)at;
  size_t offset = in->change_keys.len;
  db_buf_append(&in->change_keys, dk, strlen(dk) + 1);
  db_map_puts(&in->key_index, dk, (int64_t)offset);
  return offset;
}

static void absorb_outcomes(db_ingest *in, block *b) {
  if (b->err) {
    in->dead = in->failed = 1;
    db_diag_add(in->diag, 0, 0, NULL, b->err, "the store failed while writing: %s", db_strerror(b->err));
    return;
  }
  for (size_t i = 0; i < b->n; i++) {
    const db_obs *o = &b->rows[i];
    switch (b->outcomes[i]) {
      case DB_OBS_INSERTED:
      case DB_OBS_REVISED:
        *(b->outcomes[i] == DB_OBS_INSERTED ? &in->res.inserted : &in->res.revised) += 1;
        if (b->outcomes[i] == DB_OBS_REVISED && in->locked.count) {
          int64_t key[2] = {o->series, o->period}, approval;
          if (db_map_get(&in->locked, key, sizeof key, &approval)) revise_locked(in, b->lines[i], o, approval);
        }
        if (in->keep) keep_change(in, o, b->keys[i]);
        break;
      case DB_OBS_UNCHANGED: {
        int64_t key[2] = {o->series, o->period};
        if (db_map_get(&in->unchanged_seen, key, sizeof key, NULL)) {
          report_duplicate(in, b->lines[i], o);
        } else {
          db_map_put(&in->unchanged_seen, key, sizeof key, 1);
          in->res.unchanged++;
        }
        break;
      }
      case DB_OBS_DUPLICATE: report_duplicate(in, b->lines[i], o); break;
    }
  }
}

/* Waits until the writer is idle and absorbs the outcomes of the block it wrote, if any. */
static void drain_writer(db_ingest *in) {
  pthread_mutex_lock(&in->mu);
  while (in->job && !in->job_done) pthread_cond_wait(&in->cv, &in->mu);
  block *b = in->job;
  in->job = NULL;
  pthread_mutex_unlock(&in->mu);
  if (b) {
    absorb_outcomes(in, b);
    b->n = b->n_new = 0;
  }
}

/* Hands the current block to the writer and switches to the other block. */
static void flush_block(db_ingest *in) {
  block *b = in->blocks[in->cur];
  if (!b->n && !b->n_new) return;
  drain_writer(in);
  if (in->dead) {
    b->n = b->n_new = 0;
    return;
  }
  pthread_mutex_lock(&in->mu);
  in->job = b;
  in->job_done = 0;
  pthread_cond_broadcast(&in->cv);
  pthread_mutex_unlock(&in->mu);
  in->cur ^= 1;
}

/* ---------- series ---------- */

static void series_key(db_buf *k, int64_t ind_id, int64_t unit_id, const char *dimkey) {
  db_buf_clear(k);
  db_buf_append(k, &ind_id, sizeof ind_id);
  db_buf_append(k, &unit_id, sizeof unit_id);
  db_buf_puts(k, dimkey);
}

/* Registers a series; returns the map's stable copy of its dimension key. */
static const char *remember_series(db_ingest *in, int64_t id, int64_t ind_id, int64_t unit_id,
                                   const char *dimkey, int32_t ind, int32_t unit) {
  series_key(&in->key, ind_id, unit_id, dimkey);
  const char *stored = db_map_put(&in->series_by_key, in->key.data, in->key.len, id);
  int64_t packed = ((int64_t)ind << 32) | (uint32_t)unit;
  db_map_put(&in->series_by_id, &id, sizeof id, packed);
  if (id >= in->next_series_id) in->next_series_id = id + 1;
  return stored + 2 * sizeof(int64_t);
}

typedef struct load_ctx {
  db_ingest *in;
  db_map ind_by_id, unit_by_id;
} load_ctx;

static int load_one_series(void *ctx, const db_series *s) {
  load_ctx *lc = ctx;
  int64_t ind = -1, unit = -1;
  db_map_get(&lc->ind_by_id, &s->indicator, sizeof s->indicator, &ind);
  db_map_get(&lc->unit_by_id, &s->orgunit, sizeof s->orgunit, &unit);
  remember_series(lc->in, s->id, s->indicator, s->orgunit, s->dimkey ? s->dimkey : "", (int32_t)ind,
                  (int32_t)unit);
  return 0;
}

/* Loads every existing series, so that rows resolve to ids without a store round trip. */
static int load_series(db_ingest *in) {
  load_ctx lc = {in, DB_MAP_INIT, DB_MAP_INIT};
  for (size_t i = 0; i < in->cat->n_indicators; i++)
    db_map_put(&lc.ind_by_id, &in->cat->indicators[i].id, sizeof(int64_t), (int64_t)i);
  for (size_t i = 0; i < in->cat->n_units; i++)
    db_map_put(&lc.unit_by_id, &in->cat->units[i].id, sizeof(int64_t), (int64_t)i);
  in->next_series_id = 1;
  int rc = db_store_read_series(in->store, load_one_series, &lc);
  db_map_free(&lc.ind_by_id);
  db_map_free(&lc.unit_by_id);
  return rc;
}

/* Adds the cells of one approval record ({"cells": [[series, period key], ...]}) to the locked set. */
static int load_one_lock(void *ctx, const db_record *r) {
  db_ingest *in = ctx;
  json_t *body = json_loads(r->body, 0, NULL);
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(body, "cells"), i, c) {
    int64_t key[2] = {json_integer_value(json_array_get(c, 0)), json_integer_value(json_array_get(c, 1))};
    if (key[0] && key[1]) db_map_put(&in->locked, key, sizeof key, r->id);
  }
  json_decref(body);
  return 0;
}

/* The id of the series of (indicator, unit, dimkey), numbering it and queueing its creation in the
 * current block when it is new. */
static int64_t resolve_series(db_ingest *in, size_t ind, size_t unit, const char *dimkey) {
  const db_indicator *i = &in->cat->indicators[ind];
  const db_orgunit *u = &in->cat->units[unit];
  series_key(&in->key, i->id, u->id, dimkey);
  int64_t id;
  if (db_map_get(&in->series_by_key, in->key.data, in->key.len, &id)) return id;
  id = in->next_series_id;
  const char *stable_dimkey = remember_series(in, id, i->id, u->id, dimkey, (int32_t)ind, (int32_t)unit);
  block *b = in->blocks[in->cur];
  if (b->n_new == b->cap_new) {
    b->cap_new = b->cap_new ? b->cap_new * 2 : 256;
    b->new_series = db_realloc(b->new_series, b->cap_new * sizeof *b->new_series);
  }
  b->new_series[b->n_new++] = (db_series){id, i->id, u->id, stable_dimkey};
  in->res.new_series++;
  return id;
}

/* ---------- resolving one row ---------- */

/* Catalog index of a code through a one-entry cache; -1 when unknown. */
static int64_t lookup_cached(const db_map *index, const char *code, char *last_code, int64_t *last) {
  if (*last >= 0 && strcmp(code, last_code) == 0) return *last;
  int64_t idx;
  if (!db_map_gets(index, code, &idx)) return -1;
  size_t n = strlen(code);
  if (n < 72) {
    memcpy(last_code, code, n + 1);
    *last = idx;
  }
  return idx;
}

typedef struct dim_pair {
  const char *dim, *item;
  size_t dim_len, item_len;
} dim_pair;

static int compare_pairs(const void *a, const void *b) {
  const dim_pair *x = a, *y = b;
  size_t n = x->dim_len < y->dim_len ? x->dim_len : y->dim_len;
  int c = memcmp(x->dim, y->dim, n);
  return c ? c : (x->dim_len > y->dim_len) - (x->dim_len < y->dim_len);
}

/* Turns "SEX=F;AGE=Y15T64" into the canonical dimension key of the indicator (pairs sorted by
 * dimension code) in out, checking every dimension and item. 0 or DB_EINVAL (problems added). */
static int canonical_dims(db_ingest *in, long line, const db_indicator *ind, const char *raw, db_buf *out) {
  db_buf_clear(out);
  dim_pair pairs[16];
  size_t n = 0;
  int bad = 0;
  for (const char *p = raw; *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (!eq || eq == p || eq == p + len - 1) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "'%.*s' is not DIMENSION=ITEM", (int)len, p);
    } else if (n == 16) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "more than 16 dimensions");
      break;
    } else {
      pairs[n++] = (dim_pair){p, eq + 1, (size_t)(eq - p), len - (size_t)(eq - p) - 1};
    }
    p = end ? end + 1 : p + len;
  }
  qsort(pairs, n, sizeof *pairs, compare_pairs);
  for (size_t k = 0; k < n; k++) {
    char dim_code[72], item_code[72];
    if (pairs[k].dim_len >= sizeof dim_code || pairs[k].item_len >= sizeof item_code) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "dimension code too long");
      continue;
    }
    memcpy(dim_code, pairs[k].dim, pairs[k].dim_len);
    dim_code[pairs[k].dim_len] = '\0';
    memcpy(item_code, pairs[k].item, pairs[k].item_len);
    item_code[pairs[k].item_len] = '\0';
    const db_dimension *dim = db_catalog_dimension(in->cat, dim_code);
    if (!dim) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "unknown dimension '%s'", dim_code);
      continue;
    }
    if (!db_list_has(ind->dimensions, dim_code, pairs[k].dim_len)) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "indicator %s is not broken down by %s", ind->code,
                    dim_code);
      continue;
    }
    if (k && compare_pairs(&pairs[k - 1], &pairs[k]) == 0) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "dimension %s given twice", dim_code);
      continue;
    }
    size_t it = 0;
    while (it < dim->n_items && strcmp(dim->items[it].code, item_code) != 0) it++;
    if (it == dim->n_items) {
      bad = problem(in, line, DB__F_DIMS, DB_EINVAL, "'%s' is not an item of dimension %s", item_code,
                    dim_code);
      continue;
    }
    db_buf_printf(out, "%s%s=%s", out->len ? ";" : "", dim_code, item_code);
  }
  return bad ? DB_EINVAL : 0;
}

/* Checks that a unit exists in the period (its validity dates overlap the period). */
static int check_validity(db_ingest *in, long line, const db_orgunit *u, const db_period *p, const char *code) {
  if (u->valid_from == DB_DATE_NONE && u->valid_to == DB_DATE_NONE) return 0;
  int64_t offset = (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  int64_t first_day = (db_period_start_ms(p) + offset) / 86400000;
  int64_t last_day = (db_period_end_ms(p) + offset - 1) / 86400000;
  char date[11];
  if (u->valid_from != DB_DATE_NONE && last_day < u->valid_from) {
    db_format_date(u->valid_from, date);
    return problem(in, line, DB__F_ORGUNIT, DB_EINVAL, "unit %s did not exist in %s (valid from %s)", u->code,
                   code, date);
  }
  if (u->valid_to != DB_DATE_NONE && first_day > u->valid_to) {
    db_format_date(u->valid_to, date);
    return problem(in, line, DB__F_ORGUNIT, DB_EINVAL, "unit %s no longer existed in %s (valid to %s)",
                   u->code, code, date);
  }
  return 0;
}

static int check_value(db_ingest *in, long line, const db_indicator *ind, double v) {
  if (!db_is_unknown(ind->valid_min) && v < ind->valid_min)
    return problem(in, line, DB__F_VALUE, DB_EINVAL, "value %g is below the minimum %g of %s", v,
                   ind->valid_min, ind->code);
  if (!db_is_unknown(ind->valid_max) && v > ind->valid_max)
    return problem(in, line, DB__F_VALUE, DB_EINVAL, "value %g is above the maximum %g of %s", v,
                   ind->valid_max, ind->code);
  return 0;
}

/* Resolves and checks everything of a row but its value; on success appends it to the current block
 * (value filled by the caller through *slot). Problems are added; returns 0 or DB_EINVAL. */
static int resolve_row(db_ingest *in, long line, const char *ind_code, const char *unit_code,
                       const char *period, const char *dims, db_obs **slot, const db_indicator **ind_out) {
  int bad = 0;
  int64_t ind = lookup_cached(&in->cat->indicator_index, ind_code, in->last_ind_code, &in->last_ind);
  int64_t unit = lookup_cached(&in->cat->unit_index, unit_code, in->last_unit_code, &in->last_unit);
  const db_indicator *i = ind >= 0 ? &in->cat->indicators[ind] : NULL;
  const db_orgunit *u = unit >= 0 ? &in->cat->units[unit] : NULL;
  if (!i) bad = problem(in, line, DB__F_INDICATOR, DB_EINVAL, "unknown indicator '%s'", ind_code);
  else if (i->formula)
    bad = problem(in, line, DB__F_INDICATOR, DB_EINVAL,
                  "indicator %s is derived from a formula and takes no data", i->code);
  if (!u) bad = problem(in, line, DB__F_ORGUNIT, DB_EINVAL, "unknown org unit '%s'", unit_code);
  const char *refusal = NULL;
  if (i && u && in->guard && !in->guard(in->guard_ctx, i, u, &refusal))
    bad = problem(in, line, DB__F_INDICATOR, DB_EPERM, "not allowed to write %s at %s: %s", i->code, u->code,
                  refusal ? refusal : "permission denied");
  db_period p;
  int period_ok = 0;
  if (i) {
    char why[128] = "";
    if (db_period_parse_as(period, strlen(period), i->periodicity, i->period_span, &p, why) != 0)
      bad = problem(in, line, DB__F_PERIOD, DB_EINVAL, "%s (indicator %s is %s)", why, i->code,
                    db_period_type_name(i->periodicity));
    else
      period_ok = 1;
  }
  if (u && period_ok && check_validity(in, line, u, &p, period)) bad = DB_EINVAL;
  const char *dimkey = "";
  if (i && dims && *dims) {
    if (strcmp(dims, in->last_dims_raw) != 0 || !in->last_dims.data) {
      if (canonical_dims(in, line, i, dims, &in->last_dims)) {
        in->last_dims_raw[0] = '\0';
        bad = DB_EINVAL;
      } else if (strlen(dims) < sizeof in->last_dims_raw) {
        strcpy(in->last_dims_raw, dims);
      } else {
        in->last_dims_raw[0] = '\0';
      }
    }
    dimkey = db_buf_str(&in->last_dims);
  }
  if (bad) return DB_EINVAL;
  block *b = in->blocks[in->cur];
  int64_t series = resolve_series(in, (size_t)ind, (size_t)unit, dimkey);
  b = in->blocks[in->cur];
  db_obs *o = &b->rows[b->n];
  o->series = series;
  o->period = db_period_key(&p);
  b->lines[b->n] = line;
  if (in->keep) b->keys[b->n] = key_offset(in, dimkey);
  *slot = o;
  *ind_out = i;
  return 0;
}

/* Commits the slot filled by resolve_row; flushes the block when full. */
static void push_row(db_ingest *in) {
  block *b = in->blocks[in->cur];
  if (++b->n == BLOCK_ROWS) flush_block(in);
}

/* ---------- public API ---------- */

static void ingest_free(db_ingest *in) {
  if (in->blocks[0]) {
    pthread_mutex_lock(&in->mu);
    in->stopping = 1;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
    pthread_join(in->writer, NULL);
    pthread_mutex_destroy(&in->mu);
    pthread_cond_destroy(&in->cv);
    for (int k = 0; k < 2; k++) {
      db_free(in->blocks[k]->new_series);
      db_free(in->blocks[k]);
    }
  }
  db_map_free(&in->series_by_key);
  db_map_free(&in->series_by_id);
  db_map_free(&in->unchanged_seen);
  db_map_free(&in->locked);
  json_decref(in->revised_locked);
  db_free(in->changes);
  db_free(in->key_of);
  db_buf_free(&in->change_keys);
  db_map_free(&in->key_index);
  db_buf_free(&in->key);
  db_buf_free(&in->last_dims);
  db_buf_free(&in->where);
  db_free((char *)in->info.source);
  db_free((char *)in->info.actor);
  db_free((char *)in->info.idempotency_key);
  db_free(in->reason);
  db_free(in);
}

int db_ingest_begin(db_store *s, const db_catalog *cat, const db_batch_info *info, db_diag *d,
                    db_ingest **out, db_batch_summary *replay) {
  *out = NULL;
  if (info->idempotency_key && *info->idempotency_key) {
    int rc = db_store_batch_find(s, info->idempotency_key, replay);
    if (rc == 0) return DB_EEXIST;
    if (rc != DB_ENOTFOUND) return rc;
  }
  db_ingest *in = db_calloc(1, sizeof *in);
  in->store = s;
  in->cat = cat;
  in->diag = d;
  in->last_ind = in->last_unit = -1;
  in->info.idempotency_key = db_strdup(info->idempotency_key);
  in->info.source = db_strdup(info->source ? info->source : "");
  in->info.actor = db_strdup(info->actor ? info->actor : "");
  in->info.received_ms = info->received_ms ? info->received_ms : db_now_ms();
  in->revised_locked = json_array();
  int rc = db_store_begin(s, 1);
  if (rc) goto fail;
  rc = db_store_batch_begin(s, &in->info, &in->seq);
  if (rc == 0) rc = load_series(in);
  if (rc == 0) rc = db_store_record_scan(s, DB_INGEST_LOCK_KIND, load_one_lock, in);
  if (rc) {
    db_store_rollback(s);
    goto fail;
  }
  in->blocks[0] = db_malloc(sizeof(block));
  in->blocks[1] = db_malloc(sizeof(block));
  for (int k = 0; k < 2; k++) *in->blocks[k] = (block){.n = 0};
  pthread_mutex_init(&in->mu, NULL);
  pthread_cond_init(&in->cv, NULL);
  if (pthread_create(&in->writer, NULL, writer_main, in) != 0) {
    db_free(in->blocks[0]);
    db_free(in->blocks[1]);
    in->blocks[0] = in->blocks[1] = NULL;
    db_store_rollback(s);
    rc = DB_ENOMEM;
    goto fail;
  }
  *out = in;
  return 0;
fail:
  db_diag_add(d, 0, 0, NULL, rc, "cannot start the batch: %s", db_strerror(rc));
  ingest_free(in);
  return rc;
}

int db_ingest_add_text(db_ingest *in, long line, const char *indicator, const char *orgunit,
                       const char *period, const char *value, size_t value_len, const char *status,
                       const char *dims) {
  if (in->dead) return DB_ESTORE;
  in->res.rows++;
  int bad = 0;
  double v = 0;
  int st = DB_STATUS_PROVISIONAL;
  if (db_parse_double(value, value_len, &v) != 0) {
    size_t shown = value_len > 40 ? 40 : value_len;
    int blank = 1;
    for (size_t k = 0; k < value_len; k++) blank &= value[k] == ' ' || value[k] == '\t';
    if (blank)
      bad = problem(in, line, DB__F_VALUE, DB_EINVAL, "value is blank (leave out the row of a missing value)");
    else
      bad = problem(in, line, DB__F_VALUE, DB_EINVAL, "value '%.*s%s' is not a finite decimal number",
                    (int)shown, value, shown < value_len ? "…" : "");
  }
  if (status && *status && db_obs_status_parse(status, strlen(status), &st) != 0)
    bad = problem(in, line, DB__F_STATUS, DB_EINVAL,
                  "status '%s' is not one of provisional, official, estimated", status);
  db_obs *slot;
  const db_indicator *ind;
  if (resolve_row(in, line, indicator, orgunit, period, dims, &slot, &ind) != 0) bad = DB_EINVAL;
  else if (!bad && check_value(in, line, ind, v) != 0) bad = DB_EINVAL;
  if (bad) {
    in->res.rejected++;
    return DB_EINVAL;
  }
  slot->value = v;
  slot->status = st;
  push_row(in);
  return in->dead ? DB_ESTORE : 0;
}

int db_ingest_add(db_ingest *in, long line, const char *indicator, const char *orgunit, const char *period,
                  double value, int status, const char *dims) {
  if (in->dead) return DB_ESTORE;
  in->res.rows++;
  db_obs *slot;
  const db_indicator *ind;
  int bad = resolve_row(in, line, indicator, orgunit, period, dims, &slot, &ind);
  if (!bad && isfinite(value)) bad = check_value(in, line, ind, value);
  else if (!bad) bad = problem(in, line, DB__F_VALUE, DB_EINVAL, "value is not a finite number");
  if (bad) {
    in->res.rejected++;
    return DB_EINVAL;
  }
  slot->value = value;
  slot->status = status;
  push_row(in);
  return in->dead ? DB_ESTORE : 0;
}

/* The answer recorded with the batch and replayed to a client that retries with the same key. */
static char *summary_json(const db_ingest_result *r) {
  db_buf b = DB_BUF_INIT;
  db_buf_printf(&b,
                "{\"seq\":%lld,\"rows\":%lld,\"inserted\":%lld,\"revised\":%lld,\"unchanged\":%lld,"
                "\"new_series\":%lld}",
                (long long)r->seq, (long long)r->rows, (long long)r->inserted, (long long)r->revised,
                (long long)r->unchanged, (long long)r->new_series);
  return db_buf_take(&b);
}

/* The audit record of the approved cells the batch changed: who, why, and which. */
static int audit_revisions(db_ingest *in) {
  json_t *detail = json_pack("{s:s, s:I, s:O}", "reason", in->reason, "seq", (json_int_t)in->seq, "cells",
                             in->revised_locked);
  char *text = json_dumps(detail, JSON_COMPACT);
  db_audit a = {in->info.received_ms, in->info.actor, "data.revise_approved", in->info.source, text};
  int rc = db_store_audit_append(in->store, &a);
  free(text);
  json_decref(detail);
  return rc;
}

/* Moves the kept change set into in->res, its dimension keys turned from offsets into pointers. */
static void hand_over_changes(db_ingest *in) {
  in->res.change_keys = db_buf_take(&in->change_keys);
  for (size_t i = 0; i < in->n_changes; i++) in->changes[i].dimkey = in->res.change_keys + in->key_of[i];
  in->res.changes = in->changes;
  in->res.n_changes = in->n_changes;
  in->changes = NULL;
  in->n_changes = 0;
}

int db_ingest_finish(db_ingest *in, db_ingest_result *res) {
  flush_block(in);
  drain_writer(in);
  int rc = in->failed ? DB_EINVAL : 0;
  if (!rc) {
    in->res.seq = in->seq;
    db_batch_summary sum = {in->seq, in->res.inserted, in->res.revised, in->res.unchanged,
                            summary_json(&in->res)};
    db_audit a = {in->info.received_ms, in->info.actor, "data.import", in->info.source, sum.result_json};
    rc = db_store_batch_finish(in->store, &sum);
    if (!rc) rc = db_store_audit_append(in->store, &a);
    if (!rc && json_array_size(in->revised_locked)) rc = audit_revisions(in);
    if (!rc) rc = db_store_commit(in->store);
    db_free(sum.result_json);
    if (rc) db_diag_add(in->diag, 0, 0, NULL, rc, "the batch could not be committed: %s", db_strerror(rc));
  }
  if (rc) {
    db_store_rollback(in->store);
    in->res.seq = 0;
  } else if (in->keep) {
    hand_over_changes(in);
  }
  if (res) *res = in->res;
  else db_ingest_result_free(&in->res);
  ingest_free(in);
  return rc;
}

void db_ingest_result_free(db_ingest_result *res) {
  db_free(res->changes);
  db_free(res->change_keys);
  res->changes = NULL;
  res->change_keys = NULL;
  res->n_changes = 0;
}

void db_ingest_abort(db_ingest *in) {
  flush_block(in);
  drain_writer(in);
  db_store_rollback(in->store);
  ingest_free(in);
}

void db_ingest_keep_changes(db_ingest *in) { in->keep = 1; }

void db_ingest_set_reason(db_ingest *in, const char *reason) {
  db_free(in->reason);
  in->reason = reason && *reason ? db_strdup(reason) : NULL;
}

void db_ingest_set_guard(db_ingest *in, db_ingest_guard guard, void *ctx) {
  in->guard = guard;
  in->guard_ctx = ctx;
}

void db__ingest_set_columns(db_ingest *in, const int columns[DB__F_COUNT]) {
  memcpy(in->columns, columns, sizeof in->columns);
}

void db__ingest_set_path(db_ingest *in, const char *path) { in->path = path; }

int64_t db__ingest_rows(const db_ingest *in) { return in->res.rows; }
