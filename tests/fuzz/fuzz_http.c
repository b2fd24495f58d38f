/*
 * fuzz_http.c -- libFuzzer harness for the HTTP API of `strata serve`, in process and without
 * sockets: each input is a small HTTP request,
 *
 *     METHOD TARGET\n            TARGET: /path?query, percent-encoded as on the wire
 *     Header: value\n            Host and Authorization are used, others ignored
 *     \n
 *     BODY                       the rest, as the request body
 *
 * handed to srv_handle (src/serve/request.c), which checks the Host, the path, the method and the
 * token and dispatches to every handler of api.c, codegen.c and stream.c, over a pool the harness
 * creates once in a temporary directory: dataset taxi/trips (i64, f64 and str columns, two
 * batches), N-d array sim/field (16 x 12 f64) and application astro. Streamed bodies are read to
 * their end (at most 8 MiB). The oracle, beyond the sanitizers: every reply has exactly one body;
 * an error reply is JSON {"error":{"status","code","message"}} whose status is the reply's; no
 * reply is a 500 (an internal error or a reply that could not be built).
 *
 * Build with clang: CC=clang cmake -DSTRATA_FUZZ=ON, then
 *     tests/fuzz_http -dict=../tests/fuzz/http.dict CORPUS ../tests/fuzz/corpus/http
 * (the first directory collects new inputs; the seeds stay as they are). That instruments the
 * serve sources only; to guide the fuzzer through the library too (names, expressions, the
 * catalog), configure with -DSTRATA_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link.
 * FUZZ_HTTP_VERBOSE=1 prints each request's status and reply.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/serve.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "fuzz-token-0123456789abcdef"
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_http: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static srv the_srv;

/* ---- the pool, made once -------------------------------------------------------------------- */

static void must(strata_pool *p, int rc, const char *what)
{
    if (rc < 0 && rc != STRATA_EEXIST) {
        fprintf(stderr, "fuzz_http: %s: %s\n", what, strata_errmsg(p));
        exit(1);
    }
}

static void make_pool(const char *path)
{
    strata_pool *p;
    char err[512];
    if (strata_pool_create_err(path, &p, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_http: cannot create %s: %s\n", path, err);
        exit(1);
    }
    must(p, strata_region_create(p, "taxi"), "region");
    static const strata_column cols[] = {
        {"fare", STRATA_I64}, {"dist", STRATA_F64}, {"zone", STRATA_STR}};
    must(p, strata_dataset_create(p, "taxi", "trips", cols, 3), "dataset");
    strata_dataset *ds;
    must(p, strata_dataset_open(p, "taxi", "trips", &ds), "open");
    for (int b = 0; b < 2; b++) {
        enum { N = 100 };
        int64_t fare[N], off[N + 1];
        double dist[N];
        char bytes[N * 8];
        off[0] = 0;
        for (int i = 0; i < N; i++) {
            fare[i] = (b * N + i) * 37 % 1000;
            dist[i] = i % 7 == 3 ? 0.0 / 0.0 : i * 0.5;
            off[i + 1] = off[i] + snprintf(bytes + off[i], 8, "z%d", i % 13);
        }
        strata_batch *bt;
        must(p, strata_batch_begin(ds, &bt), "batch");
        must(p, strata_batch_append(bt, 0, fare, N), "append");
        must(p, strata_batch_append(bt, 1, dist, N), "append");
        must(p, strata_batch_append_str(bt, 2, off, bytes, N), "append");
        must(p, strata_batch_commit(bt), "commit");
    }
    must(p, strata_publish(ds, NULL), "publish");
    strata_dataset_close(ds);
    must(p, strata_region_create(p, "sim"), "region");
    uint64_t dims[2] = {16, 12}, chunk[2] = {5, 5}, start[2] = {0, 0};
    strata_ndarray *a;
    must(p, strata_ndarray_create(p, "sim", "field", STRATA_F64, 2, dims, chunk, NULL, &a), "nd");
    double v[16 * 12];
    for (int i = 0; i < 16 * 12; i++) v[i] = i / 12;
    must(p, strata_ndarray_write(a, start, dims, v), "nd write");
    strata_ndarray_close(a);
    strata_array *pa; /* a plain array, for /api/plain */
    must(p, strata_array_create(p, "sim", "counts", STRATA_I64, 50, &pa), "array");
    strata_array_close(pa);
    strata_attr_def attrs[] = {{"grid", STRATA_ATTR_INT}, {"model", STRATA_ATTR_TEXT}};
    must(p, strata_app_register(p, "astro", attrs, 2), "app");
    strata_pool_close(p);
}

static char dir[4096]; /* the run's pool and web folder */

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* At the run's end (libFuzzer exits when its time is up): DIR removed. */
static void remove_dir(void)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz_http.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("fuzz_http: mkdtemp");
        exit(1);
    }
    atexit(remove_dir);
    char pool[4200], web[4200], index[4300];
    snprintf(pool, sizeof pool, "%s/pool", dir);
    snprintf(web, sizeof web, "%s/web", dir);
    snprintf(index, sizeof index, "%s/index.html", web);
    make_pool(pool);
    mkdir(web, 0700);
    FILE *f = fopen(index, "w");
    if (f) {
        fputs("<html>fuzz</html>\n", f);
        fclose(f);
    }
    char err[512];
    if (srv_init(&the_srv, pool, 2, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        exit(1);
    }
    snprintf(the_srv.web, sizeof the_srv.web, "%s", web);
    snprintf(the_srv.token, sizeof the_srv.token, "%s", TOKEN);
    the_srv.port = 8470;
    the_srv.deadline = 2;
    fprintf(stderr, "fuzz_http: pool %s\n", pool);
    return 0;
}

/* ---- one request ---------------------------------------------------------------------------- */

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decode S in place, as libmicrohttpd does with the path. */
static void unescape(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hex(p[1]) >= 0 && hex(p[2]) >= 0) {
            *w++ = (char)(hex(p[1]) * 16 + hex(p[2]));
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
}

/* Check a reply, read its stream, and free it. */
static void check_reply(srv_reply *r)
{
    CHECK(r->status >= 200 && r->status <= 599);
    CHECK((r->json != NULL) + (r->data != NULL) + (r->stream != NULL) == 1);
    if (r->json) {
        char *text = json_dumps(r->json, JSON_COMPACT);
        CHECK(text != NULL);
        free(text);
        json_t *e = json_object_get(r->json, "error");
        if (r->status >= 400) {
            CHECK(json_is_object(e));
            CHECK(json_integer_value(json_object_get(e, "status")) == (json_int_t)r->status);
            CHECK(json_is_string(json_object_get(e, "code")));
            const char *msg = json_string_value(json_object_get(e, "message"));
            CHECK(msg != NULL && *msg);
            if (r->status >= 500 && r->status != 501 && r->status != 503) {
                fprintf(stderr, "fuzz_http: status %u: %s\n", r->status, msg);
                abort();
            }
        }
        json_decref(r->json);
    }
    if (r->stream) {
        static char buf[1 << 16];
        uint64_t pos = 0, size = r->stream->size, limit = size < (8 << 20) ? size : (8 << 20);
        size_t max = 1;
        while (pos < limit) {
            long n = r->stream->read(r->stream, pos, buf, max);
            if (n < 0) break;
            CHECK(n > 0 && (size_t)n <= max);
            pos += (uint64_t)n;
            max = max * 3 % sizeof buf + 1; /* every size of read, small and large */
        }
        r->stream->free(r->stream);
    }
    free(r->data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = 0;
    /* the request line */
    char *line_end = strchr(in, '\n');
    if (line_end) *line_end = 0;
    char *sp = strchr(in, ' ');
    char *method = in, *target = sp ? sp + 1 : (char *)"/";
    if (sp) *sp = 0;
    /* the headers, up to an empty line; the body after it, of the input's remaining bytes */
    const char *host = NULL, *auth = NULL, *body = "";
    size_t body_len = 0;
    char *h = line_end ? line_end + 1 : NULL;
    while (h && *h && *h != '\n') {
        char *e = strchr(h, '\n');
        if (e) *e = 0;
        if (strncasecmp(h, "Host: ", 6) == 0) host = h + 6;
        if (strncasecmp(h, "Authorization: ", 15) == 0) auth = h + 15;
        h = e ? e + 1 : NULL;
    }
    if (h && *h == '\n') {
        body = h + 1;
        body_len = size - (size_t)(body - in);
    }
    /* the target: path and query */
    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    char *path = strdup(target), *url = strdup(target);
    unescape(path);
    unescape(url);
    srv_req q = {0};
    q.method = method;
    q.url = url;
    q.host = host;
    q.auth = auth;
    q.client = "fuzz";
    q.body = body;
    q.body_len = body_len;
    if (query) srv_query_parse(&q, query);
    srv_reply r = {0};
    if (strlen(path) < 2048) {
        srv_handle(&the_srv, &q, path, &r);
        if (getenv("FUZZ_HTTP_VERBOSE")) { /* to see what the seeds reach */
            char *text = r.json ? json_dumps(r.json, JSON_COMPACT) : NULL;
            fprintf(stderr, "%u %s %s: %.160s\n", r.status, method, q.url,
                    text       ? text
                    : r.stream ? "(stream)"
                               : "(data)");
            free(text);
        }
        check_reply(&r);
    }
    /* an update job runs in its own thread: wait for it, so that inputs do not overlap */
    pthread_mutex_lock(&the_srv.job_mu);
    int join = the_srv.job.joinable;
    the_srv.job.joinable = 0;
    pthread_mutex_unlock(&the_srv.job_mu);
    if (join) pthread_join(the_srv.job.thread, NULL);
    free(path);
    free(url);
    free(in);
    return 0;
}
