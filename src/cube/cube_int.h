/* cube_int.h - the cube's internal layout, shared by cube.c (building, versions, writing) and
 * cube_query.c (reading). Nothing here is part of the contract in cube.h.
 *
 * A version points to a schema (what the queries need from the catalog, copied) and to one block per
 * indicator (NULL when the indicator has no data). A block lists the indicator's matrices, one per
 * dimension key. Schemas, blocks and matrices are reference counted so that consecutive versions share
 * everything a change did not touch; all of them are immutable once published. */
#ifndef DB_CUBE_INT_H
#define DB_CUBE_INT_H
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/map.h"
#include "cube/cube.h"

/* One (indicator, dimension key): cells of rows (units) x columns (period ordinals ord0 .. ord0+ncols-1;
 * for plans the ordinal is the first year, so columns between plans stay empty). */
typedef struct db_cube__matrix {
  atomic_long refs;
  char *dimkey;      /* "" for the series without dimensions */
  int64_t ord0;      /* ordinal of column 0 */
  int64_t ncols;
  int64_t nrows;
  int64_t n_units;   /* length of row_of (the schema may have grown since: larger indices have no row) */
  int32_t *row_of;   /* unit index -> row, -1 when the unit has no row */
  int32_t *unit_of;  /* row -> unit index, ascending */
  int64_t present;   /* cells holding a value */
  int sparse;
  double *data;      /* dense: nrows x ncols, row-major, NAN = missing, then DB_CUBE__LANES NANs */
  int64_t *start;    /* sparse: the cells of row r are start[r] .. start[r+1]-1 */
  int32_t *col;      /* sparse: their columns, ascending within a row */
  double *val;       /* sparse: their values */
} db_cube__matrix;

/* Width of the roll-up kernels' vectors: dense data carries this many NANs after its last cell so that a
 * kernel may read whole vectors past the end of a row (the extra lanes land in ignored accumulators). */
#define DB_CUBE__LANES 8

typedef struct db_cube__block {
  atomic_long refs;
  size_t n;
  db_cube__matrix **mats; /* sorted by dimkey */
} db_cube__block;

typedef struct db_cube__ind {
  int64_t id;
  char *code;
  db_period_type type;
  int span;
  db_agg space, time;
  int64_t weight; /* index of the weight indicator (wavg), -1 */
} db_cube__ind;

typedef struct db_cube__unit {
  int64_t id;
  char *code;
  int64_t from_day, to_day; /* validity, DB_DATE_NONE when open */
  int site;                  /* a sensor site: expected in roll-ups only of indicators it reports */
} db_cube__unit;

typedef struct db_cube__pred {
  int64_t from; /* unit index of the predecessor */
  double weight;
} db_cube__pred;

typedef struct db_cube__schema {
  atomic_long refs;
  size_t n_ind, n_units;
  db_cube__ind *inds;
  db_cube__unit *units;
  int64_t *child_start, *child_list; /* children of u: child_list[child_start[u] .. child_start[u+1]) */
  unsigned char *simple;             /* 1 when every child of u is a leaf valid at all times */
  int64_t *pred_start;               /* predecessors of u: preds[pred_start[u] .. pred_start[u+1]) */
  db_cube__pred *preds;
  db_map ind_code, unit_code; /* code -> index */
  db_map ind_id, unit_id;     /* store id (8 bytes) -> index */
} db_cube__schema;

struct db_cube_version {
  atomic_long refs;
  uint64_t number;
  db_cube__schema *schema;
  db_cube__block **blocks; /* schema->n_ind entries */
};

/* The matrix of (indicator, dimkey) in v, or NULL when there is none. */
const db_cube__matrix *db_cube__find(const db_cube_version *v, int64_t indicator, const char *dimkey);

/* The row of unit in m, or -1 (also when m is NULL). unit must be >= 0. */
static inline int64_t db_cube__row(const db_cube__matrix *m, int64_t unit) {
  return m && unit < m->n_units ? m->row_of[unit] : -1;
}

/* The stored value of (unit, ordinal) in m (may be NULL), NAN when missing. */
static inline double db_cube__get(const db_cube__matrix *m, int64_t unit, int64_t ord) {
  int64_t r = db_cube__row(m, unit);
  if (r < 0 || ord < m->ord0 || ord - m->ord0 >= m->ncols) return NAN;
  int64_t c = ord - m->ord0;
  if (!m->sparse) return m->data[r * m->ncols + c];
  int64_t a = m->start[r], b = m->start[r + 1];
  while (a < b) { /* first cell with column >= c */
    int64_t mid = a + (b - a) / 2;
    if (m->col[mid] < c)
      a = mid + 1;
    else
      b = mid;
  }
  return a < m->start[r + 1] && m->col[a] == c ? m->val[a] : NAN;
}

#endif
