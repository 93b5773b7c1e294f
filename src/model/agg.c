/* agg.c - aggregation accumulators (contract in agg.h). */
#include "model/agg.h"

#include <math.h>

void db_acc_init(db_acc *a) { *a = (db_acc){0, 0, 0, INFINITY, -INFINITY, NAN, 0, 0}; }

void db_acc_add(db_acc *a, double value, double weight) {
  a->count++;
  a->sum += value;
  if (value < a->min) a->min = value;
  if (value > a->max) a->max = value;
  a->last = value;
  if (isfinite(weight) && weight > 0) {
    a->weighted_sum += value * weight;
    a->weight_sum += weight;
    a->weighted_count++;
  }
}

double db_acc_result(const db_acc *a, db_agg agg) {
  if (a->count == 0) return NAN;
  switch (agg) {
    case DB_AGG_SUM: return a->sum;
    case DB_AGG_AVG: return a->sum / (double)a->count;
    case DB_AGG_WAVG: return a->weighted_count ? a->weighted_sum / a->weight_sum : NAN;
    case DB_AGG_MIN: return a->min;
    case DB_AGG_MAX: return a->max;
    case DB_AGG_LAST: return a->last;
    case DB_AGG_NONE: break;
  }
  return NAN;
}
