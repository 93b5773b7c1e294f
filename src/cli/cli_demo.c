/* cli_demo.c - `databrain demo`: load the demo city (the real data pack, or a generated city). */
#include <stdio.h>

#include "base/err.h"
#include "base/text.h"
#include "cli/cli.h"
#include "demo/demo.h"

static int run_demo(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_demo_commands[] = {
    {"demo", "[--pack DIR]", "Load the demo city into the store, then exit.",
     "With --pack DIR (a folder laid out like ../shared/data), the real Ho Chi Minh City data: the 168\n"
     "units of 2025 with population, area and boundaries, the pre-2025 units with successor links, GSO\n"
     "and World Bank series, hourly air quality at 6 stations, rainfall, COVID-19, agencies and 2025\n"
     "targets, plus ward-level series generated where no real file exists (marked synthetic).\n"
     "Without --pack, a generated city of the same shape and codes.\n"
     "A pack file that cannot be read is reported and skipped (exit code 3); the rest still loads.\n",
     run_demo},
    {0},
};

static int run_demo(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_demo_commands[0];
  const char *pack = NULL;
  cli_option spec[] = {{"pack", 1, &pack}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_diag d = DB_DIAG_INIT;
  db_demo_stats st = {0};
  cli_progress prog;
  cli_progress_init(&prog, ctx->quiet);
  int err = db_demo_load(ctx->store, pack, cli_progress_cb, &prog, &d, &st);
  cli_progress_end(&prog);
  cli_print_problems(&d, pack ? pack : "demo");
  db_diag_free(&d);
  if (!ctx->quiet && (err == 0 || err == DB_EINVAL))
    printf("demo city loaded from %s in %.1f s: %lld current units, %lld legacy units, %lld successions, "
           "%lld agencies, %lld indicators, %lld observations, %lld targets\n",
           pack ? pack : "the generator", (double)(db_now_ms() - prog.started_ms) / 1000.0,
           (long long)st.units_current, (long long)st.units_legacy, (long long)st.successions,
           (long long)st.agencies, (long long)st.indicators, (long long)st.observations, (long long)st.targets);
  if (err && err != DB_EINVAL) fprintf(stderr, "demo: %s\n", db_strerror(err));
  return cli_exit_code(err);
}
