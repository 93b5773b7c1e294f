/* demo.c - db_demo_load: the order of a demo load, its batches, progress and statistics.
 *
 * Order: the catalog is built in memory (units and successions from the pack or the generator, then
 * agencies and indicators), every object validated, the whole linked (parents, successions, owners),
 * and written in one transaction, parents before children. The stored catalog is then read back (it
 * carries the store's ids) and the observations go through the ingest path, one batch per data
 * source. The targets, some computed from the 2024 data, come last in one transaction. */
#include "demo/demo.h"

#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "demo/demo_int.h"

#define PROGRESS_EVERY 65536

static void pack_size(db__demo *dm);
static int store_catalog(db__demo *dm);
static int store_targets(db__demo *dm);

int db_demo_load(db_store *s, const char *pack_dir, db_progress_fn progress, void *ctx, db_diag *d,
                 db_demo_stats *stats) {
  db__demo dm = {.store = s, .pack = pack_dir, .diag = d, .progress = progress, .progress_ctx = ctx};
  db_catalog_init(&dm.cat);
  dm.tallies = db_calloc(db__demo_city_target_count(), sizeof *dm.tallies);
  dm.tallies_saved = db_calloc(db__demo_city_target_count(), sizeof *dm.tallies);
  dm.next_report = PROGRESS_EVERY;
  int rc = DB_OK;
  if (pack_dir) {
    struct stat st;
    if (stat(pack_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      rc = db_diag_add(d, 0, 0, pack_dir, DB_EIO, "the data pack folder does not exist");
      goto done;
    }
    pack_size(&dm);
    if ((rc = db__demo_pack_units(&dm))) goto done;
  } else {
    db__demo_synth_units(&dm);
  }
  db__demo_add_agencies(&dm);
  db__demo_add_indicators(&dm, pack_dir == NULL);
  if ((rc = store_catalog(&dm))) goto done;

  db_catalog_free(&dm.cat);
  db_catalog_init(&dm.cat);
  if ((rc = db_store_load_catalog(s, &dm.cat))) {
    db_diag_add(d, 0, 0, NULL, rc, "cannot read the stored catalog back: %s", db_strerror(rc));
    goto done;
  }
  rc = pack_dir ? db__demo_pack_series(&dm) : db__demo_synth_series(&dm);
  if (!rc) rc = db__demo_ward_series(&dm);
  if (rc) goto done;
  db__demo_city_targets(&dm);
  if ((rc = store_targets(&dm))) goto done;
  if ((rc = db__demo_tasks(&dm))) goto done;
  if ((rc = db__demo_scenarios(&dm))) goto done;
  if ((rc = db__demo_quality(&dm))) goto done;
  if (progress) progress(ctx, dm.rows, dm.bytes_total, dm.bytes_total);
done:
  if (stats) *stats = dm.stats;
  for (size_t i = 0; i < dm.n_targets; i++) db_target_free(&dm.targets[i]);
  db_free(dm.targets);
  db_free(dm.tallies);
  db_free(dm.tallies_saved);
  db_diag_free(&dm.batch_diag);
  db_map_free(&dm.provinces);
  db_catalog_free(&dm.cat);
  if (rc) return rc;
  return dm.failed ? DB_EINVAL : DB_OK;
}

/* The size of the pack files the loader reads, for progress. */
static void pack_size(db__demo *dm) {
  const char *const *lists[] = {db__demo_unit_files, db__demo_series_files};
  for (size_t l = 0; l < 2; l++)
    for (const char *const *f = lists[l]; *f; f++) {
      char *path = db__demo_path(dm, *f);
      struct stat st;
      if (stat(path, &st) == 0) dm->bytes_total += (uint64_t)st.st_size;
      db_free(path);
    }
}

/* ---- catalog ---- */

/* Moves the problems of one object's validation into the load's diag under "kind[code].field". */
static int validated(db__demo *dm, int rc, db_diag *local, const char *kind, const char *code) {
  db_buf path = DB_BUF_INIT;
  for (size_t i = 0; i < local->count; i++) {
    db_buf_clear(&path);
    db_buf_printf(&path, "%s[%s].%s", kind, code ? code : "",
                  local->items[i].path ? local->items[i].path : "");
    db_diag_add(dm->diag, 0, 0, db_buf_str(&path), local->items[i].code, "%s", local->items[i].message);
  }
  db_buf_free(&path);
  db_diag_clear(local);
  return rc;
}

/* Validates every object and links the catalog; 0 or DB_EINVAL (problems in dm->diag). */
static int check_catalog(db__demo *dm) {
  db_catalog *c = &dm->cat;
  db_diag local = DB_DIAG_INIT;
  int bad = 0;
  for (size_t i = 0; i < c->n_units; i++)
    bad |= validated(dm, db_orgunit_validate(&c->units[i], 0, &local), &local, "orgunits", c->units[i].code);
  for (size_t i = 0; i < c->n_successions; i++)
    bad |= validated(dm, db_succession_validate(&c->successions[i], 0, &local), &local, "successions",
                     c->successions[i].from);
  for (size_t i = 0; i < c->n_agencies; i++)
    bad |= validated(dm, db_agency_validate(&c->agencies[i], 0, &local), &local, "agencies",
                     c->agencies[i].code);
  for (size_t i = 0; i < c->n_indicators; i++)
    bad |= validated(dm, db_indicator_validate(&c->indicators[i], 0, &local), &local, "indicators",
                     c->indicators[i].code);
  db_diag_free(&local);
  if (db_catalog_link(c, dm->diag)) bad = 1;
  return bad ? DB_EINVAL : DB_OK;
}

/* Writes the linked catalog in one transaction: units by level (parents first), successions,
 * agencies (the table lists parents first), indicators. */
static int store_catalog(db__demo *dm) {
  if (check_catalog(dm)) return DB_EINVAL;
  db_catalog *c = &dm->cat;
  int rc = db_store_begin(dm->store, 1);
  if (rc)
    return db_diag_add(dm->diag, 0, 0, NULL, rc, "cannot begin the catalog transaction: %s", db_strerror(rc));
  int max_level = 0;
  for (size_t i = 0; i < c->n_units; i++)
    if (c->units[i].level > max_level) max_level = c->units[i].level;
  for (int level = 0; level <= max_level && !rc; level++)
    for (size_t i = 0; i < c->n_units && !rc; i++)
      if (c->units[i].level == level) rc = db_store_put_orgunit(dm->store, &c->units[i]);
  for (size_t i = 0; i < c->n_successions && !rc; i++)
    rc = db_store_put_succession(dm->store, &c->successions[i]);
  for (size_t i = 0; i < c->n_agencies && !rc; i++) rc = db_store_put_agency(dm->store, &c->agencies[i]);
  for (size_t i = 0; i < c->n_indicators && !rc; i++)
    rc = db_store_put_indicator(dm->store, &c->indicators[i]);
  if (!rc) rc = db_store_commit(dm->store);
  if (rc) {
    db_store_rollback(dm->store);
    return db_diag_add(dm->diag, 0, 0, NULL, rc, "cannot store the catalog: %s", db_strerror(rc));
  }
  for (size_t i = 0; i < c->n_units; i++) {
    if (c->units[i].valid_to == DB_DATE_NONE)
      dm->stats.units_current++;
    else
      dm->stats.units_legacy++;
  }
  dm->stats.successions = (int64_t)c->n_successions;
  dm->stats.agencies = (int64_t)c->n_agencies;
  dm->stats.indicators = (int64_t)c->n_indicators;
  return DB_OK;
}

static int store_targets(db__demo *dm) {
  db_diag local = DB_DIAG_INIT;
  int bad = 0;
  for (size_t i = 0; i < dm->n_targets; i++)
    bad |= validated(dm, db_target_validate(&dm->targets[i], 0, &local), &local, "targets",
                     dm->targets[i].indicator);
  db_diag_free(&local);
  if (bad) return DB_EINVAL;
  int rc = db_store_begin(dm->store, 0);
  if (rc)
    return db_diag_add(dm->diag, 0, 0, NULL, rc, "cannot begin the targets' transaction: %s",
                       db_strerror(rc));
  for (size_t i = 0; i < dm->n_targets && !rc; i++) rc = db_store_put_target(dm->store, &dm->targets[i]);
  if (!rc) rc = db_store_commit(dm->store);
  if (rc) {
    db_store_rollback(dm->store);
    return db_diag_add(dm->diag, 0, 0, NULL, rc, "cannot store the targets: %s", db_strerror(rc));
  }
  dm->stats.targets = (int64_t)dm->n_targets;
  return DB_OK;
}

/* ---- observation batches ---- */

void db__demo_progress(db__demo *dm, uint64_t offset) {
  dm->bytes_file = offset;
  if (dm->progress && dm->rows >= dm->next_report) {
    dm->next_report = dm->rows + PROGRESS_EVERY;
    dm->progress(dm->progress_ctx, dm->rows, dm->bytes_done + dm->bytes_file, dm->bytes_total);
  }
}

int db__demo_batch_begin(db__demo *dm, const char *source) {
  db_batch_info info = {NULL, source, "demo", 0};
  db_batch_summary replay = {0};
  dm->source = source;
  memcpy(dm->tallies_saved, dm->tallies, db__demo_city_target_count() * sizeof *dm->tallies);
  int rc = db_ingest_begin(dm->store, &dm->cat, &info, &dm->batch_diag, &dm->in, &replay);
  db_batch_summary_free(&replay);
  if (rc) {
    dm->in = NULL;
    db_diag_add(dm->diag, 0, 0, source, rc, "cannot begin the batch: %s", db_strerror(rc));
  }
  return rc;
}

int db__demo_emit(db__demo *dm, long line, const char *indicator, const char *orgunit, const char *period,
                  double value, int status) {
  int rc = db_ingest_add(dm->in, line, indicator, orgunit, period, value, status, NULL);
  if (rc == DB_OK) db__demo_tally(dm, indicator, orgunit, period, value);
  dm->rows++;
  if (dm->rows >= dm->next_report) db__demo_progress(dm, dm->bytes_file);
  return rc;
}

int db__demo_batch_end(db__demo *dm) {
  db_ingest_result res = {0};
  int rc = db_ingest_finish(dm->in, &res);
  dm->in = NULL;
  db__demo_move_problems(dm, dm->source, &dm->batch_diag);
  if (rc == DB_OK) {
    dm->stats.sources++;
    dm->stats.observations += res.inserted + res.revised + res.unchanged;
    return DB_OK;
  }
  memcpy(dm->tallies, dm->tallies_saved, db__demo_city_target_count() * sizeof *dm->tallies);
  dm->stats.sources_skipped++;
  db__demo_problem(dm, dm->source, 0, 0, rc, "the batch was rolled back: nothing of this source was loaded");
  return rc;
}
