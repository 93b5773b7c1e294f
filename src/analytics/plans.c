/* plans.c - the annual plans of analytics.h: targets of kind "plan" for a year, looked up by indicator
 * code, unit code and year. The key is the two codes, each followed by a NUL byte, then the year's eight
 * bytes; the map's value is the index of the plan's value. */
#include <math.h>
#include <string.h>

#include "analytics/analytics.h"
#include "base/map.h"
#include "base/mem.h"

struct db_analytics_plans {
  db_map index; /* key -> index into values */
  double *values;
  size_t n, cap;
};

/* The lookup key of (indicator, unit, year), in its own stack space unless it is long. */
typedef struct plan_key {
  char stack[160];
  char *p;
  size_t len;
} plan_key;

static void key_make(plan_key *k, const char *indicator, const char *unit, int64_t year) {
  size_t li = strlen(indicator) + 1, lu = strlen(unit) + 1;
  k->len = li + lu + sizeof year;
  k->p = k->len <= sizeof k->stack ? k->stack : db_malloc(k->len);
  memcpy(k->p, indicator, li);
  memcpy(k->p + li, unit, lu);
  memcpy(k->p + li + lu, &year, sizeof year);
}

static void key_free(plan_key *k) {
  if (k->p != k->stack) db_free(k->p);
}

db_analytics_plans *db_analytics_plans_new(void) { return db_calloc(1, sizeof(db_analytics_plans)); }

int db_analytics_plans_add(db_analytics_plans *p, const db_target *t) {
  db_period year;
  if (!t->kind || strcmp(t->kind, "plan") != 0 || !t->indicator || !t->orgunit || !t->period ||
      db_period_parse(t->period, strlen(t->period), &year, NULL) != 0 || year.type != DB_PT_YEAR)
    return 0;
  plan_key k;
  key_make(&k, t->indicator, t->orgunit, year.ord);
  int64_t at;
  if (!db_map_get(&p->index, k.p, k.len, &at)) {
    if (p->n == p->cap) {
      p->cap = p->cap ? 2 * p->cap : 64;
      p->values = db_realloc(p->values, p->cap * sizeof *p->values);
    }
    at = (int64_t)p->n++;
    db_map_put(&p->index, k.p, k.len, at);
  }
  p->values[at] = t->value;
  key_free(&k);
  return 1;
}

double db_analytics_plan(const db_analytics_plans *p, const char *indicator, const char *unit, int64_t year) {
  if (!p || !p->n) return NAN;
  plan_key k;
  key_make(&k, indicator, unit, year);
  int64_t at;
  double v = db_map_get(&p->index, k.p, k.len, &at) ? p->values[at] : NAN;
  key_free(&k);
  return v;
}

void db_analytics_plans_free(db_analytics_plans *p) {
  if (!p) return;
  db_map_free(&p->index);
  db_free(p->values);
  db_free(p);
}
