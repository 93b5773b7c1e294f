/* test_watch.c - alert rules and scenarios (watch/watch.h): the state machine in period mode (pending,
 * firing after N consecutive periods, cleared, keep_firing_for, missing values), in time mode and on the
 * clock (hold time, keep time, stale feeds, repeats); rules read from JSON with every problem at its path;
 * message templates; the engine on a real cube (only the rules and units a commit reaches, roll-ups at the
 * city, a gap in a feed judged as missing, late data, replay equal to the live run, a what-if overlay that
 * leaves the real cube alone); scenarios read from JSON and the actions a firing triggers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "testutil.h"
#include "watch/watch.h"

static db_period per(const char *code) {
  db_period p;
  char why[128];
  if (db_period_parse(code, strlen(code), &p, why) != 0) fail_msg("period %s: %s", code, why);
  return p;
}

static const char *code_of(const db_period *p) {
  static char buf[4][DB_PERIOD_CODE_MAX];
  static int k;
  k = (k + 1) % 4;
  db_period_format(p, buf[k]);
  return buf[k];
}

/* Steps the machine through conditions cond[0..n) at the hours from `first`, writing every change as
 * "HH:change" separated by spaces into out. */
static void run_periods(db_watch_state *s, const db_watch_timing *t, const char *first, const double *cond, size_t n,
                        char *out, size_t size) {
  db_period p0 = per(first);
  out[0] = '\0';
  for (size_t k = 0; k < n; k++) {
    db_period p = db_period_add(&p0, (int64_t)k);
    int changes[2], c = db_watch_step(s, t, &p, cond[k], 0, changes);
    for (int i = 0; i < c; i++) {
      size_t len = strlen(out);
      snprintf(out + len, size - len, "%s%s:%s", len ? " " : "", code_of(&p) + 11, db_watch_change_name(changes[i]));
    }
  }
}

#define N NAN

static void test_period_mode(void **state) {
  (void)state;
  db_watch_timing t = {0, 3, 1, 0, 0};
  db_watch_state s = {0};
  /* true true false: pending then cleared; then four true: firing at the third; one false kept (keep 1);
   * true again; then two not true (one missing): resolved at the second */
  const double cond[] = {1, 1, 0, 1, 1, 1, 1, 0, 1, 0, N, 0};
  char got[512];
  run_periods(&s, &t, "2021-03-01T00:00", cond, 12, got, sizeof got);
  assert_string_equal(got, "00:00:pending 02:00:cleared 03:00:pending 05:00:firing 10:00:resolved");
  assert_int_equal(s.phase, DB_PHASE_INACTIVE);
  assert_string_equal(code_of(&s.resolved_p), "2021-03-01T10:00");
  assert_string_equal(code_of(&s.last), "2021-03-01T11:00");
}

static void test_period_mode_for_one(void **state) {
  (void)state;
  db_watch_timing t = {0, 1, 0, 0, 0};
  db_watch_state s = {0};
  const double cond[] = {N, 1, N, 1, 1, 0};
  char got[512];
  run_periods(&s, &t, "2021-03-01T00:00", cond, 6, got, sizeof got);
  /* for 1: pending and firing at the same period; a missing value is not true: resolved at once */
  assert_string_equal(got, "01:00:pending 01:00:firing 02:00:resolved 03:00:pending 03:00:firing 05:00:resolved");
  assert_string_equal(code_of(&s.pending_p), "2021-03-01T03:00");
  assert_string_equal(code_of(&s.firing_p), "2021-03-01T03:00");
}

static void test_time_mode_and_clock(void **state) {
  (void)state;
  const int64_t m = 60000, t0 = 1700000000000;
  db_watch_timing t = {1, 10 * m, 5 * m, 30 * m, 20 * m}; /* for 10m, keep 5m, stale 30m, repeat 20m */
  db_watch_state s = {0};
  int ch[4];
  s.last_data_ms = t0;
  assert_int_equal(db_watch_step_time(&s, &t, 1, t0, ch), 1);
  assert_int_equal(ch[0], DB_WC_PENDING);
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 9 * m, ch), 0);
  assert_int_equal(db_watch_step_time(&s, &t, 1, t0 + 9 * m, ch), 0); /* still held less than 10 minutes */
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 10 * m, ch), 1);
  assert_int_equal(ch[0], DB_WC_FIRING);
  assert_int_equal(s.firing_ms, t0 + 10 * m);
  s.last_data_ms = t0 + 12 * m;
  assert_int_equal(db_watch_step_time(&s, &t, 0, t0 + 12 * m, ch), 0); /* not true: kept firing for 5 minutes */
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 16 * m, ch), 0);
  assert_int_equal(db_watch_step_time(&s, &t, 1, t0 + 16 * m, ch), 0); /* true again: the keep timer stops */
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 29 * m, ch), 0);
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 30 * m, ch), 1); /* 20 minutes firing: notified again */
  assert_int_equal(ch[0], DB_WC_REPEAT);
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 42 * m, ch), 1); /* no data for 30 minutes */
  assert_int_equal(ch[0], DB_WC_STALE);
  assert_int_equal(db_watch_step_time(&s, &t, 0, t0 + 43 * m, ch), 0);
  assert_int_equal(db_watch_step_clock(&s, &t, t0 + 48 * m, ch), 1);
  assert_int_equal(ch[0], DB_WC_RESOLVED);
  assert_int_equal(s.phase, DB_PHASE_INACTIVE);
}

static void test_rule_json(void **state) {
  (void)state;
  const char *good = "{\"code\":\"PM25_HIGH\",\"name\":\"Bụi mịn\",\"condition\":\"PM > 50\",\"value\":\"PM\","
                     "\"severity\":\"critical\",\"for\":3,\"keep_firing_for\":2,\"stale_after\":\"3h\","
                     "\"units\":[\"W1\",\"C\"],\"labels\":{\"topic\":\"air\"},"
                     "\"message\":{\"vi\":\"{unit_name}: {value} µg/m³ lúc {period}\",\"en\":\"{unit}: {value}\"}}";
  db_watch_rule *r = NULL;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_watch_rule_parse(good, strlen(good), &r, &d), 0);
  assert_int_equal(r->severity, DB_SEV_CRITICAL);
  assert_int_equal(r->timing.time_mode, 0);
  assert_int_equal(r->timing.for_n, 3);
  assert_int_equal(r->timing.stale_ms, 3 * 3600000);
  char *json = db_watch_rule_json(r);
  assert_string_equal(json, "{\"code\":\"PM25_HIGH\",\"name\":\"Bụi mịn\",\"condition\":\"PM > 50\",\"value\":\"PM\","
                            "\"severity\":\"critical\",\"for\":3,\"keep_firing_for\":2,\"stale_after\":\"3h\","
                            "\"units\":[\"W1\",\"C\"],\"labels\":{\"topic\":\"air\"},"
                            "\"message\":{\"vi\":\"{unit_name}: {value} µg/m³ lúc {period}\",\"en\":\"{unit}: {value}\"},"
                            "\"enabled\":true}");
  db_free(json);
  char *msg = db_watch_render(r->message_vi, r, "W1", "Phường 1", 57.25, "2021-03-01T05:00");
  assert_string_equal(msg, "Phường 1: 57.25 µg/m³ lúc 2021-03-01T05:00");
  db_free(msg);
  msg = db_watch_render("{{x} {nope} {value}", r, "W1", NULL, NAN, "");
  assert_string_equal(msg, "{x} {nope} –");
  db_free(msg);
  db_watch_rule_free(r);

  const char *bad = "{\"code\":\"a b\",\"severity\":\"loud\",\"for\":\"3 hours\",\"keep_firing_for\":\"5m\","
                    "\"units\":[\"W1\",7],\"colour\":\"red\"}";
  assert_int_equal(db_watch_rule_parse(bad, strlen(bad), &r, &d), DB_EINVAL);
  assert_null(r);
  assert_problems(&d, "$.colour: unknown field\n"
                      "$.code: expected 1 to 64 letters, digits, '_', '-' or '.'\n"
                      "$.condition: required\n"
                      "$.severity: expected info, warning, critical or emergency\n"
                      "$.for: expected a whole number of periods (0..1000000) or a duration like \"10m\", \"2h\"\n"
                      "$.units[1]: expected an org unit code\n");
  db_diag_free(&d);
  const char *mixed = "{\"code\":\"X\",\"condition\":\"PM > 1\",\"for\":2,\"keep_firing_for\":\"5m\",\"children_of\":\"C\"}";
  assert_int_equal(db_watch_rule_parse(mixed, strlen(mixed), &r, &d), DB_EINVAL);
  assert_problems(&d, "$.keep_firing_for: must be of the same kind as for (both periods, or both durations)\n");
  db_diag_free(&d);
}

/* ---- the engine on a cube ----
 * The city C (store id 1) with the stations S1, S2 (ids 2, 3) and the ward W (id 4); the hourly indicator
 * PM (id 1, spatial avg), the monthly RAIN (id 2) and the derived PM2X = PM * 2 (id 3). */

typedef struct fixture {
  db_catalog cat;
  db_cube *cube;
  db_derive *dv;
  db_watch *w;
} fixture;

static void add_unit(db_catalog *c, int64_t id, const char *code, const char *parent, db_ou_kind kind) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.id = id;
  u.code = u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = kind;
  db_catalog_put_unit(c, &u);
}

static void add_ind(db_catalog *c, int64_t id, const char *code, db_period_type type) {
  db_indicator i;
  db_indicator_init(&i);
  i.id = id;
  i.code = i.name = (char *)code;
  i.periodicity = type;
  i.agg_space = DB_AGG_AVG;
  i.agg_time = DB_AGG_AVG;
  db_catalog_put_indicator(c, &i);
}

static void setup_fixture(fixture *f, const char *rule_json) {
  db_catalog_init(&f->cat);
  add_unit(&f->cat, 1, "C", NULL, DB_OU_CITY);
  add_unit(&f->cat, 2, "S1", "C", DB_OU_SITE);
  add_unit(&f->cat, 3, "S2", "C", DB_OU_SITE);
  add_unit(&f->cat, 4, "W", "C", DB_OU_WARD);
  add_ind(&f->cat, 1, "PM", DB_PT_HOUR);
  add_ind(&f->cat, 2, "RAIN", DB_PT_MONTH);
  add_ind(&f->cat, 3, "PM2X", DB_PT_HOUR);
  f->cat.indicators[2].formula = db_strdup("PM * 2");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_catalog_link(&f->cat, &d), 0);
  assert_int_equal(db_cube_create(&f->cat, &f->cube, &d), 0);
  assert_int_equal(db_derive_open(&f->cat, &f->dv, &d), 0);
  f->w = db_watch_new();
  db_watch_rule *r;
  assert_int_equal(db_watch_rule_parse(rule_json, strlen(rule_json), &r, &d), 0);
  assert_int_equal(db_watch_put_rule(f->w, r, &f->cat, &d), 0);
  db_watch_rule_free(r);
  db_diag_free(&d);
}

static void teardown_fixture(fixture *f) {
  db_watch_free(f->w);
  db_derive_close(f->dv);
  db_cube_close(f->cube);
  db_catalog_free(&f->cat);
}

typedef struct row {
  int64_t ind, unit;
  const char *period;
  double value;
} row;

/* Commits rows to the cube and runs the engine; writes the transitions as "UNIT PERIOD change" lines. */
static void commit(fixture *f, const row *rows, size_t n, char *out, size_t size) {
  db_obs_row *r = db_calloc(n, sizeof *r);
  for (size_t i = 0; i < n; i++) {
    db_period p = per(rows[i].period);
    r[i] = (db_obs_row){.indicator = rows[i].ind, .orgunit = rows[i].unit, .dimkey = "", .period = db_period_key(&p),
                        .value = rows[i].value};
  }
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_cube_apply(f->cube, r, n, &d), 0);
  const db_cube_version *v = db_cube_acquire(f->cube);
  db_derive_note_commit(f->dv, db_cube_version_number(v), r, n);
  db_watch_out o = {0};
  assert_int_equal(db_watch_on_commit(f->w, &f->cat, v, f->dv, r, n, 1000, &o, &d), 0);
  assert_int_equal(d.count, 0);
  out[0] = '\0';
  for (size_t i = 0; i < o.n; i++) {
    size_t len = strlen(out);
    snprintf(out + len, size - len, "%s %s %s\n", o.items[i].unit_code, o.items[i].period,
             db_watch_change_name(o.items[i].change));
  }
  db_watch_out_free(&o);
  db_cube_release(v);
  db_diag_free(&d);
  db_free(r);
}

static const char *PM_RULE = "{\"code\":\"PM_HIGH\",\"condition\":\"PM > 50\",\"value\":\"PM\",\"for\":2,"
                             "\"units\":[\"S1\",\"S2\",\"C\"]}";

static void test_engine_commits(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, PM_RULE);
  char got[1024];
  /* hour 0: S1 60, S2 30 (city 45); hour 1: S1 70, S2 50 (city 60); hour 2: S1 80, S2 60 (city 70) */
  commit(&f, (row[]){{1, 2, "2021-03-01T00:00", 60}, {1, 3, "2021-03-01T00:00", 30}}, 2, got, sizeof got);
  assert_string_equal(got, "S1 2021-03-01T00:00 pending\n");
  commit(&f, (row[]){{1, 2, "2021-03-01T01:00", 70}, {1, 3, "2021-03-01T01:00", 50}}, 2, got, sizeof got);
  assert_string_equal(got, "S1 2021-03-01T01:00 firing\nC 2021-03-01T01:00 pending\n");
  commit(&f, (row[]){{1, 2, "2021-03-01T02:00", 80}, {1, 3, "2021-03-01T02:00", 60}}, 2, got, sizeof got);
  assert_string_equal(got, "S2 2021-03-01T02:00 pending\nC 2021-03-01T02:00 firing\n");
  const db_watch_state *s = db_watch_state_of(f.w, "PM_HIGH", 0);
  assert_int_equal(s->phase, DB_PHASE_FIRING);
  assert_true(fabs(s->value - 70) < 1e-12);
  /* the rainfall reaches no rule; the ward W is outside the scope */
  commit(&f, (row[]){{2, 4, "2021-03", 100}, {1, 4, "2021-03-01T03:00", 500}}, 2, got, sizeof got);
  assert_string_equal(got, ""); /* the city is judged at 03:00 (W's 500 is its average): still firing */
  /* S1 skips hours 3 and 4: they are judged missing, so S1 resolves at 03:00 and pends again at 05:00;
   * the city had W's 500 at 03:00 and nothing at 04:00 */
  commit(&f, (row[]){{1, 2, "2021-03-01T05:00", 90}}, 1, got, sizeof got);
  assert_string_equal(got, "S1 2021-03-01T03:00 resolved\nS1 2021-03-01T05:00 pending\n"
                           "C 2021-03-01T04:00 resolved\nC 2021-03-01T05:00 pending\n");
  /* late data for an hour already judged changes nothing */
  commit(&f, (row[]){{1, 2, "2021-03-01T04:00", 90}}, 1, got, sizeof got);
  assert_string_equal(got, "");
  teardown_fixture(&f);
}

static void test_replay_and_overlay(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, PM_RULE);
  char got[1024];
  commit(&f, (row[]){{1, 2, "2021-03-01T00:00", 60}, {1, 2, "2021-03-01T01:00", 70}, {1, 2, "2021-03-01T02:00", 10},
                     {1, 3, "2021-03-01T00:00", 10}},
         4, got, sizeof got);
  assert_string_equal(got, "S1 2021-03-01T00:00 pending\nS1 2021-03-01T01:00 firing\nS1 2021-03-01T02:00 resolved\n"
                           "C 2021-03-01T01:00 pending\nC 2021-03-01T02:00 cleared\n");
  /* a replay of the same window on a fresh engine gives the same alerts */
  db_watch *fresh = db_watch_new();
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_watch_put_rule(fresh, db_watch_rule_at(f.w, 0), &f.cat, &d), 0);
  const db_cube_version *v = db_cube_acquire(f.cube);
  db_period p0 = per("2021-03-01T00:00"), p3 = per("2021-03-01T03:00");
  db_watch_out o = {0};
  assert_int_equal(db_watch_replay(fresh, &f.cat, v, f.dv, db_period_start_ms(&p0), db_period_start_ms(&p3), 5, &o, &d), 0);
  char line[2048] = "";
  for (size_t i = 0; i < o.n; i++)
    snprintf(line + strlen(line), sizeof line - strlen(line), "%s %s %s\n", o.items[i].unit_code, o.items[i].period,
             db_watch_change_name(o.items[i].change));
  assert_string_equal(line, "S1 2021-03-01T00:00 pending\nS1 2021-03-01T01:00 firing\nS1 2021-03-01T02:00 resolved\n"
                            "C 2021-03-01T01:00 pending\nC 2021-03-01T02:00 cleared\n");
  db_watch_out_free(&o);
  db_watch_free(fresh);
  /* what-if: S2 at 200 in hour 2; the scratch cube has it, the real one does not */
  fresh = db_watch_new();
  assert_int_equal(db_watch_put_rule(fresh, db_watch_rule_at(f.w, 0), &f.cat, &d), 0);
  db_watch_overlay ov = {0, 2, "", per("2021-03-01T02:00"), 200};
  db_cube *scratch;
  db_derive *sdv;
  assert_int_equal(db_watch_overlay_cube(fresh, &f.cat, v, &ov, 1, &scratch, &sdv, &d), 0);
  const db_cube_version *sv = db_cube_acquire(scratch);
  assert_int_equal(db_watch_replay(fresh, &f.cat, sv, sdv, db_period_start_ms(&p0), db_period_start_ms(&p3), 5, &o, &d), 0);
  line[0] = '\0';
  for (size_t i = 0; i < o.n; i++)
    snprintf(line + strlen(line), sizeof line - strlen(line), "%s %s %s\n", o.items[i].unit_code, o.items[i].period,
             db_watch_change_name(o.items[i].change));
  assert_string_equal(line, "S1 2021-03-01T00:00 pending\nS1 2021-03-01T01:00 firing\nS1 2021-03-01T02:00 resolved\n"
                            "S2 2021-03-01T02:00 pending\nC 2021-03-01T01:00 pending\nC 2021-03-01T02:00 firing\n");
  double real;
  db_period h2 = per("2021-03-01T02:00");
  assert_int_equal(db_cube_series(v, 0, "", 2, &h2, 1, &real), 0); /* S2 has no real value at hour 2 */
  assert_true(isnan(real));
  db_watch_out_free(&o);
  db_cube_release(sv);
  db_derive_close(sdv);
  db_cube_close(scratch);
  db_watch_free(fresh);
  db_cube_release(v);
  db_diag_free(&d);
  teardown_fixture(&f);
}

/* A rule on a derived indicator is reached by commits of the indicators behind it. */
static void test_rule_on_derived_indicator(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, "{\"code\":\"D\",\"condition\":\"PM2X > 100\",\"units\":[\"S1\"]}");
  char got[256];
  commit(&f, (row[]){{1, 2, "2021-03-01T00:00", 40}, {1, 2, "2021-03-01T01:00", 60}}, 2, got, sizeof got);
  assert_string_equal(got, "S1 2021-03-01T01:00 pending\nS1 2021-03-01T01:00 firing\n");
  assert_true(fabs(db_watch_state_of(f.w, "D", 1)->value - 120) < 1e-12); /* the value shown: PM2X */
  teardown_fixture(&f);
}

static void test_scenario(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, PM_RULE);
  const char *doc = "{\"code\":\"AIR\",\"name\":\"Ô nhiễm không khí\",\"kind\":\"emergency\","
                    "\"panels\":[{\"title\":\"PM2.5\",\"view\":\"map\",\"orgunit\":\"C\",\"indicators\":[\"PM\"]}],"
                    "\"rules\":[{\"code\":\"AIR_PM\",\"condition\":\"PM > 50\",\"for\":2,\"units\":[\"S1\"]}],"
                    "\"actions\":[{\"on\":\"AIR_PM\",\"type\":\"task\",\"title\":\"Kiểm tra {unit}\",\"lead\":\"DAE\","
                    "\"co\":[\"DOH\"],\"deadline\":\"24h\"},{\"on\":\"*\",\"type\":\"escalate\",\"after\":\"30m\","
                    "\"to\":\"leader\"}],"
                    "\"checklist\":[{\"step\":\"Thông báo người dân\",\"who\":\"DOH\",\"when\":\"1h\"}],"
                    "\"activation\":{\"auto_on\":[\"AIR_PM\"]}}";
  db_scenario *s = NULL;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_scenario_parse(doc, strlen(doc), &f.cat, &s, &d), 0);
  assert_int_equal(s->n_rules, 1);
  assert_int_equal(s->actions[0].deadline_ms, 86400000);
  assert_int_equal(s->actions[1].after_ms, 1800000);
  size_t idx[4];
  assert_int_equal(db_scenario_actions_for(s, "AIR_PM", DB_WC_FIRING, idx, 4), 2);
  assert_int_equal(db_scenario_actions_for(s, "AIR_PM", DB_WC_PENDING, idx, 4), 0);
  db_scenario_free(s);
  const char *bad = "{\"code\":\"AIR\",\"name\":\"x\",\"kind\":\"party\","
                    "\"panels\":[{\"title\":\"t\",\"view\":\"globe\",\"indicators\":[\"PMX\"]}],"
                    "\"rules\":[{\"code\":\"R\",\"condition\":\"PMM > 1\",\"units\":[\"S9\"]}],"
                    "\"actions\":[{\"on\":\"Q\",\"type\":\"task\",\"title\":\"t\",\"lead\":\"DAE\"}],"
                    "\"activation\":{\"auto_on\":[\"Z\"]}}";
  assert_int_equal(db_scenario_parse(bad, strlen(bad), &f.cat, &s, &d), DB_EINVAL);
  assert_problems(&d, "$.kind: expected meeting, emergency or thematic\n"
                      "$.panels[0].view: expected map, chart, table or kpi\n"
                      "$.panels[0].indicators[0]: unknown indicator 'PMX'\n"
                      "$.rules[0].condition: column 1: unknown indicator 'PMM' (did you mean PM?)\n"
                      "$.rules[0].units[0]: unknown org unit 'S9'\n"
                      "$.actions[0].on: 'Q' is no rule of this scenario (or \"*\")\n"
                      "$.actions[0].deadline: required for a task\n"
                      "$.activation.auto_on[0]: 'Z' is no rule of this scenario\n");
  db_diag_free(&d);
  teardown_fixture(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_period_mode),        cmocka_unit_test(test_period_mode_for_one),
      cmocka_unit_test(test_time_mode_and_clock), cmocka_unit_test(test_rule_json),
      cmocka_unit_test(test_engine_commits),     cmocka_unit_test(test_replay_and_overlay),
      cmocka_unit_test(test_rule_on_derived_indicator), cmocka_unit_test(test_scenario),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
