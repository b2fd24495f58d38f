/* N-d arrays against a reference array held in memory: random rectangles (with and without
 * strides) written and read, edges and partial chunks, 1-D to 4-D, every dtype, the three
 * layouts, with and without zstd; growth along the unlimited dimension; tiers, migration,
 * staging, eviction, prefetch and the chunk cache; bad input. */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "catalog/catalog.h"
#include "pool/pool.h"
#include "test_util.h"

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static uint64_t rndn(uint64_t n)
{
    return n ? rnd() % n : 0;
}

typedef struct {
    int n;
    uint64_t dims[STRATA_ND_MAXDIMS];
    size_t esz;
    char *v; /* C order */
} ref_t;

static uint64_t ref_offset(const ref_t *r, const uint64_t *pos)
{
    uint64_t off = 0;
    for (int d = 0; d < r->n; d++) off = off * r->dims[d] + pos[d];
    return off;
}

/* Visit every element of the selection START + k*STRIDE (k < COUNT) in C order: calls FN with
 * the array position and the buffer index. */
static void each(int n, const uint64_t *start, const uint64_t *count, const uint64_t *stride,
                 void (*fn)(void *ctx, const uint64_t *pos, uint64_t i), void *ctx)
{
    uint64_t k[STRATA_ND_MAXDIMS] = {0}, pos[STRATA_ND_MAXDIMS];
    uint64_t total = 1;
    for (int d = 0; d < n; d++) total *= count[d];
    for (uint64_t i = 0; i < total; i++) {
        for (int d = 0; d < n; d++) pos[d] = start[d] + k[d] * stride[d];
        fn(ctx, pos, i);
        for (int d = n - 1; d >= 0; d--) {
            if (++k[d] < count[d]) break;
            k[d] = 0;
        }
    }
}

typedef struct {
    ref_t *r;
    char *buf;
} io_ctx;

static void put_one(void *vctx, const uint64_t *pos, uint64_t i)
{
    io_ctx *c = vctx;
    memcpy(c->r->v + ref_offset(c->r, pos) * c->r->esz, c->buf + i * c->r->esz, c->r->esz);
}

static void get_one(void *vctx, const uint64_t *pos, uint64_t i)
{
    io_ctx *c = vctx;
    memcpy(c->buf + i * c->r->esz, c->r->v + ref_offset(c->r, pos) * c->r->esz, c->r->esz);
}

/* A random valid element of DTYPE at P. */
static void random_value(strata_dtype t, void *p)
{
    uint64_t x = rnd();
    switch (t) {
    case STRATA_BOOL:
        *(uint8_t *)p = (uint8_t)(x & 1);
        break;
    case STRATA_F32:
        *(float *)p = (float)((int64_t)(x % 2000000) - 1000000) / 8.0f;
        break;
    case STRATA_F64:
        *(double *)p = (double)((int64_t)(x % 2000000000) - 1000000000) / 16.0;
        break;
    default:
        memcpy(p, &x, strata_dtype_size(t));
        break;
    }
}

/* A random selection inside DIMS: START, COUNT, STRIDE (strides only when STRIDED). */
static void random_rect(int n, const uint64_t *dims, int strided, uint64_t *start, uint64_t *count,
                        uint64_t *stride)
{
    for (int d = 0; d < n; d++) {
        stride[d] = strided ? 1 + rndn(3) : 1;
        start[d] = rndn(dims[d]);
        uint64_t room = (dims[d] - start[d] - 1) / stride[d] + 1;
        count[d] = 1 + rndn(room);
        if (rndn(4) == 0) { /* whole extent sometimes: full chunks */
            start[d] = 0;
            stride[d] = 1;
            count[d] = dims[d];
        }
    }
}

static void compare_rect(strata_pool *pool, strata_ndarray *a, ref_t *r, const uint64_t *start,
                         const uint64_t *count, const uint64_t *stride, const char *what)
{
    uint64_t total = 1;
    for (int d = 0; d < r->n; d++) total *= count[d];
    char *got = malloc(total * r->esz), *want = malloc(total * r->esz);
    assert_ok(pool, strata_ndarray_read_strided(a, start, count, stride, got));
    io_ctx c = {r, want};
    each(r->n, start, count, stride, get_one, &c);
    if (memcmp(got, want, total * r->esz) != 0) {
        uint64_t i = 0;
        while (memcmp(got + i * r->esz, want + i * r->esz, r->esz) == 0) i++;
        fail_msg("%s: element %llu of the read differs", what, (unsigned long long)i);
    }
    free(got);
    free(want);
}

/* One array: random writes, each followed by random reads, then a whole read through a second
 * handle without a cache. */
static void exercise(strata_pool *pool, int n, strata_dtype t, strata_layout layout, int zstd,
                     int writes)
{
    static int serial;
    char name[64];
    snprintf(name, sizeof name, "a%d_%s_%d_%d_%d", n, strata_dtype_name(t), (int)layout, zstd,
             serial++);
    ref_t r = {.n = n, .esz = strata_dtype_size(t)};
    uint64_t chunk[STRATA_ND_MAXDIMS];
    uint64_t maxdim = n == 1 ? 200 : n == 2 ? 40 : n == 3 ? 14 : 8;
    uint64_t total = 1;
    for (int d = 0; d < n; d++) {
        r.dims[d] = 1 + rndn(maxdim);
        chunk[d] = 1 + rndn(r.dims[d] + 2); /* may exceed or not divide the dimension */
        total *= r.dims[d];
    }
    char fill[8] = {0};
    if (rndn(2)) random_value(t, fill);
    strata_ndarray_opts o = {.layout = layout, .fill = fill, .zstd_level = zstd};
    strata_ndarray *a;
    assert_ok(pool, strata_ndarray_create(pool, "r", name, t, n, r.dims, chunk, &o, &a));
    r.v = malloc(total * r.esz);
    for (uint64_t i = 0; i < total; i++) memcpy(r.v + i * r.esz, fill, r.esz);
    uint64_t start[8], count[8], stride[8];
    /* never written: all fill */
    random_rect(n, r.dims, 1, start, count, stride);
    compare_rect(pool, a, &r, start, count, stride, name);
    for (int w = 0; w < writes; w++) {
        random_rect(n, r.dims, rndn(3) == 0, start, count, stride);
        uint64_t m = 1;
        for (int d = 0; d < n; d++) m *= count[d];
        char *buf = malloc(m * r.esz);
        for (uint64_t i = 0; i < m; i++) random_value(t, buf + i * r.esz);
        assert_ok(pool, strata_ndarray_write_strided(a, start, count, stride, buf));
        io_ctx c = {&r, buf};
        each(n, start, count, stride, put_one, &c);
        free(buf);
        for (int k = 0; k < 3; k++) {
            random_rect(n, r.dims, k == 2, start, count, stride);
            compare_rect(pool, a, &r, start, count, stride, name);
        }
    }
    strata_ndarray_close(a);
    strata_ndarray_open_opts no_cache = {.cache_bytes = SIZE_MAX};
    assert_ok(pool, strata_ndarray_open(pool, "r", name, &no_cache, &a));
    for (int d = 0; d < n; d++) {
        start[d] = 0;
        count[d] = r.dims[d];
        stride[d] = 1;
    }
    compare_rect(pool, a, &r, start, count, stride, name);
    strata_ndarray_close(a);
    free(r.v);
}

static void random_rectangles_match_reference(void **state)
{
    fixture *f = *state;
    static const strata_dtype all[] = {STRATA_I8,  STRATA_I16, STRATA_I32, STRATA_I64,
                                       STRATA_U8,  STRATA_U16, STRATA_U32, STRATA_U64,
                                       STRATA_F32, STRATA_F64, STRATA_BOOL};
    /* every dtype in every dimensionality, chunked, the plain chunks of a read on 1 thread and
     * on 3 (each into its own part of the buffer); every layout and compression with f32 and
     * i16 */
    for (int th = 1; th <= 3; th += 2) {
        assert_ok(f->pool, strata_pool_set_threads(f->pool, th));
        for (int n = 1; n <= 4; n++)
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                exercise(f->pool, n, all[i], STRATA_LAYOUT_CHUNKED, 0, 4);
    }
    assert_ok(f->pool, strata_pool_set_threads(f->pool, 2));
    for (int n = 1; n <= 4; n++)
        for (int layout = 0; layout < 3; layout++)
            for (int z = 0; z <= 1; z++) {
                exercise(f->pool, n, STRATA_F32, (strata_layout)layout, z ? 3 : 0, 6);
                exercise(f->pool, n, STRATA_I16, (strata_layout)layout, z ? 1 : 0, 3);
            }
}

static void grows_along_unlimited_dimension(void **state)
{
    fixture *f = *state;
    for (int layout = 0; layout < 3; layout++) {
        char name[32];
        snprintf(name, sizeof name, "steps%d", layout);
        uint64_t dims[3] = {0, 5, 7}, chunk[3] = {3, 2, 4};
        int32_t fill = -1;
        strata_ndarray_opts o = {.layout = (strata_layout)layout, .fill = &fill};
        strata_ndarray *a;
        assert_ok(f->pool,
                  strata_ndarray_create(f->pool, "r", name, STRATA_I32, 3, dims, chunk, &o, &a));
        int32_t step[35];
        for (int s = 0; s < 4; s++) {
            for (int i = 0; i < 35; i++) step[i] = s * 100 + i;
            uint64_t at = 99;
            assert_ok(f->pool, strata_ndarray_append_step(a, step, &at));
            assert_int_equal(at, (uint64_t)s);
        }
        /* write past the end with a gap: steps 4..5 read as the fill */
        uint64_t start[3] = {6, 1, 2}, count[3] = {1, 2, 2};
        int32_t patch[4] = {7, 8, 9, 10};
        assert_ok(f->pool, strata_ndarray_write(a, start, count, patch));
        strata_ndarray_desc info;
        assert_ok(f->pool, strata_ndarray_info(a, &info));
        assert_int_equal(info.dims[0], 7);
        int32_t all[7 * 35];
        uint64_t s0[3] = {0, 0, 0}, c0[3] = {7, 5, 7};
        assert_ok(f->pool, strata_ndarray_read(a, s0, c0, all));
        for (int s = 0; s < 7; s++)
            for (int i = 0; i < 35; i++) {
                int y = i / 7, x = i % 7;
                int32_t want = s < 4 ? s * 100 + i
                               : s == 6 && y >= 1 && y < 3 && x >= 2 && x < 4
                                   ? patch[(y - 1) * 2 + x - 2]
                                   : -1;
                if (all[s * 35 + i] != want)
                    fail_msg("layout %d step %d element %d: %d, expected %d", layout, s, i,
                             all[s * 35 + i], want);
            }
        /* reading past the last step is out of range */
        uint64_t s1[3] = {7, 0, 0}, c1[3] = {1, 1, 1};
        assert_status(f->pool, strata_ndarray_read(a, s1, c1, all), STRATA_ERANGE);
        strata_ndarray_close(a);
    }
}

static void bad_input_is_refused(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    uint64_t dims[2] = {10, 10}, chunk[2] = {3, 3}, zero[2] = {0, 3};
    strata_ndarray *a;
    assert_status(p, strata_ndarray_create(p, "r", "s", STRATA_STR, 2, dims, chunk, NULL, &a),
                  STRATA_ETYPE);
    assert_status(p, strata_ndarray_create(p, "r", "z", STRATA_F32, 9, dims, chunk, NULL, &a),
                  STRATA_EINVAL);
    assert_status(p, strata_ndarray_create(p, "r", "z", STRATA_F32, 2, dims, zero, NULL, &a),
                  STRATA_EINVAL);
    assert_errmsg_has(p, "chunk dimension 0");
    assert_status(p, strata_ndarray_create(p, "nope", "z", STRATA_F32, 2, dims, chunk, NULL, &a),
                  STRATA_ENOTFOUND);
    assert_status(p, strata_ndarray_create(p, "r", "../x", STRATA_F32, 2, dims, chunk, NULL, &a),
                  STRATA_ENAME);
    strata_ndarray_opts bad_tier = {.tier = "tape"};
    assert_status(p, strata_ndarray_create(p, "r", "z", STRATA_F32, 2, dims, chunk, &bad_tier, &a),
                  STRATA_ENOTFOUND);
    assert_errmsg_has(p, "tier 'tape' not found");
    assert_ok(p, strata_ndarray_create(p, "r", "a", STRATA_F32, 2, dims, chunk, NULL, &a));
    assert_status(p, strata_ndarray_create(p, "r", "a", STRATA_F32, 2, dims, chunk, NULL, NULL),
                  STRATA_EEXIST);
    float buf[200] = {0};
    uint64_t s[2] = {8, 0}, c[2] = {3, 1}, cz[2] = {0, 1}, st0[2] = {1, 0};
    assert_status(p, strata_ndarray_read(a, s, c, buf), STRATA_ERANGE);
    assert_errmsg_has(p, "outside dimension 0 of size 10");
    assert_status(p, strata_ndarray_write(a, s, c, buf), STRATA_ERANGE);
    assert_status(p, strata_ndarray_read(a, s, cz, buf), STRATA_EINVAL);
    uint64_t in[2] = {0, 0};
    assert_status(p, strata_ndarray_read_strided(a, in, c, st0, buf), STRATA_EINVAL);
    assert_errmsg_has(p, "stride of dimension 1 is 0");
    assert_status(p, strata_ndarray_append_step(a, buf, NULL), STRATA_EINVAL);
    /* nothing was written by the refused calls */
    strata_ndarray_desc info;
    assert_ok(p, strata_ndarray_info(a, &info));
    assert_int_equal(info.chunks_written, 0);
    assert_int_equal(info.version, 0);
    strata_ndarray_close(a);
    assert_status(p, strata_ndarray_open(p, "r", "missing", NULL, &a), STRATA_ENOTFOUND);
    uint8_t bools[4] = {0, 1, 2, 0};
    uint64_t bd[1] = {4}, bc[1] = {4}, b0[1] = {0};
    assert_ok(p, strata_ndarray_create(p, "r", "b", STRATA_BOOL, 1, bd, bc, NULL, &a));
    assert_status(p, strata_ndarray_write(a, b0, bc, bools), STRATA_EINVAL);
    strata_ndarray_close(a);
}

/* Fill a 2-D f64 array of 40 x 30 in chunks of 8 x 7 with v(y, x) = y * 1000 + x. */
static void make_grid(strata_pool *p, const char *name, const char *tier, int zstd)
{
    uint64_t dims[2] = {40, 30}, chunk[2] = {8, 7}, s[2] = {0, 0};
    double v[1200];
    for (int i = 0; i < 1200; i++) v[i] = (i / 30) * 1000 + i % 30;
    strata_ndarray_opts o = {.tier = tier, .zstd_level = zstd};
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_create(p, "r", name, STRATA_F64, 2, dims, chunk, &o, &a));
    assert_ok(p, strata_ndarray_write(a, s, dims, v));
    strata_ndarray_close(a);
}

static void check_grid_region(strata_pool *p, strata_ndarray *a, uint64_t y, uint64_t x,
                              uint64_t ny, uint64_t nx)
{
    uint64_t s[2] = {y, x}, c[2] = {ny, nx};
    double *v = malloc(ny * nx * sizeof *v);
    assert_ok(p, strata_ndarray_read(a, s, c, v));
    for (uint64_t i = 0; i < ny; i++)
        for (uint64_t j = 0; j < nx; j++)
            if (v[i * nx + j] != (double)((y + i) * 1000 + x + j))
                fail_msg("(%llu, %llu) is %g", (unsigned long long)(y + i),
                         (unsigned long long)(x + j), v[i * nx + j]);
    free(v);
}

static int count_suffix(const char *dir, const char *suffix)
{
    char cmd[8500];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*%s' | wc -l", dir, suffix);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f != NULL && fscanf(f, "%d", &n) != 1) n = -1;
    if (f != NULL) pclose(f);
    return n;
}

static void tiers_migrate_stage_evict(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    char tape[4200], fast[4200];
    snprintf(tape, sizeof tape, "%s/../tape", f->path);
    snprintf(fast, sizeof fast, "%s/../fast", f->path);
    assert_ok(p, strata_tier_add(p, "tape", tape, STRATA_TIER_ARCHIVE, 0, 100e6, 0.5));
    /* room for a few staged chunks only (a chunk is 8 x 7 doubles, about 600 bytes) */
    assert_ok(p, strata_tier_add(p, "fast", fast, STRATA_TIER_SSD, 4000, 0, 0));
    assert_status(p, strata_tier_add(p, "fast", fast, STRATA_TIER_SSD, 0, 0, 0), STRATA_EEXIST);
    make_grid(p, "g", NULL, 0);
    uint64_t moved = 0;
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "tape", 0, UINT64_MAX, &moved));
    assert_int_equal(moved, 5 * 5); /* 40/8 x ceil(30/7) */
    assert_int_equal(count_suffix(tape, ".npy.zst"), 25);
    strata_tier_info ti;
    assert_ok(p, strata_tier_get(p, "tape", &ti));
    assert_int_equal(ti.files, 25);
    /* removing a tier that holds data is refused */
    assert_status(p, strata_tier_remove(p, "tape"), STRATA_ECONFLICT);
    /* a read stages on demand to the handle's stage tier */
    strata_ndarray_open_opts o = {.stage_tier = "fast"};
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_open(p, "r", "g", &o, &a));
    check_grid_region(p, a, 3, 2, 4, 4); /* one chunk */
    strata_ndarray_desc info;
    assert_ok(p, strata_ndarray_info(a, &info));
    assert_int_equal(info.staged_on_demand, 1);
    /* many more chunks than fit: the oldest staged copies are evicted, the data stays right */
    check_grid_region(p, a, 0, 0, 40, 30);
    assert_ok(p, strata_tier_get(p, "fast", &ti));
    assert_true(ti.used <= 4000);
    strata_ndarray_close(a);
    /* background staging of a region to the default tier */
    strata_stage *st;
    strata_stage_stats ss;
    uint64_t s[2] = {8, 7}, c[2] = {16, 14};
    assert_ok(p, strata_stage_start(p, "r", "g", s, c, NULL, &st));
    assert_ok(p, strata_stage_wait(st, &ss, NULL, 0));
    assert_int_equal(ss.chunks_needed, 4);
    assert_int_equal(ss.chunks_staged + ss.chunks_present, 4);
    assert_ok(p, strata_ndarray_open(p, "r", "g", NULL, &a));
    check_grid_region(p, a, 8, 7, 16, 14);
    assert_ok(p, strata_ndarray_info(a, &info));
    assert_int_equal(info.staged_on_demand, 0); /* found them staged */
    strata_ndarray_close(a);
    assert_status(p, strata_stage_start(p, "r", "g", NULL, NULL, "tape", &st), STRATA_EINVAL);
    /* a migration to a tier without room is refused, and nothing moves */
    assert_status(p, strata_ndarray_migrate(p, "r", "g", "fast", 0, UINT64_MAX, &moved),
                  STRATA_ENOSPC);
    assert_errmsg_has(p, "over its capacity");
    /* part of the array back to the default tier, then all */
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "default", 0, 4, &moved));
    assert_int_equal(moved, 5);
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "default", 0, UINT64_MAX, &moved));
    assert_int_equal(moved, 20);
    assert_ok(p, strata_ndarray_open(p, "r", "g", NULL, &a));
    check_grid_region(p, a, 0, 0, 40, 30);
    strata_ndarray_close(a);
    assert_ok(p, strata_tier_remove(p, "tape"));
    assert_ok(p, strata_tier_remove(p, "fast"));
    assert_status(p, strata_tier_remove(p, "default"), STRATA_ECONFLICT);
    uint64_t damaged = 1;
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
}

/* Files large enough to take the other read paths: a contiguous array over 4 MiB (narrow
 * columns read through a mapping, wide rows by span), and a grid of many chunks read one column
 * of chunks at a time (a range query per run). */
static void large_files_and_narrow_boxes(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    enum { NY = 1500, NX = 1100 };
    uint64_t dims[2] = {NY, NX}, z[2] = {0, 0}, chunk[2] = {50, 40};
    int32_t *v = malloc(sizeof(int32_t) * NY * NX);
    for (size_t i = 0; i < (size_t)NY * NX; i++) v[i] = (int32_t)(i * 7 + 3);
    static const strata_layout layouts[3] = {STRATA_LAYOUT_ROW, STRATA_LAYOUT_COL,
                                             STRATA_LAYOUT_CHUNKED};
    static const char *names[3] = {"bigrow", "bigcol", "grid"};
    for (int l = 0; l < 3; l++) {
        strata_ndarray_opts o = {.layout = layouts[l]};
        strata_ndarray *a;
        assert_ok(p, strata_ndarray_create(p, "r", names[l], STRATA_I32, 2, dims,
                                           l == 2 ? chunk : NULL, &o, &a));
        assert_ok(p, strata_ndarray_write(a, z, dims, v));
        strata_ndarray_close(a);
        assert_ok(p, strata_ndarray_open(p, "r", names[l], NULL, &a));
        /* narrow columns, wide rows, a block, a strided sample, one element */
        static const uint64_t rects[][6] = {
            {0, 3, NY, 5, 1, 1},    {7, 0, 9, NX, 1, 1},          {600, 500, 300, 200, 1, 1},
            {1, 2, 700, 20, 2, 50}, {NY - 1, NX - 1, 1, 1, 1, 1}, {0, 1000, NY / 3, 100, 3, 1}};
        for (size_t k = 0; k < sizeof rects / sizeof rects[0]; k++) {
            const uint64_t *q = rects[k];
            uint64_t s[2] = {q[0], q[1]}, c[2] = {q[2], q[3]}, st[2] = {q[4], q[5]};
            int32_t *got = malloc(sizeof(int32_t) * c[0] * c[1]);
            assert_ok(p, strata_ndarray_read_strided(a, s, c, st, got));
            for (uint64_t y = 0; y < c[0]; y++)
                for (uint64_t x = 0; x < c[1]; x++)
                    if (got[y * c[1] + x] != v[(s[0] + y * st[0]) * NX + s[1] + x * st[1]])
                        fail_msg("%s rect %zu: (%llu, %llu) differs", names[l], k,
                                 (unsigned long long)y, (unsigned long long)x);
            free(got);
        }
        strata_ndarray_close(a);
    }
    /* an array grown past a chunk's file (1000 rows written of a 2000-row chunk, then a row of
     * the next chunk): a narrow box across both read row by row, the rows past the file's as
     * the fill */
    uint64_t d0[2] = {0, NX}, big[2] = {2000, NX}, c1[2] = {1000, NX}, at[2] = {2500, 0},
             one[2] = {1, 1};
    int32_t fill = -5, last = 42;
    strata_ndarray_opts o = {.layout = STRATA_LAYOUT_CHUNKED, .fill = &fill};
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_create(p, "r", "grown", STRATA_I32, 2, d0, big, &o, &a));
    assert_ok(p, strata_ndarray_write(a, z, c1, v));
    assert_ok(p, strata_ndarray_write(a, at, one, &last));
    uint64_t s[2] = {0, 0}, c[2] = {2501, 6};
    int32_t *got = malloc(sizeof(int32_t) * c[0] * c[1]);
    assert_ok(p, strata_ndarray_read(a, s, c, got));
    for (uint64_t y = 0; y < c[0]; y++)
        for (uint64_t x = 0; x < c[1]; x++) {
            uint64_t r = s[0] + y;
            int32_t want = r < 1000 ? v[r * NX + x] : r == 2500 && x == 0 ? last : fill;
            if (got[y * c[1] + x] != want)
                fail_msg("grown: (%llu, %llu) is %d, expected %d", (unsigned long long)r,
                         (unsigned long long)x, got[y * c[1] + x], want);
        }
    free(got);
    strata_ndarray_close(a);
    free(v);
}

/* A process that keeps its pool open reads the chunk files it read before from the mappings the
 * pool keeps (from the second read of a file on): the same values, and after the array is
 * rewritten (new chunk files) and the old files collected, the new ones. */
static void reads_again_from_kept_mappings(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    enum { NY = 600, NX = 500 };
    uint64_t dims[2] = {NY, NX}, z[2] = {0, 0}, chunk[2] = {200, 250};
    int32_t *v = malloc(sizeof(int32_t) * NY * NX), *got = malloc(sizeof(int32_t) * NY * NX);
    for (int layout = 0; layout < 2; layout++) {
        strata_ndarray_opts o = {.layout = layout ? STRATA_LAYOUT_ROW : STRATA_LAYOUT_CHUNKED};
        strata_ndarray *a;
        const char *name = layout ? "kept_row" : "kept_grid";
        assert_ok(p, strata_ndarray_create(p, "r", name, STRATA_I32, 2, dims, layout ? NULL : chunk,
                                           &o, &a));
        for (int round = 0; round < 2; round++) {
            for (size_t i = 0; i < (size_t)NY * NX; i++) v[i] = (int32_t)(i * 7 + 3 + round);
            assert_ok(p, strata_ndarray_write(a, z, dims, v));
            assert_ok(p, strata_gc(p, NULL, NULL));
            for (int k = 0; k < 4; k++) { /* remembered, mapped, then read from the mapping */
                strata_ndarray *r;
                assert_ok(p, strata_ndarray_open(p, "r", name, NULL, &r));
                uint64_t s[2] = {10 + (uint64_t)k, 3}, c[2] = {NY - 20, 17 + (uint64_t)k};
                assert_ok(p, strata_ndarray_read(r, s, c, got));
                for (uint64_t y = 0; y < c[0]; y++)
                    for (uint64_t x = 0; x < c[1]; x++)
                        if (got[y * c[1] + x] != v[(s[0] + y) * NX + s[1] + x])
                            fail_msg("%s round %d read %d: (%llu, %llu) differs", name, round, k,
                                     (unsigned long long)y, (unsigned long long)x);
                strata_ndarray_close(r);
            }
        }
        strata_ndarray_close(a);
    }
    free(v);
    free(got);
}

/* Check every row of snapshot S of dataset r/ds (NB batches of 100 rows: v = 3 * row, s =
 * "s<row>"). */
static void check_ds(strata_pool *p, strata_snapshot *s, uint64_t nb)
{
    for (uint64_t b = 0; b < nb; b++) {
        const void *v;
        const int64_t *off;
        const char *bytes;
        assert_ok(p, strata_snapshot_map(s, b, 0, &v));
        assert_ok(p, strata_snapshot_map_str(s, b, 1, &off, &bytes));
        for (int i = 0; i < 100; i++) {
            uint64_t row = b * 100 + (uint64_t)i;
            char want[32];
            int n = snprintf(want, sizeof want, "s%llu", (unsigned long long)row);
            assert_int_equal(((const int64_t *)v)[i], (int64_t)(3 * row));
            assert_int_equal(off[i + 1] - off[i], n);
            assert_memory_equal(bytes + off[i], want, (size_t)n);
        }
    }
}

/* A dataset's batches move between tiers: to an archive (compressed) and back, in ranges; a
 * snapshot opened before a move still reads every value; capacity and bad input are refused;
 * check and gc know the files on every tier. */
static void dataset_batches_between_tiers(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    strata_column cols[2] = {{"v", STRATA_I64}, {"s", STRATA_STR}};
    assert_ok(p, strata_dataset_create(p, "r", "ds", cols, 2));
    strata_dataset *ds;
    assert_ok(p, strata_dataset_open(p, "r", "ds", &ds));
    for (int b = 0; b < 6; b++) {
        strata_batch *bt;
        int64_t v[100], off[101] = {0};
        char bytes[100 * 8];
        for (int i = 0; i < 100; i++) {
            int row = b * 100 + i;
            v[i] = 3 * row;
            off[i + 1] = off[i] + sprintf(bytes + off[i], "s%d", row);
        }
        assert_ok(p, strata_batch_begin(ds, &bt));
        assert_ok(p, strata_batch_append(bt, 0, v, 100));
        assert_ok(p, strata_batch_append_str(bt, 1, off, bytes, 100));
        assert_ok(p, strata_batch_commit(bt));
    }
    assert_ok(p, strata_publish(ds, NULL));
    strata_dataset_close(ds);
    char tape[4200], fast[4200];
    snprintf(tape, sizeof tape, "%s/../tape", f->path);
    snprintf(fast, sizeof fast, "%s/../fast", f->path);
    assert_ok(p, strata_tier_add(p, "tape", tape, STRATA_TIER_ARCHIVE, 0, 0, 0));
    assert_ok(p, strata_tier_add(p, "tiny", fast, STRATA_TIER_SSD, 100, 0, 0));
    strata_snapshot *old;
    assert_ok(p, strata_snapshot_open(p, "r", "ds", 0, &old));
    uint64_t moved = 0;
    /* batches 1-3, then the rest: MOVED counts batch columns, two per batch */
    assert_ok(p, strata_dataset_migrate(p, "r", "ds", "tape", 1, 3, &moved));
    assert_int_equal(moved, 6);
    assert_ok(p, strata_dataset_migrate(p, "r", "ds", "tape", 0, UINT64_MAX, &moved));
    assert_int_equal(moved, 6);
    check_ds(p, old, 6); /* listed before the move: finds the files at their new place */
    strata_snapshot_close(old);
    assert_ok(p, strata_snapshot_open(p, "r", "ds", 0, &old));
    check_ds(p, old, 6);
    strata_snapshot_close(old);
    strata_tier_info ti;
    assert_ok(p, strata_tier_get(p, "tape", &ti));
    assert_int_equal(ti.files, 12);
    assert_int_equal(strata_tier_remove(p, "tape"), STRATA_ECONFLICT);
    /* no room, unknown tier, empty range: refused, nothing moved */
    assert_int_equal(strata_dataset_migrate(p, "r", "ds", "tiny", 0, UINT64_MAX, &moved),
                     STRATA_ENOSPC);
    assert_int_equal(moved, 0);
    assert_int_equal(strata_dataset_migrate(p, "r", "ds", "nope", 0, 1, &moved), STRATA_ENOTFOUND);
    assert_int_equal(strata_dataset_migrate(p, "r", "ds", "default", 3, 2, &moved), STRATA_EINVAL);
    assert_int_equal(strata_dataset_migrate(p, "r", "nods", "default", 0, 1, &moved),
                     STRATA_ENOTFOUND);
    uint64_t damaged = 1;
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
    /* back to the default tier; the tape holds nothing and can go */
    assert_ok(p, strata_dataset_migrate(p, "r", "ds", "default", 0, UINT64_MAX, &moved));
    assert_int_equal(moved, 12);
    assert_ok(p, strata_snapshot_open(p, "r", "ds", 0, &old));
    check_ds(p, old, 6);
    strata_snapshot_close(old);
    assert_ok(p, strata_tier_remove(p, "tape"));
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
}

static void prefetch_and_cache(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    uint64_t dims[3] = {0, 16, 16}, chunk[3] = {1, 8, 8};
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_create(p, "r", "seq", STRATA_I64, 3, dims, chunk, NULL, &a));
    int64_t step[256];
    for (int s = 0; s < 10; s++) {
        for (int i = 0; i < 256; i++) step[i] = s * 1000 + i;
        assert_ok(p, strata_ndarray_append_step(a, step, NULL));
    }
    strata_ndarray_close(a);
    strata_ndarray_open_opts o = {.hints = STRATA_ND_SEQUENTIAL};
    assert_ok(p, strata_ndarray_open(p, "r", "seq", &o, &a));
    for (uint64_t s = 0; s < 10; s++) {
        uint64_t st[3] = {s, 2, 3}, c[3] = {1, 10, 11};
        int64_t got[110];
        assert_ok(p, strata_ndarray_read(a, st, c, got));
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 11; x++)
                assert_int_equal(got[y * 11 + x], (int64_t)s * 1000 + (y + 2) * 16 + x + 3);
    }
    strata_ndarray_desc info;
    assert_ok(p, strata_ndarray_info(a, &info));
    assert_int_equal(info.reads, 10);
    assert_int_equal(info.prefetched, 9);
    strata_ndarray_close(a);
    /* repeated reads of compressed chunks come from the cache */
    make_grid(p, "z", NULL, 3);
    assert_ok(p, strata_ndarray_open(p, "r", "z", NULL, &a));
    check_grid_region(p, a, 0, 0, 20, 20);
    check_grid_region(p, a, 1, 1, 18, 18);
    assert_ok(p, strata_ndarray_info(a, &info));
    assert_int_equal(info.chunks_read, 9);
    assert_int_equal(info.cache_hits, 9);
    strata_ndarray_close(a);
}

/* The statistics of the rectangle START + COUNT of A computed here, naively, from one read. */
static void reference_summary(strata_pool *p, strata_ndarray *a, const uint64_t *start,
                              const uint64_t *count, strata_summary *out)
{
    uint64_t n = count[0] * count[1] * count[2];
    double *v = malloc(n * sizeof *v);
    assert_ok(p, strata_ndarray_read(a, start, count, v));
    memset(out, 0, sizeof *out);
    double sum = 0, m2 = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            out->nan++;
            continue;
        }
        if (out->count == 0 || v[i] < out->min) out->min = v[i];
        if (out->count == 0 || v[i] > out->max) out->max = v[i];
        sum += v[i];
        out->count++;
    }
    out->mean = sum / (double)out->count;
    double width = (out->max - out->min) / STRATA_HIST_BINS;
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        m2 += (v[i] - out->mean) * (v[i] - out->mean);
        int b = (int)((v[i] - out->min) / width);
        out->hist[b < STRATA_HIST_BINS ? b : STRATA_HIST_BINS - 1]++;
    }
    out->std = sqrt(m2 / (double)out->count);
    free(v);
}

static void assert_same_summary(const strata_summary *got, const strata_summary *want)
{
    assert_int_equal(got->count, want->count);
    assert_int_equal(got->nan, want->nan);
    assert_true(got->min == want->min && got->max == want->max);
    assert_true(fabs(got->mean - want->mean) <= 1e-12 * fabs(want->mean));
    assert_true(fabs(got->std - want->std) <= 1e-9 * want->std);
    assert_memory_equal(got->hist, want->hist, sizeof want->hist);
}

/* Region statistics: exact over rectangles larger than one slab (8 MiB), in any position, with
 * NaNs skipped; cached in the catalog by array version and rectangle; bad rectangles refused. */
static void region_summaries_match_a_naive_pass(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    uint64_t dims[3] = {3, 1200, 1000}, chunk[3] = {1, 300, 250};
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_create(p, "r", "big", STRATA_F64, 3, dims, chunk, NULL, &a));
    uint64_t plane = dims[1] * dims[2];
    double *v = malloc(plane * sizeof *v);
    for (uint64_t i = 0; i < dims[0]; i++) {
        for (uint64_t k = 0; k < plane; k++)
            v[k] = (k % 997 == 5) ? NAN : (double)((i * 7 + k * 3) % 1001) - 300.5;
        uint64_t st[3] = {i, 0, 0}, c[3] = {1, dims[1], dims[2]};
        assert_ok(p, strata_ndarray_write(a, st, c, v));
    }
    free(v);
    const uint64_t rects[][6] = {
        {0, 0, 0, 3, 1200, 1000},   /* 28.8 MB: slabs of 1048 rows */
        {1, 100, 10, 2, 1100, 990}, /* slabs of 1059 rows, off the origin */
        {2, 5, 7, 1, 40, 30},       /* one slab */
    };
    for (size_t r = 0; r < sizeof rects / sizeof rects[0]; r++) {
        strata_summary want, got;
        reference_summary(p, a, rects[r], rects[r] + 3, &want);
        assert_ok(p, strata_ndarray_summary(a, rects[r], rects[r] + 3, &got));
        assert_same_summary(&got, &want);
        assert_true(want.nan > 0 || r == 2);
        assert_int_equal(got.cached, 0);
        assert_ok(p, strata_ndarray_summary(a, rects[r], rects[r] + 3, &got));
        assert_int_equal(got.cached, 1);
        assert_same_summary(&got, &want);
    }
    /* a write is a new version: the next summary is computed again */
    strata_ndarray_desc info;
    assert_ok(p, strata_ndarray_info(a, &info));
    double big = 1e6;
    uint64_t at[3] = {2, 10, 10}, one[3] = {1, 1, 1};
    assert_ok(p, strata_ndarray_write(a, at, one, &big));
    strata_summary got;
    assert_ok(p, strata_ndarray_summary(a, rects[2], rects[2] + 3, &got));
    assert_int_equal(got.cached, 0);
    assert_true(got.max == 1e6);
    assert_int_equal(got.version, info.version + 1);
    /* bad rectangles */
    uint64_t out_start[3] = {0, 1190, 0}, out_count[3] = {1, 20, 1}, zero[3] = {1, 0, 1};
    assert_status(p, strata_ndarray_summary(a, out_start, out_count, &got), STRATA_ERANGE);
    assert_status(p, strata_ndarray_summary(a, at, zero, &got), STRATA_EINVAL);
    assert_status(p, strata_ndarray_summary(a, at, one, NULL), STRATA_EINVAL);
    strata_ndarray_close(a);
}

static int stop_at_third(void *ctx)
{
    return ++*(int *)ctx == 3;
}

static void region_summaries_stop_at_the_interrupt_check(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    /* 2048 x 2048 f64, never written (all fill): 32 MiB, four slabs of 8 MiB per pass */
    uint64_t dims[2] = {2048, 2048}, chunk[2] = {256, 256}, start[2] = {0, 0};
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_create(p, "r", "wide", STRATA_F64, 2, dims, chunk, NULL, &a));
    int calls = 0;
    assert_ok(p, strata_pool_set_interrupt(p, stop_at_third, &calls));
    strata_summary got;
    assert_status(p, strata_ndarray_summary(a, start, dims, &got), STRATA_ECANCELED);
    assert_int_equal(calls, 3);
    assert_non_null(strstr(strata_errmsg(p), "N-d array 'r/wide'"));
    calls = 100; /* never 3 again */
    assert_ok(p, strata_ndarray_summary(a, start, dims, &got));
    assert_int_equal(got.cached, 0);
    assert_int_equal(calls, 100 + 2 * 4);
    assert_int_equal(got.count, dims[0] * dims[1]);
    assert_ok(p, strata_pool_set_interrupt(p, NULL, NULL));
    strata_ndarray_close(a);
}

/* What the pool's work function heard: the reports of one operation. */
typedef struct heard {
    char what[128], unit[16];
    uint64_t n, first, last, total, backwards;
} heard;

static void hear(void *ctx, const strata_work *w)
{
    heard *h = ctx;
    if (h->n > 0 && w->done < h->last) h->backwards++;
    if (h->n++ == 0) {
        snprintf(h->what, sizeof h->what, "%s", w->what);
        snprintf(h->unit, sizeof h->unit, "%s", w->unit);
        h->first = w->done;
    }
    h->last = w->done;
    h->total = w->total;
}

/* Long operations report to the pool's work function, from 0 to their total, never backwards:
 * an N-d write and read (chunks), a migration (bytes), a check (regions); none without it. */
static void long_operations_report_their_progress(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    uint64_t dims[2] = {64, 64}, chunk[2] = {8, 8}, start[2] = {0, 0};
    static double buf[64 * 64];
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_create(p, "r", "w", STRATA_F64, 2, dims, chunk, NULL, &a));
    heard h;
    memset(&h, 0, sizeof h);
    assert_ok(p, strata_pool_set_work_fn(p, hear, &h));
    assert_ok(p, strata_ndarray_write(a, start, dims, buf));
    assert_string_equal(h.what, "write r/w");
    assert_string_equal(h.unit, "chunks");
    assert_true(h.n >= 2 && h.first == 0 && h.last == 64 && h.total == 64 && !h.backwards);
    memset(&h, 0, sizeof h);
    assert_ok(p, strata_ndarray_read(a, start, dims, buf));
    assert_true(h.n >= 2 && h.first == 0 && h.last == 64 && h.total == 64 && !h.backwards);
    assert_string_equal(h.what, "read r/w");
    char tier[4096];
    snprintf(tier, sizeof tier, "%s/fast", f->path);
    assert_ok(p, strata_tier_add(p, "fast", tier, STRATA_TIER_SSD, 0, 0, 0));
    memset(&h, 0, sizeof h);
    assert_ok(p, strata_ndarray_migrate(p, "r", "w", "fast", 0, UINT64_MAX, NULL));
    assert_string_equal(h.what, "migrate r/w to fast");
    assert_string_equal(h.unit, "bytes");
    assert_true(h.first == 0 && h.last == h.total && h.total > 0 && !h.backwards);
    memset(&h, 0, sizeof h);
    uint64_t damaged = 0;
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_true(h.n >= 2 && h.first == 0 && h.last == h.total && h.total == 2 && !h.backwards);
    assert_ok(p, strata_pool_set_work_fn(p, NULL, NULL));
    memset(&h, 0, sizeof h);
    assert_ok(p, strata_ndarray_read(a, start, dims, buf));
    assert_int_equal(h.n, 0);
    strata_ndarray_close(a);
}

/* ---- manifests (catalog_ndm.c) ------------------------------------------------------------ */

/* The manifest files of the pool at PATH. */
static int manifests(const char *path)
{
    char dir[4200];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/catalog.db-nd", path);
    if (stat(dir, &st) != 0) return -1;
    return count_suffix(dir, "") - 1; /* find lists the directory itself */
}

/* The one manifest file of the pool at PATH, into OUT. */
static void manifest_path(const char *path, char *out, size_t cap)
{
    char cmd[8500];
    snprintf(cmd, sizeof cmd, "find '%s/catalog.db-nd' -type f -name '[0-9a-f]*'", path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(out, (int)cap, f));
    out[strcspn(out, "\n")] = '\0';
    pclose(f);
}

/* Rewrite the 40 x 30 grid "g" with v(y, x) = y * 1000 + x + ADD. */
static void rewrite_grid(strata_pool *p, double add)
{
    uint64_t dims[2] = {40, 30}, s[2] = {0, 0};
    double v[1200];
    for (int i = 0; i < 1200; i++) v[i] = (i / 30) * 1000 + i % 30 + add;
    strata_ndarray *a;
    assert_ok(p, strata_ndarray_open(p, "r", "g", NULL, &a));
    assert_ok(p, strata_ndarray_write(a, s, dims, v));
    strata_ndarray_close(a);
}

/* Read all of "g" through a new pool handle on PATH and return what element 0 is off by. */
static double read_fresh(const char *path, int *connected)
{
    strata_pool *q;
    strata_ndarray *a;
    assert_int_equal(strata_pool_open(path, &q), STRATA_OK);
    assert_ok(q, strata_ndarray_open(q, "r", "g", NULL, &a));
    uint64_t s[2] = {0, 0}, c[2] = {40, 30};
    double v[1200];
    assert_ok(q, strata_ndarray_read(a, s, c, v));
    for (int i = 1; i < 1200; i++) /* one version, never a mix */
        assert_true(v[i] - ((i / 30) * 1000 + i % 30) == v[0]);
    strata_ndarray_close(a);
    if (connected != NULL) *connected = st_cat_connected(st_pool_cat(q));
    strata_pool_close(q);
    return v[0];
}

static void reads_take_a_manifest_that_every_change_removes(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    make_grid(p, "g", NULL, 0);
    assert_int_equal(manifests(f->path), -1); /* not even the directory */
    int connected = -1;
    if (st_cat_is_pg(st_pool_cat(p))) { /* PostgreSQL pools use none */
        assert_true(read_fresh(f->path, &connected) == 0);
        assert_true(read_fresh(f->path, &connected) == 0);
        assert_int_equal(connected, 1);
        assert_int_equal(manifests(f->path), -1);
        return;
    }
    /* the first read asks the catalog and leaves a manifest; the next needs no catalog */
    assert_true(read_fresh(f->path, &connected) == 0);
    assert_int_equal(connected, 1);
    assert_int_equal(manifests(f->path), 1);
    assert_true(read_fresh(f->path, &connected) == 0);
    assert_int_equal(connected, 0);
    /* a handle open across another handle's write reads the new contents */
    strata_pool *q;
    strata_ndarray *a;
    assert_int_equal(strata_pool_open(f->path, &q), STRATA_OK);
    assert_ok(q, strata_ndarray_open(q, "r", "g", NULL, &a));
    check_grid_region(q, a, 3, 4, 20, 20);
    assert_false(st_cat_connected(st_pool_cat(q)));
    rewrite_grid(p, 0.5);
    assert_int_equal(manifests(f->path), 0); /* removed by the write, before its commit */
    uint64_t s[2] = {3, 4}, c[2] = {2, 2};
    double v[4];
    assert_ok(q, strata_ndarray_read(a, s, c, v));
    assert_true(v[0] == 3004.5 && v[3] == 4005.5);
    assert_int_equal(manifests(f->path), 1); /* made again by that read */
    strata_ndarray_close(a);
    strata_pool_close(q);
    assert_true(read_fresh(f->path, &connected) == 0.5);
    assert_int_equal(connected, 0);
    /* a damaged manifest is no manifest: the catalog answers, and it is made again */
    char m[4200];
    manifest_path(f->path, m, sizeof m);
    int fd = open(m, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "x", 1, 100), 1);
    close(fd);
    assert_true(read_fresh(f->path, &connected) == 0.5);
    assert_int_equal(connected, 1);
    assert_true(read_fresh(f->path, &connected) == 0.5);
    assert_int_equal(connected, 0);
}

static void stale_broken_or_stuck_manifests_are_found(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    make_grid(p, "g", NULL, 0);
    rewrite_grid(p, 0.5);
    if (st_cat_is_pg(st_pool_cat(p))) return; /* no manifests (see the test before) */
    int connected = -1;
    assert_true(read_fresh(f->path, NULL) == 0.5);
    char m[4200];
    manifest_path(f->path, m, sizeof m);
    strata_pool *q;
    strata_ndarray *a;
    uint64_t s[2] = {3, 4}, c[2] = {2, 2};
    double v[4];
    /* check finds a stale manifest (one no commit removed: put back by hand) */
    uint64_t damaged = 1;
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
    char keep[4300], cmd[9000];
    snprintf(keep, sizeof keep, "%s.keep", m);
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", m, keep);
    assert_int_equal(system(cmd), 0);
    rewrite_grid(p, 0.25);
    assert_int_equal(rename(keep, m), 0);
    assert_status(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged), STRATA_ECORRUPT);
    assert_int_equal(damaged, 1);
    unlink(m);
    /* one a killed reader left half written is an orphan, which gc removes */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s/catalog.db-nd/" ST_NDM_TEMP "0123456789abcdef", f->path);
    fclose(fopen(tmp, "w"));
    strata_gc_opts go = {.grace_s = -1};
    assert_ok(p, strata_gc(p, &go, NULL));
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(manifests(f->path), 0);
    assert_true(read_fresh(f->path, NULL) == 0.25);
    /* a manifest that cannot be removed stops the write: nothing changes */
    assert_true(read_fresh(f->path, NULL) == 0.25); /* made again */
    manifest_path(f->path, m, sizeof m);
    unlink(m);
    assert_int_equal(mkdir(m, 0755), 0);
    uint64_t dims[2] = {40, 30}, zero[2] = {0, 0};
    double w[1200] = {0};
    assert_ok(p, strata_ndarray_open(p, "r", "g", NULL, &a));
    assert_status(p, strata_ndarray_write(a, zero, dims, w), STRATA_EIO);
    assert_errmsg_has(p, "cannot remove the manifest");
    strata_ndarray_close(a);
    assert_int_equal(rmdir(m), 0);
    assert_true(read_fresh(f->path, NULL) == 0.25);
    /* a deleted array is not read from its manifest */
    assert_true(read_fresh(f->path, &connected) == 0.25);
    assert_int_equal(connected, 0);
    assert_ok(p, strata_ndarray_delete(p, "r", "g"));
    assert_int_equal(manifests(f->path), 0);
    assert_int_equal(strata_pool_open(f->path, &q), STRATA_OK);
    assert_status(q, strata_ndarray_open(q, "r", "g", NULL, &a), STRATA_ENOTFOUND);
    strata_pool_close(q);
    /* nor, by a handle open across it, one whose region went (its files wait for gc) */
    make_grid(p, "g", NULL, 0);
    assert_true(read_fresh(f->path, NULL) == 0);
    assert_int_equal(strata_pool_open(f->path, &q), STRATA_OK);
    assert_ok(q, strata_ndarray_open(q, "r", "g", NULL, &a));
    check_grid_region(q, a, 0, 0, 40, 30);
    assert_false(st_cat_connected(st_pool_cat(q)));
    assert_ok(p, strata_region_delete(p, "r", 0));
    assert_status(q, strata_ndarray_read(a, s, c, v), STRATA_ENOTFOUND);
    strata_ndarray_close(a);
    strata_pool_close(q);
}

static void manifests_follow_migrations(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    char tape[4200], ssd[4200];
    snprintf(tape, sizeof tape, "%s/../mtape", f->path);
    snprintf(ssd, sizeof ssd, "%s/../mssd", f->path);
    assert_ok(p, strata_tier_add(p, "tape", tape, STRATA_TIER_ARCHIVE, 0, 100e6, 0.5));
    assert_ok(p, strata_tier_add(p, "ssd", ssd, STRATA_TIER_SSD, 0, 0, 0));
    make_grid(p, "g", NULL, 0);
    int connected = -1;
    if (st_cat_is_pg(st_pool_cat(p))) return; /* no manifests (see the test before) */
    assert_true(read_fresh(f->path, NULL) == 0);
    assert_int_equal(manifests(f->path), 1);
    /* to another disk tier: the manifest goes with the move, and the next one names the tier;
     * every chunk by its index range first, then the whole array, which moves nothing but where
     * its new data goes (the record alone changes: that too removes the manifest) */
    uint64_t moved = 0, damaged = 1;
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "ssd", 0, 24, &moved));
    assert_int_equal(moved, 25);
    assert_int_equal(manifests(f->path), 0);
    assert_true(read_fresh(f->path, NULL) == 0);
    assert_int_equal(manifests(f->path), 1);
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "ssd", 0, UINT64_MAX, &moved));
    assert_int_equal(moved, 0);
    assert_int_equal(manifests(f->path), 0);
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
    assert_true(read_fresh(f->path, NULL) == 0);
    assert_true(read_fresh(f->path, &connected) == 0);
    assert_int_equal(connected, 0);
    /* part of it to the archive: its readers ask the catalog (which stages), and no reader
     * tries to make a manifest again */
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "tape", 0, 4, &moved));
    assert_int_equal(manifests(f->path), 0);
    assert_true(read_fresh(f->path, NULL) == 0);
    assert_int_equal(manifests(f->path), 1);
    st_ndm *m = NULL;
    assert_int_equal(st_cat_ndm_load(st_pool_cat(p), "r", "g", &m), STRATA_ERANGE);
    assert_null(m);
    assert_true(read_fresh(f->path, &connected) == 0);
    assert_int_equal(connected, 1);
    /* back home: a usable one again */
    assert_ok(p, strata_ndarray_migrate(p, "r", "g", "default", 0, UINT64_MAX, &moved));
    assert_true(read_fresh(f->path, NULL) == 0);
    assert_int_equal(st_cat_ndm_load(st_pool_cat(p), "r", "g", &m), STRATA_OK);
    assert_int_equal(m->n, 25);
    assert_int_equal(m->chunks[0].tier_id, ST_TIER_DEFAULT_ID);
    st_ndm_free(m);
    assert_true(read_fresh(f->path, &connected) == 0);
    assert_int_equal(connected, 0);
    assert_ok(p, strata_check(p, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
}

/* Readers in this process, each on a new pool handle, while another process rewrites the whole
 * array again and again: every read is one whole version, and versions never go back. */
static void readers_see_whole_versions_while_another_process_writes(void **state)
{
    fixture *f = *state;
    make_grid(f->pool, "g", NULL, 0);
    assert_true(read_fresh(f->path, NULL) == 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        strata_pool *w;
        if (strata_pool_open(f->path, &w) != STRATA_OK) _exit(2);
        for (int k = 1; k <= 60; k++) {
            rewrite_grid(w, k);
            usleep(2000); /* room for reads by the manifest between writes */
        }
        strata_pool_close(w);
        _exit(0);
    }
    double last = 0;
    int status = 0, reads = 0, by_manifest = 0, connected = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        double got = read_fresh(f->path, &connected);
        assert_true(got >= last);
        last = got;
        reads++;
        by_manifest += !connected;
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(read_fresh(f->path, NULL) == 60);
    assert_true(reads > 0);
    /* (on PostgreSQL, none by manifest) */
    if (!st_cat_is_pg(st_pool_cat(f->pool))) assert_true(by_manifest > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reads_take_a_manifest_that_every_change_removes,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(stale_broken_or_stuck_manifests_are_found, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(manifests_follow_migrations, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(readers_see_whole_versions_while_another_process_writes,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(long_operations_report_their_progress, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(random_rectangles_match_reference, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(grows_along_unlimited_dimension, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(bad_input_is_refused, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(tiers_migrate_stage_evict, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(prefetch_and_cache, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(reads_again_from_kept_mappings, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(large_files_and_narrow_boxes, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(dataset_batches_between_tiers, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(region_summaries_match_a_naive_pass, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(region_summaries_stop_at_the_interrupt_check, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
