/* watch.h - alert rules, the alert state machine, the evaluation of rules on the cube, operational
 * scenarios and their simulation (DESIGN.md §1 "alert rule", "scenario"; §2 "watch").
 *
 * An alert rule is a formula condition (formula.h) evaluated per org unit: `PM25 > 50`, `yoy(CPI) > 4.5`,
 * `100 * RETAIL / plan(RETAIL) < 90`. It has a severity, a hold (`for`) and a `keep_firing_for`, labels,
 * message templates in Vietnamese and English, the units it watches (a list, and/or every child of a unit),
 * a staleness limit for feeds that stop and a repeat interval. Its JSON form:
 *   {"code": "PM25_HIGH", "name": "...", "condition": "PM25 > 50", "value": "PM25",
 *    "severity": "info"|"warning"|"critical"|"emergency", "for": 3, "keep_firing_for": 2,
 *    "stale_after": "3h", "repeat_interval": "1h", "units": ["AQ01", "79"], "children_of": "79",
 *    "labels": {"topic": "air"}, "message": {"vi": "...", "en": "..."}, "enabled": true}
 * `for` and `keep_firing_for` are either whole numbers of periods of the condition's periodicity (period
 * mode: the machine advances with the data's periods, so a replay of history gives the same alerts as the
 * live feed did) or durations "90s", "10m", "2h", "1d" (time mode: the machine advances on the wall clock,
 * for feeds without a regular period). Both must be of one kind. Templates name {rule}, {name}, {unit},
 * {unit_name}, {value}, {period} and {severity}.
 *
 * The state machine of one (rule, unit), period mode (N = for, K = keep_firing_for):
 *   inactive --condition true--> pending (at that period) --true for N consecutive periods--> firing
 *   (at the N-th; with N <= 1 pending and firing at the same period); pending --not true--> cleared
 *   (back to inactive); firing --not true for K + 1 consecutive periods--> resolved (at the (K+1)-th),
 *   a true period meanwhile keeps it firing. "Not true" is false or missing. Every period from the last
 *   judged one to the newest is judged once, in order (a gap in a feed is judged as missing); data for a
 *   period already judged does not rewrite the alert's history.
 * Time mode: pending when the condition is true, firing once it has been pending `for` (checked on every
 * evaluation and on the clock), resolved once it has been not true for `keep_firing_for`.
 * In both modes a unit whose inputs got no data for `stale_after` goes stale (and fresh again with new
 * data), and a firing alert is notified again every `repeat_interval`.
 *
 * Scenarios (scenario.c) are JSON documents: kind, panels, rules, actions on firing, a checklist and an
 * activation policy; see db_scenario below.
 *
 * Ownership: parsed rules and scenarios are the caller's (free functions below). A db_watch copies the
 * rules given to it. Transitions returned in a db_watch_out own their strings. Not thread-safe: one db_watch
 * is used by one thread at a time (the service guards it with a lock). */
#ifndef DB_WATCH_H
#define DB_WATCH_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "formula/formula.h"
#include "model/catalog.h"
#include "model/period.h"
#include "store/store.h"

#define DB_WATCH_MAX_GAP 100000 /* periods judged at most to close a gap in a feed */

/* ---- rules ---- */

typedef enum db_severity {
  DB_SEV_INFO = 1,
  DB_SEV_WARNING,
  DB_SEV_CRITICAL,
  DB_SEV_EMERGENCY,
} db_severity;
const char *db_severity_name(int severity); /* "warning"; "unknown" outside the enum */
int db_severity_parse(const char *s, int *out); /* 0 or DB_EINVAL */

/* When an alert moves: period mode counts periods, time mode milliseconds. */
typedef struct db_watch_timing {
  int time_mode;
  int64_t for_n, keep_n;        /* periods (period mode) or ms (time mode) */
  int64_t stale_ms, repeat_ms;  /* 0 = never */
} db_watch_timing;

typedef struct db_watch_label {
  char *key, *value;
} db_watch_label;

typedef struct db_watch_rule {
  char *code, *name, *condition, *value; /* value: the formula of the number messages show; NULL = the
                                            indicator of a condition that reads only one, else none */
  int severity;
  db_watch_timing timing;
  char **units;
  size_t n_units;
  char *children_of; /* NULL = none */
  db_watch_label *labels;
  size_t n_labels;
  char *message_vi, *message_en;
  int enabled;
} db_watch_rule;

/* Reads a rule from a parsed JSON object (a jansson json_t *, passed as void * so that this header needs
 * no JSON library): every problem goes to d with its path under `path` ("$.rules[2].for: expected a whole
 * number of periods or a duration like \"10m\""). Formulas are not checked here (db_watch_rule_check).
 * Returns 0 and *out (free with db_watch_rule_free), or DB_EINVAL. */
int db_watch_rule_from_json(const void *json, const char *path, db_watch_rule **out, db_diag *d);
/* The same from JSON text. */
int db_watch_rule_parse(const char *text, size_t len, db_watch_rule **out, db_diag *d);
/* Checks a rule against a catalog: the condition compiles to a boolean, the value to a number, both read
 * indicators of one periodicity, and every unit exists. Problems go to d under `path`. 0 or DB_EINVAL. */
int db_watch_rule_check(const db_watch_rule *r, const db_catalog *cat, const char *path, db_diag *d);
/* The rule as JSON text (owned, db_free): the canonical form of the fields above. */
char *db_watch_rule_json(const db_watch_rule *r);
void db_watch_rule_free(db_watch_rule *r); /* NULL is a no-op */

/* Renders a message template: {rule} {name} {unit} {unit_name} {value} {period} {severity} are replaced,
 * "{{" is "{", an unknown name is kept as written. Returns an owned string (db_free). */
char *db_watch_render(const char *tmpl, const db_watch_rule *r, const char *unit, const char *unit_name,
                      double value, const char *period);

/* ---- the state machine ---- */

typedef enum db_watch_phase {
  DB_PHASE_INACTIVE = 0,
  DB_PHASE_PENDING,
  DB_PHASE_FIRING,
} db_watch_phase;
const char *db_watch_phase_name(int phase);

typedef enum db_watch_change {
  DB_WC_PENDING = 1,
  DB_WC_FIRING,
  DB_WC_RESOLVED,
  DB_WC_CLEARED, /* pending that did not hold */
  DB_WC_STALE,
  DB_WC_FRESH,
  DB_WC_REPEAT,
} db_watch_change;
const char *db_watch_change_name(int change); /* "firing": the event is "alert.firing" */

typedef struct db_watch_state {
  int phase;
  int64_t run, off; /* consecutive true / not-true periods (period mode) */
  int has_last;
  db_period last; /* the last period judged */
  int has_pending, has_firing;
  db_period pending_p, firing_p, resolved_p;
  int64_t pending_ms, firing_ms, off_ms; /* off_ms: when the condition stopped holding (time mode) */
  int64_t last_data_ms, last_notify_ms;
  int stale;
  double value; /* the value formula at the last period judged (NAN: none) */
  int64_t alert_id; /* the caller's record of the current alert (0: none) */
} db_watch_state;

/* Judges one period p (period mode) with condition value cond (1 true, 0 false, NAN missing) at now_ms.
 * Writes the changes (at most 2: pending then firing) to changes[] and returns how many. */
int db_watch_step(db_watch_state *s, const db_watch_timing *t, const db_period *p, double cond, int64_t now_ms,
                  int changes[2]);
/* One evaluation at now_ms (time mode): the condition at the newest period. Returns the changes as above. */
int db_watch_step_time(db_watch_state *s, const db_watch_timing *t, double cond, int64_t now_ms, int changes[2]);
/* The clock: time-mode promotions and resolutions, staleness and repeats, at now_ms. */
int db_watch_step_clock(db_watch_state *s, const db_watch_timing *t, int64_t now_ms, int changes[2]);

/* ---- the engine: rules evaluated on the cube ---- */

typedef struct db_watch db_watch;

/* One change of one alert, with what a notification needs. */
typedef struct db_watch_transition {
  int change;               /* db_watch_change */
  const db_watch_rule *rule; /* valid until the rule is replaced or removed */
  int64_t unit;             /* catalog index */
  char *unit_code, *unit_name;
  char period[DB_PERIOD_CODE_MAX]; /* the period judged ("" for clock changes) */
  double value;
  int64_t at_ms;
  db_watch_state at;     /* the (rule, unit) state right after this change (a commit may bring several) */
  db_watch_state *state; /* the live state (the caller keeps its alert_id there): valid until the next
                            engine call */
  char *message_vi, *message_en;
} db_watch_transition;

typedef struct db_watch_out {
  db_watch_transition *items;
  size_t n, cap;
} db_watch_out;
void db_watch_out_free(db_watch_out *o); /* and zeroes it */

/* A what-if value that replaces a stored one during a simulation. */
typedef struct db_watch_overlay {
  int64_t indicator, unit; /* catalog indices */
  const char *dimkey;      /* "" or NULL for none */
  db_period period;
  double value;
} db_watch_overlay;

db_watch *db_watch_new(void);
void db_watch_free(db_watch *w); /* NULL is a no-op */
/* Adds or replaces the rule of that code (copied), compiled against cat; a replaced rule keeps the states
 * of its units when its condition is unchanged. 0, or DB_EINVAL with the problems in d (nothing changed). */
int db_watch_put_rule(db_watch *w, const db_watch_rule *r, const db_catalog *cat, db_diag *d);
int db_watch_remove_rule(db_watch *w, const char *code); /* 0 or DB_ENOTFOUND */
/* Compiles every rule again against a new catalog; rules that no longer compile are kept but not
 * evaluated, each problem in d. */
void db_watch_set_catalog(db_watch *w, const db_catalog *cat, db_diag *d);
size_t db_watch_rule_count(const db_watch *w);
const db_watch_rule *db_watch_rule_at(const db_watch *w, size_t i);
const db_watch_rule *db_watch_find_rule(const db_watch *w, const char *code);
/* The state of (rule, unit), created inactive when absent (NULL for an unknown rule). */
db_watch_state *db_watch_state_of(db_watch *w, const char *rule, int64_t unit);
/* Calls cb for every (rule, unit) state that is pending, firing or stale. */
void db_watch_each_active(db_watch *w, void (*cb)(void *ctx, const db_watch_rule *r, int64_t unit,
                                                   const db_watch_state *s),
                          void *ctx);

/* Evaluates, after a committed change set rows[0..n) (store ids, as db_commit gives them), the rules that
 * read a changed indicator, at the units of their scope that changed or whose descendants changed, on cube
 * version v with the derived indicators' engine dv (db_derive_eval), and appends every transition to out.
 * cat is the catalog of v. Evaluation errors (a missing input is no error) go to d. Returns 0, or
 * DB_EINVAL when dv is NULL. */
int db_watch_on_commit(db_watch *w, const db_catalog *cat, const db_cube_version *v, db_derive *dv,
                       const db_obs_row *rows, size_t n, int64_t now_ms, db_watch_out *out, db_diag *d);
/* The clock (db_watch_step_clock for every state). */
void db_watch_tick(db_watch *w, const db_catalog *cat, int64_t now_ms, db_watch_out *out);
/* Judges every rule at every unit of its scope over its periods inside [from_ms, to_ms) (the periods of
 * each rule's periodicity that start in the window), in order, from the states the engine holds: a replay
 * of history (use a fresh engine for it). Returns 0, or DB_EINVAL for an empty window or a NULL dv. */
int db_watch_replay(db_watch *w, const db_catalog *cat, const db_cube_version *v, db_derive *dv, int64_t from_ms,
                    int64_t to_ms, int64_t now_ms, db_watch_out *out, db_diag *d);

/* A scratch cube for a what-if run: the current values of the indicators the engine's rules read (and,
 * for derived ones, the indicators behind them) copied from v, with the overlay values put over them, and
 * a derived indicators' engine on it. 0 and *cube, *dv (the caller closes both: db_derive_close then
 * db_cube_close), or an error explained in d (an overlay naming an unknown indicator or a period of the
 * wrong type). The real cube is not touched. */
int db_watch_overlay_cube(const db_watch *w, const db_catalog *cat, const db_cube_version *v,
                          const db_watch_overlay *overlay, size_t n_overlay, db_cube **cube, db_derive **dv,
                          db_diag *d);

/* ---- scenarios ---- */

typedef struct db_scenario_panel {
  char *title, *view, *orgunit; /* view: "map", "chart", "table", "kpi" */
  char **indicators;
  size_t n_indicators;
} db_scenario_panel;

typedef struct db_scenario_action {
  char *on;   /* a rule code, or "*" for every rule of the scenario */
  char *type; /* "task", "webhook", "escalate", "activate" */
  char *title, *lead;  /* task: the title template and the lead agency */
  char **co;           /* task: co-agencies */
  size_t n_co;
  int64_t deadline_ms; /* task: relative to the alert */
  int64_t webhook;     /* webhook: the webhook's id (0: every webhook) */
  int64_t after_ms;    /* escalate: unacknowledged for this long */
  char *to;            /* escalate: the agency or role told */
} db_scenario_action;

typedef struct db_scenario_step {
  char *step, *who;
  int64_t when_ms; /* after activation */
} db_scenario_step;

typedef struct db_scenario {
  char *code, *name, *name_en, *kind, *description; /* kind: "meeting", "emergency", "thematic" */
  db_scenario_panel *panels;
  size_t n_panels;
  db_watch_rule **rules;
  size_t n_rules;
  db_scenario_action *actions;
  size_t n_actions;
  db_scenario_step *checklist;
  size_t n_checklist;
  char **auto_on; /* rule codes that activate it when they fire; none: by hand only */
  size_t n_auto_on;
} db_scenario;

/* Parses a scenario document; every problem goes to d with its JSON path. When cat is not NULL the rules
 * are checked against it (db_watch_rule_check) and the panels' indicators and units must exist.
 * Returns 0 and *out (db_scenario_free), or DB_EINVAL. */
int db_scenario_parse(const char *text, size_t len, const db_catalog *cat, db_scenario **out, db_diag *d);
void db_scenario_free(db_scenario *s); /* NULL is a no-op */
/* The actions of scenario s that a change of rule `rule` to `change` triggers (firing only: tasks,
 * webhooks, escalations, activations): their indices into s->actions, into idx (up to max); returns how
 * many. */
size_t db_scenario_actions_for(const db_scenario *s, const char *rule, int change, size_t *idx, size_t max);

/* ---- rules and scenarios in the store (records.c) ----
 * A rule is a record of kind "alert_rule" keyed by its code (its canonical JSON); a scenario a record of kind
 * "scenario" keyed by its code: {"doc": <the document>, "active": bool, "activated_ms"...}. Writes happen in
 * the caller's open transaction, each with an audit record and a "rule.changed" or "scenario.changed"
 * event. A rule code is unique across rules and every scenario's rules: a clash is DB_ECONFLICT with the
 * problem at "$.code" or "$.rules[N].code". */
#define DB_WATCH_RULE_KIND "alert_rule"
#define DB_WATCH_SCENARIO_KIND "scenario"
#define DB_WATCH_ALERT_KIND "alert"

/* Writes rule r (checked by the caller): *created is 1 when it is new. */
int db_watch_save_rule(db_store *s, const db_watch_rule *r, const char *actor, int *created, db_diag *d);
/* Deletes the rule record `code`: 0 or DB_ENOTFOUND (a scenario's rule is not a rule record). */
int db_watch_delete_rule(db_store *s, const char *code, const char *actor);

typedef struct db_watch_saved {
  int64_t id;           /* the scenario's record id */
  int created;          /* 1 when it is new */
  int active;           /* kept from the version it replaces */
  int64_t activated_ms;
} db_watch_saved;
/* Parses a scenario document against cat (db_scenario_parse) and writes it: 0 with *out (the parsed
 * scenario, db_scenario_free) and *saved; DB_EINVAL or DB_ECONFLICT with the problems in d. */
int db_watch_save_scenario(db_store *s, const db_catalog *cat, const char *text, size_t len, const char *actor,
                           db_scenario **out, db_watch_saved *saved, db_diag *d);

#endif
