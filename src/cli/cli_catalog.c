/* cli_catalog.c - `databrain catalog import|list|show`: the catalog in, out and one object at a time. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/text.h"
#include "cli/cli.h"
#include "ingest/catalog_import.h"

static int run_import(cli_ctx *ctx, int argc, char **argv);
static int run_list(cli_ctx *ctx, int argc, char **argv);
static int run_show(cli_ctx *ctx, int argc, char **argv);

#define KINDS "orgunits, successions, agencies, indicators, dimensions, targets, geometry"

const cli_command cli_catalog_commands[] = {
    {"catalog import", "KIND FILE [--periodicity TYPE] [--format csv|json|geojson] [--legacy] [--code-property NAME]",
     "Import catalog objects of KIND (" KINDS ") from a CSV or JSON file, all-or-nothing.",
     "Objects are upserted by code. Every problem is listed with its line and column (or JSON path) and\n"
     "nothing is written (exit code 3). The columns of each kind are in docs/catalog-files.md.\n"
     "--periodicity gives the periodicity of indicators whose file has none (month, year…).\n"
     "--legacy reads Vietnamese unit types as units before the 2025 merger.\n"
     "--code-property names the GeoJSON property holding the unit code (default code).\n",
     run_import},
    {"catalog list", "KIND [--format csv|json|geojson]",
     "Print every object of KIND (" KINDS ") in the format `catalog import` reads.", "", run_list},
    {"catalog show", "CODE", "Print every field of the indicator, org unit, agency or dimension CODE.", "",
     run_show},
    {0},
};

static int run_import(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_catalog_commands[0];
  const char *periodicity = NULL, *format = NULL, *legacy = NULL, *code_property = NULL;
  cli_option spec[] = {{"periodicity", 1, &periodicity},
                       {"format", 1, &format},
                       {"legacy", 0, &legacy},
                       {"code-property", 1, &code_property},
                       {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 2) return cli_usage_error(cmd, "expected KIND and FILE");
  db_catalog_import_opts opts = {.format = format, .actor = "cli", .legacy = legacy != NULL,
                                 .code_property = code_property};
  if (periodicity && db_period_type_parse(periodicity, &opts.periodicity) != 0)
    return cli_usage_error(cmd, "--periodicity %s: not a period type (5min, 15min, hour, day, week, month, "
                                "quarter, half, year, multiyear)", periodicity);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_diag d = DB_DIAG_INIT;
  size_t n = 0;
  const char *kind = argv[first], *path = argv[first + 1];
  int err = db_catalog_import(ctx->store, kind, path, &opts, &d, &n);
  if (err) {
    cli_print_problems(&d, path);
    if (err == DB_EINVAL) fprintf(stderr, "%s: rejected (%zu problems); nothing was written\n", path, db_diag_total(&d));
  } else if (!ctx->quiet) {
    printf("%s: %zu %s imported\n", path, n, kind);
  }
  if (!err && strcmp(kind, "orgunits") == 0) cli_quality_unit_warnings(ctx);
  db_diag_free(&d);
  return cli_exit_code(err);
}

static int run_list(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_catalog_commands[1];
  const char *format = NULL;
  cli_option spec[] = {{"format", 1, &format}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected KIND (" KINDS ")");
  if ((rc = cli_open(ctx)) != 0) return rc;
  int err = db_catalog_export(ctx->store, argv[first], stdout, format);
  if (err == DB_EINVAL) return cli_usage_error(cmd, "unknown kind '%s' or format '%s'", argv[first], format ? format : "csv");
  if (err) fprintf(stderr, "catalog list: %s\n", db_strerror(err));
  return cli_exit_code(err);
}

/* ---- show ---- */

static void field(const char *name, const char *value) {
  if (value && *value) printf("%-14s %s\n", name, value);
}

static void number(const char *name, double v) {
  if (!db_is_unknown(v)) printf("%-14s %.15g\n", name, v);
}

static void date(const char *name, int64_t days) {
  if (days == DB_DATE_NONE) return;
  char s[11];
  db_format_date(days, s);
  field(name, s);
}

static void show_unit(const db_catalog *cat, const db_orgunit *u) {
  printf("org unit\n");
  field("code", u->code);
  field("name", u->name);
  field("name_en", u->name_en);
  field("kind", db_ou_kind_name(u->kind));
  printf("%-14s %d\n", "level", u->level);
  field("parent", u->parent);
  date("valid_from", u->valid_from);
  date("valid_to", u->valid_to);
  number("population", u->population);
  number("area_km2", u->area_km2);
  field("attributes", u->attributes);
  if (u->geometry) printf("%-14s GeoJSON, %zu bytes\n", "geometry", strlen(u->geometry));
  const int64_t *kids;
  size_t n = db_catalog_children(cat, (size_t)(u - cat->units), &kids);
  if (n) printf("%-14s %zu\n", "children", n);
  for (size_t i = 0; i < cat->n_successions; i++) {
    const db_succession *s = &cat->successions[i];
    if (strcmp(s->from, u->code) == 0) printf("%-14s %s (weight %.4g%s)\n", "successor", s->to, s->weight, s->partial ? ", partial" : "");
    if (strcmp(s->to, u->code) == 0) printf("%-14s %s (weight %.4g%s)\n", "predecessor", s->from, s->weight, s->partial ? ", partial" : "");
  }
}

static int print_target(void *ctx, const db_target *t) {
  printf("%-14s %s %s %s = %.15g", "target", t->kind, t->orgunit, t->period, t->value);
  if (t->source) printf("  (%s)", t->source);
  printf("\n");
  return 0;
}

static void show_indicator(cli_ctx *ctx, const db_indicator *i) {
  printf("indicator\n");
  field("code", i->code);
  field("name", i->name);
  field("name_en", i->name_en);
  field("description", i->description);
  field("unit", i->unit);
  if (i->unit_mult) printf("%-14s 10^%d\n", "unit_mult", i->unit_mult);
  printf("%-14s %d\n", "decimals", i->decimals);
  field("periodicity", db_period_type_name(i->periodicity));
  if (i->period_span) printf("%-14s %d years\n", "period_span", i->period_span);
  field("agg_space", db_agg_name(i->agg_space));
  field("weight", i->weight);
  field("agg_time", db_agg_name(i->agg_time));
  field("polarity", db_polarity_name(i->polarity));
  number("valid_min", i->valid_min);
  number("valid_max", i->valid_max);
  field("owner", i->owner);
  field("sector", i->sector);
  field("groups", i->groups);
  field("is_public", i->is_public ? "yes" : "no");
  field("legal_ref", i->legal_ref);
  field("formula", i->formula);
  field("dimensions", i->dimensions);
  field("source", i->source);
  if (i->synthetic) field("synthetic", "yes (generated, not real data)");
  db_store_read_targets(ctx->store, i->code, print_target, NULL);
}

static void show_agency(const db_agency *a) {
  printf("agency\n");
  field("code", a->code);
  field("name", a->name);
  field("name_en", a->name_en);
  field("kind", a->kind);
  field("orgunit", a->orgunit);
  field("parent", a->parent);
}

static void show_dimension(const db_dimension *dim) {
  printf("dimension\n");
  field("code", dim->code);
  field("name", dim->name);
  for (size_t k = 0; k < dim->n_items; k++) printf("%-14s %s  %s\n", "item", dim->items[k].code, dim->items[k].name);
}

static int run_show(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_catalog_commands[2];
  int first;
  int rc = cli_parse(cmd, argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one CODE");
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  const char *code = argv[first];
  int shown = 0;
  const db_indicator *i = db_catalog_indicator(&ctx->cat, code);
  const db_orgunit *u = db_catalog_unit(&ctx->cat, code);
  const db_agency *a = db_catalog_agency(&ctx->cat, code);
  const db_dimension *dim = db_catalog_dimension(&ctx->cat, code);
  if (i) show_indicator(ctx, i), shown++;
  if (u) printf(shown++ ? "\n" : ""), show_unit(&ctx->cat, u);
  if (a) printf(shown++ ? "\n" : ""), show_agency(a);
  if (dim) printf(shown++ ? "\n" : ""), show_dimension(dim);
  if (!shown) {
    fprintf(stderr, "no indicator, org unit, agency or dimension has the code '%s'\n", code);
    return CLI_NOT_FOUND;
  }
  return CLI_OK;
}
