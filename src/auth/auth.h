/* auth.h - who is asking, and what they may do: roles, users with argon2id passwords, dashboard
 * sessions with CSRF tokens, API tokens, and the permission checks of DESIGN.md §8.
 *
 * Roles, from least to most: public (anonymous; public indicators only), analyst (reads everything),
 * reporter (an agency: reads everything, writes the series of indicators its agency owns, within its
 * org-unit scope), leader (reads everything, assigns tasks, acknowledges alerts, activates scenarios),
 * steward (catalog, targets, approval, scenarios; writes any data), admin (everything, users, tokens,
 * audit). A user or token belongs to an agency (optional for non-reporters) and may be limited to an
 * org-unit subtree (its scope).
 *
 * Secrets: passwords are stored as libsodium crypto_pwhash_str (argon2id) strings; API tokens and
 * session ids are 256-bit random values shown once ("dbt_" / "dbs_" + base64url) and stored only as
 * their SHA-256. Every login attempt, user change and token change leaves an audit record.
 *
 * All functions take an open store; those that write open and commit their own transaction.
 * Thread-safe as far as the store handle is (one handle per thread). */
#ifndef DB_AUTH_H
#define DB_AUTH_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "model/catalog.h"
#include "store/store.h"

typedef enum db_role {
  DB_ROLE_PUBLIC = 0,
  DB_ROLE_ANALYST,
  DB_ROLE_REPORTER,
  DB_ROLE_LEADER,
  DB_ROLE_STEWARD,
  DB_ROLE_ADMIN,
} db_role;
#define DB_ROLE_COUNT 6

const char *db_role_name(db_role r);
int db_role_parse(const char *s, db_role *r); /* 0 or DB_EINVAL */

/* What a request may do. Each route of the HTTP API names one. */
typedef enum db_perm {
  DB_PERM_PUBLIC = 0,    /* anyone, anonymous included (data filtered to public indicators) */
  DB_PERM_READ,          /* analyst and above, reporters included */
  DB_PERM_WRITE_DATA,    /* reporter (own indicators, own scope), steward, admin */
  DB_PERM_WRITE_CATALOG, /* steward, admin */
  DB_PERM_ADMIN,         /* admin */
  DB_PERM_DIRECT,        /* leader, admin: assign and direct (tasks, alerts, scenarios) */
  DB_PERM_APPROVE,       /* steward, admin: approve data, making it official */
} db_perm;
#define DB_PERM_COUNT (DB_PERM_APPROVE + 1)

#define DB_SECRET_MAX 64 /* longest token or session id text, with the NUL */

typedef struct db_principal {
  db_role role;
  char name[128];   /* user name, "token:ID", or "anonymous" */
  char agency[72];  /* agency code, "" when none */
  char scope[72];   /* org unit code of the subtree, "" = no limit */
  int via_session;  /* authenticated by the dashboard's session cookie: unsafe methods need the CSRF token */
  char csrf[DB_SECRET_MAX];
} db_principal;

/* The anonymous caller. */
void db_principal_anonymous(db_principal *p);

/* Whether the principal's role grants perm (scope and ownership are checked separately). */
int db_auth_allows(const db_principal *p, db_perm perm);

/* Whether the org unit `code` lies in the principal's scope (itself or a descendant of the scope
 * unit in the catalog's hierarchy; always 1 without a scope). */
int db_auth_in_scope(const db_principal *p, const db_catalog *cat, const char *code);

/* Whether the principal may write observations of indicator `ind` at unit `unit_code`: stewards and
 * admins anywhere; reporters for indicators whose owner is their agency, within their scope. When not,
 * *why (may be NULL) points at a static reason. */
int db_auth_may_write(const db_principal *p, const db_catalog *cat, const db_indicator *ind,
                      const char *unit_code, const char **why);

/* ---- users ---- */
/* Creates a user. Password: 8..1024 bytes. Problems (name taken, unknown agency or scope, reporter
 * without agency, weak password) go to d; returns 0, DB_EEXIST, DB_EINVAL or a store error. */
int db_auth_user_add(db_store *s, const char *name, const char *password, db_role role, const char *agency,
                     const char *scope, db_diag *d);
int db_auth_user_passwd(db_store *s, const char *name, const char *password, db_diag *d);
int db_auth_user_disable(db_store *s, const char *name, db_diag *d);

/* Checks a password and opens a session: fills the principal, *session (the cookie value) and the
 * principal's csrf. A wrong name or password, or a disabled user, is DB_EPERM (the same for all three,
 * so a caller learns nothing). Audited either way, with `from` (the client address). Sessions last
 * `ttl_s` seconds. */
int db_auth_login(db_store *s, const char *name, const char *password, const char *from, int64_t ttl_s,
                  db_principal *out, char session[DB_SECRET_MAX]);
/* The principal of a session cookie: 0, or DB_EPERM when unknown, expired or its user disabled. */
int db_auth_session(db_store *s, const char *session, db_principal *out);
int db_auth_logout(db_store *s, const char *session);

/* ---- API tokens ---- */
typedef struct db_token_info {
  int64_t id;
  const char *label, *agency, *scope;
  db_role role;
  int64_t created_ms, expires_ms; /* expires_ms 0 = never */
  int revoked;
} db_token_info;

/* Creates a token: prints nothing; *secret receives the token text (shown once). expires_days 0 = never.
 * Returns 0, DB_EINVAL (problems in d) or a store error. */
int db_auth_token_create(db_store *s, db_role role, const char *agency, const char *scope, int expires_days,
                         const char *label, char secret[DB_SECRET_MAX], int64_t *id, db_diag *d);
/* The principal of a bearer token: 0, or DB_EPERM when unknown, expired or revoked. */
int db_auth_token_check(db_store *s, const char *secret, db_principal *out);
int db_auth_token_revoke(db_store *s, int64_t id);
int db_auth_token_list(db_store *s, int (*cb)(void *ctx, const db_token_info *t), void *ctx);

#endif
