/* fuzz_period.c - libFuzzer target for the period codes of src/model/period.c.
 *
 * Arbitrary bytes go through db_period_parse and through db_period_parse_as for every type. A refused
 * code must come with a reason (a NUL-terminated, non-empty `why`); an accepted one must format to a
 * code that parses back to the same period, pack into a key that unpacks to it, and keep the basic
 * laws of the arithmetic (it starts before it ends, its successor sorts after it, it lies inside the
 * periods that contain it and its sub-periods start where it starts). The first 8 bytes are also
 * tried as a key and as an instant (db_period_at). Any broken law traps, so libFuzzer records the
 * input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "model/period.h"

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

static int same(const db_period *a, const db_period *b) {
  return a->type == b->type && a->span == b->span && a->ord == b->ord;
}

static void check_nesting(const db_period *p) {
  int64_t start = db_period_start_ms(p), end = db_period_end_ms(p);
  db_period c, subs[4];
  for (int t = DB_PT_MIN5; t <= DB_PT_MULTIYEAR; t++) {
    if (db_period_containing(p, (db_period_type)t, t == DB_PT_MULTIYEAR ? 5 : 0, &c) == DB_OK)
      CHECK(db_period_key(&c) > 0 && ((p->type == DB_PT_WEEK && t != DB_PT_WEEK) ||
                                      (db_period_start_ms(&c) <= start && end <= db_period_end_ms(&c))));
    int64_t n = db_period_subperiods(p, (db_period_type)t, subs, 4);
    CHECK(n == DB_EINVAL || n >= 1);
    if (n >= 1 && !(p->type >= DB_PT_YEAR && t == DB_PT_WEEK))
      CHECK(db_period_start_ms(&subs[0]) == start && db_period_compare(&subs[0], p) <= 0);
  }
}

static void check_period(const db_period *p) {
  char code[DB_PERIOD_CODE_MAX], why[128];
  int n = db_period_format(p, code);
  CHECK(n > 0 && n < DB_PERIOD_CODE_MAX && strlen(code) == (size_t)n);
  db_period back;
  CHECK(db_period_parse_as(code, (size_t)n, p->type, p->span, &back, why) == DB_OK && same(&back, p));
  int64_t key = db_period_key(p);
  CHECK(key > 0 && db_period_from_key(key, &back) == DB_OK && same(&back, p));
  CHECK(db_period_start_ms(p) < db_period_end_ms(p) && db_period_compare(p, p) == 0);
  db_period next = db_period_add(p, 1);
  if (db_period_key(&next)) /* 0 when the successor falls off the calendar */
    CHECK(db_period_compare(p, &next) < 0 && db_period_key(&next) > key && db_period_diff(p, &next) == 1 &&
          db_period_end_ms(p) == db_period_start_ms(&next));
  check_nesting(p);
}

/* Runs one parse: on success checks the period, on failure the reason. */
static void check_parse(int rc, const db_period *p, const char *why) {
  if (rc == DB_OK) {
    check_period(p);
    return;
  }
  CHECK(rc == DB_EINVAL && why[0] != '\0' && memchr(why, '\0', 128) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *code = (const char *)data;
  db_period p;
  char why[128];
  memset(why, 0, sizeof why);
  check_parse(db_period_parse(code, size, &p, why), &p, why);
  for (int t = DB_PT_MIN5; t <= DB_PT_MULTIYEAR; t++) {
    for (int span = 0; span <= (t == DB_PT_MULTIYEAR ? 5 : 0); span += 5) {
      memset(why, 0, sizeof why);
      int rc = db_period_parse_as(code, size, (db_period_type)t, span, &p, why);
      check_parse(rc, &p, why);
      CHECK(rc != DB_OK || ((int)p.type == t && (!span || p.span == span)));
    }
  }
  if (size >= 8) {
    int64_t word;
    memcpy(&word, data, sizeof word);
    if (db_period_from_key(word, &p) == DB_OK) {
      CHECK(db_period_key(&p) == word);
      check_period(&p);
    }
    for (int t = DB_PT_MIN5; t <= DB_PT_MULTIYEAR; t++) { /* the same word as an instant */
      p = db_period_at((db_period_type)t, t == DB_PT_MULTIYEAR ? 5 : 0, word);
      if (!db_period_key(&p)) continue; /* off the calendar */
      CHECK(db_period_start_ms(&p) <= word && word < db_period_end_ms(&p));
      check_period(&p);
    }
  }
  return 0;
}
