/* parse.c - the formula parser (contract in formula.h): tokens to a tree by precedence climbing, with
 * the first syntax error reported at its token and both the recursion of the parser and the depth of
 * the tree bounded by DB_FORMULA_MAX_DEPTH (so that no later walk of the tree can exhaust the stack). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "formula/formula_int.h"

typedef struct parser {
  db_formula *f;
  const db_ftoken *toks;
  size_t i;
  int depth; /* active parse_expr calls */
  db_diag *d;
  int failed;
} parser;

static db__fnode *parse_expr(parser *p, int min_prec);
static db__fnode *parse_prefix(parser *p);
static db__fnode *parse_primary(parser *p);
static db__fnode *parse_call(parser *p, const db_ftoken *name);
static db__fnode *parse_ref(parser *p, const db_ftoken *name);
static int parse_selection(parser *p, db__fnode *ref);
static int misplaced(parser *p);
static int precedence(db_ftok t);
static int is_comparison(db_ftok t);
static db__fnode *node(parser *p, db__fnode_kind kind, const db_ftoken *at, db__fpos start, size_t n_args);
static char *text_of(parser *p, const db_ftoken *t);
static db__fnode *fail(parser *p, const db_ftoken *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *found(const parser *p, const db_ftoken *t, char buf[40]);

enum { PREC_OR = 1, PREC_AND, PREC_NOT, PREC_CMP, PREC_ADD, PREC_MUL, PREC_UNARY, PREC_POW };

int db_formula_parse(const char *text, size_t len, db_formula **out, db_diag *d) {
  *out = NULL;
  db_ftoken *toks;
  size_t n;
  int rc = db_formula_lex(text, len, &toks, &n, d);
  if (rc) return rc;
  db_formula *f = db_calloc(1, sizeof *f);
  f->text = db_strndup(text, len);
  f->len = len;
  f->multiline = memchr(text, '\n', len) != NULL;
  parser p = {f, toks, 0, 0, d, 0};
  if (toks[0].kind == DB_FTOK_END) {
    fail(&p, &toks[0], "empty formula");
  } else {
    f->root = parse_expr(&p, PREC_OR);
    if (f->root && p.toks[p.i].kind != DB_FTOK_END && !misplaced(&p)) {
      char buf[40];
      fail(&p, &p.toks[p.i], "expected an operator or the end of the formula, found %s",
           found(&p, &p.toks[p.i], buf));
    }
  }
  db_free(toks);
  if (p.failed) {
    db_formula_free(f);
    return DB_EINVAL;
  }
  *out = f;
  return 0;
}

/* An expression of operators binding at least as tightly as min_prec. NULL after a problem. */
static db__fnode *parse_expr(parser *p, int min_prec) {
  if (++p->depth > DB_FORMULA_MAX_DEPTH) {
    p->depth--;
    return fail(p, &p->toks[p->i], "formula nested deeper than %d levels", DB_FORMULA_MAX_DEPTH);
  }
  db__fnode *left = parse_prefix(p);
  int compared = 0; /* left is a comparison made at this level: another one would chain */
  while (left) {
    const db_ftoken *op = &p->toks[p->i];
    int prec = precedence(op->kind);
    if (!prec || prec < min_prec) {
      if (misplaced(p)) left = NULL;
      break;
    }
    if (compared && is_comparison(op->kind)) {
      left = fail(p, op, "comparisons do not chain: combine them with 'and'");
      break;
    }
    p->i++;
    db__fnode *right = parse_expr(p, op->kind == DB_FTOK_CARET ? prec : prec + 1);
    if (!right) {
      left = NULL;
      break;
    }
    db__fnode *bin = node(p, DB__N_BIN, op, left->start, 2);
    bin->op = op->kind;
    bin->args[0] = left;
    bin->args[1] = right;
    bin->depth = 1 + (left->depth > right->depth ? left->depth : right->depth);
    if (bin->depth > DB_FORMULA_MAX_DEPTH)
      bin = fail(p, op, "formula nested deeper than %d levels", DB_FORMULA_MAX_DEPTH);
    left = bin;
    compared = is_comparison(op->kind);
  }
  p->depth--;
  return left;
}

/* Prefix operators ('not', unary '-' and '+') and what they apply to. */
static db__fnode *parse_prefix(parser *p) {
  const db_ftoken *t = &p->toks[p->i];
  if (t->kind != DB_FTOK_NOT && t->kind != DB_FTOK_MINUS && t->kind != DB_FTOK_PLUS) return parse_primary(p);
  p->i++;
  db__fnode *operand = parse_expr(p, t->kind == DB_FTOK_NOT ? PREC_CMP : PREC_POW);
  if (!operand || t->kind == DB_FTOK_PLUS) return operand;
  db__fnode *n =
      node(p, t->kind == DB_FTOK_NOT ? DB__N_NOT : DB__N_NEG, t, (db__fpos){t->line, t->column}, 1);
  n->args[0] = operand;
  n->depth = operand->depth + 1;
  if (n->depth > DB_FORMULA_MAX_DEPTH)
    return fail(p, t, "formula nested deeper than %d levels", DB_FORMULA_MAX_DEPTH);
  return n;
}

/* A number, a parenthesised expression, a call or an indicator reference. */
static db__fnode *parse_primary(parser *p) {
  const db_ftoken *t = &p->toks[p->i];
  char buf[40];
  switch (t->kind) {
    case DB_FTOK_NUMBER: {
      p->i++;
      db__fnode *n = node(p, DB__N_NUM, t, (db__fpos){t->line, t->column}, 0);
      n->num = t->number;
      return n;
    }
    case DB_FTOK_NAME:
      p->i++;
      return p->toks[p->i].kind == DB_FTOK_LPAREN ? parse_call(p, t) : parse_ref(p, t);
    case DB_FTOK_LPAREN: {
      p->i++;
      db__fnode *inner = parse_expr(p, PREC_OR);
      if (!inner) return NULL;
      if (p->toks[p->i].kind != DB_FTOK_RPAREN) {
        if (misplaced(p)) return NULL;
        return fail(p, &p->toks[p->i], "expected ')' to close the '(' at column %d, found %s", t->column,
                    found(p, &p->toks[p->i], buf));
      }
      p->i++;
      inner->start = (db__fpos){t->line, t->column};
      return inner;
    }
    case DB_FTOK_ASSIGN:
      return fail(p, t, "'=' selects a dimension item inside [...]; write '==' to compare");
    default:
      return fail(p, t, "expected a value, found %s", found(p, t, buf));
  }
}

/* name '(' [expr {',' expr}] ')' */
static db__fnode *parse_call(parser *p, const db_ftoken *name) {
  const db_ftoken *open = &p->toks[p->i++];
  db__fnode **args = NULL, *call = NULL;
  size_t n = 0, cap = 0;
  char buf[40];
  if (p->toks[p->i].kind == DB_FTOK_RPAREN) {
    p->i++;
  } else {
    for (;;) {
      if (n == cap) args = db_realloc(args, (cap = cap ? 2 * cap : 8) * sizeof *args);
      if (!(args[n] = parse_expr(p, PREC_OR))) goto done;
      n++;
      const db_ftoken *t = &p->toks[p->i++];
      if (t->kind == DB_FTOK_RPAREN) break;
      if (t->kind == DB_FTOK_COMMA) continue;
      p->i--;
      if (!misplaced(p))
        fail(p, t, "expected ',' or ')' after argument %zu of %.*s (opened at column %d), found %s", n,
             (int)name->len, p->f->text + name->offset, open->column, found(p, t, buf));
      goto done;
    }
  }
  call = node(p, DB__N_CALL, name, (db__fpos){name->line, name->column}, n);
  call->name = text_of(p, name);
  int depth = 0;
  for (size_t k = 0; k < n; k++) {
    call->args[k] = args[k];
    if (args[k]->depth > depth) depth = args[k]->depth;
  }
  call->depth = depth + 1;
  if (call->depth > DB_FORMULA_MAX_DEPTH)
    call = fail(p, name, "formula nested deeper than %d levels", DB_FORMULA_MAX_DEPTH);
done:
  db_free(args);
  return call;
}

/* name ['[' DIM=ITEM {',' DIM=ITEM} ']'] ['@' CODE] */
static db__fnode *parse_ref(parser *p, const db_ftoken *name) {
  db__fnode *ref = node(p, DB__N_REF, name, (db__fpos){name->line, name->column}, 0);
  ref->name = text_of(p, name);
  if (p->toks[p->i].kind == DB_FTOK_LBRACKET && parse_selection(p, ref)) return NULL;
  if (p->toks[p->i].kind == DB_FTOK_AT) {
    const db_ftoken *code = &p->toks[++p->i]; /* the lexer puts a code after every '@' */
    p->i++;
    ref->unit = text_of(p, code);
    ref->unit_pos = (db__fpos){code->line, code->column};
  }
  return ref;
}

/* The selection after an indicator code, from its '['. 0, or DB_EINVAL after a problem. */
static int parse_selection(parser *p, db__fnode *ref) {
  const db_ftoken *open = &p->toks[p->i++];
  db__fsel *sel = NULL;
  size_t n = 0, cap = 0;
  char buf[40];
  int rc = DB_EINVAL;
  for (;;) {
    const db_ftoken *dim = &p->toks[p->i];
    if (dim->kind != DB_FTOK_NAME) {
      fail(p, dim, "expected a dimension code in the selection opened at column %d, found %s", open->column,
           found(p, dim, buf));
      goto done;
    }
    if (p->toks[p->i + 1].kind != DB_FTOK_ASSIGN) {
      fail(p, &p->toks[p->i + 1], "expected '=' after dimension %.*s, found %s", (int)dim->len,
           p->f->text + dim->offset, found(p, &p->toks[p->i + 1], buf));
      goto done;
    }
    const db_ftoken *item = &p->toks[p->i + 2]; /* the lexer puts a code after every '=' */
    if (n == cap) sel = db_realloc(sel, (cap = cap ? 2 * cap : 4) * sizeof *sel);
    sel[n++] =
        (db__fsel){text_of(p, dim), text_of(p, item), {dim->line, dim->column}, {item->line, item->column}};
    p->i += 3;
    const db_ftoken *t = &p->toks[p->i++];
    if (t->kind == DB_FTOK_RBRACKET) break;
    if (t->kind == DB_FTOK_COMMA) continue;
    fail(p, t, "expected ',' or ']' in the selection opened at column %d, found %s", open->column,
         found(p, t, buf));
    goto done;
  }
  ref->sel = db__farena_alloc(&p->f->arena, n * sizeof *sel);
  memcpy(ref->sel, sel, n * sizeof *sel);
  ref->n_sel = n;
  rc = 0;
done:
  db_free(sel);
  return rc;
}

/* When the current token is one that may only follow an indicator code, reports it and returns 1. */
static int misplaced(parser *p) {
  const db_ftoken *t = &p->toks[p->i];
  if (t->kind == DB_FTOK_AT)
    fail(p, t, "'@' pins an indicator to a unit: write it right after the indicator code");
  else if (t->kind == DB_FTOK_LBRACKET)
    fail(p, t, "'[' selects dimension items: write it right after the indicator code");
  else if (t->kind == DB_FTOK_ASSIGN)
    fail(p, t, "'=' selects a dimension item inside [...]; write '==' to compare");
  else
    return 0;
  return 1;
}

/* Binding power of a binary operator; 0 for any other token. */
static int precedence(db_ftok t) {
  switch (t) {
    case DB_FTOK_OR:
      return PREC_OR;
    case DB_FTOK_AND:
      return PREC_AND;
    case DB_FTOK_PLUS:
    case DB_FTOK_MINUS:
      return PREC_ADD;
    case DB_FTOK_STAR:
    case DB_FTOK_SLASH:
      return PREC_MUL;
    case DB_FTOK_CARET:
      return PREC_POW;
    default:
      return is_comparison(t) ? PREC_CMP : 0;
  }
}

static int is_comparison(db_ftok t) { return t >= DB_FTOK_LT && t <= DB_FTOK_GT; }

/* A new node with room for n_args operands, in the formula's arena. */
static db__fnode *node(parser *p, db__fnode_kind kind, const db_ftoken *at, db__fpos start, size_t n_args) {
  db__fnode *n = db__farena_alloc(&p->f->arena, sizeof *n);
  n->kind = kind;
  n->pos = (db__fpos){at->line, at->column};
  n->start = start;
  n->depth = 1;
  n->n_args = n_args;
  if (n_args) n->args = db__farena_alloc(&p->f->arena, n_args * sizeof *n->args);
  return n;
}

static char *text_of(parser *p, const db_ftoken *t) {
  return db__farena_strndup(&p->f->arena, p->f->text + t->offset, t->len);
}

/* Reports a syntax error at token t; returns NULL so that callers can return fail(...). */
static db__fnode *fail(parser *p, const db_ftoken *t, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db__formula_problem(p->d, p->f->multiline, (db__fpos){t->line, t->column}, DB_EINVAL, "%s",
                      db_buf_str(&msg));
  db_buf_free(&msg);
  p->failed = 1;
  return NULL;
}

/* How a token is shown in "found …": its text in quotes (cut after 24 bytes), or "end of formula". */
static const char *found(const parser *p, const db_ftoken *t, char buf[40]) {
  if (t->kind == DB_FTOK_END) return "end of formula";
  int n = t->len > 24 ? 24 : (int)t->len;
  snprintf(buf, 40, "'%.*s%s'", n, p->f->text + t->offset, t->len > 24 ? "..." : "");
  return buf;
}
