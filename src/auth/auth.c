/* auth.c - roles and permissions (contract in auth.h): role names, what each role may do, org-unit
 * scopes through the catalog's hierarchy, and the rule of who may write which series.
 *
 * The permission table below is the one place that says which role holds which permission; the HTTP
 * route table names a permission per route, and the e2e permission matrix is generated from both. */
#include "auth/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

static const char *const role_names[DB_ROLE_COUNT] = {"public", "analyst", "reporter",
                                                      "leader", "steward", "admin"};

/* allowed[role] has bit `perm` set when the role holds the permission. */
#define BIT(p) (1u << (p))
static const unsigned allowed[DB_ROLE_COUNT] = {
    [DB_ROLE_PUBLIC] = BIT(DB_PERM_PUBLIC),
    [DB_ROLE_ANALYST] = BIT(DB_PERM_PUBLIC) | BIT(DB_PERM_READ),
    [DB_ROLE_REPORTER] = BIT(DB_PERM_PUBLIC) | BIT(DB_PERM_READ) | BIT(DB_PERM_WRITE_DATA),
    [DB_ROLE_LEADER] = BIT(DB_PERM_PUBLIC) | BIT(DB_PERM_READ) | BIT(DB_PERM_DIRECT),
    [DB_ROLE_STEWARD] = BIT(DB_PERM_PUBLIC) | BIT(DB_PERM_READ) | BIT(DB_PERM_WRITE_DATA) |
                        BIT(DB_PERM_WRITE_CATALOG) | BIT(DB_PERM_APPROVE),
    [DB_ROLE_ADMIN] = BIT(DB_PERM_PUBLIC) | BIT(DB_PERM_READ) | BIT(DB_PERM_WRITE_DATA) |
                      BIT(DB_PERM_WRITE_CATALOG) | BIT(DB_PERM_ADMIN) | BIT(DB_PERM_DIRECT) |
                      BIT(DB_PERM_APPROVE),
};
#undef BIT

const char *db_role_name(db_role r) { return r >= 0 && r < DB_ROLE_COUNT ? role_names[r] : "unknown"; }

/* Role names match ignoring ASCII case. */
int db_role_parse(const char *s, db_role *r) {
  for (int i = 0; s && i < DB_ROLE_COUNT; i++)
    if (strcasecmp(s, role_names[i]) == 0) {
      *r = (db_role)i;
      return DB_OK;
    }
  return DB_EINVAL;
}

void db_principal_anonymous(db_principal *p) {
  memset(p, 0, sizeof *p);
  p->role = DB_ROLE_PUBLIC;
  snprintf(p->name, sizeof p->name, "anonymous");
}

int db_auth_allows(const db_principal *p, db_perm perm) {
  if (p->role < 0 || p->role >= DB_ROLE_COUNT || perm < DB_PERM_PUBLIC || perm >= DB_PERM_COUNT) return 0;
  return (allowed[p->role] >> perm) & 1u;
}

/* The index of the parent of unit i: from the arrays of db_catalog_link when the catalog is linked,
 * else through the parent's code; -1 for a root or an unknown parent. */
static int64_t parent_of(const db_catalog *cat, size_t i) {
  if (cat->unit_parent) return cat->unit_parent[i];
  const db_orgunit *up = cat->units[i].parent ? db_catalog_unit(cat, cat->units[i].parent) : NULL;
  return up ? (int64_t)(up - cat->units) : -1;
}

/* Walks up from the unit to the root (at most n_units steps, so a cyclic unlinked catalog ends). */
int db_auth_in_scope(const db_principal *p, const db_catalog *cat, const char *code) {
  if (!p->scope[0]) return 1;
  const db_orgunit *u = code ? db_catalog_unit(cat, code) : NULL;
  const db_orgunit *top = db_catalog_unit(cat, p->scope);
  if (!u || !top) return 0;
  int64_t i = u - cat->units, want = top - cat->units;
  for (size_t steps = 0; i >= 0 && steps <= cat->n_units; steps++) {
    if (i == want) return 1;
    i = parent_of(cat, (size_t)i);
  }
  return 0;
}

int db_auth_may_write(const db_principal *p, const db_catalog *cat, const db_indicator *ind,
                      const char *unit_code, const char **why) {
  const char *no = NULL;
  if (p->role == DB_ROLE_STEWARD || p->role == DB_ROLE_ADMIN)
    no = NULL;
  else if (p->role != DB_ROLE_REPORTER)
    no = "this role may not write data";
  else if (!ind)
    no = "unknown indicator";
  else if (!p->agency[0] || !ind->owner || strcmp(ind->owner, p->agency) != 0)
    no = "the indicator is not owned by the caller's agency";
  else if (!db_auth_in_scope(p, cat, unit_code))
    no = "the org unit is outside the caller's scope";
  if (why) *why = no;
  return no == NULL;
}
