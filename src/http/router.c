/* router.c - the route table built from routes.def, the request-target parser (percent-decoding and
 * the refusals listed in router.h) and the matcher (see router.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/handlers.h"
#include "http/router.h"

const db_route db_routes[] = {
#define DB_ROUTE(method, path, handler, perm, tag, summary) \
  {#method, path, handler, #handler, perm, tag, summary},
#include "http/routes.def"
#undef DB_ROUTE
};
const size_t db_n_routes = sizeof db_routes / sizeof *db_routes;

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The offset in the raw text s of the byte that decodes to output byte `target`. */
static size_t raw_offset(const char *s, size_t n, size_t target) {
  size_t i = 0;
  for (size_t o = 0; i < n && o < target; o++) i += s[i] == '%' ? 3 : 1;
  return i;
}

/* Percent-decodes n bytes of s into out (room for n + 1 bytes; NUL-terminated), '+' as a space when
 * plus_is_space. `where` ("the path", "the query") and `base` (the offset of s in it) locate a fault.
 * Refuses bad escapes, NUL bytes and invalid UTF-8; with strict_controls, any control character.
 * Returns the decoded length, or -1 with why filled. */
static long decode(const char *s, size_t n, int plus_is_space, int strict_controls, const char *where,
                   size_t base, char *out, char why[DB_URI_WHY]) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    size_t at = base + i + 1; /* 1-based position of this byte, for messages */
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int hi = i + 1 < n ? hex_value((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        snprintf(why, DB_URI_WHY,
                 "bad percent-encoding at byte %zu of %s ('%%' must be followed by two hex digits)", at,
                 where);
        return -1;
      }
      c = (unsigned char)(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == 0) {
      snprintf(why, DB_URI_WHY, "NUL byte at byte %zu of %s", at, where);
      return -1;
    }
    if (strict_controls && (c < 0x20 || c == 0x7F)) {
      snprintf(why, DB_URI_WHY, "control character 0x%02X at byte %zu of %s", c, at, where);
      return -1;
    }
    out[o++] = (char)c;
  }
  out[o] = '\0';
  size_t bad;
  if (!db_utf8_valid(out, o, &bad)) {
    snprintf(why, DB_URI_WHY, "invalid UTF-8 at byte %zu of %s", base + raw_offset(s, n, bad) + 1, where);
    return -1;
  }
  return (long)o;
}

static size_t count_byte(const char *s, size_t n, char c) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += s[i] == c;
  return k;
}

/* Decodes the segments of the raw path into segs and chars, and joins them into dpath.
 * Returns the number of segments, or -1 with why filled. */
static long parse_path(const char *path, size_t path_len, const char **segs, char *dpath, char **chars,
                       char why[DB_URI_WHY]) {
  size_t n = 0, dlen = 0;
  for (size_t start = 1; path_len > 1 && start <= path_len;) {
    const char *slash = memchr(path + start, '/', path_len - start);
    size_t end = slash ? (size_t)(slash - path) : path_len;
    if (end == start && slash) {
      snprintf(why, DB_URI_WHY, "empty path segment ('//') at byte %zu of the path", start + 1);
      return -1;
    }
    long len = decode(path + start, end - start, 0, 1, "the path", start, *chars, why);
    if (len < 0) return -1;
    if (memchr(*chars, '/', (size_t)len)) {
      snprintf(why, DB_URI_WHY, "encoded slash ('%%2F') in path segment %zu", n + 1);
      return -1;
    }
    if (strcmp(*chars, "..") == 0 || strcmp(*chars, ".") == 0) {
      snprintf(why, DB_URI_WHY, "path traversal ('%s' segment) in path segment %zu", *chars, n + 1);
      return -1;
    }
    dpath[dlen++] = '/';
    memcpy(dpath + dlen, *chars, (size_t)len);
    dlen += (size_t)len;
    segs[n++] = *chars;
    *chars += len + 1;
    start = end + 1;
  }
  if (!dlen) dpath[dlen++] = '/';
  dpath[dlen] = '\0';
  return (long)n;
}

/* Decodes the '&'-separated parameters of the raw query into params and chars.
 * Returns the number of parameters, or -1 with why filled. */
static long parse_query(const char *query, size_t query_len, db_query_param *params, char **chars,
                        char why[DB_URI_WHY]) {
  size_t n = 0;
  for (size_t start = 0; start < query_len;) {
    const char *amp = memchr(query + start, '&', query_len - start);
    size_t end = amp ? (size_t)(amp - query) : query_len;
    if (end > start) {
      const char *eq = memchr(query + start, '=', end - start);
      size_t name_end = eq ? (size_t)(eq - query) : end;
      if (name_end == start) {
        snprintf(why, DB_URI_WHY, "query parameter without a name at byte %zu of the query", start + 1);
        return -1;
      }
      long len = decode(query + start, name_end - start, 1, 1, "the query", start, *chars, why);
      if (len < 0) return -1;
      params[n].name = *chars;
      *chars += len + 1;
      size_t vstart = eq ? name_end + 1 : end;
      len = decode(query + vstart, end - vstart, 1, 0, "the query", vstart, *chars, why);
      if (len < 0) return -1;
      params[n++].value = *chars;
      *chars += len + 1;
    }
    start = end + 1;
  }
  return (long)n;
}

int db_uri_parse(const char *path, size_t path_len, const char *query, size_t query_len, db_uri *out,
                 char why[DB_URI_WHY]) {
  memset(out, 0, sizeof *out);
  why[0] = '\0';
  if (path_len == 0 || path[0] != '/') {
    snprintf(why, DB_URI_WHY, "the path does not start with '/'");
    return DB_EINVAL;
  }
  if (!query) query_len = 0;
  size_t max_segs = count_byte(path, path_len, '/');
  size_t max_params = query_len ? count_byte(query, query_len, '&') + 1 : 0;
  /* pointer arrays first (aligned), then the decoded path, the segments and the query strings */
  size_t size = max_segs * sizeof(char *) + max_params * sizeof(db_query_param) + 2 * (path_len + 1) +
                query_len + 2 * max_params + 1;
  char *mem = db_malloc(size);
  const char **segs = (const char **)(void *)mem;
  db_query_param *params = (db_query_param *)(void *)(mem + max_segs * sizeof(char *));
  char *dpath = (char *)(params + max_params);
  char *chars = dpath + path_len + 1;
  long n_segs = parse_path(path, path_len, segs, dpath, &chars, why);
  long n_params = n_segs < 0 ? -1 : parse_query(query, query_len, params, &chars, why);
  if (n_params < 0) {
    db_free(mem);
    return DB_EINVAL;
  }
  *out = (db_uri){dpath, segs, (size_t)n_segs, params, (size_t)n_params, mem};
  return 0;
}

void db_uri_free(db_uri *u) {
  db_free(u->mem);
  memset(u, 0, sizeof *u);
}

const char *db_uri_query(const db_uri *u, const char *name) {
  for (size_t i = 0; i < u->n_query; i++)
    if (strcmp(u->query[i].name, name) == 0) return u->query[i].value;
  return NULL;
}

/* Whether a route pattern matches the segments of u; *literals receives one bit per literal segment,
 * the leftmost segment in the highest bit, so that a larger mask is a more specific pattern. */
static int pattern_matches(const char *pattern, const db_uri *u, uint64_t *literals) {
  *literals = 0;
  const char *p = pattern + 1;
  size_t i = 0;
  for (; *p; i++) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (i >= u->n_segs || i >= 64) return 0;
    if (p[0] != '{') {
      if (strlen(u->segs[i]) != len || memcmp(u->segs[i], p, len) != 0) return 0;
      *literals |= (uint64_t)1 << (63 - i);
    }
    p += len + (slash != NULL);
  }
  return i == u->n_segs;
}

/* Points params at the segments of u that stand in the {parameters} of pattern. */
static void bind_params(const char *pattern, const db_uri *u, const char *params[DB_HTTP_MAX_PARAMS]) {
  size_t k = 0, i = 0;
  for (const char *p = pattern + 1; *p; i++) {
    const char *slash = strchr(p, '/');
    if (p[0] == '{' && k < DB_HTTP_MAX_PARAMS) params[k++] = u->segs[i];
    p = slash ? slash + 1 : p + strlen(p);
  }
  while (k < DB_HTTP_MAX_PARAMS) params[k++] = NULL;
}

static void allow_add(char *allow, size_t allow_len, const char *method) {
  size_t used = strlen(allow);
  snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", method);
}

int db_router_match(const db_uri *u, const char *method, const db_route **route,
                    const char *params[DB_HTTP_MAX_PARAMS], char *allow, size_t allow_len) {
  *route = NULL;
  if (allow_len) allow[0] = '\0';
  const char *best = NULL;
  uint64_t best_mask = 0;
  for (size_t i = 0; i < db_n_routes; i++) {
    uint64_t mask;
    if (pattern_matches(db_routes[i].pattern, u, &mask) && (!best || mask > best_mask)) {
      best = db_routes[i].pattern;
      best_mask = mask;
    }
  }
  if (!best) return 404;
  const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
  for (size_t i = 0; i < db_n_routes; i++) {
    if (strcmp(db_routes[i].pattern, best) != 0) continue;
    if (strcmp(db_routes[i].method, want) == 0 && !*route) *route = &db_routes[i];
    if (allow_len) {
      allow_add(allow, allow_len, db_routes[i].method);
      if (strcmp(db_routes[i].method, "GET") == 0) allow_add(allow, allow_len, "HEAD");
    }
  }
  if (!*route) return 405;
  bind_params(best, u, params);
  return 200;
}
