/* derived.h - the catalog rules of derived indicators: a formula is checked against the catalog it
 * lives in (its names exist, its types hold, it reads indicators of its own indicator's periodicity)
 * and the formulas of a catalog form no dependency cycle. Used by the catalog import (every indicator
 * imported or written through the API), by the derive engine, by POST /api/v1/formula/check and by
 * `databrain formula check`.
 *
 * Ownership: compiled formulas returned are the caller's (db_formula_free); the catalog is only read. */
#ifndef DB_FORMULA_DERIVED_H
#define DB_FORMULA_DERIVED_H
#include <stddef.h>

#include "base/diag.h"
#include "formula/formula.h"
#include "model/catalog.h"
#include "model/period.h"

/* Parses and checks `text` (len bytes) against cat and, when `periodicity` is not 0, requires the
 * indicators it reads to be of that periodicity (and span, unless 0): "column 1: the formula reads month
 * indicators, not year" (a formula reading none, or only plan(), fits any). Returns 0 and *out, or
 * DB_EINVAL / DB_ETOOBIG with every problem in d (each with its column) and *out NULL. */
int db_formula_compile_derived(const char *text, size_t len, const db_catalog *cat,
                               db_period_type periodicity, int span, db_formula **out, db_diag *d);

/* Checks every indicator of cat that has a formula: db_formula_compile_derived with the indicator's
 * periodicity, then the dependency graph (in catalog order), which refuses a cycle. Problems go to d
 * with the path "indicators[CODE].formula" and the message "column 17: unknown indicator 'CPII' (did you
 * mean CPI?)" or "dependency cycle A -> B -> A". When `compiled` is not NULL it receives, for each
 * indicator index i, the compiled formula (NULL for an indicator without one); when `graph` is not NULL
 * (a new, empty graph) the formulas are defined in it. A cycle is reported at the formula that closes
 * it in catalog order. On error nothing is left in `compiled` (all NULL) and the graph holds only the
 * formulas that checked. Returns 0 or DB_EINVAL. */
int db_formula_check_catalog(const db_catalog *cat, db_formula **compiled, db_formula_graph *graph,
                             db_diag *d);

#endif
