/* formula_int.h - what the files of src/formula share and nobody else may use: the tree, the arena it
 * lives in, the function table and the arithmetic that both constant folding and evaluation apply.
 *
 * A db_formula owns one arena; every node and string of its tree is allocated there and released with
 * the formula in one step. */
#ifndef DB_FORMULA_INT_H
#define DB_FORMULA_INT_H
#include <stddef.h>

#include "formula/formula.h"
#include "model/catalog.h"

/* ---- arena ---- */
typedef struct db__fblock db__fblock;
typedef struct db__farena {
  db__fblock *head;
} db__farena;

/* Zeroed memory for n bytes, aligned for any object; aborts when memory runs out (base/mem.h). */
void *db__farena_alloc(db__farena *a, size_t n);
char *db__farena_strndup(db__farena *a, const char *s, size_t n);
void db__farena_free(db__farena *a);

/* ---- tree ---- */
typedef enum db__fnode_kind {
  DB__N_NUM = 1, /* a number literal */
  DB__N_REF,     /* an indicator reference, with optional selection and unit */
  DB__N_NEG,     /* unary minus (unary plus leaves no node) */
  DB__N_NOT,
  DB__N_BIN, /* a binary operator: op is its token */
  DB__N_CALL,
} db__fnode_kind;

typedef struct db__fpos {
  int line, column;
} db__fpos;

typedef struct db__fsel { /* one DIM=ITEM of a selection */
  char *dim, *item;
  db__fpos dim_pos, item_pos;
} db__fsel;

typedef struct db__fnode {
  db__fnode_kind kind;
  db_ftok op;     /* DB__N_BIN */
  db__fpos pos;   /* the token naming the node: the operator, the function or indicator name */
  db__fpos start; /* the first token of the node's text */
  int depth;      /* 1 for a leaf */
  double num;     /* DB__N_NUM: the literal; after check, the value of any DB_FT_SCALAR node */
  char *name;     /* DB__N_REF: indicator code; DB__N_CALL: function name */
  char *unit;     /* DB__N_REF: pinned unit code, or NULL */
  db__fpos unit_pos;
  db__fsel *sel; /* DB__N_REF: the selection as written */
  size_t n_sel;
  struct db__fnode **args; /* DB__N_NEG/NOT: 1, DB__N_BIN: 2, DB__N_CALL: the arguments */
  size_t n_args;
  /* filled by the checker */
  db_ftype type;
  int fn;             /* DB__N_CALL: the function (db__ffn) */
  const char *dimkey; /* DB__N_REF: canonical dimension key, "" for none */
  db_agg agg_time;    /* DB__N_REF: the indicator's temporal rule */
} db__fnode;

struct db_formula {
  db__farena arena;
  char *text;
  size_t len;
  int multiline; /* the text has a line break: problems then carry their line */
  db__fnode *root;
  db_ftype type; /* 0 until checked */
  const char **deps;
  size_t n_deps;
  int uses_forecast; /* calls forecast, lower, upper or p_miss_target */
  int has_periodicity;
  db_period_type periodicity;
  int span;
};

/* Adds a problem at pos of formula text (line only when the text is multi-line); returns code. */
int db__formula_problem(db_diag *d, int multiline, db__fpos pos, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- functions ---- */
typedef enum db__ffn {
  DB__F_YOY,
  DB__F_YTD,
  DB__F_LAG,
  DB__F_DIFF,
  DB__F_PCT_CHANGE,
  DB__F_SUM_CHILDREN,
  DB__F_AVG_CHILDREN,
  DB__F_MINMAX,
  DB__F_ZSCORE,
  DB__F_RANK,
  DB__F_GOALPOST,
  DB__F_IF,
  DB__F_COALESCE,
  DB__F_ISNULL,
  DB__F_MIN,
  DB__F_MAX,
  DB__F_ABS,
  DB__F_ROUND,
  DB__F_PLAN,
  DB__F_FORECAST,
  DB__F_LOWER,
  DB__F_UPPER,
  DB__F_P_MISS_TARGET,
  DB__F_COUNT
} db__ffn;

/* The result of a binary arithmetic or comparison operator on two numbers: missing (NAN) for a missing
 * operand, division by zero and any result that is not finite; comparisons give 1 or 0. Shared by
 * constant folding and evaluation. */
double db__farith(db_ftok op, double a, double b);
/* Rounds x to d decimals (d < 0: to tens, hundreds…), half away from zero. */
double db__fround(double x, int d);

#endif
