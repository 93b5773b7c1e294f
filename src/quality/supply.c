/* supply.c - what agencies owe and what arrived: the expected cells of the reporting obligations with
 * their deadlines and states, and their completeness, timeliness, validity and score by obligation,
 * agency, unit, indicator, indicator group or period (definitions in quality.h).
 *
 * The received time of a cell is looked up once per obligation: one read of the current observations of
 * its indicators at its units over its periods gives the cells that hold data; a current value at
 * revision 1 carries its own received time, and only cells revised since are asked for their history
 * (whose first revision tells when the value first arrived). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/text.h"
#include "quality/quality_int.h"

#define MAX_PERIODS 100000 /* periods of one obligation looked at (a daily obligation over 270 years) */

static const char *const state_names[] = {NULL, "on_time", "late", "overdue", "due"};

const char *db_cell_state_name(db_cell_state s) {
  return s >= DB_CELL_ON_TIME && s <= DB_CELL_DUE ? state_names[s] : "?";
}

int64_t db__day_of_ms(int64_t ms) {
  int64_t local = ms + (int64_t)DB_CITY_UTC_OFFSET_MINUTES * 60000;
  return local >= 0 ? local / 86400000 : -((-local + 86399999) / 86400000);
}

int64_t db__period_last_day(const db_period *p) { return db__day_of_ms(db_period_end_ms(p) - 1); }

char *db__json_take(char *s) {
  char *out = db_strdup(s);
  free(s);
  return out;
}

/* ---- received times ---- */

/* (indicator id, unit id, period key) -> first received ms, and the revised cells whose history is
 * needed. */
typedef struct received {
  db_map first;
  int64_t (*revised)[2]; /* (series, period) */
  size_t n_revised, cap_revised;
  int64_t (*revised_key)[3];
} received;

static void note_received(received *rv, const int64_t key[3], int64_t ms) {
  int64_t old;
  if (db_map_get(&rv->first, key, 3 * sizeof(int64_t), &old) && old <= ms) return;
  db_map_put(&rv->first, key, 3 * sizeof(int64_t), ms);
}

static int received_row(void *ctx, const db_obs_row *row) {
  received *rv = ctx;
  int64_t key[3] = {row->indicator, row->orgunit, row->period};
  if (row->revision <= 1) {
    note_received(rv, key, row->received_ms);
    return 0;
  }
  if (rv->n_revised == rv->cap_revised) {
    rv->cap_revised = rv->cap_revised ? 2 * rv->cap_revised : 64;
    rv->revised = db_realloc(rv->revised, rv->cap_revised * sizeof *rv->revised);
    rv->revised_key = db_realloc(rv->revised_key, rv->cap_revised * sizeof *rv->revised_key);
  }
  rv->revised[rv->n_revised][0] = row->series;
  rv->revised[rv->n_revised][1] = row->period;
  memcpy(rv->revised_key[rv->n_revised++], key, sizeof key);
  return 0;
}

static int first_revision(void *ctx, const db_obs_row *row) {
  int64_t *ms = ctx;
  if (row->revision == 1 || !*ms) *ms = row->received_ms;
  return row->revision == 1;
}

/* Fills rv for the indicators and units of an obligation over [from, to] (keys). */
static int read_received(db_store *s, const int64_t *inds, size_t n_inds, const int64_t *units, size_t n_units,
                         int64_t from_key, int64_t to_key, received *rv) {
  db_obs_filter f = {.indicators = inds, .n_indicators = n_inds, .orgunits = units, .n_orgunits = n_units,
                     .period_from = from_key, .period_to = to_key};
  int rc = db_store_obs_read(s, &f, received_row, rv);
  for (size_t i = 0; i < rv->n_revised && !rc; i++) {
    int64_t ms = 0;
    rc = db_store_obs_history(s, rv->revised[i][0], rv->revised[i][1], first_revision, &ms);
    if (!rc && ms) note_received(rv, rv->revised_key[i], ms);
  }
  return rc;
}

static void received_free(received *rv) {
  db_map_free(&rv->first);
  db_free(rv->revised);
  db_free(rv->revised_key);
}

/* ---- expected cells ---- */

typedef struct cells_out {
  db_supply_cell *items;
  size_t n, cap;
} cells_out;

static void push_cell(cells_out *co, const db_supply_cell *c) {
  if (co->n == co->cap) {
    co->cap = co->cap ? 2 * co->cap : 256;
    co->items = db_realloc(co->items, co->cap * sizeof *co->items);
  }
  co->items[co->n++] = *c;
}

/* 1 when unit u exists at some time in period p. */
static int unit_valid_in(const db_orgunit *u, const db_period *p) {
  int64_t first = db__day_of_ms(db_period_start_ms(p)), last = db__period_last_day(p);
  if (u->valid_from != DB_DATE_NONE && last < u->valid_from) return 0;
  if (u->valid_to != DB_DATE_NONE && first > u->valid_to) return 0;
  return 1;
}

/* The units an obligation covers at any time (catalog indices), orgunit filter applied. */
static size_t obligation_units(const db_catalog *cat, const db_obligation *ob, const db_supply_filter *f,
                               int64_t **out) {
  const db_orgunit *u = db_catalog_unit(cat, ob->orgunit);
  size_t idx = (size_t)(u - cat->units), n = 0;
  const int64_t *children = NULL;
  size_t nc = ob->children ? db_catalog_children(cat, idx, &children) : 0;
  *out = db_malloc((ob->children ? nc : 1) * sizeof **out + sizeof **out);
  if (!ob->children) {
    if (!f->orgunit || strcmp(f->orgunit, u->code) == 0) (*out)[n++] = (int64_t)idx;
    return n;
  }
  for (size_t i = 0; i < nc; i++) /* sensor stations and facilities report nothing of their own */
    if (cat->units[children[i]].kind != DB_OU_SITE &&
        (!f->orgunit || strcmp(f->orgunit, cat->units[children[i]].code) == 0))
      (*out)[n++] = children[i];
  return n;
}

/* 1 when period p passes the filter's range. */
static int in_range(const db_supply_filter *f, const db_period *p) {
  if (f->from.type && db_period_end_ms(p) <= db_period_start_ms(&f->from)) return 0;
  if (f->to.type && db_period_start_ms(p) >= db_period_end_ms(&f->to)) return 0;
  return 1;
}

/* The cells of one obligation. */
static int obligation_cells(db_store *s, const db_catalog *cat, const db_calendar *cal, const db_obligation *ob,
                            size_t ob_index, const db_supply_filter *f, int64_t as_of_ms, cells_out *co) {
  int64_t *units;
  size_t n_units = obligation_units(cat, ob, f, &units);
  size_t *inds = db_malloc(ob->n_indicators * sizeof *inds + 1);
  int64_t *ind_ids = db_malloc(ob->n_indicators * sizeof *ind_ids + 1), *unit_ids = db_malloc(n_units * 8 + 8);
  size_t n_inds = 0;
  for (size_t i = 0; i < ob->n_indicators; i++) {
    const db_indicator *ind = db_catalog_indicator(cat, ob->indicators[i]);
    if (f->indicator && strcmp(f->indicator, ind->code) != 0) continue;
    if (f->group && !db_list_has(ind->groups, f->group, strlen(f->group))) continue;
    ind_ids[n_inds] = ind->id;
    inds[n_inds++] = (size_t)(ind - cat->indicators);
  }
  for (size_t i = 0; i < n_units; i++) unit_ids[i] = cat->units[units[i]].id;
  db_period last = ob->from;
  size_t n_periods = 0;
  for (db_period p = ob->from; n_periods < MAX_PERIODS; p = db_period_add(&p, 1), n_periods++) {
    if (ob->to.type && db_period_compare(&p, &ob->to) > 0) break;
    if (db_period_end_ms(&p) > as_of_ms) break;
    last = p;
  }
  received rv = {DB_MAP_INIT, NULL, 0, 0, NULL};
  int rc = 0;
  if (n_periods && n_inds && n_units)
    rc = read_received(s, ind_ids, n_inds, unit_ids, n_units, db_period_key(&ob->from), db_period_key(&last), &rv);
  int64_t today = db__day_of_ms(as_of_ms);
  db_period p = ob->from;
  for (size_t k = 0; k < n_periods && !rc; k++, p = db_period_add(&p, 1)) {
    if (!in_range(f, &p)) continue;
    int64_t end_day = db__period_last_day(&p);
    int64_t deadline = ob->deadline_working ? db_calendar_add_working_days(cal, end_day, ob->deadline_days)
                                            : end_day + ob->deadline_days;
    for (size_t u = 0; u < n_units; u++) {
      if (!unit_valid_in(&cat->units[units[u]], &p)) continue;
      for (size_t i = 0; i < n_inds; i++) {
        db_supply_cell c = {.obligation = ob_index, .indicator = inds[i], .unit = (size_t)units[u], .period = p,
                            .deadline_day = deadline, .owed = today > deadline};
        int64_t key[3] = {ind_ids[i], unit_ids[u], db_period_key(&p)}, ms;
        if (db_map_get(&rv.first, key, sizeof key, &ms) && ms <= as_of_ms) {
          int64_t day = db__day_of_ms(ms);
          c.received_ms = ms;
          c.state = day <= deadline ? DB_CELL_ON_TIME : DB_CELL_LATE;
          if (day > deadline)
            c.days_late = ob->deadline_working ? db_calendar_count_working(cal, deadline, day) : day - deadline;
        } else {
          c.state = c.owed ? DB_CELL_OVERDUE : DB_CELL_DUE;
        }
        push_cell(co, &c);
      }
    }
  }
  received_free(&rv);
  db_free(units);
  db_free(inds);
  db_free(ind_ids);
  db_free(unit_ids);
  return rc;
}

int db_supply_cells(db_store *s, const db_catalog *cat, const db_calendar *cal, const db_obligation *ob,
                    size_t n_ob, const db_supply_filter *f, int64_t as_of_ms, db_supply_cell **out,
                    size_t *n_out) {
  cells_out co = {0};
  int rc = 0;
  for (size_t i = 0; i < n_ob && !rc; i++) {
    if (f->agency && strcmp(f->agency, ob[i].agency) != 0) continue;
    rc = obligation_cells(s, cat, cal, &ob[i], i, f, as_of_ms, &co);
  }
  if (rc) {
    db_free(co.items);
    co.items = NULL;
    co.n = 0;
  }
  *out = co.items;
  *n_out = co.n;
  return rc;
}

/* ---- validity ---- */

/* The key of a cell named by codes: "IND|UNIT|PERIOD". */
static void cell_key(db_buf *b, const char *ind, const char *unit, const char *period) {
  db_buf_clear(b);
  db_buf_printf(b, "%s|%s|%s", ind, unit, period);
}

static int invalid_violation(void *ctx, const db_record *r) {
  db_map *bad = ctx;
  json_t *body = json_loads(r->body, 0, NULL);
  const char *status = json_string_value(json_object_get(body, "status"));
  db_importance imp = DB_IMP_INFO;
  const char *imp_name = json_string_value(json_object_get(body, "importance"));
  if (imp_name) db_importance_parse(imp_name, &imp);
  if (status && strcmp(status, "open") == 0 && imp >= DB_IMP_ERROR) {
    size_t i;
    json_t *o;
    db_buf key = DB_BUF_INIT;
    json_array_foreach(json_object_get(body, "observations"), i, o) {
      const char *ind = json_string_value(json_object_get(o, "indicator"));
      const char *unit = json_string_value(json_object_get(o, "orgunit"));
      const char *period = json_string_value(json_object_get(o, "period"));
      if (!ind || !unit || !period) continue;
      cell_key(&key, ind, unit, period);
      db_map_puts(bad, db_buf_str(&key), 1);
    }
    db_buf_free(&key);
  }
  json_decref(body);
  return 0;
}

int db_supply_mark_invalid(db_store *s, const db_catalog *cat, db_supply_cell *cells, size_t n) {
  db_map bad = DB_MAP_INIT;
  int rc = db_store_record_scan(s, DB_VIOLATION_KIND, invalid_violation, &bad);
  db_buf key = DB_BUF_INIT;
  for (size_t i = 0; i < n && !rc; i++) {
    char code[DB_PERIOD_CODE_MAX];
    db_period_format(&cells[i].period, code);
    cell_key(&key, cat->indicators[cells[i].indicator].code, cat->units[cells[i].unit].code, code);
    cells[i].invalid = cells[i].received_ms && db_map_gets(&bad, db_buf_str(&key), NULL);
  }
  db_buf_free(&key);
  db_map_free(&bad);
  return rc;
}

/* ---- aggregation ---- */

int db_supply_by_parse(const char *s, db_supply_by *out) {
  static const char *const names[] = {NULL, "obligation", "agency", "orgunit", "indicator", "group", "period"};
  for (int i = DB_BY_OBLIGATION; i <= DB_BY_PERIOD; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (db_supply_by)i;
      return 0;
    }
  return DB_EINVAL;
}

typedef struct rows_out {
  db_supply_row *items;
  size_t n, cap;
  db_map index;
} rows_out;

static db_supply_row *row_for(rows_out *ro, const char *key) {
  int64_t at;
  if (db_map_gets(&ro->index, key, &at)) return &ro->items[at];
  if (ro->n == ro->cap) {
    ro->cap = ro->cap ? 2 * ro->cap : 32;
    ro->items = db_realloc(ro->items, ro->cap * sizeof *ro->items);
  }
  db_map_puts(&ro->index, key, (int64_t)ro->n);
  ro->items[ro->n] = (db_supply_row){.key = db_strdup(key)};
  return &ro->items[ro->n++];
}

static void count_cell(db_supply_row *r, const db_supply_cell *c) {
  if (!c->owed) {
    r->pending++;
    return;
  }
  r->expected++;
  if (c->received_ms) r->received++;
  if (c->state == DB_CELL_ON_TIME) r->on_time++;
  if (c->state == DB_CELL_LATE) {
    r->late++;
    r->days_late += c->days_late;
  }
  if (c->invalid) r->invalid++;
}

static int compare_rows(const void *a, const void *b) {
  return strcmp(((const db_supply_row *)a)->key, ((const db_supply_row *)b)->key);
}

/* Ranks rows by score, best first; ties share the best rank; rows without a score get 0. */
static void rank_rows(db_supply_row *rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(rows[i].score)) continue;
    int64_t better = 0;
    for (size_t k = 0; k < n; k++) better += !isnan(rows[k].score) && rows[k].score > rows[i].score;
    rows[i].rank = better + 1;
  }
}

void db_supply_aggregate(const db_catalog *cat, const db_obligation *ob, const db_supply_cell *cells, size_t n,
                         db_supply_by by, db_supply_row **out, size_t *n_out) {
  rows_out ro = {0};
  char code[DB_PERIOD_CODE_MAX];
  for (size_t i = 0; i < n; i++) {
    const db_supply_cell *c = &cells[i];
    const db_indicator *ind = &cat->indicators[c->indicator];
    switch (by) {
      case DB_BY_OBLIGATION: count_cell(row_for(&ro, ob[c->obligation].code), c); break;
      case DB_BY_AGENCY: count_cell(row_for(&ro, ob[c->obligation].agency), c); break;
      case DB_BY_ORGUNIT: count_cell(row_for(&ro, cat->units[c->unit].code), c); break;
      case DB_BY_INDICATOR: count_cell(row_for(&ro, ind->code), c); break;
      case DB_BY_PERIOD:
        db_period_format(&c->period, code);
        count_cell(row_for(&ro, code), c);
        break;
      case DB_BY_GROUP:
        for (const char *p = ind->groups; p && *p;) {
          const char *end = strchr(p, ';');
          char *g = db_strndup(p, end ? (size_t)(end - p) : strlen(p));
          if (*g) count_cell(row_for(&ro, g), c);
          db_free(g);
          p = end ? end + 1 : NULL;
        }
        break;
    }
  }
  for (size_t i = 0; i < ro.n; i++) {
    db_supply_row *r = &ro.items[i];
    r->missing = r->expected - r->received;
    r->completeness = r->expected ? (double)r->received / (double)r->expected : NAN;
    r->timeliness = r->expected ? (double)r->on_time / (double)r->expected : NAN;
    r->validity = r->received ? (double)(r->received - r->invalid) / (double)r->received : NAN;
    r->score = r->expected ? 100.0 * (r->completeness + r->timeliness + (isnan(r->validity) ? 0 : r->validity)) / 3
                           : NAN;
  }
  if (ro.n) qsort(ro.items, ro.n, sizeof *ro.items, compare_rows);
  rank_rows(ro.items, ro.n);
  db_map_free(&ro.index);
  *out = ro.items;
  *n_out = ro.n;
}

void db_supply_rows_free(db_supply_row *rows, size_t n) {
  for (size_t i = 0; rows && i < n; i++) db_free(rows[i].key);
  db_free(rows);
}
