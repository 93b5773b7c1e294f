/* cube.c - building the cube, its versions and its single writer (contract in cube.h, layout in
 * cube_int.h).
 *
 * Loading reads every current observation once, in the store's order (indicator, unit, dimension key,
 * period), gathers the cells of one indicator at a time and lays each (indicator, dimension key) out as
 * a dense or sparse matrix. Applying a change set resolves and sorts the changes, then builds the next
 * version copy-on-write: untouched indicators (blocks) and, inside a touched indicator, untouched
 * dimension keys (matrices) are shared by reference count; a touched dense matrix is re-laid out with
 * row copies, anything else is rebuilt from its merged cells by the same builder the loader uses.
 *
 * Publication: the cube holds one reference to its current version; acquiring takes a short mutex
 * around "read the pointer, count a reference", and publishing swaps the pointer under the same mutex,
 * so a reader never sees a version that is being freed. Everything a writer builds happens outside that
 * mutex, under a second one that serialises writers. */
#include "cube/cube_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"

struct db_cube {
  pthread_mutex_t lock;   /* guards `current` against the swap */
  pthread_mutex_t writer; /* serialises writers */
  db_cube_version *current;
};

/* One cell on its way into a matrix. */
typedef struct cube_cell {
  int64_t ord;
  double value;
  int32_t unit;
  int32_t dk; /* index of the dimension key in the caller's list */
} cube_cell;

/* One resolved change of a change set (apply). */
typedef struct cube_change {
  int64_t ord;
  double value;
  int32_t unit, ind;
  const char *dk;
  size_t seq; /* position in the change set: the later change of a cell wins */
} cube_change;

#define KEY_CACHE_BITS 12

/* Resolves stored ids and period keys to indices and ordinals, remembering the last ids (rows come
 * grouped) and recently decoded period keys. */
typedef struct resolver {
  const db_cube__schema *s;
  const char *what; /* "observation" (loading) or "change" (applying), for messages */
  int64_t last_ind_id, last_ind, last_unit_id, last_unit;
  struct {
    int64_t key;
    db_period p;
  } *keys; /* direct-mapped cache, 1 << KEY_CACHE_BITS entries */
} resolver;

static void schema_unref(db_cube__schema *s);
static void version_unref(db_cube_version *v);
static db_cube_version *version_new(db_cube__schema *s, uint64_t number);
static int schema_build(const db_catalog *cat, db_cube__schema **out, db_diag *d);
static int cube_new(db_cube_version *v, db_cube **out);
static int load(db_store *st, db_cube_version *v, db_diag *d);
static db_cube__matrix *matrix_build(const char *dimkey, const cube_cell *cells, size_t n, size_t n_units);
static void matrix_unref(db_cube__matrix *m);
static void block_unref(db_cube__block *b);
static void resolver_init(resolver *r, const db_cube__schema *s, const char *what);
static int resolve(resolver *r, const db_obs_row *row, long line, int64_t *ind, int64_t *unit, int64_t *ord,
                   db_diag *d);
static db_cube__block *block_apply(const db_cube__block *old, const cube_change *ch, size_t n, size_t n_units);
static void publish(db_cube *c, db_cube_version *next);

/* ---------- building ---------- */

int db_cube_create(const db_catalog *cat, db_cube **out, db_diag *d) {
  *out = NULL;
  db_cube__schema *s = NULL;
  int rc = schema_build(cat, &s, d);
  if (rc) return rc;
  return cube_new(version_new(s, 1), out);
}

int db_cube_open(db_store *st, const db_catalog *cat, db_cube **out, db_diag *d) {
  *out = NULL;
  db_cube__schema *s = NULL;
  int rc = schema_build(cat, &s, d);
  if (rc) return rc;
  db_cube_version *v = version_new(s, 1);
  if ((rc = load(st, v, d)) != DB_OK) {
    version_unref(v);
    return rc;
  }
  return cube_new(v, out);
}

/* Wraps a first version into a cube. */
static int cube_new(db_cube_version *v, db_cube **out) {
  db_cube *c = db_calloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->writer, NULL);
  c->current = v;
  *out = c;
  return DB_OK;
}

void db_cube_close(db_cube *c) {
  if (!c) return;
  version_unref(c->current);
  pthread_mutex_destroy(&c->lock);
  pthread_mutex_destroy(&c->writer);
  db_free(c);
}

/* ---------- readers ---------- */

const db_cube_version *db_cube_acquire(db_cube *c) {
  pthread_mutex_lock(&c->lock);
  db_cube_version *v = c->current;
  atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&c->lock);
  return v;
}

void db_cube_release(const db_cube_version *v) { version_unref((db_cube_version *)v); }

uint64_t db_cube_version_number(const db_cube_version *v) { return v->number; }

int64_t db_cube_indicator_index(const db_cube_version *v, const char *code) {
  int64_t i;
  return code && db_map_gets(&v->schema->ind_code, code, &i) ? i : -1;
}

int64_t db_cube_unit_index(const db_cube_version *v, const char *code) {
  int64_t i;
  return code && db_map_gets(&v->schema->unit_code, code, &i) ? i : -1;
}

const char *db_cube_unit_code(const db_cube_version *v, int64_t unit) {
  return unit >= 0 && (size_t)unit < v->schema->n_units ? v->schema->units[unit].code : NULL;
}

size_t db_cube_unit_children(const db_cube_version *v, int64_t unit, const int64_t **children) {
  const db_cube__schema *s = v->schema;
  if (unit < 0 || (size_t)unit >= s->n_units) {
    *children = NULL;
    return 0;
  }
  *children = s->child_list + s->child_start[unit];
  return (size_t)(s->child_start[unit + 1] - s->child_start[unit]);
}

const db_cube__matrix *db_cube__find(const db_cube_version *v, int64_t indicator, const char *dimkey) {
  const db_cube__block *b = v->blocks[indicator];
  if (!b) return NULL;
  if (!dimkey) dimkey = "";
  for (size_t i = 0; i < b->n; i++)
    if (!strcmp(b->mats[i]->dimkey, dimkey)) return b->mats[i];
  return NULL;
}

void db_cube_stats_get(const db_cube_version *v, db_cube_stats *out) {
  *out = (db_cube_stats){0, 0, 0, 0, 0};
  for (size_t i = 0; i < v->schema->n_ind; i++) {
    const db_cube__block *b = v->blocks[i];
    for (size_t k = 0; b && k < b->n; k++) {
      const db_cube__matrix *m = b->mats[k];
      out->matrices++;
      out->cells += m->present;
      out->bytes += (size_t)m->n_units * sizeof *m->row_of + (size_t)m->nrows * sizeof *m->unit_of;
      if (m->sparse) {
        out->sparse_matrices++;
        out->bytes += (size_t)(m->nrows + 1) * sizeof *m->start +
                      (size_t)m->present * (sizeof *m->col + sizeof *m->val);
      } else {
        out->dense_cells += m->nrows * m->ncols;
        out->bytes += (size_t)(m->nrows * m->ncols) * sizeof *m->data;
      }
    }
  }
}

/* ---------- reference counts ---------- */

/* Drops one reference; 1 when it was the last one. */
static int unref(atomic_long *refs) { return atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel) == 1; }

static void matrix_unref(db_cube__matrix *m) {
  if (!m || !unref(&m->refs)) return;
  db_free(m->dimkey);
  db_free(m->row_of);
  db_free(m->unit_of);
  db_free(m->data);
  db_free(m->start);
  db_free(m->col);
  db_free(m->val);
  db_free(m);
}

static void block_unref(db_cube__block *b) {
  if (!b || !unref(&b->refs)) return;
  for (size_t i = 0; i < b->n; i++) matrix_unref(b->mats[i]);
  db_free(b->mats);
  db_free(b);
}

static void schema_unref(db_cube__schema *s) {
  if (!s || !unref(&s->refs)) return;
  for (size_t i = 0; i < s->n_ind; i++) db_free(s->inds[i].code);
  for (size_t i = 0; i < s->n_units; i++) db_free(s->units[i].code);
  db_free(s->inds);
  db_free(s->units);
  db_free(s->child_start);
  db_free(s->child_list);
  db_free(s->simple);
  db_free(s->pred_start);
  db_free(s->preds);
  db_map_free(&s->ind_code);
  db_map_free(&s->unit_code);
  db_map_free(&s->ind_id);
  db_map_free(&s->unit_id);
  db_free(s);
}

static void version_unref(db_cube_version *v) {
  if (!v || !unref(&v->refs)) return;
  for (size_t i = 0; i < v->schema->n_ind; i++) block_unref(v->blocks[i]);
  schema_unref(v->schema);
  db_free(v->blocks);
  db_free(v);
}

/* A version with one reference, no data, holding the caller's reference to s. */
static db_cube_version *version_new(db_cube__schema *s, uint64_t number) {
  db_cube_version *v = db_calloc(1, sizeof *v);
  atomic_init(&v->refs, 1);
  v->number = number;
  v->schema = s;
  v->blocks = db_calloc(s->n_ind ? s->n_ind : 1, sizeof *v->blocks);
  return v;
}

/* ---------- schema ---------- */

static void schema_units(db_cube__schema *s, const db_catalog *cat) {
  size_t n = cat->n_units;
  s->units = db_calloc(n ? n : 1, sizeof *s->units);
  for (size_t i = 0; i < n; i++) {
    const db_orgunit *u = &cat->units[i];
    s->units[i] = (db_cube__unit){u->id, db_strdup(u->code), u->valid_from, u->valid_to, u->kind == DB_OU_SITE};
    db_map_puts(&s->unit_code, u->code ? u->code : "", (int64_t)i);
    if (u->id) db_map_put(&s->unit_id, &u->id, sizeof u->id, (int64_t)i);
  }
  s->child_start = db_malloc((n + 1) * sizeof *s->child_start);
  memcpy(s->child_start, cat->child_start, (n + 1) * sizeof *s->child_start);
  size_t nc = (size_t)cat->child_start[n];
  s->child_list = db_malloc((nc ? nc : 1) * sizeof *s->child_list);
  memcpy(s->child_list, cat->child_list, nc * sizeof *s->child_list);
  s->simple = db_malloc(n ? n : 1);
  for (size_t u = 0; u < n; u++) {
    s->simple[u] = 1;
    for (int64_t i = s->child_start[u]; i < s->child_start[u + 1]; i++) {
      const db_cube__unit *c = &s->units[s->child_list[i]];
      if (s->child_start[s->child_list[i] + 1] > s->child_start[s->child_list[i]] || c->from_day != DB_DATE_NONE ||
          c->to_day != DB_DATE_NONE)
        s->simple[u] = 0;
    }
  }
}

/* Predecessors grouped by successor: count, prefix sums, fill (in succession order). */
static void schema_preds(db_cube__schema *s, const db_catalog *cat) {
  size_t n = s->n_units, ns = cat->n_successions;
  int64_t *from = db_malloc((ns ? ns : 1) * sizeof *from), *to = db_malloc((ns ? ns : 1) * sizeof *to);
  s->pred_start = db_calloc(n + 1, sizeof *s->pred_start);
  for (size_t i = 0; i < ns; i++) {
    const db_succession *su = &cat->successions[i];
    if (!su->from || !su->to || !db_map_gets(&s->unit_code, su->from, &from[i]) ||
        !db_map_gets(&s->unit_code, su->to, &to[i]))
      from[i] = to[i] = -1;
    else
      s->pred_start[to[i] + 1]++;
  }
  for (size_t u = 0; u < n; u++) s->pred_start[u + 1] += s->pred_start[u];
  s->preds = db_malloc(((size_t)s->pred_start[n] ? (size_t)s->pred_start[n] : 1) * sizeof *s->preds);
  int64_t *fill = db_malloc((n ? n : 1) * sizeof *fill);
  memcpy(fill, s->pred_start, n * sizeof *fill);
  for (size_t i = 0; i < ns; i++)
    if (to[i] >= 0) s->preds[fill[to[i]]++] = (db_cube__pred){from[i], cat->successions[i].weight};
  db_free(fill);
  db_free(from);
  db_free(to);
}

/* Copies from a linked catalog what the queries need: rules, validity, the tree, the successions and
 * the code and id indexes. DB_EINVAL when the catalog was not linked. */
static int schema_build(const db_catalog *cat, db_cube__schema **out, db_diag *d) {
  *out = NULL;
  if (!cat->child_start)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the catalog must be linked (db_catalog_link) before a cube is built on it");
  db_cube__schema *s = db_calloc(1, sizeof *s);
  atomic_init(&s->refs, 1);
  s->n_ind = cat->n_indicators;
  s->n_units = cat->n_units;
  s->inds = db_calloc(s->n_ind ? s->n_ind : 1, sizeof *s->inds);
  for (size_t i = 0; i < s->n_ind; i++) {
    const db_indicator *ind = &cat->indicators[i];
    int64_t w = -1;
    if (ind->weight && !db_map_gets(&cat->indicator_index, ind->weight, &w)) w = -1;
    s->inds[i] = (db_cube__ind){ind->id,        db_strdup(ind->code), ind->periodicity, ind->period_span,
                                ind->agg_space, ind->agg_time,        w};
    db_map_puts(&s->ind_code, ind->code ? ind->code : "", (int64_t)i);
    if (ind->id) db_map_put(&s->ind_id, &ind->id, sizeof ind->id, (int64_t)i);
  }
  schema_units(s, cat);
  schema_preds(s, cat);
  *out = s;
  return DB_OK;
}

/* ---------- resolving stored rows ---------- */

static void resolver_init(resolver *r, const db_cube__schema *s, const char *what) {
  *r = (resolver){s, what, 0, -1, 0, -1, NULL};
  r->keys = db_calloc((size_t)1 << KEY_CACHE_BITS, sizeof *r->keys);
}

/* The period of a key, through the cache; 0 or DB_EINVAL. */
static int decode_key(resolver *r, int64_t key, db_period *p) {
  size_t slot = (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - KEY_CACHE_BITS));
  if (r->keys[slot].key == key && key) {
    *p = r->keys[slot].p;
    return DB_OK;
  }
  if (db_period_from_key(key, p) != DB_OK) return DB_EINVAL;
  r->keys[slot].key = key;
  r->keys[slot].p = *p;
  return DB_OK;
}

/* Resolves one stored row to (indicator index, unit index, period ordinal). Problems go to d with the
 * row's position `line` (1-based); returns 0 or DB_EINVAL. */
static int resolve(resolver *r, const db_obs_row *row, long line, int64_t *ind, int64_t *unit, int64_t *ord,
                   db_diag *d) {
  const db_cube__schema *s = r->s;
  if (row->indicator != r->last_ind_id || r->last_ind < 0) {
    r->last_ind_id = row->indicator;
    if (!db_map_get(&s->ind_id, &row->indicator, sizeof row->indicator, &r->last_ind)) r->last_ind = -1;
  }
  if (r->last_ind < 0)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s %ld: unknown indicator id %lld", r->what, line,
                       (long long)row->indicator);
  if (row->orgunit != r->last_unit_id || r->last_unit < 0) {
    r->last_unit_id = row->orgunit;
    if (!db_map_get(&s->unit_id, &row->orgunit, sizeof row->orgunit, &r->last_unit)) r->last_unit = -1;
  }
  if (r->last_unit < 0)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s %ld: unknown org unit id %lld", r->what, line,
                       (long long)row->orgunit);
  const db_cube__ind *in = &s->inds[r->last_ind];
  db_period p;
  if (decode_key(r, row->period, &p) != DB_OK)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s %ld: %lld is not a period key", r->what, line,
                       (long long)row->period);
  if (p.type != in->type || (p.type == DB_PT_MULTIYEAR && in->span && p.span != in->span)) {
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&p, code);
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "%s %ld: period %s is not a %s of indicator %s",
                       r->what, line, code, db_period_type_name(in->type), in->code);
  }
  *ind = r->last_ind;
  *unit = r->last_unit;
  *ord = p.ord;
  return DB_OK;
}

/* ---------- matrices ---------- */

/* Sparse storage when dense storage would take more than twice its memory (below about a third of the
 * cells present). */
static int want_sparse(int64_t nrows, int64_t ncols, int64_t present) {
  double dense = (double)nrows * (double)ncols * sizeof(double);
  double sparse = (double)present * (sizeof(int32_t) + sizeof(double)) + (double)(nrows + 1) * sizeof(int64_t);
  return dense > 2 * sparse;
}

static db_cube__matrix *matrix_alloc(const char *dimkey, int64_t ord0, int64_t ncols, int64_t nrows,
                                     size_t n_units) {
  db_cube__matrix *m = db_calloc(1, sizeof *m);
  atomic_init(&m->refs, 1);
  m->dimkey = db_strdup(dimkey);
  m->ord0 = ord0;
  m->ncols = ncols;
  m->nrows = nrows;
  m->n_units = (int64_t)n_units;
  m->row_of = db_malloc((n_units ? n_units : 1) * sizeof *m->row_of);
  for (size_t u = 0; u < n_units; u++) m->row_of[u] = -1;
  m->unit_of = db_malloc((size_t)(nrows ? nrows : 1) * sizeof *m->unit_of);
  return m;
}

static void fill_nan(double *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = NAN;
}

/* Dense storage for m: nrows x ncols cells (left unset) followed by DB_CUBE__LANES NANs. */
static void dense_alloc(db_cube__matrix *m) {
  size_t cells = (size_t)(m->nrows * m->ncols);
  m->data = db_malloc((cells + DB_CUBE__LANES) * sizeof *m->data);
  fill_nan(m->data + cells, DB_CUBE__LANES);
}

/* Builds the matrix of cells[0..n): one dimension key, sorted by unit then ordinal, no two cells with the
 * same (unit, ordinal), finite values. NULL when n == 0. */
static db_cube__matrix *matrix_build(const char *dimkey, const cube_cell *cells, size_t n, size_t n_units) {
  if (!n) return NULL;
  int64_t lo = cells[0].ord, hi = cells[0].ord, nrows = 1;
  for (size_t i = 1; i < n; i++) {
    if (cells[i].ord < lo) lo = cells[i].ord;
    if (cells[i].ord > hi) hi = cells[i].ord;
    nrows += cells[i].unit != cells[i - 1].unit;
  }
  db_cube__matrix *m = matrix_alloc(dimkey, lo, hi - lo + 1, nrows, n_units);
  m->present = (int64_t)n;
  m->sparse = want_sparse(nrows, m->ncols, (int64_t)n);
  if (m->sparse) {
    m->start = db_malloc((size_t)(nrows + 1) * sizeof *m->start);
    m->col = db_malloc(n * sizeof *m->col);
    m->val = db_malloc(n * sizeof *m->val);
  } else {
    dense_alloc(m);
    fill_nan(m->data, (size_t)(nrows * m->ncols));
  }
  /* rows in order of first appearance (the cells are sorted by unit); then the values */
  int64_t r = -1;
  for (size_t i = 0; i < n; i++) {
    if (r >= 0 && cells[i].unit == m->unit_of[r]) continue;
    m->unit_of[++r] = cells[i].unit;
    m->row_of[cells[i].unit] = (int32_t)r;
    if (m->sparse) m->start[r] = (int64_t)i;
  }
  if (m->sparse) {
    for (size_t i = 0; i < n; i++) {
      m->col[i] = (int32_t)(cells[i].ord - lo);
      m->val[i] = cells[i].value;
    }
  } else {
    for (size_t i = 0; i < n; i++) m->data[m->row_of[cells[i].unit] * m->ncols + (cells[i].ord - lo)] = cells[i].value;
  }
  if (m->sparse) m->start[nrows] = (int64_t)n;
  return m;
}

/* The cells of m in (unit, ordinal) order into out (m->present entries); returns how many. */
static size_t matrix_cells(const db_cube__matrix *m, cube_cell *out) {
  size_t k = 0;
  for (int64_t r = 0; r < m->nrows; r++) {
    int32_t unit = m->unit_of[r];
    if (m->sparse) {
      for (int64_t i = m->start[r]; i < m->start[r + 1]; i++)
        out[k++] = (cube_cell){m->ord0 + m->col[i], m->val[i], unit, 0};
    } else {
      const double *row = m->data + r * m->ncols;
      for (int64_t c = 0; c < m->ncols; c++)
        if (!isnan(row[c])) out[k++] = (cube_cell){m->ord0 + c, row[c], unit, 0};
    }
  }
  return k;
}

/* ---------- loading ---------- */

typedef struct loader {
  resolver r;
  db_cube_version *v;
  db_diag *d;
  int rc;
  long line;
  int64_t ind;        /* indicator whose cells are being gathered, -1 */
  unsigned char *done; /* indicators already laid out */
  cube_cell *cells;
  size_t n, cap;
  char **dks; /* dimension keys of the current indicator */
  size_t n_dk, cap_dk;
  int32_t last_dk;
} loader;

static int compare_cells(const void *a, const void *b) {
  const cube_cell *x = a, *y = b;
  if (x->dk != y->dk) return x->dk < y->dk ? -1 : 1;
  if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
  return (x->ord > y->ord) - (x->ord < y->ord);
}

static int compare_matrices(const void *a, const void *b) {
  return strcmp((*(db_cube__matrix *const *)a)->dimkey, (*(db_cube__matrix *const *)b)->dimkey);
}

/* Lays out the gathered cells of the current indicator as its block. */
static void flush(loader *l) {
  if (l->ind < 0) return;
  size_t n = l->n;
  const cube_cell *c = l->cells;
  size_t i = 1;
  while (i < n && (c[i - 1].dk < c[i].dk ||
                   (c[i - 1].dk == c[i].dk && (c[i - 1].unit < c[i].unit ||
                                               (c[i - 1].unit == c[i].unit && c[i - 1].ord < c[i].ord)))))
    i++;
  if (i < n) qsort(l->cells, n, sizeof *l->cells, compare_cells); /* the store's order, by unit id, differs */
  db_cube__block *b = db_calloc(1, sizeof *b);
  atomic_init(&b->refs, 1);
  b->mats = db_malloc((l->n_dk ? l->n_dk : 1) * sizeof *b->mats);
  for (i = 0; i < n;) {
    size_t j = i;
    while (j < n && l->cells[j].dk == l->cells[i].dk) j++;
    b->mats[b->n++] = matrix_build(l->dks[l->cells[i].dk], l->cells + i, j - i, l->v->schema->n_units);
    i = j;
  }
  qsort(b->mats, b->n, sizeof *b->mats, compare_matrices);
  l->v->blocks[l->ind] = b;
  l->done[l->ind] = 1;
  for (size_t k = 0; k < l->n_dk; k++) db_free(l->dks[k]);
  l->n_dk = 0;
  l->n = 0;
  l->ind = -1;
}

/* The index of dimension key dk among the current indicator's. */
static int32_t dk_index(loader *l, const char *dk) {
  if (l->n_dk && !strcmp(l->dks[l->last_dk], dk)) return l->last_dk;
  for (size_t i = 0; i < l->n_dk; i++)
    if (!strcmp(l->dks[i], dk)) return l->last_dk = (int32_t)i;
  if (l->n_dk == l->cap_dk) {
    l->cap_dk = l->cap_dk ? 2 * l->cap_dk : 8;
    l->dks = db_realloc(l->dks, l->cap_dk * sizeof *l->dks);
  }
  l->dks[l->n_dk] = db_strdup(dk);
  return l->last_dk = (int32_t)l->n_dk++;
}

static int load_row(void *ctx, const db_obs_row *row) {
  loader *l = ctx;
  int64_t ind, unit, ord;
  l->line++;
  if (resolve(&l->r, row, l->line, &ind, &unit, &ord, l->d) != DB_OK) {
    l->rc = DB_EINVAL;
    return 0;
  }
  if (l->rc != DB_OK || isnan(row->value)) return 0;
  if (ind != l->ind) {
    flush(l);
    if (l->done[ind]) {
      l->rc = db_diag_add(l->d, 0, 0, NULL, DB_ESTORE,
                          "observation %ld: the store returned the observations of indicator %s out of order",
                          l->line, l->v->schema->inds[ind].code);
      return l->rc; /* stops the scan */
    }
    l->ind = ind;
  }
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 4096;
    l->cells = db_realloc(l->cells, l->cap * sizeof *l->cells);
  }
  l->cells[l->n++] = (cube_cell){ord, row->value, (int32_t)unit, dk_index(l, row->dimkey ? row->dimkey : "")};
  return 0;
}

/* Reads every current observation of the store into v. */
static int load(db_store *st, db_cube_version *v, db_diag *d) {
  loader l = {.v = v, .d = d, .ind = -1};
  resolver_init(&l.r, v->schema, "observation");
  l.done = db_calloc(v->schema->n_ind ? v->schema->n_ind : 1, 1);
  int rc = db_store_obs_scan(st, load_row, &l);
  if (rc == DB_OK) rc = l.rc;
  if (rc == DB_OK) flush(&l);
  for (size_t i = 0; i < l.n_dk; i++) db_free(l.dks[i]);
  db_free(l.dks);
  db_free(l.cells);
  db_free(l.done);
  db_free(l.r.keys);
  return rc;
}

/* ---------- writing ---------- */

static int compare_changes(const void *a, const void *b) {
  const cube_change *x = a, *y = b;
  if (x->ind != y->ind) return x->ind < y->ind ? -1 : 1;
  int c = strcmp(x->dk, y->dk);
  if (c) return c;
  if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
  if (x->ord != y->ord) return x->ord < y->ord ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

int db_cube_apply(db_cube *c, const db_obs_row *rows, size_t n, db_diag *d) {
  if (!n) return DB_OK;
  pthread_mutex_lock(&c->writer);
  db_cube_version *cur = c->current;
  const db_cube__schema *s = cur->schema;
  cube_change *ch = db_malloc(n * sizeof *ch);
  resolver r;
  resolver_init(&r, s, "change");
  int rc = DB_OK;
  for (size_t i = 0; i < n; i++) {
    int64_t ind, unit, ord;
    if (resolve(&r, &rows[i], (long)i + 1, &ind, &unit, &ord, d) != DB_OK) {
      rc = DB_EINVAL;
      continue;
    }
    ch[i] = (cube_change){ord, rows[i].value, (int32_t)unit, (int32_t)ind, rows[i].dimkey ? rows[i].dimkey : "", i};
  }
  db_free(r.keys);
  if (rc != DB_OK) goto done;
  qsort(ch, n, sizeof *ch, compare_changes);
  atomic_fetch_add(&cur->schema->refs, 1);
  db_cube_version *next = version_new(cur->schema, cur->number + 1);
  for (size_t i = 0; i < s->n_ind; i++)
    if ((next->blocks[i] = cur->blocks[i]) != NULL) atomic_fetch_add(&next->blocks[i]->refs, 1);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && ch[j].ind == ch[i].ind) j++;
    db_cube__block *old = next->blocks[ch[i].ind];
    next->blocks[ch[i].ind] = block_apply(old, ch + i, j - i, s->n_units);
    block_unref(old);
    i = j;
  }
  publish(c, next);
done:
  db_free(ch);
  pthread_mutex_unlock(&c->writer);
  return rc;
}

/* Makes `next` current and drops the cube's reference to the previous version. Called by the writer. */
static void publish(db_cube *c, db_cube_version *next) {
  pthread_mutex_lock(&c->lock);
  db_cube_version *old = c->current;
  c->current = next;
  pthread_mutex_unlock(&c->lock);
  version_unref(old);
}

/* The last change of every (unit, ordinal) of ch[0..n) (sorted by unit, ordinal, position), as cells
 * into out (NAN values kept: they delete); returns how many. */
static size_t last_changes(const cube_change *ch, size_t n, cube_cell *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && ch[i + 1].unit == ch[i].unit && ch[i + 1].ord == ch[i].ord) continue;
    out[k++] = (cube_cell){ch[i].ord, ch[i].value, ch[i].unit, 0};
  }
  return k;
}

/* The shape of old (may be NULL) after the updates up[0..k): the units with a row, ascending (into
 * units, which has room for old rows + k), their count (return), the ordinal range and the exact number
 * of cells that will be present. */
static size_t new_shape(const db_cube__matrix *old, const cube_cell *up, size_t k, int32_t *units,
                        int64_t *lo, int64_t *hi, int64_t *present) {
  int64_t nold = old ? old->nrows : 0;
  *present = old ? old->present : 0;
  *lo = old ? old->ord0 : INT64_MAX;
  *hi = old ? old->ord0 + old->ncols - 1 : INT64_MIN;
  size_t nu = 0, a = 0;
  for (size_t i = 0; i < k; i++) {
    int had = !isnan(db_cube__get(old, up[i].unit, up[i].ord)), has = !isnan(up[i].value);
    *present += has - had;
    if (!has) continue;
    if (up[i].ord < *lo) *lo = up[i].ord;
    if (up[i].ord > *hi) *hi = up[i].ord;
    while ((int64_t)a < nold && old->unit_of[a] < up[i].unit) units[nu++] = old->unit_of[a++];
    if ((int64_t)a < nold && old->unit_of[a] == up[i].unit) a++;
    if (!nu || units[nu - 1] != up[i].unit) units[nu++] = up[i].unit;
  }
  while ((int64_t)a < nold) units[nu++] = old->unit_of[a++];
  return nu;
}

/* A dense matrix of the new shape: old rows copied into place, then the updates written. */
static db_cube__matrix *dense_relayout(const db_cube__matrix *old, const char *dimkey, const cube_cell *up,
                                       size_t k, const int32_t *units, size_t nu, int64_t lo, int64_t hi,
                                       int64_t present, size_t n_units) {
  db_cube__matrix *m = matrix_alloc(dimkey, lo, hi - lo + 1, (int64_t)nu, n_units);
  m->present = present;
  dense_alloc(m);
  for (size_t r = 0; r < nu; r++) {
    m->unit_of[r] = units[r];
    m->row_of[units[r]] = (int32_t)r;
  }
  int same = old && old->ord0 == lo && old->ncols == m->ncols && old->nrows == m->nrows;
  if (same) {
    memcpy(m->data, old->data, (size_t)(m->nrows * m->ncols) * sizeof *m->data);
  } else {
    fill_nan(m->data, (size_t)(m->nrows * m->ncols));
    for (int64_t r = 0; old && r < old->nrows; r++)
      memcpy(m->data + m->row_of[old->unit_of[r]] * m->ncols + (old->ord0 - lo), old->data + r * old->ncols,
             (size_t)old->ncols * sizeof *m->data);
  }
  for (size_t i = 0; i < k; i++) {
    int32_t r = m->row_of[up[i].unit];
    if (r >= 0 && up[i].ord >= lo && up[i].ord <= hi) m->data[r * m->ncols + (up[i].ord - lo)] = up[i].value;
  }
  return m;
}

/* Any layout: the old cells merged with the updates (which win; NAN deletes), rebuilt. */
static db_cube__matrix *merge_rebuild(const db_cube__matrix *old, const char *dimkey, const cube_cell *up,
                                      size_t k, size_t n_units) {
  size_t nold = old ? (size_t)old->present : 0;
  cube_cell *a = db_malloc((nold ? nold : 1) * sizeof *a), *out = db_malloc((nold + k ? nold + k : 1) * sizeof *out);
  if (old) nold = matrix_cells(old, a);
  size_t i = 0, j = 0, n = 0;
  while (i < nold || j < k) {
    int take_old = j == k || (i < nold && (a[i].unit < up[j].unit ||
                                           (a[i].unit == up[j].unit && a[i].ord < up[j].ord)));
    if (take_old) {
      out[n++] = a[i++];
      continue;
    }
    if (i < nold && a[i].unit == up[j].unit && a[i].ord == up[j].ord) i++;
    if (!isnan(up[j].value)) out[n++] = up[j];
    j++;
  }
  db_cube__matrix *m = matrix_build(dimkey, out, n, n_units);
  db_free(a);
  db_free(out);
  return m;
}

/* The matrix old (may be NULL) after the changes ch[0..n) of one dimension key (sorted by unit,
 * ordinal, position). NULL when no cell is left. */
static db_cube__matrix *matrix_apply(const db_cube__matrix *old, const char *dimkey, const cube_change *ch,
                                     size_t n, size_t n_units) {
  cube_cell *up = db_malloc(n * sizeof *up);
  size_t k = last_changes(ch, n, up);
  int32_t *units = db_malloc(((old ? (size_t)old->nrows : 0) + k) * sizeof *units);
  int64_t lo, hi, present;
  size_t nu = new_shape(old, up, k, units, &lo, &hi, &present);
  db_cube__matrix *m = NULL;
  if (present > 0 && !want_sparse((int64_t)nu, hi - lo + 1, present) && (!old || !old->sparse))
    m = dense_relayout(old, dimkey, up, k, units, nu, lo, hi, present, n_units);
  else if (present > 0)
    m = merge_rebuild(old, dimkey, up, k, n_units);
  db_free(units);
  db_free(up);
  return m;
}

/* The block old (may be NULL) after the changes ch[0..n) of its indicator (sorted by dimension key,
 * unit, ordinal, position): untouched matrices are shared. NULL when no matrix is left. */
static db_cube__block *block_apply(const db_cube__block *old, const cube_change *ch, size_t n, size_t n_units) {
  size_t nold = old ? old->n : 0, n_groups = 0;
  for (size_t i = 0; i < n; i++) n_groups += !i || strcmp(ch[i].dk, ch[i - 1].dk);
  db_cube__block *b = db_calloc(1, sizeof *b);
  atomic_init(&b->refs, 1);
  b->mats = db_malloc((nold + n_groups) * sizeof *b->mats);
  size_t a = 0, i = 0;
  while (a < nold || i < n) {
    int c = a == nold ? 1 : i == n ? -1 : strcmp(old->mats[a]->dimkey, ch[i].dk);
    if (c < 0) { /* untouched */
      b->mats[b->n] = old->mats[a++];
      atomic_fetch_add(&b->mats[b->n++]->refs, 1);
      continue;
    }
    size_t j = i;
    while (j < n && !strcmp(ch[j].dk, ch[i].dk)) j++;
    db_cube__matrix *m = matrix_apply(c == 0 ? old->mats[a] : NULL, ch[i].dk, ch + i, j - i, n_units);
    if (c == 0) a++;
    if (m) b->mats[b->n++] = m;
    i = j;
  }
  if (!b->n) {
    block_unref(b);
    return NULL;
  }
  return b;
}

/* ---------- a new catalog ---------- */

/* Moves the blocks of the old schema's indicators to their indices in the new schema s (matched by store
 * id) into blocks (s->n_ind entries, each taking a reference). Every indicator with data must be in s
 * with the same periodicity, and every old unit must keep its index and id. Problems go to d; returns 0
 * or DB_EINVAL (then blocks holds no reference). */
static int remap_blocks(const db_cube__schema *old, db_cube__block *const *old_blocks, const db_cube__schema *s,
                        db_cube__block **blocks, db_diag *d) {
  size_t before = db_diag_total(d);
  for (size_t i = 0; i < old->n_ind; i++) {
    const db_cube__ind *a = &old->inds[i];
    int64_t j;
    if (!old_blocks[i]) continue;
    if (!db_map_get(&s->ind_id, &a->id, sizeof a->id, &j))
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "indicator %s has data and is missing from the new catalog",
                  a->code);
    else if (s->inds[j].type != a->type || s->inds[j].span != a->span)
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "indicator %s has data and cannot change its periodicity",
                  a->code);
    else
      blocks[j] = old_blocks[i];
  }
  if (s->n_units < old->n_units)
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "the new catalog has fewer org units than the cube's");
  for (size_t i = 0; i < old->n_units && i < s->n_units; i++)
    if (old->units[i].id != s->units[i].id)
      db_diag_add(d, 0, 0, NULL, DB_EINVAL, "org unit %s moved: the catalog must keep every unit's index",
                  old->units[i].code);
  int rc = db_diag_total(d) > before ? DB_EINVAL : DB_OK;
  for (size_t j = 0; j < s->n_ind; j++) {
    if (rc != DB_OK)
      blocks[j] = NULL;
    else if (blocks[j])
      atomic_fetch_add(&blocks[j]->refs, 1);
  }
  return rc;
}

int db_cube_set_catalog(db_cube *c, const db_catalog *cat, db_diag *d) {
  db_cube__schema *s = NULL;
  int rc = schema_build(cat, &s, d);
  if (rc) return rc;
  pthread_mutex_lock(&c->writer);
  db_cube_version *cur = c->current;
  db_cube_version *next = version_new(s, cur->number + 1);
  if ((rc = remap_blocks(cur->schema, cur->blocks, s, next->blocks, d)) != DB_OK)
    version_unref(next);
  else
    publish(c, next);
  pthread_mutex_unlock(&c->writer);
  return rc;
}
