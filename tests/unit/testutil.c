/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/text.h"
#include "store/store.h"

char *db_test_tempdir(void) {
  const char *tmp = getenv("TMPDIR");
  db_buf b = DB_BUF_INIT;
  db_buf_printf(&b, "%s/databrain-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  char *dir = db_buf_take(&b);
  assert_non_null(mkdtemp(dir));
  return dir;
}

void db_test_rmtree(const char *dir) {
  db_buf cmd = DB_BUF_INIT;
  db_buf_printf(&cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(db_buf_str(&cmd)), 0);
  db_buf_free(&cmd);
}

char *db_test_path(const char *dir, const char *name) {
  db_buf b = DB_BUF_INIT;
  db_buf_printf(&b, "%s/%s", dir, name);
  return db_buf_take(&b);
}

void db_test_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

const char *db_test_shared_dir(void) {
  const char *d = getenv("DB_SHARED_DIR");
  struct stat st;
  if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  return d;
}

char *db_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  assert_true(size >= 0);
  rewind(f);
  char *text = db_malloc((size_t)size + 1);
  assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  text[size] = '\0';
  *len = (size_t)size;
  return text;
}

char *db_test_problems(const db_diag *d) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  db_diag_print(d, f, NULL);
  fclose(f);
  return text;
}

char *db_test_raw_text(const char *path, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  const unsigned char *v = sqlite3_column_text(st, 0);
  char *out = v ? db_strdup((const char *)v) : NULL;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

void db_test_put_unit(struct db_store *s, const char *code, const char *parent, int kind, const char *from,
                      const char *to) {
  db_orgunit u;
  db_orgunit_init(&u);
  u.code = (char *)code;
  u.name = (char *)code;
  u.parent = (char *)parent;
  u.kind = (db_ou_kind)kind;
  if (from) assert_int_equal(db_parse_date(from, strlen(from), &u.valid_from), 0);
  if (to) assert_int_equal(db_parse_date(to, strlen(to), &u.valid_to), 0);
  assert_int_equal(db_store_put_orgunit(s, &u), 0);
}
