/* server.c - db_server_run: the HTTP server on GNU libmicrohttpd.
 *
 * One daemon with an internal thread pool (epoll per worker, keep-alive). For each request:
 *   1. the raw request target arrives first (URI log callback): it starts the request's state;
 *   2. once the headers are in (first access-handler call), `prepare` decides everything that does not
 *      need the body: the size of the headers is checked (431; libmicrohttpd itself refuses headers that
 *      do not fit the connection's memory, max_header_bytes + 16 KiB), the target is parsed (400), the
 *      caller authenticated (401 for a bad bearer token), rate-limited (429), routed (404, 405), the
 *      declared body size checked (413), the permission (401 anonymous / 403 authenticated) and the CSRF
 *      token of a session's unsafe method (403) checked. A refusal is answered at once when a large or
 *      chunked body follows (libmicrohttpd then discards the rest of the request and closes the
 *      connection), else at the end of the request;
 *   3. body chunks are accumulated up to max_body_bytes (a chunked body that grows beyond is counted,
 *      not kept, and answered 413);
 *   4. the complete request goes to the route's handler with this thread's read handle, the current
 *      catalog snapshot and the cube version that goes with it; its answer gets an ETag (GET), is turned into 304 when If-None-Match matches,
 *      and is sent. A handler that fails is logged and answered with a problem.
 * A streamed answer (http.h db_resp_stream: the event stream) is produced piece by piece; its connection
 * is suspended while it has nothing to send.
 * SIGTERM or SIGINT: stop accepting (MHD_quiesce_daemon), end the streamed answers, let requests in flight
 * finish (answers then carry "Connection: close"), stop the daemon, close the store handles. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "http/http_int.h"
#include "http/static.h"

#define SESSION_COOKIE "databrain_session"
#define CONNECTION_LIMIT 1024
#define PER_IP_CONNECTION_LIMIT 256 /* one address cannot take every connection */
#define RATE_BUCKETS_MAX 100000     /* beyond, the rate table starts afresh (memory stays bounded) */
#define SMALL_BODY 65536            /* a refused request's body up to this size is read and dropped */

typedef struct rate_bucket {
  double tokens;
  int64_t last_us;
} rate_bucket;

typedef struct server {
  db_app *app;
  struct MHD_Daemon *daemon;
  atomic_int draining;
  atomic_long inflight;
  pthread_mutex_t rate_lock;
  db_map rate_index; /* key -> index in buckets */
  rate_bucket *buckets;
  size_t n_buckets, cap_buckets;
} server;

/* The state of one request, from its first line to its completion. */
typedef struct request {
  db_exchange ex; /* what db_req->conn points at */
  char *target;   /* the raw request target */
  int64_t start_us;
  int started;     /* the access handler has seen the headers */
  int route_index; /* -1 until routed */
  const char *params[DB_HTTP_MAX_PARAMS];
  db_principal who;
  int authenticated; /* who comes from a valid token or session */
  db_store *store;
  char client[INET6_ADDRSTRLEN];
  char content_type[128];
  db_buf body;
  size_t received; /* body bytes received, kept or not */
  db_resp refusal; /* an answer decided before the handler ran (status 0: none) */
} request;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void resp_free(db_resp *w) {
  if (w->stream && w->stream->close) w->stream->close(w->stream_ctx); /* a stream never sent */
  db_free(w->content_type);
  db_buf_free(&w->body);
  for (size_t i = 0; i < w->n_headers; i++) db_free(w->headers[i]);
  db_free(w->headers);
  memset(w, 0, sizeof *w);
}

/* ---- rate limits: a token bucket per key, refilled at `rate` per second, holding at most `rate` ---- */

/* Takes one token from key's bucket: 1 when allowed, else 0 and *retry_after (whole seconds, >= 1). */
static int rate_take(server *srv, const char *key, unsigned rate, unsigned *retry_after) {
  int64_t now = now_us();
  int ok;
  pthread_mutex_lock(&srv->rate_lock);
  int64_t idx;
  if (!db_map_gets(&srv->rate_index, key, &idx)) {
    if (srv->n_buckets >= RATE_BUCKETS_MAX) {
      db_map_clear(&srv->rate_index);
      srv->n_buckets = 0;
    }
    if (srv->n_buckets == srv->cap_buckets) {
      srv->cap_buckets = srv->cap_buckets ? 2 * srv->cap_buckets : 64;
      srv->buckets = db_realloc(srv->buckets, srv->cap_buckets * sizeof *srv->buckets);
    }
    idx = (int64_t)srv->n_buckets++;
    srv->buckets[idx] = (rate_bucket){(double)rate, now};
    db_map_puts(&srv->rate_index, key, idx);
  }
  rate_bucket *b = &srv->buckets[idx];
  b->tokens = fmin((double)rate, b->tokens + (double)(now - b->last_us) / 1e6 * rate);
  b->last_us = now;
  ok = b->tokens >= 1.0;
  if (ok)
    b->tokens -= 1.0;
  else
    *retry_after = (unsigned)ceil((1.0 - b->tokens) / rate);
  pthread_mutex_unlock(&srv->rate_lock);
  if (!ok && *retry_after < 1) *retry_after = 1;
  return ok;
}

/* ---- preparing a request (everything decided before the body) ---- */

/* Parses the raw target, split at its first '?' into path and query. */
static int parse_target(request *rq, char why[DB_URI_WHY]) {
  const char *q = strchr(rq->target, '?');
  size_t path_len = q ? (size_t)(q - rq->target) : strlen(rq->target);
  return db_uri_parse(rq->target, path_len, q ? q + 1 : NULL, q ? strlen(q + 1) : 0, &rq->ex.uri, why);
}

static void client_address(struct MHD_Connection *c, char out[INET6_ADDRSTRLEN]) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, INET6_ADDRSTRLEN, "unknown");
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, INET6_ADDRSTRLEN);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, INET6_ADDRSTRLEN);
}

/* The media type of the Content-Type header, lowercased, without parameters ("" when none). */
static void media_type(struct MHD_Connection *c, char out[128]) {
  const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  size_t n = 0;
  for (; ct && ct[n] && ct[n] != ';' && n + 1 < 128; n++) out[n] = (char)tolower((unsigned char)ct[n]);
  while (n && (out[n - 1] == ' ' || out[n - 1] == '\t')) n--;
  out[n] = '\0';
}

/* Constant-time equality of two NUL-terminated secrets. */
static int secret_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = la != lb;
  for (size_t i = 0; i < la && i < lb; i++) diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

/* Identifies the caller (rq->who, rq->authenticated): a bearer token, else the session cookie, else
 * anonymous. Returns 0, or a problem status (401 for a malformed or unknown bearer token, 5xx when the
 * store fails) with the refusal written. A session cookie that is unknown or expired leaves the caller
 * anonymous. */
static int authenticate(request *rq, struct MHD_Connection *c) {
  db_principal_anonymous(&rq->who);
  const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (authz) {
    if (strncasecmp(authz, "Bearer ", 7) != 0 || !authz[7]) {
      db_resp_problem(&rq->refusal, 401, "unauthorized", "the Authorization header must be 'Bearer <token>'",
                      NULL);
      return 401;
    }
    const char *token = authz + 7;
    while (*token == ' ') token++;
    int err = db_auth_token_check(rq->store, token, &rq->who);
    if (err == DB_EPERM || err == DB_EINVAL || err == DB_ENOTFOUND) {
      db_principal_anonymous(&rq->who);
      db_resp_problem(&rq->refusal, 401, "unauthorized", "the bearer token is unknown, expired or revoked",
                      NULL);
      return 401;
    }
    if (err) {
      db_resp_error(&rq->refusal, err, "the token could not be checked", NULL);
      return rq->refusal.status;
    }
    rq->authenticated = 1;
    return 0;
  }
  const char *session = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
  if (session) {
    int err = db_auth_session(rq->store, session, &rq->who);
    if (err && err != DB_EPERM && err != DB_EINVAL && err != DB_ENOTFOUND) {
      db_resp_error(&rq->refusal, err, "the session could not be checked", NULL);
      return rq->refusal.status;
    }
    if (err) db_principal_anonymous(&rq->who);
    rq->authenticated = !err;
  }
  return 0;
}

static int is_unsafe(const char *method) {
  return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
         strcmp(method, "DELETE") == 0;
}

/* The size a request declares for its body (Content-Length), or -1 when it declares none. */
static long long declared_length(struct MHD_Connection *c) {
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  return cl ? strtoll(cl, NULL, 10) : -1;
}

/* Whether a refused request should be answered before its body: when the body is large or of unknown
 * size (chunked), reading it would be wasted; a small one is read and dropped so that the connection
 * stays open for the next request. */
static int answer_before_body(struct MHD_Connection *c) {
  return declared_length(c) > SMALL_BODY ||
         MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *name,
                                       const char *value) {
  *(size_t *)cls += strlen(name) + (value ? strlen(value) : 0) + 4; /* "name: value\r\n" */
  return MHD_YES;
}

/* The size of the request line's target and headers, as the client sent them (about). */
static size_t header_bytes(request *rq, struct MHD_Connection *c) {
  size_t n = strlen(rq->target);
  MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &n);
  return n;
}

/* The checks of prepare: each returns 1 when it refused the request (rq->refusal written), else 0. */

/* Headers within max_header_bytes (431), a well-formed target (400). */
static int check_head(server *srv, request *rq, struct MHD_Connection *c) {
  size_t head = header_bytes(rq, c), limit = srv->app->cfg.max_header_bytes;
  if (head > limit) {
    char detail[128];
    snprintf(detail, sizeof detail,
             "the request target and headers (%zu bytes) exceed the limit of %zu bytes", head, limit);
    db_resp_problem(&rq->refusal, 431, "request header fields too large", detail, NULL);
    return 1;
  }
  char why[DB_URI_WHY];
  if (parse_target(rq, why) != 0) {
    db_resp_problem(&rq->refusal, 400, "bad request target", why, NULL);
    return 1;
  }
  return 0;
}

/* A token from the caller's bucket: its token or session's when authenticated, else its address's
 * (429 with Retry-After; it replaces an authentication refusal). */
static int check_rate(server *srv, request *rq) {
  unsigned rate = rq->authenticated ? srv->app->cfg.rate_per_token : srv->app->cfg.rate_per_address,
           retry_after;
  char key[sizeof rq->who.name + 8];
  snprintf(key, sizeof key, "%s:%s", rq->authenticated ? "who" : "addr",
           rq->authenticated ? rq->who.name : rq->client);
  if (rate_take(srv, key, rate, &retry_after)) return 0;
  char detail[128], seconds[16];
  snprintf(detail, sizeof detail, "more than %u requests per second; retry in %u s", rate, retry_after);
  resp_free(&rq->refusal);
  db_resp_problem(&rq->refusal, 429, "too many requests", detail, NULL);
  snprintf(seconds, sizeof seconds, "%u", retry_after);
  db_resp_header(&rq->refusal, "Retry-After", seconds);
  return 1;
}

/* A route for the method and path (404, 405 with Allow), a declared body within max_body_bytes (413). */
static int check_route(server *srv, request *rq, struct MHD_Connection *c, const char *method) {
  db_resp *no = &rq->refusal;
  const db_route *route;
  char allow[128];
  int match = db_router_match(&rq->ex.uri, method, &route, rq->params, allow, sizeof allow);
  if (match == 404) {
    if (db_static_answer(method, rq->ex.uri.path, no)) return 1; /* the dashboard (static.h) */
    db_resp_problem(no, 404, "not found", "no route matches this path", NULL);
    return 1;
  }
  if (match == 405) {
    char detail[192];
    snprintf(detail, sizeof detail, "%s is not allowed here; allowed: %s", method, allow);
    db_resp_problem(no, 405, "method not allowed", detail, NULL);
    db_resp_header(no, "Allow", allow);
    return 1;
  }
  rq->route_index = (int)(route - db_routes);
  long long declared = declared_length(c);
  if (declared > 0 && (unsigned long long)declared > srv->app->cfg.max_body_bytes) {
    char detail[128];
    snprintf(detail, sizeof detail, "the body (%lld bytes) exceeds the limit of %zu bytes", declared,
             srv->app->cfg.max_body_bytes);
    db_resp_problem(no, 413, "content too large", detail, NULL);
    return 1;
  }
  return 0;
}

/* The route's permission (401 for anonymous callers, 403 for the others) and, for an unsafe method
 * from a session, the session's CSRF token in X-CSRF-Token (403). */
static int check_permission(request *rq, struct MHD_Connection *c, const char *method) {
  db_resp *no = &rq->refusal;
  if (!db_auth_allows(&rq->who, db_routes[rq->route_index].perm)) {
    if (!rq->authenticated) {
      db_resp_problem(no, 401, "unauthorized", "this route needs an API token or a session", NULL);
      db_resp_header(no, "WWW-Authenticate", "Bearer");
    } else {
      char detail[160];
      snprintf(detail, sizeof detail, "the role %s may not do this", db_role_name(rq->who.role));
      db_resp_problem(no, 403, "forbidden", detail, NULL);
    }
    return 1;
  }
  if (!rq->who.via_session || !is_unsafe(method)) return 0;
  const char *csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
  if (csrf && rq->who.csrf[0] && secret_equal(csrf, rq->who.csrf)) return 0;
  db_resp_problem(no, 403, "forbidden",
                  csrf ? "the X-CSRF-Token header does not match the session"
                       : "an unsafe method from a session needs the X-CSRF-Token header",
                  NULL);
  return 1;
}

/* Decides what does not need the body (see the top of this file); a refusal goes to rq->refusal. */
static void prepare(server *srv, request *rq, struct MHD_Connection *c, const char *method) {
  client_address(c, rq->client);
  media_type(c, rq->content_type);
  if (check_head(srv, rq, c)) return;
  int err = db_app_reader(srv->app, &rq->store);
  if (err) {
    db_resp_error(&rq->refusal, err, "the store cannot be read", NULL);
    return;
  }
  int auth_status = authenticate(rq, c);
  if (auth_status >= 500 || check_rate(srv, rq)) return;
  if (auth_status) {
    db_resp_header(&rq->refusal, "WWW-Authenticate", "Bearer");
    return;
  }
  if (check_route(srv, rq, c, method) || check_permission(rq, c, method)) return;
  long long declared = declared_length(c);
  if (declared > 0) db_buf_reserve(&rq->body, (size_t)declared); /* within max_body_bytes: checked */
}

/* ---- streamed answers (http.h db_resp_stream) ----
 * A stream's read runs on the connection's worker thread. When it has nothing to send, the connection
 * is suspended (MHD_suspend_connection: no thread waits on it) until db_stream_wake resumes it. Every open
 * stream is in one process-wide list, so that db_streams_wake_all reaches them all and a stopping server
 * ends them all (streams_closing). Locks: the list's lock, then a stream's; libmicrohttpd's own locks are
 * taken only inside those (suspend, resume), never the other way round. */
struct db_stream {
  const db_stream_ops *ops;
  void *ctx;
  struct MHD_Connection *conn;
  pthread_mutex_t lock;
  int parked, woken;
  db_stream *prev, *next;
};

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static db_stream *streams_head;
static atomic_int streams_closing;

void db_resp_stream(db_resp *w, int status, const char *content_type, const db_stream_ops *ops, void *ctx) {
  w->status = status;
  db_free(w->content_type);
  w->content_type = db_strdup(content_type);
  w->stream = ops;
  w->stream_ctx = ctx;
}

void db_stream_wake(db_stream *s) {
  pthread_mutex_lock(&s->lock);
  s->woken = 1;
  if (s->parked) {
    s->parked = 0;
    MHD_resume_connection(s->conn);
  }
  pthread_mutex_unlock(&s->lock);
}

void db_streams_wake_all(void) {
  pthread_mutex_lock(&streams_lock);
  for (db_stream *s = streams_head; s; s = s->next) db_stream_wake(s);
  pthread_mutex_unlock(&streams_lock);
}

/* Ends every stream: their next read ends the answer (the server is stopping). */
static void streams_close_all(void) {
  atomic_store(&streams_closing, 1);
  db_streams_wake_all();
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  db_stream *s = cls;
  (void)pos;
  if (atomic_load(&streams_closing)) return MHD_CONTENT_READER_END_OF_STREAM;
  pthread_mutex_lock(&s->lock);
  s->woken = 0;
  pthread_mutex_unlock(&s->lock);
  long n = s->ops->read(s->ctx, s, buf, max);
  if (n > 0) return (ssize_t)n;
  if (n < 0) return MHD_CONTENT_READER_END_OF_STREAM;
  pthread_mutex_lock(&s->lock);
  if (!s->woken && !atomic_load(&streams_closing)) {
    s->parked = 1;
    MHD_suspend_connection(s->conn);
  }
  pthread_mutex_unlock(&s->lock);
  return 0;
}

static void stream_free(void *cls) {
  db_stream *s = cls;
  pthread_mutex_lock(&streams_lock);
  if (s->prev) s->prev->next = s->next;
  else streams_head = s->next;
  if (s->next) s->next->prev = s->prev;
  pthread_mutex_unlock(&streams_lock);
  if (s->ops->close) s->ops->close(s->ctx);
  pthread_mutex_destroy(&s->lock);
  db_free(s);
}

/* The libmicrohttpd response of a streamed answer (it takes w's stream). */
static struct MHD_Response *stream_response(struct MHD_Connection *c, db_resp *w) {
  db_stream *s = db_calloc(1, sizeof *s);
  s->ops = w->stream;
  s->ctx = w->stream_ctx;
  s->conn = c;
  pthread_mutex_init(&s->lock, NULL);
  w->stream = NULL;
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
  if (!resp) {
    stream_free(s);
    return NULL;
  }
  pthread_mutex_lock(&streams_lock);
  s->next = streams_head;
  if (streams_head) streams_head->prev = s;
  streams_head = s;
  pthread_mutex_unlock(&streams_lock);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  return resp;
}

/* ---- answering ---- */

static void free_body(void *p) { db_free(p); }

/* The ETag of an answer: a 64-bit hash of its body, eight bytes a step (strong: same bytes, same tag;
 * a cache validator, not a security check). */
static void etag_of(const db_buf *b, char out[24]) {
  const uint64_t m = 0xff51afd7ed558ccdull;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ b->len, k;
  size_t i = 0;
  for (; i + 8 <= b->len; i += 8) {
    memcpy(&k, b->data + i, 8);
    h = (h ^ k) * m;
    h ^= h >> 32;
  }
  for (; i < b->len; i++) h = (h ^ (unsigned char)b->data[i]) * m;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}

/* Whether an If-None-Match header lists etag (weak comparison, "*" matches any). */
static int etag_matches(const char *header, const char *etag) {
  size_t n = strlen(etag);
  for (const char *p = header; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '*') return 1;
    if (strncmp(p, "W/", 2) == 0) p += 2;
    if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')) return 1;
    const char *comma = strchr(p, ',');
    if (!comma) break;
    p = comma;
  }
  return 0;
}

/* The ETag the handler set (a resource's version, for If-Match on later updates), NULL when none. */
static const char *handler_etag(const db_resp *w) {
  for (size_t i = 0; i < w->n_headers; i++)
    if (strncasecmp(w->headers[i], "ETag:", 5) == 0) return w->headers[i] + 5 + strspn(w->headers[i] + 5, " ");
  return NULL;
}

/* Sends w (status, media type, headers, body; for GET an ETag, the handler's or a hash of the body, and
 * 304 when If-None-Match matches it) and counts it. */
static enum MHD_Result answer(server *srv, request *rq, struct MHD_Connection *c, const char *method,
                              db_resp *w) {
  int status = w->status;
  char etag[24] = "";
  int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  if (get && status == 200 && !w->stream) {
    const char *own = handler_etag(w);
    if (!own) etag_of(&w->body, etag);
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && etag_matches(inm, own ? own : etag)) status = 304;
  }
  struct MHD_Response *resp;
  int has_body = status != 304 && (w->body.len > 0 || w->stream);
  if (w->stream) {
    resp = stream_response(c, w);
  } else if (!has_body) {
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  } else {
    size_t len = w->body.len;
    char *body = db_buf_take(&w->body);
    resp = MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
    if (!resp) db_free(body);
  }
  if (!resp) return MHD_NO;
  if (status != 304 && (w->content_type || has_body))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            w->content_type ? w->content_type : "application/octet-stream");
  if (etag[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  for (size_t i = 0; i < w->n_headers; i++) {
    char *colon = strchr(w->headers[i], ':');
    if (!colon) continue;
    *colon = '\0';
    const char *value = colon + 1;
    while (*value == ' ') value++;
    MHD_add_response_header(resp, w->headers[i], value);
    *colon = ':';
  }
  if (atomic_load(&srv->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  db_app_metrics_request(srv->app, rq->route_index, method, status, (double)(now_us() - rq->start_us) / 1e6);
  return ok;
}

/* Runs the route's handler on the complete request and answers. */
static enum MHD_Result dispatch(server *srv, request *rq, struct MHD_Connection *c, const char *method) {
  const db_route *route = &db_routes[rq->route_index];
  const db_cube_version *cube;
  db_derive *derive;
  db_snapshot *snap = db_app_snapshot_acquire(srv->app, &cube, &derive);
  db_req req = {
      .app = srv->app,
      .route = route,
      .method = method,
      .path = rq->ex.uri.path,
      .body = db_buf_str(&rq->body),
      .body_len = rq->body.len,
      .content_type = rq->content_type,
      .client = rq->client,
      .who = rq->who,
      .store = rq->store,
      .cat = &snap->cat,
      .plans = snap->plans,
      .cube = cube,
      .derive = derive,
      .conn = &rq->ex,
  };
  memcpy(req.params, rq->params, sizeof req.params);
  db_resp w = {0};
  int err = route->handler(&req, &w);
  if (err || w.status < 100 || w.status > 599) {
    fprintf(stderr, "databrain serve: %s %s: %s %s\n", method, rq->ex.uri.path, route->name,
            err ? db_strerror(err) : "answered no status");
    resp_free(&w);
    db_resp_error(&w, err ? err : DB_EIO, "the request failed unexpectedly; it is logged", NULL);
    if (w.status < 500) w.status = 500; /* bad input is answered by the handler: this is our fault */
  }
  enum MHD_Result ok = answer(srv, rq, c, method, &w);
  resp_free(&w);
  db_app_snapshot_release(snap, cube);
  return ok;
}

/* ---- libmicrohttpd callbacks ---- */

/* The first line of a request has arrived: its raw target starts the request's state. */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *c) {
  server *srv = cls;
  request *rq = db_calloc(1, sizeof *rq);
  rq->ex.mhd = c;
  rq->target = db_strdup(uri);
  rq->start_us = now_us();
  rq->route_index = -1;
  atomic_fetch_add(&srv->inflight, 1);
  return rq;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls) {
  server *srv = cls;
  request *rq = *con_cls;
  if (!rq) return MHD_NO; /* cannot happen: on_target made it */
  if (!rq->started) {
    rq->started = 1;
    prepare(srv, rq, c, method);
    if (rq->refusal.status && answer_before_body(c)) return answer(srv, rq, c, method, &rq->refusal);
    return MHD_YES;
  }
  if (*upload_size) {
    rq->received += *upload_size;
    if (!rq->refusal.status) {
      if (rq->received > srv->app->cfg.max_body_bytes) {
        char detail[128];
        snprintf(detail, sizeof detail, "the body exceeds the limit of %zu bytes",
                 srv->app->cfg.max_body_bytes);
        db_buf_free(&rq->body);
        db_resp_problem(&rq->refusal, 413, "content too large", detail, NULL);
      } else {
        db_buf_append(&rq->body, upload, *upload_size);
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (rq->refusal.status) return answer(srv, rq, c, method, &rq->refusal);
  return dispatch(srv, rq, c, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  server *srv = cls;
  request *rq = *con_cls;
  if (!rq) return;
  db_uri_free(&rq->ex.uri);
  db_buf_free(&rq->body);
  resp_free(&rq->refusal);
  db_free(rq->target);
  db_free(rq);
  *con_cls = NULL;
  atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  fprintf(stderr, "databrain serve: ");
  vfprintf(stderr, fmt, ap);
}

/* ---- startup and shutdown ---- */

/* Reads a whole PEM file into a NUL-terminated string (owned). */
static int read_file(const char *path, char **out, db_diag *d) {
  db_buf b = DB_BUF_INIT;
  if (db_buf_read_file(&b, path) != DB_OK) {
    db_buf_free(&b);
    return db_diag_add(d, 0, 0, NULL, DB_EIO, "%s: %s", path, strerror(errno));
  }
  if (!b.len) {
    db_buf_free(&b);
    return db_diag_add(d, 0, 0, NULL, DB_EIO, "%s: the file is empty", path);
  }
  *out = db_buf_take(&b);
  return 0;
}

/* Resolves "HOST:PORT" ("[::1]:8080" for IPv6) into addr. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, char host[256], db_diag *d) {
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || !colon[1])
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "--listen '%s': expected HOST:PORT (127.0.0.1:8080)",
                       listen);
  size_t hlen = (size_t)(colon - listen);
  const char *h = listen;
  if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') h++, hlen -= 2;
  if (hlen >= 256) return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "--listen '%s': host too long", listen);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV},
                  *res;
  int rc = getaddrinfo(host, colon + 1, &hints, &res);
  if (rc) return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "--listen '%s': %s", listen, gai_strerror(rc));
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

/* Starts the daemon: a thread pool with epoll, the limits of cfg, TLS when cert and key are given. */
static struct MHD_Daemon *start_daemon(server *srv, const db_server_config *cfg,
                                       struct sockaddr_storage *addr, const char *cert, const char *key) {
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME; /* streamed answers park their connection */
  if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  if (cert) flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls_opts[] = {
      {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key},
      {MHD_OPTION_END, 0, NULL},
  };
  /* the logger comes first, so that it sees the complaints about the other options */
  return MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr, MHD_OPTION_THREAD_POOL_SIZE,
                          cfg->threads, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes + (size_t)16384,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_CONNECTION_LIMIT,
                          MHD_OPTION_URI_LOG_CALLBACK, on_target, srv, MHD_OPTION_NOTIFY_COMPLETED,
                          on_completed, srv, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
}

/* Stops accepting, waits for the requests in flight (at most grace_s seconds, so that a stuck client
 * cannot hold the shutdown, and only until a second stop signal: the operator insists), then stops the
 * daemon (closing idle keep-alive connections). */
static void stop_gracefully(server *srv, unsigned grace_s, const sigset_t *stop_signals) {
  atomic_store(&srv->draining, 1);
  streams_close_all(); /* open event streams end now instead of holding the shutdown */
  MHD_socket listener = MHD_quiesce_daemon(srv->daemon);
  if (listener != MHD_INVALID_SOCKET) close(listener);
  int64_t deadline = now_us() + (int64_t)grace_s * 1000000;
  const struct timespec tick = {0, 20 * 1000000}, none = {0, 0};
  while (atomic_load(&srv->inflight) > 0 && now_us() < deadline)
    if (sigtimedwait(stop_signals, NULL, &tick) > 0) {
      fprintf(stderr, "databrain serve: second stop signal: closing %ld requests in flight\n",
              (long)atomic_load(&srv->inflight));
      break;
    }
  MHD_stop_daemon(srv->daemon);
  while (sigtimedwait(stop_signals, NULL, &none) > 0) {
  } /* stop signals that came late are answered */
}

int db_server_run(const db_server_config *given, db_diag *d) {
  server srv = {0};
  char *cert = NULL, *key = NULL;
  struct sockaddr_storage addr;
  char host[256];
  int err = 0;
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  db_server_config cfg;
  db_server_config_defaults(given, &cfg);
  if ((err = parse_listen(cfg.listen, &addr, host, d))) return err;
  if (!cfg.tls_cert != !cfg.tls_key)
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "TLS needs both a certificate and a key");
  if (cfg.tls_cert) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
      return db_diag_add(d, 0, 0, NULL, DB_EUNSUPPORTED, "this libmicrohttpd has no TLS support");
    if ((err = read_file(cfg.tls_cert, &cert, d)) || (err = read_file(cfg.tls_key, &key, d))) goto done;
  }
  if ((err = db_app_open(&cfg, &srv.app, d))) goto done;
  pthread_mutex_init(&srv.rate_lock, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* worker threads inherit the mask: only this thread takes the stop signals, in sigwait */
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  srv.daemon = start_daemon(&srv, &cfg, &addr, cert, key);
  if (!srv.daemon) {
    err = db_diag_add(d, 0, 0, NULL, DB_EIO, "cannot serve on %s (address in use or not allowed%s)",
                      cfg.listen, cert ? ", or a bad TLS certificate or key" : "");
    goto unmask;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
  int v6 = strchr(host, ':') != NULL;
  printf("listening on %s://%s%s%s:%u\n", cert ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
         info ? info->port : 0);
  fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  fprintf(stderr, "databrain serve: %s: finishing the requests in flight\n", strsignal(sig));
  stop_gracefully(&srv, cfg.timeout_s + 5, &stop_signals);
unmask:
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  db_app_close(srv.app);
  pthread_mutex_destroy(&srv.rate_lock);
  db_map_free(&srv.rate_index);
  db_free(srv.buckets);
done:
  db_free(cert);
  db_free(key);
  return err;
}
