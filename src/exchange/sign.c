/* sign.c - webhook signatures (HMAC-SHA256 over "<timestamp>.<body>") and the retry schedule. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "exchange/exchange.h"

void db_exchange_sign(const char *secret, int64_t ts, const char *body, size_t len, char out[DB_SIGNATURE_MAX]) {
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  char stamp[32];
  int n = snprintf(stamp, sizeof stamp, "%" PRId64 ".", ts);
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)stamp, (unsigned long long)n);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  memcpy(out, "sha256=", 7);
  sodium_bin2hex(out + 7, DB_SIGNATURE_MAX - 7, mac, sizeof mac);
}

int64_t db_retry_delay(const db_retry_policy *p, int attempts, double rnd) {
  int64_t d = p->backoff_ms > 0 ? p->backoff_ms : 1;
  for (int i = 1; i < attempts && d < p->max_backoff_ms; i++) d *= 2;
  if (p->max_backoff_ms > 0 && d > p->max_backoff_ms) d = p->max_backoff_ms;
  if (rnd < 0) rnd = 0;
  if (rnd >= 1) rnd = 0.999999;
  return d + (int64_t)((double)d * 0.25 * rnd);
}
