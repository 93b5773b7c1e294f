/* cli_quality.c - data supply and quality on the command line (quality/quality.h): `databrain quality
 * obligations|rules import|list` (the definitions in and out, all or nothing), `quality report` (what the
 * agencies owe and what arrived: completeness, timeliness, validity, score and rank by agency, ward,
 * indicator, group, period or obligation, or the submissions in one state), `quality violations`,
 * `quality outliers` (seasonal robust z-scores read from the store), `quality check-units` (unit
 * attributes of a file: missing values and areas out of line with their peers), `approve` (an indicator
 * group at a unit for a period becomes official and locked) and `calendar import|list` (the working-day
 * calendar). `catalog import orgunits` calls cli_quality_unit_warnings to warn about the same unit
 * attribute defects in the catalog it just wrote. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cli/cli.h"
#include "cube/cube.h"
#include "derive/derive.h"
#include "ingest/calendar_import.h"
#include "quality/quality.h"

static int run_obligations(cli_ctx *ctx, int argc, char **argv);
static int run_rules(cli_ctx *ctx, int argc, char **argv);
static int run_report(cli_ctx *ctx, int argc, char **argv);
static int run_violations(cli_ctx *ctx, int argc, char **argv);
static int run_outliers(cli_ctx *ctx, int argc, char **argv);
static int run_check_units(cli_ctx *ctx, int argc, char **argv);
static int run_approve(cli_ctx *ctx, int argc, char **argv);
static int run_calendar_import(cli_ctx *ctx, int argc, char **argv);
static int run_calendar_list(cli_ctx *ctx, int argc, char **argv);

enum {
  C_OBLIGATIONS,
  C_RULES,
  C_REPORT,
  C_VIOLATIONS,
  C_OUTLIERS,
  C_CHECK_UNITS,
  C_APPROVE,
  C_CAL_IMPORT,
  C_CAL_LIST
};

const cli_command cli_quality_commands[] = {
    [C_OBLIGATIONS] =
        {"quality obligations", "import FILE [--format csv|json] | list",
         "Import reporting obligations from CSV or JSON (all-or-nothing), or list them as JSON.",
         "CSV columns: code, name, agency, indicators (codes separated by ';'), orgunit, children\n"
         "(yes: each child unit reports), deadline (\"5 working days\" or \"10 days\" after the period\n"
         "ends), from, to (periods of the indicators' periodicity; to empty = open). JSON: an array\n"
         "of objects with the same members (indicators an array, children a boolean), or\n"
         "{\"obligations\": [...]}, which `list` prints. Obligations are upserted by code. Every\n"
         "problem is listed with its line and column (or JSON path) and nothing is written (exit 3).\n",
         run_obligations},
    [C_RULES] =
        {"quality rules", "import FILE [--format csv|json] | list",
         "Import validation rules (all-or-nothing) and judge them on the data held, or list them.",
         "CSV columns: code, name, formula (a boolean of the formula language, e.g.\n"
         "\"POP_F + POP_M == POP\"), tolerance (a comparison holds within it), importance (info,\n"
         "warning, error, critical), enabled (yes/no). JSON as for obligations ({\"rules\": [...]}).\n"
         "After the import every rule is judged on every cell where its inputs have data: violations\n"
         "open where it fails and resolve where it holds again (`quality violations`).\n",
         run_rules},
    [C_REPORT] =
        {"quality report",
         "[--by agency|ward|indicator|group|period|obligation] [--agency A] [--unit U] [--group G]\n"
         "          [--indicator I] [--period P] [--as-of TIME] [--list on_time|late|overdue|due] [--csv]",
         "Completeness, timeliness, validity, data-supply score and rank of the data owed.",
         "The cells the reporting obligations make expected, as of now (or --as-of, RFC 3339), are\n"
         "counted once their deadline passed: expected, received, on time, late, missing, invalid\n"
         "(named by an open violation of importance error or critical). completeness = received /\n"
         "expected, timeliness = on time / expected, validity = valid / received, score = 100 x their\n"
         "mean; rank 1 is the best score. --period P keeps the cells of period P (any type: 2025-08,\n"
         "2025-Q3). --list STATE prints those submissions instead (a reminder: --agency A --list\n"
         "overdue), with deadline, received time and working days late. --csv prints CSV.\n",
         run_report},
    [C_VIOLATIONS] =
        {"quality violations", "[--status open|resolved|all] [--rule CODE] [--unit CODE] [--csv]",
         "List the violations of the validation rules (open ones by default).",
         "Each names its rule, importance, unit, period, status and what failed; --csv adds the\n"
         "offending observations (indicator, value, revision, batch) as JSON.\n",
         run_violations},
    [C_OUTLIERS] =
        {"quality outliers", "INDICATOR [--unit CODES | --children-of CODE] [--threshold Z] [--csv]",
         "Flag the values of an indicator that are outliers for their season (never changes data).",
         "Every series of INDICATOR (at the units given, else at every unit) is scored with robust\n"
         "z-scores of the residuals of a seasonal model (trend + seasonal profile); values with\n"
         "|z| above the threshold (default 3.5) are listed: unit, dimensions, period, value, z.\n",
         run_outliers},
    [C_CHECK_UNITS] =
        {"quality check-units", "FILE [--csv]",
         "Check a unit attribute file (area, population) with general rules; exit 3 on findings.",
         "FILE is CSV with the columns commune_code (or code), commune_name (or name),\n"
         "province_code (or province), area_km2, population; other columns are ignored (the\n"
         "bando file of the 2025 units reads as it is). Flagged: a missing or non-positive area or\n"
         "population, and an area out of line with the units of the same province and kind while\n"
         "the density is out of line the other way (a lost decimal point). Nothing is written.\n",
         run_check_units},
    [C_APPROVE] =
        {"approve", "--group G --unit U --period P [--note TEXT]",
         "Approve an indicator group at a unit for a period: its values become official and locked.",
         "The values of the group's indicators at the unit in the period are written again with\n"
         "status official (a revision each); from then on `import` and POST /api/v1/data refuse to\n"
         "change them unless the batch gives a reason (--reason, X-Change-Reason). The approval and\n"
         "every later change with a reason are in the audit trail (`audit list`).\n",
         run_approve},
    [C_CAL_IMPORT] = {"calendar import", "FILE",
                      "Mark holidays and worked rest days from a CSV file (date,kind,name), all-or-nothing.",
                      "kind is holiday or workday. Deadlines in working days count Monday to Friday except\n"
                      "holidays, plus the workdays. data/calendar/vn_holidays.csv is Vietnam's schedule.\n",
                      run_calendar_import},
    [C_CAL_LIST] = {"calendar list", "[--year Y] [--csv]",
                    "Print the marked days of the working-day calendar.", "", run_calendar_list},
    {0},
};

/* ---- shared helpers ---- */

/* Parses the options of a command whose one operand is a FILE, and reads the file into text: 0 with *path
 * set, -1 after --help, or an exit code (usage error, unreadable file). */
static int file_operand(const cli_command *cmd, int argc, char **argv, const cli_option *spec,
                        const char **path, db_buf *text) {
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected FILE");
  *path = argv[first];
  return cli_read_file(*path, text);
}

/* The format of a definitions file: --format, else its extension (.json), else csv. NULL when bad. */
static const char *file_format(const char *given, const char *path) {
  if (given) return strcmp(given, "csv") == 0 || strcmp(given, "json") == 0 ? given : NULL;
  size_t n = strlen(path);
  return n > 5 && strcmp(path + n - 5, ".json") == 0 ? "json" : "csv";
}

/* Runs `fn` in one transaction on the store with an audit record of `action` by "cli". */
static int audited(cli_ctx *ctx, const char *action, const char *detail, int (*fn)(db_store *, void *),
                   void *arg) {
  int err = db_store_begin(ctx->store, 0);
  if (err) return err;
  err = fn(ctx->store, arg);
  db_audit a = {0, "cli", action, "cli", detail};
  if (!err) err = db_store_audit_append(ctx->store, &a);
  if (!err) return db_store_commit(ctx->store);
  db_store_rollback(ctx->store);
  return err;
}

static void print_ratio(FILE *out, double v, int csv) {
  if (isnan(v))
    fputs(csv ? "" : "      -", out);
  else if (csv)
    fprintf(out, "%.4f", v);
  else
    fprintf(out, "%6.1f%%", 100 * v);
}

static void print_time(int64_t ms) {
  char s[25] = "";
  if (ms) db_format_time_ms(ms, s);
  fputs(s, stdout);
}

/* ---- obligations and rules ---- */

typedef struct defs_job {
  int is_rule;
  void *items;
  size_t n;
} defs_job;

static int save_defs(db_store *s, void *arg) {
  defs_job *j = arg;
  return j->is_rule ? db_rules_save(s, j->items, j->n) : db_obligations_save(s, j->items, j->n);
}

/* Judges the rules just imported on every cell of their inputs (a cube of the store). */
static int judge_rules(cli_ctx *ctx, const db_rule *rules, size_t n) {
  db_diag d = DB_DIAG_INIT;
  db_cube *cube = NULL;
  db_derive *e = NULL;
  int err = db_cube_open(ctx->store, &ctx->cat, &cube, &d);
  if (!err) err = db_derive_open(&ctx->cat, &e, &d);
  if (!err) err = db_derive_load_targets(e, ctx->store);
  const db_cube_version *v = err ? NULL : db_cube_acquire(cube);
  for (size_t i = 0; i < n && !err; i++) {
    db_check_stats st = {0};
    err = db_rules_check(ctx->store, &ctx->cat, e, v, NULL, 0, rules[i].code, 0, db_now_ms(), &st, &d);
    if (!err && !ctx->quiet)
      printf("rule %s: %lld cells judged, %lld violations opened, %lld updated, %lld resolved\n",
             rules[i].code, (long long)st.cells, (long long)st.opened, (long long)st.updated,
             (long long)st.resolved);
  }
  if (v) db_cube_release(v);
  if (err) {
    cli_print_problems(&d, "judging the rules");
    fprintf(stderr, "judging the rules: %s\n", db_strerror(err));
  }
  db_derive_close(e);
  db_cube_close(cube);
  db_diag_free(&d);
  return err;
}

/* `quality obligations` and `quality rules`: import FILE or list. */
static int run_defs(cli_ctx *ctx, int argc, char **argv, int is_rule) {
  const cli_command *cmd = &cli_quality_commands[is_rule ? C_RULES : C_OBLIGATIONS];
  const char *format = NULL, *what = is_rule ? "rules" : "obligations";
  cli_option spec[] = {{"format", 1, &format}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  int list = argc - first == 1 && strcmp(argv[first], "list") == 0;
  if (!list && !(argc - first == 2 && strcmp(argv[first], "import") == 0))
    return cli_usage_error(cmd, "expected `import FILE` or `list`");
  const char *path = list ? NULL : argv[first + 1], *fmt = list ? NULL : file_format(format, path);
  if (!list && !fmt) return cli_usage_error(cmd, "--format %s: csv or json", format);
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  void *items = NULL;
  size_t n = 0;
  db_diag d = DB_DIAG_INIT;
  db_buf text = DB_BUF_INIT;
  int err = 0;
  if (list) {
    err = is_rule ? db_rules_load(ctx->store, &ctx->cat, (db_rule **)&items, &n)
                  : db_obligations_load(ctx->store, &ctx->cat, (db_obligation **)&items, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && !err; i++) {
      char *s =
          is_rule ? db_rule_json(&((db_rule *)items)[i]) : db_obligation_json(&((db_obligation *)items)[i]);
      json_array_append_new(arr, json_loads(s, 0, NULL));
      db_free(s);
    }
    json_t *doc = json_pack("{s:o}", what, arr);
    if (!err) json_dumpf(doc, stdout, JSON_INDENT(2)), fputc('\n', stdout);
    json_decref(doc);
    if (err) fprintf(stderr, "quality %s list: %s\n", what, db_strerror(err));
    goto done;
  }
  if ((rc = cli_read_file(path, &text)) != 0) goto done;
  err = is_rule ? db_rules_read(db_buf_str(&text), text.len, fmt, &ctx->cat, (db_rule **)&items, &n, &d)
                : db_obligations_read(db_buf_str(&text), text.len, fmt, &ctx->cat, (db_obligation **)&items,
                                      &n, &d);
  if (err) {
    cli_print_problems(&d, path);
    if (err == DB_EINVAL)
      fprintf(stderr, "%s: rejected (%zu problems); nothing was written\n", path, db_diag_total(&d));
    goto done;
  }
  char detail[64];
  snprintf(detail, sizeof detail, "{\"count\":%zu}", n);
  defs_job job = {is_rule, items, n};
  err = audited(ctx, is_rule ? "quality.rules" : "quality.obligations", detail, save_defs, &job);
  if (err)
    fprintf(stderr, "%s: %s; nothing was written\n", path, db_strerror(err));
  else if (!ctx->quiet)
    printf("%s: %zu %s imported\n", path, n, what);
  if (!err && is_rule) err = judge_rules(ctx, items, n);
done:
  if (is_rule)
    db_rules_free(items, n);
  else
    db_obligations_free(items, n);
  db_buf_free(&text);
  db_diag_free(&d);
  return rc ? rc : cli_exit_code(err);
}

static int run_obligations(cli_ctx *ctx, int argc, char **argv) { return run_defs(ctx, argc, argv, 0); }
static int run_rules(cli_ctx *ctx, int argc, char **argv) { return run_defs(ctx, argc, argv, 1); }

/* ---- report ---- */

static void print_rows(const db_supply_row *rows, size_t n, const char *key_name, int csv) {
  if (csv)
    printf(
        "%s,expected,received,on_time,late,missing,invalid,pending,completeness,timeliness,validity,score,"
        "rank\n",
        key_name);
  else
    printf("%-4s %-18s %8s %8s %7s %5s %7s %7s %7s %7s %7s %6s\n", "rank", key_name, "expected", "received",
           "on_time", "late", "missing", "invalid", "compl.", "timely", "valid", "score");
  db_buf key = DB_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    const db_supply_row *r = &rows[i];
    if (csv) {
      db_buf_clear(&key);
      db_buf_csv_field(&key, r->key);
      printf("%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,", db_buf_str(&key), (long long)r->expected,
             (long long)r->received, (long long)r->on_time, (long long)r->late, (long long)r->missing,
             (long long)r->invalid, (long long)r->pending);
    } else {
      char rank[16] = "-";
      if (r->rank) snprintf(rank, sizeof rank, "%lld", (long long)r->rank);
      printf("%-4s %-18s %8lld %8lld %7lld %5lld %7lld %7lld ", rank, r->key, (long long)r->expected,
             (long long)r->received, (long long)r->on_time, (long long)r->late, (long long)r->missing,
             (long long)r->invalid);
    }
    const double ratios[3] = {r->completeness, r->timeliness, r->validity};
    for (int k = 0; k < 3; k++) {
      print_ratio(stdout, ratios[k], csv);
      fputs(csv ? "," : " ", stdout);
    }
    if (!csv) {
      if (isnan(r->score))
        printf("%6s\n", "-");
      else
        printf("%6.1f\n", r->score);
    } else {
      if (!isnan(r->score)) printf("%.2f", r->score);
      if (r->rank)
        printf(",%lld\n", (long long)r->rank);
      else
        printf(",\n");
    }
  }
  db_buf_free(&key);
}

static void print_cells(const db_catalog *cat, const db_obligation *ob, const db_supply_cell *cells, size_t n,
                        db_cell_state want, int csv) {
  if (csv)
    printf("agency,obligation,indicator,orgunit,period,deadline,received,state,days_late,invalid\n");
  else
    printf("%-8s %-20s %-10s %-8s %-10s %-24s %-8s %4s\n", "agency", "indicator", "orgunit", "period",
           "deadline", "received", "state", "late");
  for (size_t i = 0; i < n; i++) {
    const db_supply_cell *c = &cells[i];
    if (c->state != want) continue;
    char period[DB_PERIOD_CODE_MAX], deadline[11];
    db_period_format(&c->period, period);
    db_format_date(c->deadline_day, deadline);
    const db_obligation *o = &ob[c->obligation];
    const char *ind = cat->indicators[c->indicator].code, *unit = cat->units[c->unit].code;
    if (csv) {
      printf("%s,%s,%s,%s,%s,%s,", o->agency, o->code, ind, unit, period, deadline);
      print_time(c->received_ms);
      printf(",%s,%lld,%s\n", db_cell_state_name(c->state), (long long)c->days_late,
             c->invalid ? "true" : "false");
    } else {
      char recv[25] = "-";
      if (c->received_ms) db_format_time_ms(c->received_ms, recv);
      printf("%-8s %-20s %-10s %-8s %-10s %-24s %-8s %4lld\n", o->agency, ind, unit, period, deadline, recv,
             db_cell_state_name(c->state), (long long)c->days_late);
    }
  }
}

static int run_report(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_quality_commands[C_REPORT];
  const char *by = NULL, *agency = NULL, *unit = NULL, *group = NULL, *indicator = NULL, *period = NULL,
             *as_of = NULL, *list = NULL, *csv = NULL;
  cli_option spec[] = {{"by", 1, &by},
                       {"agency", 1, &agency},
                       {"unit", 1, &unit},
                       {"group", 1, &group},
                       {"indicator", 1, &indicator},
                       {"period", 1, &period},
                       {"as-of", 1, &as_of},
                       {"list", 1, &list},
                       {"csv", 0, &csv},
                       {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  db_supply_by group_by = DB_BY_AGENCY;
  const char *by_name = by && (strcmp(by, "ward") == 0 || strcmp(by, "unit") == 0) ? "orgunit" : by;
  if (by && db_supply_by_parse(by_name, &group_by) != 0)
    return cli_usage_error(cmd, "--by %s: agency, ward, indicator, group, period or obligation", by);
  db_cell_state want = 0;
  for (int k = DB_CELL_ON_TIME; list && k <= DB_CELL_DUE; k++)
    if (strcmp(list, db_cell_state_name((db_cell_state)k)) == 0) want = (db_cell_state)k;
  if (list && !want) return cli_usage_error(cmd, "--list %s: on_time, late, overdue or due", list);
  db_supply_filter f = {agency, unit, group, indicator, {0}, {0}};
  char why[128];
  if (period && db_period_parse(period, strlen(period), &f.from, why) != 0)
    return cli_usage_error(cmd, "--period %s: %s", period, why);
  f.to = f.from;
  int64_t now = db_now_ms();
  if (as_of && db_parse_time_ms(as_of, &now) != 0)
    return cli_usage_error(cmd, "--as-of %s: not an RFC 3339 time (2025-08-10T00:00:00+07:00)", as_of);
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  if (agency && !db_catalog_agency(&ctx->cat, agency)) {
    fprintf(stderr, "unknown agency '%s'\n", agency);
    return CLI_NOT_FOUND;
  }
  if (unit && !db_catalog_unit(&ctx->cat, unit)) {
    fprintf(stderr, "unknown org unit '%s'\n", unit);
    return CLI_NOT_FOUND;
  }
  db_obligation *ob = NULL;
  size_t n_ob = 0, n = 0;
  db_supply_cell *cells = NULL;
  db_calendar *cal = db_calendar_new();
  int err = db_obligations_load(ctx->store, &ctx->cat, &ob, &n_ob);
  if (!err) err = db_calendar_load(ctx->store, cal);
  if (!err) err = db_supply_cells(ctx->store, &ctx->cat, cal, ob, n_ob, &f, now, &cells, &n);
  if (!err) err = db_supply_mark_invalid(ctx->store, &ctx->cat, cells, n);
  if (!err && want) {
    print_cells(&ctx->cat, ob, cells, n, want, csv != NULL);
  } else if (!err) {
    db_supply_row *rows;
    size_t nr;
    db_supply_aggregate(&ctx->cat, ob, cells, n, group_by, &rows, &nr);
    print_rows(rows, nr, by ? by : "agency", csv != NULL);
    db_supply_rows_free(rows, nr);
  }
  if (err)
    fprintf(stderr, "quality report: %s\n", db_strerror(err));
  else if (!n_ob && !ctx->quiet)
    fprintf(stderr, "no reporting obligations: see `databrain quality obligations`\n");
  db_free(cells);
  db_obligations_free(ob, n_ob);
  db_calendar_free(cal);
  return cli_exit_code(err);
}

/* ---- violations ---- */

typedef struct violations_ctx {
  const char *status, *rule, *unit;
  int csv;
  size_t shown;
} violations_ctx;

static const char *member(json_t *o, const char *name) {
  const char *s = json_string_value(json_object_get(o, name));
  return s ? s : "";
}

static int print_violation(void *arg, const db_record *rec) {
  violations_ctx *vc = arg;
  json_t *b = json_loads(rec->body, 0, NULL);
  const char *st = member(b, "status");
  int take = json_is_object(b) && (strcmp(vc->status, "all") == 0 || strcmp(vc->status, st) == 0) &&
             (!vc->rule || strcmp(vc->rule, member(b, "rule")) == 0) &&
             (!vc->unit || strcmp(vc->unit, member(b, "orgunit")) == 0);
  if (take && vc->csv) {
    db_buf line = DB_BUF_INIT;
    const char *cols[] = {"rule", "importance", "orgunit", "period", "status", "message"};
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
      db_buf_csv_field(&line, member(b, cols[k]));
      db_buf_putc(&line, ',');
    }
    char *obs = json_dumps(json_object_get(b, "observations"), JSON_COMPACT | JSON_ENCODE_ANY);
    db_buf_csv_field(&line, obs ? obs : "");
    free(obs);
    printf("%s\n", db_buf_str(&line));
    db_buf_free(&line);
  } else if (take) {
    printf("%-16s %-8s %-10s %-10s %-8s %s\n", member(b, "rule"), member(b, "importance"),
           member(b, "orgunit"), member(b, "period"), st, member(b, "message"));
  }
  vc->shown += take;
  json_decref(b);
  return 0;
}

static int run_violations(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_quality_commands[C_VIOLATIONS];
  const char *status = "open", *rule = NULL, *unit = NULL, *csv = NULL;
  cli_option spec[] = {{"status", 1, &status}, {"rule", 1, &rule}, {"unit", 1, &unit}, {"csv", 0, &csv}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if (strcmp(status, "open") && strcmp(status, "resolved") && strcmp(status, "all"))
    return cli_usage_error(cmd, "--status %s: open, resolved or all", status);
  if ((rc = cli_open(ctx)) != 0) return rc;
  violations_ctx vc = {status, rule, unit, csv != NULL, 0};
  if (vc.csv)
    printf("rule,importance,orgunit,period,status,message,observations\n");
  else
    printf("%-16s %-8s %-10s %-10s %-8s %s\n", "rule", "level", "orgunit", "period", "status", "message");
  int err = db_store_record_scan(ctx->store, DB_VIOLATION_KIND, print_violation, &vc);
  if (err) fprintf(stderr, "quality violations: %s\n", db_strerror(err));
  return cli_exit_code(err);
}

/* ---- outliers ---- */

/* One observation of the indicator, for grouping by series. */
typedef struct obs_point {
  int64_t series, orgunit, period;
  double value;
  char *dimkey;
} obs_point;

typedef struct points {
  obs_point *items;
  size_t n, cap;
} points;

static int collect_point(void *arg, const db_obs_row *row) {
  points *p = arg;
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 1024;
    p->items = db_realloc(p->items, p->cap * sizeof *p->items);
  }
  p->items[p->n++] = (obs_point){row->series, row->orgunit, row->period, row->value,
                                 db_strdup(row->dimkey ? row->dimkey : "")};
  return 0;
}

static int by_series_period(const void *a, const void *b) {
  const obs_point *x = a, *y = b;
  if (x->series != y->series) return x->series < y->series ? -1 : 1;
  return (x->period > y->period) - (x->period < y->period);
}

/* Scores the points of one series [from, to) and prints its outliers; returns how many. */
static size_t score_series(const db_catalog *cat, const db_indicator *ind, const obs_point *pts, size_t n,
                           double threshold, int csv) {
  db_period first, last;
  if (db_period_from_key(pts[0].period, &first) || db_period_from_key(pts[n - 1].period, &last)) return 0;
  int64_t np = db_period_diff(&first, &last) + 1;
  if (np <= 0 || np > 1000000) return 0;
  double *x = db_malloc((size_t)np * sizeof *x), *z = db_malloc((size_t)np * sizeof *z);
  for (int64_t k = 0; k < np; k++) x[k] = NAN;
  for (size_t i = 0; i < n; i++) {
    db_period p;
    if (db_period_from_key(pts[i].period, &p) == 0) x[db_period_diff(&first, &p)] = pts[i].value;
  }
  size_t found = db_outlier_scores(x, (size_t)np, db_outlier_season(ind->periodicity), threshold, z);
  const db_orgunit *u = NULL;
  for (size_t k = 0; k < cat->n_units && found; k++)
    if (cat->units[k].id == pts[0].orgunit) u = &cat->units[k];
  for (int64_t k = 0; k < np && found; k++) {
    if (isnan(z[k]) || fabs(z[k]) <= threshold) continue;
    db_period p = db_period_add(&first, k);
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&p, code);
    printf(csv ? "%s,%s,%s,%s,%.15g,%.2f\n" : "%-16s %-10s %-12s %-10s %14.6g %7.2f\n", ind->code,
           u ? u->code : "?", pts[0].dimkey, code, x[k], z[k]);
  }
  db_free(x);
  db_free(z);
  return found;
}

static int run_outliers(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_quality_commands[C_OUTLIERS];
  const char *units = NULL, *children_of = NULL, *th = NULL, *csv = NULL;
  cli_option spec[] = {
      {"unit", 1, &units}, {"children-of", 1, &children_of}, {"threshold", 1, &th}, {"csv", 0, &csv}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one INDICATOR");
  double threshold = 3.5;
  if (th && (db_parse_double(th, strlen(th), &threshold) != 0 || !(threshold > 0)))
    return cli_usage_error(cmd, "--threshold %s: a positive number (3.5 is customary)", th);
  if (units && children_of) return cli_usage_error(cmd, "give --unit or --children-of, not both");
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  const db_indicator *ind = db_catalog_indicator(&ctx->cat, argv[first]);
  if (!ind) {
    fprintf(stderr, "unknown indicator '%s'\n", argv[first]);
    return CLI_NOT_FOUND;
  }
  int64_t *unit_ids = NULL;
  size_t n_units = 0;
  if (units && (rc = cli_unit_ids(ctx, units, &unit_ids, &n_units)) != 0) return rc;
  if (children_of) {
    const db_orgunit *parent = db_catalog_unit(&ctx->cat, children_of);
    if (!parent) {
      fprintf(stderr, "unknown org unit '%s'\n", children_of);
      return CLI_NOT_FOUND;
    }
    const int64_t *kids;
    n_units = db_catalog_children(&ctx->cat, (size_t)(parent - ctx->cat.units), &kids);
    unit_ids = db_malloc((n_units + 1) * sizeof *unit_ids);
    for (size_t i = 0; i < n_units; i++) unit_ids[i] = ctx->cat.units[kids[i]].id;
  }
  points pts = {0};
  db_obs_filter f = {.indicators = &ind->id, .n_indicators = 1, .orgunits = unit_ids, .n_orgunits = n_units};
  int err = children_of && !n_units ? 0 : db_store_obs_read(ctx->store, &f, collect_point, &pts);
  size_t found = 0;
  if (!err) {
    if (pts.n) qsort(pts.items, pts.n, sizeof *pts.items, by_series_period);
    if (csv)
      printf("indicator,orgunit,dims,period,value,z\n");
    else
      printf("%-16s %-10s %-12s %-10s %14s %7s\n", "indicator", "orgunit", "dims", "period", "value", "z");
    for (size_t i = 0, j; i < pts.n; i = j) {
      for (j = i + 1; j < pts.n && pts.items[j].series == pts.items[i].series;) j++;
      found += score_series(&ctx->cat, ind, pts.items + i, j - i, threshold, csv != NULL);
    }
    if (!ctx->quiet && !csv)
      fprintf(stderr, "%zu outliers (|z| > %g) in %zu values\n", found, threshold, pts.n);
  } else {
    fprintf(stderr, "quality outliers: %s\n", db_strerror(err));
  }
  for (size_t i = 0; i < pts.n; i++) db_free(pts.items[i].dimkey);
  db_free(pts.items);
  db_free(unit_ids);
  return cli_exit_code(err);
}

/* ---- unit attribute checks ---- */

static void print_findings(const db_unit_finding *f, size_t n, int csv, FILE *out, const char *prefix) {
  db_buf line = DB_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    if (!csv) {
      fprintf(out, "%s%s (province %s)\n", prefix, f[i].message, f[i].province);
      continue;
    }
    db_buf_clear(&line);
    const char *cols[] = {f[i].code, f[i].name, f[i].province, f[i].attribute};
    for (size_t k = 0; k < 4; k++) db_buf_csv_field(&line, cols[k]), db_buf_putc(&line, ',');
    const double nums[] = {f[i].value, f[i].z_area, f[i].z_density};
    for (size_t k = 0; k < 3; k++) {
      if (!isnan(nums[k])) db_buf_printf(&line, k ? "%.2f" : "%.15g", nums[k]);
      db_buf_putc(&line, ',');
    }
    db_buf_csv_field(&line, f[i].message);
    fprintf(out, "%s\n", db_buf_str(&line));
  }
  db_buf_free(&line);
}

static int run_check_units(cli_ctx *ctx, int argc, char **argv) {
  const char *csv = NULL, *path = NULL;
  cli_option spec[] = {{"csv", 0, &csv}, {0}};
  db_buf text = DB_BUF_INIT;
  int rc = file_operand(&cli_quality_commands[C_CHECK_UNITS], argc, argv, spec, &path, &text);
  if (rc) {
    db_buf_free(&text);
    return rc < 0 ? CLI_OK : rc;
  }
  db_diag d = DB_DIAG_INIT;
  db_unit_attrs *a = NULL;
  db_unit_finding *f = NULL;
  size_t n = 0, nf = 0;
  int err = db_unit_attrs_read(db_buf_str(&text), text.len, &a, &n, &d);
  cli_print_problems(&d, path);
  if (!err) {
    db_unit_attrs_check(a, n, &f, &nf);
    if (csv) printf("code,name,province,attribute,value,z_area,z_density,message\n");
    print_findings(f, nf, csv != NULL, stdout, "");
    if (!ctx->quiet) fprintf(stderr, "%s: %zu units checked, %zu findings\n", path, n, nf);
  } else {
    fprintf(stderr, "%s: not a unit attribute file (%zu problems)\n", path, db_diag_total(&d));
  }
  db_unit_findings_free(f, nf);
  db_unit_attrs_free(a, n);
  db_diag_free(&d);
  db_buf_free(&text);
  return err ? cli_exit_code(err) : nf ? CLI_REJECTED : CLI_OK;
}

void cli_quality_unit_warnings(cli_ctx *ctx) {
  if (cli_open_catalog(ctx) != CLI_OK) return;
  const db_catalog *cat = &ctx->cat;
  db_unit_attrs *a = db_calloc(cat->n_units + 1, sizeof *a);
  size_t n = 0, nf = 0;
  for (size_t i = 0; i < cat->n_units; i++) {
    const db_orgunit *u = &cat->units[i];
    if (u->valid_to != DB_DATE_NONE || (db_is_unknown(u->area_km2) && db_is_unknown(u->population))) continue;
    a[n++] = (db_unit_attrs){db_strdup(u->code),
                             db_strdup(u->name),
                             db_strdup(u->parent ? u->parent : ""),
                             db_is_unknown(u->area_km2) ? NAN : u->area_km2,
                             db_is_unknown(u->population) ? NAN : u->population,
                             0};
  }
  db_unit_finding *f = NULL;
  db_unit_attrs_check(a, n, &f, &nf);
  print_findings(f, nf, 0, stderr, "warning: org unit ");
  if (nf)
    fprintf(stderr,
            "warning: %zu unit attribute findings (kept as imported; `databrain quality check-units` tells "
            "more)\n",
            nf);
  db_unit_findings_free(f, nf);
  db_unit_attrs_free(a, n);
}

/* ---- approval ---- */

static int run_approve(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_quality_commands[C_APPROVE];
  const char *group = NULL, *unit = NULL, *period = NULL, *note = NULL;
  cli_option spec[] = {
      {"group", 1, &group}, {"unit", 1, &unit}, {"period", 1, &period}, {"note", 1, &note}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if (!group || !unit || !period) return cli_usage_error(cmd, "--group, --unit and --period are required");
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  db_diag d = DB_DIAG_INIT;
  db_approval_result res = {0};
  int err =
      db_quality_approve(ctx->store, &ctx->cat, group, unit, period, "cli", note, db_now_ms(), &res, &d);
  if (err) {
    cli_print_problems(&d, "approve");
    if (!d.count) fprintf(stderr, "approve: %s\n", db_strerror(err));
  } else if (!ctx->quiet) {
    printf("approved %s at %s for %s: %lld values official and locked (%lld made official now, batch %lld)\n",
           group, unit, period, (long long)res.cells, (long long)res.changed, (long long)res.seq);
  }
  db_diag_free(&d);
  return cli_exit_code(err);
}

/* ---- calendar ---- */

static int save_calendar(db_store *s, void *cal) { return db_calendar_save(s, cal); }

static int run_calendar_import(cli_ctx *ctx, int argc, char **argv) {
  const char *path = NULL;
  db_buf text = DB_BUF_INIT;
  int rc = file_operand(&cli_quality_commands[C_CAL_IMPORT], argc, argv, NULL, &path, &text);
  if (rc || (rc = cli_open(ctx)) != 0) {
    db_buf_free(&text);
    return rc < 0 ? CLI_OK : rc;
  }
  db_calendar *cal = db_calendar_new();
  db_diag d = DB_DIAG_INIT;
  int err = db_calendar_read_csv(cal, db_buf_str(&text), text.len, NULL, &d);
  const db_calendar_day *days;
  size_t n = db_calendar_days(cal, &days);
  if (err) {
    cli_print_problems(&d, path);
    if (err == DB_EINVAL)
      fprintf(stderr, "%s: rejected (%zu problems); nothing was written\n", path, db_diag_total(&d));
  } else if ((err = audited(ctx, "calendar.import", NULL, save_calendar, cal)) != 0) {
    fprintf(stderr, "%s: %s; nothing was written\n", path, db_strerror(err));
  } else if (!ctx->quiet) {
    printf("%s: %zu days imported\n", path, n);
  }
  db_calendar_free(cal);
  db_diag_free(&d);
  db_buf_free(&text);
  return cli_exit_code(err);
}

static int run_calendar_list(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_quality_commands[C_CAL_LIST];
  const char *year = NULL, *csv = NULL;
  cli_option spec[] = {{"year", 1, &year}, {"csv", 0, &csv}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if (year && (strlen(year) != 4 || strspn(year, "0123456789") != 4))
    return cli_usage_error(cmd, "--year %s: a year such as 2025", year);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_calendar *cal = db_calendar_new();
  int err = db_calendar_load(ctx->store, cal);
  const db_calendar_day *days;
  size_t n = err ? 0 : db_calendar_days(cal, &days);
  if (csv) printf("date,kind,name\n");
  db_buf line = DB_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    char date[11];
    db_format_date(days[i].day, date);
    if (year && strncmp(date, year, 4) != 0) continue;
    db_buf_clear(&line);
    if (csv)
      db_buf_printf(&line, "%s,%s,", date, db_day_kind_name(days[i].kind)),
          db_buf_csv_field(&line, days[i].name ? days[i].name : "");
    else
      db_buf_printf(&line, "%s  %-8s %s", date, db_day_kind_name(days[i].kind),
                    days[i].name ? days[i].name : "");
    printf("%s\n", db_buf_str(&line));
  }
  db_buf_free(&line);
  if (err) fprintf(stderr, "calendar list: %s\n", db_strerror(err));
  db_calendar_free(cal);
  return cli_exit_code(err);
}
