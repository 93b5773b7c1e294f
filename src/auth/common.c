/* common.c - the helpers of auth_int.h: libsodium set-up, random secrets in base64url and their SHA-256,
 * the check of a principal's agency and scope against the catalog, and audit records.
 *
 * A secret is 32 bytes from randombytes_buf (the kernel's CSPRNG), written as prefix + 43 base64url
 * characters without padding; only its SHA-256 is stored, so a copy of the store gives no usable token
 * or session. Shapes are checked before hashing, so junk never reaches the store. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/err.h"

#define SECRET_BYTES 32
#define SECRET_B64_LEN 43 /* base64url of 32 bytes, no padding */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;

static void sodium_start(void) { sodium_rc = sodium_init() < 0 ? DB_ESTORE : DB_OK; }

int db_auth__init(void) {
  pthread_once(&sodium_once, sodium_start);
  return sodium_rc;
}

void db_auth__new_secret(const char *prefix, char out[DB_SECRET_MAX]) {
  unsigned char raw[SECRET_BYTES];
  size_t n = strlen(prefix);
  randombytes_buf(raw, sizeof raw);
  memcpy(out, prefix, n);
  sodium_bin2base64(out + n, DB_SECRET_MAX - n, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
}

int db_auth__secret_shape(const char *prefix, const char *text) {
  size_t n = strlen(prefix);
  if (!text || strncmp(text, prefix, n) != 0 || strlen(text + n) != SECRET_B64_LEN) return 0;
  for (const char *c = text + n; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
          *c == '_'))
      return 0;
  return 1;
}

void db_auth__sha256_hex(const char *text, char out[DB_AUTH_HASH_HEX]) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
  sodium_bin2hex(out, DB_AUTH_HASH_HEX, h, sizeof h);
}

int db_auth__check_binding(db_store *s, db_role role, const char *agency, const char *scope, db_diag *d) {
  int has_agency = agency && *agency, has_scope = scope && *scope;
  int bad = role == DB_ROLE_REPORTER && !has_agency;
  if (bad) db_diag_add(d, 0, 0, "agency", DB_EINVAL, "a reporter needs an agency (--agency CODE)");
  if (!has_agency && !has_scope) return bad ? DB_EINVAL : DB_OK;
  db_catalog cat;
  db_catalog_init(&cat);
  int rc = db_store_load_catalog(s, &cat);
  if (rc == DB_OK) {
    if (has_agency && !db_catalog_agency(&cat, agency)) {
      db_diag_add(d, 0, 0, "agency", DB_EINVAL, "unknown agency '%s'", agency);
      bad = 1;
    }
    if (has_scope && !db_catalog_unit(&cat, scope)) {
      db_diag_add(d, 0, 0, "scope", DB_EINVAL, "unknown org unit '%s'", scope);
      bad = 1;
    }
  }
  db_catalog_free(&cat);
  return rc ? rc : bad ? DB_EINVAL : DB_OK;
}

/* Copies src (NULL = "") into a field of cap bytes. */
static void copy_field(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

void db_auth__principal(db_principal *p, db_role role, const char *name, const char *agency,
                        const char *scope) {
  memset(p, 0, sizeof *p);
  p->role = role;
  copy_field(p->name, sizeof p->name, name);
  copy_field(p->agency, sizeof p->agency, agency);
  copy_field(p->scope, sizeof p->scope, scope);
}

/* Appends s as a JSON string. Control characters become \u00XX; other bytes pass through (callers give
 * UTF-8: names, codes and labels are checked before they get here). */
static void json_string(db_buf *b, const char *s) {
  db_buf_putc(b, '"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      db_buf_putc(b, '\\');
      db_buf_putc(b, (char)c);
    } else if (c < 0x20) {
      db_buf_printf(b, "\\u%04x", c);
    } else {
      db_buf_putc(b, (char)c);
    }
  }
  db_buf_putc(b, '"');
}

void db_auth__json_pair(db_buf *b, const char *key, const char *value) {
  if (b->len && b->data[b->len - 1] != '{') db_buf_putc(b, ',');
  json_string(b, key);
  db_buf_putc(b, ':');
  if (value)
    json_string(b, value);
  else
    db_buf_puts(b, "null");
}

int db_auth__finish(db_store *s, int rc) {
  if (rc == DB_OK) return db_store_commit(s);
  db_store_rollback(s);
  return rc;
}

int db_auth__audit(db_store *s, const char *actor, const char *action, const char *object,
                   const char *detail) {
  db_audit a = {0, actor, action, object, detail};
  return db_store_audit_append(s, &a);
}
