/* cli_formula.c - `databrain formula check`: a formula checked against the store's catalog the way a
 * derived indicator's formula is checked on import (formula/derived.h), before it goes into a catalog
 * file. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/cli.h"
#include "formula/derived.h"

static int run_check(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_formula_commands[] = {
    {"formula check", "FORMULA [--periodicity TYPE]",
     "Check a formula against the catalog: its type, periodicity and dependencies, or its errors.",
     "Prints the type (number, boolean, constant), the periodicity of the indicators it reads and\n"
     "the indicators it reads; a formula that does not check prints each error with its column on\n"
     "stderr and exits 3. --periodicity (month, quarter, year...) also requires the indicators read to\n"
     "be of that periodicity, as for a derived indicator of it.\n"
     "example: databrain formula check '100 * BUDGET_REV / plan(BUDGET_REV)' --periodicity month\n",
     run_check},
    {0},
};

static int run_check(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_formula_commands[0];
  const char *periodicity_name = NULL;
  cli_option spec[] = {{"periodicity", 1, &periodicity_name}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one FORMULA (quote it)");
  db_period_type periodicity = 0;
  if (periodicity_name && db_period_type_parse(periodicity_name, &periodicity) != 0)
    return cli_usage_error(cmd, "--periodicity %s: unknown periodicity", periodicity_name);
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  const char *text = argv[first];
  db_diag d = DB_DIAG_INIT;
  db_formula *f = NULL;
  if (db_formula_compile_derived(text, strlen(text), &ctx->cat, periodicity, 0, &f, &d) != 0) {
    db_buf line = DB_BUF_INIT;
    for (size_t i = 0; i < d.count; i++) {
      db_buf_clear(&line);
      db_formula_describe(&d.items[i], &line);
      fprintf(stderr, "%s\n", db_buf_str(&line));
    }
    db_buf_free(&line);
    db_diag_free(&d);
    return CLI_REJECTED;
  }
  db_period_type type;
  int span;
  const char *const *deps;
  size_t n = db_formula_deps(f, &deps);
  printf("type: %s\n", db_ftype_name(db_formula_type(f)));
  printf("periodicity: %s\n",
         db_formula_periodicity(f, &type, &span) == 0 ? db_period_type_name(type) : "none");
  printf("dependencies:");
  for (size_t i = 0; i < n; i++) printf("%s %s", i ? "," : "", deps[i]);
  printf("\n");
  db_formula_free(f);
  db_diag_free(&d);
  return CLI_OK;
}
