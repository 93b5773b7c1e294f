/* cli_serve.c - `databrain serve`: the HTTP API on the store (see src/http/http.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/text.h"
#include "cli/cli.h"
#include "http/http.h"

static int run_serve(cli_ctx *ctx, int argc, char **argv);

const cli_command cli_serve_commands[] = {
    {"serve",
     "[--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--threads N] [--max-body BYTES] [--timeout S] "
     "[--rate-per-token N] [--rate-per-address N]",
     "Serve the HTTP API until SIGTERM or SIGINT.",
     "Prints \"listening on http://HOST:PORT\" once ready. On SIGTERM or SIGINT it stops accepting\n"
     "connections, lets the requests in flight finish, and exits 0.\n\n"
     "  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080; [::1]:8080 for IPv6)\n"
     "  --tls-cert, --tls-key    PEM certificate and private key: serve HTTPS\n"
     "  --threads N              worker threads (default: the number of cores)\n"
     "  --max-body BYTES         largest request body (default 67108864); larger ones get 413\n"
     "  --timeout S              idle connection timeout in seconds (default 30)\n"
     "  --rate-per-token N       requests per second per token or session (default 500)\n"
     "  --rate-per-address N     requests per second per anonymous client address (default 200)\n",
     run_serve},
    {0},
};

/* Parses a positive integer option value no larger than max into *out (left alone when value is NULL). */
static int positive(const cli_command *cmd, const char *name, const char *value, long long max,
                    long long *out) {
  if (!value) return 0;
  int64_t v;
  if (db_parse_int64(value, strlen(value), &v) != 0 || v < 1 || v > max)
    return cli_usage_error(cmd, "--%s '%s': expected a whole number from 1 to %lld", name, value, max);
  *out = v;
  return 0;
}

static int run_serve(cli_ctx *ctx, int argc, char **argv) {
  const cli_command *cmd = &cli_serve_commands[0];
  const char *listen = NULL, *cert = NULL, *key = NULL, *threads = NULL, *max_body = NULL, *timeout = NULL,
             *rate_token = NULL, *rate_address = NULL;
  cli_option spec[] = {{"listen", 1, &listen},
                       {"tls-cert", 1, &cert},
                       {"tls-key", 1, &key},
                       {"threads", 1, &threads},
                       {"max-body", 1, &max_body},
                       {"timeout", 1, &timeout},
                       {"rate-per-token", 1, &rate_token},
                       {"rate-per-address", 1, &rate_address},
                       {0}};
  int first;
  int rc = cli_parse(cmd, argc, argv, spec, &first);
  if (rc) return rc < 0 ? CLI_OK : rc;
  if (first != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
  if (!cert != !key) return cli_usage_error(cmd, "--tls-cert and --tls-key go together");
  long long n_threads = 0, body = 0, idle = 0, per_token = 0, per_address = 0;
  if ((rc = positive(cmd, "threads", threads, 1024, &n_threads)) ||
      (rc = positive(cmd, "max-body", max_body, (long long)1 << 40, &body)) ||
      (rc = positive(cmd, "timeout", timeout, 86400, &idle)) ||
      (rc = positive(cmd, "rate-per-token", rate_token, 1000000, &per_token)) ||
      (rc = positive(cmd, "rate-per-address", rate_address, 1000000, &per_address)))
    return rc;
  db_server_config cfg = {
      .store_url = ctx->store_url,
      .listen = listen,
      .tls_cert = cert,
      .tls_key = key,
      .threads = (unsigned)n_threads,
      .max_body_bytes = (size_t)body,
      .timeout_s = (unsigned)idle,
      .rate_per_token = (unsigned)per_token,
      .rate_per_address = (unsigned)per_address,
  };
  db_diag d = DB_DIAG_INIT;
  int err = db_server_run(&cfg, &d);
  if (err) {
    cli_print_problems(&d, "serve");
    if (!d.count) fprintf(stderr, "serve: %s\n", db_strerror(err));
  }
  db_diag_free(&d);
  return cli_exit_code(err);
}
