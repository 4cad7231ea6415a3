/* The shared command-line parsing of every command (see args.h). */
#include "cli/args.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

void ms_cli_begin(ms_cli *c, const char *cmd, void (*usage)(FILE *), const struct option *opts, const char *shortopts)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->usage = usage;
    int n = 0;
    for (; opts && opts[n].name; n++) {
        assert(n < MS_CLI_MAX_OPTIONS);
        c->opts[n] = opts[n];
    }
    c->opts[n++] = (struct option){"help", no_argument, NULL, MS_CLI_HELP};
    c->opts[n++] = (struct option){"quiet", no_argument, NULL, MS_CLI_QUIET};
    c->opts[n++] = (struct option){"verbose", no_argument, NULL, MS_CLI_VERBOSE};
    c->opts[n++] = (struct option){"model", required_argument, NULL, MS_CLI_MODEL};
    c->opts[n] = (struct option){0, 0, 0, 0};
    /* ':' first: a missing value is reported as ':', not '?' */
    snprintf(c->shortopts, sizeof c->shortopts, ":hqv%s", shortopts ? shortopts : "");
    optind = 1;
    opterr = 0;
}

int ms_cli_fail(ms_cli *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->standalone) fprintf(stderr, "%s: %s (see %s --help)\n", c->cmd, msg, c->cmd);
    else fprintf(stderr, "mainstream %s: %s (see mainstream help %s)\n", c->cmd, msg, c->cmd);
    c->exit_code = 2;
    return 2;
}

/* "--name" of the option getopt_long just returned, for messages. */
static void name_option(ms_cli *c, int code, int index)
{
    if (index >= 0 && c->opts[index].name) snprintf(c->opt, sizeof c->opt, "--%s", c->opts[index].name);
    else snprintf(c->opt, sizeof c->opt, "-%c", code);
}

/* A long option getopt_long refused: unknown, ambiguous (naming the candidates), or given a
 * value it does not take. */
static void bad_long_option(ms_cli *c, const char *arg)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    char found[512] = "";
    int matches = 0;
    for (const struct option *o = c->opts; o->name; o++) {
        if (strncmp(o->name, name, len)) continue;
        if (strlen(o->name) == len) {
            ms_cli_fail(c, "--%s takes no value ('%s')", o->name, arg);
            return;
        }
        size_t used = strlen(found);
        snprintf(found + used, sizeof found - used, "%s--%s", matches++ ? ", " : "", o->name);
    }
    if (matches > 1) ms_cli_fail(c, "ambiguous option '%.*s' (%s)", (int)len + 2, arg, found);
    else ms_cli_fail(c, "unknown option '%.*s'", (int)len + 2, arg);
}

int ms_cli_next(ms_cli *c, int argc, char **argv)
{
    for (;;) {
        int index = -1;
        int code = getopt_long(argc, argv, c->shortopts, c->opts, &index);
        if (code == -1) return MS_CLI_DONE;
        if (code == '?' || code == ':') {
            const char *arg = argv[optind - 1];
            if (code == ':') ms_cli_fail(c, "%s needs a value", arg);
            else if (arg[0] == '-' && arg[1] == '-') bad_long_option(c, arg);
            else ms_cli_fail(c, "unknown option '-%c'", optopt);
            return MS_CLI_EXIT;
        }
        name_option(c, code, index);
        switch (code) {
        case 'h':
        case MS_CLI_HELP:
            c->usage(stdout);
            c->exit_code = 0;
            return MS_CLI_EXIT;
        case 'q':
        case MS_CLI_QUIET: ms_log_set_level(MS_LOG_WARN); continue;
        case 'v':
        case MS_CLI_VERBOSE: ms_log_set_level(MS_LOG_DEBUG); continue;
        case MS_CLI_MODEL:
            if (c->n_models == MS_CLI_MAX_MODELS) {
                ms_cli_fail(c, "at most %d --model files", MS_CLI_MAX_MODELS);
                return MS_CLI_EXIT;
            }
            if (!optarg[0]) {
                ms_cli_fail(c, "--model needs a file");
                return MS_CLI_EXIT;
            }
            c->models[c->n_models++] = optarg;
            continue;
        default: return code;
        }
    }
}

int ms_cli_int(ms_cli *c, const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return ms_cli_fail(c, "%s: '%s' is not a whole number in [%ld, %ld]", c->opt, v, lo, hi);
    *out = (int)x;
    return 0;
}

int ms_cli_number(ms_cli *c, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return ms_cli_fail(c, "%s: '%s' is not a number in [%g, %g]", c->opt, v, lo, hi);
    *out = x;
    return 0;
}

int ms_cli_seed(ms_cli *c, const char *v, uint64_t *out)
{
    double x = 0;
    int bad = ms_cli_number(c, v, 0, 9007199254740992.0, &x);
    if (bad) return bad;
    if (x != (double)(uint64_t)x) return ms_cli_fail(c, "%s: '%s' is not a whole number", c->opt, v);
    *out = (uint64_t)x;
    return 0;
}

int ms_cli_backend(ms_cli *c, const char *v, const char **out)
{
    static const char *const names[] = {"ref", "cpu", "dnnl", "cuda"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcmp(v, names[i])) {
            *out = v;
            return 0;
        }
    }
    return ms_cli_fail(c, "%s: unknown backend '%s' (ref, cpu, cuda)", c->opt, v);
}

int ms_cli_precision(ms_cli *c, const char *v, ms_precision *out)
{
    if (!strcmp(v, "fp32")) *out = MS_PREC_FP32;
    else if (!strcmp(v, "int8")) *out = MS_PREC_INT8;
    else if (!strcmp(v, "fp16")) *out = MS_PREC_FP16;
    else return ms_cli_fail(c, "%s: '%s' is not fp32, int8 or fp16", c->opt, v);
    return 0;
}
