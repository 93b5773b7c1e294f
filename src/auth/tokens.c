/* tokens.c - API tokens (contract in auth.h): creation, the check of a bearer token, revocation and the
 * list.
 *
 * A token is "dbt_" + 43 base64url characters (256 random bits), shown once; the store keeps its
 * SHA-256 and finds it by that hash, so a lookup reveals nothing about near misses. A token's principal
 * is named "token:ID". Creation and revocation leave audit records (actor "cli": tokens are managed from
 * the command line); checks do not, so that a flood of bad tokens cannot flood the trail. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/err.h"
#include "base/text.h"

#define MAX_EXPIRES_DAYS 36500
#define MAX_LABEL 200
#define DAY_MS 86400000LL

static int check_label(const char *label, db_diag *d) {
  if (!label) return 0;
  if (strlen(label) <= MAX_LABEL && db_utf8_valid(label, strlen(label), NULL)) return 0;
  db_diag_add(d, 0, 0, "label", DB_EINVAL, "a label is UTF-8 text of at most %d bytes", MAX_LABEL);
  return 1;
}

/* The audit record of a new token (in the open transaction). */
static int audit_create(db_store *s, const db_token_row *t) {
  char object[32], expires[25] = "";
  db_buf detail = DB_BUF_INIT;
  snprintf(object, sizeof object, "token:%lld", (long long)t->id);
  if (t->expires_ms) db_format_time_ms(t->expires_ms, expires);
  db_buf_putc(&detail, '{');
  db_auth__json_pair(&detail, "role", t->role);
  db_auth__json_pair(&detail, "agency", t->agency);
  db_auth__json_pair(&detail, "scope", t->scope);
  db_auth__json_pair(&detail, "label", t->label);
  db_auth__json_pair(&detail, "expires", t->expires_ms ? expires : NULL);
  db_buf_putc(&detail, '}');
  int rc = db_auth__audit(s, "cli", "token.create", object, db_buf_str(&detail));
  db_buf_free(&detail);
  return rc;
}

int db_auth_token_create(db_store *s, db_role role, const char *agency, const char *scope, int expires_days,
                         const char *label, char secret[DB_SECRET_MAX], int64_t *id, db_diag *d) {
  secret[0] = '\0';
  int rc = db_auth__init();
  if (rc) return rc;
  if (role < 0 || role >= DB_ROLE_COUNT) return db_diag_add(d, 0, 0, "role", DB_EINVAL, "unknown role");
  int bad = check_label(label, d);
  if (expires_days < 0 || expires_days > MAX_EXPIRES_DAYS) {
    db_diag_add(d, 0, 0, "expires", DB_EINVAL, "expiry is 0 (never) to %d days", MAX_EXPIRES_DAYS);
    bad = 1;
  }
  if ((rc = db_auth__check_binding(s, role, agency, scope, d)) != DB_OK && rc != DB_EINVAL) return rc;
  if (bad || rc) return DB_EINVAL;
  char hash[DB_AUTH_HASH_HEX];
  db_auth__new_secret("dbt_", secret);
  db_auth__sha256_hex(secret, hash);
  int64_t now = db_now_ms();
  db_token_row t = {0,
                    (char *)label,
                    hash,
                    (char *)db_role_name(role),
                    (char *)(agency && *agency ? agency : NULL),
                    (char *)(scope && *scope ? scope : NULL),
                    now,
                    expires_days ? now + expires_days * DAY_MS : 0,
                    0};
  if ((rc = db_store_begin(s, 0)) == DB_OK) {
    rc = db_store_token_add(s, &t);
    if (rc == DB_OK) rc = audit_create(s, &t);
    rc = db_auth__finish(s, rc);
  }
  if (rc == DB_OK && id) *id = t.id;
  if (rc != DB_OK) sodium_memzero(secret, DB_SECRET_MAX);
  return rc;
}

int db_auth_token_check(db_store *s, const char *secret, db_principal *out) {
  if (!db_auth__secret_shape("dbt_", secret)) return DB_EPERM;
  char hash[DB_AUTH_HASH_HEX], name[32];
  db_auth__sha256_hex(secret, hash);
  db_token_row t = {0};
  db_role role = DB_ROLE_PUBLIC;
  int rc = db_store_token_get(s, hash, &t);
  if (rc == DB_OK && (sodium_memcmp(t.secret_hash, hash, DB_AUTH_HASH_HEX - 1) != 0 || t.revoked ||
                      (t.expires_ms && t.expires_ms <= db_now_ms()) || db_role_parse(t.role, &role) != DB_OK))
    rc = DB_EPERM;
  if (rc == DB_OK) {
    snprintf(name, sizeof name, "token:%lld", (long long)t.id);
    db_auth__principal(out, role, name, t.agency, t.scope);
  }
  db_token_row_free(&t);
  return rc == DB_ENOTFOUND ? DB_EPERM : rc;
}

int db_auth_token_revoke(db_store *s, int64_t id) {
  char object[32];
  snprintf(object, sizeof object, "token:%lld", (long long)id);
  int rc = db_store_begin(s, 0);
  if (rc) return rc;
  rc = db_store_token_revoke(s, id);
  if (rc == DB_OK) rc = db_auth__audit(s, "cli", "token.revoke", object, NULL);
  return db_auth__finish(s, rc);
}

typedef struct list_ctx {
  int (*cb)(void *ctx, const db_token_info *t);
  void *ctx;
} list_ctx;

/* A stored token as a db_token_info (its hash left out). */
static int list_one(void *ctx, const db_token_row *t) {
  list_ctx *l = ctx;
  db_role role = DB_ROLE_PUBLIC;
  db_role_parse(t->role, &role);
  db_token_info info = {t->id, t->label, t->agency, t->scope, role, t->created_ms, t->expires_ms, t->revoked};
  return l->cb(l->ctx, &info);
}

int db_auth_token_list(db_store *s, int (*cb)(void *ctx, const db_token_info *t), void *ctx) {
  list_ctx l = {cb, ctx};
  return db_store_token_list(s, list_one, &l);
}
