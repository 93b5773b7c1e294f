/* mem.c - counting allocator. Each block carries a 16-byte header holding its size, so db_free can
 * subtract it; 16 bytes keeps the payload aligned for any type. */
#include "base/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 16

static atomic_size_t used;

static void *account(void *block, size_t n) {
  if (!block) return NULL;
  *(size_t *)block = n;
  atomic_fetch_add_explicit(&used, n, memory_order_relaxed);
  return (char *)block + HEADER;
}

static void out_of_memory(size_t n) {
  fprintf(stderr, "databrain: out of memory allocating %zu bytes\n", n);
  abort();
}

void *db_try_malloc(size_t n) {
  if (n > SIZE_MAX - HEADER) return NULL;
  return account(malloc(n + HEADER), n);
}

void *db_try_realloc(void *p, size_t n) {
  if (!p) return db_try_malloc(n);
  if (n > SIZE_MAX - HEADER) return NULL;
  char *block = (char *)p - HEADER;
  size_t old = *(size_t *)block;
  char *grown = realloc(block, n + HEADER);
  if (!grown) return NULL;
  atomic_fetch_sub_explicit(&used, old, memory_order_relaxed);
  return account(grown, n);
}

void *db_malloc(size_t n) {
  void *p = db_try_malloc(n);
  if (!p) out_of_memory(n);
  return p;
}

void *db_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) out_of_memory(SIZE_MAX);
  void *p = db_malloc(count * size);
  memset(p, 0, count * size);
  return p;
}

void *db_realloc(void *p, size_t n) {
  void *q = db_try_realloc(p, n);
  if (!q) out_of_memory(n);
  return q;
}

void db_free(void *p) {
  if (!p) return;
  char *block = (char *)p - HEADER;
  atomic_fetch_sub_explicit(&used, *(size_t *)block, memory_order_relaxed);
  free(block);
}

char *db_strndup(const char *s, size_t n) {
  if (!s) return NULL;
  char *d = db_malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *db_strdup(const char *s) { return s ? db_strndup(s, strlen(s)) : NULL; }

size_t db_mem_used(void) { return atomic_load_explicit(&used, memory_order_relaxed); }
