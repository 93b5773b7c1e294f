/* test_formula.c - the formula language as a user meets it: tokens, the tree that precedence gives,
 * syntax and type errors with their exact columns and messages, dependencies, periodicity, the
 * dependency graph of derived indicators (cycles refused with their path, the order of recomputation,
 * what a change affects), and the evaluation errors a caller can meet. Values on real grids are in the
 * golden cases (test_formula_golden.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "formula/formula.h"

/* ---- a small catalog ---- */
static db_catalog cat;

static void add_indicator(const char *code, db_period_type per, db_agg time, const char *dims) {
  db_indicator ind;
  db_indicator_init(&ind);
  ind.code = (char *)code;
  ind.periodicity = per;
  ind.period_span = per == DB_PT_MULTIYEAR ? 5 : 0;
  ind.agg_space = DB_AGG_SUM;
  ind.agg_time = time;
  ind.dimensions = (char *)dims;
  db_catalog_put_indicator(&cat, &ind);
}

static void add_dimension(const char *code, const char *a, const char *b) {
  db_dim_item items[2] = {{(char *)a, (char *)a}, {(char *)b, (char *)b}};
  db_dimension dim = {0, (char *)code, (char *)code, items, 2};
  db_catalog_put_dimension(&cat, &dim);
}

static void add_unit(const char *code) {
  db_orgunit ou;
  db_orgunit_init(&ou);
  ou.code = (char *)code;
  ou.kind = DB_OU_WARD;
  db_catalog_put_unit(&cat, &ou);
}

static int setup(void **state) {
  db_catalog_init(&cat);
  add_indicator("CPI", DB_PT_MONTH, DB_AGG_AVG, NULL);
  add_indicator("RETAIL", DB_PT_MONTH, DB_AGG_SUM, NULL);
  add_indicator("BUDGET_REV", DB_PT_MONTH, DB_AGG_SUM, NULL);
  add_indicator("POP", DB_PT_YEAR, DB_AGG_LAST, "SEX;AGE");
  add_indicator("LABOUR", DB_PT_MONTH, DB_AGG_LAST, "SEX;AGE");
  add_indicator("NOYTD", DB_PT_MONTH, DB_AGG_NONE, NULL);
  add_indicator("PLAN5", DB_PT_MULTIYEAR, DB_AGG_SUM, NULL);
  add_dimension("SEX", "F", "M");
  add_dimension("AGE", "Y0T14", "Y15T64");
  add_unit("79");
  add_unit("26734");
  return 0;
}

static int teardown(void **state) {
  db_catalog_free(&cat);
  return 0;
}

/* ---- helpers ---- */

/* The problems of d, each described as a user sees it, one per line. Static buffer. */
static const char *problems(const db_diag *d) {
  static char text[4096];
  db_buf b = DB_BUF_INIT;
  for (size_t k = 0; k < d->count; k++) {
    if (k) db_buf_putc(&b, '\n');
    db_formula_describe(&d->items[k], &b);
  }
  snprintf(text, sizeof text, "%s", db_buf_str(&b));
  db_buf_free(&b);
  return text;
}

/* Asserts that compiling text fails with exactly `expected` (problems joined by newlines). */
static void assert_refused(const char *text, int code, const char *expected) {
  db_diag d = DB_DIAG_INIT;
  db_formula *f = (db_formula *)1;
  int rc = db_formula_compile(text, strlen(text), &cat, &f, &d);
  if (rc != code || strcmp(problems(&d), expected) != 0)
    fail_msg("%s\n  got %d \"%s\"\n  expected %d \"%s\"", text, rc, problems(&d), code, expected);
  assert_null(f);
  db_diag_free(&d);
}

static db_formula *compile(const char *text) {
  db_diag d = DB_DIAG_INIT;
  db_formula *f;
  if (db_formula_compile(text, strlen(text), &cat, &f, &d)) fail_msg("%s: %s", text, problems(&d));
  db_diag_free(&d);
  return f;
}

/* The S-expression of a formula that parses. Static buffer. */
static const char *tree(const char *text) {
  static char out[1024];
  db_diag d = DB_DIAG_INIT;
  db_formula *f;
  if (db_formula_parse(text, strlen(text), &f, &d)) fail_msg("%s: %s", text, problems(&d));
  db_buf b = DB_BUF_INIT;
  db_formula_sexpr(f, &b);
  snprintf(out, sizeof out, "%s", db_buf_str(&b));
  db_buf_free(&b);
  db_formula_free(f);
  db_diag_free(&d);
  return out;
}

static char *repeat(const char *s, int n, const char *middle, const char *tail) {
  db_buf b = DB_BUF_INIT;
  for (int i = 0; i < n; i++) db_buf_puts(&b, s);
  db_buf_puts(&b, middle);
  for (int i = 0; i < n; i++) db_buf_puts(&b, tail);
  return db_buf_take(&b);
}

/* ---- lexer ---- */
static void test_lexer_tokens_and_columns(void **state) {
  const char *text = "CPI[SEX=F, AGE=Y0T14]@79 >= 1.5e2*(x_1)!=2 and not isnull(Y)";
  static const struct {
    db_ftok kind;
    const char *text;
    int column;
  } want[] = {
      {DB_FTOK_NAME, "CPI", 1},    {DB_FTOK_LBRACKET, "[", 4},    {DB_FTOK_NAME, "SEX", 5},
      {DB_FTOK_ASSIGN, "=", 8},    {DB_FTOK_CODE, "F", 9},        {DB_FTOK_COMMA, ",", 10},
      {DB_FTOK_NAME, "AGE", 12},   {DB_FTOK_ASSIGN, "=", 15},     {DB_FTOK_CODE, "Y0T14", 16},
      {DB_FTOK_RBRACKET, "]", 21}, {DB_FTOK_AT, "@", 22},         {DB_FTOK_CODE, "79", 23},
      {DB_FTOK_GE, ">=", 26},      {DB_FTOK_NUMBER, "1.5e2", 29}, {DB_FTOK_STAR, "*", 34},
      {DB_FTOK_LPAREN, "(", 35},   {DB_FTOK_NAME, "x_1", 36},     {DB_FTOK_RPAREN, ")", 39},
      {DB_FTOK_NE, "!=", 40},      {DB_FTOK_NUMBER, "2", 42},     {DB_FTOK_AND, "and", 44},
      {DB_FTOK_NOT, "not", 48},    {DB_FTOK_NAME, "isnull", 52},  {DB_FTOK_LPAREN, "(", 58},
      {DB_FTOK_NAME, "Y", 59},     {DB_FTOK_RPAREN, ")", 60},     {DB_FTOK_END, "", 61},
  };
  db_ftoken *toks;
  size_t n;
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_formula_lex(text, strlen(text), &toks, &n, &d), 0);
  assert_int_equal(n, sizeof want / sizeof want[0]);
  for (size_t k = 0; k < n; k++) {
    if (toks[k].kind != want[k].kind || toks[k].column != want[k].column || toks[k].line != 1 ||
        toks[k].len != strlen(want[k].text) || memcmp(text + toks[k].offset, want[k].text, toks[k].len) != 0)
      fail_msg("token %zu: kind %d column %d '%.*s', expected kind %d column %d '%s'", k, toks[k].kind,
               toks[k].column, (int)toks[k].len, text + toks[k].offset, want[k].kind, want[k].column,
               want[k].text);
  }
  assert_true(toks[13].number == 150);
  assert_true(toks[19].number == 2);
  db_free(toks);

  /* lines and columns restart after a line break; the comparison and unit tokens */
  text = "A <= B\n  or C@AQ_01 < 0.25E-1 == D > E";
  assert_int_equal(db_formula_lex(text, strlen(text), &toks, &n, &d), 0);
  assert_int_equal(n, 14);
  assert_int_equal(toks[1].kind, DB_FTOK_LE);
  assert_int_equal(toks[3].kind, DB_FTOK_OR);
  assert_int_equal(toks[3].line, 2);
  assert_int_equal(toks[3].column, 3);
  assert_int_equal(toks[6].kind, DB_FTOK_CODE);
  assert_int_equal(toks[6].len, 5);
  assert_int_equal(toks[7].kind, DB_FTOK_LT);
  assert_true(toks[8].number == 0.025);
  assert_int_equal(toks[9].kind, DB_FTOK_EQ);
  assert_int_equal(toks[11].kind, DB_FTOK_GT);
  assert_int_equal(toks[13].kind, DB_FTOK_END);
  db_free(toks);
  assert_int_equal(d.count, 0);
  assert_string_equal(db_ftok_name(DB_FTOK_LE), "'<='");
  assert_string_equal(db_ftok_name(DB_FTOK_END), "end of formula");
}

static void test_lexer_errors(void **state) {
  static const struct {
    const char *text, *problem;
  } cases[] = {
      {"1.", "column 1: malformed number '1.'"},
      {"2 * 1e+", "column 5: malformed number '1e+'"},
      {"12abc + 1", "column 1: malformed number '12abc'"},
      {"1.2.3", "column 1: malformed number '1.2.3'"},
      {"X + .5", "column 5: malformed number: write 0.5, not .5"},
      {"1e999", "column 1: number '1e999' is out of range"},
      {"CPI # 2", "column 5: unexpected character '#'"},
      {"!CPI", "column 1: unexpected character '!' (did you mean '!=' or 'not'?)"},
      {"A && B", "column 3: unexpected character '&' (write 'and')"},
      {"A || B", "column 3: unexpected character '|' (write 'or')"},
      {"X[SEX=\"F\"]", "column 6: '=' must be followed by a dimension item code"},
      {"'X'", "column 1: unexpected character ''' (formulas have no strings)"},
      {"CPI@ + 1", "column 4: '@' must be followed by an org unit code"},
      {"CPI@79.1", "column 7: unexpected character '.'"},
      {"Gi\xc3\xa1", "column 3: unexpected byte 0xC3"},
      {"A\n + $", "line 2, column 4: unexpected character '$'"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    assert_refused(cases[k].text, DB_EINVAL, cases[k].problem);

  /* a NUL byte is a byte like any other, not the end of the formula */
  db_diag d = DB_DIAG_INIT;
  db_formula *f;
  assert_int_equal(db_formula_parse("1 +\0 2", 6, &f, &d), DB_EINVAL);
  assert_string_equal(problems(&d), "column 4: unexpected byte 0x00");
  db_diag_free(&d);

  /* absurd length */
  size_t len = DB_FORMULA_MAX_LEN + 1;
  char *big = db_malloc(len);
  memset(big, '1', len);
  assert_int_equal(db_formula_parse(big, len, &f, &d), DB_ETOOBIG);
  assert_null(f);
  assert_string_equal(problems(&d), "formula is 65537 bytes long (at most 65536)");
  db_diag_free(&d);
  db_free(big);
}

/* ---- parser ---- */
static void test_precedence(void **state) {
  assert_string_equal(tree("1 + 2 * 3"), "(+ 1 (* 2 3))");
  assert_string_equal(tree("(1 + 2) * 3"), "(* (+ 1 2) 3)");
  assert_string_equal(tree("A - B - C"), "(- (- A B) C)");
  assert_string_equal(tree("A / B * C"), "(* (/ A B) C)");
  assert_string_equal(tree("2 ^ 3 ^ 2"), "(^ 2 (^ 3 2))");
  assert_string_equal(tree("-2 ^ 2"), "(neg (^ 2 2))");
  assert_string_equal(tree("2 ^ -1"), "(^ 2 (neg 1))");
  assert_string_equal(tree("-A * B"), "(* (neg A) B)");
  assert_string_equal(tree("+A - -B"), "(- A (neg B))");
  assert_string_equal(tree("A + 1 > B * 2"), "(> (+ A 1) (* B 2))");
  assert_string_equal(tree("not A > 1 and B < 2 or C == 3"), "(or (and (not (> A 1)) (< B 2)) (== C 3))");
  assert_string_equal(tree("A or B and C"), "(or A (and B C))");
  assert_string_equal(tree("not not A"), "(not (not A))");
  assert_string_equal(tree("100 * yoy(CPI[SEX=F, AGE=Y0T14]@79)"), "(* 100 (yoy CPI[SEX=F,AGE=Y0T14]@79))");
  assert_string_equal(tree("if(A >= 1, lag(A, 12), coalesce(B, 0))"),
                      "(if (>= A 1) (lag A 12) (coalesce B 0))");
  assert_string_equal(tree("f()"), "(f)");
  assert_string_equal(tree("0.25 + 1e3"), "(+ 0.25 1000)");
}

static void test_syntax_errors(void **state) {
  static const struct {
    const char *text, *problem;
  } cases[] = {
      {"", "column 1: empty formula"},
      {"  \n ", "line 2, column 2: empty formula"},
      {"1 +", "column 4: expected a value, found end of formula"},
      {"1 + * 2", "column 5: expected a value, found '*'"},
      {"(1 + 2", "column 7: expected ')' to close the '(' at column 1, found end of formula"},
      {"(1 + 2 3)", "column 8: expected ')' to close the '(' at column 1, found '3'"},
      {"yoy(CPI",
       "column 8: expected ',' or ')' after argument 1 of yoy (opened at column 4), found end of formula"},
      {"lag(CPI 12)",
       "column 9: expected ',' or ')' after argument 1 of lag (opened at column 4), found '12'"},
      {"min(A,)", "column 7: expected a value, found ')'"},
      {"1 < 2 < 3", "column 7: comparisons do not chain: combine them with 'and'"},
      {"A == B != C", "column 8: comparisons do not chain: combine them with 'and'"},
      {"CPI = 3", "column 5: '=' selects a dimension item inside [...]; write '==' to compare"},
      {"(CPI)@79", "column 6: '@' pins an indicator to a unit: write it right after the indicator code"},
      {"yoy(CPI)[SEX=F]", "column 9: '[' selects dimension items: write it right after the indicator code"},
      {"CPI@79[SEX=F]", "column 7: '[' selects dimension items: write it right after the indicator code"},
      {"(A + 1 @79", "column 8: '@' pins an indicator to a unit: write it right after the indicator code"},
      {"(A + B[SEX=F] @79", "column 18: expected ')' to close the '(' at column 1, found end of formula"},
      {"CPI 2", "column 5: expected an operator or the end of the formula, found '2'"},
      {"CPI VERY_LONG_NAME_OF_AN_INDICATOR_X",
       "column 5: expected an operator or the end of the formula, found "
       "'VERY_LONG_NAME_OF_AN_IND...'"},
      {"X[]", "column 3: expected a dimension code in the selection opened at column 2, found ']'"},
      {"X[SEX F]", "column 7: expected '=' after dimension SEX, found 'F'"},
      {"X[SEX=F AGE=Y0T14]",
       "column 9: expected ',' or ']' in the selection opened at column 2, found 'AGE'"},
      {"X[SEX=F", "column 8: expected ',' or ']' in the selection opened at column 2, found end of formula"},
      {"A +\n  )", "line 2, column 3: expected a value, found ')'"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    assert_refused(cases[k].text, DB_EINVAL, cases[k].problem);
}

static void test_depth_limits(void **state) {
  /* 256 levels of parentheses are fine, 257 are not: the error points at the 257th '(' */
  char *ok = repeat("(", 255, "1", ")");
  db_formula_free(compile(ok));
  db_free(ok);
  char *deep = repeat("(", 300, "1", ")");
  assert_refused(deep, DB_EINVAL, "column 257: formula nested deeper than 256 levels");
  db_free(deep);
  /* a long chain of operators makes a deep tree: the 256th '+' would make it 257 levels deep */
  char *chain = repeat("1+", 300, "1", "");
  assert_refused(chain, DB_EINVAL, "column 512: formula nested deeper than 256 levels");
  db_free(chain);
  char *minus = repeat("-", 300, "1", "");
  assert_refused(minus, DB_EINVAL, "column 257: formula nested deeper than 256 levels");
  db_free(minus);
  /* wide is fine: a call with 7000 arguments, a selection of 5000 items (each reported only while
   * the list of problems has room) */
  db_buf b = DB_BUF_INIT;
  db_buf_puts(&b, "coalesce(1 / 0, ");
  for (int i = 0; i < 7000; i++) db_buf_puts(&b, "RETAIL, ");
  db_buf_puts(&b, "7)");
  db_formula *f = compile(db_buf_str(&b));
  const char *const *deps;
  assert_int_equal(db_formula_deps(f, &deps), 1);
  db_formula_free(f);
  db_buf_clear(&b);
  db_buf_puts(&b, "LABOUR[SEX=F");
  for (int i = 0; i < 5000; i++) db_buf_puts(&b, ", SEX=M");
  db_buf_puts(&b, "]");
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_formula_compile(db_buf_str(&b), b.len, &cat, &f, &d), DB_EINVAL);
  assert_int_equal(db_diag_total(&d), 5000);
  assert_string_equal(d.items[0].message, "dimension SEX selected twice");
  db_diag_free(&d);
  db_buf_free(&b);
  char *calls = repeat("abs(", 300, "CPI", ")");
  assert_refused(calls, DB_EINVAL, "column 1025: formula nested deeper than 256 levels");
  db_free(calls);
}

/* ---- type checker ---- */
static void test_type_errors(void **state) {
  static const struct {
    const char *text, *problem;
  } cases[] = {
      {"RETAIL / 1000 + CPII", "column 17: unknown indicator 'CPII' (did you mean CPI?)"},
      {"100 * yoy(retail)", "column 11: unknown indicator 'retail' (did you mean RETAIL?)"},
      {"BUDGET_RVE", "column 1: unknown indicator 'BUDGET_RVE' (did you mean BUDGET_REV?)"},
      {"ZZZ + 1", "column 1: unknown indicator 'ZZZ'"},
      {"CPII + RETAL",
       "column 1: unknown indicator 'CPII' (did you mean CPI?)\n"
       "column 8: unknown indicator 'RETAL' (did you mean RETAIL?)"},
      {"yoyy(CPI)", "column 1: unknown function 'yoyy' (did you mean yoy?)"},
      {"YOY(CPI)", "column 1: unknown function 'YOY' (did you mean yoy?)"},
      {"pct_chnage(CPII)",
       "column 1: unknown function 'pct_chnage' (did you mean pct_change?)\n"
       "column 12: unknown indicator 'CPII' (did you mean CPI?)"},
      {"CPI(1)", "column 1: unknown function 'CPI' (CPI is an indicator: write it without (...))"},
      {"yoy + 1", "column 1: unknown indicator 'yoy' (yoy is a function: call it with (...))"},
      {"yoy(CPI, 2)", "column 1: yoy takes 1 argument, got 2"},
      {"lag(CPI)", "column 1: lag takes 2 arguments, got 1"},
      {"pct_change()", "column 1: pct_change takes 1 or 2 arguments, got 0"},
      {"min(CPI)", "column 1: min takes 2 or more arguments, got 1"},
      {"round(CPI, 1, 2)", "column 1: round takes 1 or 2 arguments, got 3"},
      {"if(CPI > 1, 2)", "column 1: if takes 3 arguments, got 2"},
      {"lag(CPI, 1.5)",
       "column 10: argument 2 of lag must be a constant whole number from -100000 to 100000"},
      {"lag(CPI, RETAIL)",
       "column 10: argument 2 of lag must be a constant whole number from -100000 to 100000"},
      {"lag(CPI, 100001)",
       "column 10: argument 2 of lag must be a constant whole number from -100000 to 100000"},
      {"pct_change(CPI, 0)",
       "column 17: argument 2 of pct_change must be a constant whole number from 1 to 100000"},
      {"round(CPI, 11)", "column 12: argument 2 of round must be a constant whole number from -10 to 10"},
      {"goalpost(CPI, 0, RETAIL)", "column 18: argument 3 of goalpost must be a constant number"},
      {"goalpost(CPI, 1 / 0, 5)", "column 15: argument 2 of goalpost must be a constant number"},
      {"goalpost(CPI, 5, 10 / 2)", "column 1: goalpost needs lo and hi to differ"},
      {"ytd(CPI + 1)", "column 5: ytd takes an indicator code, whose temporal rule says how periods add up"},
      {"plan(2)", "column 6: plan takes an indicator code, whose targets it reads"},
      {"ytd(NOYTD)", "column 5: indicator NOYTD has no temporal rule (sum, avg, last, min, max) for ytd"},
      {"plan(LABOUR[SEX=F])", "column 13: plan reads targets, which have no dimension items"},
      {"isnull(CPI) + 1", "column 13: '+' needs numbers, but its left side is a boolean"},
      {"1 * (CPI > 2)", "column 3: '*' needs numbers, but its right side is a boolean"},
      {"isnull(CPI) < 1", "column 13: '<' compares numbers, but its left side is a boolean"},
      {"CPI and RETAIL > 1", "column 5: 'and' needs booleans, but its left side is a number"},
      {"CPI > 1 or 2", "column 9: 'or' needs booleans, but its right side is a number"},
      {"not CPI", "column 1: 'not' needs a boolean, not a number"},
      {"-isnull(CPI)", "column 1: '-' needs a number, not a boolean"},
      {"if(CPI, 1, 2)",
       "column 4: argument 1 of if must be a boolean (a comparison, isnull(), and, or, not)"},
      {"if(CPI > 1, 1, CPI < 2)", "column 1: the branches of if must both be numbers or both be booleans"},
      {"yoy(CPI > 1)", "column 5: argument 1 of yoy must be a number, not a boolean"},
      {"coalesce(CPI, 0, isnull(CPI))", "column 18: argument 3 of coalesce must be a number, not a boolean"},
      {"CPI + POP[SEX=F]",
       "column 7: indicator POP is yearly but CPI (column 1) is monthly; one formula reads one "
       "periodicity"},
      {"PLAN5 - lag(CPI, 1)",
       "column 13: indicator CPI is monthly but PLAN5 (column 1) is 5-yearly; one formula "
       "reads one periodicity"},
      {"LABOUR[SEXX=F]", "column 8: unknown dimension 'SEXX' (did you mean SEX?)"},
      {"LABOUR[SEX=Q]", "column 12: unknown item 'Q' of dimension SEX"},
      {"LABOUR[AGE=Y0T15]", "column 12: unknown item 'Y0T15' of dimension AGE (did you mean Y0T14?)"},
      {"CPI[SEX=F]", "column 5: indicator CPI is not broken down by SEX"},
      {"LABOUR[SEX=F, SEX=M]", "column 15: dimension SEX selected twice"},
      {"CPI@790", "column 5: unknown org unit '790' (did you mean 79?)"},
      {"CPI@AQ01 + RETAIL@x", "column 5: unknown org unit 'AQ01'\ncolumn 19: unknown org unit 'x'"},
      {"CPII +\n  yoy(RETAIL, 1)",
       "line 1, column 1: unknown indicator 'CPII' (did you mean CPI?)\n"
       "line 2, column 3: yoy takes 1 argument, got 2"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    assert_refused(cases[k].text, DB_EINVAL, cases[k].problem);
}

static void test_types_dependencies_periodicity(void **state) {
  db_formula *f = compile("100 * ytd(RETAIL) / plan(RETAIL) + CPI@79 - lag(CPI, 12) + BUDGET_REV * 0");
  assert_int_equal(db_formula_type(f), DB_FT_NUMBER);
  const char *const *deps;
  assert_int_equal(db_formula_deps(f, &deps), 3);
  assert_string_equal(deps[0], "BUDGET_REV");
  assert_string_equal(deps[1], "CPI");
  assert_string_equal(deps[2], "RETAIL");
  db_period_type t;
  int span;
  assert_int_equal(db_formula_periodicity(f, &t, &span), 0);
  assert_int_equal(t, DB_PT_MONTH);
  assert_int_equal(span, 0);
  assert_string_equal(db_formula_text(f),
                      "100 * ytd(RETAIL) / plan(RETAIL) + CPI@79 - lag(CPI, 12) + BUDGET_REV * 0");
  db_formula_free(f);

  f = compile("2 * (3 + 4) / 0");
  assert_int_equal(db_formula_type(f), DB_FT_SCALAR);
  assert_int_equal(db_formula_deps(f, &deps), 0);
  assert_int_equal(db_formula_periodicity(f, &t, &span), DB_ENOTFOUND);
  db_formula_free(f);

  f = compile("CPI > 1 and not isnull(RETAIL) or 1 < 2");
  assert_int_equal(db_formula_type(f), DB_FT_BOOL);
  assert_string_equal(db_ftype_name(db_formula_type(f)), "boolean");
  db_formula_free(f);

  f = compile("if(CPI > 1, CPI > 2, isnull(CPI))");
  assert_int_equal(db_formula_type(f), DB_FT_BOOL);
  db_formula_free(f);

  /* plan() reads targets, whatever the indicator's periodicity: it sets none */
  f = compile("plan(POP) * 2");
  assert_int_equal(db_formula_periodicity(f, &t, &span), DB_ENOTFOUND);
  assert_int_equal(db_formula_deps(f, &deps), 1);
  assert_string_equal(deps[0], "POP");
  db_formula_free(f);
  f = compile("RETAIL / plan(POP)");
  assert_int_equal(db_formula_periodicity(f, &t, &span), 0);
  assert_int_equal(t, DB_PT_MONTH);
  db_formula_free(f);
  f = compile("PLAN5 * 2");
  assert_int_equal(db_formula_periodicity(f, &t, &span), 0);
  assert_int_equal(t, DB_PT_MULTIYEAR);
  assert_int_equal(span, 5);
  db_formula_free(f);

  /* a parsed formula checks against another catalog afresh */
  db_diag d = DB_DIAG_INIT;
  assert_int_equal(db_formula_parse("CPI + 1", 7, &f, &d), 0);
  assert_int_equal(db_formula_type(f), 0);
  db_catalog empty;
  db_catalog_init(&empty);
  assert_int_equal(db_formula_check(f, &empty, &d), DB_EINVAL);
  assert_string_equal(problems(&d), "column 1: unknown indicator 'CPI'");
  assert_int_equal(db_formula_type(f), 0);
  db_diag_clear(&d);
  assert_int_equal(db_formula_check(f, &cat, &d), 0);
  assert_int_equal(db_formula_type(f), DB_FT_NUMBER);
  db_catalog_free(&empty);
  db_formula_free(f);
  db_diag_free(&d);
}

/* ---- dependency graph ---- */
static int define(db_formula_graph *g, const char *code, const char *formula_deps, db_diag *d) {
  const char *deps[16];
  char copy[256];
  size_t n = 0;
  snprintf(copy, sizeof copy, "%s", formula_deps);
  for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) deps[n++] = tok;
  return db_formula_graph_define(g, code, deps, n, d);
}

static const char *joined(const char **codes, size_t n) {
  static char out[512];
  out[0] = '\0';
  for (size_t k = 0; k < n; k++) {
    strcat(out, k ? " " : "");
    strcat(out, codes[k]);
  }
  return out;
}

static const char *order(const db_formula_graph *g) {
  const char *codes[32];
  size_t n = db_formula_graph_order(g, codes, 32);
  return joined(codes, n);
}

static const char *affected(const db_formula_graph *g, const char *changed) {
  const char *list[16], *codes[32];
  char copy[256];
  size_t n = 0;
  snprintf(copy, sizeof copy, "%s", changed);
  for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) list[n++] = tok;
  size_t count = db_formula_graph_affected(g, list, n, codes, 32);
  return joined(codes, count);
}

static void test_graph(void **state) {
  db_formula_graph *g = db_formula_graph_new();
  db_diag d = DB_DIAG_INIT;
  /* E reads D and B, D reads A, A reads B and C; B and C are raw data */
  assert_int_equal(define(g, "E", "D B", &d), 0);
  assert_int_equal(define(g, "D", "A", &d), 0);
  assert_int_equal(define(g, "A", "B C B", &d), 0);
  assert_int_equal(define(g, "Z", "C", &d), 0);
  assert_string_equal(order(g), "A D E Z");
  assert_string_equal(affected(g, "B"), "A D E");
  assert_string_equal(affected(g, "C"), "A D E Z");
  assert_string_equal(affected(g, "A"), "D E");
  assert_string_equal(affected(g, "D"), "E");
  assert_string_equal(affected(g, "E"), "");
  assert_string_equal(affected(g, "UNKNOWN"), "");
  assert_string_equal(affected(g, "A E"), "D E"); /* E is listed: it reads A, which changed */
  assert_string_equal(affected(g, "D Z"), "E");

  /* cycles are refused with their shortest path, and change nothing */
  assert_int_equal(define(g, "A", "A", &d), DB_EINVAL);
  assert_int_equal(define(g, "B", "E", &d), DB_EINVAL);
  assert_int_equal(define(g, "C", "Z E", &d), DB_EINVAL);
  assert_int_equal(define(g, "B", "X Y D", &d), DB_EINVAL);
  assert_string_equal(problems(&d),
                      "dependency cycle A -> A\n"
                      "dependency cycle B -> E -> B\n"
                      "dependency cycle C -> Z -> C\n"
                      "dependency cycle B -> D -> A -> B");
  db_diag_clear(&d);
  assert_string_equal(order(g), "A D E Z");
  assert_string_equal(affected(g, "B"), "A D E");

  /* a redefinition replaces the dependencies: D now reads only C, so B no longer reaches D */
  assert_int_equal(define(g, "D", "C", &d), 0);
  assert_string_equal(order(g), "A D E Z");
  assert_string_equal(affected(g, "B"), "A E");
  assert_string_equal(affected(g, "A"), "");
  /* and a definition that was a cycle before may be fine now */
  assert_int_equal(define(g, "B", "D", &d), 0);
  assert_string_equal(order(g), "D B A E Z");
  assert_string_equal(affected(g, "C"), "D B A E Z");

  /* removing a formula makes the code raw data for its readers */
  assert_int_equal(db_formula_graph_remove(g, "B"), 0);
  assert_int_equal(db_formula_graph_remove(g, "B"), DB_ENOTFOUND);
  assert_int_equal(db_formula_graph_remove(g, "NOPE"), DB_ENOTFOUND);
  assert_string_equal(order(g), "A D E Z");
  assert_string_equal(affected(g, "B"), "A E");

  /* a short output array still gets the count */
  const char *two[2];
  assert_int_equal(db_formula_graph_order(g, two, 2), 4);
  assert_string_equal(two[1], "D");
  assert_int_equal(db_formula_graph_affected(g, (const char *[]){"C"}, 1, two, 0), 4);
  db_formula_graph_free(g);
  db_diag_free(&d);
}

static void test_graph_long_chain(void **state) {
  /* 20000 definitions, each reading the one before: orders are iterative, not recursive */
  enum { N = 20000 };
  db_formula_graph *g = db_formula_graph_new();
  db_diag d = DB_DIAG_INIT;
  char code[16], prev[16] = "RAW";
  for (int i = 0; i < N; i++) {
    snprintf(code, sizeof code, "D%05d", N - i); /* codes run against the order of dependencies */
    const char *deps[1] = {prev};
    assert_int_equal(db_formula_graph_define(g, code, deps, 1, &d), 0);
    memcpy(prev, code, sizeof code);
  }
  const char **all = db_malloc(N * sizeof *all);
  assert_int_equal(db_formula_graph_order(g, all, N), N);
  assert_string_equal(all[0], "D20000");
  assert_string_equal(all[N - 1], "D00001");
  assert_int_equal(db_formula_graph_affected(g, (const char *[]){"D00002"}, 1, all, N), 1);
  assert_string_equal(all[0], "D00001");
  const char *deps[1] = {"D00001"};
  assert_int_equal(db_formula_graph_define(g, "D20000", deps, 1, &d), DB_EINVAL);
  assert_int_equal(strncmp(d.items[0].message, "dependency cycle D20000 -> D00001 -> D00002 -> ", 47), 0);
  db_free(all);
  db_formula_graph_free(g);
  db_diag_free(&d);
}

/* ---- evaluation errors ---- */

/* A source where the value of every cell is 10 * unit + 1, whatever the period; unit 0 has children
 * 1 and 2, and the only pinnable code is "79" (unit 0). */
static int src_fetch(void *ctx, const db_formula_fetch *q, double *out, db_diag *d) {
  for (size_t u = 0; u < q->n_units; u++)
    for (size_t p = 0; p < q->n_periods; p++) out[u * q->n_periods + p] = 10.0 * (double)q->units[u] + 1;
  return 0;
}

static size_t src_children(void *ctx, int64_t unit, const int64_t **children) {
  static const int64_t kids[] = {1, 2};
  *children = kids;
  return unit == 0 ? 2 : 0;
}

static int src_unit(void *ctx, const char *code, int64_t *unit) {
  if (strcmp(code, "79") != 0) return DB_ENOTFOUND;
  *unit = 0;
  return 0;
}

static int src_failing_fetch(void *ctx, const db_formula_fetch *q, double *out, db_diag *d) {
  return db_diag_add(d, 0, 0, NULL, DB_ESTORE, "the store is gone");
}

/* Evaluates text on units 0..2 over n months from first; returns the code, the problems in *why. */
static int run(const db_formula_source *src, const char *text, const char *first, size_t n, size_t max_cells,
               double *out, const char **why) {
  static db_diag d = DB_DIAG_INIT;
  db_diag_clear(&d);
  db_formula *f = compile(text);
  static const int64_t units[] = {0, 1, 2};
  db_formula_grid grid = {units, 3, {0}, n, max_cells};
  char reason[128];
  assert_int_equal(db_period_parse(first, strlen(first), &grid.first, reason), 0);
  int rc = db_formula_eval(f, src, &grid, out, &d);
  *why = problems(&d);
  db_formula_free(f);
  return rc;
}

static void test_eval_errors(void **state) {
  db_formula_source src = {NULL, src_fetch, NULL, src_children, src_unit, NULL};
  double out[3 * 12];
  const char *why;
  /* unit 0: itself 1, its children 11 + 21, and itself pinned; unit 1 has no children: missing */
  assert_int_equal(run(&src, "CPI + sum_children(CPI) + CPI@79", "2024-01", 2, 0, out, &why), 0);
  assert_true(out[0] == 34 && out[1] == 34 && isnan(out[2]) && isnan(out[5]));
  /* periods before year 1 are missing, not an error */
  assert_int_equal(run(&src, "lag(CPI, 1) + 0 * CPI", "0001-01", 2, 0, out, &why), 0);
  assert_true(isnan(out[0]) && out[1] == 1);
  assert_int_equal(run(&src, "lag(PLAN5, 1)", "2021/P5Y", 2, 0, out, &why), 0);
  assert_true(out[0] == 1 && out[3] == 11);

  assert_int_equal(run(&src, "yoy(PLAN5)", "2021/P5Y", 2, 0, out, &why), DB_EINVAL);
  assert_string_equal(why, "column 1: yoy is not defined for multi-year periods");
  assert_int_equal(run(&src, "1 + ytd(PLAN5)", "2021/P5Y", 2, 0, out, &why), DB_EINVAL);
  assert_string_equal(why, "column 5: ytd is not defined for multi-year periods");
  assert_int_equal(run(&src, "CPI / plan(CPI)", "2024-01", 2, 0, out, &why), DB_EUNSUPPORTED);
  assert_string_equal(why, "column 7: the data source has no targets for plan()");
  assert_int_equal(run(&src, "CPI@26734", "2024-01", 2, 0, out, &why), DB_ENOTFOUND);
  assert_string_equal(why, "column 5: unknown org unit '26734'");
  assert_int_equal(run(&src, "yoy(CPI)", "2024-01", 2, 10, out, &why), DB_ETOOBIG);
  assert_string_equal(why, "column 5: evaluating this needs more than 10 cells of working memory");
  assert_int_equal(run(&src, "CPI", "9999-12", 2, 0, out, &why), DB_EINVAL);
  assert_string_equal(why, "2 periods from 9999-12 run off the calendar (years 1 to 9999)");

  db_formula_source bare = {NULL, src_fetch, NULL, NULL, NULL, NULL};
  assert_int_equal(run(&bare, "CPI@79", "2024-01", 2, 0, out, &why), DB_EUNSUPPORTED);
  assert_string_equal(why, "column 5: the data source cannot pin a unit (CPI@79)");
  assert_int_equal(run(&bare, "sum_children(CPI)", "2024-01", 1, 0, out, &why), 0);
  assert_true(isnan(out[0]) && isnan(out[1]) && isnan(out[2]));

  db_formula_source failing = {NULL, src_failing_fetch, NULL, NULL, NULL, NULL};
  assert_int_equal(run(&failing, "1 + yoy(CPI)", "2024-01", 2, 0, out, &why), DB_ESTORE);
  assert_string_equal(why, "the store is gone");

  /* an unchecked formula, and a grid with no cells */
  db_diag d = DB_DIAG_INIT;
  db_formula *f;
  assert_int_equal(db_formula_parse("CPI", 3, &f, &d), 0);
  int64_t unit = 0;
  db_formula_grid grid = {&unit, 1, {DB_PT_MONTH, 0, 2024 * 12}, 1, 0};
  assert_int_equal(db_formula_eval(f, &src, &grid, out, &d), DB_EINVAL);
  assert_string_equal(problems(&d), "the formula has not been checked");
  db_diag_clear(&d);
  assert_int_equal(db_formula_check(f, &cat, &d), 0);
  grid.n_periods = 0;
  assert_int_equal(db_formula_eval(f, &src, &grid, out, &d), 0);
  grid = (db_formula_grid){&unit, 1, {DB_PT_MONTH, 0, -5}, 1, 0};
  assert_int_equal(db_formula_eval(f, &src, &grid, out, &d), DB_EINVAL);
  assert_string_equal(problems(&d), "the grid's first period is not a valid period");
  db_formula_free(f);
  db_diag_free(&d);
}

/* A forecast source: the forecast of unit u for the period of month ordinal o is 1000 * u + o % 100 (its
 * 95% bounds 5 below and above it), it covers months from 2024-07 on only, and p_miss_target is 0.25 for
 * every period of 2024 and missing after. Each query is recorded. */
static db_formula_fc_query last_fc;
static char last_fc_indicator[32], last_fc_dimkey[32];

static int src_forecast(void *ctx, const db_formula_fc_query *q, double *out, db_diag *d) {
  last_fc = *q;
  snprintf(last_fc_indicator, sizeof last_fc_indicator, "%s", q->indicator);
  snprintf(last_fc_dimkey, sizeof last_fc_dimkey, "%s", q->dimkey);
  for (size_t u = 0; u < q->n_units; u++)
    for (size_t p = 0; p < q->n_periods; p++) {
      int64_t o = q->first.ord + (int64_t)p;
      double mean = 1000.0 * (double)q->units[u] + (double)(o % 100), *cell = &out[u * q->n_periods + p];
      if (q->what == DB_FORMULA_FC_P_MISS)
        *cell = o / 12 == 2024 ? 0.25 : NAN;
      else if (o >= 2024 * 12 + 6)
        *cell = mean + (q->what == DB_FORMULA_FC_LOWER ? -5 : q->what == DB_FORMULA_FC_UPPER ? 5 : 0);
    }
  return 0;
}

static void test_forecast_functions(void **state) {
  db_formula_source src = {NULL, src_fetch, NULL, src_children, src_unit, src_forecast};
  double out[3 * 12];
  const char *why;
  int64_t jul = 2024 * 12 + 6;
  /* forecast(X, 2) at June and July 2024 reads the forecasts of August and September */
  assert_int_equal(run(&src, "forecast(RETAIL, 2)", "2024-06", 2, 0, out, &why), 0);
  assert_int_equal(last_fc.what, DB_FORMULA_FC_MEAN);
  assert_int_equal(last_fc.first.ord, jul + 1);
  assert_int_equal(last_fc.n_periods, 2);
  assert_true(out[0] == (double)((jul + 1) % 100) && out[1] == (double)((jul + 2) % 100));
  assert_true(out[2] == 1000 + (double)((jul + 1) % 100) && out[5] == 2000 + (double)((jul + 2) % 100));
  /* h = 0: the forecast of the cell's own period; before the forecast starts it is missing */
  assert_int_equal(run(&src, "forecast(RETAIL, 0)", "2024-05", 3, 0, out, &why), 0);
  assert_true(isnan(out[0]) && isnan(out[1]) && out[2] == (double)(jul % 100));
  assert_int_equal(run(&src, "upper(RETAIL, 1) - lower(RETAIL, 1)", "2024-08", 1, 0, out, &why), 0);
  assert_true(out[0] == 10 && out[1] == 10 && out[2] == 10);
  assert_int_equal(last_fc.what, DB_FORMULA_FC_LOWER);
  /* a pinned unit and a dimension item reach the source as they are */
  assert_int_equal(run(&src, "forecast(LABOUR[SEX=F]@79, 1)", "2024-08", 1, 0, out, &why), 0);
  assert_string_equal(last_fc_indicator, "LABOUR");
  assert_string_equal(last_fc_dimkey, "SEX=F");
  assert_int_equal(last_fc.n_units, 1);
  assert_true(out[0] == (double)((jul + 2) % 100) && out[2] == out[0]);
  /* p_miss_target: per period, in arithmetic like any number */
  assert_int_equal(run(&src, "100 * p_miss_target(BUDGET_REV)", "2024-12", 2, 0, out, &why), 0);
  assert_int_equal(last_fc.what, DB_FORMULA_FC_P_MISS);
  assert_true(out[0] == 25 && isnan(out[1]));
  assert_int_equal(run(&src, "p_miss_target(PLAN5)", "2021/P5Y", 1, 0, out, &why), DB_EINVAL);
  assert_string_equal(why, "column 1: p_miss_target is not defined for multi-year periods");
  /* a source without forecasts */
  db_formula_source bare = {NULL, src_fetch, NULL, NULL, NULL, NULL};
  assert_int_equal(run(&bare, "1 + lower(CPI, 1)", "2024-01", 1, 0, out, &why), DB_EUNSUPPORTED);
  assert_string_equal(why, "column 5: the data source has no forecasts for lower()");
  /* the checker */
  assert_refused("forecast(CPI)", DB_EINVAL, "column 1: forecast takes 2 arguments, got 1");
  assert_refused("forecast(CPI + 1, 1)", DB_EINVAL,
                 "column 10: forecast takes an indicator code, whose forecast it reads");
  assert_refused("upper(CPI, -1)", DB_EINVAL,
                 "column 12: argument 2 of upper must be a constant whole number from 0 to 100000");
  assert_refused("p_miss_target(LABOUR[SEX=F])", DB_EINVAL,
                 "column 22: p_miss_target reads targets, which have no dimension items");
  assert_refused("forecast(CPI, 1) + POP", DB_EINVAL,
                 "column 20: indicator POP is yearly but CPI (column 10) is monthly; one formula reads one "
                 "periodicity");
  db_formula *f = compile("forecast(CPI, 1) > 2");
  assert_int_equal(db_formula_uses_forecast(f), 1);
  db_formula_free(f);
  f = compile("CPI > 2");
  assert_int_equal(db_formula_uses_forecast(f), 0);
  db_formula_free(f);
}

static void test_rounding_and_arithmetic(void **state) {
  db_formula_source src = {NULL, src_fetch, NULL, src_children, src_unit, NULL};
  double out[3 * 12];
  const char *why;
  static const struct {
    const char *text;
    double want; /* NAN: missing */
  } cases[] = {
      {"round(2.675, 2)", 2.68},
      {"round(-2.5)", -3},
      {"round(1234.5, -2)", 1200},
      {"round(1.005, 2)", 1.01},
      {"round(1e300, 2)", 1e300},
      {"1 / 0", NAN},
      {"0 / 0", NAN},
      {"2 ^ 1024", NAN},
      {"(-8) ^ (1 / 3)", NAN},
      {"1e308 * 10", NAN},
      {"abs(-3) + 2 ^ 3 ^ 2", 515},
      {"-2 ^ 2", -4},
      {"min(3, 1, 2) + max(1, 5, 2)", 6},
      {"coalesce(1 / 0, 0 / 0, 7)", 7},
      {"if(1 / 0 > 1, 1, 2)", NAN},
      {"if(isnull(1 / 0), 1, 2)", 1},
      {"if(1 / 0 > 1 and 1 > 2, 1, 2)", 2},
      {"if(1 / 0 > 1 or 2 > 1, 1, 2)", 1},
      {"if(1 / 0 > 1 or 1 > 2, 1, 2)", NAN},
      {"if(not (1 / 0 > 1), 1, 2)", NAN},
      {"max(1, 1 / 0)", NAN},
      {"goalpost(50, 0, 200)", 0.25},
      {"goalpost(250, 0, 200)", 1},
      {"goalpost(50, 100, 0)", 0.5},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    assert_int_equal(run(&src, cases[k].text, "2024-01", 1, 0, out, &why), 0);
    for (int u = 0; u < 3; u++)
      if (isnan(cases[k].want) ? !isnan(out[u]) : out[u] != cases[k].want)
        fail_msg("%s: got %.17g, expected %.17g", cases[k].text, out[u], cases[k].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lexer_tokens_and_columns),
      cmocka_unit_test(test_lexer_errors),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_depth_limits),
      cmocka_unit_test(test_type_errors),
      cmocka_unit_test(test_types_dependencies_periodicity),
      cmocka_unit_test(test_graph),
      cmocka_unit_test(test_graph_long_chain),
      cmocka_unit_test(test_eval_errors),
      cmocka_unit_test(test_forecast_functions),
      cmocka_unit_test(test_rounding_and_arithmetic),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
