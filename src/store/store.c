/* store.c - the backend-neutral side of the store (contract in store.h): opening by URL, the default
 * URL, the wrappers that call through a backend's db_store_ops, and the small shared helpers
 * (observation status names, batch summaries).
 *
 * URLs: "sqlite:PATH" or a bare PATH open the embedded SQLite store; any other "scheme://..." names a
 * backend this build does not have (DB_EUNSUPPORTED). A path may contain ':' ("data:2025.db" is a
 * file), so only a "word://" prefix counts as a foreign scheme. */
#include "store/store.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/mem.h"
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
  if (strncmp(url, "sqlite:", 7) == 0) path = url + 7;
  else if (scheme)
    return db_diag_add(d, 0, 0, "store", DB_EUNSUPPORTED,
                       "no '%.*s' backend in this build; use sqlite:PATH (or a plain file path)", (int)scheme, url);
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
    if ((len == strlen(en) && strncasecmp(s, en, len) == 0) || (len == strlen(vi) && memcmp(s, vi, len) == 0)) {
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
int db_store_batch_finish(db_store *s, const db_batch_summary *summary) { return s->ops->batch_finish(s, summary); }
int db_store_obs_read(db_store *s, const db_obs_filter *f, db_obs_cb cb, void *ctx) {
  return s->ops->obs_read(s, f, cb, ctx);
}
int db_store_obs_history(db_store *s, int64_t series, int64_t period, db_obs_cb cb, void *ctx) {
  return s->ops->obs_history(s, series, period, cb, ctx);
}

int db_store_audit_append(db_store *s, const db_audit *a) { return s->ops->audit_append(s, a); }
int db_store_audit_read(db_store *s, int64_t after_id, int (*cb)(void *ctx, int64_t id, const db_audit *a),
                        void *ctx) {
  return s->ops->audit_read(s, after_id, cb, ctx);
}
