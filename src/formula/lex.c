/* lex.c - the formula lexer (contract in formula.h): bytes to tokens with their line and column, and
 * the first malformed token reported precisely. Two tokens take what follows them as a code rather
 * than as an expression: '@' (a unit code) and a single '=' (an item code inside a selection), because
 * codes such as "79" or "0_14" would otherwise read as numbers. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "formula/formula_int.h"

typedef struct lexer {
  const char *text;
  size_t len, i;
  int line, column; /* of text[i] */
  int multiline;
  db_ftoken *toks;
  size_t n, cap;
  db_diag *d;
} lexer;

static int lex_token(lexer *lx);
static int lex_number(lexer *lx, db_ftoken *t);
static int lex_code(lexer *lx, db_ftoken *t, int item);
static void skip_space(lexer *lx);
static int value_expected(const lexer *lx);
static db_ftoken *push(lexer *lx, db_ftok kind, size_t len);
static int fail_at(lexer *lx, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static const char *const TOKEN_NAMES[] = {
    [DB_FTOK_END] = "end of formula",
    [DB_FTOK_NUMBER] = "a number",
    [DB_FTOK_NAME] = "a name",
    [DB_FTOK_CODE] = "a code",
    [DB_FTOK_PLUS] = "'+'",
    [DB_FTOK_MINUS] = "'-'",
    [DB_FTOK_STAR] = "'*'",
    [DB_FTOK_SLASH] = "'/'",
    [DB_FTOK_CARET] = "'^'",
    [DB_FTOK_LT] = "'<'",
    [DB_FTOK_LE] = "'<='",
    [DB_FTOK_EQ] = "'=='",
    [DB_FTOK_NE] = "'!='",
    [DB_FTOK_GE] = "'>='",
    [DB_FTOK_GT] = "'>'",
    [DB_FTOK_AND] = "'and'",
    [DB_FTOK_OR] = "'or'",
    [DB_FTOK_NOT] = "'not'",
    [DB_FTOK_LPAREN] = "'('",
    [DB_FTOK_RPAREN] = "')'",
    [DB_FTOK_COMMA] = "','",
    [DB_FTOK_AT] = "'@'",
    [DB_FTOK_LBRACKET] = "'['",
    [DB_FTOK_RBRACKET] = "']'",
    [DB_FTOK_ASSIGN] = "'='",
};

const char *db_ftok_name(db_ftok kind) {
  if ((unsigned)kind < sizeof TOKEN_NAMES / sizeof TOKEN_NAMES[0]) return TOKEN_NAMES[kind];
  return "an unknown token";
}

int db_formula_lex(const char *text, size_t len, db_ftoken **tokens, size_t *n, db_diag *d) {
  *tokens = NULL;
  *n = 0;
  if (len > DB_FORMULA_MAX_LEN)
    return db_diag_add(d, 0, 0, NULL, DB_ETOOBIG, "formula is %zu bytes long (at most %d)", len,
                       DB_FORMULA_MAX_LEN);
  lexer lx = {text, len, 0, 1, 1, memchr(text, '\n', len) != NULL, NULL, 0, 0, d};
  for (;;) {
    skip_space(&lx);
    if (lx.i == lx.len) break;
    int rc = lex_token(&lx);
    if (rc) {
      db_free(lx.toks);
      return rc;
    }
  }
  push(&lx, DB_FTOK_END, 0);
  *tokens = lx.toks;
  *n = lx.n;
  return 0;
}

/* Lexes the token at lx->i (not a space). 0 or DB_EINVAL. */
static int lex_token(lexer *lx) {
  char c = lx->text[lx->i];
  char next = lx->i + 1 < lx->len ? lx->text[lx->i + 1] : '\0';
  if (isdigit((unsigned char)c)) return lex_number(lx, push(lx, DB_FTOK_NUMBER, 0));
  if (isalpha((unsigned char)c) || c == '_') {
    size_t k = lx->i;
    while (k < lx->len && (isalnum((unsigned char)lx->text[k]) || lx->text[k] == '_')) k++;
    size_t wl = k - lx->i;
    const char *w = lx->text + lx->i;
    db_ftok kind = DB_FTOK_NAME;
    if (wl == 3 && !memcmp(w, "and", 3)) kind = DB_FTOK_AND;
    if (wl == 2 && !memcmp(w, "or", 2)) kind = DB_FTOK_OR;
    if (wl == 3 && !memcmp(w, "not", 3)) kind = DB_FTOK_NOT;
    push(lx, kind, wl);
    return 0;
  }
  static const struct {
    char c, next;
    db_ftok kind;
  } ops[] = {{'<', '=', DB_FTOK_LE},     {'>', '=', DB_FTOK_GE},  {'=', '=', DB_FTOK_EQ},
             {'!', '=', DB_FTOK_NE},     {'+', 0, DB_FTOK_PLUS},  {'-', 0, DB_FTOK_MINUS},
             {'*', 0, DB_FTOK_STAR},     {'/', 0, DB_FTOK_SLASH}, {'^', 0, DB_FTOK_CARET},
             {'<', 0, DB_FTOK_LT},       {'>', 0, DB_FTOK_GT},    {'(', 0, DB_FTOK_LPAREN},
             {')', 0, DB_FTOK_RPAREN},   {',', 0, DB_FTOK_COMMA}, {'[', 0, DB_FTOK_LBRACKET},
             {']', 0, DB_FTOK_RBRACKET}, {'@', 0, DB_FTOK_AT},    {'=', 0, DB_FTOK_ASSIGN}};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    if (ops[k].c != c || (ops[k].next && ops[k].next != next)) continue;
    db_ftoken *t = push(lx, ops[k].kind, ops[k].next ? 2 : 1);
    if (ops[k].kind == DB_FTOK_AT) return lex_code(lx, t, 0);
    if (ops[k].kind == DB_FTOK_ASSIGN) return lex_code(lx, t, 1);
    return 0;
  }
  if (c == '!')
    return fail_at(lx, lx->line, lx->column, "unexpected character '!' (did you mean '!=' or 'not'?)");
  if (c == '&') return fail_at(lx, lx->line, lx->column, "unexpected character '&' (write 'and')");
  if (c == '|') return fail_at(lx, lx->line, lx->column, "unexpected character '|' (write 'or')");
  if (c == '.' && isdigit((unsigned char)next) && value_expected(lx))
    return fail_at(lx, lx->line, lx->column, "malformed number: write 0.%c, not .%c", next, next);
  if (c == '"' || c == '\'')
    return fail_at(lx, lx->line, lx->column, "unexpected character '%c' (formulas have no strings)", c);
  if (c > ' ' && c < 127) return fail_at(lx, lx->line, lx->column, "unexpected character '%c'", c);
  return fail_at(lx, lx->line, lx->column, "unexpected byte 0x%02X", (unsigned)(unsigned char)c);
}

/* Lexes a decimal number into t: digits, an optional fraction, an optional exponent, and nothing that
 * could continue a name or a number right after it. 0 or DB_EINVAL. */
static int lex_number(lexer *lx, db_ftoken *t) {
  const char *s = lx->text;
  size_t start = lx->i, k = start, n = lx->len;
  int ok = 1;
  while (k < n && isdigit((unsigned char)s[k])) k++;
  if (k < n && s[k] == '.') {
    k++;
    if (k == n || !isdigit((unsigned char)s[k])) ok = 0;
    while (k < n && isdigit((unsigned char)s[k])) k++;
  }
  if (ok && k < n && (s[k] == 'e' || s[k] == 'E')) {
    k++;
    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
    if (k == n || !isdigit((unsigned char)s[k])) ok = 0;
    while (k < n && isdigit((unsigned char)s[k])) k++;
  }
  if (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_' || s[k] == '.')) ok = 0;
  if (!ok) {
    while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_' || s[k] == '.')) k++;
    return fail_at(lx, t->line, t->column, "malformed number '%.*s'", (int)(k - start > 40 ? 40 : k - start),
                   s + start);
  }
  char *copy = db_strndup(s + start, k - start);
  t->number = strtod(copy, NULL);
  db_free(copy);
  if (!isfinite(t->number))
    return fail_at(lx, t->line, t->column, "number '%.*s' is out of range",
                   (int)(k - start > 40 ? 40 : k - start), s + start);
  t->len = k - start;
  lx->column += (int)(k - start);
  lx->i = k;
  return 0;
}

/* After '@' (item 0) or '=' (item 1) t: skips spaces and lexes the code that must follow. */
static int lex_code(lexer *lx, db_ftoken *t, int item) {
  int line = t->line, column = t->column;
  skip_space(lx);
  size_t k = lx->i;
  while (k < lx->len) {
    char c = lx->text[k];
    if (!(isalnum((unsigned char)c) || c == '_' || (item && (c == '.' || c == '-')))) break;
    k++;
  }
  if (k == lx->i)
    return fail_at(
        lx, line, column,
        item ? "'=' must be followed by a dimension item code" : "'@' must be followed by an org unit code");
  push(lx, DB_FTOK_CODE, k - lx->i);
  return 0;
}

/* 1 at the start and after an operator, '(', '[' or ',': where a number could begin. */
static int value_expected(const lexer *lx) {
  if (!lx->n) return 1;
  db_ftok last = lx->toks[lx->n - 1].kind;
  return last != DB_FTOK_NUMBER && last != DB_FTOK_NAME && last != DB_FTOK_CODE && last != DB_FTOK_RPAREN &&
         last != DB_FTOK_RBRACKET;
}

static void skip_space(lexer *lx) {
  while (lx->i < lx->len) {
    char c = lx->text[lx->i];
    if (c == '\n') {
      lx->line++;
      lx->column = 1;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      lx->column++;
    } else {
      return;
    }
    lx->i++;
  }
}

/* Appends a token of len bytes at the current position and moves past it. */
static db_ftoken *push(lexer *lx, db_ftok kind, size_t len) {
  if (lx->n == lx->cap) {
    lx->cap = lx->cap ? lx->cap * 2 : 16;
    lx->toks = db_realloc(lx->toks, lx->cap * sizeof *lx->toks);
  }
  db_ftoken *t = &lx->toks[lx->n++];
  *t = (db_ftoken){kind, lx->i, len, lx->line, lx->column, 0};
  lx->i += len;
  lx->column += (int)len;
  return t;
}

static int fail_at(lexer *lx, int line, int column, const char *fmt, ...) {
  db_buf msg = DB_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  db_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  db__formula_problem(lx->d, lx->multiline, (db__fpos){line, column}, DB_EINVAL, "%s", db_buf_str(&msg));
  db_buf_free(&msg);
  return DB_EINVAL;
}
