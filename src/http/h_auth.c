/* h_auth.c - the authentication routes: POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me.
 *
 * A login answers a session cookie (databrain_session: HttpOnly, so scripts in the page cannot read
 * it; SameSite=Strict, so other sites cannot send it; Secure under TLS) and, in the body, the CSRF token
 * that the dashboard sends back as X-CSRF-Token with every unsafe method (the server checks it).
 *
 * Logins run on the request's own store handle, not through db_app_write_begin: checking an argon2id
 * password takes a tenth of a second, and holding the app's write lock that long per attempt would let
 * a stream of logins stall every data write. The login's own writes (the session and the audit record)
 * are one short transaction, which SQLite serialises with the writer's. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "http/h_util.h"
#include "http/handlers.h"

#define SESSION_COOKIE "databrain_session"

/* Sets (or, with value NULL, clears) the session cookie. */
static void set_cookie(db_req *r, db_resp *w, const char *value, int64_t max_age) {
  char cookie[256];
  snprintf(cookie, sizeof cookie, SESSION_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%lld%s",
           value ? value : "", (long long)max_age, db_app_config(r->app)->tls_cert ? "; Secure" : "");
  db_resp_header(w, "Set-Cookie", cookie);
  db_resp_header(w, "Cache-Control", "no-store");
}

/* A principal's code field as JSON: null when empty. */
static json_t *code_or_null(const char *code) { return code[0] ? json_string(code) : json_null(); }

/* The JSON description of a principal (the body of /me and of a login). */
static json_t *principal_json(const db_principal *p) {
  json_t *doc = json_pack("{s:s,s:s,s:o,s:o}", "name", p->name, "role", db_role_name(p->role), "agency",
                          code_or_null(p->agency), "scope", code_or_null(p->scope));
  if (doc && p->via_session) json_object_set_new(doc, "csrf", json_string(p->csrf));
  return doc;
}

/* Reads the login body {"name": string, "password": string} (nothing else) into *name and *password,
 * which point into doc (jansson has refused NUL characters in strings already). Problems go to d. */
static void read_login(json_t *doc, const char **name, const char **password, db_diag *d) {
  const char *key;
  json_t *v;
  if (!json_is_object(doc)) {
    db_diag_add(d, 0, 0, "$", DB_EINVAL, "the body must be a JSON object {\"name\": …, \"password\": …}");
    return;
  }
  json_object_foreach(doc, key, v) {
    const char **slot = strcmp(key, "name") == 0 ? name : strcmp(key, "password") == 0 ? password : NULL;
    char path[64];
    snprintf(path, sizeof path, "$.%.48s", key);
    if (!slot)
      db_diag_add(d, 0, 0, path, DB_EINVAL, "unknown field");
    else if (!json_is_string(v))
      db_diag_add(d, 0, 0, path, DB_EINVAL, "must be a string");
    else
      *slot = json_string_value(v);
  }
  if (!json_object_get(doc, "name")) db_diag_add(d, 0, 0, "$.name", DB_EINVAL, "missing");
  if (!json_object_get(doc, "password")) db_diag_add(d, 0, 0, "$.password", DB_EINVAL, "missing");
}

int db_h_login(db_req *r, db_resp *w) {
  json_t *doc = db__h_json_body(r, w, 0, NULL);
  if (!doc) return 0;
  const char *name = NULL, *password = NULL;
  db_diag d = DB_DIAG_INIT;
  read_login(doc, &name, &password, &d);
  int rc = 0;
  if (d.count) {
    db_resp_problem(w, 400, "Bad request", "the login body is {\"name\": string, \"password\": string}", &d);
    goto done;
  }
  int64_t ttl = db_app_config(r->app)->session_ttl_s;
  db_principal p;
  char session[DB_SECRET_MAX];
  int err = db_auth_login(r->store, name, password, r->client, ttl, &p, session);
  if (err == DB_EPERM) {
    db_resp_problem(w, 401, "Login failed", "wrong name or password", NULL);
  } else if (err) {
    rc = err;
  } else {
    db_resp_json(w, 200, principal_json(&p));
    set_cookie(r, w, session, ttl);
  }
done:
  db_diag_free(&d);
  json_decref(doc);
  return rc;
}

/* The value of the session cookie in a Cookie header ("a=1; databrain_session=dbs_…"), copied into out;
 * 0 when there is none (or it does not fit). */
static int session_cookie(const char *header, char out[DB_SECRET_MAX]) {
  const size_t name_len = strlen(SESSION_COOKIE);
  for (const char *p = header; p && *p;) {
    while (*p == ' ' || *p == ';') p++;
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > name_len && strncmp(p, SESSION_COOKIE "=", name_len + 1) == 0 &&
        len - name_len - 1 < DB_SECRET_MAX) {
      memcpy(out, p + name_len + 1, len - name_len - 1);
      out[len - name_len - 1] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

/* Ends the caller's session (when the cookie names one) and clears the cookie: 204 either way. */
int db_h_logout(db_req *r, db_resp *w) {
  char session[DB_SECRET_MAX];
  if (session_cookie(db_req_header(r, "Cookie"), session)) {
    int err = db_auth_logout(r->store, session);
    if (err && err != DB_ENOTFOUND) return err;
  }
  db_resp_text(w, 204, "text/plain", "", 0);
  set_cookie(r, w, NULL, 0);
  return 0;
}

int db_h_me(db_req *r, db_resp *w) {
  db_resp_json(w, 200, principal_json(&r->who));
  db_resp_header(w, "Cache-Control", "no-store");
  return 0;
}
