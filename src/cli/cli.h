/* cli.h - what the command files of the databrain command line share: the command table entry, the
 * store and catalog opened once per run, exit codes, option helpers and progress display.
 *
 * Exit codes (documented in the README and `databrain --help`):
 *   0 success (also an import replayed by its idempotency key)   1 failure of the store or a file
 *   2 usage error (unknown command or option, missing argument)   3 input rejected (problems listed)
 *   4 not found (unknown code)                                     5 the store is newer than this program */
#ifndef DB_CLI_H
#define DB_CLI_H
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/diag.h"
#include "model/catalog.h"
#include "store/store.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_REJECTED = 3, CLI_NOT_FOUND = 4, CLI_SCHEMA = 5 };

typedef struct cli_ctx {
  const char *store_url; /* from --store, $DATABRAIN_STORE or the default */
  db_store *store;       /* opened by cli_open */
  db_catalog cat;        /* loaded by cli_open_catalog */
  int have_catalog;
  int quiet;             /* -q: no progress, no summaries */
} cli_ctx;

typedef struct cli_command {
  const char *name;  /* "import", "catalog import" */
  const char *args;  /* "FILE [--format csv|json]" */
  const char *summary;
  const char *help;  /* the rest of --help: options and examples */
  int (*run)(cli_ctx *ctx, int argc, char **argv); /* argv[0] is the command's last word */
} cli_command;

/* The command tables of each file (terminated by a zeroed entry). */
extern const cli_command cli_store_commands[];
extern const cli_command cli_catalog_commands[];
extern const cli_command cli_data_commands[];
extern const cli_command cli_query_commands[];
extern const cli_command cli_demo_commands[];
extern const cli_command cli_serve_commands[];
extern const cli_command cli_auth_commands[];
extern const cli_command cli_forecast_commands[];
extern const cli_command cli_formula_commands[];
extern const cli_command cli_tasks_commands[];
extern const cli_command cli_watch_commands[];
extern const cli_command cli_quality_commands[];

/* Warns on stderr about the unit attribute defects (quality.h db_unit_attrs_check) of the current org units
 * of the catalog: called after `catalog import orgunits`; warnings, never a refusal. */
void cli_quality_unit_warnings(cli_ctx *ctx);

/* Opens the store (running migrations); on failure prints why and returns the exit code. */
int cli_open(cli_ctx *ctx);
/* Opens the store and loads its catalog. */
int cli_open_catalog(cli_ctx *ctx);
void cli_close(cli_ctx *ctx);

/* The exit code for a DB_E* error. */
int cli_exit_code(int err);
/* Prints the problems of d to stderr (prefixed with source when not NULL). */
void cli_print_problems(const db_diag *d, const char *source);
/* Appends the whole file at path to b: CLI_OK, or CLI_FAILED after saying why on standard error. */
int cli_read_file(const char *path, db_buf *b);
/* Prints "databrain CMD: message" to stderr and returns CLI_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses the options of a command with getopt_long; `spec` lists the long options. Prints --help
 * and returns -1 (caller returns CLI_OK) when asked; returns CLI_USAGE after an unknown option. */
typedef struct cli_option {
  const char *name; /* long name without dashes */
  int takes_value;
  const char **value; /* set to the argument (or "1" for flags) */
} cli_option;
int cli_parse(const cli_command *cmd, int argc, char **argv, const cli_option *spec, int *first_operand);

/* Resolves a comma-separated list of codes of indicators or units into store ids (owned array).
 * Unknown codes are reported and give CLI_NOT_FOUND. */
int cli_indicator_ids(cli_ctx *ctx, const char *codes, int64_t **ids, size_t *n);
int cli_unit_ids(cli_ctx *ctx, const char *codes, int64_t **ids, size_t *n);

/* Progress on stderr when it is a terminal: rows, rows/s, percent and ETA (a db_progress_fn). */
typedef struct cli_progress {
  int enabled;
  int64_t started_ms, last_ms;
} cli_progress;
void cli_progress_init(cli_progress *p, int quiet);
void cli_progress_cb(void *ctx, int64_t rows, uint64_t bytes, uint64_t total);
void cli_progress_end(cli_progress *p);

#endif
