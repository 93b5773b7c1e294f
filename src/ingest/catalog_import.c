/* catalog_import.c - catalog files (CSV, JSON, GeoJSON) into a store, and back out.
 *
 * One table per kind lists its fields (name, alias, type, place in the object); the CSV reader, the
 * JSON reader and both writers are driven by that table, so a column the export writes is a column the
 * import reads. An import runs in phases: read every record (problems located by line and column or
 * JSON path), complete defaults that depend on other fields, options or the store, validate each
 * object, put the objects into the store's catalog and link it, and only then, when no problem was
 * found, write everything in one transaction. Problems found by the model (which name fields) are
 * mapped back to the record's line and column. */
#include "ingest/catalog_import.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "formula/derived.h"
#include "ingest/csv.h"
#include "model/catalog.h"

#define JSON_OUT_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))
#define JSON_TEXT_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define MERGER_YEAR 2025 /* the default date of a succession: the HCMC merger of 2025-07-01 */

/* ---- the field tables ---- */

typedef enum ftype {
  T_TEXT,        /* char *: a code or text */
  T_INT,         /* int */
  T_DOUBLE,      /* double, NAN when not given */
  T_BOOL,        /* int 0/1 */
  T_DATE,        /* int64_t days, DB_DATE_NONE when not given */
  T_OUKIND,      /* db_ou_kind */
  T_PERIODICITY, /* db_period_type */
  T_AGG,         /* db_agg */
  T_POLARITY,    /* db_polarity */
  T_JSON,        /* char *: a JSON object as text */
  T_GEOMETRY,    /* char *: a GeoJSON geometry object as text */
  T_ITEMS,       /* dimension items (JSON: an array of {code, name}) */
  T_ITEM,        /* CSV: the item code of a dimension row */
  T_ITEM_NAME,   /* CSV: the item name of a dimension row */
} ftype;

enum { IN_CSV = 1, IN_JSON = 2, IN_BOTH = 3 };

typedef struct field_def {
  const char *name;  /* column, member and validation path */
  const char *alias; /* a second accepted name, or NULL */
  ftype type;
  size_t offset; /* in the object */
  int required;  /* the CSV column must be present */
  int formats;   /* IN_CSV, IN_JSON or IN_BOTH */
} field_def;

#define F(obj, name, alias, type, req, fmt) \
  { #name, alias, type, offsetof(obj, name), req, fmt }

static const field_def orgunit_fields[] = {
    F(db_orgunit, code, NULL, T_TEXT, 1, IN_BOTH),
    F(db_orgunit, name, NULL, T_TEXT, 1, IN_BOTH),
    F(db_orgunit, name_en, NULL, T_TEXT, 0, IN_BOTH),
    F(db_orgunit, kind, "type", T_OUKIND, 0, IN_BOTH),
    F(db_orgunit, parent, NULL, T_TEXT, 0, IN_BOTH),
    F(db_orgunit, valid_from, NULL, T_DATE, 0, IN_BOTH),
    F(db_orgunit, valid_to, NULL, T_DATE, 0, IN_BOTH),
    F(db_orgunit, population, NULL, T_DOUBLE, 0, IN_BOTH),
    F(db_orgunit, area_km2, NULL, T_DOUBLE, 0, IN_BOTH),
    F(db_orgunit, attributes, NULL, T_JSON, 0, IN_BOTH),
    F(db_orgunit, geometry, NULL, T_GEOMETRY, 0, IN_JSON),
};

static const field_def succession_fields[] = {
    F(db_succession, from, NULL, T_TEXT, 1, IN_BOTH),     F(db_succession, to, NULL, T_TEXT, 1, IN_BOTH),
    F(db_succession, weight, NULL, T_DOUBLE, 0, IN_BOTH), F(db_succession, partial, NULL, T_BOOL, 0, IN_BOTH),
    F(db_succession, date, NULL, T_DATE, 0, IN_BOTH),
};

static const field_def agency_fields[] = {
    F(db_agency, code, NULL, T_TEXT, 1, IN_BOTH),    F(db_agency, name, NULL, T_TEXT, 1, IN_BOTH),
    F(db_agency, name_en, NULL, T_TEXT, 0, IN_BOTH), F(db_agency, kind, NULL, T_TEXT, 0, IN_BOTH),
    F(db_agency, orgunit, NULL, T_TEXT, 0, IN_BOTH), F(db_agency, parent, NULL, T_TEXT, 0, IN_BOTH),
};

static const field_def indicator_fields[] = {
    F(db_indicator, code, NULL, T_TEXT, 1, IN_BOTH),
    F(db_indicator, name, NULL, T_TEXT, 1, IN_BOTH),
    F(db_indicator, name_en, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, description, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, unit, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, unit_mult, NULL, T_INT, 0, IN_BOTH),
    F(db_indicator, decimals, NULL, T_INT, 0, IN_BOTH),
    F(db_indicator, periodicity, NULL, T_PERIODICITY, 1, IN_BOTH),
    F(db_indicator, period_span, NULL, T_INT, 0, IN_BOTH),
    F(db_indicator, agg_space, "aggregation", T_AGG, 0, IN_BOTH),
    F(db_indicator, weight, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, agg_time, NULL, T_AGG, 0, IN_BOTH),
    F(db_indicator, polarity, NULL, T_POLARITY, 0, IN_BOTH),
    F(db_indicator, valid_min, NULL, T_DOUBLE, 0, IN_BOTH),
    F(db_indicator, valid_max, NULL, T_DOUBLE, 0, IN_BOTH),
    F(db_indicator, owner, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, sector, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, groups, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, is_public, NULL, T_BOOL, 0, IN_BOTH),
    F(db_indicator, legal_ref, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, formula, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, dimensions, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, source, NULL, T_TEXT, 0, IN_BOTH),
    F(db_indicator, synthetic, NULL, T_BOOL, 0, IN_BOTH),
    F(db_indicator, band_at_risk, NULL, T_DOUBLE, 0, IN_BOTH),
    F(db_indicator, band_off_track, NULL, T_DOUBLE, 0, IN_BOTH),
};

static const field_def dimension_fields[] = {
    F(db_dimension, code, NULL, T_TEXT, 1, IN_BOTH),
    F(db_dimension, name, NULL, T_TEXT, 1, IN_BOTH),
    {"item", NULL, T_ITEM, 0, 0, IN_CSV},
    {"item_name", NULL, T_ITEM_NAME, 0, 0, IN_CSV},
    F(db_dimension, items, NULL, T_ITEMS, 0, IN_JSON),
};

static const field_def target_fields[] = {
    F(db_target, indicator, NULL, T_TEXT, 1, IN_BOTH), F(db_target, orgunit, NULL, T_TEXT, 1, IN_BOTH),
    F(db_target, period, NULL, T_TEXT, 1, IN_BOTH),    F(db_target, kind, NULL, T_TEXT, 0, IN_BOTH),
    F(db_target, value, NULL, T_DOUBLE, 1, IN_BOTH),   F(db_target, source, NULL, T_TEXT, 0, IN_BOTH),
};
#undef F

/* One object of any kind. */
typedef union any_object {
  db_orgunit ou;
  db_succession su;
  db_agency ag;
  db_indicator ind;
  db_dimension dim;
  db_target tg;
} any_object;

/* One object read from the file, with where it came from. */
typedef struct record {
  any_object obj;
  long line;              /* CSV: the line of the row (of its first item for a dimension); JSON: 0 */
  size_t index;           /* JSON: the index in the array */
  uint64_t given;         /* bit i: field i was given (not blank, not null) */
  uint64_t bad;           /* bit i: field i could not be read (already reported) */
  long *item_lines;       /* CSV dimensions: the line of each item */
  char *item, *item_name; /* CSV dimensions: this row's item, until it is merged */
} record;

typedef struct import_ctx import_ctx;

/* A kind: its fields and what differs between kinds. Hooks take the kind's object (db_orgunit *…). */
typedef struct kind_def {
  const char *name; /* "orgunits" */
  const char *noun; /* "org unit" */
  const field_def *fields;
  size_t n_fields;
  const char *what;      /* how a duplicate is named: "code", "succession", "target" */
  const char *key_field; /* the field a duplicate problem points at */
  void (*init)(void *o);
  void (*free)(void *o);
  int (*validate)(const void *o, db_diag *d);
  void (*key)(const void *o, db_buf *out);
  void (*complete)(import_ctx *x, record *r); /* defaults that depend on more than the field; or NULL */
  void (*put)(db_catalog *c, const void *o);  /* into the catalog to link; NULL for targets */
  int (*write)(db_store *s, void *o);
  const char *(*self_ref)(const void *o); /* the object of the same kind to write first; or NULL */
  const void *(*list)(const db_catalog *c, size_t *n); /* export: the objects of the catalog */
  size_t size;                                         /* export: the size of one object */
} kind_def;

struct import_ctx {
  const kind_def *k;
  db_catalog_import_opts opts;
  db_diag *d;
  const char *path;   /* the file's path, or the name of a document in memory */
  const char *data;   /* the document in memory; NULL when reading the file at path */
  size_t len;
  db_buf json_prefix; /* JSON: "$" or "$.<kind>" */
  int json;
  int column[64];              /* CSV: 1-based column of each field, 0 when absent */
  const char *column_name[64]; /* CSV: the field's name as the header writes it */
  size_t n_columns;
  int *field_of_column; /* CSV: field index of each column */
  record *recs;
  size_t n, cap;
  db_map keys;       /* record key -> record index */
  db_catalog cat;    /* the store's catalog, then with the file's objects */
  int *stored_level; /* orgunits: the stored level of each unit of the store's catalog */
  size_t n_stored;
  void **writes; /* the objects to write, in order (records, or units of cat) */
  size_t n_writes;
};

/* ---- per-kind hooks ---- */

static void init_orgunit(void *o) { db_orgunit_init(o); }
static void init_succession(void *o) {
  db_succession *su = o;
  memset(su, 0, sizeof *su);
  su->weight = 1;
  su->date = db_days_from_civil(MERGER_YEAR, 7, 1);
}
static void init_agency(void *o) { memset(o, 0, sizeof(db_agency)); }
static void init_indicator(void *o) { db_indicator_init(o); }
static void init_dimension(void *o) { memset(o, 0, sizeof(db_dimension)); }
static void init_target(void *o) {
  db_target *t = o;
  memset(t, 0, sizeof *t);
  t->kind = db_strdup("plan");
  t->value = NAN;
}

static void free_orgunit(void *o) { db_orgunit_free(o); }
static void free_succession(void *o) { db_succession_free(o); }
static void free_agency(void *o) { db_agency_free(o); }
static void free_indicator(void *o) { db_indicator_free(o); }
static void free_dimension(void *o) { db_dimension_free(o); }
static void free_target(void *o) { db_target_free(o); }

static int validate_orgunit(const void *o, db_diag *d) { return db_orgunit_validate(o, 0, d); }
static int validate_succession(const void *o, db_diag *d) { return db_succession_validate(o, 0, d); }
static int validate_agency(const void *o, db_diag *d) { return db_agency_validate(o, 0, d); }
static int validate_indicator(const void *o, db_diag *d) { return db_indicator_validate(o, 0, d); }
static int validate_dimension(const void *o, db_diag *d) { return db_dimension_validate(o, 0, d); }
static int validate_target(const void *o, db_diag *d) { return db_target_validate(o, 0, d); }

static const char *str(const char *s) { return s ? s : ""; }
static void key_orgunit(const void *o, db_buf *b) { db_buf_puts(b, str(((const db_orgunit *)o)->code)); }
static void key_agency(const void *o, db_buf *b) { db_buf_puts(b, str(((const db_agency *)o)->code)); }
static void key_indicator(const void *o, db_buf *b) { db_buf_puts(b, str(((const db_indicator *)o)->code)); }
static void key_dimension(const void *o, db_buf *b) { db_buf_puts(b, str(((const db_dimension *)o)->code)); }
/* The same key as db_catalog_link's paths: "from>to". */
static void key_succession(const void *o, db_buf *b) {
  const db_succession *su = o;
  db_buf_printf(b, "%s>%s", str(su->from), str(su->to));
}
static void key_target(const void *o, db_buf *b) {
  const db_target *t = o;
  db_buf_printf(b, "%s, %s, %s, %s", str(t->indicator), str(t->orgunit), str(t->period), str(t->kind));
}

static void put_orgunit(db_catalog *c, const void *o) { db_catalog_put_unit(c, o); }
static void put_succession(db_catalog *c, const void *o) { db_catalog_add_succession(c, o); }
static void put_agency(db_catalog *c, const void *o) { db_catalog_put_agency(c, o); }
static void put_indicator(db_catalog *c, const void *o) { db_catalog_put_indicator(c, o); }
static void put_dimension(db_catalog *c, const void *o) { db_catalog_put_dimension(c, o); }

static int write_orgunit(db_store *s, void *o) { return db_store_put_orgunit(s, o); }
static int write_succession(db_store *s, void *o) { return db_store_put_succession(s, o); }
static int write_agency(db_store *s, void *o) { return db_store_put_agency(s, o); }
static int write_indicator(db_store *s, void *o) { return db_store_put_indicator(s, o); }
static int write_dimension(db_store *s, void *o) { return db_store_put_dimension(s, o); }
static int write_target(db_store *s, void *o) { return db_store_put_target(s, o); }

static const char *parent_of_agency(const void *o) { return ((const db_agency *)o)->parent; }
static const char *weight_of_indicator(const void *o) { return ((const db_indicator *)o)->weight; }

static const void *list_units(const db_catalog *c, size_t *n) { return *n = c->n_units, c->units; }
static const void *list_successions(const db_catalog *c, size_t *n) {
  return *n = c->n_successions, c->successions;
}
static const void *list_agencies(const db_catalog *c, size_t *n) { return *n = c->n_agencies, c->agencies; }
static const void *list_indicators(const db_catalog *c, size_t *n) {
  return *n = c->n_indicators, c->indicators;
}
static const void *list_dimensions(const db_catalog *c, size_t *n) {
  return *n = c->n_dimensions, c->dimensions;
}

static void complete_orgunit(import_ctx *x, record *r);
static void complete_succession(import_ctx *x, record *r);
static void complete_indicator(import_ctx *x, record *r);

/* Units have no self_ref: they are written from the linked catalog, level by level (plan_writes). */
#define FIELDS(t) t, sizeof t / sizeof t[0]
static const kind_def kinds[] = {
    {"orgunits", "org unit", FIELDS(orgunit_fields), "code", "code", init_orgunit, free_orgunit,
     validate_orgunit, key_orgunit, complete_orgunit, put_orgunit, write_orgunit, NULL, list_units,
     sizeof(db_orgunit)},
    {"successions", "succession", FIELDS(succession_fields), "succession", "to", init_succession,
     free_succession, validate_succession, key_succession, complete_succession, put_succession,
     write_succession, NULL, list_successions, sizeof(db_succession)},
    {"agencies", "agency", FIELDS(agency_fields), "code", "code", init_agency, free_agency, validate_agency,
     key_agency, NULL, put_agency, write_agency, parent_of_agency, list_agencies, sizeof(db_agency)},
    {"indicators", "indicator", FIELDS(indicator_fields), "code", "code", init_indicator, free_indicator,
     validate_indicator, key_indicator, complete_indicator, put_indicator, write_indicator,
     weight_of_indicator, list_indicators, sizeof(db_indicator)},
    {"dimensions", "dimension", FIELDS(dimension_fields), "code", "code", init_dimension, free_dimension,
     validate_dimension, key_dimension, NULL, put_dimension, write_dimension, NULL, list_dimensions,
     sizeof(db_dimension)},
    {"targets", "target", FIELDS(target_fields), "target", "period", init_target, free_target,
     validate_target, key_target, NULL, NULL, write_target, NULL, NULL, sizeof(db_target)},
};
#undef FIELDS

static const kind_def *find_kind(const char *name) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (name && strcmp(kinds[i].name, name) == 0) return &kinds[i];
  return NULL;
}

/* Index of the field called `name` (or by its alias) that the format reads; -1 when none. */
static int find_field(const kind_def *k, const char *name, int format) {
  for (size_t i = 0; i < k->n_fields; i++) {
    const field_def *f = &k->fields[i];
    if ((f->formats & format) && (strcmp(f->name, name) == 0 || (f->alias && strcmp(f->alias, name) == 0)))
      return (int)i;
  }
  return -1;
}

/* Appends the names a format accepts: "code, name, kind (or type), …". */
static void list_fields(const kind_def *k, int format, db_buf *b) {
  const char *sep = "";
  for (size_t i = 0; i < k->n_fields; i++) {
    const field_def *f = &k->fields[i];
    if (!(f->formats & format)) continue;
    db_buf_printf(b, "%s%s", sep, f->name);
    if (f->alias) db_buf_printf(b, " (or %s)", f->alias);
    sep = ", ";
  }
}

static void *field_ptr(void *obj, const field_def *f) { return (char *)obj + f->offset; }
static const void *field_cptr(const void *obj, const field_def *f) { return (const char *)obj + f->offset; }

/* 1 for dimensions, whose CSV rows are items. */
static int has_items(const kind_def *k) { return find_field(k, "item", IN_CSV) >= 0; }

static uint64_t bit(const import_ctx *x, const char *field) {
  int i = find_field(x->k, field, IN_BOTH);
  return i < 0 ? 0 : (uint64_t)1 << i;
}

/* ---- problems ---- */

/* "$[3]" or "$.orgunits[3]", then "." and fpath when given. */
static void json_path(const import_ctx *x, size_t index, const char *fpath, db_buf *out) {
  db_buf_printf(out, "%s[%zu]", db_buf_str(&x->json_prefix), index);
  if (fpath && *fpath) db_buf_printf(out, ".%s", fpath);
}

/* Adds a problem about the field path fpath ("periodicity", "items[2].code") of record r: with the
 * record's line, the field's column and the column's name (CSV) or a JSON path. A problem about a
 * field that could not be read is dropped (it was reported when it was read). */
static void report(import_ctx *x, const record *r, const char *fpath, const char *msg) {
  size_t n = strcspn(fpath, "[.");
  char name[64];
  snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), fpath);
  int fi = find_field(x->k, name, IN_BOTH);
  if (fi >= 0 && (r->bad >> fi & 1)) return;
  db_buf path = DB_BUF_INIT;
  long line = r->line;
  if (x->json) {
    json_path(x, r->index, fpath, &path);
    line = 0;
  } else {
    size_t item;
    int at = -1;
    if (r->item_lines && sscanf(fpath, "items[%zu].%n", &item, &at) == 1 && at > 0 &&
        item < r->obj.dim.n_items) {
      /* an item of a CSV dimension: its own row */
      line = r->item_lines[item];
      fi = find_field(x->k, strcmp(fpath + at, "code") == 0 ? "item" : "item_name", IN_CSV);
    }
    db_buf_puts(&path, fi >= 0 && x->column[fi] ? x->column_name[fi] : fpath);
  }
  db_diag_add(x->d, line, fi >= 0 && !x->json ? x->column[fi] : 0, db_buf_str(&path), DB_EINVAL, "%s", msg);
  db_buf_free(&path);
}

/* Reports a problem about a field that could not be read, and marks it so. */
static void report_bad(import_ctx *x, record *r, size_t fi, const char *msg) {
  report(x, r, x->k->fields[fi].name, msg);
  r->bad |= (uint64_t)1 << fi;
}

/* "line 3" or "$[2]": where a record is, for messages that point at another record. */
static void where(const import_ctx *x, const record *r, db_buf *out) {
  if (x->json)
    json_path(x, r->index, NULL, out);
  else
    db_buf_printf(out, "line %ld", r->line);
}

/* ---- reading one field ---- */

static void set_string(char **dst, char *s) {
  db_free(*dst);
  *dst = s;
}

/* v as compact JSON text, allocated with db_malloc (jansson's own strings are freed with free()). */
static char *dump_json(const json_t *v) {
  char *text = json_dumps(v, JSON_TEXT_FLAGS);
  char *copy = db_strdup(text);
  free(text);
  return copy;
}

/* Stores an integer in an int field (T_INT, T_BOOL), checking its range. */
static int store_int(const field_def *f, void *p, int64_t v, db_buf *why) {
  if (f->type == T_BOOL && v != 0 && v != 1) {
    db_buf_printf(why, "%s must be 0 or 1, not %lld", f->name, (long long)v);
    return DB_EINVAL;
  }
  if (v < INT32_MIN || v > INT32_MAX) {
    db_buf_printf(why, "%s %lld is out of range", f->name, (long long)v);
    return DB_EINVAL;
  }
  *(int *)p = (int)v;
  return DB_OK;
}

/* A JSON object given as text (or NULL): stored as compact text; why says what is wrong. */
static int store_json_object(const field_def *f, void *p, json_t *v, db_buf *why);

/* Sets field f of obj from the text s. Returns 0, or DB_EINVAL with the reason in why. */
static int set_text(const import_ctx *x, record *r, const field_def *f, const char *s, db_buf *why) {
  void *p = field_ptr(&r->obj, f);
  size_t n = strlen(s);
  switch (f->type) {
    case T_TEXT:
      set_string(p, db_strdup(s));
      return DB_OK;
    case T_ITEM:
      set_string(&r->item, db_strdup(s));
      return DB_OK;
    case T_ITEM_NAME:
      set_string(&r->item_name, db_strdup(s));
      return DB_OK;
    case T_INT:
    case T_BOOL: {
      int64_t v;
      if (f->type == T_BOOL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
        return store_int(f, p, s[0] == 't', why);
      if (db_parse_int64(s, n, &v) == DB_OK) return store_int(f, p, v, why);
      db_buf_printf(why, f->type == T_BOOL ? "'%s' is not 0, 1, true or false" : "'%s' is not an integer", s);
      return DB_EINVAL;
    }
    case T_DOUBLE:
      if (db_parse_double(s, n, p) == DB_OK) return DB_OK;
      db_buf_printf(why, "'%s' is not a number", s);
      return DB_EINVAL;
    case T_DATE:
      if (db_parse_date(s, n, p) == DB_OK) return DB_OK;
      db_buf_printf(why, "'%s' is not a date (YYYY-MM-DD)", s);
      return DB_EINVAL;
    case T_OUKIND:
      if ((x->opts.legacy ? db_ou_kind_parse_legacy : db_ou_kind_parse)(s, p) == DB_OK) return DB_OK;
      db_buf_printf(
          why,
          "'%s' is not an org unit kind (country, city, ward, commune, special_zone, legacy_district, "
          "legacy_ward, site, or a Vietnamese unit type such as Phường, Xã, Đặc khu, Quận)",
          s);
      return DB_EINVAL;
    case T_PERIODICITY:
      if (db_period_type_parse(s, p) == DB_OK) return DB_OK;
      db_buf_printf(why,
                    "'%s' is not a periodicity (5min, 15min, hour, day, week, month, quarter, half, year, "
                    "multiyear)",
                    s);
      return DB_EINVAL;
    case T_AGG:
      if (db_agg_parse(s, p) == DB_OK) return DB_OK;
      db_buf_printf(why, "'%s' is not an aggregation (none, sum, avg, wavg, min, max, last)", s);
      return DB_EINVAL;
    case T_POLARITY:
      if (db_polarity_parse(s, p) == DB_OK) return DB_OK;
      db_buf_printf(why, "'%s' is not a polarity (higher, lower, neutral)", s);
      return DB_EINVAL;
    case T_JSON:
    case T_GEOMETRY: {
      json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
      int rc = store_json_object(f, p, v, why);
      json_decref(v);
      return rc;
    }
    case T_ITEMS:
      break;
  }
  db_buf_printf(why, "%s cannot be given as text", f->name);
  return DB_EINVAL;
}

/* 1 when g is a GeoJSON geometry object: a known type with coordinates (or geometries). */
static int is_geometry(json_t *g) {
  static const char *const types[] = {"Point",   "MultiPoint",   "LineString",        "MultiLineString",
                                      "Polygon", "MultiPolygon", "GeometryCollection"};
  const char *type = json_string_value(json_object_get(g, "type"));
  for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(type, types[i]) == 0)
      return json_is_array(json_object_get(g, i == 6 ? "geometries" : "coordinates"));
  return 0;
}

static int store_json_object(const field_def *f, void *p, json_t *v, db_buf *why) {
  if (f->type == T_GEOMETRY && !is_geometry(v)) {
    db_buf_puts(why,
                "expected a GeoJSON geometry object (type Point, Polygon, MultiPolygon… with coordinates)");
    return DB_EINVAL;
  }
  if (!json_is_object(v)) {
    db_buf_puts(why, "expected a JSON object");
    return DB_EINVAL;
  }
  set_string(p, dump_json(v));
  return DB_OK;
}

/* JSON: the items of a dimension, an array of {"code": …, "name": …}. Problems are reported at
 * items[i] paths; returns 0 or DB_EINVAL. */
static int set_items(import_ctx *x, record *r, json_t *v) {
  db_dimension *dim = &r->obj.dim;
  if (!json_is_array(v)) {
    report(x, r, "items", "expected an array of {\"code\": …, \"name\": …} objects");
    return DB_EINVAL;
  }
  int rc = DB_OK;
  size_t n = json_array_size(v);
  dim->items = db_calloc(n ? n : 1, sizeof *dim->items);
  dim->n_items = n;
  db_buf path = DB_BUF_INIT, msg = DB_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    json_t *it = json_array_get(v, i);
    const char *key;
    json_t *m;
    db_buf_clear(&path);
    db_buf_printf(&path, "items[%zu]", i);
    if (!json_is_object(it)) {
      report(x, r, db_buf_str(&path), "expected an object {\"code\": …, \"name\": …}");
      rc = DB_EINVAL;
      continue;
    }
    json_object_foreach(it, key, m) {
      db_buf_clear(&path);
      db_buf_printf(&path, "items[%zu].%s", i, key);
      char **dst = strcmp(key, "code") == 0   ? &dim->items[i].code
                   : strcmp(key, "name") == 0 ? &dim->items[i].name
                                              : NULL;
      db_buf_clear(&msg);
      if (!dst)
        db_buf_printf(&msg, "unknown member '%s'; an item has code and name", key);
      else if (!json_is_string(m) && !json_is_null(m))
        db_buf_puts(&msg, "expected a string");
      else
        set_string(dst, db_strdup(json_string_value(m)));
      if (msg.len) {
        report(x, r, db_buf_str(&path), db_buf_str(&msg));
        rc = DB_EINVAL;
      }
    }
  }
  db_buf_free(&msg);
  db_buf_free(&path);
  return rc;
}

/* JSON: sets field fi of r from the member value v (null = not given). */
static void set_json(import_ctx *x, record *r, size_t fi, json_t *v) {
  const field_def *f = &x->k->fields[fi];
  void *p = field_ptr(&r->obj, f);
  db_buf why = DB_BUF_INIT;
  int rc = DB_OK;
  if (json_is_null(v)) return;
  r->given |= (uint64_t)1 << fi;
  switch (f->type) {
    case T_INT:
    case T_BOOL:
      if (json_is_integer(v))
        rc = store_int(f, p, json_integer_value(v), &why);
      else if (f->type == T_BOOL && json_is_boolean(v))
        rc = store_int(f, p, json_is_true(v), &why);
      else
        db_buf_puts(&why, f->type == T_BOOL ? "expected true or false" : "expected an integer"),
            rc = DB_EINVAL;
      break;
    case T_DOUBLE:
      if (json_is_number(v))
        *(double *)p = json_number_value(v);
      else
        db_buf_puts(&why, "expected a number"), rc = DB_EINVAL;
      break;
    case T_JSON:
    case T_GEOMETRY:
      rc = store_json_object(f, p, v, &why);
      break;
    case T_ITEMS:
      if (set_items(x, r, v) != DB_OK) r->bad |= (uint64_t)1 << fi;
      break;
    default:
      if (json_is_string(v))
        rc = set_text(x, r, f, json_string_value(v), &why);
      else
        db_buf_puts(&why, "expected a string"), rc = DB_EINVAL;
  }
  if (rc != DB_OK) report_bad(x, r, fi, db_buf_str(&why));
  db_buf_free(&why);
}

/* ---- records ---- */

static record *new_record(import_ctx *x) {
  if (x->n == x->cap) {
    x->cap = x->cap ? x->cap * 2 : 64;
    x->recs = db_realloc(x->recs, x->cap * sizeof *x->recs);
  }
  record *r = &x->recs[x->n++];
  memset(r, 0, sizeof *r);
  x->k->init(&r->obj);
  return r;
}

static void free_record(const import_ctx *x, record *r) {
  x->k->free(&r->obj);
  db_free(r->item_lines);
  db_free(r->item);
  db_free(r->item_name);
}

static void record_key(const import_ctx *x, const record *r, db_buf *out) {
  db_buf_clear(out);
  x->k->key(&r->obj, out);
}

/* Appends an item (code, name; the name defaults to the code) read on `line` to a dimension record. */
static void add_item(record *r, const char *code, const char *name, long line) {
  db_dimension *dim = &r->obj.dim;
  dim->items = db_realloc(dim->items, (dim->n_items + 1) * sizeof *dim->items);
  r->item_lines = db_realloc(r->item_lines, (dim->n_items + 1) * sizeof *r->item_lines);
  dim->items[dim->n_items] = (db_dim_item){db_strdup(code), db_strdup(name ? name : code)};
  r->item_lines[dim->n_items++] = line;
}

/* CSV dimensions: the last record is one row (code, name, item, item_name). A row of a code already
 * seen adds its item to that dimension (its name, when given, must be the same) and is dropped. */
static void merge_dimension_row(import_ctx *x) {
  record *r = &x->recs[x->n - 1];
  int64_t first;
  if (r->item_name && !r->item) report(x, r, "item_name", "item_name needs an item");
  if (!r->obj.dim.code || !db_map_gets(&x->keys, r->obj.dim.code, &first)) {
    if (r->obj.dim.code) db_map_puts(&x->keys, r->obj.dim.code, (int64_t)(x->n - 1));
    if (r->item) add_item(r, r->item, r->item_name, r->line);
    return;
  }
  record *dim = &x->recs[first];
  if (r->obj.dim.name && dim->obj.dim.name && strcmp(r->obj.dim.name, dim->obj.dim.name) != 0) {
    db_buf msg = DB_BUF_INIT;
    db_buf_printf(&msg, "name '%s' differs from '%s' on line %ld", r->obj.dim.name, dim->obj.dim.name,
                  dim->line);
    report(x, r, "name", db_buf_str(&msg));
    db_buf_free(&msg);
  }
  if (r->item) add_item(dim, r->item, r->item_name, r->line);
  free_record(x, r);
  x->n--;
}

/* ---- CSV ---- */

/* Maps the header's columns to fields. Every problem is reported; returns 0 or DB_EINVAL. */
static int read_header(import_ctx *x, const db_csv_field *cols, size_t n, long line) {
  size_t before = db_diag_total(x->d);
  x->n_columns = n;
  x->field_of_column = db_malloc((n ? n : 1) * sizeof *x->field_of_column);
  db_buf msg = DB_BUF_INIT;
  for (size_t c = 0; c < n; c++) {
    char *name = db_strndup(cols[c].p, cols[c].len);
    int fi = find_field(x->k, name, IN_CSV);
    x->field_of_column[c] = fi;
    db_buf_clear(&msg);
    if (fi < 0) {
      db_buf_printf(&msg, "unknown column '%s'; the columns of %s are ", name, x->k->name);
      list_fields(x->k, IN_CSV, &msg);
    } else if (x->column[fi]) {
      db_buf_printf(&msg, "column '%s' repeats column %d ('%s')", name, x->column[fi], x->column_name[fi]);
    } else {
      x->column[fi] = (int)c + 1;
      const field_def *f = &x->k->fields[fi];
      x->column_name[fi] = strcmp(name, f->name) == 0 ? f->name : f->alias;
    }
    if (msg.len) db_diag_add(x->d, line, (int)c + 1, name, DB_EINVAL, "%s", db_buf_str(&msg));
    db_free(name);
  }
  for (size_t i = 0; i < x->k->n_fields; i++) {
    const field_def *f = &x->k->fields[i];
    int required = f->required && !(f->type == T_PERIODICITY && x->opts.periodicity);
    if (required && !x->column[i])
      db_diag_add(x->d, line, 0, f->name, DB_EINVAL, "missing required column '%s'", f->name);
  }
  db_buf_free(&msg);
  return db_diag_total(x->d) > before ? DB_EINVAL : DB_OK;
}

/* Reads one data row into a new record. */
static void read_row(import_ctx *x, const db_csv_field *cols, long line) {
  record *r = new_record(x);
  r->line = line;
  db_buf why = DB_BUF_INIT;
  for (size_t c = 0; c < x->n_columns; c++) {
    int fi = x->field_of_column[c];
    if (cols[c].len == 0) continue;
    char *text = db_strndup(cols[c].p, cols[c].len);
    r->given |= (uint64_t)1 << fi;
    db_buf_clear(&why);
    if (set_text(x, r, &x->k->fields[fi], text, &why) != DB_OK)
      report_bad(x, r, (size_t)fi, db_buf_str(&why));
    db_free(text);
  }
  db_buf_free(&why);
  if (has_items(x->k)) merge_dimension_row(x);
}

/* Reads a whole CSV file into records. Returns 0, DB_EINVAL (header problems: rows are not read) or
 * DB_EIO. Row problems are reported and reading goes on. */
static int read_csv(import_ctx *x) {
  db_csv *csv;
  db_csv_field *cols;
  size_t n;
  long line;
  int rc = x->data ? db_csv_open_mem(x->data, x->len, NULL, x->d, &csv)
                   : db_csv_open_file(x->path, NULL, x->d, &csv);
  if (rc != DB_OK) return rc;
  rc = db_csv_next(csv, &cols, &n, &line);
  if (rc == 0) {
    db_diag_add(x->d, 1, 0, NULL, DB_EINVAL,
                "the file is empty: a header row naming the columns is expected");
    rc = DB_EINVAL;
  }
  if (rc < 0 || (rc = read_header(x, cols, n, line)) != DB_OK) goto done;
  while ((rc = db_csv_next(csv, &cols, &n, &line)) != 0) {
    if (rc == DB_EIO) goto done;
    if (rc < 0) continue; /* reported by the reader */
    if (n != x->n_columns)
      db_diag_add(x->d, line, 0, NULL, DB_EINVAL, "the row has %zu fields; the header has %zu", n,
                  x->n_columns);
    else
      read_row(x, cols, line);
  }
done:
  db_csv_close(csv);
  return rc;
}

/* ---- JSON ---- */

/* Loads the JSON document (the file, or the one in memory); NULL with the problem reported and *rc set
 * (DB_EIO or DB_EINVAL) on failure. */
static json_t *load_json(import_ctx *x, int *rc) {
  json_error_t err;
  json_t *root;
  if (x->data) {
    root = json_loadb(x->data, x->len, JSON_REJECT_DUPLICATES, &err);
  } else {
    FILE *f = fopen(x->path, "rb");
    if (!f) {
      db_diag_add(x->d, 0, 0, NULL, DB_EIO, "cannot open %s: %s", x->path, strerror(errno));
      *rc = DB_EIO;
      return NULL;
    }
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    fclose(f);
  }
  if (!root) {
    db_diag_add(x->d, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0, NULL, DB_EINVAL,
                "not valid JSON: %s", err.text);
    *rc = DB_EINVAL;
  }
  return root;
}

/* Reads a JSON catalog file (an array of objects, or {"<kind>": [...]}) into records. */
static int read_json(import_ctx *x) {
  int rc = DB_OK;
  json_t *root = load_json(x, &rc);
  if (!root) return rc;
  json_t *arr = root;
  if (json_is_object(root) && json_object_size(root) == 1) arr = json_object_get(root, x->k->name);
  if (!json_is_array(arr)) {
    db_diag_add(x->d, 0, 0, "$", DB_EINVAL, "expected an array of objects or {\"%s\": [...]}", x->k->name);
    json_decref(root);
    return DB_EINVAL;
  }
  db_buf msg = DB_BUF_INIT;
  db_buf_puts(&x->json_prefix, "$");
  if (arr != root) db_buf_printf(&x->json_prefix, ".%s", x->k->name);
  size_t i;
  json_t *el;
  json_array_foreach(arr, i, el) {
    if (!json_is_object(el)) {
      db_buf_clear(&msg);
      json_path(x, i, NULL, &msg);
      db_diag_add(x->d, 0, 0, db_buf_str(&msg), DB_EINVAL, "expected an object");
      continue;
    }
    record *r = new_record(x);
    r->index = i;
    const char *key;
    json_t *v;
    json_object_foreach(el, key, v) {
      int fi = find_field(x->k, key, IN_JSON);
      if (fi >= 0) {
        set_json(x, r, (size_t)fi, v);
        continue;
      }
      db_buf_clear(&msg);
      db_buf_printf(&msg, "unknown member '%s'; the members of %s are ", key, x->k->name);
      list_fields(x->k, IN_JSON, &msg);
      report(x, r, key, db_buf_str(&msg));
    }
  }
  db_buf_free(&msg);
  json_decref(root);
  return DB_OK;
}

/* ---- completing, checking ---- */

/* 1 when the record's key field was given and read: only such records are registered by key and put
 * into the catalog (a record without code is reported by validation, and that is enough). */
static int keyed(const import_ctx *x, const record *r) {
  uint64_t b = bit(x, x->k->key_field);
  return (r->given & b) && !(r->bad & b);
}

/* Registers the records by key, reporting those whose key an earlier record has (CSV dimensions were
 * merged by code already). */
static void check_duplicates(import_ctx *x) {
  db_buf key = DB_BUF_INIT, msg = DB_BUF_INIT;
  for (size_t i = 0; i < x->n; i++) {
    int64_t first;
    if (!keyed(x, &x->recs[i])) continue;
    record_key(x, &x->recs[i], &key);
    if (!db_map_get(&x->keys, key.data, key.len, &first)) {
      db_map_put(&x->keys, key.data, key.len, (int64_t)i);
    } else if ((size_t)first != i) {
      db_buf_clear(&msg);
      db_buf_printf(&msg, "duplicate %s '%s' (first at ", x->k->what, db_buf_str(&key));
      where(x, &x->recs[first], &msg);
      db_buf_putc(&msg, ')');
      report(x, &x->recs[i], x->k->key_field, db_buf_str(&msg));
    }
  }
  db_buf_free(&msg);
  db_buf_free(&key);
}

/* The record of the file with key `code`, or NULL. */
static record *file_record(const import_ctx *x, const char *code) {
  int64_t i;
  return code && db_map_gets(&x->keys, code, &i) ? &x->recs[i] : NULL;
}

/* Without a kind, a unit without parent is a city and a child of a city is a ward. The parent's kind is
 * the file's (given, or city for a root of the file) or the store's. An unknown parent, or one whose
 * kind could not be read, gives ward: that problem is reported anyway, and one is enough. */
static void infer_kind(import_ctx *x, record *r) {
  db_orgunit *ou = &r->obj.ou;
  db_ou_kind parent_kind = 0;
  if (!ou->parent) {
    ou->kind = DB_OU_CITY;
    return;
  }
  const record *p = file_record(x, ou->parent);
  const db_orgunit *stored = db_catalog_unit(&x->cat, ou->parent);
  if (p && (p->bad & bit(x, "kind")))
    parent_kind = DB_OU_CITY;
  else if (p)
    parent_kind = (p->given & bit(x, "kind")) ? p->obj.ou.kind : p->obj.ou.parent ? 0 : DB_OU_CITY;
  else if (stored)
    parent_kind = stored->kind;
  else
    parent_kind = DB_OU_CITY;
  if (parent_kind == DB_OU_CITY) {
    ou->kind = DB_OU_WARD;
    return;
  }
  db_buf msg = DB_BUF_INIT;
  db_buf_printf(&msg,
                "kind is required: without one, only a unit without parent (a city) and the children of a "
                "city (wards) are inferred, and parent '%s' is not a city",
                ou->parent);
  report_bad(x, r, (size_t)find_field(x->k, "kind", IN_BOTH), db_buf_str(&msg));
  db_buf_free(&msg);
}

static void complete_orgunit(import_ctx *x, record *r) {
  db_orgunit *ou = &r->obj.ou;
  if (!(r->given & bit(x, "kind")) && !(r->bad & bit(x, "kind"))) infer_kind(x, r);
  const db_orgunit *stored = db_catalog_unit(&x->cat, ou->code);
  if (!stored || file_record(x, ou->code) != r) return;
  if (!ou->geometry) ou->geometry = db_strdup(stored->geometry);
  if (!ou->attributes) ou->attributes = db_strdup(stored->attributes);
  if (db_is_unknown(ou->population)) ou->population = stored->population;
  if (db_is_unknown(ou->area_km2)) ou->area_km2 = stored->area_km2;
}

static void complete_succession(import_ctx *x, record *r) {
  if (!(r->given & bit(x, "partial"))) r->obj.su.partial = r->obj.su.weight < 1;
}

static void complete_indicator(import_ctx *x, record *r) {
  db_indicator *ind = &r->obj.ind;
  if (!(r->given & bit(x, "periodicity")) && !(r->bad & bit(x, "periodicity")))
    ind->periodicity = x->opts.periodicity;
  if (!(r->given & bit(x, "agg_time")) && !(r->bad & bit(x, "agg_space"))) {
    static const db_agg time_of_space[] = {
        [DB_AGG_NONE] = DB_AGG_NONE, [DB_AGG_SUM] = DB_AGG_SUM, [DB_AGG_AVG] = DB_AGG_AVG,
        [DB_AGG_WAVG] = DB_AGG_AVG,  [DB_AGG_MIN] = DB_AGG_MIN, [DB_AGG_MAX] = DB_AGG_MAX,
        [DB_AGG_LAST] = DB_AGG_NONE};
    ind->agg_time = time_of_space[ind->agg_space];
  }
}

/* Validates a record's object, mapping the model's problems (which name fields) to the record. */
static void validate_record(import_ctx *x, record *r) {
  db_diag found = DB_DIAG_INIT;
  x->k->validate(&r->obj, &found);
  for (size_t i = 0; i < found.count; i++) report(x, r, found.items[i].path, found.items[i].message);
  db_diag_free(&found);
}

/* Successions of the file replace the stored ones with the same from and to. */
static void drop_replaced_successions(import_ctx *x) {
  db_catalog *c = &x->cat;
  db_buf key = DB_BUF_INIT;
  size_t kept = 0;
  for (size_t i = 0; i < c->n_successions; i++) {
    db_buf_clear(&key);
    key_succession(&c->successions[i], &key);
    if (db_map_get(&x->keys, key.data, key.len, NULL))
      db_succession_free(&c->successions[i]);
    else
      c->successions[kept++] = c->successions[i];
  }
  c->n_successions = kept;
  db_buf_free(&key);
}

/* The record of the file a model path ("indicators[CPI].owner") is about, or NULL; *field receives the
 * field path after the object ("owner"). */
static record *record_at(import_ctx *x, const char *path, const char **field) {
  size_t kind_len = strlen(x->k->name);
  const char *open = path ? strchr(path, '[') : NULL;
  const char *close = open ? strstr(open, "].") : NULL;
  int64_t at;
  if (!close || (size_t)(open - path) != kind_len || strncmp(path, x->k->name, kind_len) != 0 ||
      !db_map_get(&x->keys, open + 1, (size_t)(close - open - 1), &at))
    return NULL;
  *field = close + 2;
  return &x->recs[at];
}

/* Puts the file's objects into the store's catalog and links it; problems of the file's objects are
 * reported at their records, others as the model names them. */
static void link_catalog(import_ctx *x) {
  if (x->k->put == put_succession) drop_replaced_successions(x);
  for (size_t i = 0; i < x->n; i++)
    if (keyed(x, &x->recs[i])) x->k->put(&x->cat, &x->recs[i].obj);
  db_diag found = DB_DIAG_INIT;
  db_catalog_link(&x->cat, &found);
  for (size_t i = 0; i < found.count; i++) {
    const db_problem *p = &found.items[i];
    const char *field;
    record *r = record_at(x, p->path, &field);
    if (r)
      report(x, r, field, p->message);
    else
      db_diag_add(x->d, p->line, p->column, p->path, p->code, "%s", p->message);
  }
  db_diag_free(&found);
}

/* The formulas of the catalog as it would be after an indicator import (formula/derived.h). A problem
 * keeps the path that names the indicator ("indicators[IDX].formula", the message starting with the
 * column in the formula) and, for an indicator of a CSV file, gets the line and column of its cell. */
static void check_formulas(import_ctx *x) {
  db_diag found = DB_DIAG_INIT;
  db_formula_check_catalog(&x->cat, NULL, NULL, &found);
  int fi = find_field(x->k, "formula", IN_BOTH);
  for (size_t i = 0; i < found.count; i++) {
    const db_problem *p = &found.items[i];
    const char *field;
    const record *r = x->json ? NULL : record_at(x, p->path, &field);
    db_diag_add(x->d, r ? r->line : 0, r ? x->column[fi] : 0, p->path, p->code, "%s", p->message);
  }
  db_diag_free(&found);
}

/* Targets name known indicators and units. */
static void check_target_refs(import_ctx *x) {
  db_buf msg = DB_BUF_INIT;
  for (size_t i = 0; i < x->n; i++) {
    record *r = &x->recs[i];
    const db_target *t = &r->obj.tg;
    db_buf_clear(&msg);
    if (t->indicator && !db_catalog_indicator(&x->cat, t->indicator)) {
      db_buf_printf(&msg, "unknown indicator '%s'", t->indicator);
      report(x, r, "indicator", db_buf_str(&msg));
    }
    db_buf_clear(&msg);
    if (t->orgunit && !db_catalog_unit(&x->cat, t->orgunit)) {
      db_buf_printf(&msg, "unknown org unit '%s'", t->orgunit);
      report(x, r, "orgunit", db_buf_str(&msg));
    }
  }
  db_buf_free(&msg);
}

/* ---- writing ---- */

/* Writes object i to the store; names it in `what` for an error message. */
typedef int (*write_one_fn)(void *ctx, db_store *s, size_t i, db_buf *what);

/* Writes n objects with write_one(ctx, …) and the audit record ({"file", "count"}) in one
 * transaction. On failure rolls back and reports the store's error. */
static int write_all(import_ctx *x, db_store *s, size_t n, size_t count, write_one_fn write_one, void *ctx) {
  db_buf what = DB_BUF_INIT;
  const char *kind = x->k ? x->k->name : "geometry";
  int rc = db_store_begin(s, n > 10000);
  if (rc != DB_OK) {
    db_diag_add(x->d, 0, 0, NULL, rc, "cannot begin a store transaction: %s", db_strerror(rc));
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    db_buf_clear(&what);
    if ((rc = write_one(ctx, s, i, &what)) != DB_OK) {
      db_diag_add(x->d, 0, 0, NULL, rc, "the store did not take %s: %s", db_buf_str(&what), db_strerror(rc));
      goto fail;
    }
  }
  const char *slash = strrchr(x->path, '/');
  json_t *detail = json_pack("{s:s, s:I}", "file", slash ? slash + 1 : x->path, "count", (json_int_t)count);
  char *detail_text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
  db_audit audit = {.time_ms = db_now_ms(), .actor = x->opts.actor, .action = "catalog.import", .object = kind,
                    .detail = detail_text};
  rc = db_store_audit_append(s, &audit);
  free(detail_text);
  json_decref(detail);
  if (rc != DB_OK) {
    db_diag_add(x->d, 0, 0, NULL, rc, "cannot write the audit record: %s", db_strerror(rc));
    goto fail;
  }
  if ((rc = db_store_commit(s)) != DB_OK) {
    db_diag_add(x->d, 0, 0, NULL, rc, "cannot commit the import: %s", db_strerror(rc));
    goto fail;
  }
  db_buf_free(&what);
  return DB_OK;
fail:
  db_store_rollback(s);
  db_buf_free(&what);
  return rc;
}

static int write_planned(void *ctx, db_store *s, size_t i, db_buf *what) {
  import_ctx *x = ctx;
  db_buf_printf(what, "%s '", x->k->noun);
  x->k->key(x->writes[i], what);
  db_buf_putc(what, '\'');
  return x->k->write(s, x->writes[i]);
}

/* Depth of a record in the chain of references to objects of the same file (an agency's parent, a
 * wavg indicator's weight), so that referenced objects are written first. */
static size_t chain_depth(const import_ctx *x, const record *r) {
  size_t depth = 0;
  for (const record *at = r; depth <= x->n && at && x->k->self_ref;) {
    at = file_record(x, x->k->self_ref(&at->obj));
    if (at) depth++;
  }
  return depth;
}

typedef struct planned {
  size_t depth, index;
  void *obj;
} planned;

static int by_depth(const void *a, const void *b) {
  const planned *p = a, *q = b;
  if (p->depth != q->depth) return p->depth < q->depth ? -1 : 1;
  return p->index < q->index ? -1 : p->index > q->index;
}

/* Fills x->writes. Units are written from the linked catalog (with their levels), parents first: the
 * file's units, and the stored units whose level changed because an ancestor moved. Other kinds are
 * the file's records, the objects they reference in the file first. */
static void plan_writes(import_ctx *x) {
  size_t cap = x->n > x->cat.n_units ? x->n : x->cat.n_units, n = 0;
  planned *p = db_malloc((cap ? cap : 1) * sizeof *p);
  if (x->k->put == put_orgunit) {
    for (size_t i = 0; i < x->cat.n_units; i++) {
      db_orgunit *ou = &x->cat.units[i];
      int moved = i < x->n_stored && ou->level != x->stored_level[i];
      if (moved || (ou->code && db_map_gets(&x->keys, ou->code, NULL)))
        p[n++] = (planned){(size_t)ou->level, i, ou};
    }
  } else {
    for (size_t i = 0; i < x->n; i++) p[n++] = (planned){chain_depth(x, &x->recs[i]), i, &x->recs[i].obj};
  }
  qsort(p, n, sizeof *p, by_depth);
  x->writes = db_malloc((n ? n : 1) * sizeof *x->writes);
  for (size_t i = 0; i < n; i++) x->writes[i] = p[i].obj;
  x->n_writes = n;
  db_free(p);
}

/* Loads the store's catalog into x->cat; reports a failure. */
static int load_catalog(import_ctx *x, db_store *s) {
  int rc = db_store_load_catalog(s, &x->cat);
  if (rc != DB_OK) db_diag_add(x->d, 0, 0, NULL, rc, "cannot read the store's catalog: %s", db_strerror(rc));
  return rc;
}

/* The import of every kind but geometry. */
static int import_objects(import_ctx *x, db_store *s, size_t *n_imported) {
  size_t before = db_diag_total(x->d);
  int rc = x->json ? read_json(x) : read_csv(x);
  if (rc != DB_OK) return rc;
  check_duplicates(x);
  if ((rc = load_catalog(x, s)) != DB_OK) return rc;
  x->n_stored = x->cat.n_units;
  x->stored_level = db_malloc((x->n_stored ? x->n_stored : 1) * sizeof *x->stored_level);
  for (size_t i = 0; i < x->n_stored; i++) x->stored_level[i] = x->cat.units[i].level;
  for (size_t i = 0; i < x->n; i++) {
    if (x->k->complete) x->k->complete(x, &x->recs[i]);
    validate_record(x, &x->recs[i]);
  }
  if (x->k->put)
    link_catalog(x);
  else
    check_target_refs(x);
  if (x->k->put == put_indicator) check_formulas(x);
  if (db_diag_total(x->d) > before) return DB_EINVAL;
  plan_writes(x);
  if ((rc = write_all(x, s, x->n_writes, x->n, write_planned, x)) == DB_OK && n_imported) *n_imported = x->n;
  return rc;
}

/* ---- GeoJSON geometry ---- */

/* The stored units with the features' geometry, population and area. */
typedef struct geo_ctx {
  db_orgunit *units;
  size_t n;
} geo_ctx;

/* Reads the number in property `name` of props into *out (unchanged when absent or null): a JSON
 * number or a numeric string. Reports a problem otherwise. */
static void geo_number(import_ctx *x, json_t *props, const char *name, const char *feature_path,
                       double *out) {
  json_t *v = json_object_get(props, name);
  const char *text = json_string_value(v);
  if (!v || json_is_null(v)) return;
  if (json_is_number(v)) {
    *out = json_number_value(v);
  } else if (!text || db_parse_double(text, strlen(text), out) != DB_OK) {
    db_buf path = DB_BUF_INIT;
    db_buf_printf(&path, "%s.properties.%s", feature_path, name);
    db_diag_add(x->d, 0, 0, db_buf_str(&path), DB_EINVAL, "expected a number");
    db_buf_free(&path);
  }
}

/* Checks one feature and, when it is sound, adds the updated unit to g. */
static void geo_feature(import_ctx *x, geo_ctx *g, db_map *seen, size_t i, json_t *feature) {
  db_buf path = DB_BUF_INIT, at = DB_BUF_INIT;
  db_buf_printf(&path, "$.features[%zu]", i);
  const char *fp = db_buf_str(&path);
  size_t before = db_diag_total(x->d);
  json_t *props = json_object_get(feature, "properties");
  json_t *code_v = json_object_get(props, x->opts.code_property);
  const char *code = json_string_value(code_v);
  const db_orgunit *stored = code ? db_catalog_unit(&x->cat, code) : NULL;
  int64_t first;
  db_buf_printf(&at, "%s.properties.%s", fp, x->opts.code_property);
  if (!json_is_object(feature) || !json_is_object(props))
    db_diag_add(x->d, 0, 0, fp, DB_EINVAL, "expected a GeoJSON Feature with properties");
  else if (!code)
    db_diag_add(x->d, 0, 0, db_buf_str(&at), DB_EINVAL, "expected the unit code as a string in property '%s'",
                x->opts.code_property);
  else if (!stored)
    db_diag_add(x->d, 0, 0, db_buf_str(&at), DB_EINVAL, "unknown org unit '%s'", code);
  else if (db_map_gets(seen, code, &first))
    db_diag_add(x->d, 0, 0, db_buf_str(&at), DB_EINVAL, "duplicate unit '%s' (first at $.features[%lld])",
                code, (long long)first);
  if (db_diag_total(x->d) > before) goto done;
  db_map_puts(seen, code, (int64_t)i);
  db_orgunit *u = &g->units[g->n++];
  db_orgunit_copy(u, stored);
  json_t *geometry = json_object_get(feature, "geometry");
  db_buf_clear(&at);
  db_buf_printf(&at, "%s.geometry", fp);
  if (is_geometry(geometry))
    set_string(&u->geometry, dump_json(geometry));
  else
    db_diag_add(x->d, 0, 0, db_buf_str(&at), DB_EINVAL, "expected a GeoJSON geometry object");
  geo_number(x, props, x->opts.population_property, fp, &u->population);
  geo_number(x, props, x->opts.area_property, fp, &u->area_km2);
  db_diag found = DB_DIAG_INIT;
  db_orgunit_validate(u, 0, &found);
  for (size_t k = 0; k < found.count; k++) {
    const char *f = found.items[k].path;
    const char *prop = strcmp(f, "population") == 0 ? x->opts.population_property
                       : strcmp(f, "area_km2") == 0 ? x->opts.area_property
                                                    : NULL;
    db_buf_clear(&at);
    if (prop)
      db_buf_printf(&at, "%s.properties.%s", fp, prop);
    else
      db_buf_printf(&at, "%s (unit %s).%s", fp, code, f);
    db_diag_add(x->d, 0, 0, db_buf_str(&at), DB_EINVAL, "%s", found.items[k].message);
  }
  db_diag_free(&found);
done:
  db_buf_free(&at);
  db_buf_free(&path);
}

static int write_geo(void *ctx, db_store *s, size_t i, db_buf *what) {
  geo_ctx *g = ctx;
  db_buf_printf(what, "the geometry of org unit '%s'", g->units[i].code);
  return db_store_put_orgunit(s, &g->units[i]);
}

static int import_geometry(import_ctx *x, db_store *s, size_t *n_imported) {
  size_t before = db_diag_total(x->d);
  int rc = DB_OK;
  json_t *root = load_json(x, &rc);
  if (!root) return rc;
  json_t *features = json_object_get(root, "features");
  geo_ctx g = {NULL, 0};
  db_map seen = DB_MAP_INIT;
  if (!json_is_object(root) || !json_is_string(json_object_get(root, "type")) ||
      strcmp(json_string_value(json_object_get(root, "type")), "FeatureCollection") != 0 ||
      !json_is_array(features)) {
    db_diag_add(x->d, 0, 0, "$", DB_EINVAL, "expected a GeoJSON FeatureCollection with a features array");
    rc = DB_EINVAL;
    goto done;
  }
  if ((rc = load_catalog(x, s)) != DB_OK) goto done;
  g.units = db_calloc(json_array_size(features) + 1, sizeof *g.units);
  size_t i;
  json_t *feature;
  json_array_foreach(features, i, feature) geo_feature(x, &g, &seen, i, feature);
  if (db_diag_total(x->d) > before) {
    rc = DB_EINVAL;
    goto done;
  }
  rc = write_all(x, s, g.n, g.n, write_geo, &g);
  if (rc == DB_OK && n_imported) *n_imported = g.n;
done:
  for (size_t k = 0; k < g.n; k++) db_orgunit_free(&g.units[k]);
  db_free(g.units);
  db_map_free(&seen);
  json_decref(root);
  return rc;
}

/* ---- the import ---- */

/* The format: opts->format, else from the file's extension (a document in memory has none). NULL
 * (reported) when unknown or not one that the kind reads. */
static const char *import_format(import_ctx *x, const char *kind) {
  static const char *const formats[] = {"csv", "json", "geojson"};
  const char *given = x->opts.format;
  if (!given && x->data) {
    db_diag_add(x->d, 0, 0, NULL, DB_EINVAL, "the format of %s must be given (csv, json, geojson)", x->path);
    return NULL;
  }
  const char *slash = strrchr(x->path, '/');
  const char *dot = strrchr(slash ? slash : x->path, '.');
  for (size_t i = 0; i < 3; i++)
    if (given ? strcmp(given, formats[i]) == 0 : dot && strcasecmp(dot + 1, formats[i]) == 0) {
      int geometry = strcmp(kind, "geometry") == 0;
      if (geometry && i == 0) {
        db_diag_add(x->d, 0, 0, NULL, DB_EINVAL, "geometry files are GeoJSON (.geojson or .json), not CSV");
        return NULL;
      }
      if (!geometry && i == 2) {
        db_diag_add(x->d, 0, 0, NULL, DB_EINVAL, "%s files are CSV or JSON, not GeoJSON", kind);
        return NULL;
      }
      return formats[i];
    }
  if (given)
    db_diag_add(x->d, 0, 0, NULL, DB_EINVAL, "unknown format '%s' (csv, json, geojson)", given);
  else
    db_diag_add(x->d, 0, 0, NULL, DB_EINVAL,
                "cannot tell the format of %s from its extension (.csv, .json, .geojson); name the format",
                x->path);
  return NULL;
}

/* The import of a document: the file at path (data NULL), or the len bytes at data named path. */
static int import_document(db_store *s, const char *kind, const char *path, const char *data, size_t len,
                           const db_catalog_import_opts *opts, db_diag *d, size_t *n_imported) {
  import_ctx x;
  memset(&x, 0, sizeof x);
  if (n_imported) *n_imported = 0;
  if (opts) x.opts = *opts;
  if (!x.opts.actor) x.opts.actor = "cli";
  if (!x.opts.code_property) x.opts.code_property = "code";
  if (!x.opts.population_property) x.opts.population_property = "population";
  if (!x.opts.area_property) x.opts.area_property = "area_km2";
  x.d = d;
  x.path = path;
  x.data = data;
  x.len = len;
  x.k = find_kind(kind);
  int geometry = kind && strcmp(kind, "geometry") == 0;
  if (!x.k && !geometry) {
    db_diag_add(
        d, 0, 0, NULL, DB_EINVAL,
        "unknown catalog kind '%s' (orgunits, successions, agencies, indicators, dimensions, targets, "
        "geometry)",
        kind ? kind : "");
    return DB_EINVAL;
  }
  const char *format = import_format(&x, kind);
  if (!format) return DB_EINVAL;
  x.json = strcmp(format, "csv") != 0;
  db_catalog_init(&x.cat);
  int rc = geometry ? import_geometry(&x, s, n_imported) : import_objects(&x, s, n_imported);
  for (size_t i = 0; i < x.n; i++) free_record(&x, &x.recs[i]);
  db_free(x.recs);
  db_free(x.writes);
  db_free(x.stored_level);
  db_free(x.field_of_column);
  db_buf_free(&x.json_prefix);
  db_map_free(&x.keys);
  db_catalog_free(&x.cat);
  return rc;
}

int db_catalog_import(db_store *s, const char *kind, const char *path, const db_catalog_import_opts *opts,
                      db_diag *d, size_t *n_imported) {
  return import_document(s, kind, path, NULL, 0, opts, d, n_imported);
}

int db_catalog_import_buffer(db_store *s, const char *kind, const char *data, size_t len, const char *name,
                             const db_catalog_import_opts *opts, db_diag *d, size_t *n_imported) {
  return import_document(s, kind, name ? name : "the document", data ? data : "", len, opts, d, n_imported);
}

/* ---- export ---- */

/* Appends field f of obj as a CSV cell (item: the dimension item of this row). */
static void csv_cell(const field_def *f, const void *obj, size_t item, db_buf *b) {
  const void *p = field_cptr(obj, f);
  const db_dimension *dim = obj;
  char date[11];
  switch (f->type) {
    case T_TEXT:
    case T_JSON:
    case T_GEOMETRY:
      db_buf_csv_field(b, *(char *const *)p);
      break;
    case T_INT:
    case T_BOOL:
      db_buf_printf(b, "%d", *(const int *)p);
      break;
    case T_DOUBLE:
      if (!db_is_unknown(*(const double *)p)) db_buf_double(b, *(const double *)p);
      break;
    case T_DATE:
      if (*(const int64_t *)p == DB_DATE_NONE) break;
      db_format_date(*(const int64_t *)p, date);
      db_buf_puts(b, date);
      break;
    case T_OUKIND:
      if (*(const db_ou_kind *)p) db_buf_puts(b, db_ou_kind_name(*(const db_ou_kind *)p));
      break;
    case T_PERIODICITY:
      if (*(const db_period_type *)p) db_buf_puts(b, db_period_type_name(*(const db_period_type *)p));
      break;
    case T_AGG:
      db_buf_puts(b, db_agg_name(*(const db_agg *)p));
      break;
    case T_POLARITY:
      db_buf_puts(b, db_polarity_name(*(const db_polarity *)p));
      break;
    case T_ITEM:
    case T_ITEM_NAME:
      if (item < dim->n_items)
        db_buf_csv_field(b, f->type == T_ITEM ? dim->items[item].code : dim->items[item].name);
      break;
    case T_ITEMS:
      break;
  }
}

/* Writes the objects as CSV: the header, then a row per object (a row per item for dimensions). */
static void write_csv(const kind_def *k, const void *const *objs, size_t n, FILE *out) {
  db_buf row = DB_BUF_INIT;
  int per_item = has_items(k);
  const char *sep = "";
  for (size_t f = 0; f < k->n_fields; f++)
    if (k->fields[f].formats & IN_CSV) db_buf_printf(&row, "%s%s", sep, k->fields[f].name), sep = ",";
  db_buf_putc(&row, '\n');
  fwrite(row.data, 1, row.len, out);
  for (size_t i = 0; i < n; i++) {
    const void *obj = objs[i];
    size_t n_items = per_item ? ((const db_dimension *)obj)->n_items : 0;
    for (size_t item = 0; item < (n_items ? n_items : 1); item++) {
      db_buf_clear(&row);
      sep = "";
      for (size_t f = 0; f < k->n_fields; f++) {
        if (!(k->fields[f].formats & IN_CSV)) continue;
        db_buf_puts(&row, sep);
        csv_cell(&k->fields[f], obj, item, &row);
        sep = ",";
      }
      db_buf_putc(&row, '\n');
      fwrite(row.data, 1, row.len, out);
    }
  }
  db_buf_free(&row);
}

/* Field f of obj as a JSON value; NULL when it is not given. */
static json_t *json_cell(const field_def *f, const void *obj) {
  const void *p = field_cptr(obj, f);
  const db_dimension *dim = obj;
  char date[11];
  switch (f->type) {
    case T_TEXT:
      return *(char *const *)p ? json_string(*(char *const *)p) : NULL;
    case T_JSON:
    case T_GEOMETRY:
      return *(char *const *)p ? json_loads(*(char *const *)p, 0, NULL) : NULL;
    case T_INT:
      return json_integer(*(const int *)p);
    case T_BOOL:
      return json_boolean(*(const int *)p);
    case T_DOUBLE:
      return db_is_unknown(*(const double *)p) ? NULL : json_real(*(const double *)p);
    case T_DATE:
      if (*(const int64_t *)p == DB_DATE_NONE) return NULL;
      db_format_date(*(const int64_t *)p, date);
      return json_string(date);
    case T_OUKIND:
      return *(const db_ou_kind *)p ? json_string(db_ou_kind_name(*(const db_ou_kind *)p)) : NULL;
    case T_PERIODICITY:
      return *(const db_period_type *)p ? json_string(db_period_type_name(*(const db_period_type *)p)) : NULL;
    case T_AGG:
      return json_string(db_agg_name(*(const db_agg *)p));
    case T_POLARITY:
      return json_string(db_polarity_name(*(const db_polarity *)p));
    case T_ITEMS: {
      json_t *arr = json_array();
      for (size_t i = 0; i < dim->n_items; i++)
        json_array_append_new(
            arr, json_pack("{s:s?, s:s?}", "code", dim->items[i].code, "name", dim->items[i].name));
      return arr;
    }
    case T_ITEM:
    case T_ITEM_NAME:
      break;
  }
  return NULL;
}

/* An object with the JSON members of the kind that obj gives. */
static json_t *json_object_of(const kind_def *k, const void *obj) {
  json_t *o = json_object();
  for (size_t f = 0; f < k->n_fields; f++) {
    json_t *v = k->fields[f].formats & IN_JSON ? json_cell(&k->fields[f], obj) : NULL;
    if (v) json_object_set_new(o, k->fields[f].name, v);
  }
  return o;
}

/* {"<kind>": [objects with the JSON members of the kind]}. */
static json_t *json_objects(const kind_def *k, const void *const *objs, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_object_of(k, objs[i]));
  return json_pack("{s:o}", k->name, arr);
}

/* A FeatureCollection of the units that have a geometry, with the properties the import reads. */
static json_t *geojson_units(const db_catalog *c) {
  json_t *features = json_array();
  for (size_t i = 0; i < c->n_units; i++) {
    const db_orgunit *ou = &c->units[i];
    json_t *geometry = ou->geometry ? json_loads(ou->geometry, 0, NULL) : NULL;
    if (!geometry) continue;
    json_t *props = json_pack("{s:s?, s:s?}", "code", ou->code, "name", ou->name);
    if (!db_is_unknown(ou->population)) json_object_set_new(props, "population", json_real(ou->population));
    if (!db_is_unknown(ou->area_km2)) json_object_set_new(props, "area_km2", json_real(ou->area_km2));
    json_array_append_new(
        features, json_pack("{s:s, s:o, s:o}", "type", "Feature", "properties", props, "geometry", geometry));
  }
  return json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features);
}

int db_catalog_export(db_store *s, const char *kind, FILE *out, const char *format) {
  const kind_def *k = find_kind(kind);
  int geometry = kind && strcmp(kind, "geometry") == 0;
  if (!k && !geometry) return DB_EINVAL;
  if (!format) format = geometry ? "geojson" : "csv";
  int json = strcmp(format, "json") == 0 || (geometry && strcmp(format, "geojson") == 0);
  if (!json && (geometry || strcmp(format, "csv") != 0)) return DB_EINVAL;
  db_catalog cat;
  db_catalog_init(&cat);
  db_target *targets = NULL;
  size_t n_targets = 0;
  const void *items = NULL;
  const void **objs = NULL;
  size_t n = 0;
  int rc;
  if (k && !k->list) {
    rc = db_store_load_targets(s, NULL, &targets, &n_targets);
    items = targets;
    n = n_targets;
  } else {
    rc = db_store_load_catalog(s, &cat);
    if (k) items = k->list(&cat, &n);
  }
  if (rc != DB_OK) goto done;
  if (k) {
    objs = db_malloc((n ? n : 1) * sizeof *objs);
    for (size_t i = 0; i < n; i++) objs[i] = (const char *)items + i * k->size;
  }
  if (json) {
    json_t *root = geometry ? geojson_units(&cat) : json_objects(k, objs, n);
    if (json_dumpf(root, out, geometry ? JSON_TEXT_FLAGS : JSON_OUT_FLAGS) != 0 || fputc('\n', out) == EOF)
      rc = DB_EIO;
    json_decref(root);
  } else {
    write_csv(k, objs, n, out);
  }
  if (fflush(out) != 0 || ferror(out)) rc = DB_EIO;
done:
  db_free(objs);
  db_store_targets_free(targets, n_targets);
  db_catalog_free(&cat);
  return rc;
}

json_t *db_catalog_object_json(const char *kind, const void *obj) {
  const kind_def *k = find_kind(kind);
  return k && obj ? json_object_of(k, obj) : NULL;
}

int db_catalog_write_csv(const char *kind, const void *const *objs, size_t n, FILE *out) {
  const kind_def *k = find_kind(kind);
  if (!k) return DB_EINVAL;
  write_csv(k, objs, n, out);
  return fflush(out) != 0 || ferror(out) ? DB_EIO : DB_OK;
}

/* Whether dim has an item coded code. */
static int dim_has_item(const db_dimension *dim, const char *code) {
  for (size_t k = 0; dim && k < dim->n_items; k++)
    if (strcmp(dim->items[k].code, code) == 0) return 1;
  return 0;
}

int db_catalog_ensure_agency_dimension(db_store *s, const db_catalog *cat, int *changed) {
  const db_dimension *old = db_catalog_dimension(cat, DB_AGENCY_DIMENSION);
  int missing = !old;
  for (size_t a = 0; !missing && a < cat->n_agencies; a++) missing = !dim_has_item(old, cat->agencies[a].code);
  if (!missing) return DB_OK;
  size_t n_old = old ? old->n_items : 0;
  db_dimension dim = {0, DB_AGENCY_DIMENSION, old ? old->name : "Cơ quan, đơn vị",
                      db_calloc(n_old + cat->n_agencies + 1, sizeof(db_dim_item)), 0};
  for (size_t k = 0; k < n_old; k++) dim.items[dim.n_items++] = old->items[k];
  for (size_t a = 0; a < cat->n_agencies; a++)
    if (!dim_has_item(old, cat->agencies[a].code))
      dim.items[dim.n_items++] = (db_dim_item){cat->agencies[a].code, cat->agencies[a].name};
  int rc = db_store_put_dimension(s, &dim);
  db_free(dim.items);
  if (!rc) *changed = 1;
  return rc;
}
