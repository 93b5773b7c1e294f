/* cli_data.c - `databrain import` and `databrain export`: observation files in and out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cli/cli.h"
#include "ingest/export.h"
#include "ingest/ingest.h"

static int run_import(cli_ctx *ctx, int argc, char **argv);
static int run_export(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_data_commands[] = {
    {"import", "FILE [--format csv|json] [--idempotency-key KEY] [--source NAME] [--reason TEXT]",
     "Import observations from a long CSV or JSON file as one all-or-nothing batch.",
     "CSV columns: indicator,orgunit,period,value[,status][,one column per dimension code].\n"
     "JSON: [{\"indicator\":…,\"orgunit\":…,\"period\":…,\"value\":…,\"status\":…,\"dimensions\":{…}}]\n"
     "or {\"observations\": [ … ]}.\n\n"
     "Every rejected row is listed with its line and column (or JSON path) and nothing is written\n"
     "(exit code 3). A value equal to the stored one is not a new revision; a changed one is.\n"
     "With --idempotency-key, a batch already committed under that key is not applied again.\n"
     "Approved (official, locked) values change only with --reason TEXT, which goes to the audit trail.\n",
     run_import},
    {"export", "[--indicator CODES] [--orgunit CODES] [--children-of CODE] [--from PERIOD] [--to PERIOD] "
               "[--as-of TIME] [--meta] [--output FILE] [--count]",
     "Export observations as long CSV (the format `import` reads).",
     "CODES are comma-separated. --from/--to bound the periods (inclusive; any period code: 2024,\n"
     "2024-07, 2024-07-14…). --as-of TIME (RFC 3339, e.g. 2025-07-01T00:00:00+07:00) gives the values\n"
     "as they were then. --meta adds revision, seq and received columns. --count prints only the number\n"
     "of rows.\n",
     run_export},
    {0},
};

static int run_import(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_data_commands[0];
  const char *format = NULL, *key = NULL, *source = NULL, *reason = NULL;
  cli_option spec[] = {{"format", 1, &format}, {"idempotency-key", 1, &key}, {"source", 1, &source},
                       {"reason", 1, &reason}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one FILE");
  const char *path = argv[first];
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  db_batch_info info = {key, source ? source : path, "cli", 0};
  db_diag d = DB_DIAG_INIT;
  db_ingest_result res;
  cli_progress prog;
  cli_progress_init(&prog, ctx->quiet);
  int err = db_ingest_file(ctx->store, &ctx->cat, path, format, &info, reason, cli_progress_cb, &prog, &d, &res);
  cli_progress_end(&prog);
  double secs = (double)(db_now_ms() - prog.started_ms) / 1000.0;
  if (err == DB_EEXIST) {
    if (!ctx->quiet)
      printf("%s: already imported as batch %lld under key '%s' (%lld new, %lld revised, %lld unchanged); "
             "nothing done\n",
             path, (long long)res.seq, key, (long long)res.inserted, (long long)res.revised,
             (long long)res.unchanged);
    rc = CLI_OK;
  } else if (err) {
    cli_print_problems(&d, path);
    if (err == DB_EINVAL)
      fprintf(stderr, "%s: rejected (%zu problems); nothing was written\n", path, db_diag_total(&d));
    rc = cli_exit_code(err);
  } else if (!ctx->quiet) {
    printf("%s: %lld rows: %lld new, %lld revised, %lld unchanged; batch %lld; %.2f s (%.0f rows/s)\n", path,
           (long long)res.rows, (long long)res.inserted, (long long)res.revised, (long long)res.unchanged,
           (long long)res.seq, secs, secs > 0 ? (double)res.rows / secs : 0.0);
  }
  db_diag_free(&d);
  return rc;
}

/* Parses a period bound: its key (for a one-periodicity scan) and its start or end instant. */
static int period_bound(const cli_command *cmd, const char *code, int end, db_period *p, int64_t *ms) {
  char why[128] = "";
  if (db_period_parse(code, strlen(code), p, why) != 0)
    return cli_usage_error(cmd, "period '%s': %s", code, why);
  *ms = end ? db_period_end_ms(p) : db_period_start_ms(p);
  return 0;
}

static int run_export(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_data_commands[1];
  const char *inds = NULL, *units = NULL, *children = NULL, *from = NULL, *to = NULL, *as_of = NULL,
             *meta = NULL, *output = NULL, *count = NULL;
  cli_option spec[] = {{"indicator", 1, &inds}, {"orgunit", 1, &units}, {"children-of", 1, &children},
                       {"from", 1, &from},      {"to", 1, &to},         {"as-of", 1, &as_of},
                       {"meta", 0, &meta},      {"output", 1, &output}, {"count", 0, &count},
                       {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  db_obs_filter f = {0};
  db_export_opts opts = {.meta = meta != NULL, .header = 1};
  db_period pfrom, pto;
  if (from && (rc = period_bound(cmd, from, 0, &pfrom, &opts.from_ms))) return rc;
  if (to && (rc = period_bound(cmd, to, 1, &pto, &opts.to_ms))) return rc;
  if (as_of && db_parse_time_ms(as_of, &f.as_of_ms) != 0)
    return cli_usage_error(cmd, "--as-of '%s' is not an RFC 3339 time (2025-07-01T00:00:00+07:00)", as_of);
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  int64_t *ind_ids = NULL, *unit_ids = NULL;
  size_t n_ind = 0, n_unit = 0;
  if (inds && (rc = cli_indicator_ids(ctx, inds, &ind_ids, &n_ind))) goto done;
  if (units && (rc = cli_unit_ids(ctx, units, &unit_ids, &n_unit))) goto done;
  if (children) {
    const db_orgunit *parent = db_catalog_unit(&ctx->cat, children);
    if (!parent) {
      fprintf(stderr, "unknown org unit '%s'\n", children);
      rc = CLI_NOT_FOUND;
      goto done;
    }
    const int64_t *kids;
    size_t n = db_catalog_children(&ctx->cat, (size_t)(parent - ctx->cat.units), &kids);
    unit_ids = db_realloc(unit_ids, (n_unit + n + 1) * sizeof *unit_ids);
    for (size_t k = 0; k < n; k++) unit_ids[n_unit++] = ctx->cat.units[kids[k]].id;
    if (!n_unit) unit_ids[n_unit++] = -1; /* no children: match nothing */
  }
  f.indicators = ind_ids;
  f.n_indicators = n_ind;
  f.orgunits = unit_ids;
  f.n_orgunits = n_unit;
  FILE *out = stdout;
  if (count) out = fopen("/dev/null", "w");
  else if (output) out = fopen(output, "w");
  if (!out) {
    perror(output ? output : "/dev/null");
    rc = CLI_FAILED;
    goto done;
  }
  int64_t rows = 0;
  int err = db_export_csv(ctx->store, &ctx->cat, &f, &opts, out, &rows);
  if (out != stdout && fclose(out) != 0 && !err) err = DB_EIO;
  if (err) {
    fprintf(stderr, "export failed: %s\n", db_strerror(err));
    rc = cli_exit_code(err);
  } else if (count) {
    printf("%lld\n", (long long)rows);
  } else if (output && !ctx->quiet) {
    fprintf(stderr, "%s: %lld rows\n", output, (long long)rows);
  }
done:
  db_free(ind_ids);
  db_free(unit_ids);
  return rc;
}
