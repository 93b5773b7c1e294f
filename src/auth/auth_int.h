/* auth_int.h - internal to src/auth: what users.c and tokens.c share (libsodium set-up, secrets and
 * their hashes, the checks of a role's agency and scope, audit records). Nothing outside src/auth
 * includes this. */
#ifndef DB_AUTH_INT_H
#define DB_AUTH_INT_H
#include "auth/auth.h"
#include "base/buf.h"

#define DB_AUTH_HASH_HEX 65 /* 64 hex digits of a SHA-256 and the NUL */

/* Initialises libsodium once per process (thread-safe). Returns 0, or DB_ESTORE when libsodium cannot
 * start (no usable random source). */
int db_auth__init(void);

/* A fresh secret: prefix ("dbt_", "dbs_", "" for a CSRF token) + base64url of 32 random bytes. */
void db_auth__new_secret(const char *prefix, char out[DB_SECRET_MAX]);
/* Whether text has the shape of a secret made with prefix (checked before any store lookup). */
int db_auth__secret_shape(const char *prefix, const char *text);
/* The SHA-256 of text as 64 lowercase hex digits. */
void db_auth__sha256_hex(const char *text, char out[DB_AUTH_HASH_HEX]);

/* Checks that a role can be bound to agency and scope (codes or NULL/""): the agency and the scope unit
 * exist in the store's catalog, and a reporter has an agency. Problems go to d (path "agency",
 * "scope"); returns 0, DB_EINVAL or a store error. */
int db_auth__check_binding(db_store *s, db_role role, const char *agency, const char *scope, db_diag *d);

/* Fills a principal (strings truncated to their fields; NULL is ""). */
void db_auth__principal(db_principal *p, db_role role, const char *name, const char *agency,
                        const char *scope);

/* Appends `"key":"value"` (value escaped as a JSON string; NULL gives null) to a JSON object being
 * built in b: the caller writes the braces; a comma is put before every pair but the first. */
void db_auth__json_pair(db_buf *b, const char *key, const char *value);

/* Ends the caller's transaction: commits when rc is 0, else rolls back. Returns the outcome. */
int db_auth__finish(db_store *s, int rc);

/* Appends an audit record (in the caller's transaction). */
int db_auth__audit(db_store *s, const char *actor, const char *action, const char *object,
                   const char *detail);

#endif
