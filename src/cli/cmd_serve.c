/*
 * cmd_serve.c -- strata serve: the command's options, checked into a srv_opts, then the server
 * (src/serve) runs with them. The server knows nothing of the command line; this file is the
 * only place where the two meet.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cli.h"
#include "serve.h"

static const char serve_usage[] =
    "usage: strata serve [-P POOL] [--listen 127.0.0.1:8470] [--token-file F] [--read-only]\n"
    "                    [--threads N] [--max-body BYTES] [--timeout S] [--request-timeout S]\n"
    "                    [--deadline S] [--max-connections N] [--max-per-client N]\n"
    "                    [--allow-host NAME,...] [--web DIR]\n"
    "Serve the pool: the web page at /, the JSON API under /api (docs/http.md). Requests that\n"
    "change the pool need 'Authorization: Bearer TOKEN'; the token is generated into\n"
    "POOL/serve.token (mode 0600) on first start unless --token-file names one. --read-only\n"
    "refuses every change. The address is loopback unless --listen says otherwise; on another\n"
    "address reads need the token too. A request's Host must name this server (the listen\n"
    "address, localhost, 127.0.0.1, or an --allow-host name), else 421.\n"
    "  --threads N            worker threads (4)\n"
    "  --max-body BYTES       largest request body (1M)\n"
    "  --timeout S            close a connection idle for S seconds (30)\n"
    "  --request-timeout S    a request must arrive whole within S seconds, else 408 (10)\n"
    "  --deadline S           statistics computed for a request stop after S seconds, 503 (30)\n"
    "  --max-connections N    connections at once (256)\n"
    "  --max-per-client N     connections at once from one client address (32)\n"
    "Stops on SIGINT or SIGTERM. Prints 'listening on http://HOST:PORT/' when ready (port 0:\n"
    "any free).\n";

/* A whole number in [LO, HI] from option NAME's TEXT (DEF when absent) into *OUT; -1 if bad. */
static int opt_long(const char *name, const char *text, long def, long lo, long hi, long *out)
{
    char *end;
    *out = text ? strtol(text, &end, 10) : def;
    if (text && (*text == 0 || *end || *out < lo || *out > hi)) {
        cli_usage_error("serve", "--%s needs a whole number from %ld to %ld", name, lo, hi);
        return -1;
    }
    return 0;
}

/* Seconds (> 0, fractions allowed) from option NAME's TEXT (DEF when absent); -1 if bad. */
static int opt_seconds(const char *name, const char *text, double def, double *out)
{
    char *end;
    *out = text ? strtod(text, &end) : def;
    if (text && (*text == 0 || *end || !(*out > 0) || *out > 1e6)) {
        cli_usage_error("serve", "--%s needs seconds > 0, such as 30 or 2.5", name);
        return -1;
    }
    return 0;
}

/* The options of `strata serve` from ARGV, checked, into *O: EXIT_OK, or EXIT_USAGE or EXIT_HELP
 * after printing why or the usage. */
static int serve_parse(int argc, char **argv, srv_opts *o)
{
    const char *threads = NULL, *max_body = NULL, *timeout = NULL, *deadline = NULL,
               *request_timeout = NULL, *max_conn = NULL, *max_per_client = NULL;
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8470";
    cli_opt opts[] = {{"listen", 0, &o->listen, NULL},
                      {"token-file", 0, &o->token_file, NULL},
                      {"read-only", 0, NULL, &o->read_only},
                      {"threads", 0, &threads, NULL},
                      {"max-body", 0, &max_body, NULL},
                      {"timeout", 0, &timeout, NULL},
                      {"request-timeout", 0, &request_timeout, NULL},
                      {"deadline", 0, &deadline, NULL},
                      {"max-connections", 0, &max_conn, NULL},
                      {"max-per-client", 0, &max_per_client, NULL},
                      {"allow-host", 0, &o->allow_host, NULL},
                      {"web", 0, &o->web, NULL},
                      {0}};
    char *pos[4];
    int npos;
    if (argc > 32) return cli_usage_error("serve", "too many arguments");
    int rc = cli_scan(argc, argv, opts, serve_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 0) return cli_usage_error("serve", "unexpected argument '%s'", pos[0]);
    /* --listen HOST:PORT */
    const char *colon = strrchr(o->listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || (size_t)(colon - o->listen) >= sizeof o->host || *(colon + 1) == 0 ||
        *end || port < 0 || port > 65535)
        return cli_usage_error("serve", "--listen needs HOST:PORT such as 127.0.0.1:8470");
    memcpy(o->host, o->listen, (size_t)(colon - o->listen));
    o->host[colon - o->listen] = 0;
    o->port = (unsigned)port;
    struct in_addr ip;
    if (inet_pton(AF_INET, o->host, &ip) != 1)
        return cli_usage_error("serve", "--listen: '%s' is not an IPv4 address", o->host);
    if (o->allow_host && strlen(o->allow_host) >= sizeof((srv *)0)->allow_hosts)
        return cli_usage_error("serve", "--allow-host: the list is too long");
    o->max_body = 1 << 20;
    if (max_body && cli_parse_bytes(max_body, &o->max_body) != 0)
        return cli_usage_error("serve", "--max-body needs a size such as 1M");
    if (opt_long("threads", threads, 4, 1, SRV_MAX_HANDLES - 1, &o->threads) < 0 ||
        opt_long("timeout", timeout, 30, 1, 86400, &o->timeout) < 0 ||
        opt_seconds("request-timeout", request_timeout, 10, &o->request_timeout) < 0 ||
        opt_seconds("deadline", deadline, 30, &o->deadline) < 0 ||
        opt_long("max-connections", max_conn, 256, 1, 65536, &o->max_conn) < 0 ||
        opt_long("max-per-client", max_per_client, 32, 1, 65536, &o->max_per_client) < 0)
        return EXIT_USAGE;
    return EXIT_OK;
}

/* The server module (SRV_MODULE): beside the command (a build tree), else in the library
 * folder of an installation (bin/../lib). NULL after printing why. */
static srv_entry_fn *serve_module(void)
{
    char exe[4096], path[4096 + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) exe[n] = '\0';
    char *slash = n > 0 ? strrchr(exe, '/') : NULL;
    void *h = NULL;
    if (slash != NULL) {
        *slash = '\0';
        snprintf(path, sizeof path, "%s/%s", exe, SRV_MODULE);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            snprintf(path, sizeof path, "%s/%s/%s", exe, STRATA_BIN_TO_LIB, SRV_MODULE);
            h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        }
    }
    if (h == NULL) {
        const char *why = dlerror();
        cli_report(STRATA_EIO, NULL,
                   "serve: cannot load the server, %s (%s): reinstall Strata (cmake --install), "
                   "or run the command of its build tree",
                   SRV_MODULE, why != NULL ? why : "not found beside the command");
        return NULL;
    }
    srv_entry_fn *fn;
    *(void **)&fn = dlsym(h, SRV_MODULE_ENTRY);
    if (fn == NULL) cli_report(STRATA_EIO, NULL, "serve: %s has no %s", path, SRV_MODULE_ENTRY);
    return fn;
}

int cmd_serve(cli *c, int argc, char **argv)
{
    srv_opts o;
    int rc = serve_parse(argc, argv, &o);
    if (rc != EXIT_OK) return rc;
    srv_entry_fn *serve = serve_module();
    if (serve == NULL) return EXIT_IO;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    return cli_exit_code(serve(strata_pool_path(c->pool), &o, sizeof o));
}
