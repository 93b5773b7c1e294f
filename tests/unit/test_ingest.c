/* test_ingest.c - the observation write path through its C API: outcomes, every rejection rule,
 * duplicates across the writer's blocks, dimensions, unit validity, all-or-nothing. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "ingest/ingest.h"
#include "testutil.h"

typedef struct fixture {
  char *dir;
  db_store *store;
  db_catalog cat;
} fixture;

static void put_indicator(db_store *s, const char *code, db_period_type pt, double lo, double hi,
                          const char *formula, const char *dims) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = (char *)code;
  i.name = (char *)code;
  i.periodicity = pt;
  i.agg_space = DB_AGG_SUM;
  i.agg_time = DB_AGG_SUM;
  i.valid_min = lo;
  i.valid_max = hi;
  i.formula = (char *)formula;
  i.dimensions = (char *)dims;
  assert_int_equal(db_store_put_indicator(s, &i), 0);
}

static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  char *path = db_test_path(f->dir, "store.db");
  char url[4200];
  snprintf(url, sizeof url, "sqlite:%s", path);
  db_free(path);
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open(url, &f->store, &d), 0);
  assert_int_equal(db_store_begin(f->store, 0), 0);
  db_test_put_unit(f->store, "79", NULL, DB_OU_CITY, NULL, NULL);
  db_test_put_unit(f->store, "26734", "79", DB_OU_WARD, "2025-07-01", NULL);
  db_test_put_unit(f->store, "OLD_1", "79", DB_OU_LEGACY_WARD, NULL, "2025-06-30");
  put_indicator(f->store, "RETAIL", DB_PT_MONTH, 0, NAN, NULL, "SEX");
  put_indicator(f->store, "PCT", DB_PT_MONTH, 0, 100, NULL, NULL);
  put_indicator(f->store, "DERIVED", DB_PT_MONTH, NAN, NAN, "100 * RETAIL", NULL);
  db_dimension sex = {0, "SEX", "Sex", (db_dim_item[]){{"F", "Female"}, {"M", "Male"}}, 2};
  assert_int_equal(db_store_put_dimension(f->store, &sex), 0);
  db_dimension age = {0, "AGE", "Age", (db_dim_item[]){{"Y0T14", "0-14"}}, 1};
  assert_int_equal(db_store_put_dimension(f->store, &age), 0);
  assert_int_equal(db_store_commit(f->store), 0);
  db_catalog_init(&f->cat);
  assert_int_equal(db_store_load_catalog(f->store, &f->cat), 0);
  assert_int_equal(db_catalog_link(&f->cat, &d), 0);
  db_diag_free(&d);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_catalog_free(&f->cat);
  db_store_close(f->store);
  db_test_rmtree(f->dir);
  db_free(f->dir);
  db_free(f);
  return 0;
}

static db_batch_info info(const char *key) { return (db_batch_info){key, "test", "tester", 0}; }

typedef struct count_ctx {
  int64_t rows;
  double last_value;
  const char *last_dimkey;
} count_ctx;

static int count_row(void *ctx, const db_obs_row *r) {
  count_ctx *c = ctx;
  c->rows++;
  c->last_value = r->value;
  return 0;
}

static int64_t stored_rows(fixture *f) {
  db_obs_filter all = {0};
  count_ctx c = {0};
  assert_int_equal(db_store_obs_read(f->store, &all, count_row, &c), 0);
  return c.rows;
}

static void test_outcomes(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  db_ingest *in;
  db_ingest_result res;
  db_batch_info bi = info(NULL);
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  assert_int_equal(db_ingest_add_text(in, 2, "RETAIL", "26734", "2025-07", "10", 2, NULL, NULL), 0);
  assert_int_equal(db_ingest_add(in, 3, "RETAIL", "26734", "2025-08", 11, DB_STATUS_OFFICIAL, ""), 0);
  assert_int_equal(db_ingest_finish(in, &res), 0);
  assert_int_equal(res.inserted, 2);
  assert_int_equal(res.new_series, 1);
  assert_true(res.seq > 0);

  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  assert_int_equal(db_ingest_add(in, 2, "RETAIL", "26734", "2025-07", 10, DB_STATUS_PROVISIONAL, NULL), 0);
  assert_int_equal(db_ingest_add(in, 3, "RETAIL", "26734", "2025-08", 12, DB_STATUS_OFFICIAL, NULL), 0);
  assert_int_equal(db_ingest_add(in, 4, "RETAIL", "26734", "2025-09", 13, DB_STATUS_OFFICIAL, NULL), 0);
  assert_int_equal(db_ingest_finish(in, &res), 0);
  assert_int_equal(res.unchanged, 1);
  assert_int_equal(res.revised, 1);
  assert_int_equal(res.inserted, 1);
  assert_int_equal(res.new_series, 0);
  assert_int_equal(d.count, 0);
  db_diag_free(&d);
}

static void test_every_rejection_rule(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  db_ingest *in;
  db_batch_info bi = info(NULL);
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  assert_int_equal(db_ingest_add_text(in, 2, "RETAIL", "26734", "2025-07", "1", 1, NULL, NULL), 0);
  assert_int_equal(db_ingest_add_text(in, 3, "NOPE", "26734", "2025-07", "1", 1, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 4, "RETAIL", "26734", "2025-07-01", "1", 1, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 5, "PCT", "26734", "2025-07", "101", 3, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 6, "RETAIL", "26734", "2025-08", "-1", 2, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 7, "DERIVED", "26734", "2025-07", "1", 1, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 8, "RETAIL", "26734", "2024-07", "1", 1, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 9, "RETAIL", "OLD_1", "2025-08", "1", 1, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 10, "RETAIL", "26734", "2025-09", "1", 1, "final", NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 11, "RETAIL", "26734", "2025-09", "1", 1, NULL, "SEX=X"), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 12, "RETAIL", "26734", "2025-09", "1", 1, NULL, "AGE=Y0T14"), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 13, "RETAIL", "26734", "2025-09", "1e999", 5, NULL, NULL), DB_EINVAL);
  assert_int_equal(db_ingest_add_text(in, 14, "RETAIL", "26734", "2025-07", "2", 1, NULL, NULL), 0);
  db_ingest_result res;
  assert_int_equal(db_ingest_finish(in, &res), DB_EINVAL);
  assert_int_equal(res.seq, 0);
  const char *expected[] = {
      "unknown indicator 'NOPE'",
      NULL, /* period: reason from the period parser */
      "value 101 is above the maximum 100 of PCT",
      "value -1 is below the minimum 0 of RETAIL",
      "indicator DERIVED is derived from a formula and takes no data",
      "unit 26734 did not exist in 2024-07 (valid from 2025-07-01)",
      "unit OLD_1 no longer existed in 2025-08 (valid to 2025-06-30)",
      "status 'final' is not one of provisional, official, estimated",
      "'X' is not an item of dimension SEX",
      "indicator RETAIL is not broken down by AGE",
      "value '1e999' is not a finite decimal number",
      "duplicate row: this batch already has a value of RETAIL for 26734 in 2025-07",
  };
  long lines[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  assert_int_equal(d.count, 12);
  for (size_t k = 0; k < 12; k++) {
    assert_int_equal(d.items[k].line, lines[k]);
    if (expected[k]) assert_string_equal(d.items[k].message, expected[k]);
  }
  assert_non_null(strstr(d.items[1].message, "is a day, expected a month"));
  assert_int_equal(stored_rows(f), 0);
  db_diag_free(&d);
}

/* Duplicates are found across the writer's blocks, for new rows and for rows that changed nothing. */
static void test_duplicates_across_blocks(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  db_ingest *in;
  db_batch_info bi = info(NULL);
  char period[16];
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  for (int k = 0; k < 40000; k++) {
    snprintf(period, sizeof period, "%04d-%02d", 2026 + k / 12, 1 + k % 12);
    assert_int_equal(db_ingest_add(in, k + 2, "RETAIL", "26734", period, k, 0, NULL), 0);
  }
  db_ingest_result res;
  assert_int_equal(db_ingest_finish(in, &res), 0);
  assert_int_equal(res.inserted, 40000);

  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  for (int k = 0; k < 40000; k++) {
    snprintf(period, sizeof period, "%04d-%02d", 2026 + k / 12, 1 + k % 12);
    assert_int_equal(db_ingest_add(in, k + 2, "RETAIL", "26734", period, k, 0, NULL), 0);
  }
  /* the first row again, 40000 rows later: unchanged twice is a duplicate */
  assert_int_equal(db_ingest_add(in, 40002, "RETAIL", "26734", "2026-01", 0, 0, NULL), 0);
  assert_int_equal(db_ingest_finish(in, &res), DB_EINVAL);
  assert_int_equal(d.count, 1);
  assert_int_equal(d.items[0].line, 40002);
  assert_string_equal(d.items[0].message,
                      "duplicate row: this batch already has a value of RETAIL for 26734 in 2026-01");
  assert_int_equal(stored_rows(f), 40000);
  db_diag_free(&d);
}

static void test_dimensions_are_canonical(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  db_ingest *in;
  db_batch_info bi = info(NULL);
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  assert_int_equal(db_ingest_add(in, 2, "RETAIL", "26734", "2025-07", 1, 0, "SEX=F"), 0);
  assert_int_equal(db_ingest_add(in, 3, "RETAIL", "26734", "2025-07", 2, 0, "SEX=M"), 0);
  assert_int_equal(db_ingest_add(in, 4, "RETAIL", "26734", "2025-07", 3, 0, ""), 0);
  db_ingest_result res;
  assert_int_equal(db_ingest_finish(in, &res), 0);
  assert_int_equal(res.new_series, 3);
  assert_int_equal(stored_rows(f), 3);
  db_diag_free(&d);
}

static void test_idempotent_replay(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  db_ingest *in;
  db_batch_info bi = info("batch-42");
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, NULL), 0);
  assert_int_equal(db_ingest_add(in, 2, "RETAIL", "26734", "2025-07", 1, 0, NULL), 0);
  db_ingest_result res;
  assert_int_equal(db_ingest_finish(in, &res), 0);
  db_batch_summary replay = {0};
  assert_int_equal(db_ingest_begin(f->store, &f->cat, &bi, &d, &in, &replay), DB_EEXIST);
  assert_int_equal(replay.seq, res.seq);
  assert_int_equal(replay.inserted, 1);
  assert_non_null(strstr(replay.result_json, "\"inserted\":1"));
  db_batch_summary_free(&replay);
  db_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_rejection_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicates_across_blocks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dimensions_are_canonical, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idempotent_replay, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
