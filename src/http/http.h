/* http.h - what request handlers see of the HTTP server: the request, the response, the app state.
 *
 * The server (server.c, on GNU libmicrohttpd) reads a request whole (within the limits), authenticates
 * it (auth.h), matches it against the route table (routes.def), checks the route's permission and, for
 * unsafe methods from a session, the CSRF token, then calls the route's handler on one of its worker
 * threads. Handlers know nothing of libmicrohttpd: they read a db_req and fill a db_resp.
 *
 * Ownership: everything in a db_req lives until the handler returns. A handler allocates its answer
 * into the db_resp (db_resp_* functions); the server sends and frees it. Strings given to db_resp_*
 * are copied. Handlers run concurrently on several threads: each gets its own store handle (req->store,
 * for reads), a consistent catalog snapshot (req->cat, unchanged during the request) with its annual
 * plans, and the version of the in-memory cube taken with it (req->cube: current values, never the
 * database); writes go through db_app_write_begin/end, which serialise them on the single writer handle. */
#ifndef DB_HTTP_H
#define DB_HTTP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/analytics.h"
#include "auth/auth.h"
#include "base/buf.h"
#include "base/diag.h"
#include "http/service.h"
#include "model/catalog.h"
#include "store/store.h"

#define DB_HTTP_MAX_PARAMS 4

typedef struct db_route db_route;

typedef struct db_req {
  db_app *app;
  const db_route *route;
  const char *method;
  const char *path;                        /* percent-decoded path, no query */
  const char *params[DB_HTTP_MAX_PARAMS];  /* the route's {name} segments, in order, decoded */
  const char *body;                        /* NUL-terminated; "" when none */
  size_t body_len;
  const char *content_type;                /* media type only ("application/json"), "" when none */
  const char *client;                      /* client address, for audit and rate limits */
  db_principal who;
  db_store *store;                         /* this thread's read handle */
  const db_catalog *cat;                   /* catalog snapshot */
  const db_analytics_plans *plans;         /* the snapshot's annual plans (targets of kind plan) */
  const db_cube_version *cube;             /* the cube version that goes with the snapshot */
  db_derive *derive;                       /* derived indicators' engine; NULL when the formulas do not compile */
  void *conn;                              /* the server's connection (opaque) */
} db_req;

/* A query parameter, percent-decoded ("a+b" is "a b"); NULL when absent. */
const char *db_req_query(const db_req *r, const char *name);
/* A request header (case-insensitive name); NULL when absent. */
const char *db_req_header(const db_req *r, const char *name);
/* The preferred answer format: "csv" when the Accept header or ?format=csv asks for text/csv,
 * "geojson" for ?format=geojson, else "json". */
const char *db_req_format(const db_req *r);

typedef struct db_stream db_stream;
typedef struct db_stream_ops db_stream_ops;

typedef struct db_resp {
  int status;
  char *content_type;
  db_buf body;
  char **headers; /* "Name: value" strings */
  size_t n_headers;
  const db_stream_ops *stream; /* a streamed answer (db_resp_stream): the body comes from stream->read */
  void *stream_ctx;
} db_resp;

/* Answers with a JSON document (stolen: the response takes the reference). */
void db_resp_json(db_resp *w, int status, json_t *doc);
/* Answers with text of a media type. */
void db_resp_text(db_resp *w, int status, const char *content_type, const char *text, size_t len);
/* Adds a header. */
void db_resp_header(db_resp *w, const char *name, const char *value);
/* Answers with application/problem+json (RFC 9457): {type, title, status, detail, errors: [{path,
 * message}]}; problems (may be NULL) become errors, with "line L, column C" locations as paths when
 * they have no path. The type is "https://databrain.dev/problems/<slug of title>". */
void db_resp_problem(db_resp *w, int status, const char *title, const char *detail, const db_diag *problems);
/* The problem answer of a DB_E* error code (status from db_http_status). */
void db_resp_error(db_resp *w, int err, const char *detail, const db_diag *problems);

/* ---- streamed answers (Server-Sent Events) ----
 * A handler may answer with a body that arrives over time: the server calls ops->read on a worker thread
 * whenever the client can take more; read never blocks: it returns the bytes it wrote into buf (> 0), 0
 * when nothing is ready (the server then parks the connection, using no thread, until db_stream_wake or
 * db_streams_wake_all), or -1 to end the answer. ops->close runs once when the answer ends (the client
 * left, read ended it, or the server stops: on SIGTERM every stream ends at once, so that open streams do
 * not hold the shutdown). The db_stream handle given to read stays valid until close returns. */
struct db_stream_ops {
  long (*read)(void *ctx, db_stream *s, char *buf, size_t max);
  void (*close)(void *ctx);
};
/* Answers `status` with a streamed body of content_type (no ETag; chunked). ctx goes to ops. */
void db_resp_stream(db_resp *w, int status, const char *content_type, const db_stream_ops *ops, void *ctx);
/* Has the server call the stream's read again soon. Thread-safe. */
void db_stream_wake(db_stream *s);
/* Wakes every open stream of the process (new events, a heartbeat). Thread-safe. */
void db_streams_wake_all(void);

/* Serialises writes: returns the writer store handle, holding the app's write lock until
 * db_app_write_end. After a catalog change, call db_app_catalog_changed before db_app_write_end so
 * that later requests see the new catalog. */
db_store *db_app_write_begin(db_app *app);
void db_app_write_end(db_app *app);
/* Reloads the catalog (and the targets) from the writer handle and publishes it, with the cube and the
 * derived indicators' engine brought to it; returns 0 or a store error. */
int db_app_catalog_changed(db_app *app);
/* After a committed data batch, before db_app_write_end: applies its change set (db_ingest_result's
 * changes) to the cube and tells the derived indicators' engine, so that the next requests read it, then
 * calls the services' committed hooks (service.h). */
void db_app_data_committed(db_app *app, const db_commit *c);
/* Adds rows to the databrain_rows_ingested_total counter of /metrics: the data handler calls it with
 * the rows of each committed batch (not for a batch replayed by its Idempotency-Key). Thread-safe. */
void db_app_rows_ingested(db_app *app, int64_t rows);
/* The server's configuration, defaults filled in (session_ttl_s for the login handler...). */
const struct db_server_config *db_app_config(const db_app *app);

/* The server's configuration. */
typedef struct db_server_config {
  const char *store_url;
  const char *listen;        /* "127.0.0.1:8080" */
  const char *tls_cert, *tls_key; /* PEM files; both or neither */
  unsigned threads;          /* worker threads; 0 = number of cores */
  size_t max_body_bytes;     /* default 64 MiB */
  size_t max_header_bytes;   /* default 16 KiB */
  unsigned timeout_s;        /* idle connection timeout; default 30 */
  unsigned rate_per_token;   /* requests per second per token or session; 0 = default 500 */
  unsigned rate_per_address; /* requests per second per anonymous address; 0 = default 200 */
  int64_t session_ttl_s;     /* default 12 h */
} db_server_config;

/* Runs the server until SIGTERM or SIGINT: stops accepting, lets in-flight requests finish, closes
 * the store. Prints "listening on http://HOST:PORT" on stdout once ready. Returns 0 or an error. */
int db_server_run(const db_server_config *cfg, db_diag *d);

#endif
