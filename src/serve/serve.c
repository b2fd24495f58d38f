#define _GNU_SOURCE 1 /* getrandom, json_stringn_nocheck */
/*
 * serve.c -- `strata serve`: the HTTP daemon (libmicrohttpd, a fixed pool of threads), the
 * bearer token, request limits, static files of the web page, and the JSON error replies.
 */
#include "serve/serve.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "cli/cli.h"

#ifndef STRATA_WEB_DIR
#define STRATA_WEB_DIR "web"
#endif
#ifndef STRATA_WEB_INSTALLED
#define STRATA_WEB_INSTALLED "/usr/local/share/strata/web"
#endif

/* ---- replies -------------------------------------------------------------------------------- */

void srv_error(srv_reply *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->json) json_decref(r->json);
    free(r->data);
    r->data = NULL;
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

const char *srv_arg(const srv_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
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
    if (fstat(fileno(f), &st) != 0 || st.st_size > (64 << 20)) {
        fclose(f);
        srv_error(r, 500, "EIO", "cannot read '%s'", path);
        return;
    }
    r->data = malloc((size_t)st.st_size + 1);
    r->len = r->data ? fread(r->data, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    r->type = mime_of(file);
    r->status = 200;
}

/* ---- the daemon ----------------------------------------------------------------------------- */

typedef struct conn_state {
    char *body;
    size_t len;
    int too_big;
} conn_state;

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
        if (q->nseg == (int)(sizeof q->seg / sizeof q->seg[0])) return -1;
        if (*t == 0 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0 || strlen(t) > STRATA_NAME_MAX)
            return -1;
        q->seg[q->nseg++] = t;
        if (slash == NULL) return 0;
        t = slash + 1;
    }
}

static int needs_token(const srv_req *q)
{
    return strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0;
}

static int token_ok(srv *s, const srv_req *q)
{
    const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    /* constant time over the token's length */
    size_t n = strlen(s->token), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, srv_reply *r)
{
    struct MHD_Response *resp;
    if (r->json) {
        char *text = json_dumps(r->json, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(r->json);
        r->json = NULL;
        if (text == NULL)
            text = strdup("{\"error\":{\"status\":500,\"message\":\"out of memory\"}}");
        size_t n = strlen(text);
        resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/json");
    } else {
        resp = MHD_create_response_from_buffer(r->len, r->data ? r->data : (void *)"",
                                               r->data ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        r->data = NULL;
        MHD_add_response_header(resp, "Content-Type",
                                r->type ? r->type : "application/octet-stream");
    }
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, r->status ? r->status : 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    conn_state *cs = *con_cls;
    if (cs == NULL) {
        cs = calloc(1, sizeof *cs);
        if (cs == NULL) return MHD_NO;
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (cs->len + *upload_size > s->max_body) {
            cs->too_big = 1;
        } else if (!cs->too_big) {
            char *b = realloc(cs->body, cs->len + *upload_size + 1);
            if (b == NULL) {
                cs->too_big = 1;
            } else {
                cs->body = b;
                memcpy(cs->body + cs->len, upload, *upload_size);
                cs->len += *upload_size;
                cs->body[cs->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    srv_reply r = {0};
    srv_req q = {0};
    q.method = method;
    q.conn = conn;
    q.body = cs->body ? cs->body : "";
    q.body_len = cs->len;
    char path[2048];
    __atomic_add_fetch(&s->requests, 1, __ATOMIC_RELAXED);
    if (strlen(url) >= sizeof path || url_split(strcpy(path, url), &q) < 0) {
        srv_error(&r, 400, "ENAME",
                  "bad path '%.200s': segments may not be empty, '.' or '..' "
                  "and have at most %d characters",
                  url, STRATA_NAME_MAX);
    } else if (cs->too_big) {
        srv_error(&r, 413, "ERANGE", "the request body is over %zu bytes (--max-body)",
                  s->max_body);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
               strcmp(method, "HEAD") != 0) {
        srv_error(&r, 405, "EINVAL", "method %s is not allowed: use GET or POST", method);
    } else if (q.nseg == 0 || strcmp(q.seg[0], "api") != 0) {
        if (strcmp(method, "POST") == 0)
            srv_error(&r, 405, "EINVAL", "POST goes to /api/...");
        else
            serve_file(s, &q, &r);
    } else if (needs_token(&q) && s->read_only) {
        srv_error(&r, 403, "EPERM", "the server is read-only (--read-only): %s %s is refused",
                  method, url);
    } else if (needs_token(&q) && !token_ok(s, &q)) {
        srv_error(&r, 401, "EPERM",
                  "%s %s changes the pool: send 'Authorization: Bearer TOKEN' with the token "
                  "of the pool's serve.token file (or --token-file)",
                  method, url);
    } else {
        srv_api(s, &q, &r);
    }
    if (r.status >= 400) __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
    return send_reply(conn, &r);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *cs = *con_cls;
    if (cs) {
        free(cs->body);
        free(cs);
    }
    *con_cls = NULL;
}

/* ---- the token ------------------------------------------------------------------------------ */

static int token_load(srv *s, const char *file, int create)
{
    FILE *f = fopen(file, "r");
    if (f == NULL && errno == ENOENT && create) {
        unsigned char raw[SRV_TOKEN_LEN / 2];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
            fprintf(stderr, "strata: cannot get random bytes for the token: %s\n", strerror(errno));
            return EXIT_IO;
        }
        for (size_t i = 0; i < sizeof raw; i++) snprintf(s->token + 2 * i, 3, "%02x", raw[i]);
        int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, s->token, strlen(s->token)) != (ssize_t)strlen(s->token) ||
            write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
            fprintf(stderr, "strata: cannot write the token file %s: %s\n", file, strerror(errno));
            if (fd >= 0) close(fd);
            return EXIT_IO;
        }
        close(fd);
        return EXIT_OK;
    }
    if (f == NULL) {
        fprintf(stderr, "strata: cannot read the token file %s: %s\n", file, strerror(errno));
        return EXIT_IO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "strata: warning: token file %s is readable by others (chmod 600 it)\n",
                file);
    char line[256] = "";
    if (fgets(line, sizeof line, f) == NULL) line[0] = 0;
    fclose(f);
    line[strcspn(line, "\r\n \t")] = 0;
    if (strlen(line) < 16 || strlen(line) > SRV_TOKEN_LEN) {
        fprintf(stderr, "strata: token file %s: the token must have 16 to %d characters\n", file,
                SRV_TOKEN_LEN);
        return EXIT_BADINPUT;
    }
    memcpy(s->token, line, strlen(line) + 1);
    return EXIT_OK;
}

/* ---- the command ---------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char serve_usage[] =
    "usage: strata serve [-P POOL] [--listen 127.0.0.1:8470] [--token-file F] [--read-only]\n"
    "                    [--threads N] [--max-body BYTES] [--timeout S] [--web DIR]\n"
    "Serve the pool: the web page at /, the JSON API under /api (docs/http.md). Requests that\n"
    "change the pool need 'Authorization: Bearer TOKEN'; the token is generated into\n"
    "POOL/serve.token (mode 0600) on first start unless --token-file names one. --read-only\n"
    "refuses every change. The address is loopback unless --listen says otherwise. Stops on\n"
    "SIGINT or SIGTERM. Prints 'listening on http://HOST:PORT/' when ready (port 0: any free).\n";

static void srv_destroy(srv *s)
{
    for (int i = 0; i < s->nhandles; i++) strata_pool_close(s->handles[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->job_mu);
}

int cmd_serve(cli *c, int argc, char **argv)
{
    const char *listen = "127.0.0.1:8470", *token_file = NULL, *threads = NULL, *max_body = NULL,
               *timeout = NULL, *web = NULL;
    int read_only = 0;
    cli_opt opts[] = {{"listen", 0, &listen, NULL},
                      {"token-file", 0, &token_file, NULL},
                      {"read-only", 0, NULL, &read_only},
                      {"threads", 0, &threads, NULL},
                      {"max-body", 0, &max_body, NULL},
                      {"timeout", 0, &timeout, NULL},
                      {"web", 0, &web, NULL},
                      {0}};
    char *pos[4];
    int npos;
    if (argc > 32) return cli_usage_error("serve", "too many arguments");
    int rc = cli_scan(argc, argv, opts, serve_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 0) return cli_usage_error("serve", "unexpected argument '%s'", pos[0]);
    /* --listen HOST:PORT */
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host || *(colon + 1) == 0 || *end ||
        port < 0 || port > 65535)
        return cli_usage_error("serve", "--listen needs HOST:PORT such as 127.0.0.1:8470");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return cli_usage_error("serve", "--listen: '%s' is not an IPv4 address", host);
    long nthreads = threads ? strtol(threads, &end, 10) : 4;
    if (threads && (*end || nthreads < 1 || nthreads > SRV_MAX_HANDLES))
        return cli_usage_error("serve", "--threads needs 1 to %d", SRV_MAX_HANDLES);
    uint64_t body = 1 << 20;
    if (max_body && parse_bytes(max_body, &body) != 0)
        return cli_usage_error("serve", "--max-body needs a size such as 1M");
    long tmo = timeout ? strtol(timeout, &end, 10) : 30;
    if (timeout && (*end || tmo < 1))
        return cli_usage_error("serve", "--timeout needs seconds >= 1");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;

    srv *s = calloc(1, sizeof *s);
    if (s == NULL) return cli_fail(c, STRATA_ENOMEM);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->job_mu, NULL);
    snprintf(s->pool_path, sizeof s->pool_path, "%s", strata_pool_path(c->pool));
    /* the web page: --web, else the installed copy, else the source tree's */
    struct stat wst;
    snprintf(s->web, sizeof s->web, "%s",
             web                                                   ? web
             : stat(STRATA_WEB_INSTALLED "/index.html", &wst) == 0 ? STRATA_WEB_INSTALLED
                                                                   : STRATA_WEB_DIR);
    s->read_only = read_only;
    s->max_body = (size_t)body;
    s->max_rows = 10000;
    s->max_elements = 1 << 20;
    char tf[4200];
    snprintf(tf, sizeof tf, "%s/serve.token", s->pool_path);
    rc = token_load(s, token_file ? token_file : tf, token_file == NULL);
    /* one pool handle per thread, plus one for the update job */
    s->nhandles = (int)nthreads + 1;
    for (int i = 0; rc == EXIT_OK && i < s->nhandles; i++) {
        int st = strata_pool_open(s->pool_path, &s->handles[i]);
        if (st < 0) {
            fprintf(stderr, "strata: cannot open the pool %s: %s\n", s->pool_path,
                    strata_strerror(st));
            s->nhandles = i;
            rc = EXIT_IO;
        }
    }
    if (rc != EXIT_OK) {
        srv_destroy(s);
        free(s);
        return rc;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)nthreads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)tmo,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)64, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 << 10),
        MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr,
                "strata: cannot listen on %s: %s (is the port taken? try --listen %s:0 for any "
                "free port)\n",
                listen, strerror(errno), host);
        srv_destroy(s);
        free(s);
        return EXIT_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://%s:%u/ (pool %s, %ld threads%s)\n", host,
           info ? info->port : (unsigned)port, s->pool_path, nthreads,
           read_only ? ", read-only" : "");
    fflush(stdout);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_flag) pause();
    MHD_stop_daemon(d);
    pthread_mutex_lock(&s->job_mu);
    int join = s->job.joinable;
    s->job.joinable = 0;
    pthread_mutex_unlock(&s->job_mu);
    if (join) pthread_join(s->job.thread, NULL);
    fprintf(stderr, "strata serve: stopped after %" PRIu64 " requests (%" PRIu64 " errors)\n",
            s->requests, s->errors);
    srv_destroy(s);
    free(s);
    return EXIT_OK;
}
