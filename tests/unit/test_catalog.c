/* test_catalog.c - catalog objects: kind/aggregation/polarity names, validation messages, copies, and
 * the in-memory catalog (lookups, replacement, tree, cross-object checks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "model/catalog.h"
#include "testutil.h"

/* ---- names ---- */

static void test_ou_kind_names(void **state) {
  (void)state;
  const char *names[] = {"country",         "city",        "ward", "commune", "special_zone",
                         "legacy_district", "legacy_ward", "site"};
  for (int k = DB_OU_COUNTRY; k <= DB_OU_SITE; k++) {
    db_ou_kind got = 0;
    assert_string_equal(db_ou_kind_name((db_ou_kind)k), names[k - 1]);
    assert_int_equal(db_ou_kind_parse(names[k - 1], &got), DB_OK);
    assert_int_equal(got, k);
  }
  assert_string_equal(db_ou_kind_name(0), "unknown");
  db_ou_kind k = 0;
  assert_int_equal(db_ou_kind_parse("WARD", &k), DB_OK);
  assert_int_equal(k, DB_OU_WARD);
  assert_int_equal(db_ou_kind_parse("village", &k), DB_EINVAL);
  assert_int_equal(db_ou_kind_parse("", &k), DB_EINVAL);
  assert_int_equal(db_ou_kind_parse(NULL, &k), DB_EINVAL);
}

static void test_ou_kind_vietnamese(void **state) {
  (void)state;
  static const struct {
    const char *type;
    db_ou_kind current, legacy;
  } cases[] = {
      {"Phường", DB_OU_WARD, DB_OU_LEGACY_WARD},
      {"phường", DB_OU_WARD, DB_OU_LEGACY_WARD},
      {"Phuong", DB_OU_WARD, DB_OU_LEGACY_WARD},
      {"Xã", DB_OU_COMMUNE, DB_OU_LEGACY_WARD},
      {"Đặc khu", DB_OU_SPECIAL_ZONE, DB_OU_SPECIAL_ZONE},
      {"đặc khu", DB_OU_SPECIAL_ZONE, DB_OU_SPECIAL_ZONE},
      {"Thị trấn", DB_OU_LEGACY_WARD, DB_OU_LEGACY_WARD},
      {"Quận", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
      {"Huyện", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
      {"Thị xã", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
      {"Thành phố", DB_OU_CITY, DB_OU_LEGACY_DISTRICT},
      {"Thành phố Trung ương", DB_OU_CITY, DB_OU_CITY},
      {"Tỉnh", DB_OU_CITY, DB_OU_CITY},
      {"ward", DB_OU_WARD, DB_OU_WARD},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    db_ou_kind now = 0, before = 0;
    assert_int_equal(db_ou_kind_parse(cases[i].type, &now), DB_OK);
    assert_int_equal(db_ou_kind_parse_legacy(cases[i].type, &before), DB_OK);
    assert_int_equal(now, cases[i].current);
    assert_int_equal(before, cases[i].legacy);
  }
  db_ou_kind k;
  assert_int_equal(db_ou_kind_parse("Phường ", &k), DB_EINVAL);
  assert_int_equal(db_ou_kind_parse_legacy("Ấp", &k), DB_EINVAL);
}

static void test_agg_and_polarity(void **state) {
  (void)state;
  const char *aggs[] = {"none", "sum", "avg", "wavg", "min", "max", "last"};
  for (int a = DB_AGG_NONE; a <= DB_AGG_LAST; a++) {
    db_agg got = -1;
    assert_string_equal(db_agg_name((db_agg)a), aggs[a]);
    assert_int_equal(db_agg_parse(aggs[a], &got), DB_OK);
    assert_int_equal(got, a);
  }
  db_agg a;
  assert_int_equal(db_agg_parse("mean", &a), DB_EINVAL);
  assert_string_equal(db_agg_name((db_agg)42), "unknown");

  static const struct {
    const char *text;
    db_polarity pol;
  } pols[] = {{"higher", DB_POL_HIGHER}, {"+", DB_POL_HIGHER},        {"1", DB_POL_HIGHER},
              {"+1", DB_POL_HIGHER},     {"Lower", DB_POL_LOWER},     {"-", DB_POL_LOWER},
              {"-1", DB_POL_LOWER},      {"neutral", DB_POL_NEUTRAL}, {"0", DB_POL_NEUTRAL}};
  for (size_t i = 0; i < sizeof pols / sizeof pols[0]; i++) {
    db_polarity p = 7;
    assert_int_equal(db_polarity_parse(pols[i].text, &p), DB_OK);
    assert_int_equal(p, pols[i].pol);
  }
  db_polarity p;
  assert_int_equal(db_polarity_parse("up", &p), DB_EINVAL);
  assert_string_equal(db_polarity_name(DB_POL_HIGHER), "higher");
  assert_string_equal(db_polarity_name(DB_POL_LOWER), "lower");
  assert_string_equal(db_polarity_name(DB_POL_NEUTRAL), "neutral");
}

/* ---- validation ---- */

static db_orgunit ward(const char *code, const char *parent) {
  db_orgunit ou;
  db_orgunit_init(&ou);
  ou.code = (char *)code;
  ou.name = (char *)"Phường Bến Thành";
  ou.kind = parent ? DB_OU_WARD : DB_OU_CITY;
  ou.parent = (char *)parent;
  return ou;
}

static void test_orgunit_validate(void **state) {
  (void)state;
  db_diag d = DB_DIAG_INIT;
  db_orgunit ou = ward("26734", "79");
  assert_int_equal(db_orgunit_validate(&ou, 4, &d), DB_OK);
  assert_int_equal(db_diag_total(&d), 0);
  assert_true(db_is_unknown(ou.population));
  assert_true(ou.valid_from == DB_DATE_NONE && ou.valid_to == DB_DATE_NONE);

  ou.code = (char *)"26 734";
  ou.name = (char *)"";
  ou.kind = 0;
  ou.parent = (char *)"26 734";
  ou.valid_from = 20270;
  ou.valid_to = 20269;
  ou.population = -5;
  ou.area_km2 = -1.5;
  assert_int_equal(db_orgunit_validate(&ou, 4, &d), DB_EINVAL);
  assert_problems(
      &d,
      "line 4, code: code '26 734' has a character other than A-Z a-z 0-9 _ . - at position 3\n"
      "line 4, name: name is required\n"
      "line 4, kind: kind is required\n"
      "line 4, parent: parent '26 734' has a character other than A-Z a-z 0-9 _ . - at position 3\n"
      "line 4, valid_to: valid_to 2025-06-30 is before valid_from 2025-07-01\n"
      "line 4, population: population must not be negative, not -5\n"
      "line 4, area_km2: area_km2 must not be negative, not -1.5\n");
  db_diag_clear(&d);

  char long_code[66];
  memset(long_code, 'A', 65);
  long_code[65] = '\0';
  ou = ward(long_code, NULL);
  assert_int_equal(db_orgunit_validate(&ou, 0, &d), DB_EINVAL);
  long_code[64] = '\0';
  ou.code = long_code;
  assert_int_equal(db_orgunit_validate(&ou, 0, &d), DB_OK);
  ou = ward("79", "79");
  ou.name = (char *)"Th\xe0nh ph\xe1";
  ou.kind = (db_ou_kind)42;
  assert_int_equal(db_orgunit_validate(&ou, 0, &d), DB_EINVAL);
  assert_problems(&d,
                  "code: code is 65 characters long (at most 64)\n"
                  "name: name is not valid UTF-8 (byte 3)\n"
                  "kind: kind 42 is not an org unit kind\n"
                  "parent: a unit cannot be its own parent\n");
  db_diag_free(&d);
}

static db_indicator indicator(const char *code) {
  db_indicator ind;
  db_indicator_init(&ind);
  ind.code = (char *)code;
  ind.name = (char *)"Chỉ số giá tiêu dùng";
  ind.periodicity = DB_PT_MONTH;
  ind.agg_space = DB_AGG_AVG;
  ind.agg_time = DB_AGG_AVG;
  return ind;
}

static void test_indicator_validate(void **state) {
  (void)state;
  db_diag d = DB_DIAG_INIT;
  db_indicator ind = indicator("CPI_YOY");
  assert_int_equal(ind.decimals, 2);
  assert_int_equal(ind.polarity, DB_POL_NEUTRAL);
  assert_true(db_is_unknown(ind.valid_min) && db_is_unknown(ind.valid_max));
  assert_int_equal(db_indicator_validate(&ind, 2, &d), DB_OK);

  /* every rule once */
  ind.periodicity = 0;
  ind.agg_time = DB_AGG_SUM;
  ind.decimals = 11;
  ind.unit_mult = 16;
  ind.valid_min = 10;
  ind.valid_max = 5;
  ind.formula = (char *)"yoy(CPI)";
  ind.dimensions = (char *)"SEX;AGE";
  ind.owner = (char *)"SO F";
  ind.groups = (char *)"R01;;G2";
  assert_int_equal(db_indicator_validate(&ind, 2, &d), DB_EINVAL);
  assert_problems(
      &d,
      "line 2, periodicity: periodicity is required\n"
      "line 2, agg_time: an indicator averaged over units (agg_space avg) is not summed over time: "
      "agg_time must not be sum\n"
      "line 2, unit_mult: unit_mult must be -3..15, not 16\n"
      "line 2, decimals: decimals must be 0..10, not 11\n"
      "line 2, valid_min: valid_min 10 is greater than valid_max 5\n"
      "line 2, owner: owner 'SO F' has a character other than A-Z a-z 0-9 _ . - at position 3\n"
      "line 2, groups: groups has an empty code in 'R01;;G2'\n"
      "line 2, dimensions: a formula indicator takes no dimensions\n");
  db_diag_clear(&d);

  ind = indicator("POP_DENS");
  ind.agg_space = DB_AGG_WAVG;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_EINVAL);
  ind.weight = (char *)"POP_DENS";
  ind.agg_time = DB_AGG_WAVG;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_EINVAL);
  ind.weight = (char *)"POPULATION";
  ind.agg_space = DB_AGG_LAST;
  ind.agg_time = DB_AGG_LAST;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_EINVAL);
  assert_problems(
      &d,
      "weight: agg_space wavg needs a weight indicator\n"
      "agg_time: wavg is a spatial aggregation: agg_time must be sum, last, avg, min, max or none\n"
      "weight: an indicator cannot be its own weight\n"
      "agg_space: last is a temporal aggregation: agg_space must be sum, avg, wavg, min, max or none\n"
      "weight: weight is only for agg_space wavg\n");
  db_diag_clear(&d);

  /* a wavg stock with its weight, a sum flow, a multi-year plan indicator */
  ind = indicator("HH_SIZE");
  ind.agg_space = DB_AGG_WAVG;
  ind.weight = (char *)"POPULATION";
  ind.agg_time = DB_AGG_LAST;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_OK);
  ind = indicator("RETAIL_SALES");
  ind.agg_space = ind.agg_time = DB_AGG_SUM;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_OK);
  ind.periodicity = DB_PT_MULTIYEAR;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_EINVAL);
  ind.period_span = 5;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_OK);
  ind.period_span = 51;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_EINVAL);
  ind.periodicity = DB_PT_YEAR;
  assert_int_equal(db_indicator_validate(&ind, 0, &d), DB_EINVAL);
  assert_problems(&d,
                  "period_span: period_span must be 2..50 for a multiyear indicator, not 0\n"
                  "period_span: period_span must be 2..50 for a multiyear indicator, not 51\n"
                  "period_span: period_span is only for multiyear indicators (this one is year)\n");
  db_diag_free(&d);
}

static void test_other_validators(void **state) {
  (void)state;
  db_diag d = DB_DIAG_INIT;
  db_agency a = {0, (char *)"SOF", (char *)"Sở Tài chính", NULL, (char *)"department", (char *)"79", NULL};
  assert_int_equal(db_agency_validate(&a, 1, &d), DB_OK);
  a.kind = (char *)"bureau";
  a.parent = (char *)"SOF";
  assert_int_equal(db_agency_validate(&a, 1, &d), DB_EINVAL);
  assert_problems(&d,
                  "line 1, kind: kind 'bureau' is not one of department, ward_committee, police, company, "
                  "ministry, other\n"
                  "line 1, parent: an agency cannot be its own parent\n");
  db_diag_clear(&d);

  db_dim_item items[] = {{(char *)"F", (char *)"Nữ"}, {(char *)"M", (char *)"Nam"}, {(char *)"F", NULL}};
  db_dimension dim = {0, (char *)"SEX", (char *)"Giới tính", items, 2};
  assert_int_equal(db_dimension_validate(&dim, 0, &d), DB_OK);
  dim.n_items = 3;
  assert_int_equal(db_dimension_validate(&dim, 7, &d), DB_EINVAL);
  assert_problems(&d,
                  "line 7, items[2].code: duplicate item 'F' (also items[0])\n"
                  "line 7, items[2].name: items[2].name is required\n");
  db_diag_clear(&d);

  db_target t = {(char *)"CPI_YOY", (char *)"79", (char *)"2025", (char *)"plan", 4.5, NULL};
  assert_int_equal(db_target_validate(&t, 0, &d), DB_OK);
  t.period = (char *)"2021/P5Y";
  t.kind = (char *)"goal";
  assert_int_equal(db_target_validate(&t, 0, &d), DB_OK);
  t.period = (char *)"2025-13";
  t.kind = (char *)"wish";
  t.value = NAN;
  assert_int_equal(db_target_validate(&t, 3, &d), DB_EINVAL);
  assert_int_equal(d.count, 3);
  assert_string_equal(d.items[0].path, "period");
  assert_true(strncmp(d.items[0].message, "period '2025-13' is not valid: ", 31) == 0);
  assert_string_equal(d.items[1].message, "kind 'wish' is not one of plan, goal, threshold");
  assert_string_equal(d.items[2].message, "value is required");
  t.value = INFINITY;
  assert_int_equal(db_target_validate(&t, 3, &d), DB_EINVAL);
  assert_string_equal(d.items[5].message, "value must be a finite number");
  db_diag_clear(&d);

  db_succession su = {(char *)"26737", (char *)"26734", 1, 0, 20270};
  assert_int_equal(db_succession_validate(&su, 0, &d), DB_OK);
  su.to = (char *)"26737";
  su.weight = 1.5;
  su.date = DB_DATE_NONE;
  assert_int_equal(db_succession_validate(&su, 2, &d), DB_EINVAL);
  assert_problems(&d,
                  "line 2, to: a unit cannot succeed itself\n"
                  "line 2, weight: weight must be in (0, 1], not 1.5\n"
                  "line 2, date: date is required\n");
  db_diag_free(&d);
}

/* ---- copies ---- */

static void test_copy_free(void **state) {
  (void)state;
  size_t used = db_mem_used();
  db_indicator ind = indicator("CPI_YOY"), copy;
  ind.owner = (char *)"GSO";
  ind.dimensions = (char *)"SEX";
  db_indicator_copy(&copy, &ind);
  assert_ptr_not_equal(copy.code, ind.code);
  assert_string_equal(copy.code, "CPI_YOY");
  assert_string_equal(copy.owner, "GSO");
  assert_null(copy.formula);
  assert_int_equal(copy.periodicity, DB_PT_MONTH);
  db_indicator_free(&copy);
  assert_null(copy.code);

  db_dim_item items[] = {{(char *)"F", (char *)"Nữ"}, {(char *)"M", (char *)"Nam"}};
  db_dimension dim = {0, (char *)"SEX", (char *)"Giới tính", items, 2}, dcopy;
  db_dimension_copy(&dcopy, &dim);
  assert_int_equal(dcopy.n_items, 2);
  assert_string_equal(dcopy.items[1].name, "Nam");
  db_dimension_free(&dcopy);
  assert_int_equal(dcopy.n_items, 0);

  db_orgunit ou = ward("26734", "79"), ocopy;
  ou.geometry = (char *)"{\"type\":\"Point\",\"coordinates\":[106.7,10.77]}";
  db_orgunit_copy(&ocopy, &ou);
  assert_string_equal(ocopy.geometry, ou.geometry);
  db_orgunit_free(&ocopy);

  db_target t = {(char *)"CPI_YOY", (char *)"79", (char *)"2025", (char *)"plan", 4.5, (char *)"NQ 01"},
            tcopy;
  db_target_copy(&tcopy, &t);
  assert_string_equal(tcopy.source, "NQ 01");
  db_target_free(&tcopy);
  db_agency a = {0, (char *)"SOF", (char *)"Sở Tài chính", NULL, NULL, (char *)"79", NULL}, acopy;
  db_agency_copy(&acopy, &a);
  db_agency_free(&acopy);
  db_succession su = {(char *)"26737", (char *)"26734", 0.5, 1, 20270}, scopy;
  db_succession_copy(&scopy, &su);
  assert_int_equal(scopy.partial, 1);
  db_succession_free(&scopy);
  assert_int_equal(db_mem_used(), used);
}

/* ---- the in-memory catalog ---- */

/* VN > 79 > {26734, 26737}, 26734 > S1 (a station). */
static void fill_tree(db_catalog *c) {
  db_orgunit vn = ward("VN", NULL), city = ward("79", "VN"), w1 = ward("26734", "79"),
             w2 = ward("26737", "79"), site = ward("S1", "26734");
  vn.kind = DB_OU_COUNTRY;
  city.kind = DB_OU_CITY;
  site.kind = DB_OU_SITE;
  assert_int_equal(db_catalog_put_unit(c, &w1), 0); /* children before parents: order does not matter */
  assert_int_equal(db_catalog_put_unit(c, &vn), 1);
  assert_int_equal(db_catalog_put_unit(c, &city), 2);
  assert_int_equal(db_catalog_put_unit(c, &w2), 3);
  assert_int_equal(db_catalog_put_unit(c, &site), 4);
}

static void test_catalog_tree(void **state) {
  (void)state;
  db_catalog c;
  db_diag d = DB_DIAG_INIT;
  db_catalog_init(&c);
  fill_tree(&c);
  assert_int_equal(db_catalog_link(&c, &d), DB_OK);
  assert_int_equal(db_diag_total(&d), 0);
  assert_int_equal(db_catalog_unit(&c, "VN")->level, 0);
  assert_int_equal(db_catalog_unit(&c, "79")->level, 1);
  assert_int_equal(db_catalog_unit(&c, "26734")->level, 2);
  assert_int_equal(db_catalog_unit(&c, "S1")->level, 3);
  assert_null(db_catalog_unit(&c, "99999"));
  assert_null(db_catalog_unit(&c, NULL));
  const int64_t *kids;
  assert_int_equal(db_catalog_children(&c, 2, &kids), 2); /* 79 */
  assert_int_equal(kids[0], 0);
  assert_int_equal(kids[1], 3);
  assert_int_equal(db_catalog_children(&c, 1, &kids), 1); /* VN */
  assert_int_equal(kids[0], 2);
  assert_int_equal(db_catalog_children(&c, 3, &kids), 0);
  assert_int_equal(c.unit_parent[4], 0);
  assert_int_equal(c.unit_parent[1], -1);

  /* replacing keeps the index and drops the derived tree */
  db_orgunit renamed = ward("26737", "79");
  renamed.name = (char *)"Phường Sài Gòn";
  assert_int_equal(db_catalog_put_unit(&c, &renamed), 3);
  assert_string_equal(c.units[3].name, "Phường Sài Gòn");
  assert_int_equal(c.n_units, 5);
  assert_int_equal(db_catalog_children(&c, 2, &kids), 0);
  assert_null(kids);
  db_catalog_free(&c);
  db_diag_free(&d);
}

static void test_catalog_link_problems(void **state) {
  (void)state;
  db_catalog c;
  db_diag d = DB_DIAG_INIT;
  db_catalog_init(&c);
  fill_tree(&c);
  db_orgunit orphan = ward("26740", "760"), a = ward("A", "B"), b = ward("B", "A"), under = ward("U", "A");
  db_catalog_put_unit(&c, &orphan);
  db_catalog_put_unit(&c, &a);
  db_catalog_put_unit(&c, &b);
  db_catalog_put_unit(&c, &under);
  db_succession s1 = {(char *)"26737", (char *)"26734", 0.7, 1, 20270};
  db_succession s2 = {(char *)"26737", (char *)"S1", 0.3, 1, 20270};
  db_succession s3 = {(char *)"26737", (char *)"79", 0.2, 1, 20270};
  db_succession s4 = {(char *)"X1", (char *)"Y1", 1, 0, 20270};
  db_catalog_add_succession(&c, &s1);
  db_catalog_add_succession(&c, &s2);
  assert_int_equal(db_catalog_link(&c, &d), DB_EINVAL);
  assert_problems(&d,
                  "orgunits[26740].parent: unknown org unit '760'\n"
                  "orgunits[A].parent: parent cycle: A -> B -> A\n");
  db_diag_clear(&d);
  db_catalog_add_succession(&c, &s3);
  db_catalog_add_succession(&c, &s4);
  db_agency ag = {0, (char *)"SOF", (char *)"Sở Tài chính", NULL, NULL, (char *)"78", (char *)"UBND"};
  db_catalog_put_agency(&c, &ag);
  db_indicator ind = indicator("HH_SIZE");
  ind.agg_space = DB_AGG_WAVG;
  ind.weight = (char *)"POPULATION";
  ind.owner = (char *)"DOF";
  ind.dimensions = (char *)"SEX;AGE";
  db_catalog_put_indicator(&c, &ind);
  db_dimension sex = {0, (char *)"SEX", (char *)"Giới tính", NULL, 0};
  db_catalog_put_dimension(&c, &sex);
  assert_non_null(db_catalog_dimension(&c, "SEX"));
  assert_non_null(db_catalog_agency(&c, "SOF"));
  assert_non_null(db_catalog_indicator(&c, "HH_SIZE"));
  assert_int_equal(db_catalog_link(&c, &d), DB_EINVAL);
  assert_problems(
      &d,
      "orgunits[26740].parent: unknown org unit '760'\n"
      "orgunits[A].parent: parent cycle: A -> B -> A\n"
      "successions[X1>Y1].from: unknown org unit 'X1'\n"
      "successions[X1>Y1].to: unknown org unit 'Y1'\n"
      "successions[26737>79].weight: the weights of the successions out of '26737' add up to 1.2, "
      "more than 1\n"
      "agencies[SOF].orgunit: unknown org unit '78'\n"
      "agencies[SOF].parent: unknown agency 'UBND'\n"
      "indicators[HH_SIZE].owner: unknown agency 'DOF'\n"
      "indicators[HH_SIZE].weight: unknown indicator 'POPULATION'\n"
      "indicators[HH_SIZE].dimensions: unknown dimension 'AGE'\n");
  assert_int_equal(db_catalog_unit(&c, "U")->level, 0); /* under a cycle: no level */
  db_catalog_free(&c);
  db_diag_free(&d);
}

static void test_succession_weights_limit(void **state) {
  (void)state;
  db_catalog c;
  db_diag d = DB_DIAG_INIT;
  db_catalog_init(&c);
  fill_tree(&c);
  /* three thirds add up to 1 within rounding */
  for (int i = 0; i < 3; i++) {
    const char *to[] = {"26734", "S1", "79"};
    db_succession s = {(char *)"26737", (char *)to[i], 1.0 / 3.0, 1, 20270};
    db_catalog_add_succession(&c, &s);
  }
  assert_int_equal(db_catalog_link(&c, &d), DB_OK);
  db_catalog_free(&c);
  db_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ou_kind_names),
      cmocka_unit_test(test_ou_kind_vietnamese),
      cmocka_unit_test(test_agg_and_polarity),
      cmocka_unit_test(test_orgunit_validate),
      cmocka_unit_test(test_indicator_validate),
      cmocka_unit_test(test_other_validators),
      cmocka_unit_test(test_copy_free),
      cmocka_unit_test(test_catalog_tree),
      cmocka_unit_test(test_catalog_link_problems),
      cmocka_unit_test(test_succession_weights_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
