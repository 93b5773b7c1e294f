/* fuzz_outlook.c - libFuzzer target for the forecast records of src/outlook (outlook_json.c).
 *
 * Arbitrary bytes are read as a JSON document and then as a forecast record (db_outlook_from_json). A
 * refused record must come with a reason; an accepted one goes through everything that reads stored
 * forecasts: the step of periods around it, the anomaly test and the probability of missing a plan for
 * the years around its origin under every temporal rule and polarity. A probability must be in [0, 1] or
 * missing, and a record written back (db_outlook_to_json) must read again to the same forecast. Any broken
 * law traps, so libFuzzer records the input. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "outlook/outlook.h"

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

static void exercise(const db_outlook_fc *f) {
  static const db_agg rules[] = {DB_AGG_SUM, DB_AGG_AVG, DB_AGG_LAST, DB_AGG_MIN, DB_AGG_NONE};
  static const db_polarity pols[] = {DB_POL_HIGHER, DB_POL_LOWER, DB_POL_NEUTRAL};
  for (int64_t k = -2; k <= f->fc.h + 2; k++) {
    db_period p = db_period_add(&f->origin, k);
    double lo, hi;
    int step = db_outlook_step(f, &p);
    CHECK(step >= 0 && step <= f->fc.h);
    db_outlook_anomaly(f, &p, 1e9, &lo, &hi);
  }
  db_period y;
  if (db_period_containing(&f->origin, DB_PT_YEAR, 0, &y) != DB_OK) return;
  for (int64_t year = y.ord - 1; year <= y.ord + 2; year++)
    for (size_t r = 0; r < sizeof rules / sizeof *rules; r++)
      for (size_t p = 0; p < 3; p++) {
        db_outlook_target t;
        int said = db_outlook_p_miss(f, year, 100, rules[r], pols[p], 90, &t);
        CHECK(said ? t.p_miss >= 0 && t.p_miss <= 1 : isnan(t.p_miss));
      }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *doc = json_loadb((const char *)data, size, 0, NULL);
  if (!doc) return 0;
  db_outlook_fc f, again;
  db_outlook_meta meta;
  char why[128] = "";
  if (db_outlook_from_json(doc, &f, &meta, why) != DB_OK) {
    CHECK(why[0] != '\0');
    json_decref(doc);
    return 0;
  }
  exercise(&f);
  db_outlook_meta named = meta;
  named.indicator = named.indicator ? named.indicator : "X";
  named.orgunit = named.orgunit ? named.orgunit : "Y";
  json_t *back = db_outlook_to_json(&f, &named);
  CHECK(db_outlook_from_json(back, &again, NULL, why) == DB_OK);
  CHECK(again.fc.h == f.fc.h && again.origin.ord == f.origin.ord && again.n_year_obs == f.n_year_obs);
  db_outlook_fc_free(&again);
  json_decref(back);
  db_outlook_fc_free(&f);
  json_decref(doc);
  return 0;
}
