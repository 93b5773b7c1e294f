/* optim.c - Nelder-Mead minimisation with restarts, the one optimiser of the forecast module.
 *
 * Models keep their parameters in bounded regions; callers map unbounded coordinates into those regions
 * (logistic transforms), so the optimiser itself is unconstrained. Nelder-Mead can stall on a
 * degenerate simplex: restarting from the best point with a fresh simplex is the classic remedy
 * (Lagarias et al. 1998; R's optim users do the same by hand), and it stops when a restart gains
 * nothing. Small dimension only (DB_FC__NM_MAX_DIM); no allocation. */
#include <math.h>
#include <string.h>

#include "forecast/fc_int.h"

typedef struct simplex {
  int dim;
  double x[DB_FC__NM_MAX_DIM + 1][DB_FC__NM_MAX_DIM];
  double f[DB_FC__NM_MAX_DIM + 1];
} simplex;

static double nm_run(double (*f)(const double *, void *), void *ctx, int dim, double *x, const double *step,
                     double ftol, int *evals_left);

double db_fc__minimize(double (*f)(const double *x, void *ctx), void *ctx, int dim, double *x,
                       const double *step, double ftol, int max_evals) {
  int left = max_evals;
  double best = nm_run(f, ctx, dim, x, step, ftol, &left);
  while (left > 0) {
    double again = nm_run(f, ctx, dim, x, step, ftol, &left);
    int gained = best - again > ftol * (fabs(best) + 1e-10);
    best = again;
    if (!gained) break;
  }
  return best;
}

/* Point p = a + t (b - a). */
static void towards(int dim, const double *a, const double *b, double t, double *p) {
  for (int i = 0; i < dim; i++) p[i] = a[i] + t * (b[i] - a[i]);
}

/* Insertion sort of the vertices by value (the simplex is small and nearly sorted). */
static void sort_simplex(simplex *s) {
  for (int i = 1; i <= s->dim; i++) {
    double fv = s->f[i], xv[DB_FC__NM_MAX_DIM];
    memcpy(xv, s->x[i], sizeof xv);
    int j = i - 1;
    for (; j >= 0 && s->f[j] > fv; j--) {
      s->f[j + 1] = s->f[j];
      memcpy(s->x[j + 1], s->x[j], sizeof xv);
    }
    s->f[j + 1] = fv;
    memcpy(s->x[j + 1], xv, sizeof xv);
  }
}

/* One Nelder-Mead run from x (standard coefficients: reflection 1, expansion 2, contraction and shrink
 * 1/2) until the values at the vertices agree within ftol (relative) or the evaluations run out.
 * Writes the best vertex to x and returns its value. */
static double nm_run(double (*f)(const double *, void *), void *ctx, int dim, double *x, const double *step,
                     double ftol, int *evals_left) {
  simplex s;
  s.dim = dim;
  for (int i = 0; i <= dim; i++) {
    memcpy(s.x[i], x, (size_t)dim * sizeof *x);
    if (i > 0) s.x[i][i - 1] += step[i - 1];
    s.f[i] = f(s.x[i], ctx);
  }
  *evals_left -= dim + 1;
  double c[DB_FC__NM_MAX_DIM], xr[DB_FC__NM_MAX_DIM], xe[DB_FC__NM_MAX_DIM];
  while (*evals_left > 0) {
    sort_simplex(&s);
    if (s.f[dim] - s.f[0] <= ftol * (fabs(s.f[0]) + 1e-10)) break;
    for (int j = 0; j < dim; j++) {
      double sum = 0;
      for (int i = 0; i < dim; i++) sum += s.x[i][j];
      c[j] = sum / dim;
    }
    towards(dim, s.x[dim], c, 2.0, xr); /* reflection: c + (c - worst) */
    double fr = f(xr, ctx);
    (*evals_left)--;
    if (fr < s.f[0]) {
      towards(dim, s.x[dim], c, 3.0, xe); /* expansion: c + 2 (c - worst) */
      double fe = f(xe, ctx);
      (*evals_left)--;
      int take_e = fe < fr;
      memcpy(s.x[dim], take_e ? xe : xr, (size_t)dim * sizeof *x);
      s.f[dim] = take_e ? fe : fr;
      continue;
    }
    if (fr < s.f[dim - 1]) {
      memcpy(s.x[dim], xr, (size_t)dim * sizeof *x);
      s.f[dim] = fr;
      continue;
    }
    /* contraction: outside (towards the reflected point) or inside (towards the worst) */
    int outside = fr < s.f[dim];
    towards(dim, c, outside ? xr : s.x[dim], 0.5, xe);
    double fc = f(xe, ctx);
    (*evals_left)--;
    if (fc < (outside ? fr : s.f[dim])) {
      memcpy(s.x[dim], xe, (size_t)dim * sizeof *x);
      s.f[dim] = fc;
      continue;
    }
    for (int i = 1; i <= dim; i++) { /* shrink towards the best vertex */
      towards(dim, s.x[0], s.x[i], 0.5, s.x[i]);
      s.f[i] = f(s.x[i], ctx);
    }
    *evals_left -= dim;
  }
  sort_simplex(&s);
  memcpy(x, s.x[0], (size_t)dim * sizeof *x);
  return s.f[0];
}
