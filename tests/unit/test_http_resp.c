/* test_http_resp.c - answers as handlers build them: RFC 9457 problems with their exact JSON (type
 * slug, errors with paths or line/column locations, dropped problems), errors from DB_E* codes, JSON and
 * text bodies that replace each other, headers that cannot smuggle line breaks, and the query and
 * format helpers of a request. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/err.h"
#include "base/mem.h"
#include "http/http_int.h"

static void resp_free(db_resp *w) {
  db_free(w->content_type);
  db_buf_free(&w->body);
  for (size_t i = 0; i < w->n_headers; i++) db_free(w->headers[i]);
  db_free(w->headers);
  memset(w, 0, sizeof *w);
}

static void test_problem(void **state) {
  db_resp w = {0};
  db_diag d = DB_DIAG_INIT;
  d.limit = 4;
  db_diag_add(&d, 0, 0, "$.observations[2].value", DB_EINVAL, "not a number");
  db_diag_add(&d, 3, 2, NULL, DB_EINVAL, "unknown org unit 'X'");
  db_diag_add(&d, 7, 0, NULL, DB_EINVAL, "blank line");
  db_diag_add(&d, 0, 0, NULL, DB_EINVAL, "no rows");
  db_diag_add(&d, 9, 1, NULL, DB_EINVAL, "dropped");
  db_resp_problem(&w, 400, "Rejected rows: 5!", "the batch was refused", &d);
  assert_int_equal(w.status, 400);
  assert_string_equal(w.content_type, "application/problem+json");
  assert_string_equal(
      db_buf_str(&w.body),
      "{\"type\":\"https://databrain.dev/problems/rejected-rows-5\",\"title\":\"Rejected rows: 5!\","
      "\"status\":400,\"detail\":\"the batch was refused (1 more problems not listed)\",\"errors\":["
      "{\"path\":\"$.observations[2].value\",\"message\":\"not a number\"},"
      "{\"path\":\"line 3, column 2\",\"message\":\"unknown org unit 'X'\"},"
      "{\"path\":\"line 7\",\"message\":\"blank line\"},"
      "{\"path\":\"\",\"message\":\"no rows\"}]}");
  /* a second answer replaces the first */
  db_resp_problem(&w, 404, "not found", NULL, NULL);
  assert_string_equal(db_buf_str(&w.body),
                      "{\"type\":\"https://databrain.dev/problems/not-found\",\"title\":\"not "
                      "found\",\"status\":404,\"detail\":\"not found\",\"errors\":[]}");
  db_diag_free(&d);
  resp_free(&w);
}

static void test_error_codes(void **state) {
  db_resp w = {0};
  db_resp_error(&w, DB_EBUSY, "try again", NULL);
  assert_int_equal(w.status, 503);
  assert_string_equal(db_buf_str(&w.body),
                      "{\"type\":\"https://databrain.dev/problems/store-is-busy\",\"title\":"
                      "\"store is busy\",\"status\":503,\"detail\":\"try again\",\"errors\":[]}");
  db_resp_error(&w, DB_ETOOBIG, NULL, NULL);
  assert_int_equal(w.status, 413);
  db_resp_error(&w, -999, NULL, NULL);
  assert_int_equal(w.status, 500);
  assert_non_null(strstr(db_buf_str(&w.body), "\"title\":\"unknown error\""));
  resp_free(&w);
}

static void test_json_text_headers(void **state) {
  db_resp w = {0};
  db_resp_json(&w, 201, json_pack("{s:s,s:i}", "name", "Phường Bến Thành", "n", 3));
  assert_int_equal(w.status, 201);
  assert_string_equal(w.content_type, "application/json");
  assert_string_equal(db_buf_str(&w.body), "{\"name\":\"Phường Bến Thành\",\"n\":3}");
  db_resp_text(&w, 200, "text/csv; charset=utf-8", "a,b\n1,2\n", 8);
  assert_string_equal(w.content_type, "text/csv; charset=utf-8");
  assert_string_equal(db_buf_str(&w.body), "a,b\n1,2\n");
  db_resp_json(&w, 200, NULL); /* a document that could not be built */
  assert_int_equal(w.status, 503);
  db_resp_header(&w, "Location", "/api/v1/indicators/X");
  db_resp_header(&w, "X-Note", "a\r\nSet-Cookie: evil=1");
  assert_int_equal(w.n_headers, 2);
  assert_string_equal(w.headers[0], "Location: /api/v1/indicators/X");
  assert_string_equal(w.headers[1], "X-Note: a  Set-Cookie: evil=1");
  resp_free(&w);
}

/* A request whose query is `query` (no server behind it: no headers). */
static void with_query(const char *query, db_exchange *ex, db_req *r) {
  char why[DB_URI_WHY];
  assert_int_equal(db_uri_parse("/x", 2, query, strlen(query), &ex->uri, why), 0);
  ex->mhd = NULL;
  memset(r, 0, sizeof *r);
  r->conn = ex;
}

static void test_request_helpers(void **state) {
  db_exchange ex;
  db_req r;
  with_query("format=csv&q=B%E1%BA%BFn+Th%C3%A0nh", &ex, &r);
  assert_string_equal(db_req_format(&r), "csv");
  assert_string_equal(db_req_query(&r, "q"), "Bến Thành");
  assert_null(db_req_query(&r, "absent"));
  assert_null(db_req_header(&r, "Accept"));
  db_uri_free(&ex.uri);
  with_query("format=geojson", &ex, &r);
  assert_string_equal(db_req_format(&r), "geojson");
  db_uri_free(&ex.uri);
  with_query("format=xml", &ex, &r);
  assert_string_equal(db_req_format(&r), "json");
  db_uri_free(&ex.uri);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_problem),
      cmocka_unit_test(test_error_codes),
      cmocka_unit_test(test_json_text_headers),
      cmocka_unit_test(test_request_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
