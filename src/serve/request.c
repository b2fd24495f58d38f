/*
 * request.c -- one request of `strata serve`, with no HTTP library in sight: the path and its
 * segments, the query arguments, the token, the static files of the web page, the JSON error
 * replies, and the pool handles requests borrow. serve.c feeds it from libmicrohttpd; the fuzz
 * harness (tests/fuzz/fuzz_http.c) feeds it directly.
 */
#include "serve.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* ---- replies -------------------------------------------------------------------------------- */

/* Replace in S (in place) every byte that does not start or continue a valid UTF-8 sequence with
 * '?', so that a message quoting a hostile path is still a JSON string. */
static void utf8_clean(char *s)
{
    unsigned char *u = (unsigned char *)s;
    while (*u) {
        unsigned c = *u, cp;
        size_t len;
        if (c < 0x80) {
            u++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07;
        else
            len = 0, cp = 0;
        size_t i = 1;
        for (; len && i < len && (u[i] & 0xC0) == 0x80; i++) cp = (cp << 6) | (u[i] & 0x3F);
        static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (len == 0 || i < len || cp < min_cp[len] || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            *u++ = '?';
            continue;
        }
        u += len;
    }
}

void srv_error(srv_reply *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_clean(msg);
    if (r->json) json_decref(r->json);
    if (r->stream) r->stream->free(r->stream);
    r->stream = NULL;
    free(r->data);
    r->data = NULL;
    r->len = 0;
    r->status = status;
    r->json = json_pack("{s:{s:i,s:s,s:s}}", "error", "status", (int)status, "code", code,
                        "message", msg);
}

void srv_fail(srv_reply *r, strata_pool *pool, int status)
{
    unsigned http = 500;
    switch (status) {
    case STRATA_ENOTFOUND:
        http = 404;
        break;
    case STRATA_EINVAL:
    case STRATA_ETYPE:
    case STRATA_ENAME:
    case STRATA_ERANGE:
        http = 400;
        break;
    case STRATA_EEXIST:
    case STRATA_ECONFLICT:
    case STRATA_ELOCKED:
        http = 409;
        break;
    case STRATA_EPERM:
        http = 403;
        break;
    case STRATA_ESTALE:
        http = 409;
        break;
    case STRATA_EUNSUPPORTED:
        http = 501;
        break;
    default:
        break;
    }
    const char *msg = pool ? strata_errmsg(pool) : "";
    const char *code = strata_errname(status);
    if (strncmp(code, "STRATA_", 7) == 0) code += 7;
    srv_error(r, http, code, "%s", msg && *msg ? msg : strata_strerror(status));
}

/* ---- query arguments ------------------------------------------------------------------------ */

const char *srv_arg(const srv_req *q, const char *name)
{
    for (int i = 0; i < q->nargs; i++)
        if (strcmp(q->args[i].key, name) == 0) return q->args[i].value;
    return NULL;
}

void srv_req_add_arg(srv_req *q, const char *key, const char *value)
{
    if (q->nargs == SRV_MAX_ARGS) {
        q->args_over = 1;
        return;
    }
    q->args[q->nargs].key = key;
    q->args[q->nargs].value = value;
    q->nargs++;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decode %XX in S in place (a malformed escape stays as it is). */
static void percent_decode(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
}

void srv_query_parse(srv_req *q, char *query)
{
    char *save = NULL;
    for (char *t = strtok_r(query, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (eq) *eq++ = 0;
        percent_decode(t);
        if (eq) percent_decode(eq);
        srv_req_add_arg(q, t, eq);
    }
}

/* ---- long computations ---------------------------------------------------------------------- */

double srv_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int srv_heavy_take(srv *s, const char *client)
{
    if (client == NULL) client = "";
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nheavy && rc == 0; i++)
        if (strncmp(s->heavy[i], client, sizeof s->heavy[i] - 1) == 0) rc = 1;
    if (rc == 0 && (s->nheavy >= s->max_heavy || s->nheavy >= SRV_MAX_HANDLES)) rc = 2;
    if (rc == 0) snprintf(s->heavy[s->nheavy++], sizeof s->heavy[0], "%s", client);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void srv_heavy_give(srv *s, const char *client)
{
    if (client == NULL) client = "";
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nheavy; i++)
        if (strncmp(s->heavy[i], client, sizeof s->heavy[i] - 1) == 0) {
            memcpy(s->heavy[i], s->heavy[--s->nheavy], sizeof s->heavy[i]);
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

/* ---- pool handles --------------------------------------------------------------------------- */

strata_pool *srv_pool_get(srv *s)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->nhandles; i++)
            if (!s->busy[i]) {
                s->busy[i] = 1;
                pthread_mutex_unlock(&s->mu);
                return s->handles[i];
            }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

void srv_pool_put(srv *s, strata_pool *p)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nhandles; i++)
        if (s->handles[i] == p) s->busy[i] = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int srv_init(srv *s, const char *pool_path, int nhandles, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->job_mu, NULL);
    snprintf(s->pool_path, sizeof s->pool_path, "%s", pool_path);
    s->max_body = 1 << 20;
    snprintf(s->host, sizeof s->host, "127.0.0.1");
    s->loopback = 1;
    s->max_rows = 10000;
    s->max_cells = 1 << 20;
    s->max_page_text = 16 << 20;
    s->max_elements = 1 << 20;
    s->deadline = 30;
    s->max_heavy = 1;
    s->max_streams = 16;
    s->max_streams_per_client = 4;
    if (nhandles < 1 || nhandles > SRV_MAX_HANDLES) {
        snprintf(err, errlen, "%d pool handles: need 1 to %d", nhandles, SRV_MAX_HANDLES);
        return STRATA_EINVAL;
    }
    for (int i = 0; i < nhandles; i++) {
        int st = strata_pool_open_err(pool_path, &s->handles[i], err, errlen);
        if (st < 0) return st;
        s->nhandles = i + 1;
    }
    return STRATA_OK;
}

void srv_release(srv *s)
{
    for (int i = 0; i < s->nhandles; i++) strata_pool_close(s->handles[i]);
    s->nhandles = 0;
    for (int i = 0; i < SRV_MAX_STREAMS; i++) {
        strata_pool_close(s->stream_handles[i]);
        s->stream_handles[i] = NULL;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->job_mu);
}

/* ---- static files --------------------------------------------------------------------------- */

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL) return "application/octet-stream";
    if (strcmp(dot, ".html") == 0) return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0) return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0) return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0) return "image/svg+xml";
    if (strcmp(dot, ".png") == 0) return "image/png";
    return "application/octet-stream";
}

/* GET / and /static/FILE from the web directory (names of letters, digits, '-', '_', '.'). */
static void serve_file(srv *s, const srv_req *q, srv_reply *r)
{
    const char *file = q->nseg == 0 ? "index.html" : q->seg[1];
    if (q->nseg != 0 && (q->nseg != 2 || strcmp(q->seg[0], "static") != 0)) {
        srv_error(r, 404, "ENOTFOUND", "no such page; the API is under /api, the page is /");
        return;
    }
    for (const char *p = file; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.') ||
            file[0] == '.') {
            srv_error(r, 400, "ENAME", "bad file name '%s'", file);
            return;
        }
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", s->web, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        srv_error(r, 404, "ENOTFOUND", "no file '%s' in the web directory %s", file, s->web);
        return;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
        fclose(f);
        srv_error(r, 500, "EIO", "cannot read '%s'", path);
        return;
    }
    r->data = malloc((size_t)st.st_size + 1);
    r->len = r->data ? fread(r->data, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (r->data == NULL) {
        srv_error(r, 500, "ENOMEM", "out of memory for '%s'", path);
        return;
    }
    r->type = mime_of(file);
    r->status = 200;
}

/* ---- the request ---------------------------------------------------------------------------- */

/* Split PATH ("/api/datasets/taxi/trips", already percent-decoded) into Q's segments, in place.
 * "/" has none. An empty segment (a doubled or trailing '/'), ".", "..", one longer than
 * STRATA_NAME_MAX bytes, or more than the segments Q has room for: -1. */
static int url_split(char *path, srv_req *q)
{
    q->nseg = 0;
    if (path[0] != '/') return -1;
    if (path[1] == 0) return 0;
    for (char *t = path + 1;;) {
        char *slash = strchr(t, '/');
        if (slash) *slash = 0;
        if (q->nseg == SRV_MAX_SEGS) return -1;
        if (*t == 0 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0 || strlen(t) > STRATA_NAME_MAX)
            return -1;
        q->seg[q->nseg++] = t;
        if (slash == NULL) return 0;
        t = slash + 1;
    }
}

static int is_write(const srv_req *q)
{
    return strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0;
}

/* Is NAME (LEN bytes) an IPv4 address in dotted decimal? */
static int is_ipv4(const char *name, size_t len)
{
    int dots = 0, digits = 0;
    unsigned part = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (digits == 0) return 0;
            dots++, digits = 0, part = 0;
        } else if (name[i] >= '0' && name[i] <= '9' && digits < 3) {
            part = part * 10 + (unsigned)(name[i] - '0');
            if (part > 255) return 0;
            digits++;
        } else {
            return 0;
        }
    }
    return dots == 3 && digits > 0;
}

/* Does the Host header H name this server? Its port must be the bound one (80 when it has none),
 * its name the listen address, "localhost", "127.0.0.1", a name of --allow-host, or, when
 * listening on every address (0.0.0.0), any IPv4 address. A name that is none of these is a page
 * of another site reaching us by DNS rebinding (or a misdirected request). No Host (HTTP/1.0)
 * passes: browsers always send one. */
static int host_ok(const srv *s, const char *h)
{
    if (h == NULL) return 1;
    size_t len = strlen(h), name_len = len;
    const char *colon = strrchr(h, ':');
    unsigned long port = 80;
    if (colon && (h[0] != '[' || colon > strchr(h, ']'))) {
        char *end;
        if (colon[1] < '0' || colon[1] > '9') return 0;
        port = strtoul(colon + 1, &end, 10);
        if (*end) return 0;
        name_len = (size_t)(colon - h);
    }
    unsigned bound = __atomic_load_n(&s->port, __ATOMIC_RELAXED);
    if (bound && port != bound) return 0;
    if (name_len == 0) return 0;
#define NAME_IS(n) (name_len == strlen(n) && strncasecmp(h, n, name_len) == 0)
    if (NAME_IS(s->host) || NAME_IS("localhost") || NAME_IS("127.0.0.1")) return 1;
    if (strcmp(s->host, "0.0.0.0") == 0 && is_ipv4(h, name_len)) return 1;
#undef NAME_IS
    for (const char *a = s->allow_hosts; *a;) {
        size_t n = strcspn(a, ",");
        if (n == name_len && strncasecmp(a, h, n) == 0) return 1;
        a += n + (a[n] == ',');
    }
    return 0;
}

static int token_ok(srv *s, const srv_req *q)
{
    const char *h = q->auth;
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    /* constant time over the token's length */
    size_t n = strlen(s->token), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

void srv_handle(srv *s, srv_req *q, char *path, srv_reply *r)
{
    const char *method = q->method;
    if (q->url == NULL) q->url = path;
    q->started = srv_now();
    if (!host_ok(s, q->host)) {
        srv_error(r, 421, "EHOST",
                  "Host '%.100s' is not this server's address: ask http://%s:%u/ (a name of this "
                  "host is accepted with strata serve --allow-host NAME)",
                  q->host, strcmp(s->host, "0.0.0.0") ? s->host : "127.0.0.1",
                  __atomic_load_n(&s->port, __ATOMIC_RELAXED));
    } else if (url_split(path, q) < 0) {
        srv_error(r, 400, "ENAME",
                  "bad path '%.200s': segments may not be empty, '.' or '..' "
                  "and have at most %d characters",
                  q->url, STRATA_NAME_MAX);
    } else if (q->args_over) {
        srv_error(r, 400, "EINVAL", "more than %d query arguments", SRV_MAX_ARGS);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
               strcmp(method, "HEAD") != 0) {
        srv_error(r, 405, "EINVAL", "method %.20s is not allowed: use GET or POST", method);
    } else if (q->nseg == 0 || strcmp(q->seg[0], "api") != 0) {
        if (strcmp(method, "POST") == 0)
            srv_error(r, 405, "EINVAL", "POST goes to /api/...");
        else
            serve_file(s, q, r);
    } else if (is_write(q) && s->read_only) {
        srv_error(r, 403, "EPERM", "the server is read-only (--read-only): %s %.200s is refused",
                  method, q->url);
    } else if (is_write(q) && !token_ok(s, q)) {
        srv_error(r, 401, "EPERM",
                  "%s %.200s changes the pool: send 'Authorization: Bearer TOKEN' with the token "
                  "of the pool's serve.token file (or --token-file)",
                  method, q->url);
    } else if (!s->loopback && !token_ok(s, q)) {
        srv_error(r, 401, "EPERM",
                  "the server listens on %s, not on a loopback address, so reads need the token "
                  "too: send 'Authorization: Bearer TOKEN' with the token of the pool's "
                  "serve.token file (or --token-file)",
                  s->host);
    } else {
        srv_api(s, q, r);
    }
    /* every reply has a body: a handler that built none (a JSON value that could not be made)
     * is an internal error, not an empty 200 */
    if (r->json == NULL && r->data == NULL && r->stream == NULL)
        srv_error(r, 500, "EINTERNAL", "the reply to %s %.200s could not be built", method, q->url);
    if (r->status == 0) r->status = 200;
}
