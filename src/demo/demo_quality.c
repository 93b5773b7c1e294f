/* demo_quality.c - the demo's data supply and quality (quality/quality.h): Vietnam's holiday calendar (the
 * file data/calendar/vn_holidays.csv, embedded in the binary at build time), the departments' reporting
 * obligations over the ward panel (each ward's figures, monthly, due 5 working days after the month ends),
 * three months of their submissions after the panel's last month, and validation rules.
 *
 * The submissions are played as the departments would have sent them: one batch per department and month,
 * received at 10:00 city time on a day set by the department's habit (some days before the deadline, on
 * it, or a few working days after), a second batch later for the wards whose figures came late, and no
 * figures at all for a few wards (missing). Which wards are late or missing follows a hash of (department,
 * ward, month), the same in every load. The values continue each ward's last month of the panel (stocks
 * unchanged, flows and rates within a few percent, indicators' decimals kept), with one keying error: the
 * waste collected at the first ward in the last month, typed ten times too large.
 *
 * The rules hold on the demo's data (outpatient visits outnumber clinics; retail sales of goods are part of
 * all retail sales), except where the data is wrong: the keying error breaks "waste collected does not
 * triple from one month to the next", and with the real pack the day whose COVID-19 death count a JHU
 * correction made negative (-1) breaks "deaths of a day are not negative". They are judged on the demo's
 * cube. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "demo/demo_int.h"
#include "derive/derive.h"
#include "ingest/calendar_import.h"
#include "quality/quality.h"

#define MONTHS 3               /* months of submissions played after the panel's last month */
#define DEADLINE_DAYS 5        /* working days after the month ends */
#define RECEIVED_HOUR_UTC 3    /* 10:00 in the city (UTC+7) */
#define KEYING_ERROR_FACTOR 10 /* the waste figure typed with one digit too many */

/* The calendar file, embedded by CMakeLists.txt. */
extern const char db__demo_calendar_csv[];
extern const size_t db__demo_calendar_csv_len;

/* A department's reporting habit: the day its batch arrives (working days from the deadline: -2 two
 * working days early, 0 on the day, 2 two working days late) in each month, the share of wards (per
 * thousand) whose figures come `late_by` working days after the deadline, and the share never sent. */
typedef struct habit {
  const char *agency, *code, *name;
  const char *indicators[3];
  int arrival[MONTHS];
  int late_permille, late_by, missing_permille;
} habit;

static const habit habits[] = {
    {"DOF",
     "OB_DOF_BUSINESS",
     "Doanh nghiệp thành lập mới theo phường",
     {"BUSINESS_REG"},
     {-3, -2, -3},
     0,
     0,
     0},
    {"DAE",
     "OB_DAE_WASTE",
     "Chất thải rắn sinh hoạt thu gom theo phường",
     {"WASTE_COLLECTED"},
     {0, -1, 0},
     60,
     3,
     0},
    {"DOH",
     "OB_DOH_HEALTH",
     "Cơ sở y tế và lượt khám theo phường",
     {"CLINICS", "OUTPATIENT_VISITS"},
     {-1, -1, 0},
     100,
     5,
     20},
    {"DOET", "OB_DOET_SCHOOLS", "Trường học theo phường", {"SCHOOLS"}, {-2, -2, -1}, 0, 0, 0},
    {"DOC", "OB_DOC_PERMITS", "Giấy phép xây dựng theo phường", {"BUILDING_PERMITS"}, {0, 2, 1}, 0, 0, 0},
    {"POLICE",
     "OB_POLICE_ACCIDENTS",
     "Tai nạn giao thông theo phường",
     {"TRAFFIC_ACCIDENTS"},
     {-1, 0, -1},
     0,
     0,
     30},
    {"PCO",
     "OB_PCO_ADMIN",
     "Hồ sơ thủ tục hành chính đúng hạn theo phường",
     {"ADMIN_ONTIME_PCT"},
     {-1, -1, -1},
     30,
     2,
     0},
    {"DOST",
     "OB_DOST_ONLINE",
     "Hồ sơ trực tuyến toàn trình theo phường",
     {"ONLINE_DOSSIER_PCT"},
     {1, 1, 2},
     0,
     0,
     50},
};
#define N_HABITS (sizeof habits / sizeof *habits)

typedef struct rule_def {
  const char *code, *name, *formula, *importance;
} rule_def;

static const rule_def rules[] = {
    {"VISITS_VS_CLINICS", "Lượt khám nhiều hơn số cơ sở y tế", "OUTPATIENT_VISITS >= CLINICS", "warning"},
    {"RETAIL_GOODS_PART", "Bán lẻ hàng hóa là một phần tổng mức bán lẻ", "RETAIL_GOODS <= RETAIL_SALES",
     "error"},
    {"WASTE_NO_JUMP", "Chất thải thu gom không tăng gấp ba trong một tháng",
     "WASTE_COLLECTED <= 3 * lag(WASTE_COLLECTED, 1)", "error"},
    {"COVID_DEATHS_NONNEG", "Số ca tử vong trong ngày không âm", "COVID_DEATHS >= 0", "warning"},
};
#define N_RULES (sizeof rules / sizeof *rules)

/* A number in [0, 1000) from a department, a ward and a month, the same in every load (FNV-1a). */
static int permille(const char *agency, const char *unit, int month) {
  uint64_t h = 1469598103934665603ULL;
  const char *parts[] = {agency, "|", unit};
  for (size_t k = 0; k < 3; k++)
    for (const char *p = parts[k]; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  h = (h ^ (uint64_t)(month + 1)) * 1099511628211ULL;
  return (int)((h >> 17) % 1000);
}

/* ---- the demo's state of play ---- */

typedef struct play {
  db__demo *dm;
  const db_catalog *cat;
  const db_calendar *cal;
  db_map last; /* (indicator id, unit id) -> index into values: the panel's last month */
  double *values;
  size_t n_values, cap_values;
  int64_t last_key;     /* the panel's last month (period key) */
  const int64_t *wards; /* catalog indices of the units of 2025 under the city */
  size_t n_wards;
  db_diag *d;
} play;

static int note_last(void *arg, const db_obs_row *row) {
  play *p = arg;
  if (row->period < p->last_key || (row->dimkey && *row->dimkey)) return 0;
  if (row->period > p->last_key) { /* a later month: start over */
    db_map_clear(&p->last);
    p->n_values = 0;
    p->last_key = row->period;
  }
  if (p->n_values == p->cap_values) {
    p->cap_values = p->cap_values ? 2 * p->cap_values : 1024;
    p->values = db_realloc(p->values, p->cap_values * sizeof *p->values);
  }
  int64_t key[2] = {row->indicator, row->orgunit};
  p->values[p->n_values] = row->value;
  db_map_put(&p->last, key, sizeof key, (int64_t)p->n_values++);
  return 0;
}

/* Reads the last month of the panel's indicators at the wards. */
static int read_last_month(play *p) {
  int64_t ids[16];
  size_t n = 0;
  for (size_t h = 0; h < N_HABITS; h++)
    for (size_t k = 0; k < 3 && habits[h].indicators[k]; k++) {
      const db_indicator *ind = db_catalog_indicator(p->cat, habits[h].indicators[k]);
      if (ind) ids[n++] = ind->id;
    }
  db_obs_filter f = {.indicators = ids, .n_indicators = n};
  return db_store_obs_read(p->dm->store, &f, note_last, p);
}

/* The value of an indicator at a ward in the month `step` (1..MONTHS) after the panel's last month. */
static int next_value(const play *p, const db_indicator *ind, const db_orgunit *u, int step, double *out) {
  int64_t key[2] = {ind->id, u->id}, at;
  if (!db_map_get(&p->last, key, sizeof key, &at)) return 0;
  double v = p->values[at];
  double drift = (permille(ind->code, u->code, step) - 500) / 500.0; /* -1 .. 1 */
  if (ind->agg_time == DB_AGG_LAST) {                                /* a stock: unchanged over a quarter */
  } else if (!db_is_unknown(ind->valid_max) && ind->valid_max <= 100) {
    v = fmin(100, fmax(0, v + 2 * drift)); /* a rate in percent */
  } else {
    v = v * (1 + 0.05 * drift);
  }
  double scale = pow(10, ind->decimals);
  *out = round(v * scale) / scale;
  return 1;
}

/* ---- submissions ---- */

/* The received time of a batch: `offset` working days from the deadline (negative: before it). */
static int64_t received_at(const play *p, int64_t deadline, int offset) {
  int64_t day = deadline;
  if (offset > 0) day = db_calendar_add_working_days(p->cal, deadline, offset);
  for (int k = 0; k < -offset; k++) {
    day--;
    while (!db_calendar_is_working(p->cal, day)) day--;
  }
  return day * 86400000 + RECEIVED_HOUR_UTC * 3600000;
}

/* One batch of a department for a month: the wards whose fate (0 in the main batch, 1 late) is `fate`. */
static int submit(play *p, const habit *h, int step, const db_period *month, int fate, int64_t received) {
  char source[96], actor[48], code[DB_PERIOD_CODE_MAX];
  db_period_format(month, code);
  snprintf(source, sizeof source, "demo:%s %s%s", h->agency, code, fate ? " (late figures)" : "");
  snprintf(actor, sizeof actor, "reporter.%s", h->agency);
  db_batch_info info = {NULL, source, actor, received};
  db_batch_summary replay = {0};
  db_ingest *in;
  db_diag local = DB_DIAG_INIT;
  int rc = db_ingest_begin(p->dm->store, p->cat, &info, &local, &in, &replay);
  db_batch_summary_free(&replay);
  if (rc) {
    db_diag_free(&local);
    return rc;
  }
  int64_t rows = 0;
  for (size_t w = 0; w < p->n_wards && !rc; w++) {
    const db_orgunit *u = &p->cat->units[p->wards[w]];
    int roll = permille(h->agency, u->code, step);
    int is_missing = roll < h->missing_permille, is_late = !is_missing && roll >= 1000 - h->late_permille;
    if (is_missing || is_late != fate) continue;
    for (size_t k = 0; k < 3 && h->indicators[k] && !rc; k++) {
      const db_indicator *ind = db_catalog_indicator(p->cat, h->indicators[k]);
      double v;
      if (!ind || !next_value(p, ind, u, step, &v)) continue;
      if (step == MONTHS && w == 0 && strcmp(ind->code, "WASTE_COLLECTED") == 0) v *= KEYING_ERROR_FACTOR;
      rc = db_ingest_add(in, 0, ind->code, u->code, code, v, DB_STATUS_PROVISIONAL, NULL);
      rows++;
    }
  }
  db_ingest_result res = {0};
  if (rc && rc != DB_EINVAL)
    db_ingest_abort(in);
  else
    rc = db_ingest_finish(in, &res); /* rolls back (DB_EINVAL) when a row was refused */
  if (!rc) p->dm->stats.observations += res.inserted + res.revised + res.unchanged;
  db_ingest_result_free(&res);
  db__demo_move_problems(p->dm, source, &local);
  db_diag_free(&local);
  if (!rc && rows) p->dm->stats.sources++;
  return rc;
}

/* The obligations (from the month after the panel's last one, MONTHS months) and their submissions. */
static int play_submissions(play *p, const db_period *first) {
  db_obligation ob[N_HABITS];
  char from[DB_PERIOD_CODE_MAX], to[DB_PERIOD_CODE_MAX];
  db_period last = db_period_add(first, MONTHS - 1);
  db_period_format(first, from);
  db_period_format(&last, to);
  size_t n = 0;
  for (size_t h = 0; h < N_HABITS; h++) {
    size_t k = 0;
    while (k < 3 && habits[h].indicators[k]) k++;
    ob[n++] = (db_obligation){0,
                              (char *)habits[h].code,
                              (char *)habits[h].name,
                              (char *)habits[h].agency,
                              (char *)"79",
                              (char **)habits[h].indicators,
                              k,
                              1,
                              DEADLINE_DAYS,
                              1,
                              DB_PT_MONTH,
                              *first,
                              last};
  }
  int rc = db_store_begin(p->dm->store, 0);
  if (!rc) rc = db_obligations_save(p->dm->store, ob, n);
  if (!rc)
    rc = db_store_commit(p->dm->store);
  else
    db_store_rollback(p->dm->store);
  for (int step = 1; step <= MONTHS && !rc; step++) {
    db_period month = db_period_add(first, step - 1), next = db_period_add(first, step);
    char day[DB_PERIOD_CODE_MAX + 3];
    int64_t month_end;
    db_period_format(&next, day);
    strcat(day, "-01");
    if ((rc = db_parse_date(day, strlen(day), &month_end)) != 0) break;
    month_end--;
    int64_t deadline = db_calendar_add_working_days(p->cal, month_end, DEADLINE_DAYS);
    for (size_t h = 0; h < N_HABITS && !rc; h++) {
      rc = submit(p, &habits[h], step, &month, 0, received_at(p, deadline, habits[h].arrival[step - 1]));
      if (!rc && habits[h].late_permille)
        rc = submit(p, &habits[h], step, &month, 1, received_at(p, deadline, habits[h].late_by));
    }
  }
  return rc;
}

/* ---- rules ---- */

/* Stores the rules whose indicators the catalog has and judges them on a cube of the store. */
static int judge_rules(play *p) {
  db_rule r[N_RULES];
  size_t n = 0;
  for (size_t i = 0; i < N_RULES; i++) {
    r[n] = (db_rule){
        0, (char *)rules[i].code, (char *)rules[i].name, (char *)rules[i].formula, 0, DB_IMP_INFO, 1};
    db_importance_parse(rules[i].importance, &r[n++].importance);
  }
  int rc = db_store_begin(p->dm->store, 0);
  if (!rc) rc = db_rules_save(p->dm->store, r, n);
  if (!rc)
    rc = db_store_commit(p->dm->store);
  else
    db_store_rollback(p->dm->store);
  if (rc) return rc;
  db_cube *cube = NULL;
  db_derive *e = NULL;
  if ((rc = db_cube_open(p->dm->store, p->cat, &cube, p->d)) || (rc = db_derive_open(p->cat, &e, p->d)) ||
      (rc = db_derive_load_targets(e, p->dm->store))) {
    db_derive_close(e);
    db_cube_close(cube);
    return rc;
  }
  const db_cube_version *v = db_cube_acquire(cube);
  for (size_t i = 0; i < n && !rc; i++) {
    db_check_stats st;
    rc = db_rules_check(p->dm->store, p->cat, e, v, NULL, 0, r[i].code, 0, db_now_ms(), &st, p->d);
  }
  db_cube_release(v);
  db_derive_close(e);
  db_cube_close(cube);
  return rc;
}

/* ---- the hook ---- */

/* The units of 2025 directly under the city (catalog indices), into *out (db_free). */
static size_t city_wards(const db_catalog *cat, int64_t **out) {
  const db_orgunit *city = db_catalog_unit(cat, "79");
  const int64_t *kids;
  size_t nk = city ? db_catalog_children(cat, (size_t)(city - cat->units), &kids) : 0, n = 0;
  *out = db_malloc((nk + 1) * sizeof **out);
  for (size_t i = 0; i < nk; i++) {
    const db_orgunit *u = &cat->units[kids[i]];
    if ((u->kind == DB_OU_WARD || u->kind == DB_OU_COMMUNE || u->kind == DB_OU_SPECIAL_ZONE) &&
        u->valid_to == DB_DATE_NONE)
      (*out)[n++] = kids[i];
  }
  return n;
}

int db__demo_quality(db__demo *dm) {
  db_diag d = DB_DIAG_INIT;
  db_catalog cat;
  db_catalog_init(&cat);
  db_calendar *cal = db_calendar_new();
  int64_t *wards = NULL;
  play p = {.dm = dm, .cat = &cat, .cal = cal, .last = DB_MAP_INIT, .d = &d};
  const char *what = "vn_holidays.csv";
  int rc = db_calendar_read_csv(cal, db__demo_calendar_csv, db__demo_calendar_csv_len, NULL, &d);
  if (!rc) {
    what = "the ward panel";
    rc = db_store_load_catalog(dm->store, &cat);
  }
  if (!rc) rc = db_catalog_link(&cat, &d);
  /* the calendar, and the scorecards' indicators, so that the catalog is whole before a server starts */
  int changed = 0;
  if (!rc && !(rc = db_store_begin(dm->store, 0))) {
    rc = db_calendar_save(dm->store, cal);
    if (!rc) rc = db_scorecards_ensure_catalog(dm->store, &cat, &changed);
    rc = rc ? (db_store_rollback(dm->store), rc) : db_store_commit(dm->store);
  }
  if (!rc) rc = read_last_month(&p);
  p.n_wards = city_wards(&cat, &wards);
  p.wards = wards;
  db_period first;
  if (!rc && (!p.n_wards || db_period_from_key(p.last_key, &first) != 0))
    rc = db_diag_add(&d, 0, 0, NULL, DB_EINVAL, "no ward panel data to continue");
  if (!rc) {
    what = "the reporting obligations and submissions";
    first = db_period_add(&first, 1);
    rc = play_submissions(&p, &first);
  }
  if (!rc) {
    what = "the validation rules";
    rc = judge_rules(&p);
  }
  if (rc) {
    db__demo_move_problems(dm, what, &d);
    db__demo_problem(dm, what, 0, 0, rc, "data quality: %s", db_strerror(rc));
  }
  db_free(wards);
  db_free(p.values);
  db_map_free(&p.last);
  db_calendar_free(cal);
  db_catalog_free(&cat);
  db_diag_free(&d);
  return rc == DB_EINVAL ? DB_OK : rc;
}
