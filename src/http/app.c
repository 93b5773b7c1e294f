/* app.c - the server's application state (see http_int.h): the writer handle behind its mutex, one
 * read handle per worker thread, the reference-counted catalog snapshots with their annual plans, the
 * in-memory cube and the derived indicators' engine kept current by the writers, the domain services
 * (service.h) with their clock, and the metrics counters with their Prometheus text exposition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/http_int.h"

#define CLOCK_PERIOD_MS 1000

/* The services of services.def, in order. */
static const db_service *const services[DB_SVC_COUNT + 1] = {
#define DB_SERVICE(name) &db_service_##name,
#include "http/services.def"
#undef DB_SERVICE
    NULL};

#define DEFAULT_MAX_BODY (64u << 20)
#define DEFAULT_MAX_HEADER (16u << 10)
#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_RATE_TOKEN 500
#define DEFAULT_RATE_ADDRESS 200
#define DEFAULT_SESSION_TTL_S (12 * 3600)

/* Upper bounds (seconds) of the latency histogram buckets; +Inf is implied. */
static const double bucket_bounds[DB_METRIC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

void db_server_config_defaults(const db_server_config *cfg, db_server_config *out) {
  *out = *cfg;
  if (!out->listen) out->listen = "127.0.0.1:8080";
  if (!out->threads) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    out->threads = n > 0 ? (unsigned)n : 1;
  }
  if (!out->max_body_bytes) out->max_body_bytes = DEFAULT_MAX_BODY;
  if (!out->max_header_bytes) out->max_header_bytes = DEFAULT_MAX_HEADER;
  if (!out->timeout_s) out->timeout_s = DEFAULT_TIMEOUT_S;
  if (!out->rate_per_token) out->rate_per_token = DEFAULT_RATE_TOKEN;
  if (!out->rate_per_address) out->rate_per_address = DEFAULT_RATE_ADDRESS;
  if (!out->session_ttl_s) out->session_ttl_s = DEFAULT_SESSION_TTL_S;
}

/* The file of an SQLite store URL ("sqlite:PATH" or a bare path), NULL for other schemes. */
static char *sqlite_path(const char *url) {
  if (strncmp(url, "sqlite:", 7) == 0) return db_strdup(url + 7);
  if (strstr(url, "://")) return NULL;
  return db_strdup(url);
}

static void snapshot_free(db_snapshot *snap) {
  db_catalog_free(&snap->cat);
  db_analytics_plans_free(snap->plans);
  db_free(snap);
}

static int add_plan(void *ctx, const db_target *t) {
  db_analytics_plans_add(ctx, t);
  return 0;
}

/* Loads the catalog and the annual plans from s into a new snapshot holding one reference. */
static int snapshot_load(db_store *s, db_snapshot **out) {
  db_snapshot *snap = db_calloc(1, sizeof *snap);
  db_catalog_init(&snap->cat);
  snap->plans = db_analytics_plans_new();
  int err = db_store_load_catalog(s, &snap->cat);
  if (!err) err = db_store_read_targets(s, NULL, add_plan, snap->plans);
  if (err) {
    snapshot_free(snap);
    return err;
  }
  /* a stored catalog is consistent by construction: linking only derives the hierarchy */
  db_diag d = DB_DIAG_INIT;
  db_catalog_link(&snap->cat, &d);
  db_diag_free(&d);
  atomic_init(&snap->refs, 1);
  *out = snap;
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Builds the cube from the writer handle under cat into *out, logging its size and build time. */
static int cube_build(db_app *app, const db_catalog *cat, db_cube **out, db_diag *d) {
  double start = now_ms();
  int err = db_cube_open(app->writer, cat, out, d);
  if (err) return err;
  const db_cube_version *v = db_cube_acquire(*out);
  db_cube_stats st;
  db_cube_stats_get(v, &st);
  db_cube_release(v);
  fprintf(stderr, "databrain serve: cube of %lld values (%lld series matrices, %.1f MB) built in %.0f ms\n",
          (long long)st.cells, (long long)st.matrices, (double)st.bytes / 1048576.0, now_ms() - start);
  return 0;
}

/* Tells the derived indicators' engine which cube version is current (rows: what changed). */
static void note_version(db_app *app, const db_obs_row *rows, size_t n) {
  if (!app->derive) return;
  const db_cube_version *v = db_cube_acquire(app->cube);
  db_derive_note_commit(app->derive, db_cube_version_number(v), rows, n);
  db_cube_release(v);
}

/* Brings the derived indicators' engine to cat (opening it when there is none yet) with the store's
 * targets. Formulas that do not compile are logged: a new engine then stays off, an existing one keeps
 * its previous definitions. Called by the writers (or at open); the pointer changes under snap_lock. */
static void derive_refresh(db_app *app, const db_catalog *cat) {
  db_diag d = DB_DIAG_INIT;
  db_derive *e = app->derive;
  int err = e ? db_derive_set_catalog(e, cat, &d) : db_derive_open(cat, &e, &d);
  if (!err) err = db_derive_load_targets(e, app->writer);
  if (err) {
    fprintf(stderr, "databrain serve: derived indicators: %s\n", db_strerror(err));
    db_diag_print(&d, stderr, "databrain serve");
  }
  if (e && !app->derive) {
    pthread_mutex_lock(&app->snap_lock);
    app->derive = e;
    pthread_mutex_unlock(&app->snap_lock);
  }
  note_version(app, NULL, 0);
  db_diag_free(&d);
}

/* The safety net when the cube refused a change (see http_int.h): a cube and an engine rebuilt from the
 * store under cat take the place of the current ones. The old engine is retired, not freed: requests in
 * flight may still use it. */
static void rebuild(db_app *app, const db_catalog *cat, const db_diag *why) {
  fprintf(stderr, "databrain serve: the cube refused a change; rebuilding it from the store\n");
  db_diag_print(why, stderr, "databrain serve");
  db_diag d = DB_DIAG_INIT;
  db_cube *fresh;
  db_derive *engine = NULL;
  if (cube_build(app, cat, &fresh, &d) != 0) {
    fprintf(stderr, "databrain serve: the cube could not be rebuilt: it keeps its last version\n");
    db_diag_print(&d, stderr, "databrain serve");
    db_diag_free(&d);
    return;
  }
  if (db_derive_open(cat, &engine, &d) == 0 && db_derive_load_targets(engine, app->writer) != 0) {
    db_derive_close(engine);
    engine = NULL;
  }
  pthread_mutex_lock(&app->snap_lock);
  db_cube *old = app->cube;
  app->cube = fresh;
  if (app->derive) {
    app->retired = db_realloc(app->retired, (app->n_retired + 1) * sizeof *app->retired);
    app->retired[app->n_retired++] = app->derive;
  }
  app->derive = engine;
  pthread_mutex_unlock(&app->snap_lock);
  db_cube_close(old);
  note_version(app, NULL, 0);
  db_diag_free(&d);
}

/* Opens the services in order; on a failure, those opened are closed by db_app_close. */
static int services_open(db_app *app, db_diag *d) {
  for (int i = 0; i < DB_SVC_COUNT; i++) {
    int err = services[i]->open ? services[i]->open(app, &app->services[i], d) : 0;
    if (err) {
      if (!d->count) db_diag_add(d, 0, 0, NULL, err, "service %s: %s", services[i]->name, db_strerror(err));
      return err;
    }
    app->n_open_services = i + 1;
  }
  return 0;
}

/* The clock thread: every service's tick hook about once a second until db_app_close stops it. */
static void *clock_main(void *arg) {
  db_app *app = arg;
  pthread_mutex_lock(&app->clock_lock);
  while (!app->clock_stop) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLOCK_PERIOD_MS / 1000;
    pthread_cond_timedwait(&app->clock_wake, &app->clock_lock, &until);
    if (app->clock_stop) break;
    pthread_mutex_unlock(&app->clock_lock);
    int64_t now = db_now_ms();
    for (int i = 0; i < app->n_open_services; i++)
      if (services[i]->tick) services[i]->tick(app->services[i], app, now);
    pthread_mutex_lock(&app->clock_lock);
  }
  pthread_mutex_unlock(&app->clock_lock);
  return NULL;
}

void *db_app_service(db_app *app, db_service_id id) {
  return (int)id >= 0 && (int)id < DB_SVC_COUNT ? app->services[id] : NULL;
}

int db_app_open(const db_server_config *cfg, db_app **out, db_diag *d) {
  db_app *app = db_calloc(1, sizeof *app);
  db_server_config_defaults(cfg, &app->cfg);
  pthread_mutex_init(&app->write_lock, NULL);
  pthread_mutex_init(&app->snap_lock, NULL);
  pthread_mutex_init(&app->readers_lock, NULL);
  pthread_mutex_init(&app->metrics.lock, NULL);
  pthread_key_create(&app->reader_key, NULL);
  app->metrics.hist = db_calloc(db_n_routes + 1, sizeof *app->metrics.hist);
  atomic_init(&app->metrics.rows_ingested, 0);
  app->store_path = sqlite_path(app->cfg.store_url);
  int err = db_store_open(app->cfg.store_url, &app->writer, d);
  if (!err) err = snapshot_load(app->writer, &app->snap);
  if (!err) err = cube_build(app, &app->snap->cat, &app->cube, d);
  if (!err) derive_refresh(app, &app->snap->cat);
  if (!err) err = services_open(app, d);
  if (!err) {
    pthread_mutex_init(&app->clock_lock, NULL);
    pthread_cond_init(&app->clock_wake, NULL);
    app->clock_running = pthread_create(&app->clock, NULL, clock_main, app) == 0;
    if (!app->clock_running) err = DB_ENOMEM;
  }
  if (err) {
    if (!d->count) db_diag_add(d, 0, 0, NULL, err, "%s: %s", app->cfg.store_url, db_strerror(err));
    db_app_close(app);
    return err;
  }
  app->openapi = db_openapi_generate(&app->openapi_len);
  *out = app;
  return 0;
}

void db_app_close(db_app *app) {
  if (!app) return;
  if (app->clock_running) {
    pthread_mutex_lock(&app->clock_lock);
    app->clock_stop = 1;
    pthread_cond_signal(&app->clock_wake);
    pthread_mutex_unlock(&app->clock_lock);
    pthread_join(app->clock, NULL);
    pthread_mutex_destroy(&app->clock_lock);
    pthread_cond_destroy(&app->clock_wake);
  }
  for (int i = app->n_open_services - 1; i >= 0; i--)
    if (services[i]->close) services[i]->close(app->services[i]);
  for (size_t i = 0; i < app->n_readers; i++) db_store_close(app->readers[i]);
  db_free(app->readers);
  if (app->writer) db_store_close(app->writer);
  if (app->snap) snapshot_free(app->snap); /* the last reference: no request is left */
  db_cube_close(app->cube);
  db_derive_close(app->derive);
  for (size_t i = 0; i < app->n_retired; i++) db_derive_close(app->retired[i]);
  db_free(app->retired);
  pthread_key_delete(app->reader_key);
  pthread_mutex_destroy(&app->write_lock);
  pthread_mutex_destroy(&app->snap_lock);
  pthread_mutex_destroy(&app->readers_lock);
  pthread_mutex_destroy(&app->metrics.lock);
  db_free(app->metrics.counts);
  db_free(app->metrics.hist);
  db_free(app->store_path);
  db_free(app->openapi);
  db_free(app);
}

int db_app_reader(db_app *app, db_store **out) {
  db_store *s = pthread_getspecific(app->reader_key);
  if (s) {
    *out = s;
    return 0;
  }
  db_diag d = DB_DIAG_INIT;
  int err = db_store_open(app->cfg.store_url, &s, &d);
  if (err) {
    fprintf(stderr, "databrain serve: cannot open a read handle on %s: %s\n", app->cfg.store_url,
            db_strerror(err));
    db_diag_print(&d, stderr, app->cfg.store_url);
    db_diag_free(&d);
    return err;
  }
  pthread_mutex_lock(&app->readers_lock);
  if (app->n_readers == app->cap_readers) {
    app->cap_readers = app->cap_readers ? 2 * app->cap_readers : 8;
    app->readers = db_realloc(app->readers, app->cap_readers * sizeof *app->readers);
  }
  app->readers[app->n_readers++] = s;
  pthread_mutex_unlock(&app->readers_lock);
  pthread_setspecific(app->reader_key, s);
  *out = s;
  return 0;
}

db_store *db_app_write_begin(db_app *app) {
  pthread_mutex_lock(&app->write_lock);
  return app->writer;
}

void db_app_write_end(db_app *app) { pthread_mutex_unlock(&app->write_lock); }

db_snapshot *db_app_snapshot_acquire(db_app *app, const db_cube_version **cube, db_derive **derive) {
  pthread_mutex_lock(&app->snap_lock);
  db_snapshot *s = app->snap;
  atomic_fetch_add(&s->refs, 1);
  *cube = db_cube_acquire(app->cube);
  *derive = app->derive;
  pthread_mutex_unlock(&app->snap_lock);
  return s;
}

void db_app_snapshot_release(db_snapshot *s, const db_cube_version *cube) {
  db_cube_release(cube);
  if (atomic_fetch_sub(&s->refs, 1) == 1) snapshot_free(s);
}

int db_app_catalog_changed(db_app *app) {
  db_snapshot *fresh;
  int err = snapshot_load(app->writer, &fresh);
  if (err) return err;
  db_diag why = DB_DIAG_INIT;
  pthread_mutex_lock(&app->snap_lock);
  db_snapshot *old = app->snap;
  int refused = db_cube_set_catalog(app->cube, &fresh->cat, &why);
  app->snap = fresh;
  pthread_mutex_unlock(&app->snap_lock);
  if (refused)
    rebuild(app, &fresh->cat, &why);
  else
    derive_refresh(app, &fresh->cat);
  db_diag_free(&why);
  for (int i = 0; i < app->n_open_services; i++)
    if (services[i]->catalog_changed) services[i]->catalog_changed(app->services[i], app);
  if (atomic_fetch_sub(&old->refs, 1) == 1) snapshot_free(old);
  return 0;
}

void db_app_data_committed(db_app *app, const db_commit *c) {
  if (!c->n_changes) return;
  db_diag why = DB_DIAG_INIT;
  if (db_cube_apply(app->cube, c->changes, c->n_changes, &why) != 0)
    rebuild(app, &app->snap->cat, &why);
  else
    note_version(app, c->changes, c->n_changes);
  db_diag_free(&why);
  for (int i = 0; i < app->n_open_services; i++)
    if (services[i]->committed) services[i]->committed(app->services[i], app, c);
}

void db_app_rows_ingested(db_app *app, int64_t rows) {
  if (rows > 0) atomic_fetch_add(&app->metrics.rows_ingested, rows);
}

const db_server_config *db_app_config(const db_app *app) { return &app->cfg; }

/* The method label of a request: one of the methods HTTP APIs use, else OTHER (bounded cardinality). */
static const char *method_label(const char *method) {
  static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (strcmp(method, known[i]) == 0) return known[i];
  return "OTHER";
}

void db_app_metrics_request(db_app *app, int route, const char *method, int status, double seconds) {
  db_metrics *m = &app->metrics;
  const char *label = method_label(method);
  pthread_mutex_lock(&m->lock);
  db_metric_count *c = NULL;
  for (size_t i = 0; i < m->n_counts && !c; i++)
    if (m->counts[i].route == route && m->counts[i].status == status &&
        strcmp(m->counts[i].method, label) == 0)
      c = &m->counts[i];
  if (!c) {
    if (m->n_counts == m->cap_counts) {
      m->cap_counts = m->cap_counts ? 2 * m->cap_counts : 32;
      m->counts = db_realloc(m->counts, m->cap_counts * sizeof *m->counts);
    }
    c = &m->counts[m->n_counts++];
    *c = (db_metric_count){.route = route, .status = status};
    snprintf(c->method, sizeof c->method, "%s", label);
  }
  c->count++;
  db_metric_hist *h = &m->hist[route < 0 ? db_n_routes : (size_t)route];
  size_t b = 0;
  while (b < DB_METRIC_BUCKETS && seconds > bucket_bounds[b]) b++;
  if (b < DB_METRIC_BUCKETS) h->buckets[b]++;
  h->count++;
  h->sum += seconds;
  pthread_mutex_unlock(&m->lock);
}

static const char *route_label(int route) { return route < 0 ? "unmatched" : db_routes[route].pattern; }

/* Resident set size in bytes, from /proc/self/statm; -1 when unreadable. */
static long long resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long long size, resident = -1;
  if (!f) return -1;
  if (fscanf(f, "%lld %lld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

void db_app_metrics_write(db_app *app, db_buf *out) {
  db_metrics *m = &app->metrics;
  pthread_mutex_lock(&m->lock);
  db_buf_puts(out,
              "# HELP http_requests_total HTTP requests answered, by route, method and status.\n"
              "# TYPE http_requests_total counter\n");
  for (size_t i = 0; i < m->n_counts; i++)
    db_buf_printf(out, "http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                  route_label(m->counts[i].route), m->counts[i].method, m->counts[i].status,
                  (unsigned long long)m->counts[i].count);
  db_buf_puts(out,
              "# HELP http_request_duration_seconds Time from the complete request to the answer, by route.\n"
              "# TYPE http_request_duration_seconds histogram\n");
  for (size_t r = 0; r <= db_n_routes; r++) {
    const db_metric_hist *h = &m->hist[r];
    if (!h->count) continue;
    const char *route = route_label(r == db_n_routes ? -1 : (int)r);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < DB_METRIC_BUCKETS; b++) {
      cumulative += h->buckets[b];
      db_buf_printf(out, "http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route,
                    bucket_bounds[b], (unsigned long long)cumulative);
    }
    db_buf_printf(out, "http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route,
                  (unsigned long long)h->count);
    db_buf_printf(out, "http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route, h->sum);
    db_buf_printf(out, "http_request_duration_seconds_count{route=\"%s\"} %llu\n", route,
                  (unsigned long long)h->count);
  }
  pthread_mutex_unlock(&m->lock);
  db_buf_printf(out,
                "# HELP databrain_rows_ingested_total Observation rows written through the API.\n"
                "# TYPE databrain_rows_ingested_total counter\ndatabrain_rows_ingested_total %lld\n",
                (long long)atomic_load(&m->rows_ingested));
  struct stat st;
  if (app->store_path && stat(app->store_path, &st) == 0)
    db_buf_printf(out,
                  "# HELP databrain_store_bytes Size of the store file.\n"
                  "# TYPE databrain_store_bytes gauge\ndatabrain_store_bytes %lld\n",
                  (long long)st.st_size);
  long long rss = resident_bytes();
  if (rss >= 0)
    db_buf_printf(out,
                  "# HELP process_resident_memory_bytes Resident memory of the process.\n"
                  "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n",
                  rss);
  pthread_mutex_lock(&app->snap_lock);
  const db_cube_version *v = db_cube_acquire(app->cube);
  pthread_mutex_unlock(&app->snap_lock);
  db_cube_stats cs;
  db_cube_stats_get(v, &cs);
  db_buf_printf(out,
                "# HELP databrain_cube_version Number of the in-memory cube's current version.\n"
                "# TYPE databrain_cube_version gauge\ndatabrain_cube_version %llu\n"
                "# HELP databrain_cube_values Values held by the in-memory cube.\n"
                "# TYPE databrain_cube_values gauge\ndatabrain_cube_values %lld\n",
                (unsigned long long)db_cube_version_number(v), (long long)cs.cells);
  db_cube_release(v);
  db_buf_printf(out,
                "# HELP databrain_memory_allocated_bytes Bytes allocated through databrain's allocator.\n"
                "# TYPE databrain_memory_allocated_bytes gauge\ndatabrain_memory_allocated_bytes %zu\n",
                db_mem_used());
}
