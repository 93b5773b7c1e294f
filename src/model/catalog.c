/* catalog.c - catalog objects: names of kinds and rules, per-object validation, deep copies, and the
 * in-memory catalog (code maps, the unit tree, cross-object checks).
 *
 * Validation messages are written for the people who prepare catalog files: each names the field (as
 * the problem's path) and says what is wrong and what is allowed. Cross-object problems found by
 * db_catalog_link carry a path "<kind>[<code>].<field>" so that an importer can map them back to the
 * line of its file. */
#include "model/catalog.h"

#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"

#define CODE_MAX 64
#define WEIGHT_SLACK 1e-9

int db_is_unknown(double v) { return isnan(v); }

/* ---- names ---- */

static const char *const ou_kind_names[] = {
    [DB_OU_COUNTRY] = "country",
    [DB_OU_CITY] = "city",
    [DB_OU_WARD] = "ward",
    [DB_OU_COMMUNE] = "commune",
    [DB_OU_SPECIAL_ZONE] = "special_zone",
    [DB_OU_LEGACY_DISTRICT] = "legacy_district",
    [DB_OU_LEGACY_WARD] = "legacy_ward",
    [DB_OU_SITE] = "site",
};
#define OU_KIND_MAX DB_OU_SITE

/* A Vietnamese unit type and the kind it gives for a unit of today and for a unit before 2025-07-01. */
typedef struct vn_type {
  const char *text;
  db_ou_kind current, legacy;
} vn_type;

static const vn_type vn_types[] = {
    {"Phường", DB_OU_WARD, DB_OU_LEGACY_WARD},
    {"Phuong", DB_OU_WARD, DB_OU_LEGACY_WARD},
    {"Xã", DB_OU_COMMUNE, DB_OU_LEGACY_WARD},
    {"Xa", DB_OU_COMMUNE, DB_OU_LEGACY_WARD},
    {"Đặc khu", DB_OU_SPECIAL_ZONE, DB_OU_SPECIAL_ZONE},
    {"đặc khu", DB_OU_SPECIAL_ZONE, DB_OU_SPECIAL_ZONE},
    {"Dac khu", DB_OU_SPECIAL_ZONE, DB_OU_SPECIAL_ZONE},
    {"Thị trấn", DB_OU_LEGACY_WARD, DB_OU_LEGACY_WARD},
    {"Thi tran", DB_OU_LEGACY_WARD, DB_OU_LEGACY_WARD},
    {"Quận", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
    {"Quan", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
    {"Huyện", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
    {"Huyen", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
    {"Thị xã", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
    {"Thi xa", DB_OU_LEGACY_DISTRICT, DB_OU_LEGACY_DISTRICT},
    {"Thành phố", DB_OU_CITY, DB_OU_LEGACY_DISTRICT},
    {"Thanh pho", DB_OU_CITY, DB_OU_LEGACY_DISTRICT},
    {"Thành phố Trung ương", DB_OU_CITY, DB_OU_CITY},
    {"Thanh pho Trung uong", DB_OU_CITY, DB_OU_CITY},
    {"Tỉnh", DB_OU_CITY, DB_OU_CITY},
    {"Tinh", DB_OU_CITY, DB_OU_CITY},
};

static const char *const agg_names[] = {
    [DB_AGG_NONE] = "none", [DB_AGG_SUM] = "sum", [DB_AGG_AVG] = "avg",   [DB_AGG_WAVG] = "wavg",
    [DB_AGG_MIN] = "min",   [DB_AGG_MAX] = "max", [DB_AGG_LAST] = "last",
};
#define AGG_MAX DB_AGG_LAST

static const char *const agency_kinds[] = {"department", "ward_committee", "police",
                                           "company",    "ministry",       "other"};
static const char *const target_kinds[] = {"plan", "goal", "threshold"};

/* strcmp ignoring the case of ASCII letters only (bytes of UTF-8 sequences compare as they are,
 * whatever the locale). */
static int ascii_casecmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
    if (cb >= 'A' && cb <= 'Z') cb += 'a' - 'A';
    if (ca != cb || !ca) return ca - cb;
  }
}

const char *db_ou_kind_name(db_ou_kind k) {
  return k >= DB_OU_COUNTRY && k <= OU_KIND_MAX ? ou_kind_names[k] : "unknown";
}

/* Parses a kind name, else a Vietnamese type read as today's (legacy = 0) or pre-2025 (legacy = 1). */
static int ou_kind_parse(const char *s, int legacy, db_ou_kind *k) {
  if (!s) return DB_EINVAL;
  for (int i = DB_OU_COUNTRY; i <= OU_KIND_MAX; i++)
    if (ascii_casecmp(s, ou_kind_names[i]) == 0) {
      *k = (db_ou_kind)i;
      return DB_OK;
    }
  for (size_t i = 0; i < sizeof vn_types / sizeof vn_types[0]; i++)
    if (ascii_casecmp(s, vn_types[i].text) == 0) {
      *k = legacy ? vn_types[i].legacy : vn_types[i].current;
      return DB_OK;
    }
  return DB_EINVAL;
}

int db_ou_kind_parse(const char *s, db_ou_kind *k) { return ou_kind_parse(s, 0, k); }
int db_ou_kind_parse_legacy(const char *s, db_ou_kind *k) { return ou_kind_parse(s, 1, k); }

const char *db_agg_name(db_agg a) { return a >= DB_AGG_NONE && a <= AGG_MAX ? agg_names[a] : "unknown"; }

int db_agg_parse(const char *s, db_agg *a) {
  if (!s) return DB_EINVAL;
  for (int i = DB_AGG_NONE; i <= AGG_MAX; i++)
    if (ascii_casecmp(s, agg_names[i]) == 0) {
      *a = (db_agg)i;
      return DB_OK;
    }
  return DB_EINVAL;
}

const char *db_polarity_name(db_polarity p) {
  switch (p) {
    case DB_POL_HIGHER:
      return "higher";
    case DB_POL_LOWER:
      return "lower";
    case DB_POL_NEUTRAL:
      return "neutral";
  }
  return "unknown";
}

int db_polarity_parse(const char *s, db_polarity *p) {
  static const struct {
    const char *text;
    db_polarity pol;
  } forms[] = {{"higher", DB_POL_HIGHER}, {"+", DB_POL_HIGHER},        {"1", DB_POL_HIGHER},
               {"+1", DB_POL_HIGHER},     {"lower", DB_POL_LOWER},     {"-", DB_POL_LOWER},
               {"-1", DB_POL_LOWER},      {"neutral", DB_POL_NEUTRAL}, {"0", DB_POL_NEUTRAL}};
  if (!s) return DB_EINVAL;
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
    if (ascii_casecmp(s, forms[i].text) == 0) {
      *p = forms[i].pol;
      return DB_OK;
    }
  return DB_EINVAL;
}

/* ---- per-object validation ---- */

/* Checks a code: 1..64 characters of A-Za-z0-9_.-. A NULL or empty code is a problem only when
 * `required`. Problems go to d under `field`; returns 1 when the code is valid or absent-and-optional. */
static int check_code(const char *code, const char *field, int required, long line, db_diag *d) {
  if (!code || !*code) {
    if (required) db_diag_add(d, line, 0, field, DB_EINVAL, "%s is required", field);
    return !required;
  }
  size_t n = strlen(code);
  if (n > CODE_MAX) {
    db_diag_add(d, line, 0, field, DB_EINVAL, "%s is %zu characters long (at most %d)", field, n, CODE_MAX);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char ch = code[i];
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
        ch == '.' || ch == '-')
      continue;
    db_diag_add(d, line, 0, field, DB_EINVAL,
                "%s '%s' has a character other than A-Z a-z 0-9 _ . - at position %zu", field, code, i + 1);
    return 0;
  }
  return 1;
}

/* Checks a list of codes separated by ';' (each one a valid code; empty items are refused). */
static void check_code_list(const char *list, const char *field, long line, db_diag *d) {
  if (!list) return;
  const char *p = list;
  for (;;) {
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char *item = db_strndup(p, n);
    if (!*item)
      db_diag_add(d, line, 0, field, DB_EINVAL, "%s has an empty code in '%s'", field, list);
    else
      check_code(item, field, 1, line, d);
    db_free(item);
    if (!end) break;
    p = end + 1;
  }
}

/* Checks optional text: valid UTF-8 when given; when `required`, also present and not empty. */
static void check_text(const char *s, const char *field, int required, long line, db_diag *d) {
  if (!s || !*s) {
    if (required) db_diag_add(d, line, 0, field, DB_EINVAL, "%s is required", field);
    return;
  }
  size_t bad;
  if (!db_utf8_valid(s, strlen(s), &bad))
    db_diag_add(d, line, 0, field, DB_EINVAL, "%s is not valid UTF-8 (byte %zu)", field, bad + 1);
}

/* Checks that s is one of the n words (when given; `required` makes it mandatory). */
static void check_word(const char *s, const char *field, int required, const char *const *words, size_t n,
                       long line, db_diag *d) {
  if (!s || !*s) {
    if (required) db_diag_add(d, line, 0, field, DB_EINVAL, "%s is required", field);
    return;
  }
  db_buf list = DB_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(s, words[i]) == 0) goto done;
    db_buf_printf(&list, "%s%s", i ? ", " : "", words[i]);
  }
  db_diag_add(d, line, 0, field, DB_EINVAL, "%s '%s' is not one of %s", field, s, db_buf_str(&list));
done:
  db_buf_free(&list);
}

static int finish(const db_diag *d, size_t before) { return db_diag_total(d) > before ? DB_EINVAL : DB_OK; }

int db_orgunit_validate(const db_orgunit *ou, long line, db_diag *d) {
  size_t before = db_diag_total(d);
  check_code(ou->code, "code", 1, line, d);
  check_text(ou->name, "name", 1, line, d);
  check_text(ou->name_en, "name_en", 0, line, d);
  if (ou->kind == 0)
    db_diag_add(d, line, 0, "kind", DB_EINVAL, "kind is required");
  else if (ou->kind < DB_OU_COUNTRY || ou->kind > OU_KIND_MAX)
    db_diag_add(d, line, 0, "kind", DB_EINVAL, "kind %d is not an org unit kind", (int)ou->kind);
  if (check_code(ou->parent, "parent", 0, line, d) && ou->parent && ou->code &&
      strcmp(ou->parent, ou->code) == 0)
    db_diag_add(d, line, 0, "parent", DB_EINVAL, "a unit cannot be its own parent");
  if (ou->valid_from != DB_DATE_NONE && ou->valid_to != DB_DATE_NONE && ou->valid_to < ou->valid_from) {
    char from[11], to[11];
    db_format_date(ou->valid_from, from);
    db_format_date(ou->valid_to, to);
    db_diag_add(d, line, 0, "valid_to", DB_EINVAL, "valid_to %s is before valid_from %s", to, from);
  }
  if (ou->population < 0)
    db_diag_add(d, line, 0, "population", DB_EINVAL, "population must not be negative, not %g",
                ou->population);
  if (ou->area_km2 < 0)
    db_diag_add(d, line, 0, "area_km2", DB_EINVAL, "area_km2 must not be negative, not %g", ou->area_km2);
  return finish(d, before);
}

int db_succession_validate(const db_succession *su, long line, db_diag *d) {
  size_t before = db_diag_total(d);
  int ok = check_code(su->from, "from", 1, line, d);
  ok &= check_code(su->to, "to", 1, line, d);
  if (ok && strcmp(su->from, su->to) == 0)
    db_diag_add(d, line, 0, "to", DB_EINVAL, "a unit cannot succeed itself");
  if (!(su->weight > 0 && su->weight <= 1))
    db_diag_add(d, line, 0, "weight", DB_EINVAL, "weight must be in (0, 1], not %g", su->weight);
  if (su->partial != 0 && su->partial != 1)
    db_diag_add(d, line, 0, "partial", DB_EINVAL, "partial must be 0 or 1, not %d", su->partial);
  if (su->date == DB_DATE_NONE) db_diag_add(d, line, 0, "date", DB_EINVAL, "date is required");
  return finish(d, before);
}

int db_agency_validate(const db_agency *a, long line, db_diag *d) {
  size_t before = db_diag_total(d);
  check_code(a->code, "code", 1, line, d);
  check_text(a->name, "name", 1, line, d);
  check_text(a->name_en, "name_en", 0, line, d);
  check_word(a->kind, "kind", 0, agency_kinds, sizeof agency_kinds / sizeof agency_kinds[0], line, d);
  check_code(a->orgunit, "orgunit", 0, line, d);
  if (check_code(a->parent, "parent", 0, line, d) && a->parent && a->code && strcmp(a->parent, a->code) == 0)
    db_diag_add(d, line, 0, "parent", DB_EINVAL, "an agency cannot be its own parent");
  return finish(d, before);
}

/* The rules that tie an indicator's aggregations, weight and periodicity together. */
static void check_indicator_rules(const db_indicator *ind, long line, db_diag *d) {
  if (ind->periodicity == 0)
    db_diag_add(d, line, 0, "periodicity", DB_EINVAL, "periodicity is required");
  else if (ind->periodicity < DB_PT_MIN5 || ind->periodicity > DB_PT_MULTIYEAR)
    db_diag_add(d, line, 0, "periodicity", DB_EINVAL, "periodicity %d is not a period type",
                (int)ind->periodicity);
  else if (ind->periodicity == DB_PT_MULTIYEAR && (ind->period_span < 2 || ind->period_span > 50))
    db_diag_add(d, line, 0, "period_span", DB_EINVAL,
                "period_span must be 2..50 for a multiyear indicator, not %d", ind->period_span);
  else if (ind->periodicity != DB_PT_MULTIYEAR && ind->period_span != 0)
    db_diag_add(d, line, 0, "period_span", DB_EINVAL,
                "period_span is only for multiyear indicators (this one is %s)",
                db_period_type_name(ind->periodicity));

  if (ind->agg_space < DB_AGG_NONE || ind->agg_space > AGG_MAX)
    db_diag_add(d, line, 0, "agg_space", DB_EINVAL, "agg_space %d is not an aggregation",
                (int)ind->agg_space);
  else if (ind->agg_space == DB_AGG_LAST)
    db_diag_add(d, line, 0, "agg_space", DB_EINVAL,
                "last is a temporal aggregation: agg_space must be sum, avg, wavg, min, max or none");
  if (ind->agg_time < DB_AGG_NONE || ind->agg_time > AGG_MAX)
    db_diag_add(d, line, 0, "agg_time", DB_EINVAL, "agg_time %d is not an aggregation", (int)ind->agg_time);
  else if (ind->agg_time == DB_AGG_WAVG)
    db_diag_add(d, line, 0, "agg_time", DB_EINVAL,
                "wavg is a spatial aggregation: agg_time must be sum, last, avg, min, max or none");
  else if (ind->agg_time == DB_AGG_SUM && (ind->agg_space == DB_AGG_AVG || ind->agg_space == DB_AGG_WAVG))
    db_diag_add(
        d, line, 0, "agg_time", DB_EINVAL,
        "an indicator averaged over units (agg_space %s) is not summed over time: agg_time must not be sum",
        db_agg_name(ind->agg_space));

  if (check_code(ind->weight, "weight", 0, line, d)) {
    if (ind->agg_space == DB_AGG_WAVG && !ind->weight)
      db_diag_add(d, line, 0, "weight", DB_EINVAL, "agg_space wavg needs a weight indicator");
    else if (ind->weight && ind->agg_space != DB_AGG_WAVG)
      db_diag_add(d, line, 0, "weight", DB_EINVAL, "weight is only for agg_space wavg");
    else if (ind->weight && ind->code && strcmp(ind->weight, ind->code) == 0)
      db_diag_add(d, line, 0, "weight", DB_EINVAL, "an indicator cannot be its own weight");
  }
}

/* The status bands: 0 <= band_off_track <= band_at_risk <= 100. */
static void check_bands(const db_indicator *ind, long line, db_diag *d) {
  int at_risk_ok = ind->band_at_risk >= 0 && ind->band_at_risk <= 100; /* false for NAN */
  int off_track_ok = ind->band_off_track >= 0 && ind->band_off_track <= 100;
  if (!at_risk_ok)
    db_diag_add(d, line, 0, "band_at_risk", DB_EINVAL, "band_at_risk must be a percentage of the plan, 0..100, not %g",
                ind->band_at_risk);
  if (!off_track_ok)
    db_diag_add(d, line, 0, "band_off_track", DB_EINVAL,
                "band_off_track must be a percentage of the plan, 0..100, not %g", ind->band_off_track);
  if (at_risk_ok && off_track_ok && ind->band_off_track > ind->band_at_risk)
    db_diag_add(d, line, 0, "band_off_track", DB_EINVAL, "band_off_track %g is above band_at_risk %g",
                ind->band_off_track, ind->band_at_risk);
}

int db_indicator_validate(const db_indicator *ind, long line, db_diag *d) {
  size_t before = db_diag_total(d);
  check_code(ind->code, "code", 1, line, d);
  check_text(ind->name, "name", 1, line, d);
  const struct {
    const char *field, *value;
  } texts[] = {{"name_en", ind->name_en}, {"description", ind->description}, {"unit", ind->unit},
               {"sector", ind->sector},   {"legal_ref", ind->legal_ref},     {"formula", ind->formula},
               {"source", ind->source}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    check_text(texts[i].value, texts[i].field, 0, line, d);
  check_indicator_rules(ind, line, d);
  if (ind->unit_mult < -3 || ind->unit_mult > 15)
    db_diag_add(d, line, 0, "unit_mult", DB_EINVAL, "unit_mult must be -3..15, not %d", ind->unit_mult);
  if (ind->decimals < 0 || ind->decimals > 10)
    db_diag_add(d, line, 0, "decimals", DB_EINVAL, "decimals must be 0..10, not %d", ind->decimals);
  if (ind->polarity < DB_POL_LOWER || ind->polarity > DB_POL_HIGHER)
    db_diag_add(d, line, 0, "polarity", DB_EINVAL, "polarity %d is not -1, 0 or 1", (int)ind->polarity);
  if (ind->valid_min > ind->valid_max) /* false when either is NAN */
    db_diag_add(d, line, 0, "valid_min", DB_EINVAL, "valid_min %g is greater than valid_max %g",
                ind->valid_min, ind->valid_max);
  check_bands(ind, line, d);
  check_code(ind->owner, "owner", 0, line, d);
  check_code_list(ind->groups, "groups", line, d);
  check_code_list(ind->dimensions, "dimensions", line, d);
  if (ind->formula && *ind->formula && ind->dimensions && *ind->dimensions)
    db_diag_add(d, line, 0, "dimensions", DB_EINVAL, "a formula indicator takes no dimensions");
  return finish(d, before);
}

int db_dimension_validate(const db_dimension *dim, long line, db_diag *d) {
  size_t before = db_diag_total(d);
  check_code(dim->code, "code", 1, line, d);
  check_text(dim->name, "name", 1, line, d);
  db_buf path = DB_BUF_INIT;
  for (size_t i = 0; i < dim->n_items; i++) {
    const db_dim_item *it = &dim->items[i];
    db_buf_clear(&path);
    db_buf_printf(&path, "items[%zu].code", i);
    if (check_code(it->code, db_buf_str(&path), 1, line, d))
      for (size_t j = 0; j < i; j++)
        if (dim->items[j].code && strcmp(dim->items[j].code, it->code) == 0) {
          db_diag_add(d, line, 0, db_buf_str(&path), DB_EINVAL, "duplicate item '%s' (also items[%zu])",
                      it->code, j);
          break;
        }
    db_buf_clear(&path);
    db_buf_printf(&path, "items[%zu].name", i);
    check_text(it->name, db_buf_str(&path), 1, line, d);
  }
  db_buf_free(&path);
  return finish(d, before);
}

int db_target_validate(const db_target *t, long line, db_diag *d) {
  size_t before = db_diag_total(d);
  check_code(t->indicator, "indicator", 1, line, d);
  check_code(t->orgunit, "orgunit", 1, line, d);
  if (!t->period || !*t->period) {
    db_diag_add(d, line, 0, "period", DB_EINVAL, "period is required");
  } else {
    db_period p;
    char why[128] = "";
    if (db_period_parse(t->period, strlen(t->period), &p, why) != DB_OK)
      db_diag_add(d, line, 0, "period", DB_EINVAL, "period '%s' is not valid: %s", t->period, why);
  }
  check_word(t->kind, "kind", 1, target_kinds, sizeof target_kinds / sizeof target_kinds[0], line, d);
  if (isnan(t->value))
    db_diag_add(d, line, 0, "value", DB_EINVAL, "value is required");
  else if (!isfinite(t->value))
    db_diag_add(d, line, 0, "value", DB_EINVAL, "value must be a finite number");
  check_text(t->source, "source", 0, line, d);
  return finish(d, before);
}

/* ---- init, copy, free ---- */

void db_orgunit_init(db_orgunit *ou) {
  memset(ou, 0, sizeof *ou);
  ou->valid_from = ou->valid_to = DB_DATE_NONE;
  ou->population = ou->area_km2 = NAN;
}

void db_indicator_init(db_indicator *ind) {
  memset(ind, 0, sizeof *ind);
  ind->decimals = 2;
  ind->valid_min = ind->valid_max = NAN;
  ind->band_at_risk = DB_BAND_AT_RISK_DEFAULT;
  ind->band_off_track = DB_BAND_OFF_TRACK_DEFAULT;
}

void db_orgunit_copy(db_orgunit *dst, const db_orgunit *src) {
  *dst = *src;
  dst->code = db_strdup(src->code);
  dst->name = db_strdup(src->name);
  dst->name_en = db_strdup(src->name_en);
  dst->parent = db_strdup(src->parent);
  dst->geometry = db_strdup(src->geometry);
  dst->attributes = db_strdup(src->attributes);
}

void db_orgunit_free(db_orgunit *ou) {
  db_free(ou->code);
  db_free(ou->name);
  db_free(ou->name_en);
  db_free(ou->parent);
  db_free(ou->geometry);
  db_free(ou->attributes);
  ou->code = ou->name = ou->name_en = ou->parent = ou->geometry = ou->attributes = NULL;
}

void db_succession_copy(db_succession *dst, const db_succession *src) {
  *dst = *src;
  dst->from = db_strdup(src->from);
  dst->to = db_strdup(src->to);
}

void db_succession_free(db_succession *s) {
  db_free(s->from);
  db_free(s->to);
  s->from = s->to = NULL;
}

void db_agency_copy(db_agency *dst, const db_agency *src) {
  *dst = *src;
  dst->code = db_strdup(src->code);
  dst->name = db_strdup(src->name);
  dst->name_en = db_strdup(src->name_en);
  dst->kind = db_strdup(src->kind);
  dst->orgunit = db_strdup(src->orgunit);
  dst->parent = db_strdup(src->parent);
}

void db_agency_free(db_agency *a) {
  db_free(a->code);
  db_free(a->name);
  db_free(a->name_en);
  db_free(a->kind);
  db_free(a->orgunit);
  db_free(a->parent);
  a->code = a->name = a->name_en = a->kind = a->orgunit = a->parent = NULL;
}

/* The string fields of an indicator, for copy and free. */
#define INDICATOR_STRINGS(X)                                                                               \
  X(code)                                                                                                  \
  X(name) X(name_en) X(description) X(unit) X(weight) X(owner) X(sector) X(groups) X(legal_ref) X(formula) \
      X(dimensions) X(source)

void db_indicator_copy(db_indicator *dst, const db_indicator *src) {
  *dst = *src;
#define DUP(f) dst->f = db_strdup(src->f);
  INDICATOR_STRINGS(DUP)
#undef DUP
}

void db_indicator_free(db_indicator *ind) {
#define FREE(f) db_free(ind->f), ind->f = NULL;
  INDICATOR_STRINGS(FREE)
#undef FREE
}

void db_dimension_copy(db_dimension *dst, const db_dimension *src) {
  *dst = *src;
  dst->code = db_strdup(src->code);
  dst->name = db_strdup(src->name);
  dst->items = src->n_items ? db_malloc(src->n_items * sizeof *dst->items) : NULL;
  for (size_t i = 0; i < src->n_items; i++) {
    dst->items[i].code = db_strdup(src->items[i].code);
    dst->items[i].name = db_strdup(src->items[i].name);
  }
}

void db_dimension_free(db_dimension *dim) {
  for (size_t i = 0; i < dim->n_items; i++) {
    db_free(dim->items[i].code);
    db_free(dim->items[i].name);
  }
  db_free(dim->items);
  db_free(dim->code);
  db_free(dim->name);
  dim->items = NULL;
  dim->n_items = 0;
  dim->code = dim->name = NULL;
}

void db_target_copy(db_target *dst, const db_target *src) {
  *dst = *src;
  dst->indicator = db_strdup(src->indicator);
  dst->orgunit = db_strdup(src->orgunit);
  dst->period = db_strdup(src->period);
  dst->kind = db_strdup(src->kind);
  dst->source = db_strdup(src->source);
}

void db_target_free(db_target *t) {
  db_free(t->indicator);
  db_free(t->orgunit);
  db_free(t->period);
  db_free(t->kind);
  db_free(t->source);
  t->indicator = t->orgunit = t->period = t->kind = t->source = NULL;
}

/* ---- the in-memory catalog ---- */

void db_catalog_init(db_catalog *c) { memset(c, 0, sizeof *c); }

/* Drops what db_catalog_link derived. */
static void unlink_catalog(db_catalog *c) {
  db_free(c->unit_parent);
  db_free(c->child_start);
  db_free(c->child_list);
  c->unit_parent = c->child_start = c->child_list = NULL;
}

void db_catalog_free(db_catalog *c) {
  for (size_t i = 0; i < c->n_units; i++) db_orgunit_free(&c->units[i]);
  for (size_t i = 0; i < c->n_agencies; i++) db_agency_free(&c->agencies[i]);
  for (size_t i = 0; i < c->n_indicators; i++) db_indicator_free(&c->indicators[i]);
  for (size_t i = 0; i < c->n_dimensions; i++) db_dimension_free(&c->dimensions[i]);
  for (size_t i = 0; i < c->n_successions; i++) db_succession_free(&c->successions[i]);
  db_free(c->units);
  db_free(c->agencies);
  db_free(c->indicators);
  db_free(c->dimensions);
  db_free(c->successions);
  db_map_free(&c->unit_index);
  db_map_free(&c->agency_index);
  db_map_free(&c->indicator_index);
  db_map_free(&c->dimension_index);
  unlink_catalog(c);
  memset(c, 0, sizeof *c);
}

/* Makes room for one more element in an array of `elem`-sized items holding n of cap. */
static void *reserve_one(void *items, size_t n, size_t *cap, size_t elem) {
  if (n < *cap) return items;
  *cap = *cap ? *cap * 2 : 16;
  return db_realloc(items, *cap * elem);
}

/* Finds `code` in index: the slot to fill, and whether it held an object (*existed). A NULL code is
 * keyed as "" so that an object without code can still be held (validation reports it). */
static size_t slot_for(db_map *index, const char *code, size_t n, int *existed) {
  int64_t at;
  *existed = db_map_gets(index, code ? code : "", &at);
  if (*existed) return (size_t)at;
  db_map_puts(index, code ? code : "", (int64_t)n);
  return n;
}

size_t db_catalog_put_unit(db_catalog *c, const db_orgunit *ou) {
  int existed;
  unlink_catalog(c);
  size_t i = slot_for(&c->unit_index, ou->code, c->n_units, &existed);
  if (existed)
    db_orgunit_free(&c->units[i]);
  else
    c->units = reserve_one(c->units, c->n_units++, &c->cap_units, sizeof *c->units);
  db_orgunit_copy(&c->units[i], ou);
  return i;
}

size_t db_catalog_put_agency(db_catalog *c, const db_agency *a) {
  int existed;
  size_t i = slot_for(&c->agency_index, a->code, c->n_agencies, &existed);
  if (existed)
    db_agency_free(&c->agencies[i]);
  else
    c->agencies = reserve_one(c->agencies, c->n_agencies++, &c->cap_agencies, sizeof *c->agencies);
  db_agency_copy(&c->agencies[i], a);
  return i;
}

size_t db_catalog_put_indicator(db_catalog *c, const db_indicator *ind) {
  int existed;
  size_t i = slot_for(&c->indicator_index, ind->code, c->n_indicators, &existed);
  if (existed)
    db_indicator_free(&c->indicators[i]);
  else
    c->indicators = reserve_one(c->indicators, c->n_indicators++, &c->cap_indicators, sizeof *c->indicators);
  db_indicator_copy(&c->indicators[i], ind);
  return i;
}

size_t db_catalog_put_dimension(db_catalog *c, const db_dimension *dim) {
  int existed;
  size_t i = slot_for(&c->dimension_index, dim->code, c->n_dimensions, &existed);
  if (existed)
    db_dimension_free(&c->dimensions[i]);
  else
    c->dimensions = reserve_one(c->dimensions, c->n_dimensions++, &c->cap_dimensions, sizeof *c->dimensions);
  db_dimension_copy(&c->dimensions[i], dim);
  return i;
}

void db_catalog_add_succession(db_catalog *c, const db_succession *s) {
  c->successions = reserve_one(c->successions, c->n_successions, &c->cap_successions, sizeof *c->successions);
  db_succession_copy(&c->successions[c->n_successions++], s);
}

/* Index of `code` in index, or -1 (also for NULL). */
static int64_t find(const db_map *index, const char *code) {
  int64_t at;
  return code && db_map_gets(index, code, &at) ? at : -1;
}

const db_orgunit *db_catalog_unit(const db_catalog *c, const char *code) {
  int64_t i = find(&c->unit_index, code);
  return i < 0 ? NULL : &c->units[i];
}

const db_agency *db_catalog_agency(const db_catalog *c, const char *code) {
  int64_t i = find(&c->agency_index, code);
  return i < 0 ? NULL : &c->agencies[i];
}

const db_indicator *db_catalog_indicator(const db_catalog *c, const char *code) {
  int64_t i = find(&c->indicator_index, code);
  return i < 0 ? NULL : &c->indicators[i];
}

const db_dimension *db_catalog_dimension(const db_catalog *c, const char *code) {
  int64_t i = find(&c->dimension_index, code);
  return i < 0 ? NULL : &c->dimensions[i];
}

size_t db_catalog_children(const db_catalog *c, size_t unit, const int64_t **children) {
  if (!c->child_start || unit >= c->n_units) {
    *children = NULL;
    return 0;
  }
  *children = c->child_list + c->child_start[unit];
  return (size_t)(c->child_start[unit + 1] - c->child_start[unit]);
}

/* ---- db_catalog_link ---- */

/* Adds a cross-object problem at "<kind>[<key>].<field>". */
static void link_problem(db_diag *d, const char *kind, const char *key, const char *field, const char *msg) {
  db_buf path = DB_BUF_INIT;
  db_buf_printf(&path, "%s[%s].%s", kind, key ? key : "", field);
  db_diag_add(d, 0, 0, db_buf_str(&path), DB_EINVAL, "%s", msg);
  db_buf_free(&path);
}

/* Resolves a reference: the index of `code` in index, -1 when code is NULL or empty; when the code is
 * unknown, reports "unknown <what> '<code>'" at <kind>[<key>].<field> and returns -1. */
static int64_t resolve(const db_map *index, const char *code, const char *what, const char *kind,
                       const char *key, const char *field, db_diag *d) {
  if (!code || !*code) return -1;
  int64_t i = find(index, code);
  if (i < 0) {
    db_buf msg = DB_BUF_INIT;
    db_buf_printf(&msg, "unknown %s '%s'", what, code);
    link_problem(d, kind, key, field, db_buf_str(&msg));
    db_buf_free(&msg);
  }
  return i;
}

/* Walks the forest given by parent[] (n nodes, -1 for roots): reports every parent cycle once, at the
 * node where the walk met it ("parent cycle: A -> B -> A"), and fills depth[] (0 for roots, -1 for the
 * nodes in or under a cycle). code_of(items, i) names node i. */
static void walk_tree(size_t n, const int64_t *parent, const char *(*code_of)(const void *, size_t),
                      const void *items, const char *kind, int *depth, db_diag *d) {
  enum { UNSEEN = 0, ON_PATH, DONE };
  unsigned char *state = db_calloc(n ? n : 1, 1);
  int64_t *path = db_malloc((n ? n : 1) * sizeof *path);
  db_buf msg = DB_BUF_INIT;
  for (size_t start = 0; start < n; start++) {
    size_t len = 0;
    int64_t at = (int64_t)start;
    while (at >= 0 && state[at] == UNSEEN) {
      state[at] = ON_PATH;
      path[len++] = at;
      at = parent[at];
    }
    int above = -1; /* depth of the node above the path: -1 over a root, -2 in or under a cycle */
    if (at >= 0 && state[at] == ON_PATH) {
      size_t k = 0;
      while (path[k] != at) k++;
      db_buf_clear(&msg);
      db_buf_puts(&msg, "parent cycle: ");
      for (size_t j = k; j < len; j++) db_buf_printf(&msg, "%s -> ", code_of(items, (size_t)path[j]));
      db_buf_puts(&msg, code_of(items, (size_t)at));
      link_problem(d, kind, code_of(items, (size_t)at), "parent", db_buf_str(&msg));
      above = -2;
    } else if (at >= 0) {
      above = depth[at] < 0 ? -2 : depth[at];
    }
    for (size_t j = len; j-- > 0;) {
      state[path[j]] = DONE;
      depth[path[j]] = above == -2 ? -1 : ++above;
    }
  }
  db_buf_free(&msg);
  db_free(path);
  db_free(state);
}

static const char *unit_code(const void *items, size_t i) { return ((const db_orgunit *)items)[i].code; }
static const char *agency_code(const void *items, size_t i) { return ((const db_agency *)items)[i].code; }

/* Parents, cycles, levels and the children lists of the unit tree. */
static void link_units(db_catalog *c, db_diag *d) {
  size_t n = c->n_units;
  c->unit_parent = db_malloc((n ? n : 1) * sizeof *c->unit_parent);
  c->child_start = db_calloc(n + 1, sizeof *c->child_start);
  c->child_list = db_malloc((n ? n : 1) * sizeof *c->child_list);
  for (size_t i = 0; i < n; i++) {
    const db_orgunit *ou = &c->units[i];
    c->unit_parent[i] = resolve(&c->unit_index, ou->parent, "org unit", "orgunits", ou->code, "parent", d);
  }
  int *depth = db_malloc((n ? n : 1) * sizeof *depth);
  walk_tree(n, c->unit_parent, unit_code, c->units, "orgunits", depth, d);
  for (size_t i = 0; i < n; i++) c->units[i].level = depth[i] < 0 ? 0 : depth[i];
  db_free(depth);
  /* children in unit order: count, prefix sums, fill */
  for (size_t i = 0; i < n; i++)
    if (c->unit_parent[i] >= 0) c->child_start[c->unit_parent[i] + 1]++;
  for (size_t i = 0; i < n; i++) c->child_start[i + 1] += c->child_start[i];
  int64_t *fill = db_malloc((n ? n : 1) * sizeof *fill);
  memcpy(fill, c->child_start, n * sizeof *fill);
  for (size_t i = 0; i < n; i++)
    if (c->unit_parent[i] >= 0) c->child_list[fill[c->unit_parent[i]]++] = (int64_t)i;
  db_free(fill);
}

/* Successions: both ends exist; the weights out of one old unit add up to at most 1. */
static void link_successions(db_catalog *c, db_diag *d) {
  double *out_weight = db_calloc(c->n_units ? c->n_units : 1, sizeof *out_weight);
  int64_t *last = db_malloc((c->n_units ? c->n_units : 1) * sizeof *last);
  for (size_t i = 0; i < c->n_units; i++) last[i] = -1;
  db_buf key = DB_BUF_INIT;
  for (size_t i = 0; i < c->n_successions; i++) {
    const db_succession *s = &c->successions[i];
    db_buf_clear(&key);
    db_buf_printf(&key, "%s>%s", s->from ? s->from : "", s->to ? s->to : "");
    int64_t from = resolve(&c->unit_index, s->from, "org unit", "successions", db_buf_str(&key), "from", d);
    resolve(&c->unit_index, s->to, "org unit", "successions", db_buf_str(&key), "to", d);
    if (from >= 0) {
      out_weight[from] += s->weight;
      last[from] = (int64_t)i;
    }
  }
  for (size_t u = 0; u < c->n_units; u++) {
    if (out_weight[u] <= 1 + WEIGHT_SLACK) continue;
    const db_succession *s = &c->successions[last[u]];
    db_buf_clear(&key);
    db_buf_printf(&key, "%s>%s", s->from, s->to);
    char sum[64];
    snprintf(sum, sizeof sum, "%.10g", out_weight[u]);
    db_buf msg = DB_BUF_INIT;
    db_buf_printf(&msg, "the weights of the successions out of '%s' add up to %s, more than 1", s->from, sum);
    link_problem(d, "successions", db_buf_str(&key), "weight", db_buf_str(&msg));
    db_buf_free(&msg);
  }
  db_buf_free(&key);
  db_free(last);
  db_free(out_weight);
}

/* Agencies: their unit and parent exist; the agency tree has no cycle. */
static void link_agencies(db_catalog *c, db_diag *d) {
  size_t n = c->n_agencies;
  int64_t *parent = db_malloc((n ? n : 1) * sizeof *parent);
  for (size_t i = 0; i < n; i++) {
    const db_agency *a = &c->agencies[i];
    resolve(&c->unit_index, a->orgunit, "org unit", "agencies", a->code, "orgunit", d);
    parent[i] = resolve(&c->agency_index, a->parent, "agency", "agencies", a->code, "parent", d);
  }
  int *depth = db_malloc((n ? n : 1) * sizeof *depth);
  walk_tree(n, parent, agency_code, c->agencies, "agencies", depth, d);
  db_free(depth);
  db_free(parent);
}

/* Each code of a ';'-separated list resolves in index. */
static void resolve_list(const db_map *index, const char *list, const char *what, const char *key,
                         const char *field, db_diag *d) {
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ';');
    char *code = db_strndup(p, end ? (size_t)(end - p) : strlen(p));
    resolve(index, code, what, "indicators", key, field, d);
    db_free(code);
    p = end ? end + 1 : NULL;
  }
}

/* Indicators: owner, weight and dimensions exist. */
static void link_indicators(db_catalog *c, db_diag *d) {
  for (size_t i = 0; i < c->n_indicators; i++) {
    const db_indicator *ind = &c->indicators[i];
    resolve(&c->agency_index, ind->owner, "agency", "indicators", ind->code, "owner", d);
    resolve(&c->indicator_index, ind->weight, "indicator", "indicators", ind->code, "weight", d);
    resolve_list(&c->dimension_index, ind->dimensions, "dimension", ind->code, "dimensions", d);
  }
}

int db_catalog_link(db_catalog *c, db_diag *d) {
  size_t before = db_diag_total(d);
  unlink_catalog(c);
  link_units(c, d);
  link_successions(c, d);
  link_agencies(c, d);
  link_indicators(c, d);
  return finish(d, before);
}
