/* svc_forecast.h - what the forecast routes (h_forecast.c) use of the forecast service (svc_forecast.c):
 * submitting a batch run and reading a job's status. Internal to the HTTP module. */
#ifndef DB_HTTP_SVC_FORECAST_H
#define DB_HTTP_SVC_FORECAST_H
#include <jansson.h>
#include <stdint.h>

#include "outlook/outlook.h"

typedef struct db_fc_service db_fc_service;

/* A batch job: a run asked for through the API ("run"), or the refit of the series new data reached
 * ("refit"). Guarded by the service's lock. */
typedef struct db_fc_job {
  int64_t id;
  const char *kind;
  char status[16]; /* queued, running, done, failed, stopped */
  char *indicators, *units; /* a run's restriction (comma-separated codes), NULL = all */
  char *actor;
  char **stale; /* a refit's series keys */
  size_t n_stale;
  size_t done, total, fitted, skipped;
  int64_t created_ms, started_ms, finished_ms;
  json_t *errors; /* array of strings */
} db_fc_job;

/* Queues a run over the series of the given indicators and units (comma-separated codes, NULL = all; the
 * caller checked that they exist) and returns its job id. Thread-safe. */
int64_t db_fc_service_submit(db_fc_service *s, const char *indicators, const char *units, const char *actor);

/* The status of job `id` as the API shows it: {id, kind, status, progress {done, total}, forecast, skipped,
 * created, started, finished, errors}, or NULL when there is no such job. A new reference. Thread-safe. */
json_t *db_fc_service_job_json(db_fc_service *s, int64_t id);

#endif
