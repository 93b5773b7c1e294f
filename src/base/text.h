/* text.h - small, strict text helpers shared by every reader: UTF-8 validation, number and date
 * parsing that accept exactly one well-formed value (no trailing junk, no NaN or infinity), and
 * wall-clock time. Pure functions, thread-safe. */
#ifndef DB_TEXT_H
#define DB_TEXT_H
#include <stddef.h>
#include <stdint.h>

/* 1 when the n bytes at s are valid UTF-8 (no overlongs, no surrogates), else 0; *bad_offset (may be
 * NULL) receives the offset of the first invalid byte. */
int db_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Parses a finite decimal number that fills all n bytes (surrounding spaces allowed).
 * Returns 0 and *out on success, DB_EINVAL on blank, junk, NaN, infinity or overflow. */
int db_parse_double(const char *s, size_t n, double *out);

/* Parses a decimal integer filling all n bytes. Returns 0 or DB_EINVAL (junk, overflow). */
int db_parse_int64(const char *s, size_t n, int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (any year, month 1-12, day 1-31). */
int64_t db_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The date of a day count since 1970-01-01. */
void db_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Parses "YYYY-MM-DD" (a real calendar date) into days since 1970-01-01: 0 or DB_EINVAL. */
int db_parse_date(const char *s, size_t n, int64_t *days);
/* Writes "YYYY-MM-DD" (11 bytes with the NUL) for a day count. */
void db_format_date(int64_t days, char out[11]);

/* Current wall-clock time in milliseconds since the Unix epoch (UTC). */
int64_t db_now_ms(void);
/* Writes an RFC 3339 UTC timestamp with milliseconds ("2025-07-01T03:04:05.678Z", 25 bytes). */
void db_format_time_ms(int64_t ms, char out[25]);
/* Parses an RFC 3339 timestamp ("2025-07-01T10:00:00+07:00", "...Z", or a plain date meaning its
 * midnight UTC) into milliseconds since the epoch: 0 or DB_EINVAL. */
int db_parse_time_ms(const char *s, int64_t *ms);

/* Folds text for search: ASCII letters to lower case, every Latin letter with a diacritic of Vietnamese
 * (the tone marks and the hats, horns and breves: "Ế" "ự" "ở"…, đ and Đ) and of Latin-1 (é, ñ, ç…) to
 * its lower-case base letter, and combining diacritical marks (U+0300..U+036F, decomposed text) dropped,
 * so "Chỉ số Giá" and "chi so gia" fold alike. Other bytes, invalid UTF-8 included, are copied. Folding
 * never lengthens text: out needs n + 1 bytes; it is NUL-terminated and the folded length is returned. */
size_t db_text_fold(const char *s, size_t n, char *out);

/* 1 when the list of codes separated by ';' ("SEX;AGE", an indicator's groups or dimensions; NULL is
 * empty) holds the code code[0..len), else 0. */
int db_list_has(const char *list, const char *code, size_t len);

#endif
