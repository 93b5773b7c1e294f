/* test_store.c - the embedded SQLite store through the store.h API: opening by URL, migrations and the
 * refusal of a newer schema, the catalog round trip, targets, series, observation outcomes and
 * revisions, as-of reads and filters, idempotency keys, rollback, the audit log, records and events,
 * and a process killed in the middle of a bulk load (the store is never half-written). */
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "store/store.h"
#include "testutil.h"

/* ---------- helpers ---------- */

typedef struct fixture {
  char *dir, *path;
  db_store *store;
  int64_t cpi, pop;           /* indicator ids */
  int64_t city, ward1, ward2; /* unit ids */
} fixture;

static db_store *open_store(const char *path) {
  db_store *s = NULL;
  db_diag d = DB_DIAG_INIT;
  int rc = db_store_open(path, &s, &d);
  if (rc) db_diag_print(&d, stderr, path);
  assert_int_equal(rc, 0);
  db_diag_free(&d);
  return s;
}

static int64_t period_key(const char *code) {
  db_period p;
  assert_int_equal(db_period_parse(code, strlen(code), &p, NULL), 0);
  return db_period_key(&p);
}

static void assert_raw(const char *path, const char *sql, const char *expected) {
  char *got = db_test_raw_text(path, sql);
  assert_string_equal(got, expected);
  db_free(got);
}

static void raw_exec(const char *path, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void put_unit(db_store *s, const char *code, const char *parent, db_ou_kind kind, int64_t *id) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = (char *)code;
  u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = kind;
  u.level = parent ? 1 : 0;
  assert_int_equal(db_store_put_orgunit(s, &u), 0);
  *id = u.id;
}

static void put_indicator(db_store *s, const char *code, db_period_type pt, int64_t *id) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = (char *)code;
  i.name = (char *)code;
  i.periodicity = pt;
  i.agg_space = DB_AGG_SUM;
  i.agg_time = DB_AGG_SUM;
  assert_int_equal(db_store_put_indicator(s, &i), 0);
  *id = i.id;
}

static int64_t put_series(db_store *s, int64_t indicator, int64_t unit, const char *dimkey) {
  db_series se = {0, indicator, unit, dimkey};
  assert_int_equal(db_store_put_series(s, &se), 0);
  return se.id;
}

static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  f->path = db_test_path(f->dir, "store.db");
  f->store = open_store(f->path);
  assert_int_equal(db_store_begin(f->store, 0), 0);
  put_unit(f->store, "79", NULL, DB_OU_CITY, &f->city);
  put_unit(f->store, "26734", "79", DB_OU_WARD, &f->ward1);
  put_unit(f->store, "26737", "79", DB_OU_WARD, &f->ward2);
  put_indicator(f->store, "CPI", DB_PT_MONTH, &f->cpi);
  put_indicator(f->store, "POP", DB_PT_YEAR, &f->pop);
  assert_int_equal(db_store_commit(f->store), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_store_close(f->store);
  db_test_rmtree(f->dir);
  db_free(f->path);
  db_free(f->dir);
  db_free(f);
  return 0;
}

/* Begins a transaction and a batch received at `received_ms`. */
static int64_t begin_batch(db_store *s, int64_t received_ms, const char *key) {
  db_batch_info info = {key, "test.csv", "tester", received_ms};
  int64_t seq = 0;
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_store_batch_begin(s, &info, &seq), 0);
  assert_true(seq > 0);
  return seq;
}

static void finish_batch(db_store *s, int64_t seq) {
  db_batch_summary sum = {seq, 0, 0, 0, NULL};
  assert_int_equal(db_store_batch_finish(s, &sum), 0);
  assert_int_equal(db_store_commit(s), 0);
}

/* Writes one row and returns its outcome. */
static db_obs_outcome write1(db_store *s, int64_t seq, int64_t series, int64_t period, double value,
                             int status) {
  db_obs o = {series, period, value, status};
  db_obs_outcome out = 0;
  assert_int_equal(db_store_obs_write(s, seq, &o, 1, &out), 0);
  return out;
}

/* Observation rows collected by a scan. */
typedef struct seen_row {
  int64_t series, indicator, orgunit, period, seq, received_ms;
  char dimkey[32];
  double value;
  int status, revision;
} seen_row;

typedef struct seen {
  seen_row rows[64];
  size_t n;
} seen;

static int collect(void *ctx, const db_obs_row *r) {
  seen *s = ctx;
  assert_true(s->n < 64);
  seen_row *x = &s->rows[s->n++];
  *x = (seen_row){r->series,      r->indicator, r->orgunit, r->period, r->seq,
                  r->received_ms, "",           r->value,   r->status, r->revision};
  snprintf(x->dimkey, sizeof x->dimkey, "%s", r->dimkey);
  return 0;
}

static size_t count_rows(db_store *s, const db_obs_filter *f) {
  seen got = {.n = 0};
  assert_int_equal(db_store_obs_read(s, f, collect, &got), 0);
  return got.n;
}

/* ---------- opening ---------- */

static void test_open_create_reopen(void **state) {
  char *dir = db_test_tempdir();
  char *path = db_test_path(dir, "a.db");
  char url[4200];
  snprintf(url, sizeof url, "sqlite:%s", path);
  db_store *s = open_store(url);
  int version = 0;
  assert_int_equal(db_store_schema_version(s, &version), 0);
  assert_int_equal(version, DB_STORE_SCHEMA_VERSION);
  db_store_close(s);
  assert_raw(path, "PRAGMA journal_mode", "wal");
  assert_raw(path, "PRAGMA page_size", "16384");
  /* a bare path is the same store */
  s = open_store(path);
  assert_int_equal(db_store_schema_version(s, &version), 0);
  assert_int_equal(version, DB_STORE_SCHEMA_VERSION);
  db_store_close(s);
  db_store_close(NULL);
  db_free(path);
  db_test_rmtree(dir);
  db_free(dir);
}

static void test_bad_urls(void **state) {
  char *dir = db_test_tempdir();
  db_store *s = (db_store *)1;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_store_open("postgresql://localhost/db", &s, &d), DB_EUNSUPPORTED);
  assert_null(s);
  assert_string_equal(d.items[0].message,
                      "no 'postgresql' backend in this build; use sqlite:PATH (or a plain file path)");
  db_diag_clear(&d);
  assert_int_equal(db_store_open("", &s, &d), DB_EINVAL);
  assert_string_equal(d.items[0].message, "the store URL is empty");
  db_diag_clear(&d);
  assert_int_equal(db_store_open("sqlite:", &s, &d), DB_EINVAL);
  assert_string_equal(d.items[0].message, "the store URL 'sqlite:' names no file");
  db_diag_clear(&d);
  /* a file that is not a database */
  char *junk = db_test_path(dir, "junk.db");
  db_test_write_file(junk,
                     "indicator,orgunit,period,value\nCPI,79,2025-07,1.5\n"
                     "this is a CSV file and not an SQLite database at all, not even close\n");
  assert_int_equal(db_store_open(junk, &s, &d), DB_ESTORE);
  assert_null(s);
  assert_string_equal(d.items[0].path, junk);
  assert_string_equal(d.items[0].message, "cannot read the store: file is not a database");
  db_diag_clear(&d);
  /* a folder that does not exist */
  char *missing = db_test_path(dir, "no/such/folder/x.db");
  assert_int_equal(db_store_open(missing, &s, &d), DB_EIO);
  assert_string_equal(d.items[0].message, "cannot open the store: unable to open database file");
  /* errors without a diag */
  assert_int_equal(db_store_open("mysql://x", &s, NULL), DB_EUNSUPPORTED);
  db_diag_free(&d);
  db_free(junk);
  db_free(missing);
  db_test_rmtree(dir);
  db_free(dir);
}

static void test_default_url(void **state) {
  unsetenv("DATABRAIN_STORE");
  assert_string_equal(db_store_default_url(NULL), "sqlite:databrain.db");
  assert_string_equal(db_store_default_url(""), "sqlite:databrain.db");
  setenv("DATABRAIN_STORE", "sqlite:/var/lib/databrain/city.db", 1);
  assert_string_equal(db_store_default_url(NULL), "sqlite:/var/lib/databrain/city.db");
  assert_string_equal(db_store_default_url("sqlite:x.db"), "sqlite:x.db");
  unsetenv("DATABRAIN_STORE");
}

static void test_migrations(void **state) {
  char *dir = db_test_tempdir();
  char *path = db_test_path(dir, "old.db");
  /* an SQLite file at schema 0 with a foreign table: migrated in place, the table kept */
  raw_exec(path, "CREATE TABLE notes(x); INSERT INTO notes VALUES('kept')");
  db_store *s = open_store(path);
  int version = 0;
  assert_int_equal(db_store_schema_version(s, &version), 0);
  assert_int_equal(version, DB_STORE_SCHEMA_VERSION);
  db_store_close(s);
  assert_raw(path, "SELECT x FROM notes", "kept");
  assert_raw(path,
             "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema"
             " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%' ORDER BY name)",
             "agency,audit,batch,dimension,dimension_item,event,indicator,notes,obs,obs_history,orgunit,record,"
             "series,session,succession,target,token,user,v_event,v_obs,v_obs_history,v_record");
  /* a store written by a newer databrain is refused and left untouched */
  raw_exec(path, "PRAGMA user_version = 99");
  db_diag d = DB_DIAG_INIT;
  s = (db_store *)1;
  assert_int_equal(db_store_open(path, &s, &d), DB_ESCHEMA);
  assert_null(s);
  assert_int_equal(d.count, 1);
  assert_int_equal(d.items[0].code, DB_ESCHEMA);
  assert_string_equal(d.items[0].path, path);
  char want[96];
  snprintf(want, sizeof want, "store schema 99 is newer than this databrain (%d); upgrade databrain",
           DB_STORE_SCHEMA_VERSION);
  assert_string_equal(d.items[0].message, want);
  assert_raw(path, "PRAGMA user_version", "99");
  db_diag_free(&d);
  db_free(path);
  db_test_rmtree(dir);
  db_free(dir);
}

/* ---------- catalog ---------- */

static void test_writes_need_a_transaction(void **state) {
  fixture *f = *state;
  db_agency a = {0, "SOF", "Finance", NULL, "department", "79", NULL};
  assert_int_equal(db_store_put_agency(f->store, &a), DB_EINVAL);
  db_audit au = {1, "cli", "x", NULL, NULL};
  assert_int_equal(db_store_audit_append(f->store, &au), DB_EINVAL);
  db_batch_info info = {NULL, "x", "cli", 1};
  int64_t seq;
  assert_int_equal(db_store_batch_begin(f->store, &info, &seq), DB_EINVAL);
  assert_int_equal(db_store_commit(f->store), DB_EINVAL);
  assert_int_equal(db_store_begin(f->store, 0), 0);
  assert_int_equal(db_store_begin(f->store, 0), DB_EINVAL); /* nested */
  assert_int_equal(db_store_rollback(f->store), 0);
}

static void test_catalog_round_trip(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = "26740";
  u.name = "Phường Sài Gòn";
  u.name_en = "Sai Gon Ward";
  u.kind = DB_OU_WARD;
  u.parent = "79";
  u.level = 1;
  u.valid_from = 20270; /* 2025-07-01 */
  u.population = 47022;
  u.area_km2 = 1.85;
  u.geometry = "{\"type\":\"Point\",\"coordinates\":[106.7,10.78]}";
  u.attributes = "{\"old_units\":3}";
  assert_int_equal(db_store_put_orgunit(s, &u), 0);
  int64_t ward_id = u.id;
  assert_true(ward_id > f->ward2);
  db_orgunit old;
  db_orgunit_init(&old);
  old.code = "26743";
  old.name = "Phường Bến Nghé";
  old.kind = DB_OU_LEGACY_WARD;
  old.parent = "79";
  old.level = 1;
  old.valid_to = 20269;
  assert_int_equal(db_store_put_orgunit(s, &old), 0);
  /* an upsert keeps the id */
  u.name_en = "Saigon Ward";
  u.id = 0;
  assert_int_equal(db_store_put_orgunit(s, &u), 0);
  assert_int_equal(u.id, ward_id);
  /* a parent must be stored first; a unit is not its own parent */
  db_orgunit orphan;
  db_orgunit_init(&orphan);
  orphan.code = "99999";
  orphan.parent = "88888";
  assert_int_equal(db_store_put_orgunit(s, &orphan), DB_ENOTFOUND);
  orphan.parent = "99999";
  assert_int_equal(db_store_put_orgunit(s, &orphan), DB_EINVAL);

  db_succession su = {"26743", "26740", 0.6, 1, 20270};
  assert_int_equal(db_store_put_succession(s, &su), 0);
  su.weight = 0.75; /* upsert by (from, to) */
  assert_int_equal(db_store_put_succession(s, &su), 0);
  db_succession bad = {"26743", "nowhere", 1, 0, 20270};
  assert_int_equal(db_store_put_succession(s, &bad), DB_ENOTFOUND);

  db_agency a = {0, "SOF", "Sở Tài chính", "Department of Finance", "department", "79", NULL};
  assert_int_equal(db_store_put_agency(s, &a), 0);
  assert_true(a.id > 0);
  db_agency w = {0, "UBND_26740", "UBND Phường Sài Gòn", NULL, "ward_committee", "26740", "SOF"};
  assert_int_equal(db_store_put_agency(s, &w), 0);

  db_indicator ind;
  db_indicator_init(&ind);
  ind.code = "BUDGET_REV";
  ind.name = "Thu ngân sách";
  ind.name_en = "Budget revenue";
  ind.description = "State budget revenue collected in the area";
  ind.unit = "billion VND";
  ind.unit_mult = 9;
  ind.decimals = 1;
  ind.periodicity = DB_PT_MONTH;
  ind.period_span = 0;
  ind.agg_space = DB_AGG_WAVG;
  ind.weight = "POP";
  ind.agg_time = DB_AGG_LAST;
  ind.polarity = DB_POL_LOWER;
  ind.valid_min = 0;
  ind.valid_max = 1e6;
  ind.owner = "SOF";
  ind.sector = "finance";
  ind.groups = "R01;D1012";
  ind.is_public = 1;
  ind.legal_ref = "1012/QD-TTg";
  ind.formula = "100 * X / plan(X)";
  ind.dimensions = "SEX;AGE";
  ind.source = "GSO";
  ind.synthetic = 1;
  assert_int_equal(db_store_put_indicator(s, &ind), 0);
  assert_true(ind.id > f->pop);

  db_dim_item items[] = {{"M", "Nam"}, {"F", "Nữ"}, {"T", "Tổng"}};
  db_dimension dim = {0, "SEX", "Giới tính", items, 3};
  assert_int_equal(db_store_put_dimension(s, &dim), 0);
  int64_t dim_id = dim.id;
  db_dim_item fewer[] = {{"F", "Female"}, {"M", "Male"}};
  db_dimension dim2 = {0, "SEX", "Sex", fewer, 2}; /* items are replaced, in the new order */
  assert_int_equal(db_store_put_dimension(s, &dim2), 0);
  assert_int_equal(dim2.id, dim_id);
  assert_int_equal(db_store_commit(s), 0);

  db_catalog cat;
  db_catalog_init(&cat);
  assert_int_equal(db_store_load_catalog(s, &cat), 0);
  assert_int_equal(cat.n_units, 5);
  assert_string_equal(cat.units[0].code, "79"); /* parents first */
  const db_orgunit *lu = db_catalog_unit(&cat, "26740");
  assert_non_null(lu);
  assert_int_equal(lu->id, ward_id);
  assert_string_equal(lu->name, "Phường Sài Gòn");
  assert_string_equal(lu->name_en, "Saigon Ward");
  assert_int_equal(lu->kind, DB_OU_WARD);
  assert_string_equal(lu->parent, "79");
  assert_int_equal(lu->level, 1);
  assert_int_equal(lu->valid_from, 20270);
  assert_true(lu->valid_to == DB_DATE_NONE);
  assert_true(lu->population == 47022);
  assert_true(lu->area_km2 == 1.85);
  assert_string_equal(lu->geometry, "{\"type\":\"Point\",\"coordinates\":[106.7,10.78]}");
  assert_string_equal(lu->attributes, "{\"old_units\":3}");
  const db_orgunit *lo = db_catalog_unit(&cat, "26743");
  assert_int_equal(lo->kind, DB_OU_LEGACY_WARD);
  assert_true(lo->valid_from == DB_DATE_NONE);
  assert_int_equal(lo->valid_to, 20269);
  assert_true(isnan(lo->population) && isnan(lo->area_km2));
  assert_null(lo->name_en);
  assert_null(lo->geometry);
  assert_null(db_catalog_unit(&cat, "79")->parent);

  assert_int_equal(cat.n_successions, 1);
  assert_string_equal(cat.successions[0].from, "26743");
  assert_string_equal(cat.successions[0].to, "26740");
  assert_true(cat.successions[0].weight == 0.75);
  assert_int_equal(cat.successions[0].partial, 1);
  assert_int_equal(cat.successions[0].date, 20270);

  assert_int_equal(cat.n_agencies, 2);
  const db_agency *la = db_catalog_agency(&cat, "UBND_26740");
  assert_int_equal(la->id, w.id);
  assert_string_equal(la->name, "UBND Phường Sài Gòn");
  assert_null(la->name_en);
  assert_string_equal(la->kind, "ward_committee");
  assert_string_equal(la->orgunit, "26740");
  assert_string_equal(la->parent, "SOF");
  assert_string_equal(db_catalog_agency(&cat, "SOF")->name_en, "Department of Finance");

  const db_indicator *li = db_catalog_indicator(&cat, "BUDGET_REV");
  assert_int_equal(li->id, ind.id);
  assert_string_equal(li->name, ind.name);
  assert_string_equal(li->name_en, ind.name_en);
  assert_string_equal(li->description, ind.description);
  assert_string_equal(li->unit, "billion VND");
  assert_int_equal(li->unit_mult, 9);
  assert_int_equal(li->decimals, 1);
  assert_int_equal(li->periodicity, DB_PT_MONTH);
  assert_int_equal(li->period_span, 0);
  assert_int_equal(li->agg_space, DB_AGG_WAVG);
  assert_string_equal(li->weight, "POP");
  assert_int_equal(li->agg_time, DB_AGG_LAST);
  assert_int_equal(li->polarity, DB_POL_LOWER);
  assert_true(li->valid_min == 0 && li->valid_max == 1e6);
  assert_string_equal(li->owner, "SOF");
  assert_string_equal(li->sector, "finance");
  assert_string_equal(li->groups, "R01;D1012");
  assert_int_equal(li->is_public, 1);
  assert_string_equal(li->legal_ref, "1012/QD-TTg");
  assert_string_equal(li->formula, "100 * X / plan(X)");
  assert_string_equal(li->dimensions, "SEX;AGE");
  assert_string_equal(li->source, "GSO");
  assert_int_equal(li->synthetic, 1);
  const db_indicator *lp = db_catalog_indicator(&cat, "POP");
  assert_true(isnan(lp->valid_min) && isnan(lp->valid_max));
  assert_null(lp->owner);
  assert_int_equal(lp->decimals, 2);

  assert_int_equal(cat.n_dimensions, 1);
  const db_dimension *ld = db_catalog_dimension(&cat, "SEX");
  assert_int_equal(ld->id, dim_id);
  assert_string_equal(ld->name, "Sex");
  assert_int_equal(ld->n_items, 2);
  assert_string_equal(ld->items[0].code, "F");
  assert_string_equal(ld->items[0].name, "Female");
  assert_string_equal(ld->items[1].code, "M");
  db_catalog_free(&cat);
}

typedef struct seen_targets {
  char text[8][96];
  size_t n;
} seen_targets;

static int collect_target(void *ctx, const db_target *t) {
  seen_targets *s = ctx;
  assert_true(s->n < 8);
  snprintf(s->text[s->n++], 96, "%s %s %s %s %g %s", t->indicator, t->orgunit, t->period, t->kind, t->value,
           t->source ? t->source : "-");
  return 0;
}

static void test_targets(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_target t1 = {"CPI", "79", "2025", "plan", 4.5, "Resolution 01/NQ-CP 2025"};
  db_target t2 = {"POP", "26734", "2021/P5Y", "goal", 50000, NULL};
  db_target t3 = {"CPI", "26734", "2025-07", "threshold", 5, NULL};
  db_target t4 = {"CPI", "79", "2025", "plan", 4.0, "Resolution 01/NQ-CP 2025 (revised)"}; /* upsert of t1 */
  assert_int_equal(db_store_put_target(s, &t1), 0);
  assert_int_equal(db_store_put_target(s, &t2), 0);
  assert_int_equal(db_store_put_target(s, &t3), 0);
  assert_int_equal(db_store_put_target(s, &t4), 0);
  db_target bad_period = {"CPI", "79", "2025-13", "plan", 1, NULL};
  assert_int_equal(db_store_put_target(s, &bad_period), DB_EINVAL);
  db_target bad_ind = {"NOPE", "79", "2025", "plan", 1, NULL};
  assert_int_equal(db_store_put_target(s, &bad_ind), DB_ENOTFOUND);
  assert_int_equal(db_store_commit(s), 0);
  seen_targets all = {.n = 0};
  assert_int_equal(db_store_read_targets(s, NULL, collect_target, &all), 0);
  assert_int_equal(all.n, 3);
  assert_string_equal(all.text[0], "CPI 26734 2025-07 threshold 5 -");
  assert_string_equal(all.text[1], "CPI 79 2025 plan 4 Resolution 01/NQ-CP 2025 (revised)");
  assert_string_equal(all.text[2], "POP 26734 2021/P5Y goal 50000 -");
  seen_targets pop = {.n = 0};
  assert_int_equal(db_store_read_targets(s, "POP", collect_target, &pop), 0);
  assert_int_equal(pop.n, 1);
  assert_string_equal(pop.text[0], all.text[2]);
  /* the same as owned copies, valid after the scan */
  db_target *copies;
  size_t n;
  assert_int_equal(db_store_load_targets(s, "CPI", &copies, &n), 0);
  assert_int_equal(n, 2);
  seen_targets cpi = {.n = 0};
  for (size_t i = 0; i < n; i++) collect_target(&cpi, &copies[i]);
  assert_string_equal(cpi.text[0], all.text[0]);
  assert_string_equal(cpi.text[1], all.text[1]);
  db_store_targets_free(copies, n);
}

static int collect_series(void *ctx, const db_series *se) {
  char *out = ctx;
  snprintf(out + strlen(out), 256 - strlen(out), "%lld:%lld/%lld/%s ", (long long)se->id,
           (long long)se->indicator, (long long)se->orgunit, se->dimkey);
  return 0;
}

static void test_series(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_series a = {0, f->cpi, f->ward1, NULL};
  assert_int_equal(db_store_put_series(s, &a), 0);
  assert_int_equal(a.id, 1);
  db_series b = {10, f->cpi, f->ward1, "SEX=F"}; /* an id given by the caller is kept */
  assert_int_equal(db_store_put_series(s, &b), 0);
  assert_int_equal(b.id, 10);
  db_series same_key = {0, f->cpi, f->ward1, ""};
  assert_int_equal(db_store_put_series(s, &same_key), DB_EEXIST);
  db_series same_id = {10, f->pop, f->city, ""};
  assert_int_equal(db_store_put_series(s, &same_id), DB_EEXIST);
  db_series no_indicator = {0, 999, f->city, ""};
  assert_int_equal(db_store_put_series(s, &no_indicator), DB_EINVAL);
  db_series c = {0, f->pop, f->city, ""};
  assert_int_equal(db_store_put_series(s, &c), 0);
  assert_int_equal(c.id, 11);
  assert_int_equal(db_store_commit(s), 0);
  char text[256] = "";
  assert_int_equal(db_store_read_series(s, collect_series, text), 0);
  char expected[256];
  snprintf(expected, sizeof expected, "1:%lld/%lld/ 10:%lld/%lld/SEX=F 11:%lld/%lld/ ", (long long)f->cpi,
           (long long)f->ward1, (long long)f->cpi, (long long)f->ward1, (long long)f->pop,
           (long long)f->city);
  assert_string_equal(text, expected);
}

/* ---------- observations ---------- */

static void test_obs_outcomes_and_history(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t jul = period_key("2025-07"), aug = period_key("2025-08");
  int64_t seq1 = begin_batch(s, 1000, NULL);
  int64_t cpi1 = put_series(s, f->cpi, f->ward1, "");
  assert_int_equal(write1(s, seq1, cpi1, jul, 3.5, DB_STATUS_PROVISIONAL), DB_OBS_INSERTED);
  assert_int_equal(write1(s, seq1, cpi1, aug, 3.25, DB_STATUS_PROVISIONAL), DB_OBS_INSERTED);
  /* the same key twice in one batch */
  assert_int_equal(write1(s, seq1, cpi1, jul, 9.0, DB_STATUS_PROVISIONAL), DB_OBS_DUPLICATE);
  finish_batch(s, seq1);

  int64_t seq2 = begin_batch(s, 2000, NULL);
  assert_true(seq2 > seq1);
  assert_int_equal(write1(s, seq2, cpi1, jul, 3.5, DB_STATUS_PROVISIONAL), DB_OBS_UNCHANGED);
  assert_int_equal(write1(s, seq2, cpi1, aug, 3.25, DB_STATUS_OFFICIAL), DB_OBS_REVISED); /* status only */
  assert_int_equal(write1(s, seq2, cpi1, aug, 3.0, DB_STATUS_OFFICIAL),
                   DB_OBS_DUPLICATE); /* after a revision */
  finish_batch(s, seq2);

  int64_t seq3 = begin_batch(s, 3000, NULL);
  assert_int_equal(write1(s, seq3, cpi1, aug, 3.0, DB_STATUS_OFFICIAL), DB_OBS_REVISED);
  assert_int_equal(write1(s, seq3, cpi1, jul, -0.0, DB_STATUS_PROVISIONAL), DB_OBS_REVISED);
  assert_int_equal(write1(s, seq3 + 0, cpi1, jul, 0.0, DB_STATUS_PROVISIONAL), DB_OBS_DUPLICATE);
  finish_batch(s, seq3);
  int64_t seq4 = begin_batch(s, 4000, NULL);
  assert_int_equal(write1(s, seq4, cpi1, jul, 0.0, DB_STATUS_PROVISIONAL), DB_OBS_UNCHANGED); /* 0 == -0 */
  finish_batch(s, seq4);

  seen h = {.n = 0};
  assert_int_equal(db_store_obs_history(s, cpi1, aug, collect, &h), 0);
  assert_int_equal(h.n, 3);
  const double values[] = {3.25, 3.25, 3.0};
  const int statuses[] = {DB_STATUS_PROVISIONAL, DB_STATUS_OFFICIAL, DB_STATUS_OFFICIAL};
  const int64_t seqs[] = {seq1, seq2, seq3}, received[] = {1000, 2000, 3000};
  for (int i = 0; i < 3; i++) {
    assert_true(h.rows[i].value == values[i]);
    assert_int_equal(h.rows[i].status, statuses[i]);
    assert_int_equal(h.rows[i].revision, i + 1);
    assert_int_equal(h.rows[i].seq, seqs[i]);
    assert_int_equal(h.rows[i].received_ms, received[i]);
    assert_int_equal(h.rows[i].series, cpi1);
    assert_int_equal(h.rows[i].indicator, f->cpi);
    assert_int_equal(h.rows[i].orgunit, f->ward1);
    assert_int_equal(h.rows[i].period, aug);
  }
  seen cur = {.n = 0};
  db_obs_filter all = {0};
  assert_int_equal(db_store_obs_read(s, &all, collect, &cur), 0);
  assert_int_equal(cur.n, 2);
  assert_int_equal(cur.rows[0].period, jul);
  assert_true(cur.rows[0].value == 0.0);
  assert_int_equal(cur.rows[0].revision, 2);
  assert_int_equal(cur.rows[1].period, aug);
  assert_true(cur.rows[1].value == 3.0);
  assert_int_equal(cur.rows[1].revision, 3);
  assert_int_equal(cur.rows[1].seq, seq3);
  /* BI view with codes */
  assert_raw(
      f->path,
      "SELECT indicator || ',' || orgunit || ',' || dimkey || ',' || value || ',' || status || ',' || rev"
      " || ',' || received_at FROM v_obs WHERE period_key = (SELECT max(period) FROM obs)",
      "CPI,26734,,3.0,official,3,1970-01-01T00:00:03.000Z");
  assert_raw(f->path, "SELECT count(*) FROM v_obs_history", "5");
}

/* A block that mixes new keys with stored ones is written row by row, with each row's own outcome. */
static void test_mixed_block(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t seq1 = begin_batch(s, 1000, NULL);
  int64_t a = put_series(s, f->cpi, f->ward1, ""), b = put_series(s, f->cpi, f->ward2, "");
  db_obs first[3] = {
      {a, period_key("2025-01"), 1, 0}, {a, period_key("2025-02"), 2, 0}, {b, period_key("2025-01"), 3, 0}};
  db_obs_outcome out[5];
  assert_int_equal(db_store_obs_write(s, seq1, first, 3, out), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(out[i], DB_OBS_INSERTED);
  finish_batch(s, seq1);
  int64_t seq2 = begin_batch(s, 2000, NULL);
  db_obs second[5] = {{a, period_key("2025-01"), 1, 0},
                      {a, period_key("2025-02"), 2.5, 0},
                      {a, period_key("2025-03"), 4, 0},
                      {b, period_key("2025-01"), 3, 0},
                      {a, period_key("2025-03"), 5, 0}};
  assert_int_equal(db_store_obs_write(s, seq2, second, 5, out), 0);
  const db_obs_outcome expected[5] = {DB_OBS_UNCHANGED, DB_OBS_REVISED, DB_OBS_INSERTED, DB_OBS_UNCHANGED,
                                      DB_OBS_DUPLICATE};
  for (int i = 0; i < 5; i++) assert_int_equal(out[i], expected[i]);
  /* the next block of new keys only, then one repeating a key within itself */
  db_obs third[2] = {{b, period_key("2025-02"), 7, 1}, {b, period_key("2025-03"), 8, 2}};
  assert_int_equal(db_store_obs_write(s, seq2, third, 2, out), 0);
  assert_int_equal(out[0], DB_OBS_INSERTED);
  assert_int_equal(out[1], DB_OBS_INSERTED);
  db_obs fourth[2] = {{b, period_key("2025-04"), 7, 0}, {b, period_key("2025-04"), 8, 0}};
  assert_int_equal(db_store_obs_write(s, seq2, fourth, 2, out), 0);
  assert_int_equal(out[0], DB_OBS_INSERTED);
  assert_int_equal(out[1], DB_OBS_DUPLICATE);
  finish_batch(s, seq2);
  db_obs_filter all = {0};
  seen cur = {.n = 0};
  assert_int_equal(db_store_obs_read(s, &all, collect, &cur), 0);
  assert_int_equal(cur.n, 7);
  assert_true(cur.rows[1].value == 2.5 && cur.rows[1].revision == 2);
  assert_true(cur.rows[2].value == 4 && cur.rows[2].revision == 1);
  assert_true(cur.rows[4].value == 7 && cur.rows[4].status == DB_STATUS_OFFICIAL);
  assert_true(cur.rows[6].value == 7 && cur.rows[6].period == period_key("2025-04"));
}

static void test_obs_write_rejects(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t seq = begin_batch(s, 1000, NULL);
  int64_t a = put_series(s, f->cpi, f->ward1, "");
  int64_t jul = period_key("2025-07");
  db_obs_outcome out[2];
  db_obs good = {a, jul, 1, 0};
  db_obs rows[][2] = {
      {good, {a + 100, jul, 1, 0}}, /* unknown series */
      {good, {a, jul + 1, NAN, 0}}, /* not a number */
      {good, {a, jul + 1, INFINITY, 0}},
      {good, {a, jul + 1, 1, 3}}, /* status out of range */
      {good, {a, 0, 1, 0}},       /* no period */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    assert_int_equal(db_store_obs_write(s, seq, rows[i], 2, out), DB_EINVAL);
  assert_int_equal(db_store_obs_write(s, seq + 1, &good, 1, out), DB_EINVAL); /* not the open batch */
  db_obs_filter all = {0};
  assert_int_equal(count_rows(s, &all), 0); /* nothing of a refused call was written */
  assert_int_equal(db_store_obs_write(s, seq, &good, 1, out), 0);
  assert_int_equal(out[0], DB_OBS_INSERTED);
  finish_batch(s, seq);
  assert_int_equal(db_store_obs_write(s, seq, &good, 1, out), DB_EINVAL); /* no transaction */
}

static void test_as_of(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t jul = period_key("2025-07"), aug = period_key("2025-08");
  int64_t seq1 = begin_batch(s, 1000, NULL);
  int64_t a = put_series(s, f->cpi, f->ward1, "");
  write1(s, seq1, a, jul, 1.0, DB_STATUS_PROVISIONAL);
  finish_batch(s, seq1);
  int64_t seq2 = begin_batch(s, 2000, NULL);
  write1(s, seq2, a, jul, 2.0, DB_STATUS_PROVISIONAL);
  write1(s, seq2, a, aug, 20.0, DB_STATUS_PROVISIONAL); /* a key born at 2000 */
  finish_batch(s, seq2);
  int64_t seq3 = begin_batch(s, 3000, NULL);
  write1(s, seq3, a, jul, 3.0, DB_STATUS_OFFICIAL);
  finish_batch(s, seq3);

  const int64_t instants[] = {500, 999, 1000, 1500, 2000, 2500, 3000, 3500};
  const size_t n_expected[] = {0, 0, 1, 1, 2, 2, 2, 2};
  const double jul_value[] = {0, 0, 1, 1, 2, 2, 3, 3};
  const int jul_rev[] = {0, 0, 1, 1, 2, 2, 3, 3};
  for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
    db_obs_filter fl = {.as_of_ms = instants[i]};
    seen got = {.n = 0};
    assert_int_equal(db_store_obs_read(s, &fl, collect, &got), 0);
    assert_int_equal(got.n, n_expected[i]);
    if (!got.n) continue;
    assert_int_equal(got.rows[0].period, jul);
    assert_true(got.rows[0].value == jul_value[i]);
    assert_int_equal(got.rows[0].revision, jul_rev[i]);
    assert_true(got.rows[0].received_ms <= instants[i]);
    if (got.n == 2) assert_true(got.rows[1].period == aug && got.rows[1].value == 20.0);
  }
  db_obs_filter before = {.as_of_ms = 2500};
  seen got = {.n = 0};
  assert_int_equal(db_store_obs_read(s, &before, collect, &got), 0);
  assert_int_equal(got.rows[0].seq, seq2);
  assert_int_equal(got.rows[0].status, DB_STATUS_PROVISIONAL);
}

static void test_filters(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t seq = begin_batch(s, 1000, NULL);
  /* created out of order, read back by indicator, unit, dimension key, period */
  int64_t s_pop_city = put_series(s, f->pop, f->city, "");
  int64_t s_cpi_w2 = put_series(s, f->cpi, f->ward2, "");
  int64_t s_cpi_w1_f = put_series(s, f->cpi, f->ward1, "SEX=F");
  int64_t s_cpi_w1 = put_series(s, f->cpi, f->ward1, "");
  const char *months[] = {"2025-03", "2025-01", "2025-02"};
  for (int m = 0; m < 3; m++) {
    int64_t k = period_key(months[m]);
    write1(s, seq, s_cpi_w2, k, 2, 0);
    write1(s, seq, s_cpi_w1_f, k, 3, 0);
    write1(s, seq, s_cpi_w1, k, 1, 0);
  }
  write1(s, seq, s_pop_city, period_key("2024"), 9.5e6, 1);
  finish_batch(s, seq);

  seen got = {.n = 0};
  db_obs_filter all = {0};
  assert_int_equal(db_store_obs_read(s, &all, collect, &got), 0);
  assert_int_equal(got.n, 10);
  const int64_t order[] = {s_cpi_w1, s_cpi_w1_f, s_cpi_w2, s_pop_city};
  for (size_t i = 0; i < 9; i++) {
    assert_int_equal(got.rows[i].series, order[i / 3]);
    assert_int_equal(got.rows[i].period, period_key(i % 3 == 0   ? "2025-01"
                                                    : i % 3 == 1 ? "2025-02"
                                                                 : "2025-03"));
  }
  assert_string_equal(got.rows[3].dimkey, "SEX=F");
  assert_int_equal(got.rows[9].series, s_pop_city);

  int64_t units[] = {f->ward1};
  db_obs_filter by_unit = {.orgunits = units, .n_orgunits = 1};
  assert_int_equal(count_rows(s, &by_unit), 6);
  int64_t inds[] = {f->pop};
  db_obs_filter by_ind = {.indicators = inds, .n_indicators = 1};
  assert_int_equal(count_rows(s, &by_ind), 1);
  int64_t both_inds[] = {f->pop, f->cpi};
  int64_t ward2[] = {f->ward2};
  db_obs_filter range = {.indicators = both_inds,
                         .n_indicators = 2,
                         .orgunits = ward2,
                         .n_orgunits = 1,
                         .period_from = period_key("2025-02"),
                         .period_to = period_key("2025-03")};
  got.n = 0;
  assert_int_equal(db_store_obs_read(s, &range, collect, &got), 0);
  assert_int_equal(got.n, 2);
  assert_int_equal(got.rows[0].period, period_key("2025-02"));
  assert_int_equal(got.rows[1].period, period_key("2025-03"));
  int64_t cpi[] = {f->cpi}; /* keys of different period types do not compare: filter one indicator */
  db_obs_filter from_only = {.indicators = cpi, .n_indicators = 1, .period_from = period_key("2025-03")};
  assert_int_equal(count_rows(s, &from_only), 3);
  db_obs_filter empty_list = {.indicators = inds, .n_indicators = 0};
  assert_int_equal(count_rows(s, &empty_list), 0);
}

static int stop_after_two(void *ctx, const db_obs_row *r) { return ++*(int *)ctx == 2 ? 1 : 0; }
static int fail_at_once(void *ctx, const db_obs_row *r) { return DB_EIO; }

static void test_scan_stops(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t seq = begin_batch(s, 1000, NULL);
  int64_t a = put_series(s, f->cpi, f->ward1, "");
  for (int m = 1; m <= 5; m++) write1(s, seq, a, period_key("2025-01") + m - 1, m, 0);
  finish_batch(s, seq);
  db_obs_filter all = {0};
  int calls = 0;
  assert_int_equal(db_store_obs_read(s, &all, stop_after_two, &calls), 0);
  assert_int_equal(calls, 2);
  assert_int_equal(db_store_obs_read(s, &all, fail_at_once, NULL), DB_EIO);
  /* the cached statements were reset: a second scan sees everything */
  assert_int_equal(count_rows(s, &all), 5);
}

/* A reader on its own handle sees the last committed state while a write is in progress. */
static void test_reader_sees_committed_state(void **state) {
  fixture *f = *state;
  int64_t seq = begin_batch(f->store, 1000, NULL);
  int64_t a = put_series(f->store, f->cpi, f->ward1, "");
  write1(f->store, seq, a, period_key("2025-07"), 1, 0);
  finish_batch(f->store, seq);
  seq = begin_batch(f->store, 2000, NULL);
  write1(f->store, seq, a, period_key("2025-07"), 2, 0);
  write1(f->store, seq, a, period_key("2025-08"), 3, 0);
  db_store *reader = open_store(f->path);
  db_obs_filter all = {0};
  seen got = {.n = 0};
  assert_int_equal(db_store_obs_read(reader, &all, collect, &got), 0);
  assert_int_equal(got.n, 1);
  assert_true(got.rows[0].value == 1);
  finish_batch(f->store, seq);
  got.n = 0;
  assert_int_equal(db_store_obs_read(reader, &all, collect, &got), 0);
  assert_int_equal(got.n, 2);
  assert_true(got.rows[0].value == 2);
  db_store_close(reader);
}

/* ---------- batches ---------- */

static void test_idempotency_keys(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  db_batch_summary found = {0};
  assert_int_equal(db_store_batch_find(s, "upload-42", &found), DB_ENOTFOUND);
  int64_t seq = begin_batch(s, 1000, "upload-42");
  int64_t a = put_series(s, f->cpi, f->ward1, "");
  write1(s, seq, a, period_key("2025-07"), 1, 0);
  db_batch_summary sum = {seq, 1, 0, 0, "{\"inserted\":1}"};
  assert_int_equal(db_store_batch_finish(s, &sum), 0);
  assert_int_equal(db_store_commit(s), 0);
  assert_int_equal(db_store_batch_find(s, "upload-42", &found), 0);
  assert_int_equal(found.seq, seq);
  assert_int_equal(found.inserted, 1);
  assert_int_equal(found.revised, 0);
  assert_int_equal(found.unchanged, 0);
  assert_string_equal(found.result_json, "{\"inserted\":1}");
  db_batch_summary_free(&found);
  assert_null(found.result_json);
  /* a second batch with the same key cannot finish */
  int64_t seq2 = begin_batch(s, 2000, "upload-42");
  db_batch_summary sum2 = {seq2, 0, 0, 0, NULL};
  assert_int_equal(db_store_batch_finish(s, &sum2), DB_EEXIST);
  assert_int_equal(db_store_rollback(s), 0);
  /* a batch with a key that was rolled back leaves no key behind */
  int64_t seq3 = begin_batch(s, 3000, "upload-43");
  assert_true(seq3 > seq);
  db_batch_summary sum3 = {seq3, 0, 0, 0, NULL};
  assert_int_equal(db_store_batch_finish(s, &sum3), 0);
  assert_int_equal(db_store_rollback(s), 0);
  assert_int_equal(db_store_batch_find(s, "upload-43", &found), DB_ENOTFOUND);
  /* finish names the open batch only */
  int64_t seq4 = begin_batch(s, 4000, NULL);
  db_batch_summary wrong = {seq4 + 1, 0, 0, 0, NULL};
  assert_int_equal(db_store_batch_finish(s, &wrong), DB_EINVAL);
  db_batch_info info = {NULL, "x", "y", 1};
  int64_t other;
  assert_int_equal(db_store_batch_begin(s, &info, &other), DB_EINVAL); /* one batch at a time */
  finish_batch(s, seq4);
}

static void test_rollback_leaves_nothing(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  int64_t seq = begin_batch(s, 1000, NULL);
  int64_t a = put_series(s, f->cpi, f->ward1, "");
  write1(s, seq, a, period_key("2025-07"), 1, 0);
  db_audit au = {5, "cli", "data.import", "x", NULL};
  assert_int_equal(db_store_audit_append(s, &au), 0);
  assert_int_equal(db_store_rollback(s), 0);
  assert_int_equal(db_store_rollback(s), DB_EINVAL); /* no transaction any more */
  db_obs_filter all = {0};
  assert_int_equal(count_rows(s, &all), 0);
  char text[256] = "";
  assert_int_equal(db_store_read_series(s, collect_series, text), 0);
  assert_string_equal(text, "");
  assert_raw(f->path, "SELECT count(*) FROM batch", "0");
  assert_raw(f->path, "SELECT count(*) FROM audit", "0");
  /* the series of the rolled-back batch is gone: writing to its id is refused */
  int64_t seq2 = begin_batch(s, 2000, NULL);
  db_obs o = {a, period_key("2025-07"), 1, 0};
  db_obs_outcome out;
  assert_int_equal(db_store_obs_write(s, seq2, &o, 1, &out), DB_EINVAL);
  assert_int_equal(db_store_rollback(s), 0);
}

/* ---------- audit ---------- */

typedef struct seen_audit {
  int64_t ids[8];
  char text[8][96];
  size_t n;
} seen_audit;

static int collect_audit(void *ctx, int64_t id, const db_audit *a) {
  seen_audit *s = ctx;
  s->ids[s->n] = id;
  snprintf(s->text[s->n++], 96, "%lld %s %s %s %s", (long long)a->time_ms, a->actor, a->action,
           a->object ? a->object : "-", a->detail ? a->detail : "-");
  return 0;
}

static void test_audit_order(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  assert_int_equal(db_store_begin(s, 0), 0);
  db_audit a1 = {3000, "cli", "catalog.import", "orgunits", "{\"count\":168}"};
  db_audit a2 = {1000, "admin", "token.create", "token:etl", NULL}; /* earlier time, later record */
  db_audit a3 = {0, "cli", "data.import", NULL, NULL};
  db_audit bad = {1, NULL, "x", NULL, NULL};
  assert_int_equal(db_store_audit_append(s, &a1), 0);
  assert_int_equal(db_store_audit_append(s, &a2), 0);
  assert_int_equal(db_store_audit_append(s, &bad), DB_EINVAL);
  int64_t before = db_now_ms();
  assert_int_equal(db_store_audit_append(s, &a3), 0);
  assert_int_equal(db_store_commit(s), 0);
  seen_audit got = {.n = 0};
  assert_int_equal(db_store_audit_read(s, 0, collect_audit, &got), 0);
  assert_int_equal(got.n, 3);
  assert_string_equal(got.text[0], "3000 cli catalog.import orgunits {\"count\":168}");
  assert_string_equal(got.text[1], "1000 admin token.create token:etl -");
  assert_true(got.ids[0] < got.ids[1] && got.ids[1] < got.ids[2]);
  assert_true(strtoll(got.text[2], NULL, 10) >= before); /* time 0 = now */
  seen_audit after = {.n = 0};
  assert_int_equal(db_store_audit_read(s, got.ids[0], collect_audit, &after), 0);
  assert_int_equal(after.n, 2);
  assert_int_equal(after.ids[0], got.ids[1]);
}

static void test_status_names(void **state) {
  assert_string_equal(db_obs_status_name(DB_STATUS_PROVISIONAL), "provisional");
  assert_string_equal(db_obs_status_name(DB_STATUS_OFFICIAL), "official");
  assert_string_equal(db_obs_status_name(DB_STATUS_ESTIMATED), "estimated");
  assert_string_equal(db_obs_status_name(9), "unknown");
  int st = -1;
  assert_int_equal(db_obs_status_parse("Official", 8, &st), 0);
  assert_int_equal(st, DB_STATUS_OFFICIAL);
  assert_int_equal(db_obs_status_parse("estimated,", 9, &st), 0); /* only len bytes count */
  assert_int_equal(st, DB_STATUS_ESTIMATED);
  assert_int_equal(db_obs_status_parse("sơ bộ", strlen("sơ bộ"), &st), 0);
  assert_int_equal(st, DB_STATUS_PROVISIONAL);
  assert_int_equal(db_obs_status_parse("ước tính", strlen("ước tính"), &st), 0);
  assert_int_equal(st, DB_STATUS_ESTIMATED);
  assert_int_equal(db_obs_status_parse("chính thức", strlen("chính thức"), &st), 0);
  assert_int_equal(st, DB_STATUS_OFFICIAL);
  assert_int_equal(db_obs_status_parse("final", 5, &st), DB_EINVAL);
  assert_int_equal(db_obs_status_parse("", 0, &st), DB_EINVAL);
  assert_int_equal(db_obs_status_parse("officia", 7, &st), DB_EINVAL);
}

/* ---------- bulk loads and killed processes ---------- */

#define KILL_SERIES 1000
#define KILL_MONTHS 6000

/* Adds KILL_SERIES series (ids 1..KILL_SERIES) to the fixture's store. */
static void make_series_store(fixture *f) {
  assert_int_equal(db_store_begin(f->store, 0), 0);
  for (int i = 0; i < KILL_SERIES; i++) {
    char dim[16];
    snprintf(dim, sizeof dim, "K=%04d", i);
    put_series(f->store, f->cpi, f->ward1, dim);
  }
  assert_int_equal(db_store_commit(f->store), 0);
}

/* Child side: loads rows (series-major, sorted) into the store at path in blocks until the file `watch`
 * (the store or its WAL) has grown by more than `grow` bytes over `base` (the transaction has spilled
 * into it), then dies by SIGKILL or _exit(42). Never returns. */
static void load_and_die(const char *path, const char *watch, int bulk, int64_t base, int64_t grow,
                         int by_signal) {
  db_store *s = NULL;
  if (db_store_open(path, &s, NULL) != 0 || db_store_begin(s, bulk) != 0) _exit(2);
  db_batch_info info = {"killed", "test", "tester", 5000};
  int64_t seq;
  if (db_store_batch_begin(s, &info, &seq) != 0) _exit(3);
  enum { BLOCK = 16384 };
  static db_obs rows[BLOCK];
  static db_obs_outcome out[BLOCK];
  size_t n = 0;
  db_period p = {DB_PT_MONTH, 0, 2000 * 12};
  for (int64_t series = 1; series <= KILL_SERIES; series++) {
    for (int m = 0; m < KILL_MONTHS; m++) {
      db_period pm = db_period_add(&p, m);
      rows[n++] = (db_obs){series, db_period_key(&pm), series * 0.5 + m, 0};
      if (n < BLOCK) continue;
      if (db_store_obs_write(s, seq, rows, n, out) != 0) _exit(4);
      n = 0;
      if (file_size(watch) > base + grow) {
        if (by_signal) kill(getpid(), SIGKILL);
        _exit(42);
      }
    }
  }
  _exit(5); /* never grew: the test would prove nothing */
}

static void check_store_after_kill(fixture *f, const char *integrity_sql) {
  f->store = open_store(f->path);
  assert_raw(f->path, integrity_sql, "ok");
  assert_raw(f->path, "PRAGMA journal_mode", "wal");
  assert_raw(f->path, "SELECT count(*) FROM batch WHERE source = 'killed'", "0");
}

static void test_killed_bulk_load(void **state) {
  fixture *f = *state;
  make_series_store(f);
  db_store_close(f->store);
  f->store = NULL;
  int64_t base = file_size(f->path);
  char *journal = db_test_path(f->dir, "store.db-journal");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) load_and_die(f->path, f->path, 1, base, 8 << 20, 1);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  /* the bulk load ran with a rollback journal, which the kill left behind, hot */
  assert_true(file_exists(journal));
  assert_true(file_size(f->path) > base + (8 << 20));
  check_store_after_kill(f, "PRAGMA integrity_check");
  assert_raw(f->path, "SELECT count(*) FROM obs", "0");
  assert_false(file_exists(journal));
  /* and the store takes the same load normally afterwards */
  int64_t seq = begin_batch(f->store, 6000, NULL);
  assert_int_equal(write1(f->store, seq, 1, period_key("2025-07"), 1, 0), DB_OBS_INSERTED);
  finish_batch(f->store, seq);
  db_free(journal);
}

static void test_killed_wal_transaction(void **state) {
  fixture *f = *state;
  make_series_store(f);
  int64_t seq = begin_batch(f->store, 1000, NULL);
  assert_int_equal(write1(f->store, seq, 1, period_key("2000-01"), 123, 1), DB_OBS_INSERTED);
  finish_batch(f->store, seq);
  db_store_close(f->store);
  f->store = NULL;
  char *wal = db_test_path(f->dir, "store.db-wal");
  int64_t base = file_size(wal);
  /* obs is not empty: even with bulk = 1 this load runs in WAL mode, which the child leaves half-full */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) load_and_die(f->path, wal, 1, base, 8 << 20, 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 42);
  check_store_after_kill(f, "PRAGMA integrity_check");
  assert_raw(f->path, "SELECT count(*) || ' ' || value || ' ' || rev FROM obs", "1 123.0 1");
  db_free(wal);
}

/* The switch to a rollback journal happens only for a load into an empty obs table with no other
 * connection, and the store is back in WAL after the transaction. */
static void test_bulk_journal_modes(void **state) {
  fixture *f = *state;
  char *journal = db_test_path(f->dir, "store.db-journal");
  char *wal = db_test_path(f->dir, "store.db-wal");
  make_series_store(f);
  /* another connection is open: the bulk load stays in WAL */
  db_store *reader = open_store(f->path);
  int64_t seq = 0;
  db_batch_info info = {NULL, "t", "t", 1000};
  assert_int_equal(db_store_begin(f->store, 1), 0);
  assert_int_equal(db_store_batch_begin(f->store, &info, &seq), 0);
  write1(f->store, seq, 1, period_key("2025-01"), 1, 0);
  assert_false(file_exists(journal));
  assert_int_equal(db_store_rollback(f->store), 0);
  db_store_close(reader);
  /* alone: rollback journal during the transaction, WAL after a rollback and after a commit */
  for (int commit = 0; commit < 2; commit++) {
    assert_int_equal(db_store_begin(f->store, 1), 0);
    assert_int_equal(db_store_batch_begin(f->store, &info, &seq), 0);
    write1(f->store, seq, 1, period_key("2025-01"), 1, 0);
    assert_true(file_exists(journal));
    assert_false(file_exists(wal));
    if (commit)
      finish_batch(f->store, seq);
    else
      assert_int_equal(db_store_rollback(f->store), 0);
    assert_false(file_exists(journal));
    assert_raw(f->path, "PRAGMA journal_mode", "wal");
    assert_raw(f->path, "SELECT count(*) FROM obs", commit ? "1" : "0");
  }
  /* obs has rows now: WAL throughout */
  assert_int_equal(db_store_begin(f->store, 1), 0);
  assert_int_equal(db_store_batch_begin(f->store, &info, &seq), 0);
  write1(f->store, seq, 1, period_key("2025-02"), 1, 0);
  assert_false(file_exists(journal));
  finish_batch(f->store, seq);
  db_free(journal);
  db_free(wal);
}

/* ---------- records and events ---------- */

static int collect_record(void *ctx, const db_record *r) {
  db_buf *out = ctx;
  db_buf_printf(out, "%lld %s %s v%lld %s\n", (long long)r->id, r->kind, r->key ? r->key : "-",
                (long long)r->version, r->body);
  return 0;
}

static void test_records(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  db_record a = {.kind = "directive", .key = "125/TB-VP", .body = "{\"title\":\"Giải ngân\"}"};
  db_record b = {.kind = "task", .body = "{\"n\":1}"};
  db_record c = {.kind = "task", .body = "{\"n\":2}"};
  assert_int_equal(db_store_record_put(s, &a, 0), DB_EINVAL); /* outside a transaction */
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_store_record_put(s, &a, 0), 0);
  assert_int_equal(db_store_record_put(s, &b, 0), 0);
  assert_int_equal(db_store_record_put(s, &c, 0), 0);
  assert_int_equal(a.version, 1);
  assert_true(b.id > a.id && c.id > b.id);
  db_record dup = {.kind = "directive", .key = "125/TB-VP", .body = "{}"};
  assert_int_equal(db_store_record_put(s, &dup, 0), DB_EEXIST);
  db_record other_kind = {.kind = "scenario", .key = "125/TB-VP", .body = "{}"};
  assert_int_equal(db_store_record_put(s, &other_kind, 0), 0); /* keys are unique within a kind only */
  db_record bad = {.kind = "task", .body = "{not json"};
  assert_int_equal(db_store_record_put(s, &bad, 0), DB_EINVAL);
  db_record bad_kind = {.kind = "Task!", .body = "{}"};
  assert_int_equal(db_store_record_put(s, &bad_kind, 0), DB_EINVAL);

  /* updates: version checks */
  b.body = "{\"n\":10}";
  assert_int_equal(db_store_record_put(s, &b, 1), 0);
  assert_int_equal(b.version, 2);
  b.body = "{\"n\":11}";
  assert_int_equal(db_store_record_put(s, &b, 1), DB_ECONFLICT); /* someone wrote version 2 meanwhile */
  db_record ghost = {.id = 9999, .kind = "task", .body = "{}"};
  assert_int_equal(db_store_record_put(s, &ghost, 0), DB_ENOTFOUND);
  db_record wrong_kind = {.id = b.id, .kind = "directive", .body = "{}"};
  assert_int_equal(db_store_record_put(s, &wrong_kind, 0), DB_ENOTFOUND);
  assert_int_equal(db_store_record_delete(s, "task", c.id), 0);
  assert_int_equal(db_store_record_delete(s, "task", c.id), DB_ENOTFOUND);
  assert_int_equal(db_store_commit(s), 0);

  db_record got;
  assert_int_equal(db_store_record_get(s, "directive", 0, "125/TB-VP", &got), 0);
  assert_int_equal(got.id, a.id);
  assert_string_equal(got.body, "{\"title\":\"Giải ngân\"}");
  db_record_free(&got);
  assert_int_equal(db_store_record_get(s, "task", b.id, NULL, &got), 0);
  assert_string_equal(got.body, "{\"n\":10}");
  assert_int_equal(got.version, 2);
  db_record_free(&got);
  assert_int_equal(db_store_record_get(s, "task", c.id, NULL, &got), DB_ENOTFOUND);

  db_buf out = DB_BUF_INIT;
  assert_int_equal(db_store_record_scan(s, "task", collect_record, &out), 0);
  char want[64];
  snprintf(want, sizeof want, "%lld task - v2 {\"n\":10}\n", (long long)b.id);
  assert_string_equal(db_buf_str(&out), want);
  db_buf_free(&out);

  /* a new record never takes a deleted one's id */
  assert_int_equal(db_store_begin(s, 0), 0);
  db_record d = {.kind = "task", .body = "{}"};
  assert_int_equal(db_store_record_put(s, &d, 0), 0);
  assert_true(d.id > c.id);
  assert_int_equal(db_store_commit(s), 0);
}

static int collect_event(void *ctx, const db_event *e) {
  db_buf *out = ctx;
  db_buf_printf(out, "%lld %lld %s %s\n", (long long)e->id, (long long)e->time_ms, e->kind, e->body);
  return 0;
}

static void test_events(void **state) {
  fixture *f = *state;
  db_store *s = f->store;
  db_event e1 = {0, 1000, "alert.firing", "{\"rule\":\"PM25\"}"}, e2 = {0, 2000, "alert.resolved", "{}"};
  assert_int_equal(db_store_event_append(s, &e1), DB_EINVAL);
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_store_event_append(s, &e1), 0);
  assert_int_equal(db_store_event_append(s, &e2), 0);
  db_event bad = {0, 0, "x", "nope"};
  assert_int_equal(db_store_event_append(s, &bad), DB_EINVAL);
  assert_int_equal(db_store_commit(s), 0);
  assert_int_equal(e2.id, e1.id + 1);
  db_buf out = DB_BUF_INIT;
  assert_int_equal(db_store_event_read(s, e1.id, collect_event, &out), 0);
  char want[64];
  snprintf(want, sizeof want, "%lld 2000 alert.resolved {}\n", (long long)e2.id);
  assert_string_equal(db_buf_str(&out), want);
  db_buf_free(&out);
  /* a rolled-back event is gone and its id is not reused by a later one */
  assert_int_equal(db_store_begin(s, 0), 0);
  db_event e3 = {0, 3000, "task.overdue", "{}"};
  assert_int_equal(db_store_event_append(s, &e3), 0);
  assert_int_equal(db_store_rollback(s), 0);
  assert_int_equal(db_store_begin(s, 0), 0);
  db_event e4 = {0, 4000, "task.done", "{}"};
  assert_int_equal(db_store_event_append(s, &e4), 0);
  assert_int_equal(db_store_commit(s), 0);
  assert_true(e4.id > e2.id);
  assert_int_equal(db_store_event_read(s, e2.id, collect_event, &out), 0);
  snprintf(want, sizeof want, "%lld 4000 task.done {}\n", (long long)e4.id);
  assert_string_equal(db_buf_str(&out), want);
  db_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_create_reopen),
      cmocka_unit_test(test_bad_urls),
      cmocka_unit_test(test_default_url),
      cmocka_unit_test(test_migrations),
      cmocka_unit_test(test_status_names),
      cmocka_unit_test_setup_teardown(test_writes_need_a_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catalog_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_series, setup, teardown),
      cmocka_unit_test_setup_teardown(test_obs_outcomes_and_history, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mixed_block, setup, teardown),
      cmocka_unit_test_setup_teardown(test_obs_write_rejects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_as_of, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_stops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reader_sees_committed_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idempotency_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bulk_journal_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_bulk_load, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_wal_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_events, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
