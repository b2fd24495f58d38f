/*
 * fuzz_csv.c -- libFuzzer harness for the CSV parser of strata ingest (src/ingest/csv.c), on an
 * in-memory buffer, with three oracles:
 *
 *   1. a reference parser written here as a byte-at-a-time state machine (independent of
 *      csv.c's scanning code) of the same dialect: the header, then records of exactly NF
 *      fields; "" in quotes is one quote and every other byte between the quotes is kept, CRLF
 *      included; an unquoted last field loses one '\r' before its line end; blank lines are
 *      skipped when NF > 1; a quote inside an unquoted field, a wrong field count and invalid
 *      UTF-8 are errors; the null marker (unquoted) reads as "". Parsing all fields as strings,
 *      csv.c must succeed exactly when the reference does, with byte-identical values;
 *   2. the parallel split of strata ingest: the quote index over small blocks, chunks starting at
 *      st_csv_record_start(), parsed separately and concatenated, must give what one serial
 *      parse gives (same success, same bytes);
 *   3. with typed columns (every dtype, from the input), the chunked and serial parses agree;
 *   4. with every column an integer, or every one a double (their fast paths), each value is
 *      st_parse_i64's (st_parse_f64's, to the bit, and those strtod's) of the field read as a
 *      string, and the nulls are the same (a null marker "", "NA" or "-9");
 *   5. with typed columns, the fast path of whole records (integers, decimals and strings found
 *      64 bytes at a time) gives what parsing one field at a time gives: the same status, error
 *      position and message, values, strings and nulls.
 *
 * Input: byte 0 options (delimiter, null marker, typed mode, chunks, integers only), byte 1 the
 * index block size, bytes 2 and 3 the column types (byte 3's top bit: integers, doubles and
 * strings only), then the CSV text.
 *     scripts/fuzz.sh fuzz_csv 60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/csv.h"
#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

/* ---- the reference parser ------------------------------------------------------------------- */

typedef struct {
    char **v;
    size_t *len;
    size_t n, cap;
} strs;

static void strs_push(strs *s, const char *v, size_t n)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        s->len = realloc(s->len, s->cap * sizeof *s->len);
        CHECK(s->v != NULL && s->len != NULL);
    }
    s->v[s->n] = malloc(n + 1);
    CHECK(s->v[s->n] != NULL);
    if (n > 0) memcpy(s->v[s->n], v, n);
    s->len[s->n++] = n;
}

static void strs_free(strs *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    free(s->len);
    memset(s, 0, sizeof *s);
}

/* Parse records of NF fields from D[P, END) into OUT (field by field, row-major), at most
 * MAX_ROWS records; returns 0, or -1 for malformed input. *NEXT: where parsing stopped. */
static int ref_parse(const char *d, size_t p, size_t end, int nf, char delim, const char *null,
                     size_t max_rows, strs *out, size_t *next)
{
    enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_SEEN, AFTER_QUOTED } st = FIELD_START;
    char *buf = malloc(end - p + 1);
    CHECK(buf != NULL);
    size_t bl = 0, rows = 0;
    int f = 0, quoted = 0, rc = 0;
    size_t nl = strlen(null);
#define EMIT()                                                                                     \
    do {                                                                                           \
        const char *v_ = buf;                                                                      \
        size_t n_ = bl;                                                                            \
        if (!quoted && n_ == nl && memcmp(v_, null, nl) == 0)                                      \
            n_ = 0;                                                                                \
        else if (st_utf8_valid_prefix(v_, n_) != n_) {                                             \
            rc = -1;                                                                               \
            goto out;                                                                              \
        }                                                                                          \
        strs_push(out, v_, n_);                                                                    \
        bl = 0;                                                                                    \
        quoted = 0;                                                                                \
    } while (0)
    while (rows < max_rows) {
        if (p >= end) {
            /* end of input: a record in progress ends here */
            if (st == FIELD_START && f == 0) break;
            if (st == QUOTED) {
                rc = -1;
                goto out;
            }
            if (st == UNQUOTED && bl > 0 && buf[bl - 1] == '\r' && f == nf - 1) bl--;
            if (f != nf - 1) {
                rc = -1;
                goto out;
            }
            EMIT();
            rows++;
            f = 0;
            st = FIELD_START;
            break;
        }
        char ch = d[p];
        switch (st) {
        case FIELD_START:
            if (f == 0 && nf > 1 &&
                (ch == '\n' || (ch == '\r' && p + 1 < end && d[p + 1] == '\n'))) {
                p += ch == '\r' ? 2 : 1; /* a blank line */
                continue;
            }
            if (ch == '"') {
                quoted = 1;
                st = QUOTED;
                p++;
                continue;
            }
            st = UNQUOTED;
            continue; /* the same byte, as the first of an unquoted field */
        case UNQUOTED:
            if (ch == '"') {
                rc = -1;
                goto out;
            }
            if (ch == delim || ch == '\n') {
                int line_end = ch == '\n';
                if (line_end && bl > 0 && buf[bl - 1] == '\r' && f == nf - 1) bl--;
                if (line_end != (f == nf - 1)) {
                    rc = -1;
                    goto out;
                }
                EMIT();
                p++;
                if (line_end) {
                    rows++;
                    f = 0;
                } else {
                    f++;
                }
                st = FIELD_START;
                continue;
            }
            buf[bl++] = ch;
            p++;
            continue;
        case QUOTED:
            if (ch == '"')
                st = QUOTE_SEEN;
            else
                buf[bl++] = ch;
            p++;
            continue;
        case QUOTE_SEEN:
            if (ch == '"') { /* "" */
                buf[bl++] = '"';
                st = QUOTED;
                p++;
                continue;
            }
            st = AFTER_QUOTED;
            continue;
        case AFTER_QUOTED: {
            int last = f == nf - 1;
            if (ch == '\r' && p + 1 < end && d[p + 1] == '\n' && last) p++, ch = '\n';
            if (ch == delim && !last) {
                EMIT();
                f++;
                p++;
                st = FIELD_START;
                continue;
            }
            if (ch == '\n' && last) {
                EMIT();
                rows++;
                f = 0;
                p++;
                st = FIELD_START;
                continue;
            }
            rc = -1;
            goto out;
        }
        }
    }
out:
#undef EMIT
    free(buf);
    *next = p;
    return rc;
}

/* ---- strata's parser ------------------------------------------------------------------------ */

static const strata_dtype types[] = {STRATA_I8,  STRATA_I16, STRATA_I32,  STRATA_I64,
                                     STRATA_U8,  STRATA_U16, STRATA_U32,  STRATA_U64,
                                     STRATA_F32, STRATA_F64, STRATA_BOOL, STRATA_STR};

/* Parse [BEGIN, END) of C into fresh buffers *COLS (NF of them); returns the status. */
static int parse(const st_csv *c, int nf, size_t begin, size_t end, st_colbuf **cols,
                 uint64_t *rows)
{
    *cols = calloc((size_t)nf, sizeof **cols);
    CHECK(*cols != NULL);
    for (int i = 0; i < nf; i++) (*cols)[i].dtype = c->dtypes[i];
    size_t pos = 0;
    char msg[512];
    int rc = st_csv_parse(c, begin, end, *cols, rows, &pos, msg, sizeof msg);
    if (rc < 0) CHECK(pos <= c->size && msg[0] != '\0');
    return rc;
}

static void free_cols(st_colbuf *cols, int nf)
{
    for (int i = 0; cols != NULL && i < nf; i++) st_colbuf_free(&cols[i]);
    free(cols);
}

/* Append column buffer B's first N values to ALL (same dtype). */
static void append(st_colbuf *all, const st_colbuf *b, uint64_t n)
{
    if (b->dtype == STRATA_STR) {
        const int64_t *off = (const int64_t *)(const void *)b->v;
        for (uint64_t r = 0; r < n; r++) {
            size_t len = (size_t)(off[r + 1] - off[r]);
            all->bytes = realloc(all->bytes, all->nb + len + 1);
            all->v = realloc(all->v, (all->n + 2) * 8);
            CHECK(all->bytes != NULL && all->v != NULL);
            if (all->n == 0) ((int64_t *)(void *)all->v)[0] = 0;
            if (len > 0) memcpy(all->bytes + all->nb, b->bytes + off[r], len);
            all->nb += len;
            ((int64_t *)(void *)all->v)[++all->n] = (int64_t)all->nb;
        }
        return;
    }
    size_t esz = strata_dtype_size(b->dtype);
    all->v = realloc(all->v, (all->n + n + 1) * esz);
    CHECK(all->v != NULL);
    if (n > 0) memcpy(all->v + all->n * esz, b->v, n * esz);
    all->n += n;
}

static int same_cols(const st_colbuf *a, const st_colbuf *b, int nf, uint64_t rows)
{
    for (int i = 0; i < nf; i++) {
        if (a[i].n != rows || b[i].n != rows) return 0;
        if (a[i].dtype == STRATA_STR) {
            if (rows == 0) continue;
            const int64_t *oa = (const int64_t *)(const void *)a[i].v;
            const int64_t *ob = (const int64_t *)(const void *)b[i].v;
            for (uint64_t r = 0; r < rows; r++) {
                size_t la = (size_t)(oa[r + 1] - oa[r]), lb = (size_t)(ob[r + 1] - ob[r]);
                if (la != lb || (la && memcmp(a[i].bytes + oa[r], b[i].bytes + ob[r], la) != 0))
                    return 0;
            }
        } else if (rows > 0 && memcmp(a[i].v, b[i].v, rows * strata_dtype_size(a[i].dtype)) != 0) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    static const char delims[] = {',', ';', '\t', '|'};
    char delim = delims[data[0] & 3];
    const char *null = data[0] & 128 ? "-9" : data[0] & 4 ? "NA" : "";
    int typed = (data[0] >> 3) & 1, ints = (data[0] >> 6) & 1;
    int nchunks = 1 + ((data[0] >> 4) & 3);
    size_t block = 1 + data[1] % 64;
    uint8_t t0 = data[2], t1 = data[3];
    data += 4;
    size = (size_t)(size - 4);
    if (size == 0) return 0;

    st_csv c;
    memset(&c, 0, sizeof c);
    c.path = "fuzz.csv";
    c.data = (const char *)data;
    c.size = size;
    c.delim = delim;
    c.null_marker = null;
    c.null_len = strlen(null);
    c.block = block;
    char **names = NULL;
    int nf = 0;
    int hrc = st_csv_header(NULL, &c, &names, &nf);

    /* the header against the reference: one record of string fields, no null marker */
    {
        size_t head = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        int in_q = 0, rnf = 1;
        size_t p = head;
        for (; p < size; p++) {
            if (data[p] == '"')
                in_q = !in_q;
            else if (!in_q && data[p] == (uint8_t)delim)
                rnf++;
            else if (!in_q && data[p] == '\n')
                break;
        }
        size_t hend = p < size ? p + 1 : size;
        strs h = {0};
        size_t next;
        int ok = !in_q && rnf <= STRATA_MAX_COLUMNS && memchr(data + head, 0, p - head) == NULL &&
                 ref_parse((const char *)data, head, hend, rnf, delim, "", 1, &h, &next) == 0 &&
                 h.n == (size_t)rnf;
        CHECK(ok == (hrc == STRATA_OK));
        if (ok) {
            CHECK(nf == rnf && c.body == hend && c.head == head);
            for (int i = 0; i < nf; i++)
                CHECK(strlen(names[i]) == h.len[i] && memcmp(names[i], h.v[i], h.len[i]) == 0);
        }
        strs_free(&h);
    }
    if (hrc != STRATA_OK) return 0;

    strata_dtype *dt = calloc((size_t)nf, sizeof *dt);
    int *target = calloc((size_t)nf, sizeof *target);
    const char **cnames = calloc((size_t)nf, sizeof *cnames);
    CHECK(dt != NULL && target != NULL && cnames != NULL);
    for (int i = 0; i < nf; i++) {
        static const strata_dtype three[] = {STRATA_I64, STRATA_F64, STRATA_STR};
        dt[i] = typed && ints       ? (t0 & 1 ? STRATA_F64 : STRATA_I64)
                : typed && t1 & 128 ? three[(t0 + (unsigned)i * (t1 | 1u)) % 3]
                : typed             ? types[(t0 + (unsigned)i * (t1 | 1u)) % 12]
                                    : STRATA_STR;
        target[i] = i;
        cnames[i] = names[i];
    }
    c.ncols = nf;
    c.dtypes = dt;
    c.target = target;
    c.names = cnames;
    if (typed) {
        strata_dtype inf[8];
        if (nf <= 8) st_csv_infer(&c, nf, inf, 1000);
    }

    /* serial */
    st_colbuf *serial = NULL;
    uint64_t srows = 0;
    int src = parse(&c, nf, c.body, c.size, &serial, &srows);
    CHECK(src == STRATA_OK || src == STRATA_EINVAL);

    /* oracle 1: the reference, all fields as strings */
    if (!typed) {
        strs r = {0};
        size_t next;
        int rrc = ref_parse((const char *)data, c.body, size, nf, delim, null, SIZE_MAX, &r, &next);
        CHECK((rrc == 0) == (src == STRATA_OK));
        if (rrc == 0) {
            CHECK(r.n == srows * (size_t)nf);
            for (int i = 0; i < nf; i++) {
                const int64_t *off = (const int64_t *)(const void *)serial[i].v;
                for (uint64_t k = 0; k < srows; k++) {
                    const size_t want = r.len[k * (size_t)nf + (size_t)i];
                    const size_t got = (size_t)(off[k + 1] - off[k]);
                    CHECK(got == want);
                    CHECK(want == 0 || memcmp(serial[i].bytes + off[k],
                                              r.v[k * (size_t)nf + (size_t)i], want) == 0);
                }
            }
        }
        strs_free(&r);
    }

    /* oracle 4: integer (or double) columns only, through their fast paths, hold what
     * st_parse_i64 (st_parse_f64) makes of the fields read as strings, and nulls where those
     * are null; they parse exactly when every field that is not null is a number */
    if (typed && ints) {
        st_csv sc = c;
        strata_dtype *sdt = calloc((size_t)nf, sizeof *sdt);
        CHECK(sdt != NULL);
        for (int i = 0; i < nf; i++) sdt[i] = STRATA_STR;
        sc.dtypes = sdt;
        st_colbuf *sv = NULL;
        uint64_t svrows = 0;
        int ok = parse(&sc, nf, sc.body, sc.size, &sv, &svrows) == STRATA_OK;
        for (int i = 0; i < nf && ok; i++) {
            const int64_t *off = (const int64_t *)(const void *)sv[i].v;
            const char *bytes = sv[i].bytes != NULL ? sv[i].bytes : ""; /* none: all empty */
            uint64_t nn = 0;
            for (uint64_t k = 0; k < svrows && ok; k++) {
                int is_null = nn < sv[i].nnull && sv[i].nulls[nn] == k;
                nn += (uint64_t)is_null;
                int64_t x = 0; /* (doubles: their bits) */
                double fx = 0;
                const char *v = bytes + off[k];
                size_t len = (size_t)(off[k + 1] - off[k]);
                if (!is_null && (dt[i] == STRATA_F64 ? st_parse_f64(v, len, &fx)
                                                     : st_parse_i64(v, len, &x)) != ST_PARSE_OK) {
                    ok = 0;
                    break;
                }
                if (dt[i] == STRATA_F64) memcpy(&x, &fx, 8);
                if (dt[i] == STRATA_F64 && !is_null && len < 512) { /* strtod's own bits */
                    char t[512];
                    memcpy(t, v, len);
                    t[len] = '\0';
                    double r = strtod(t, NULL);
                    CHECK(memcmp(&r, &fx, 8) == 0);
                }
                if (src != STRATA_OK) continue;
                uint64_t sn = 0; /* the typed column's nulls before and at row K */
                while (sn < serial[i].nnull && serial[i].nulls[sn] < k) sn++;
                CHECK(is_null == (sn < serial[i].nnull && serial[i].nulls[sn] == k));
                CHECK(((const int64_t *)(const void *)serial[i].v)[k] == x);
            }
        }
        CHECK(ok == (src == STRATA_OK));
        if (ok) CHECK(svrows == srows);
        free_cols(sv, nf);
        free(sdt);
    }

    /* oracle 5: the same, one field at a time */
    if (typed) {
        st_csv fc = c;
        fc.field_at_a_time = 1;
        st_colbuf *one = calloc((size_t)nf, sizeof *one);
        CHECK(one != NULL);
        for (int i = 0; i < nf; i++) one[i].dtype = dt[i];
        uint64_t orows = 0, rows2 = 0;
        size_t pos1 = 0, pos2 = 0;
        char msg1[512] = "", msg2[512] = "";
        st_colbuf *two = calloc((size_t)nf, sizeof *two);
        CHECK(two != NULL);
        for (int i = 0; i < nf; i++) two[i].dtype = dt[i];
        int r1 = st_csv_parse(&fc, fc.body, fc.size, one, &orows, &pos1, msg1, sizeof msg1);
        int r2 = st_csv_parse(&c, c.body, c.size, two, &rows2, &pos2, msg2, sizeof msg2);
        CHECK(r1 == r2 && r1 == src);
        if (r1 < 0) CHECK(pos1 == pos2 && strcmp(msg1, msg2) == 0);
        if (r1 == STRATA_OK) {
            CHECK(orows == srows && same_cols(one, serial, nf, srows));
            for (int i = 0; i < nf; i++) {
                CHECK(one[i].nnull == serial[i].nnull);
                CHECK(one[i].nnull == 0 || memcmp(one[i].nulls, serial[i].nulls,
                                                  one[i].nnull * sizeof *one[i].nulls) == 0);
            }
        }
        free_cols(one, nf);
        free_cols(two, nf);
    }

    /* oracle 2 and 3: chunks at record starts found through the quote index */
    CHECK(st_csv_index(NULL, &c, 1) == STRATA_OK);
    size_t starts[5];
    size_t b0 = c.body / c.block;
    starts[0] = c.body;
    for (int t = 1; t < nchunks; t++) {
        size_t blk = b0 + (c.nblocks - b0) * (size_t)t / (size_t)nchunks;
        size_t s = st_csv_record_start(&c, blk);
        CHECK(s >= c.body && s <= c.size);
        if (s < starts[t - 1]) s = starts[t - 1];
        starts[t] = s;
    }
    starts[nchunks] = c.size;
    st_colbuf *all = calloc((size_t)nf, sizeof *all);
    CHECK(all != NULL);
    for (int i = 0; i < nf; i++) all[i].dtype = dt[i];
    int crc = STRATA_OK;
    uint64_t crows = 0;
    for (int t = 0; t < nchunks && crc == STRATA_OK; t++) {
        st_colbuf *part;
        uint64_t rows;
        crc = parse(&c, nf, starts[t], starts[t + 1], &part, &rows);
        if (crc == STRATA_OK)
            for (int i = 0; i < nf; i++) append(&all[i], &part[i], rows);
        crows += rows;
        free_cols(part, nf);
    }
    CHECK((crc == STRATA_OK) == (src == STRATA_OK));
    if (src == STRATA_OK) CHECK(crows == srows && same_cols(serial, all, nf, srows));

    free_cols(all, nf);
    free_cols(serial, nf);
    st_csv_free_names(names, nf);
    free(c.parity);
    free(dt);
    free(target);
    free(cnames);
    return 0;
}
