/*
 * cli.h -- shared pieces of the strata command: option scanning, pool opening, exit codes,
 * value parsing and printing, JSON output. The command uses only the public API (strata.h).
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "strata.h"

/* B bytes for people: "512 B", "48.0 MB" (powers of 1000) into OUT of LEN bytes. Tables print
 * these; --json prints the raw count. */
void cli_human_bytes(double b, char *out, size_t len);

/* A byte count with an optional K, M, G or T suffix (powers of 1024) into *OUT; -1 if bad. */
int cli_parse_bytes(const char *s, uint64_t *out);

/* Exit codes (docs/cli.md). */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_NOTFOUND = 2,
    EXIT_BADINPUT = 3,
    EXIT_CONFLICT = 4,
    EXIT_IO = 5,
    EXIT_HELP = 100 /* internal: help was printed, exit 0 */
};

typedef struct cli {
    const char *pool_path;
    int json;   /* --json: one JSON document on stdout */
    int ndjson; /* --ndjson: one JSON object per line (cat, log, check, watch); json set too */
    int threads;
    strata_pool *pool;
    int progress; /* a progress line on the terminal (stderr is one, no --json) */
} cli;

/* Draw W on the progress line when C has one (cli_open_pool() also gives the pool's long
 * operations to it); clear that line (before any other output to the terminal). */
void cli_progress(cli *c, const strata_work *w);
void cli_progress_clear(void);

/* One option of a command: "--name" (and an optional one-letter alias). A flag sets *flag;
 * an option with an argument stores it in *value; with neither, the flag is accepted and
 * stored nowhere (CLI_OPT_JSON). */
typedef struct cli_opt {
    const char *name;
    char short_name;
    const char **value;
    int *flag;
} cli_opt;

/* "--json" in the options of a command that has JSON output: main() has already set c->json
 * from the whole command line, so the scan only has to accept it. Commands without JSON output
 * leave it out, and the scan refuses it as an unknown option. */
#define CLI_OPT_JSON                                                                               \
    {                                                                                              \
        "json", 0, NULL, NULL                                                                      \
    }
/* "--ndjson", accepted likewise by the commands that stream (cat, log, check, watch). */
#define CLI_OPT_NDJSON                                                                             \
    {                                                                                              \
        "ndjson", 0, NULL, NULL                                                                    \
    }

/* Scan ARGV[1..ARGC): known options are consumed; everything else (including negative numbers
 * such as -8 and anything after "--") goes to POS in order. Returns EXIT_OK, EXIT_USAGE after
 * printing the problem, or EXIT_HELP after printing USAGE to stdout. POS has room for ARGC. */
int cli_scan(int argc, char **argv, const cli_opt *opts, const char *usage, char **pos, int *npos,
             int stop_at_dashdash_positional);

/* A usage error's status for cli_report() (no library status: code "EUSAGE", exit 1). */
#define CLI_EUSAGE 1

/* Report a failure: "strata: MESSAGE" and the HINT line (may be NULL) on stderr, or with
 * --json one JSON document there, {"error":{"code":"ENOTFOUND","message":...,"hint":...,
 * "exit":2}}. STATUS: a library status, or CLI_EUSAGE. Returns the exit code for it. */
int cli_report(int status, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Errors as JSON from now on (main(), when --json is on the command line). */
void cli_set_json_errors(int on);

/* The one of the N names CANDS closest to WORD (a typo of one or two edits, or the start of only
 * one of them), or NULL. */
const char *cli_closest(const char *word, const char *const *cands, size_t n);

/* Print "strata: MESSAGE" and "try 'strata CMD --help'" (as cli_report()); return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report a failed library call: print strata_errmsg() (or strata_strerror) to stderr and return
 * the exit code for STATUS. With STRATA_DEBUG set, the message ends with cli_errwhere(). */
int cli_fail(cli *c, int status);

/* " (at src/store/batch.c:412)" when STRATA_DEBUG is set and the library (a debug build) knows
 * where the last failure on C's pool was detected (strata_errwhere); else "". Valid until the
 * next call. */
const char *cli_errwhere(cli *c);

/* The exit code for a library status. */
int cli_exit_code(int status);

/* Open the pool of C (c->pool); on failure print why and return an exit code. */
int cli_open_pool(cli *c);

/* MPI for a command that shares its work across processes: *M started (strata_mpi_open) when
 * the command runs under an MPI launcher (OMPI_COMM_WORLD_SIZE or PMI_SIZE above 1) or FORCE
 * is set, and OFF is not; else NULL. On failure print why and return an exit code. */
int cli_mpi_start(int force, int off, strata_mpi **m);

/* Threads per process when several share a machine and none were asked for: the processors
 * over the processes on this node (OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS), at least 1. */
int cli_mpi_threads(const cli *c);

/* REGION of C's open pool, created when missing (as ingest creates it): a library status. */
int cli_ensure_region(cli *c, const char *region);

/* Split "REGION/NAME" into its parts (pointers into BUF, of 2*STRATA_NAME_MAX+2 bytes). */
int cli_split(const char *cmd, const char *arg, char *buf, size_t buflen, const char **region,
              const char **name);

/* Parse an unsigned decimal integer; returns 0 on success. */
int cli_parse_u64(const char *s, uint64_t *out);

/* The shortest decimal that reads back as V (F32: as the float V), into BUF of CLI_REAL_MAX
 * bytes: 21.1, not 21.100000000000001; "nan", "inf", "-inf" for the others (strata_real_format()).
 */
#define CLI_REAL_MAX STRATA_REAL_FORMAT_MAX
const char *cli_fmt_real(char *buf, double v, int f32);
/* Print V so (JSON: null for NaN and infinities). */
void cli_print_real(FILE *f, double v, int f32, int json);

/* Print one element of DTYPE at P (JSON style when JSON: null for NaN and infinities; floats in
 * their shortest round-trip form). */
void cli_print_value(FILE *f, strata_dtype dtype, const void *p, int json);

/* A strata_name_fn that prints names one per line, or as JSON array items when JSON is set.
 * Use with a zeroed cli_names. */
typedef struct cli_names {
    int json, n;
} cli_names;
int cli_print_name(void *names, const char *name);

/* Print S as a JSON string (with quotes). */
void cli_json_str(FILE *f, const char *s);
/* As cli_json_str() for the N bytes at S, which may hold NUL bytes (written as \u0000). */
void cli_json_strn(FILE *f, const char *s, size_t n);

/* Command entry points: ARGV[0] is the command's own name. */
int cmd_region(cli *c, int argc, char **argv);
/* 'strata __complete [--commands | WORD]' for the shell completions; COMMANDS: the NCOMMANDS
 * command names. */
int cmd_complete(cli *c, const char *const *commands, int ncommands, int argc, char **argv);
int cmd_app(cli *c, int argc, char **argv);
int cmd_runs(cli *c, int argc, char **argv);
int cmd_find(cli *c, int argc, char **argv);
int cmd_explain(cli *c, int argc, char **argv);
int cmd_tool(cli *c, int argc, char **argv);
int cmd_serve(cli *c, int argc, char **argv);
int cmd_array(cli *c, int argc, char **argv);
int cmd_backup(cli *c, int argc, char **argv);
int cmd_ingest(cli *c, int argc, char **argv);
int cmd_ls(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_cat(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_check(cli *c, int argc, char **argv);
int cmd_gc(cli *c, int argc, char **argv);
int cmd_drop(cli *c, int argc, char **argv);
int cmd_demo(cli *c, int argc, char **argv);
int cmd_derive(cli *c, int argc, char **argv);
int cmd_column(cli *c, int argc, char **argv);
int cmd_update(cli *c, int argc, char **argv);
int cmd_auto(cli *c, int argc, char **argv);
int cmd_watch(cli *c, int argc, char **argv);
int cmd_lineage(cli *c, int argc, char **argv);
int cmd_nd(cli *c, int argc, char **argv);
int cmd_tier(cli *c, int argc, char **argv);
int cmd_migrate(cli *c, int argc, char **argv);
int cmd_stage(cli *c, int argc, char **argv);

/* Print the lineage around REGION/NAME (text, JSON array, or Graphviz when DOT); returns the
 * number of objects printed or a negative status. */
int cli_lineage(cli *c, const char *region, const char *name, int dot);

#endif /* STRATA_CLI_H */
