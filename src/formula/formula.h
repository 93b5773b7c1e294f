/* formula.h - the formula language of derived indicators, composite indices, validation rules and
 * alert conditions (DESIGN.md §5): lexer, parser, type checker, vectorised evaluator over an
 * [org unit × period] grid, and the dependency graph of derived indicators.
 *
 * The language, by example:
 *   100 * BUDGET_REV / plan(BUDGET_REV)       arithmetic (+ - * / ^) on indicators referenced by code
 *   yoy(CPI)  ytd(RETAIL)  lag(X, 12)  diff(X)  pct_change(X, 1)
 *   sum_children(X)  avg_children(X)  X@79 (pinned to unit 79)  X[SEX=F] (one dimension item)
 *   minmax(X)  zscore(X)  rank(X)  goalpost(X, 0, 100)         cross-section normalisers
 *   if(c, a, b)  coalesce(X, 0)  isnull(X)  min(a, b)  max(a, b)  abs(X)  round(X, 1)
 *   X > 10 and not isnull(Y)  or  < <= == != >= >
 * Precedence, loosest first: or; and; not; comparisons (which do not chain); + -; * /; unary - +;
 * ^ (right-associative, so -2^2 is -4). Names: indicator codes are written as in the catalog
 * ([A-Z][A-Z0-9_]*), function names in lower case; a name followed by '(' is a call. `X@CODE` pins an
 * indicator to one org unit (CODE of A-Z a-z 0-9 _), `X[DIM=ITEM, ...]` selects dimension items (items
 * of A-Z a-z 0-9 _ . -); a reference may carry both, selection first: `X[SEX=F]@79`. There are no strings.
 *
 * Types: a number grid, a boolean grid (1, 0 or missing) and a scalar constant (a number literal or
 * arithmetic on literals, folded when checked). Missing values are NAN: any arithmetic, comparison or
 * function on a missing value gives missing, and so do division by zero and any result that is not
 * finite (never inf). Exceptions, by design: coalesce() and isnull() look at missing values; `and`/`or`
 * follow three-valued logic (false and missing = false, true or missing = true); the normalisers skip
 * missing units. Functions:
 *   yoy(X)            100 * (X - X a year earlier) / X a year earlier. The year-earlier period is the
 *                     same month/quarter/half/year; for a week the same ISO week number of the previous
 *                     ISO year (week 53 only when that year has one, else missing); for a day (and a
 *                     sub-daily slot) the same calendar day (29 February has none: missing).
 *   ytd(X)            from the first period of the (ISO, for weeks) year up to the period, by X's
 *                     temporal rule: sum for flows, last for stocks, avg for rates, min, max. Missing
 *                     when any period of the year so far is missing (for a stock: when the period
 *                     itself is). X is an indicator reference.
 *   lag(X, n)         X n periods earlier (n a whole constant, |n| <= DB_FORMULA_MAX_LAG; < 0 leads).
 *   diff(X)           X - lag(X, 1).
 *   pct_change(X, n)  100 * (X - lag(X, n)) / lag(X, n); n defaults to 1 and is 1..DB_FORMULA_MAX_LAG.
 *   sum_children(X), avg_children(X)
 *                     over the children of each unit (the source's unit tree); missing when a child is
 *                     missing or there are no children (sum_children(coalesce(X, 0)) sums what exists).
 *   minmax(X)         (x - min) / (max - min) across the units of the grid at each period.
 *   zscore(X)         (x - mean) / sd across the units (population standard deviation).
 *   rank(X)           1 for the highest value across the units, ties share the best rank (1, 2, 2, 4).
 *   goalpost(X,lo,hi) (x - lo) / (hi - lo) clamped to [0, 1]; lo > hi scores lower values higher.
 *   if(c, a, b)       a where c is true, b where false, missing where c is missing.
 *   coalesce(X, v...) the first argument that is not missing.   isnull(X) true where X is missing.
 *   min(a, b...), max(a, b...), abs(X), round(X[, d]) (d whole, -10..10, half away from zero).
 *   plan(X)           the target of kind "plan" of indicator X for the unit and the year containing
 *                     the period (for a week, its ISO year). X is an indicator reference without
 *                     dimension items.
 *   forecast(X, h)    the stored forecast of X (outlook/outlook.h) for the period h periods after the cell's
 *                     (h a whole constant 0..DB_FORMULA_MAX_LAG): at the last observed period, forecast(X, 1)
 *                     is the next period's forecast; forecast(X, 0) shows the forecast over future periods.
 *                     Missing for periods the forecast does not cover (the observed past, beyond its
 *                     horizon) and for series without a forecast. X is an indicator reference.
 *   lower(X, h), upper(X, h)   the bounds of the same forecast's 95% prediction interval.
 *   p_miss_target(X)  the probability (0..1) that X misses its plan (plan(X)) for the year containing the
 *                     period, from the forecast of the rest of that year (outlook.h says how). Missing
 *                     when there is no plan, no forecast, or it cannot be said.
 * yoy, ytd, plan and p_miss_target need periods within a year (not multi-year plans). The indicators one formula reads
 * share one periodicity (plan() aside), which becomes the formula's (db_formula_periodicity).
 *
 * Positions: every problem carries the 1-based column of the token it is about (byte offset in its
 * line + 1). `line` is 0 for a one-line formula and the 1-based line otherwise. db_formula_describe
 * writes a problem as "column 17: unknown indicator 'CPII' (did you mean CPI?)".
 *
 * Ownership: a db_formula owns a copy of its text and everything it holds; strings it returns stay
 * valid until db_formula_free. The catalog given to db_formula_check is only read during the call.
 * Thread-safety: parsing and checking touch only their arguments; a checked formula is immutable, so
 * any number of threads may evaluate it at once, each with its own source, grid, output and db_diag. A
 * db_formula_graph is not thread-safe for writing; concurrent readers are fine. */
#ifndef DB_FORMULA_H
#define DB_FORMULA_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/diag.h"
#include "model/catalog.h"
#include "model/period.h"

#define DB_FORMULA_MAX_LEN 65536               /* bytes of formula text */
#define DB_FORMULA_MAX_DEPTH 256               /* nesting of the tree (parentheses, operators, calls) */
#define DB_FORMULA_MAX_LAG 100000              /* |n| of lag and pct_change */
#define DB_FORMULA_MAX_CELLS ((size_t)1 << 24) /* default working memory of one evaluation, in cells */

/* ---- lexer ---- */
typedef enum db_ftok {
  DB_FTOK_END = 0, /* end of the formula (always the last token) */
  DB_FTOK_NUMBER,  /* 12, 0.5, 1e3, 2.5E-2 (finite) */
  DB_FTOK_NAME,    /* an indicator code, a function or a dimension: [A-Za-z_][A-Za-z0-9_]* */
  DB_FTOK_CODE,    /* the unit code after '@' ([A-Za-z0-9_]+) or the item after '=' ([A-Za-z0-9_.-]+) */
  DB_FTOK_PLUS,
  DB_FTOK_MINUS,
  DB_FTOK_STAR,
  DB_FTOK_SLASH,
  DB_FTOK_CARET,
  DB_FTOK_LT,
  DB_FTOK_LE,
  DB_FTOK_EQ, /* == */
  DB_FTOK_NE,
  DB_FTOK_GE,
  DB_FTOK_GT,
  DB_FTOK_AND,
  DB_FTOK_OR,
  DB_FTOK_NOT,
  DB_FTOK_LPAREN,
  DB_FTOK_RPAREN,
  DB_FTOK_COMMA,
  DB_FTOK_AT,
  DB_FTOK_LBRACKET,
  DB_FTOK_RBRACKET,
  DB_FTOK_ASSIGN, /* a single '=' (dimension selections only) */
} db_ftok;

typedef struct db_ftoken {
  db_ftok kind;
  size_t offset, len; /* bytes of the token in the text */
  int line, column;   /* 1-based */
  double number;      /* DB_FTOK_NUMBER: its value */
} db_ftoken;

/* Splits text (len bytes, NUL bytes included) into tokens ending with one DB_FTOK_END, into a new
 * array *tokens (the caller frees it with db_free) of *n entries. Returns 0; DB_ETOOBIG when the text
 * is longer than DB_FORMULA_MAX_LEN; DB_EINVAL at the first malformed token ("unexpected character
 * '#'", "malformed number '1e'"), with one problem in d and *tokens NULL. */
int db_formula_lex(const char *text, size_t len, db_ftoken **tokens, size_t *n, db_diag *d);

/* How a token kind is named in messages ("'+'", "a number", "end of formula"). Never NULL. */
const char *db_ftok_name(db_ftok kind);

/* ---- parse and check ---- */
typedef enum db_ftype {
  DB_FT_NUMBER = 1, /* a number grid */
  DB_FT_BOOL,       /* a boolean grid */
  DB_FT_SCALAR,     /* a scalar constant */
} db_ftype;

typedef struct db_formula db_formula;

/* Parses text into a tree. Returns 0 and *out (free with db_formula_free); DB_ETOOBIG when the text is
 * too long; DB_EINVAL at the first syntax error (one problem in d with its position: "expected ')' to
 * close the '(' at column 4, found end of formula", "formula nested deeper than 256 levels"), *out NULL. */
int db_formula_parse(const char *text, size_t len, db_formula **out, db_diag *d);

/* Type-checks a parsed formula against the catalog: every indicator, function, dimension, item and unit
 * exists (unknown names come with "did you mean" when one is close), every function gets the right
 * number and kinds of arguments, operators get numbers or booleans as they need, and the indicators
 * read share one periodicity (plan() excepted). Reports every problem it finds, in text order. Returns
 * 0, or DB_EINVAL with the problems in d (the formula then cannot be evaluated). Checking again (against
 * another catalog) starts afresh. */
int db_formula_check(db_formula *f, const db_catalog *cat, db_diag *d);

/* db_formula_parse then db_formula_check: 0 and *out, or an error with *out NULL. */
int db_formula_compile(const char *text, size_t len, const db_catalog *cat, db_formula **out, db_diag *d);

void db_formula_free(db_formula *f);

/* The text as given (NUL-terminated). */
const char *db_formula_text(const db_formula *f);
/* The type of a checked formula; 0 before a successful check. */
db_ftype db_formula_type(const db_formula *f);
const char *db_ftype_name(db_ftype t); /* "number", "boolean", "constant" */
/* The distinct indicator codes a checked formula reads (plan() included), sorted; *codes points into
 * the formula. Returns how many. */
size_t db_formula_deps(const db_formula *f, const char *const **codes);
/* 1 when a checked formula calls forecast, lower, upper or p_miss_target (its values change when the
 * forecasts do), else 0. */
int db_formula_uses_forecast(const db_formula *f);
/* The periodicity of the indicators a checked formula reads: 0, or DB_ENOTFOUND when it reads none
 * (outside plan()). */
int db_formula_periodicity(const db_formula *f, db_period_type *type, int *span);
/* Writes the tree as an S-expression: "(+ 1 (* 2 (yoy CPI[SEX=F]@79)))"; "(neg X)", "(not c)". */
void db_formula_sexpr(const db_formula *f, db_buf *out);
/* Writes a problem with its position: "column 17: …" or "line 2, column 3: …". */
void db_formula_describe(const db_problem *p, db_buf *out);

/* ---- evaluation ---- */

/* One request for data: the values of `indicator` (a catalog code) with dimension key `dimkey` ("" for
 * none, else "AGE=Y15T64;SEX=F", pairs sorted by dimension code as the store keys series) for each of
 * units[0..n_units) over the n_periods periods starting at `first` (the grid's period type). */
typedef struct db_formula_fetch {
  const char *indicator;
  const char *dimkey;
  const int64_t *units;
  size_t n_units;
  db_period first;
  size_t n_periods;
} db_formula_fetch;

/* What a forecast function asks for: the forecast's mean, the bounds of its 95% interval, or the
 * probability of missing the plan of the period's year. */
typedef enum db_formula_fc_what {
  DB_FORMULA_FC_MEAN = 1,
  DB_FORMULA_FC_LOWER,
  DB_FORMULA_FC_UPPER,
  DB_FORMULA_FC_P_MISS,
} db_formula_fc_what;

/* A request for forecasts: `what` of `indicator` (dimension key `dimkey`) for units[0..n_units) at the
 * n_periods periods from `first` (for forecast(X, h), the cell's periods already moved h ahead). */
typedef struct db_formula_fc_query {
  db_formula_fc_what what;
  const char *indicator, *dimkey;
  const int64_t *units;
  size_t n_units;
  db_period first;
  size_t n_periods;
} db_formula_fc_query;

/* Where the data comes from; the caller implements it (the cube, a store reader, a test). Every
 * callback is called on the evaluating thread during db_formula_eval only, with `ctx`. Units are the
 * caller's handles (an index into its catalog, a store id): the evaluator only passes them back.
 * Callbacks return 0 or a DB_E* code (that code then ends the evaluation; a problem added to d says why). */
typedef struct db_formula_source {
  void *ctx;
  /* Fills out[u * q->n_periods + p] for every unit u and period p of q; out comes filled with NAN,
   * which is what a missing value stays. Periods of another type than the indicator's periodicity may
   * be asked for: the source aggregates them by the indicator's rules or leaves them missing. Values
   * that are not finite are read as missing. Required. */
  int (*fetch)(void *ctx, const db_formula_fetch *q, double *out, db_diag *d);
  /* Fills out[u * n_years + y] with the plan target of `indicator` for units[u] and year first_year + y
   * (out comes filled with NAN). NULL: plan() is an evaluation error. */
  int (*targets)(void *ctx, const char *indicator, const int64_t *units, size_t n_units, int64_t first_year,
                 size_t n_years, double *out, db_diag *d);
  /* The children of `unit` (for sum_children and avg_children): their count, and *children pointing at
   * them (valid until the next call). NULL: no unit has children. */
  size_t (*children)(void *ctx, int64_t unit, const int64_t **children);
  /* The handle of the unit with code `code` (for X@CODE): 0, or DB_ENOTFOUND. NULL: pinning is an
   * evaluation error. */
  int (*unit)(void *ctx, const char *code, int64_t *unit);
  /* Fills out[u * q->n_periods + p] (out comes filled with NAN) with forecasts (see db_formula_fc_query).
   * NULL: the forecast functions are an evaluation error. */
  int (*forecast)(void *ctx, const db_formula_fc_query *q, double *out, db_diag *d);
} db_formula_source;

/* The cells to compute: rows are units[0..n_units), columns the n_periods periods from `first`. */
typedef struct db_formula_grid {
  const int64_t *units;
  size_t n_units;
  db_period first;
  size_t n_periods;
  size_t max_cells; /* working memory allowed, in cells of 8 bytes; 0 = DB_FORMULA_MAX_CELLS */
} db_formula_grid;

/* Evaluates a checked formula on the grid into out[u * grid->n_periods + p] (booleans as 1, 0; missing
 * as NAN; a constant fills every cell). Time functions read the periods they need before or around the
 * grid (yoy a year back, ytd back to the start of the year, lag n back); the children functions read
 * the children of the grid's units; normalisers work across the grid's units (or the children, inside
 * sum_children and avg_children). Returns 0; DB_EINVAL for an unchecked formula, a period range off the
 * calendar or a function the period type does not have (yoy, ytd and plan on multi-year periods);
 * DB_ETOOBIG when more than max_cells cells are needed at once; DB_ENOTFOUND for a pinned unit the
 * source does not know; DB_EUNSUPPORTED for plan(), a pinned unit or a forecast function when the source has
 * no such callback; or a source's error code. Problems go to d with the column of the formula
 * they are about. Thread-safe for concurrent calls on one formula. */
int db_formula_eval(const db_formula *f, const db_formula_source *src, const db_formula_grid *grid,
                    double *out, db_diag *d);

/* ---- dependency graph of derived indicators ---- */
typedef struct db_formula_graph db_formula_graph;

db_formula_graph *db_formula_graph_new(void);
void db_formula_graph_free(db_formula_graph *g);

/* Defines (or redefines) the derived indicator `code` as reading the indicators deps[0..n_deps) (as
 * given by db_formula_deps; codes not defined here are raw data). Refuses a definition that closes a
 * cycle with DB_EINVAL and the problem "dependency cycle A -> B -> A" (the shortest cycle through
 * `code`), leaving the graph as it was. 0 otherwise. Strings are copied. */
int db_formula_graph_define(db_formula_graph *g, const char *code, const char *const *deps, size_t n_deps,
                            db_diag *d);
/* Forgets the formula of `code` (it becomes raw data to its dependents): 0 or DB_ENOTFOUND. */
int db_formula_graph_remove(db_formula_graph *g, const char *code);

/* The derived indicators in an order where each comes after every derived indicator it reads (depth
 * first from the codes in code order, each one's dependencies in code order), into out[0..max). Returns how
 * many there are (more than max: call again with a larger array). The strings belong to the graph and stay
 * valid until it is changed or freed. */
size_t db_formula_graph_order(const db_formula_graph *g, const char **out, size_t max);
/* The derived indicators that read, directly or through other derived indicators, any of
 * changed[0..n_changed), in the order of db_formula_graph_order: what to recompute when they change.
 * A changed code is listed itself only when it reads another changed code. Returns the count as above. */
size_t db_formula_graph_affected(const db_formula_graph *g, const char *const *changed, size_t n_changed,
                                 const char **out, size_t max);

#endif
