/* map.h - a hash map from byte-string keys to 64-bit integers (open addressing, linear probing).
 *
 * Used to resolve codes (indicator, org unit, agency) to ids and series keys to series ids. The map
 * copies keys into its own storage; the pointers it hands back stay valid until the map is freed or
 * cleared (keys live in stable chunks, so growth does not move them). Not thread-safe; readers may
 * share a map that no one writes. */
#ifndef DB_MAP_H
#define DB_MAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct db_map_slot {
  const char *key; /* NULL = empty */
  uint32_t len;
  uint32_t hash;
  int64_t value;
} db_map_slot;

typedef struct db_map {
  db_map_slot *slots;
  size_t cap; /* a power of two, or 0 */
  size_t count;
  struct db_map_chunk *chunks; /* key storage */
} db_map;

#define DB_MAP_INIT {NULL, 0, 0, NULL}

/* Sets key -> value (replacing an existing value). Returns the map's own copy of the key (followed by a
 * NUL byte), stable until the map is cleared or freed. */
const char *db_map_put(db_map *m, const void *key, size_t len, int64_t value);
/* Looks key up: 1 and *value set when present, 0 when absent (value untouched; it may be NULL). */
int db_map_get(const db_map *m, const void *key, size_t len, int64_t *value);
/* Convenience forms for NUL-terminated keys. */
void db_map_puts(db_map *m, const char *key, int64_t value);
int db_map_gets(const db_map *m, const char *key, int64_t *value);
void db_map_clear(db_map *m);
void db_map_free(db_map *m);

/* 32-bit FNV-1a-style hash of bytes (exposed for callers that shard by key). */
uint32_t db_hash_bytes(const void *p, size_t len);

#endif
