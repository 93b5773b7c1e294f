/* csv.c - the strict, streaming RFC 4180 reader of csv.h.
 *
 * Why it is fast: input is read in large blocks into one buffer, and the parser never looks at plain
 * field bytes one by one. A 64-byte window at a time is turned into two bit masks, one marking the
 * bytes the grammar cares about (delimiter, quote, CR, LF) and one marking bytes >= 0x80; the parser
 * jumps from one marked byte to the next with a count-trailing-zeros. Fields are stored as pointers
 * into the buffer in an array reused from record to record; quoted fields that hold doubled quotes are
 * unescaped in place once their record is complete. UTF-8 is validated only for records whose windows
 * showed a byte >= 0x80, so ASCII input pays nothing for it.
 *
 * The buffer holds [0, rec) bytes already consumed, [rec, end) unread input, then PAD zero bytes so
 * that a window load near the end stays inside the allocation and sees no marks. When a record runs
 * past `end`, its bytes move to the front and the rest of the buffer is refilled (read(2), or memcpy
 * for a memory block). The buffer holds four records of the maximum size (capped at BUFFER_BYTES), and
 * grows only for a record that is within the limit but larger than the buffer.
 *
 * Error recovery: the first problem of a record is reported and the record becomes "bad". A bad record
 * is scanned to its end with the same rules, except that a quote inside an unquoted field and text after
 * a closing quote are taken as plain text; its fields are no longer stored, so the buffer can be emptied
 * as the scan goes and an overlong record costs no memory. A record ends at a line end outside quotes,
 * so an overlong quoted field spanning several lines is skipped whole. A quote that never closes is
 * reported even in a record that already had a problem, since it explains where the input went. */
#include "ingest/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"

#define DEFAULT_MAX_RECORD ((size_t)1 << 20)
#define MAX_RECORD_CEILING (SIZE_MAX / 8) /* keeps buffer arithmetic far from overflow */
#define BUFFER_BYTES ((size_t)4 << 20)    /* four default records; throughput is flat from 256 KiB up */
#define MIN_BUFFER 16
#define PAD 64
#define NO_WINDOW ((size_t)0 - 64) /* a window base that puts every position out of the window */

struct db_csv {
  /* input: a file descriptor, or a memory block when fd < 0 */
  int fd, own_fd;
  const char *mem;
  size_t mem_len, mem_pos;
  int eof, failed;
  uint64_t size; /* total input bytes, 0 when unknown */
  uint64_t base; /* input offset of buf[0] */

  char *buf; /* cap + PAD bytes */
  size_t cap, rec, end;

  char delim;
  size_t max; /* max_record_bytes */
  db_diag *d;

  long line;    /* line of the next record's first byte */
  int bom_done; /* the start of input was checked for a byte-order mark */
  db_csv_field *fields;
  size_t fields_cap;

  /* the current window: bit j of marks/high describes buf[wbase + j] */
  size_t wbase;
  uint64_t marks, high;
  int high_seen; /* a byte >= 0x80 may lie in the record being read */
};

static int check_options(const db_csv_options *opts, db_diag *d);
static db_csv *new_reader(const db_csv_options *opts, db_diag *d, int fd, uint64_t size, uint64_t hint);
static int read_record(db_csv *r, size_t *n_fields, long *line);

int db_csv_open_file(const char *path, const db_csv_options *opts, db_diag *d, db_csv **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return db_diag_add(d, 0, 0, NULL, DB_EIO, "cannot open %s: %s", path, strerror(errno));
  int rc = db_csv_open_fd(fd, opts, d, out);
  if (rc) {
    close(fd);
    return rc;
  }
  (*out)->own_fd = 1;
  return DB_OK;
}

int db_csv_open_fd(int fd, const db_csv_options *opts, db_diag *d, db_csv **out) {
  *out = NULL;
  int rc = check_options(opts, d);
  if (rc) return rc;
  struct stat st;
  if (fstat(fd, &st) != 0)
    return db_diag_add(d, 0, 0, NULL, DB_EIO, "cannot read the input: %s", strerror(errno));
  if (S_ISDIR(st.st_mode))
    return db_diag_add(d, 0, 0, NULL, DB_EIO, "cannot read the input: it is a directory");
  uint64_t size = 0; /* a pipe or a device: unknown */
  if (S_ISREG(st.st_mode)) {
    size = (uint64_t)st.st_size;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  *out = new_reader(opts, d, fd, size, size ? size : UINT64_MAX); /* /proc files say 0, yet hold data */
  return DB_OK;
}

int db_csv_open_mem(const char *data, size_t len, const db_csv_options *opts, db_diag *d, db_csv **out) {
  *out = NULL;
  int rc = check_options(opts, d);
  if (rc) return rc;
  db_csv *r = new_reader(opts, d, -1, len, len);
  r->mem = data;
  r->mem_len = len;
  *out = r;
  return DB_OK;
}

int db_csv_next(db_csv *r, db_csv_field **fields, size_t *n_fields, long *line) {
  *n_fields = 0;
  *line = r->line;
  int rc = r->failed ? DB_EIO : read_record(r, n_fields, line);
  if (rc == DB_EIO) r->failed = 1;
  *fields = r->fields; /* after the read: a record with many fields moves the array */
  return rc;
}

uint64_t db_csv_offset(const db_csv *r) { return r->base + r->rec; }

uint64_t db_csv_size(const db_csv *r) { return r->size; }

void db_csv_close(db_csv *r) {
  if (!r) return;
  if (r->own_fd) close(r->fd);
  db_free(r->fields);
  db_free(r->buf);
  db_free(r);
}

/* The delimiter must be a byte that cannot start or end a quoted field or a line. */
static int check_options(const db_csv_options *opts, db_diag *d) {
  char c = opts ? opts->delimiter : 0;
  if (c == '"' || c == '\r' || c == '\n')
    return db_diag_add(d, 0, 0, NULL, DB_EINVAL, "CSV delimiter cannot be a quote, CR or LF");
  return DB_OK;
}

/* A reader with its buffer: four maximal records, at most BUFFER_BYTES, and no more than the whole
 * input when its size is known (`hint`, UINT64_MAX when unknown: a small catalog file gets a small
 * buffer). `size` is what db_csv_size reports. */
static db_csv *new_reader(const db_csv_options *opts, db_diag *d, int fd, uint64_t size, uint64_t hint) {
  db_csv *r = db_calloc(1, sizeof *r);
  r->fd = fd;
  r->size = size;
  r->d = d;
  r->delim = opts && opts->delimiter ? opts->delimiter : ',';
  r->max = opts && opts->max_record_bytes ? opts->max_record_bytes : DEFAULT_MAX_RECORD;
  if (r->max > MAX_RECORD_CEILING) r->max = MAX_RECORD_CEILING;
  r->cap = r->max < BUFFER_BYTES / 4 ? 4 * r->max : BUFFER_BYTES;
  if (hint < r->cap) r->cap = (size_t)hint + 1;
  if (r->cap < MIN_BUFFER) r->cap = MIN_BUFFER;
  r->buf = db_malloc(r->cap + PAD);
  memset(r->buf, 0, PAD);
  r->line = 1;
  r->fields_cap = 16;
  r->fields = db_malloc(r->fields_cap * sizeof *r->fields);
  r->wbase = NO_WINDOW;
  return r;
}

/* Sets bit j of *marks when p[j] is the delimiter, a quote, CR or LF, and bit j of *high when
 * p[j] >= 0x80, for j in 0..63. Reads exactly 64 bytes. */
static inline void scan_window(const char *p, char delim, uint64_t *marks, uint64_t *high) {
#if defined(__SSE2__)
  const __m128i vd = _mm_set1_epi8(delim), vq = _mm_set1_epi8('"');
  const __m128i vcr = _mm_set1_epi8('\r'), vlf = _mm_set1_epi8('\n');
  uint64_t m = 0, h = 0;
  for (int k = 0; k < 4; k++) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
    __m128i e = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vq)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, vcr), _mm_cmpeq_epi8(v, vlf)));
    m |= (uint64_t)(unsigned)_mm_movemask_epi8(e) << (16 * k);
    h |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << (16 * k);
  }
  *marks = m;
  *high = h;
#else
  /* SWAR: a byte of t is zero exactly when ((t & 0x7F) + 0x7F | t) has its high bit clear. */
  const uint64_t lo7 = 0x7F7F7F7F7F7F7F7FULL, hi1 = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
  const uint64_t cd = ones * (unsigned char)delim, cq = ones * '"', ccr = ones * '\r', clf = ones * '\n';
  uint64_t m = 0, h = 0;
  for (int k = 0; k < 8; k++) {
    uint64_t v;
    memcpy(&v, p + 8 * k, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    uint64_t t1 = v ^ cd, t2 = v ^ cq, t3 = v ^ ccr, t4 = v ^ clf;
    uint64_t nz = (((t1 & lo7) + lo7) | t1) & (((t2 & lo7) + lo7) | t2) & (((t3 & lo7) + lo7) | t3) &
                  (((t4 & lo7) + lo7) | t4);
    uint64_t eq = ~nz & hi1;
    /* gather the eight high bits into one byte, byte j to bit j */
    m |= (((eq >> 7) * 0x0102040810204080ULL) >> 56) << (8 * k);
    h |= ((((v & hi1) >> 7) * 0x0102040810204080ULL) >> 56) << (8 * k);
  }
  *marks = m;
  *high = h;
#endif
}

/* The position of the first marked byte at or after i, or r->end when there is none before it. */
static inline size_t next_mark(db_csv *r, size_t i) {
  for (;;) {
    size_t d = i - r->wbase;
    if (d < 64) {
      uint64_t m = r->marks >> d;
      if (m) return i + (size_t)__builtin_ctzll(m);
      i = r->wbase + 64;
    }
    if (i >= r->end) return r->end;
    r->wbase = i;
    scan_window(r->buf + i, r->delim, &r->marks, &r->high);
    r->high_seen |= r->high != 0;
  }
}

/* Reads more input after r->end, first dropping the bytes before `keep` (which must be >= r->rec)
 * and moving the first n_fields stored fields along with the kept bytes; a buffer that is full of
 * kept bytes doubles instead. *shift receives how far kept bytes moved towards the front. Sets r->eof
 * when the input is exhausted. Returns 0, or DB_EIO (reason in the diag). */
static int refill(db_csv *r, size_t keep, size_t n_fields, size_t *shift) {
  size_t live = r->end - keep;
  char *nb = r->buf;
  if (keep == 0 && r->end == r->cap) {
    r->cap *= 2;
    nb = db_malloc(r->cap + PAD);
  }
  if (nb != r->buf || keep) {
    const char *from = r->buf + keep;
    memmove(nb, from, live);
    for (size_t f = 0; f < n_fields; f++) r->fields[f].p = nb + (r->fields[f].p - from);
    if (nb != r->buf) db_free(r->buf);
    r->buf = nb;
  }
  r->base += keep;
  r->rec = 0;
  r->end = live;
  r->wbase = NO_WINDOW;
  *shift = keep;

  size_t room = r->cap - r->end;
  if (r->fd < 0) {
    size_t n = r->mem_len - r->mem_pos < room ? r->mem_len - r->mem_pos : room;
    if (n) memcpy(r->buf + r->end, r->mem + r->mem_pos, n);
    r->mem_pos += n;
    r->end += n;
    r->eof = r->mem_pos == r->mem_len;
  } else {
    ssize_t n;
    do n = read(r->fd, r->buf + r->end, room);
    while (n < 0 && errno == EINTR);
    if (n < 0) return db_diag_add(r->d, 0, 0, NULL, DB_EIO, "cannot read the input: %s", strerror(errno));
    r->end += (size_t)n;
    r->eof = n == 0;
  }
  memset(r->buf + r->end, 0, PAD);
  return DB_OK;
}

static int column(size_t n) { return n < INT_MAX ? (int)n : INT_MAX; }

/* Reports the first problem of a record (later ones would mostly be echoes of it) and marks it bad. */
static void problem(db_csv *r, int *bad, long line, size_t col, const char *msg) {
  if (*bad) return;
  *bad = 1;
  db_diag_add(r->d, line, column(col), NULL, DB_EINVAL, "%s", msg);
}

static void overlong(db_csv *r, int *bad, size_t col) {
  *bad = 1;
  db_diag_add(r->d, r->line, column(col), NULL, DB_EINVAL, "record longer than %zu bytes (skipped)", r->max);
}

/* Stores field number n (0-based) of a good record unless the record, up to raw_end (the buffer
 * position just after the field's text), is over the limit; then the record becomes bad. */
static inline void store(db_csv *r, int *bad, size_t n, size_t start, size_t len, int quoted,
                         size_t raw_end) {
  if (*bad) return;
  if (raw_end - r->rec > r->max) {
    overlong(r, bad, n + 1);
    return;
  }
  if (n == r->fields_cap) {
    r->fields_cap *= 2;
    r->fields = db_realloc(r->fields, r->fields_cap * sizeof *r->fields);
  }
  r->fields[n] = (db_csv_field){r->buf + start, len, quoted};
}

static int check_utf8(db_csv *r, size_t rec, size_t n_fields, long line);
static void unescape(db_csv *r, size_t n_fields);

/* Reads one record (see db_csv_next). The parser is a state machine written with labels: `field` at
 * the first byte of a field, `unquoted` and `quoted` scanning inside one, `after_quote` just after a
 * closing quote. Whenever the buffered input runs out before the record ends, NEED_MORE checks the
 * record limit, refills, and the same state resumes at i. Positions are buffer indices: fs is the
 * field's first byte (its opening quote when quoted), qe the closing quote, nl counts the line ends
 * inside the record so far (for the line of a problem). A quoted field whose content holds doubled
 * quotes is stored with quoted = 2 until the record is complete and it is unescaped. */
static int read_record(db_csv *r, size_t *n_fields, long *line) {
  const char delim = r->delim;
  char *b = r->buf;
  size_t i = r->rec, fs = 0, qe = 0, k, next, nf = 0, shift;
  long nl = 0, qnl = 0;
  int bad = 0, esc = 0, any_esc = 0, more, rc;

  /* After a refill the kept bytes sit at the front: shift every saved position. In a bad record only
   * i matters (fs and qe are not used again), and only the resume point is kept. */
#define REFILL(keep)                                               \
  do {                                                             \
    if ((rc = refill(r, (keep), bad ? 0 : nf, &shift))) return rc; \
    b = r->buf;                                                    \
    i -= shift, fs -= shift, qe -= shift;                          \
  } while (0)
#define NEED_MORE()                                                      \
  do {                                                                   \
    if (!bad && r->end - r->rec - 1 > r->max) overlong(r, &bad, nf + 1); \
    REFILL(bad ? i : r->rec);                                            \
  } while (0)

  if (!r->bom_done) {
    while (r->end - i < 3 && !r->eof) REFILL(i);
    if (r->end - i >= 3 && memcmp(b + i, "\xEF\xBB\xBF", 3) == 0) i += 3;
    r->bom_done = 1;
  }
  for (;;) { /* blank lines */
    if (i >= r->end) {
      if (r->eof) {
        r->rec = i;
        return 0;
      }
      REFILL(i);
    } else if (b[i] == '\n') {
      r->line++, i++;
    } else if (b[i] == '\r' && i + 1 >= r->end && !r->eof) {
      REFILL(i);
    } else if (b[i] == '\r' && i + 1 < r->end && b[i + 1] == '\n') {
      r->line++, i += 2;
    } else {
      break;
    }
  }
  r->rec = i;

field:
  fs = i;
  if (i >= r->end) {
    if (!r->eof) {
      NEED_MORE();
      goto field;
    }
    store(r, &bad, nf++, fs, 0, 0, i); /* "a,<EOF>": a last, empty field */
    next = i;
    goto record_end;
  }
  if (b[i] == '"') {
    qnl = nl;
    i++;
    goto quoted;
  }
unquoted:
  k = next_mark(r, i);
  if (k >= r->end) {
    i = r->end;
    if (!r->eof) {
      NEED_MORE();
      goto unquoted;
    }
    store(r, &bad, nf++, fs, k - fs, 0, k);
    next = k;
    goto record_end;
  }
  if (b[k] == delim) {
    store(r, &bad, nf++, fs, k - fs, 0, k);
    i = k + 1;
    goto field;
  }
  if (b[k] == '\n') {
    store(r, &bad, nf++, fs, k - fs, 0, k);
    next = k + 1;
    goto record_end;
  }
  if (b[k] == '\r') {
    if (k + 1 >= r->end && !r->eof) {
      i = k;
      NEED_MORE();
      goto unquoted;
    }
    if (k + 1 < r->end && b[k + 1] == '\n') {
      store(r, &bad, nf++, fs, k - fs, 0, k);
      next = k + 2;
      goto record_end;
    }
    problem(r, &bad, r->line + nl, nf + 1, "carriage return not followed by a line feed");
  } else {
    problem(r, &bad, r->line + nl, nf + 1,
            "quote inside an unquoted field (quote the whole field and double the quote)");
  }
  i = k + 1;
  goto unquoted;

quoted:
  k = next_mark(r, i);
  if (k >= r->end) {
    i = r->end;
    if (!r->eof) {
      NEED_MORE();
      goto quoted;
    }
    bad = 0; /* reported even after another problem: it swallowed the rest of the input */
    problem(r, &bad, r->line + qnl, nf + 1,
            "quoted field is never closed (its opening quote is on this line)");
    next = k;
    goto record_end;
  }
  if (b[k] != '"') {
    nl += b[k] == '\n';
    i = k + 1;
    goto quoted;
  }
  if (k + 1 >= r->end && !r->eof) {
    i = k;
    NEED_MORE();
    goto quoted;
  }
  if (k + 1 < r->end && b[k + 1] == '"') {
    esc = 1;
    i = k + 2;
    goto quoted;
  }
  qe = k;
  i = k + 1;
after_quote:
  if (!r->eof && (i >= r->end || (b[i] == '\r' && i + 1 >= r->end))) {
    NEED_MORE();
    goto after_quote;
  }
  more = 0;
  if (i >= r->end)
    next = i;
  else if (b[i] == '\n')
    next = i + 1;
  else if (b[i] == '\r' && i + 1 < r->end && b[i + 1] == '\n')
    next = i + 2;
  else if (b[i] == delim)
    more = 1;
  else {
    problem(r, &bad, r->line + nl, nf + 1,
            "text after the closing quote (a quote inside a quoted field must be doubled)");
    goto unquoted;
  }
  store(r, &bad, nf++, fs + 1, qe - fs - 1, esc ? 2 : 1, qe + 1);
  any_esc |= esc;
  esc = 0;
  if (more) {
    i++;
    goto field;
  }

record_end:
#undef NEED_MORE
#undef REFILL
  *line = r->line;
  r->line += nl + 1;
  size_t rec = r->rec;
  r->rec = next;
  int check = r->high_seen;
  size_t d = next - r->wbase; /* high bytes already seen beyond this record belong to the next ones */
  r->high_seen = d < 64 && (r->high >> d) != 0;
  if (bad) return DB_EINVAL;
  if (check && (rc = check_utf8(r, rec, nf, *line))) return rc;
  if (any_esc) unescape(r, nf);
  *n_fields = nf;
  return 1;
}

/* 1 when the n bytes at p are ASCII; eight at a time. */
static int ascii(const char *p, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; i++) acc |= (unsigned char)p[i];
  return (acc & 0x8080808080808080ULL) == 0;
}

/* Validates the fields of a complete record (still escaped) that starts at buffer position rec on
 * `line`. Returns 0, or DB_EINVAL after reporting the first bad byte with its own line. */
static int check_utf8(db_csv *r, size_t rec, size_t n_fields, long line) {
  for (size_t f = 0; f < n_fields; f++) {
    const db_csv_field *fl = &r->fields[f];
    size_t off;
    if (ascii(fl->p, fl->len) || db_utf8_valid(fl->p, fl->len, &off)) continue;
    for (const char *p = r->buf + rec; (p = memchr(p, '\n', (size_t)(fl->p + off - p))); p++) line++;
    return db_diag_add(r->d, line, column(f + 1), NULL, DB_EINVAL,
                       "invalid UTF-8 at byte offset %zu of the field (byte 0x%02X)", off,
                       (unsigned char)fl->p[off]);
  }
  return DB_OK;
}

/* Turns each doubled quote of the fields marked quoted = 2 into one, in place. */
static void unescape(db_csv *r, size_t n_fields) {
  for (size_t f = 0; f < n_fields; f++) {
    db_csv_field *fl = &r->fields[f];
    if (fl->quoted != 2) continue;
    char *out = r->buf + (fl->p - r->buf), *w = out;
    const char *s = fl->p, *e = fl->p + fl->len;
    while (s < e) {
      const char *q = memchr(s, '"', (size_t)(e - s));
      size_t n = (size_t)((q ? q + 1 : e) - s); /* up to and with the first quote of a pair */
      memmove(w, s, n);
      w += n;
      s += q ? n + 1 : n;
    }
    fl->len = (size_t)(w - out);
    fl->quoted = 1;
  }
}
