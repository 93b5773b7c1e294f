/* graph.c - the dependency graph of derived indicators (contract in formula.h).
 *
 * Nodes are indicator codes, derived (defined here with the codes they read) or raw (only read). A
 * definition is refused when it closes a cycle, which is found before anything changes: a cycle through
 * `code` can only run through nodes already in the graph, so a breadth-first search from the new
 * dependencies back to `code` finds the shortest one. Orders are depth-first from the derived codes in
 * code order, dependencies first, so they are the same for the same definitions. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"
#include "base/mem.h"
#include "formula/formula.h"

typedef struct gnode {
  const char *code; /* the index's own copy */
  int derived;
  size_t *deps; /* node indices, sorted by code */
  size_t n_deps;
} gnode;

struct db_formula_graph {
  db_map index; /* code -> node index */
  gnode *nodes;
  size_t n, cap;
};

static int find_cycle(const db_formula_graph *g, size_t target, const size_t *deps, size_t n_deps,
                      db_buf *path);
static size_t topo(const db_formula_graph *g, size_t **order);
static size_t node_of(db_formula_graph *g, const char *code);
static int lookup(const db_formula_graph *g, const char *code, size_t *i);

typedef struct coded { /* a node with its code, for sorting by code */
  const char *code;
  size_t i;
} coded;

static int by_code(const void *a, const void *b) {
  return strcmp(((const coded *)a)->code, ((const coded *)b)->code);
}

db_formula_graph *db_formula_graph_new(void) { return db_calloc(1, sizeof(db_formula_graph)); }

void db_formula_graph_free(db_formula_graph *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n; i++) db_free(g->nodes[i].deps);
  db_free(g->nodes);
  db_map_free(&g->index);
  db_free(g);
}

int db_formula_graph_define(db_formula_graph *g, const char *code, const char *const *deps, size_t n_deps,
                            db_diag *d) {
  /* the dependencies already in the graph: only they can lead back to code */
  size_t *known = db_malloc((n_deps ? n_deps : 1) * sizeof *known), n_known = 0, self;
  int has_self = lookup(g, code, &self);
  for (size_t k = 0; k < n_deps; k++)
    if (lookup(g, deps[k], &known[n_known])) n_known++;
  db_buf path = DB_BUF_INIT;
  int cyclic = 0;
  for (size_t k = 0; k < n_deps && !cyclic; k++) cyclic = strcmp(deps[k], code) == 0;
  if (cyclic)
    db_buf_printf(&path, "%s -> %s", code, code);
  else if (has_self)
    cyclic = find_cycle(g, self, known, n_known, &path);
  db_free(known);
  if (cyclic) {
    db_diag_add(d, 0, 0, NULL, DB_EINVAL, "dependency cycle %s", db_buf_str(&path));
    db_buf_free(&path);
    return DB_EINVAL;
  }
  size_t c = node_of(g, code);
  coded *sorted = db_malloc((n_deps ? n_deps : 1) * sizeof *sorted);
  for (size_t k = 0; k < n_deps; k++) {
    size_t i = node_of(g, deps[k]);
    sorted[k] = (coded){g->nodes[i].code, i};
  }
  qsort(sorted, n_deps, sizeof *sorted, by_code);
  size_t *list = db_malloc((n_deps ? n_deps : 1) * sizeof *list), n = 0;
  for (size_t k = 0; k < n_deps; k++)
    if (!n || list[n - 1] != sorted[k].i) list[n++] = sorted[k].i;
  db_free(sorted);
  gnode *node = &g->nodes[c];
  db_free(node->deps);
  node->deps = list;
  node->n_deps = n;
  node->derived = 1;
  return 0;
}

int db_formula_graph_remove(db_formula_graph *g, const char *code) {
  size_t i;
  if (!lookup(g, code, &i) || !g->nodes[i].derived) return DB_ENOTFOUND;
  gnode *node = &g->nodes[i];
  db_free(node->deps);
  node->deps = NULL;
  node->n_deps = 0;
  node->derived = 0;
  return 0;
}

size_t db_formula_graph_order(const db_formula_graph *g, const char **out, size_t max) {
  size_t *order, n = topo(g, &order);
  for (size_t k = 0; k < n && k < max; k++) out[k] = g->nodes[order[k]].code;
  db_free(order);
  return n;
}

/* One pass in topological order: a derived node is affected when one of its dependencies changed or
 * is affected, and every dependency comes before it. */
size_t db_formula_graph_affected(const db_formula_graph *g, const char *const *changed, size_t n_changed,
                                 const char **out, size_t max) {
  unsigned char *mark = db_calloc(g->n ? g->n : 1, 1); /* 1 changed, 2 affected */
  for (size_t k = 0; k < n_changed; k++) {
    size_t i;
    if (lookup(g, changed[k], &i)) mark[i] = 1;
  }
  size_t *order, n = topo(g, &order), count = 0;
  for (size_t k = 0; k < n; k++) {
    const gnode *node = &g->nodes[order[k]];
    size_t j = 0;
    while (j < node->n_deps && !mark[node->deps[j]]) j++;
    if (j == node->n_deps) continue;
    mark[order[k]] = mark[order[k]] ? mark[order[k]] : 2;
    if (count < max) out[count] = node->code;
    count++;
  }
  db_free(order);
  db_free(mark);
  return count;
}

/* Whether target is reachable from deps through derived nodes; if so writes the shortest cycle
 * "target -> d -> … -> target" into path and returns 1. */
static int find_cycle(const db_formula_graph *g, size_t target, const size_t *deps, size_t n_deps,
                      db_buf *path) {
  size_t *parent = db_malloc(g->n * sizeof *parent), *queue = db_malloc(g->n * sizeof *queue);
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < g->n; i++) parent[i] = SIZE_MAX; /* unvisited */
  for (size_t k = 0; k < n_deps; k++) {
    if (parent[deps[k]] != SIZE_MAX) continue;
    parent[deps[k]] = deps[k]; /* a start points at itself */
    queue[tail++] = deps[k];
  }
  int found = 0;
  while (head < tail && !found) {
    size_t x = queue[head++];
    if (x == target) {
      found = 1;
      break;
    }
    for (size_t k = 0; k < g->nodes[x].n_deps; k++) {
      size_t y = g->nodes[x].deps[k];
      if (parent[y] != SIZE_MAX) continue;
      parent[y] = x;
      queue[tail++] = y;
    }
  }
  if (found) { /* walk back from target to its start, then print forwards */
    size_t len = 0;
    for (size_t x = target;; x = parent[x]) {
      queue[len++] = x;
      if (parent[x] == x) break;
    }
    db_buf_puts(path, g->nodes[target].code);
    while (len) db_buf_printf(path, " -> %s", g->nodes[queue[--len]].code);
  }
  db_free(queue);
  db_free(parent);
  return found;
}

/* The derived nodes, dependencies first, into a new array *order; returns how many. Iterative, so that
 * a long chain of definitions cannot exhaust the stack. */
static size_t topo(const db_formula_graph *g, size_t **order) {
  coded *roots = db_malloc((g->n ? g->n : 1) * sizeof *roots);
  size_t n_roots = 0;
  for (size_t i = 0; i < g->n; i++)
    if (g->nodes[i].derived) roots[n_roots++] = (coded){g->nodes[i].code, i};
  qsort(roots, n_roots, sizeof *roots, by_code);
  unsigned char *done = db_calloc(g->n ? g->n : 1, 1);
  size_t *stack = db_malloc((g->n ? g->n : 1) * sizeof *stack),
         *next = db_malloc((g->n ? g->n : 1) * sizeof *next);
  size_t *out = db_malloc((n_roots ? n_roots : 1) * sizeof *out), n = 0;
  for (size_t r = 0; r < n_roots; r++) {
    if (done[roots[r].i]) continue;
    size_t depth = 0;
    stack[depth] = roots[r].i;
    next[depth++] = 0;
    done[roots[r].i] = 1;
    while (depth) {
      const gnode *top = &g->nodes[stack[depth - 1]];
      if (next[depth - 1] < top->n_deps) {
        size_t y = top->deps[next[depth - 1]++];
        if (done[y] || !g->nodes[y].derived) continue;
        done[y] = 1;
        stack[depth] = y;
        next[depth++] = 0;
        continue;
      }
      out[n++] = stack[--depth];
    }
  }
  db_free(next);
  db_free(stack);
  db_free(done);
  db_free(roots);
  *order = out;
  return n;
}

/* The index of code's node, adding a raw node when it is new. */
static size_t node_of(db_formula_graph *g, const char *code) {
  size_t i;
  if (lookup(g, code, &i)) return i;
  if (g->n == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 16;
    g->nodes = db_realloc(g->nodes, g->cap * sizeof *g->nodes);
  }
  i = g->n++;
  g->nodes[i] = (gnode){db_map_put(&g->index, code, strlen(code), (int64_t)i), 0, NULL, 0};
  return i;
}

static int lookup(const db_formula_graph *g, const char *code, size_t *i) {
  int64_t v;
  if (!db_map_gets(&g->index, code, &v)) return 0;
  *i = (size_t)v;
  return 1;
}
