/* users.c - users, their passwords, logins and dashboard sessions (contract in auth.h).
 *
 * Names: 1..64 characters among letters, digits, '.', '_', '-' and '@' (no ':', so that a user cannot
 * be mistaken for "token:ID"). Passwords: 8..1024 bytes, hashed with argon2id (crypto_pwhash_str at
 * libsodium's interactive limits: about 64 MiB and a tenth of a second per hash). Hashing and checking
 * a password happen outside any transaction, so a login never holds the store's write lock while it
 * hashes.
 *
 * A login answers the same DB_EPERM for an unknown name, a wrong password and a disabled user, and
 * spends the same time on each: an unknown name is checked against a dummy hash. Every attempt leaves
 * an audit record ("user.login" or "user.login_failed", with the client address and, for the admins
 * who read the trail, the reason). Changing a password or disabling a user ends the user's sessions. */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"

#define NAME_MAX_LEN 64
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

static int name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > NAME_MAX_LEN) return 0;
  for (const char *c = name; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
          strchr("._-@", *c)))
      return 0;
  return 1;
}

static int password_ok(const char *pw) {
  size_t n = pw ? strlen(pw) : 0;
  return n >= PASSWORD_MIN && n <= PASSWORD_MAX;
}

/* Adds the problems of a name and a password to d; returns how many. */
static int check_name_password(const char *name, const char *password, db_diag *d) {
  int bad = 0;
  if (name && !name_ok(name)) {
    db_diag_add(d, 0, 0, "name", DB_EINVAL,
                "a user name has 1 to %d characters among letters, digits, '.', '_', '-' and '@'",
                NAME_MAX_LEN);
    bad++;
  }
  if (!password_ok(password)) {
    db_diag_add(d, 0, 0, "password", DB_EINVAL, "a password has %d to %d bytes", PASSWORD_MIN, PASSWORD_MAX);
    bad++;
  }
  return bad;
}

/* argon2id string of a password; DB_ENOMEM when the hash's memory cannot be had. */
static int hash_password(const char *pw, char out[crypto_pwhash_STRBYTES]) {
  return crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
             ? DB_OK
             : DB_ENOMEM;
}

static const char *or_null(const char *s) { return s && *s ? s : NULL; }

/* The audit object naming a user: "user:NAME". */
static void user_object(char out[NAME_MAX_LEN + 8], const char *name) {
  snprintf(out, NAME_MAX_LEN + 8, "user:%s", name_ok(name) ? name : "?");
}

/* Writes the audit record of a change to user u (in the open transaction). */
static int audit_user(db_store *s, const char *action, const db_user_row *u) {
  char object[NAME_MAX_LEN + 8];
  db_buf detail = DB_BUF_INIT;
  db_buf_putc(&detail, '{');
  db_auth__json_pair(&detail, "role", u->role);
  db_auth__json_pair(&detail, "agency", u->agency);
  db_auth__json_pair(&detail, "scope", u->scope);
  db_buf_putc(&detail, '}');
  user_object(object, u->name);
  int rc = db_auth__audit(s, "cli", action, object, db_buf_str(&detail));
  db_buf_free(&detail);
  return rc;
}

int db_auth_user_add(db_store *s, const char *name, const char *password, db_role role, const char *agency,
                     const char *scope, db_diag *d) {
  int rc = db_auth__init();
  if (rc) return rc;
  if (role < 0 || role >= DB_ROLE_COUNT) return db_diag_add(d, 0, 0, "role", DB_EINVAL, "unknown role");
  int bad = check_name_password(name ? name : "", password, d);
  if ((rc = db_auth__check_binding(s, role, agency, scope, d)) != DB_OK && rc != DB_EINVAL) return rc;
  if (bad || rc) return DB_EINVAL;
  db_user_row u = {0};
  if ((rc = db_store_user_get(s, name, 0, &u)) != DB_ENOTFOUND) {
    db_user_row_free(&u);
    return rc ? rc : db_diag_add(d, 0, 0, "name", DB_EEXIST, "user '%s' already exists", name);
  }
  char hash[crypto_pwhash_STRBYTES];
  if ((rc = hash_password(password, hash)) != DB_OK) return rc;
  u = (db_user_row){
      0, (char *)name, hash, (char *)db_role_name(role), (char *)or_null(agency), (char *)or_null(scope),
      0, db_now_ms()};
  if ((rc = db_store_begin(s, 0)) != DB_OK) return rc;
  rc = db_store_user_add(s, &u);
  if (rc == DB_EEXIST) db_diag_add(d, 0, 0, "name", DB_EEXIST, "user '%s' already exists", name);
  if (rc == DB_OK) rc = audit_user(s, "user.add", &u);
  return db_auth__finish(s, rc);
}

/* Reads user `name` for a change; an unknown user is DB_ENOTFOUND, explained in d. */
static int user_for_change(db_store *s, const char *name, db_user_row *u, db_diag *d) {
  int rc = name_ok(name) ? db_store_user_get(s, name, 0, u) : DB_ENOTFOUND;
  if (rc == DB_ENOTFOUND) db_diag_add(d, 0, 0, "name", DB_ENOTFOUND, "no user '%s'", name ? name : "");
  return rc;
}

/* Writes the changed user u, ends its sessions and audits `action`, in one transaction. */
static int apply_change(db_store *s, const char *action, const db_user_row *u) {
  int rc = db_store_begin(s, 0);
  if (rc) return rc;
  rc = db_store_user_update(s, u);
  if (rc == DB_OK && (rc = db_store_session_delete(s, NULL, u->id)) == DB_ENOTFOUND) rc = DB_OK;
  if (rc == DB_OK) rc = audit_user(s, action, u);
  return db_auth__finish(s, rc);
}

int db_auth_user_passwd(db_store *s, const char *name, const char *password, db_diag *d) {
  int rc = db_auth__init();
  if (rc) return rc;
  if (check_name_password(NULL, password, d)) return DB_EINVAL;
  db_user_row u = {0};
  char hash[crypto_pwhash_STRBYTES];
  if ((rc = user_for_change(s, name, &u, d)) == DB_OK && (rc = hash_password(password, hash)) == DB_OK) {
    db_free(u.password_hash);
    u.password_hash = db_strdup(hash);
    rc = apply_change(s, "user.passwd", &u);
  }
  db_user_row_free(&u);
  return rc;
}

int db_auth_user_disable(db_store *s, const char *name, db_diag *d) {
  db_user_row u = {0};
  int rc = user_for_change(s, name, &u, d);
  if (rc == DB_OK) {
    u.disabled = 1;
    rc = apply_change(s, "user.disable", &u);
  }
  db_user_row_free(&u);
  return rc;
}

/* ---- logins and sessions ---- */

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

/* A hash of a random password, checked for unknown names so that they cost what a known name costs. */
static void make_dummy(void) {
  char pw[DB_SECRET_MAX];
  db_auth__new_secret("", pw);
  if (hash_password(pw, dummy_hash) != DB_OK) dummy_hash[0] = '\0';
}

/* Whether password matches the argon2id string (constant time in the password, by libsodium). */
static int password_matches(const char *hash, const char *password) {
  if (!password_ok(password) || !hash || !hash[0]) return 0;
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* Opens a session for user u (in the open transaction): fills session and csrf. Expired sessions of
 * anyone are purged on the way, so the table holds only live ones. */
static int open_session(db_store *s, const db_user_row *u, int64_t ttl_s, char session[DB_SECRET_MAX],
                        char csrf[DB_SECRET_MAX]) {
  int64_t now = db_now_ms();
  char id_hash[DB_AUTH_HASH_HEX];
  int rc = db_store_session_purge(s, now);
  if (rc) return rc;
  db_auth__new_secret("dbs_", session);
  db_auth__new_secret("", csrf);
  db_auth__sha256_hex(session, id_hash);
  db_session_row se = {id_hash, u->id, csrf, now, now + ttl_s * 1000};
  return db_store_session_add(s, &se);
}

/* The audit record of a login attempt: actor the name tried ("anonymous" when it is no valid name). */
static int audit_login(db_store *s, const char *name, const char *from, const char *failure) {
  char object[NAME_MAX_LEN + 8];
  db_buf detail = DB_BUF_INIT;
  db_buf_putc(&detail, '{');
  db_auth__json_pair(&detail, "from", from ? from : "unknown");
  if (failure) db_auth__json_pair(&detail, "reason", failure);
  db_buf_putc(&detail, '}');
  user_object(object, name);
  int rc = db_auth__audit(s, name_ok(name) ? name : "anonymous", failure ? "user.login_failed" : "user.login",
                          object, db_buf_str(&detail));
  db_buf_free(&detail);
  return rc;
}

int db_auth_login(db_store *s, const char *name, const char *password, const char *from, int64_t ttl_s,
                  db_principal *out, char session[DB_SECRET_MAX]) {
  session[0] = '\0';
  int rc = db_auth__init();
  if (rc) return rc;
  if (ttl_s <= 0) return DB_EINVAL;
  db_user_row u = {0};
  rc = name_ok(name) ? db_store_user_get(s, name, 0, &u) : DB_ENOTFOUND;
  if (rc && rc != DB_ENOTFOUND) return rc;
  int known = rc == DB_OK;
  pthread_once(&dummy_once, make_dummy); /* on every path, so that the first login costs the same for all */
  int match = password_matches(known ? u.password_hash : dummy_hash, password);
  const char *failure = !known       ? "unknown user"
                        : !match     ? "wrong password"
                        : u.disabled ? "disabled user"
                                     : NULL;
  db_role role = DB_ROLE_PUBLIC;
  if (!failure && db_role_parse(u.role, &role) != DB_OK) failure = "unknown role in the store";
  char csrf[DB_SECRET_MAX];
  if ((rc = db_store_begin(s, 0)) == DB_OK) {
    if (!failure) rc = open_session(s, &u, ttl_s, session, csrf);
    if (rc == DB_OK) rc = audit_login(s, name, from, failure);
    rc = db_auth__finish(s, rc);
  }
  if (rc == DB_OK && !failure) {
    db_auth__principal(out, role, u.name, u.agency, u.scope);
    out->via_session = 1;
    memcpy(out->csrf, csrf, sizeof out->csrf);
  } else {
    sodium_memzero(session, DB_SECRET_MAX);
  }
  db_user_row_free(&u);
  return rc ? rc : failure ? DB_EPERM : DB_OK;
}

int db_auth_session(db_store *s, const char *session, db_principal *out) {
  if (!db_auth__secret_shape("dbs_", session)) return DB_EPERM;
  char id_hash[DB_AUTH_HASH_HEX];
  db_auth__sha256_hex(session, id_hash);
  db_session_row se = {0};
  db_user_row u = {0};
  db_role role = DB_ROLE_PUBLIC;
  int rc = db_store_session_get(s, id_hash, &se);
  if (rc == DB_OK &&
      (sodium_memcmp(se.id_hash, id_hash, DB_AUTH_HASH_HEX - 1) != 0 || se.expires_ms <= db_now_ms()))
    rc = DB_EPERM;
  if (rc == DB_OK) rc = db_store_user_get(s, NULL, se.user_id, &u);
  if (rc == DB_OK && (u.disabled || db_role_parse(u.role, &role) != DB_OK)) rc = DB_EPERM;
  if (rc == DB_OK) {
    db_auth__principal(out, role, u.name, u.agency, u.scope);
    out->via_session = 1;
    snprintf(out->csrf, sizeof out->csrf, "%s", se.csrf ? se.csrf : "");
  }
  db_session_row_free(&se);
  db_user_row_free(&u);
  return rc == DB_ENOTFOUND ? DB_EPERM : rc;
}

/* Ends a session and audits it (actor: the session's user). DB_ENOTFOUND for an unknown session. */
int db_auth_logout(db_store *s, const char *session) {
  if (!db_auth__secret_shape("dbs_", session)) return DB_ENOTFOUND;
  char id_hash[DB_AUTH_HASH_HEX];
  db_auth__sha256_hex(session, id_hash);
  db_session_row se = {0};
  db_user_row u = {0};
  int rc = db_store_session_get(s, id_hash, &se);
  if (rc == DB_OK) rc = db_store_user_get(s, NULL, se.user_id, &u);
  if (rc == DB_OK && (rc = db_store_begin(s, 0)) == DB_OK) {
    char object[NAME_MAX_LEN + 8];
    user_object(object, u.name);
    rc = db_store_session_delete(s, id_hash, 0);
    if (rc == DB_OK) rc = db_auth__audit(s, u.name, "user.logout", object, NULL);
    rc = db_auth__finish(s, rc);
  }
  db_session_row_free(&se);
  db_user_row_free(&u);
  return rc;
}
