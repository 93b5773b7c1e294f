/* demo_units.c - the org units and successions of the real data pack (the layout and the decisions are
 * described in demo.h):
 *   admin_units/vn_provinces_2025-07-01_gso_915.csv        the 34 provinces of 2025 (79 among them)
 *   admin_units/vn_units_2025-03-01_3level.csv             the 63 old provinces; the old districts and
 *                                                          wards of 74 and 77
 *   admin_units/hcmc_wards_2025-03-01_pre_merger.csv       the old districts and wards of 79
 *   admin_units/hcmc_communes_2025-07-01.csv               the 168 units of 2025
 *   geo/hcmc_communes_2025.geojson                         their boundaries and English names
 *   geo/hcmc_bd_brvt_districts_pre2025.geojson             the old districts' boundaries (and Côn Đảo,
 *                                                          a district without wards)
 *   admin_units/vn_province_merge_mapping_2025-07-01.csv   abolished province -> its successor
 *   admin_units/vn_commune_merge_mapping_2025-07-01.csv    old ward -> new unit (rows of new 79)
 * The unit lists are required; the boundaries are optional (a missing file is reported, the units load
 * without geometry). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "demo/demo_int.h"

#define F_PROVINCES "admin_units/vn_provinces_2025-07-01_gso_915.csv"
#define F_OLD_VN "admin_units/vn_units_2025-03-01_3level.csv"
#define F_OLD_HCMC "admin_units/hcmc_wards_2025-03-01_pre_merger.csv"
#define F_NEW "admin_units/hcmc_communes_2025-07-01.csv"
#define F_GEO_NEW "geo/hcmc_communes_2025.geojson"
#define F_GEO_OLD "geo/hcmc_bd_brvt_districts_pre2025.geojson"
#define F_PROV_MAP "admin_units/vn_province_merge_mapping_2025-07-01.csv"
#define F_WARD_MAP "admin_units/vn_commune_merge_mapping_2025-07-01.csv"

#define TEXT_MAX 1024

const char *const db__demo_unit_files[] = {F_PROVINCES, F_OLD_VN,   F_OLD_HCMC, F_NEW, F_GEO_NEW,
                                           F_GEO_OLD,   F_PROV_MAP, F_WARD_MAP, NULL};

/* Boundaries (and a few properties) of a GeoJSON file, by unit code. */
typedef struct geo_feature {
  char *code, *geometry, *name, *name_en, *parent, *type;
} geo_feature;

typedef struct geo_set {
  geo_feature *items;
  size_t n;
  db_map index; /* code -> index */
} geo_set;

/* Loader state shared by the steps below. */
typedef struct units_ctx {
  db__demo *dm;
  int64_t old_end, new_start; /* 2025-06-30, 2025-07-01 */
  geo_set geo_new, geo_old;
} units_ctx;

static int read_geo(db__demo *dm, const char *file, const char *code_key, geo_set *out);
static void geo_free(geo_set *g);
static int read_current_provinces(units_ctx *u);
static int read_old_units(units_ctx *u, const char *file, const char *const *provinces,
                          int collect_provinces);
static int read_new_units(units_ctx *u);
static int read_province_successions(units_ctx *u);
static int read_ward_successions(units_ctx *u);

int db__demo_pack_units(db__demo *dm) {
  units_ctx u = {.dm = dm};
  db_parse_date("2025-06-30", 10, &u.old_end);
  db_parse_date(DB__DEMO_MERGER_DATE, 10, &u.new_start);
  read_geo(dm, F_GEO_NEW, "code", &u.geo_new); /* optional: reported when missing */
  read_geo(dm, F_GEO_OLD, "district_code", &u.geo_old);

  db__demo_add_country(dm);

  static const char *const old_hcmc[] = {"79", NULL}, *const old_neighbours[] = {"74", "77", NULL};
  int rc = read_current_provinces(&u);
  if (!rc) rc = read_old_units(&u, F_OLD_VN, old_neighbours, 1);
  if (!rc) rc = read_old_units(&u, F_OLD_HCMC, old_hcmc, 0);
  if (!rc) rc = read_new_units(&u);
  if (!rc) {
    db__demo_add_sites(dm);
    rc = read_province_successions(&u);
  }
  if (!rc) rc = read_ward_successions(&u);
  geo_free(&u.geo_new);
  geo_free(&u.geo_old);
  return rc;
}

int db__demo_province_code(const db__demo *dm, const char *name, char out[8]) {
  char key[128];
  db__demo_fold(name, key, sizeof key);
  /* The GSO tables write "TP. Hồ Chí Minh" (the unit lists "Thành phố Hồ Chí Minh") and still use the
   * name Thừa Thiên Huế of the province that became Thành phố Huế in 2025. */
  const char *k = strncmp(name, "TP.", 3) == 0 ? key + 2 : key;
  if (strcmp(k, "thuathienhue") == 0) k = "hue";
  int64_t code;
  if (!db_map_gets(&dm->provinces, k, &code)) return 0;
  snprintf(out, 8, "%02d", (int)code);
  return 1;
}

/* ---- GeoJSON ---- */

/* A string property of a feature as an owned copy, or NULL. */
static char *prop(json_t *props, const char *key) {
  const char *s = json_string_value(json_object_get(props, key));
  return s ? db_strdup(s) : NULL;
}

/* Reads the features of a FeatureCollection keyed by the string property code_key. Problems (missing
 * file, bad JSON, a feature without code or geometry) are reported; returns 0 or the error. */
static int read_geo(db__demo *dm, const char *file, const char *code_key, geo_set *out) {
  memset(out, 0, sizeof *out);
  char *path = db__demo_path(dm, file);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  struct stat st;
  if (root && stat(path, &st) == 0) dm->bytes_done += (uint64_t)st.st_size;
  db_free(path);
  if (!root) {
    db__demo_problem(dm, file, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0, DB_EINVAL,
                     "cannot read the GeoJSON: %s", err.text);
    return DB_EINVAL;
  }
  json_t *features = json_object_get(root, "features");
  if (!json_is_array(features)) {
    db__demo_problem(dm, file, 0, 0, DB_EINVAL, "no \"features\" array: not a GeoJSON FeatureCollection");
    json_decref(root);
    return DB_EINVAL;
  }
  out->items = db_calloc(json_array_size(features) + 1, sizeof *out->items);
  size_t i;
  json_t *f;
  json_array_foreach(features, i, f) {
    json_t *props = json_object_get(f, "properties");
    json_t *geom = json_object_get(f, "geometry");
    const char *code = json_string_value(json_object_get(props, code_key));
    if (!code || !json_is_object(geom)) {
      db__demo_problem(dm, file, 0, 0, DB_EINVAL, "feature %zu has no %s or no geometry", i, code_key);
      continue;
    }
    char *text = json_dumps(geom, JSON_COMPACT | JSON_REAL_PRECISION(10));
    geo_feature *g = &out->items[out->n];
    g->code = db_strdup(code);
    g->geometry = db_strdup(text);
    free(text); /* jansson's allocation */
    g->name = prop(props, "district_name");
    g->name_en = prop(props, "fullNameEn");
    g->parent = prop(props, "province_code");
    g->type = prop(props, "district_type");
    db_map_puts(&out->index, code, (int64_t)out->n++);
  }
  json_decref(root);
  return DB_OK;
}

static const geo_feature *geo_find(const geo_set *g, const char *code) {
  int64_t i;
  return db_map_gets(&g->index, code, &i) ? &g->items[i] : NULL;
}

static void geo_free(geo_set *g) {
  for (size_t i = 0; i < g->n; i++) {
    geo_feature *f = &g->items[i];
    db_free(f->code);
    db_free(f->geometry);
    db_free(f->name);
    db_free(f->name_en);
    db_free(f->parent);
    db_free(f->type);
  }
  db_free(g->items);
  db_map_free(&g->index);
}

/* ---- unit lists ---- */

/* Reads the named columns of a CSV file into idx; returns 0, or DB_EINVAL when one is missing. */
static int columns(db__demo_csv *c, const char *const *names, int *idx, size_t n) {
  int ok = 1;
  for (size_t i = 0; i < n; i++) ok &= (idx[i] = db__demo_csv_col(c, names[i])) >= 0;
  return ok ? DB_OK : DB_EINVAL;
}

/* The province name of the lists without its type ("Tỉnh Bình Dương" -> "Bình Dương"), folded. */
static void province_key(const char *name, char *key, size_t cap) {
  static const char *const prefixes[] = {"Tỉnh ", "Thành phố "};
  for (size_t i = 0; i < 2; i++)
    if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) name += strlen(prefixes[i]);
  db__demo_fold(name, key, cap);
}

static int read_current_provinces(units_ctx *u) {
  static const char *const names[] = {"province_code", "province_name"};
  int col[2];
  db__demo_csv c;
  int rc = db__demo_csv_open(u->dm, F_PROVINCES, &c);
  if (rc) return rc;
  if ((rc = columns(&c, names, col, 2))) goto done;
  char code[16], name[TEXT_MAX], full[TEXT_MAX + 16];
  while ((rc = db__demo_csv_next(&c)) == 1) {
    if (!db__demo_csv_text(&c, col[0], code, sizeof code) ||
        !db__demo_csv_text(&c, col[1], name, sizeof name))
      continue;
    int city = strncmp(name, "Thành phố", strlen("Thành phố")) == 0;
    snprintf(full, sizeof full, "%s%s", city ? "" : "Tỉnh ", name);
    db_orgunit ou;
    db_orgunit_init(&ou);
    ou.code = code;
    ou.name = full;
    ou.name_en = strcmp(code, "79") == 0 ? "Ho Chi Minh City" : NULL;
    ou.kind = DB_OU_CITY;
    ou.parent = "VN";
    db_catalog_put_unit(&u->dm->cat, &ou);
  }
done:
  db__demo_csv_close(&c);
  return rc < 0 ? rc : DB_OK;
}

/* A JSON object text {"k1":"v1",…} of the pairs (keys[i], values[i]) whose value is not empty; NULL
 * when there is none. Owned. */
static char *attributes(const char *const *keys, const char *const *values, size_t n) {
  json_t *o = json_object();
  for (size_t i = 0; i < n; i++)
    if (values[i] && *values[i]) json_object_set_new(o, keys[i], json_string(values[i]));
  if (json_object_size(o) == 0) {
    json_decref(o);
    return NULL;
  }
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  char *own = db_strdup(text);
  free(text);
  return own;
}

/* Adds a legacy unit unless the catalog has it (the lists repeat a district on every ward row). */
static void put_legacy(units_ctx *u, const char *code, const char *name, db_ou_kind kind, const char *parent,
                       const char *geometry, char *attrs) {
  if (!db_catalog_unit(&u->dm->cat, code)) {
    db_orgunit ou;
    db_orgunit_init(&ou);
    ou.code = (char *)code;
    ou.name = (char *)name;
    ou.kind = kind;
    ou.parent = (char *)parent;
    ou.valid_to = u->old_end;
    ou.geometry = (char *)geometry;
    ou.attributes = attrs;
    db_catalog_put_unit(&u->dm->cat, &ou);
  }
  db_free(attrs);
}

static int in_list(const char *const *list, const char *s) {
  for (; *list; list++)
    if (strcmp(*list, s) == 0) return 1;
  return 0;
}

/* Reads a pre-merger list (province, district, ward columns): the old districts and wards of the
 * provinces in `provinces` become legacy units; with collect_provinces, every province also enters the
 * name index, and those that are not provinces of 2025 become legacy units under VN. */
static int read_old_units(units_ctx *u, const char *file, const char *const *provinces,
                          int collect_provinces) {
  static const char *const names[] = {"province_code", "province_name", "district_code", "district_name",
                                      "district_type", "ward_code",     "ward_name",     "ward_type"};
  enum { P_CODE, P_NAME, D_CODE, D_NAME, D_TYPE, W_CODE, W_NAME, W_TYPE, NCOL };
  int col[NCOL];
  db__demo_csv c;
  int rc = db__demo_csv_open(u->dm, file, &c);
  if (rc) return rc;
  if ((rc = columns(&c, names, col, NCOL))) goto done;
  char f[NCOL][TEXT_MAX], key[TEXT_MAX], wcode[TEXT_MAX + 8];
  while ((rc = db__demo_csv_next(&c)) == 1) {
    int ok = 1;
    for (int i = 0; i < NCOL && ok; i++) ok = db__demo_csv_text(&c, col[i], f[i], sizeof f[i]) != NULL;
    if (!ok) continue;
    if (collect_provinces) {
      province_key(f[P_NAME], key, sizeof key);
      db_map_puts(&u->dm->provinces, key, strtol(f[P_CODE], NULL, 10));
      if (!db_catalog_unit(&u->dm->cat, f[P_CODE]))
        put_legacy(u, f[P_CODE], f[P_NAME], DB_OU_CITY, "VN", NULL, NULL);
    }
    if (!in_list(provinces, f[P_CODE])) continue;
    const geo_feature *g = geo_find(&u->geo_old, f[D_CODE]);
    const char *dkeys[] = {"type"}, *dvals[] = {f[D_TYPE]};
    put_legacy(u, f[D_CODE], f[D_NAME], DB_OU_LEGACY_DISTRICT, f[P_CODE], g ? g->geometry : NULL,
               attributes(dkeys, dvals, 1));
    snprintf(wcode, sizeof wcode, "%s%s", DB__DEMO_LEGACY_PREFIX, f[W_CODE]);
    if (db_catalog_unit(&u->dm->cat, wcode)) {
      db__demo_problem(u->dm, file, c.line, col[W_CODE] + 1, DB_EINVAL, "ward code %s appears twice",
                       f[W_CODE]);
      continue;
    }
    const char *wkeys[] = {"gso_code", "type"}, *wvals[] = {f[W_CODE], f[W_TYPE]};
    put_legacy(u, wcode, f[W_NAME], DB_OU_LEGACY_WARD, f[D_CODE], NULL, attributes(wkeys, wvals, 2));
  }
done:
  db__demo_csv_close(&c);
  return rc < 0 ? rc : DB_OK;
}

/* Reads an area; a value above 1000 km² written without a decimal point lost it (the pack's README names
 * two such rows: 17956 and 33589 for 17.956 and 33.589 km²): it is divided by 1000. */
static int read_area(db__demo_csv *c, int col, double *area, int *corrected) {
  int rc = db__demo_csv_number(c, col, area);
  *corrected = 0;
  if (rc == 1 && *area > 1000 && !memchr(c->f[col].p, '.', c->f[col].len)) {
    *area /= 1000;
    *corrected = 1;
  }
  return rc;
}

static int read_new_units(units_ctx *u) {
  static const char *const names[] = {"commune_code",  "commune_name",    "commune_type",
                                      "province_code", "area_km2_bando",  "population_bando",
                                      "admin_center",  "pre_merger_units"};
  enum { CODE, NAME, TYPE, PROV, AREA, POP, CENTER, PRE, NCOL };
  int col[NCOL];
  db__demo_csv c;
  int rc = db__demo_csv_open(u->dm, F_NEW, &c);
  if (rc) return rc;
  if ((rc = columns(&c, names, col, NCOL))) goto done;
  char code[64], name[TEXT_MAX], type[64], prov[16], center[TEXT_MAX], pre[4 * TEXT_MAX], area_text[64];
  while ((rc = db__demo_csv_next(&c)) == 1) {
    db_orgunit ou;
    db_orgunit_init(&ou);
    int corrected;
    if (!db__demo_csv_text(&c, col[CODE], code, sizeof code) ||
        !db__demo_csv_text(&c, col[NAME], name, sizeof name) ||
        !db__demo_csv_text(&c, col[TYPE], type, sizeof type) ||
        !db__demo_csv_text(&c, col[PROV], prov, sizeof prov) ||
        !db__demo_csv_text(&c, col[CENTER], center, sizeof center) ||
        !db__demo_csv_text(&c, col[PRE], pre, sizeof pre) ||
        db__demo_csv_number(&c, col[POP], &ou.population) < 0 ||
        read_area(&c, col[AREA], &ou.area_km2, &corrected) < 0)
      continue;
    if (strcmp(prov, "79") != 0) {
      db__demo_problem(u->dm, F_NEW, c.line, col[PROV] + 1, DB_EINVAL, "unit %s is in province %s, not 79",
                       code, prov);
      continue;
    }
    if (db_ou_kind_parse(type, &ou.kind) != DB_OK ||
        (ou.kind != DB_OU_WARD && ou.kind != DB_OU_COMMUNE && ou.kind != DB_OU_SPECIAL_ZONE)) {
      db__demo_problem(u->dm, F_NEW, c.line, col[TYPE] + 1, DB_EINVAL, "'%s' is not Phường, Xã or Đặc khu",
                       type);
      continue;
    }
    snprintf(area_text, sizeof area_text, "%.*s", (int)c.f[col[AREA]].len, c.f[col[AREA]].p);
    const char *keys[] = {"admin_center", "area_km2_source", "pre_merger_units"};
    const char *vals[] = {center, corrected ? area_text : NULL, pre};
    const geo_feature *g = geo_find(&u->geo_new, code);
    ou.code = code;
    ou.name = name;
    ou.name_en = g ? g->name_en : NULL;
    ou.parent = "79";
    ou.valid_from = u->new_start;
    ou.geometry = g ? g->geometry : NULL;
    ou.attributes = attributes(keys, vals, 3);
    db_catalog_put_unit(&u->dm->cat, &ou);
    db_free(ou.attributes);
  }
done:
  db__demo_csv_close(&c);
  return rc < 0 ? rc : DB_OK;
}

/* The six HealthyAir stations (station numbers 1..6 of the air-quality file; their coordinates are not
 * published) and the Vũng Tàu weather station. */
void db__demo_add_sites(db__demo *dm) {
  char code[16], name[128], name_en[128], attrs[64];
  for (int i = 1; i <= 6; i++) {
    snprintf(code, sizeof code, "AQ%02d", i);
    snprintf(name, sizeof name, "Trạm quan trắc không khí số %d", i);
    snprintf(name_en, sizeof name_en, "Air-quality station %d", i);
    snprintf(attrs, sizeof attrs, "{\"network\":\"HealthyAir\",\"station_no\":%d}", i);
    db_orgunit ou;
    db_orgunit_init(&ou);
    ou.code = code;
    ou.name = name;
    ou.name_en = name_en;
    ou.kind = DB_OU_SITE;
    ou.parent = "79";
    ou.attributes = attrs;
    db_catalog_put_unit(&dm->cat, &ou);
  }
  db_orgunit met;
  db_orgunit_init(&met);
  met.code = "MET_VT";
  met.name = "Trạm khí tượng Vũng Tàu";
  met.name_en = "Vung Tau weather station";
  met.kind = DB_OU_SITE;
  met.parent = "79";
  met.attributes = "{\"network\":\"GSO statistical yearbook stations\",\"station\":\"Vung Tau\"}";
  db_catalog_put_unit(&dm->cat, &met);
}

void db__demo_add_country(db__demo *dm) {
  db_orgunit vn;
  db_orgunit_init(&vn);
  vn.code = "VN";
  vn.name = "Việt Nam";
  vn.name_en = "Viet Nam";
  vn.kind = DB_OU_COUNTRY;
  db_catalog_put_unit(&dm->cat, &vn);
}

/* ---- successions ---- */

static void add_succession(units_ctx *u, const char *from, const char *to, double weight, int partial) {
  db_succession s = {(char *)from, (char *)to, weight, partial, u->new_start};
  db_catalog_add_succession(&u->dm->cat, &s);
}

static int read_province_successions(units_ctx *u) {
  static const char *const names[] = {"new_province_code", "old_province_code"};
  int col[2];
  db__demo_csv c;
  int rc = db__demo_csv_open(u->dm, F_PROV_MAP, &c);
  if (rc) return rc;
  if ((rc = columns(&c, names, col, 2))) goto done;
  char to[16], from[16];
  while ((rc = db__demo_csv_next(&c)) == 1) {
    if (!db__demo_csv_text(&c, col[0], to, sizeof to) || !db__demo_csv_text(&c, col[1], from, sizeof from) ||
        strcmp(from, to) == 0)
      continue;
    if (!db_catalog_unit(&u->dm->cat, from) || !db_catalog_unit(&u->dm->cat, to)) {
      db__demo_problem(u->dm, F_PROV_MAP, c.line, 0, DB_EINVAL, "unknown province %s or %s", from, to);
      continue;
    }
    add_succession(u, from, to, 1, 0);
  }
done:
  db__demo_csv_close(&c);
  return rc < 0 ? rc : DB_OK;
}

typedef struct ward_link {
  char from[80], to[64];
  int partial;
} ward_link;

/* The old unit's code in the catalog: OLD_<code> for a ward, the plain code for a district. A district
 * that had no wards (Côn Đảo) is in no list: it is added from the boundaries file when the mapping
 * names it. 0 when the code is unknown. */
static int old_code(units_ctx *u, const char *gso, char *out, size_t cap) {
  snprintf(out, cap, "%s%s", DB__DEMO_LEGACY_PREFIX, gso);
  if (db_catalog_unit(&u->dm->cat, out)) return 1;
  snprintf(out, cap, "%s", gso);
  const db_orgunit *ou = db_catalog_unit(&u->dm->cat, out);
  if (ou) return ou->kind == DB_OU_LEGACY_DISTRICT;
  const geo_feature *g = geo_find(&u->geo_old, gso);
  if (!g || !g->name || !g->parent || !db_catalog_unit(&u->dm->cat, g->parent)) return 0;
  const char *keys[] = {"type"}, *vals[] = {g->type};
  put_legacy(u, g->code, g->name, DB_OU_LEGACY_DISTRICT, g->parent, g->geometry, attributes(keys, vals, 1));
  return 1;
}

static int read_ward_successions(units_ctx *u) {
  static const char *const names[] = {"new_province_code", "new_commune_code", "old_ward_code", "merge_type"};
  int col[4];
  db__demo_csv c;
  int rc = db__demo_csv_open(u->dm, F_WARD_MAP, &c);
  if (rc) return rc;
  ward_link *links = NULL;
  size_t n = 0, cap = 0;
  db_map parts = DB_MAP_INIT; /* old code -> number of new units it went partly into */
  if ((rc = columns(&c, names, col, 4))) goto done;
  char gso[64], type[32];
  while ((rc = db__demo_csv_next(&c)) == 1) {
    if (!db__demo_csv_is(&c, col[0], "79")) continue;
    if (n == cap) links = db_realloc(links, (cap = cap ? 2 * cap : 512) * sizeof *links);
    ward_link *l = &links[n];
    if (!db__demo_csv_text(&c, col[1], l->to, sizeof l->to) ||
        !db__demo_csv_text(&c, col[2], gso, sizeof gso) || !db__demo_csv_text(&c, col[3], type, sizeof type))
      continue;
    if (strcmp(type, "full") != 0 && strcmp(type, "partial") != 0) {
      db__demo_problem(u->dm, F_WARD_MAP, c.line, col[3] + 1, DB_EINVAL,
                       "merge_type '%s' is not full or partial", type);
      continue;
    }
    if (!old_code(u, gso, l->from, sizeof l->from) || !db_catalog_unit(&u->dm->cat, l->to)) {
      db__demo_problem(u->dm, F_WARD_MAP, c.line, 0, DB_EINVAL, "unknown old unit %s or new unit %s", gso,
                       l->to);
      continue;
    }
    l->partial = strcmp(type, "partial") == 0;
    if (l->partial) {
      int64_t k = 0;
      db_map_gets(&parts, l->from, &k);
      db_map_puts(&parts, l->from, k + 1);
    }
    n++;
  }
  /* full: weight 1; partial: the old unit's parts share it equally (no area share is published) */
  for (size_t i = 0; i < n; i++) {
    int64_t k = 1;
    if (links[i].partial) db_map_gets(&parts, links[i].from, &k);
    add_succession(u, links[i].from, links[i].to, 1.0 / (double)k, links[i].partial);
  }
done:
  db_map_free(&parts);
  db_free(links);
  db__demo_csv_close(&c);
  return rc < 0 ? rc : DB_OK;
}
