/* mem.h - the one allocator wrapper.
 *
 * db_malloc and friends abort with a message when memory runs out (the process cannot do useful work
 * without it); db_try_malloc and db_try_realloc return NULL instead, for the few callers that can
 * degrade (large optional buffers). Every byte is counted so that /metrics and tests can see usage.
 * Memory from any of these functions is released with db_free. Thread-safe. */
#ifndef DB_MEM_H
#define DB_MEM_H
#include <stddef.h>

void *db_malloc(size_t n);
void *db_calloc(size_t count, size_t size);
void *db_realloc(void *p, size_t n);
void *db_try_malloc(size_t n);
void *db_try_realloc(void *p, size_t n);
void db_free(void *p);

/* A copy of the NUL-terminated string s (NULL gives NULL), or of its first n bytes (always terminated). */
char *db_strdup(const char *s);
char *db_strndup(const char *s, size_t n);

/* Bytes currently allocated through this wrapper. */
size_t db_mem_used(void);

#endif
