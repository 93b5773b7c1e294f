/* export.c - observations to long CSV (contract in export.h). */
#include "ingest/export.h"

#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"

typedef struct export_ctx {
  const db_catalog *cat;
  db_map ind_by_id, unit_by_id; /* store id -> catalog index */
  const char **dims;            /* dimension columns */
  size_t n_dims;
  int meta;
  int64_t from_ms, to_ms;
  FILE *out;
  db_buf line;
  int64_t rows;
} export_ctx;

/* The item of dimension `dim` in a key "A=x;B=y", copied into out (empty when absent). */
static void dim_item(const char *dimkey, const char *dim, db_buf *out) {
  db_buf_clear(out);
  size_t dl = strlen(dim);
  for (const char *p = dimkey; p && *p;) {
    const char *end = strchr(p, ';');
    if (strncmp(p, dim, dl) == 0 && p[dl] == '=') {
      const char *item = p + dl + 1;
      db_buf_append(out, item, end ? (size_t)(end - item) : strlen(item));
      return;
    }
    p = end ? end + 1 : NULL;
  }
}

static int write_row(void *ctx, const db_obs_row *r) {
  export_ctx *e = ctx;
  int64_t ind = -1, unit = -1;
  db_map_get(&e->ind_by_id, &r->indicator, sizeof r->indicator, &ind);
  db_map_get(&e->unit_by_id, &r->orgunit, sizeof r->orgunit, &unit);
  if (ind < 0 || unit < 0) return 0; /* an object removed from the catalog */
  db_period p;
  char period[DB_PERIOD_CODE_MAX];
  if (db_period_from_key(r->period, &p) != 0) return 0;
  if (e->from_ms && db_period_end_ms(&p) <= e->from_ms) return 0;
  if (e->to_ms && db_period_start_ms(&p) >= e->to_ms) return 0;
  db_period_format(&p, period);
  db_buf *l = &e->line;
  db_buf_clear(l);
  db_buf_csv_field(l, e->cat->indicators[ind].code);
  db_buf_putc(l, ',');
  db_buf_csv_field(l, e->cat->units[unit].code);
  db_buf_printf(l, ",%s,", period);
  db_buf_double(l, r->value);
  db_buf_printf(l, ",%s", db_obs_status_name(r->status));
  db_buf item = DB_BUF_INIT;
  for (size_t k = 0; k < e->n_dims; k++) {
    dim_item(r->dimkey, e->dims[k], &item);
    db_buf_putc(l, ',');
    db_buf_csv_field(l, db_buf_str(&item));
  }
  db_buf_free(&item);
  if (e->meta) {
    char when[25];
    db_format_time_ms(r->received_ms, when);
    db_buf_printf(l, ",%d,%lld,%s", r->revision, (long long)r->seq, when);
  }
  db_buf_putc(l, '\n');
  if (fwrite(l->data, 1, l->len, e->out) != l->len) return DB_EIO;
  e->rows++;
  return 0;
}

/* The dimension codes declared by the exported indicators (all indicators when f names none). */
static void collect_dims(export_ctx *e, const db_obs_filter *f) {
  db_map seen = DB_MAP_INIT;
  for (size_t i = 0; i < e->cat->n_indicators; i++) {
    const db_indicator *ind = &e->cat->indicators[i];
    int wanted = !f->indicators;
    for (size_t k = 0; !wanted && k < f->n_indicators; k++) wanted = f->indicators[k] == ind->id;
    if (!wanted || !ind->dimensions) continue;
    for (const char *p = ind->dimensions; *p;) {
      const char *end = strchr(p, ';');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      if (len && !db_map_get(&seen, p, len, NULL)) {
        db_map_put(&seen, p, len, 0);
        const db_dimension *dim = NULL;
        for (size_t d = 0; d < e->cat->n_dimensions && !dim; d++)
          if (strlen(e->cat->dimensions[d].code) == len && !memcmp(e->cat->dimensions[d].code, p, len))
            dim = &e->cat->dimensions[d];
        if (dim) {
          e->dims = db_realloc(e->dims, (e->n_dims + 1) * sizeof *e->dims);
          e->dims[e->n_dims++] = dim->code;
        }
      }
      p = end ? end + 1 : p + len;
    }
  }
  db_map_free(&seen);
}

int db_export_csv(db_store *s, const db_catalog *cat, const db_obs_filter *f, const db_export_opts *opts,
                  FILE *out, int64_t *rows) {
  export_ctx e = {.cat = cat, .out = out};
  if (opts) {
    e.meta = opts->meta;
    e.from_ms = opts->from_ms;
    e.to_ms = opts->to_ms;
  }
  for (size_t i = 0; i < cat->n_indicators; i++)
    db_map_put(&e.ind_by_id, &cat->indicators[i].id, sizeof(int64_t), (int64_t)i);
  for (size_t i = 0; i < cat->n_units; i++) db_map_put(&e.unit_by_id, &cat->units[i].id, sizeof(int64_t), (int64_t)i);
  collect_dims(&e, f);
  int rc = 0;
  if (!opts || opts->header) {
    db_buf_puts(&e.line, "indicator,orgunit,period,value,status");
    for (size_t k = 0; k < e.n_dims; k++) db_buf_printf(&e.line, ",%s", e.dims[k]);
    if (e.meta) db_buf_puts(&e.line, ",revision,seq,received");
    db_buf_putc(&e.line, '\n');
    if (fwrite(e.line.data, 1, e.line.len, out) != e.line.len) rc = DB_EIO;
  }
  if (!rc) rc = db_store_obs_read(s, f, write_row, &e);
  if (!rc && fflush(out) != 0) rc = DB_EIO;
  if (rows) *rows = e.rows;
  db_map_free(&e.ind_by_id);
  db_map_free(&e.unit_by_id);
  db_free(e.dims);
  db_buf_free(&e.line);
  return rc;
}
