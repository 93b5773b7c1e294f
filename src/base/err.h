/* err.h - the one error vocabulary of databrain.
 *
 * Every function that can fail returns 0 (DB_OK) or a negative DB_E* code from the table below. The
 * table also yields the message and the HTTP status, so the HTTP layer maps codes in one place.
 * Details of a failure (which row, which column, why) travel in a db_diag (diag.h), not in the code. */
#ifndef DB_ERR_H
#define DB_ERR_H

/* X(name, value, http status, message) */
#define DB_ERRORS(X)                                                              \
  X(DB_OK, 0, 200, "ok")                                                          \
  X(DB_ENOMEM, -1, 503, "out of memory")                                          \
  X(DB_EINVAL, -2, 400, "invalid input")                                          \
  X(DB_ENOTFOUND, -3, 404, "not found")                                           \
  X(DB_EEXIST, -4, 409, "already exists")                                         \
  X(DB_ECONFLICT, -5, 409, "conflict")                                            \
  X(DB_EIO, -6, 500, "input/output error")                                        \
  X(DB_ESTORE, -7, 500, "store error")                                            \
  X(DB_ESCHEMA, -8, 500, "store schema is newer than this program")               \
  X(DB_EBUSY, -9, 503, "store is busy")                                           \
  X(DB_EPERM, -10, 403, "permission denied")                                      \
  X(DB_EUNSUPPORTED, -11, 400, "unsupported")                                     \
  X(DB_ETOOBIG, -12, 413, "too large")                                            \
  X(DB_EINTERRUPTED, -13, 503, "interrupted")

enum db_err {
#define DB_ERR_ENUM(name, value, status, msg) name = value,
  DB_ERRORS(DB_ERR_ENUM)
#undef DB_ERR_ENUM
};

/* The message of an error code; "unknown error" for codes outside the table. Never NULL. */
const char *db_strerror(int err);

/* The symbolic name of an error code ("DB_EINVAL"); "DB_EUNKNOWN" outside the table. */
const char *db_errname(int err);

/* The HTTP status that answers an error code; 500 outside the table. */
int db_http_status(int err);

#endif
