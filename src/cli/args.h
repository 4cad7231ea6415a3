/* One command-line style for every command: getopt_long (--opt=value, --opt value,
 * unambiguous prefixes, options and arguments in any order), plus the options every
 * command shares, handled here once:
 *   -h, --help       the command's help on stdout, exit 0 (also `mainstream help CMD`)
 *   -q, --quiet      log warnings and errors only;  -v, --verbose  log debug messages too
 *   --model FILE     a model file, repeatable: several are chained in order
 * A usage error prints "mainstream CMD: what is wrong (see mainstream help CMD)" and the
 * command exits 2, before anything is loaded. Benchmarks that take a command's options
 * (bench/train_cache.c) use the same parser, as standalone programs. */
#ifndef MS_CLI_ARGS_H
#define MS_CLI_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"

#define MS_CLI_MAX_MODELS 8
#define MS_CLI_MAX_OPTIONS 64

enum {
    MS_CLI_DONE = -1, /* no more options: the arguments are argv[optind..argc) */
    MS_CLI_EXIT = -2, /* the command returns c->exit_code now (help printed, or a usage error) */
    MS_CLI_MODEL = 0x1000,
    MS_CLI_HELP,
    MS_CLI_QUIET,
    MS_CLI_VERBOSE,
};

typedef struct {
    const char *cmd;             /* "classify", for messages */
    bool standalone;             /* cmd is a program of its own (a benchmark), not a mainstream command */
    void (*usage)(FILE *out);
    const char *models[MS_CLI_MAX_MODELS];
    int n_models;
    int exit_code;               /* with MS_CLI_EXIT: 0 after --help, 2 after a usage error */
    char opt[64];                /* the option being handled, as "--threads", for messages */
    struct option opts[MS_CLI_MAX_OPTIONS + 5];
    char shortopts[2 * MS_CLI_MAX_OPTIONS + 8];
} ms_cli;

/* Starts parsing a command: opts are its own long options ({0}-terminated; values are
 * what ms_cli_next returns: a character for those with a short form listed in
 * shortopts, e.g. "o:", else any value below MS_CLI_MODEL). */
void ms_cli_begin(ms_cli *c, const char *cmd, void (*usage)(FILE *), const struct option *opts,
                  const char *shortopts);

/* The next of the command's own options (optarg holds its value), MS_CLI_DONE, or
 * MS_CLI_EXIT. */
int ms_cli_next(ms_cli *c, int argc, char **argv);

/* Prints a usage error for the command and returns 2 (sets c->exit_code); a standalone
 * program's reads "PROG: what is wrong (see PROG --help)". */
int ms_cli_fail(ms_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value of the current option as a whole number or a number in [lo, hi]; 0 when
 * it is one, else the usage error's 2. */
int ms_cli_int(ms_cli *c, const char *v, long lo, long hi, int *out);
int ms_cli_number(ms_cli *c, const char *v, double lo, double hi, double *out);

/* A random seed: a whole number in [0, 2^53]. 0, or the usage error's 2. */
int ms_cli_seed(ms_cli *c, const char *v, uint64_t *out);

/* A backend's name (ref, cpu or dnnl, cuda), checked by name only: nothing is loaded
 * until the command looks the backend up. 0, or the usage error's 2. */
int ms_cli_backend(ms_cli *c, const char *v, const char **out);

/* fp32, int8 or fp16 (the backends say which they run). 0, or the usage error's 2. */
int ms_cli_precision(ms_cli *c, const char *v, ms_precision *out);

#endif
