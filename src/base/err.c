/* err.c - messages, names and HTTP statuses of the error codes of err.h. */
#include "base/err.h"

const char *db_strerror(int err) {
  switch (err) {
#define DB_ERR_MSG(name, value, status, msg) \
  case value:                                \
    return msg;
    DB_ERRORS(DB_ERR_MSG)
#undef DB_ERR_MSG
  }
  return "unknown error";
}

const char *db_errname(int err) {
  switch (err) {
#define DB_ERR_NAME(name, value, status, msg) \
  case value:                                 \
    return #name;
    DB_ERRORS(DB_ERR_NAME)
#undef DB_ERR_NAME
  }
  return "DB_EUNKNOWN";
}

int db_http_status(int err) {
  switch (err) {
#define DB_ERR_STATUS(name, value, status, msg) \
  case value:                                   \
    return status;
    DB_ERRORS(DB_ERR_STATUS)
#undef DB_ERR_STATUS
  }
  return 500;
}
