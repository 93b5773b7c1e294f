/* scorecard.c - data-supply scores stored as indicators (contract in quality.h): the catalog objects
 * they need (the AGENCY dimension, the DQ_* indicators) and one ingest batch by actor "system" with the
 * month's scores per agency (at the agency's unit, AGENCY=code) and per ward (no dimension), so that
 * they roll up, trend, carry targets and feed rules and indices like any indicator. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "ingest/catalog_import.h"
#include "quality/quality_int.h"

typedef struct dq_indicator {
  const char *code, *name, *name_en;
} dq_indicator;

static const dq_indicator dq_indicators[] = {
    {"DQ_SCORE", "Điểm cung cấp dữ liệu", "Data-supply score"},
    {"DQ_COMPLETENESS", "Tỷ lệ đầy đủ dữ liệu", "Data completeness"},
    {"DQ_TIMELINESS", "Tỷ lệ đúng hạn dữ liệu", "Data timeliness"},
    {"DQ_VALIDITY", "Tỷ lệ dữ liệu hợp lệ", "Data validity"},
};
#define N_DQ (sizeof dq_indicators / sizeof *dq_indicators)

int db_scorecards_ensure_catalog(db_store *s, const db_catalog *cat, int *changed) {
  *changed = 0;
  int rc = db_catalog_ensure_agency_dimension(s, cat, changed);
  for (size_t i = 0; i < N_DQ && !rc; i++) {
    if (db_catalog_indicator(cat, dq_indicators[i].code)) continue;
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = (char *)dq_indicators[i].code;
    ind.name = (char *)dq_indicators[i].name;
    ind.name_en = (char *)dq_indicators[i].name_en;
    ind.unit = "%";
    ind.decimals = 1;
    ind.periodicity = DB_PT_MONTH;
    ind.agg_space = DB_AGG_AVG;
    ind.agg_time = DB_AGG_AVG;
    ind.polarity = DB_POL_HIGHER;
    ind.valid_min = 0;
    ind.valid_max = 100;
    ind.sector = "data";
    ind.groups = "data_quality";
    ind.dimensions = DB_AGENCY_DIMENSION;
    ind.source = "databrain data-supply scorecards";
    ind.description = "Computed by databrain from the reporting obligations: completeness, timeliness and "
                      "validity of the data owed, and their mean, the data-supply score.";
    rc = db_store_put_indicator(s, &ind);
    if (!rc) *changed = 1;
  }
  return rc;
}

/* Adds the four scores of one row (percent; missing ones are left out). */
static int add_scores(db_ingest *in, const db_supply_row *r, const char *unit, const char *month, const char *dims) {
  double v[N_DQ] = {r->score, 100 * r->completeness, 100 * r->timeliness, 100 * r->validity};
  int rc = 0;
  for (size_t i = 0; i < N_DQ && !rc; i++)
    if (!isnan(v[i])) rc = db_ingest_add(in, 0, dq_indicators[i].code, unit, month, round(v[i] * 100) / 100,
                                         DB_STATUS_PROVISIONAL, dims);
  return rc == DB_EINVAL ? 0 : rc;
}

/* The month in which a cell's period ends. */
static db_period cell_month(const db_supply_cell *c) {
  return db_period_at(DB_PT_MONTH, 0, db_period_end_ms(&c->period) - 1);
}

/* Adds the rows of one month: per agency and per ward. */
static int add_month(db_ingest *in, const db_catalog *cat, const db_obligation *ob, const db_supply_cell *cells,
                     size_t n, const char *month) {
  db_supply_row *rows;
  size_t nr;
  int rc = 0;
  char dims[160];
  db_supply_aggregate(cat, ob, cells, n, DB_BY_AGENCY, &rows, &nr);
  for (size_t i = 0; i < nr && !rc; i++) {
    const db_agency *a = db_catalog_agency(cat, rows[i].key);
    if (!a || !a->orgunit || !rows[i].expected) continue;
    snprintf(dims, sizeof dims, "%s=%s", DB_AGENCY_DIMENSION, a->code);
    rc = add_scores(in, &rows[i], a->orgunit, month, dims);
  }
  db_supply_rows_free(rows, nr);
  db_supply_aggregate(cat, ob, cells, n, DB_BY_ORGUNIT, &rows, &nr);
  for (size_t i = 0; i < nr && !rc; i++) {
    const db_orgunit *u = db_catalog_unit(cat, rows[i].key);
    if (!u || !rows[i].expected) continue;
    if (u->kind != DB_OU_WARD && u->kind != DB_OU_COMMUNE && u->kind != DB_OU_SPECIAL_ZONE) continue;
    rc = add_scores(in, &rows[i], u->code, month, NULL);
  }
  db_supply_rows_free(rows, nr);
  return rc;
}

int db_scorecards_store(db_store *s, const db_catalog *cat, const db_obligation *ob, const db_supply_cell *cells,
                        size_t n, db_diag *d, db_ingest_result *res) {
  memset(res, 0, sizeof *res);
  for (size_t i = 0; i < N_DQ; i++)
    if (!db_catalog_indicator(cat, dq_indicators[i].code))
      return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the catalog has no indicator %s (db_scorecards_ensure_catalog)",
                         dq_indicators[i].code);
  db_ingest *in;
  db_batch_summary replay = {0};
  db_batch_info info = {NULL, "quality.scorecards", "system", 0};
  int rc = db_ingest_begin(s, cat, &info, d, &in, &replay);
  if (rc) return rc;
  db_ingest_keep_changes(in);
  db_supply_cell *month_cells = db_malloc((n + 1) * sizeof *month_cells);
  char *done = db_calloc(n + 1, 1);
  for (size_t i = 0; i < n && !rc; i++) {
    if (done[i] || !cells[i].owed) continue;
    db_period m = cell_month(&cells[i]);
    size_t k = 0;
    for (size_t j = i; j < n; j++) {
      if (done[j] || !cells[j].owed) continue;
      db_period mj = cell_month(&cells[j]);
      if (mj.ord != m.ord) continue;
      done[j] = 1;
      month_cells[k++] = cells[j];
    }
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&m, code);
    rc = add_month(in, cat, ob, month_cells, k, code);
  }
  db_free(month_cells);
  db_free(done);
  if (rc) {
    db_ingest_abort(in);
    return rc;
  }
  return db_ingest_finish(in, res);
}
