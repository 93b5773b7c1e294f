/* store_sqlite.h - internal to the store module: the SQLite backend's entry point for the URL dispatch
 * of store.c, and its schema migrations (migrations_sqlite.c). Nothing outside src/store includes this. */
#ifndef DB_STORE_SQLITE_H
#define DB_STORE_SQLITE_H

#include "base/diag.h"
#include "store/store.h"

/* Opens (creating when absent) the SQLite store at path, migrates it to DB_STORE_SCHEMA_VERSION and sets
 * *out. Errors as db_store_open (DB_ESCHEMA for a newer schema, DB_ESTORE for a file that is not a
 * store...), explained in d (never NULL here). */
int db_sqlite__open(const char *path, db_store **out, db_diag *d);

/* The forward-only migrations: db_sqlite__migrations[v] takes a store from schema v to v + 1 (0 is an
 * empty file). There are exactly DB_STORE_SCHEMA_VERSION of them. */
extern const char *const db_sqlite__migrations[DB_STORE_SCHEMA_VERSION];
/* What a migration does that SQL cannot (NULL when nothing): db_sqlite__migration_steps[v] runs right after
 * db_sqlite__migrations[v], in the same transaction. Returns an SQLite result code. */
struct sqlite3;
extern int (*const db_sqlite__migration_steps[DB_STORE_SCHEMA_VERSION])(struct sqlite3 *db);

#endif
