/* demo.h - the demo city: Ho Chi Minh City loaded into a store, from the real data pack or, without
 * one, as a generated city of the same shape, so that the demo always starts.
 *
 * What a load writes (codes that users, docs and tests rely on):
 *   - org units: the country VN (level 0) above the 34 provinces of 2025, among them the city 79
 *     "Thành phố Hồ Chí Minh" (level 1); under 79 the 168 units of 2025 (113 wards, 54 communes, the
 *     special zone Côn Đảo 26732; valid from 2025-07-01, with population, area, boundaries), the six
 *     air-quality stations AQ01..AQ06 (the station numbers of the HealthyAir file) and the Vũng Tàu
 *     weather station MET_VT (kind site). The units before the merger of 2025-07-01 are kept with
 *     valid_to 2025-06-30 and legacy kinds: the 22 old districts of 79 under 79; the old provinces 74
 *     (Bình Dương) and 77 (Bà Rịa–Vũng Tàu) as legacy units under VN with their 16 old districts under
 *     them; the 441 old wards, communes and townships under their districts. The other 27 provinces
 *     abolished on 2025-07-01 are legacy units under VN too (the GSO tables by province name them).
 *   - codes: provinces and districts keep their official codes. 79 is one unit before and after the
 *     merger, like every province whose code went on (the data of an old province is at its code: the
 *     GSO series of old Long An are at 80, the code the new Tây Ninh kept). An old ward's official code
 *     is reused by a new unit in 167 of 168 cases, so old wards carry "OLD_" + the official code
 *     ("OLD_26734"; the official code is also in their attributes as gso_code).
 *   - successions, dated 2025-07-01: each old ward to the new units it went into (the pack's merger
 *     mapping): a "full" merge has weight 1; an old ward split between n new units ("partial") gives
 *     each of them weight 1/n, since no area share of the parts is published. The old district Côn
 *     Đảo (755), which had no wards, to the special zone 26732 with weight 1; each abolished province to
 *     the province it joined, weight 1. Old districts with wards have no successor of their own.
 *   - agencies (city departments, the statistics offices, the police, a People's Committee per unit of
 *     2025), indicators with full metadata (demo_catalog.c), observations (one batch per data file), and
 *     2025 targets: the CPI ceiling 4.5 % (threshold) and plans for retail sales and exports at VN
 *     (where the GSO national series are), for FDI and budget investment at 79, and ward plans.
 *   - ward-level indicators that no file has, generated and marked synthetic: a unit takes data only
 *     while it exists, so 2023-01..2025-06 are at the old wards and 2025-07..2025-10 at the units of
 *     2025 (a rebase through the successions joins them).
 * Without a pack everything is generated deterministically (a fixed-seed generator; two loads give the
 * same values) with the same codes and shape (codes 90001..90168, 22 old districts D01..D22, 441 old
 * wards), and every indicator is marked synthetic.
 *
 * Ownership: the caller owns the store, the diag and the stats. Not thread-safe (one load per store). */
#ifndef DB_DEMO_H
#define DB_DEMO_H
#include <stdint.h>

#include "base/diag.h"
#include "ingest/ingest.h"
#include "store/store.h"

/* What a load wrote. Units current are those with no end of validity (the country, provinces, the
 * 168 units of 2025, the sites); legacy units are those that ended on 2025-06-30. Observations counts
 * the rows accepted (inserted, revised or unchanged). */
typedef struct db_demo_stats {
  int64_t units_current, units_legacy, successions, agencies, indicators, observations, targets;
  int64_t sources;         /* observation batches committed */
  int64_t sources_skipped; /* pack files that could not be read (reported in the diag) */
} db_demo_stats;

/* Loads the demo city into the open store s. pack_dir is a folder laid out like ../shared/data (see its
 * README), or NULL for the generated city. The catalog goes in as one transaction, then one batch per
 * data source, then the targets. progress (may be NULL) is called now and then with the rows so far and
 * the bytes of the pack read so far out of the total. stats (may be NULL) receives the counts.
 *
 * Returns 0 when everything loaded. A pack file that is missing or malformed is reported in d with its
 * name (the problem's path) and line; a bad row of a data file is skipped, a data file that cannot be
 * read is skipped whole, the rest still loads, and the answer is then DB_EINVAL. The unit lists of
 * admin_units/ are needed: when one cannot be opened (DB_EIO) or lacks a column (DB_EINVAL), nothing is
 * written; a missing boundaries file (geo/) only leaves the units without geometry. A pack folder that
 * does not exist is DB_EIO. A store failure stops the load with its code (what was committed stays). */
int db_demo_load(db_store *s, const char *pack_dir, db_progress_fn progress, void *ctx, db_diag *d,
                 db_demo_stats *stats);

#endif
