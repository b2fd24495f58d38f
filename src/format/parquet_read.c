/*
 * parquet_read.c -- the footer of a Parquet file: FileMetaData (schema, row groups, column
 * chunks, statistics, logical types) parsed with the compact protocol and validated against the
 * file, for parquet_decode.c to decode column chunks from.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/parquet_int.h"

static const st_pq_limits default_limits = {1 << 28, (int64_t)1 << 32};

/* ---- parsing, into the temporary forms below ------------------------------------------------ */

typedef struct {
    const uint8_t *name;
    size_t name_len;
    int type, rep, num_children, converted;
    st_pq_logical logical;
    int has_logical;
} schema_el;

typedef struct {
    int has_file_path, has_meta;
    int type;
    st_pq_chunk c;
} chunk_el;

typedef struct {
    int64_t num_rows;
    int64_t ncols;
    chunk_el *cols;
} rg_el;

typedef struct {
    st_tc_reader r;
    int64_t nschema, nrg;
    schema_el *schema;
    rg_el *rgs;
    int64_t num_rows;
    const uint8_t *created_by;
    size_t created_by_len;
    int oom;
} footer;

/* Next field of the open struct into ID/T; 1 at its end, 0 for a field, <0 on failure. */
static int next(st_tc_reader *r, int16_t *id, int *t)
{
    if (st_tc_field(r, id, t) < 0) return STRATA_ECORRUPT;
    return *t == ST_TC_STOP;
}

static int read_int(st_tc_reader *r, int t, int64_t *v)
{
    return st_tc_int(r, t, v);
}

/* A union of empty structs (TimeUnit): which member is set, 0 if none. */
static int read_union_tag(st_tc_reader *r, int *tag)
{
    int16_t id;
    int t, e;
    *tag = 0;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (t == ST_TC_STRUCT) *tag = id;
        if (st_tc_skip(r, t) < 0) return STRATA_ECORRUPT;
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_timestamp(st_tc_reader *r, st_pq_logical *lt)
{
    int16_t id;
    int t, e;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 1 && (t == ST_TC_TRUE || t == ST_TC_FALSE)) {
            lt->utc = t == ST_TC_TRUE;
        } else if (id == 2 && t == ST_TC_STRUCT) {
            int tag;
            if (read_union_tag(r, &tag) < 0) return STRATA_ECORRUPT;
            lt->unit = tag == 1 ? ST_PQ_MILLIS : tag == 3 ? ST_PQ_NANOS : ST_PQ_MICROS;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_inttype(st_tc_reader *r, st_pq_logical *lt)
{
    int16_t id;
    int t, e;
    int64_t v;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 1 && t == ST_TC_BYTE) {
            if (read_int(r, t, &v) < 0) return STRATA_ECORRUPT;
            lt->bit_width = (int)v;
        } else if (id == 2 && (t == ST_TC_TRUE || t == ST_TC_FALSE)) {
            lt->is_signed = t == ST_TC_TRUE;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_logical(st_tc_reader *r, st_pq_logical *lt)
{
    int16_t id;
    int t, e;
    memset(lt, 0, sizeof *lt);
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (t == ST_TC_STRUCT && id == 8) {
            lt->kind = ST_PQ_LT_TIMESTAMP;
            if (read_timestamp(r, lt) < 0) return STRATA_ECORRUPT;
            continue;
        }
        if (t == ST_TC_STRUCT && id == 10) {
            lt->kind = ST_PQ_LT_INTEGER;
            if (read_inttype(r, lt) < 0) return STRATA_ECORRUPT;
            continue;
        }
        if (t == ST_TC_STRUCT)
            lt->kind = id == 1 ? ST_PQ_LT_STRING : id == 6 ? ST_PQ_LT_DATE : ST_PQ_LT_OTHER;
        if (st_tc_skip(r, t) < 0) return STRATA_ECORRUPT;
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_schema_el(st_tc_reader *r, schema_el *s)
{
    int16_t id;
    int t, e;
    int64_t v;
    memset(s, 0, sizeof *s);
    s->type = s->rep = s->num_children = s->converted = -1;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 4 && t == ST_TC_BINARY) {
            if (st_tc_binary(r, &s->name, &s->name_len) < 0) return STRATA_ECORRUPT;
        } else if (id == 10 && t == ST_TC_STRUCT) {
            if (read_logical(r, &s->logical) < 0) return STRATA_ECORRUPT;
            s->has_logical = 1;
        } else if ((id == 1 || id == 3 || id == 5 || id == 6) && t == ST_TC_I32) {
            if (read_int(r, t, &v) < 0) return STRATA_ECORRUPT;
            if (v < -1 || v > 1 << 30) v = 1 << 30; /* out of every range checked below */
            if (id == 1)
                s->type = (int)v;
            else if (id == 3)
                s->rep = (int)v;
            else if (id == 5)
                s->num_children = (int)v;
            else
                s->converted = (int)v;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_stats(st_tc_reader *r, st_pq_stats *st)
{
    int16_t id;
    int t, e;
    const uint8_t *p, *min_old = NULL, *max_old = NULL;
    size_t n, min_old_len = 0, max_old_len = 0;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (t == ST_TC_BINARY && (id == 1 || id == 2 || id == 5 || id == 6)) {
            if (st_tc_binary(r, &p, &n) < 0) return STRATA_ECORRUPT;
            if (id == 1)
                max_old = p, max_old_len = n;
            else if (id == 2)
                min_old = p, min_old_len = n;
            else if (id == 5)
                st->max = p, st->max_len = n;
            else
                st->min = p, st->min_len = n;
        } else if (id == 3 && t == ST_TC_I64) {
            if (st_tc_i64(r, &st->null_count) < 0) return STRATA_ECORRUPT;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    if (st->min == NULL && st->max == NULL) {
        st->min = min_old, st->min_len = min_old_len;
        st->max = max_old, st->max_len = max_old_len;
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_colmeta(st_tc_reader *r, chunk_el *c)
{
    int16_t id;
    int t, e;
    int64_t v;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 12 && t == ST_TC_STRUCT) {
            if (read_stats(r, &c->c.stats) < 0) return STRATA_ECORRUPT;
            continue;
        }
        if (!((id == 1 || id == 4) && t == ST_TC_I32) &&
            !((id == 5 || id == 6 || id == 7 || id == 9 || id == 11) && t == ST_TC_I64)) {
            if (st_tc_skip(r, t) < 0) return STRATA_ECORRUPT;
            continue;
        }
        if (read_int(r, t, &v) < 0) return STRATA_ECORRUPT;
        switch (id) {
        case 1:
            c->type = (int)v;
            break;
        case 4:
            c->c.codec = (st_pq_codec)v;
            break;
        case 5:
            c->c.num_values = v;
            break;
        case 6:
            c->c.total_uncompressed_size = v;
            break;
        case 7:
            c->c.total_compressed_size = v;
            break;
        case 9:
            c->c.data_page_offset = v;
            break;
        default:
            c->c.dictionary_page_offset = v;
            break;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_chunk(st_tc_reader *r, chunk_el *c)
{
    int16_t id;
    int t, e;
    memset(c, 0, sizeof *c);
    c->type = -1;
    c->c.codec = (st_pq_codec)-1;
    c->c.num_values = c->c.data_page_offset = c->c.total_compressed_size = -1;
    c->c.dictionary_page_offset = -1;
    c->c.stats.null_count = -1;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 1 && t == ST_TC_BINARY) c->has_file_path = 1;
        if (id == 3 && t == ST_TC_STRUCT) {
            c->has_meta = 1;
            if (read_colmeta(r, c) < 0) return STRATA_ECORRUPT;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_rowgroup(footer *ft, rg_el *g)
{
    st_tc_reader *r = &ft->r;
    int16_t id;
    int t, e;
    memset(g, 0, sizeof *g);
    g->num_rows = -1;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 1 && t == ST_TC_LIST && g->cols == NULL) {
            int et;
            if (st_tc_list(r, &et, &g->ncols) < 0) return STRATA_ECORRUPT;
            if (et != ST_TC_STRUCT) return r->why = "column chunks not structs", STRATA_ECORRUPT;
            g->cols = calloc((size_t)g->ncols + 1, sizeof *g->cols);
            if (g->cols == NULL) return ft->oom = 1, STRATA_ENOMEM;
            for (int64_t i = 0; i < g->ncols; i++)
                if (read_chunk(r, &g->cols[i]) < 0) return STRATA_ECORRUPT;
        } else if (id == 3 && t == ST_TC_I64) {
            if (st_tc_i64(r, &g->num_rows) < 0) return STRATA_ECORRUPT;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static int read_footer(footer *ft)
{
    st_tc_reader *r = &ft->r;
    int16_t id;
    int t, e, et;
    ft->num_rows = -1;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    while ((e = next(r, &id, &t)) == 0) {
        if (id == 2 && t == ST_TC_LIST && ft->schema == NULL) {
            if (st_tc_list(r, &et, &ft->nschema) < 0) return STRATA_ECORRUPT;
            if (et != ST_TC_STRUCT) return r->why = "schema elements not structs", STRATA_ECORRUPT;
            ft->schema = calloc((size_t)ft->nschema + 1, sizeof *ft->schema);
            if (ft->schema == NULL) return ft->oom = 1, STRATA_ENOMEM;
            for (int64_t i = 0; i < ft->nschema; i++)
                if (read_schema_el(r, &ft->schema[i]) < 0) return STRATA_ECORRUPT;
        } else if (id == 4 && t == ST_TC_LIST && ft->rgs == NULL) {
            if (st_tc_list(r, &et, &ft->nrg) < 0) return STRATA_ECORRUPT;
            if (et != ST_TC_STRUCT) return r->why = "row groups not structs", STRATA_ECORRUPT;
            ft->rgs = calloc((size_t)ft->nrg + 1, sizeof *ft->rgs);
            if (ft->rgs == NULL) return ft->oom = 1, STRATA_ENOMEM;
            for (int64_t i = 0; i < ft->nrg; i++)
                if (read_rowgroup(ft, &ft->rgs[i]) < 0)
                    return ft->oom ? STRATA_ENOMEM : STRATA_ECORRUPT;
        } else if (id == 3 && t == ST_TC_I64) {
            if (st_tc_i64(r, &ft->num_rows) < 0) return STRATA_ECORRUPT;
        } else if (id == 6 && t == ST_TC_BINARY) {
            if (st_tc_binary(r, &ft->created_by, &ft->created_by_len) < 0) return STRATA_ECORRUPT;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    return e < 0 ? e : STRATA_OK;
}

static void footer_free(footer *ft)
{
    for (int64_t i = 0; ft->rgs != NULL && i < ft->nrg; i++) free(ft->rgs[i].cols);
    free(ft->rgs);
    free(ft->schema);
}

/* ---- validation into the st_pq_file --------------------------------------------------------- */

/* The logical type of the legacy ConvertedType CT, for files that carry only that. */
static st_pq_logical from_converted(int ct)
{
    st_pq_logical lt = {0};
    if (ct < 0) return lt;
    if (ct == 0) {
        lt.kind = ST_PQ_LT_STRING;
    } else if (ct == 6) {
        lt.kind = ST_PQ_LT_DATE;
    } else if (ct == 9 || ct == 10) {
        lt.kind = ST_PQ_LT_TIMESTAMP;
        lt.unit = ct == 9 ? ST_PQ_MILLIS : ST_PQ_MICROS;
        lt.utc = 1;
    } else if (ct >= 11 && ct <= 18) {
        static const int widths[] = {8, 16, 32, 64};
        lt.kind = ST_PQ_LT_INTEGER;
        lt.bit_width = widths[(ct - 11) % 4];
        lt.is_signed = ct >= 15;
    } else {
        lt.kind = ST_PQ_LT_OTHER;
    }
    return lt;
}

static int perr(st_pq_file *f, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(st_pq_file *f, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return st_error(f->err, code, "cannot read parquet file '%s': %s", f->name, msg);
}

static int check_schema(st_pq_file *f, footer *ft)
{
    for (int64_t i = 1; i < ft->nschema; i++) /* a group (LIST, MAP, STRUCT) or repeated leaf */
        if (ft->schema[i].num_children > 0 || ft->schema[i].rep == 2)
            return perr(f, STRATA_EUNSUPPORTED,
                        "column '%.*s': nested types (LIST, MAP, STRUCT) are not supported",
                        (int)(ft->schema[i].name_len > 200 ? 200 : ft->schema[i].name_len),
                        ft->schema[i].name ? (const char *)ft->schema[i].name : "");
    if (ft->nschema < 1 || ft->schema[0].num_children < 0 ||
        ft->schema[0].num_children != ft->nschema - 1)
        return perr(f, STRATA_ECORRUPT,
                    "the schema's root does not have its %lld elements as children",
                    (long long)(ft->nschema - 1));
    f->ncols = (int)(ft->nschema - 1);
    f->cols = calloc((size_t)f->ncols + 1, sizeof *f->cols);
    if (f->cols == NULL) return perr(f, STRATA_ENOMEM, "out of memory");
    for (int i = 0; i < f->ncols; i++) {
        schema_el *s = &ft->schema[i + 1];
        st_pq_column *c = &f->cols[i];
        char *name = malloc(s->name_len + 1);
        if (name == NULL) return perr(f, STRATA_ENOMEM, "out of memory");
        if (s->name_len) memcpy(name, s->name, s->name_len);
        name[s->name_len] = '\0';
        c->name = name;
        if (s->num_children > 0 || s->rep == 2)
            return perr(f, STRATA_EUNSUPPORTED, "column '%s': nested types are not supported",
                        name);
        if (s->type < 0 || s->type > ST_PQ_FIXED_LEN_BYTE_ARRAY)
            return perr(f, STRATA_ECORRUPT, "column '%s' has no valid physical type", name);
        if (s->rep != 0 && s->rep != 1)
            return perr(f, STRATA_ECORRUPT, "column '%s' has no valid repetition", name);
        c->type = (st_pq_type)s->type;
        c->optional = s->rep == 1;
        c->converted_type = s->converted;
        c->logical = s->has_logical ? s->logical : from_converted(s->converted);
    }
    return STRATA_OK;
}

static int check_chunk(st_pq_file *f, int rg, int col, chunk_el *c, size_t data_end)
{
    const char *name = f->cols[col].name;
    if (c->has_file_path)
        return perr(f, STRATA_EUNSUPPORTED,
                    "column '%s' of row group %d is in another file, which is not supported", name,
                    rg);
    if (!c->has_meta || c->type < 0 || (int)c->c.codec < 0 || c->c.num_values < 0 ||
        c->c.data_page_offset < 0 || c->c.total_compressed_size < 0)
        return perr(f, STRATA_ECORRUPT, "column '%s' of row group %d lacks its metadata", name, rg);
    if (c->type != (int)f->cols[col].type)
        return perr(f, STRATA_ECORRUPT, "column '%s' of row group %d is %s, the schema says %s",
                    name, rg, st_pq_type_name(c->type), st_pq_type_name(f->cols[col].type));
    int64_t start = c->c.data_page_offset;
    if (c->c.dictionary_page_offset > 0 && c->c.dictionary_page_offset < start)
        start = c->c.dictionary_page_offset;
    else
        c->c.dictionary_page_offset = -1;
    if (start < 4 || (uint64_t)start > data_end ||
        (uint64_t)c->c.total_compressed_size > data_end - (uint64_t)start)
        return perr(f, STRATA_ECORRUPT,
                    "column '%s' of row group %d: its bytes %lld..+%lld are not inside the file",
                    name, rg, (long long)start, (long long)c->c.total_compressed_size);
    return STRATA_OK;
}

static int check_rowgroups(st_pq_file *f, footer *ft, size_t data_end)
{
    int rc = STRATA_OK;
    if (ft->nrg > INT32_MAX) return perr(f, STRATA_ECORRUPT, "too many row groups");
    f->nrg = (int)ft->nrg;
    f->rg_rows = calloc((size_t)f->nrg + 1, sizeof *f->rg_rows);
    f->chunks = calloc((size_t)f->nrg * (size_t)f->ncols + 1, sizeof *f->chunks);
    if (f->rg_rows == NULL || f->chunks == NULL) return perr(f, STRATA_ENOMEM, "out of memory");
    for (int g = 0; g < f->nrg; g++) {
        rg_el *e = &ft->rgs[g];
        if (e->ncols != f->ncols)
            return perr(f, STRATA_ECORRUPT, "row group %d has %lld columns, the schema %d", g,
                        (long long)e->ncols, f->ncols);
        if (e->num_rows < 0)
            return perr(f, STRATA_ECORRUPT, "row group %d has no valid row count", g);
        f->rg_rows[g] = e->num_rows;
        for (int c = 0; c < f->ncols; c++) {
            ST_TRY(rc = check_chunk(f, g, c, &e->cols[c], data_end));
            if (e->cols[c].c.num_values != e->num_rows)
                return perr(
                    f, STRATA_ECORRUPT, "column '%s' of row group %d has %lld values for %lld rows",
                    f->cols[c].name, g, (long long)e->cols[c].c.num_values, (long long)e->num_rows);
            f->chunks[(size_t)g * (size_t)f->ncols + (size_t)c] = e->cols[c].c;
        }
    }
done:
    return rc;
}

int st_pq_open(st_err *err, const void *data, size_t size, const char *name,
               const st_pq_limits *limits, st_pq_file **out)
{
    int rc = STRATA_OK;
    footer ft;
    memset(&ft, 0, sizeof ft);
    *out = NULL;
    st_pq_file *f = calloc(1, sizeof *f);
    if (f == NULL)
        return st_error(err, STRATA_ENOMEM, "cannot read parquet file '%s': out of memory", name);
    f->err = err;
    f->data = data;
    f->size = size;
    f->lim = default_limits;
    if (limits != NULL && limits->max_rows > 0) f->lim.max_rows = limits->max_rows;
    if (limits != NULL && limits->max_bytes > 0) f->lim.max_bytes = limits->max_bytes;
    f->name = strdup(name ? name : "");
    if (f->name == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "cannot read parquet file: out of memory");
        goto done;
    }
    const uint8_t *p = data;
    if (size < 12 || memcmp(p, "PAR1", 4) != 0 || memcmp(p + size - 4, "PAR1", 4) != 0) {
        rc = perr(f, STRATA_ECORRUPT,
                  size < 12 ? "file of %zu bytes is too short" : "no PAR1 magic (%zu bytes)", size);
        goto done;
    }
    uint32_t mlen = (uint32_t)p[size - 8] | (uint32_t)p[size - 7] << 8 |
                    (uint32_t)p[size - 6] << 16 | (uint32_t)p[size - 5] << 24;
    if (mlen > size - 12) {
        rc = perr(f, STRATA_ECORRUPT, "footer length %u is more than the file holds", mlen);
        goto done;
    }
    size_t mstart = size - 8 - mlen;
    st_tc_reader_init(&ft.r, p + mstart, mlen);
    rc = read_footer(&ft);
    if (rc == STRATA_ENOMEM || ft.oom) {
        rc = perr(f, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    if (rc < 0) {
        rc = perr(f, STRATA_ECORRUPT, "bad footer: %s at byte %zu", ft.r.why ? ft.r.why : "?",
                  mstart + st_tc_pos(&ft.r));
        goto done;
    }
    if (ft.num_rows < 0) {
        rc = perr(f, STRATA_ECORRUPT, "bad footer: no row count");
        goto done;
    }
    f->num_rows = ft.num_rows;
    if (ft.created_by != NULL)
        f->created_by = strndup((const char *)ft.created_by, ft.created_by_len);
    ST_TRY(rc = check_schema(f, &ft));
    ST_TRY(rc = check_rowgroups(f, &ft, mstart));
done:
    footer_free(&ft);
    if (rc < 0) {
        st_pq_close(f);
        return rc;
    }
    *out = f;
    return STRATA_OK;
}

void st_pq_close(st_pq_file *f)
{
    if (f == NULL) return;
    for (int i = 0; f->cols != NULL && i < f->ncols; i++) free((char *)f->cols[i].name);
    free(f->cols);
    free(f->rg_rows);
    free(f->chunks);
    free(f->created_by);
    free(f->name);
    free(f);
}

int st_pq_ncolumns(const st_pq_file *f)
{
    return f->ncols;
}

const st_pq_column *st_pq_column_at(const st_pq_file *f, int col)
{
    return col >= 0 && col < f->ncols ? &f->cols[col] : NULL;
}

int st_pq_nrowgroups(const st_pq_file *f)
{
    return f->nrg;
}

int64_t st_pq_rowgroup_rows(const st_pq_file *f, int rg)
{
    return rg >= 0 && rg < f->nrg ? f->rg_rows[rg] : -1;
}

int64_t st_pq_num_rows(const st_pq_file *f)
{
    return f->num_rows;
}

const char *st_pq_created_by(const st_pq_file *f)
{
    return f->created_by ? f->created_by : "";
}

const st_pq_chunk *st_pq_chunk_at(const st_pq_file *f, int rg, int col)
{
    if (rg < 0 || rg >= f->nrg || col < 0 || col >= f->ncols) return NULL;
    return &f->chunks[(size_t)rg * (size_t)f->ncols + (size_t)col];
}
