/* openapi.c - the OpenAPI 3.1 document of the API, generated from the route table (routes.def):
 * one path per pattern, one operation per route (operationId = the handler's name, summary, tag, path
 * parameters), its security requirements from the route's permission (a bearer token or the session
 * cookie; anonymous callers too for public routes) and problem+json error answers. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "http/http_int.h"

static const char *perm_name(db_perm p) {
  switch (p) {
    case DB_PERM_PUBLIC:
      return "public";
    case DB_PERM_READ:
      return "read";
    case DB_PERM_WRITE_DATA:
      return "write_data";
    case DB_PERM_WRITE_CATALOG:
      return "write_catalog";
    case DB_PERM_ADMIN:
      return "admin";
    case DB_PERM_DIRECT:
      return "direct";
    case DB_PERM_APPROVE:
      return "approve";
  }
  return "unknown";
}

static json_t *ref(const char *target) { return json_pack("{s:s}", "$ref", target); }

/* The {name} parameters of a pattern as OpenAPI path parameters. */
static json_t *path_parameters(const char *pattern) {
  json_t *params = json_array();
  for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
    const char *end = strchr(p, '}');
    if (!end) break;
    json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1, (size_t)(end - p - 1),
                                            "in", "path", "required", 1, "schema", "type", "string"));
  }
  return params;
}

/* Who may call a route: anonymous callers too when it is public; the permission is named in
 * x-permission since OpenAPI has no vocabulary for roles. */
static json_t *security(db_perm perm) {
  json_t *s = json_array();
  if (perm == DB_PERM_PUBLIC) json_array_append_new(s, json_object());
  json_array_append_new(s, json_pack("{s:[]}", "bearerAuth"));
  json_array_append_new(s, json_pack("{s:[]}", "cookieAuth"));
  return s;
}

static json_t *responses(const db_route *r) {
  json_t *res = json_object();
  json_object_set_new(res, "200", json_pack("{s:s}", "description", "Success"));
  static const char *const errors[] = {"400", "401", "403", "404", "405", "413", "429", "500"};
  for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
    if (strcmp(errors[i], "404") == 0 && !strchr(r->pattern, '{')) continue;
    if ((strcmp(errors[i], "401") == 0 || strcmp(errors[i], "403") == 0) && r->perm == DB_PERM_PUBLIC)
      continue;
    if (strcmp(errors[i], "413") == 0 && strcmp(r->method, "GET") == 0) continue;
    json_object_set_new(res, errors[i], ref("#/components/responses/Problem"));
  }
  if (strcmp(r->method, "GET") == 0)
    json_object_set_new(res, "304", json_pack("{s:s}", "description", "Not modified (If-None-Match)"));
  return res;
}

static json_t *operation(const db_route *r) {
  json_t *op = json_pack("{s:s,s:s,s:[s],s:s}", "operationId", r->name, "summary", r->summary, "tags", r->tag,
                         "x-permission", perm_name(r->perm));
  json_t *params = path_parameters(r->pattern);
  if (json_array_size(params))
    json_object_set_new(op, "parameters", params);
  else
    json_decref(params);
  json_object_set_new(op, "security", security(r->perm));
  json_object_set_new(op, "responses", responses(r));
  return op;
}

static json_t *components(void) {
  return json_pack(
      "{s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s}},"
      " s:{s:{s:s,s:{s:{s:o}}}},"
      " s:{s:{s:s,s:[s,s,s],s:{s:{s:s,s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:{s:s,s:{s:{s:s},s:{s:s}}}}}}}}",
      "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer", "description",
      "An API token (databrain token create)", "cookieAuth", "type", "apiKey", "in", "cookie", "name",
      "databrain_session", "description",
      "The dashboard session (POST /api/v1/login); unsafe methods need X-CSRF-Token", "responses", "Problem",
      "description", "An RFC 9457 problem", "content", "application/problem+json", "schema",
      ref("#/components/schemas/Problem"), "schemas", "Problem", "type", "object", "required", "type",
      "title", "status", "properties", "type", "type", "string", "format", "uri", "title", "type", "string",
      "status", "type", "integer", "detail", "type", "string", "errors", "type", "array", "items", "type",
      "object", "properties", "path", "type", "string", "message", "type", "string");
}

char *db_openapi_generate(size_t *len) {
  json_t *paths = json_object();
  for (size_t i = 0; i < db_n_routes; i++) {
    const db_route *r = &db_routes[i];
    json_t *item = json_object_get(paths, r->pattern);
    if (!item) {
      item = json_object();
      json_object_set_new(paths, r->pattern, item);
    }
    char method[16];
    size_t k = 0;
    for (; r->method[k] && k + 1 < sizeof method; k++) method[k] = (char)(r->method[k] | 0x20);
    method[k] = '\0';
    json_object_set_new(item, method, operation(r));
  }
  json_t *doc = json_pack("{s:s,s:{s:s,s:s,s:s,s:{s:s}},s:o,s:o}", "openapi", "3.1.0", "info", "title",
                          "databrain", "version", "0.1.0", "description",
                          "The data brain of a city's operations center: catalog, data ingest and queries.",
                          "license", "name", "Apache-2.0", "paths", paths, "components", components());
  char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  json_decref(doc);
  char *copy = db_strdup(text);
  free(text); /* jansson's allocator */
  *len = strlen(copy);
  return copy;
}
