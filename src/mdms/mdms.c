/*
 * mdms.c -- the MDMS API of the header: applications and run schemas, runs, associations, the
 * collective helpers, explain, queries and tools. The data movement is in mdms_io.c.
 *
 * Rank 0 of an MDMS communicator does every catalog write and sends what the others need;
 * every process has its own pool handle. A status is agreed after each collective step
 * (st_mdms_agree), so that all processes fail together, with the failing process's message.
 */
#include <ctype.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mdms/mdms_int.h"
#include "mdms/where.h"
#include "ndarray/ndarray.h"
#include "util/dtype.h"
#include "util/name.h"

/* ---- collective helpers ------------------------------------------------------------------- */

#ifdef STRATA_HAVE_MPI
static int multi(const strata_mdms *m)
{
    return m->size > 1;
}
#endif

int st_mdms_bcast(strata_mdms *m, void *buf, size_t n)
{
#ifdef STRATA_HAVE_MPI
    if (multi(m)) {
        while (n > 0) {
            int part = n > (1u << 30) ? 1 << 30 : (int)n;
            MPI_Bcast(buf, part, MPI_BYTE, 0, m->comm);
            buf = (char *)buf + part;
            n -= (size_t)part;
        }
    }
#else
    (void)m;
    (void)buf;
    (void)n;
#endif
    return STRATA_OK;
}

int st_mdms_agree(strata_mdms *m, int rc)
{
#ifdef STRATA_HAVE_MPI
    if (!multi(m)) return rc;
    int in[2] = {rc, m->rank}, out[2];
    MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MINLOC, m->comm);
    if (out[0] >= 0) return out[0];
    char msg[ST_ERRMSG_MAX];
    if (m->rank == out[1]) st_err_copy(st_pool_err(m->pool), msg, sizeof msg);
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, out[1], m->comm);
    if (m->rank != out[1]) {
        msg[sizeof msg - 1] = 0;
        st_error(st_pool_err(m->pool), out[0], "process %d: %s", out[1], msg);
    }
    return out[0];
#else
    (void)m;
    return rc;
#endif
}

double st_mdms_max(strata_mdms *m, double v)
{
#ifdef STRATA_HAVE_MPI
    if (multi(m)) {
        double r;
        MPI_Allreduce(&v, &r, 1, MPI_DOUBLE, MPI_MAX, m->comm);
        return r;
    }
#else
    (void)m;
#endif
    return v;
}

uint64_t st_mdms_sum(strata_mdms *m, uint64_t v)
{
#ifdef STRATA_HAVE_MPI
    if (multi(m)) {
        uint64_t r;
        MPI_Allreduce(&v, &r, 1, MPI_UINT64_T, MPI_SUM, m->comm);
        return r;
    }
#else
    (void)m;
#endif
    return v;
}

/* ---- applications --------------------------------------------------------------------------- */

static const char *const reserved[] = {
    "run",    "dataset", "iteration", "min",    "max",      "mean",    "std",  "bytes", "user",
    "status", "started", "ended",     "nprocs", "strategy", "seconds", "host", "id"};

static int attr_name_check(st_err *err, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    int ok = n > 0 && n < ST_ATTR_NAME && (isalpha((unsigned char)name[0]) || name[0] == '_');
    for (size_t i = 1; ok && i < n; i++) ok = isalnum((unsigned char)name[i]) || name[i] == '_';
    if (!ok)
        return st_error(err, STRATA_ENAME,
                        "bad run attribute name '%s': use a letter or '_', then letters, digits "
                        "or '_' (at most %d)",
                        name ? name : "(null)", ST_ATTR_NAME - 1);
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return st_error(err, STRATA_ENAME,
                            "run attribute name '%s' is reserved (queries use it for the run or "
                            "its data); choose another",
                            name);
    return STRATA_OK;
}

static int app_region(strata_pool *pool, const char *app, int64_t *region_id)
{
    st_cat_region r;
    int rc = st_name_check(st_pool_err(pool), "application", app);
    if (rc < 0) return rc;
    rc = st_cat_region_get(st_pool_err(pool), st_pool_cat(pool), app, &r);
    if (rc == STRATA_ENOTFOUND)
        return st_error(st_pool_err(pool), rc,
                        "application '%s' not found; register it first (strata app register)", app);
    if (rc == STRATA_OK) *region_id = r.id;
    return rc;
}

/* Check the N run attributes SCHEMA (names, types, no name twice ignoring case) into DEFS. */
static int attr_defs(st_err *err, const strata_attr_def *schema, int n, st_cat_attr_def *defs)
{
    for (int i = 0; i < n; i++) {
        int rc = attr_name_check(err, schema[i].name);
        if (rc < 0) return rc;
        if ((unsigned)schema[i].type > STRATA_ATTR_TEXT)
            return st_error(err, STRATA_EINVAL, "run attribute '%s' has an unknown type %d",
                            schema[i].name, (int)schema[i].type);
        for (int j = 0; j < i; j++)
            if (strcasecmp(schema[i].name, schema[j].name) == 0) /* SQL columns ignore case */
                return st_error(
                    err, STRATA_EEXIST, "run attribute '%s' is given twice%s", schema[i].name,
                    strcmp(schema[i].name, schema[j].name) ? " (names ignore case)" : "");
        snprintf(defs[i].name, sizeof defs[i].name, "%s", schema[i].name);
        defs[i].type = (int)schema[i].type;
    }
    return STRATA_OK;
}

/* The region of application APP, created if it does not exist yet. */
static int app_region_make(strata_pool *pool, const char *app, st_cat_region *r)
{
    st_err *err = st_pool_err(pool);
    int rc = st_cat_region_get(NULL, st_pool_cat(pool), app, r);
    if (rc == STRATA_OK) return rc;
    if (rc == STRATA_ENOTFOUND) {
        rc = strata_region_create(pool, app);
        if (rc < 0 && rc != STRATA_EEXIST) return rc;
    }
    return st_cat_region_get(err, st_pool_cat(pool), app, r);
}

int strata_app_register(strata_pool *pool, const char *app, const strata_attr_def *schema, int n)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_name_check(err, "application", app);
    if (rc < 0) return rc;
    if (n < 0 || (n > 0 && schema == NULL) || n > 200)
        return st_error(err, STRATA_EINVAL, "cannot register '%s': %d attributes (0 to 200)", app,
                        n);
    st_cat_attr_def *defs = calloc((size_t)n + 1, sizeof *defs);
    if (defs == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    st_cat_region r;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    ST_TRY(rc = attr_defs(err, schema, n, defs));
    ST_TRY(rc = app_region_make(pool, app, &r));
    rc = st_cat_app_register(err, st_pool_cat(pool), r.id, host, defs, n);
done:
    free(defs);
    return rc;
}

int strata_app_schema(strata_pool *pool, const char *app,
                      int (*fn)(void *ctx, const strata_attr_def *def), void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    int64_t rid;
    int rc = app_region(pool, app, &rid);
    st_vec v = ST_VEC(st_cat_attr_def);
    if (rc == STRATA_OK &&
        (rc = st_cat_app_schema(st_pool_err(pool), st_pool_cat(pool), rid, &v)) == STRATA_ENOTFOUND)
        rc = st_error(st_pool_err(pool), rc,
                      "'%s' is a region but not a registered application; register it (strata "
                      "app register)",
                      app);
    for (size_t i = 0; rc == STRATA_OK && i < v.n; i++) {
        const st_cat_attr_def *d = &((st_cat_attr_def *)v.v)[i];
        strata_attr_def def = {d->name, (strata_attr_type)d->type};
        rc = fn(ctx, &def);
    }
    st_vec_free(&v);
    return rc;
}

/* ---- init, runs ----------------------------------------------------------------------------- */

int strata_mdms_init(strata_pool *pool, const char *app, const void *comm, strata_mdms **out)
{
    if (out == NULL) return STRATA_EINVAL;
    *out = NULL;
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    strata_mdms *m = calloc(1, sizeof *m);
    if (m == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    m->magic = ST_MDMS_LIVE;
    m->pool = pool;
    m->rank = 0;
    m->size = 1;
    m->schema = (st_vec)ST_VEC(st_cat_attr_def);
    m->events = (st_vec)ST_VEC(st_cat_ioev);
#ifdef STRATA_HAVE_MPI
    if (comm != NULL) {
        int init = 0, rc = st_mpi_load(err);
        if (rc < 0) {
            free(m);
            return rc;
        }
        MPI_Initialized(&init);
        if (!init) {
            free(m);
            return st_error(err, STRATA_EINVAL,
                            "strata_mdms_init: a communicator was given but MPI is not "
                            "initialised; call MPI_Init first");
        }
        MPI_Comm_dup(*(const MPI_Comm *)comm, &m->comm);
        m->dup = 1;
        MPI_Comm_rank(m->comm, &m->rank);
        MPI_Comm_size(m->comm, &m->size);
    }
#else
    if (comm != NULL) {
        free(m);
        return st_error(err, STRATA_EUNSUPPORTED,
                        "strata_mdms_init: this libstrata was built without MPI; pass NULL as "
                        "the communicator or rebuild with libopenmpi-dev installed");
    }
#endif
    int rc = app_region(pool, app ? app : "", &m->region_id);
    if (rc == STRATA_OK) {
        snprintf(m->app, sizeof m->app, "%s", app);
        rc = st_cat_app_schema(err, st_pool_cat(pool), m->region_id, &m->schema);
        if (rc == STRATA_ENOTFOUND)
            rc = st_error(err, rc,
                          "'%s' is a region but not a registered application; register it with "
                          "strata_app_register() or strata app register",
                          app);
    }
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        m->run = 0;
        strata_mdms_finalize(m);
        return rc;
    }
    *out = m;
    return STRATA_OK;
}

void strata_mdms_rank(const strata_mdms *m, int *rank, int *size)
{
    if (rank != NULL) *rank = m ? m->rank : 0;
    if (size != NULL) *size = m ? m->size : 1;
}

static const st_cat_attr_def *schema_find(const strata_mdms *m, const char *name)
{
    for (size_t i = 0; i < m->schema.n; i++) {
        const st_cat_attr_def *d = &((const st_cat_attr_def *)m->schema.v)[i];
        if (strcmp(d->name, name) == 0) return d;
    }
    return NULL;
}

int strata_run_begin(strata_mdms *m, const strata_attr *attrs, int n, int64_t *run)
{
    if (m == NULL || m->magic != ST_MDMS_LIVE) return STRATA_EINVAL;
    st_err *err = st_pool_err(m->pool);
    static const char *const tn[] = {"int", "float", "text"};
    int rc = STRATA_OK;
    if (n < 0 || (n > 0 && attrs == NULL))
        rc = st_error(err, STRATA_EINVAL, "strata_run_begin: %d attributes", n);
    if (rc == STRATA_OK && m->run != 0)
        rc = st_error(err, STRATA_EINVAL,
                      "run %" PRId64 " of '%s' is still open; end it with strata_run_end() first",
                      m->run, m->app);
    strata_attr *vals = calloc((size_t)n + 1, sizeof *vals);
    if (vals == NULL && rc == STRATA_OK) rc = st_error(err, STRATA_ENOMEM, "out of memory");
    for (int i = 0; i < n && rc == STRATA_OK; i++) {
        const st_cat_attr_def *d = attrs[i].name ? schema_find(m, attrs[i].name) : NULL;
        if (d == NULL) {
            char known[512];
            size_t kl = 0;
            known[0] = 0;
            for (size_t k = 0; k < m->schema.n && kl < sizeof known; k++)
                kl += (size_t)snprintf(known + kl, sizeof known - kl, "%s%s", k ? ", " : "",
                                       ((st_cat_attr_def *)m->schema.v)[k].name);
            rc = st_error(err, STRATA_EINVAL,
                          "run attribute '%s' is not in the run schema of '%s' (it has: %s); "
                          "register it first",
                          attrs[i].name ? attrs[i].name : "(null)", m->app,
                          kl ? known : "no attributes");
            break;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(attrs[j].name, attrs[i].name) == 0)
                rc = st_error(err, STRATA_EINVAL, "run attribute '%s' is given twice",
                              attrs[i].name);
        vals[i] = attrs[i];
        if (rc == STRATA_OK && attrs[i].type != (strata_attr_type)d->type) {
            if (d->type == STRATA_ATTR_FLOAT && attrs[i].type == STRATA_ATTR_INT) {
                vals[i].type = STRATA_ATTR_FLOAT;
                vals[i].f = (double)attrs[i].i;
            } else {
                rc = st_error(err, STRATA_ETYPE,
                              "run attribute '%s' of '%s' is %s in the run schema, the value "
                              "given is %s",
                              attrs[i].name, m->app, tn[d->type],
                              (unsigned)attrs[i].type <= 2 ? tn[attrs[i].type] : "of no type");
            }
        }
        if (rc == STRATA_OK && vals[i].type == STRATA_ATTR_TEXT && vals[i].s == NULL)
            rc =
                st_error(err, STRATA_EINVAL, "run attribute '%s': the text is NULL", attrs[i].name);
    }
    int64_t id = 0;
    if (rc == STRATA_OK && m->rank == 0) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        /* the account running the process (the library reads no environment variables) */
        struct passwd pwd, *pw = NULL;
        char pwbuf[1024];
        if (getpwuid_r(getuid(), &pwd, pwbuf, sizeof pwbuf, &pw) != 0) pw = NULL;
        const char *user = pw != NULL ? pw->pw_name : "unknown";
        rc = st_cat_run_insert(err, st_pool_cat(m->pool), m->region_id, user, host, m->size, vals,
                               n, &id);
    }
    free(vals);
    rc = st_mdms_agree(m, rc);
    if (rc < 0) return rc;
    st_mdms_bcast(m, &id, sizeof id);
    m->run = id;
    if (run != NULL) *run = id;
    return STRATA_OK;
}

int strata_run_end(strata_mdms *m, int ok)
{
    if (m == NULL || m->magic != ST_MDMS_LIVE) return STRATA_EINVAL;
    int rc = STRATA_OK;
    st_mdms_events_flush(m);
    if (m->run == 0)
        rc = st_error(st_pool_err(m->pool), STRATA_EINVAL, "no run of '%s' is open", m->app);
    else if (m->rank == 0)
        rc = st_cat_run_end(st_pool_err(m->pool), st_pool_cat(m->pool), m->run,
                            ok ? "done" : "failed");
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK) m->run = 0;
    return rc;
}

void strata_mdms_finalize(strata_mdms *m)
{
    if (m == NULL || m->magic != ST_MDMS_LIVE) return;
    if (m->run != 0) strata_run_end(m, 1);
    st_mdms_events_flush(m);
    st_vec_free(&m->schema);
    st_vec_free(&m->events);
#ifdef STRATA_HAVE_MPI
    if (m->dup) MPI_Comm_free(&m->comm);
#endif
    m->magic = 0;
    free(m);
}

/* ---- associations --------------------------------------------------------------------------- */

void st_mdms_array_name(char *out, size_t cap, const char *dataset, int64_t run, int64_t iteration)
{
    snprintf(out, cap, "%s.r%" PRId64 ".i%" PRId64, dataset, run, iteration);
}

/* Parse a storage hint for NDIMS dimensions. */
static int storage_parse(st_err *err, strata_pool *pool, const char *hint, int ndims,
                         st_cat_storage *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->layout = STRATA_LAYOUT_ROW;
    sp->tier_id = ST_TIER_DEFAULT_ID;
    sp->ndims = ndims;
    const char *p = hint ? hint : "";
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == 0) break;
        const char *w = p;
        if (strncasecmp(p, "row-major", 9) == 0) {
            sp->layout = STRATA_LAYOUT_ROW;
            p += 9;
        } else if (strncasecmp(p, "column-major", 12) == 0) {
            sp->layout = STRATA_LAYOUT_COL;
            p += 12;
        } else if (strncasecmp(p, "chunked(", 8) == 0) {
            sp->layout = STRATA_LAYOUT_CHUNKED;
            p += 8;
            for (int d = 0; d < ndims; d++) {
                char *end;
                unsigned long long c = strtoull(p, &end, 10);
                if (end == p || c == 0)
                    return st_error(err, STRATA_EINVAL,
                                    "bad storage hint '%s' at column %d: chunked(...) needs %d "
                                    "chunk extents >= 1",
                                    hint, (int)(p - hint) + 1, ndims);
                sp->chunk[d] = c;
                p = end;
                if (d + 1 < ndims && *p++ != ',')
                    return st_error(err, STRATA_EINVAL,
                                    "bad storage hint '%s' at column %d: chunked(...) needs %d "
                                    "chunk extents separated by ','",
                                    hint, (int)(p - hint), ndims);
            }
            if (*p++ != ')')
                return st_error(err, STRATA_EINVAL,
                                "bad storage hint '%s' at column %d: expected ')' after %d chunk "
                                "extents",
                                hint, (int)(p - hint), ndims);
        } else if (strncasecmp(p, "tier=", 5) == 0) {
            p += 5;
            char name[STRATA_NAME_MAX + 1];
            size_t n = 0;
            while (*p && !isspace((unsigned char)*p) && n < sizeof name - 1) name[n++] = *p++;
            name[n] = 0;
            st_cat_tier t;
            int rc = st_cat_tier_get(err, st_pool_cat(pool), name, &t);
            if (rc == STRATA_ENOTFOUND)
                return st_error(err, rc, "storage hint '%s': tier '%s' not found (strata tier ls)",
                                hint, name);
            if (rc < 0) return rc;
            sp->tier_id = t.id;
        } else if (strncasecmp(p, "zstd=", 5) == 0) {
            p += 5;
            char *end;
            long lv = strtol(p, &end, 10);
            if (end == p || lv < 0 || lv > 19)
                return st_error(err, STRATA_EINVAL,
                                "bad storage hint '%s': zstd=LEVEL needs a level 0 to 19", hint);
            sp->zstd = (int)lv;
            p = end;
        } else {
            return st_error(err, STRATA_EINVAL,
                            "bad storage hint '%s' at column %d: use row-major, column-major or "
                            "chunked(c0,c1,...), then tier=NAME or zstd=LEVEL",
                            hint, (int)(w - hint) + 1);
        }
    }
    if (sp->zstd > 0 && sp->layout != STRATA_LAYOUT_CHUNKED)
        return st_error(err, STRATA_EINVAL,
                        "storage hint '%s': zstd needs a chunked layout (processes write a "
                        "contiguous file in place)",
                        hint);
    if (sp->layout != STRATA_LAYOUT_CHUNKED && sp->tier_id != ST_TIER_DEFAULT_ID) {
        st_cat_tier t;
        int rc = st_cat_tier_get_id(err, st_pool_cat(pool), sp->tier_id, &t);
        if (rc < 0) return rc;
        if (t.kind == STRATA_TIER_ARCHIVE)
            return st_error(err, STRATA_EINVAL,
                            "storage hint '%s': a contiguous file cannot be written to archive "
                            "tier '%s' in place; use chunked(...) or strata migrate later",
                            hint, t.name);
    }
    return STRATA_OK;
}

static int names_check(strata_mdms *m, const char *const *names, int n)
{
    st_err *err = st_pool_err(m->pool);
    if (n < 1 || names == NULL)
        return st_error(err, STRATA_EINVAL, "an association needs at least one dataset name");
    for (int i = 0; i < n; i++) {
        int rc = st_name_check(err, "dataset", names[i]);
        if (rc < 0) return rc;
        if (strlen(names[i]) > STRATA_NAME_MAX - 48)
            return st_error(err, STRATA_ENAME, "dataset name '%s' is too long (at most %d bytes)",
                            names[i], STRATA_NAME_MAX - 48);
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return st_error(err, STRATA_EINVAL, "dataset '%s' is named twice", names[i]);
    }
    return STRATA_OK;
}

static int assoc_new(strata_mdms *m, const char *const *names, int n, strata_dtype dtype, int ndims,
                     const uint64_t *dims, const char *pattern, strata_assoc **out)
{
    st_err *err = st_pool_err(m->pool);
    strata_assoc *as = calloc(1, sizeof *as);
    if (as == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    as->names = calloc((size_t)n, sizeof *as->names);
    if (as->names == NULL) {
        free(as);
        return st_error(err, STRATA_ENOMEM, "out of memory");
    }
    as->magic = ST_ASSOC_LIVE;
    as->m = m;
    as->n = n;
    as->shown = -1;
    for (int i = 0; i < n; i++) snprintf(as->names[i], sizeof as->names[i], "%s", names[i]);
    as->dtype = dtype;
    as->esz = strata_dtype_size(dtype);
    as->ndims = ndims;
    memcpy(as->dims, dims, (size_t)ndims * sizeof *dims);
    int rc = st_pattern_parse(err, pattern, ndims, m->size, &as->pat);
    if (rc == STRATA_OK)
        rc = st_io_forced(err, st_pool_io_strategy(m->pool), &as->forced, &as->no_prefetch);
    if (rc < 0) {
        free(as->names);
        free(as);
        return rc;
    }
    as->local_elems = st_piece_dims(&as->pat, dims, m->rank, as->local);
    *out = as;
    return STRATA_OK;
}

static int shape_check(st_err *err, strata_dtype dtype, int ndims, const uint64_t *dims)
{
    if (!st_dtype_valid(dtype) || dtype == STRATA_STR)
        return st_error(err, STRATA_ETYPE, "an association's dtype must be numeric or bool");
    if (ndims < 1 || ndims > STRATA_ND_MAXDIMS || dims == NULL)
        return st_error(err, STRATA_EINVAL, "an association has 1 to %d dimensions, not %d",
                        STRATA_ND_MAXDIMS, ndims);
    for (int d = 0; d < ndims; d++)
        if (dims[d] == 0 || dims[d] > (uint64_t)INT32_MAX)
            return st_error(err, STRATA_EINVAL,
                            "dimension %d of an association is %" PRIu64 " (1 to %d allowed)", d,
                            dims[d], INT32_MAX);
    return STRATA_OK;
}

int strata_assoc_create(strata_mdms *m, const char *const *names, int n, strata_dtype dtype,
                        int ndims, const uint64_t *dims, const char *access_pattern,
                        const char *storage_hint, strata_assoc **out)
{
    if (out == NULL) return STRATA_EINVAL;
    *out = NULL;
    if (m == NULL || m->magic != ST_MDMS_LIVE) return STRATA_EINVAL;
    st_err *err = st_pool_err(m->pool);
    strata_assoc *as = NULL;
    int rc = names_check(m, names, n);
    if (rc == STRATA_OK && m->run == 0)
        rc = st_error(err, STRATA_EINVAL,
                      "strata_assoc_create: no run of '%s' is open; call strata_run_begin() first",
                      m->app);
    if (rc == STRATA_OK) rc = shape_check(err, dtype, ndims, dims);
    if (rc == STRATA_OK) rc = assoc_new(m, names, n, dtype, ndims, dims, access_pattern, &as);
    if (rc == STRATA_OK) rc = storage_parse(err, m->pool, storage_hint, ndims, &as->sp);
    if (rc == STRATA_OK) {
        st_cat_tier t;
        rc = st_cat_tier_get_id(err, st_pool_cat(m->pool), as->sp.tier_id, &t);
        as->tier_latency = t.latency;
        as->tier_bw = t.read_bw;
    }
    if (rc == STRATA_OK && m->rank == 0) {
        st_cat_access ap;
        st_pattern_record(&as->pat, &ap);
        rc = st_cat_assoc_insert(err, st_pool_cat(m->pool), m->region_id, m->run, (int)dtype, ndims,
                                 dims, names, n, &ap, &as->sp, &as->assoc_id);
    }
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        if (as != NULL) {
            as->m = NULL;
            free(as->names);
            free(as);
        }
        return rc;
    }
    as->run = m->run;
    *out = as;
    return STRATA_OK;
}

int strata_assoc_get(strata_mdms *m, const char *run_or_query, const char *const *names, int n,
                     const char *access_pattern, strata_assoc **out)
{
    if (out == NULL) return STRATA_EINVAL;
    *out = NULL;
    if (m == NULL || m->magic != ST_MDMS_LIVE) return STRATA_EINVAL;
    st_err *err = st_pool_err(m->pool);
    strata_pool *pool = m->pool;
    int rc = names_check(m, names, n);
    struct {
        int64_t run;
        int dtype, ndims;
        uint64_t dims[ST_ND_MAXDIMS];
    } got = {0};
    if (rc == STRATA_OK && m->rank == 0) {
        const char *q = run_or_query ? run_or_query : "last";
        char *end;
        long long id = strtoll(q, &end, 10);
        if (end != q && *end == 0 && id > 0) {
            int64_t rid;
            rc = st_cat_run_region(err, st_pool_cat(pool), id, &rid);
            if (rc == STRATA_ENOTFOUND || (rc == STRATA_OK && rid != m->region_id))
                rc = st_error(err, STRATA_ENOTFOUND, "run %lld of '%s' not found", id, m->app);
            got.run = id;
        } else if (strcmp(q, "last") == 0 || strcmp(q, "latest") == 0) {
            rc = st_cat_last_run(err, st_pool_cat(pool), m->region_id, names[0], &got.run);
            if (rc == STRATA_ENOTFOUND)
                rc = st_error(err, rc, "no run of '%s' has dataset '%s'", m->app, names[0]);
        } else {
            rc = st_mdms_run_match(err, st_pool_cat(pool), m->region_id, m->app, q, &got.run);
        }
        for (int i = 0; i < n && rc == STRATA_OK; i++) {
            int dt, nd;
            uint64_t dm[ST_ND_MAXDIMS];
            rc = st_cat_assoc_find(err, st_pool_cat(pool), got.run, names[i], &dt, &nd, dm);
            if (rc == STRATA_ENOTFOUND)
                rc = st_error(err, rc, "run %" PRId64 " of '%s' has no dataset '%s'", got.run,
                              m->app, names[i]);
            if (rc < 0) break;
            if (i == 0) {
                got.dtype = dt;
                got.ndims = nd;
                memcpy(got.dims, dm, sizeof dm);
            } else if (dt != got.dtype || nd != got.ndims ||
                       memcmp(dm, got.dims, (size_t)nd * sizeof *dm) != 0) {
                rc = st_error(err, STRATA_ETYPE,
                              "datasets '%s' and '%s' of run %" PRId64
                              " differ in dtype or shape; open them in separate associations",
                              names[0], names[i], got.run);
            }
        }
    }
    rc = st_mdms_agree(m, rc);
    if (rc < 0) return rc;
    st_mdms_bcast(m, &got, sizeof got);
    strata_assoc *as = NULL;
    rc = assoc_new(m, names, n, (strata_dtype)got.dtype, got.ndims, got.dims, access_pattern, &as);
    if (rc == STRATA_OK && m->rank == 0) {
        st_cat_access ap;
        st_pattern_record(&as->pat, &ap);
        rc = st_cat_access_put(err, st_pool_cat(pool), got.run, names, n, "load", &ap);
    }
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        if (as != NULL) {
            free(as->names);
            free(as);
        }
        return rc;
    }
    as->run = got.run;
    *out = as;
    return STRATA_OK;
}

static int assoc_check(const strata_assoc *as)
{
    return as != NULL && as->magic == ST_ASSOC_LIVE ? STRATA_OK : STRATA_EINVAL;
}

int strata_assoc_local(const strata_assoc *as, uint64_t *local_dims, uint64_t *elems)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    if (local_dims != NULL) memcpy(local_dims, as->local, (size_t)as->ndims * sizeof *local_dims);
    if (elems != NULL) *elems = as->local_elems;
    return STRATA_OK;
}

uint64_t strata_assoc_global(const strata_assoc *as, int dim, uint64_t local)
{
    if (assoc_check(as) < 0 || dim < 0 || dim >= as->ndims) return UINT64_MAX;
    const st_pattern *p = &as->pat;
    int c[ST_ND_MAXDIMS];
    st_pattern_coords(p, as->m->rank, c);
    int procs = p->grid[dim];
    if (p->kind[dim] == ST_DIST_NONE || procs == 1) return local;
    if (p->kind[dim] == ST_DIST_BLOCK)
        return local + (uint64_t)c[dim] * ((as->dims[dim] + (uint64_t)procs - 1) / (uint64_t)procs);
    uint64_t k = p->k[dim];
    return (local / k * (uint64_t)procs + (uint64_t)c[dim]) * k + local % k;
}

int64_t strata_assoc_run(const strata_assoc *as)
{
    return assoc_check(as) < 0 ? -1 : as->run;
}

static int in_assoc(strata_assoc *as, const char *name)
{
    for (int i = 0; i < as->n; i++)
        if (name != NULL && strcmp(as->names[i], name) == 0) return STRATA_OK;
    return st_error(st_pool_err(as->m->pool), STRATA_ENOTFOUND,
                    "dataset '%s' is not in this association (of %d dataset%s, starting with "
                    "'%s')",
                    name ? name : "(null)", as->n, as->n == 1 ? "" : "s", as->names[0]);
}

int strata_save_begin(strata_assoc *as)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    int rc = STRATA_OK;
    if (as->run != as->m->run)
        rc = st_error(st_pool_err(as->m->pool), STRATA_EINVAL,
                      "this association reads run %" PRId64 "; saves go to the current run "
                      "(create an association with strata_assoc_create())",
                      as->run);
    if (rc == STRATA_OK) as->saving = 1;
    return rc;
}

int strata_save(strata_assoc *as, const char *name, int64_t iteration, const void *local_buf)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(as->m->pool);
    int rc = STRATA_OK;
    if (!as->saving)
        rc = st_error(err, STRATA_EINVAL, "strata_save: call strata_save_begin() first");
    if (rc == STRATA_OK) rc = in_assoc(as, name);
    if (rc == STRATA_OK && iteration < 0)
        rc = st_error(err, STRATA_EINVAL, "strata_save: iteration %" PRId64 " is negative",
                      iteration);
    if (rc == STRATA_OK && local_buf == NULL && as->local_elems > 0)
        rc = st_error(err, STRATA_EINVAL, "strata_save: the buffer is NULL");
    rc = st_mdms_agree(as->m, rc);
    if (rc < 0) return rc;
    return st_mdms_save(as, name, iteration, local_buf);
}

int strata_save_end(strata_assoc *as)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    as->saving = 0;
    return STRATA_OK;
}

int strata_load_begin(strata_assoc *as)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    as->loading = 1;
    return STRATA_OK;
}

/* The checks every load makes before it moves data: FN's association is loading, NAME is one of
 * its datasets, and (NULL_WHAT given) the caller's pointers are set. Not collective. */
static int load_ready(strata_assoc *as, const char *fn, const char *name, const char *null_what)
{
    st_err *err = st_pool_err(as->m->pool);
    int rc = STRATA_OK;
    if (!as->loading) rc = st_error(err, STRATA_EINVAL, "%s: call strata_load_begin() first", fn);
    if (rc == STRATA_OK) rc = in_assoc(as, name);
    if (rc == STRATA_OK && null_what != NULL)
        rc = st_error(err, STRATA_EINVAL, "%s: %s is NULL", fn, null_what);
    return rc;
}

int strata_load(strata_assoc *as, const char *name, int64_t iteration, void *local_buf)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    int rc = load_ready(as, "strata_load", name,
                        local_buf == NULL && as->local_elems > 0 ? "the buffer" : NULL);
    rc = st_mdms_agree(as->m, rc);
    if (rc < 0) return rc;
    return st_mdms_load(as, name, iteration, local_buf, NULL);
}

int strata_load_view(strata_assoc *as, const char *name, int64_t iteration, const void **piece)
{
    if (piece == NULL) return STRATA_EINVAL;
    *piece = NULL;
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    int rc = st_mdms_agree(as->m, load_ready(as, "strata_load_view", name, NULL));
    if (rc < 0) return rc;
    return st_mdms_load(as, name, iteration, NULL, piece);
}

int strata_load_list(strata_assoc *as, const char *name, int64_t iteration, const uint64_t *index,
                     uint64_t n, void *buf)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(as->m->pool);
    int rc = load_ready(as, "strata_load_list", name,
                        n > 0 && (index == NULL || buf == NULL) ? "the index or buffer" : NULL);
    uint64_t total = 1;
    for (int d = 0; d < as->ndims; d++) total *= as->dims[d];
    for (uint64_t i = 0; rc == STRATA_OK && i < n; i++)
        if (index[i] >= total)
            rc = st_error(err, STRATA_ERANGE,
                          "strata_load_list: index[%" PRIu64 "] = %" PRIu64
                          " is outside the dataset's %" PRIu64 " elements",
                          i, index[i], total);
    rc = st_mdms_agree(as->m, rc);
    if (rc < 0) return rc;
    return st_mdms_load_list(as, name, iteration, index, n, buf);
}

int strata_load_end(strata_assoc *as)
{
    if (assoc_check(as) < 0) return STRATA_EINVAL;
    st_mdms_prefetch_stop(as);
    st_mdms_views_free(as);
    st_mdms_events_flush(as->m);
    as->loading = 0;
    return STRATA_OK;
}

void strata_assoc_close(strata_assoc *as)
{
    if (assoc_check(as) < 0) return;
    st_mdms_prefetch_stop(as);
    st_mdms_views_free(as);
    st_mdms_events_flush(as->m);
    as->magic = 0;
    free(as->names);
    free(as);
}

int strata_assoc_last(const strata_assoc *as, strata_plan *out)
{
    if (assoc_check(as) < 0 || out == NULL) return STRATA_EINVAL;
    *out = as->last;
    return STRATA_OK;
}

int strata_pattern_check(const char *access_pattern, int ndims, int procs, char *why)
{
    st_err err;
    st_err_init(&err);
    st_pattern p;
    int rc = STRATA_OK;
    if (ndims < 1 || ndims > STRATA_ND_MAXDIMS || procs < 1)
        rc = st_error(&err, STRATA_EINVAL, "%d dimensions and %d processes", ndims, procs);
    if (rc == STRATA_OK) rc = st_pattern_parse(&err, access_pattern, ndims, procs, &p);
    if (rc < 0 && why != NULL) st_err_copy(&err, why, 256);
    st_err_destroy(&err);
    return rc;
}

/* ---- explain, queries, tools ---------------------------------------------------------------- */

int strata_explain(strata_pool *pool, const char *app, int64_t run, const char *dataset,
                   const char *access_pattern, int procs, strata_plan *out)
{
    if (pool == NULL || out == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int64_t rid;
    int rc = app_region(pool, app, &rid);
    if (rc < 0) return rc;
    if (procs < 1 || procs > 1 << 16)
        return st_error(err, STRATA_EINVAL, "explain: %d processes (1 to 65536)", procs);
    int dtype, ndims;
    uint64_t dims[ST_ND_MAXDIMS];
    int64_t rr;
    rc = st_cat_run_region(err, st_pool_cat(pool), run, &rr);
    if (rc == STRATA_ENOTFOUND || (rc == STRATA_OK && rr != rid))
        return st_error(err, STRATA_ENOTFOUND, "run %" PRId64 " of '%s' not found", run, app);
    if (rc == STRATA_OK)
        rc = st_cat_assoc_find(err, st_pool_cat(pool), run, dataset, &dtype, &ndims, dims);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, rc, "run %" PRId64 " of '%s' has no dataset '%s'", run, app, dataset);
    if (rc < 0) return rc;
    st_pattern p;
    rc = st_pattern_parse(err, access_pattern, ndims, procs, &p);
    if (rc < 0) return rc;
    /* the layout of a saved iteration if there is one, else the dataset's storage pattern */
    st_plan_in in = {0};
    in.ndims = ndims;
    memcpy(in.dims, dims, sizeof dims);
    in.esz = strata_dtype_size((strata_dtype)dtype);
    in.load = 1;
    in.forced = ST_IO_AUTO;
#ifdef STRATA_HAVE_MPI
    in.mpi = 1;
#endif
    rc = st_io_forced(err, st_pool_io_strategy(pool), &in.forced, &in.no_prefetch);
    if (rc < 0) return rc;
    st_cat_storage sp;
    rc = st_cat_storage_get(err, st_pool_cat(pool), rid, dataset, &sp);
    if (rc < 0) return rc;
    in.layout = sp.layout;
    memcpy(in.chunk, sp.chunk, sizeof sp.chunk);
    int64_t first;
    rc = st_cat_exec_next(err, st_pool_cat(pool), run, dataset, -1, &first);
    int64_t tier = sp.tier_id;
    if (rc == STRATA_OK) {
        char an[STRATA_NAME_MAX + 1];
        st_cat_nd rec;
        st_mdms_array_name(an, sizeof an, dataset, run, first);
        if (st_cat_nd_get(err, st_pool_cat(pool), app, an, &rec) == STRATA_OK) {
            in.layout = rec.layout;
            memcpy(in.chunk, rec.chunk, sizeof rec.chunk);
            tier = rec.tier_id;
            /* where its chunks are now (a migration moves them) */
            st_cat_execrow e;
            if (st_cat_exec_get(err, st_pool_cat(pool), run, dataset, first, &e) == STRATA_OK)
                tier = e.tier_id;
        }
    } else if (rc != STRATA_ENOTFOUND) {
        return rc;
    }
    st_cat_tier t;
    if (st_cat_tier_get_id(err, st_pool_cat(pool), tier, &t) == STRATA_OK) {
        in.archive = t.kind == STRATA_TIER_ARCHIVE;
        /* archive data is read from its staged copy on the default tier */
        if (in.archive) st_cat_tier_get_id(err, st_pool_cat(pool), ST_TIER_DEFAULT_ID, &t);
        in.latency = t.latency;
        in.bw = t.read_bw;
    }
    return st_plan(err, &p, &in, out);
}

int strata_runs(strata_pool *pool, const char *app, const char *where,
                int (*fn)(void *ctx, const strata_run_info *run), void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    int64_t rid;
    int rc = app_region(pool, app, &rid);
    if (rc < 0) return rc;
    st_cat_where w;
    rc = st_mdms_where_compile(st_pool_err(pool), st_pool_cat(pool), rid, app, where, 0, &w);
    if (rc == STRATA_OK)
        rc = st_cat_runs(st_pool_err(pool), st_pool_cat(pool), rid, app, &w, fn, ctx);
    st_mdms_where_clear(&w);
    return rc;
}

int strata_find(strata_pool *pool, const char *app, const char *dataset, const char *where,
                int (*fn)(void *ctx, const strata_exec_info *e), void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    int64_t rid;
    int rc = app_region(pool, app, &rid);
    if (rc < 0) return rc;
    st_cat_where w;
    rc = st_mdms_where_compile(st_pool_err(pool), st_pool_cat(pool), rid, app, where, 1, &w);
    if (rc == STRATA_OK)
        rc = st_cat_find(st_pool_err(pool), st_pool_cat(pool), rid, app, dataset, &w, fn, ctx);
    st_mdms_where_clear(&w);
    return rc;
}

int strata_tool_register(strata_pool *pool, const char *name, const char *kind, const char *command)
{
    if (pool == NULL) return STRATA_EINVAL;
    int rc = st_name_check(st_pool_err(pool), "tool", name);
    if (rc < 0) return rc;
    if (kind == NULL || command == NULL || !*kind || !*command)
        return st_error(st_pool_err(pool), STRATA_EINVAL,
                        "tool '%s' needs a kind (visualisation, analysis ...) and a command", name);
    return st_cat_tool_put(st_pool_err(pool), st_pool_cat(pool), name, kind, command);
}

int strata_tool_list(strata_pool *pool,
                     int (*fn)(void *ctx, const char *name, const char *kind, const char *command),
                     void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    return st_cat_tool_list(st_pool_err(pool), st_pool_cat(pool), fn, ctx);
}
