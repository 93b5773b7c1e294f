/* quality_int.h - what the files of the quality module share (names db__*): compiled validation rules,
 * the definitions as JSON, code and deadline syntax, and small helpers on days and cells. */
#ifndef DB_QUALITY_INT_H
#define DB_QUALITY_INT_H
#include <jansson.h>

#include "formula/formula.h"
#include "quality/quality.h"

/* A rule ready to judge: either two number sides compared with op within the tolerance, or one boolean
 * formula (whole). deps are the indicator codes it reads (owned), ptype/span its periodicity. */
typedef struct db__rule_compiled {
  db_formula *whole, *lhs, *rhs;
  db_ftok op;
  char **deps;
  size_t n_deps;
  db_period_type ptype;
  int span;
} db__rule_compiled;

/* Compiles r->formula against cat (see quality.h, rules): 0 or DB_EINVAL with formula problems in d
 * (positions relative to the whole text). */
int db__rule_compile(const db_rule *r, const db_catalog *cat, db__rule_compiled *out, db_diag *d);
void db__rule_compiled_free(db__rule_compiled *c);

/* 1 when a definition code is well formed (1..64 of A-Z a-z 0-9 _ - .). */
int db__quality_code_ok(const char *s);
/* "5 working days" / "10 days" into days and working: 0 or DB_EINVAL. */
int db__quality_parse_deadline(const char *s, int *days, int *working);
/* The definitions as JSON objects with their ids (new references). */
json_t *db__obligation_to_json(const db_obligation *o);
json_t *db__rule_to_json(const db_rule *r);

/* The city-time day (days since 1970-01-01) of a UTC instant, and the last day of a period. */
int64_t db__day_of_ms(int64_t ms);
int64_t db__period_last_day(const db_period *p);

/* A new owned C string from a jansson-allocated one (freed). */
char *db__json_take(char *s);

#endif
