/* cli_query.c - `databrain query series|cross|rollup`: read questions answered from the store.
 * Output is CSV with a header on standard output, so answers go straight into scripts and Excel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "model/agg.h"

static int run_series(cli_ctx *ctx, int argc, char **argv);
static int run_cross(cli_ctx *ctx, int argc, char **argv);
static int run_rollup(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_query_commands[] = {
    {"query series", "IND OU [--from PERIOD] [--to PERIOD] [--dims KEY]",
     "One series: every period of indicator IND at unit OU, with status and revision.",
     "--dims selects a disaggregated series (SEX=F;AGE=Y15T64); without it, the series without\n"
     "dimensions is shown.\n",
     run_series},
    {"query cross", "IND PERIOD [--parent OU]",
     "A cross-section: the value of IND in PERIOD at every unit (or at the children of OU).", "", run_cross},
    {"query rollup", "IND OU [--from PERIOD] [--to PERIOD] [--by TYPE]",
     "Roll IND up to unit OU from its children (the indicator's spatial rule), and with --by to a coarser\n"
     "period type (its temporal rule).",
     "A unit without children rolls up its own series (e.g. a station's hourly PM2.5 to daily means\n"
     "with --by day). Columns: period, value, contributing units or sub-periods, and how many were\n"
     "expected, so a partial total shows as partial. wavg weighs each unit by its latest value of the\n"
     "weight indicator.\n",
     run_rollup},
    {0},
};

/* The periods bounding a query, as keys of the indicator's periodicity. */
static int key_bounds(const cli_command *cmd, const db_indicator *ind, const char *from, const char *to,
                      db_obs_filter *f) {
  char why[128];
  db_period p;
  if (from) {
    if (db_period_parse_as(from, strlen(from), ind->periodicity, ind->period_span, &p, why) != 0)
      return cli_usage_error(cmd, "--from %s: %s", from, why);
    f->period_from = db_period_key(&p);
  }
  if (to) {
    if (db_period_parse_as(to, strlen(to), ind->periodicity, ind->period_span, &p, why) != 0)
      return cli_usage_error(cmd, "--to %s: %s", to, why);
    f->period_to = db_period_key(&p);
  }
  return 0;
}

static const db_indicator *need_indicator(cli_ctx *ctx, const char *code) {
  const db_indicator *ind = db_catalog_indicator(&ctx->cat, code);
  if (!ind) fprintf(stderr, "unknown indicator '%s'\n", code);
  return ind;
}

static const db_orgunit *need_unit(cli_ctx *ctx, const char *code) {
  const db_orgunit *u = db_catalog_unit(&ctx->cat, code);
  if (!u) fprintf(stderr, "unknown org unit '%s'\n", code);
  return u;
}

static void print_period_value(int64_t key, double value, int decimals) {
  db_period p;
  char code[DB_PERIOD_CODE_MAX] = "?";
  if (db_period_from_key(key, &p) == 0) db_period_format(&p, code);
  printf("%s,%.*f", code, decimals, value);
}

/* ---- series ---- */

typedef struct series_ctx {
  const char *dimkey;
  int decimals;
  int64_t rows;
} series_ctx;

static int print_series_row(void *ctx, const db_obs_row *r) {
  series_ctx *sc = ctx;
  if (strcmp(r->dimkey ? r->dimkey : "", sc->dimkey) != 0) return 0;
  print_period_value(r->period, r->value, sc->decimals);
  printf(",%s,%d\n", db_obs_status_name(r->status), r->revision);
  sc->rows++;
  return 0;
}

static int run_series(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_query_commands[0];
  const char *from = NULL, *to = NULL, *dims = NULL;
  cli_option spec[] = {{"from", 1, &from}, {"to", 1, &to}, {"dims", 1, &dims}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 2) return cli_usage_error(cmd, "expected IND and OU");
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  const db_indicator *ind = need_indicator(ctx, argv[first]);
  const db_orgunit *u = need_unit(ctx, argv[first + 1]);
  if (!ind || !u) return CLI_NOT_FOUND;
  db_obs_filter f = {.indicators = &ind->id, .n_indicators = 1, .orgunits = &u->id, .n_orgunits = 1};
  if ((rc = key_bounds(cmd, ind, from, to, &f)) != 0) return rc;
  printf("period,value,status,revision\n");
  series_ctx sc = {dims ? dims : "", ind->decimals, 0};
  int err = db_store_obs_read(ctx->store, &f, print_series_row, &sc);
  if (err) fprintf(stderr, "query failed: %s\n", db_strerror(err));
  return cli_exit_code(err);
}

/* ---- cross-section ---- */

typedef struct cross_ctx {
  const db_catalog *cat;
  db_map unit_by_id;
  int decimals;
} cross_ctx;

static int print_cross_row(void *ctx, const db_obs_row *r) {
  cross_ctx *cc = ctx;
  int64_t idx;
  if (r->dimkey && *r->dimkey) return 0;
  if (!db_map_get(&cc->unit_by_id, &r->orgunit, sizeof r->orgunit, &idx)) return 0;
  const db_orgunit *u = &cc->cat->units[idx];
  db_buf line = DB_BUF_INIT;
  db_buf_csv_field(&line, u->code);
  db_buf_putc(&line, ',');
  db_buf_csv_field(&line, u->name);
  printf("%s,%.*f\n", db_buf_str(&line), cc->decimals, r->value);
  db_buf_free(&line);
  return 0;
}

static int run_cross(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_query_commands[1];
  const char *parent = NULL;
  cli_option spec[] = {{"parent", 1, &parent}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 2) return cli_usage_error(cmd, "expected IND and PERIOD");
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  const db_indicator *ind = need_indicator(ctx, argv[first]);
  if (!ind) return CLI_NOT_FOUND;
  db_obs_filter f = {.indicators = &ind->id, .n_indicators = 1};
  if ((rc = key_bounds(cmd, ind, argv[first + 1], argv[first + 1], &f)) != 0) return rc;
  int64_t *ids = NULL;
  if (parent) {
    const db_orgunit *p = need_unit(ctx, parent);
    if (!p) return CLI_NOT_FOUND;
    const int64_t *kids;
    size_t n = db_catalog_children(&ctx->cat, (size_t)(p - ctx->cat.units), &kids);
    ids = db_malloc((n + 1) * sizeof *ids);
    for (size_t k = 0; k < n; k++) ids[k] = ctx->cat.units[kids[k]].id;
    ids[n] = -1; /* a unit without children matches nothing */
    f.orgunits = ids;
    f.n_orgunits = n ? n : 1;
  }
  cross_ctx cc = {&ctx->cat, DB_MAP_INIT, ind->decimals};
  for (size_t i = 0; i < ctx->cat.n_units; i++)
    db_map_put(&cc.unit_by_id, &ctx->cat.units[i].id, sizeof(int64_t), (int64_t)i);
  printf("orgunit,name,value\n");
  int err = db_store_obs_read(ctx->store, &f, print_cross_row, &cc);
  if (err) fprintf(stderr, "query failed: %s\n", db_strerror(err));
  db_map_free(&cc.unit_by_id);
  db_free(ids);
  return cli_exit_code(err);
}

/* ---- roll-up ---- */

typedef struct cell {
  int64_t period; /* key of the output period */
  db_acc acc;
} cell;

typedef struct rollup_ctx {
  const db_indicator *ind;
  db_map weight_by_unit; /* unit id -> index into weights (wavg) */
  double *weights;
  db_map cell_by_period; /* output period key -> index into cells */
  cell *cells;
  size_t n_cells;
  int by_type;           /* 0, or the db_period_type to roll up to over time */
  db_map site_ids;       /* ids of the children that are sensor sites */
  int from_sites;        /* some value came from a site */
} rollup_ctx;

static cell *cell_for(rollup_ctx *rc, int64_t period) {
  int64_t idx;
  if (db_map_get(&rc->cell_by_period, &period, sizeof period, &idx)) return &rc->cells[idx];
  rc->cells = db_realloc(rc->cells, (rc->n_cells + 1) * sizeof *rc->cells);
  cell *c = &rc->cells[rc->n_cells];
  c->period = period;
  db_acc_init(&c->acc);
  db_map_put(&rc->cell_by_period, &period, sizeof period, (int64_t)rc->n_cells++);
  return c;
}

static int add_weight(void *ctx, const db_obs_row *r) {
  rollup_ctx *rc = ctx;
  /* rows come in period order per unit: the last one seen is the latest */
  rc->weights = db_realloc(rc->weights, (rc->weight_by_unit.count + 1) * sizeof *rc->weights);
  int64_t idx;
  if (!db_map_get(&rc->weight_by_unit, &r->orgunit, sizeof r->orgunit, &idx)) {
    idx = (int64_t)rc->weight_by_unit.count;
    db_map_put(&rc->weight_by_unit, &r->orgunit, sizeof r->orgunit, idx);
  }
  rc->weights[idx] = r->value;
  return 0;
}

static int add_value(void *ctx, const db_obs_row *r) {
  rollup_ctx *rc = ctx;
  if (r->dimkey && *r->dimkey) return 0;
  if (db_map_get(&rc->site_ids, &r->orgunit, sizeof r->orgunit, NULL)) rc->from_sites = 1;
  double w = NAN;
  int64_t idx;
  if (db_map_get(&rc->weight_by_unit, &r->orgunit, sizeof r->orgunit, &idx)) w = rc->weights[idx];
  db_acc_add(&cell_for(rc, r->period)->acc, r->value, w);
  return 0;
}

/* How many children should report in the period `key`: those that existed then (validity dates) and
 * are of the tier that reports the indicator: sensor sites when the data comes from sites, the
 * administrative units otherwise. */
static int64_t expected_units(const db_catalog *cat, const int64_t *kids, size_t n, int64_t key, int from_sites) {
  db_period p;
  if (db_period_from_key(key, &p) != 0) return (int64_t)n;
  int64_t offset = (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  int64_t first_day = (db_period_start_ms(&p) + offset) / 86400000;
  int64_t last_day = (db_period_end_ms(&p) + offset - 1) / 86400000;
  int64_t admin = 0, sites = 0;
  for (size_t k = 0; k < n; k++) {
    const db_orgunit *u = &cat->units[kids[k]];
    if (u->valid_from != DB_DATE_NONE && last_day < u->valid_from) continue;
    if (u->valid_to != DB_DATE_NONE && first_day > u->valid_to) continue;
    if (u->kind == DB_OU_SITE) sites++;
    else admin++;
  }
  return from_sites ? sites : admin;
}

static int compare_cells(const void *a, const void *b) {
  const cell *x = a, *y = b;
  return (x->period > y->period) - (x->period < y->period);
}

/* Rolls the spatial cells up over time into periods of rc->by_type with the temporal rule. */
static void rollup_time(rollup_ctx *rc) {
  qsort(rc->cells, rc->n_cells, sizeof *rc->cells, compare_cells);
  cell *src = rc->cells;
  size_t n = rc->n_cells;
  rc->cells = NULL;
  rc->n_cells = 0;
  db_map_clear(&rc->cell_by_period);
  db_agg space = rc->ind->agg_space == DB_AGG_NONE ? DB_AGG_SUM : rc->ind->agg_space;
  for (size_t i = 0; i < n; i++) {
    db_period p, up;
    if (db_period_from_key(src[i].period, &p) != 0) continue;
    if (db_period_containing(&p, (db_period_type)rc->by_type, 5, &up) != 0) continue;
    db_acc_add(&cell_for(rc, db_period_key(&up))->acc, db_acc_result(&src[i].acc, space), NAN);
  }
  db_free(src);
}

static int run_rollup(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_query_commands[2];
  const char *from = NULL, *to = NULL, *by = NULL;
  cli_option spec[] = {{"from", 1, &from}, {"to", 1, &to}, {"by", 1, &by}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 2) return cli_usage_error(cmd, "expected IND and OU");
  db_period_type by_type = 0;
  if (by && db_period_type_parse(by, &by_type) != 0)
    return cli_usage_error(cmd, "--by %s: not a period type (day, week, month, quarter, half, year…)", by);
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  const db_indicator *ind = need_indicator(ctx, argv[first]);
  const db_orgunit *u = need_unit(ctx, argv[first + 1]);
  if (!ind || !u) return CLI_NOT_FOUND;
  db_obs_filter f = {.indicators = &ind->id, .n_indicators = 1};
  if ((rc = key_bounds(cmd, ind, from, to, &f)) != 0) return rc;
  const int64_t *kids;
  size_t n_kids = db_catalog_children(&ctx->cat, (size_t)(u - ctx->cat.units), &kids);
  int64_t *ids = db_malloc((n_kids + 1) * sizeof *ids);
  for (size_t k = 0; k < n_kids; k++) ids[k] = ctx->cat.units[kids[k]].id;
  int own_series = n_kids == 0;
  if (own_series) ids[n_kids++] = u->id; /* no children: the unit's own series */
  f.orgunits = ids;
  f.n_orgunits = n_kids;
  rollup_ctx r = {.ind = ind, .by_type = (int)by_type};
  for (size_t k = 0; k < n_kids; k++)
    if (!own_series && ctx->cat.units[kids[k]].kind == DB_OU_SITE) db_map_put(&r.site_ids, &ids[k], sizeof ids[k], 1);
  int err = 0;
  if (ind->agg_space == DB_AGG_WAVG && ind->weight) {
    const db_indicator *w = db_catalog_indicator(&ctx->cat, ind->weight);
    db_obs_filter wf = {.indicators = w ? &w->id : NULL, .n_indicators = 1, .orgunits = ids, .n_orgunits = n_kids};
    if (w) err = db_store_obs_read(ctx->store, &wf, add_weight, &r);
  }
  if (!err) err = db_store_obs_read(ctx->store, &f, add_value, &r);
  if (err) {
    fprintf(stderr, "query failed: %s\n", db_strerror(err));
  } else {
    db_agg rule = ind->agg_space == DB_AGG_NONE ? DB_AGG_SUM : ind->agg_space;
    if (by_type) {
      rollup_time(&r);
      rule = ind->agg_time == DB_AGG_NONE ? DB_AGG_LAST : ind->agg_time;
    }
    qsort(r.cells, r.n_cells, sizeof *r.cells, compare_cells);
    printf("period,value,count,expected\n");
    for (size_t i = 0; i < r.n_cells; i++) {
      int64_t expected = own_series ? 1 : expected_units(&ctx->cat, kids, n_kids, r.cells[i].period, r.from_sites);
      if (by_type) {
        db_period p;
        db_period_from_key(r.cells[i].period, &p);
        expected = db_period_subperiods(&p, ind->periodicity, NULL, 0);
      }
      print_period_value(r.cells[i].period, db_acc_result(&r.cells[i].acc, rule), ind->decimals);
      printf(",%lld,%lld\n", (long long)r.cells[i].acc.count, (long long)expected);
    }
  }
  db_map_free(&r.weight_by_unit);
  db_map_free(&r.site_ids);
  db_map_free(&r.cell_by_period);
  db_free(r.weights);
  db_free(r.cells);
  db_free(ids);
  return cli_exit_code(err);
}
