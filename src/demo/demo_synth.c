/* demo_synth.c - the generator: the synthetic city (when there is no data pack), values for every
 * indicator of the real pack, and the ward-level indicators that no real file has (both modes).
 *
 * Determinism: no rand(). Each series draws from its own splitmix64 stream seeded from a fixed seed and
 * the series' codes, and normal draws are sums of uniforms (Irwin-Hall), so a value does not depend on
 * the order of generation and two loads give the same values.
 *
 * The synthetic city has the shape of the real one: VN above 79, 168 units of 2025 (113 wards, 54
 * communes, 1 special zone; codes 90001..90168, names built from common Vietnamese place-name
 * syllables, square boundaries on a grid over the city's extent) valid from 2025-07-01; 22 old
 * districts D01..D22 and 441 old wards (OLD_92001…) valid to 2025-06-30, each new unit the successor of
 * two or three of them (every 25th old ward split half-and-half with the next unit); the same sites.
 *
 * Ward-level indicators: before 2025-07 the wards that existed were the old ones, and a unit only takes
 * data while it exists, so the months 2023-01..2025-06 are generated at the old wards and 2025-07..
 * 2025-10 at the units of 2025. Values scale with population; an old ward's population is its share of
 * its successors' (each new unit's population divided among its predecessors by their weights). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "demo/demo_int.h"
#include "model/period.h"
#include "store/store.h"

#define SEED 0x5EED2025C0FFEEULL

/* ---- the generator ---- */

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Approximately standard normal: the sum of 12 uniforms minus 6. */
static double rng_gauss(rng *r) {
  double s = 0;
  for (int i = 0; i < 12; i++) s += rng_unit(r);
  return s - 6;
}

/* A stream for the series (a, b, c): FNV-1a over the codes, mixed with the fixed seed. */
static rng rng_for(const char *a, const char *b, const char *c) {
  uint64_t h = 0xCBF29CE484222325ULL;
  const char *parts[] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    for (const char *p = parts[i] ? parts[i] : ""; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001B3ULL;
    h = (h ^ '|') * 0x100000001B3ULL;
  }
  rng r = {h ^ SEED};
  rng_next(&r);
  return r;
}

static double round_to(double v, int decimals) {
  double scale = pow(10, decimals);
  return round(v * scale) / scale;
}

/* ---- the synthetic city ---- */

static const char *const syllable1[20][2] = {
    {"Tân", "Tan"},       {"Bình", "Binh"}, {"Long", "Long"},   {"Phước", "Phuoc"}, {"Vĩnh", "Vinh"},
    {"Thạnh", "Thanh"},   {"Hiệp", "Hiep"}, {"Nhơn", "Nhon"},   {"Mỹ", "My"},       {"Xuân", "Xuan"},
    {"Trường", "Truong"}, {"Đức", "Duc"},   {"Quang", "Quang"}, {"Minh", "Minh"},   {"Gia", "Gia"},
    {"Hòa", "Hoa"},       {"Thới", "Thoi"}, {"Thuận", "Thuan"}, {"Khánh", "Khanh"}, {"Phú", "Phu"}};
static const char *const syllable2[20][2] = {
    {"An", "An"},     {"Lợi", "Loi"},   {"Hưng", "Hung"},   {"Định", "Dinh"},   {"Lộc", "Loc"},
    {"Đông", "Dong"}, {"Tây", "Tay"},   {"Trung", "Trung"}, {"Thành", "Thanh"}, {"Nghĩa", "Nghia"},
    {"Thọ", "Tho"},   {"Hải", "Hai"},   {"Sơn", "Son"},     {"Điền", "Dien"},   {"Quý", "Quy"},
    {"Tiến", "Tien"}, {"Phát", "Phat"}, {"Thắng", "Thang"}, {"Nhựt", "Nhut"},   {"Hội", "Hoi"}};

#define N_NEW 168
#define N_WARDS 113
#define N_COMMUNES 54
#define N_OLD 441
#define N_DISTRICTS 22
#define N_URBAN_DISTRICTS 16
#define N_TRIPLE (N_OLD - 2 * N_NEW) /* new units with three predecessors (105); the others have two */

/* The k-th distinct two-syllable name (k < 400), in Vietnamese (lang 0) or without diacritics (1). */
static void place_name(int k, int lang, char *out, size_t cap) {
  int j = (k * 7 + 3) % 400; /* 7 is prime to 400: a permutation */
  snprintf(out, cap, "%s %s", syllable1[j / 20][lang], syllable2[j % 20][lang]);
}

static void put_unit(db__demo *dm, const char *code, const char *name, const char *name_en, db_ou_kind kind,
                     const char *parent, int64_t from, int64_t to, double pop, double area,
                     const char *geometry) {
  db_orgunit ou;
  db_orgunit_init(&ou);
  ou.code = (char *)code;
  ou.name = (char *)name;
  ou.name_en = (char *)name_en;
  ou.kind = kind;
  ou.parent = (char *)parent;
  ou.valid_from = from;
  ou.valid_to = to;
  ou.population = pop;
  ou.area_km2 = area;
  ou.geometry = (char *)geometry;
  db_catalog_put_unit(&dm->cat, &ou);
}

/* A square cell of a 13 x 13 grid over the city's extent (106.4-107.0 E, 10.5-11.1 N). */
static void grid_cell(int i, char *out, size_t cap) {
  double step = 0.6 / 13, x0 = 106.4 + (i % 13) * step, y0 = 10.5 + (i / 13) * step, x1 = x0 + step,
         y1 = y0 + step;
  snprintf(out, cap,
           "{\"type\":\"Polygon\",\"coordinates\":[[[%.5f,%.5f],[%.5f,%.5f],[%.5f,%.5f],[%.5f,%.5f],[%.5f,%."
           "5f]]]}",
           x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
}

static void synth_new_units(db__demo *dm, int64_t start) {
  char code[16], name[96], name_en[96], place[64], place_en[64], geometry[256];
  for (int i = 0; i < N_NEW; i++) {
    snprintf(code, sizeof code, "9%04d", i + 1);
    rng r = rng_for("unit", code, NULL);
    db_ou_kind kind = i < N_WARDS                ? DB_OU_WARD
                      : i < N_WARDS + N_COMMUNES ? DB_OU_COMMUNE
                                                 : DB_OU_SPECIAL_ZONE;
    double pop, area;
    if (kind == DB_OU_SPECIAL_ZONE) {
      snprintf(name, sizeof name, "Đặc khu Hòn Ngọc");
      snprintf(name_en, sizeof name_en, "Hon Ngoc Special Zone");
      pop = 11000, area = 76;
    } else {
      place_name(i, 0, place, sizeof place);
      place_name(i, 1, place_en, sizeof place_en);
      int ward = kind == DB_OU_WARD;
      snprintf(name, sizeof name, "%s %s", ward ? "Phường" : "Xã", place);
      snprintf(name_en, sizeof name_en, "%s %s", place_en, ward ? "Ward" : "Commune");
      pop = round(ward ? 30000 + 130000 * rng_unit(&r) : 15000 + 65000 * rng_unit(&r));
      area = round_to(ward ? 1.5 + 23.5 * rng_unit(&r) : 25 + 235 * rng_unit(&r), 2);
    }
    grid_cell(i, geometry, sizeof geometry);
    put_unit(dm, code, name, name_en, kind, "79", start, DB_DATE_NONE, pop, area, geometry);
  }
}

/* The new unit (0-based) whose predecessors include old ward j. */
static int successor_of(int j) { return j < N_TRIPLE * 3 ? j / 3 : N_TRIPLE + (j - N_TRIPLE * 3) / 2; }

static void synth_old_units(db__demo *dm, int64_t end, int64_t merger) {
  char code[16], name[96], parent[8], place[64], to[16];
  for (int d = 0; d < N_DISTRICTS; d++) {
    snprintf(code, sizeof code, "D%02d", d + 1);
    if (d < N_URBAN_DISTRICTS) {
      snprintf(name, sizeof name, "Quận %d", d + 1);
    } else {
      place_name(300 + d, 0, place, sizeof place);
      snprintf(name, sizeof name, "Huyện %s", place);
    }
    put_unit(dm, code, name, NULL, DB_OU_LEGACY_DISTRICT, "79", DB_DATE_NONE, end, NAN, NAN, NULL);
  }
  for (int j = 0; j < N_OLD; j++) {
    int d = j * N_DISTRICTS / N_OLD;
    snprintf(parent, sizeof parent, "D%02d", d + 1);
    snprintf(code, sizeof code, "%s9%04d", DB__DEMO_LEGACY_PREFIX, 2001 + j);
    if (d < N_URBAN_DISTRICTS) { /* numbered within the district, from the district's first ward */
      snprintf(name, sizeof name, "Phường %d", j - (d * N_OLD + N_DISTRICTS - 1) / N_DISTRICTS + 1);
    } else {
      place_name(N_NEW + j, 0, place, sizeof place);
      snprintf(name, sizeof name, "Xã %s", place);
    }
    put_unit(dm, code, name, NULL, DB_OU_LEGACY_WARD, parent, DB_DATE_NONE, end, NAN, NAN, NULL);
    int s = successor_of(j), split = j % 25 == 7 && s + 1 < N_NEW;
    snprintf(to, sizeof to, "9%04d", s + 1);
    db_succession su = {code, to, split ? 0.5 : 1, split, merger};
    db_catalog_add_succession(&dm->cat, &su);
    if (split) {
      snprintf(to, sizeof to, "9%04d", s + 2);
      db_catalog_add_succession(&dm->cat, &su);
    }
  }
}

void db__demo_synth_units(db__demo *dm) {
  int64_t merger, end;
  db_parse_date(DB__DEMO_MERGER_DATE, 10, &merger);
  end = merger - 1;
  db__demo_add_country(dm);
  put_unit(dm, "79", "Thành phố Hồ Chí Minh", "Ho Chi Minh City", DB_OU_CITY, "VN", DB_DATE_NONE,
           DB_DATE_NONE, NAN, NAN, NULL);
  synth_new_units(dm, merger);
  synth_old_units(dm, end, merger);
  db__demo_add_sites(dm);
}

/* ---- periods ---- */

/* Calls fn for every period of `type` from `from` to `to` (codes, inclusive); stops at a nonzero
 * answer and returns it. */
static int each_period(db_period_type type, const char *from, const char *to,
                       int (*fn)(void *ctx, const db_period *p, const char *code), void *ctx) {
  db_period p, last;
  if (db_period_parse_as(from, strlen(from), type, 0, &p, NULL) ||
      db_period_parse_as(to, strlen(to), type, 0, &last, NULL))
    return DB_EINVAL;
  char code[DB_PERIOD_CODE_MAX];
  for (; db_period_compare(&p, &last) <= 0; p = db_period_add(&p, 1)) {
    db_period_format(&p, code);
    int rc = fn(ctx, &p, code);
    if (rc) return rc;
  }
  return DB_OK;
}

/* Month of the year (1..12) and hour of the day (0..23) of a period, in city time. */
static void calendar(const db_period *p, int *month, int *hour) {
  int64_t ms = db_period_start_ms(p) + (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t y;
  unsigned m, d;
  db_civil_from_days(days, &y, &m, &d);
  *month = (int)m;
  *hour = (int)((ms - days * 86400000) / 3600000);
}

/* ---- values for the indicators of the real pack ---- */

typedef struct synth_def {
  const char *indicator, *unit; /* a unit code, or "AQ" for the six stations */
  db_period_type type;
  const char *from, *to;
  double mean, sd, phi;   /* AR(1) around the mean */
  double season, diurnal; /* amplitudes of the yearly and daily cycles */
  double trend;           /* added per step */
  double min, max;
  int ytd; /* cumulated from January (year-to-date series) */
} synth_def;

#define M_FROM "2019-01"
#define M_TO "2025-10"
#define H_FROM "2025-01-01T00:00"
#define H_TO "2025-03-31T23:00"

static const synth_def synth_defs[] = {
    {"CPI_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 3.2, 0.35, 0.85, 0.2, 0, 0, -5, 25, 0},
    {"CPI_MOM", "VN", DB_PT_MONTH, M_FROM, M_TO, 0.25, 0.3, 0.2, 0.3, 0, 0, -3, 5, 0},
    {"CPI_AVG_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 3.1, 0.2, 0.95, 0, 0, 0, -5, 25, 0},
    {"CORE_INFL_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 2.8, 0.2, 0.9, 0, 0, 0, -5, 25, 0},
    {"GOLD_PRICE_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 12, 6, 0.9, 0, 0, 0, -40, 80, 0},
    {"USD_PRICE_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 2.5, 1, 0.9, 0, 0, 0, -10, 20, 0},
    {"CPI_FOOD_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 3.5, 1, 0.85, 0.5, 0, 0, -10, 30, 0},
    {"CPI_HOUSING_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 4, 1.2, 0.85, 0, 0, 0, -10, 30, 0},
    {"CPI_TRANSPORT_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 1.5, 3, 0.85, 0, 0, 0, -30, 40, 0},
    {"CPI_HEALTH_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 3, 0.6, 0.9, 0, 0, 0, -10, 40, 0},
    {"CPI_EDUCATION_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 4, 2, 0.9, 0, 0, 0, -20, 40, 0},
    {"IIP_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 8, 4, 0.5, 3, 0, 0, -30, 60, 0},
    {"IIP_MFG_YOY", "VN", DB_PT_MONTH, M_FROM, M_TO, 9, 4.5, 0.5, 3, 0, 0, -30, 60, 0},
    {"RETAIL_SALES", "VN", DB_PT_MONTH, M_FROM, M_TO, 420000, 12000, 0.6, 25000, 0, 2200, 0, NAN, 0},
    {"RETAIL_GOODS", "VN", DB_PT_MONTH, M_FROM, M_TO, 330000, 9000, 0.6, 20000, 0, 1700, 0, NAN, 0},
    {"EXPORTS", "VN", DB_PT_MONTH, M_FROM, M_TO, 25000, 1800, 0.5, 2500, 0, 120, 0, NAN, 0},
    {"IMPORTS", "VN", DB_PT_MONTH, M_FROM, M_TO, 24000, 1800, 0.5, 2200, 0, 115, 0, NAN, 0},
    {"FDI_REG", "VN", DB_PT_MONTH, M_FROM, M_TO, 3000, 1200, 0.2, 0, 0, 5, 0, NAN, 1},
    {"FDI_REG", "79", DB_PT_MONTH, M_FROM, M_TO, 450, 300, 0.2, 0, 0, 1, 0, NAN, 1},
    {"FDI_PROJECTS", "VN", DB_PT_MONTH, M_FROM, M_TO, 250, 60, 0.2, 0, 0, 0.5, 0, NAN, 1},
    {"FDI_PROJECTS", "79", DB_PT_MONTH, M_FROM, M_TO, 90, 25, 0.2, 0, 0, 0.2, 0, NAN, 1},
    {"BUDGET_INVEST", "VN", DB_PT_MONTH, M_FROM, M_TO, 45000, 6000, 0.5, 15000, 0, 200, 0, NAN, 0},
    {"BUDGET_INVEST", "79", DB_PT_MONTH, M_FROM, M_TO, 3500, 600, 0.5, 1200, 0, 15, 0, NAN, 0},
    {"GDP_GROWTH_YOY", "VN", DB_PT_QUARTER, "2019-Q1", "2025-Q3", 6.5, 1, 0.6, 0, 0, 0, -10, 15, 0},
    {"GDP_USD", "VN", DB_PT_YEAR, "2000", "2024", 3.0e10, 4.0e9, 0.8, 0, 0, 1.7e10, 0, NAN, 0},
    {"POP", "VN", DB_PT_YEAR, "2000", "2024", 79500000, 150000, 0.9, 0, 0, 860000, 0, NAN, 0},
    {"INFL_CPI", "VN", DB_PT_YEAR, "2000", "2024", 5, 3, 0.6, 0, 0, 0, -5, 40, 0},
    {"INFL_DEFLATOR", "VN", DB_PT_YEAR, "2000", "2024", 6, 3, 0.6, 0, 0, 0, -5, 40, 0},
    {"PM25", "AQ", DB_PT_HOUR, H_FROM, H_TO, 28, 3, 0.9, 0, 8, 0, 0, 2000, 0},
    {"NO2", "AQ", DB_PT_HOUR, H_FROM, H_TO, 90, 8, 0.9, 0, 25, 0, 0, 5000, 0},
    {"O3", "AQ", DB_PT_HOUR, H_FROM, H_TO, 60, 6, 0.9, 0, -30, 0, 0, 5000, 0},
    {"CO", "AQ", DB_PT_HOUR, H_FROM, H_TO, 1500, 120, 0.9, 0, 400, 0, 0, 100000, 0},
    {"SO2", "AQ", DB_PT_HOUR, H_FROM, H_TO, 300, 20, 0.9, 0, 40, 0, 0, 5000, 0},
    {"TSP", "AQ", DB_PT_HOUR, H_FROM, H_TO, 60, 6, 0.9, 0, 15, 0, 0, 5000, 0},
    {"TEMP_C", "AQ", DB_PT_HOUR, H_FROM, H_TO, 29, 0.6, 0.9, 1, -3.5, 0, -10, 60, 0},
    {"HUMIDITY", "AQ", DB_PT_HOUR, H_FROM, H_TO, 70, 3, 0.9, 5, 12, 0, 0, 100, 0},
    {"RAIN_MM", "MET_VT", DB_PT_MONTH, M_FROM, M_TO, 120, 40, 0.1, 110, 0, 0, 0, 3000, 0},
    {"COVID_NEW", "VN", DB_PT_DAY, "2020-01-22", "2021-10-10", 300, 60, 0.97, 0, 0, 0, 0, NAN, 0},
    {"COVID_DEATHS", "VN", DB_PT_DAY, "2020-01-22", "2021-10-10", 6, 1.2, 0.97, 0, 0, 0, 0, NAN, 0},
};

typedef struct series_run {
  db__demo *dm;
  const synth_def *def;
  const char *unit;
  int decimals;
  rng r;
  double ar, ytd;
  int64_t step;
  int last_year;
} series_run;

static int synth_value(void *ctx, const db_period *p, const char *code) {
  series_run *s = ctx;
  const synth_def *d = s->def;
  int month, hour;
  calendar(p, &month, &hour);
  s->ar = d->phi * s->ar + d->sd * rng_gauss(&s->r);
  double v = d->mean + d->trend * (double)s->step++ + s->ar + d->season * sin(2 * M_PI * (month - 4) / 12.0) +
             d->diurnal * sin(2 * M_PI * (hour - 2) / 24.0);
  if (v < d->min) v = d->min;
  if (!isnan(d->max) && v > d->max) v = d->max;
  if (d->ytd) {
    int year = (int)(p->ord / 12);
    if (year != s->last_year) s->ytd = 0, s->last_year = year;
    v = s->ytd += v;
  }
  int rc =
      db__demo_emit(s->dm, 0, d->indicator, s->unit, code, round_to(v, s->decimals), DB_STATUS_PROVISIONAL);
  return rc == DB_EINVAL ? DB_OK : rc;
}

/* Generates one indicator at one unit. */
static int synth_series(db__demo *dm, const synth_def *d, const char *unit) {
  const db_indicator *ind = db_catalog_indicator(&dm->cat, d->indicator);
  series_run s = {dm, d, unit, ind ? ind->decimals : 2, rng_for(d->indicator, unit, NULL), 0, 0, 0, -1};
  return each_period(d->type, d->from, d->to, synth_value, &s);
}

int db__demo_synth_series(db__demo *dm) {
  int rc = db__demo_batch_begin(dm, "synthetic");
  if (rc) return rc;
  char unit[16];
  for (size_t i = 0; i < sizeof synth_defs / sizeof synth_defs[0] && !rc; i++) {
    const synth_def *d = &synth_defs[i];
    int stations = strcmp(d->unit, "AQ") == 0;
    for (int k = 1; k <= (stations ? 6 : 1) && !rc; k++) {
      if (stations)
        snprintf(unit, sizeof unit, "AQ%02d", k);
      else
        snprintf(unit, sizeof unit, "%s", d->unit);
      rc = synth_series(dm, d, unit);
    }
  }
  if (rc) {
    db_ingest_abort(dm->in);
    dm->in = NULL;
    return rc;
  }
  rc = db__demo_batch_end(dm);
  if (rc && rc != DB_EINVAL) return rc;
  return db__demo_unit_attributes(dm);
}

/* ---- ward-level indicators ---- */

typedef enum ward_model { STOCK, FLOW, PERCENT } ward_model;

typedef struct ward_def {
  const char *indicator;
  ward_model model;
  double rate;   /* STOCK, FLOW: per inhabitant (a month for flows); PERCENT: the level in 2023-01 */
  double season; /* relative (FLOW) or absolute (PERCENT) amplitude of the yearly cycle */
  double sd;     /* relative (FLOW) or absolute (PERCENT) noise */
  double trend;  /* a year: relative growth (STOCK, FLOW), points (PERCENT) */
  int plan;      /* has a 2025 plan per ward */
} ward_def;

static const ward_def ward_defs[] = {
    {"SCHOOLS", STOCK, 1 / 4200.0, 0, 0, 0.02, 0},
    {"CLINICS", STOCK, 1 / 6000.0, 0, 0, 0.03, 0},
    {"OUTPATIENT_VISITS", FLOW, 0.35, 0.08, 0.06, 0.03, 0},
    {"WASTE_COLLECTED", FLOW, 0.0285, 0.04, 0.03, 0.02, 1},
    {"BUILDING_PERMITS", FLOW, 0.0004, 0.15, 0.25, 0.01, 0},
    {"BUSINESS_REG", FLOW, 0.00029, 0.2, 0.2, 0.05, 1},
    {"TRAFFIC_ACCIDENTS", FLOW, 0.00002, 0.1, 0.35, -0.04, 0},
    {"ADMIN_ONTIME_PCT", PERCENT, 95.5, 0.5, 1.2, 0.8, 0},
    {"ONLINE_DOSSIER_PCT", PERCENT, 42, 0, 4, 15, 0},
};
#define N_WARD (sizeof ward_defs / sizeof ward_defs[0])
#define PANEL_FROM "2023-01"
#define PANEL_MERGER "2025-07"
#define PANEL_TO "2025-10"
#define PLAN_GROWTH 1.05

/* The unit's own level against the city's (0.8..1.2), the same in every load. */
static double unit_factor(const char *indicator, const char *unit) {
  rng r = rng_for(indicator, unit, "factor");
  return 0.8 + 0.4 * rng_unit(&r);
}

typedef struct ward_run {
  db__demo *dm;
  const ward_def *def;
  const char *unit;
  double pop, factor;
  int decimals;
  rng r;
} ward_run;

static int ward_value(void *ctx, const db_period *p, const char *code) {
  ward_run *w = ctx;
  const ward_def *d = w->def;
  int month, hour;
  calendar(p, &month, &hour);
  double years = (double)(p->ord - 2023 * 12) / 12.0, cycle = sin(2 * M_PI * (month - 3) / 12.0), v;
  if (d->model == STOCK) {
    v = ceil(w->pop * d->rate * w->factor * (1 + d->trend * years));
  } else if (d->model == FLOW) {
    v = w->pop * d->rate * w->factor * (1 + d->season * cycle) * (1 + d->trend * years) *
        (1 + d->sd * rng_gauss(&w->r));
    if (v < 0) v = 0;
  } else {
    v = d->rate + d->trend * years + d->season * cycle + d->sd * rng_gauss(&w->r) + 10 * (w->factor - 1);
    v = v < 0 ? 0 : v > 100 ? 100 : v;
  }
  int rc =
      db__demo_emit(w->dm, 0, d->indicator, w->unit, code, round_to(v, w->decimals), DB_STATUS_PROVISIONAL);
  return rc == DB_EINVAL ? DB_OK : rc;
}

/* Population of every unit that takes ward data: the units of 2025 from the catalog; the old units
 * without children (wards, and a district that had none) from their successors. Fills pop (indexed like
 * dm->cat.units; NAN for the units that take no ward data). */
static void ward_populations(const db__demo *dm, double *pop) {
  const db_catalog *c = &dm->cat;
  size_t n = c->n_units ? c->n_units : 1;
  double *inflow = db_calloc(n, sizeof *inflow); /* weights of the successions into each unit */
  char *has_children = db_calloc(n, 1);
  for (size_t i = 0; i < c->n_units; i++) {
    int64_t parent;
    pop[i] = NAN;
    if (c->units[i].parent && db_map_gets(&c->unit_index, c->units[i].parent, &parent))
      has_children[parent] = 1;
  }
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->n_successions; i++) {
      const db_succession *s = &c->successions[i];
      int64_t from, to;
      if (!db_map_gets(&c->unit_index, s->from, &from) || !db_map_gets(&c->unit_index, s->to, &to)) continue;
      db_ou_kind k = c->units[from].kind;
      if ((k != DB_OU_LEGACY_WARD && k != DB_OU_LEGACY_DISTRICT) || has_children[from]) continue;
      if (pass == 0) {
        inflow[to] += s->weight;
      } else if (!db_is_unknown(c->units[to].population) && inflow[to] > 0) {
        double share = c->units[to].population * s->weight / inflow[to];
        pop[from] = db_is_unknown(pop[from]) ? share : pop[from] + share;
      }
    }
  for (size_t i = 0; i < c->n_units; i++) {
    const db_orgunit *u = &c->units[i];
    if (u->kind == DB_OU_WARD || u->kind == DB_OU_COMMUNE || u->kind == DB_OU_SPECIAL_ZONE)
      pop[i] = u->population;
  }
  db_free(has_children);
  db_free(inflow);
}

/* The plan of a ward for 2025: its expected year at the rate of 2025, plus 5%. */
static void ward_plan(db__demo *dm, const ward_def *d, const db_orgunit *u) {
  const db_indicator *ind = db_catalog_indicator(&dm->cat, d->indicator);
  double year = u->population * d->rate * unit_factor(d->indicator, u->code) * 12 * (1 + d->trend * 2.5);
  db__demo_add_target(dm, d->indicator, u->code, "2025", "plan",
                      round_to(year * PLAN_GROWTH, ind ? ind->decimals : 0),
                      "Demo ward plan 2025: the generated expectation + 5% (synthetic)");
}

int db__demo_ward_series(db__demo *dm) {
  const db_catalog *c = &dm->cat;
  double *pop = db_malloc((c->n_units ? c->n_units : 1) * sizeof *pop);
  ward_populations(dm, pop);
  int rc = db__demo_batch_begin(dm, "synthetic:ward_panel");
  for (size_t k = 0; k < N_WARD && !rc; k++) {
    const ward_def *d = &ward_defs[k];
    const db_indicator *ind = db_catalog_indicator(c, d->indicator);
    for (size_t i = 0; i < c->n_units && !rc; i++) {
      const db_orgunit *u = &c->units[i];
      if (db_is_unknown(pop[i])) continue;
      int legacy = u->valid_to != DB_DATE_NONE;
      ward_run w = {dm,
                    d,
                    u->code,
                    pop[i],
                    unit_factor(d->indicator, u->code),
                    ind ? ind->decimals : 0,
                    rng_for(d->indicator, u->code, NULL)};
      rc = each_period(DB_PT_MONTH, legacy ? PANEL_FROM : PANEL_MERGER, legacy ? "2025-06" : PANEL_TO,
                       ward_value, &w);
      if (!rc && !legacy && d->plan) ward_plan(dm, d, u);
    }
  }
  db_free(pop);
  if (rc) {
    if (dm->in) db_ingest_abort(dm->in);
    dm->in = NULL;
    return rc;
  }
  rc = db__demo_batch_end(dm);
  return rc == DB_EINVAL ? DB_OK : rc;
}
