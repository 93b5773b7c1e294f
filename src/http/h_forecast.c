/* h_forecast.c - the forecast routes (routes_forecast.def) over the forecast service (svc_forecast.c) and
 * outlook/outlook.h.
 *
 * GET /api/v1/forecast/{indicator}/{orgunit}[?dims=KEY][&h=N] answers the stored forecast of the series
 * (the record kind "forecast", "stored": true), cut to h steps when h is given; when none is stored, or h
 * asks for more steps than it has, the forecast is computed on the request's cube version and not stored
 * ("stored": false). Besides the record's fields (outlook.h db_outlook_to_json) the answer has "targets":
 * for each year the forecast reaches that has a plan of the indicator at the unit, {year, plan, expected,
 * sd, p_miss} (null where it cannot be said). 404 for an unknown (or, to the public, non-public) indicator
 * or unit, or a series without data or with too few values (the detail says how many); 400 for a bad h.
 * Public like the series route.
 *
 * POST /api/v1/forecast/run with an optional JSON body {"indicators": [codes], "units": [codes]} queues a
 * run over those series (all when absent) and answers 202 {job, status, href} with a Location header; 400
 * lists every unknown code or malformed field. It needs the catalog-writing permission (stewards and
 * admins): a run rewrites every stored forecast and takes both cores for a while, a maintenance act of the
 * statistics office, like editing indicators, rather than a direction given by leaders.
 *
 * GET /api/v1/forecast/jobs/{id} answers the job's status (svc_forecast.h); 404 when unknown. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "http/h_util.h"
#include "http/handlers.h"
#include "http/svc_forecast.h"

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Adds "targets" to doc: the plan outlook of each year from the origin's to the last forecast period's. */
static void add_targets(const db_req *r, json_t *doc, const db_outlook_fc *fc, const db_outlook_meta *meta) {
  json_t *list = json_array();
  db_period y0, y1, last = db_period_add(&fc->origin, fc->fc.h);
  if (db_period_containing(&fc->origin, DB_PT_YEAR, 0, &y0) == DB_OK &&
      db_period_containing(&last, DB_PT_YEAR, 0, &y1) == DB_OK)
    for (int64_t year = y0.ord; year <= y1.ord; year++) {
      double plan = db_analytics_plan(r->plans, meta->indicator, meta->orgunit, year);
      if (isnan(plan)) continue;
      db_outlook_target t;
      db_outlook_p_miss(fc, year, plan, meta->agg_time, meta->polarity, meta->band_at_risk, &t);
      json_array_append_new(list, json_pack("{s:I, s:o, s:o, s:o, s:o}", "year", (json_int_t)year, "plan", num(plan),
                                            "expected", num(t.expected), "sd", num(t.sd), "p_miss", num(t.p_miss)));
    }
  json_object_set_new(doc, "targets", list);
}

/* Fits the series on the request's cube version into *doc; answers a 404 problem (returning 0 with *doc
 * NULL) when it has no data or too few values. */
static int fit_on_demand(db_req *r, db_resp *w, const db_indicator *ind, const db_orgunit *u, const char *dims,
                         int h, json_t **doc, db_outlook_fc *fc) {
  *doc = NULL;
  double *y;
  size_t n;
  db_period first;
  char why[128];
  int rc = db_outlook_series_values(r->cube, r->cat, (size_t)(ind - r->cat->indicators),
                                    (size_t)(u - r->cat->units), dims, &y, &n, &first);
  if (rc == DB_ENOTFOUND || rc == DB_EINVAL)
    return db__h_problem(w, 404, "orgunit", "series %s at %s%s%s has no data", ind->code, u->code, *dims ? " with " : "",
                         dims);
  if (rc) return rc;
  rc = db_outlook_fit(y, n, &first, h, db_now_ms(), fc, why);
  db_free(y);
  if (rc) return db__h_problem(w, 404, "orgunit", "series %s at %s cannot be forecast: %s", ind->code, u->code, why);
  db_outlook_meta meta = {ind->code, u->code, dims, ind->agg_time, ind->polarity, ind->band_at_risk};
  *doc = db_outlook_to_json(fc, &meta);
  return 0;
}

int db_h_forecast_get(db_req *r, db_resp *w) {
  const db_indicator *ind = db_catalog_indicator(r->cat, r->params[0]);
  const db_orgunit *u = db_catalog_unit(r->cat, r->params[1]);
  const char *dims = db_req_query(r, "dims"), *h_text = db_req_query(r, "h");
  if (!db__h_visible(r, ind)) return db__h_problem(w, 404, "indicator", "unknown indicator '%s'", r->params[0]);
  if (!u) return db__h_problem(w, 404, "orgunit", "unknown org unit '%s'", r->params[1]);
  if (!dims) dims = "";
  int64_t h = 0;
  if (h_text && (db_parse_int64(h_text, strlen(h_text), &h) || h < 1 || h > DB_OUTLOOK_MAX_H))
    return db__h_problem(w, 400, "h", "'%s' is not a whole number of periods from 1 to %d", h_text, DB_OUTLOOK_MAX_H);
  char key[512];
  db_outlook_key(ind->code, u->code, dims, key, sizeof key);
  db_record rec;
  json_t *doc = NULL;
  db_outlook_fc fc;
  memset(&fc, 0, sizeof fc);
  int rc = db_store_record_get(r->store, DB_OUTLOOK_KIND, 0, key, &rec), stored = 0;
  if (!rc) {
    doc = json_loads(rec.body, 0, NULL);
    db_record_free(&rec);
    if (!doc || db_outlook_from_json(doc, &fc, NULL, NULL) != DB_OK || (h && h > fc.fc.h)) {
      json_decref(doc);
      db_outlook_fc_free(&fc);
      doc = NULL;
    } else {
      stored = 1;
    }
  } else if (rc != DB_ENOTFOUND) {
    return rc;
  }
  if (!doc && ((rc = fit_on_demand(r, w, ind, u, dims, (int)h, &doc, &fc)) || !doc)) return rc;
  if (h && h < fc.fc.h) { /* cut to h steps: the answer and what the targets are computed from */
    json_t *values = json_object_get(doc, "values");
    while (json_array_size(values) > (size_t)h) json_array_remove(values, json_array_size(values) - 1);
    fc.fc.h = (int)h;
    json_object_set_new(doc, "h", json_integer(h));
  }
  db_outlook_meta meta = {ind->code, u->code, dims, ind->agg_time, ind->polarity, ind->band_at_risk};
  add_targets(r, doc, &fc, &meta);
  json_object_set_new(doc, "stored", json_boolean(stored));
  db_outlook_fc_free(&fc);
  db_resp_json(w, 200, doc);
  return 0;
}

/* The codes of a body field (an array of strings, or one comma-separated string) joined with commas into
 * out, each checked with `known`; problems go to d with their JSON path. */
static void read_codes(const json_t *body, const char *field, int is_ind, const db_catalog *cat, db_buf *out,
                       db_diag *d) {
  const json_t *v = json_object_get(body, field);
  char path[64];
  if (!v || json_is_null(v)) return;
  if (!json_is_array(v)) {
    snprintf(path, sizeof path, "$.%s", field);
    db_diag_add(d, 0, 0, path, DB_EINVAL, "must be an array of codes");
    return;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(v, i, item) {
    const char *code = json_string_value(item);
    snprintf(path, sizeof path, "$.%s[%zu]", field, i);
    if (!code)
      db_diag_add(d, 0, 0, path, DB_EINVAL, "must be a code (a string)");
    else if (is_ind ? !db_catalog_indicator(cat, code) : !db_catalog_unit(cat, code))
      db_diag_add(d, 0, 0, path, DB_ENOTFOUND, "unknown %s '%s'", is_ind ? "indicator" : "org unit", code);
    else
      db_buf_printf(out, "%s%s", out->len ? "," : "", code);
  }
}

int db_h_forecast_run(db_req *r, db_resp *w) {
  db_fc_service *s = db_app_service(r->app, DB_SVC_forecast);
  json_t *body = db__h_json_body(r, w, 1, "{}"); /* no body: every series */
  if (!body) return 0;
  db_diag d = DB_DIAG_INIT;
  db_buf inds = DB_BUF_INIT, units = DB_BUF_INIT;
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) if (strcmp(key, "indicators") != 0 && strcmp(key, "units") != 0) {
    char path[300];
    snprintf(path, sizeof path, "$.%.250s", key);
    db_diag_add(&d, 0, 0, path, DB_EINVAL, "unknown field (indicators, units)");
  }
  read_codes(body, "indicators", 1, r->cat, &inds, &d);
  read_codes(body, "units", 0, r->cat, &units, &d);
  json_decref(body);
  if (d.count) {
    db_resp_problem(w, 400, "Invalid forecast run", "the run was not started", &d);
  } else {
    int64_t id = db_fc_service_submit(s, inds.len ? db_buf_str(&inds) : NULL, units.len ? db_buf_str(&units) : NULL,
                                      r->who.name);
    char href[64];
    snprintf(href, sizeof href, "/api/v1/forecast/jobs/%lld", (long long)id);
    db_resp_header(w, "Location", href);
    db_resp_json(w, 202, json_pack("{s:I, s:s, s:s}", "job", (json_int_t)id, "status", "queued", "href", href));
  }
  db_diag_free(&d);
  db_buf_free(&inds);
  db_buf_free(&units);
  return 0;
}

int db_h_forecast_job(db_req *r, db_resp *w) {
  db_fc_service *s = db_app_service(r->app, DB_SVC_forecast);
  int64_t id;
  if (db_parse_int64(r->params[0], strlen(r->params[0]), &id))
    return db__h_problem(w, 400, "id", "'%s' is not a job number", r->params[0]);
  json_t *doc = db_fc_service_job_json(s, id);
  if (!doc) return db__h_problem(w, 404, "id", "no forecast job %lld", (long long)id);
  db_resp_json(w, 200, doc);
  return 0;
}
