/* tasks_csv.c - task lists in and out of CSV, the form in which agencies keep them in Excel.
 *
 * Import reads every row before writing anything: each row becomes a task spec, checked like a task
 * created through the API, and every problem of every row is listed with its line and column; only a
 * file without problems is written, one task per row. Headers are matched folded (case, Vietnamese
 * diacritics, spaces, '_' and '-' ignored), English as the export writes them or Vietnamese as agencies
 * write them. The export's computed columns (id, state, due, days_late, started, percent) are accepted
 * and ignored, so an exported list reads back. */
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "ingest/csv.h"
#include "tasks/tasks_int.h"

#define COL_UNTIL DB__TF_COUNT       /* recurrence's last day */
#define COL_IGNORED (DB__TF_COUNT + 1)
#define N_COLS (DB__TF_COUNT + 2)

/* Accepted headers per column, folded and without separators. */
static const struct {
  int col;
  const char *names;
} headers[] = {
    {DB__TF_DIRECTIVE, "directive|sovanban|vanban|sohieuvanban|vanbangiao|sokyhieu"},
    {DB__TF_TITLE, "title|tennhiemvu|nhiemvu|noidungnhiemvu|noidung"},
    {DB__TF_DESCRIPTION, "description|mota|chitiet"},
    {DB__TF_LEAD, "lead|coquanchutri|donvichutri|chutri"},
    {DB__TF_CO, "coagencies|coquanphoihop|donviphoihop|phoihop"},
    {DB__TF_UNIT, "unit|diaban|madiaban|donvihanhchinh"},
    {DB__TF_ASSIGNED, "assigned|ngaygiao"},
    {DB__TF_DEADLINE, "deadline|thoihan|hanhoanthanh|han"},
    {DB__TF_RECURRENCE, "recurrence|dinhky"},
    {COL_UNTIL, "recurrenceuntil|dinhkydenngay|denngay"},
    {DB__TF_PRIORITY, "priority|mucdouutien|douutien|uutien"},
    {DB__TF_INDICATORS, "indicators|chitieu|chitieulienquan"},
    {DB__TF_CONDITION, "condition|dieukienhoanthanh|dieukien"},
    {DB__TF_CONDITION_PERIOD, "conditionperiod|kydanhgia"},
    {DB__TF_ORIGIN, "origin|nguon"},
    {DB__TF_STATUS, "status|trangthai|tinhtrang"},
    {DB__TF_DONE, "done|ngayhoanthanh"},
    {COL_IGNORED, "id|state|due|dayslate|started|percent|version"},
};

/* Folds a header: lower case without diacritics, keeping letters and digits only. */
static void fold_header(const char *p, size_t n, char *out, size_t cap) {
  char *tmp = db_malloc(n + 1);
  size_t m = db_text_fold(p, n, tmp);
  size_t k = 0;
  for (size_t i = 0; i < m && k + 1 < cap; i++)
    if ((tmp[i] >= 'a' && tmp[i] <= 'z') || (tmp[i] >= '0' && tmp[i] <= '9')) out[k++] = tmp[i];
  out[k] = 0;
  db_free(tmp);
}

static int header_column(const char *folded) {
  size_t n = strlen(folded);
  for (size_t i = 0; i < sizeof headers / sizeof *headers; i++)
    for (const char *p = headers[i].names; *p;) {
      const char *end = strchr(p, '|');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      if (len == n && memcmp(p, folded, n) == 0) return headers[i].col;
      p = end ? end + 1 : p + len;
    }
  return -1;
}

/* One row's texts (owned) and what was read from them. */
typedef struct row {
  long line;
  char *text[N_COLS];
  db_task_spec spec;
  int status;
  int64_t done;
  char *lead_code, *co_codes, *origin;
} row;

static void row_free(row *r) {
  for (int i = 0; i < N_COLS; i++) db_free(r->text[i]);
  db_free(r->lead_code);
  db_free(r->co_codes);
  db_free(r->origin);
}

/* An agency's code from a code or a name (folded match on name or English name); NULL when none. */
static const char *agency_code(const db_catalog *cat, const char *s) {
  const db_agency *a = db_catalog_agency(cat, s);
  if (a) return a->code;
  char want[512], got[512];
  fold_header(s, strlen(s), want, sizeof want);
  if (!*want) return NULL;
  for (size_t i = 0; i < cat->n_agencies; i++) {
    const db_agency *x = &cat->agencies[i];
    if (x->name && (fold_header(x->name, strlen(x->name), got, sizeof got), strcmp(got, want) == 0)) return x->code;
    if (x->name_en && (fold_header(x->name_en, strlen(x->name_en), got, sizeof got), strcmp(got, want) == 0))
      return x->code;
  }
  return NULL;
}

/* Splits a list on ';' or ',' and writes it back with ';', agencies resolved to codes. Unknown agencies
 * are kept as given (the validation names them). */
static char *normalise_list(const db_catalog *cat, const char *s, int agencies) {
  db_buf b = DB_BUF_INIT;
  for (const char *p = s; p && *p;) {
    size_t n = strcspn(p, ";,");
    while (n && *p == ' ') p++, n--;
    size_t m = n;
    while (m && p[m - 1] == ' ') m--;
    if (m) {
      char *item = db_strndup(p, m);
      const char *code = agencies ? agency_code(cat, item) : NULL;
      if (b.len) db_buf_putc(&b, ';');
      db_buf_puts(&b, code ? code : item);
      db_free(item);
    }
    p += n;
    if (*p) p++;
  }
  return b.len ? db_buf_take(&b) : (db_buf_free(&b), NULL);
}

static int col_problem(db_diag *d, const row *r, const int *cols, int col, const char *name, const char *fmt,
                       const char *arg) {
  return db_diag_add(d, r->line, cols[col], name, DB_EINVAL, fmt, arg);
}

/* A day column: 0 and *day (DB_DATE_NONE when blank), or a problem. */
static int read_day(db_diag *d, const row *r, const int *cols, int col, const char *name, int64_t *day) {
  *day = DB_DATE_NONE;
  const char *t = r->text[col];
  if (!t || !*t) return 0;
  if (db_tasks_parse_day(t, strlen(t), day) == DB_OK) return 0;
  return col_problem(d, r, cols, col, name, "'%s' is not a date (dd/mm/yyyy or YYYY-MM-DD)", t);
}

/* "monthly:5", "hằng tháng ngày 5", "every month by day 5", "5": the day, or -1. */
static int recurrence_day(const char *s) {
  const char *digits = s + strcspn(s, "0123456789");
  if (!*digits) return -1;
  int day = 0, k = 0;
  while (digits[k] >= '0' && digits[k] <= '9' && k < 3) day = day * 10 + (digits[k++] - '0');
  if (digits[k] && strspn(digits + k, " ") != strlen(digits + k)) return -1;
  return day;
}

/* Reads the texts of r into its spec; problems of form go to d. */
static void read_row(const db_catalog *cat, row *r, const int *cols, const char *source, db_diag *d) {
  db_task_spec *sp = &r->spec;
  db_task_spec_init(sp);
  const char *const *t = (const char *const *)r->text;
  sp->directive = t[DB__TF_DIRECTIVE];
  sp->title = t[DB__TF_TITLE];
  sp->description = t[DB__TF_DESCRIPTION];
  if (t[DB__TF_LEAD] && *t[DB__TF_LEAD]) {
    const char *code = agency_code(cat, t[DB__TF_LEAD]);
    r->lead_code = db_strdup(code ? code : t[DB__TF_LEAD]);
  }
  sp->lead = r->lead_code;
  r->co_codes = normalise_list(cat, t[DB__TF_CO], 1);
  sp->co_agencies = r->co_codes;
  sp->unit = t[DB__TF_UNIT];
  read_day(d, r, cols, DB__TF_ASSIGNED, "assigned", &sp->assigned);
  if (read_day(d, r, cols, DB__TF_DEADLINE, "deadline", &sp->deadline))
    sp->deadline = db_days_from_civil(9999, 12, 31); /* reported already: not "required" again */
  read_day(d, r, cols, COL_UNTIL, "recurrence_until", &sp->recur_until);
  read_day(d, r, cols, DB__TF_DONE, "done", &r->done);
  const char *rec = t[DB__TF_RECURRENCE];
  if (rec && *rec) {
    int day = recurrence_day(rec);
    if (day < 1 || day > 31)
      col_problem(d, r, cols, DB__TF_RECURRENCE, "recurrence",
                  "'%s' is not a monthly recurrence (\"monthly:5\": every month by day 5)", rec);
    else
      sp->recur_day = day;
  }
  const char *pr = t[DB__TF_PRIORITY];
  if (pr && *pr && db_task_priority_parse(pr, &sp->priority) != DB_OK)
    col_problem(d, r, cols, DB__TF_PRIORITY, "priority", "'%s' is not a priority (low, normal, high, urgent)", pr);
  r->status = DB_TASK_NEW;
  const char *st = t[DB__TF_STATUS];
  if (st && *st && db_task_status_parse(st, &r->status) != DB_OK)
    col_problem(d, r, cols, DB__TF_STATUS, "status", "'%s' is not a status (new, in_progress, done, cancelled)", st);
  if (r->status == DB_TASK_DONE && r->done == DB_DATE_NONE)
    db_diag_add(d, r->line, cols[DB__TF_DONE] ? cols[DB__TF_DONE] : cols[DB__TF_STATUS], "done", DB_EINVAL,
                "a done task needs the day it was done");
  if (r->status != DB_TASK_DONE && r->done != DB_DATE_NONE)
    db_diag_add(d, r->line, cols[DB__TF_DONE], "done", DB_EINVAL, "a done day is given but the status is %s",
                db_task_status_name(r->status));
  if (r->status == DB_TASK_DONE && sp->recur_day)
    db_diag_add(d, r->line, cols[DB__TF_STATUS], "status", DB_EINVAL,
                "a recurring task is imported open: its occurrences are completed one by one");
  if (r->done != DB_DATE_NONE && sp->assigned != DB_DATE_NONE && r->done < sp->assigned)
    db_diag_add(d, r->line, cols[DB__TF_DONE], "done", DB_EINVAL, "the done day is before the assigned day");
  r->spec.indicators = NULL;
  char *ind = normalise_list(cat, t[DB__TF_INDICATORS], 0);
  db_free(r->text[DB__TF_INDICATORS]);
  r->text[DB__TF_INDICATORS] = ind;
  sp->indicators = ind;
  sp->condition = t[DB__TF_CONDITION];
  sp->condition_period = t[DB__TF_CONDITION_PERIOD];
  if (t[DB__TF_ORIGIN] && *t[DB__TF_ORIGIN]) {
    sp->origin = t[DB__TF_ORIGIN];
  } else {
    db_buf o = DB_BUF_INIT;
    db_buf_printf(&o, "import:%s:%ld", source ? source : "csv", r->line);
    r->origin = db_buf_take(&o);
    sp->origin = r->origin;
  }
}

/* Parses the whole file into rows (checked against cat, directives against s when not NULL). */
static int parse(db_store *s, const db_catalog *cat, const char *text, size_t len, const char *source, row **rows_out,
                 size_t *n_out, db_diag *d) {
  *rows_out = NULL;
  *n_out = 0;
  db_csv *csv = NULL;
  int rc = db_csv_open_mem(text, len, NULL, d, &csv);
  if (rc) return rc;
  int cols[N_COLS] = {0};
  int map[256];
  size_t n_header = 0;
  int bad = 0;
  db_csv_field *f;
  size_t nf;
  long line;
  int got = db_csv_next(csv, &f, &nf, &line);
  if (got != 1) {
    db_csv_close(csv);
    if (got == 0) return db_diag_add(d, 1, 0, NULL, DB_EINVAL, "the file is empty: a header line is needed");
    return DB_EINVAL;
  }
  long header_line = line;
  n_header = nf < 256 ? nf : 256;
  for (size_t i = 0; i < n_header; i++) {
    char folded[128];
    fold_header(f[i].p, f[i].len, folded, sizeof folded);
    int c = header_column(folded);
    map[i] = c;
    if (c < 0) {
      bad = db_diag_add(d, line, (int)i + 1, NULL, DB_EINVAL, "unknown column '%.*s'", (int)(f[i].len > 60 ? 60 : f[i].len),
                        f[i].p);
    } else if (c != COL_IGNORED && cols[c]) {
      bad = db_diag_add(d, line, (int)i + 1, NULL, DB_EINVAL, "column '%.*s' repeats column %d",
                        (int)(f[i].len > 60 ? 60 : f[i].len), f[i].p, cols[c]);
      map[i] = COL_IGNORED;
    } else if (c != COL_IGNORED) {
      cols[c] = (int)i + 1;
    }
  }
  if (nf > 256) bad = db_diag_add(d, line, 257, NULL, DB_EINVAL, "more than 256 columns");
  if (!cols[DB__TF_TITLE]) bad = db_diag_add(d, line, 0, "title", DB_EINVAL, "no title column (title, Tên nhiệm vụ)");
  if (!cols[DB__TF_LEAD]) bad = db_diag_add(d, line, 0, "lead", DB_EINVAL, "no lead agency column (lead, Cơ quan chủ trì)");
  if (!cols[DB__TF_DEADLINE] && !cols[DB__TF_RECURRENCE])
    bad = db_diag_add(d, line, 0, "deadline", DB_EINVAL, "no deadline column (deadline, Thời hạn) nor recurrence");
  row *rows = NULL;
  size_t n = 0, cap = 0;
  int header_bad = bad;
  while (!header_bad && (got = db_csv_next(csv, &f, &nf, &line)) != 0) {
    if (got < 0) {
      if (got == DB_EIO) break;
      bad = DB_EINVAL;
      continue;
    }
    if (nf != n_header) {
      bad = db_diag_add(d, line, 0, NULL, DB_EINVAL, "%zu fields, the header has %zu", nf, n_header);
      continue;
    }
    if (n == cap) rows = db_realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof *rows);
    row *r = &rows[n++];
    memset(r, 0, sizeof *r);
    r->line = line;
    for (size_t i = 0; i < nf; i++) {
      if (map[i] == COL_IGNORED || f[i].len == 0) continue;
      r->text[map[i]] = db_strndup(f[i].p, f[i].len);
    }
    size_t before = db_diag_total(d);
    read_row(cat, r, cols, source, d);
    db__task_where w = {line, cols};
    db__task_validate(s, cat, &r->spec, &w, d);
    if (db_diag_total(d) != before) bad = DB_EINVAL;
  }
  if (got == DB_EIO) bad = DB_EIO;
  db_csv_close(csv);
  if (!bad && n == 0) bad = db_diag_add(d, header_line + 1, 0, NULL, DB_EINVAL, "the file has a header but no task");
  *rows_out = rows;
  *n_out = n;
  return bad ? (bad == DB_EIO ? DB_EIO : DB_EINVAL) : DB_OK;
}

static void free_rows(row *rows, size_t n) {
  for (size_t i = 0; i < n; i++) row_free(&rows[i]);
  db_free(rows);
}

int db_tasks_check_csv(const db_catalog *cat, const char *text, size_t len, const char *source, size_t *n_rows,
                       db_diag *d) {
  row *rows;
  size_t n;
  int rc = parse(NULL, cat, text, len, source, &rows, &n, d);
  if (n_rows) *n_rows = n;
  free_rows(rows, n);
  return rc;
}

int db_tasks_import_csv(db_store *s, const db_catalog *cat, const char *text, size_t len, const char *source,
                        const char *actor, int64_t *n_created, db_diag *d) {
  row *rows;
  size_t n;
  int rc = parse(s, cat, text, len, source, &rows, &n, d);
  for (size_t i = 0; !rc && i < n; i++) {
    db_task t;
    db__task_from_spec(&t, cat, &rows[i].spec, actor);
    t.status = rows[i].status;
    if (t.status == DB_TASK_IN_PROGRESS || t.status == DB_TASK_DONE) t.started = t.assigned;
    if (t.status == DB_TASK_DONE) {
      t.done = rows[i].done;
      t.percent = 100;
    }
    rc = db__task_save(s, &t, 0, actor, "task.created", json_pack("{s:s}", "import", source ? source : "csv"));
    db_task_free(&t);
  }
  if (!rc && n_created) *n_created = (int64_t)n;
  free_rows(rows, n);
  return rc;
}

/* ---- export ---- */

static void day_field(db_buf *b, int64_t day) {
  db_buf_putc(b, ',');
  if (day == DB_DATE_NONE) return;
  char text[11];
  db_format_date(day, text);
  db_buf_puts(b, text);
}

static void text_field(db_buf *b, const char *s) {
  db_buf_putc(b, ',');
  db_buf_csv_field(b, s ? s : "");
}

typedef struct export_ctx {
  FILE *out;
  db_buf line;
} export_ctx;

static int export_one(void *ctx, const db_task *t, const db_task_view *v) {
  export_ctx *e = ctx;
  db_buf *b = &e->line;
  db_buf_clear(b);
  db_buf_printf(b, "%lld", (long long)t->id);
  text_field(b, t->directive);
  text_field(b, t->title);
  text_field(b, t->description);
  text_field(b, t->lead);
  text_field(b, t->co_agencies);
  text_field(b, t->unit);
  day_field(b, t->assigned);
  day_field(b, t->deadline);
  db_buf_putc(b, ',');
  if (t->recur_day) db_buf_printf(b, "monthly:%d", t->recur_day);
  day_field(b, t->recur_day ? t->recur_until : DB_DATE_NONE);
  text_field(b, db_task_priority_name(t->priority));
  text_field(b, t->indicators);
  text_field(b, t->condition);
  text_field(b, t->condition_period);
  text_field(b, t->origin);
  text_field(b, db_task_status_name(t->status));
  day_field(b, t->status == DB_TASK_DONE && !t->recur_day ? t->done : DB_DATE_NONE);
  text_field(b, v->state);
  day_field(b, v->due);
  db_buf_printf(b, ",%lld,%d\n", (long long)v->days_late, t->percent);
  return fwrite(b->data, 1, b->len, e->out) == b->len ? 0 : DB_EIO;
}

int db_tasks_export_csv(db_store *s, const db_task_filter *f, const db_task_clock *clk, FILE *out) {
  fputs("id,directive,title,description,lead,co_agencies,unit,assigned,deadline,recurrence,recurrence_until,"
        "priority,indicators,condition,condition_period,origin,status,done,state,due,days_late,percent\n",
        out);
  export_ctx e = {out, DB_BUF_INIT};
  int rc = db_tasks_list(s, f, clk, export_one, &e);
  db_buf_free(&e.line);
  return rc;
}
