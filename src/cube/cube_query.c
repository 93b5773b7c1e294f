/* cube_query.c - the queries on a cube version (contract in cube.h, layout in cube_int.h).
 *
 * Everything here reads an immutable version and allocates only scratch memory. A roll-up first
 * collects one row per contributing child (every requested period): in place in a dense matrix when the
 * child is a leaf valid at all times and the periods lie inside the matrix, else gathered into a scratch
 * row (sparse cells, periods outside the matrix, values filled from the child's own children, periods in
 * which it was not valid blanked out); then one vectorised kernel adds the rows up block by block. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "cube/cube_int.h"
#include "model/agg.h"

#define MAX_DEPTH 64 /* deeper unit trees or succession chains are taken for cycles */
#define MAX_SCRATCH ((size_t)1 << 30) /* bytes of scratch a query may take (DB_ETOOBIG beyond) */
#define ORD_LIMIT (INT64_C(1) << 40)  /* beyond any real period's ordinal: no overflow in ord + k * step */
#define MS_PER_DAY INT64_C(86400000)

/* ---------- checks and small helpers ---------- */

static int bad_indicator(const db_cube_version *v, int64_t ind) {
  return ind < 0 || (size_t)ind >= v->schema->n_ind;
}

static int bad_unit(const db_cube_version *v, int64_t unit) { return unit < 0 || (size_t)unit >= v->schema->n_units; }

/* Whether p is a period of indicator `in`'s periodicity (and span, for plans). */
static int bad_period(const db_cube__ind *in, const db_period *p) {
  return !p || p->type != in->type || (in->type == DB_PT_MULTIYEAR && in->span && p->span != in->span) ||
         p->ord < -ORD_LIMIT || p->ord > ORD_LIMIT;
}

/* Ordinal steps between consecutive periods of p's type. */
static int64_t step_of(const db_period *p) { return p->type == DB_PT_MULTIYEAR && p->span > 0 ? p->span : 1; }

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* First and last civil days (days since 1970-01-01, city time) of the period (type, span, ord). */
static void period_days(db_period_type type, int span, int64_t ord, int64_t *first, int64_t *last) {
  db_period p = {type, span, ord};
  int64_t offset = (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  *first = floor_div(db_period_start_ms(&p) + offset, MS_PER_DAY);
  *last = floor_div(db_period_end_ms(&p) - 1 + offset, MS_PER_DAY);
}

static int always_valid(const db_cube__unit *u) { return u->from_day == DB_DATE_NONE && u->to_day == DB_DATE_NONE; }

static int valid_between(const db_cube__unit *u, int64_t first, int64_t last) {
  return (u->from_day == DB_DATE_NONE || u->from_day <= last) && (u->to_day == DB_DATE_NONE || u->to_day >= first);
}

static int64_t n_children(const db_cube__schema *s, int64_t u) { return s->child_start[u + 1] - s->child_start[u]; }

static void fill_nan(double *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = NAN;
}

/* How many of x[0..n) are not NAN (four at a time: the compiler does not vectorise the plain loop). */
static int64_t count_present(const double *x, size_t n) {
  int64_t c[4] = {0, 0, 0, 0};
  size_t k = 0;
  for (; k + 4 <= n; k += 4)
    for (int j = 0; j < 4; j++) c[j] += x[k + j] == x[k + j];
  for (; k < n; k++) c[0] += x[k] == x[k];
  return c[0] + c[1] + c[2] + c[3];
}

/* Whether the n consecutive ordinals from `from` all lie inside the dense matrix m; in_place: a pointer
 * to unit's values there (NULL when not, or when the unit has no row). */
static int dense_window(const db_cube__matrix *m, int64_t from, int64_t step, size_t n) {
  return m && !m->sparse && step == 1 && from >= m->ord0 && from - m->ord0 + (int64_t)n <= m->ncols;
}

static const double *in_place(const db_cube__matrix *m, int64_t unit, int64_t from, int64_t step, size_t n) {
  int64_t r = db_cube__row(m, unit);
  return r >= 0 && dense_window(m, from, step, n) ? m->data + r * m->ncols + (from - m->ord0) : NULL;
}

/* out[k] = the stored value of unit at ordinal from + k*step (NAN when missing), k < n; returns how many
 * are present. m may be NULL. */
static int64_t gather(const db_cube__matrix *m, int64_t unit, int64_t from, int64_t step, size_t n, double *out) {
  int64_t r = db_cube__row(m, unit), present = 0;
  if (r < 0) {
    fill_nan(out, n);
    return 0;
  }
  if (step != 1) {
    for (size_t k = 0; k < n; k++) present += !isnan(out[k] = db_cube__get(m, unit, from + (int64_t)k * step));
    return present;
  }
  /* the periods k0 .. k1-1 fall inside the matrix's columns */
  int64_t k0 = m->ord0 - from > 0 ? m->ord0 - from : 0;
  int64_t k1 = m->ord0 + m->ncols - from < (int64_t)n ? m->ord0 + m->ncols - from : (int64_t)n;
  if (k1 <= k0) {
    fill_nan(out, n);
    return 0;
  }
  fill_nan(out, (size_t)k0);
  fill_nan(out + k1, n - (size_t)k1);
  if (!m->sparse) {
    memcpy(out + k0, m->data + r * m->ncols + (from + k0 - m->ord0), (size_t)(k1 - k0) * sizeof *out);
    return count_present(out + k0, (size_t)(k1 - k0));
  }
  fill_nan(out + k0, (size_t)(k1 - k0));
  int64_t c0 = from + k0 - m->ord0, a = m->start[r], b = m->start[r + 1];
  while (a < b) { /* first cell at column >= c0 */
    int64_t mid = a + (b - a) / 2;
    if (m->col[mid] < c0)
      a = mid + 1;
    else
      b = mid;
  }
  for (; a < m->start[r + 1] && m->col[a] < c0 + (k1 - k0); a++, present++)
    out[m->col[a] - c0 + k0] = m->val[a];
  return present;
}

/* ---------- series, cross-sections, ranges ---------- */

int db_cube_range(const db_cube_version *v, int64_t indicator, const char *dimkey, db_period *first,
                  db_period *last) {
  if (bad_indicator(v, indicator)) return DB_EINVAL;
  const db_cube__ind *in = &v->schema->inds[indicator];
  const db_cube__matrix *m = db_cube__find(v, indicator, dimkey);
  if (!m) return DB_ENOTFOUND;
  /* the range may be wider than the data after deletions: trim it to the columns holding a value */
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t r = 0; r < m->nrows; r++) {
    if (m->sparse) {
      if (m->start[r] == m->start[r + 1]) continue;
      if (m->col[m->start[r]] < lo) lo = m->col[m->start[r]];
      if (m->col[m->start[r + 1] - 1] > hi) hi = m->col[m->start[r + 1] - 1];
      continue;
    }
    const double *row = m->data + r * m->ncols;
    for (int64_t c = 0; c < m->ncols; c++)
      if (!isnan(row[c])) {
        if (c < lo) lo = c;
        if (c > hi) hi = c;
      }
  }
  if (lo > hi) return DB_ENOTFOUND;
  *first = (db_period){in->type, in->span, m->ord0 + lo};
  *last = (db_period){in->type, in->span, m->ord0 + hi};
  return DB_OK;
}

int64_t db_cube_series(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t unit,
                       const db_period *from, size_t n, double *out) {
  if (bad_indicator(v, indicator) || bad_unit(v, unit) || bad_period(&v->schema->inds[indicator], from) ||
      (n && !out))
    return DB_EINVAL;
  return gather(db_cube__find(v, indicator, dimkey), unit, from->ord, step_of(from), n, out);
}

int64_t db_cube_cross(const db_cube_version *v, int64_t indicator, const char *dimkey, const db_period *p,
                      const int64_t *units, size_t n_units, double *out) {
  if (bad_indicator(v, indicator) || bad_period(&v->schema->inds[indicator], p) || (n_units && (!out || !units)))
    return DB_EINVAL;
  const db_cube__matrix *m = db_cube__find(v, indicator, dimkey);
  int64_t present = 0;
  uint64_t n_all = v->schema->n_units;
  if (m && !m->sparse && p->ord >= m->ord0 && p->ord - m->ord0 < m->ncols) {
    const double *col = m->data + (p->ord - m->ord0);
    for (size_t k = 0; k < n_units; k++) {
      uint64_t u = (uint64_t)units[k];
      if (u >= n_all) return DB_EINVAL;
      int64_t r = u < (uint64_t)m->n_units ? m->row_of[u] : -1;
      out[k] = r < 0 ? NAN : col[r * m->ncols];
      present += out[k] == out[k];
    }
    return present;
  }
  for (size_t k = 0; k < n_units; k++) {
    if (bad_unit(v, units[k])) return DB_EINVAL;
    present += !isnan(out[k] = db_cube__get(m, units[k], p->ord));
  }
  return present;
}

/* ---------- roll-up over the unit tree ---------- */

/* One roll-up: the matrix, the rule and the periods (ordinals from, from+step, … n of them). */
typedef struct rollup_q {
  const db_cube_version *v;
  const db_cube__ind *in;
  const db_cube__matrix *m; /* NULL when the series has no data */
  db_agg rule;
  db_period_type type;
  int span;
  int64_t from, step;
  size_t n;
  int64_t *first_day, *last_day; /* of each period, computed on first need */
  const db_cube__matrix *wm;     /* wavg: the weight series (no dimensions) */
  int64_t *word;                 /* wavg: the weight's ordinal for each period */
} rollup_q;

static void rollup_q_free(rollup_q *q) {
  db_free(q->first_day);
  db_free(q->last_day);
  db_free(q->word);
}

static void need_days(rollup_q *q) {
  if (q->first_day) return;
  q->first_day = db_malloc((q->n ? q->n : 1) * sizeof *q->first_day);
  q->last_day = db_malloc((q->n ? q->n : 1) * sizeof *q->last_day);
  for (size_t k = 0; k < q->n; k++)
    period_days(q->type, q->span, q->from + (int64_t)k * q->step, &q->first_day[k], &q->last_day[k]);
}

/* Sets up the weights of a wavg roll-up: the weight series (none when the indicator names no weight:
 * then no value counts) and, for each period, the ordinal of the weight's period that contains its
 * start. */
static void need_weights(rollup_q *q) {
  q->word = db_calloc(q->n ? q->n : 1, sizeof *q->word);
  if (q->in->weight < 0) return;
  const db_cube__ind *w = &q->v->schema->inds[q->in->weight];
  q->wm = db_cube__find(q->v, q->in->weight, "");
  for (size_t k = 0; k < q->n; k++) {
    db_period p = {q->type, q->span, q->from + (int64_t)k * q->step};
    q->word[k] = w->type == q->type && w->span == q->span ? p.ord
                                                          : db_period_at(w->type, w->span, db_period_start_ms(&p)).ord;
  }
}

/* The latest stored value of unit's weight series, NAN when it has none. */
static double latest_weight(const rollup_q *q, int64_t unit) {
  const db_cube__matrix *m = q->wm;
  int64_t r = db_cube__row(m, unit);
  if (r < 0) return NAN;
  if (m->sparse) return m->start[r + 1] > m->start[r] ? m->val[m->start[r + 1] - 1] : NAN;
  for (int64_t c = m->ncols - 1; c >= 0; c--)
    if (!isnan(m->data[r * m->ncols + c])) return m->data[r * m->ncols + c];
  return NAN;
}

/* w[k] = the weight of unit in period k: its weight value in the weight's period, else (when given)
 * fill[k], the total weight of the children its value was rolled up from, else its latest weight value. */
static void unit_weights(const rollup_q *q, int64_t unit, const double *fill, double *w) {
  double latest = NAN;
  int have_latest = 0;
  for (size_t k = 0; k < q->n; k++) {
    double x = db_cube__get(q->wm, unit, q->word[k]);
    if (!(x > 0) && fill && fill[k] > 0) x = fill[k];
    if (!(x > 0)) {
      if (!have_latest) {
        latest = latest_weight(q, unit);
        have_latest = 1;
      }
      x = latest;
    }
    w[k] = x;
  }
}

static int rollup_children(rollup_q *q, int64_t parent, db_cube_cell *out, double *wout, int depth);

/* vals[k] = the value of unit in period k: stored, else (for a unit with children) its roll-up. With
 * wfill not NULL, wfill[k] = the total weight behind a rolled-up value (NAN for a stored one). Returns
 * 0 or an error. */
static int unit_values(rollup_q *q, int64_t unit, double *vals, double *wfill, int depth) {
  int64_t present = gather(q->m, unit, q->from, q->step, q->n, vals);
  if (wfill) fill_nan(wfill, q->n);
  if (present == (int64_t)q->n || !n_children(q->v->schema, unit)) return DB_OK;
  db_cube_cell *sub = db_malloc(q->n * sizeof *sub);
  int rc = rollup_children(q, unit, sub, wfill, depth + 1);
  for (size_t k = 0; rc == DB_OK && k < q->n; k++) {
    if (isnan(vals[k]))
      vals[k] = sub[k].value;
    else if (wfill)
      wfill[k] = NAN;
  }
  db_free(sub);
  return rc;
}

/* The roll-up kernel adds whole rows (one per contributing child) into per-period accumulators. It
 * walks the periods in blocks of DB_CUBE__LANES and, for each block, every row, so that the block's
 * accumulators stay in registers. Values are vectors of four doubles (GCC/Clang vector extensions:
 * AVX2 where the machine has it, through a run-time dispatched clone on x86-64 with GCC, pairs of SSE2 or
 * plain code elsewhere). Rows are padded to whole blocks, so there is no scalar tail: dense matrices end
 * with DB_CUBE__LANES NANs, scratch rows are allocated rounded up, and the extra lanes land in
 * accumulators past n, which nobody reads. */
typedef double vec __attribute__((vector_size(4 * sizeof(double)), aligned(sizeof(double)), may_alias));
typedef int64_t mask __attribute__((vector_size(4 * sizeof(int64_t)), aligned(sizeof(int64_t)), may_alias));
#define V(p) (*(vec *)(p))
#define M(p) (*(mask *)(p))
#define KEEP(v, m) ((vec)((mask)(v) & (m))) /* v where m is set, +0.0 elsewhere */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERNEL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KERNEL_CLONES
#endif

static size_t round_up(size_t n) { return (n + DB_CUBE__LANES - 1) / DB_CUBE__LANES * DB_CUBE__LANES; }

/* One pass of the kernel: for each block of periods, load its accumulators, run STEP for every row
 * (x0, x1: the row's two vectors; m0, m1: where it has values, narrowed by STEP when a value does not
 * count), count the contributors and store the accumulators back. */
#define BLOCKS(STEP)                                                                         \
  for (size_t k = 0; k < n; k += DB_CUBE__LANES) {                                           \
    vec a0 = V(acc + k), a1 = V(acc + k + 4), w0 = V(wsum + k), w1 = V(wsum + k + 4);        \
    mask c0 = M(cnt + k), c1 = M(cnt + k + 4);                                               \
    for (size_t j = 0; j < nrows; j++) {                                                     \
      vec x0 = V(rows[j] + k), x1 = V(rows[j] + k + 4);                                      \
      mask m0 = (mask)(x0 == x0), m1 = (mask)(x1 == x1);                                     \
      STEP;                                                                                  \
      c0 -= m0; /* a set mask is -1 */                                                       \
      c1 -= m1;                                                                              \
    }                                                                                        \
    V(acc + k) = a0;                                                                         \
    V(acc + k + 4) = a1;                                                                     \
    V(wsum + k) = w0;                                                                        \
    V(wsum + k + 4) = w1;                                                                    \
    M(cnt + k) = c0;                                                                         \
    M(cnt + k + 4) = c1;                                                                     \
  }

/* a where b is set, else c */
#define PICK(b, a, c) ((vec)(((mask)(a) & (b)) | ((mask)(c) & ~(b))))

/* Adds rows[0..nrows) (n values each, NAN = no value; for wavg the weights wrows) into the accumulators
 * under rule: acc the sums or extremes, wsum the weights, cnt the contributors. */
KERNEL_CLONES static void accumulate(db_agg rule, const double *const *rows, const double *const *wrows,
                                     size_t nrows, size_t n, double *acc, double *wsum, int64_t *cnt) {
  const vec zero = {0, 0, 0, 0}, inf = {INFINITY, INFINITY, INFINITY, INFINITY};
  switch (rule) {
    case DB_AGG_SUM:
    case DB_AGG_AVG:
      BLOCKS(a0 += KEEP(x0, m0); a1 += KEEP(x1, m1))
      break;
    case DB_AGG_MIN:
      BLOCKS(a0 = PICK((mask)(x0 < a0), x0, a0); a1 = PICK((mask)(x1 < a1), x1, a1))
      break;
    case DB_AGG_MAX:
      BLOCKS(a0 = PICK((mask)(x0 > a0), x0, a0); a1 = PICK((mask)(x1 > a1), x1, a1))
      break;
    case DB_AGG_WAVG:
      BLOCKS(vec y0 = V(wrows[j] + k); vec y1 = V(wrows[j] + k + 4);
             m0 &= (mask)(y0 > zero) & (mask)(y0 < inf); m1 &= (mask)(y1 > zero) & (mask)(y1 < inf);
             a0 += KEEP(x0 * y0, m0); a1 += KEEP(x1 * y1, m1); w0 += KEEP(y0, m0); w1 += KEEP(y1, m1))
      break;
    default: /* none: counts only */
      BLOCKS((void)0)
      break;
  }
}

/* The scratch of one roll-up level: accumulators (round_up(n) each), the expected counts, and the rows
 * handed to the kernel (at most one per child) with, under wavg, their weight rows. */
typedef struct level {
  size_t n, nn, nrows;
  double *acc, *wsum;
  int64_t *cnt;
  int32_t *expected;
  const double **rows, **wrows;
  double *wscratch; /* wavg: one weight row per child */
  void *heap;       /* the block when it was allocated, else NULL */
} level;

#define STACK_LANES 128 /* the top level of a roll-up of up to this many periods and children */
#define STACK_KIDS 256  /* keeps its scratch on the stack */
#define STACK_BYTES (STACK_LANES * (3 * sizeof(double) + sizeof(int32_t)) + STACK_KIDS * 2 * sizeof(double *))

/* Lays the level out in `stack` (STACK_BYTES, may be NULL) when it fits, else on the heap. */
static void level_init(level *l, size_t n, size_t kids, db_agg rule, void *stack) {
  size_t nn = round_up(n ? n : 1);
  size_t bytes = nn * (3 * sizeof(double) + sizeof(int32_t)) + (kids ? kids : 1) * 2 * sizeof(double *);
  l->heap = stack && nn <= STACK_LANES && kids <= STACK_KIDS ? NULL : db_malloc(bytes);
  char *p = l->heap ? l->heap : stack;
  l->n = n;
  l->nn = nn;
  l->nrows = 0;
  l->acc = (double *)p;
  l->wsum = l->acc + nn;
  l->cnt = (int64_t *)(l->wsum + nn);
  l->rows = (const double **)(l->cnt + nn);
  l->wrows = l->rows + (kids ? kids : 1);
  l->expected = (int32_t *)(l->wrows + (kids ? kids : 1));
  l->wscratch = rule == DB_AGG_WAVG ? db_malloc((kids ? kids : 1) * nn * sizeof *l->wscratch) : NULL;
  double start = rule == DB_AGG_MIN ? INFINITY : rule == DB_AGG_MAX ? -INFINITY : 0.0;
  for (size_t k = 0; k < nn; k++) {
    l->acc[k] = start;
    l->wsum[k] = 0;
    l->cnt[k] = 0;
    l->expected[k] = 0;
  }
}

static void level_free(level *l) {
  db_free(l->wscratch);
  db_free(l->heap);
}

/* Hands the row x to the kernel; under wavg also the child's weights (fill: see unit_weights). */
static void level_add(level *l, const rollup_q *q, int64_t child, const double *x, const double *fill) {
  if (q->rule == DB_AGG_WAVG) {
    double *w = l->wscratch + l->nrows * l->nn;
    unit_weights(q, child, fill, w);
    for (size_t k = l->n; k < l->nn; k++) w[k] = NAN;
    l->wrows[l->nrows] = w;
  }
  l->rows[l->nrows++] = x;
}

/* The result of an accumulated level under rule; `always` children were expected in every period. */
static void level_finish(const level *l, db_agg rule, int32_t always, db_cube_cell *out, double *wout) {
  for (size_t k = 0; k < l->n; k++) {
    double v = NAN;
    if (l->cnt[k]) switch (rule) {
        case DB_AGG_SUM:
        case DB_AGG_MIN:
        case DB_AGG_MAX: v = l->acc[k]; break;
        case DB_AGG_AVG: v = l->acc[k] / (double)l->cnt[k]; break;
        case DB_AGG_WAVG: v = l->acc[k] / l->wsum[k]; break;
        default: break;
      }
    out[k] = (db_cube_cell){v, (int32_t)l->cnt[k], l->expected[k] + always};
    if (wout) wout[k] = l->cnt[k] ? l->wsum[k] : NAN;
  }
}

/* The children of a "simple" parent (leaves valid at all times) whose periods all lie inside the dense
 * matrix: the rows of those that have one, in place. */
static void rows_simple(const rollup_q *q, int64_t parent, level *l) {
  const db_cube__schema *s = q->v->schema;
  const db_cube__matrix *m = q->m;
  const double *base = m->data + (q->from - m->ord0);
  int wavg = q->rule == DB_AGG_WAVG;
  for (int64_t i = s->child_start[parent]; i < s->child_start[parent + 1]; i++) {
    int64_t c = s->child_list[i], r = c < m->n_units ? m->row_of[c] : -1;
    if (r < 0) continue;
    if (wavg)
      level_add(l, q, c, base + r * m->ncols, NULL);
    else
      l->rows[l->nrows++] = base + r * m->ncols;
  }
}

/* Any children: validity per period (into l->expected and *always), values in place or gathered into
 * vals (one row per child), filled from grandchildren, blanked where the child was not valid. Returns 0
 * or an error. */
static int rows_general(rollup_q *q, int64_t parent, level *l, double *vals, int depth, int32_t *always) {
  const db_cube__schema *s = q->v->schema;
  size_t n = q->n;
  double *wfill = q->rule == DB_AGG_WAVG ? db_malloc(l->nn * sizeof *wfill) : NULL;
  int rc = DB_OK;
  *always = 0;
  for (int64_t i = s->child_start[parent]; rc == DB_OK && i < s->child_start[parent + 1]; i++) {
    int64_t c = s->child_list[i];
    const db_cube__unit *u = &s->units[c];
    int open = always_valid(u), leaf = !n_children(s, c);
    /* a station that never reported this indicator (a weather station for PM2.5, every station for a
       ward statistic) is not a missing contributor */
    if (u->site && leaf && db_cube__row(q->m, c) < 0) continue;
    if (open) {
      (*always)++;
    } else {
      need_days(q);
      for (size_t k = 0; k < n; k++) l->expected[k] += valid_between(u, q->first_day[k], q->last_day[k]);
    }
    if (leaf && db_cube__row(q->m, c) < 0) continue; /* no value in any period */
    const double *x = open && leaf ? in_place(q->m, c, q->from, q->step, n) : NULL;
    if (x) {
      level_add(l, q, c, x, NULL);
      continue;
    }
    double *row = vals + l->nrows * l->nn;
    for (size_t k = n; k < l->nn; k++) row[k] = NAN;
    rc = unit_values(q, c, row, wfill, depth);
    if (!open)
      for (size_t k = 0; k < n; k++)
        if (!valid_between(u, q->first_day[k], q->last_day[k])) row[k] = NAN;
    level_add(l, q, c, row, wfill);
  }
  db_free(wfill);
  return rc;
}

/* Rolls the children of `parent` up into out[0..q->n) under q->rule; with wout not NULL (wavg), wout[k]
 * receives the total weight of the contributors. depth bounds the recursion (a cycle in the tree).
 * Returns 0 or DB_EINVAL (too deep). */
static int rollup_children(rollup_q *q, int64_t parent, db_cube_cell *out, double *wout, int depth) {
  if (depth > MAX_DEPTH) return DB_EINVAL;
  const db_cube__schema *s = q->v->schema;
  size_t kids = (size_t)n_children(s, parent);
  if ((kids + 1) * round_up(q->n) > MAX_SCRATCH / (3 * sizeof(double))) return DB_ETOOBIG;
  _Alignas(double) char stack[STACK_BYTES];
  level l;
  level_init(&l, q->n, kids, q->rule, depth ? NULL : stack);
  int32_t always = (int32_t)kids;
  int rc = DB_OK, simple = s->simple[parent] && dense_window(q->m, q->from, q->step, q->n);
  double *vals = simple ? NULL : db_malloc((kids ? kids : 1) * l.nn * sizeof *vals); /* rows point here */
  if (simple)
    rows_simple(q, parent, &l);
  else
    rc = rows_general(q, parent, &l, vals, depth, &always);
  if (rc == DB_OK) {
    accumulate(q->rule, l.rows, l.wrows, l.nrows, q->n, l.acc, l.wsum, l.cnt);
    level_finish(&l, q->rule, always, out, wout);
  }
  db_free(vals);
  level_free(&l);
  return rc;
}

/* Sets up q for the n periods of indicator `indicator` from `from` under rule. */
static void rollup_q_init(rollup_q *q, const db_cube_version *v, int64_t indicator, const char *dimkey, db_agg rule,
                          const db_period *from, size_t n) {
  *q = (rollup_q){v, &v->schema->inds[indicator], db_cube__find(v, indicator, dimkey), rule, from->type, from->span,
                  from->ord, step_of(from), n, NULL, NULL, NULL, NULL};
  if (rule == DB_AGG_WAVG) need_weights(q);
}

int db_cube_rollup_as(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t parent, db_agg rule,
                      const db_period *from, size_t n, db_cube_cell *out) {
  if (bad_indicator(v, indicator) || bad_unit(v, parent) || bad_period(&v->schema->inds[indicator], from) ||
      (n && !out) || rule < DB_AGG_NONE || rule >= DB_AGG_LAST)
    return DB_EINVAL;
  rollup_q q;
  rollup_q_init(&q, v, indicator, dimkey, rule, from, n);
  int rc = rollup_children(&q, parent, out, NULL, 0);
  rollup_q_free(&q);
  return rc;
}

int db_cube_rollup(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t parent,
                   const db_period *from, size_t n, db_cube_cell *out) {
  if (bad_indicator(v, indicator)) return DB_EINVAL;
  return db_cube_rollup_as(v, indicator, dimkey, parent, v->schema->inds[indicator].space, from, n, out);
}

/* ---------- roll-up over time ---------- */

int db_cube_rollup_time(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t unit,
                        const db_period *from, size_t n, db_cube_cell *out) {
  if (bad_indicator(v, indicator) || bad_unit(v, unit) || !from || (n && !out)) return DB_EINVAL;
  const db_cube__ind *in = &v->schema->inds[indicator];
  if (in->type == DB_PT_MULTIYEAR && bad_period(in, from)) return DB_EINVAL; /* a plan nests only in itself */
  if (!n) return DB_OK;
  if (n > MAX_SCRATCH / (2 * sizeof(int64_t))) return DB_ETOOBIG;
  /* the sub-periods of every coarse period: first ordinal and count; consecutive coarse periods hold
   * consecutive runs of sub-periods */
  int64_t *first = db_malloc(n * sizeof *first), *count = db_malloc(n * sizeof *count);
  int rc = DB_OK;
  for (size_t k = 0; k < n && rc == DB_OK; k++) {
    db_period coarse = db_period_add(from, (int64_t)k), sub;
    count[k] = db_period_subperiods(&coarse, in->type, &sub, 1);
    if (count[k] < 1)
      rc = DB_EINVAL;
    else
      first[k] = sub.ord;
  }
  db_period fine = {in->type, in->span, rc == DB_OK ? first[0] : 0};
  int64_t step = step_of(&fine);
  size_t nf = rc == DB_OK ? (size_t)((first[n - 1] - first[0]) / step + count[n - 1]) : 0;
  if (nf > MAX_SCRATCH / (4 * sizeof(double))) rc = DB_ETOOBIG;
  if (rc == DB_OK) {
    rollup_q q;
    rollup_q_init(&q, v, indicator, dimkey, in->space, &fine, nf);
    double *vals = db_malloc(nf * sizeof *vals);
    rc = unit_values(&q, unit, vals, NULL, 0);
    for (size_t k = 0; rc == DB_OK && k < n; k++) {
      db_acc a;
      db_acc_init(&a);
      size_t at = (size_t)((first[k] - first[0]) / step);
      for (int64_t j = 0; j < count[k]; j++)
        if (!isnan(vals[at + j])) db_acc_add(&a, vals[at + j], NAN);
      out[k] = (db_cube_cell){db_acc_result(&a, in->time), (int32_t)a.count, (int32_t)count[k]};
    }
    db_free(vals);
    rollup_q_free(&q);
  }
  db_free(first);
  db_free(count);
  return rc;
}

/* ---------- rebase ---------- */

typedef struct rebase_q {
  const db_cube_version *v;
  const db_cube__matrix *m;
  db_agg rule;
  int64_t ord, first_day, last_day; /* the period */
} rebase_q;

/* The value of unit in the period: stored, else combined from its predecessors (recursively). */
static db_cube_cell rebase_cell(const rebase_q *q, int64_t unit, int depth) {
  const db_cube__schema *s = q->v->schema;
  double own = db_cube__get(q->m, unit, q->ord);
  if (!isnan(own)) return (db_cube_cell){own, 1, 1};
  db_acc a;
  db_acc_init(&a);
  int32_t expected = 0;
  for (int64_t i = s->pred_start[unit]; depth < MAX_DEPTH && i < s->pred_start[unit + 1]; i++) {
    db_cube_cell c = rebase_cell(q, s->preds[i].from, depth + 1);
    expected += c.expected > 0;
    if (!isnan(c.value)) db_acc_add(&a, c.value, s->preds[i].weight);
  }
  if (!expected)
    return (db_cube_cell){NAN, 0, valid_between(&s->units[unit], q->first_day, q->last_day)};
  double v = NAN;
  if (a.count) switch (q->rule) {
      case DB_AGG_SUM: v = a.weighted_sum; break;
      case DB_AGG_AVG:
      case DB_AGG_WAVG: v = db_acc_result(&a, DB_AGG_WAVG); break;
      case DB_AGG_MIN:
      case DB_AGG_MAX: v = db_acc_result(&a, q->rule); break;
      default: break;
    }
  return (db_cube_cell){v, (int32_t)a.count, expected};
}

int db_cube_rebase(const db_cube_version *v, int64_t indicator, const char *dimkey, int64_t unit,
                   const db_period *from, size_t n, db_cube_cell *out) {
  if (bad_indicator(v, indicator) || bad_unit(v, unit) || bad_period(&v->schema->inds[indicator], from) ||
      (n && !out))
    return DB_EINVAL;
  rebase_q q = {v, db_cube__find(v, indicator, dimkey), v->schema->inds[indicator].space, 0, 0, 0};
  for (size_t k = 0; k < n; k++) {
    q.ord = from->ord + (int64_t)k * step_of(from);
    period_days(from->type, from->span, q.ord, &q.first_day, &q.last_day);
    out[k] = rebase_cell(&q, unit, 0);
  }
  return DB_OK;
}

/* ---------- top-N ---------- */

int64_t db_cube_top(const db_cube_version *v, int64_t indicator, const char *dimkey, const int64_t *units,
                    size_t n_units, const db_period *p, const db_period *base, db_cube_measure measure,
                    int ascending, size_t top, db_cube_ranked *out) {
  if (bad_indicator(v, indicator)) return DB_EINVAL;
  const db_cube__ind *in = &v->schema->inds[indicator];
  if (bad_period(in, p) || (measure != DB_CUBE_LEVEL && bad_period(in, base)) || measure < DB_CUBE_LEVEL ||
      measure > DB_CUBE_GROWTH || (n_units && !units) || (top && !out))
    return DB_EINVAL;
  for (size_t k = 0; k < n_units; k++)
    if (bad_unit(v, units[k])) return DB_EINVAL;
  const db_cube__matrix *m = db_cube__find(v, indicator, dimkey);
  size_t n = 0;
  for (size_t k = 0; k < n_units && top && m; k++) {
    double a = db_cube__get(m, units[k], p->ord), b = NAN, score = a;
    if (isnan(a)) continue;
    if (measure != DB_CUBE_LEVEL) {
      b = db_cube__get(m, units[k], base->ord);
      if (isnan(b) || (measure == DB_CUBE_GROWTH && !(b > 0))) continue;
      score = measure == DB_CUBE_GROWTH ? a / b - 1.0 : a - b;
    }
    /* insert after every entry that ranks at least as high (ties keep the order of units) */
    size_t at = n;
    while (at > 0 && (ascending ? out[at - 1].score > score : out[at - 1].score < score)) at--;
    if (at >= top) continue;
    size_t last = n < top ? n : top - 1;
    memmove(out + at + 1, out + at, (last - at) * sizeof *out);
    out[at] = (db_cube_ranked){units[k], score, a, b};
    if (n < top) n++;
  }
  return (int64_t)n;
}
