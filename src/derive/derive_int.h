/* derive_int.h - what the files of src/derive share: the immutable definitions an engine evaluates with
 * (derived indicators compiled, their pillars, the rules of every indicator, the unit tree cut into
 * peer groups), the plans plan() reads, and the formula source over a cube version.
 *
 * Definitions and plans are reference-counted snapshots: a call takes a reference to the current ones
 * when it starts and keeps them to the end, so a writer may publish new ones at any time. */
#ifndef DB_DERIVE_INT_H
#define DB_DERIVE_INT_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/map.h"
#include "derive/derive.h"
#include "formula/formula.h"

typedef struct db__dpillar {
  char *label, *text;
  double weight;
  db_formula *f; /* NULL: the pillar is the whole formula */
} db__dpillar;

typedef struct db__dind { /* a derived indicator */
  const char *code;       /* the catalog indicator's code (db__draw) */
  db_formula *f;
  db_polarity polarity;
  db_period_type type;
  int span;
  db__dpillar *pillars;
  size_t n_pillars;
} db__dind;

typedef struct db__draw { /* any indicator of the catalog: what its values depend on */
  char *code, *weight, *formula;
  int64_t id;
  db_period_type type;
  int span;
  db_agg agg_space, agg_time;
} db__draw;

typedef struct db__dunit {
  int64_t parent; /* -1 for a root */
  int tier;       /* ward, commune and special zone share one tier */
  int64_t from_day, to_day;
  int64_t group; /* peer group */
  int64_t pos;   /* place in the group */
} db__dunit;

typedef struct db__ddefs {
  atomic_long refs;
  db__draw *inds; /* every indicator, in catalog order */
  size_t n_inds;
  db_map ind_index; /* code -> index into inds */
  db_map ind_by_id; /* store id (8 bytes) -> index into inds */
  db__dind *derived;
  size_t n_derived;
  db_map derived_index; /* code -> index into derived */
  db_formula_graph *graph;
  db__dunit *units;
  size_t n_units;
  int64_t *child_start, *child_list; /* children of each unit, catalog order (roots: units with parent -1) */
  int64_t *group_start, *group_list; /* members of each peer group, catalog order */
  size_t n_groups;
} db__ddefs;

/* Builds definitions from a linked catalog: 0 and *out (one reference), or DB_EINVAL with the formula
 * problems in d (db_formula_check_catalog). */
int db__ddefs_new(const db_catalog *cat, db__ddefs **out, db_diag *d);
void db__ddefs_unref(db__ddefs *df); /* NULL is a no-op */
const db__dind *db__ddefs_derived(const db__ddefs *df, const char *code);
const db__draw *db__ddefs_ind(const db__ddefs *df, const char *code);

/* Splits a checked formula's top-level weighted sum into pillars compiled against cat (derive.h). */
void db__dpillars_split(const db_formula *f, const db_catalog *cat, db__dind *di);

typedef struct db__dplans { /* plan targets: "IND\x1fUNIT\x1fYEAR" -> value */
  atomic_long refs;
  db_map index; /* key -> index into values */
  double *values;
  db_map digest; /* indicator code -> order-independent digest of its plans (to find what changed) */
} db__dplans;

db__dplans *db__dplans_new(const db_target *targets, size_t n);
void db__dplans_unref(db__dplans *pl);

/* One call on an engine: the snapshots it evaluates with. */
typedef struct db__dcall {
  db_derive *e;
  db__ddefs *defs;
  db__dplans *plans;
  uint64_t gen; /* the engine's generation of (defs, plans) */
  const db_cube_version *v;
  uint64_t version;
  db_derive_forecaster forecaster; /* the provider of forecasts when the call began, NULL when none */
  void *forecaster_ctx;
} db__dcall;

/* The formula source over the call's cube version (fetch, targets, children, unit); ctx is the call. */
void db__dsource(db__dcall *c, db_formula_source *src);

/* Values of derived indicator di (pillar -1: the whole formula, else that pillar) for units x periods,
 * as db_derive_values. */
int db__dvalues(db__dcall *c, const db__dind *di, int pillar, const int64_t *units, size_t n_units,
                const db_period *first, size_t n_periods, double *out, db_diag *d);

#endif
