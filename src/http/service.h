/* service.h - the domain services the server runs beside the catalog and the cube: data quality, tasks,
 * forecasts, alerts. Each is a module of its own under src/ (which knows nothing of HTTP) plus a file
 * src/http/svc_<name>.c that adapts it to the server: it defines `const db_service db_service_<name>`,
 * whose hooks the app calls at the moments below, and its routes (routes_<name>.def, handlers in
 * h_<name>.c) reach its state with db_app_service(r->app, DB_SVC_<name>).
 *
 * Moments, and what holds then:
 *   open             once, after the catalog is published and the cube built, before the daemon accepts
 *                    requests; in the order of services.def. The service builds its state (reads its
 *                    records from app->writer...) and sets *state. A failure stops the server with d.
 *   committed        after every data batch that committed through the server (db_app_data_committed),
 *                    with the cube already brought to it, on the writing request's thread, the write
 *                    lock held: the service may run its own transactions on app->writer (a violation, an
 *                    alert, an event), and must be quick (the request waits). Errors are the service's
 *                    to log; the batch is committed whatever happens here.
 *   catalog_changed  after a catalog change was published, write lock held.
 *   tick             about once a second from the app's clock thread, no lock held (a service takes the
 *                    write lock with db_app_write_begin when it writes): time-based conditions, retries,
 *                    overdue checks.
 *   close            once, after the worker threads and the clock stopped, in reverse order.
 * Any hook may be NULL. Hooks of different services never run at the same time for the same moment,
 * but a tick may run while requests (handlers of the same service) run: a service guards its state. */
#ifndef DB_HTTP_SERVICE_H
#define DB_HTTP_SERVICE_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "store/store.h"

typedef struct db_app db_app;

/* A batch that committed: its number, who sent it, and its change set (db_ingest_result's changes:
 * one row per observation inserted or revised, with series, indicator, orgunit, dimkey, period, value,
 * status and seq filled). */
typedef struct db_commit {
  int64_t seq;
  const char *actor;  /* user or token name */
  const char *source; /* "api", a file name... */
  int64_t time_ms;    /* when it committed */
  const db_obs_row *changes;
  size_t n_changes;
} db_commit;

typedef struct db_service {
  const char *name;
  int (*open)(db_app *app, void **state, db_diag *d);
  void (*committed)(void *state, db_app *app, const db_commit *c);
  void (*catalog_changed)(void *state, db_app *app);
  void (*tick)(void *state, db_app *app, int64_t now_ms);
  void (*close)(void *state);
} db_service;

/* The services, in the order of services.def: DB_SVC_<name> indexes them. */
typedef enum db_service_id {
#define DB_SERVICE(name) DB_SVC_##name,
#include "http/services.def"
#undef DB_SERVICE
  DB_SVC_COUNT
} db_service_id;

#define DB_SERVICE(name) extern const db_service db_service_##name;
#include "http/services.def"
#undef DB_SERVICE

/* The state the service set in its open hook (NULL before it opened). */
void *db_app_service(db_app *app, db_service_id id);

#endif
