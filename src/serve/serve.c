#define _GNU_SOURCE 1 /* getrandom, json_stringn_nocheck */
/*
 * serve.c -- `strata serve`: the HTTP daemon (libmicrohttpd, a fixed pool of threads), the
 * token file and the connection limits, run with the options the command parsed
 * (src/cli/cmd_serve.c fills a srv_opts). Each request is handed to srv_handle (request.c) as a
 * plain srv_req.
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#ifndef STRATA_WEB_DIR
#define STRATA_WEB_DIR "web"
#endif
#ifndef STRATA_WEB_INSTALLED
#define STRATA_WEB_INSTALLED "/usr/local/share/strata/web"
#endif

/* ---- the daemon ----------------------------------------------------------------------------- */

typedef struct conn_state {
    char *body;
    size_t len;
    int too_big;
} conn_state;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    srv_stream *st = cls;
    if (pos >= st->size) return MHD_CONTENT_READER_END_OF_STREAM;
    long n = st->read(st, pos, buf, max);
    return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    srv_stream *st = cls;
    st->free(st);
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
    } else if (r->stream) {
        resp = MHD_create_response_from_callback(r->stream->size, 32 << 10, stream_read, r->stream,
                                                 stream_free);
        if (resp == NULL) r->stream->free(r->stream);
        r->stream = NULL;
        if (resp == NULL) return MHD_NO;
        MHD_add_response_header(resp, "Content-Type",
                                r->type ? r->type : "application/octet-stream");
    } else {
        resp = MHD_create_response_from_buffer(r->len, r->data ? r->data : (void *)"",
                                               r->data ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        r->data = NULL;
        MHD_add_response_header(resp, "Content-Type",
                                r->type ? r->type : "application/octet-stream");
    }
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, r->status ? r->status : 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Has the client of CONN closed its connection (or shut down its sending side)? Asked by long
 * computations between their slabs, so that work for a client that left stops. */
static int conn_gone(void *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL) return 0;
    struct pollfd p = {ci->connect_fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* The client's address of CONN as text into BUF ("" if unknown). */
static const char *conn_client(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    buf[0] = 0;
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                  buf, (socklen_t)len);
    return buf;
}

/* Collect the query arguments into the srv_req CLS. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    srv_req_add_arg(cls, key, value);
    return MHD_YES;
}

/* ---- the request deadline ------------------------------------------------------------------- */

/* libmicrohttpd's --timeout is an idle timeout: a client sending one byte a second keeps a
 * connection forever. So every connection is also watched here: from its start, and again from
 * the end of each response, it has --request-timeout seconds to deliver a whole request (headers
 * and body); the watchdog thread answers a late one 408 and shuts its socket down, which makes
 * libmicrohttpd close it. While a request is answered there is no deadline (statistics have
 * --deadline, downloads the idle timeout). */
typedef struct watch {
    struct watch *prev, *next;
    int fd;
    double due;  /* when the request must be in; 0: a request is being answered */
    int expired; /* the watchdog answered 408 */
} watch;

typedef struct watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    watch *head;
    double timeout; /* --request-timeout */
    int stop;
    pthread_t thread;
} watchdog;

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    char msg[512];
    int len =
        snprintf(msg, sizeof msg,
                 "{\"error\":{\"status\":408,\"code\":\"ETIMEDOUT\",\"message\":\"the "
                 "request did not arrive whole within %g s (strata serve --request-timeout)\"}}",
                 w->timeout);
    char head[256];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n",
                        len);
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        double now = srv_now();
        for (watch *c = w->head; c; c = c->next) {
            if (c->due == 0 || c->expired || now < c->due) continue;
            /* libmicrohttpd is not writing to it: it is still reading a request */
            c->expired = 1;
            if (send(c->fd, head, (size_t)hlen, MSG_NOSIGNAL | MSG_DONTWAIT) == hlen)
                (void)send(c->fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
            shutdown(c->fd, SHUT_RDWR);
        }
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 200 * 1000 * 1000;
        if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&w->cv, &w->mu, &t);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* A connection starts (watched from now) or closes (forgotten before its socket is closed). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    watchdog *w = cls;
    watch *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        if (c == NULL || ci == NULL) {
            free(c);
            *socket_context = NULL;
            return;
        }
        c->fd = ci->connect_fd;
        pthread_mutex_lock(&w->mu);
        c->due = srv_now() + w->timeout;
        c->next = w->head;
        if (w->head) w->head->prev = c;
        w->head = c;
        pthread_mutex_unlock(&w->mu);
        *socket_context = c;
    } else if (c) {
        pthread_mutex_lock(&w->mu);
        if (c->prev) c->prev->next = c->next;
        if (c->next) c->next->prev = c->prev;
        if (w->head == c) w->head = c->next;
        pthread_mutex_unlock(&w->mu);
        free(c);
        *socket_context = NULL;
    }
}

/* What the daemon's callbacks get. */
typedef struct daemon_ctx {
    srv *s;
    watchdog wd;
} daemon_ctx;

static watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The whole request is in: stop its clock. 0 when the watchdog expired it already. */
static int watch_answering(watchdog *w, struct MHD_Connection *conn)
{
    watch *c = watch_of(conn);
    if (c == NULL) return 1;
    pthread_mutex_lock(&w->mu);
    int ok = !c->expired;
    c->due = 0;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/* The response is sent: the next request's clock starts. */
static void watch_idle(watchdog *w, struct MHD_Connection *conn)
{
    watch *c = watch_of(conn);
    if (c == NULL) return;
    pthread_mutex_lock(&w->mu);
    c->due = srv_now() + w->timeout;
    pthread_mutex_unlock(&w->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    daemon_ctx *dc = cls;
    srv *s = dc->s;
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
    if (!watch_answering(&dc->wd, conn)) return MHD_NO;
    srv_reply r = {0};
    srv_req q = {0};
    q.method = method;
    q.url = url;
    q.body = cs->body ? cs->body : "";
    q.body_len = cs->len;
    q.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    q.auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    char client[INET_ADDRSTRLEN];
    q.client = conn_client(conn, client, sizeof client);
    q.gone = conn_gone;
    q.gone_ctx = conn;
    char path[2048];
    __atomic_add_fetch(&s->requests, 1, __ATOMIC_RELAXED);
    if (strlen(url) >= sizeof path) {
        srv_error(&r, 400, "ENAME", "the path is over %zu bytes", sizeof path - 1);
    } else if (cs->too_big) {
        srv_error(&r, 413, "ERANGE", "the request body is over %zu bytes (--max-body)",
                  s->max_body);
    } else {
        srv_handle(s, &q, strcpy(path, url), &r);
    }
    if (r.status >= 400) __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
    return send_reply(conn, &r);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    watch_idle(&((daemon_ctx *)cls)->wd, conn);
    conn_state *cs = *con_cls;
    if (cs) {
        free(cs->body);
        free(cs);
    }
    *con_cls = NULL;
}

/* ---- the token ------------------------------------------------------------------------------ */

/* Load S's token from FILE, or generate it into FILE (mode 0600) when it does not exist and
 * CREATE is set. STRATA_OK; STRATA_EIO or STRATA_EINVAL (a token too short or too long) after
 * printing why. */
static int token_load(srv *s, const char *file, int create)
{
    FILE *f = fopen(file, "r");
    if (f == NULL && errno == ENOENT && create) {
        unsigned char raw[SRV_TOKEN_LEN / 2];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
            fprintf(stderr, "strata: cannot get random bytes for the token: %s\n", strerror(errno));
            return STRATA_EIO;
        }
        for (size_t i = 0; i < sizeof raw; i++) snprintf(s->token + 2 * i, 3, "%02x", raw[i]);
        int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, s->token, strlen(s->token)) != (ssize_t)strlen(s->token) ||
            write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
            fprintf(stderr, "strata: cannot write the token file %s: %s\n", file, strerror(errno));
            if (fd >= 0) close(fd);
            return STRATA_EIO;
        }
        close(fd);
        return STRATA_OK;
    }
    if (f == NULL) {
        fprintf(stderr, "strata: cannot read the token file %s: %s\n", file, strerror(errno));
        return STRATA_EIO;
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
        return STRATA_EINVAL;
    }
    memcpy(s->token, line, strlen(line) + 1);
    return STRATA_OK;
}

/* ---- the daemon's run ----------------------------------------------------------------------- */

/* S over the pool at POOL_PATH with the options O (listening on ADDR), its token loaded; NULL after
 * printing why, with a strata status in *RC. */
static srv *serve_open(const char *pool_path, const srv_opts *o, const struct sockaddr_in *addr,
                       int *rc)
{
    srv *s = calloc(1, sizeof *s);
    if (s == NULL) {
        fprintf(stderr, "strata: %s\n", strata_strerror(STRATA_ENOMEM));
        *rc = STRATA_ENOMEM;
        return NULL;
    }
    /* one pool handle per thread, plus one for the update job */
    char err[512] = "";
    if (srv_init(s, pool_path, (int)o->threads + 1, err, sizeof err) < 0) {
        fprintf(stderr, "strata: cannot open the pool %s: %s\n", pool_path, err);
        srv_release(s);
        free(s);
        *rc = STRATA_EIO;
        return NULL;
    }
    /* the web page: --web, else the installed copy, else the source tree's */
    struct stat wst;
    snprintf(s->web, sizeof s->web, "%s",
             o->web                                                ? o->web
             : stat(STRATA_WEB_INSTALLED "/index.html", &wst) == 0 ? STRATA_WEB_INSTALLED
                                                                   : STRATA_WEB_DIR);
    s->read_only = o->read_only;
    snprintf(s->host, sizeof s->host, "%s", o->host);
    s->port = o->port;
    s->loopback = (ntohl(addr->sin_addr.s_addr) >> 24) == 127;
    snprintf(s->allow_hosts, sizeof s->allow_hosts, "%s", o->allow_host ? o->allow_host : "");
    s->max_body = (size_t)o->max_body;
    s->deadline = o->deadline;
    s->max_heavy = o->threads > 1 ? (int)o->threads - 1 : 1;
    char tf[4200];
    snprintf(tf, sizeof tf, "%s/serve.token", s->pool_path);
    *rc = token_load(s, o->token_file ? o->token_file : tf, o->token_file == NULL);
    if (*rc != STRATA_OK) {
        srv_release(s);
        free(s);
        return NULL;
    }
    return s;
}

__attribute__((visibility("default"))) srv_entry_fn strata_serve_main;

int strata_serve_main(const char *pool_path, const srv_opts *o, size_t opts_size)
{
    if (opts_size != sizeof *o) {
        fprintf(stderr,
                "strata serve: %s is of another build than the command: reinstall "
                "Strata (cmake --install), or run the command of its build tree\n",
                SRV_MODULE);
        return STRATA_EINVAL;
    }
    return srv_serve(pool_path, o);
}

int srv_serve(const char *pool_path, const srv_opts *opts)
{
    const srv_opts o = *opts;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o.port);
    if (o.port > 65535 || inet_pton(AF_INET, o.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "strata: cannot listen on %s: not an IPv4 address and port\n", o.listen);
        return STRATA_EINVAL;
    }
    int rc = STRATA_OK;
    daemon_ctx dc = {0};
    if ((dc.s = serve_open(pool_path, &o, &addr, &rc)) == NULL) return rc;
    srv *s = dc.s;
    /* SIGINT and SIGTERM are blocked in this thread before any other starts (every thread
     * inherits the mask) and taken by sigwait below: a handler setting a flag for pause() loses
     * a signal that lands on another thread, or between the flag's test and pause(). */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
    pthread_mutex_init(&dc.wd.mu, NULL);
    pthread_cond_init(&dc.wd.cv, NULL);
    dc.wd.timeout = o.request_timeout;
    int watching = pthread_create(&dc.wd.thread, NULL, watchdog_main, &dc.wd) == 0;
    struct MHD_Daemon *d =
        !watching
            ? NULL
            : MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                               on_request, &dc, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                               MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o.threads,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o.timeout,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)o.max_conn,
                               MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o.max_per_client,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 << 10),
                               MHD_OPTION_NOTIFY_CONNECTION, on_connection, &dc.wd,
                               MHD_OPTION_NOTIFY_COMPLETED, on_done, &dc, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr,
                "strata: cannot listen on %s: %s (is the port taken? try --listen %s:0 for any "
                "free port)\n",
                o.listen, strerror(errno), o.host);
        rc = STRATA_EIO;
    } else {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        if (info) __atomic_store_n(&s->port, info->port, __ATOMIC_RELAXED);
        if (!s->loopback)
            fprintf(stderr,
                    "strata serve: WARNING: %s:%u is not a loopback address: anyone who can "
                    "reach it can connect.\n"
                    "strata serve: WARNING: every request under /api, reads included, needs "
                    "'Authorization: Bearer TOKEN' (the token is in %s); the traffic is not "
                    "encrypted: use a trusted network, or a TLS proxy in front.\n",
                    o.host, s->port, o.token_file ? o.token_file : "POOL/serve.token");
        printf("listening on http://%s:%u/ (pool %s, %ld threads%s)\n", o.host,
               info ? info->port : o.port, s->pool_path, o.threads,
               o.read_only ? ", read-only" : "");
        fflush(stdout);
        int sig;
        while (sigwait(&stop_set, &sig) != 0) {
        }
        MHD_stop_daemon(d);
        pthread_mutex_lock(&s->job_mu);
        int join = s->job.joinable;
        s->job.joinable = 0;
        pthread_mutex_unlock(&s->job_mu);
        if (join) pthread_join(s->job.thread, NULL);
        fprintf(stderr, "strata serve: stopped after %" PRIu64 " requests (%" PRIu64 " errors)\n",
                s->requests, s->errors);
    }
    if (watching) {
        pthread_mutex_lock(&dc.wd.mu);
        dc.wd.stop = 1;
        pthread_cond_signal(&dc.wd.cv);
        pthread_mutex_unlock(&dc.wd.mu);
        pthread_join(dc.wd.thread, NULL);
    }
    pthread_mutex_destroy(&dc.wd.mu);
    pthread_cond_destroy(&dc.wd.cv);
    srv_release(s);
    free(s);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}
