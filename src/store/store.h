/* store.h - the backend-neutral store: everything databrain keeps durably.
 *
 * A store is opened from a URL ("sqlite:PATH"; a bare path means sqlite; "postgresql://…" once that
 * backend exists) and reached only through the functions below, which dispatch through the backend's
 * db_store_ops table. No SQLite or PostgreSQL type appears here.
 *
 * Data model (DESIGN.md §4, §6):
 *   - catalog objects keyed by code, with an integer id assigned by the store;
 *   - series = (indicator id, org unit id, dimension key) with an integer id; the dimension key is
 *     "" or "SEX=F;AGE=Y15T64" (dimension=item pairs sorted by dimension code);
 *   - observations keyed by (series id, period key) holding the current value, status and revision;
 *     every earlier revision is kept in a history; every write belongs to a batch, whose number is the
 *     change sequence number (monotonic, never reused) and which records source, actor, received time
 *     and the idempotency key;
 *   - append-only audit records in a hash chain;
 *   - users, API tokens and dashboard sessions (their rules are in auth/auth.h);
 *   - records: the documents of the domain services (reporting obligations, approvals, directives and
 *     tasks, alert rules, scenarios, webhooks, forecast runs...), each a JSON text of a kind, with an id,
 *     an optional key unique within its kind and a version for optimistic concurrency; the service that
 *     owns a kind defines and validates its JSON (the store only keeps it);
 *   - events: an append-only log of what happened (alerts firing, tasks changing state, deliveries), in
 *     id order, read from an id onwards (the live event stream resumes from Last-Event-ID with it).
 *
 * Transactions: db_store_begin .. db_store_commit (or db_store_rollback). Writes outside an explicit
 * transaction are refused with DB_EINVAL. db_store_commit returns only once the data is durable.
 * One writer at a time per store (a second writer waits up to the busy timeout, then DB_EBUSY); readers
 * run concurrently on their own handles and see the last committed state.
 *
 * Ownership: strings passed in are copied as needed; rows passed to callbacks are valid only during the
 * call. A db_store handle is used by one thread at a time. */
#ifndef DB_STORE_H
#define DB_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "model/catalog.h"

typedef struct db_store db_store;

/* Observation status. */
typedef enum db_obs_status {
  DB_STATUS_PROVISIONAL = 0,
  DB_STATUS_OFFICIAL = 1,
  DB_STATUS_ESTIMATED = 2,
} db_obs_status;
const char *db_obs_status_name(int status);
int db_obs_status_parse(const char *s, size_t len, int *status); /* 0 or DB_EINVAL */

/* What a write did to one observation. */
typedef enum db_obs_outcome {
  DB_OBS_INSERTED = 1, /* a new (series, period) */
  DB_OBS_REVISED,      /* the value or status changed: the old one moved to the history */
  DB_OBS_UNCHANGED,    /* same value and status as stored: not a revision, nothing written */
  DB_OBS_DUPLICATE,    /* this batch already wrote this (series, period): nothing written */
} db_obs_outcome;

typedef struct db_obs {
  int64_t series;
  int64_t period; /* db_period_key */
  double value;
  int status; /* db_obs_status */
} db_obs;

typedef struct db_obs_row {
  int64_t series, indicator, orgunit;
  const char *dimkey;
  int64_t period;
  double value;
  int status;
  int revision; /* 1 for the first value, +1 per change */
  int64_t seq;  /* batch (change sequence number) that wrote this revision */
  int64_t received_ms;
} db_obs_row;

typedef struct db_obs_filter {
  const int64_t *indicators; /* NULL = every indicator */
  size_t n_indicators;
  const int64_t *orgunits; /* NULL = every unit */
  size_t n_orgunits;
  int64_t period_from, period_to; /* inclusive keys; 0 = open */
  int64_t as_of_ms; /* 0 = current values; else the revisions that were current at that instant */
} db_obs_filter;

typedef struct db_batch_info {
  const char *idempotency_key; /* NULL when none */
  const char *source;          /* file name, "api", … */
  const char *actor;           /* user or token name; "cli" for the command line */
  int64_t received_ms;
} db_batch_info;

/* The answer recorded for a batch, returned again to a client that retries with the same key. */
typedef struct db_batch_summary {
  int64_t seq;
  int64_t inserted, revised, unchanged;
  char *result_json; /* the full answer as JSON text (owned; free with db_batch_summary_free) */
} db_batch_summary;
void db_batch_summary_free(db_batch_summary *s);

typedef struct db_series {
  int64_t id, indicator, orgunit;
  const char *dimkey;
} db_series;

typedef struct db_audit {
  int64_t time_ms;
  const char *actor, *action, *object; /* "cli", "catalog.import", "indicator:CPI_YOY" */
  const char *detail;                  /* JSON text or NULL */
} db_audit;

/* A record's place in the audit chain (see db_store_audit_hash): hashes as 64 hex digits. */
typedef struct db_audit_link {
  int64_t id;
  const char *prev_hash, *hash; /* NULL only in a store edited by hand */
} db_audit_link;
typedef int (*db_audit_link_cb)(void *ctx, const db_audit_link *l, const db_audit *a); /* nonzero stops */

/* The prev_hash of the first record. */
#define DB_AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The end of the audit chain, as the backend knows it. */
typedef struct db_audit_head {
  int64_t last_id; /* id of the last record, 0 when there is none */
  int64_t max_id;  /* highest id the store ever gave a record: above last_id when records at the end were
                      deleted */
  char hash[65];   /* hash of the last record, "" when there is none */
} db_audit_head;

/* Users, API tokens and dashboard sessions: the store keeps the rows, auth/auth.h the rules. Roles are
 * stored by name ("reporter"); agency and scope are codes, NULL when none. No secret is stored: a
 * password as its crypto_pwhash_str (argon2id) string, a token and a session id as the SHA-256 (hex) of
 * their text. Rows filled by the *_get functions own their strings (free with db_*_row_free). */
typedef struct db_user_row {
  int64_t id;
  char *name, *password_hash, *role, *agency, *scope;
  int disabled;
  int64_t created_ms;
} db_user_row;

typedef struct db_token_row {
  int64_t id;
  char *label, *secret_hash, *role, *agency, *scope;
  int64_t created_ms, expires_ms; /* expires_ms 0 = never */
  int revoked;
} db_token_row;

typedef struct db_session_row {
  char *id_hash;
  int64_t user_id;
  char *csrf; /* the session's CSRF token (not a credential on its own: it is sent with the cookie) */
  int64_t created_ms, expires_ms;
} db_session_row;

void db_user_row_free(db_user_row *u);
void db_token_row_free(db_token_row *t);
void db_session_row_free(db_session_row *se);

/* A record (see the data model above). Filled by the store's readers with strings valid during the
 * callback (or, from db_store_record_get, owned: free with db_record_free). */
typedef struct db_record {
  int64_t id;         /* assigned by the store, never reused */
  const char *kind;   /* "task", "directive", "rule"...: [a-z_]+ */
  const char *key;    /* unique within the kind when not NULL ("125/TB-VP") */
  const char *body;   /* JSON text */
  int64_t version;    /* 1 when created, +1 per update */
  int64_t updated_ms; /* time of the last write */
} db_record;
void db_record_free(db_record *r); /* for records from db_store_record_get */

/* An event of the log. */
typedef struct db_event {
  int64_t id;       /* assigned by the store, increasing, never reused */
  int64_t time_ms;
  const char *kind; /* "alert.firing", "task.overdue"... */
  const char *body; /* JSON text */
} db_event;

typedef int (*db_obs_cb)(void *ctx, const db_obs_row *row);   /* nonzero stops the scan */
typedef int (*db_record_cb)(void *ctx, const db_record *r);   /* nonzero stops */
typedef int (*db_event_cb)(void *ctx, const db_event *e);     /* nonzero stops */
typedef int (*db_series_cb)(void *ctx, const db_series *s);   /* nonzero stops */
typedef int (*db_target_cb)(void *ctx, const db_target *t);   /* nonzero stops */
typedef int (*db_token_cb)(void *ctx, const db_token_row *t); /* nonzero stops */

typedef struct db_store_ops {
  const char *scheme;
  void (*close)(db_store *s);
  int (*schema_version)(db_store *s, int *version);
  int (*begin)(db_store *s, int bulk);
  int (*commit)(db_store *s);
  int (*rollback)(db_store *s);

  int (*load_catalog)(db_store *s, db_catalog *out);
  int (*put_orgunit)(db_store *s, db_orgunit *ou);
  int (*put_succession)(db_store *s, const db_succession *su);
  int (*put_agency)(db_store *s, db_agency *a);
  int (*put_indicator)(db_store *s, db_indicator *ind);
  int (*put_dimension)(db_store *s, db_dimension *dim);
  int (*put_target)(db_store *s, const db_target *t);
  int (*read_targets)(db_store *s, const char *indicator, db_target_cb cb, void *ctx);
  int (*delete_indicator)(db_store *s, const char *code);

  int (*read_series)(db_store *s, db_series_cb cb, void *ctx);
  int (*put_series)(db_store *s, db_series *series);

  int (*batch_find)(db_store *s, const char *idempotency_key, db_batch_summary *out);
  int (*batch_begin)(db_store *s, const db_batch_info *info, int64_t *seq);
  int (*obs_write)(db_store *s, int64_t seq, const db_obs *rows, size_t n, db_obs_outcome *outcomes);
  int (*batch_finish)(db_store *s, const db_batch_summary *summary);
  int (*obs_read)(db_store *s, const db_obs_filter *f, db_obs_cb cb, void *ctx);
  int (*obs_scan)(db_store *s, db_obs_cb cb, void *ctx); /* optional: NULL falls back to obs_read */
  int (*obs_history)(db_store *s, int64_t series, int64_t period, db_obs_cb cb, void *ctx);

  int (*audit_append)(db_store *s, const db_audit *a, const db_audit_link *link); /* link->id unused */
  int (*audit_read)(db_store *s, int64_t after_id, db_audit_link_cb cb, void *ctx);
  int (*audit_head)(db_store *s, db_audit_head *out);

  int (*user_add)(db_store *s, db_user_row *u);
  int (*user_get)(db_store *s, const char *name, int64_t id, db_user_row *out);
  int (*user_update)(db_store *s, const db_user_row *u);
  int (*token_add)(db_store *s, db_token_row *t);
  int (*token_get)(db_store *s, const char *secret_hash, db_token_row *out);
  int (*token_revoke)(db_store *s, int64_t id);
  int (*token_list)(db_store *s, db_token_cb cb, void *ctx);
  int (*session_add)(db_store *s, const db_session_row *se);
  int (*session_get)(db_store *s, const char *id_hash, db_session_row *out);
  int (*session_delete)(db_store *s, const char *id_hash, int64_t user_id);
  int (*session_purge)(db_store *s, int64_t now_ms);

  int (*record_put)(db_store *s, db_record *r, int64_t expect_version);
  int (*record_get)(db_store *s, const char *kind, int64_t id, const char *key, db_record *out);
  int (*record_scan)(db_store *s, const char *kind, db_record_cb cb, void *ctx);
  int (*record_delete)(db_store *s, const char *kind, int64_t id);
  int (*event_append)(db_store *s, db_event *e);
  int (*event_read)(db_store *s, int64_t after_id, db_event_cb cb, void *ctx);
} db_store_ops;

/* Every backend's handle starts with this. */
struct db_store {
  const db_store_ops *ops;
};

#define DB_STORE_SCHEMA_VERSION 4

/* Opens (creating if needed) the store at url and brings its schema up to DB_STORE_SCHEMA_VERSION
 * with the numbered migrations. A store whose schema is newer than this program is refused with
 * DB_ESCHEMA; a url of an unknown scheme with DB_EUNSUPPORTED. Problems are explained in d. */
int db_store_open(const char *url, db_store **out, db_diag *d);
void db_store_close(db_store *s);

/* The URL from --store, else $DATABRAIN_STORE, else "sqlite:databrain.db". */
const char *db_store_default_url(const char *given);

/* Transactions. `bulk` = 1 tells the backend a large load follows (it may trade memory for speed, never
 * durability). Nested begin is DB_EINVAL. */
int db_store_begin(db_store *s, int bulk);
int db_store_commit(db_store *s);
int db_store_rollback(db_store *s);
int db_store_schema_version(db_store *s, int *version);

/* Catalog: the whole catalog into out (initialised by the caller), and upserts by code that set ->id.
 * Targets are upserted by (indicator, orgunit, period, kind). */
int db_store_load_catalog(db_store *s, db_catalog *out);
int db_store_put_orgunit(db_store *s, db_orgunit *ou);
int db_store_put_succession(db_store *s, const db_succession *su);
int db_store_put_agency(db_store *s, db_agency *a);
int db_store_put_indicator(db_store *s, db_indicator *ind);
int db_store_put_dimension(db_store *s, db_dimension *dim);
int db_store_put_target(db_store *s, const db_target *t);
/* Targets of one indicator (NULL = all), ordered by indicator, orgunit, period. */
int db_store_read_targets(db_store *s, const char *indicator, db_target_cb cb, void *ctx);
/* The same targets as copies: 0 with *out and *n (free with db_store_targets_free), or the store's error
 * (nothing to free). */
int db_store_load_targets(db_store *s, const char *indicator, db_target **out, size_t *n);
void db_store_targets_free(db_target *t, size_t n);
/* Deletes the indicator `code` and its targets, in the open transaction (DB_EINVAL outside one).
 * DB_ENOTFOUND when there is no such indicator; DB_ECONFLICT, with nothing deleted, when observations
 * were written for it (it has series: the data keeps it) or another indicator names it as its weight. */
int db_store_delete_indicator(db_store *s, const char *code);

/* Series: all of them (ordered by id), and creation of one: with ->id 0 the store assigns the next id
 * and sets ->id; a nonzero ->id (the ingest path numbers new series itself so that its writer thread
 * can create them in order) is used as given. DB_EEXIST if the key or the id exists. */
int db_store_read_series(db_store *s, db_series_cb cb, void *ctx);
int db_store_put_series(db_store *s, db_series *series);

/* Batches and observations. db_store_batch_find answers DB_ENOTFOUND when no committed batch has the
 * key. batch_begin allocates the next change sequence number. obs_write applies rows in order and
 * reports each row's outcome (outcomes has n entries); it returns 0 even when rows are duplicates, and
 * an error only when the store fails. batch_finish records the summary (and the key) of the batch. */
int db_store_batch_find(db_store *s, const char *idempotency_key, db_batch_summary *out);
int db_store_batch_begin(db_store *s, const db_batch_info *info, int64_t *seq);
int db_store_obs_write(db_store *s, int64_t seq, const db_obs *rows, size_t n, db_obs_outcome *outcomes);
int db_store_batch_finish(db_store *s, const db_batch_summary *summary);
/* Observations matching f, ordered by indicator id, org unit id, dimension key, period. */
int db_store_obs_read(db_store *s, const db_obs_filter *f, db_obs_cb cb, void *ctx);
/* Every current observation, for building the in-memory cube: the rows and the order of
 * db_store_obs_read with an empty filter, with only series, indicator, orgunit, dimkey, period and
 * value filled (status, revision, seq and received_ms are 0). Backends make it the fastest full read
 * they can (SQLite: no join with the batches, a plain scan of the observations in key order when series
 * ids follow the (indicator, orgunit, dimkey) order, as bulk loads number them, and a reader thread that
 * reads ahead while cb runs): cb runs on the caller's thread and must not use s. */
int db_store_obs_scan(db_store *s, db_obs_cb cb, void *ctx);
/* Every revision of one observation, oldest first (the current one last). */
int db_store_obs_history(db_store *s, int64_t series, int64_t period, db_obs_cb cb, void *ctx);

/* ---- the audit trail: append-only records in a SHA-256 hash chain ----
 * Each record carries prev_hash, the hash of the record before it (64 '0' for the first), and its own
 * hash = db_store_audit_hash(prev_hash, record). Ids are given in order without gaps; a record that is
 * edited, deleted or moved breaks the chain at that record, which db_store_audit_verify names. (Someone
 * who can write the store can also rewrite the whole chain from the edit on: keep a copy of the head
 * hash elsewhere to prove that too.) */

/* Appends a record in the open transaction (DB_EINVAL outside one, or without actor or action); time_ms
 * 0 means now. Computes the record's hash from the chain's head, read in the same transaction. */
int db_store_audit_append(db_store *s, const db_audit *a);
/* The records after after_id, oldest first; db_store_audit_chain gives their links as well. */
int db_store_audit_read(db_store *s, int64_t after_id, int (*cb)(void *ctx, int64_t id, const db_audit *a),
                        void *ctx);
int db_store_audit_chain(db_store *s, int64_t after_id, db_audit_link_cb cb, void *ctx);
int db_store_audit_head(db_store *s, db_audit_head *out);

/* The hash of a record that follows the record whose hash is prev: 64 lowercase hex digits of
 * SHA-256(prev || serialisation), prev being the 64 hex digits of the previous hash, and the
 * serialisation the decimal time_ms, then actor, action, object and detail, each field ended by '\n' and
 * each text written as "LENGTH:BYTES" (LENGTH in decimal bytes), or "-" when NULL. Writes 65 bytes. */
void db_store_audit_hash(const char *prev, const db_audit *a, char out[65]);

typedef enum db_audit_fault {
  DB_AUDIT_INTACT = 0,
  DB_AUDIT_EDITED,    /* the record's content (or its hash) is not what was written */
  DB_AUDIT_DELETED,   /* the record is missing: the ids jump, or records at the end are gone */
  DB_AUDIT_REORDERED, /* the record does not follow the one before it in the chain: moved, or written
                         after the one before it was rewritten */
} db_audit_fault;

typedef struct db_audit_check {
  int64_t records; /* records checked: all of them when intact, else those before the fault */
  db_audit_fault fault;
  int64_t bad_id; /* the first bad record (for DB_AUDIT_DELETED, the first missing id); 0 if intact */
  char why[192];  /* "record 7 was edited: its content does not match its hash"; "" when intact */
} db_audit_check;

/* Walks the chain from the first record to the head as it was when the walk began (records appended
 * meanwhile are not checked) and reports the first fault in out. Returns 0 (whatever the verdict) or
 * a store error. */
int db_store_audit_verify(db_store *s, db_audit_check *out);

/* ---- users, tokens, sessions (see db_user_row above) ---- */

/* Writes (in the open transaction) a new user with ->id 0; sets ->id. DB_EEXIST when the name is taken. */
int db_store_user_add(db_store *s, db_user_row *u);
/* The user named `name`, or (name NULL) the one with that id: 0, DB_ENOTFOUND or an error. */
int db_store_user_get(db_store *s, const char *name, int64_t id, db_user_row *out);
/* Rewrites the password hash, role, agency, scope and disabled flag of user u->id (DB_ENOTFOUND). */
int db_store_user_update(db_store *s, const db_user_row *u);
/* Writes a new token with ->id 0; sets ->id (ids are never reused). */
int db_store_token_add(db_store *s, db_token_row *t);
/* The token whose secret has this hash: 0, DB_ENOTFOUND or an error. */
int db_store_token_get(db_store *s, const char *secret_hash, db_token_row *out);
/* Marks token `id` revoked (again: no change). DB_ENOTFOUND when there is no such token. */
int db_store_token_revoke(db_store *s, int64_t id);
/* Every token, by id (secret_hash included: callers show it to no one). */
int db_store_token_list(db_store *s, db_token_cb cb, void *ctx);
/* Writes a session (DB_EEXIST when its id hash exists). */
int db_store_session_add(db_store *s, const db_session_row *se);
int db_store_session_get(db_store *s, const char *id_hash, db_session_row *out);
/* Deletes the session with this id hash, or (id_hash NULL) every session of user_id: 0, or DB_ENOTFOUND
 * when there was none. */
int db_store_session_delete(db_store *s, const char *id_hash, int64_t user_id);
/* Deletes the sessions that expired at or before now_ms. */
int db_store_session_purge(db_store *s, int64_t now_ms);

/* ---- records and events (see the data model above) ---- */

/* Writes a record in the open transaction (DB_EINVAL outside one, or with an empty or malformed kind, or
 * a body that is not JSON text). r->id 0 creates it: the store sets ->id, ->version = 1 and ->updated_ms
 * (now when 0); DB_EEXIST when r->key is taken in the kind. A nonzero r->id replaces that record's key and
 * body: DB_ENOTFOUND when the kind has no such id; DB_ECONFLICT, with nothing written, when
 * expect_version is not 0 and differs from the stored version (someone else wrote it meanwhile); else the
 * version goes up by one and ->version and ->updated_ms are set. */
int db_store_record_put(db_store *s, db_record *r, int64_t expect_version);
/* The record of `kind` with this id, or (id 0) with this key: 0 and *out (owned strings; db_record_free),
 * or DB_ENOTFOUND. */
int db_store_record_get(db_store *s, const char *kind, int64_t id, const char *key, db_record *out);
/* Every record of `kind`, by id. */
int db_store_record_scan(db_store *s, const char *kind, db_record_cb cb, void *ctx);
/* Deletes one record in the open transaction: 0 or DB_ENOTFOUND. */
int db_store_record_delete(db_store *s, const char *kind, int64_t id);
/* Appends an event in the open transaction; sets ->id (and ->time_ms, now when 0). DB_EINVAL outside a
 * transaction or without kind or body. */
int db_store_event_append(db_store *s, db_event *e);
/* The events after after_id, by id. */
int db_store_event_read(db_store *s, int64_t after_id, db_event_cb cb, void *ctx);

#endif
