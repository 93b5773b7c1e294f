/* fuzz_tasks_csv.c - libFuzzer target for the task list reader of src/tasks (db_tasks_check_csv: the parser
 * and every check of db_tasks_import_csv short of the store).
 *
 * Arbitrary bytes are read as a task list against a small fixed catalog (the city 79 with two wards,
 * agencies by code and Vietnamese name, a monthly indicator for conditions). Checked for every input:
 *   - the answer is 0 or DB_EINVAL (DB_EIO never: the input is in memory);
 *   - DB_EINVAL comes with at least one problem, 0 with none, and every problem has a message and a line
 *     (a file's problems are located) no later than the input's last line + 1;
 *   - an accepted list has at least one row, and reading it again gives the same answer and row count. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "tasks/tasks.h"

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

static db_catalog cat;

static void add_unit(const char *code, const char *parent, db_ou_kind kind) {
  db_orgunit ou;
  db_orgunit_init(&ou);
  ou.code = (char *)code;
  ou.name = (char *)code;
  ou.parent = (char *)parent;
  ou.kind = kind;
  db_catalog_put_unit(&cat, &ou);
}

static void add_agency(const char *code, const char *name, const char *unit) {
  db_agency a = {0, (char *)code, (char *)name, NULL, (char *)"department", (char *)unit, NULL};
  db_catalog_put_agency(&cat, &a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  db_catalog_init(&cat);
  add_unit("79", NULL, DB_OU_CITY);
  add_unit("W1", "79", DB_OU_WARD);
  add_unit("W2", "79", DB_OU_WARD);
  add_agency("DOF", "Sở Tài chính", "79");
  add_agency("DOC", "Sở Xây dựng", "79");
  add_agency("PC_W1", "Ủy ban nhân dân phường W1", "W1");
  db_indicator ind;
  db_indicator_init(&ind);
  ind.code = (char *)"DISBURSE_PCT";
  ind.periodicity = DB_PT_MONTH;
  ind.agg_space = DB_AGG_AVG;
  ind.agg_time = DB_AGG_LAST;
  db_catalog_put_indicator(&cat, &ind);
  db_diag d = DB_DIAG_INIT;
  db_catalog_link(&cat, &d);
  db_diag_free(&d);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  long lines = 1;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  db_diag d = DB_DIAG_INIT;
  size_t rows = 0;
  int rc = db_tasks_check_csv(&cat, (const char *)data, size, "fuzz.csv", &rows, &d);
  CHECK(rc == 0 || rc == DB_EINVAL);
  CHECK((rc == 0) == (db_diag_total(&d) == 0));
  for (size_t i = 0; i < d.count; i++) {
    CHECK(d.items[i].message && d.items[i].message[0]);
    CHECK(d.items[i].line >= 1 && d.items[i].line <= lines + 1);
  }
  if (rc == 0) {
    CHECK(rows >= 1);
    db_diag again = DB_DIAG_INIT;
    size_t rows2 = 0;
    CHECK(db_tasks_check_csv(&cat, (const char *)data, size, "fuzz.csv", &rows2, &again) == 0);
    CHECK(rows2 == rows);
    db_diag_free(&again);
  }
  db_diag_free(&d);
  return 0;
}
