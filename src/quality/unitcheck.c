/* unitcheck.c - general checks of unit attributes (area, population) read from a file (contract in
 * quality.h): required attributes present and positive, and areas that do not fit their peers. A unit is
 * compared with the units of the same province and kind (read from its name: Phường, Xã, Đặc khu, ...);
 * an area whose log is a robust outlier at the same time as the log density is one the other way is the
 * signature of an area in the wrong unit (a decimal point lost: 33589 for 33.589 km²), not of a unit that is
 * merely large (a large rural commune is large and sparse, but its peers are too). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "ingest/csv.h"
#include "quality/quality_int.h"

#define MIN_PEERS 8
#define Z_LIMIT 3.5

enum { C_CODE, C_NAME, C_PROVINCE, C_AREA, C_POP, N_COLS };
static const char *const col_names[N_COLS][2] = {
    {"commune_code", "code"}, {"commune_name", "name"}, {"province_code", "province"}, {"area_km2", NULL},
    {"population", NULL}};

/* A number field: NAN when blank; a problem when malformed. */
static double number(const db_csv_field *f, long line, int col, const char *name, db_diag *d) {
  double v;
  if (!f || !f->len) return NAN;
  if (db_parse_double(f->p, f->len, &v) == 0) return v;
  db_diag_add(d, line, col, name, DB_EINVAL, "'%.*s' is not a number", (int)(f->len > 40 ? 40 : f->len), f->p);
  return NAN;
}

int db_unit_attrs_read(const char *text, size_t len, db_unit_attrs **out, size_t *n, db_diag *d) {
  *out = NULL;
  *n = 0;
  db_csv *r;
  if (db_csv_open_mem(text, len, NULL, d, &r) != 0) return DB_EINVAL;
  int at[N_COLS];
  for (int c = 0; c < N_COLS; c++) at[c] = -1;
  db_csv_field *f;
  size_t nf, cap = 0;
  long line;
  int got, header = 1, rc = 0;
  while ((got = db_csv_next(r, &f, &nf, &line)) != 0 && got != DB_EIO) {
    if (got != 1) continue;
    if (header) {
      for (size_t i = 0; i < nf; i++)
        for (int c = 0; c < N_COLS; c++)
          for (int k = 0; k < 2; k++)
            if (col_names[c][k] && strlen(col_names[c][k]) == f[i].len && !memcmp(col_names[c][k], f[i].p, f[i].len))
              at[c] = (int)i;
      for (int c = 0; c < N_COLS; c++)
        if (at[c] < 0) rc = db_diag_add(d, line, 0, NULL, DB_EINVAL, "the column '%s' is missing", col_names[c][0]);
      header = 0;
      if (rc) break;
      continue;
    }
    if (*n == cap) {
      cap = cap ? 2 * cap : 256;
      *out = db_realloc(*out, cap * sizeof **out);
    }
    const db_csv_field *get[N_COLS];
    for (int c = 0; c < N_COLS; c++) get[c] = (size_t)at[c] < nf ? &f[at[c]] : NULL;
    db_unit_attrs *a = &(*out)[(*n)++];
    a->code = get[C_CODE] ? db_strndup(get[C_CODE]->p, get[C_CODE]->len) : db_strdup("");
    a->name = get[C_NAME] ? db_strndup(get[C_NAME]->p, get[C_NAME]->len) : db_strdup("");
    a->province = get[C_PROVINCE] ? db_strndup(get[C_PROVINCE]->p, get[C_PROVINCE]->len) : db_strdup("");
    a->area_km2 = number(get[C_AREA], line, at[C_AREA] + 1, "area_km2", d);
    a->population = number(get[C_POP], line, at[C_POP] + 1, "population", d);
    a->line = line;
  }
  if (header) rc = db_diag_add(d, 1, 0, NULL, DB_EINVAL, "the file is empty: a header line is expected");
  db_csv_close(r);
  return rc;
}

void db_unit_attrs_free(db_unit_attrs *a, size_t n) {
  for (size_t i = 0; a && i < n; i++) {
    db_free(a[i].code);
    db_free(a[i].name);
    db_free(a[i].province);
  }
  db_free(a);
}

/* The kind of a unit from the first word(s) of its name: the prefix before the proper name. */
static size_t kind_len(const char *name) {
  static const char *const kinds[] = {"Phường ", "Xã ", "Đặc khu ", "Thị trấn ", NULL};
  for (size_t i = 0; kinds[i]; i++)
    if (strncmp(name, kinds[i], strlen(kinds[i])) == 0) return strlen(kinds[i]);
  return 0;
}

static int same_peers(const db_unit_attrs *a, const db_unit_attrs *b) {
  size_t ka = kind_len(a->name), kb = kind_len(b->name);
  return strcmp(a->province, b->province) == 0 && ka == kb && strncmp(a->name, b->name, ka) == 0;
}

static int compare_doubles(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static double median_of(double *v, size_t n) {
  qsort(v, n, sizeof *v, compare_doubles);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Robust location and scale (MAD / 0.6745) of v[0..n) (reordered). */
static void robust(double *v, size_t n, double *center, double *scale) {
  *center = median_of(v, n);
  for (size_t i = 0; i < n; i++) v[i] = fabs(v[i] - *center);
  *scale = median_of(v, n) / 0.6745;
}

static int usable(const db_unit_attrs *a) { return a->area_km2 > 0 && a->population > 0; }

static void add_finding(db_unit_finding **out, size_t *n, const db_unit_attrs *a, const char *attr, double value,
                        double za, double zd, const char *msg) {
  *out = db_realloc(*out, (*n + 1) * sizeof **out);
  (*out)[(*n)++] = (db_unit_finding){db_strdup(a->code), db_strdup(a->name), db_strdup(a->province), db_strdup(attr),
                                     value, za, zd, db_strdup(msg)};
}

/* The peer test of unit i: the z-scores of its log area and log density, and that of its log area with the
 * decimal point moved three places back (divided by 1000 when the area is large, multiplied when small);
 * NAN when the unit has too few peers. */
static void peer_scores(const db_unit_attrs *a, size_t n, size_t i, double *za, double *zd, double *zfix) {
  *za = *zd = *zfix = NAN;
  double *la = db_malloc(n * sizeof *la), *ld = db_malloc(n * sizeof *ld);
  size_t k = 0;
  for (size_t j = 0; j < n; j++)
    if (usable(&a[j]) && same_peers(&a[i], &a[j])) {
      la[k] = log(a[j].area_km2);
      ld[k++] = log(a[j].population / a[j].area_km2);
    }
  if (k >= MIN_PEERS) {
    double ca, sa, cd, sd;
    robust(la, k, &ca, &sa);
    robust(ld, k, &cd, &sd);
    if (sa > 0) *za = (log(a[i].area_km2) - ca) / sa;
    if (sa > 0) *zfix = (log(a[i].area_km2) + (*za > 0 ? -1 : 1) * log(1000) - ca) / sa;
    if (sd > 0) *zd = (log(a[i].population / a[i].area_km2) - cd) / sd;
  }
  db_free(la);
  db_free(ld);
}

void db_unit_attrs_check(const db_unit_attrs *a, size_t n, db_unit_finding **out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  char msg[320];
  for (size_t i = 0; i < n; i++) {
    int area_ok = a[i].area_km2 > 0, pop_ok = a[i].population > 0;
    if (!area_ok) {
      snprintf(msg, sizeof msg, "%s (%s): area_km2 is %s", a[i].name, a[i].code, isnan(a[i].area_km2) ? "missing" : "not positive");
      add_finding(out, n_out, &a[i], "area_km2", a[i].area_km2, NAN, NAN, msg);
    }
    if (!pop_ok) {
      snprintf(msg, sizeof msg, "%s (%s): population is %s", a[i].name, a[i].code,
               isnan(a[i].population) ? "missing" : "not positive");
      add_finding(out, n_out, &a[i], "population", a[i].population, NAN, NAN, msg);
    }
    if (!area_ok || !pop_ok) continue;
    double za, zd, zfix;
    peer_scores(a, n, i, &za, &zd, &zfix);
    if (isnan(za) || isnan(zd) || !((za > Z_LIMIT && zd < -Z_LIMIT) || (za < -Z_LIMIT && zd > Z_LIMIT))) continue;
    if (!(fabs(zfix) <= Z_LIMIT)) continue; /* a unit truly unlike its peers, not a unit error */
    int big = za > 0;
    snprintf(msg, sizeof msg,
             "%s (%s): area %g km² is %s for its peers (robust z %.1f) and its density %s (z %.1f): probably "
             "in the wrong unit (%g km²?)",
             a[i].name, a[i].code, a[i].area_km2, big ? "far too large" : "far too small", za,
             big ? "far too low" : "far too high", zd, big ? a[i].area_km2 / 1000 : a[i].area_km2 * 1000);
    add_finding(out, n_out, &a[i], "area_km2", a[i].area_km2, za, zd, msg);
  }
}

void db_unit_findings_free(db_unit_finding *f, size_t n) {
  for (size_t i = 0; f && i < n; i++) {
    db_free(f[i].code);
    db_free(f[i].name);
    db_free(f[i].province);
    db_free(f[i].attribute);
    db_free(f[i].message);
  }
  db_free(f);
}
