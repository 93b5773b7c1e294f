/* fuzz_json_body.c - libFuzzer target for the JSON bodies the HTTP API accepts: observations
 * (POST /api/v1/data, db_ingest_buffer) and catalog objects (POST /api/v1/<kind>,
 * db_catalog_import_buffer), against a real SQLite store holding a tiny catalog.
 *
 * The first input byte picks the document kind (observations, indicators, orgunits, agencies,
 * dimensions, targets); the rest is the body. Checked for every input, besides the sanitizers:
 *   - the answer is 0, DB_EEXIST (replay) or DB_EINVAL/DB_EPERM with at least one problem listed, never
 *     a store error;
 *   - a rejected body changes nothing: the counts of stored observations and catalog objects are the
 *     same before and after (all-or-nothing).
 * After an accepted body the store is made anew, so every input starts from the same state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/mem.h"
#include "ingest/catalog_import.h"
#include "ingest/ingest.h"

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "fuzz_json_body: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                   \
    }                                                                            \
  } while (0)

static const char *const kinds[] = {"indicators", "orgunits", "agencies", "dimensions", "targets"};
static char url[256];
static db_store *store;
static db_catalog cat;
static const db_catalog_import_opts json = {.format = "json", .actor = "fuzz"};

static const char seed_catalog[] =
    "[{\"code\":\"79\",\"name\":\"City\"},{\"code\":\"26734\",\"name\":\"Ward\",\"parent\":\"79\"}]";
static const char seed_indicators[] =
    "[{\"code\":\"RETAIL\",\"name\":\"Retail\",\"periodicity\":\"month\",\"agg_space\":\"sum\","
    "\"valid_min\":0}]";

/* (Re)creates the store with the tiny catalog, and loads that catalog. */
static void fresh_store(void) {
  if (store) {
    db_catalog_free(&cat);
    db_store_close(store);
  }
  unlink(url + 7);
  char wal[300], shm[300];
  snprintf(wal, sizeof wal, "%s-wal", url + 7);
  snprintf(shm, sizeof shm, "%s-shm", url + 7);
  unlink(wal);
  unlink(shm);
  db_diag d = DB_DIAG_INIT;
  CHECK(db_store_open(url, &store, &d) == 0);
  CHECK(db_catalog_import_buffer(store, "orgunits", seed_catalog, sizeof seed_catalog - 1, "seed", &json, &d,
                                 NULL) == 0);
  CHECK(db_catalog_import_buffer(store, "indicators", seed_indicators, sizeof seed_indicators - 1, "seed", &json,
                                 &d, NULL) == 0);
  db_catalog_init(&cat);
  CHECK(db_store_load_catalog(store, &cat) == 0);
  CHECK(db_catalog_link(&cat, &d) == 0);
  db_diag_free(&d);
}

static int count_cb(void *ctx, const db_obs_row *r) {
  (void)r;
  ++*(int64_t *)ctx;
  return 0;
}

static int64_t stored_observations(void) {
  int64_t n = 0;
  db_obs_filter all = {0};
  CHECK(db_store_obs_read(store, &all, count_cb, &n) == 0);
  return n;
}

static size_t stored_catalog(void) {
  db_catalog c;
  db_catalog_init(&c);
  CHECK(db_store_load_catalog(store, &c) == 0);
  size_t n = c.n_units + c.n_indicators + c.n_agencies + c.n_dimensions;
  db_catalog_free(&c);
  return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(url, sizeof url, "sqlite:/tmp/fuzz_json_body.%d.db", (int)getpid());
  fresh_store();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned which = data[0] % 6;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  int64_t before_obs = stored_observations();
  size_t before_cat = stored_catalog();
  db_diag d = DB_DIAG_INIT;
  int rc;
  if (which == 5) {
    db_batch_info info = {NULL, "fuzz", "fuzz", 0};
    db_ingest_result res;
    rc = db_ingest_buffer(store, &cat, body, len, "json", &info, NULL, NULL, NULL, &d, &res);
    db_ingest_result_free(&res);
  } else {
    rc = db_catalog_import_buffer(store, kinds[which], body, len, "fuzz", &json, &d, NULL);
  }
  CHECK(rc == 0 || rc == DB_EINVAL || rc == DB_EPERM);
  if (rc != 0) {
    CHECK(d.count > 0);
    CHECK(stored_observations() == before_obs);
    CHECK(stored_catalog() == before_cat);
  } else {
    fresh_store();
  }
  db_diag_free(&d);
  return 0;
}
