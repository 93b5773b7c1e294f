/* testutil.h - helpers shared by the unit tests (cmocka): scratch folders and the data pack. */
#ifndef DB_TESTUTIL_H
#define DB_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "base/diag.h"

/* A fresh, empty folder under $TMPDIR (removed with its content by db_test_rmtree). Owned string. */
char *db_test_tempdir(void);
void db_test_rmtree(const char *dir);
/* dir + "/" + name, owned. */
char *db_test_path(const char *dir, const char *name);
/* Writes text to path (asserting success). */
void db_test_write_file(const char *path, const char *text);
/* The whole file at path, NUL-terminated, with its length in *len (asserting success); owned (db_free). */
char *db_test_read_file(const char *path, size_t *len);
/* The shared folder beside the repository ($DB_SHARED_DIR), or NULL when it is absent. */
const char *db_test_shared_dir(void);

/* The problems of a diag as db_diag_print writes them, without a source prefix (owned string). */
char *db_test_problems(const db_diag *d);
#define assert_problems(d, expected)            \
  do {                                          \
    char *got_ = db_test_problems(d);           \
    assert_string_equal(got_, expected);        \
    free(got_);                                 \
  } while (0)

/* Stores an org unit named after its code (parent NULL for a root; from/to "YYYY-MM-DD" or NULL for
 * open validity), asserting success. The store must be inside a transaction. */
struct db_store;
void db_test_put_unit(struct db_store *s, const char *code, const char *parent, int kind, const char *from,
                      const char *to);

/* The first column of the first row of sql, read on a plain SQLite connection to the file at path
 * (so tests see what is on disk, not what databrain says); owned, NULL for SQL NULL. */
char *db_test_raw_text(const char *path, const char *sql);

#endif
