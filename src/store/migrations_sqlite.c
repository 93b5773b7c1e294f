/* migrations_sqlite.c - the schema of the SQLite store, as numbered forward-only migrations.
 *
 * Migration v (0-based) takes a store from PRAGMA user_version v to v + 1; store_sqlite.c applies the
 * missing ones in one transaction at open. A released migration is never edited: a change of schema is
 * a new script appended here, with DB_STORE_SCHEMA_VERSION raised to match (the static assertion below
 * keeps the two in step).
 *
 * Layout (DESIGN.md §4, §6): catalog tables keyed by an integer id with a UNIQUE code; enumerations
 * (unit kind, periodicity, aggregations, polarity, observation status) are stored as the integers of
 * their C enums, dates as days since 1970-01-01 (NULL when open), unknown numbers as NULL, period keys
 * as the int64 db_period_key. References that bind the stored tree (a unit's parent, successions,
 * series, targets) are foreign keys; references to other catalog kinds that the catalog checks on its
 * own (an agency's unit and parent, an indicator's owner, weight and dimensions) are kept as codes, so
 * that catalogs can be imported in any order.
 *
 * obs and obs_history carry no declared foreign keys: they are the bulk-load path, where checking two
 * parent keys per row halves the write rate. obs_write checks instead that the batch is the open one
 * and that every series exists (once per run of rows of one series). The received time of a revision
 * lives in its batch row (join on seq) to keep observation rows small.
 *
 * The v_* views expose observations with codes for BI tools; status names there mirror
 * db_obs_status_name. */
#include "store/store_sqlite.h"

#include <sqlite3.h>
#include <string.h>

static const char migration_1[] =
    "CREATE TABLE orgunit ("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  name TEXT, name_en TEXT,"
    "  kind INTEGER NOT NULL," /* db_ou_kind */
    "  parent_id INTEGER REFERENCES orgunit(id),"
    "  level INTEGER NOT NULL,"
    "  valid_from INTEGER, valid_to INTEGER,"
    "  population REAL, area_km2 REAL,"
    "  geometry TEXT, attributes TEXT);"
    "CREATE INDEX orgunit_parent ON orgunit(parent_id);"

    "CREATE TABLE succession ("
    "  from_id INTEGER NOT NULL REFERENCES orgunit(id),"
    "  to_id INTEGER NOT NULL REFERENCES orgunit(id),"
    "  weight REAL NOT NULL, partial INTEGER NOT NULL, date INTEGER,"
    "  PRIMARY KEY (from_id, to_id)) WITHOUT ROWID;"
    "CREATE INDEX succession_to ON succession(to_id);"

    "CREATE TABLE agency ("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  name TEXT, name_en TEXT, kind TEXT,"
    "  orgunit TEXT," /* unit code */
    "  parent TEXT);" /* agency code */

    "CREATE TABLE indicator ("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  name TEXT, name_en TEXT, description TEXT, unit TEXT,"
    "  unit_mult INTEGER NOT NULL, decimals INTEGER NOT NULL,"
    "  periodicity INTEGER NOT NULL, period_span INTEGER NOT NULL,"         /* db_period_type */
    "  agg_space INTEGER NOT NULL, weight TEXT, agg_time INTEGER NOT NULL," /* db_agg */
    "  polarity INTEGER NOT NULL,"                                          /* db_polarity */
    "  valid_min REAL, valid_max REAL,"
    "  owner TEXT, sector TEXT, groups TEXT,"
    "  is_public INTEGER NOT NULL, legal_ref TEXT, formula TEXT, dimensions TEXT, source TEXT,"
    "  synthetic INTEGER NOT NULL);"

    "CREATE TABLE dimension ("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  name TEXT);"
    "CREATE TABLE dimension_item ("
    "  dimension_id INTEGER NOT NULL REFERENCES dimension(id) ON DELETE CASCADE,"
    "  code TEXT NOT NULL, name TEXT,"
    "  ord INTEGER NOT NULL," /* position in the dimension's list */
    "  PRIMARY KEY (dimension_id, code)) WITHOUT ROWID;"

    "CREATE TABLE target ("
    "  indicator_id INTEGER NOT NULL REFERENCES indicator(id),"
    "  orgunit_id INTEGER NOT NULL REFERENCES orgunit(id),"
    "  period INTEGER NOT NULL," /* db_period_key */
    "  kind TEXT NOT NULL,"
    "  value REAL, source TEXT,"
    "  PRIMARY KEY (indicator_id, orgunit_id, period, kind)) WITHOUT ROWID;"
    "CREATE INDEX target_orgunit ON target(orgunit_id);"

    "CREATE TABLE series ("
    "  id INTEGER PRIMARY KEY,"
    "  indicator_id INTEGER NOT NULL REFERENCES indicator(id),"
    "  orgunit_id INTEGER NOT NULL REFERENCES orgunit(id),"
    "  dimkey TEXT NOT NULL DEFAULT '',"
    "  UNIQUE (indicator_id, orgunit_id, dimkey));"
    "CREATE INDEX series_orgunit ON series(orgunit_id);"

    "CREATE TABLE batch ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* the change sequence number, never reused */
    "  idem_key TEXT UNIQUE,"
    "  source TEXT, actor TEXT,"
    "  received_ms INTEGER NOT NULL,"
    "  inserted INTEGER NOT NULL DEFAULT 0, revised INTEGER NOT NULL DEFAULT 0,"
    "  unchanged INTEGER NOT NULL DEFAULT 0,"
    "  result_json TEXT);"

    "CREATE TABLE obs ("
    "  series_id INTEGER NOT NULL,"
    "  period INTEGER NOT NULL," /* db_period_key */
    "  value REAL NOT NULL,"
    "  status INTEGER NOT NULL," /* db_obs_status */
    "  rev INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL," /* batch that wrote this revision */
    "  PRIMARY KEY (series_id, period)) WITHOUT ROWID;"
    "CREATE TABLE obs_history ("
    "  series_id INTEGER NOT NULL,"
    "  period INTEGER NOT NULL,"
    "  value REAL NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  rev INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (series_id, period, rev)) WITHOUT ROWID;"

    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time_ms INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT,"
    "  detail TEXT);"

    "CREATE VIEW v_obs AS"
    "  SELECT i.code AS indicator, u.code AS orgunit, s.dimkey AS dimkey, o.period AS period_key,"
    "    o.value AS value,"
    "    CASE o.status WHEN 0 THEN 'provisional' WHEN 1 THEN 'official' WHEN 2 THEN 'estimated' END"
    "      AS status,"
    "    o.rev AS rev, o.seq AS seq, b.received_ms AS received_ms,"
    "    strftime('%Y-%m-%dT%H:%M:%fZ', b.received_ms / 1000.0, 'unixepoch') AS received_at"
    "  FROM obs o JOIN series s ON s.id = o.series_id"
    "    JOIN indicator i ON i.id = s.indicator_id JOIN orgunit u ON u.id = s.orgunit_id"
    "    JOIN batch b ON b.seq = o.seq;"
    /* every revision, the current one included */
    "CREATE VIEW v_obs_history AS"
    "  SELECT i.code AS indicator, u.code AS orgunit, s.dimkey AS dimkey, o.period AS period_key,"
    "    o.value AS value,"
    "    CASE o.status WHEN 0 THEN 'provisional' WHEN 1 THEN 'official' WHEN 2 THEN 'estimated' END"
    "      AS status,"
    "    o.rev AS rev, o.seq AS seq, b.received_ms AS received_ms,"
    "    strftime('%Y-%m-%dT%H:%M:%fZ', b.received_ms / 1000.0, 'unixepoch') AS received_at"
    "  FROM (SELECT * FROM obs_history UNION ALL SELECT * FROM obs) o"
    "    JOIN series s ON s.id = o.series_id"
    "    JOIN indicator i ON i.id = s.indicator_id JOIN orgunit u ON u.id = s.orgunit_id"
    "    JOIN batch b ON b.seq = o.seq;";

/* Schema 2: users, API tokens and dashboard sessions (auth/auth.h), and the audit trail's hash chain.
 * Roles are stored by name; agency and scope as codes (like an indicator's owner). A user's password is
 * its argon2id string; tokens and sessions are stored only as the SHA-256 of their secret. Token ids
 * are AUTOINCREMENT: a revoked token's id is never given again. The audit records written before
 * schema 2 are chained by chain_audit below, in the order of their ids; from then on the triggers refuse
 * to change or delete a chained record (the only update allowed is the one that chains an old record). */
static const char migration_2[] =
    "CREATE TABLE user ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  agency TEXT, scope TEXT," /* agency code, org unit code */
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL);"

    "CREATE TABLE token ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  label TEXT,"
    "  secret_hash TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL,"
    "  agency TEXT, scope TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL DEFAULT 0," /* 0 = never */
    "  revoked INTEGER NOT NULL DEFAULT 0);"

    "CREATE TABLE session ("
    "  id INTEGER PRIMARY KEY,"
    "  id_hash TEXT NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL REFERENCES user(id),"
    "  csrf TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL);"
    "CREATE INDEX session_user ON session(user_id);"
    "CREATE INDEX session_expires ON session(expires_ms);"

    "ALTER TABLE audit ADD COLUMN prev_hash TEXT;"
    "ALTER TABLE audit ADD COLUMN hash TEXT;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN OLD.hash IS NOT NULL"
    "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;";

/* Chains the audit records of a schema 1 store, oldest first, as db_store_audit_append would have. */
static int chain_audit(sqlite3 *db) {
  sqlite3_stmt *rd = NULL, *up = NULL;
  char prev[65] = DB_AUDIT_ZERO_HASH, hash[65];
  int e = sqlite3_prepare_v2(db, "SELECT id, time_ms, actor, action, object, detail FROM audit ORDER BY id",
                             -1, &rd, NULL);
  if (e == SQLITE_OK)
    e = sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1", -1, &up, NULL);
  while (e == SQLITE_OK && (e = sqlite3_step(rd)) == SQLITE_ROW) {
    db_audit a = {sqlite3_column_int64(rd, 1), (const char *)sqlite3_column_text(rd, 2),
                  (const char *)sqlite3_column_text(rd, 3), (const char *)sqlite3_column_text(rd, 4),
                  (const char *)sqlite3_column_text(rd, 5)};
    db_store_audit_hash(prev, &a, hash);
    sqlite3_bind_int64(up, 1, sqlite3_column_int64(rd, 0));
    sqlite3_bind_text(up, 2, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 3, hash, -1, SQLITE_STATIC);
    e = sqlite3_step(up);
    sqlite3_reset(up);
    if (e == SQLITE_DONE) e = SQLITE_OK;
    memcpy(prev, hash, sizeof prev);
  }
  sqlite3_finalize(rd);
  sqlite3_finalize(up);
  return e == SQLITE_DONE ? SQLITE_OK : e;
}

/* Schema 3: the status bands of an indicator (analytics/analytics.h): below band_at_risk percent of the
 * plan an indicator is at risk, below band_off_track off track. Existing indicators get the defaults. */
static const char migration_3[] =
    "ALTER TABLE indicator ADD COLUMN band_at_risk REAL NOT NULL DEFAULT 90;"
    "ALTER TABLE indicator ADD COLUMN band_off_track REAL NOT NULL DEFAULT 75;";

/* Schema 4: the records of the domain services and the event log (store.h). A record's key is unique
 * within its kind (several records may have none); its body must be JSON. Ids are AUTOINCREMENT: an id
 * is never given twice, so a deleted task's id, or an event id a client resumes from, always means one
 * thing. The views give BI tools each kind's documents and the log with readable times. */
static const char migration_4[] =
    "CREATE TABLE record ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  key TEXT,"
    "  body TEXT NOT NULL CHECK (json_valid(body)),"
    "  version INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (kind, key));"
    "CREATE INDEX record_kind ON record(kind, id);"

    "CREATE TABLE event ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  body TEXT NOT NULL CHECK (json_valid(body)));"

    "CREATE VIEW v_record AS SELECT id, kind, key, version,"
    "  strftime('%Y-%m-%dT%H:%M:%fZ', updated_ms / 1000.0, 'unixepoch') AS updated, body FROM record;"
    "CREATE VIEW v_event AS SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', time_ms / 1000.0, 'unixepoch') AS time,"
    "  kind, body FROM event;";

const char *const db_sqlite__migrations[] = {migration_1, migration_2, migration_3, migration_4};
int (*const db_sqlite__migration_steps[])(struct sqlite3 *db) = {NULL, chain_audit, NULL, NULL};

_Static_assert(sizeof db_sqlite__migrations / sizeof db_sqlite__migrations[0] == DB_STORE_SCHEMA_VERSION,
               "one migration per schema version");
