/* agg.h - accumulating values under an aggregation rule (sum, avg, weighted avg, min, max, last).
 *
 * One db_acc gathers the values that roll up into one cell, over units (the spatial rule of an
 * indicator) or over sub-periods (its temporal rule), and counts the contributors so that a partial
 * total can be shown as partial. Values must be added in period order for DB_AGG_LAST. Plain data; no
 * allocation. */
#ifndef DB_AGG_H
#define DB_AGG_H
#include <stdint.h>

#include "model/catalog.h"

typedef struct db_acc {
  double sum, weighted_sum, weight_sum, min, max, last;
  int64_t count;          /* values added */
  int64_t weighted_count; /* values added with a usable weight */
} db_acc;

void db_acc_init(db_acc *a);
/* Adds a value with its weight (NAN when the unit has no weight; only DB_AGG_WAVG looks at it). */
void db_acc_add(db_acc *a, double value, double weight);
/* The aggregate under rule `agg`: NAN when nothing was added, for DB_AGG_NONE, and for DB_AGG_WAVG
 * when no value had a weight. */
double db_acc_result(const db_acc *a, db_agg agg);

#endif
