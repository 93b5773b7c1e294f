/* catalog.h - the objects of the catalog (org units, their successions, agencies, indicators,
 * dimensions, targets), their validation rules, and an in-memory catalog that resolves codes.
 *
 * Ownership: every char * field of a catalog object is owned by the object and freed by its
 * db_*_free function; NULL means "not given". Numeric fields that can be unknown use NAN
 * (db_is_unknown). Dates are days since 1970-01-01 (base/text.h), DB_DATE_NONE when open-ended.
 * A db_catalog owns copies of the objects added to it; pointers it returns stay valid until the next
 * add of the same kind or db_catalog_free. Not thread-safe for writing; concurrent readers are fine. */
#ifndef DB_CATALOG_H
#define DB_CATALOG_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/map.h"
#include "model/period.h"

#define DB_DATE_NONE INT64_MIN
#define DB_BAND_AT_RISK_DEFAULT 90.0   /* percent of the plan (db_indicator.band_at_risk) */
#define DB_BAND_OFF_TRACK_DEFAULT 75.0 /* percent of the plan (db_indicator.band_off_track) */

/* ---- org units ---- */
typedef enum db_ou_kind {
  DB_OU_COUNTRY = 1,
  DB_OU_CITY,           /* a province-level city or province */
  DB_OU_WARD,           /* phường */
  DB_OU_COMMUNE,        /* xã */
  DB_OU_SPECIAL_ZONE,   /* đặc khu */
  DB_OU_LEGACY_DISTRICT,/* quận/huyện/thị xã/thành phố before 2025-07-01 */
  DB_OU_LEGACY_WARD,    /* phường/xã/thị trấn before 2025-07-01 */
  DB_OU_SITE,           /* a sensor station or facility */
} db_ou_kind;

typedef struct db_orgunit {
  int64_t id; /* store id; 0 until stored */
  char *code, *name, *name_en;
  db_ou_kind kind;
  int level;    /* 0 for a root; parent's level + 1 (filled by db_catalog_link) */
  char *parent; /* parent code */
  int64_t valid_from, valid_to; /* inclusive days, DB_DATE_NONE when open */
  double population, area_km2;  /* NAN when unknown */
  char *geometry;   /* GeoJSON geometry object (text) */
  char *attributes; /* JSON object of further attributes (text) */
} db_orgunit;

/* A merger link: `from` (an old unit) went wholly (weight 1) or partly (weight < 1) into `to`. */
typedef struct db_succession {
  char *from, *to;
  double weight; /* share of `from` that went to `to`, in (0, 1] */
  int partial;   /* 1 when `from` was split between several successors */
  int64_t date;  /* the day the change took effect */
} db_succession;

/* ---- agencies ---- */
typedef struct db_agency {
  int64_t id;
  char *code, *name, *name_en;
  char *kind;     /* "department", "ward_committee", "police", "company", "ministry", "other" */
  char *orgunit;  /* code of the unit the agency serves (79 for a city department) */
  char *parent;   /* parent agency code */
} db_agency;

/* ---- indicators ---- */
typedef enum db_agg {
  DB_AGG_NONE = 0,
  DB_AGG_SUM,
  DB_AGG_AVG,
  DB_AGG_WAVG, /* spatial only: weighted by the indicator named in `weight` */
  DB_AGG_MIN,
  DB_AGG_MAX,
  DB_AGG_LAST, /* temporal only: the value of the last sub-period (stocks) */
} db_agg;

typedef enum db_polarity { DB_POL_NEUTRAL = 0, DB_POL_HIGHER = 1, DB_POL_LOWER = -1 } db_polarity;

typedef struct db_indicator {
  int64_t id;
  char *code, *name, *name_en, *description;
  char *unit;       /* "%", "billion VND", "µg/m³" */
  int unit_mult;    /* power of ten of the unit multiplier (9 = billion); 0 */
  int decimals;     /* 0..10 */
  db_period_type periodicity;
  int period_span;  /* plan length for multi-year indicators, else 0 */
  db_agg agg_space; /* over org units: sum, avg, wavg, min, max, none */
  char *weight;     /* weight indicator code when agg_space is wavg */
  db_agg agg_time;  /* over time: sum (flows), last (stocks), avg (rates), min, max, none */
  db_polarity polarity;
  double valid_min, valid_max; /* NAN = unbounded */
  char *owner;      /* agency code */
  char *sector;
  char *groups;     /* group codes separated by ';' */
  int is_public;    /* open data */
  char *legal_ref;  /* legal reference code */
  char *formula;    /* derived indicator: takes no direct data */
  char *dimensions; /* dimension codes separated by ';' */
  char *source;     /* provenance */
  int synthetic;    /* generated, not real data */
  /* Status bands against the plan, in percent of it (analytics/analytics.h): on track at or above
   * band_at_risk, at risk below it, off track below band_off_track; 0 <= off_track <= at_risk <= 100.
   * db_indicator_init sets the defaults, 90 and 75. */
  double band_at_risk, band_off_track;
} db_indicator;

/* ---- dimensions ---- */
typedef struct db_dim_item {
  char *code, *name;
} db_dim_item;

typedef struct db_dimension {
  int64_t id;
  char *code, *name;
  db_dim_item *items;
  size_t n_items;
} db_dimension;

/* ---- targets ---- */
typedef struct db_target {
  char *indicator, *orgunit, *period; /* codes */
  char *kind;   /* "plan" (the year's plan), "goal" (a plan-period goal), "threshold" */
  double value;
  char *source; /* source document ("Resolution 01/NQ-CP 2025") */
} db_target;

int db_is_unknown(double v);

const char *db_ou_kind_name(db_ou_kind k);
/* Kinds parse from their names ("city", "ward", "special_zone", "legacy_district"…) and from the
 * Vietnamese unit types, read as units of today: "Phường" ward, "Xã" commune, "Đặc khu" special zone,
 * "Thành phố"/"Thành phố Trung ương"/"Tỉnh" city; the types that no longer exist since 2025-07-01 give
 * legacy kinds ("Quận", "Huyện", "Thị xã" legacy_district; "Thị trấn" legacy_ward). Matching ignores
 * ASCII case and also accepts the types without diacritics ("Phuong", "Dac khu"). 0 or DB_EINVAL. */
int db_ou_kind_parse(const char *s, db_ou_kind *k);
/* The same, reading Vietnamese types as units before 2025-07-01 (for the pre-merger lists, chosen by
 * the importer): "Phường", "Xã", "Thị trấn" legacy_ward; "Quận", "Huyện", "Thị xã", "Thành phố"
 * legacy_district; "Tỉnh", "Thành phố Trung ương" city. Kind names parse as in db_ou_kind_parse. */
int db_ou_kind_parse_legacy(const char *s, db_ou_kind *k);
const char *db_agg_name(db_agg a);
int db_agg_parse(const char *s, db_agg *a);
const char *db_polarity_name(db_polarity p);
int db_polarity_parse(const char *s, db_polarity *p); /* "higher", "lower", "neutral", "+", "-", "1"… */

/* Field-by-field validation of one object on its own (codes well formed, ranges sane, the rules of the
 * indicator: a formula indicator takes no dimensions of its own data, wavg needs a weight, an avg or
 * wavg indicator is not summed over time, min <= max…). Problems go to d with `line` and the field
 * name as path; returns 0 when the object is valid, DB_EINVAL otherwise. */
int db_orgunit_validate(const db_orgunit *ou, long line, db_diag *d);
int db_agency_validate(const db_agency *a, long line, db_diag *d);
int db_indicator_validate(const db_indicator *ind, long line, db_diag *d);
int db_dimension_validate(const db_dimension *dim, long line, db_diag *d);
int db_target_validate(const db_target *t, long line, db_diag *d);
int db_succession_validate(const db_succession *su, long line, db_diag *d);

/* Deep copies and frees of catalog objects. */
void db_orgunit_copy(db_orgunit *dst, const db_orgunit *src);
void db_agency_copy(db_agency *dst, const db_agency *src);
void db_indicator_copy(db_indicator *dst, const db_indicator *src);
void db_dimension_copy(db_dimension *dst, const db_dimension *src);
void db_target_copy(db_target *dst, const db_target *src);
void db_succession_copy(db_succession *dst, const db_succession *src);
void db_orgunit_free(db_orgunit *ou);
void db_agency_free(db_agency *a);
void db_indicator_free(db_indicator *ind);
void db_dimension_free(db_dimension *dim);
void db_target_free(db_target *t);
void db_succession_free(db_succession *s);

/* Default-initialises an object: unknown numbers NAN, dates open, kind/periodicity/aggregation unset,
 * an indicator's decimals 2 and its polarity neutral. */
void db_orgunit_init(db_orgunit *ou);
void db_indicator_init(db_indicator *ind);

/* ---- the in-memory catalog ---- */
typedef struct db_catalog {
  db_orgunit *units;
  size_t n_units, cap_units;
  db_map unit_index; /* code -> index into units */
  db_agency *agencies;
  size_t n_agencies, cap_agencies;
  db_map agency_index;
  db_indicator *indicators;
  size_t n_indicators, cap_indicators;
  db_map indicator_index;
  db_dimension *dimensions;
  size_t n_dimensions, cap_dimensions;
  db_map dimension_index;
  db_succession *successions;
  size_t n_successions, cap_successions;
  /* filled by db_catalog_link: */
  int64_t *unit_parent;   /* index of each unit's parent, -1 for roots */
  int64_t *child_start;   /* children of unit i are child_list[child_start[i] .. child_start[i+1]) */
  int64_t *child_list;
} db_catalog;

void db_catalog_init(db_catalog *c);
void db_catalog_free(db_catalog *c);

/* Adds a copy, or replaces the object with the same code; returns its index. Putting a unit drops the
 * tree that db_catalog_link derived (link again). db_catalog_add_succession always appends. */
size_t db_catalog_put_unit(db_catalog *c, const db_orgunit *ou);
size_t db_catalog_put_agency(db_catalog *c, const db_agency *a);
size_t db_catalog_put_indicator(db_catalog *c, const db_indicator *ind);
size_t db_catalog_put_dimension(db_catalog *c, const db_dimension *dim);
void db_catalog_add_succession(db_catalog *c, const db_succession *s);

/* Lookups by code: the object, or NULL. */
const db_orgunit *db_catalog_unit(const db_catalog *c, const char *code);
const db_agency *db_catalog_agency(const db_catalog *c, const char *code);
const db_indicator *db_catalog_indicator(const db_catalog *c, const char *code);
const db_dimension *db_catalog_dimension(const db_catalog *c, const char *code);

/* Cross-object checks and derived structure: every parent exists, the unit tree has no cycle, levels,
 * children lists, successions name existing units with weights that add up to at most 1 per old unit,
 * indicators' owners, weights and dimensions exist, agencies' units and parents exist. Problems go to
 * d with a path naming the object's kind, code and field: "orgunits[26734].parent",
 * "successions[26734>26740].weight", "agencies[SOF].orgunit", "indicators[CPI].owner" (codes hold no
 * '[', ']' or '>'). Returns 0 or DB_EINVAL. */
int db_catalog_link(db_catalog *c, db_diag *d);

/* Index of the unit `code`'s children, via the arrays filled by db_catalog_link. */
size_t db_catalog_children(const db_catalog *c, size_t unit, const int64_t **children);

#endif
