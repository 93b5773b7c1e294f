/* machine.c - the alert state machine of one (rule, unit) (watch.h): period mode, time mode and the
 * clock. Pure functions of the state, the timing and the condition: the engine and the tests drive them. */
#include <math.h>
#include <string.h>

#include "watch/watch.h"

static const char *const phase_names[] = {"inactive", "pending", "firing"};
static const char *const change_names[] = {NULL, "pending", "firing", "resolved", "cleared", "stale", "fresh", "repeat"};

const char *db_watch_phase_name(int phase) { return phase >= 0 && phase <= DB_PHASE_FIRING ? phase_names[phase] : "unknown"; }

const char *db_watch_change_name(int change) {
  return change >= DB_WC_PENDING && change <= DB_WC_REPEAT ? change_names[change] : "unknown";
}

static int holds(double cond) { return !isnan(cond) && cond != 0; }

/* Enters pending at p (and now_ms). */
static void start_pending(db_watch_state *s, const db_period *p, int64_t now_ms) {
  s->phase = DB_PHASE_PENDING;
  s->has_pending = p != NULL;
  if (p) s->pending_p = *p;
  s->has_firing = 0;
  s->pending_ms = now_ms;
  s->off = 0;
  s->off_ms = 0;
}

static void start_firing(db_watch_state *s, const db_period *p, int64_t now_ms) {
  s->phase = DB_PHASE_FIRING;
  s->has_firing = p != NULL;
  if (p) s->firing_p = *p;
  s->firing_ms = now_ms;
  s->last_notify_ms = now_ms;
  s->off = 0;
  s->off_ms = 0;
}

/* Back to inactive (after resolved or cleared). */
static void stop(db_watch_state *s) {
  s->phase = DB_PHASE_INACTIVE;
  s->run = 0;
  s->off = 0;
  s->off_ms = 0;
}

int db_watch_step(db_watch_state *s, const db_watch_timing *t, const db_period *p, double cond, int64_t now_ms,
                  int changes[2]) {
  int n = 0;
  s->has_last = 1;
  s->last = *p;
  if (holds(cond)) {
    s->run++;
    s->off = 0;
    if (s->phase == DB_PHASE_INACTIVE) {
      start_pending(s, p, now_ms);
      changes[n++] = DB_WC_PENDING;
    }
    if (s->phase == DB_PHASE_PENDING && s->run >= (t->for_n > 1 ? t->for_n : 1)) {
      start_firing(s, p, now_ms);
      changes[n++] = DB_WC_FIRING;
    }
    return n;
  }
  s->run = 0;
  if (s->phase == DB_PHASE_PENDING) {
    stop(s);
    changes[n++] = DB_WC_CLEARED;
  } else if (s->phase == DB_PHASE_FIRING && ++s->off > t->keep_n) {
    s->resolved_p = *p;
    stop(s);
    changes[n++] = DB_WC_RESOLVED;
  }
  return n;
}

int db_watch_step_time(db_watch_state *s, const db_watch_timing *t, double cond, int64_t now_ms, int changes[2]) {
  int n = 0;
  if (holds(cond)) {
    s->off_ms = 0;
    if (s->phase == DB_PHASE_INACTIVE) {
      start_pending(s, s->has_last ? &s->last : NULL, now_ms);
      changes[n++] = DB_WC_PENDING;
    }
    if (s->phase == DB_PHASE_PENDING && now_ms - s->pending_ms >= t->for_n) {
      start_firing(s, s->has_last ? &s->last : NULL, now_ms);
      changes[n++] = DB_WC_FIRING;
    }
    return n;
  }
  if (s->phase == DB_PHASE_PENDING) {
    stop(s);
    changes[n++] = DB_WC_CLEARED;
  } else if (s->phase == DB_PHASE_FIRING) {
    if (!s->off_ms) s->off_ms = now_ms;
    if (now_ms - s->off_ms >= t->keep_n) {
      if (s->has_last) s->resolved_p = s->last;
      stop(s);
      changes[n++] = DB_WC_RESOLVED;
    }
  }
  return n;
}

int db_watch_step_clock(db_watch_state *s, const db_watch_timing *t, int64_t now_ms, int changes[2]) {
  int n = 0;
  if (t->time_mode && s->phase == DB_PHASE_PENDING && now_ms - s->pending_ms >= t->for_n) {
    start_firing(s, s->has_last ? &s->last : NULL, now_ms);
    changes[n++] = DB_WC_FIRING;
  } else if (t->time_mode && s->phase == DB_PHASE_FIRING && s->off_ms && now_ms - s->off_ms >= t->keep_n) {
    if (s->has_last) s->resolved_p = s->last;
    stop(s);
    changes[n++] = DB_WC_RESOLVED;
  } else if (s->phase == DB_PHASE_FIRING && t->repeat_ms > 0 && now_ms - s->last_notify_ms >= t->repeat_ms) {
    s->last_notify_ms = now_ms;
    changes[n++] = DB_WC_REPEAT;
  }
  if (t->stale_ms > 0 && s->last_data_ms > 0 && !s->stale && now_ms - s->last_data_ms >= t->stale_ms) {
    s->stale = 1;
    changes[n++] = DB_WC_STALE;
  }
  return n;
}
