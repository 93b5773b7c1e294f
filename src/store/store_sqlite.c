/* store_sqlite.c - the embedded SQLite backend of the store (contract in store.h, schema in
 * migrations_sqlite.c).
 *
 * Settings, and why:
 *   - WAL journal: readers on their own handles never wait for the writer, and a commit is one append
 *     to the WAL plus one fsync.
 *   - synchronous=FULL: in WAL mode NORMAL fsyncs only at checkpoints, so a commit acknowledged just
 *     before a power loss can vanish; store.h promises that a commit is durable when it returns, so
 *     every commit fsyncs the WAL (the cost is one fsync per transaction, not per row).
 *   - foreign_keys=ON, busy_timeout (a second writer waits, then DB_EBUSY), 16 KiB pages for new files
 *     (a bulk load of 20 M rows ran 1.3x faster than with 4 KiB; the WAL frames of small commits grow
 *     in proportion, which their rate can afford), a WAL truncated back to 64 MiB after checkpoints.
 *   - Every statement that runs more than once is prepared once and cached in the handle.
 *
 * The observation write path (obs_write) is the hot path. A block of rows goes to SQLite in one
 * statement, INSERT INTO obs SELECT ... FROM db_obs_block(?), where db_obs_block is an eponymous
 * virtual table reading the caller's array: one sqlite3_step per block instead of one bind/step/reset
 * round per row (about 2x faster). When any row of the block meets an existing key, the statement is undone
 * (statement journal) and the block is written row by row: a plain insert, and only on a key conflict a
 * read of the stored row, which decides duplicate (same batch), unchanged (same value and status) or
 * revised (the old row moves to obs_history, the current one gets rev + 1 and this batch's seq). After
 * such a block the next one goes row by row directly, until a block inserts only new keys again.
 *
 * Bulk loads (begin with bulk = 1) enlarge the page cache, and when obs is still empty and no other
 * connection has the store open, switch from WAL to a rollback journal for the transaction: pages
 * appended to the file are not journalled, so the load writes each page once instead of twice (WAL,
 * then checkpoint): measured on 20 M sorted rows, 4.2 M rows/s against 2.7-3.0 M rows/s in WAL. The commit
 * stays durable (synchronous=FULL fsyncs journal and file; the TRUNCATE journal mode fsyncs the
 * journal's truncation, which is the commit point, where DELETE would need synchronous=EXTRA for the
 * directory entry), and a process killed mid-load leaves a hot journal that the next open rolls back.
 * The store returns to WAL right after the transaction (and at every open). A 64 MiB cache beat a 1 GiB
 * one: with a small cache, full pages spill to the OS early and are written back while the load goes on.
 *
 * Scans return the callback's value when it is negative (an error of the caller), 0 when it stops the
 * scan with a positive value or the scan ends. */
#include "store/store_sqlite.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"

#define BUSY_TIMEOUT_MS 5000
#define NEW_PAGE_SIZE 16384
#define CACHE_KIB 16384          /* normal page cache */
#define BULK_CACHE_KIB 65536     /* page cache of a bulk transaction */
#define WAL_LIMIT_BYTES 67108864 /* the WAL is truncated back to this after a checkpoint */

/* The cached statements. */
#define SQL_STATEMENTS(X)                                                                                    \
  X(ST_BEGIN, "BEGIN IMMEDIATE")                                                                             \
  X(ST_COMMIT, "COMMIT")                                                                                     \
  X(ST_ROLLBACK, "ROLLBACK")                                                                                 \
  X(ST_USER_VERSION, "PRAGMA user_version")                                                                  \
  X(ST_OBS_ANY, "SELECT 1 FROM obs LIMIT 1")                                                                 \
  X(ST_UNIT_ID, "SELECT id FROM orgunit WHERE code = ?1")                                                    \
  X(ST_INDICATOR_ID, "SELECT id FROM indicator WHERE code = ?1")                                             \
  X(ST_PUT_UNIT,                                                                                             \
    "INSERT INTO orgunit(code, name, name_en, kind, parent_id, level, valid_from, valid_to, population,"     \
    " area_km2, geometry, attributes) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"             \
    " ON CONFLICT(code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en,"                     \
    " kind = excluded.kind, parent_id = excluded.parent_id, level = excluded.level,"                         \
    " valid_from = excluded.valid_from, valid_to = excluded.valid_to,"                                       \
    " population = excluded.population, area_km2 = excluded.area_km2, geometry = excluded.geometry,"         \
    " attributes = excluded.attributes RETURNING id")                                                        \
  X(ST_PUT_SUCCESSION,                                                                                       \
    "INSERT INTO succession(from_id, to_id, weight, partial, date) VALUES(?1, ?2, ?3, ?4, ?5)"               \
    " ON CONFLICT(from_id, to_id) DO UPDATE SET weight = excluded.weight,"                                   \
    " partial = excluded.partial, date = excluded.date")                                                     \
  X(ST_PUT_AGENCY,                                                                                           \
    "INSERT INTO agency(code, name, name_en, kind, orgunit, parent) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"          \
    " ON CONFLICT(code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en,"                     \
    " kind = excluded.kind, orgunit = excluded.orgunit, parent = excluded.parent RETURNING id")              \
  X(ST_PUT_INDICATOR,                                                                                        \
    "INSERT INTO indicator(code, name, name_en, description, unit, unit_mult, decimals, periodicity,"        \
    " period_span, agg_space, weight, agg_time, polarity, valid_min, valid_max, owner, sector, groups,"      \
    " is_public, legal_ref, formula, dimensions, source, synthetic, band_at_risk, band_off_track)"           \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"     \
    " ?21, ?22, ?23, ?24, ?25, ?26)"                                                                         \
    " ON CONFLICT(code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en,"                     \
    " description = excluded.description, unit = excluded.unit, unit_mult = excluded.unit_mult,"             \
    " decimals = excluded.decimals, periodicity = excluded.periodicity,"                                     \
    " period_span = excluded.period_span, agg_space = excluded.agg_space, weight = excluded.weight,"         \
    " agg_time = excluded.agg_time, polarity = excluded.polarity, valid_min = excluded.valid_min,"           \
    " valid_max = excluded.valid_max, owner = excluded.owner, sector = excluded.sector,"                     \
    " groups = excluded.groups, is_public = excluded.is_public, legal_ref = excluded.legal_ref,"             \
    " formula = excluded.formula, dimensions = excluded.dimensions, source = excluded.source,"               \
    " synthetic = excluded.synthetic, band_at_risk = excluded.band_at_risk,"                                 \
    " band_off_track = excluded.band_off_track RETURNING id")                                                \
  X(ST_PUT_DIMENSION,                                                                                        \
    "INSERT INTO dimension(code, name) VALUES(?1, ?2)"                                                       \
    " ON CONFLICT(code) DO UPDATE SET name = excluded.name RETURNING id")                                    \
  X(ST_DROP_ITEMS, "DELETE FROM dimension_item WHERE dimension_id = ?1")                                     \
  X(ST_PUT_ITEM, "INSERT INTO dimension_item(dimension_id, code, name, ord) VALUES(?1, ?2, ?3, ?4)")         \
  X(ST_PUT_TARGET,                                                                                           \
    "INSERT INTO target(indicator_id, orgunit_id, period, kind, value, source)"                              \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(indicator_id, orgunit_id, period, kind)"                    \
    " DO UPDATE SET value = excluded.value, source = excluded.source")                                       \
  X(ST_READ_TARGETS,                                                                                         \
    "SELECT i.code, u.code, t.period, t.kind, t.value, t.source FROM target t"                               \
    " JOIN indicator i ON i.id = t.indicator_id JOIN orgunit u ON u.id = t.orgunit_id"                       \
    " WHERE ?1 IS NULL OR i.code = ?1 ORDER BY i.code, u.code, t.period, t.kind")                            \
  X(ST_INDICATOR_IN_USE,                                                                                     \
    "SELECT EXISTS(SELECT 1 FROM series WHERE indicator_id = ?1)"                                            \
    " OR EXISTS(SELECT 1 FROM indicator WHERE weight = ?2)")                                                 \
  X(ST_DROP_TARGETS, "DELETE FROM target WHERE indicator_id = ?1")                                           \
  X(ST_DROP_INDICATOR, "DELETE FROM indicator WHERE id = ?1")                                                \
  X(ST_LOAD_UNITS,                                                                                           \
    "SELECT u.id, u.code, u.name, u.name_en, u.kind, p.code, u.level, u.valid_from, u.valid_to,"             \
    " u.population, u.area_km2, u.geometry, u.attributes"                                                    \
    " FROM orgunit u LEFT JOIN orgunit p ON p.id = u.parent_id ORDER BY u.id")                               \
  X(ST_LOAD_SUCCESSIONS,                                                                                     \
    "SELECT f.code, t.code, s.weight, s.partial, s.date FROM succession s"                                   \
    " JOIN orgunit f ON f.id = s.from_id JOIN orgunit t ON t.id = s.to_id ORDER BY f.code, t.code")          \
  X(ST_LOAD_AGENCIES, "SELECT id, code, name, name_en, kind, orgunit, parent FROM agency ORDER BY id")       \
  X(ST_LOAD_INDICATORS,                                                                                      \
    "SELECT id, code, name, name_en, description, unit, unit_mult, decimals, periodicity, period_span,"      \
    " agg_space, weight, agg_time, polarity, valid_min, valid_max, owner, sector, groups, is_public,"        \
    " legal_ref, formula, dimensions, source, synthetic, band_at_risk, band_off_track FROM indicator"        \
    " ORDER BY id")                                                                                          \
  X(ST_LOAD_DIMENSIONS, "SELECT id, code, name FROM dimension ORDER BY id")                                  \
  X(ST_LOAD_ITEMS, "SELECT code, name FROM dimension_item WHERE dimension_id = ?1 ORDER BY ord")             \
  X(ST_READ_SERIES, "SELECT id, indicator_id, orgunit_id, dimkey FROM series ORDER BY id")                   \
  X(ST_PUT_SERIES, "INSERT INTO series(id, indicator_id, orgunit_id, dimkey) VALUES(?1, ?2, ?3, ?4)")        \
  X(ST_SERIES_EXISTS, "SELECT 1 FROM series WHERE id = ?1")                                                  \
  X(ST_BATCH_FIND, "SELECT seq, inserted, revised, unchanged, result_json FROM batch WHERE idem_key = ?1")   \
  X(ST_BATCH_BEGIN, "INSERT INTO batch(source, actor, received_ms) VALUES(?1, ?2, ?3)")                      \
  X(ST_BATCH_FINISH,                                                                                         \
    "UPDATE batch SET idem_key = ?2, inserted = ?3, revised = ?4, unchanged = ?5, result_json = ?6"          \
    " WHERE seq = ?1")                                                                                       \
  X(ST_OBS_BLOCK,                                                                                            \
    "INSERT INTO obs(series_id, period, value, status, rev, seq)"                                            \
    " SELECT series, period, value, status, 1, ?2 FROM db_obs_block(?1)")                                    \
  X(ST_OBS_INSERT,                                                                                           \
    "INSERT INTO obs(series_id, period, value, status, rev, seq) VALUES(?1, ?2, ?3, ?4, 1, ?5)"              \
    " ON CONFLICT DO NOTHING")                                                                               \
  X(ST_OBS_GET, "SELECT value, status, rev, seq FROM obs WHERE series_id = ?1 AND period = ?2")              \
  X(ST_HISTORY_PUT,                                                                                          \
    "INSERT INTO obs_history(series_id, period, value, status, rev, seq)"                                    \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                                                       \
  X(ST_OBS_UPDATE,                                                                                           \
    "UPDATE obs SET value = ?3, status = ?4, rev = ?5, seq = ?6 WHERE series_id = ?1 AND period = ?2")       \
  X(ST_HISTORY_AS_OF,                                                                                        \
    "SELECT h.value, h.status, h.rev, h.seq, b.received_ms FROM obs_history h"                               \
    " JOIN batch b ON b.seq = h.seq WHERE h.series_id = ?1 AND h.period = ?2 AND b.received_ms <= ?3"        \
    " ORDER BY h.rev DESC LIMIT 1")                                                                          \
  X(ST_OBS_SERIES,                                                                                           \
    "SELECT s.id, s.indicator_id, s.orgunit_id, s.dimkey, o.period, o.value, o.status, o.rev, o.seq,"        \
    " b.received_ms FROM series s CROSS JOIN obs o ON o.series_id = s.id JOIN batch b ON b.seq = o.seq"      \
    " WHERE s.indicator_id = ?1 AND s.orgunit_id = ?2 AND o.period >= ?3 AND o.period <= ?4"                 \
    " ORDER BY s.dimkey, o.period")                                                                          \
  X(ST_SCAN_KEYS, "SELECT series_id, period, value FROM obs ORDER BY series_id, period")                     \
  X(ST_SCAN_WALK,                                                                                            \
    "SELECT o.series_id, o.period, o.value FROM series s CROSS JOIN obs o ON o.series_id = s.id"             \
    " ORDER BY s.indicator_id, s.orgunit_id, s.dimkey, o.period")                                            \
  X(ST_OBS_HISTORY,                                                                                          \
    "SELECT s.id, s.indicator_id, s.orgunit_id, s.dimkey, o.period, o.value, o.status, o.rev, o.seq,"        \
    " b.received_ms FROM (SELECT * FROM obs_history WHERE series_id = ?1 AND period = ?2"                    \
    " UNION ALL SELECT * FROM obs WHERE series_id = ?1 AND period = ?2) o"                                   \
    " JOIN series s ON s.id = o.series_id JOIN batch b ON b.seq = o.seq ORDER BY o.rev")                     \
  X(ST_AUDIT_PUT,                                                                                            \
    "INSERT INTO audit(time_ms, actor, action, object, detail, prev_hash, hash)"                             \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")                                                                   \
  X(ST_AUDIT_READ,                                                                                           \
    "SELECT id, time_ms, actor, action, object, detail, prev_hash, hash FROM audit WHERE id > ?1"            \
    " ORDER BY id")                                                                                          \
  X(ST_AUDIT_LAST, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")                                    \
  X(ST_AUDIT_SEQ, "SELECT seq FROM sqlite_sequence WHERE name = 'audit'")                                    \
  X(ST_USER_ADD,                                                                                             \
    "INSERT INTO user(name, password_hash, role, agency, scope, disabled, created_ms)"                       \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id")                                                      \
  X(ST_USER_BY_NAME,                                                                                         \
    "SELECT id, name, password_hash, role, agency, scope, disabled, created_ms FROM user WHERE name = ?1")   \
  X(ST_USER_BY_ID,                                                                                           \
    "SELECT id, name, password_hash, role, agency, scope, disabled, created_ms FROM user WHERE id = ?1")     \
  X(ST_USER_UPDATE,                                                                                          \
    "UPDATE user SET password_hash = ?2, role = ?3, agency = ?4, scope = ?5, disabled = ?6 WHERE id = ?1")   \
  X(ST_TOKEN_ADD,                                                                                            \
    "INSERT INTO token(label, secret_hash, role, agency, scope, created_ms, expires_ms, revoked)"            \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id")                                                  \
  X(ST_TOKEN_GET,                                                                                            \
    "SELECT id, label, secret_hash, role, agency, scope, created_ms, expires_ms, revoked FROM token"         \
    " WHERE secret_hash = ?1")                                                                               \
  X(ST_TOKEN_REVOKE, "UPDATE token SET revoked = 1 WHERE id = ?1")                                           \
  X(ST_TOKEN_LIST,                                                                                           \
    "SELECT id, label, secret_hash, role, agency, scope, created_ms, expires_ms, revoked FROM token"         \
    " ORDER BY id")                                                                                          \
  X(ST_SESSION_ADD,                                                                                          \
    "INSERT INTO session(id_hash, user_id, csrf, created_ms, expires_ms) VALUES(?1, ?2, ?3, ?4, ?5)")        \
  X(ST_SESSION_GET, "SELECT id_hash, user_id, csrf, created_ms, expires_ms FROM session WHERE id_hash = ?1") \
  X(ST_SESSION_DELETE, "DELETE FROM session WHERE id_hash = ?1 OR (?1 IS NULL AND user_id = ?2)")            \
  X(ST_SESSION_PURGE, "DELETE FROM session WHERE expires_ms <= ?1")                                        \
  X(ST_RECORD_ADD,                                                                                           \
    "INSERT INTO record(kind, key, body, version, updated_ms) VALUES(?1, ?2, ?3, 1, ?4) RETURNING id")        \
  X(ST_RECORD_VERSION, "SELECT version FROM record WHERE kind = ?1 AND id = ?2")                             \
  X(ST_RECORD_UPDATE,                                                                                        \
    "UPDATE record SET key = ?3, body = ?4, version = version + 1, updated_ms = ?5"                         \
    " WHERE kind = ?1 AND id = ?2 RETURNING version")                                                        \
  X(ST_RECORD_GET,                                                                                           \
    "SELECT id, kind, key, body, version, updated_ms FROM record"                                            \
    " WHERE kind = ?1 AND (id = ?2 OR (?2 = 0 AND key = ?3))")                                               \
  X(ST_RECORD_SCAN,                                                                                          \
    "SELECT id, kind, key, body, version, updated_ms FROM record WHERE kind = ?1 ORDER BY id")               \
  X(ST_RECORD_DELETE, "DELETE FROM record WHERE kind = ?1 AND id = ?2")                                      \
  X(ST_EVENT_ADD, "INSERT INTO event(time_ms, kind, body) VALUES(?1, ?2, ?3) RETURNING id")                  \
  X(ST_EVENT_READ, "SELECT id, time_ms, kind, body FROM event WHERE id > ?1 ORDER BY id")

enum {
#define ST_ENUM(name, sql) name,
  SQL_STATEMENTS(ST_ENUM)
#undef ST_ENUM
      ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
#define ST_TEXT(name, sql) sql,
    SQL_STATEMENTS(ST_TEXT)
#undef ST_TEXT
};

typedef struct db_sqlite {
  db_store base;
  sqlite3 *db;
  sqlite3_stmt *stmts[ST_COUNT]; /* prepared on first use */
  int in_tx;
  int bulk;               /* the transaction was begun with bulk = 1 */
  int rollback_journal;   /* the bulk transaction runs with a rollback journal instead of WAL */
  int64_t batch_seq;      /* the batch begun in this transaction and not finished yet, 0 when none */
  char *batch_key;        /* its idempotency key (owned), written by batch_finish */
  int64_t checked_series; /* last series id that obs_write found in this transaction */
  int row_by_row;         /* the last block met existing keys: write the next one row by row */
} db_sqlite;

static db_sqlite *handle(db_store *s) { return (db_sqlite *)s; }

/* ---------- SQLite helpers ---------- */

/* The DB_E* code of an SQLite (extended) result code. */
static int map_rc(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return DB_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return DB_EBUSY;
    case SQLITE_NOMEM:
      return DB_ENOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return DB_EIO;
    case SQLITE_INTERRUPT:
      return DB_EINTERRUPTED;
    case SQLITE_CONSTRAINT:
      return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ? DB_EEXIST : DB_EINVAL;
    default:
      return DB_ESTORE;
  }
}

/* The cached statement `which` (prepared on first use), or NULL when it cannot be prepared (*rc set).
 * Every user resets the statement after use, so it is always ready to bind. */
static sqlite3_stmt *stmt(db_sqlite *s, int which, int *rc) {
  sqlite3_stmt *st = s->stmts[which];
  if (!st) {
    int e = sqlite3_prepare_v3(s->db, statement_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (e != SQLITE_OK) {
      *rc = map_rc(e);
      return NULL;
    }
    s->stmts[which] = st;
  }
  return st;
}

/* Steps st once and resets it: 0 when it ran to completion, a DB_E* code otherwise. */
static int run(sqlite3_stmt *st) {
  int e = sqlite3_step(st);
  sqlite3_reset(st);
  return e == SQLITE_DONE ? DB_OK : map_rc(e == SQLITE_ROW ? SQLITE_MISUSE : e);
}

/* Runs cached statement `which` that takes no parameters. */
static int run_cached(db_sqlite *s, int which) {
  int rc = DB_OK;
  sqlite3_stmt *st = stmt(s, which, &rc);
  return st ? run(st) : rc;
}

/* Steps st expecting one row whose first column is an integer: 0 and *out, DB_ENOTFOUND when there is
 * no row, another code on failure. Resets st. */
static int step_int64(sqlite3_stmt *st, int64_t *out) {
  int e = sqlite3_step(st);
  int rc = e == SQLITE_ROW ? DB_OK : e == SQLITE_DONE ? DB_ENOTFOUND : map_rc(e);
  if (e == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc;
}

/* Text bound for the duration of one step (SQLITE_STATIC: every use rebinds every parameter). */
static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void bind_number(sqlite3_stmt *st, int i, double v) {
  if (isnan(v))
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, v);
}

static void bind_date(sqlite3_stmt *st, int i, int64_t days) {
  if (days == DB_DATE_NONE)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, days);
}

/* Column readers: NULL text, NAN, DB_DATE_NONE for SQL NULL. The text is valid until the next step. */
static char *col_text(sqlite3_stmt *st, int i) { return (char *)sqlite3_column_text(st, i); }

static double col_number(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int64_t col_date(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? DB_DATE_NONE : sqlite3_column_int64(st, i);
}

/* A callback's answer as a scan's result: negative codes pass through, a positive stop is success. */
static int stop_code(int cb_rc) { return cb_rc < 0 ? cb_rc : 0; }

/* Ends a scan of a cached statement: resets it, and turns the last step's code e, or the nonzero
 * answer `stop` of the callback that ended the scan (see stop_code), into the scan's result. */
static int end_scan(sqlite3_stmt *st, int e, int stop) {
  sqlite3_reset(st);
  return stop ? stop_code(stop) : map_rc(e);
}

/* Runs a pragma and copies the first column of its row (lowercased by SQLite for journal_mode) into out. */
static int pragma_text(db_sqlite *s, const char *sql, char *out, size_t cap) {
  sqlite3_stmt *st = NULL;
  int e = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (e == SQLITE_OK) e = sqlite3_step(st);
  int rc = e == SQLITE_ROW || e == SQLITE_DONE ? DB_OK : map_rc(e);
  out[0] = '\0';
  if (e == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    strncpy(out, (const char *)sqlite3_column_text(st, 0), cap - 1);
    out[cap - 1] = '\0';
  }
  sqlite3_finalize(st);
  return rc;
}

static int set_cache(db_sqlite *s, int kib) {
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", kib);
  return map_rc(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

/* Refuses writes outside a transaction. */
static int need_tx(db_sqlite *s) { return s->in_tx ? DB_OK : DB_EINVAL; }

/* ---------- the db_obs_block virtual table ---------- */

/* A table-valued function over a caller's array of db_obs, passed as a pointer bound to its hidden
 * column: SELECT series, period, value, status FROM db_obs_block(?1). */
typedef struct obs_block {
  const db_obs *rows;
  size_t n;
} obs_block;

#define OBS_BLOCK_POINTER "db_obs_block"

typedef struct block_cursor {
  sqlite3_vtab_cursor base;
  const obs_block *block;
  size_t i;
} block_cursor;

static int block_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                         char **err) {
  int e = sqlite3_declare_vtab(db, "CREATE TABLE x(series, period, value, status, block HIDDEN)");
  if (e != SQLITE_OK) return e;
  *out = db_calloc(1, sizeof **out);
  return SQLITE_OK;
}

static int block_disconnect(sqlite3_vtab *v) {
  db_free(v);
  return SQLITE_OK;
}

/* The only plan: the block pointer given as an equality on the hidden column. */
static int block_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn != 4 || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    info->aConstraintUsage[i].argvIndex = 1;
    info->aConstraintUsage[i].omit = 1;
    info->estimatedCost = 1;
    return SQLITE_OK;
  }
  return SQLITE_CONSTRAINT;
}

static int block_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
  *out = db_calloc(1, sizeof(block_cursor));
  return SQLITE_OK;
}

static int block_close(sqlite3_vtab_cursor *c) {
  db_free(c);
  return SQLITE_OK;
}

static int block_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
                        sqlite3_value **argv) {
  block_cursor *c = (block_cursor *)cur;
  c->block = argc == 1 ? sqlite3_value_pointer(argv[0], OBS_BLOCK_POINTER) : NULL;
  c->i = 0;
  return SQLITE_OK;
}

static int block_next(sqlite3_vtab_cursor *cur) {
  ((block_cursor *)cur)->i++;
  return SQLITE_OK;
}

static int block_eof(sqlite3_vtab_cursor *cur) {
  const block_cursor *c = (const block_cursor *)cur;
  return !c->block || c->i >= c->block->n;
}

static int block_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  const block_cursor *c = (const block_cursor *)cur;
  const db_obs *o = &c->block->rows[c->i];
  switch (col) {
    case 0:
      sqlite3_result_int64(ctx, o->series);
      break;
    case 1:
      sqlite3_result_int64(ctx, o->period);
      break;
    case 2:
      sqlite3_result_double(ctx, o->value);
      break;
    case 3:
      sqlite3_result_int(ctx, o->status);
      break;
    default:
      sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

static int block_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((const block_cursor *)cur)->i;
  return SQLITE_OK;
}

/* Eponymous-only (no xCreate): it exists in every connection without a CREATE VIRTUAL TABLE. */
static const sqlite3_module obs_block_module = {
    .xConnect = block_connect,
    .xBestIndex = block_best_index,
    .xDisconnect = block_disconnect,
    .xOpen = block_open,
    .xClose = block_close,
    .xFilter = block_filter,
    .xNext = block_next,
    .xEof = block_eof,
    .xColumn = block_column,
    .xRowid = block_rowid,
};

/* ---------- transactions ---------- */

/* For a bulk load into an empty obs table with no other connection: leaves WAL for a rollback journal
 * (see the top of the file). The switch is only an optimisation: when it is not possible (another
 * connection holds the store: no wait on the busy timeout then) the load quietly runs in WAL. */
static int enter_bulk_journal(db_sqlite *s) {
  int rc = DB_OK;
  int64_t any = 0;
  sqlite3_stmt *st = stmt(s, ST_OBS_ANY, &rc);
  if (!st) return rc;
  rc = step_int64(st, &any);
  if (rc != DB_ENOTFOUND) return rc; /* 0: obs has rows */
  char mode[16];
  sqlite3_busy_timeout(s->db, 0);
  rc = pragma_text(s, "PRAGMA journal_mode = TRUNCATE", mode, sizeof mode);
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  s->rollback_journal = rc == DB_OK && strcmp(mode, "truncate") == 0;
  return DB_OK;
}

/* Back to WAL after a bulk transaction. DELETE first removes the empty journal file that TRUNCATE
 * leaves. If a newcomer holds the store past the busy timeout the store stays in rollback mode until
 * the next open, which sets WAL again; commits stay durable either way. */
static void leave_bulk_journal(db_sqlite *s) {
  char mode[16];
  if (!s->rollback_journal) return;
  s->rollback_journal = 0;
  if (pragma_text(s, "PRAGMA journal_mode = DELETE", mode, sizeof mode) == DB_OK)
    pragma_text(s, "PRAGMA journal_mode = WAL", mode, sizeof mode);
}

/* Begins the transaction with BEGIN IMMEDIATE: the write lock is taken now, so a second writer waits
 * here (busy timeout) rather than failing half-way. */
static int sq_begin(db_store *st, int bulk) {
  db_sqlite *s = handle(st);
  if (s->in_tx) return DB_EINVAL;
  int rc = DB_OK;
  if (bulk && (rc = set_cache(s, BULK_CACHE_KIB)) == DB_OK) rc = enter_bulk_journal(s);
  if (rc == DB_OK) rc = run_cached(s, ST_BEGIN);
  if (rc != DB_OK) {
    leave_bulk_journal(s);
    if (bulk) set_cache(s, CACHE_KIB);
    return rc;
  }
  s->in_tx = 1;
  s->bulk = bulk;
  s->checked_series = 0;
  s->row_by_row = 0;
  return DB_OK;
}

/* Ends the transaction with ST_COMMIT or ST_ROLLBACK. A failed commit rolls back, so the handle is
 * always out of the transaction afterwards. */
static int end_tx(db_sqlite *s, int which) {
  if (!s->in_tx) return DB_EINVAL;
  int rc = run_cached(s, which);
  if (rc != DB_OK && !sqlite3_get_autocommit(s->db)) run_cached(s, ST_ROLLBACK);
  s->in_tx = 0;
  s->batch_seq = 0;
  db_free(s->batch_key);
  s->batch_key = NULL;
  leave_bulk_journal(s);
  if (s->bulk) set_cache(s, CACHE_KIB);
  s->bulk = 0;
  return rc;
}

static int sq_commit(db_store *st) { return end_tx(handle(st), ST_COMMIT); }

static int sq_rollback(db_store *st) { return end_tx(handle(st), ST_ROLLBACK); }

static int sq_schema_version(db_store *st, int *version) {
  db_sqlite *s = handle(st);
  int rc = DB_OK;
  int64_t v = 0;
  sqlite3_stmt *q = stmt(s, ST_USER_VERSION, &rc);
  if (q) rc = step_int64(q, &v);
  *version = (int)v;
  return rc;
}

/* ---------- catalog ---------- */

/* The id of the object `code` of the table that `which` looks up: 0, DB_ENOTFOUND or an error. */
static int id_of(db_sqlite *s, int which, const char *code, int64_t *id) {
  int rc = DB_OK;
  sqlite3_stmt *st = stmt(s, which, &rc);
  if (!st) return rc;
  bind_text(st, 1, code);
  return step_int64(st, id);
}

/* Upserts a unit by code. Its parent must be stored first (DB_ENOTFOUND otherwise): the importers write
 * units level by level. */
static int sq_put_orgunit(db_store *store, db_orgunit *ou) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!ou->code || (ou->parent && strcmp(ou->parent, ou->code) == 0)) return DB_EINVAL;
  int64_t parent = 0;
  if (ou->parent && (rc = id_of(s, ST_UNIT_ID, ou->parent, &parent)) != DB_OK) return rc;
  sqlite3_stmt *st = stmt(s, ST_PUT_UNIT, &rc);
  if (!st) return rc;
  bind_text(st, 1, ou->code);
  bind_text(st, 2, ou->name);
  bind_text(st, 3, ou->name_en);
  sqlite3_bind_int(st, 4, (int)ou->kind);
  if (ou->parent)
    sqlite3_bind_int64(st, 5, parent);
  else
    sqlite3_bind_null(st, 5);
  sqlite3_bind_int(st, 6, ou->level);
  bind_date(st, 7, ou->valid_from);
  bind_date(st, 8, ou->valid_to);
  bind_number(st, 9, ou->population);
  bind_number(st, 10, ou->area_km2);
  bind_text(st, 11, ou->geometry);
  bind_text(st, 12, ou->attributes);
  return step_int64(st, &ou->id);
}

static int sq_put_succession(db_store *store, const db_succession *su) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!su->from || !su->to || isnan(su->weight)) return DB_EINVAL;
  int64_t from = 0, to = 0;
  if ((rc = id_of(s, ST_UNIT_ID, su->from, &from)) != DB_OK) return rc;
  if ((rc = id_of(s, ST_UNIT_ID, su->to, &to)) != DB_OK) return rc;
  sqlite3_stmt *st = stmt(s, ST_PUT_SUCCESSION, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  sqlite3_bind_double(st, 3, su->weight);
  sqlite3_bind_int(st, 4, su->partial);
  bind_date(st, 5, su->date);
  return run(st);
}

static int sq_put_agency(db_store *store, db_agency *a) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!a->code) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_PUT_AGENCY, &rc);
  if (!st) return rc;
  bind_text(st, 1, a->code);
  bind_text(st, 2, a->name);
  bind_text(st, 3, a->name_en);
  bind_text(st, 4, a->kind);
  bind_text(st, 5, a->orgunit);
  bind_text(st, 6, a->parent);
  return step_int64(st, &a->id);
}

static int sq_put_indicator(db_store *store, db_indicator *ind) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!ind->code) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_PUT_INDICATOR, &rc);
  if (!st) return rc;
  bind_text(st, 1, ind->code);
  bind_text(st, 2, ind->name);
  bind_text(st, 3, ind->name_en);
  bind_text(st, 4, ind->description);
  bind_text(st, 5, ind->unit);
  sqlite3_bind_int(st, 6, ind->unit_mult);
  sqlite3_bind_int(st, 7, ind->decimals);
  sqlite3_bind_int(st, 8, (int)ind->periodicity);
  sqlite3_bind_int(st, 9, ind->period_span);
  sqlite3_bind_int(st, 10, (int)ind->agg_space);
  bind_text(st, 11, ind->weight);
  sqlite3_bind_int(st, 12, (int)ind->agg_time);
  sqlite3_bind_int(st, 13, (int)ind->polarity);
  bind_number(st, 14, ind->valid_min);
  bind_number(st, 15, ind->valid_max);
  bind_text(st, 16, ind->owner);
  bind_text(st, 17, ind->sector);
  bind_text(st, 18, ind->groups);
  sqlite3_bind_int(st, 19, ind->is_public);
  bind_text(st, 20, ind->legal_ref);
  bind_text(st, 21, ind->formula);
  bind_text(st, 22, ind->dimensions);
  bind_text(st, 23, ind->source);
  sqlite3_bind_int(st, 24, ind->synthetic);
  sqlite3_bind_double(st, 25, ind->band_at_risk);
  sqlite3_bind_double(st, 26, ind->band_off_track);
  return step_int64(st, &ind->id);
}

/* Upserts a dimension by code; its items replace the stored ones, in the given order. */
static int sq_put_dimension(db_store *store, db_dimension *dim) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!dim->code) return DB_EINVAL;
  for (size_t i = 0; i < dim->n_items; i++)
    if (!dim->items[i].code) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_PUT_DIMENSION, &rc);
  if (!st) return rc;
  bind_text(st, 1, dim->code);
  bind_text(st, 2, dim->name);
  if ((rc = step_int64(st, &dim->id)) != DB_OK) return rc;
  if (!(st = stmt(s, ST_DROP_ITEMS, &rc))) return rc;
  sqlite3_bind_int64(st, 1, dim->id);
  if ((rc = run(st)) != DB_OK) return rc;
  if (!(st = stmt(s, ST_PUT_ITEM, &rc))) return rc;
  for (size_t i = 0; i < dim->n_items && rc == DB_OK; i++) {
    sqlite3_bind_int64(st, 1, dim->id);
    bind_text(st, 2, dim->items[i].code);
    bind_text(st, 3, dim->items[i].name);
    sqlite3_bind_int64(st, 4, (int64_t)i);
    rc = run(st);
  }
  return rc;
}

/* Upserts a target by (indicator, unit, period, kind); its period code is stored as a period key. */
static int sq_put_target(db_store *store, const db_target *t) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  db_period p;
  if (!t->indicator || !t->orgunit || !t->period || !t->kind ||
      db_period_parse(t->period, strlen(t->period), &p, NULL) != 0)
    return DB_EINVAL;
  int64_t ind = 0, unit = 0;
  if ((rc = id_of(s, ST_INDICATOR_ID, t->indicator, &ind)) != DB_OK) return rc;
  if ((rc = id_of(s, ST_UNIT_ID, t->orgunit, &unit)) != DB_OK) return rc;
  sqlite3_stmt *st = stmt(s, ST_PUT_TARGET, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, ind);
  sqlite3_bind_int64(st, 2, unit);
  sqlite3_bind_int64(st, 3, db_period_key(&p));
  bind_text(st, 4, t->kind);
  bind_number(st, 5, t->value);
  bind_text(st, 6, t->source);
  return run(st);
}

static int sq_read_targets(db_store *store, const char *indicator, db_target_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_READ_TARGETS, &rc);
  if (!st) return rc;
  bind_text(st, 1, indicator);
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_period p;
    char code[DB_PERIOD_CODE_MAX];
    if (db_period_from_key(sqlite3_column_int64(st, 2), &p) != 0) {
      stop = DB_ESTORE; /* a key this program did not write */
      break;
    }
    db_period_format(&p, code);
    db_target t = {col_text(st, 0), col_text(st, 1),   code,
                   col_text(st, 3), col_number(st, 4), col_text(st, 5)};
    if ((stop = cb(ctx, &t)) != 0) break;
  }
  return end_scan(st, e, stop);
}

/* Deletes an indicator that no series and no other indicator's weight refers to, with its targets. */
static int sq_delete_indicator(db_store *store, const char *code) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  int64_t id = 0, in_use = 0;
  if ((rc = id_of(s, ST_INDICATOR_ID, code, &id)) != DB_OK) return rc;
  sqlite3_stmt *st = stmt(s, ST_INDICATOR_IN_USE, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  bind_text(st, 2, code);
  if ((rc = step_int64(st, &in_use)) != DB_OK) return rc;
  if (in_use) return DB_ECONFLICT;
  if (!(st = stmt(s, ST_DROP_TARGETS, &rc))) return rc;
  sqlite3_bind_int64(st, 1, id);
  if ((rc = run(st)) != DB_OK) return rc;
  if (!(st = stmt(s, ST_DROP_INDICATOR, &rc))) return rc;
  sqlite3_bind_int64(st, 1, id);
  return run(st);
}

static int load_units(db_sqlite *s, db_catalog *out) {
  int rc = DB_OK, e;
  sqlite3_stmt *st = stmt(s, ST_LOAD_UNITS, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_orgunit ou = {
        .id = sqlite3_column_int64(st, 0),
        .code = col_text(st, 1),
        .name = col_text(st, 2),
        .name_en = col_text(st, 3),
        .kind = (db_ou_kind)sqlite3_column_int(st, 4),
        .parent = col_text(st, 5),
        .level = sqlite3_column_int(st, 6),
        .valid_from = col_date(st, 7),
        .valid_to = col_date(st, 8),
        .population = col_number(st, 9),
        .area_km2 = col_number(st, 10),
        .geometry = col_text(st, 11),
        .attributes = col_text(st, 12),
    };
    db_catalog_put_unit(out, &ou); /* copies the strings, which live until the next step */
  }
  sqlite3_reset(st);
  return map_rc(e);
}

static int load_successions(db_sqlite *s, db_catalog *out) {
  int rc = DB_OK, e;
  sqlite3_stmt *st = stmt(s, ST_LOAD_SUCCESSIONS, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_succession su = {col_text(st, 0), col_text(st, 1), sqlite3_column_double(st, 2),
                        sqlite3_column_int(st, 3), col_date(st, 4)};
    db_catalog_add_succession(out, &su);
  }
  sqlite3_reset(st);
  return map_rc(e);
}

static int load_agencies(db_sqlite *s, db_catalog *out) {
  int rc = DB_OK, e;
  sqlite3_stmt *st = stmt(s, ST_LOAD_AGENCIES, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_agency a = {sqlite3_column_int64(st, 0),
                   col_text(st, 1),
                   col_text(st, 2),
                   col_text(st, 3),
                   col_text(st, 4),
                   col_text(st, 5),
                   col_text(st, 6)};
    db_catalog_put_agency(out, &a);
  }
  sqlite3_reset(st);
  return map_rc(e);
}

static int load_indicators(db_sqlite *s, db_catalog *out) {
  int rc = DB_OK, e;
  sqlite3_stmt *st = stmt(s, ST_LOAD_INDICATORS, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_indicator ind = {
        .id = sqlite3_column_int64(st, 0),
        .code = col_text(st, 1),
        .name = col_text(st, 2),
        .name_en = col_text(st, 3),
        .description = col_text(st, 4),
        .unit = col_text(st, 5),
        .unit_mult = sqlite3_column_int(st, 6),
        .decimals = sqlite3_column_int(st, 7),
        .periodicity = (db_period_type)sqlite3_column_int(st, 8),
        .period_span = sqlite3_column_int(st, 9),
        .agg_space = (db_agg)sqlite3_column_int(st, 10),
        .weight = col_text(st, 11),
        .agg_time = (db_agg)sqlite3_column_int(st, 12),
        .polarity = (db_polarity)sqlite3_column_int(st, 13),
        .valid_min = col_number(st, 14),
        .valid_max = col_number(st, 15),
        .owner = col_text(st, 16),
        .sector = col_text(st, 17),
        .groups = col_text(st, 18),
        .is_public = sqlite3_column_int(st, 19),
        .legal_ref = col_text(st, 20),
        .formula = col_text(st, 21),
        .dimensions = col_text(st, 22),
        .source = col_text(st, 23),
        .synthetic = sqlite3_column_int(st, 24),
        .band_at_risk = sqlite3_column_double(st, 25),
        .band_off_track = sqlite3_column_double(st, 26),
    };
    db_catalog_put_indicator(out, &ind);
  }
  sqlite3_reset(st);
  return map_rc(e);
}

/* The items of dimension `id`, copied into *items (owned by the caller, with their strings). */
static int load_items(db_sqlite *s, int64_t id, db_dim_item **items, size_t *n) {
  int rc = DB_OK, e;
  size_t cap = 0;
  *items = NULL;
  *n = 0;
  sqlite3_stmt *st = stmt(s, ST_LOAD_ITEMS, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      *items = db_realloc(*items, cap * sizeof **items);
    }
    (*items)[(*n)++] = (db_dim_item){db_strdup(col_text(st, 0)), db_strdup(col_text(st, 1))};
  }
  sqlite3_reset(st);
  return map_rc(e);
}

static int load_dimensions(db_sqlite *s, db_catalog *out) {
  int rc = DB_OK, e;
  sqlite3_stmt *st = stmt(s, ST_LOAD_DIMENSIONS, &rc);
  if (!st) return rc;
  while (rc == DB_OK && (e = sqlite3_step(st)) == SQLITE_ROW) {
    db_dimension dim = {sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2), NULL, 0};
    rc = load_items(s, dim.id, &dim.items, &dim.n_items);
    if (rc == DB_OK) db_catalog_put_dimension(out, &dim);
    for (size_t i = 0; i < dim.n_items; i++) {
      db_free(dim.items[i].code);
      db_free(dim.items[i].name);
    }
    db_free(dim.items);
  }
  sqlite3_reset(st);
  return rc != DB_OK ? rc : map_rc(e);
}

/* Fills the caller's (initialised) catalog with every stored object; units come parents first. The
 * catalog is not linked (db_catalog_link is the caller's choice). */
static int sq_load_catalog(db_store *store, db_catalog *out) {
  db_sqlite *s = handle(store);
  int rc = load_units(s, out);
  if (rc == DB_OK) rc = load_successions(s, out);
  if (rc == DB_OK) rc = load_agencies(s, out);
  if (rc == DB_OK) rc = load_indicators(s, out);
  if (rc == DB_OK) rc = load_dimensions(s, out);
  return rc;
}

/* ---------- series ---------- */

static int sq_read_series(db_store *store, db_series_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_READ_SERIES, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_series se = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                    col_text(st, 3)};
    if ((stop = cb(ctx, &se)) != 0) break;
  }
  return end_scan(st, e, stop);
}

/* Creates a series: DB_EEXIST when its key or its given id is taken, DB_EINVAL when its indicator or
 * unit is not stored (foreign key). */
static int sq_put_series(db_store *store, db_series *series) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  sqlite3_stmt *st = stmt(s, ST_PUT_SERIES, &rc);
  if (!st) return rc;
  if (series->id)
    sqlite3_bind_int64(st, 1, series->id);
  else
    sqlite3_bind_null(st, 1);
  sqlite3_bind_int64(st, 2, series->indicator);
  sqlite3_bind_int64(st, 3, series->orgunit);
  bind_text(st, 4, series->dimkey ? series->dimkey : "");
  if ((rc = run(st)) == DB_OK && !series->id) series->id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

/* ---------- batches ---------- */

static int sq_batch_find(db_store *store, const char *key, db_batch_summary *out) {
  db_sqlite *s = handle(store);
  int rc = DB_OK;
  if (!key) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_BATCH_FIND, &rc);
  if (!st) return rc;
  bind_text(st, 1, key);
  int e = sqlite3_step(st);
  if (e == SQLITE_ROW) {
    *out = (db_batch_summary){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                              sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                              db_strdup(col_text(st, 4))};
  }
  rc = e == SQLITE_ROW ? DB_OK : e == SQLITE_DONE ? DB_ENOTFOUND : map_rc(e);
  sqlite3_reset(st);
  return rc;
}

/* Allocates the next change sequence number by inserting the batch row; its key is kept in the handle
 * and written by batch_finish, so that only finished batches answer batch_find. One batch at a time. */
static int sq_batch_begin(db_store *store, const db_batch_info *info, int64_t *seq) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (s->batch_seq) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_BATCH_BEGIN, &rc);
  if (!st) return rc;
  bind_text(st, 1, info->source);
  bind_text(st, 2, info->actor);
  sqlite3_bind_int64(st, 3, info->received_ms ? info->received_ms : db_now_ms());
  if ((rc = run(st)) != DB_OK) return rc;
  *seq = s->batch_seq = sqlite3_last_insert_rowid(s->db);
  s->batch_key = db_strdup(info->idempotency_key);
  return DB_OK;
}

/* Records the summary and the idempotency key of the open batch (summary->seq); DB_EEXIST when a
 * committed batch already has the key. */
static int sq_batch_finish(db_store *store, const db_batch_summary *sum) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!s->batch_seq || sum->seq != s->batch_seq) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_BATCH_FINISH, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, sum->seq);
  bind_text(st, 2, s->batch_key);
  sqlite3_bind_int64(st, 3, sum->inserted);
  sqlite3_bind_int64(st, 4, sum->revised);
  sqlite3_bind_int64(st, 5, sum->unchanged);
  bind_text(st, 6, sum->result_json);
  if ((rc = run(st)) != DB_OK) return rc;
  s->batch_seq = 0;
  db_free(s->batch_key);
  s->batch_key = NULL;
  return DB_OK;
}

/* ---------- observations: writes ---------- */

/* Checks what the schema does not (obs has no foreign keys, see migrations_sqlite.c): a known status, a
 * finite value, a period key, an existing series (looked up once per run of rows of one series). */
static int check_rows(db_sqlite *s, const db_obs *rows, size_t n) {
  int rc = DB_OK;
  for (size_t i = 0; i < n; i++) {
    const db_obs *o = &rows[i];
    if (o->status < DB_STATUS_PROVISIONAL || o->status > DB_STATUS_ESTIMATED || !isfinite(o->value) ||
        o->period <= 0)
      return DB_EINVAL;
    if (o->series == s->checked_series) continue;
    sqlite3_stmt *st = stmt(s, ST_SERIES_EXISTS, &rc);
    if (!st) return rc;
    int64_t one = 0;
    sqlite3_bind_int64(st, 1, o->series);
    rc = step_int64(st, &one);
    if (rc != DB_OK) return rc == DB_ENOTFOUND ? DB_EINVAL : rc;
    s->checked_series = o->series;
  }
  return DB_OK;
}

/* Inserts every row of the block in one statement: 0 when all were new keys; DB_EEXIST, with nothing
 * written (the statement is undone), when a key exists or repeats in the block. */
static int write_block(db_sqlite *s, int64_t seq, const db_obs *rows, size_t n) {
  int rc = DB_OK;
  obs_block block = {rows, n};
  sqlite3_stmt *st = stmt(s, ST_OBS_BLOCK, &rc);
  if (!st) return rc;
  sqlite3_bind_pointer(st, 1, &block, OBS_BLOCK_POINTER, NULL);
  sqlite3_bind_int64(st, 2, seq);
  rc = run(st);
  sqlite3_bind_null(st, 1); /* the block lives on this stack frame */
  return rc;
}

/* Writes one row, the slow way, and says what it did. */
static int write_row(db_sqlite *s, int64_t seq, const db_obs *o, db_obs_outcome *outcome) {
  int rc = DB_OK;
  sqlite3_stmt *st = stmt(s, ST_OBS_INSERT, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, o->series);
  sqlite3_bind_int64(st, 2, o->period);
  sqlite3_bind_double(st, 3, o->value);
  sqlite3_bind_int(st, 4, o->status);
  sqlite3_bind_int64(st, 5, seq);
  if ((rc = run(st)) != DB_OK) return rc;
  if (sqlite3_changes(s->db) == 1) {
    *outcome = DB_OBS_INSERTED;
    return DB_OK;
  }
  if (!(st = stmt(s, ST_OBS_GET, &rc))) return rc;
  sqlite3_bind_int64(st, 1, o->series);
  sqlite3_bind_int64(st, 2, o->period);
  int e = sqlite3_step(st);
  if (e != SQLITE_ROW) {
    sqlite3_reset(st);
    return e == SQLITE_DONE ? DB_ESTORE : map_rc(e);
  }
  double old_value = sqlite3_column_double(st, 0);
  int old_status = sqlite3_column_int(st, 1);
  int64_t old_rev = sqlite3_column_int64(st, 2), old_seq = sqlite3_column_int64(st, 3);
  sqlite3_reset(st);
  if (old_seq == seq) {
    *outcome = DB_OBS_DUPLICATE;
    return DB_OK;
  }
  /* == rather than a bitwise test: SQLite stores -0.0 as the integer 0, so the two zeros must be equal */
  if (old_value == o->value && old_status == o->status) {
    *outcome = DB_OBS_UNCHANGED;
    return DB_OK;
  }
  if (!(st = stmt(s, ST_HISTORY_PUT, &rc))) return rc;
  sqlite3_bind_int64(st, 1, o->series);
  sqlite3_bind_int64(st, 2, o->period);
  sqlite3_bind_double(st, 3, old_value);
  sqlite3_bind_int(st, 4, old_status);
  sqlite3_bind_int64(st, 5, old_rev);
  sqlite3_bind_int64(st, 6, old_seq);
  if ((rc = run(st)) != DB_OK) return rc;
  if (!(st = stmt(s, ST_OBS_UPDATE, &rc))) return rc;
  sqlite3_bind_int64(st, 1, o->series);
  sqlite3_bind_int64(st, 2, o->period);
  sqlite3_bind_double(st, 3, o->value);
  sqlite3_bind_int(st, 4, o->status);
  sqlite3_bind_int64(st, 5, old_rev + 1);
  sqlite3_bind_int64(st, 6, seq);
  if ((rc = run(st)) != DB_OK) return rc;
  *outcome = DB_OBS_REVISED;
  return DB_OK;
}

/* Writes rows of the open batch `seq` (see the top of the file for the two paths). DB_EINVAL, with
 * nothing written, for a seq that is not the open batch, a row with an unknown series, a status out of
 * range, a value that is not finite or a period key <= 0. */
static int sq_obs_write(db_store *store, int64_t seq, const db_obs *rows, size_t n,
                        db_obs_outcome *outcomes) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!s->batch_seq || seq != s->batch_seq || (n && (!rows || !outcomes))) return DB_EINVAL;
  if (n == 0) return DB_OK;
  if ((rc = check_rows(s, rows, n)) != DB_OK) return rc;
  if (!s->row_by_row) {
    rc = write_block(s, seq, rows, n);
    if (rc == DB_OK) {
      for (size_t i = 0; i < n; i++) outcomes[i] = DB_OBS_INSERTED;
      return DB_OK;
    }
    if (rc != DB_EEXIST) return rc;
  }
  int all_new = 1;
  for (size_t i = 0; i < n; i++) {
    if ((rc = write_row(s, seq, &rows[i], &outcomes[i])) != DB_OK) return rc;
    all_new &= outcomes[i] == DB_OBS_INSERTED;
  }
  s->row_by_row = !all_new;
  return DB_OK;
}

/* ---------- observations: reads ---------- */

/* The row at the current position of a statement whose columns are those of ST_OBS_HISTORY. */
static db_obs_row obs_row(sqlite3_stmt *st) {
  return (db_obs_row){
      .series = sqlite3_column_int64(st, 0),
      .indicator = sqlite3_column_int64(st, 1),
      .orgunit = sqlite3_column_int64(st, 2),
      .dimkey = col_text(st, 3),
      .period = sqlite3_column_int64(st, 4),
      .value = sqlite3_column_double(st, 5),
      .status = sqlite3_column_int(st, 6),
      .revision = sqlite3_column_int(st, 7),
      .seq = sqlite3_column_int64(st, 8),
      .received_ms = sqlite3_column_int64(st, 9),
  };
}

static void append_in(db_buf *sql, const char *column, const int64_t *ids, size_t n) {
  if (!ids) return;
  db_buf_printf(sql, " AND %s IN (", column);
  for (size_t i = 0; i < n; i++) db_buf_printf(sql, "%s%lld", i ? "," : "", (long long)ids[i]);
  db_buf_putc(sql, ')');
}

/* The SQL of a filtered read of current rows, in the contract's order. The ids and keys are integers,
 * written into the text; the statement is prepared per call (reads of many rows, not the hot path).
 * CROSS JOIN keeps series as the outer loop: walking its (indicator, unit, dimkey) index and each
 * series' rows by primary key yields the order without a sort (left free, the planner scans obs and
 * sorts the whole table in a temporary b-tree). */
static char *read_sql(const db_obs_filter *f) {
  db_buf sql = DB_BUF_INIT;
  db_buf_puts(&sql,
              "SELECT s.id, s.indicator_id, s.orgunit_id, s.dimkey, o.period, o.value, o.status, o.rev,"
              " o.seq, b.received_ms FROM series s CROSS JOIN obs o ON o.series_id = s.id"
              " JOIN batch b ON b.seq = o.seq WHERE 1");
  append_in(&sql, "s.indicator_id", f->indicators, f->n_indicators);
  append_in(&sql, "s.orgunit_id", f->orgunits, f->n_orgunits);
  if (f->period_from) db_buf_printf(&sql, " AND o.period >= %lld", (long long)f->period_from);
  if (f->period_to) db_buf_printf(&sql, " AND o.period <= %lld", (long long)f->period_to);
  db_buf_puts(&sql, " ORDER BY s.indicator_id, s.orgunit_id, s.dimkey, o.period");
  return db_buf_take(&sql);
}

/* Turns *row into the revision that was current at as_of: itself when its batch was received by then,
 * else the latest earlier revision received by then. *found = 0 when there was none. */
static int as_of(db_sqlite *s, int64_t as_of_ms, db_obs_row *row, int *found) {
  *found = 1;
  if (row->received_ms <= as_of_ms) return DB_OK;
  int rc = DB_OK;
  sqlite3_stmt *st = stmt(s, ST_HISTORY_AS_OF, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, row->series);
  sqlite3_bind_int64(st, 2, row->period);
  sqlite3_bind_int64(st, 3, as_of_ms);
  int e = sqlite3_step(st);
  *found = e == SQLITE_ROW;
  if (e == SQLITE_ROW) {
    row->value = sqlite3_column_double(st, 0);
    row->status = sqlite3_column_int(st, 1);
    row->revision = sqlite3_column_int(st, 2);
    row->seq = sqlite3_column_int64(st, 3);
    row->received_ms = sqlite3_column_int64(st, 4);
  }
  sqlite3_reset(st);
  return e == SQLITE_ROW || e == SQLITE_DONE ? DB_OK : map_rc(e);
}

/* The statement of a filtered read, with its parameters bound: the cached one for a single series (one
 * indicator at one unit: the series route and the CLI's series query, read often), else one prepared for
 * the call (*owned = 1: the caller finalizes it). */
static sqlite3_stmt *read_stmt(db_sqlite *s, const db_obs_filter *f, int *owned, int *rc) {
  if (f->n_indicators == 1 && f->n_orgunits == 1 && f->indicators && f->orgunits) {
    sqlite3_stmt *st = stmt(s, ST_OBS_SERIES, rc);
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, f->indicators[0]);
    sqlite3_bind_int64(st, 2, f->orgunits[0]);
    sqlite3_bind_int64(st, 3, f->period_from ? f->period_from : 0);
    sqlite3_bind_int64(st, 4, f->period_to ? f->period_to : INT64_MAX);
    *owned = 0;
    return st;
  }
  char *sql = read_sql(f);
  sqlite3_stmt *st = NULL;
  int e = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  db_free(sql);
  if (e != SQLITE_OK) {
    *rc = map_rc(e);
    return NULL;
  }
  *owned = 1;
  return st;
}

static int sq_obs_read(db_store *store, const db_obs_filter *f, db_obs_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, owned, e;
  sqlite3_stmt *st = read_stmt(s, f, &owned, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_obs_row row = obs_row(st);
    int found = 1;
    if (f->as_of_ms && (rc = as_of(s, f->as_of_ms, &row, &found)) != DB_OK) break;
    int stop = found ? cb(ctx, &row) : 0;
    if (stop) {
      rc = stop_code(stop);
      break;
    }
  }
  if (rc == DB_OK && e != SQLITE_ROW) rc = map_rc(e);
  if (owned) sqlite3_finalize(st);
  else sqlite3_reset(st);
  return rc;
}

/* Every series, by id, as obs_scan needs them: parallel arrays, dimension keys in one arena. */
typedef struct scan_series {
  int64_t *id, *indicator, *orgunit;
  size_t *dimkey; /* offset of each key in keys */
  size_t n, cap;
  db_buf keys;
  int ordered; /* ids ascend in the (indicator, orgunit, dimkey) order */
} scan_series;

static void scan_series_free(scan_series *ss) {
  db_free(ss->id);
  db_free(ss->indicator);
  db_free(ss->orgunit);
  db_free(ss->dimkey);
  db_buf_free(&ss->keys);
}

static int scan_series_add(void *ctx, const db_series *se) {
  scan_series *ss = ctx;
  if (ss->n == ss->cap) {
    ss->cap = ss->cap ? 2 * ss->cap : 1024;
    ss->id = db_realloc(ss->id, ss->cap * sizeof *ss->id);
    ss->indicator = db_realloc(ss->indicator, ss->cap * sizeof *ss->indicator);
    ss->orgunit = db_realloc(ss->orgunit, ss->cap * sizeof *ss->orgunit);
    ss->dimkey = db_realloc(ss->dimkey, ss->cap * sizeof *ss->dimkey);
  }
  size_t i = ss->n++;
  ss->id[i] = se->id;
  ss->indicator[i] = se->indicator;
  ss->orgunit[i] = se->orgunit;
  ss->dimkey[i] = ss->keys.len;
  db_buf_puts(&ss->keys, se->dimkey ? se->dimkey : "");
  db_buf_putc(&ss->keys, '\0');
  if (i && ss->ordered) {
    const char *a = ss->keys.data + ss->dimkey[i - 1], *b = ss->keys.data + ss->dimkey[i];
    ss->ordered = ss->indicator[i - 1] != se->indicator ? ss->indicator[i - 1] < se->indicator
                  : ss->orgunit[i - 1] != se->orgunit   ? ss->orgunit[i - 1] < se->orgunit
                                                        : strcmp(a, b) < 0;
  }
  return 0;
}

/* The index of series `id` in ss (ids ascend), trying `hint` and the one after it first; -1 if absent. */
static int64_t scan_series_find(const scan_series *ss, int64_t id, size_t hint) {
  if (hint < ss->n && ss->id[hint] == id) return (int64_t)hint;
  if (hint + 1 < ss->n && ss->id[hint + 1] == id) return (int64_t)hint + 1;
  size_t a = 0, b = ss->n;
  while (a < b) {
    size_t mid = a + (b - a) / 2;
    if (ss->id[mid] < id)
      a = mid + 1;
    else
      b = mid;
  }
  return a < ss->n && ss->id[a] == id ? (int64_t)a : -1;
}

/* The scan runs as a pipeline on two threads: a reader thread steps the statement and fills blocks of
 * rows (series index, period, value) while the caller's thread hands the previous block to the callback
 * (building the cube takes about as long as reading the store: the two overlap). The handle belongs to
 * the reader thread until the scan returns; the callback must not use it. */
#define SCAN_BLOCK 16384

typedef struct scan_block {
  int64_t period[SCAN_BLOCK];
  double value[SCAN_BLOCK];
  int32_t series[SCAN_BLOCK]; /* index in the scan_series arrays */
  size_t n;
  int last; /* the statement ended (or failed) with this block */
  int rc;   /* DB_OK, or the error that ended the scan */
  int full; /* filled and not yet consumed */
} scan_block;

typedef struct scan_pipe {
  sqlite3_stmt *st;
  const scan_series *ss;
  scan_block *blocks[2];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop; /* the caller wants no more rows */
} scan_pipe;

/* Fills block b from the statement (at: the series index of the last row, a hint); b->last when the
 * statement ended or failed. */
static void scan_fill(scan_pipe *p, scan_block *b, size_t *at) {
  int e = SQLITE_ROW;
  b->n = 0;
  b->rc = DB_OK;
  while (b->n < SCAN_BLOCK && (e = sqlite3_step(p->st)) == SQLITE_ROW) {
    int64_t k = scan_series_find(p->ss, sqlite3_column_int64(p->st, 0), *at);
    if (k < 0) {
      b->rc = DB_ESTORE; /* an observation of no series: the store was edited by hand */
      break;
    }
    *at = (size_t)k;
    b->series[b->n] = (int32_t)k;
    b->period[b->n] = sqlite3_column_int64(p->st, 1);
    b->value[b->n++] = sqlite3_column_double(p->st, 2);
  }
  if (b->rc == DB_OK && e != SQLITE_ROW) b->rc = map_rc(e);
  b->last = b->rc != DB_OK || e != SQLITE_ROW;
}

static void *scan_reader(void *arg) {
  scan_pipe *p = arg;
  size_t at = 0;
  for (int i = 0;; i ^= 1) {
    scan_block *b = p->blocks[i];
    pthread_mutex_lock(&p->mu);
    while (b->full && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop) break;
    scan_fill(p, b, &at);
    pthread_mutex_lock(&p->mu);
    b->full = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (b->last) break;
  }
  return NULL;
}

/* Hands the blocks the reader fills to cb, in order, until the last one or until cb stops the scan. */
static int scan_consume(scan_pipe *p, db_obs_cb cb, void *ctx) {
  const scan_series *ss = p->ss;
  int rc = DB_OK;
  for (int i = 0;; i ^= 1) {
    scan_block *b = p->blocks[i];
    pthread_mutex_lock(&p->mu);
    while (!b->full) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    int stop = 0;
    for (size_t r = 0; r < b->n && !stop; r++) {
      int32_t k = b->series[r];
      db_obs_row row = {.series = ss->id[k],
                        .indicator = ss->indicator[k],
                        .orgunit = ss->orgunit[k],
                        .dimkey = ss->keys.data + ss->dimkey[k],
                        .period = b->period[r],
                        .value = b->value[r]};
      stop = cb(ctx, &row);
    }
    int last = b->last;
    rc = stop ? stop_code(stop) : b->rc;
    pthread_mutex_lock(&p->mu);
    b->full = 0;
    p->stop = stop != 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (last || stop) return rc;
  }
}

/* The series table in memory, then the observations with three columns each: in key order when the
 * series ids follow the contract's order (a sequential read of the table), else walking the series in
 * that order. Both reads run in one read transaction (unless the handle is in one), so they agree. */
static int sq_obs_scan(db_store *store, db_obs_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  scan_series ss = {.ordered = 1};
  int own_tx = !s->in_tx, rc = DB_OK, e;
  scan_pipe p = {.ss = &ss};
  pthread_t reader;
  if (own_tx && (e = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) return map_rc(e);
  if ((rc = sq_read_series(store, scan_series_add, &ss)) != DB_OK) goto done;
  if (!(p.st = stmt(s, ss.ordered ? ST_SCAN_KEYS : ST_SCAN_WALK, &rc))) goto done;
  for (int i = 0; i < 2; i++) p.blocks[i] = db_calloc(1, sizeof *p.blocks[i]);
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.cv, NULL);
  if (pthread_create(&reader, NULL, scan_reader, &p) != 0) {
    rc = DB_ENOMEM;
  } else {
    rc = scan_consume(&p, cb, ctx);
    pthread_join(reader, NULL);
  }
  pthread_mutex_destroy(&p.mu);
  pthread_cond_destroy(&p.cv);
  for (int i = 0; i < 2; i++) db_free(p.blocks[i]);
  sqlite3_reset(p.st);
done:
  if (own_tx) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* ends a read: nothing to lose */
  scan_series_free(&ss);
  return rc;
}

static int sq_obs_history(db_store *store, int64_t series, int64_t period, db_obs_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_OBS_HISTORY, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, series);
  sqlite3_bind_int64(st, 2, period);
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_obs_row row = obs_row(st);
    if ((stop = cb(ctx, &row)) != 0) break;
  }
  return end_scan(st, e, stop);
}

/* ---------- audit ---------- */

/* Appends a record with its chain link (computed by store.c from audit_head, in this transaction). */
static int sq_audit_append(db_store *store, const db_audit *a, const db_audit_link *link) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!a->actor || !a->action) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_AUDIT_PUT, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, a->time_ms ? a->time_ms : db_now_ms());
  bind_text(st, 2, a->actor);
  bind_text(st, 3, a->action);
  bind_text(st, 4, a->object);
  bind_text(st, 5, a->detail);
  bind_text(st, 6, link->prev_hash);
  bind_text(st, 7, link->hash);
  return run(st);
}

static int sq_audit_read(db_store *store, int64_t after_id, db_audit_link_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_AUDIT_READ, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, after_id);
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_audit a = {sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3), col_text(st, 4),
                  col_text(st, 5)};
    db_audit_link l = {sqlite3_column_int64(st, 0), col_text(st, 6), col_text(st, 7)};
    if ((stop = cb(ctx, &l, &a)) != 0) break;
  }
  return end_scan(st, e, stop);
}

/* The last record, and the highest id AUTOINCREMENT ever gave (sqlite_sequence keeps it even when the
 * records at the end are deleted). */
static int sq_audit_head(db_store *store, db_audit_head *out) {
  db_sqlite *s = handle(store);
  int rc = DB_OK;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = stmt(s, ST_AUDIT_LAST, &rc);
  if (!st) return rc;
  int e = sqlite3_step(st);
  if (e == SQLITE_ROW) {
    out->last_id = sqlite3_column_int64(st, 0);
    snprintf(out->hash, sizeof out->hash, "%s", col_text(st, 1) ? col_text(st, 1) : "");
  }
  rc = e == SQLITE_ROW || e == SQLITE_DONE ? DB_OK : map_rc(e);
  sqlite3_reset(st);
  if (rc == DB_OK && (st = stmt(s, ST_AUDIT_SEQ, &rc)) != NULL &&
      (rc = step_int64(st, &out->max_id)) == DB_ENOTFOUND)
    rc = DB_OK;
  return rc;
}

/* ---------- users, tokens, sessions ---------- */

/* A copy of a text column, NULL for SQL NULL. */
static char *col_dup(sqlite3_stmt *st, int i) { return db_strdup(col_text(st, i)); }

/* Steps a statement that reads one row into out with read_row: 0, DB_ENOTFOUND or an error. Resets st. */
static int step_row(sqlite3_stmt *st, void (*read_row)(sqlite3_stmt *st, void *out), void *out) {
  int e = sqlite3_step(st);
  if (e == SQLITE_ROW) read_row(st, out);
  sqlite3_reset(st);
  return e == SQLITE_ROW ? DB_OK : e == SQLITE_DONE ? DB_ENOTFOUND : map_rc(e);
}

/* Runs a write statement that must touch a row: DB_ENOTFOUND when it touched none. */
static int run_changed(db_sqlite *s, sqlite3_stmt *st) {
  int rc = run(st);
  return rc == DB_OK && sqlite3_changes(s->db) == 0 ? DB_ENOTFOUND : rc;
}

static int sq_user_add(db_store *store, db_user_row *u) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!u->name || !u->password_hash || !u->role) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_USER_ADD, &rc);
  if (!st) return rc;
  bind_text(st, 1, u->name);
  bind_text(st, 2, u->password_hash);
  bind_text(st, 3, u->role);
  bind_text(st, 4, u->agency);
  bind_text(st, 5, u->scope);
  sqlite3_bind_int(st, 6, u->disabled != 0);
  sqlite3_bind_int64(st, 7, u->created_ms);
  return step_int64(st, &u->id);
}

static void read_user(sqlite3_stmt *st, void *out) {
  db_user_row *u = out;
  *u = (db_user_row){sqlite3_column_int64(st, 0),
                     col_dup(st, 1),
                     col_dup(st, 2),
                     col_dup(st, 3),
                     col_dup(st, 4),
                     col_dup(st, 5),
                     sqlite3_column_int(st, 6),
                     sqlite3_column_int64(st, 7)};
}

static int sq_user_get(db_store *store, const char *name, int64_t id, db_user_row *out) {
  db_sqlite *s = handle(store);
  int rc = DB_OK;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = stmt(s, name ? ST_USER_BY_NAME : ST_USER_BY_ID, &rc);
  if (!st) return rc;
  if (name)
    bind_text(st, 1, name);
  else
    sqlite3_bind_int64(st, 1, id);
  return step_row(st, read_user, out);
}

static int sq_user_update(db_store *store, const db_user_row *u) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!u->password_hash || !u->role) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_USER_UPDATE, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, u->id);
  bind_text(st, 2, u->password_hash);
  bind_text(st, 3, u->role);
  bind_text(st, 4, u->agency);
  bind_text(st, 5, u->scope);
  sqlite3_bind_int(st, 6, u->disabled != 0);
  return run_changed(s, st);
}

static int sq_token_add(db_store *store, db_token_row *t) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!t->secret_hash || !t->role) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_TOKEN_ADD, &rc);
  if (!st) return rc;
  bind_text(st, 1, t->label);
  bind_text(st, 2, t->secret_hash);
  bind_text(st, 3, t->role);
  bind_text(st, 4, t->agency);
  bind_text(st, 5, t->scope);
  sqlite3_bind_int64(st, 6, t->created_ms);
  sqlite3_bind_int64(st, 7, t->expires_ms);
  sqlite3_bind_int(st, 8, t->revoked != 0);
  return step_int64(st, &t->id);
}

static void read_token(sqlite3_stmt *st, void *out) {
  db_token_row *t = out;
  *t = (db_token_row){sqlite3_column_int64(st, 0),
                      col_dup(st, 1),
                      col_dup(st, 2),
                      col_dup(st, 3),
                      col_dup(st, 4),
                      col_dup(st, 5),
                      sqlite3_column_int64(st, 6),
                      sqlite3_column_int64(st, 7),
                      sqlite3_column_int(st, 8)};
}

static int sq_token_get(db_store *store, const char *secret_hash, db_token_row *out) {
  db_sqlite *s = handle(store);
  int rc = DB_OK;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = stmt(s, ST_TOKEN_GET, &rc);
  if (!st) return rc;
  bind_text(st, 1, secret_hash);
  return step_row(st, read_token, out);
}

static int sq_token_revoke(db_store *store, int64_t id) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  sqlite3_stmt *st = stmt(s, ST_TOKEN_REVOKE, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  return run_changed(s, st);
}

/* The rows handed to cb borrow the statement's text (no copies). */
static int sq_token_list(db_store *store, db_token_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_TOKEN_LIST, &rc);
  if (!st) return rc;
  while ((e = sqlite3_step(st)) == SQLITE_ROW) {
    db_token_row t = {sqlite3_column_int64(st, 0),
                      col_text(st, 1),
                      col_text(st, 2),
                      col_text(st, 3),
                      col_text(st, 4),
                      col_text(st, 5),
                      sqlite3_column_int64(st, 6),
                      sqlite3_column_int64(st, 7),
                      sqlite3_column_int(st, 8)};
    if ((stop = cb(ctx, &t)) != 0) break;
  }
  return end_scan(st, e, stop);
}

static int sq_session_add(db_store *store, const db_session_row *se) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!se->id_hash || !se->csrf) return DB_EINVAL;
  sqlite3_stmt *st = stmt(s, ST_SESSION_ADD, &rc);
  if (!st) return rc;
  bind_text(st, 1, se->id_hash);
  sqlite3_bind_int64(st, 2, se->user_id);
  bind_text(st, 3, se->csrf);
  sqlite3_bind_int64(st, 4, se->created_ms);
  sqlite3_bind_int64(st, 5, se->expires_ms);
  return run(st);
}

static void read_session(sqlite3_stmt *st, void *out) {
  db_session_row *se = out;
  *se = (db_session_row){col_dup(st, 0), sqlite3_column_int64(st, 1), col_dup(st, 2),
                         sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
}

static int sq_session_get(db_store *store, const char *id_hash, db_session_row *out) {
  db_sqlite *s = handle(store);
  int rc = DB_OK;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = stmt(s, ST_SESSION_GET, &rc);
  if (!st) return rc;
  bind_text(st, 1, id_hash);
  return step_row(st, read_session, out);
}

static int sq_session_delete(db_store *store, const char *id_hash, int64_t user_id) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  sqlite3_stmt *st = stmt(s, ST_SESSION_DELETE, &rc);
  if (!st) return rc;
  bind_text(st, 1, id_hash);
  sqlite3_bind_int64(st, 2, user_id);
  return run_changed(s, st);
}

static int sq_session_purge(db_store *store, int64_t now_ms) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  sqlite3_stmt *st = stmt(s, ST_SESSION_PURGE, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, now_ms);
  return run(st);
}

/* ---------- records and events ---------- */

/* Whether kind is a record or event kind: 1 to 64 of [a-z0-9_.]. */
static int kind_ok(const char *kind) {
  size_t n = kind ? strlen(kind) : 0;
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= '0' && kind[i] <= '9') || kind[i] == '_' ||
          kind[i] == '.'))
      return 0;
  return 1;
}

static int sq_record_put(db_store *store, db_record *r, int64_t expect_version) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!kind_ok(r->kind) || !r->body) return DB_EINVAL;
  int64_t now = r->updated_ms ? r->updated_ms : db_now_ms();
  sqlite3_stmt *st;
  if (!r->id) {
    if (!(st = stmt(s, ST_RECORD_ADD, &rc))) return rc;
    bind_text(st, 1, r->kind);
    bind_text(st, 2, r->key);
    bind_text(st, 3, r->body);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = step_int64(st, &r->id)) != DB_OK) return rc; /* DB_EEXIST: key taken; DB_EINVAL: not JSON */
    r->version = 1;
    r->updated_ms = now;
    return DB_OK;
  }
  if (!(st = stmt(s, ST_RECORD_VERSION, &rc))) return rc;
  bind_text(st, 1, r->kind);
  sqlite3_bind_int64(st, 2, r->id);
  int64_t stored = 0;
  if ((rc = step_int64(st, &stored)) != DB_OK) return rc;
  if (expect_version && stored != expect_version) return DB_ECONFLICT;
  if (!(st = stmt(s, ST_RECORD_UPDATE, &rc))) return rc;
  bind_text(st, 1, r->kind);
  sqlite3_bind_int64(st, 2, r->id);
  bind_text(st, 3, r->key);
  bind_text(st, 4, r->body);
  sqlite3_bind_int64(st, 5, now);
  if ((rc = step_int64(st, &r->version)) != DB_OK) return rc;
  r->updated_ms = now;
  return DB_OK;
}

static db_record record_row(sqlite3_stmt *st) {
  return (db_record){sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3),
                     sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5)};
}

static void read_record(sqlite3_stmt *st, void *out) {
  db_record row = record_row(st);
  *(db_record *)out = (db_record){row.id, db_strdup(row.kind), db_strdup(row.key), db_strdup(row.body),
                                  row.version, row.updated_ms};
}

static int sq_record_get(db_store *store, const char *kind, int64_t id, const char *key, db_record *out) {
  db_sqlite *s = handle(store);
  int rc = DB_OK;
  memset(out, 0, sizeof *out);
  if (!kind || (!id && !key)) return DB_ENOTFOUND;
  sqlite3_stmt *st = stmt(s, ST_RECORD_GET, &rc);
  if (!st) return rc;
  bind_text(st, 1, kind);
  sqlite3_bind_int64(st, 2, id);
  bind_text(st, 3, key);
  return step_row(st, read_record, out);
}

static int sq_record_scan(db_store *store, const char *kind, db_record_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_RECORD_SCAN, &rc);
  if (!st) return rc;
  bind_text(st, 1, kind);
  while (!stop && (e = sqlite3_step(st)) == SQLITE_ROW) {
    db_record r = record_row(st);
    stop = cb(ctx, &r);
  }
  return end_scan(st, e, stop);
}

static int sq_record_delete(db_store *store, const char *kind, int64_t id) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  sqlite3_stmt *st = stmt(s, ST_RECORD_DELETE, &rc);
  if (!st) return rc;
  bind_text(st, 1, kind);
  sqlite3_bind_int64(st, 2, id);
  return run_changed(s, st);
}

static int sq_event_append(db_store *store, db_event *ev) {
  db_sqlite *s = handle(store);
  int rc = need_tx(s);
  if (rc) return rc;
  if (!kind_ok(ev->kind) || !ev->body) return DB_EINVAL;
  if (!ev->time_ms) ev->time_ms = db_now_ms();
  sqlite3_stmt *st = stmt(s, ST_EVENT_ADD, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, ev->time_ms);
  bind_text(st, 2, ev->kind);
  bind_text(st, 3, ev->body);
  return step_int64(st, &ev->id);
}

static int sq_event_read(db_store *store, int64_t after_id, db_event_cb cb, void *ctx) {
  db_sqlite *s = handle(store);
  int rc = DB_OK, e, stop = 0;
  sqlite3_stmt *st = stmt(s, ST_EVENT_READ, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, after_id);
  while (!stop && (e = sqlite3_step(st)) == SQLITE_ROW) {
    db_event ev = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3)};
    stop = cb(ctx, &ev);
  }
  return end_scan(st, e, stop);
}

/* ---------- open and close ---------- */

static void sq_close(db_store *store) {
  db_sqlite *s = handle(store);
  if (s->in_tx) end_tx(s, ST_ROLLBACK);
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->stmts[i]);
  sqlite3_close_v2(s->db);
  db_free(s);
}

static const db_store_ops sqlite_ops = {
    .scheme = "sqlite",
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .load_catalog = sq_load_catalog,
    .put_orgunit = sq_put_orgunit,
    .put_succession = sq_put_succession,
    .put_agency = sq_put_agency,
    .put_indicator = sq_put_indicator,
    .put_dimension = sq_put_dimension,
    .put_target = sq_put_target,
    .read_targets = sq_read_targets,
    .delete_indicator = sq_delete_indicator,
    .read_series = sq_read_series,
    .put_series = sq_put_series,
    .batch_find = sq_batch_find,
    .batch_begin = sq_batch_begin,
    .obs_write = sq_obs_write,
    .batch_finish = sq_batch_finish,
    .obs_read = sq_obs_read,
    .obs_scan = sq_obs_scan,
    .obs_history = sq_obs_history,
    .audit_append = sq_audit_append,
    .audit_read = sq_audit_read,
    .audit_head = sq_audit_head,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_update = sq_user_update,
    .token_add = sq_token_add,
    .token_get = sq_token_get,
    .token_revoke = sq_token_revoke,
    .token_list = sq_token_list,
    .session_add = sq_session_add,
    .session_get = sq_session_get,
    .session_delete = sq_session_delete,
    .session_purge = sq_session_purge,
    .record_put = sq_record_put,
    .record_get = sq_record_get,
    .record_scan = sq_record_scan,
    .record_delete = sq_record_delete,
    .event_append = sq_event_append,
    .event_read = sq_event_read,
};

/* Adds "what: SQLite's reason" about the store at path to d; returns the DB_E* code of e. */
static int open_problem(sqlite3 *db, db_diag *d, const char *path, int e, const char *what) {
  return db_diag_add(d, 0, 0, path, map_rc(e), "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(e));
}

static int newer_schema(db_diag *d, const char *path, int version) {
  return db_diag_add(d, 0, 0, path, DB_ESCHEMA,
                     "store schema %d is newer than this databrain (%d); upgrade databrain", version,
                     DB_STORE_SCHEMA_VERSION);
}

/* Reads PRAGMA user_version: an SQLite result code, SQLITE_ROW on success. */
static int read_version(db_sqlite *s, int *version) {
  sqlite3_stmt *st = NULL;
  int e = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
  if (e == SQLITE_OK) e = sqlite3_step(st);
  if (e == SQLITE_ROW) *version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return e;
}

/* Settings of every connection (see the top of the file). Reads the schema version first, so that a
 * newer store is refused before anything is written to it, and a file that is not a database is
 * reported as such. */
static int configure(db_sqlite *s, const char *path, int *version, db_diag *d) {
  int e = read_version(s, version);
  if (e != SQLITE_ROW) return open_problem(s->db, d, path, e, "cannot read the store");
  if (*version > DB_STORE_SCHEMA_VERSION) return newer_schema(d, path, *version);
  char sql[256], mode[16];
  snprintf(sql, sizeof sql, "PRAGMA page_size = %d", NEW_PAGE_SIZE); /* no effect once the file has tables */
  if ((e = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
    return open_problem(s->db, d, path, e, "cannot set the page size");
  if (pragma_text(s, "PRAGMA journal_mode = WAL", mode, sizeof mode) != DB_OK || strcmp(mode, "wal") != 0)
    return db_diag_add(d, 0, 0, path, DB_ESTORE, "cannot put the store in WAL mode: %s",
                       mode[0] ? mode : sqlite3_errmsg(s->db));
  snprintf(sql, sizeof sql,
           "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
           " PRAGMA journal_size_limit = %d; PRAGMA cache_size = -%d",
           WAL_LIMIT_BYTES, CACHE_KIB);
  if ((e = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
    return open_problem(s->db, d, path, e, "cannot configure the store");
  return DB_OK;
}

/* Applies the missing migrations in one transaction. The version is read again under the write lock:
 * another process may have migrated the store meanwhile. */
static int migrate(db_sqlite *s, const char *path, int version, db_diag *d) {
  if (version == DB_STORE_SCHEMA_VERSION) return DB_OK;
  int e = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (e != SQLITE_OK) return open_problem(s->db, d, path, e, "cannot lock the store to migrate it");
  int rc = DB_OK;
  if ((e = read_version(s, &version)) != SQLITE_ROW)
    rc = open_problem(s->db, d, path, e, "cannot read the store");
  else if (version > DB_STORE_SCHEMA_VERSION)
    rc = newer_schema(d, path, version);
  for (int v = version; rc == DB_OK && v < DB_STORE_SCHEMA_VERSION; v++) {
    if ((e = sqlite3_exec(s->db, db_sqlite__migrations[v], NULL, NULL, NULL)) != SQLITE_OK ||
        (db_sqlite__migration_steps[v] && (e = db_sqlite__migration_steps[v](s->db)) != SQLITE_OK)) {
      char what[64];
      snprintf(what, sizeof what, "migration to schema %d failed", v + 1);
      rc = open_problem(s->db, d, path, e, what);
    }
  }
  if (rc == DB_OK) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; COMMIT", DB_STORE_SCHEMA_VERSION);
    if ((e = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
      rc = open_problem(s->db, d, path, e, "cannot commit the migration");
  }
  if (rc != DB_OK && !sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int db_sqlite__open(const char *path, db_store **out, db_diag *d) {
  *out = NULL;
  db_sqlite *s = db_calloc(1, sizeof *s);
  s->base.ops = &sqlite_ops;
  int version = 0;
  /* NOMUTEX: a handle is used by one thread at a time (store.h), so SQLite's per-call mutex is waste */
  int e =
      sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  int rc = e == SQLITE_OK ? DB_OK : open_problem(s->db, d, path, e, "cannot open the store");
  if (rc == DB_OK) {
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    e = sqlite3_create_module(s->db, "db_obs_block", &obs_block_module, NULL);
    rc = e == SQLITE_OK ? configure(s, path, &version, d)
                        : open_problem(s->db, d, path, e, "cannot set up the store");
  }
  if (rc == DB_OK) rc = migrate(s, path, version, d);
  if (rc != DB_OK) {
    sq_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return DB_OK;
}
