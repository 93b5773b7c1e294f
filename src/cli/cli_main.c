/* cli_main.c - the databrain command: global options, the command tables, dispatch and --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command *const tables[] = {cli_store_commands, cli_catalog_commands, cli_data_commands,
                                            cli_query_commands, cli_demo_commands,    cli_serve_commands,
                                            cli_auth_commands,  cli_forecast_commands, cli_formula_commands,
                                            cli_tasks_commands, cli_watch_commands, cli_quality_commands};

static void usage(FILE *out) {
  fprintf(out,
          "usage: databrain [--store URL] [-q] COMMAND [ARGS]\n\n"
          "databrain keeps a city's indicators, data and targets. The store is --store URL\n"
          "(sqlite:PATH), else $DATABRAIN_STORE, else sqlite:databrain.db.\n\ncommands:\n");
  for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
    for (const cli_command *c = tables[t]; c->name; c++) fprintf(out, "  %-16s %s\n", c->name, c->summary);
  fprintf(out,
          "\n`databrain COMMAND --help` tells more.\n\nexit codes: 0 success, 1 failure (store, file), "
          "2 usage error, 3 input rejected,\n4 not found, 5 store newer than this program\n");
}

/* The command named by the leading words of argv (one or two words); sets *words. */
static const cli_command *find_command(int argc, char **argv, int *words) {
  for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
    for (const cli_command *c = tables[t]; c->name; c++) {
      const char *space = strchr(c->name, ' ');
      if (!space && strcmp(c->name, argv[0]) == 0) {
        *words = 1;
        return c;
      }
      if (space && argc >= 2 && strncmp(c->name, argv[0], (size_t)(space - c->name)) == 0 &&
          argv[0][space - c->name] == '\0' && strcmp(space + 1, argv[1]) == 0) {
        *words = 2;
        return c;
      }
    }
  return NULL;
}

/* Lists the subcommands of a group word ("catalog") when it is given alone or with an unknown word. */
static int group_usage(const char *group) {
  int found = 0;
  size_t len = strlen(group);
  for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
    for (const cli_command *c = tables[t]; c->name; c++)
      if (strncmp(c->name, group, len) == 0 && c->name[len] == ' ') {
        if (!found) fprintf(stderr, "usage: databrain %s SUBCOMMAND\n", group);
        fprintf(stderr, "  %-16s %s\n", c->name, c->summary);
        found = 1;
      }
  return found;
}

int main(int argc, char **argv) {
  cli_ctx ctx = {0};
  const char *store = NULL;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) store = argv[++i];
    else if (strncmp(argv[i], "--store=", 8) == 0) store = argv[i] + 8;
    else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) ctx.quiet = 1;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return CLI_OK;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("databrain 0.1.0\n");
      return CLI_OK;
    } else {
      fprintf(stderr, "databrain: unknown option %s\n", argv[i]);
      usage(stderr);
      return CLI_USAGE;
    }
  }
  if (i == argc) {
    usage(stderr);
    return CLI_USAGE;
  }
  ctx.store_url = db_store_default_url(store);
  int words;
  const cli_command *cmd = find_command(argc - i, argv + i, &words);
  if (!cmd) {
    if (group_usage(argv[i])) return CLI_USAGE;
    fprintf(stderr, "databrain: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return CLI_USAGE;
  }
  int rc = cmd->run(&ctx, argc - i - words + 1, argv + i + words - 1);
  cli_close(&ctx);
  return rc;
}
