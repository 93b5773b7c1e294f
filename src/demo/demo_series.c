/* demo_series.c - the observations of the real data pack, one batch per file, and the unit attributes
 * (POPULATION, AREA_KM2 of 2025) in both modes.
 *
 * Which rows and columns each indicator comes from is the `source` of its metadata (demo_catalog.c).
 * Blank values and the GSO "no data" mark ".." are missing values, not problems. A value that is not a
 * number, a bad date or an unknown station is reported with the file and line and its row skipped.
 * Statuses: statistics are official, sensor readings provisional. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "demo/demo_int.h"
#include "store/store.h"

#define D_GSO "macro/gso_monthly_national/"
#define F_AIR "city_ops/hcmc_air_quality_healthyair_hourly_2021-2022.csv"
#define F_RAIN "city_ops/vn_rainfall_mm_monthly_15stations_gso_2002-2019.csv"
#define F_COVID "city_ops/vn_covid19_daily_cumulative_jhu_2020-01-22_2021-10-10.csv"
#define F_UNITS "admin_units/hcmc_communes_2025-07-01.csv"

/* ---- the GSO monthly tables ---- */

/* One indicator of a GSO table: the rows whose group column is `group` (NULL: every province, and the
 * national total "TỔNG SỐ" as VN), the value in `column`. */
typedef struct gso_pick {
  const char *group, *column, *indicator;
} gso_pick;

typedef struct gso_table {
  const char *file, *group_col;
  db_period_type period;             /* month or quarter, from the Date column */
  const char *only_col, *only_value; /* rows kept (besides "TỔNG SỐ"): only_col == only_value; NULL = all */
  gso_pick picks[12];
} gso_table;

static const gso_table gso_tables[] = {
    {D_GSO "cpi.csv",
     "Hàng hóa",
     DB_PT_MONTH,
     NULL,
     NULL,
     {{"CHỈ SỐ GIÁ TIÊU DÙNG", "YOY", "CPI_YOY"},
      {"CHỈ SỐ GIÁ TIÊU DÙNG", "MOM", "CPI_MOM"},
      {"CHỈ SỐ GIÁ TIÊU DÙNG", "YTD-YOY", "CPI_AVG_YOY"},
      {"LẠM PHÁT CƠ BẢN", "YOY", "CORE_INFL_YOY"},
      {"CHỈ SỐ GIÁ VÀNG", "YOY", "GOLD_PRICE_YOY"},
      {"CHỈ SỐ GIÁ ĐÔ LA MỸ", "YOY", "USD_PRICE_YOY"},
      {"Hàng ăn và dịch vụ ăn uống", "YOY", "CPI_FOOD_YOY"},
      {"Nhà ở và vật liệu xây dựng", "YOY", "CPI_HOUSING_YOY"},
      {"Giao thông", "YOY", "CPI_TRANSPORT_YOY"},
      {"Thuốc và dịch vụ y tế", "YOY", "CPI_HEALTH_YOY"},
      {"Giáo dục", "YOY", "CPI_EDUCATION_YOY"}}},
    {D_GSO "iip.csv",
     "Ngành",
     DB_PT_MONTH,
     NULL,
     NULL,
     {{"Toàn ngành công nghiệp", "YOY", "IIP_YOY"}, {"Công nghiệp chế biến, chế tạo", "YOY", "IIP_MFG_YOY"}}},
    {D_GSO "tongmuc.csv",
     "Phân Loại",
     DB_PT_MONTH,
     NULL,
     NULL,
     {{"TỔNG SỐ", "M", "RETAIL_SALES"}, {"Bán lẻ hàng hóa", "M", "RETAIL_GOODS"}}},
    {D_GSO "xk.csv", "Ngành", DB_PT_MONTH, NULL, NULL, {{"TỔNG TRỊ GIÁ", "Total-M", "EXPORTS"}}},
    {D_GSO "nk.csv", "Ngành", DB_PT_MONTH, NULL, NULL, {{"TỔNG TRỊ GIÁ", "Total-M", "IMPORTS"}}},
    {D_GSO "fdi.csv",
     "Phân Loại",
     DB_PT_MONTH,
     "Trong Nước",
     "Trong Nước",
     {{NULL, "Vốn đăng ký", "FDI_REG"}, {NULL, "Số dự án", "FDI_PROJECTS"}}},
    {D_GSO "vdt.csv", "Phân Loại", DB_PT_MONTH, NULL, NULL, {{NULL, "Total-M", "BUDGET_INVEST"}}},
    {D_GSO "gdp_ss.csv", "Ngành", DB_PT_QUARTER, NULL, NULL, {{"TỔNG SỐ", "YOY", "GDP_GROWTH_YOY"}}},
};
#define N_GSO (sizeof gso_tables / sizeof gso_tables[0])

/* ---- World Bank ---- */
typedef struct wb_table {
  const char *file, *column, *indicator;
} wb_table;

static const wb_table wb_tables[] = {
    {"macro/wb_gdp_current_usd.csv", "Value", "GDP_USD"},
    {"macro/wb_population.csv", "Value", "POP"},
    {"macro/wb_inflation_consumer_prices_pct.csv", "Inflation", "INFL_CPI"},
    {"macro/wb_inflation_gdp_deflator_pct.csv", "Inflation", "INFL_DEFLATOR"},
};
#define N_WB (sizeof wb_tables / sizeof wb_tables[0])

const char *const db__demo_series_files[] = {D_GSO "cpi.csv",
                                             D_GSO "iip.csv",
                                             D_GSO "tongmuc.csv",
                                             D_GSO "xk.csv",
                                             D_GSO "nk.csv",
                                             D_GSO "fdi.csv",
                                             D_GSO "vdt.csv",
                                             D_GSO "gdp_ss.csv",
                                             "macro/wb_gdp_current_usd.csv",
                                             "macro/wb_population.csv",
                                             "macro/wb_inflation_consumer_prices_pct.csv",
                                             "macro/wb_inflation_gdp_deflator_pct.csv",
                                             F_AIR,
                                             F_RAIN,
                                             F_COVID,
                                             NULL};

/* The air-quality columns and their indicators. */
static const char *const air_columns[][2] = {{"PM2.5", "PM25"},
                                             {"NO2", "NO2"},
                                             {"O3", "O3"},
                                             {"CO", "CO"},
                                             {"SO2", "SO2"},
                                             {"TSP", "TSP"},
                                             {"Temperature", "TEMP_C"},
                                             {"Humidity", "HUMIDITY"}};
#define N_AIR (sizeof air_columns / sizeof air_columns[0])

static const char *const rain_months[12] = {"Jan.", "Feb.", "March", "April", "May",  "June",
                                            "July", "Aug.", "Sep.",  "Oct.",  "Nov.", "Dec"};

static int load_gso(db__demo *dm, const gso_table *t);
static int load_wb(db__demo *dm, const wb_table *t);
static int load_air(db__demo *dm);
static int load_rain(db__demo *dm);
static int load_covid(db__demo *dm);

int db__demo_pack_series(db__demo *dm) {
  int rc = DB_OK;
  for (size_t i = 0; i < N_GSO && !rc; i++) rc = load_gso(dm, &gso_tables[i]);
  for (size_t i = 0; i < N_WB && !rc; i++) rc = load_wb(dm, &wb_tables[i]);
  if (!rc) rc = load_air(dm);
  if (!rc) rc = load_rain(dm);
  if (!rc) rc = load_covid(dm);
  if (!rc) rc = db__demo_unit_attributes(dm);
  return rc;
}

/* ---- shared steps ---- */

/* Opens a file and its batch. 1 when both are open; 0 when the file could not be read (reported,
 * counted as skipped); a store error otherwise. */
static int open_source(db__demo *dm, const char *file, db__demo_csv *c) {
  if (db__demo_csv_open(dm, file, c) != DB_OK) {
    dm->stats.sources_skipped++;
    return 0;
  }
  int rc = db__demo_batch_begin(dm, file);
  if (rc) {
    db__demo_csv_close(c);
    return rc;
  }
  return 1;
}

/* Ends a source: when the reading stopped on an error (read_rc < 0) or a store failure (fatal), the
 * batch is abandoned; otherwise it is committed or rolled back by the ingest path. Returns 0 or the
 * store error that stops the load. */
static int close_source(db__demo *dm, db__demo_csv *c, int read_rc, int fatal) {
  db__demo_csv_close(c);
  if (fatal || read_rc < 0) {
    db_ingest_abort(dm->in);
    dm->in = NULL;
    dm->stats.sources_skipped++;
    if (!fatal)
      db__demo_problem(dm, c->file, 0, 0, read_rc, "reading stopped: nothing of this file was loaded");
    return fatal;
  }
  int rc = db__demo_batch_end(dm);
  return rc == DB_EINVAL ? DB_OK : rc;
}

/* Emits and sorts the answer: 0 (accepted or refused: the batch will tell), or the store error. */
static int emit(db__demo *dm, long line, const char *ind, const char *unit, const char *period, double v,
                int status) {
  int rc = db__demo_emit(dm, line, ind, unit, period, v, status);
  return rc == DB_EINVAL ? DB_OK : rc;
}

/* The period code of a "YYYY-MM-DD" date for a month or a quarter; 0, or -1 when the date is malformed
 * (reported). */
static int period_of_date(db__demo_csv *c, int col, db_period_type type, char out[16]) {
  const db_csv_field *f = col >= 0 && (size_t)col < c->nf ? &c->f[col] : NULL;
  int ok = f && f->len == 10 && f->p[4] == '-' && f->p[7] == '-';
  for (int i = 0; ok && i < 10; i++) ok = i == 4 || i == 7 || (f->p[i] >= '0' && f->p[i] <= '9');
  int month = ok ? (f->p[5] - '0') * 10 + (f->p[6] - '0') : 0;
  if (!ok || month < 1 || month > 12) {
    db__demo_problem(c->dm, c->file, c->line, col + 1, DB_EINVAL, "'%.*s' is not a date YYYY-MM-DD",
                     f ? (int)(f->len > 32 ? 32 : f->len) : 0, f ? f->p : "");
    return -1;
  }
  if (type == DB_PT_QUARTER)
    snprintf(out, 16, "%.4s-Q%d", f->p, (month - 1) / 3 + 1);
  else
    snprintf(out, 16, "%.7s", f->p);
  return 0;
}

/* ---- loaders ---- */

/* The unit of a GSO row: VN for the national total; for a table by province, the province (0 when
 * the group is something else: a ministry, a partner country). */
static int gso_unit(db__demo *dm, const char *group, char unit[8]) {
  if (strcmp(group, "TỔNG SỐ") == 0) return snprintf(unit, 8, "VN"), 1;
  return db__demo_province_code(dm, group, unit);
}

static int load_gso(db__demo *dm, const gso_table *t) {
  db__demo_csv c;
  int rc = open_source(dm, t->file, &c);
  if (rc != 1) return rc;
  int gcol = db__demo_csv_col(&c, t->group_col), dcol = db__demo_csv_col(&c, "Date");
  int ocol = t->only_col ? db__demo_csv_col(&c, t->only_col) : 0;
  int vcol[12], n = 0, ok = gcol >= 0 && dcol >= 0 && ocol >= 0;
  for (; n < 12 && t->picks[n].indicator; n++)
    ok &= (vcol[n] = db__demo_csv_col(&c, t->picks[n].column)) >= 0;
  int fatal = 0;
  char group[512], unit[8], period[16];
  while (ok && !fatal && (rc = db__demo_csv_next(&c)) == 1) {
    if (!db__demo_csv_text(&c, gcol, group, sizeof group)) continue;
    int total = strcmp(group, "TỔNG SỐ") == 0;
    if (t->only_col && !total && !db__demo_csv_is(&c, ocol, t->only_value)) continue;
    int have_period = 0;
    for (int i = 0; i < n && !fatal; i++) {
      const gso_pick *p = &t->picks[i];
      if (p->group ? strcmp(p->group, group) != 0 : !gso_unit(dm, group, unit)) continue;
      if (!have_period && period_of_date(&c, dcol, t->period, period) < 0) break;
      have_period = 1;
      double v;
      if (db__demo_csv_number(&c, vcol[i], &v) == 1)
        fatal = emit(dm, c.line, p->indicator, p->group ? "VN" : unit, period, v, DB_STATUS_OFFICIAL);
    }
  }
  return close_source(dm, &c, ok ? rc : DB_EINVAL, fatal);
}

static int load_wb(db__demo *dm, const wb_table *t) {
  db__demo_csv c;
  int rc = open_source(dm, t->file, &c);
  if (rc != 1) return rc;
  int ccol = db__demo_csv_col(&c, "Country Code"), ycol = db__demo_csv_col(&c, "Year");
  int vcol = db__demo_csv_col(&c, t->column);
  int ok = ccol >= 0 && ycol >= 0 && vcol >= 0, fatal = 0;
  char year[16];
  while (ok && !fatal && (rc = db__demo_csv_next(&c)) == 1) {
    if (!db__demo_csv_is(&c, ccol, "VNM") || !db__demo_csv_text(&c, ycol, year, sizeof year)) continue;
    double v;
    if (db__demo_csv_number(&c, vcol, &v) == 1)
      fatal = emit(dm, c.line, t->indicator, "VN", year, v, DB_STATUS_OFFICIAL);
  }
  return close_source(dm, &c, ok ? rc : DB_EINVAL, fatal);
}

/* "dd-mm-YYYY HH:MM" -> "YYYY-MM-DDTHH:MM"; 0, or -1 when malformed (reported). */
static int air_period(db__demo_csv *c, int col, char out[20]) {
  const db_csv_field *f = col < (int)c->nf ? &c->f[col] : NULL;
  static const char shape[] = "dd-mm-YYYY HH:MM";
  int ok = f && f->len == sizeof shape - 1;
  for (size_t i = 0; ok && i < f->len; i++) {
    char s = shape[i], ch = f->p[i];
    ok = (s == '-' || s == ' ' || s == ':') ? ch == s : (ch >= '0' && ch <= '9');
  }
  if (!ok) {
    db__demo_problem(c->dm, c->file, c->line, col + 1, DB_EINVAL, "'%.*s' is not a time dd-mm-YYYY HH:MM",
                     f ? (int)(f->len > 32 ? 32 : f->len) : 0, f ? f->p : "");
    return -1;
  }
  snprintf(out, 20, "%.4s-%.2s-%.2sT%.5s", f->p + 6, f->p + 3, f->p, f->p + 11);
  return 0;
}

static int load_air(db__demo *dm) {
  db__demo_csv c;
  int rc = open_source(dm, F_AIR, &c);
  if (rc != 1) return rc;
  int tcol = db__demo_csv_col(&c, "date"), scol = db__demo_csv_col(&c, "Station_No"), vcol[N_AIR];
  int ok = tcol >= 0 && scol >= 0, fatal = 0;
  for (size_t i = 0; i < N_AIR; i++) ok &= (vcol[i] = db__demo_csv_col(&c, air_columns[i][0])) >= 0;
  char period[20], site[16];
  while (ok && !fatal && (rc = db__demo_csv_next(&c)) == 1) {
    double station;
    if (air_period(&c, tcol, period) < 0 || db__demo_csv_number(&c, scol, &station) != 1) continue;
    if (station != (int)station || station < 1 || station > 6) {
      db__demo_problem(dm, F_AIR, c.line, scol + 1, DB_EINVAL, "station %g is not one of 1..6", station);
      continue;
    }
    snprintf(site, sizeof site, "AQ%02d", (int)station);
    for (size_t i = 0; i < N_AIR && !fatal; i++) {
      double v;
      if (db__demo_csv_number(&c, vcol[i], &v) == 1)
        fatal = emit(dm, c.line, air_columns[i][1], site, period, v, DB_STATUS_PROVISIONAL);
    }
  }
  return close_source(dm, &c, ok ? rc : DB_EINVAL, fatal);
}

static int load_rain(db__demo *dm) {
  db__demo_csv c;
  int rc = open_source(dm, F_RAIN, &c);
  if (rc != 1) return rc;
  int ycol = db__demo_csv_col(&c, "Year"), scol = db__demo_csv_col(&c, "City_or_province"), mcol[12];
  int ok = ycol >= 0 && scol >= 0, fatal = 0;
  for (int m = 0; m < 12; m++) ok &= (mcol[m] = db__demo_csv_col(&c, rain_months[m])) >= 0;
  char period[16];
  while (ok && !fatal && (rc = db__demo_csv_next(&c)) == 1) {
    double year;
    if (!db__demo_csv_is(&c, scol, "Vung Tau") || db__demo_csv_number(&c, ycol, &year) != 1) continue;
    for (int m = 0; m < 12 && !fatal; m++) {
      double v;
      snprintf(period, sizeof period, "%04d-%02d", (int)year, m + 1);
      if (db__demo_csv_number(&c, mcol[m], &v) == 1)
        fatal = emit(dm, c.line, "RAIN_MM", "MET_VT", period, v, DB_STATUS_OFFICIAL);
    }
  }
  return close_source(dm, &c, ok ? rc : DB_EINVAL, fatal);
}

static int load_covid(db__demo *dm) {
  db__demo_csv c;
  int rc = open_source(dm, F_COVID, &c);
  if (rc != 1) return rc;
  int dcol = db__demo_csv_col(&c, "Date"), ccol = db__demo_csv_col(&c, "Country");
  int ncol = db__demo_csv_col(&c, "NewConfirmed"), kcol = db__demo_csv_col(&c, "NewDeaths");
  int ok = dcol >= 0 && ccol >= 0 && ncol >= 0 && kcol >= 0, fatal = 0;
  char day[16];
  while (ok && !fatal && (rc = db__demo_csv_next(&c)) == 1) {
    if (!db__demo_csv_is(&c, ccol, "Vietnam") || !db__demo_csv_text(&c, dcol, day, sizeof day)) continue;
    double v;
    if (db__demo_csv_number(&c, ncol, &v) == 1)
      fatal = emit(dm, c.line, "COVID_NEW", "VN", day, v, DB_STATUS_OFFICIAL);
    if (!fatal && db__demo_csv_number(&c, kcol, &v) == 1)
      fatal = emit(dm, c.line, "COVID_DEATHS", "VN", day, v, DB_STATUS_OFFICIAL);
  }
  return close_source(dm, &c, ok ? rc : DB_EINVAL, fatal);
}

int db__demo_unit_attributes(db__demo *dm) {
  int rc = db__demo_batch_begin(dm, dm->pack ? F_UNITS : "synthetic");
  if (rc) return rc;
  double pop = 0, area = 0;
  int n_pop = 0, n_area = 0;
  for (size_t i = 0; i < dm->cat.n_units && !rc; i++) {
    const db_orgunit *u = &dm->cat.units[i];
    if (u->valid_to != DB_DATE_NONE ||
        (u->kind != DB_OU_WARD && u->kind != DB_OU_COMMUNE && u->kind != DB_OU_SPECIAL_ZONE))
      continue;
    if (!db_is_unknown(u->population)) {
      pop += u->population, n_pop++;
      rc = emit(dm, 0, "POPULATION", u->code, "2025", u->population, DB_STATUS_OFFICIAL);
    }
    if (!rc && !db_is_unknown(u->area_km2)) {
      area += u->area_km2, n_area++;
      rc = emit(dm, 0, "AREA_KM2", u->code, "2025", u->area_km2, DB_STATUS_OFFICIAL);
    }
  }
  if (!rc && n_pop) rc = emit(dm, 0, "POPULATION", "79", "2025", pop, DB_STATUS_OFFICIAL);
  if (!rc && n_area) rc = emit(dm, 0, "AREA_KM2", "79", "2025", round(area * 100) / 100, DB_STATUS_OFFICIAL);
  if (rc) {
    db_ingest_abort(dm->in);
    dm->in = NULL;
    return rc;
  }
  rc = db__demo_batch_end(dm);
  return rc == DB_EINVAL ? DB_OK : rc;
}
