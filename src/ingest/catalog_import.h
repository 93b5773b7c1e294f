/* catalog_import.h - catalog files in and out of a store: org units, successions, agencies,
 * indicators, dimensions, targets, and GeoJSON geometry for org units.
 *
 * An import is all-or-nothing. Every object of the file is read and checked on its own
 * (db_*_validate), then the whole catalog as it would be after the import (the store's catalog with the
 * file's objects put in) is checked by db_catalog_link, so unknown parents, owners, weights and
 * dimensions are reported; targets must name known indicators and units; every formula of that catalog
 * must compile against it, read indicators of its own indicator's periodicity and close no dependency
 * cycle (formula/derived.h: "indicators[IDX].formula: column 17: unknown indicator 'CPII' (did you mean
 * CPI?)", "dependency cycle A -> B -> A"; the path names the indicator). Every problem is reported
 * (CSV: line, column number and column name; JSON: a path such as "$[3].periodicity" or
 * "$.indicators[3].periodicity"). Only when there is none are the objects written, in one store
 * transaction with one audit record (action "catalog.import", object the kind, detail
 * {"file": <file name>, "count": <objects>}). Objects are upserted by code (successions by from and
 * to; targets by indicator, unit, period and kind); nothing is deleted.
 *
 * Formats (from the extension unless opts->format says): CSV (.csv), JSON (.json), GeoJSON (.geojson,
 * kind "geometry" only, which also reads .json).
 *
 * CSV: the first row names the columns, in any order. A column the kind does not have is an error
 * that lists the allowed ones; a missing required column is an error; a blank cell means "not given"
 * and takes the default. JSON: an array of objects, or {"<kind>": [...]}, with the same member names
 * (null = not given; numbers as JSON numbers, codes and dates as strings; unknown members are errors).
 * Columns (* required; defaults after "="):
 *   orgunits     code*, name*, name_en, kind (alias type), parent, valid_from, valid_to (YYYY-MM-DD),
 *                population, area_km2, attributes (a JSON object), and in JSON only geometry (a GeoJSON
 *                geometry object). kind takes the names of db_ou_kind_parse and the Vietnamese types of
 *                the GSO lists ("Phường", "Xã", "Đặc khu", "Quận"…), read as today's units, or as units
 *                before 2025-07-01 when opts->legacy is set (db_ou_kind_parse_legacy). Without a kind
 *                (no column, or a blank cell) a unit without parent is a city and a child of a city is
 *                a ward; any other unit needs a kind. The GSO list format code,name,type,parent and the
 *                synthetic city's code,name,parent both import as they are. A unit already stored keeps
 *                its geometry, attributes, population and area when the file does not give them.
 *   successions  from*, to*, weight = 1, partial = 1 when weight < 1 else 0, date = 2025-07-01.
 *   agencies     code*, name*, name_en, kind, orgunit, parent.
 *   indicators   code*, name*, name_en, description, unit, unit_mult = 0, decimals = 2, periodicity*
 *                (= opts->periodicity when set; then the column may be absent), period_span = 0,
 *                agg_space (alias aggregation) = none, weight, agg_time = sum for agg_space sum, avg
 *                for avg and wavg, min for min, max for max, else none; polarity = neutral, valid_min,
 *                valid_max (blank = unbounded), owner, sector, groups, is_public = 0, legal_ref, formula,
 *                dimensions, source, synthetic = 0. The synthetic city's code,name,unit,aggregation
 *                imports as it is, with opts->periodicity.
 *   dimensions   code*, name*, item, item_name = the item code: one row per item (rows of the same code
 *                add items; a row with a blank item declares the dimension alone). JSON: code, name,
 *                items: [{"code":…, "name":…}].
 *   targets      indicator*, orgunit*, period*, kind = plan, value*, source.
 *   geometry     a GeoJSON FeatureCollection; each feature names a stored unit in the property
 *                opts->code_property (= "code"); its geometry replaces the unit's, and the properties
 *                opts->population_property (= "population") and opts->area_property (= "area_km2"),
 *                when present, set population and area (numbers, or numeric strings).
 *
 * Ownership: nothing returned needs freeing; problems are added to the caller's db_diag.
 * One call at a time per store handle. */
#ifndef DB_CATALOG_IMPORT_H
#define DB_CATALOG_IMPORT_H
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "base/diag.h"
#include "model/period.h"
#include "store/store.h"

typedef struct db_catalog_import_opts {
  const char *format;              /* "csv", "json" or "geojson"; NULL = from the extension */
  const char *actor;               /* the audit record's actor; NULL = "cli" */
  db_period_type periodicity;      /* indicators without a periodicity; 0 = it is required */
  int legacy;                      /* org units: Vietnamese types name units before 2025-07-01 */
  const char *code_property;       /* geometry: NULL = "code" */
  const char *population_property; /* geometry: NULL = "population" */
  const char *area_property;       /* geometry: NULL = "area_km2" */
} db_catalog_import_opts;

/* Imports the catalog file at path, of `kind` ("orgunits", "successions", "agencies", "indicators",
 * "dimensions", "targets", "geometry"), into s. opts may be NULL. *n_imported (may be NULL) receives
 * the number of objects written (0 unless the import succeeded). Returns 0; DB_EINVAL when the kind or
 * format is unknown or the file has problems (all in d; nothing written); DB_EIO when the file cannot
 * be read; a store error (explained in d) when writing failed (rolled back). */
int db_catalog_import(db_store *s, const char *kind, const char *path, const db_catalog_import_opts *opts,
                      db_diag *d, size_t *n_imported);

/* The same for a document of len bytes in memory (an HTTP body; it need not end with a NUL):
 * opts->format is required. `name` (NULL = "the document") stands for the file name in messages and in
 * the audit record's detail. Returns as db_catalog_import does, DB_EIO excepted. */
int db_catalog_import_buffer(db_store *s, const char *kind, const char *data, size_t len, const char *name,
                             const db_catalog_import_opts *opts, db_diag *d, size_t *n_imported);

/* Writes the store's objects of `kind` to out: format "csv" (NULL) with the columns the import reads,
 * so that the file imports back to the same objects, or "json" ({"<kind>": [...]}; numbers with 15
 * significant digits). Kind "geometry" writes a GeoJSON FeatureCollection (format "geojson" or
 * "json", compact) of the units that have a geometry, with code, name, population and area_km2
 * properties.
 * Returns 0; DB_EINVAL for an unknown kind or format; DB_EIO when out fails; a store error. */
int db_catalog_export(db_store *s, const char *kind, FILE *out, const char *format);

/* The dimension whose items are the agencies: figures kept per agency (data-supply scores, task
 * statistics) are series at the agency's unit with the dimension key "AGENCY=<agency code>". */
#define DB_AGENCY_DIMENSION "AGENCY"
/* Brings the AGENCY dimension of the store up to the agencies of cat (linked, as stored in s): creates it
 * when absent and adds every agency it lacks as an item (named as the agency; items are never removed,
 * so series of a dissolved agency stay readable), in the open transaction. *changed is set to 1 when it
 * wrote (the caller then publishes the new catalog), else left alone. Returns 0 or the store's error. */
int db_catalog_ensure_agency_dimension(db_store *s, const db_catalog *cat, int *changed);

/* One object of `kind` (obj points at a db_orgunit for "orgunits", a db_agency for "agencies"…) as the
 * JSON object that db_catalog_export writes for it (members not given are left out; an org unit's
 * geometry is included). A new reference, or NULL for an unknown kind (or "geometry"). */
json_t *db_catalog_object_json(const char *kind, const void *obj);

/* Writes the n objects of `kind` that objs points at as the CSV that db_catalog_export writes (header
 * included). Returns 0, DB_EINVAL for an unknown kind, DB_EIO when out fails. */
int db_catalog_write_csv(const char *kind, const void *const *objs, size_t n, FILE *out);

#endif
