/* test_auth.c - roles and permissions, org-unit scopes, who may write which series, users and their
 * argon2id passwords, logins and sessions, API tokens, and the audit trail's hash chain (records of
 * every login and change, verification after hand edits, and the chaining of a schema 1 store). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "store/store.h"
#include "testutil.h"

/* ---------- helpers ---------- */

typedef struct fixture {
  char *dir, *path;
  db_store *store;
} fixture;

static void raw_exec(const char *path, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char *err = NULL;
  int e = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (e != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, err);
  sqlite3_free(err);
  assert_int_equal(e, SQLITE_OK);
  sqlite3_close(db);
}

static void assert_raw(const char *path, const char *sql, const char *expected) {
  char *got = db_test_raw_text(path, sql);
  assert_non_null(got);
  assert_string_equal(got, expected);
  db_free(got);
}

static db_store *open_store(const char *path) {
  db_store *s = NULL;
  db_diag d = DB_DIAG_INIT;
  int rc = db_store_open(path, &s, &d);
  if (rc) db_diag_print(&d, stderr, path);
  assert_int_equal(rc, 0);
  db_diag_free(&d);
  return s;
}

static void put_unit(db_store *s, const char *code, const char *parent, db_ou_kind kind) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = (char *)code;
  u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = kind;
  assert_int_equal(db_store_put_orgunit(s, &u), 0);
}

static void put_agency(db_store *s, const char *code) {
  db_agency a = {0, (char *)code, (char *)code, NULL, "department", "79", NULL};
  assert_int_equal(db_store_put_agency(s, &a), 0);
}

/* A store with the units VN > 79 > {26734, 26737}, VN > 01, and the agencies SOF and DONRE. */
static int setup(void **state) {
  fixture *f = db_calloc(1, sizeof *f);
  f->dir = db_test_tempdir();
  f->path = db_test_path(f->dir, "store.db");
  f->store = open_store(f->path);
  assert_int_equal(db_store_begin(f->store, 0), 0);
  put_unit(f->store, "VN", NULL, DB_OU_COUNTRY);
  put_unit(f->store, "79", "VN", DB_OU_CITY);
  put_unit(f->store, "01", "VN", DB_OU_CITY);
  put_unit(f->store, "26734", "79", DB_OU_WARD);
  put_unit(f->store, "26737", "79", DB_OU_WARD);
  put_agency(f->store, "SOF");
  put_agency(f->store, "DONRE");
  assert_int_equal(db_store_commit(f->store), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  db_store_close(f->store);
  db_test_rmtree(f->dir);
  db_free(f->path);
  db_free(f->dir);
  db_free(f);
  return 0;
}

static db_principal principal(db_role role, const char *agency, const char *scope) {
  db_principal p;
  db_principal_anonymous(&p);
  p.role = role;
  snprintf(p.agency, sizeof p.agency, "%s", agency ? agency : "");
  snprintf(p.scope, sizeof p.scope, "%s", scope ? scope : "");
  return p;
}

/* Adds a user, asserting success. */
static void add_user(db_store *s, const char *name, const char *pw, db_role role, const char *agency,
                     const char *scope) {
  db_diag d = DB_DIAG_INIT;
  int rc = db_auth_user_add(s, name, pw, role, agency, scope, &d);
  if (rc) db_diag_print(&d, stderr, name);
  assert_int_equal(rc, 0);
  db_diag_free(&d);
}

/* The audit records as "actor action object detail" lines, one string. */
static int collect_audit(void *ctx, int64_t id, const db_audit *a) {
  db_buf *b = ctx;
  db_buf_printf(b, "%lld %s %s %s %s\n", (long long)id, a->actor, a->action, a->object ? a->object : "-",
                a->detail ? a->detail : "-");
  return 0;
}

static char *audit_text(db_store *s, int64_t after) {
  db_buf b = DB_BUF_INIT;
  assert_int_equal(db_store_audit_read(s, after, collect_audit, &b), 0);
  return b.data ? db_buf_take(&b) : db_strdup("");
}

static void assert_audit_after(db_store *s, int64_t after, const char *expected) {
  char *got = audit_text(s, after);
  assert_string_equal(got, expected);
  db_free(got);
}

/* ---------- roles and permissions ---------- */

static void test_role_names(void **state) {
  const char *names[DB_ROLE_COUNT] = {"public", "analyst", "reporter", "leader", "steward", "admin"};
  for (int r = 0; r < DB_ROLE_COUNT; r++) {
    db_role got = -1;
    assert_string_equal(db_role_name((db_role)r), names[r]);
    assert_int_equal(db_role_parse(names[r], &got), 0);
    assert_int_equal(got, r);
  }
  db_role got = DB_ROLE_PUBLIC;
  assert_int_equal(db_role_parse("Admin", &got), 0);
  assert_int_equal(got, DB_ROLE_ADMIN);
  assert_int_equal(db_role_parse("root", &got), DB_EINVAL);
  assert_int_equal(db_role_parse("", &got), DB_EINVAL);
  assert_int_equal(db_role_parse(NULL, &got), DB_EINVAL);
  assert_string_equal(db_role_name((db_role)17), "unknown");
  db_principal p;
  db_principal_anonymous(&p);
  assert_int_equal(p.role, DB_ROLE_PUBLIC);
  assert_string_equal(p.name, "anonymous");
  assert_string_equal(p.agency, "");
  assert_string_equal(p.scope, "");
  assert_int_equal(p.via_session, 0);
}

static void test_permission_table(void **state) {
  /* rows: roles from public to admin; columns: public, read, write data, write catalog, admin, direct,
   * approve */
  static const int expected[DB_ROLE_COUNT][DB_PERM_COUNT] = {
      {1, 0, 0, 0, 0, 0, 0}, /* public */
      {1, 1, 0, 0, 0, 0, 0}, /* analyst */
      {1, 1, 1, 0, 0, 0, 0}, /* reporter */
      {1, 1, 0, 0, 0, 1, 0}, /* leader */
      {1, 1, 1, 1, 0, 0, 1}, /* steward */
      {1, 1, 1, 1, 1, 1, 1}, /* admin */
  };
  for (int r = 0; r < DB_ROLE_COUNT; r++)
    for (int perm = DB_PERM_PUBLIC; perm < DB_PERM_COUNT; perm++) {
      db_principal p = principal((db_role)r, NULL, NULL);
      if (db_auth_allows(&p, (db_perm)perm) != expected[r][perm])
        fail_msg("role %s, permission %d: expected %d", db_role_name((db_role)r), perm, expected[r][perm]);
    }
  db_principal bogus = principal((db_role)9, NULL, NULL);
  assert_int_equal(db_auth_allows(&bogus, DB_PERM_PUBLIC), 0);
  db_principal admin = principal(DB_ROLE_ADMIN, NULL, NULL);
  assert_int_equal(db_auth_allows(&admin, (db_perm)DB_PERM_COUNT), 0);
}

/* ---------- scopes and who may write ---------- */

static void small_tree(db_catalog *c) {
  static const char *const units[][3] = {{"VN", NULL, "country"}, {"79", "VN", "city"},
                                         {"01", "VN", "city"},    {"26734", "79", "ward"},
                                         {"26737", "79", "ward"}, {"AQ01", "26734", "site"}};
  db_catalog_init(c);
  for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
    db_orgunit u;
    db_orgunit_init(&u);
    u.code = (char *)units[i][0];
    u.parent = (char *)units[i][1];
    assert_int_equal(db_ou_kind_parse(units[i][2], &u.kind), 0);
    db_catalog_put_unit(c, &u);
  }
  for (size_t i = 0; i < 2; i++) {
    db_agency a = {0, (char *)(i ? "DONRE" : "SOF"), NULL, NULL, "department", "79", NULL};
    db_catalog_put_agency(c, &a);
  }
  const char *const owners[][2] = {{"RETAIL", "SOF"}, {"PM25", "DONRE"}, {"ORPHAN", NULL}};
  for (size_t i = 0; i < 3; i++) {
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = (char *)owners[i][0];
    ind.owner = (char *)owners[i][1];
    db_catalog_put_indicator(c, &ind);
  }
}

static void link_tree(db_catalog *c) {
  db_diag d = DB_DIAG_INIT;
  int rc = db_catalog_link(c, &d);
  if (rc) db_diag_print(&d, stderr, "small tree");
  assert_int_equal(rc, 0);
  db_diag_free(&d);
}

static void check_scopes(const db_catalog *c) {
  db_principal city = principal(DB_ROLE_REPORTER, "SOF", "79"),
               ward = principal(DB_ROLE_ANALYST, NULL, "26734"), all = principal(DB_ROLE_ANALYST, NULL, NULL);
  const char *codes[] = {"VN", "79", "01", "26734", "26737", "AQ01", "NOPE"};
  const int in_city[] = {0, 1, 0, 1, 1, 1, 0}, in_ward[] = {0, 0, 0, 1, 0, 1, 0};
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
    if (db_auth_in_scope(&city, c, codes[i]) != in_city[i]) fail_msg("scope 79, unit %s", codes[i]);
    if (db_auth_in_scope(&ward, c, codes[i]) != in_ward[i]) fail_msg("scope 26734, unit %s", codes[i]);
    assert_int_equal(db_auth_in_scope(&all, c, codes[i]), 1);
  }
  db_principal gone = principal(DB_ROLE_ANALYST, NULL, "99999"); /* a scope unit that no longer exists */
  assert_int_equal(db_auth_in_scope(&gone, c, "79"), 0);
  assert_int_equal(db_auth_in_scope(&city, c, NULL), 0);
}

static void test_scopes(void **state) {
  db_catalog c;
  small_tree(&c);
  check_scopes(&c); /* through the parent codes */
  link_tree(&c);
  assert_non_null(c.unit_parent);
  check_scopes(&c); /* through the linked arrays */
  db_catalog_free(&c);
}

static void test_may_write(void **state) {
  db_catalog c;
  small_tree(&c);
  link_tree(&c);
  const db_indicator *retail = db_catalog_indicator(&c, "RETAIL"), *pm25 = db_catalog_indicator(&c, "PM25"),
                     *orphan = db_catalog_indicator(&c, "ORPHAN");
  static const char *const not_role = "this role may not write data",
                           *not_owner = "the indicator is not owned by the caller's agency",
                           *not_scope = "the org unit is outside the caller's scope";
  struct {
    db_principal p;
    const db_indicator *ind;
    const char *unit;
    const char *why; /* NULL: allowed */
  } cases[] = {
      {principal(DB_ROLE_REPORTER, "SOF", "79"), retail, "26734", NULL},
      {principal(DB_ROLE_REPORTER, "SOF", "79"), retail, "79", NULL},
      {principal(DB_ROLE_REPORTER, "SOF", "79"), retail, "01", not_scope},
      {principal(DB_ROLE_REPORTER, "SOF", "79"), retail, "VN", not_scope},
      {principal(DB_ROLE_REPORTER, "SOF", "79"), pm25, "26734", not_owner},
      {principal(DB_ROLE_REPORTER, "SOF", "79"), orphan, "26734", not_owner},
      {principal(DB_ROLE_REPORTER, "SOF", NULL), retail, "01", NULL},
      {principal(DB_ROLE_REPORTER, "DONRE", "26734"), pm25, "AQ01", NULL},
      {principal(DB_ROLE_REPORTER, "DONRE", "26734"), pm25, "26737", not_scope},
      {principal(DB_ROLE_REPORTER, NULL, NULL), orphan, "79", not_owner},
      {principal(DB_ROLE_REPORTER, "SOF", "79"), NULL, "79", "unknown indicator"},
      {principal(DB_ROLE_STEWARD, NULL, NULL), pm25, "01", NULL},
      {principal(DB_ROLE_ADMIN, NULL, NULL), orphan, "VN", NULL},
      {principal(DB_ROLE_ANALYST, "SOF", NULL), retail, "79", not_role},
      {principal(DB_ROLE_LEADER, "SOF", NULL), retail, "79", not_role},
      {principal(DB_ROLE_PUBLIC, NULL, NULL), retail, "79", not_role},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *why = "untouched";
    int ok = db_auth_may_write(&cases[i].p, &c, cases[i].ind, cases[i].unit, &why);
    if (ok != (cases[i].why == NULL))
      fail_msg("case %zu: expected %s", i, cases[i].why ? "refusal" : "permission");
    if (cases[i].why)
      assert_string_equal(why, cases[i].why);
    else
      assert_null(why);
    assert_int_equal(db_auth_may_write(&cases[i].p, &c, cases[i].ind, cases[i].unit, NULL), ok);
  }
  db_catalog_free(&c);
}

/* ---------- users, logins, sessions ---------- */

static void test_user_add_checks(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_auth_user_add(f->store, "lan", "short", DB_ROLE_REPORTER, NULL, "99", &d), DB_EINVAL);
  assert_int_equal(d.count, 3);
  assert_string_equal(d.items[0].path, "password");
  assert_string_equal(d.items[0].message, "a password has 8 to 1024 bytes");
  assert_string_equal(d.items[1].path, "agency");
  assert_string_equal(d.items[1].message, "a reporter needs an agency (--agency CODE)");
  assert_string_equal(d.items[2].path, "scope");
  assert_string_equal(d.items[2].message, "unknown org unit '99'");
  db_diag_clear(&d);
  assert_int_equal(db_auth_user_add(f->store, "bad:name", "long enough", DB_ROLE_ANALYST, "XYZ", NULL, &d),
                   DB_EINVAL);
  assert_int_equal(d.count, 2);
  assert_string_equal(d.items[0].message,
                      "a user name has 1 to 64 characters among letters, digits, '.', '_', '-' and '@'");
  assert_string_equal(d.items[1].message, "unknown agency 'XYZ'");
  db_diag_clear(&d);
  add_user(f->store, "lan", "correct horse", DB_ROLE_REPORTER, "SOF", "79");
  assert_int_equal(db_auth_user_add(f->store, "lan", "another one", DB_ROLE_ANALYST, NULL, NULL, &d),
                   DB_EEXIST);
  assert_int_equal(d.count, 1);
  assert_string_equal(d.items[0].message, "user 'lan' already exists");
  db_diag_free(&d);
  /* only the argon2id string is stored */
  char *hash = db_test_raw_text(f->path, "SELECT password_hash FROM user WHERE name = 'lan'");
  assert_true(strncmp(hash, "$argon2id$", 10) == 0);
  assert_null(strstr(hash, "correct horse"));
  db_free(hash);
  assert_raw(f->path, "SELECT role || ',' || agency || ',' || scope || ',' || disabled FROM user",
             "reporter,SOF,79,0");
  assert_audit_after(f->store, 0,
                     "1 cli user.add user:lan {\"role\":\"reporter\",\"agency\":\"SOF\",\"scope\":\"79\"}\n");
}

static void test_login_and_sessions(void **state) {
  fixture *f = *state;
  add_user(f->store, "lan", "correct horse", DB_ROLE_REPORTER, "SOF", "79");
  add_user(f->store, "minh", "battery staple", DB_ROLE_ADMIN, NULL, NULL);
  db_principal p;
  char session[DB_SECRET_MAX], other[DB_SECRET_MAX];
  assert_int_equal(db_auth_login(f->store, "lan", "correct horse", "10.0.0.7", 3600, &p, session), 0);
  assert_int_equal(p.role, DB_ROLE_REPORTER);
  assert_string_equal(p.name, "lan");
  assert_string_equal(p.agency, "SOF");
  assert_string_equal(p.scope, "79");
  assert_int_equal(p.via_session, 1);
  assert_int_equal(strlen(session), 47);
  assert_memory_equal(session, "dbs_", 4);
  assert_int_equal(strlen(p.csrf), 43);
  /* the session gives the same principal; only its hash is stored */
  db_principal q;
  assert_int_equal(db_auth_session(f->store, session, &q), 0);
  assert_string_equal(q.name, "lan");
  assert_int_equal(q.role, DB_ROLE_REPORTER);
  assert_string_equal(q.csrf, p.csrf);
  assert_int_equal(q.via_session, 1);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM session WHERE id_hash = '%s'", session);
  assert_raw(f->path, sql, "0");
  /* wrong password, unknown user, junk: the same answer */
  assert_int_equal(db_auth_login(f->store, "lan", "wrong horse", "10.0.0.8", 3600, &q, other), DB_EPERM);
  assert_string_equal(other, "");
  assert_int_equal(db_auth_login(f->store, "nobody", "correct horse", "10.0.0.9", 3600, &q, other), DB_EPERM);
  assert_int_equal(db_auth_login(f->store, "x\"y", "correct horse", NULL, 3600, &q, other), DB_EPERM);
  assert_int_equal(db_auth_login(f->store, "lan", NULL, "10.0.0.8", 3600, &q, other), DB_EPERM);
  assert_int_equal(db_auth_session(f->store, "dbs_nonsense", &q), DB_EPERM);
  assert_int_equal(db_auth_session(f->store, "dbs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &q),
                   DB_EPERM);
  assert_int_equal(db_auth_session(f->store, NULL, &q), DB_EPERM);
  /* an expired session is refused */
  assert_int_equal(db_auth_login(f->store, "minh", "battery staple", "10.0.0.1", 3600, &q, other), 0);
  raw_exec(f->path,
           "UPDATE session SET expires_ms = 1000 WHERE user_id = (SELECT id FROM user WHERE name = 'minh')");
  assert_int_equal(db_auth_session(f->store, other, &q), DB_EPERM);
  /* logout ends the session */
  assert_int_equal(db_auth_logout(f->store, session), 0);
  assert_int_equal(db_auth_session(f->store, session, &q), DB_EPERM);
  assert_int_equal(db_auth_logout(f->store, session), DB_ENOTFOUND);
  /* the next login purges the expired session */
  assert_int_equal(db_auth_login(f->store, "lan", "correct horse", "10.0.0.7", 3600, &p, session), 0);
  assert_raw(f->path, "SELECT count(*) FROM session", "1");
  /* a new password ends the user's sessions; the old password no longer works */
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_auth_user_passwd(f->store, "lan", "new password", &d), 0);
  assert_int_equal(db_auth_session(f->store, session, &q), DB_EPERM);
  assert_int_equal(db_auth_login(f->store, "lan", "correct horse", "10.0.0.7", 3600, &q, other), DB_EPERM);
  assert_int_equal(db_auth_login(f->store, "lan", "new password", "10.0.0.7", 3600, &q, session), 0);
  /* disabling refuses the session and further logins */
  assert_int_equal(db_auth_user_disable(f->store, "lan", &d), 0);
  assert_int_equal(db_auth_session(f->store, session, &q), DB_EPERM);
  assert_int_equal(db_auth_login(f->store, "lan", "new password", "10.0.0.7", 3600, &q, other), DB_EPERM);
  assert_int_equal(db_auth_user_passwd(f->store, "ghost", "new password", &d), DB_ENOTFOUND);
  assert_int_equal(db_auth_user_passwd(f->store, "lan", "short", &d), DB_EINVAL);
  assert_int_equal(db_auth_user_disable(f->store, "ghost", &d), DB_ENOTFOUND);
  assert_int_equal(d.count, 3);
  assert_string_equal(d.items[0].message, "no user 'ghost'");
  assert_string_equal(d.items[1].message, "a password has 8 to 1024 bytes");
  db_diag_free(&d);
  /* every attempt and change is in the trail, with the client address and the reason of a failure */
  assert_audit_after(
      f->store, 2,
      "3 lan user.login user:lan {\"from\":\"10.0.0.7\"}\n"
      "4 lan user.login_failed user:lan {\"from\":\"10.0.0.8\",\"reason\":\"wrong password\"}\n"
      "5 nobody user.login_failed user:nobody {\"from\":\"10.0.0.9\",\"reason\":\"unknown user\"}\n"
      "6 anonymous user.login_failed user:? {\"from\":\"unknown\",\"reason\":\"unknown user\"}\n"
      "7 lan user.login_failed user:lan {\"from\":\"10.0.0.8\",\"reason\":\"wrong password\"}\n"
      "8 minh user.login user:minh {\"from\":\"10.0.0.1\"}\n"
      "9 lan user.logout user:lan -\n"
      "10 lan user.login user:lan {\"from\":\"10.0.0.7\"}\n"
      "11 cli user.passwd user:lan {\"role\":\"reporter\",\"agency\":\"SOF\",\"scope\":\"79\"}\n"
      "12 lan user.login_failed user:lan {\"from\":\"10.0.0.7\",\"reason\":\"wrong password\"}\n"
      "13 lan user.login user:lan {\"from\":\"10.0.0.7\"}\n"
      "14 cli user.disable user:lan {\"role\":\"reporter\",\"agency\":\"SOF\",\"scope\":\"79\"}\n"
      "15 lan user.login_failed user:lan {\"from\":\"10.0.0.7\",\"reason\":\"disabled user\"}\n");
  db_audit_check check;
  assert_int_equal(db_store_audit_verify(f->store, &check), 0);
  assert_int_equal(check.fault, DB_AUDIT_INTACT);
  assert_int_equal(check.records, 15);
}

/* ---------- tokens ---------- */

typedef struct token_seen {
  char text[8][128];
  size_t n;
} token_seen;

static int collect_token(void *ctx, const db_token_info *t) {
  token_seen *s = ctx;
  snprintf(s->text[s->n++], 128, "%lld %s %s %s %s %s %d", (long long)t->id, t->label ? t->label : "-",
           db_role_name(t->role), t->agency ? t->agency : "-", t->scope ? t->scope : "-",
           t->expires_ms ? "expires" : "never", t->revoked);
  return 0;
}

static void test_tokens(void **state) {
  fixture *f = *state;
  db_diag d = DB_DIAG_INIT;
  char secret[DB_SECRET_MAX], second[DB_SECRET_MAX], hash_sql[200];
  int64_t id = 0, id2 = 0;
  assert_int_equal(db_auth_token_create(f->store, DB_ROLE_REPORTER, "SOF", "79", 0, "etl", secret, &id, &d),
                   0);
  assert_int_equal(id, 1);
  assert_int_equal(strlen(secret), 47);
  assert_memory_equal(secret, "dbt_", 4);
  assert_int_equal(db_auth_token_create(f->store, DB_ROLE_ANALYST, NULL, NULL, 30, NULL, second, &id2, &d),
                   0);
  assert_int_equal(id2, 2);
  assert_string_not_equal(secret, second);
  /* the check gives the principal; the store holds only the SHA-256 */
  db_principal p;
  assert_int_equal(db_auth_token_check(f->store, secret, &p), 0);
  assert_int_equal(p.role, DB_ROLE_REPORTER);
  assert_string_equal(p.name, "token:1");
  assert_string_equal(p.agency, "SOF");
  assert_string_equal(p.scope, "79");
  assert_int_equal(p.via_session, 0);
  snprintf(hash_sql, sizeof hash_sql, "SELECT count(*) FROM token WHERE secret_hash = '%s'", secret);
  assert_raw(f->path, hash_sql, "0");
  assert_raw(f->path, "SELECT length(secret_hash) FROM token WHERE id = 1", "64");
  /* a bad secret, a near miss, junk */
  char near[DB_SECRET_MAX];
  memcpy(near, secret, sizeof near);
  near[10] = near[10] == 'A' ? 'B' : 'A';
  assert_int_equal(db_auth_token_check(f->store, near, &p), DB_EPERM);
  assert_int_equal(db_auth_token_check(f->store, "dbt_", &p), DB_EPERM);
  assert_int_equal(db_auth_token_check(f->store, second + 1, &p), DB_EPERM);
  assert_int_equal(db_auth_token_check(f->store, NULL, &p), DB_EPERM);
  /* expiry */
  assert_int_equal(db_auth_token_check(f->store, second, &p), 0);
  raw_exec(f->path, "UPDATE token SET expires_ms = 1000 WHERE id = 2");
  assert_int_equal(db_auth_token_check(f->store, second, &p), DB_EPERM);
  /* revocation */
  assert_int_equal(db_auth_token_revoke(f->store, 1), 0);
  assert_int_equal(db_auth_token_check(f->store, secret, &p), DB_EPERM);
  assert_int_equal(db_auth_token_revoke(f->store, 99), DB_ENOTFOUND);
  /* bad bindings */
  assert_int_equal(db_auth_token_create(f->store, DB_ROLE_REPORTER, NULL, "VN", -1, NULL, secret, &id, &d),
                   DB_EINVAL);
  assert_string_equal(secret, "");
  assert_int_equal(d.count, 2);
  assert_string_equal(d.items[0].message, "expiry is 0 (never) to 36500 days");
  assert_string_equal(d.items[1].message, "a reporter needs an agency (--agency CODE)");
  db_diag_free(&d);
  token_seen seen = {.n = 0};
  assert_int_equal(db_auth_token_list(f->store, collect_token, &seen), 0);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.text[0], "1 etl reporter SOF 79 never 1");
  assert_string_equal(seen.text[1], "2 - analyst - - expires 0");
  char *trail = audit_text(f->store, 0);
  assert_non_null(
      strstr(trail,
             "1 cli token.create token:1 {\"role\":\"reporter\",\"agency\":\"SOF\",\"scope\":\"79\","
             "\"label\":\"etl\",\"expires\":null}\n"));
  assert_non_null(strstr(trail, "3 cli token.revoke token:1 -\n"));
  db_free(trail);
}

/* ---------- the audit chain ---------- */

/* Appends n records "action 1".."action n" in one transaction. */
static void append_records(db_store *s, int n) {
  assert_int_equal(db_store_begin(s, 0), 0);
  for (int i = 1; i <= n; i++) {
    char action[32], detail[48];
    snprintf(action, sizeof action, "action %d", i);
    snprintf(detail, sizeof detail, "{\"n\":%d}", i);
    db_audit a = {1000 * i, "tester", action, i % 2 ? "object" : NULL, detail};
    assert_int_equal(db_store_audit_append(s, &a), 0);
  }
  assert_int_equal(db_store_commit(s), 0);
}

static void assert_verdict(db_store *s, db_audit_fault fault, int64_t bad_id, int64_t records,
                           const char *why) {
  db_audit_check c;
  assert_int_equal(db_store_audit_verify(s, &c), 0);
  assert_string_equal(c.why, why);
  assert_int_equal(c.fault, fault);
  assert_int_equal(c.bad_id, bad_id);
  assert_int_equal(c.records, records);
}

static void test_chain_hashes(void **state) {
  fixture *f = *state;
  /* the serialisation of store.h: prev, then "time\nLEN:actor\nLEN:action\n-\nLEN:detail\n" */
  db_audit a = {5, "ab", "c", NULL, "{}"};
  char h[65];
  db_store_audit_hash(DB_AUDIT_ZERO_HASH, &a, h);
  /* printf '%s5\n2:ab\n1:c\n-\n2:{}\n' 0000…0000 | sha256sum */
  assert_string_equal(h, "217285593d4a01996cc433fc838d16307a144cea6c8f7a298dfe87db2a1eeaf1");
  append_records(f->store, 3);
  char *first = db_test_raw_text(f->path, "SELECT prev_hash FROM audit WHERE id = 1");
  assert_string_equal(first, DB_AUDIT_ZERO_HASH);
  db_free(first);
  assert_raw(f->path,
             "SELECT count(*) FROM audit a JOIN audit b ON b.id = a.id + 1 WHERE b.prev_hash = a.hash", "2");
  db_audit_head head;
  assert_int_equal(db_store_audit_head(f->store, &head), 0);
  assert_int_equal(head.last_id, 3);
  assert_int_equal(head.max_id, 3);
  char *last = db_test_raw_text(f->path, "SELECT hash FROM audit WHERE id = 3");
  assert_string_equal(head.hash, last);
  db_free(last);
  assert_verdict(f->store, DB_AUDIT_INTACT, 0, 3, "");
  /* the table refuses changes */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "UPDATE audit SET detail = 'x' WHERE id = 2", NULL, NULL, NULL),
                   SQLITE_CONSTRAINT);
  assert_string_equal(sqlite3_errmsg(db), "the audit trail is append-only");
  assert_int_equal(sqlite3_exec(db, "DELETE FROM audit WHERE id = 2", NULL, NULL, NULL), SQLITE_CONSTRAINT);
  sqlite3_close(db);
}

#define UNGUARD "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"

static void test_verify_edit(void **state) {
  fixture *f = *state;
  append_records(f->store, 5);
  raw_exec(f->path, UNGUARD "UPDATE audit SET detail = '{\"n\":33}' WHERE id = 3");
  assert_verdict(f->store, DB_AUDIT_EDITED, 3, 2, "record 3 was edited: its content does not match its hash");
}

static void test_verify_rehashed_edit(void **state) {
  fixture *f = *state;
  append_records(f->store, 5);
  /* an editor who also gives record 3 the hash of its new content breaks the link of record 4 */
  char *prev = db_test_raw_text(f->path, "SELECT prev_hash FROM audit WHERE id = 3");
  db_audit edited = {3000, "tester", "action 3", "object", "{\"n\":33}"};
  char hash[65], sql[300];
  db_store_audit_hash(prev, &edited, hash);
  snprintf(sql, sizeof sql, UNGUARD "UPDATE audit SET detail = '{\"n\":33}', hash = '%s' WHERE id = 3", hash);
  raw_exec(f->path, sql);
  db_free(prev);
  assert_verdict(f->store, DB_AUDIT_REORDERED, 4, 3,
                 "record 4 does not follow record 3 in the chain: records were reordered, or record 3 was "
                 "rewritten");
}

static void test_verify_delete(void **state) {
  fixture *f = *state;
  append_records(f->store, 5);
  raw_exec(f->path, UNGUARD "DELETE FROM audit WHERE id = 2");
  assert_verdict(f->store, DB_AUDIT_DELETED, 2, 1, "record 2 was deleted: the records go from 1 to 3");
}

static void test_verify_delete_first_and_last(void **state) {
  fixture *f = *state;
  append_records(f->store, 5);
  raw_exec(f->path, UNGUARD "DELETE FROM audit WHERE id >= 4");
  assert_verdict(f->store, DB_AUDIT_DELETED, 4, 3, "records 4 to 5 were deleted from the end of the trail");
  raw_exec(f->path, "DELETE FROM audit WHERE id = 1");
  assert_verdict(f->store, DB_AUDIT_DELETED, 1, 0, "record 1 was deleted: the records go from 0 to 2");
}

static void test_verify_swap(void **state) {
  fixture *f = *state;
  append_records(f->store, 5);
  /* rows 2 and 4 exchange everything but their ids */
  raw_exec(
      f->path, UNGUARD
      "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (2, 4);"
      "UPDATE audit SET (time_ms, actor, action, object, detail, prev_hash, hash) ="
      " (SELECT time_ms, actor, action, object, detail, prev_hash, hash FROM t WHERE t.id = 6 - audit.id)"
      " WHERE id IN (2, 4)");
  assert_verdict(f->store, DB_AUDIT_REORDERED, 2, 1,
                 "record 2 does not follow record 1 in the chain: records were reordered, or record 1 was "
                 "rewritten");
}

static void test_verify_swap_content(void **state) {
  fixture *f = *state;
  append_records(f->store, 5);
  raw_exec(f->path, UNGUARD
           "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (2, 4);"
           "UPDATE audit SET (time_ms, actor, action, object, detail) ="
           " (SELECT time_ms, actor, action, object, detail FROM t WHERE t.id = 6 - audit.id)"
           " WHERE id IN (2, 4)");
  assert_verdict(f->store, DB_AUDIT_EDITED, 2, 1, "record 2 was edited: its content does not match its hash");
}

/* A schema 1 store with audit records gets them chained by migration 2, exactly as if they had been
 * appended with the chain; later appends continue the chain. */
static void test_migration_chains_old_records(void **state) {
  fixture *f = *state;
  append_records(f->store, 4);
  char *expected = db_test_raw_text(f->path, "SELECT group_concat(prev_hash || '>' || hash, ' ') FROM audit");
  db_store_close(f->store);
  raw_exec(f->path, UNGUARD
           "UPDATE audit SET prev_hash = NULL, hash = NULL;"
           "ALTER TABLE audit DROP COLUMN prev_hash; ALTER TABLE audit DROP COLUMN hash;"
           "DROP TABLE session; DROP TABLE token; DROP TABLE user;"
           "ALTER TABLE indicator DROP COLUMN band_at_risk; ALTER TABLE indicator DROP COLUMN band_off_track;"
           "DROP VIEW v_record; DROP VIEW v_event; DROP TABLE record; DROP TABLE event;"
           "PRAGMA user_version = 1");
  f->store = NULL;
  f->store = open_store(f->path);
  char version[8];
  snprintf(version, sizeof version, "%d", DB_STORE_SCHEMA_VERSION);
  assert_raw(f->path, "PRAGMA user_version", version);
  char *got = db_test_raw_text(f->path, "SELECT group_concat(prev_hash || '>' || hash, ' ') FROM audit");
  assert_string_equal(got, expected);
  db_free(got);
  db_free(expected);
  append_records(f->store, 1);
  assert_verdict(f->store, DB_AUDIT_INTACT, 0, 5, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_role_names),
      cmocka_unit_test(test_permission_table),
      cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_may_write),
      cmocka_unit_test_setup_teardown(test_user_add_checks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_login_and_sessions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chain_hashes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_edit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_rehashed_edit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_delete_first_and_last, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_swap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_swap_content, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migration_chains_old_records, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
