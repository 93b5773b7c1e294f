/* store.c - the backend-neutral side of the store (contract in store.h): opening by URL, the default
 * URL, the wrappers that call through a backend's db_store_ops, and the small shared helpers
 * (observation status names, batch summaries, the rows of users, tokens and sessions), and the audit
 * trail's hash chain: the hash of each record and the walk that verifies the chain (store.h), computed
 * here once for every backend; a backend only reads the head and stores the links.
 *
 * URLs: "sqlite:PATH" or a bare PATH open the embedded SQLite store; any other "scheme://..." names a
 * backend this build does not have (DB_EUNSUPPORTED). A path may contain ':' ("data:2025.db" is a
 * file), so only a "word://" prefix counts as a foreign scheme. */
#include "store/store.h"

#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "store/store_sqlite.h"

/* Length of the "scheme" in "scheme://rest", 0 when url does not start that way. */
static size_t foreign_scheme(const char *url) {
  size_t n = 0;
  while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.') n++;
  return n && strncmp(url + n, "://", 3) == 0 ? n : 0;
}

static int open_url(const char *url, db_store **out, db_diag *d) {
  if (!url || !*url) return db_diag_add(d, 0, 0, "store", DB_EINVAL, "the store URL is empty");
  const char *path = url;
  size_t scheme = foreign_scheme(url);
  if (strncmp(url, "sqlite:", 7) == 0)
    path = url + 7;
  else if (scheme)
    return db_diag_add(d, 0, 0, "store", DB_EUNSUPPORTED,
                       "no '%.*s' backend in this build; use sqlite:PATH (or a plain file path)", (int)scheme,
                       url);
  if (!*path) return db_diag_add(d, 0, 0, "store", DB_EINVAL, "the store URL '%s' names no file", url);
  return db_sqlite__open(path, out, d);
}

int db_store_open(const char *url, db_store **out, db_diag *d) {
  db_diag local = DB_DIAG_INIT;
  *out = NULL;
  int rc = open_url(url, out, d ? d : &local);
  db_diag_free(&local);
  return rc;
}

void db_store_close(db_store *s) {
  if (s) s->ops->close(s);
}

const char *db_store_default_url(const char *given) {
  if (given && *given) return given;
  const char *env = getenv("DATABRAIN_STORE");
  return env && *env ? env : "sqlite:databrain.db";
}

/* ---- observation status ---- */

static const char *const status_names[] = {"provisional", "official", "estimated"};
/* What Vietnamese report tables write in a status column: sơ bộ, chính thức, ước tính. */
static const char *const status_names_vi[] = {"s\xc6\xa1 b\xe1\xbb\x99", "ch\xc3\xadnh th\xe1\xbb\xa9\x63",
                                              "\xc6\xb0\xe1\xbb\x9b\x63 t\xc3\xadnh"};

const char *db_obs_status_name(int status) {
  return status >= DB_STATUS_PROVISIONAL && status <= DB_STATUS_ESTIMATED ? status_names[status] : "unknown";
}

/* Accepts the English names (ASCII case ignored) and the Vietnamese ones. */
int db_obs_status_parse(const char *s, size_t len, int *status) {
  for (int i = DB_STATUS_PROVISIONAL; i <= DB_STATUS_ESTIMATED; i++) {
    const char *en = status_names[i], *vi = status_names_vi[i];
    if ((len == strlen(en) && strncasecmp(s, en, len) == 0) ||
        (len == strlen(vi) && memcmp(s, vi, len) == 0)) {
      *status = i;
      return DB_OK;
    }
  }
  return DB_EINVAL;
}

void db_batch_summary_free(db_batch_summary *s) {
  if (!s) return;
  db_free(s->result_json);
  s->result_json = NULL;
}

/* ---- wrappers: every call goes through the backend's table ---- */

int db_store_begin(db_store *s, int bulk) { return s->ops->begin(s, bulk); }
int db_store_commit(db_store *s) { return s->ops->commit(s); }
int db_store_rollback(db_store *s) { return s->ops->rollback(s); }
int db_store_schema_version(db_store *s, int *version) { return s->ops->schema_version(s, version); }

int db_store_load_catalog(db_store *s, db_catalog *out) { return s->ops->load_catalog(s, out); }
int db_store_put_orgunit(db_store *s, db_orgunit *ou) { return s->ops->put_orgunit(s, ou); }
int db_store_put_succession(db_store *s, const db_succession *su) { return s->ops->put_succession(s, su); }
int db_store_put_agency(db_store *s, db_agency *a) { return s->ops->put_agency(s, a); }
int db_store_put_indicator(db_store *s, db_indicator *ind) { return s->ops->put_indicator(s, ind); }
int db_store_put_dimension(db_store *s, db_dimension *dim) { return s->ops->put_dimension(s, dim); }
int db_store_put_target(db_store *s, const db_target *t) { return s->ops->put_target(s, t); }
int db_store_read_targets(db_store *s, const char *indicator, db_target_cb cb, void *ctx) {
  return s->ops->read_targets(s, indicator, cb, ctx);
}

typedef struct target_list {
  db_target *items;
  size_t n, cap;
} target_list;

static int collect_target(void *ctx, const db_target *t) {
  target_list *l = ctx;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->items = db_realloc(l->items, l->cap * sizeof *l->items);
  }
  db_target_copy(&l->items[l->n++], t);
  return 0;
}

int db_store_load_targets(db_store *s, const char *indicator, db_target **out, size_t *n) {
  target_list l = {0};
  int rc = db_store_read_targets(s, indicator, collect_target, &l);
  if (rc) {
    db_store_targets_free(l.items, l.n);
    l = (target_list){0};
  }
  *out = l.items;
  *n = l.n;
  return rc;
}

void db_store_targets_free(db_target *t, size_t n) {
  for (size_t i = 0; i < n; i++) db_target_free(&t[i]);
  db_free(t);
}
int db_store_delete_indicator(db_store *s, const char *code) { return s->ops->delete_indicator(s, code); }

int db_store_read_series(db_store *s, db_series_cb cb, void *ctx) { return s->ops->read_series(s, cb, ctx); }
int db_store_put_series(db_store *s, db_series *series) { return s->ops->put_series(s, series); }

int db_store_batch_find(db_store *s, const char *idempotency_key, db_batch_summary *out) {
  return s->ops->batch_find(s, idempotency_key, out);
}
int db_store_batch_begin(db_store *s, const db_batch_info *info, int64_t *seq) {
  return s->ops->batch_begin(s, info, seq);
}
int db_store_obs_write(db_store *s, int64_t seq, const db_obs *rows, size_t n, db_obs_outcome *outcomes) {
  return s->ops->obs_write(s, seq, rows, n, outcomes);
}
int db_store_batch_finish(db_store *s, const db_batch_summary *summary) {
  return s->ops->batch_finish(s, summary);
}
int db_store_obs_read(db_store *s, const db_obs_filter *f, db_obs_cb cb, void *ctx) {
  return s->ops->obs_read(s, f, cb, ctx);
}
int db_store_obs_scan(db_store *s, db_obs_cb cb, void *ctx) {
  if (s->ops->obs_scan) return s->ops->obs_scan(s, cb, ctx);
  db_obs_filter all = {0};
  return s->ops->obs_read(s, &all, cb, ctx);
}
int db_store_obs_history(db_store *s, int64_t series, int64_t period, db_obs_cb cb, void *ctx) {
  return s->ops->obs_history(s, series, period, cb, ctx);
}

/* ---- rows of users, tokens and sessions ---- */

void db_user_row_free(db_user_row *u) {
  if (!u) return;
  db_free(u->name);
  db_free(u->password_hash);
  db_free(u->role);
  db_free(u->agency);
  db_free(u->scope);
  memset(u, 0, sizeof *u);
}

void db_token_row_free(db_token_row *t) {
  if (!t) return;
  db_free(t->label);
  db_free(t->secret_hash);
  db_free(t->role);
  db_free(t->agency);
  db_free(t->scope);
  memset(t, 0, sizeof *t);
}

void db_session_row_free(db_session_row *se) {
  if (!se) return;
  db_free(se->id_hash);
  db_free(se->csrf);
  memset(se, 0, sizeof *se);
}

/* ---- the audit chain ---- */

static void hash_update(crypto_hash_sha256_state *st, const char *p, size_t n) {
  crypto_hash_sha256_update(st, (const unsigned char *)p, n);
}

void db_store_audit_hash(const char *prev, const db_audit *a, char out[65]) {
  crypto_hash_sha256_state st;
  unsigned char h[crypto_hash_sha256_BYTES];
  char num[32];
  crypto_hash_sha256_init(&st);
  hash_update(&st, prev, strlen(prev));
  hash_update(&st, num, (size_t)snprintf(num, sizeof num, "%lld\n", (long long)a->time_ms));
  const char *fields[] = {a->actor, a->action, a->object, a->detail};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    if (!fields[i]) {
      hash_update(&st, "-\n", 2);
      continue;
    }
    size_t n = strlen(fields[i]);
    hash_update(&st, num, (size_t)snprintf(num, sizeof num, "%zu:", n));
    hash_update(&st, fields[i], n);
    hash_update(&st, "\n", 1);
  }
  crypto_hash_sha256_final(&st, h);
  sodium_bin2hex(out, 65, h, sizeof h);
}

/* The head is read in the caller's transaction, which holds the write lock: no other append can slip
 * between the read and the write. */
int db_store_audit_append(db_store *s, const db_audit *a) {
  if (!a->actor || !a->action) return DB_EINVAL;
  db_audit rec = *a;
  db_audit_head head;
  char hash[65];
  if (!rec.time_ms) rec.time_ms = db_now_ms();
  int rc = s->ops->audit_head(s, &head);
  if (rc) return rc;
  const char *prev = head.last_id ? head.hash : DB_AUDIT_ZERO_HASH;
  db_store_audit_hash(prev, &rec, hash);
  db_audit_link link = {0, prev, hash};
  return s->ops->audit_append(s, &rec, &link);
}

typedef struct plain_reader {
  int (*cb)(void *ctx, int64_t id, const db_audit *a);
  void *ctx;
} plain_reader;

static int read_plain(void *ctx, const db_audit_link *l, const db_audit *a) {
  plain_reader *r = ctx;
  return r->cb(r->ctx, l->id, a);
}

int db_store_audit_read(db_store *s, int64_t after_id, int (*cb)(void *ctx, int64_t id, const db_audit *a),
                        void *ctx) {
  plain_reader r = {cb, ctx};
  return s->ops->audit_read(s, after_id, read_plain, &r);
}

int db_store_audit_chain(db_store *s, int64_t after_id, db_audit_link_cb cb, void *ctx) {
  return s->ops->audit_read(s, after_id, cb, ctx);
}

int db_store_audit_head(db_store *s, db_audit_head *out) { return s->ops->audit_head(s, out); }

/* The state of a walk along the chain. */
typedef struct chain_walk {
  db_audit_check *out;
  int64_t end_id;  /* the head when the walk began */
  int64_t last_id; /* the last record found good */
  char prev[65];   /* its hash */
} chain_walk;

/* Records the fault of record `id` and stops the walk. */
static int fault(chain_walk *w, db_audit_fault f, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fault(chain_walk *w, db_audit_fault f, int64_t id, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->out->why, sizeof w->out->why, fmt, ap);
  va_end(ap);
  w->out->fault = f;
  w->out->bad_id = id;
  return 1;
}

/* Checks one record against the one before it: its id comes next, it links to the previous hash, and
 * its content gives its hash. */
static int check_link(void *ctx, const db_audit_link *l, const db_audit *a) {
  chain_walk *w = ctx;
  int64_t want = w->last_id + 1;
  char hash[65];
  if (l->id > w->end_id) return 1;
  if (l->id != want)
    return fault(w, DB_AUDIT_DELETED, want, "record %lld was deleted: the records go from %lld to %lld",
                 (long long)want, (long long)w->last_id, (long long)l->id);
  if (!l->prev_hash || strcmp(l->prev_hash, w->prev) != 0) {
    if (want == 1) return fault(w, DB_AUDIT_REORDERED, 1, "record 1 does not start the chain");
    return fault(w, DB_AUDIT_REORDERED, l->id,
                 "record %lld does not follow record %lld in the chain: records were reordered, or record "
                 "%lld was rewritten",
                 (long long)l->id, (long long)w->last_id, (long long)w->last_id);
  }
  db_store_audit_hash(l->prev_hash, a, hash);
  if (!l->hash || strcmp(hash, l->hash) != 0)
    return fault(w, DB_AUDIT_EDITED, l->id, "record %lld was edited: its content does not match its hash",
                 (long long)l->id);
  memcpy(w->prev, hash, sizeof w->prev);
  w->last_id = l->id;
  w->out->records++;
  return 0;
}

int db_store_audit_verify(db_store *s, db_audit_check *out) {
  memset(out, 0, sizeof *out);
  db_audit_head head;
  int rc = s->ops->audit_head(s, &head);
  if (rc) return rc;
  chain_walk w = {out, head.max_id > head.last_id ? head.max_id : head.last_id, 0, DB_AUDIT_ZERO_HASH};
  if ((rc = s->ops->audit_read(s, 0, check_link, &w)) != DB_OK) return rc;
  if (out->fault == DB_AUDIT_INTACT && w.last_id < w.end_id)
    fault(&w, DB_AUDIT_DELETED, w.last_id + 1, "records %lld to %lld were deleted from the end of the trail",
          (long long)w.last_id + 1, (long long)w.end_id);
  return DB_OK;
}

/* ---- users, tokens, sessions ---- */

int db_store_user_add(db_store *s, db_user_row *u) { return s->ops->user_add(s, u); }
int db_store_user_get(db_store *s, const char *name, int64_t id, db_user_row *out) {
  return s->ops->user_get(s, name, id, out);
}
int db_store_user_update(db_store *s, const db_user_row *u) { return s->ops->user_update(s, u); }
int db_store_token_add(db_store *s, db_token_row *t) { return s->ops->token_add(s, t); }
int db_store_token_get(db_store *s, const char *secret_hash, db_token_row *out) {
  return s->ops->token_get(s, secret_hash, out);
}
int db_store_token_revoke(db_store *s, int64_t id) { return s->ops->token_revoke(s, id); }
int db_store_token_list(db_store *s, db_token_cb cb, void *ctx) { return s->ops->token_list(s, cb, ctx); }
int db_store_session_add(db_store *s, const db_session_row *se) { return s->ops->session_add(s, se); }
int db_store_session_get(db_store *s, const char *id_hash, db_session_row *out) {
  return s->ops->session_get(s, id_hash, out);
}
int db_store_session_delete(db_store *s, const char *id_hash, int64_t user_id) {
  return s->ops->session_delete(s, id_hash, user_id);
}
int db_store_session_purge(db_store *s, int64_t now_ms) { return s->ops->session_purge(s, now_ms); }

/* ---- records and events ---- */

void db_record_free(db_record *r) {
  db_free((char *)r->kind);
  db_free((char *)r->key);
  db_free((char *)r->body);
  memset(r, 0, sizeof *r);
}

int db_store_record_put(db_store *s, db_record *r, int64_t expect_version) {
  return s->ops->record_put(s, r, expect_version);
}
int db_store_record_get(db_store *s, const char *kind, int64_t id, const char *key, db_record *out) {
  return s->ops->record_get(s, kind, id, key, out);
}
int db_store_record_scan(db_store *s, const char *kind, db_record_cb cb, void *ctx) {
  return s->ops->record_scan(s, kind, cb, ctx);
}
int db_store_record_delete(db_store *s, const char *kind, int64_t id) { return s->ops->record_delete(s, kind, id); }
int db_store_event_append(db_store *s, db_event *e) { return s->ops->event_append(s, e); }
int db_store_event_read(db_store *s, int64_t after_id, db_event_cb cb, void *ctx) {
  return s->ops->event_read(s, after_id, cb, ctx);
}
