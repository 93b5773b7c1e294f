/* h_ops.c - the operations routes: liveness, readiness, Prometheus metrics and the OpenAPI document. */
#include <string.h>

#include "base/err.h"
#include "http/handlers.h"
#include "http/http_int.h"

int db_h_healthz(db_req *r, db_resp *w) {
  db_resp_json(w, 200, json_pack("{s:s}", "status", "ok"));
  return 0;
}

/* Ready when this thread's store handle answers a trivial read (the schema version). */
int db_h_readyz(db_req *r, db_resp *w) {
  int version = 0;
  int err = db_store_schema_version(r->store, &version);
  if (err) {
    db_resp_problem(w, 503, "not ready", db_strerror(err), NULL);
    return 0;
  }
  db_resp_json(w, 200, json_pack("{s:s,s:i}", "status", "ready", "schema_version", version));
  return 0;
}

int db_h_metrics(db_req *r, db_resp *w) {
  db_buf text = DB_BUF_INIT;
  db_app_metrics_write(r->app, &text);
  db_resp_text(w, 200, "text/plain; version=0.0.4; charset=utf-8", db_buf_str(&text), text.len);
  db_buf_free(&text);
  return 0;
}

int db_h_openapi(db_req *r, db_resp *w) {
  db_resp_text(w, 200, "application/json", r->app->openapi, r->app->openapi_len);
  return 0;
}
