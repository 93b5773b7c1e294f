/* alerts_int.h - what the alerts service (svc_alerts.c) shares with its handlers (h_alerts.c,
 * h_events.c): its state and the operations that write through it. Internal to the HTTP module.
 *
 * Records kept in the store (store.h records):
 *   "alert_rule", "scenario"  written through watch.h (records.c), by the service and by the command line
 *   "alert"     one per alert (from pending to resolved or cleared): {"rule", "unit", "unit_name",
 *               "severity", "state", "pending_at", "pending_ms", "firing_at", "firing_ms", "resolved_at",
 *               "resolved_ms", "value", "message": {"vi", "en"}, "labels", "scenario", "acknowledged",
 *               "assigned", "escalated", "silenced", "inhibited", "stale", "last"}
 *   "webhook"   {"url", "secret", "events": ["alert.firing", "alert.*", "*"], "min_severity",
 *               "max_attempts", "backoff", "max_backoff", "active"}
 *   "silence"   {"rule", "unit", "from_ms", "until_ms", "reason", "by"}
 *   "delivery"  the webhook outbox (exchange.h)
 * Events appended (the change feed; GET /api/v1/events streams them): alert.pending, alert.firing,
 * alert.resolved, alert.cleared, alert.stale, alert.fresh, alert.repeat, alert.escalated,
 * alert.acknowledged, alert.assigned, alert.silenced, scenario.activated, scenario.deactivated,
 * scenario.action, scenario.step, rule.changed, scenario.changed, webhook.dead.
 *
 * Locks: the app's write lock (db_app_write_begin) first, then the service's lock. Handlers that only
 * read take the service's lock alone. */
#ifndef DB_HTTP_ALERTS_INT_H
#define DB_HTTP_ALERTS_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/map.h"
#include "exchange/exchange.h"
#include "http/http.h"
#include "watch/watch.h"

#define DB__WEBHOOK_KIND "webhook"
#define DB__SILENCE_KIND "silence"

typedef struct db__scenario_slot {
  int64_t id; /* record id */
  db_scenario *s;
  char *doc; /* the document as loaded (JSON text) */
  int active;
  int64_t activated_ms;
} db__scenario_slot;

typedef struct db__webhook {
  int64_t id;
  char *url, *secret;
  char **events;
  size_t n_events;
  int min_severity;
  db_retry_policy policy;
  int active;
} db__webhook;

typedef struct db__silence {
  int64_t id;
  char *rule, *unit; /* NULL = any */
  int64_t from_ms, until_ms;
} db__silence;

typedef struct db__alerts {
  db_app *app;
  pthread_mutex_t lock;
  db_watch *watch;
  db__scenario_slot *scenarios;
  size_t n_scenarios;
  db__webhook *webhooks;
  size_t n_webhooks;
  db__silence *silences;
  size_t n_silences;
  db_outbox *outbox;
  db_map quiet;            /* alerts acknowledged or escalated: no (further) escalation */
  atomic_llong last_event; /* the newest event id this service knows of */
  int64_t last_beat_ms;
} db__alerts;

/* The service's state (NULL before it opened). */
db__alerts *db__alerts_of(db_app *app);

/* Writes a rule (parsed and checked by the caller; db_watch_save_rule) and puts it in the engine, with
 * the write lock held and the transaction open. *created is 1 for a new one. */
int db__alerts_put_rule(db__alerts *a, db_store *s, const db_watch_rule *r, const char *actor, int *created,
                        db_diag *d);
int db__alerts_delete_rule(db__alerts *a, db_store *s, const char *code, const char *actor);
/* Loads (or replaces) a scenario document: parsed against the current catalog; its rules join the engine.
 * Same locking as db__alerts_put_rule. */
int db__alerts_put_scenario(db__alerts *a, db_store *s, const db_catalog *cat, const char *text, size_t len,
                            const char *actor, int *created, db_diag *d);
/* Activates (on 1) or deactivates a scenario; DB_ENOTFOUND, DB_ECONFLICT when already so. */
int db__alerts_activate(db__alerts *a, db_store *s, const char *code, int on, const char *actor, const char *note);
/* Appends an event in the open transaction (body stolen); when `notify`, the deliveries of the webhooks
 * that want it are written in the same transaction, and sent once db__alerts_finish commits. */
int db__alerts_event(db__alerts *a, db_store *s, const char *kind, json_t *body, int notify);
/* Ends a transaction of the service's writes: commits when err is 0, else rolls back; then hands the new
 * deliveries to the outbox and wakes the event streams (or drops the deliveries). Returns err, or the
 * commit's error. The write lock and the service's lock are the caller's to release. */
int db__alerts_finish(db__alerts *a, db_store *s, int err);

/* Handlers' helpers (h_alerts.c). A webhook record's body into w (owned strings; db__webhook_free): 0 or DB_EINVAL. */
int db__webhook_parse(int64_t id, const char *body, db__webhook *w);
void db__webhook_free(db__webhook *w);
/* Answers the problems of d (400, or 409 for DB_ECONFLICT, 404 for DB_ENOTFOUND), each located at the JSON
 * path its message starts with ("$.for: ..."). Returns 0. */
int db__alerts_problems(db_resp *w, int err, const char *what, const db_diag *d);
/* Answers a write: for DB_EINVAL or DB_ECONFLICT the problems of d (db__alerts_problems), for 0 `out`
 * with 201 when created, else 200. Frees d and out (unless sent). Returns 0, or err for the server. */
int db__alerts_answer(db_resp *w, int err, int created, json_t *out, const char *what, db_diag *d);
/* A record's body with its id and version. */
json_t *db__alerts_record_json(const db_record *rec);

#endif
