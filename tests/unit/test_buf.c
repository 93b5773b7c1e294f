/* test_buf.c - the byte buffer, and above all db_buf_double, which every export and API answer uses to
 * write numbers: the shortest text that reads back to the same double, identical to the reference
 * (%.15g, then 16 and 17 digits) that its fast paths must never differ from. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "testutil.h"

/* The reference: the shortest of %.15g, %.16g and %.17g that reads back to v. */
static void reference(double v, char out[40]) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, 40, "%.*g", prec, v);
    if (strtod(out, NULL) == v) return;
  }
}

static void check(double v) {
  db_buf b = DB_BUF_INIT;
  db_buf_double(&b, v);
  char want[40];
  reference(v, want);
  assert_string_equal(db_buf_str(&b), want);
  assert_true(strtod(db_buf_str(&b), NULL) == v);
  db_buf_free(&b);
}

static void test_double_known_values(void **state) {
  const double values[] = {0,      -0.0,   1,     -1,       1200.5, 2.25,  -3.75, 0.001, 0.000999, 0.1,
                           0.3,    0.1 + 0.2, 1e-4, 1e15,   1e15 + 2, 9007199254740993.0, 123456789.123,
                           2.941689806077207, 1e300, -1e-300, 5e-324, 999999999999999.9};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) check(values[i]);
  db_buf b = DB_BUF_INIT;
  db_buf_double(&b, 1200.5);
  db_buf_putc(&b, ',');
  db_buf_double(&b, -0.25);
  assert_string_equal(db_buf_str(&b), "1200.5,-0.25");
  db_buf_free(&b);
}

/* Random values of every magnitude, whole, with few decimals and with full precision. */
static void test_double_random_values(void **state) {
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double mag = pow(10, (double)(x % 20) - 4), r = (double)(x >> 11) / 9007199254740992.0 * mag;
    switch (x % 4) {
      case 0: check(r); break;
      case 1: check(round(r * 100) / 100); break;
      case 2: check(-round(r * 10) / 10); break;
      default: check(round(r)); break;
    }
  }
}

static void test_csv_field_quoting(void **state) {
  db_buf b = DB_BUF_INIT;
  db_buf_csv_field(&b, "plain");
  db_buf_putc(&b, ',');
  db_buf_csv_field(&b, "Consumer price index, year on year");
  db_buf_putc(&b, ',');
  db_buf_csv_field(&b, "say \"hi\"");
  assert_string_equal(db_buf_str(&b), "plain,\"Consumer price index, year on year\",\"say \"\"hi\"\"\"");
  db_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_double_known_values),
      cmocka_unit_test(test_double_random_values),
      cmocka_unit_test(test_csv_field_quoting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
