/* cube_bench.c - the seven peer queries of ../shared/BENCHMARKS.md (Q1-Q7) run in the cube.
 *
 * usage: cube_bench STORE_URL OUT_DIR IND_Q OU_Q Q5_LIST Q6_N [RUNS]
 *
 * Opens the store (the synthetic city imported by bench/run.sh), loads the catalog and builds the cube
 * from it (timed: the start-up cost of a server), then runs each query once to warm up and RUNS times
 * (default 5) timed, and prints key=value lines: cube_load_s, cube_rows, cube_bytes, rss_mb and
 * cube_Qn_ns (the median). Every timed run includes what a request pays: acquiring the current version
 * and releasing it. The answers go to OUT_DIR/Qn.csv in the format of the peers' C reference (cref.c),
 * so that bench/cube_report.py can check them against it.
 *
 * The workload is the peers': monthly indicators over 2016-01 .. 2025-12 for the wards (children) of
 * the city 79. Q1 one series; Q2 the wards in 2025-12; Q3 the city total per month; Q4 the 10 wards
 * with the highest growth 2024-12 -> 2025-12; Q5 city totals of the Q5_LIST indicators over 24 months;
 * Q6 for the indicators IND0001 .. IND<Q6_N>, the share of expected (ward, month) cells of 2025 present;
 * Q7 the sum of every value per month over all indicators. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/mem.h"
#include "cube/cube.h"
#include "store/store.h"

#define NP 120 /* months 2016-01 .. 2025-12 */
#define Q5_MONTHS 24
#define Q6_MONTHS 12
#define TOP 10
#define MAX_RUNS 64

typedef struct bench {
  db_cube *cube;
  int64_t ind_q, city, unit_q;
  int64_t *wards; /* children of the city, sorted by code */
  size_t n_wards;
  int64_t q5[20], *q6, *all; /* indicator indices */
  size_t n_q5, n_q6, n_all;
  db_period first, dec2024, dec2025, jan2024, jan2025;
  /* answers */
  double q1[NP], q2[1024];
  int q1_ord[NP], q1_n;
  db_cube_cell q3[NP], q5_cells[20][Q5_MONTHS];
  db_cube_ranked q4[TOP];
  int64_t q4_n;
  double *q6_share;
  int64_t *q6_present;
  double q7[NP];
  int64_t q7_count[NP];
} bench;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "cube_bench: %s\n", what);
  exit(1);
}

static db_period month(const char *code) {
  db_period p;
  if (db_period_parse(code, strlen(code), &p, NULL) != 0) die("bad period");
  return p;
}

/* ---------- the queries (each one acquires and releases a version) ---------- */

static void q1(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  double row[NP];
  if (db_cube_series(v, b->ind_q, NULL, b->unit_q, &b->first, NP, row) < 0) die("Q1 failed");
  int n = 0;
  for (int p = 0; p < NP; p++)
    if (row[p] == row[p]) {
      b->q1_ord[n] = p;
      b->q1[n++] = row[p];
    }
  b->q1_n = n;
  db_cube_release(v);
}

static void q2(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  if (db_cube_cross(v, b->ind_q, NULL, &b->dec2025, b->wards, b->n_wards, b->q2) < 0) die("Q2 failed");
  db_cube_release(v);
}

static void q3(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  if (db_cube_rollup(v, b->ind_q, NULL, b->city, &b->first, NP, b->q3) != 0) die("Q3 failed");
  db_cube_release(v);
}

static void q4(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  b->q4_n = db_cube_top(v, b->ind_q, NULL, b->wards, b->n_wards, &b->dec2025, &b->dec2024, DB_CUBE_GROWTH, 0, TOP,
                        b->q4);
  if (b->q4_n < 0) die("Q4 failed");
  db_cube_release(v);
}

static void q5(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  for (size_t j = 0; j < b->n_q5; j++)
    if (db_cube_rollup(v, b->q5[j], NULL, b->city, &b->jan2024, Q5_MONTHS, b->q5_cells[j]) != 0) die("Q5 failed");
  db_cube_release(v);
}

static void q6(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  db_cube_cell c[Q6_MONTHS];
  for (size_t j = 0; j < b->n_q6; j++) {
    if (db_cube_rollup_as(v, b->q6[j], NULL, b->city, DB_AGG_NONE, &b->jan2025, Q6_MONTHS, c) != 0)
      die("Q6 failed");
    int64_t present = 0, expected = 0;
    for (int p = 0; p < Q6_MONTHS; p++) {
      present += c[p].count;
      expected += c[p].expected;
    }
    b->q6_present[j] = present;
    b->q6_share[j] = expected ? (double)present / (double)expected : 0;
  }
  db_cube_release(v);
}

static void q7(bench *b) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  db_cube_cell c[NP];
  for (int p = 0; p < NP; p++) {
    b->q7[p] = 0;
    b->q7_count[p] = 0;
  }
  for (size_t j = 0; j < b->n_all; j++) {
    if (db_cube_rollup_as(v, b->all[j], NULL, b->city, DB_AGG_SUM, &b->first, NP, c) != 0) die("Q7 failed");
    for (int p = 0; p < NP; p++) {
      b->q7[p] += c[p].count ? c[p].value : 0.0;
      b->q7_count[p] += c[p].count;
    }
  }
  db_cube_release(v);
}

/* ---------- set-up ---------- */

static int compare_codes(const void *a, const void *b, void *v) {
  return strcmp(db_cube_unit_code(v, *(const int64_t *)a), db_cube_unit_code(v, *(const int64_t *)b));
}

static int64_t need_indicator(const db_cube_version *v, const char *code) {
  int64_t i = db_cube_indicator_index(v, code);
  if (i < 0) {
    fprintf(stderr, "cube_bench: unknown indicator %s\n", code);
    exit(2);
  }
  return i;
}

/* Resolves the parameters into indices, once, outside the timed runs. */
static void prepare(bench *b, const db_catalog *cat, const char *ind_q, const char *ou_q, char *q5_list, int q6_n) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  b->ind_q = need_indicator(v, ind_q);
  b->unit_q = db_cube_unit_index(v, ou_q);
  b->city = db_cube_unit_index(v, "79");
  if (b->unit_q < 0 || b->city < 0) die("unknown unit");
  const int64_t *kids;
  b->n_wards = db_cube_unit_children(v, b->city, &kids);
  if (b->n_wards > sizeof b->q2 / sizeof *b->q2) die("too many wards");
  b->wards = db_malloc(b->n_wards * sizeof *b->wards);
  memcpy(b->wards, kids, b->n_wards * sizeof *b->wards);
  qsort_r(b->wards, b->n_wards, sizeof *b->wards, compare_codes, (void *)v);
  for (char *s = strtok(q5_list, ","); s && b->n_q5 < 20; s = strtok(NULL, ",")) b->q5[b->n_q5++] = need_indicator(v, s);
  char last[32];
  snprintf(last, sizeof last, "IND%04d", q6_n);
  b->q6 = db_malloc(cat->n_indicators * sizeof *b->q6);
  b->all = db_malloc(cat->n_indicators * sizeof *b->all);
  for (size_t i = 0; i < cat->n_indicators; i++) {
    const char *code = cat->indicators[i].code;
    int64_t k = need_indicator(v, code);
    b->all[b->n_all++] = k;
    if (strcmp(code, "IND0001") >= 0 && strcmp(code, last) <= 0) b->q6[b->n_q6++] = k;
  }
  b->q6_share = db_calloc(b->n_q6 ? b->n_q6 : 1, sizeof *b->q6_share);
  b->q6_present = db_calloc(b->n_q6 ? b->n_q6 : 1, sizeof *b->q6_present);
  b->first = month("2016-01");
  b->dec2024 = month("2024-12");
  b->dec2025 = month("2025-12");
  b->jan2024 = month("2024-01");
  b->jan2025 = month("2025-01");
  db_cube_release(v);
}

/* ---------- output ---------- */

static FILE *out_file(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.csv", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) die("cannot write the answers");
  return f;
}

static void period_code(const db_period *first, int k, char *out) {
  db_period p = db_period_add(first, k);
  db_period_format(&p, out);
}

static void write_answers(bench *b, const char *dir, const db_catalog *cat) {
  const db_cube_version *v = db_cube_acquire(b->cube);
  char pc[DB_PERIOD_CODE_MAX];
  FILE *f = out_file(dir, "Q1");
  for (int k = 0; k < b->q1_n; k++) {
    period_code(&b->first, b->q1_ord[k], pc);
    fprintf(f, "%s,%.17g\n", pc, b->q1[k]);
  }
  fclose(f);
  f = out_file(dir, "Q2");
  for (size_t k = 0; k < b->n_wards; k++)
    if (b->q2[k] == b->q2[k]) fprintf(f, "%s,%.17g\n", db_cube_unit_code(v, b->wards[k]), b->q2[k]);
  fclose(f);
  f = out_file(dir, "Q3");
  for (int k = 0; k < NP; k++)
    if (b->q3[k].count) {
      period_code(&b->first, k, pc);
      fprintf(f, "%s,%.17g\n", pc, b->q3[k].value);
    }
  fclose(f);
  f = out_file(dir, "Q4");
  for (int64_t k = 0; k < b->q4_n; k++)
    fprintf(f, "%s,%.17g,%.17g,%.17g\n", db_cube_unit_code(v, b->q4[k].unit), b->q4[k].value, b->q4[k].base,
            b->q4[k].score);
  fclose(f);
  f = out_file(dir, "Q5");
  for (size_t j = 0; j < b->n_q5; j++)
    for (int k = 0; k < Q5_MONTHS; k++)
      if (b->q5_cells[j][k].count) {
        period_code(&b->jan2024, k, pc);
        fprintf(f, "%s,%s,%.17g\n", cat->indicators[b->q5[j]].code, pc, b->q5_cells[j][k].value);
      }
  fclose(f);
  f = out_file(dir, "Q6");
  for (size_t j = 0; j < b->n_q6; j++)
    if (b->q6_present[j]) fprintf(f, "%s,%.17g\n", cat->indicators[b->q6[j]].code, b->q6_share[j]);
  fclose(f);
  f = out_file(dir, "Q7");
  for (int k = 0; k < NP; k++)
    if (b->q7_count[k]) {
      period_code(&b->first, k, pc);
      fprintf(f, "%s,%.17g\n", pc, b->q7[k]);
    }
  fclose(f);
  db_cube_release(v);
}

/* Peak resident size of the process in MB (VmHWM), 0 when unknown. */
static double peak_rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double mb = 0;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) mb = atof(line + 6) / 1024;
  if (f) fclose(f);
  return mb;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s STORE_URL OUT_DIR IND_Q OU_Q Q5_LIST Q6_N [RUNS]\n", argv[0]);
    return 2;
  }
  int runs = argc > 7 ? atoi(argv[7]) : 5;
  if (runs < 1 || runs > MAX_RUNS) die("RUNS must be 1..64");
  db_diag d = DB_DIAG_INIT;
  db_store *s = NULL;
  db_catalog cat;
  db_catalog_init(&cat);
  bench b = {0};
  uint64_t t0 = now_ns();
  if (db_store_open(argv[1], &s, &d) != 0 || db_store_load_catalog(s, &cat) != 0 || db_catalog_link(&cat, &d) != 0) {
    db_diag_print(&d, stderr, argv[1]);
    die("cannot open the store and its catalog");
  }
  uint64_t t1 = now_ns();
  if (db_cube_open(s, &cat, &b.cube, &d) != 0) {
    db_diag_print(&d, stderr, argv[1]);
    die("cannot build the cube");
  }
  uint64_t t2 = now_ns();
  db_store_close(s);
  const db_cube_version *v = db_cube_acquire(b.cube);
  db_cube_stats st;
  db_cube_stats_get(v, &st);
  db_cube_release(v);
  printf("cube_catalog_s=%.3f\ncube_load_s=%.3f\ncube_rows=%lld\ncube_rows_per_s=%.0f\n", (t1 - t0) / 1e9,
         (t2 - t1) / 1e9, (long long)st.cells, st.cells / ((t2 - t1) / 1e9));
  printf("cube_matrices=%lld\ncube_sparse_matrices=%lld\ncube_bytes=%zu\n", (long long)st.matrices,
         (long long)st.sparse_matrices, st.bytes);

  prepare(&b, &cat, argv[3], argv[4], argv[5], atoi(argv[6]));
  void (*queries[7])(bench *) = {q1, q2, q3, q4, q5, q6, q7};
  for (int q = 0; q < 7; q++) {
    uint64_t t[MAX_RUNS];
    for (int r = -1; r < runs; r++) {
      uint64_t a = now_ns();
      queries[q](&b);
      uint64_t e = now_ns();
      if (r >= 0) t[r] = e - a;
    }
    qsort(t, (size_t)runs, sizeof *t, compare_u64);
    printf("cube_Q%d_ns=%llu\n", q + 1, (unsigned long long)t[runs / 2]);
  }
  printf("rss_mb=%.1f\n", peak_rss_mb());
  write_answers(&b, argv[2], &cat);
  db_cube_close(b.cube);
  db_free(b.wards);
  db_free(b.q6);
  db_free(b.all);
  db_free(b.q6_share);
  db_free(b.q6_present);
  db_catalog_free(&cat);
  db_diag_free(&d);
  return 0;
}
