/* cli_common.c - shared plumbing of the command line (see cli.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cli/cli.h"

int cli_exit_code(int err) {
  switch (err) {
    case DB_OK: return CLI_OK;
    case DB_EINVAL: return CLI_REJECTED;
    case DB_ENOTFOUND: return CLI_NOT_FOUND;
    case DB_ESCHEMA: return CLI_SCHEMA;
    case DB_EUNSUPPORTED: return CLI_USAGE;
    default: return CLI_FAILED;
  }
}

void cli_print_problems(const db_diag *d, const char *source) { db_diag_print(d, stderr, source); }

int cli_read_file(const char *path, db_buf *b) {
  if (db_buf_read_file(b, path) == DB_OK) return CLI_OK;
  fprintf(stderr, "databrain: %s: cannot read it: %s\n", path, strerror(errno));
  return CLI_FAILED;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "databrain %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nusage: databrain %s %s (see databrain %s --help)\n", cmd->name, cmd->args, cmd->name);
  va_end(ap);
  return CLI_USAGE;
}

int cli_open(cli_ctx *ctx) {
  if (ctx->store) return CLI_OK;
  db_diag d = DB_DIAG_INIT;
  int rc = db_store_open(ctx->store_url, &ctx->store, &d);
  if (rc) {
    cli_print_problems(&d, ctx->store_url);
    if (!d.count) fprintf(stderr, "%s: %s\n", ctx->store_url, db_strerror(rc));
  }
  db_diag_free(&d);
  return cli_exit_code(rc);
}

int cli_open_catalog(cli_ctx *ctx) {
  int rc = cli_open(ctx);
  if (rc || ctx->have_catalog) return rc;
  db_catalog_init(&ctx->cat);
  int err = db_store_load_catalog(ctx->store, &ctx->cat);
  if (err) {
    fprintf(stderr, "%s: cannot load the catalog: %s\n", ctx->store_url, db_strerror(err));
    db_catalog_free(&ctx->cat);
    return cli_exit_code(err);
  }
  ctx->have_catalog = 1;
  /* links parents and children for hierarchy queries; a stored catalog is consistent by construction */
  db_diag d = DB_DIAG_INIT;
  db_catalog_link(&ctx->cat, &d);
  db_diag_free(&d);
  return CLI_OK;
}

void cli_close(cli_ctx *ctx) {
  if (ctx->have_catalog) db_catalog_free(&ctx->cat);
  ctx->have_catalog = 0;
  if (ctx->store) db_store_close(ctx->store);
  ctx->store = NULL;
}

static void print_help(const cli_command *cmd) {
  printf("usage: databrain [--store URL] %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
  if (cmd->help && *cmd->help) printf("\n%s", cmd->help);
}

int cli_parse(const cli_command *cmd, int argc, char **argv, const cli_option *spec, int *first_operand) {
  size_t n = 0;
  while (spec && spec[n].name) n++;
  struct option *longs = db_calloc(n + 2, sizeof *longs);
  for (size_t i = 0; i < n; i++)
    longs[i] = (struct option){spec[i].name, spec[i].takes_value ? required_argument : no_argument, NULL, (int)i + 1};
  longs[n] = (struct option){"help", no_argument, NULL, 'h'};
  optind = 1;
  opterr = 0;
  int rc = 0, c;
  while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
    if (c == 'h') {
      print_help(cmd);
      rc = -1;
      break;
    }
    if (c == '?' || c == ':') {
      rc = cli_usage_error(cmd, "unknown option or missing value: %s", argv[optind - 1]);
      break;
    }
    *spec[c - 1].value = spec[c - 1].takes_value ? optarg : "1";
  }
  *first_operand = optind;
  db_free(longs);
  return rc;
}

/* Resolves codes through one of the catalog's indexes into store ids. */
static int resolve_codes(cli_ctx *ctx, const char *codes, const char *what, int64_t **ids, size_t *n,
                         int64_t (*id_of)(const db_catalog *, const char *)) {
  *ids = NULL;
  *n = 0;
  int rc = CLI_OK;
  char *copy = db_strdup(codes);
  for (char *save = NULL, *code = strtok_r(copy, ",", &save); code; code = strtok_r(NULL, ",", &save)) {
    int64_t id = id_of(&ctx->cat, code);
    if (id <= 0) {
      fprintf(stderr, "unknown %s '%s'\n", what, code);
      rc = CLI_NOT_FOUND;
      continue;
    }
    *ids = db_realloc(*ids, (*n + 1) * sizeof **ids);
    (*ids)[(*n)++] = id;
  }
  db_free(copy);
  return rc;
}

static int64_t indicator_id(const db_catalog *c, const char *code) {
  const db_indicator *i = db_catalog_indicator(c, code);
  return i ? i->id : 0;
}

static int64_t unit_id(const db_catalog *c, const char *code) {
  const db_orgunit *u = db_catalog_unit(c, code);
  return u ? u->id : 0;
}

int cli_indicator_ids(cli_ctx *ctx, const char *codes, int64_t **ids, size_t *n) {
  return resolve_codes(ctx, codes, "indicator", ids, n, indicator_id);
}

int cli_unit_ids(cli_ctx *ctx, const char *codes, int64_t **ids, size_t *n) {
  return resolve_codes(ctx, codes, "org unit", ids, n, unit_id);
}

void cli_progress_init(cli_progress *p, int quiet) {
  p->enabled = !quiet && isatty(STDERR_FILENO);
  p->started_ms = p->last_ms = db_now_ms();
}

void cli_progress_cb(void *ctx, int64_t rows, uint64_t bytes, uint64_t total) {
  cli_progress *p = ctx;
  if (!p->enabled) return;
  int64_t now = db_now_ms();
  if (now - p->last_ms < 200) return;
  p->last_ms = now;
  double secs = (double)(now - p->started_ms) / 1000.0;
  double rate = secs > 0 ? (double)rows / secs : 0;
  if (total && bytes && bytes <= total) {
    double eta = secs * (double)(total - bytes) / (double)bytes;
    fprintf(stderr, "\r%lld rows  %.0f rows/s  %3.0f%%  ETA %.0f s   ", (long long)rows, rate,
            100.0 * (double)bytes / (double)total, eta);
  } else {
    fprintf(stderr, "\r%lld rows  %.0f rows/s   ", (long long)rows, rate);
  }
}

void cli_progress_end(cli_progress *p) {
  if (p->enabled) fprintf(stderr, "\r\033[K");
}
