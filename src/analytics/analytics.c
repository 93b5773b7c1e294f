/* analytics.c - report transforms, grids and rankings on a cube version (contract in analytics.h).
 *
 * A grid is computed one (indicator, unit) block at a time. The block's value series is gathered from
 * the cube once, over the periods of the page extended back to the earliest period a transform reads
 * (a year for yoy, the start of the year for ytd, one period for prev): stored values, holes filled
 * from the roll-up over the unit's children. Every transform is then a pass over that array. Ranks need
 * the siblings' values: they are computed for all the children of the unit's parent over the block's
 * periods at once, and kept for the next unit of the same parent (a grid over the children of one unit
 * computes them once per indicator). */
#include "analytics/analytics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "model/agg.h"

#define MS_PER_DAY INT64_C(86400000)

static const char *const transform_names[DB_TF_COUNT] = {"value", "yoy",  "yoy_pct",  "prev", "mom",
                                                         "ytd",   "plan", "plan_pct", "rank", "status"};
static const char *const status_names[] = {NULL, "on_track", "at_risk", "off_track"};

const char *db_transform_name(db_transform t) {
  return (int)t >= 0 && (int)t < DB_TF_COUNT ? transform_names[t] : "?";
}

int db_transform_parse(const char *s, size_t len, db_transform *t) {
  for (int i = 0; i < DB_TF_COUNT; i++)
    if (strlen(transform_names[i]) == len && memcmp(transform_names[i], s, len) == 0) {
      *t = (db_transform)i;
      return DB_OK;
    }
  return DB_EINVAL;
}

const char *db_target_status_name(double status) {
  return status >= DB_TARGET_ON_TRACK && status <= DB_TARGET_OFF_TRACK ? status_names[(int)status] : NULL;
}

/* ---------- periods ---------- */

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* Slots per civil day of the daily and sub-daily types; 0 for the others. */
static int64_t slots_per_day(db_period_type t) {
  switch (t) {
    case DB_PT_DAY:
      return 1;
    case DB_PT_HOUR:
      return 24;
    case DB_PT_MIN15:
      return 96;
    case DB_PT_MIN5:
      return 288;
    default:
      return 0;
  }
}

/* The period a year before p (see yoy in analytics.h): 0 and *out, or DB_ENOTFOUND when there is none. */
static int year_back(const db_period *p, db_period *out) {
  static const int64_t per_year[DB_PERIOD_TYPE_COUNT + 1] = {
      [DB_PT_MONTH] = 12, [DB_PT_QUARTER] = 4, [DB_PT_HALF] = 2, [DB_PT_YEAR] = 1};
  int64_t spd = slots_per_day(p->type);
  if (per_year[p->type]) {
    *out = db_period_add(p, -per_year[p->type]);
    return DB_OK;
  }
  if (spd) {
    int64_t day = floor_div(p->ord, spd), y;
    unsigned m, d;
    db_civil_from_days(day, &y, &m, &d);
    if (m == 2 && d == 29) return DB_ENOTFOUND;
    *out = *p;
    out->ord = db_days_from_civil(y - 1, m, d) * spd + (p->ord - day * spd);
    return DB_OK;
  }
  db_period year, week1, prev_week1;
  if (p->type != DB_PT_WEEK || db_period_containing(p, DB_PT_YEAR, 0, &year) != DB_OK) return DB_ENOTFOUND;
  db_period_subperiods(&year, DB_PT_WEEK, &week1, 1);
  year.ord--;
  int64_t weeks_before = db_period_subperiods(&year, DB_PT_WEEK, &prev_week1, 1);
  if (p->ord - week1.ord >= weeks_before) return DB_ENOTFOUND; /* week 53 of a year after a 52-week year */
  *out = *p;
  out->ord = prev_week1.ord + (p->ord - week1.ord);
  return DB_OK;
}

/* The year holding p (its ISO year for a week), the first period of p's type in it and how many there
 * are: 0, or DB_ENOTFOUND for multi-year periods. */
static int year_of(const db_period *p, db_period *year, db_period *first, int64_t *periods) {
  if (p->type == DB_PT_MULTIYEAR || db_period_containing(p, DB_PT_YEAR, 0, year) != DB_OK)
    return DB_ENOTFOUND;
  *periods = db_period_subperiods(year, p->type, first, 1);
  return *periods > 0 ? DB_OK : DB_ENOTFOUND;
}

int db_analytics_unit_active(const db_orgunit *u, int64_t from_ms, int64_t to_ms) {
  int64_t offset = (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  int64_t first = floor_div(from_ms + offset, MS_PER_DAY), last = floor_div(to_ms - 1 + offset, MS_PER_DAY);
  return (u->valid_from == DB_DATE_NONE || u->valid_from <= last) &&
         (u->valid_to == DB_DATE_NONE || u->valid_to >= first);
}

/* Whether unit u existed during p. */
static int unit_valid(const db_orgunit *u, const db_period *p) {
  return db_analytics_unit_active(u, db_period_start_ms(p), db_period_end_ms(p));
}

/* ---------- the grid's indicators ---------- */

/* One indicator of a grid: its catalog entry, its index in the version and its periods. */
typedef struct ind_plan {
  const db_indicator *ind;
  int derived;     /* values come from the derived indicators' engine */
  int rebase;      /* missing values of today's units come from their predecessors */
  int64_t vi;      /* index in the version, -1 when the version lacks it */
  db_period first; /* the indicator's first period in the grid */
  int64_t n;       /* its number of periods */
} ind_plan;

static int is_derived(const db_analytics_ctx *c, const db_indicator *ind) {
  return c->derive && ind->formula && db_derive_is_derived(c->derive, ind->code);
}

/* The periods of ind in the grid (see db_analytics_grid). */
static void plan_indicator(const db_analytics_ctx *c, const db_analytics_grid *g, const db_indicator *ind,
                           ind_plan *ip) {
  *ip = (ind_plan){ind, is_derived(c, ind), g->rebase, db_cube_indicator_index(c->v, ind->code), {0, 0, 0}, 0};
  db_period first, last, data_first, data_last;
  int window = g->from && g->to; /* else the data range is needed (a scan of the indicator's matrix) */
  if (!window &&
      (ip->derived || ip->vi < 0 || db_cube_range(c->v, ip->vi, NULL, &data_first, &data_last) != DB_OK))
    return;
  first =
      g->from ? db_period_at(ind->periodicity, ind->period_span, db_period_start_ms(g->from)) : data_first;
  last = g->to ? db_period_at(ind->periodicity, ind->period_span, db_period_end_ms(g->to) - 1) : data_last;
  int64_t n = db_period_compare(&first, &last) <= 0 ? db_period_diff(&first, &last) + 1 : 0;
  ip->first = first;
  ip->n = n > 0 ? n : 0;
}

/* Checks the grid against the catalog: 0 or DB_EINVAL. */
static int check_grid(const db_analytics_ctx *c, const db_analytics_grid *g) {
  unsigned seen = 0;
  if (g->n_transforms < 1 || g->n_transforms > DB_TF_COUNT || !g->transforms) return DB_EINVAL;
  for (size_t i = 0; i < g->n_transforms; i++) {
    db_transform t = g->transforms[i];
    if ((int)t < 0 || (int)t >= DB_TF_COUNT || (seen & (1u << t))) return DB_EINVAL;
    seen |= 1u << t;
  }
  for (size_t i = 0; i < g->n_indicators; i++)
    if (g->indicators[i] >= c->cat->n_indicators) return DB_EINVAL;
  for (size_t i = 0; i < g->n_units; i++)
    if (g->units[i] >= c->cat->n_units) return DB_EINVAL;
  if (g->from && g->to && db_period_start_ms(g->from) >= db_period_end_ms(g->to)) return DB_EINVAL;
  return DB_OK;
}

int db_analytics_grid_size(const db_analytics_ctx *c, const db_analytics_grid *g, int64_t *rows) {
  int rc = check_grid(c, g);
  if (rc) return rc;
  int64_t total = 0;
  for (size_t i = 0; i < g->n_indicators; i++) {
    ind_plan ip;
    plan_indicator(c, g, &c->cat->indicators[g->indicators[i]], &ip);
    total += ip.n * (int64_t)g->n_units;
  }
  *rows = total;
  return DB_OK;
}

/* ---------- value series ---------- */

/* Scratch for one value series: values, counts, expected counts and roll-up cells. */
typedef struct series_buf {
  double *x;
  int32_t *count, *expected;
  db_cube_cell *cells;
  size_t cap;
} series_buf;

static void series_reserve(series_buf *b, size_t n) {
  if (n <= b->cap) return;
  b->cap = n;
  b->x = db_realloc(b->x, n * sizeof *b->x);
  b->count = db_realloc(b->count, n * sizeof *b->count);
  b->expected = db_realloc(b->expected, n * sizeof *b->expected);
  b->cells = db_realloc(b->cells, n * sizeof *b->cells);
}

static void series_free(series_buf *b) {
  db_free(b->x);
  db_free(b->count);
  db_free(b->expected);
  db_free(b->cells);
}

/* The values of derived indicator ip at catalog unit cu over n periods from `from` into x; the number
 * present, or an error (explained in c->diag). */
static int64_t derived_values(const db_analytics_ctx *c, const ind_plan *ip, size_t cu, const db_period *from,
                              size_t n, double *x) {
  db_diag own = DB_DIAG_INIT;
  int64_t unit = (int64_t)cu, present = 0;
  int rc = db_derive_values(c->derive, c->v, ip->ind->code, &unit, 1, from, n, x, c->diag ? c->diag : &own);
  db_diag_free(&own);
  for (size_t k = 0; rc == DB_OK && k < n; k++) present += !isnan(x[k]);
  return rc == DB_OK ? present : rc;
}

/* Fills the missing values of b with the cells computed for them (a roll-up or a rebase). */
static void fill_missing(series_buf *b, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (isnan(b->x[k]) && !isnan(b->cells[k].value)) {
      b->x[k] = b->cells[k].value;
      b->count[k] = b->cells[k].count;
      b->expected[k] = b->cells[k].expected;
    }
}

/* The value series of catalog unit cu over the n periods from `from` (of ip's indicator) into b: the
 * stored values; where one is missing at a unit with children, the roll-up; with rebase, where one is
 * still missing at a unit that came into being (valid_from), its predecessors' values through the
 * successions (for a derived indicator: the engine's values). Returns 0 or an error. */
static int load_values(const db_analytics_ctx *c, const ind_plan *ip, size_t cu, const db_period *from,
                       size_t n, series_buf *b) {
  const db_orgunit *u = &c->cat->units[cu];
  int64_t vu = !ip->derived && ip->vi >= 0 ? db_cube_unit_index(c->v, u->code) : -1;
  int64_t present = 0;
  series_reserve(b, n ? n : 1);
  if (ip->derived)
    present = derived_values(c, ip, cu, from, n, b->x);
  else if (vu >= 0)
    present = db_cube_series(c->v, ip->vi, NULL, vu, from, n, b->x);
  else
    for (size_t k = 0; k < n; k++) b->x[k] = NAN;
  if (present < 0) return (int)present;
  int always = u->valid_from == DB_DATE_NONE && u->valid_to == DB_DATE_NONE;
  for (size_t k = 0; k < n; k++) {
    b->count[k] = !isnan(b->x[k]);
    if (b->count[k] || always) {
      b->expected[k] = 1;
    } else {
      db_period p = db_period_add(from, (int64_t)k);
      b->expected[k] = unit_valid(u, &p);
    }
  }
  int rc = DB_OK;
  const int64_t *kids;
  if (present < (int64_t)n && vu >= 0 && db_cube_unit_children(c->v, vu, &kids)) {
    rc = db_cube_rollup(c->v, ip->vi, NULL, vu, from, n, b->cells);
    fill_missing(b, n);
  }
  if (rc == DB_OK && ip->rebase && vu >= 0 && u->valid_from != DB_DATE_NONE) {
    rc = db_cube_rebase(c->v, ip->vi, NULL, vu, from, n, b->cells);
    fill_missing(b, n);
  }
  return rc;
}

/* ---------- transforms of one block ---------- */

/* 100 * (a - b) / b, NAN when missing, against 0, or not finite. */
static double pct_change(double a, double b) {
  double r = 100.0 * (a - b) / b;
  return b != 0 && isfinite(r) ? r : NAN;
}

/* x[s..i] by the temporal rule (see ytd in analytics.h). */
static double ytd_of(const double *x, int64_t s, int64_t i, db_agg rule) {
  if (rule == DB_AGG_LAST) return x[i];
  db_acc a;
  db_acc_init(&a);
  for (int64_t j = s; j <= i; j++) {
    if (isnan(x[j])) return NAN;
    db_acc_add(&a, x[j], NAN);
  }
  double r = db_acc_result(&a, rule == DB_AGG_WAVG ? DB_AGG_NONE : rule);
  return isfinite(r) ? r : NAN;
}

/* The status of ytd against the plan (see status in analytics.h); `elapsed` of `periods` periods of
 * the year are over. */
static double status_of(const db_indicator *ind, double ytd, double plan, int64_t elapsed, int64_t periods) {
  if (isnan(ytd) || !(plan > 0)) return NAN;
  double due = ind->agg_time == DB_AGG_SUM ? plan * (double)elapsed / (double)periods : plan;
  double pct = 100.0 * ytd / due;
  double a = ind->polarity == DB_POL_HIGHER  ? pct
             : ind->polarity == DB_POL_LOWER ? 200.0 - pct
                                             : 100.0 - fabs(pct - 100.0);
  if (isnan(a)) return NAN;
  return a >= ind->band_at_risk     ? DB_TARGET_ON_TRACK
         : a >= ind->band_off_track ? DB_TARGET_AT_RISK
                                    : DB_TARGET_OFF_TRACK;
}

/* One block: the periods k0 .. k1-1 of an indicator at one unit, and the transforms wanted. */
typedef struct block_q {
  const db_analytics_ctx *c;
  const ind_plan *ip;
  size_t cu;
  const db_transform *tf;
  size_t ntf;
  int64_t k0, k1;
} block_q;

/* Which of the transforms of q are wanted (a bit per db_transform). */
static unsigned wanted(const block_q *q) {
  unsigned w = 0;
  for (size_t i = 0; i < q->ntf; i++) w |= 1u << q->tf[i];
  return w;
}

#define WANTS(w, t) ((w) & (1u << (t)))

/* The first period any wanted transform of q reads. */
static db_period lookback(const block_q *q, unsigned w) {
  db_period p0 = db_period_add(&q->ip->first, q->k0), lo = p0, yb, year, first;
  int64_t periods;
  if (WANTS(w, DB_TF_PREV) || WANTS(w, DB_TF_MOM)) lo = db_period_add(&p0, -1);
  if (WANTS(w, DB_TF_YTD) || WANTS(w, DB_TF_PLAN_PCT) || WANTS(w, DB_TF_STATUS))
    if (year_of(&p0, &year, &first, &periods) == DB_OK && db_period_compare(&first, &lo) < 0) lo = first;
  if (WANTS(w, DB_TF_YOY) || WANTS(w, DB_TF_YOY_PCT))
    for (int64_t k = q->k0; k < q->k1; k++) { /* the first period that has one (ISO week 53 may not) */
      db_period p = db_period_add(&q->ip->first, k);
      if (year_back(&p, &yb) != DB_OK) continue;
      if (db_period_compare(&yb, &lo) < 0) lo = yb;
      break;
    }
  return lo;
}

/* Computes the transforms of q (rank excepted: left NAN) into cells[(k - k0) * ntf + i], with the
 * count and expected of each value, using b as scratch. Returns 0 or a cube error. */
static int block_compute(const block_q *q, series_buf *b, double *cells, int32_t *count, int32_t *expected) {
  const db_indicator *ind = q->ip->ind;
  const db_catalog *cat = q->c->cat;
  unsigned w = wanted(q);
  db_period lo = lookback(q, w), hi = db_period_add(&q->ip->first, q->k1 - 1);
  int64_t n = db_period_diff(&lo, &hi) + 1;
  int rc = load_values(q->c, q->ip, q->cu, &lo, (size_t)n, b);
  if (rc) return rc;
  const double *x = b->x;
  int need_year =
      WANTS(w, DB_TF_YTD) || WANTS(w, DB_TF_PLAN) || WANTS(w, DB_TF_PLAN_PCT) || WANTS(w, DB_TF_STATUS);
  int need_back = WANTS(w, DB_TF_YOY) || WANTS(w, DB_TF_YOY_PCT);
  for (int64_t k = q->k0; k < q->k1; k++) {
    db_period p = db_period_add(&q->ip->first, k), yb, year, first;
    int64_t i = db_period_diff(&lo, &p), periods = 0, s = -1, j = -1;
    int has_year = need_year && year_of(&p, &year, &first, &periods) == DB_OK;
    if (has_year) s = db_period_diff(&lo, &first);
    if (need_back && year_back(&p, &yb) == DB_OK) j = db_period_diff(&lo, &yb);
    double prev = i > 0 ? x[i - 1] : NAN, back = j >= 0 ? x[j] : NAN;
    double ytd = s >= 0 ? ytd_of(x, s, i, ind->agg_time) : NAN;
    double plan =
        has_year ? db_analytics_plan(q->c->plans, ind->code, cat->units[q->cu].code, year.ord) : NAN;
    double *out = cells + (k - q->k0) * (int64_t)q->ntf;
    for (size_t t = 0; t < q->ntf; t++) {
      double v = NAN;
      switch (q->tf[t]) {
        case DB_TF_VALUE:
          v = x[i];
          break;
        case DB_TF_YOY:
          v = back;
          break;
        case DB_TF_YOY_PCT:
          v = pct_change(x[i], back);
          break;
        case DB_TF_PREV:
          v = prev;
          break;
        case DB_TF_MOM:
          v = pct_change(x[i], prev);
          break;
        case DB_TF_YTD:
          v = ytd;
          break;
        case DB_TF_PLAN:
          v = plan;
          break;
        case DB_TF_PLAN_PCT:
          v = plan > 0 && isfinite(100.0 * ytd / plan) ? 100.0 * ytd / plan : NAN;
          break;
        case DB_TF_STATUS:
          v = has_year ? status_of(ind, ytd, plan, i - s + 1, periods) : NAN;
          break;
        case DB_TF_RANK:
          break; /* filled by the caller */
      }
      out[t] = v;
    }
    count[k - q->k0] = b->count[i];
    expected[k - q->k0] = b->expected[i];
  }
  return DB_OK;
}

/* ---------- ranks among siblings ---------- */

typedef struct scored {
  double score;
  size_t pos; /* position among the units ranked */
} scored;

static int better_high(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

static int better_low(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? -1 : 1;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sorts s[0..n) best first by polarity (ties in position order) and writes each one's competition rank
 * (1, 2, 2, 4) to rank[s[i].pos]. */
static void rank_sorted(scored *s, size_t n, db_polarity polarity, double *rank) {
  qsort(s, n, sizeof *s, polarity == DB_POL_LOWER ? better_low : better_high);
  for (size_t i = 0; i < n; i++)
    rank[s[i].pos] = i && s[i].score == s[i - 1].score ? rank[s[i - 1].pos] : (double)(i + 1);
}

/* The ranks of the children of one parent over the periods k0 .. k1-1 of one grid indicator, kept
 * while the next units share them. */
typedef struct rank_cache {
  int64_t ind_pos; /* the indicator's position in the grid, -1 when nothing is cached */
  int64_t parent, k0, k1;
  const int64_t *sib;
  size_t n_sib;
  double *ranks; /* n_sib x (k1 - k0), by sibling then period */
  series_buf b;
} rank_cache;

/* Fills the cache with the ranks of the children of `parent` (a catalog index) over the periods
 * k0 .. k1-1 of q's indicator. */
static int rank_fill(const block_q *q, rank_cache *cache, int64_t ind_pos, int64_t parent) {
  size_t nk = (size_t)(q->k1 - q->k0);
  cache->ind_pos = -1;
  cache->n_sib = db_catalog_children(q->c->cat, (size_t)parent, &cache->sib);
  size_t n_sib = cache->n_sib ? cache->n_sib : 1;
  cache->ranks = db_realloc(cache->ranks, n_sib * nk * sizeof *cache->ranks);
  double *vals = db_malloc(n_sib * nk * sizeof *vals), *rank = db_malloc(n_sib * sizeof *rank);
  scored *s = db_malloc(n_sib * sizeof *s);
  db_period from = db_period_add(&q->ip->first, q->k0);
  int err = DB_OK;
  for (size_t j = 0; err == DB_OK && j < cache->n_sib; j++) {
    err = load_values(q->c, q->ip, (size_t)cache->sib[j], &from, nk, &cache->b);
    if (err == DB_OK) memcpy(vals + j * nk, cache->b.x, nk * sizeof *vals);
  }
  for (size_t k = 0; err == DB_OK && k < nk; k++) {
    size_t n = 0;
    for (size_t j = 0; j < cache->n_sib; j++) {
      rank[j] = NAN;
      if (!isnan(vals[j * nk + k])) s[n++] = (scored){vals[j * nk + k], j};
    }
    rank_sorted(s, n, q->ip->ind->polarity, rank);
    for (size_t j = 0; j < cache->n_sib; j++) cache->ranks[j * nk + k] = rank[j];
  }
  if (err == DB_OK) {
    cache->ind_pos = ind_pos;
    cache->parent = parent;
    cache->k0 = q->k0;
    cache->k1 = q->k1;
  }
  db_free(rank);
  db_free(s);
  db_free(vals);
  return err;
}

/* Writes the rank of q's unit among its siblings into column t of the block's cells (q's indicator is
 * the grid's indicator number ind_pos). */
static int rank_block(const block_q *q, int64_t ind_pos, rank_cache *cache, size_t t, double *cells) {
  int64_t parent = q->c->cat->unit_parent ? q->c->cat->unit_parent[q->cu] : -1;
  int64_t nk = q->k1 - q->k0;
  for (int64_t k = 0; k < nk; k++) cells[k * (int64_t)q->ntf + (int64_t)t] = NAN;
  if (parent < 0) return DB_OK;
  if (cache->ind_pos != ind_pos || cache->parent != parent || cache->k0 != q->k0 || cache->k1 != q->k1) {
    int err = rank_fill(q, cache, ind_pos, parent);
    if (err) return err;
  }
  for (size_t j = 0; j < cache->n_sib; j++)
    if ((size_t)cache->sib[j] == q->cu)
      for (int64_t k = 0; k < nk; k++)
        cells[k * (int64_t)q->ntf + (int64_t)t] = cache->ranks[j * (size_t)nk + (size_t)k];
  return DB_OK;
}

/* ---------- grids ---------- */

int db_analytics_grid_run(const db_analytics_ctx *c, const db_analytics_grid *g, int64_t offset,
                          int64_t limit, db_analytics_emit emit, void *emit_ctx) {
  int rc = check_grid(c, g);
  if (rc) return rc;
  if (offset < 0 || limit < 0) return DB_EINVAL;
  int64_t row = 0, end = offset + limit, rank_col = -1;
  for (size_t t = 0; t < g->n_transforms; t++)
    if (g->transforms[t] == DB_TF_RANK) rank_col = (int64_t)t;
  series_buf b = {0};
  rank_cache ranks = {.ind_pos = -1};
  double *cells = NULL;
  int32_t *count = NULL, *expected = NULL;
  size_t cap = 0;
  for (size_t i = 0; rc == DB_OK && i < g->n_indicators && row < end; i++) {
    ind_plan ip;
    plan_indicator(c, g, &c->cat->indicators[g->indicators[i]], &ip);
    for (size_t u = 0; rc == DB_OK && u < g->n_units && row < end; u++, row += ip.n) {
      if (row + ip.n <= offset) continue;
      block_q q = {c,
                   &ip,
                   g->units[u],
                   g->transforms,
                   g->n_transforms,
                   row < offset ? offset - row : 0,
                   row + ip.n > end ? end - row : ip.n};
      size_t nk = (size_t)(q.k1 - q.k0);
      if (nk > cap) {
        cap = nk;
        cells = db_realloc(cells, cap * g->n_transforms * sizeof *cells);
        count = db_realloc(count, cap * sizeof *count);
        expected = db_realloc(expected, cap * sizeof *expected);
      }
      rc = block_compute(&q, &b, cells, count, expected);
      if (rc == DB_OK && rank_col >= 0) rc = rank_block(&q, (int64_t)i, &ranks, (size_t)rank_col, cells);
      db_analytics_row r = {g->indicators[i], g->units[u], {0, 0, 0}, 0, 0, {0}};
      for (size_t k = 0; rc == DB_OK && k < nk; k++) {
        r.period = db_period_add(&ip.first, q.k0 + (int64_t)k);
        r.count = count[k];
        r.expected = expected[k];
        memcpy(r.cells, cells + k * g->n_transforms, g->n_transforms * sizeof *cells);
        rc = emit(emit_ctx, &r);
      }
    }
  }
  series_free(&b);
  series_free(&ranks.b);
  db_free(ranks.ranks);
  db_free(cells);
  db_free(count);
  db_free(expected);
  return rc;
}

/* ---------- rankings ---------- */

int64_t db_analytics_rank(const db_analytics_ctx *c, size_t indicator, const size_t *units, size_t n_units,
                          const db_period *p, db_transform t, db_analytics_ranked *out) {
  if (indicator >= c->cat->n_indicators || (int)t < 0 || (int)t >= DB_TF_COUNT || t == DB_TF_RANK ||
      t == DB_TF_STATUS)
    return DB_EINVAL;
  const db_indicator *ind = &c->cat->indicators[indicator];
  if (!p || p->type != ind->periodicity || (p->type == DB_PT_MULTIYEAR && p->span != ind->period_span))
    return DB_EINVAL;
  for (size_t i = 0; i < n_units; i++)
    if (units[i] >= c->cat->n_units) return DB_EINVAL;
  ind_plan ip = {ind, is_derived(c, ind), 0, db_cube_indicator_index(c->v, ind->code), *p, 1};
  db_transform tf[2] = {DB_TF_VALUE, t};
  size_t ntf = t == DB_TF_VALUE ? 1 : 2;
  series_buf b = {0};
  scored *s = db_malloc((n_units ? n_units : 1) * sizeof *s);
  double *value = db_malloc((n_units ? n_units : 1) * sizeof *value);
  double *rank = db_malloc((n_units ? n_units : 1) * sizeof *rank);
  size_t n = 0;
  int rc = DB_OK;
  for (size_t i = 0; rc == DB_OK && i < n_units; i++) {
    block_q q = {c, &ip, units[i], tf, ntf, 0, 1};
    double cells[2];
    int32_t count, expected;
    rc = block_compute(&q, &b, cells, &count, &expected);
    value[i] = cells[0];
    if (rc == DB_OK && !isnan(cells[ntf - 1])) s[n++] = (scored){cells[ntf - 1], i};
  }
  if (rc == DB_OK) {
    rank_sorted(s, n, ind->polarity, rank);
    for (size_t i = 0; i < n; i++)
      out[i] = (db_analytics_ranked){units[s[i].pos], value[s[i].pos], s[i].score, (int64_t)rank[s[i].pos]};
  }
  series_free(&b);
  db_free(s);
  db_free(value);
  db_free(rank);
  return rc == DB_OK ? (int64_t)n : rc;
}
