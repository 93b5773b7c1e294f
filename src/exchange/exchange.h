/* exchange.h - sending databrain's events to other systems: signed webhooks sent from a durable outbox.
 *
 * Signatures. A webhook request carries
 *   X-Databrain-Event-Id: <event id>        the id of the event in the store's event log: receivers
 *                                           dedupe by it (a delivery may arrive twice after a crash,
 *                                           never zero times)
 *   X-Databrain-Delivery: <delivery id>
 *   X-Databrain-Timestamp: <unix seconds>
 *   X-Databrain-Signature: sha256=<hex>     HMAC-SHA256 (libsodium crypto_auth_hmacsha256) keyed with the
 *                                           webhook's secret over "<timestamp>.<body>"
 * and the event as a JSON body {"id", "kind", "time", "data"}.
 *
 * The outbox. A delivery is a record of kind "delivery" (store.h records) written by the caller in the
 * same transaction as the event it carries (db_exchange_delivery_new), so that an event committed always
 * has its deliveries, and nothing is sent for an event that rolled back. After the commit the caller hands
 * the delivery to the outbox (db_outbox_add); at start-up db_outbox_open reads every pending delivery of the
 * store back, so a restart loses none. One sender thread sends due deliveries oldest first with libcurl; a
 * delivery that fails (no connection, a timeout, a status other than 2xx) is tried again after an
 * exponential backoff with jitter: backoff_ms * 2^(attempts-1), at most max_backoff_ms, times a random
 * factor in [1, 1.25); after max_attempts tries it is dead-lettered (status "dead", kept with its log).
 * Each attempt is written back to the delivery's record through the caller's `save` callback (the caller
 * serialises its writes): status, attempts, next_ms and a log of the last DB_OUTBOX_LOG_MAX attempts.
 *
 * Delivery record body: {"webhook": ID, "event": ID, "kind": "alert.firing", "url": "...",
 *   "status": "pending"|"delivered"|"dead", "attempts": N, "next_ms": MS, "created_ms": MS,
 *   "payload": {...}, "log": [{"at_ms": MS, "status": HTTP or 0, "error": "..."}]}
 * The webhook's secret is not copied into deliveries: the outbox asks the caller for it when it sends.
 *
 * Ownership and threads: strings given are copied. db_outbox_add, db_outbox_wake and db_outbox_stats may be
 * called from any thread; the callbacks run on the sender thread. db_outbox_close stops and joins it. */
#ifndef DB_EXCHANGE_H
#define DB_EXCHANGE_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/diag.h"
#include "store/store.h"

#define DB_DELIVERY_KIND "delivery"
#define DB_OUTBOX_LOG_MAX 10
#define DB_SIGNATURE_MAX 72 /* "sha256=" + 64 hex digits + NUL */

/* Writes "sha256=<64 hex>" = HMAC-SHA256(key = secret, message = "<ts>.<body>") into out. */
void db_exchange_sign(const char *secret, int64_t ts, const char *body, size_t len, char out[DB_SIGNATURE_MAX]);

/* How a webhook is retried. */
typedef struct db_retry_policy {
  int max_attempts;       /* tries before the delivery is dead (1..100) */
  int64_t backoff_ms;     /* the delay after the first failure */
  int64_t max_backoff_ms; /* the longest delay */
} db_retry_policy;

/* The delay before try number `attempts` + 1 after `attempts` failures, jitter drawn from `rnd` in [0, 1). */
int64_t db_retry_delay(const db_retry_policy *p, int attempts, double rnd);

/* One delivery, as the outbox keeps it. */
typedef struct db_delivery {
  int64_t id;      /* its record id */
  int64_t webhook; /* the webhook's record id */
  int64_t event;   /* the event's id */
  char *kind;      /* the event's kind */
  char *url;
  char *payload; /* the JSON body sent */
  db_retry_policy policy;
  int attempts;
  int64_t next_ms, created_ms;
  char *status; /* "pending", "delivered", "dead" */
  char *log;    /* JSON array text of the attempts so far */
} db_delivery;

/* Writes (in the open transaction on s) a new pending delivery of event e to webhook `webhook` (url, policy)
 * and fills *out (owned strings; free with db_delivery_free); the event must have its id. 0 or a store
 * error. */
int db_exchange_delivery_new(db_store *s, int64_t webhook, const char *url, const db_retry_policy *policy,
                             const db_event *e, db_delivery *out);
/* Reads a delivery record back: 0, or DB_EINVAL when its body is not a delivery. */
int db_delivery_from_record(const db_record *r, db_delivery *out);
/* The record body of a delivery (owned JSON text, db_free). */
char *db_delivery_body(const db_delivery *dl);
void db_delivery_free(db_delivery *dl);

typedef struct db_outbox db_outbox;

typedef struct db_outbox_hooks {
  void *ctx;
  /* Writes the delivery's new state back to its record (status, attempts, next_ms, log). Returns 0 or an
   * error (the outbox then keeps the delivery and tries again later). Required. */
  int (*save)(void *ctx, const db_delivery *dl);
  /* The secret of webhook `id` into out (size bytes): 0, or DB_ENOTFOUND when the webhook is gone (the
   * delivery is then dead-lettered). Required. */
  int (*secret)(void *ctx, int64_t webhook, char *out, size_t size);
  /* Called after each attempt (may be NULL): to wake readers of the delivery log. */
  void (*attempted)(void *ctx, const db_delivery *dl);
} db_outbox_hooks;

/* Starts an outbox: reads every pending delivery of s (status "pending") and starts the sender thread.
 * timeout_ms bounds one request (connect + answer). 0 and *out, or a store error explained in d. */
int db_outbox_open(db_store *s, const db_outbox_hooks *hooks, long timeout_ms, db_outbox **out, db_diag *d);
/* Queues a delivery written and committed by the caller (copied). */
void db_outbox_add(db_outbox *ob, const db_delivery *dl);
/* Counts: deliveries queued now, sent, failed attempts, dead-lettered since open. */
typedef struct db_outbox_stats {
  int64_t queued, delivered, failures, dead;
} db_outbox_stats;
void db_outbox_stats_get(db_outbox *ob, db_outbox_stats *out);
/* Stops the sender (an attempt in progress finishes first) and frees the outbox. NULL is a no-op. */
void db_outbox_close(db_outbox *ob);

#endif
