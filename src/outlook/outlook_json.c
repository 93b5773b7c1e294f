/* outlook_json.c - the forecast record (contract in outlook.h): a fitted forecast as the JSON body the
 * store keeps and the API shows, read back for the anomaly checks and the formula functions, and its
 * write in the store (carrying over the anomalies flagged on the forecast it replaces). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "outlook/outlook.h"

/* A number, or null when it is not finite (JSON has no NaN). */
static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static double get_num(const json_t *o, const char *name) {
  const json_t *v = json_object_get(o, name);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

void db_outlook_key(const char *indicator, const char *orgunit, const char *dimkey, char *out, size_t size) {
  if (dimkey && *dimkey)
    snprintf(out, size, "%s/%s/%s", indicator, orgunit, dimkey);
  else
    snprintf(out, size, "%s/%s", indicator, orgunit);
}

json_t *db_outlook_to_json(const db_outlook_fc *f, const db_outlook_meta *meta) {
  char code[DB_PERIOD_CODE_MAX], at[25];
  json_t *doc = json_object();
  json_object_set_new(doc, "indicator", json_string(meta->indicator));
  json_object_set_new(doc, "orgunit", json_string(meta->orgunit));
  json_object_set_new(doc, "dims", json_string(meta->dimkey ? meta->dimkey : ""));
  json_object_set_new(doc, "periodicity", json_string(db_period_type_name(f->origin.type)));
  if (f->origin.type == DB_PT_MULTIYEAR) json_object_set_new(doc, "span", json_integer(f->origin.span));
  json_object_set_new(doc, "agg_time", json_string(db_agg_name(meta->agg_time)));
  json_object_set_new(doc, "polarity", json_string(db_polarity_name(meta->polarity)));
  json_object_set_new(doc, "band_at_risk", num(meta->band_at_risk));
  json_object_set_new(doc, "method", json_string(db_fc_method_name(f->method)));
  json_object_set_new(doc, "model", json_string(f->fc.model));
  db_period_format(&f->origin, code);
  json_object_set_new(doc, "origin", json_string(code));
  json_object_set_new(doc, "h", json_integer(f->fc.h));
  json_object_set_new(doc, "observations", json_integer((json_int_t)f->n_obs));
  db_format_time_ms(f->fitted_ms, at);
  json_object_set_new(doc, "fitted_at", json_string(at));
  json_object_set_new(doc, "backtest", json_pack("{s:i, s:i}", "horizon", f->backtest_h, "origins", f->origins));
  json_t *acc = json_array();
  for (int i = 0; i < f->n_scores; i++) {
    const db_outlook_score *s = &f->scores[i];
    json_t *a = json_object();
    json_object_set_new(a, "method", json_string(db_fc_method_name(s->method)));
    json_object_set_new(a, "smape", s->scored ? num(s->acc.smape) : json_null());
    json_object_set_new(a, "mase", s->scored ? num(s->acc.mase) : json_null());
    json_object_set_new(a, "coverage80", s->scored ? num(s->acc.cover80) : json_null());
    json_object_set_new(a, "coverage95", s->scored ? num(s->acc.cover95) : json_null());
    json_object_set_new(a, "points", json_integer((json_int_t)s->acc.points));
    json_array_append_new(acc, a);
  }
  json_object_set_new(doc, "accuracy", acc);
  json_t *values = json_array();
  for (int k = 0; k < f->fc.h; k++) {
    db_period p = db_period_add(&f->origin, k + 1);
    db_period_format(&p, code);
    json_array_append_new(values, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "period", code, "mean",
                                            num(f->fc.mean[k]), "lo80", num(f->fc.lo80[k]), "hi80",
                                            num(f->fc.hi80[k]), "lo95", num(f->fc.lo95[k]), "hi95",
                                            num(f->fc.hi95[k]), "lo99", num(f->fc.lo99[k]), "hi99",
                                            num(f->fc.hi99[k])));
  }
  json_object_set_new(doc, "values", values);
  db_period y;
  if (f->n_year_obs && db_period_containing(&f->origin, DB_PT_YEAR, 0, &y) == DB_OK) {
    json_t *ytd = json_array();
    for (size_t i = 0; i < f->n_year_obs; i++) json_array_append_new(ytd, num(f->year_obs[i]));
    json_object_set_new(doc, "year_to_date", json_pack("{s:I, s:o}", "year", (json_int_t)y.ord, "values", ytd));
  }
  json_object_set_new(doc, "anomalies", json_array());
  return doc;
}

static int bad(char why[128], const char *what) {
  if (why) snprintf(why, 128, "forecast record: %s", what);
  return DB_EINVAL;
}

/* The forecast's values array into out->fc. */
static int read_values(const json_t *values, db_outlook_fc *out, char why[128]) {
  static const char *const names[7] = {"mean", "lo80", "hi80", "lo95", "hi95", "lo99", "hi99"};
  size_t h = json_array_size(values);
  if (!json_is_array(values) || h < 1 || h > DB_OUTLOOK_MAX_H) return bad(why, "values must be 1 to 1000 steps");
  db_fc_forecast *fc = &out->fc;
  fc->h = (int)h;
  fc->mean = db_malloc(7 * h * sizeof *fc->mean);
  double **arrays[7] = {&fc->mean, &fc->lo80, &fc->hi80, &fc->lo95, &fc->hi95, &fc->lo99, &fc->hi99};
  for (int a = 1; a < 7; a++) *arrays[a] = fc->mean + (size_t)a * h;
  for (size_t k = 0; k < h; k++)
    for (int a = 0; a < 7; a++) (*arrays[a])[k] = get_num(json_array_get(values, k), names[a]);
  return 0;
}

int db_outlook_from_json(const json_t *doc, db_outlook_fc *out, db_outlook_meta *meta, char why[128]) {
  memset(out, 0, sizeof *out);
  const char *type = json_string_value(json_object_get(doc, "periodicity"));
  const char *origin = json_string_value(json_object_get(doc, "origin"));
  const char *method = json_string_value(json_object_get(doc, "method"));
  const char *model = json_string_value(json_object_get(doc, "model"));
  db_period_type t;
  if (!type || db_period_type_parse(type, &t) != DB_OK) return bad(why, "no periodicity");
  int span = (int)json_integer_value(json_object_get(doc, "span"));
  if (!origin || db_period_parse_as(origin, strlen(origin), t, span, &out->origin, NULL) != DB_OK)
    return bad(why, "no origin period");
  if (!method || db_fc_method_parse(method, &out->method) != DB_OK) return bad(why, "unknown method");
  out->m = db_outlook_m(t);
  out->n_obs = (size_t)json_integer_value(json_object_get(doc, "observations"));
  if (read_values(json_object_get(doc, "values"), out, why)) return DB_EINVAL;
  snprintf(out->fc.model, sizeof out->fc.model, "%s", model ? model : "");
  const json_t *ytd = json_object_get(json_object_get(doc, "year_to_date"), "values");
  if (json_is_array(ytd) && json_array_size(ytd) > 0 && t >= DB_PT_DAY && t <= DB_PT_YEAR) {
    out->n_year_obs = json_array_size(ytd);
    out->year_obs = db_malloc(out->n_year_obs * sizeof *out->year_obs);
    for (size_t i = 0; i < out->n_year_obs; i++) {
      const json_t *v = json_array_get(ytd, i);
      out->year_obs[i] = json_is_number(v) ? json_number_value(v) : NAN;
    }
  }
  if (meta) {
    const char *agg = json_string_value(json_object_get(doc, "agg_time"));
    const char *pol = json_string_value(json_object_get(doc, "polarity"));
    meta->indicator = json_string_value(json_object_get(doc, "indicator"));
    meta->orgunit = json_string_value(json_object_get(doc, "orgunit"));
    meta->dimkey = json_string_value(json_object_get(doc, "dims"));
    if (!agg || db_agg_parse(agg, &meta->agg_time) != DB_OK) meta->agg_time = DB_AGG_NONE;
    if (!pol || db_polarity_parse(pol, &meta->polarity) != DB_OK) meta->polarity = DB_POL_NEUTRAL;
    meta->band_at_risk = get_num(doc, "band_at_risk");
  }
  return 0;
}

int db_outlook_store_put(db_store *s, const char *key, json_t *doc) {
  db_record old;
  int rc = db_store_record_get(s, DB_OUTLOOK_KIND, 0, key, &old);
  if (rc && rc != DB_ENOTFOUND) return rc;
  db_record r = {0, DB_OUTLOOK_KIND, key, NULL, 0, 0};
  if (!rc) {
    r.id = old.id;
    json_t *prev = json_loads(old.body, 0, NULL);
    json_t *kept = json_object_get(prev, "anomalies");
    if (json_is_array(kept) && json_array_size(kept) > 0) json_object_set(doc, "anomalies", kept);
    json_decref(prev);
    db_record_free(&old);
  }
  char *body = json_dumps(doc, JSON_COMPACT);
  r.body = body;
  rc = db_store_record_put(s, &r, 0);
  free(body);
  return rc;
}

int db_outlook_flag(db_store *s, const db_outlook_meta *meta, const db_period *p, double value, double lo,
                    double hi, int64_t seq, int64_t now_ms) {
  char code[DB_PERIOD_CODE_MAX], key[512], at[25];
  db_period_format(p, code);
  db_format_time_ms(now_ms, at);
  db_outlook_key(meta->indicator, meta->orgunit, meta->dimkey, key, sizeof key);
  json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:s}", "indicator", meta->indicator, "orgunit",
                        meta->orgunit, "dims", meta->dimkey ? meta->dimkey : "", "period", code, "value",
                        num(value), "lo99", num(lo), "hi99", num(hi), "seq", (json_int_t)seq, "at", at);
  char *text = json_dumps(a, JSON_COMPACT);
  db_event e = {0, now_ms, DB_OUTLOOK_ANOMALY_EVENT, text};
  int rc = db_store_event_append(s, &e);
  free(text);
  db_record r;
  if (!rc && (rc = db_store_record_get(s, DB_OUTLOOK_KIND, 0, key, &r)) == DB_OK) {
    json_t *doc = json_loads(r.body, 0, NULL);
    json_t *list = json_object_get(doc, "anomalies");
    if (!json_is_array(list)) json_object_set_new(doc, "anomalies", list = json_array());
    json_object_set_new(a, "event", json_integer(e.id));
    json_array_append(list, a);
    while (json_array_size(list) > DB_OUTLOOK_MAX_ANOMALIES) json_array_remove(list, 0);
    char *body = json_dumps(doc, JSON_COMPACT);
    const char *stored = r.body;
    r.body = body;
    rc = db_store_record_put(s, &r, 0);
    r.body = stored;
    free(body);
    json_decref(doc);
    db_record_free(&r);
  }
  json_decref(a);
  return rc;
}
