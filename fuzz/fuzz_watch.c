/* fuzz_watch.c - libFuzzer target for the documents of alerts (watch/watch.h): alert rules
 * (POST /api/v1/rules) and scenarios (POST /api/v1/scenarios, `databrain scenario load`), read and checked
 * against a tiny catalog, and message templates rendered.
 *
 * The first input byte picks the reader (even: a rule, odd: a scenario); the rest is the document.
 * Checked for every input, besides the sanitizers:
 *   - the answer is 0 with a document, or DB_EINVAL / DB_ETOOBIG with at least one problem and none;
 *   - an accepted rule writes back to canonical JSON that reads again to the same canonical JSON;
 *   - an accepted rule's templates render (any text, any value) without a problem. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "watch/watch.h"

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_watch: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                               \
    }                                                                        \
  } while (0)

static db_catalog cat;
static int ready;

static void add_unit(const char *code, const char *parent) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = parent ? DB_OU_WARD : DB_OU_CITY;
  db_catalog_put_unit(&cat, &u);
}

static void add_indicator(const char *code, db_period_type type) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = i.name = (char *)code;
  i.periodicity = type;
  i.agg_space = DB_AGG_AVG;
  i.agg_time = DB_AGG_AVG;
  db_catalog_put_indicator(&cat, &i);
}

static void setup(void) {
  db_catalog_init(&cat);
  add_unit("79", NULL);
  add_unit("AQ01", "79");
  add_indicator("PM25", DB_PT_HOUR);
  add_indicator("CPI_YOY", DB_PT_MONTH);
  db_diag d = DB_DIAG_INIT;
  CHECK(db_catalog_link(&cat, &d) == 0);
  db_diag_free(&d);
  ready = 1;
}

static void fuzz_rule(const char *text, size_t len) {
  db_diag d = DB_DIAG_INIT;
  db_watch_rule *r = NULL;
  int err = db_watch_rule_parse(text, len, &r, &d);
  if (err) {
    CHECK(err == DB_EINVAL && d.count > 0 && !r);
    db_diag_free(&d);
    return;
  }
  CHECK(r && d.count == 0);
  char *json = db_watch_rule_json(r);
  db_watch_rule *again = NULL;
  CHECK(db_watch_rule_parse(json, strlen(json), &again, &d) == 0);
  char *json2 = db_watch_rule_json(again);
  CHECK(strcmp(json, json2) == 0);
  int checked = db_watch_rule_check(r, &cat, "$", &d);
  CHECK(checked == 0 || (checked == DB_EINVAL && d.count > 0));
  char *m1 = db_watch_render(r->message_vi, r, "AQ01", "Trạm 1", 51.5, "2021-03-01T05:00");
  char *m2 = db_watch_render(r->message_en, r, "79", NULL, NAN, "");
  CHECK(m1 && m2);
  db_free(m1);
  db_free(m2);
  db_free(json);
  db_free(json2);
  db_watch_rule_free(again);
  db_watch_rule_free(r);
  db_diag_free(&d);
}

static void fuzz_scenario(const char *text, size_t len) {
  db_diag d = DB_DIAG_INIT;
  db_scenario *s = NULL;
  int err = db_scenario_parse(text, len, &cat, &s, &d);
  if (err) {
    CHECK((err == DB_EINVAL || err == DB_ETOOBIG) && d.count > 0 && !s);
  } else {
    CHECK(s && d.count == 0);
    size_t idx[8];
    for (size_t i = 0; i < s->n_rules; i++) db_scenario_actions_for(s, s->rules[i]->code, DB_WC_FIRING, idx, 8);
  }
  db_scenario_free(s);
  db_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) setup();
  if (size < 1) return 0;
  char *text = db_malloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  if (data[0] % 2 == 0) fuzz_rule(text, size - 1);
  else fuzz_scenario(text, size - 1);
  db_free(text);
  return 0;
}
