/* buf.h - a growable byte buffer, always NUL-terminated.
 *
 * A db_buf starts zeroed (DB_BUF_INIT) and owns its memory; db_buf_free releases it, db_buf_take hands
 * the string to the caller (who frees it with db_free) and leaves the buffer empty. */
#ifndef DB_BUF_H
#define DB_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct db_buf {
  char *data; /* NULL until the first append; then NUL-terminated */
  size_t len;
  size_t cap;
} db_buf;

#define DB_BUF_INIT {NULL, 0, 0}

void db_buf_reserve(db_buf *b, size_t extra);
void db_buf_append(db_buf *b, const void *p, size_t n);
void db_buf_puts(db_buf *b, const char *s);
void db_buf_putc(db_buf *b, char c);
void db_buf_printf(db_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void db_buf_vprintf(db_buf *b, const char *fmt, va_list ap);
/* Appends s as one CSV field: quoted (with doubled quotes) when it holds a comma, quote, CR or LF. */
void db_buf_csv_field(db_buf *b, const char *s);
/* Appends a double in the shortest form that reads back to the same value ("%.17g" at worst). */
void db_buf_double(db_buf *b, double v);
void db_buf_clear(db_buf *b);
/* Appends the whole content of the file at path: 0, or DB_EIO (errno tells why) with b holding what was
 * read before the failure. */
int db_buf_read_file(db_buf *b, const char *path);
/* The contents ("" when empty); valid until the next append. */
const char *db_buf_str(const db_buf *b);
char *db_buf_take(db_buf *b);
void db_buf_free(db_buf *b);

#endif
