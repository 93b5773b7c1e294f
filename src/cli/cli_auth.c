/* cli_auth.c - `databrain user`, `databrain token` and `databrain audit`: the people and systems that may
 * use the HTTP API, and the audit trail.
 *
 * Passwords never come from arguments (they would show in `ps` and the shell's history): they are read
 * from standard input. On a terminal the password is asked twice, without echo, and both answers must
 * match; otherwise the first line is the password (its line end, LF or CRLF, removed), so that
 * `printf '%s\n' "$PW" | databrain user add NAME --role analyst` works in scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cli/cli.h"

#define PASSWORD_LINE 1100 /* room for the longest password (1024 bytes), its line end and a surplus */

static int run_user_add(cli_ctx *ctx, int argc, char **argv);
static int run_user_passwd(cli_ctx *ctx, int argc, char **argv);
static int run_user_disable(cli_ctx *ctx, int argc, char **argv);
static int run_token_create(cli_ctx *ctx, int argc, char **argv);
static int run_token_list(cli_ctx *ctx, int argc, char **argv);
static int run_token_revoke(cli_ctx *ctx, int argc, char **argv);
static int run_audit_verify(cli_ctx *ctx, int argc, char **argv);
static int run_audit_list(cli_ctx *ctx, int argc, char **argv);

#define PASSWORD_HELP                                                                                  \
  "The password is read from standard input, never from the command line: on a terminal it is asked\n" \
  "twice without echo; otherwise the first line is the password (8 to 1024 bytes).\n"
#define ROLES_HELP                                                                                     \
  "ROLE is one of public, analyst, reporter, leader, steward, admin. A reporter needs --agency (the\n" \
  "agency whose indicators it writes); --scope limits the principal to an org unit and its subtree.\n"

const cli_command cli_auth_commands[] = {
    {"user add", "NAME --role ROLE [--agency CODE] [--scope ORGUNIT]", "Create a dashboard user.",
     ROLES_HELP PASSWORD_HELP
     "\nexample: printf '%s\\n' \"$PW\" | databrain user add lan --role reporter --agency SOF --scope 79\n",
     run_user_add},
    {"user passwd", "NAME", "Set a user's password (and end the user's sessions).", PASSWORD_HELP,
     run_user_passwd},
    {"user disable", "NAME", "Disable a user: no more logins, and the user's sessions end.", "",
     run_user_disable},
    {"token create", "--role ROLE [--agency CODE] [--scope ORGUNIT] [--expires DAYS] [--label TEXT]",
     "Create an API token and print it alone on standard output.",
     ROLES_HELP
     "--expires DAYS: the token stops working after that many days (default: never).\n"
     "The token is shown once: only its SHA-256 is stored. Send it as `Authorization: Bearer TOKEN`.\n"
     "\nexample: TOKEN=$(databrain token create --role reporter --agency SOF --expires 90 --label etl)\n",
     run_token_create},
    {"token list", "", "List API tokens as CSV (never their secrets).",
     "Columns: id,label,role,agency,scope,created,expires,state (state: active, expired or revoked).\n",
     run_token_list},
    {"token revoke", "ID", "Revoke an API token: it stops working at once.", "", run_token_revoke},
    {"audit verify", "",
     "Check the audit trail's hash chain; name the first edited, deleted or moved record.",
     "Prints \"audit trail intact: N records\" and exits 0, or names the first bad record on standard\n"
     "error and exits 1.\n",
     run_audit_verify},
    {"audit list", "[--after ID]", "Print the audit trail as CSV, oldest first.",
     "Columns: id,time,actor,action,object,detail,prev_hash,hash. --after ID starts after record ID.\n",
     run_audit_list},
    {0},
};

/* ---- reading a password ---- */

/* Reads one line from f into buf (without its line end). 0, or -1 at end of input or for a line that
 * does not fit. */
static int read_line(FILE *f, char *buf, size_t cap) {
  if (!fgets(buf, (int)cap, f)) return -1;
  size_t n = strlen(buf);
  if (n && buf[n - 1] == '\n')
    buf[--n] = '\0';
  else if (n == cap - 1)
    return -1;
  if (n && buf[n - 1] == '\r') buf[--n] = '\0';
  return 0;
}

/* Asks prompt on stderr and reads a line from the terminal on stdin without echo. */
static int ask_hidden(const char *prompt, char *buf, size_t cap) {
  struct termios old, quiet;
  fputs(prompt, stderr);
  fflush(stderr);
  int have_tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (have_tty) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  int rc = read_line(stdin, buf, cap);
  if (have_tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fputc('\n', stderr);
  return rc;
}

/* The password from standard input (see the top of the file) into buf; prints why and returns an exit
 * code when there is none. */
static int read_password(const cli_command *cmd, char *buf, size_t cap) {
  if (!isatty(STDIN_FILENO)) {
    if (read_line(stdin, buf, cap) == 0) return CLI_OK;
    fprintf(stderr, "databrain %s: no password on standard input (one line of 8 to 1024 bytes)\n", cmd->name);
    return CLI_REJECTED;
  }
  char again[PASSWORD_LINE];
  int rc = CLI_OK;
  if (ask_hidden("Password: ", buf, cap) != 0 || ask_hidden("Password again: ", again, sizeof again) != 0) {
    fprintf(stderr, "databrain %s: no password given\n", cmd->name);
    rc = CLI_REJECTED;
  } else if (strcmp(buf, again) != 0) {
    fprintf(stderr, "databrain %s: the two passwords differ\n", cmd->name);
    rc = CLI_REJECTED;
  }
  memset(again, 0, sizeof again);
  return rc;
}

/* The exit code of an auth error, after printing its problems (or its message when there are none). */
static int auth_failure(cli_ctx *ctx, int err, const db_diag *d) {
  if (d->count)
    cli_print_problems(d, NULL);
  else
    fprintf(stderr, "%s: %s\n", ctx->store_url, db_strerror(err));
  return err == DB_EEXIST ? CLI_REJECTED : cli_exit_code(err);
}

/* ---- users ---- */

static int run_user_add(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[0];
  const char *role_text = NULL, *agency = NULL, *scope = NULL;
  cli_option spec[] = {{"role", 1, &role_text}, {"agency", 1, &agency}, {"scope", 1, &scope}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one NAME");
  db_role role;
  if (!role_text) return cli_usage_error(cmd, "--role is required");
  if (db_role_parse(role_text, &role) != 0) return cli_usage_error(cmd, "unknown role '%s'", role_text);
  char password[PASSWORD_LINE];
  if ((rc = read_password(cmd, password, sizeof password)) != 0) return rc;
  if ((rc = cli_open(ctx)) != 0) goto done;
  db_diag d = DB_DIAG_INIT;
  int err = db_auth_user_add(ctx->store, argv[first], password, role, agency, scope, &d);
  if (err)
    rc = auth_failure(ctx, err, &d);
  else if (!ctx->quiet)
    fprintf(stderr, "user %s added (%s)\n", argv[first], db_role_name(role));
  db_diag_free(&d);
done:
  memset(password, 0, sizeof password);
  return rc;
}

static int run_user_passwd(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[1];
  int first;
  int rc = cli_parse(cmd, argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one NAME");
  char password[PASSWORD_LINE];
  if ((rc = read_password(cmd, password, sizeof password)) != 0) return rc;
  if ((rc = cli_open(ctx)) != 0) goto done;
  db_diag d = DB_DIAG_INIT;
  int err = db_auth_user_passwd(ctx->store, argv[first], password, &d);
  if (err)
    rc = auth_failure(ctx, err, &d);
  else if (!ctx->quiet)
    fprintf(stderr, "password of %s changed\n", argv[first]);
  db_diag_free(&d);
done:
  memset(password, 0, sizeof password);
  return rc;
}

static int run_user_disable(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[2];
  int first;
  int rc = cli_parse(cmd, argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (argc - first != 1) return cli_usage_error(cmd, "expected one NAME");
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_diag d = DB_DIAG_INIT;
  int err = db_auth_user_disable(ctx->store, argv[first], &d);
  if (err)
    rc = auth_failure(ctx, err, &d);
  else if (!ctx->quiet)
    fprintf(stderr, "user %s disabled\n", argv[first]);
  db_diag_free(&d);
  return rc;
}

/* ---- tokens ---- */

static int run_token_create(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[3];
  const char *role_text = NULL, *agency = NULL, *scope = NULL, *expires = NULL, *label = NULL;
  cli_option spec[] = {{"role", 1, &role_text},  {"agency", 1, &agency}, {"scope", 1, &scope},
                       {"expires", 1, &expires}, {"label", 1, &label},   {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  db_role role;
  int64_t days = 0;
  if (!role_text) return cli_usage_error(cmd, "--role is required");
  if (db_role_parse(role_text, &role) != 0) return cli_usage_error(cmd, "unknown role '%s'", role_text);
  if (expires && (db_parse_int64(expires, strlen(expires), &days) != 0 || days < 1 || days > 36500))
    return cli_usage_error(cmd, "--expires '%s' is not a number of days from 1 to 36500", expires);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_diag d = DB_DIAG_INIT;
  char secret[DB_SECRET_MAX];
  int64_t id = 0;
  int err = db_auth_token_create(ctx->store, role, agency, scope, (int)days, label, secret, &id, &d);
  if (err) {
    rc = auth_failure(ctx, err, &d);
  } else {
    printf("%s\n", secret);
    if (!ctx->quiet)
      fprintf(stderr, "token %lld created (%s); it is shown only now\n", (long long)id, db_role_name(role));
  }
  memset(secret, 0, sizeof secret);
  db_diag_free(&d);
  return rc;
}

/* Appends a time as an RFC 3339 CSV field, or an empty field for 0. */
static void csv_time(db_buf *b, int64_t ms) {
  char text[25] = "";
  if (ms) db_format_time_ms(ms, text);
  db_buf_puts(b, text);
}

static int print_token(void *ctx, const db_token_info *t) {
  db_buf *b = ctx;
  const char *state = t->revoked                                      ? "revoked"
                      : t->expires_ms && t->expires_ms <= db_now_ms() ? "expired"
                                                                      : "active";
  db_buf_clear(b);
  db_buf_printf(b, "%lld,", (long long)t->id);
  db_buf_csv_field(b, t->label ? t->label : "");
  db_buf_printf(b, ",%s,", db_role_name(t->role));
  db_buf_csv_field(b, t->agency ? t->agency : "");
  db_buf_putc(b, ',');
  db_buf_csv_field(b, t->scope ? t->scope : "");
  db_buf_putc(b, ',');
  csv_time(b, t->created_ms);
  db_buf_putc(b, ',');
  csv_time(b, t->expires_ms);
  db_buf_printf(b, ",%s\n", state);
  return fputs(db_buf_str(b), stdout) < 0 ? DB_EIO : 0;
}

static int run_token_list(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[4];
  int first;
  int rc = cli_parse(cmd, argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_buf line = DB_BUF_INIT;
  printf("id,label,role,agency,scope,created,expires,state\n");
  int err = db_auth_token_list(ctx->store, print_token, &line);
  db_buf_free(&line);
  if (err) fprintf(stderr, "%s: %s\n", ctx->store_url, db_strerror(err));
  return cli_exit_code(err);
}

/* Parses a record or token id (a positive integer); 0 or -1. */
static int parse_id(const char *text, int64_t *id) {
  return db_parse_int64(text, strlen(text), id) == 0 && *id > 0 ? 0 : -1;
}

static int run_token_revoke(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[5];
  int first;
  int rc = cli_parse(cmd, argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  int64_t id;
  if (argc - first != 1 || parse_id(argv[first], &id) != 0)
    return cli_usage_error(cmd, "expected one token ID");
  if ((rc = cli_open(ctx)) != 0) return rc;
  int err = db_auth_token_revoke(ctx->store, id);
  if (err == DB_ENOTFOUND)
    fprintf(stderr, "no token %lld\n", (long long)id);
  else if (err)
    fprintf(stderr, "%s: %s\n", ctx->store_url, db_strerror(err));
  else if (!ctx->quiet)
    fprintf(stderr, "token %lld revoked\n", (long long)id);
  return cli_exit_code(err);
}

/* ---- audit ---- */

static int run_audit_verify(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[6];
  int first;
  int rc = cli_parse(cmd, argc, argv, NULL, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_audit_check check;
  int err = db_store_audit_verify(ctx->store, &check);
  if (err) {
    fprintf(stderr, "%s: cannot read the audit trail: %s\n", ctx->store_url, db_strerror(err));
    return cli_exit_code(err);
  }
  if (check.fault != DB_AUDIT_INTACT) {
    fprintf(stderr, "audit trail broken: %s\n", check.why);
    return CLI_FAILED;
  }
  printf("audit trail intact: %lld records\n", (long long)check.records);
  return CLI_OK;
}

static int print_audit(void *ctx, const db_audit_link *l, const db_audit *a) {
  db_buf *b = ctx;
  db_buf_clear(b);
  db_buf_printf(b, "%lld,", (long long)l->id);
  csv_time(b, a->time_ms);
  const char *fields[] = {a->actor, a->action, a->object, a->detail, l->prev_hash, l->hash};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    db_buf_putc(b, ',');
    db_buf_csv_field(b, fields[i] ? fields[i] : "");
  }
  db_buf_putc(b, '\n');
  return fputs(db_buf_str(b), stdout) < 0 ? DB_EIO : 0;
}

static int run_audit_list(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_auth_commands[7];
  const char *after_text = NULL;
  cli_option spec[] = {{"after", 1, &after_text}, {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  int64_t after = 0;
  if (after_text && (db_parse_int64(after_text, strlen(after_text), &after) != 0 || after < 0))
    return cli_usage_error(cmd, "--after '%s' is not a record id", after_text);
  if ((rc = cli_open(ctx)) != 0) return rc;
  db_buf line = DB_BUF_INIT;
  printf("id,time,actor,action,object,detail,prev_hash,hash\n");
  int err = db_store_audit_chain(ctx->store, after, print_audit, &line);
  db_buf_free(&line);
  if (err) fprintf(stderr, "%s: %s\n", ctx->store_url, db_strerror(err));
  return cli_exit_code(err);
}
