/* handlers.h - the request handlers of the route table, declared from routes.def.
 *
 * Every DB_ROUTE(method, path, handler, perm, tag, summary) of routes.def declares
 *     int handler(db_req *r, db_resp *w);
 * The server calls a handler after it has matched the route, authenticated the caller, checked the
 * route's permission and (for unsafe methods from a session) the CSRF token.
 *
 * Return convention:
 *   0        the handler answered: w holds the complete answer, whatever its status (200, 201, 204, or
 *            a 4xx/5xx problem written with db_resp_problem / db_resp_error). Expected failures (bad
 *            input, not found, permission denied for this row or scope) are answered this way.
 *   DB_E*    the handler failed unexpectedly and did not answer (out of memory, store error...). The
 *            server logs the code with the route, discards anything already put in w and answers a
 *            problem titled db_strerror(code) with the status db_http_status(code) when that is 5xx
 *            (503 for DB_ENOMEM, DB_EBUSY), else 500: a handler answers bad input itself.
 * A handler that returns 0 without setting w->status is a bug; the server answers it 500 as well. */
#ifndef DB_HTTP_HANDLERS_H
#define DB_HTTP_HANDLERS_H
#include "http/http.h"

#define DB_ROUTE(method, path, handler, perm, tag, summary) int handler(db_req *r, db_resp *w);
#include "http/routes.def"
#undef DB_ROUTE

#endif
