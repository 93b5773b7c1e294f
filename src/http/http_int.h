/* http_int.h - what the files of the HTTP module share and handlers do not see: the application
 * state (db_app: store handles, catalog snapshots, the in-memory cube and the derived indicators'
 * engine, metrics), the per-request exchange behind db_req->conn, the metrics writer and the OpenAPI
 * generator.
 *
 * Ownership and threads: one db_app per server, created by db_app_open before the daemon starts and
 * freed by db_app_close after every worker thread has stopped. The writer handle is used only between
 * db_app_write_begin and db_app_write_end. Each worker thread lazily opens its own read handle
 * (db_app_reader); the app keeps them all and closes them in db_app_close. A catalog snapshot is
 * reference-counted: db_app_snapshot_acquire gives the current one to a request, which keeps it (even
 * if db_app_catalog_changed publishes a newer one meanwhile) until db_app_snapshot_release.
 *
 * The cube (cube.h) is built from the store when the app opens and kept current by the writers, under
 * the write lock: db_app_data_committed applies each committed change set (then tells the services),
 * db_app_catalog_changed publishes the new catalog to it. A request takes the catalog snapshot and the cube version together
 * (under snap_lock, where a catalog change also publishes both), so the two always agree. When the cube
 * refuses a change (it cannot happen with a consistent store; a safety net), it is rebuilt from the
 * store and swapped in under snap_lock. */
#ifndef DB_HTTP_INT_H
#define DB_HTTP_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "analytics/analytics.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "http/http.h"
#include "http/router.h"
#include "http/service.h"

struct MHD_Connection;

/* A published catalog with its annual plans, shared by the requests that started while it was current. */
typedef struct db_snapshot {
  db_catalog cat;
  db_analytics_plans *plans;
  atomic_long refs;
} db_snapshot;

/* What db_req->conn points at: the server's view of the request. */
typedef struct db_exchange {
  struct MHD_Connection *mhd; /* NULL in unit tests: db_req_header then answers NULL */
  db_uri uri;
} db_exchange;

#define DB_METRIC_BUCKETS 12

typedef struct db_metric_count {
  int route;      /* index in db_routes, or -1 for a request that matched no route */
  char method[8]; /* GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or OTHER */
  int status;
  uint64_t count;
} db_metric_count;

typedef struct db_metric_hist {
  uint64_t buckets[DB_METRIC_BUCKETS]; /* cumulative counts are computed when written */
  uint64_t count;
  double sum;
} db_metric_hist;

typedef struct db_metrics {
  pthread_mutex_t lock;
  db_metric_count *counts;
  size_t n_counts, cap_counts;
  db_metric_hist *hist; /* db_n_routes + 1 (the last for unmatched requests) */
  atomic_llong rows_ingested;
} db_metrics;

struct db_app {
  db_server_config cfg; /* defaults filled in */
  char *store_path;     /* the SQLite file behind the store URL, NULL for other backends */
  db_store *writer;
  pthread_mutex_t write_lock;
  pthread_mutex_t snap_lock; /* guards snap and cube (the pointer swaps and the references taken by acquire) */
  db_snapshot *snap;
  db_cube *cube;     /* current values, kept current by the writers */
  db_derive *derive; /* derived indicators; NULL while the catalog's formulas do not compile */
  db_derive **retired; /* engines replaced by a rebuild, freed at close (requests may hold them) */
  size_t n_retired;
  pthread_key_t reader_key;
  pthread_mutex_t readers_lock;
  db_store **readers;
  size_t n_readers, cap_readers;
  void *services[DB_SVC_COUNT + 1]; /* each service's state (service.h), in services.def order */
  int n_open_services;          /* how many opened: those are closed */
  pthread_t clock;              /* calls the services' tick hooks */
  int clock_running;
  pthread_mutex_t clock_lock;
  pthread_cond_t clock_wake;
  int clock_stop;
  char *openapi; /* the OpenAPI document, generated once */
  size_t openapi_len;
  db_metrics metrics;
};

/* Fills the defaults of cfg (documented in http.h) into out. */
void db_server_config_defaults(const db_server_config *cfg, db_server_config *out);

/* Opens the writer handle, loads and publishes the catalog, builds the cube (logging its size and the
 * time it took on stderr), opens the derived indicators' engine, opens the services (service.h) and
 * starts their clock, and generates the OpenAPI document.
 * Returns 0 and *out, or a store error explained in d. */
int db_app_open(const db_server_config *cfg, db_app **out, db_diag *d);
/* Stops the services' clock, closes the services, every handle, and frees the app; call only after the
 * worker threads have stopped. */
void db_app_close(db_app *app);
/* This thread's read handle, opened on first use: 0 and *out, or a store error. */
int db_app_reader(db_app *app, db_store **out);
/* The current catalog snapshot and cube version, each with a reference taken (never NULL), and the
 * derived indicators' engine (NULL when off); release both with db_app_snapshot_release. */
db_snapshot *db_app_snapshot_acquire(db_app *app, const db_cube_version **cube, db_derive **derive);
void db_app_snapshot_release(db_snapshot *s, const db_cube_version *cube);

/* Counts one answered request (route index or -1) and its duration in seconds. Thread-safe. */
void db_app_metrics_request(db_app *app, int route, const char *method, int status, double seconds);
/* Appends the Prometheus text exposition of every metric to out. Thread-safe. */
void db_app_metrics_write(db_app *app, db_buf *out);

/* The OpenAPI 3.1 document of the route table, as JSON text (owned by the caller, db_free). */
char *db_openapi_generate(size_t *len);

#endif
