/* cli_tasks.c - `databrain tasks import|export|list|stats` and `databrain directive add`: the task list in
 * and out of CSV (as agencies keep it in Excel), the tasks with their computed state, and the statistics
 * per agency or per ward (optionally published as the TASK_* indicators). Days are counted on the working-day
 * calendar held in the store (Monday to Friday when it holds none). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cli/cli.h"
#include "ingest/calendar_import.h"
#include "ingest/ingest.h"
#include "model/period.h"
#include "tasks/tasks.h"

static int run_import(cli_ctx *ctx, int argc, char **argv);
static int run_export(cli_ctx *ctx, int argc, char **argv);
static int run_list(cli_ctx *ctx, int argc, char **argv);
static int run_stats(cli_ctx *ctx, int argc, char **argv);
static int run_directive_add(cli_ctx *ctx, int argc, char **argv);

#define FILTER_HELP                                                                                     \
  "--agency CODE   tasks the agency leads or joins     --unit CODE      tasks at the unit or below\n" \
  "--status S      new, in_progress, done, cancelled, overdue, done_on_time, done_late\n"           \
  "--overdue       overdue tasks only                  --as-of DATE     compute for that day (default today)\n"

const cli_command cli_tasks_commands[] = {
    {"tasks import", "FILE",
     "Import a task list from CSV (Excel export; Vietnamese headers, dd/mm/yyyy dates), all-or-nothing.",
     "Columns (English or Vietnamese): title/Tên nhiệm vụ*, lead/Cơ quan chủ trì* (code or name),\n"
     "co_agencies/Cơ quan phối hợp, unit/Địa bàn, directive/Số văn bản, assigned/Ngày giao,\n"
     "deadline/Thời hạn or recurrence/Định kỳ (\"monthly:5\"), priority/Mức độ ưu tiên, indicators,\n"
     "condition, condition_period, status/Trạng thái, done/Ngày hoàn thành. Every problem is listed with\n"
     "its line and column and nothing is written (exit code 3).\n",
     run_import},
    {"tasks export", "[FILTERS]", "Print tasks as CSV with their computed state (the import's columns).", FILTER_HELP,
     run_export},
    {"tasks list", "[FILTERS]", "List tasks: id, state, due day, days late, lead agency, title.", FILTER_HELP,
     run_list},
    {"tasks stats", "[--by agency|unit] [--as-of DATE] [--publish]",
     "On-time rate, overdue count and average delay per agency or unit, ranked.",
     "Rates and delays are weighted by priority (low 1, normal 2, high 3, urgent 4); the delay is in\n"
     "working days. --publish also writes them as the TASK_* indicators (one batch, actor system).\n",
     run_stats},
    {"directive add", "NUMBER --date DATE --issuer TEXT --title TEXT",
     "Record a directive (125/TB-VP) that tasks can name.", "", run_directive_add},
    {0},
};

/* The calendar of the store (empty when it holds none); owned. */
static db_calendar *store_calendar(cli_ctx *ctx) {
  db_calendar *cal = db_calendar_new();
  db_calendar_load(ctx->store, cal);
  return cal;
}

static int parse_day_option(const cli_command *cmd, const char *name, const char *text, int64_t *day) {
  if (!text) return CLI_OK;
  if (db_tasks_parse_day(text, strlen(text), day) != DB_OK)
    return cli_usage_error(cmd, "--%s %s: not a date (YYYY-MM-DD or dd/mm/yyyy)", name, text);
  return CLI_OK;
}

static int run_import(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_tasks_commands[0];
  cli_option spec[] = {{0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected FILE");
  const char *path = argv[first];
  db_buf text = DB_BUF_INIT;
  if ((rc = cli_read_file(path, &text)) != CLI_OK || (rc = cli_open_catalog(ctx)) != 0) {
    db_buf_free(&text);
    return rc;
  }
  db_diag d = DB_DIAG_INIT;
  int64_t n = 0;
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  int err = db_store_begin(ctx->store, 0);
  if (!err) {
    err = db_tasks_import_csv(ctx->store, &ctx->cat, db_buf_str(&text), text.len, base, "cli", &n, &d);
    if (!err) err = db_store_commit(ctx->store);
    else db_store_rollback(ctx->store);
  }
  if (err) {
    cli_print_problems(&d, path);
    if (err == DB_EINVAL) fprintf(stderr, "%s: rejected (%zu problems); nothing was written\n", path, db_diag_total(&d));
  } else if (!ctx->quiet) {
    printf("%s: %lld tasks imported\n", path, (long long)n);
  }
  db_diag_free(&d);
  db_buf_free(&text);
  return cli_exit_code(err);
}

/* Reads the filter options of export and list into f and clk->today. */
static int read_filters(const cli_command *cmd, int argc, char **argv, db_task_filter *f, int64_t *today) {
  const char *agency = NULL, *unit = NULL, *status = NULL, *overdue = NULL, *as_of = NULL;
  cli_option spec[] = {{"agency", 1, &agency}, {"unit", 1, &unit}, {"status", 1, &status},
                       {"overdue", 0, &overdue}, {"as-of", 1, &as_of}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc;
  if (argc != first) return cli_usage_error(cmd, "unexpected argument %s", argv[first]);
  db_task_filter_init(f);
  f->agency = agency;
  f->unit = unit;
  f->state = status;
  f->overdue = overdue ? 1 : 0;
  *today = db_period_at(DB_PT_DAY, 0, db_now_ms()).ord;
  return parse_day_option(cmd, "as-of", as_of, today);
}

static int run_export(cli_ctx *ctx, int argc, char **argv) {
  db_task_filter f;
  int64_t today;
  int rc = read_filters(&cli_tasks_commands[1], argc, argv, &f, &today);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  f.cat = &ctx->cat;
  db_calendar *cal = store_calendar(ctx);
  db_task_clock clk = {cal, today};
  int err = db_tasks_export_csv(ctx->store, &f, &clk, stdout);
  if (err) fprintf(stderr, "tasks export: %s\n", db_strerror(err));
  db_calendar_free(cal);
  return cli_exit_code(err);
}

static int print_task(void *ctx, const db_task *t, const db_task_view *v) {
  char due[11] = "-";
  if (v->due != DB_DATE_NONE) db_format_date(v->due, due);
  printf("%-6lld %-13s %-10s %4lld  %-8s %s\n", (long long)t->id, v->state, due, (long long)v->days_late, t->lead,
         t->title);
  return 0;
}

static int run_list(cli_ctx *ctx, int argc, char **argv) {
  db_task_filter f;
  int64_t today;
  int rc = read_filters(&cli_tasks_commands[2], argc, argv, &f, &today);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  f.cat = &ctx->cat;
  db_calendar *cal = store_calendar(ctx);
  db_task_clock clk = {cal, today};
  printf("%-6s %-13s %-10s %4s  %-8s %s\n", "id", "state", "due", "late", "lead", "title");
  int err = db_tasks_list(ctx->store, &f, &clk, print_task, NULL);
  if (err) fprintf(stderr, "tasks list: %s\n", db_strerror(err));
  db_calendar_free(cal);
  return cli_exit_code(err);
}

/* Writes the statistics as indicators (their catalog first). */
static int publish(cli_ctx *ctx, const db_task_clock *clk) {
  db_diag d = DB_DIAG_INIT;
  int changed = 0;
  int err = db_store_begin(ctx->store, 0);
  if (!err) {
    err = db_tasks_ensure_catalog(ctx->store, &ctx->cat, &changed, &d);
    if (!err) err = db_store_commit(ctx->store);
    else db_store_rollback(ctx->store);
  }
  if (!err && changed) {
    db_catalog_free(&ctx->cat);
    ctx->have_catalog = 0;
    err = cli_open_catalog(ctx) ? DB_ESTORE : 0;
  }
  db_ingest_result res = {0};
  if (!err) err = db_tasks_publish_stats(ctx->store, &ctx->cat, clk, "system", &res, &d);
  if (err) cli_print_problems(&d, "tasks stats --publish");
  else if (!ctx->quiet) printf("published: %lld values (batch %lld)\n", (long long)res.rows, (long long)res.seq);
  db_ingest_result_free(&res);
  db_diag_free(&d);
  return err;
}

static int run_stats(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_tasks_commands[3];
  const char *by = NULL, *as_of = NULL, *pub = NULL;
  cli_option spec[] = {{"by", 1, &by}, {"as-of", 1, &as_of}, {"publish", 0, &pub}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc != first) return cli_usage_error(cmd, "unexpected argument %s", argv[first]);
  db_tasks_by group = DB_TASKS_BY_AGENCY;
  if (by && strcmp(by, "unit") == 0) group = DB_TASKS_BY_UNIT;
  else if (by && strcmp(by, "agency") != 0) return cli_usage_error(cmd, "--by %s: agency or unit", by);
  int64_t today = db_period_at(DB_PT_DAY, 0, db_now_ms()).ord;
  if ((rc = parse_day_option(cmd, "as-of", as_of, &today))) return rc;
  if ((rc = cli_open_catalog(ctx)) != 0) return rc;
  db_calendar *cal = store_calendar(ctx);
  db_task_clock clk = {cal, today};
  db_task *tasks = NULL;
  size_t n = 0, nr = 0;
  db_tasks_stat *rows = NULL;
  int err = db_tasks_load_all(ctx->store, &tasks, &n);
  if (!err) err = db_tasks_stats(tasks, n, &clk, group, &rows, &nr);
  if (!err) {
    printf("%-4s %-12s %5s %5s %7s %7s %8s %9s\n", "rank", group == DB_TASKS_BY_UNIT ? "unit" : "agency", "items",
           "done", "on time", "overdue", "on time%", "avg delay");
    for (size_t i = 0; i < nr; i++) {
      const db_tasks_stat *s = &rows[i];
      char rank[8] = "-", pct[16] = "-", delay[16] = "-";
      if (s->rank) snprintf(rank, sizeof rank, "%lld", (long long)s->rank);
      if (!isnan(s->ontime_pct)) snprintf(pct, sizeof pct, "%.1f", s->ontime_pct);
      if (!isnan(s->avg_delay)) snprintf(delay, sizeof delay, "%.2f", s->avg_delay);
      printf("%-4s %-12s %5lld %5lld %7lld %7lld %8s %9s\n", i + 1 == nr ? "" : rank, s->key[0] ? s->key : "total",
             (long long)s->items, (long long)s->done, (long long)s->done_on_time, (long long)s->overdue, pct, delay);
    }
  }
  if (!err && pub) err = publish(ctx, &clk);
  if (err && err != DB_EINVAL) fprintf(stderr, "tasks stats: %s\n", db_strerror(err));
  db_free(rows);
  db_tasks_free_all(tasks, n);
  db_calendar_free(cal);
  return cli_exit_code(err);
}

static int run_directive_add(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_tasks_commands[4];
  const char *date = NULL, *issuer = NULL, *title = NULL;
  cli_option spec[] = {{"date", 1, &date}, {"issuer", 1, &issuer}, {"title", 1, &title}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected NUMBER");
  db_directive dv = {0, argv[first], DB_DATE_NONE, (char *)issuer, (char *)title};
  if ((rc = parse_day_option(cmd, "date", date, &dv.date))) return rc;
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_diag d = DB_DIAG_INIT;
  int err = db_store_begin(ctx->store, 0);
  if (!err) {
    err = db_tasks_directive_add(ctx->store, &dv, "cli", &d);
    if (!err) err = db_store_commit(ctx->store);
    else db_store_rollback(ctx->store);
  }
  if (err) cli_print_problems(&d, "directive");
  else if (!ctx->quiet) printf("directive %s recorded\n", dv.number);
  db_diag_free(&d);
  return err == DB_EEXIST ? CLI_REJECTED : cli_exit_code(err);
}
