/* test_catalog_import.c - catalog files into a real (SQLite) store and back: the synthetic city's files
 * as gen.py writes them, the GSO list format, every kind of problem with its exact line, column and
 * message, all-or-nothing, GeoJSON geometry, and export -> import round trips in CSV and JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "ingest/catalog_import.h"
#include "store/store.h"
#include "testutil.h"

typedef struct fixture {
  char *dir;
  db_store *s;
} fixture;

static db_store *open_store(const char *dir, const char *name) {
  db_buf url = DB_BUF_INIT;
  db_diag d = DB_DIAG_INIT;
  db_store *s = NULL;
  db_buf_printf(&url, "sqlite:%s/%s", dir, name);
  assert_int_equal(db_store_open(db_buf_str(&url), &s, &d), DB_OK);
  db_buf_free(&url);
  db_diag_free(&d);
  return s;
}

static int setup(void **state) {
  fixture *f = db_malloc(sizeof *f);
  f->dir = db_test_tempdir();
  f->s = open_store(f->dir, "store.db");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_store_close(f->s);
  db_test_rmtree(f->dir);
  db_free(f->dir);
  db_free(f);
  return 0;
}

/* Writes text to dir/name and imports it as kind. Returns the import's result; *listing (owned) gets
 * the problems as printed, *n the number imported. */
static int import_text(fixture *f, const char *kind, const char *name, const char *text,
                       const db_catalog_import_opts *opts, char **listing, size_t *n) {
  char *path = db_test_path(f->dir, name);
  db_diag d = DB_DIAG_INIT;
  db_test_write_file(path, text);
  int rc = db_catalog_import(f->s, kind, path, opts, &d, n);
  *listing = db_test_problems(&d);
  db_diag_free(&d);
  db_free(path);
  return rc;
}

/* Imports text that must import cleanly; returns the number of objects imported. */
static size_t import_ok(fixture *f, const char *kind, const char *name, const char *text,
                        const db_catalog_import_opts *opts) {
  char *listing;
  size_t n = 99;
  int rc = import_text(f, kind, name, text, opts, &listing, &n);
  if (rc != DB_OK) fprintf(stderr, "%s", listing);
  assert_int_equal(rc, DB_OK);
  assert_string_equal(listing, "");
  free(listing);
  return n;
}

/* Imports text that must be refused with exactly the problems `expected`; nothing is imported. */
static void import_fails(fixture *f, const char *kind, const char *name, const char *text,
                         const db_catalog_import_opts *opts, const char *expected) {
  char *listing;
  size_t n = 99;
  assert_int_equal(import_text(f, kind, name, text, opts, &listing, &n), DB_EINVAL);
  assert_string_equal(listing, expected);
  assert_int_equal(n, 0);
  free(listing);
}

static void load(fixture *f, db_catalog *c) {
  db_diag d = DB_DIAG_INIT;
  db_catalog_init(c);
  assert_int_equal(db_store_load_catalog(f->s, c), DB_OK);
  assert_int_equal(db_catalog_link(c, &d), DB_OK);
  db_diag_free(&d);
}

/* Exports kind in format to a string (owned). */
static char *export_text(db_store *s, const char *kind, const char *format) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  assert_int_equal(db_catalog_export(s, kind, out, format), DB_OK);
  fclose(out);
  return text;
}

/* The files of ../shared/bench/peers/gen.py, small: write_meta() and write_indicators() verbatim. */
static const char *const GEN_ORGUNITS =
    "code,name,parent\n"
    "79,City of Example,\n"
    "10412,Ashbridge North,79\n"
    "11873,Oakfield,79\n"
    "12906,Elmford Central,79\n";
static const char *const GEN_INDICATORS =
    "code,name,unit,aggregation\n"
    "IND0001,\"Births registered (female)\",births,sum\n"
    "IND0002,\"Unemployment rate (age 18-64)\",%,avg\n"
    "IND0003,\"PM2.5 concentration (total)\",ug/m3,avg\n";

static const db_catalog_import_opts MONTHLY = {.periodicity = DB_PT_MONTH};

typedef struct audit_seen {
  int n;
  char actor[32], action[32], object[32], detail[128];
} audit_seen;

static int last_audit(void *ctx, int64_t id, const db_audit *a) {
  audit_seen *seen = ctx;
  seen->n++;
  snprintf(seen->actor, sizeof seen->actor, "%s", a->actor);
  snprintf(seen->action, sizeof seen->action, "%s", a->action);
  snprintf(seen->object, sizeof seen->object, "%s", a->object);
  snprintf(seen->detail, sizeof seen->detail, "%s", a->detail ? a->detail : "");
  return 0;
}

static void test_synthetic_city(void **state) {
  fixture *f = *state;
  assert_int_equal(import_ok(f, "orgunits", "orgunits.csv", GEN_ORGUNITS, NULL), 4);
  assert_int_equal(import_ok(f, "indicators", "indicators.csv", GEN_INDICATORS, &MONTHLY), 3);

  db_catalog c;
  load(f, &c);
  assert_int_equal(c.n_units, 4);
  const db_orgunit *city = db_catalog_unit(&c, "79"), *w = db_catalog_unit(&c, "11873");
  assert_int_equal(city->kind, DB_OU_CITY);
  assert_null(city->parent);
  assert_int_equal(city->level, 0);
  assert_int_equal(w->kind, DB_OU_WARD);
  assert_string_equal(w->parent, "79");
  assert_string_equal(w->name, "Oakfield");
  assert_int_equal(w->level, 1);
  const db_indicator *births = db_catalog_indicator(&c, "IND0001"),
                     *rate = db_catalog_indicator(&c, "IND0002");
  assert_string_equal(births->name, "Births registered (female)");
  assert_int_equal(births->agg_space, DB_AGG_SUM);
  assert_int_equal(births->agg_time, DB_AGG_SUM);
  assert_int_equal(births->periodicity, DB_PT_MONTH);
  assert_string_equal(rate->unit, "%");
  assert_int_equal(rate->agg_space, DB_AGG_AVG);
  assert_int_equal(rate->agg_time, DB_AGG_AVG);
  assert_int_equal(rate->decimals, 2);
  assert_int_equal(rate->polarity, DB_POL_NEUTRAL);
  assert_true(db_is_unknown(rate->valid_min));
  db_catalog_free(&c);

  audit_seen seen = {0};
  assert_int_equal(db_store_audit_read(f->s, 0, last_audit, &seen), DB_OK);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.actor, "cli");
  assert_string_equal(seen.action, "catalog.import");
  assert_string_equal(seen.object, "indicators");
  assert_string_equal(seen.detail, "{\"file\":\"indicators.csv\",\"count\":3}");

  /* without a periodicity the indicators file is refused at its header */
  import_fails(f, "indicators", "indicators.csv", GEN_INDICATORS, NULL,
               "line 1, periodicity: missing required column 'periodicity'\n");
}

static void test_gso_list(void **state) {
  fixture *f = *state;
  assert_int_equal(import_ok(f, "orgunits", "units.csv",
                             "code,name,type,parent\n"
                             "79,Thành phố Hồ Chí Minh,Thành phố,\n"
                             "26734,Phường Sài Gòn,Phường,79\n"
                             "27595,Xã Bình Chánh,Xã,79\n"
                             "26728,Đặc khu Côn Đảo,Đặc khu,79\n",
                             NULL),
                   4);
  db_catalog_import_opts legacy = {.legacy = 1, .actor = "steward"};
  assert_int_equal(import_ok(f, "orgunits", "old.csv",
                             "code,name,type,parent,valid_to\n"
                             "760,Quận 1,Quận,79,2025-06-30\n"
                             "26737,Phường Đa Kao,Phường,760,2025-06-30\n"
                             "26740,Phường Bến Nghé,Phường,760,2025-06-30\n"
                             "27601,Thị trấn Tân Túc,Thị trấn,760,2025-06-30\n",
                             &legacy),
                   4);
  assert_int_equal(import_ok(f, "successions", "merge.csv",
                             "from,to,weight\n"
                             "26737,26734,\n"
                             "26740,26734,0.6\n"
                             "26740,27595,0.4\n",
                             NULL),
                   3);
  db_catalog c;
  load(f, &c);
  static const struct {
    const char *code;
    db_ou_kind kind;
    int level;
  } expect[] = {{"79", DB_OU_CITY, 0},
                {"26734", DB_OU_WARD, 1},
                {"27595", DB_OU_COMMUNE, 1},
                {"26728", DB_OU_SPECIAL_ZONE, 1},
                {"760", DB_OU_LEGACY_DISTRICT, 1},
                {"26737", DB_OU_LEGACY_WARD, 2},
                {"26740", DB_OU_LEGACY_WARD, 2},
                {"27601", DB_OU_LEGACY_WARD, 2}};
  for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
    const db_orgunit *ou = db_catalog_unit(&c, expect[i].code);
    assert_non_null(ou);
    assert_int_equal(ou->kind, expect[i].kind);
    assert_int_equal(ou->level, expect[i].level);
  }
  assert_int_equal(db_catalog_unit(&c, "760")->valid_to, db_catalog_unit(&c, "26737")->valid_to);
  assert_int_equal(c.n_successions, 3);
  for (size_t i = 0; i < c.n_successions; i++) {
    const db_succession *su = &c.successions[i];
    char date[11];
    db_format_date(su->date, date);
    assert_string_equal(date, "2025-07-01");
    if (strcmp(su->from, "26737") == 0) {
      assert_true(su->weight == 1 && su->partial == 0);
    } else {
      assert_int_equal(su->partial, 1);
    }
  }
  db_catalog_free(&c);
  audit_seen seen = {0};
  assert_int_equal(db_store_audit_read(f->s, 0, last_audit, &seen), DB_OK);
  assert_int_equal(seen.n, 3);
  assert_string_equal(seen.object, "successions");
  assert_string_equal(seen.detail, "{\"file\":\"merge.csv\",\"count\":3}");
}

/* The store keeps each unit's level: adding the country above the city moves every ward down a level,
 * though the file names only the country and the city. */
static void test_levels_stored(void **state) {
  fixture *f = *state;
  import_ok(f, "orgunits", "u.csv", GEN_ORGUNITS, NULL);
  db_catalog c;
  db_catalog_init(&c);
  assert_int_equal(db_store_load_catalog(f->s, &c), DB_OK); /* as stored: not linked again */
  assert_int_equal(db_catalog_unit(&c, "79")->level, 0);
  assert_int_equal(db_catalog_unit(&c, "12906")->level, 1);
  db_catalog_free(&c);
  assert_int_equal(
      import_ok(f, "orgunits", "vn.csv",
                "code,name,kind,parent\n79,City of Example,city,VN\nVN,Việt Nam,country,\n", NULL),
      2);
  db_catalog_init(&c);
  assert_int_equal(db_store_load_catalog(f->s, &c), DB_OK);
  assert_int_equal(db_catalog_unit(&c, "VN")->level, 0);
  assert_int_equal(db_catalog_unit(&c, "79")->level, 1);
  assert_int_equal(db_catalog_unit(&c, "10412")->level, 2);
  assert_int_equal(db_catalog_unit(&c, "12906")->level, 2);
  assert_string_equal(db_catalog_unit(&c, "12906")->name, "Elmford Central");
  db_catalog_free(&c);
  audit_seen seen = {0};
  assert_int_equal(db_store_audit_read(f->s, 0, last_audit, &seen), DB_OK);
  assert_string_equal(seen.detail, "{\"file\":\"vn.csv\",\"count\":2}");
}

static void test_header_problems(void **state) {
  fixture *f = *state;
  import_fails(
      f, "orgunits", "u.csv", "code,nme,colour,parent\n79,City,red,\n", NULL,
      "line 1, column 2, nme: unknown column 'nme'; the columns of orgunits are code, name, name_en, "
      "kind (or type), parent, valid_from, valid_to, population, area_km2, attributes\n"
      "line 1, column 3, colour: unknown column 'colour'; the columns of orgunits are code, name, name_en, "
      "kind (or type), parent, valid_from, valid_to, population, area_km2, attributes\n"
      "line 1, name: missing required column 'name'\n");
  import_fails(f, "orgunits", "u.csv", "code,name,kind,type\n", NULL,
               "line 1, column 4, type: column 'type' repeats column 3 ('kind')\n");
  import_fails(f, "orgunits", "u.csv", "", NULL,
               "line 1, the file is empty: a header row naming the columns is expected\n");
  import_fails(
      f, "dimensions", "d.csv", "code,name,items\n", NULL,
      "line 1, column 3, items: unknown column 'items'; the columns of dimensions are code, name, item, "
      "item_name\n");
}

static void test_row_problems(void **state) {
  fixture *f = *state;
  import_fails(
      f, "orgunits", "u.csv",
      "code,name,kind,parent,valid_from,population\n"
      "79,City,city,,,\n"
      "26 734,Ward,ward,79,2025-02-30,12k\n"
      "26737,,village,79,,\n"
      "26740,Ward 3,ward\n"
      "26743,Ward 4,ward,79,,-3\n"
      "26737,Ward 5,ward,79,,\n",
      NULL,
      "line 3, column 5, valid_from: '2025-02-30' is not a date (YYYY-MM-DD)\n"
      "line 3, column 6, population: '12k' is not a number\n"
      "line 4, column 3, kind: 'village' is not an org unit kind (country, city, ward, commune, "
      "special_zone, legacy_district, legacy_ward, site, or a Vietnamese unit type such as Phường, Xã, "
      "Đặc khu, Quận)\n"
      "line 5, the row has 3 fields; the header has 6\n"
      "line 7, column 1, code: duplicate code '26737' (first at line 4)\n"
      "line 3, column 1, code: code '26 734' has a character other than A-Z a-z 0-9 _ . - at position 3\n"
      "line 4, column 2, name: name is required\n"
      "line 6, column 6, population: population must not be negative, not -3\n");

  db_catalog_import_opts opts = MONTHLY;
  import_fails(
      f, "indicators", "i.csv",
      "code,name,periodicity,aggregation,agg_time,decimals,polarity,weight,valid_min,valid_max,is_public\n"
      "A,Rate,month,avg,sum,2,higher,,0,100,1\n"
      "B,Stock,monthly,wavg,last,two,up,,,,yes\n"
      "C,Flow,P1M,sum,sum,11,,C,5,1,0\n",
      &opts,
      "line 3, column 3, periodicity: 'monthly' is not a periodicity (5min, 15min, hour, day, week, month, "
      "quarter, half, year, multiyear)\n"
      "line 3, column 6, decimals: 'two' is not an integer\n"
      "line 3, column 7, polarity: 'up' is not a polarity (higher, lower, neutral)\n"
      "line 3, column 11, is_public: 'yes' is not 0, 1, true or false\n"
      "line 2, column 5, agg_time: an indicator averaged over units (agg_space avg) is not summed over "
      "time: agg_time must not be sum\n"
      "line 3, column 8, weight: agg_space wavg needs a weight indicator\n"
      "line 4, column 8, weight: weight is only for agg_space wavg\n"
      "line 4, column 6, decimals: decimals must be 0..10, not 11\n"
      "line 4, column 9, valid_min: valid_min 5 is greater than valid_max 1\n");

  /* a problem of the CSV reader (a quote that never closes) refuses the file too */
  import_fails(f, "agencies", "a.csv", "code,name\nSOF,\"Sở Tài chính\nDOH,Sở Y tế\n", NULL,
               "line 2, column 2, quoted field is never closed (its opening quote is on this line)\n");
}

static void test_catalog_level_problems(void **state) {
  fixture *f = *state;
  /* an unknown parent, and a kind that cannot be inferred */
  import_fails(
      f, "orgunits", "u.csv",
      "code,name,kind,parent\n"
      "79,City,,\n"
      "760,Quận 1,legacy_district,79\n"
      "26734,Ward,,760\n"
      "26737,Ward 2,,761\n",
      NULL,
      "line 4, column 3, kind: kind is required: without one, only a unit without parent (a city) and the "
      "children of a city (wards) are inferred, and parent '760' is not a city\n"
      "line 5, column 4, parent: unknown org unit '761'\n");
  /* a cycle */
  import_fails(f, "orgunits", "u.csv", "code,name,kind,parent\nA,A,ward,B\nB,B,ward,A\n", NULL,
               "line 2, column 4, parent: parent cycle: A -> B -> A\n");
  assert_int_equal(import_ok(f, "orgunits", "u.csv", GEN_ORGUNITS, NULL), 4);
  /* unknown owner, weight and dimension of indicators */
  import_fails(f, "indicators", "i.csv",
               "code,name,periodicity,agg_space,weight,owner,dimensions\n"
               "HH_SIZE,Household size,year,wavg,POPULATION,SOF,SEX\n",
               NULL,
               "line 2, column 6, owner: unknown agency 'SOF'\n"
               "line 2, column 5, weight: unknown indicator 'POPULATION'\n"
               "line 2, column 7, dimensions: unknown dimension 'SEX'\n");
  /* successions: unknown units, weights out of one unit above 1 */
  import_fails(
      f, "successions", "s.csv",
      "from,to,weight\n"
      "10412,11873,0.7\n"
      "10412,12906,0.5\n"
      "99999,11873,\n",
      NULL,
      "line 4, column 1, from: unknown org unit '99999'\n"
      "line 3, column 3, weight: the weights of the successions out of '10412' add up to 1.2, more than "
      "1\n");
  /* targets: unknown indicator and unit, bad period, duplicate */
  import_ok(f, "indicators", "i.csv", GEN_INDICATORS, &MONTHLY);
  import_fails(f, "targets", "t.csv",
               "indicator,orgunit,period,value\n"
               "IND0001,79,2025,1200\n"
               "IND0001,79,2025,1300\n"
               "IND9999,80,2025,1\n"
               "IND0002,79,2025-13,5\n",
               NULL,
               "line 3, column 3, period: duplicate target 'IND0001, 79, 2025, plan' (first at line 2)\n"
               "line 5, column 3, period: period '2025-13' is not valid: month 13 out of range 01..12\n"
               "line 4, column 1, indicator: unknown indicator 'IND9999'\n"
               "line 4, column 2, orgunit: unknown org unit '80'\n");
  /* dimensions: rows of one code must agree on its name */
  import_fails(f, "dimensions", "d.csv",
               "code,name,item,item_name\n"
               "SEX,Giới tính,F,Nữ\n"
               "SEX,Gender,M,Nam\n"
               "AGE,Tuổi,,Y15\n"
               "SEX,Giới tính,F,Female\n",
               NULL,
               "line 3, column 2, name: name 'Gender' differs from 'Giới tính' on line 2\n"
               "line 4, column 4, item_name: item_name needs an item\n"
               "line 5, column 3, item: duplicate item 'F' (also items[0])\n");
}

static void test_all_or_nothing(void **state) {
  fixture *f = *state;
  assert_int_equal(import_ok(f, "orgunits", "u.csv", GEN_ORGUNITS, NULL), 4);
  /* two new wards, a renamed one, and one bad row: nothing of it is written */
  import_fails(f, "orgunits", "u2.csv",
               "code,name,parent\n"
               "13001,Birchgate,79\n"
               "11873,Oakfield Renamed,79\n"
               "13002,Cedarwick,79\n"
               "13003,,79\n",
               NULL, "line 5, column 2, name: name is required\n");
  db_catalog c;
  load(f, &c);
  assert_int_equal(c.n_units, 4);
  assert_null(db_catalog_unit(&c, "13001"));
  assert_string_equal(db_catalog_unit(&c, "11873")->name, "Oakfield");
  db_catalog_free(&c);
  audit_seen seen = {0};
  assert_int_equal(db_store_audit_read(f->s, 0, last_audit, &seen), DB_OK);
  assert_int_equal(seen.n, 1);
}

static void test_json(void **state) {
  fixture *f = *state;
  assert_int_equal(import_ok(f, "orgunits", "u.json",
                             "[{\"code\": \"79\", \"name\": \"Thành phố Hồ Chí Minh\", \"kind\": \"city\","
                             "  \"attributes\": {\"region\": \"Đông Nam Bộ\"}},"
                             " {\"code\": \"26734\", \"name\": \"Phường Sài Gòn\", \"type\": \"Phường\","
                             "  \"parent\": \"79\", \"population\": 47020, \"valid_from\": \"2025-07-01\","
                             "  \"geometry\": {\"type\": \"Point\", \"coordinates\": [106.7, 10.78]}}]",
                             NULL),
                   2);
  assert_int_equal(
      import_ok(f, "dimensions", "d.json",
                "{\"dimensions\": [{\"code\": \"SEX\", \"name\": \"Giới tính\","
                " \"items\": [{\"code\": \"F\", \"name\": \"Nữ\"}, {\"code\": \"M\", \"name\": \"Nam\"}]}]}",
                NULL),
      1);
  db_catalog c;
  load(f, &c);
  const db_orgunit *w = db_catalog_unit(&c, "26734");
  assert_int_equal(w->kind, DB_OU_WARD);
  assert_true(w->population == 47020);
  assert_string_equal(w->geometry, "{\"type\":\"Point\",\"coordinates\":[106.7,10.78]}");
  assert_string_equal(db_catalog_unit(&c, "79")->attributes, "{\"region\":\"Đông Nam Bộ\"}");
  const db_dimension *sex = db_catalog_dimension(&c, "SEX");
  assert_int_equal(sex->n_items, 2);
  assert_string_equal(sex->items[1].name, "Nam");
  db_catalog_free(&c);

  import_fails(
      f, "indicators", "i.json",
      "{\"indicators\": [{\"code\": \"CPI_YOY\", \"name\": \"CPI\", \"periodicity\": \"month\","
      " \"decimals\": 1.5, \"agg_space\": \"avg\", \"is_public\": true, \"colour\": \"red\"},"
      " {\"code\": 42, \"name\": \"X\", \"periodicity\": \"monthly\", \"owner\": \"GSO\"}, 7]}",
      NULL,
      "$.indicators[0].decimals: expected an integer\n"
      "$.indicators[0].colour: unknown member 'colour'; the members of indicators are code, name, name_en, "
      "description, unit, unit_mult, decimals, periodicity, period_span, agg_space (or aggregation), "
      "weight, agg_time, polarity, valid_min, valid_max, owner, sector, groups, is_public, legal_ref, "
      "formula, dimensions, source, synthetic, band_at_risk, band_off_track\n"
      "$.indicators[1].code: expected a string\n"
      "$.indicators[1].periodicity: 'monthly' is not a periodicity (5min, 15min, hour, day, week, month, "
      "quarter, half, year, multiyear)\n"
      "$.indicators[2]: expected an object\n");
  import_fails(
      f, "dimensions", "d.json",
      "[{\"code\": \"AGE\", \"name\": \"Tuổi\", \"items\": [{\"code\": \"Y0T14\", \"label\": \"0-14\"},"
      " {\"code\": \"Y0T14\", \"name\": \"0-14\"}]}]",
      NULL, "$[0].items[0].label: unknown member 'label'; an item has code and name\n");
  import_fails(f, "orgunits", "u.json", "[{\"code\": \"1\",]", NULL,
               "line 1, column 15, not valid JSON: string or '}' expected near ']'\n");
  import_fails(f, "orgunits", "u.json", "{\"units\": []}", NULL,
               "$: expected an array of objects or {\"orgunits\": [...]}\n");
  import_fails(
      f, "orgunits", "u.json",
      "[{\"code\": \"26737\", \"name\": \"Ward\", \"parent\": \"79\", \"geometry\": {\"type\": \"Blob\"}}]",
      NULL,
      "$[0].geometry: expected a GeoJSON geometry object (type Point, Polygon, MultiPolygon… with "
      "coordinates)\n");
}

static const char *const FEATURES =
    "{\"type\": \"FeatureCollection\", \"features\": ["
    "{\"type\": \"Feature\", \"properties\": {\"code\": \"10412\", \"population\": 18000, \"area_km2\": "
    "\"3.25\"},"
    " \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[106.1, 10.1], [106.2, 10.1], [106.2, 10.2],"
    " [106.1, 10.1]]]}},"
    "{\"type\": \"Feature\", \"properties\": {\"code\": \"11873\", \"name\": \"Oakfield\"},"
    " \"geometry\": {\"type\": \"MultiPolygon\", \"coordinates\": [[[[106.3, 10.3], [106.4, 10.3], [106.4, "
    "10.4],"
    " [106.3, 10.3]]]]}}]}";

static void test_geometry(void **state) {
  fixture *f = *state;
  assert_int_equal(import_ok(f, "orgunits", "u.csv", GEN_ORGUNITS, NULL), 4);
  assert_int_equal(import_ok(f, "geometry", "wards.geojson", FEATURES, NULL), 2);
  db_catalog c;
  load(f, &c);
  const db_orgunit *a = db_catalog_unit(&c, "10412"), *b = db_catalog_unit(&c, "11873");
  assert_string_equal(
      a->geometry,
      "{\"type\":\"Polygon\",\"coordinates\":[[[106.1,10.1],[106.2,10.1],[106.2,10.2],[106.1,10.1]]]}");
  assert_true(a->population == 18000 && a->area_km2 == 3.25);
  assert_non_null(b->geometry);
  assert_true(db_is_unknown(b->population));
  db_catalog_free(&c);

  /* re-importing the units from the synthetic file keeps what the geometry import set */
  assert_int_equal(import_ok(f, "orgunits", "u.csv", GEN_ORGUNITS, NULL), 4);
  load(f, &c);
  a = db_catalog_unit(&c, "10412");
  assert_non_null(a->geometry);
  assert_true(a->population == 18000 && a->area_km2 == 3.25);
  db_catalog_free(&c);

  /* named properties, as in the data pack's file */
  db_catalog_import_opts pack = {
      .code_property = "ma", .population_property = "population_bando", .area_property = "areaKm2"};
  assert_int_equal(
      import_ok(f, "geometry", "pack.json",
                "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\","
                " \"properties\": {\"ma\": \"12906\", \"population_bando\": 21000, \"areaKm2\": 4.5},"
                " \"geometry\": {\"type\": \"Point\", \"coordinates\": [106.5, 10.5]}}]}",
                &pack),
      1);
  load(f, &c);
  assert_true(db_catalog_unit(&c, "12906")->population == 21000);
  db_catalog_free(&c);

  import_fails(f, "geometry", "bad.geojson",
               "{\"type\": \"FeatureCollection\", \"features\": ["
               "{\"type\": \"Feature\", \"properties\": {\"code\": \"99999\"}, \"geometry\": null},"
               "{\"type\": \"Feature\", \"properties\": {\"code\": 10412}, \"geometry\": null},"
               "{\"type\": \"Feature\", \"properties\": {\"code\": \"11873\", \"population\": \"many\"},"
               " \"geometry\": {\"type\": \"Point\"}},"
               "{\"type\": \"Feature\", \"properties\": {\"code\": \"12906\", \"area_km2\": -2},"
               " \"geometry\": {\"type\": \"Point\", \"coordinates\": [106.5, 10.5]}},"
               "{\"type\": \"Feature\", \"properties\": {\"code\": \"12906\"}, \"geometry\": null}]}",
               NULL,
               "$.features[0].properties.code: unknown org unit '99999'\n"
               "$.features[1].properties.code: expected the unit code as a string in property 'code'\n"
               "$.features[2].geometry: expected a GeoJSON geometry object\n"
               "$.features[2].properties.population: expected a number\n"
               "$.features[3].properties.area_km2: area_km2 must not be negative, not -2\n"
               "$.features[4].properties.code: duplicate unit '12906' (first at $.features[3])\n");
  import_fails(f, "geometry", "g.csv", "code\n", NULL,
               "geometry files are GeoJSON (.geojson or .json), not CSV\n");
  char *listing;
  size_t n;
  assert_int_equal(import_text(f, "orgunits", "u.txt", "code\n", NULL, &listing, &n), DB_EINVAL);
  assert_non_null(strstr(listing, "/u.txt from its extension (.csv, .json, .geojson); name the format\n"));
  free(listing);
  db_catalog_import_opts as_csv = {.format = "csv"};
  import_fails(f, "orgunits", "u.txt", "code\n", &as_csv, "line 1, name: missing required column 'name'\n");
}

static void test_bad_arguments(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  size_t n = 5;
  assert_int_equal(db_catalog_import(f->s, "people", "x.csv", NULL, &d, &n), DB_EINVAL);
  assert_int_equal(n, 0);
  assert_string_equal(d.items[0].message,
                      "unknown catalog kind 'people' (orgunits, successions, agencies, "
                      "indicators, dimensions, targets, geometry)");
  db_diag_clear(&d);
  assert_int_equal(db_catalog_import(f->s, "orgunits", "/nonexistent/u.csv", NULL, &d, &n), DB_EIO);
  assert_int_equal(db_catalog_import(f->s, "orgunits", "/nonexistent/u.json", NULL, &d, &n), DB_EIO);
  assert_string_equal(d.items[1].message, "cannot open /nonexistent/u.json: No such file or directory");
  db_diag_free(&d);
  FILE *devnull = fopen("/dev/null", "w");
  assert_int_equal(db_catalog_export(f->s, "people", devnull, NULL), DB_EINVAL);
  assert_int_equal(db_catalog_export(f->s, "orgunits", devnull, "xlsx"), DB_EINVAL);
  assert_int_equal(db_catalog_export(f->s, "geometry", devnull, "csv"), DB_EINVAL);
  fclose(devnull);
}

/* A full catalog in the import formats: every column of every kind used at least once. */
static void fill_full_catalog(fixture *f) {
  import_ok(f, "orgunits", "u.csv",
            "code,name,name_en,type,parent,valid_from,valid_to,population,area_km2,attributes\n"
            "VN,Việt Nam,Vietnam,country,,,,,,\n"
            "79,\"Thành phố Hồ Chí Minh\",Ho Chi Minh City,Thành phố,VN,,,14002598,6772.59,\n"
            "26734,Phường Sài Gòn,Saigon Ward,Phường,79,2025-07-01,,47020,3.56,\"{\"\"admin_center\"\": "
            "\"\"Lê Thánh Tôn, Q.1\"\"}\"\n"
            "760,Quận 1,District 1,legacy_district,79,,2025-06-30,,7.73,\n"
            "26737,Phường Bến Nghé,,legacy_ward,760,,2025-06-30,,,\n"
            "ST1,\"Trạm quan trắc 1, Q.1\",,site,26734,,,,,\n",
            NULL);
  import_ok(f, "successions", "s.csv", "from,to,weight,partial,date\n26737,26734,0.75,1,2025-07-01\n", NULL);
  import_ok(f, "agencies", "a.csv",
            "code,name,name_en,kind,orgunit,parent\n"
            "UBND,Ủy ban nhân dân TP.HCM,People's Committee,other,79,\n"
            "SOF,Sở Tài chính,Department of Finance,department,79,UBND\n",
            NULL);
  import_ok(f, "dimensions", "d.csv",
            "code,name,item,item_name\nSEX,Giới tính,F,Nữ\nSEX,Giới tính,M,Nam\nAREA,\"Khu vực\",,\n", NULL);
  import_ok(
      f, "indicators", "i.csv",
      "code,name,name_en,description,unit,unit_mult,decimals,periodicity,period_span,agg_space,weight,"
      "agg_time,polarity,valid_min,valid_max,owner,sector,groups,is_public,legal_ref,formula,dimensions,"
      "source,synthetic\n"
      "POPULATION,Dân số,Population,,người,0,0,year,0,sum,,last,neutral,0,,SOF,population,R01,1,0101,,SEX,"
      "GSO,0\n"
      "HH_SIZE,Quy mô hộ,Household size,\"Persons per household, "
      "average\",người/hộ,0,1,year,,wavg,POPULATION,"
      "last,neutral,0.5,20,SOF,population,R01;G2,0,,,,\"GSO, census\",1\n"
      "GRDP_PLAN,GRDP growth plan,,,%,0,1,multiyear,5,none,,none,higher,,,,,,,,,,,\n"
      "BUDGET_RATE,Budget achievement,,,%,0,1,month,,avg,,avg,+,,,,,,,,100 * BUDGET_REV / "
      "plan(BUDGET_REV),,,\n"
      "BUDGET_REV,Budget revenue,,,billion VND,9,0,month,,sum,,sum,higher,,,,,,,,,,,\n",
      NULL);
  import_ok(f, "targets", "t.csv",
            "indicator,orgunit,period,kind,value,source\n"
            "BUDGET_REV,79,2025,plan,540000,Nghị quyết 01/NQ-CP 2025\n"
            "GRDP_PLAN,79,2021/P5Y,goal,8.5,\n",
            NULL);
}

static const char *const KINDS[] = {"orgunits",   "successions", "agencies",
                                    "dimensions", "indicators",  "targets"};

static void test_round_trip(void **state) {
  fixture *f = *state;
  fill_full_catalog(f);
  char *csv[6];
  for (int k = 0; k < 6; k++) csv[k] = export_text(f->s, KINDS[k], NULL);
  assert_string_equal(csv[3],
                      "code,name,item,item_name\nSEX,Giới tính,F,Nữ\nSEX,Giới tính,M,Nam\nAREA,Khu vực,,\n");
  assert_string_equal(csv[1], "from,to,weight,partial,date\n26737,26734,0.75,1,2025-07-01\n");

  /* CSV: export, import into a fresh store, export again: the same text */
  fixture copy = {f->dir, open_store(f->dir, "copy.db")};
  for (int k = 0; k < 6; k++) {
    db_buf name = DB_BUF_INIT;
    db_buf_printf(&name, "%s.csv", KINDS[k]);
    import_ok(&copy, KINDS[k], db_buf_str(&name), csv[k], NULL);
    char *again = export_text(copy.s, KINDS[k], "csv");
    assert_string_equal(again, csv[k]);
    free(again);
    db_buf_free(&name);
  }
  db_store_close(copy.s);

  /* JSON: the same objects come back (compared through their CSV export) */
  copy.s = open_store(f->dir, "json.db");
  for (int k = 0; k < 6; k++) {
    char *json = export_text(f->s, KINDS[k], "json");
    db_buf name = DB_BUF_INIT;
    db_buf_printf(&name, "%s.json", KINDS[k]);
    import_ok(&copy, KINDS[k], db_buf_str(&name), json, NULL);
    char *again = export_text(copy.s, KINDS[k], "csv");
    assert_string_equal(again, csv[k]);
    free(again);
    free(json);
    db_buf_free(&name);
  }
  /* geometry: GeoJSON export and import */
  import_ok(f, "geometry", "g.geojson",
            "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\","
            " \"properties\": {\"code\": \"26734\"}, \"geometry\": {\"type\": \"Point\", \"coordinates\": "
            "[106.7, 10.78]}}]}",
            NULL);
  char *geo = export_text(f->s, "geometry", NULL);
  import_ok(&copy, "geometry", "g.geojson", geo, NULL);
  char *geo_again = export_text(copy.s, "geometry", "geojson");
  assert_string_equal(geo_again, geo);
  assert_string_equal(
      geo,
      "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":"
      "{\"code\":\"26734\",\"name\":\"Phường Sài Gòn\",\"population\":47020.0,\"area_km2\":3.56},"
      "\"geometry\":{\"type\":\"Point\",\"coordinates\":[106.7,10.78]}}]}\n");
  free(geo_again);
  free(geo);
  db_store_close(copy.s);
  for (int k = 0; k < 6; k++) free(csv[k]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_synthetic_city, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gso_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_levels_stored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_header_problems, setup, teardown),
      cmocka_unit_test_setup_teardown(test_row_problems, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catalog_level_problems, setup, teardown),
      cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_geometry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
