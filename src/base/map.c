/* map.c - open-addressing hash map with keys stored in append-only chunks. */
#include "base/map.h"

#include <string.h>

#include "base/mem.h"

typedef struct db_map_chunk {
  struct db_map_chunk *next;
  size_t used, cap;
  char data[];
} db_map_chunk;

uint32_t db_hash_bytes(const void *p, size_t len) {
  const unsigned char *s = p;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 1099511628211ULL;
  return (uint32_t)(h ^ (h >> 32));
}

static const char *store_key(db_map *m, const void *key, size_t len) {
  db_map_chunk *c = m->chunks;
  if (!c || c->cap - c->used < len + 1) {
    size_t cap = len + 1 > 16384 ? len + 1 : 16384;
    c = db_malloc(sizeof *c + cap);
    c->next = m->chunks;
    c->used = 0;
    c->cap = cap;
    m->chunks = c;
  }
  char *dst = c->data + c->used;
  memcpy(dst, key, len);
  dst[len] = '\0';
  c->used += len + 1;
  return dst;
}

static db_map_slot *find(const db_map *m, const void *key, size_t len, uint32_t hash) {
  size_t mask = m->cap - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    db_map_slot *s = &m->slots[i];
    if (!s->key) return s;
    if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0) return s;
  }
}

static void grow(db_map *m) {
  size_t old_cap = m->cap;
  db_map_slot *old = m->slots;
  m->cap = old_cap ? old_cap * 2 : 64;
  m->slots = db_calloc(m->cap, sizeof *m->slots);
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key) *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
  db_free(old);
}

const char *db_map_put(db_map *m, const void *key, size_t len, int64_t value) {
  if ((m->count + 1) * 4 > m->cap * 3) grow(m);
  uint32_t hash = db_hash_bytes(key, len);
  db_map_slot *s = find(m, key, len, hash);
  if (!s->key) {
    s->key = store_key(m, key, len);
    s->len = (uint32_t)len;
    s->hash = hash;
    m->count++;
  }
  s->value = value;
  return s->key;
}

int db_map_get(const db_map *m, const void *key, size_t len, int64_t *value) {
  if (!m->cap) return 0;
  db_map_slot *s = find(m, key, len, db_hash_bytes(key, len));
  if (!s->key) return 0;
  if (value) *value = s->value;
  return 1;
}

void db_map_puts(db_map *m, const char *key, int64_t value) { db_map_put(m, key, strlen(key), value); }

int db_map_gets(const db_map *m, const char *key, int64_t *value) {
  return db_map_get(m, key, strlen(key), value);
}

void db_map_clear(db_map *m) {
  if (m->slots) memset(m->slots, 0, m->cap * sizeof *m->slots);
  m->count = 0;
  while (m->chunks) {
    db_map_chunk *next = m->chunks->next;
    db_free(m->chunks);
    m->chunks = next;
  }
}

void db_map_free(db_map *m) {
  db_map_clear(m);
  db_free(m->slots);
  m->slots = NULL;
  m->cap = 0;
}
