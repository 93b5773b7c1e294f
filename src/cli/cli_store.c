/* cli_store.c - `databrain init`: create a store or bring its schema up to date. */
#include <stdio.h>

#include "base/err.h"
#include "cli/cli.h"

static int run_init(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_store_commands[] = {
    {"init", "", "Create the store (or migrate it to this version's schema) and print its schema version.",
     "The store is created when it does not exist; an existing store is migrated forward. A store\n"
     "written by a newer databrain is refused (exit code 5).\n",
     run_init},
    {0},
};

static int run_init(cli_ctx *ctx, int argc, char **argv) {
  int first;
  int rc = cli_parse(&cli_store_commands[0], argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(&cli_store_commands[0], "unexpected argument '%s'", argv[first]);
  if ((rc = cli_open(ctx)) != 0) return rc;
  int version = 0;
  int err = db_store_schema_version(ctx->store, &version);
  if (err) {
    fprintf(stderr, "%s: %s\n", ctx->store_url, db_strerror(err));
    return cli_exit_code(err);
  }
  if (!ctx->quiet) printf("%s: schema version %d\n", ctx->store_url, version);
  return CLI_OK;
}
