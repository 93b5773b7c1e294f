/* fuzz_quality_defs.c - libFuzzer target for the readers of data-quality definitions (src/quality/defs.c:
 * reporting obligations and validation rules, CSV and JSON) and of unit attribute files
 * (src/quality/unitcheck.c).
 *
 * The first input byte picks the reader (obligations or rules; CSV or JSON; unit attributes); the rest is
 * the document, read against a small fixed catalog (a city with two wards, two agencies, three monthly
 * indicators). Checked for every input, besides the sanitizers':
 *   - a reader answers 0 or DB_EINVAL, and DB_EINVAL always with at least one problem in the diag;
 *   - on 0, every definition read has a code and (obligations) at least one indicator, a deadline of
 *     0..366 days and a first period of the indicators' periodicity; the JSON written back for it reads
 *     again to the same number of definitions;
 *   - unit attributes: the checks run on whatever was read, and every finding names a unit and an
 *     attribute. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "quality/quality.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "fuzz_quality_defs: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

static db_catalog cat;
static int ready;

static void unit(const char *code, const char *parent, db_ou_kind kind) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = kind;
  db_catalog_put_unit(&cat, &u);
}

static void indicator(const char *code, const char *owner) {
  db_indicator i;
  db_indicator_init(&i);
  i.code = i.name = (char *)code;
  i.periodicity = DB_PT_MONTH;
  i.agg_space = i.agg_time = DB_AGG_SUM;
  i.owner = (char *)owner;
  i.groups = "pop";
  db_catalog_put_indicator(&cat, &i);
}

static void setup(void) {
  db_catalog_init(&cat);
  unit("79", NULL, DB_OU_CITY);
  unit("W1", "79", DB_OU_WARD);
  unit("W2", "79", DB_OU_WARD);
  db_agency a = {0, "A1", "A1", NULL, "department", "79", NULL};
  db_catalog_put_agency(&cat, &a);
  a.code = "A2";
  db_catalog_put_agency(&cat, &a);
  indicator("POP", "A1");
  indicator("POP_F", "A1");
  indicator("POP_M", "A2");
  db_diag d = DB_DIAG_INIT;
  db_catalog_link(&cat, &d);
  db_diag_free(&d);
  ready = 1;
}

static void obligations(const char *text, size_t len, const char *format) {
  db_diag d = DB_DIAG_INIT;
  db_obligation *ob;
  size_t n;
  int rc = db_obligations_read(text, len, format, &cat, &ob, &n, &d);
  CHECK(rc == 0 || rc == DB_EINVAL);
  CHECK(rc == 0 || db_diag_total(&d) > 0);
  if (rc == 0) {
    db_buf again = DB_BUF_INIT;
    db_buf_putc(&again, '[');
    for (size_t i = 0; i < n; i++) {
      CHECK(ob[i].code && ob[i].n_indicators > 0 && ob[i].from.type == ob[i].periodicity);
      CHECK(ob[i].deadline_days >= 0 && ob[i].deadline_days <= 366);
      char *j = db_obligation_json(&ob[i]);
      db_buf_printf(&again, "%s%s", i ? "," : "", j);
      db_free(j);
    }
    db_buf_putc(&again, ']');
    db_obligation *ob2;
    size_t n2;
    db_diag d2 = DB_DIAG_INIT;
    CHECK(db_obligations_read(db_buf_str(&again), again.len, "json", &cat, &ob2, &n2, &d2) == 0 && n2 == n);
    db_obligations_free(ob2, n2);
    db_diag_free(&d2);
    db_buf_free(&again);
  }
  db_obligations_free(ob, n);
  db_diag_free(&d);
}

static void rules(const char *text, size_t len, const char *format) {
  db_diag d = DB_DIAG_INIT;
  db_rule *r;
  size_t n;
  int rc = db_rules_read(text, len, format, &cat, &r, &n, &d);
  CHECK(rc == 0 || rc == DB_EINVAL);
  CHECK(rc == 0 || db_diag_total(&d) > 0);
  for (size_t i = 0; rc == 0 && i < n; i++) CHECK(r[i].code && r[i].formula && r[i].tolerance >= 0);
  db_rules_free(r, n);
  db_diag_free(&d);
}

static void unit_attrs(const char *text, size_t len) {
  db_diag d = DB_DIAG_INIT;
  db_unit_attrs *a;
  db_unit_finding *f;
  size_t n, nf;
  int rc = db_unit_attrs_read(text, len, &a, &n, &d);
  CHECK(rc == 0 || (rc == DB_EINVAL && db_diag_total(&d) > 0));
  db_unit_attrs_check(a, n, &f, &nf);
  for (size_t i = 0; i < nf; i++) CHECK(f[i].code && f[i].attribute && f[i].message);
  db_unit_findings_free(f, nf);
  db_unit_attrs_free(a, n);
  db_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) setup();
  if (size < 1) return 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  switch (data[0] % 5) {
    case 0: obligations(text, len, "csv"); break;
    case 1: obligations(text, len, "json"); break;
    case 2: rules(text, len, "csv"); break;
    case 3: rules(text, len, "json"); break;
    default: unit_attrs(text, len); break;
  }
  return 0;
}
