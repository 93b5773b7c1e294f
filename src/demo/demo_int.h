/* demo_int.h - what the files of the demo loader share. Not for use outside src/demo.
 *
 *   demo.c         db_demo_load: the order of the load, the batches, progress and statistics
 *   demo_catalog.c agencies, indicator metadata, targets (the same for the pack and the generated city)
 *   demo_pack.c    reading pack files: paths, CSV with named columns, numbers, problems with file and
 *                  line, Vietnamese names folded for matching
 *   demo_units.c   the org units and successions of the real pack
 *   demo_series.c  the observations of the real pack, one batch per file
 *   demo_synth.c   the generator: the synthetic city, values for every indicator without a pack, and
 *                  the ward-level indicators no real file has (in both modes) */
#ifndef DB_DEMO_INT_H
#define DB_DEMO_INT_H
#include <stdint.h>

#include "base/map.h"
#include "demo/demo.h"
#include "ingest/csv.h"
#include "model/catalog.h"

#define DB__DEMO_MERGER_DATE "2025-07-01" /* the units of 2025 start; the old ones end the day before */
#define DB__DEMO_LEGACY_PREFIX "OLD_"     /* old ward-level codes: OLD_ + the official code */

/* The 2024 basis of a computed 2025 target, tallied while the data goes in. */
typedef struct db__demo_count {
  double sum2024;  /* sum of the 2024 values (flows) */
  double last2024; /* the value of the latest 2024 period (year-to-date and stock series) */
  char last_period[DB_PERIOD_CODE_MAX];
  int n2024;
} db__demo_count;

typedef struct db__demo {
  db_store *store;
  const char *pack; /* NULL: the generated city */
  db_diag *diag;
  db_progress_fn progress;
  void *progress_ctx;
  db_demo_stats stats;

  db_catalog cat;     /* built in memory, linked and stored; then replaced by the stored one */
  db_target *targets; /* built after the data */
  size_t n_targets, cap_targets;
  db__demo_count *tallies;       /* one per entry of the city target table (demo_catalog.c) */
  db__demo_count *tallies_saved; /* as they were when the open batch began (restored on rollback) */

  db_ingest *in;      /* the open observation batch, NULL between batches */
  const char *source; /* its source (a pack file name or "synthetic:…") */
  db_diag batch_diag; /* the ingest path's problems, moved to diag with the source's name */
  int64_t rows;       /* rows added over the whole load */
  int64_t next_report;
  uint64_t bytes_done, bytes_total, bytes_file; /* pack bytes read; bytes_file: offset in the open file */
  int failed;                                   /* a pack problem was reported */
  db_map provinces; /* folded old province name -> province code as a number (demo_units.c) */
} db__demo;

/* ---- demo.c: batches ---- */
/* Opens an observation batch named `source` (kept by pointer: a string literal or the caller's). */
int db__demo_batch_begin(db__demo *dm, const char *source);
/* Adds one observation to the open batch and feeds the target tallies. Returns 0, DB_EINVAL when the
 * ingest path refused the row (the batch will roll back), or a store error. */
int db__demo_emit(db__demo *dm, long line, const char *indicator, const char *orgunit, const char *period,
                  double value, int status);
/* Ends the batch: commits it, or rolls it back when a row was refused (then DB_EINVAL, reported, and
 * the load goes on). Any other code is a store failure that stops the load. */
int db__demo_batch_end(db__demo *dm);
/* Progress for readers of pack files: `offset` bytes of the current file are read. */
void db__demo_progress(db__demo *dm, uint64_t offset);

/* ---- demo_catalog.c ---- */
/* Adds the agencies (ward committees for every current unit of kind ward, commune or special zone
 * already in dm->cat) and the indicators; `synthetic` marks every indicator generated. */
void db__demo_add_agencies(db__demo *dm);
void db__demo_add_indicators(db__demo *dm, int synthetic);
/* The city target table: its size, and a call per observation to keep the tallies (cheap when the
 * period is not in 2024). */
size_t db__demo_city_target_count(void);
void db__demo_tally(db__demo *dm, const char *indicator, const char *orgunit, const char *period,
                    double value);
/* Builds the city targets from the tallies into dm->targets. */
void db__demo_city_targets(db__demo *dm);
/* Appends a target (copied). */
void db__demo_add_target(db__demo *dm, const char *indicator, const char *orgunit, const char *period,
                         const char *kind, double value, const char *source);

/* ---- demo_tasks.c ---- */
#define DB__DEMO_TASKS_DAY "2025-10-31" /* the demo's tasks are as of this day (the data's last month) */
/* Writes the directives and tasks, evaluates them on the cube and publishes their statistics (after the
 * data and the targets). Returns 0, or an error already reported. */
int db__demo_tasks(db__demo *dm);

/* ---- demo_scenarios.c ---- */
/* The live-feed indicators the scenarios watch, then the four demo scenarios (the JSON files of data/scenarios,
 * embedded): a scenario that does not check is reported with its file name; 0 or a store error. */
int db__demo_scenarios(db__demo *dm);

/* ---- demo_quality.c ---- */
/* The holiday calendar, the reporting obligations over the ward panel with three months of submissions
 * (on time, late, missing, one keying error) and the validation rules, judged (after the data). Returns 0,
 * or an error already reported. */
int db__demo_quality(db__demo *dm);

/* ---- demo_pack.c ---- */
typedef struct db__demo_csv {
  db__demo *dm;
  const char *file; /* relative to the pack */
  db_csv *r;
  db_diag local;  /* the reader's own problems, moved to dm->diag with the file name */
  db_map columns; /* header name -> 0-based index */
  db_csv_field *f;
  size_t nf;
  long line;
} db__demo_csv;

/* pack + "/" + file, owned by the caller (db_free). */
char *db__demo_path(const db__demo *dm, const char *file);
/* Reports a problem of a pack file (path = the file name) and marks the load failed. */
void db__demo_problem(db__demo *dm, const char *file, long line, int column, int code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Moves every problem of `from` (a reader's or a batch's) into the load's diag under the file name,
 * keeping line and column and prefixing the message with the problem's own path (a column name). */
void db__demo_move_problems(db__demo *dm, const char *file, db_diag *from);
/* Opens a pack CSV file and reads its header. Returns 0, or an error already reported. */
int db__demo_csv_open(db__demo *dm, const char *file, db__demo_csv *c);
/* The 0-based index of a header column, or -1 when the file has no such column (reported). */
int db__demo_csv_col(db__demo_csv *c, const char *name);
/* Reads the next record: 1, 0 at the end, or an error (reported). Records the reader refused are
 * skipped (their problems reported). */
int db__demo_csv_next(db__demo_csv *c);
/* The text of column `col` of the current record as a NUL-terminated copy in buf (cap bytes); NULL
 * when the record is too short or the text too long (reported). */
const char *db__demo_csv_text(db__demo_csv *c, int col, char *buf, size_t cap);
/* 1 when column `col` of the current record is exactly s. */
int db__demo_csv_is(db__demo_csv *c, int col, const char *s);
/* Reads a number: 1 with *v, 0 when the field is blank or a "no data" mark (".."), -1 when it is not a
 * number (reported). */
int db__demo_csv_number(db__demo_csv *c, int col, double *v);
void db__demo_csv_close(db__demo_csv *c);
/* Folds a Vietnamese name for matching: letters without diacritics (precomposed or combining), đ as
 * d, lower case, everything but letters and digits dropped ("Đắk Lắk" and "Đăk Lăk" -> "daklak").
 * Writes at most cap-1 bytes and a NUL into out. */
void db__demo_fold(const char *s, char *out, size_t cap);

/* ---- demo_units.c ---- */
extern const char *const db__demo_unit_files[]; /* the pack files it reads, NULL-terminated */
/* Adds the real org units and successions of the pack to dm->cat. Returns 0, or DB_EINVAL/DB_EIO when
 * a unit list could not be read (reported). */
int db__demo_pack_units(db__demo *dm);
/* Adds the country VN; adds the sites under 79: the air-quality stations AQ01..AQ06 and the weather
 * station MET_VT (both modes). */
void db__demo_add_country(db__demo *dm);
void db__demo_add_sites(db__demo *dm);
/* Finds the code of an old (pre-2025) province from its name as the GSO tables write it ("TP. Hồ Chí
 * Minh", "Đăk Lăk", "Thừa Thiên - Huế"): 1 with the code in out, 0 when the name is not a province. */
int db__demo_province_code(const db__demo *dm, const char *name, char out[8]);

/* ---- demo_series.c ---- */
extern const char *const db__demo_series_files[]; /* the pack files it reads, NULL-terminated */
/* POPULATION and AREA_KM2 of 2025 from the attributes of the units of 2025, and their sum at 79 (one
 * batch); both modes. */
int db__demo_unit_attributes(db__demo *dm);
/* Loads every observation file of the pack, one batch each; returns 0 or a store error. */
int db__demo_pack_series(db__demo *dm);

/* ---- demo_synth.c ---- */
/* Adds the generated city (units and successions) to dm->cat. */
void db__demo_synth_units(db__demo *dm);
/* Generates every indicator of the real pack (one batch). */
int db__demo_synth_series(db__demo *dm);
/* Generates the ward-level indicators (one batch) and their ward targets; both modes. */
int db__demo_ward_series(db__demo *dm);

#endif
