/* test_exchange.c - the webhook outbox's parts (exchange/exchange.h): the signature (checked against
 * Python's hmac module on the same input), the retry schedule with its jitter bounds, and a delivery
 * written to a real store, read back from its record, and found again by a new outbox (what a restart
 * does) while it is pending, but not once delivered. */
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/mem.h"
#include "exchange/exchange.h"
#include "testutil.h"

static void test_signature(void **state) {
  (void)state;
  char sig[DB_SIGNATURE_MAX];
  /* python3: hmac.new(b"a-secret-of-16-bytes", b'1700000000.{"id":7}', hashlib.sha256).hexdigest() */
  db_exchange_sign("a-secret-of-16-bytes", 1700000000, "{\"id\":7}", 8, sig);
  assert_string_equal(sig, "sha256=48398c0bb885a72cf97ce83d64f79b1db38cca141efe9c6252db63e0d88a5109");
}

static void test_retry_delay(void **state) {
  (void)state;
  db_retry_policy p = {8, 1000, 10000};
  assert_int_equal(db_retry_delay(&p, 1, 0), 1000);
  assert_int_equal(db_retry_delay(&p, 2, 0), 2000);
  assert_int_equal(db_retry_delay(&p, 3, 0), 4000);
  assert_int_equal(db_retry_delay(&p, 4, 0), 8000);
  assert_int_equal(db_retry_delay(&p, 5, 0), 10000); /* capped */
  assert_int_equal(db_retry_delay(&p, 30, 0), 10000);
  assert_int_equal(db_retry_delay(&p, 2, 0.5), 2250); /* jitter: up to a quarter more */
  assert_int_equal(db_retry_delay(&p, 2, 1.0), 2499);
}

static int no_save(void *ctx, const db_delivery *dl) {
  (void)ctx;
  (void)dl;
  return 0;
}

static int no_secret(void *ctx, int64_t webhook, char *out, size_t size) {
  (void)ctx;
  (void)webhook;
  (void)out;
  (void)size;
  return DB_ENOTFOUND;
}

static void test_delivery_record_and_reload(void **state) {
  (void)state;
  char *dir = db_test_tempdir(), *path = db_test_path(dir, "x.db");
  db_diag d = DB_DIAG_INIT;
  db_store *s;
  assert_int_equal(db_store_open(path, &s, &d), 0);
  assert_int_equal(db_store_begin(s, 0), 0);
  db_event e = {.kind = "alert.firing", .body = "{\"rule\":\"R\",\"unit\":\"79\"}"};
  assert_int_equal(db_store_event_append(s, &e), 0);
  db_retry_policy p = {3, 50, 100};
  db_delivery dl, back;
  assert_int_equal(db_exchange_delivery_new(s, 9, "http://127.0.0.1:9/x", &p, &e, &dl), 0);
  assert_int_equal(db_store_commit(s), 0);
  db_record rec;
  assert_int_equal(db_store_record_get(s, DB_DELIVERY_KIND, dl.id, NULL, &rec), 0);
  assert_int_equal(db_delivery_from_record(&rec, &back), 0);
  assert_int_equal(back.event, e.id);
  assert_int_equal(back.webhook, 9);
  assert_string_equal(back.status, "pending");
  assert_string_equal(back.kind, "alert.firing");
  assert_int_equal(back.policy.max_attempts, 3);
  assert_true(strstr(back.payload, "\"data\":{\"rule\":\"R\",\"unit\":\"79\"}") != NULL);
  db_record_free(&rec);
  db_delivery_free(&back);
  /* a new outbox finds the pending delivery; the sender dead-letters it (its webhook is gone) */
  db_outbox *ob;
  db_outbox_hooks hooks = {NULL, no_save, no_secret, NULL};
  assert_int_equal(db_outbox_open(s, &hooks, 1000, &ob, &d), 0);
  db_outbox_stats st = {0};
  for (int i = 0; i < 200 && st.dead == 0; i++) {
    db_outbox_stats_get(ob, &st);
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(st.dead, 1);
  assert_int_equal(st.queued, 0);
  db_outbox_close(ob);
  /* delivered (as the save callback would write it): no longer loaded */
  db_free(dl.status);
  dl.status = db_strdup("delivered");
  char *body = db_delivery_body(&dl);
  db_record put = {.id = dl.id, .kind = DB_DELIVERY_KIND, .body = body};
  assert_int_equal(db_store_begin(s, 0), 0);
  assert_int_equal(db_store_record_put(s, &put, 0), 0);
  assert_int_equal(db_store_commit(s), 0);
  assert_int_equal(db_outbox_open(s, &hooks, 1000, &ob, &d), 0);
  db_outbox_stats_get(ob, &st);
  assert_int_equal(st.queued, 0);
  db_outbox_close(ob);
  db_free(body);
  db_delivery_free(&dl);
  db_store_close(s);
  db_diag_free(&d);
  db_test_rmtree(dir);
  db_free(path);
  db_free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signature),
      cmocka_unit_test(test_retry_delay),
      cmocka_unit_test(test_delivery_record_and_reload),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
