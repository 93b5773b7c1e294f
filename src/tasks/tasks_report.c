/* tasks_report.c - progress reports of the lead agency and their evidence files.
 *
 * A report is a record of kind "task_report" ({"task", "percent", "text", "links", "files", "by", "time"});
 * each file is a record of kind "task_evidence" keyed "<task id>/<sha256 hex>" holding the bytes in
 * base64, so the same file given twice to a task is kept once. Files are checked before anything is
 * written: with any problem (size, count, name) nothing is. */
#include <sodium.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "tasks/tasks_int.h"

static void sha256_hex(const unsigned char *data, size_t len, char out[65]) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, data, len);
  sodium_bin2hex(out, 65, h, sizeof h);
}

/* Checks the spec; every problem goes to d. Returns 0, DB_EINVAL or DB_ETOOBIG (a file too large). */
static int check_report(const db_task_report_spec *spec, db_diag *d) {
  int bad = 0, too_big = 0;
  if (spec->percent < 0 || spec->percent > 100)
    bad = db_diag_add(d, 0, 0, "percent", DB_EINVAL, "%d is not a percentage from 0 to 100", spec->percent);
  if (!spec->text || !*spec->text) bad = db_diag_add(d, 0, 0, "text", DB_EINVAL, "required");
  else if (strlen(spec->text) > DB_TASKS_TEXT_MAX)
    bad = db_diag_add(d, 0, 0, "text", DB_EINVAL, "longer than %d bytes", DB_TASKS_TEXT_MAX);
  for (size_t i = 0; i < spec->n_links; i++) {
    const char *l = spec->links[i];
    char path[32];
    snprintf(path, sizeof path, "links[%zu]", i);
    if (!l || !(strncmp(l, "https://", 8) == 0 || strncmp(l, "http://", 7) == 0) || strlen(l) > 2000 ||
        strpbrk(l, " \t\r\n"))
      bad = db_diag_add(d, 0, 0, path, DB_EINVAL, "not an http(s) link");
  }
  if (spec->n_files > DB_TASKS_REPORT_FILES_MAX)
    bad = db_diag_add(d, 0, 0, "files", DB_EINVAL, "%zu files, over the limit of %d per report", spec->n_files,
                      DB_TASKS_REPORT_FILES_MAX);
  for (size_t i = 0; i < spec->n_files; i++) {
    const db_task_file *f = &spec->files[i];
    char path[32];
    snprintf(path, sizeof path, "files[%zu]", i);
    if (!f->name || !*f->name || strlen(f->name) > 255 || strpbrk(f->name, "/\\"))
      bad = db_diag_add(d, 0, 0, path, DB_EINVAL, "a file name (no folders, at most 255 bytes) is required");
    if (f->len > DB_TASKS_EVIDENCE_MAX)
      too_big = db_diag_add(d, 0, 0, path, DB_ETOOBIG, "%zu bytes, over the limit of %u", f->len,
                            DB_TASKS_EVIDENCE_MAX);
    else if (f->len == 0)
      bad = db_diag_add(d, 0, 0, path, DB_EINVAL, "the file is empty");
  }
  return too_big ? DB_ETOOBIG : bad ? DB_EINVAL : DB_OK;
}

/* Stores one file (unless the task has it already) and returns its description for the report. */
static int put_file(db_store *s, int64_t task, const db_task_file *f, json_t **desc) {
  char sha[65], key[96];
  sha256_hex(f->data, f->len, sha);
  snprintf(key, sizeof key, "%lld/%s", (long long)task, sha);
  const char *ctype = f->content_type && *f->content_type ? f->content_type : "application/octet-stream";
  *desc = json_pack("{s:s, s:s, s:I, s:s}", "name", f->name, "content_type", ctype, "size", (json_int_t)f->len,
                    "sha256", sha);
  db_record old;
  int rc = db_store_record_get(s, DB_TASK_EVIDENCE_KIND, 0, key, &old);
  if (rc == DB_OK) {
    db_record_free(&old);
    return DB_OK;
  }
  if (rc != DB_ENOTFOUND) return rc;
  size_t b64len = sodium_base64_encoded_len(f->len, sodium_base64_VARIANT_ORIGINAL);
  char *b64 = db_malloc(b64len);
  sodium_bin2base64(b64, b64len, f->data, f->len, sodium_base64_VARIANT_ORIGINAL);
  json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:s, s:s}", "task", (json_int_t)task, "name", f->name, "content_type",
                        ctype, "size", (json_int_t)f->len, "sha256", sha, "data", b64);
  db_free(b64);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  db_record r = {0, DB_TASK_EVIDENCE_KIND, key, body, 0, 0};
  rc = db_store_record_put(s, &r, 0);
  free(body);
  return rc;
}

int db_tasks_report_add(db_store *s, int64_t id, const db_task_report_spec *spec, const char *actor,
                        int64_t *report_id, db_diag *d) {
  int rc = check_report(spec, d);
  if (rc) return rc;
  db_task t;
  rc = db_tasks_get(s, id, &t);
  if (rc == DB_ENOTFOUND) return db_diag_add(d, 0, 0, "id", rc, "no task %lld", (long long)id);
  if (rc) return rc;
  if (t.status == DB_TASK_DONE || t.status == DB_TASK_CANCELLED) {
    rc = db_diag_add(d, 0, 0, "status", DB_ECONFLICT, "task %lld is %s: it takes no more reports", (long long)id,
                     db_task_status_name(t.status));
    goto done;
  }
  json_t *files = json_array(), *links = json_array();
  for (size_t i = 0; i < spec->n_links; i++) json_array_append_new(links, json_string(spec->links[i]));
  for (size_t i = 0; !rc && i < spec->n_files; i++) {
    json_t *desc = NULL;
    rc = put_file(s, id, &spec->files[i], &desc);
    if (desc) json_array_append_new(files, desc);
  }
  char when[25];
  db_format_time_ms(db_now_ms(), when);
  json_t *o = json_pack("{s:I, s:i, s:s, s:o, s:o, s:s, s:s}", "task", (json_int_t)id, "percent", spec->percent, "text",
                        spec->text, "links", links, "files", files, "by", actor ? actor : "system", "time", when);
  if (rc) {
    json_decref(o);
    goto done;
  }
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  db_record r = {0, DB_TASK_REPORT_KIND, NULL, body, 0, 0};
  rc = db_store_record_put(s, &r, 0);
  free(body);
  if (rc) goto done;
  if (report_id) *report_id = r.id;
  if (t.status == DB_TASK_NEW) {
    t.status = DB_TASK_IN_PROGRESS;
    t.started = db__tasks_today();
    if (t.started < t.assigned) t.started = t.assigned;
  }
  t.percent = spec->percent;
  rc = db__task_save(s, &t, t.version, actor, "task.report",
                     json_pack("{s:I, s:i, s:i}", "report", (json_int_t)r.id, "percent", spec->percent, "files",
                               (int)spec->n_files));
done:
  db_task_free(&t);
  return rc;
}

typedef struct reports_ctx {
  int64_t task;
  int (*cb)(void *ctx, int64_t report_id, const char *json);
  void *ctx;
} reports_ctx;

static int report_one(void *ctx, const db_record *r) {
  reports_ctx *c = ctx;
  json_t *o = json_loads(r->body, 0, NULL);
  int rc = 0;
  if (json_integer_value(json_object_get(o, "task")) == c->task) {
    json_object_set_new(o, "id", json_integer(r->id));
    char *text = json_dumps(o, JSON_COMPACT);
    rc = c->cb(c->ctx, r->id, text);
    free(text);
  }
  json_decref(o);
  return rc;
}

int db_tasks_reports(db_store *s, int64_t id, int (*cb)(void *ctx, int64_t report_id, const char *json),
                     void *ctx) {
  reports_ctx c = {id, cb, ctx};
  return db_store_record_scan(s, DB_TASK_REPORT_KIND, report_one, &c);
}

int db_tasks_evidence_get(db_store *s, int64_t id, const char *sha256, unsigned char **data, size_t *len,
                          char **name, char **content_type) {
  if (!sha256 || strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64) return DB_ENOTFOUND;
  char key[96];
  snprintf(key, sizeof key, "%lld/%s", (long long)id, sha256);
  db_record r;
  int rc = db_store_record_get(s, DB_TASK_EVIDENCE_KIND, 0, key, &r);
  if (rc) return rc;
  json_t *o = json_loads(r.body, 0, NULL);
  db_record_free(&r);
  const char *b64 = json_string_value(json_object_get(o, "data"));
  size_t size = (size_t)json_integer_value(json_object_get(o, "size"));
  if (!b64) {
    json_decref(o);
    return DB_EINVAL;
  }
  unsigned char *buf = db_malloc(size + 1);
  size_t got = 0;
  if (sodium_base642bin(buf, size + 1, b64, strlen(b64), NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      got != size) {
    db_free(buf);
    json_decref(o);
    return DB_EINVAL;
  }
  *data = buf;
  *len = got;
  *name = db_strdup(json_string_value(json_object_get(o, "name")));
  *content_type = db_strdup(json_string_value(json_object_get(o, "content_type")));
  json_decref(o);
  return DB_OK;
}
