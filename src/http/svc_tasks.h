/* svc_tasks.h - what the task handlers (h_tasks.c) ask of the tasks service (svc_tasks.c). */
#ifndef DB_HTTP_SVC_TASKS_H
#define DB_HTTP_SVC_TASKS_H
#include "http/http.h"
#include "tasks/tasks.h"

/* Tells the service that tasks changed: their statistics are published again shortly. Thread-safe. */
void db__tasks_svc_touch(db_app *app);
/* Evaluates every task with data and publishes the statistics now, for `today` (a day). Takes the write
 * lock itself (call it without). Fills *sum (may be NULL). 0 or an error explained in d. */
int db__tasks_svc_run(db_app *app, int64_t today, db_tasks_eval_summary *sum, db_diag *d);

#endif
