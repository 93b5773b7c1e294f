/* demo_scenarios.c - the four demo scenarios (the JSON files of data/scenarios, embedded into the binary by
 * cmake/embed_scenarios.cmake): air pollution on the real hourly PM2.5 of the six stations, heavy rain and
 * urban flooding, a dengue outbreak, and the monthly socio-economic meeting against the year's plan.
 *
 * The flood and dengue scenarios watch feeds that no file of the pack has (rain gauges and flood sensors
 * by ward, the tide at Phú An, weekly dengue cases by ward): their indicators are added to the catalog
 * here, empty, for live feeds and what-if simulations. Each scenario is then written through watch.h
 * (checked against the stored catalog), one transaction each; a scenario that does not check is reported
 * with its file name and JSON path and the others still load. */
#include <math.h>
#include <string.h>

#include "base/err.h"
#include "demo/demo_int.h"
#include "watch/watch.h"

typedef struct db__demo_scenario_file {
  const char *name, *text;
  size_t len;
} db__demo_scenario_file;
extern const db__demo_scenario_file db__demo_scenario_files[];
extern const size_t db__demo_n_scenario_files;

typedef struct feed {
  const char *code, *name, *name_en, *unit, *owner, *sector, *description;
  db_period_type periodicity;
  db_agg space, time;
  double max;
} feed;

static const feed feeds[] = {
    {"RAIN_1H_MM", "Lượng mưa 1 giờ", "Hourly rainfall", "mm", "HYDROMET", "environment",
     "Rain in the hour at the ward's automatic rain gauge (live feed of the hydro-meteorological network); "
     "over several wards, the heaviest.",
     DB_PT_HOUR, DB_AGG_MAX, DB_AGG_SUM, 500},
    {"FLOOD_DEPTH_CM", "Độ sâu ngập", "Flood depth", "cm", "DOC", "environment",
     "Deepest water on the ward's streets in the hour (live feed of the flood sensors).", DB_PT_HOUR, DB_AGG_MAX,
     DB_AGG_MAX, 500},
    {"WATER_LEVEL_CM", "Mực nước sông Sài Gòn tại Phú An", "Saigon river level at Phú An", "cm", "HYDROMET",
     "environment", "Highest water level in the hour at the Phú An gauge (alarm levels 140, 150, 160 cm).",
     DB_PT_HOUR, DB_AGG_MAX, DB_AGG_MAX, 400},
    {"DENGUE_CASES", "Số ca mắc sốt xuất huyết", "Dengue cases", "cases", "DOH", "health",
     "Dengue cases reported in the ISO week by the ward's health station.", DB_PT_WEEK, DB_AGG_SUM, DB_AGG_SUM,
     100000},
};

/* Adds the live-feed indicators (validated as any catalog indicator) in one transaction. */
static int add_feeds(db__demo *dm) {
  db_diag local = DB_DIAG_INIT;
  int rc = db_store_begin(dm->store, 0);
  for (size_t i = 0; i < sizeof feeds / sizeof feeds[0] && !rc; i++) {
    const feed *f = &feeds[i];
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = (char *)f->code;
    ind.name = (char *)f->name;
    ind.name_en = (char *)f->name_en;
    ind.description = (char *)f->description;
    ind.unit = (char *)f->unit;
    ind.periodicity = f->periodicity;
    ind.agg_space = f->space;
    ind.agg_time = f->time;
    ind.polarity = DB_POL_LOWER;
    ind.valid_min = 0;
    ind.valid_max = f->max;
    ind.owner = (char *)f->owner;
    ind.sector = (char *)f->sector;
    ind.groups = "scenario_feeds";
    ind.source = "live feed (no file of the data pack)";
    rc = db_indicator_validate(&ind, 0, &local);
    if (!rc) rc = db_store_put_indicator(dm->store, &ind);
  }
  db__demo_move_problems(dm, "scenario feeds", &local);
  db_diag_free(&local);
  if (!rc) rc = db_store_commit(dm->store);
  if (rc) {
    db_store_rollback(dm->store);
    return db_diag_add(dm->diag, 0, 0, NULL, rc, "cannot store the scenario feeds' indicators: %s", db_strerror(rc));
  }
  return DB_OK;
}

/* Loads one embedded scenario; its problems go to the load's diag under its file name. */
static void load_one(db__demo *dm, const db_catalog *cat, const db__demo_scenario_file *f) {
  db_diag local = DB_DIAG_INIT;
  db_scenario *sc = NULL;
  db_watch_saved saved;
  int rc = db_store_begin(dm->store, 0);
  if (!rc) rc = db_watch_save_scenario(dm->store, cat, f->text, f->len, "demo", &sc, &saved, &local);
  if (!rc) rc = db_store_commit(dm->store);
  if (rc) {
    db_store_rollback(dm->store);
    if (!local.count) db_diag_add(&local, 0, 0, NULL, rc, "%s", db_strerror(rc));
    db__demo_move_problems(dm, f->name, &local);
    dm->failed = 1;
  }
  db_scenario_free(sc);
  db_diag_free(&local);
}

int db__demo_scenarios(db__demo *dm) {
  int rc = add_feeds(dm);
  if (rc) return rc;
  db_catalog cat;
  db_catalog_init(&cat);
  if ((rc = db_store_load_catalog(dm->store, &cat)) || (rc = db_catalog_link(&cat, dm->diag))) {
    db_catalog_free(&cat);
    return db_diag_add(dm->diag, 0, 0, NULL, rc, "cannot read the catalog back for the scenarios: %s", db_strerror(rc));
  }
  for (size_t i = 0; i < db__demo_n_scenario_files; i++) load_one(dm, &cat, &db__demo_scenario_files[i]);
  db_catalog_free(&cat);
  return DB_OK;
}
