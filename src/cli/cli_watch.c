/* cli_watch.c - `databrain scenario load`, `databrain rule list` and `databrain alert list`: scenarios
 * loaded into the store from a JSON file (checked against the catalog, every problem listed with its JSON
 * path), and the rules and alerts the store holds, as CSV on stdout. A running server reads a scenario
 * loaded here when it next starts; POST /api/v1/scenarios loads one live. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "watch/watch.h"

static int run_scenario_load(cli_ctx *ctx, int argc, char **argv);
static int run_rule_list(cli_ctx *ctx, int argc, char **argv);
static int run_alert_list(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_watch_commands[] = {
    {"scenario load", "FILE",
     "Load (or replace) an operational scenario from a JSON document.",
     "The document (see data/scenarios/ for the four demo scenarios) is checked against the catalog:\n"
     "its rules' formulas, units and indicators; every problem is printed with its JSON path and the\n"
     "command exits 3 with nothing written. A scenario already loaded keeps whether it is active.\n"
     "A running server reads it when it next starts; POST /api/v1/scenarios loads one live.\n"
     "example: databrain scenario load data/scenarios/air_pollution.json\n",
     run_scenario_load},
    {"rule list", "",
     "List the alert rules as CSV: code, scenario, severity, condition, for, keep_firing_for.",
     "Rules written with POST /api/v1/rules and the rules of every loaded scenario.\n",
     run_rule_list},
    {"alert list", "[--state STATE] [--rule CODE] [--unit CODE]",
     "List the alerts as CSV, oldest first: id, rule, unit, severity, state, pending, firing, resolved.",
     "--state pending|firing|resolved|cleared, --rule and --unit keep only those alerts.\n"
     "example: databrain alert list --state firing\n",
     run_alert_list},
    {0},
};

static int run_scenario_load(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_watch_commands[0];
  cli_option spec[] = {{0}};
  int first, rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one FILE");
  db_buf file = DB_BUF_INIT;
  if ((rc = cli_read_file(argv[first], &file))) {
    db_buf_free(&file);
    return rc;
  }
  size_t len = file.len;
  char *text = db_buf_take(&file);
  if ((rc = cli_open_catalog(ctx))) {
    db_free(text);
    return rc;
  }
  db_diag d = DB_DIAG_INIT;
  db_scenario *sc = NULL;
  db_watch_saved saved;
  int err = db_store_begin(ctx->store, 0);
  if (!err) err = db_watch_save_scenario(ctx->store, &ctx->cat, text, len, "cli", &sc, &saved, &d);
  if (!err) err = db_store_commit(ctx->store);
  if (err) {
    db_store_rollback(ctx->store);
    cli_print_problems(&d, argv[first]);
    if (!d.count) fprintf(stderr, "databrain: %s: %s\n", argv[first], db_strerror(err));
    rc = err == DB_EINVAL || err == DB_ECONFLICT ? CLI_REJECTED : cli_exit_code(err);
  } else if (!ctx->quiet) {
    printf("scenario %s %s: %zu rules, %zu actions, %zu checklist steps%s\n", sc->code, saved.created ? "loaded" : "replaced",
           sc->n_rules, sc->n_actions, sc->n_checklist, saved.active ? " (active)" : "");
  }
  db_scenario_free(sc);
  db_diag_free(&d);
  db_free(text);
  return rc;
}

/* ---- listings ---- */

static void csv_row(const char *const *fields, size_t n) {
  db_buf b = DB_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    if (i) db_buf_putc(&b, ',');
    db_buf_csv_field(&b, fields[i] ? fields[i] : "");
  }
  printf("%s\n", db_buf_str(&b));
  db_buf_free(&b);
}

static void print_rule(const char *json, const char *scenario) {
  json_t *o = json_loads(json, 0, NULL);
  char *f = json_dumps(json_object_get(o, "for"), JSON_ENCODE_ANY);
  char *k = json_dumps(json_object_get(o, "keep_firing_for"), JSON_ENCODE_ANY);
  const char *fields[] = {json_string_value(json_object_get(o, "code")), scenario,
                          json_string_value(json_object_get(o, "severity")),
                          json_string_value(json_object_get(o, "condition")), f ? f : "1", k ? k : "0"};
  csv_row(fields, 6);
  free(f);
  free(k);
  json_decref(o);
}

static int list_rule(void *ctx, const db_record *r) {
  (void)ctx;
  print_rule(r->body, "");
  return 0;
}

static int list_scenario_rules(void *ctx, const db_record *r) {
  (void)ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  size_t i;
  json_t *rule;
  json_array_foreach(json_object_get(json_object_get(o, "doc"), "rules"), i, rule) {
    db_watch_rule *parsed = NULL;
    db_diag d = DB_DIAG_INIT;
    if (db_watch_rule_from_json(rule, "$", &parsed, &d) == 0) {
      char *text = db_watch_rule_json(parsed);
      print_rule(text, r->key);
      db_free(text);
    }
    db_watch_rule_free(parsed);
    db_diag_free(&d);
  }
  json_decref(o);
  return 0;
}

static int run_rule_list(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_watch_commands[1];
  cli_option spec[] = {{0}};
  int first, rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "takes no operand");
  if ((rc = cli_open(ctx))) return rc;
  const char *header[] = {"code", "scenario", "severity", "condition", "for", "keep_firing_for"};
  csv_row(header, 6);
  int err = db_store_record_scan(ctx->store, DB_WATCH_RULE_KIND, list_rule, NULL);
  if (!err) err = db_store_record_scan(ctx->store, DB_WATCH_SCENARIO_KIND, list_scenario_rules, NULL);
  if (err) fprintf(stderr, "databrain: %s\n", db_strerror(err));
  return err ? cli_exit_code(err) : CLI_OK;
}

typedef struct alert_filter {
  const char *state, *rule, *unit;
} alert_filter;

static int list_alert(void *ctx, const db_record *r) {
  const alert_filter *f = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  const char *v[8];
  const char *names[] = {"rule", "unit", "severity", "state", "pending_at", "firing_at", "resolved_at", "cleared_at"};
  for (int i = 0; i < 8; i++) v[i] = json_string_value(json_object_get(o, names[i]));
  int keep = (!f->state || (v[3] && !strcmp(v[3], f->state))) && (!f->rule || (v[0] && !strcmp(v[0], f->rule))) &&
             (!f->unit || (v[1] && !strcmp(v[1], f->unit)));
  if (keep) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    const char *fields[] = {id, v[0], v[1], v[2], v[3], v[4], v[5], v[6] ? v[6] : v[7]};
    csv_row(fields, 8);
  }
  json_decref(o);
  return 0;
}

static int run_alert_list(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_watch_commands[2];
  alert_filter f = {0};
  cli_option spec[] = {{"state", 1, &f.state}, {"rule", 1, &f.rule}, {"unit", 1, &f.unit}, {0}};
  int first, rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "takes no operand");
  if (f.state && strcmp(f.state, "pending") && strcmp(f.state, "firing") && strcmp(f.state, "resolved") &&
      strcmp(f.state, "cleared"))
    return cli_usage_error(cmd, "--state %s: expected pending, firing, resolved or cleared", f.state);
  if ((rc = cli_open(ctx))) return rc;
  const char *header[] = {"id", "rule", "unit", "severity", "state", "pending_at", "firing_at", "ended_at"};
  csv_row(header, 8);
  int err = db_store_record_scan(ctx->store, DB_WATCH_ALERT_KIND, list_alert, &f);
  if (err) fprintf(stderr, "databrain: %s\n", db_strerror(err));
  return err ? cli_exit_code(err) : CLI_OK;
}
