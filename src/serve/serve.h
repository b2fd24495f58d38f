/*
 * serve.h -- `strata serve`: an HTTP JSON API and a web page over a pool (libmicrohttpd and
 * jansson). Uses only the public API (strata.h); each request borrows one of a fixed set of pool
 * handles, so requests run concurrently without sharing a handle.
 */
#ifndef STRATA_SERVE_H
#define STRATA_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "strata.h"

#define SRV_MAX_HANDLES 64
#define SRV_TOKEN_LEN   64
#define SRV_MAX_STREAMS 64
/* Bytes a download (stream.c) holds in memory at once. */
#define SRV_STREAM_BUF ((size_t)1 << 20)

/* The one background job (an update started by POST /api/update). */
typedef struct srv_job {
    int64_t id;
    int running;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    int full;
    /* progress */
    char object[STRATA_NAME_MAX + 1], mode[16];
    uint64_t done, total, rows;
    double seconds;
    /* result */
    int status;
    char message[512];
    strata_update_stats stats;
    pthread_t thread;
    int joinable;
} srv_job;

typedef struct srv {
    char pool_path[4096];
    char web[4096];
    char token[SRV_TOKEN_LEN + 1];
    int read_only;
    /* where it listens, for the Host check: a request's Host must name this server */
    char host[64];          /* the --listen address */
    unsigned port;          /* the bound port; 0: any (no port check) */
    int loopback;           /* a loopback address: reads need no token */
    char allow_hosts[1024]; /* --allow-host: more names, comma-separated */
    size_t max_body;
    unsigned max_rows;     /* most rows of one page */
    uint64_t max_cells;    /* most rows x columns of one page */
    size_t max_page_text;  /* most bytes of strings on one page */
    uint64_t max_elements; /* most elements of one JSON array region */
    /* borrowed pool handles */
    strata_pool *handles[SRV_MAX_HANDLES];
    int busy[SRV_MAX_HANDLES];
    int nhandles;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* statistics computed in a request: their deadline, and who is computing (at most
     * max_heavy at once, one per client address) */
    double deadline;
    int max_heavy, nheavy;
    char heavy[SRV_MAX_HANDLES][64];
    /* downloads (stream.c): their own pool handles, opened on first use */
    int max_streams, max_streams_per_client;
    strata_pool *stream_handles[SRV_MAX_STREAMS];
    int stream_busy[SRV_MAX_STREAMS];
    char stream_client[SRV_MAX_STREAMS][64];
    /* the update job */
    srv_job job;
    pthread_mutex_t job_mu;
    /* counters */
    uint64_t requests, errors;
} srv;

/* A body sent as the client reads it (stream.c). */
typedef struct srv_stream {
    uint64_t size; /* bytes of the body */
    /* Copy up to MAX bytes of the body from POS (< size; called with POS in order) into OUT:
     * the count (> 0), or -1 on an error, which closes the connection short of SIZE. */
    long (*read)(struct srv_stream *st, uint64_t pos, char *out, size_t max);
    void (*free)(struct srv_stream *st); /* called once, sent or not */
} srv_stream;

/* A reply: status and body. Handlers fill it. */
typedef struct srv_reply {
    unsigned status;
    json_t *json;       /* a JSON body, or */
    void *data;         /* a binary body (malloc'ed), or */
    srv_stream *stream; /* a streamed one */
    size_t len;
    const char *type;     /* content type of DATA */
    unsigned retry_after; /* seconds, for a Retry-After header; 0: none */
} srv_reply;

/* One query argument, percent-decoded; VALUE is NULL for "?key" without '='. */
typedef struct srv_kv {
    const char *key, *value;
} srv_kv;

#define SRV_MAX_SEGS 10
#define SRV_MAX_ARGS 32

/* A request, as the HTTP layer (serve.c, or the fuzz harness) hands it over: nothing in it
 * depends on libmicrohttpd. Strings belong to the caller and live until the reply is built. */
typedef struct srv_req {
    const char *method;
    const char *url;         /* the decoded path, for messages */
    char *seg[SRV_MAX_SEGS]; /* the path's segments (filled by srv_handle) */
    int nseg;
    srv_kv args[SRV_MAX_ARGS]; /* the query arguments, in order */
    int nargs;
    int args_over;      /* more arguments came than ARGS has room for */
    const char *host;   /* the Host header, or NULL */
    const char *auth;   /* the Authorization header, or NULL */
    const char *client; /* the client's address, for per-address limits */
    const char *body;
    size_t body_len;
    double started; /* CLOCK_MONOTONIC seconds when srv_handle took it */
    /* has the client closed its connection? NULL: it cannot tell */
    int (*gone)(void *ctx);
    void *gone_ctx;
} srv_req;

/* Set R to an error: STATUS, a short CODE and a message for people. */
void srv_error(srv_reply *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set R to the pool's last error for STATUS (a negative strata status). */
void srv_fail(srv_reply *r, strata_pool *pool, int status);
/* The first query argument NAME, or NULL. */
const char *srv_arg(const srv_req *q, const char *name);
/* Add argument KEY=VALUE to Q (sets args_over when Q is full). */
void srv_req_add_arg(srv_req *q, const char *key, const char *value);
/* Split QUERY ("a=1&b=x%20y", modified in place) into Q's arguments, percent-decoding keys and
 * values as libmicrohttpd does. For callers that have the raw query (the fuzz harness). */
void srv_query_parse(srv_req *q, char *query);

/* What the server is asked for: the strata command (src/cli/cmd_serve.c) fills it from its
 * options, checked, and passes it to srv_serve; the server knows nothing of the command line.
 * There is no zero default: every number must be set (the command's defaults are in its
 * usage text and docs/cli.md). Strings belong to the caller and live until srv_serve returns. */
typedef struct srv_opts {
    const char *listen;     /* "HOST:PORT" as given, for messages */
    char host[64];          /* the IPv4 address to listen on, dotted */
    unsigned port;          /* the port; 0: any free one */
    const char *token_file; /* NULL: POOL/serve.token, generated on first start */
    const char *web;        /* the web page's folder; NULL: the installed one, else the source's */
    const char *allow_host; /* more names a request's Host may give, comma-separated, or NULL */
    int read_only;          /* refuse every change */
    long threads;           /* worker threads, 1 to SRV_MAX_HANDLES - 1 */
    long timeout;           /* seconds before an idle connection is closed */
    long max_conn;          /* connections at once */
    long max_per_client;    /* connections at once from one client address */
    uint64_t max_body;      /* bytes of the largest request body */
    double deadline;        /* seconds a statistic computed for a request may take */
    double request_timeout; /* seconds a request has to arrive whole */
} srv_opts;

/* Serve the pool at POOL_PATH with the options O until SIGINT or SIGTERM: print "listening on
 * http://HOST:PORT/ ..." to stdout when ready and a summary to stderr when stopped. Returns
 * STRATA_OK after a clean stop, or a negative strata status after printing why to stderr
 * (STRATA_EIO: the pool, the token file or the address; STRATA_EINVAL: a bad token or address;
 * STRATA_ENOMEM). Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it
 * starts) and waits for them with sigwait; the mask is restored on return. */
int srv_serve(const char *pool_path, const srv_opts *o);

/* The server is a module of its own, libstrata_serve.so, which `strata serve` loads (the rest of
 * the command never loads libmicrohttpd and the TLS libraries it needs): its one exported
 * function, found by this name, is srv_serve behind a check that caller and module agree on
 * srv_opts (OPTS_SIZE: the caller's sizeof(srv_opts); STRATA_EINVAL when they differ). */
#define SRV_MODULE       "libstrata_serve.so"
#define SRV_MODULE_ENTRY "strata_serve_main"
typedef int srv_entry_fn(const char *pool_path, const srv_opts *o, size_t opts_size);

/* Open S over the pool at POOL_PATH with NHANDLES pool handles (one per worker thread, plus one
 * for the update job) and the default limits; the caller then sets token, read_only and the
 * limits it wants. On failure, a message in ERR (ERRLEN bytes) and a strata status. Release
 * with srv_release, also after a failure. */
int srv_init(srv *s, const char *pool_path, int nhandles, char *err, size_t errlen);
void srv_release(srv *s);

/* Answer request Q: check the path (PATH, the decoded path, is split in place), the method, the
 * token, then serve the page or the API into R. R always ends with a status and a body. */
void srv_handle(srv *s, srv_req *q, char *path, srv_reply *r);

/* Seconds of CLOCK_MONOTONIC. */
double srv_now(void);

/* Take a slot for a long computation for CLIENT: 0, or 1 when CLIENT already has one, 2 when all
 * max_heavy are taken. Give it back with srv_heavy_give. */
int srv_heavy_take(srv *s, const char *client);
void srv_heavy_give(srv *s, const char *client);

/* Borrow and return a pool handle. */
strata_pool *srv_pool_get(srv *s);
void srv_pool_put(srv *s, strata_pool *p);

/* The API: fill R for request Q (GET or POST under /api). */
void srv_api(srv *s, const srv_req *q, srv_reply *r);

/* ---- downloads (stream.c) -------------------------------------------------------------------- */

/* Set R to stream column COL of REGION/NAME at VERSION (raw, or NPY when NPY), or to why not
 * (503 when Q's client or the server has too many downloads running). */
void srv_stream_column(srv *s, const srv_req *q, const char *region, const char *name,
                       int64_t version, int col, int npy, srv_reply *r);
/* Set R to stream the columns COLS[NCOLS] (NULL: all) of REGION/NAME at VERSION as a Parquet
 * file (or an Arrow IPC file when ARROW), written by the library's export into a scratch file
 * of $TMPDIR (unlinked at once), or to why not. */
void srv_stream_export(srv *s, const srv_req *q, const char *region, const char *name,
                       int64_t version, const int *cols, int ncols, int arrow, srv_reply *r);
/* Set R to stream the region START + COUNT (checked, every count >= 1) of N-d array REGION/NAME
 * of NDIMS dimensions, raw in C order; the connection is closed short when the array is written
 * while a region of several slabs is sent. */
void srv_stream_region(srv *s, const srv_req *q, const char *region, const char *name, int ndims,
                       const uint64_t *start, const uint64_t *count, srv_reply *r);

/* ---- code snippets (codegen.c) -------------------------------------------------------------- */

/* A growing NUL-terminated text; OOM is set (and the text left as it was) when memory ran out.
 * Zero-initialise; free(b.p) when done. */
typedef struct srv_buf {
    char *p;
    size_t len, cap;
    int oom;
} srv_buf;
void srv_buf_put(srv_buf *b, const char *s, size_t n);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append S as a literal of one language, whatever bytes it holds:
 *   srv_quote_c:  a C string literal; '\', '"', '\n', '\t' escaped, '?' as "\?" (no trigraph
 *                 can form), every other byte outside printable ASCII as a three-digit octal
 *                 escape, so the literal is ASCII and holds exactly S's bytes;
 *   srv_quote_sh: one shell word: S itself when it has only [A-Za-z0-9_./:=@%+,-], else '...' with
 *                 each ' as '\'', else (control characters, bytes that are not UTF-8) $'...';
 *   srv_quote_py: a Python str literal ('...', ASCII: non-ASCII as \u/\U escapes, and a byte
 *                 that is not UTF-8 as the \udcXX os.fsdecode() gives it). */
void srv_quote_c(srv_buf *b, const char *s);
void srv_quote_sh(srv_buf *b, const char *s);
void srv_quote_py(srv_buf *b, const char *s);

/* GET /api/codegen/REGION/NAME?lang=c|shell|python[&column=C][&start=..&count=..]: a snippet
 * that reads the dataset (or its column), the array or N-d array (or a region of it), or loads
 * an MDMS iteration (codegen.c). */
void srv_codegen(const srv_req *q, strata_pool *p, const char *region, const char *name,
                 srv_reply *r);

#endif /* STRATA_SERVE_H */
