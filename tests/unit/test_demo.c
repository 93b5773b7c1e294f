/* test_demo.c - the demo city loader: the generated city (shape, codes, determinism), the real data pack
 * (counts, successions, values checked against the pack's files) and the reports on missing and
 * malformed pack files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "demo/demo.h"
#include "model/period.h"
#include "store/store.h"
#include "testutil.h"

/* A store in a fresh folder, its catalog read after a load. */
typedef struct fixture {
  char *dir;
  db_store *store;
  db_catalog cat;
  db_diag diag;
  db_demo_stats stats;
  int rc;
} fixture;

static void open_store(fixture *f) {
  memset(f, 0, sizeof *f);
  f->dir = db_test_tempdir();
  db_buf url = DB_BUF_INIT;
  db_buf_printf(&url, "sqlite:%s/demo.db", f->dir);
  assert_int_equal(db_store_open(db_buf_str(&url), &f->store, &f->diag), DB_OK);
  db_buf_free(&url);
  db_catalog_init(&f->cat);
}

static void load(fixture *f, const char *pack) {
  open_store(f);
  f->rc = db_demo_load(f->store, pack, NULL, NULL, &f->diag, &f->stats);
  assert_int_equal(db_store_load_catalog(f->store, &f->cat), DB_OK);
}

static void close_fixture(fixture *f) {
  db_catalog_free(&f->cat);
  db_diag_free(&f->diag);
  db_store_close(f->store);
  db_test_rmtree(f->dir);
  db_free(f->dir);
}

static int64_t unit_id(const fixture *f, const char *code) {
  const db_orgunit *u = db_catalog_unit(&f->cat, code);
  assert_non_null(u);
  return u->id;
}

static int64_t indicator_id(const fixture *f, const char *code) {
  const db_indicator *ind = db_catalog_indicator(&f->cat, code);
  assert_non_null(ind);
  return ind->id;
}

typedef struct one_value {
  int n;
  double value;
} one_value;

static int take_value(void *ctx, const db_obs_row *row) {
  one_value *v = ctx;
  v->n++;
  v->value = row->value;
  return 0;
}

/* The stored value of (indicator, unit, period); fails the test when there is none. */
static double value_of(const fixture *f, const char *ind, const char *unit, const char *period) {
  db_period p;
  assert_int_equal(db_period_parse(period, strlen(period), &p, NULL), DB_OK);
  int64_t i = indicator_id(f, ind), u = unit_id(f, unit), key = db_period_key(&p);
  db_obs_filter filter = {&i, 1, &u, 1, key, key, 0};
  one_value v = {0, NAN};
  assert_int_equal(db_store_obs_read(f->store, &filter, take_value, &v), DB_OK);
  if (v.n != 1) fail_msg("%s at %s in %s: %d values", ind, unit, period, v.n);
  return v.value;
}

/* Current units directly under 79 by kind: wards, communes, special zones. */
static void count_city_units(const fixture *f, int *wards, int *communes, int *zones) {
  *wards = *communes = *zones = 0;
  for (size_t i = 0; i < f->cat.n_units; i++) {
    const db_orgunit *u = &f->cat.units[i];
    if (!u->parent || strcmp(u->parent, "79") != 0 || u->valid_to != DB_DATE_NONE) continue;
    *wards += u->kind == DB_OU_WARD;
    *communes += u->kind == DB_OU_COMMUNE;
    *zones += u->kind == DB_OU_SPECIAL_ZONE;
  }
}

/* Every indicator code of the issue and of demo.h. */
static const char *const documented_codes[] = {"CPI_YOY",
                                               "CPI_MOM",
                                               "CORE_INFL_YOY",
                                               "GOLD_PRICE_YOY",
                                               "USD_PRICE_YOY",
                                               "IIP_YOY",
                                               "RETAIL_SALES",
                                               "EXPORTS",
                                               "IMPORTS",
                                               "FDI_REG",
                                               "BUDGET_INVEST",
                                               "GDP_USD",
                                               "POP",
                                               "INFL_CPI",
                                               "PM25",
                                               "NO2",
                                               "O3",
                                               "CO",
                                               "SO2",
                                               "RAIN_MM",
                                               "COVID_NEW",
                                               "COVID_DEATHS",
                                               "POPULATION",
                                               "AREA_KM2"};

/* Distinct indicators with at least one observation, and a checksum of every (indicator code, unit
 * code, period, value) that does not depend on the order or on the store's ids. */
typedef struct scan {
  const fixture *f;
  char *seen; /* by catalog index of the indicator */
  int64_t rows;
  uint64_t checksum;
} scan;

static const char *code_of_unit(const db_catalog *c, int64_t id) {
  for (size_t i = 0; i < c->n_units; i++)
    if (c->units[i].id == id) return c->units[i].code;
  return "?";
}

static int scan_row(void *ctx, const db_obs_row *row) {
  scan *s = ctx;
  const db_catalog *c = &s->f->cat;
  const char *ind = "?";
  for (size_t i = 0; i < c->n_indicators; i++)
    if (c->indicators[i].id == row->indicator) {
      s->seen[i] = 1;
      ind = c->indicators[i].code;
    }
  db_buf b = DB_BUF_INIT;
  db_buf_printf(&b, "%s|%s|%lld|", ind, code_of_unit(c, row->orgunit), (long long)row->period);
  db_buf_double(&b, row->value);
  uint64_t h = 0xCBF29CE484222325ULL;
  for (size_t i = 0; i < b.len; i++) h = (h ^ (unsigned char)b.data[i]) * 0x100000001B3ULL;
  db_buf_free(&b);
  s->checksum += h;
  s->rows++;
  return 0;
}

static int scan_store(const fixture *f, int64_t *rows, uint64_t *checksum) {
  scan s = {f, db_calloc(f->cat.n_indicators + 1, 1), 0, 0};
  db_obs_filter all = {0};
  assert_int_equal(db_store_obs_read(f->store, &all, scan_row, &s), DB_OK);
  int with_data = 0;
  for (size_t i = 0; i < f->cat.n_indicators; i++) with_data += s.seen[i];
  db_free(s.seen);
  if (rows) *rows = s.rows;
  if (checksum) *checksum = s.checksum;
  return with_data;
}

static void assert_clean(const fixture *f) {
  if (db_diag_total(&f->diag)) db_diag_print(&f->diag, stderr, "demo");
  assert_int_equal(db_diag_total(&f->diag), 0);
  assert_int_equal(f->rc, DB_OK);
}

/* ---- the generated city ---- */

static void test_synthetic_city(void **state) {
  (void)state;
  fixture f;
  load(&f, NULL);
  assert_clean(&f);
  int wards, communes, zones;
  count_city_units(&f, &wards, &communes, &zones);
  assert_int_equal(wards, 113);
  assert_int_equal(communes, 54);
  assert_int_equal(zones, 1);
  assert_string_equal(db_catalog_unit(&f.cat, "79")->parent, "VN");
  assert_string_equal(db_catalog_unit(&f.cat, "79")->name, "Thành phố Hồ Chí Minh");
  for (size_t i = 0; i < sizeof documented_codes / sizeof documented_codes[0]; i++) {
    const db_indicator *ind = db_catalog_indicator(&f.cat, documented_codes[i]);
    if (!ind) fail_msg("indicator %s is missing", documented_codes[i]);
    assert_int_equal(ind->synthetic, 1);
    assert_string_equal(ind->source, "synthetic");
  }
  /* VN, 79, 168 units, 6 air stations, 1 weather station; 22 districts and 441 old wards */
  assert_int_equal(f.stats.units_current, 177);
  assert_int_equal(f.stats.units_legacy, 463);
  assert_int_equal(f.stats.successions, 441 + 18);
  assert_int_equal(f.stats.indicators, 48); /* 47 with data and the derived WARD_DEV_INDEX */
  assert_int_equal(f.stats.agencies, 13 + 168);
  assert_int_equal(scan_store(&f, NULL, NULL), 47 + 4); /* and the four TASK_* statistics of the demo's tasks */
  /* a unit of 2025 takes ward data from 2025-07 on, an old ward up to 2025-06 */
  assert_true(value_of(&f, "SCHOOLS", "90001", "2025-07") >= 1);
  assert_true(value_of(&f, "SCHOOLS", "OLD_92001", "2025-06") >= 1);
  assert_true(value_of(&f, "POPULATION", "79", "2025") > 168 * 11000);
  close_fixture(&f);
}

static void test_synthetic_is_deterministic(void **state) {
  (void)state;
  fixture a, b;
  load(&a, NULL);
  load(&b, NULL);
  assert_clean(&a);
  assert_clean(&b);
  int64_t rows_a, rows_b;
  uint64_t sum_a, sum_b;
  scan_store(&a, &rows_a, &sum_a);
  scan_store(&b, &rows_b, &sum_b);
  assert_int_equal(rows_a, a.stats.observations);
  assert_int_equal(rows_a, rows_b);
  assert_true(sum_a == sum_b);
  assert_true(value_of(&a, "PM25", "AQ03", "2025-02-14T08:00") ==
              value_of(&b, "PM25", "AQ03", "2025-02-14T08:00"));
  close_fixture(&a);
  close_fixture(&b);
}

/* ---- the real pack ---- */

static char *pack_dir(void) {
  const char *shared = db_test_shared_dir();
  if (!shared) return NULL;
  char *dir = db_test_path(shared, "data");
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    db_free(dir);
    return NULL;
  }
  return dir;
}

/* The YOY of the all-items row of cpi.csv for a month, read from the file itself. */
static double cpi_yoy_from_file(const char *pack, const char *month) {
  char *path = db_test_path(pack, "macro/gso_monthly_national/cpi.csv");
  FILE *in = fopen(path, "r");
  assert_non_null(in);
  char line[512], date[16];
  double yoy = NAN, v;
  while (fgets(line, sizeof line, in)) {
    const char *row = strstr(line, ",CHỈ SỐ GIÁ TIÊU DÙNG,");
    if (row && sscanf(row + strlen(",CHỈ SỐ GIÁ TIÊU DÙNG,"), "%lf,%*[^,],%*[^,],%15s", &v, date) == 2 &&
        strncmp(date, month, 7) == 0)
      yoy = v;
  }
  fclose(in);
  db_free(path);
  return yoy;
}

static int count_successions_from(const db_catalog *c, const char *from, double *weight) {
  int n = 0;
  for (size_t i = 0; i < c->n_successions; i++)
    if (strcmp(c->successions[i].from, from) == 0) {
      n++;
      *weight = c->successions[i].weight;
    }
  return n;
}

typedef struct target_find {
  const char *orgunit, *period, *kind;
  double value;
  int n;
} target_find;

static int find_target(void *ctx, const db_target *t) {
  target_find *tf = ctx;
  if (strcmp(t->orgunit, tf->orgunit) == 0 && strcmp(t->period, tf->period) == 0 &&
      strcmp(t->kind, tf->kind) == 0) {
    tf->n++;
    tf->value = t->value;
  }
  return 0;
}

static void test_real_pack(void **state) {
  (void)state;
  char *pack = pack_dir();
  if (!pack) skip();
  fixture f;
  load(&f, pack);
  assert_clean(&f);

  int wards, communes, zones;
  count_city_units(&f, &wards, &communes, &zones);
  assert_int_equal(wards, 113);
  assert_int_equal(communes, 54);
  assert_int_equal(zones, 1);
  const db_orgunit *con_dao = db_catalog_unit(&f.cat, "26732");
  assert_int_equal(con_dao->kind, DB_OU_SPECIAL_ZONE);
  assert_non_null(con_dao->geometry);
  /* VN, 34 provinces, 168 units, 7 sites; 29 old provinces, 38 old districts (22 + 9 + 7), 441 old wards */
  assert_int_equal(f.stats.units_current, 1 + 34 + 168 + 7);
  assert_int_equal(f.stats.units_legacy, 29 + 38 + 441);

  /* every old ward and old unit of 74 and 77 has a successor; full and partial weights */
  int old_wards = 0;
  double w = 0;
  for (size_t i = 0; i < f.cat.n_units; i++) {
    const db_orgunit *u = &f.cat.units[i];
    if (u->kind != DB_OU_LEGACY_WARD) continue;
    old_wards++;
    if (count_successions_from(&f.cat, u->code, &w) == 0) fail_msg("old ward %s has no successor", u->code);
  }
  assert_int_equal(old_wards, 441);
  assert_int_equal(count_successions_from(&f.cat, "OLD_26734", &w), 1); /* Tân Định -> 26737, full */
  assert_true(w == 1);
  assert_int_equal(count_successions_from(&f.cat, "OLD_25741", &w), 2); /* Hiệp Thành, split in two */
  assert_true(w == 0.5);
  assert_int_equal(count_successions_from(&f.cat, "74", &w), 1);
  assert_int_equal(count_successions_from(&f.cat, "755", &w), 1); /* old district Côn Đảo -> 26732 */
  assert_string_equal(db_catalog_unit(&f.cat, "OLD_26734")->parent, "760");
  assert_string_equal(db_catalog_unit(&f.cat, "718")->parent, "74");
  assert_string_equal(db_catalog_unit(&f.cat, "74")->parent, "VN");

  /* metadata: real series name their file, the ward panel is marked synthetic */
  const db_indicator *cpi_ind = db_catalog_indicator(&f.cat, "CPI_YOY");
  assert_int_equal(cpi_ind->synthetic, 0);
  assert_non_null(strstr(cpi_ind->source, "macro/gso_monthly_national/cpi.csv"));
  assert_string_equal(cpi_ind->owner, "STATS");
  assert_int_equal(cpi_ind->periodicity, DB_PT_MONTH);
  const db_indicator *schools = db_catalog_indicator(&f.cat, "SCHOOLS");
  assert_int_equal(schools->synthetic, 1);
  assert_string_equal(schools->source, "synthetic");
  assert_int_equal(schools->is_public, 0);

  int with_data = scan_store(&f, NULL, NULL);
  assert_true(with_data >= 30);
  assert_int_equal(with_data, 47 + 4); /* the four TASK_* statistics of the demo's tasks */

  /* values as the files have them */
  double yoy = cpi_yoy_from_file(pack, "2024-12");
  assert_true(yoy == 2.941689806077207);
  assert_true(value_of(&f, "CPI_YOY", "VN", "2024-12") == yoy);
  assert_true(value_of(&f, "PM25", "AQ01", "2021-02-23T21:00") == 15.6047619);
  assert_true(value_of(&f, "BUDGET_INVEST", "79", "2024-12") == 8019.623);
  assert_true(value_of(&f, "FDI_REG", "79", "2024-12") == 1530.7205645127542);
  assert_true(value_of(&f, "GDP_USD", "VN", "2023") == 429716969049.5928);
  assert_true(value_of(&f, "COVID_NEW", "VN", "2021-08-11") == 8606);
  assert_true(value_of(&f, "RAIN_MM", "MET_VT", "2019-06") == 199.6);
  assert_true(value_of(&f, "POPULATION", "79", "2025") == 12870573);
  assert_true(value_of(&f, "AREA_KM2", "25849", "2025") == 33.589); /* Hòa Lợi, "33589" in the file */

  target_find cpi = {"VN", "2025", "threshold", 0, 0};
  assert_int_equal(db_store_read_targets(f.store, "CPI_YOY", find_target, &cpi), DB_OK);
  assert_int_equal(cpi.n, 1);
  assert_true(cpi.value == 4.5);
  target_find budget = {"79", "2025", "plan", 0, 0};
  assert_int_equal(db_store_read_targets(f.store, "BUDGET_INVEST", find_target, &budget), DB_OK);
  assert_int_equal(budget.n, 1);
  assert_true(budget.value > 0);
  close_fixture(&f);
  db_free(pack);
}

/* ---- bad packs ---- */

/* A small pack: two units of 2025, one old ward of 79 and one of 74, and a CPI file with a bad number
 * on line 2; every other data file is missing. */
static char *write_small_pack(void) {
  char *dir = db_test_tempdir();
  static const char *const dirs[] = {"admin_units", "macro", "macro/gso_monthly_national"};
  static const char *const files[][2] = {
      {"admin_units/vn_provinces_2025-07-01_gso_915.csv",
       "stt,province_code,province_name\n1,79,Thành phố Hồ Chí Minh\n"},
      {"admin_units/vn_units_2025-03-01_3level.csv",
       "province_code,province_name,province_type,district_code,district_name,district_type,ward_code,ward_"
       "name,"
       "ward_type\n74,Tỉnh Bình Dương,Tỉnh,718,Thành phố Thủ Dầu Một,Thành phố,25741,Phường Hiệp "
       "Thành,Phường\n"},
      {"admin_units/hcmc_wards_2025-03-01_pre_merger.csv",
       "province_code,province_name,province_type,district_code,district_name,district_type,ward_code,ward_"
       "name,"
       "ward_type\n79,Thành phố Hồ Chí Minh,Thành phố Trung ương,760,Quận 1,Quận,26734,Phường Tân "
       "Định,Phường\n"},
      {"admin_units/hcmc_communes_2025-07-01.csv",
       "commune_code,commune_name,commune_type,province_code,area_km2_bando,population_bando,admin_center,"
       "pre_merger_units\n26737,Phường Tân Định,Phường,79,1.5,50000,x,y\n25747,Phường Thủ Dầu "
       "Một,Phường,79,15.68,"
       "88132,x,y\n"},
      {"admin_units/vn_province_merge_mapping_2025-07-01.csv",
       "new_province_code,new_province_name,old_province_code,old_province_name,merge_type\n79,x,74,x,"
       "full\n79,x,79,x,"
       "full\n"},
      {"admin_units/vn_commune_merge_mapping_2025-07-01.csv",
       "new_province_code,new_province_name,new_commune_code,new_commune_name,old_ward_code,old_ward_name,"
       "merge_type\n"
       "79,x,26737,x,26734,x,full\n79,x,25747,x,25741,x,partial\n"},
      {"macro/gso_monthly_national/cpi.csv",
       ",Hàng hóa,YOY,MOM,YTD-YOY,Date\n0,CHỈ SỐ GIÁ TIÊU DÙNG,abc,0.3,3.2,2025-02-28\n"
       "1,CHỈ SỐ GIÁ TIÊU DÙNG,3.63,0.98,3.63,2025-01-29\n"},
  };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char *p = db_test_path(dir, dirs[i]);
    assert_int_equal(mkdir(p, 0755), 0);
    db_free(p);
  }
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char *p = db_test_path(dir, files[i][0]);
    db_test_write_file(p, files[i][1]);
    db_free(p);
  }
  return dir;
}

static const db_problem *problem_of(const db_diag *d, const char *file, long line) {
  for (size_t i = 0; i < d->count; i++)
    if (d->items[i].path && strcmp(d->items[i].path, file) == 0 && d->items[i].line == line)
      return &d->items[i];
  return NULL;
}

static void test_bad_pack_files_are_reported(void **state) {
  (void)state;
  char *pack = write_small_pack();
  fixture f;
  load(&f, pack);
  assert_int_equal(f.rc, DB_EINVAL);
  /* the units loaded */
  int wards, communes, zones;
  count_city_units(&f, &wards, &communes, &zones);
  assert_int_equal(wards, 2);
  assert_int_equal(f.stats.units_legacy, 1 + 2 + 2); /* 74; districts 760, 718; two old wards */
  /* the bad number is reported with file, line and column; the good row of the file loaded */
  const db_problem *p = problem_of(&f.diag, "macro/gso_monthly_national/cpi.csv", 2);
  assert_non_null(p);
  assert_int_equal(p->column, 3);
  assert_string_equal(p->message, "'abc' is not a number");
  assert_true(value_of(&f, "CPI_YOY", "VN", "2025-01") == 3.63);
  assert_true(value_of(&f, "CPI_MOM", "VN", "2025-02") == 0.3);
  /* missing files are reported by name */
  assert_non_null(problem_of(&f.diag, "macro/gso_monthly_national/iip.csv", 0));
  assert_non_null(problem_of(&f.diag, "geo/hcmc_communes_2025.geojson", 0));
  assert_int_equal(f.stats.sources_skipped, 14);
  close_fixture(&f);

  /* without a required unit list nothing is written */
  char *list = db_test_path(pack, "admin_units/hcmc_communes_2025-07-01.csv");
  assert_int_equal(remove(list), 0);
  db_free(list);
  load(&f, pack);
  assert_int_equal(f.rc, DB_EIO);
  assert_int_equal(f.cat.n_units, 0);
  assert_non_null(problem_of(&f.diag, "admin_units/hcmc_communes_2025-07-01.csv", 0));
  close_fixture(&f);

  /* a pack folder that does not exist */
  char *nowhere = db_test_path(pack, "nowhere");
  load(&f, nowhere);
  assert_int_equal(f.rc, DB_EIO);
  assert_int_equal(f.cat.n_units, 0);
  close_fixture(&f);
  db_free(nowhere);
  db_test_rmtree(pack);
  db_free(pack);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_synthetic_city),
      cmocka_unit_test(test_synthetic_is_deterministic),
      cmocka_unit_test(test_real_pack),
      cmocka_unit_test(test_bad_pack_files_are_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
