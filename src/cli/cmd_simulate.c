/* `mainstream simulate`: the original paper's main experiment on its reference data,
 * written as PREFIX.csv and PREFIX.svg. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/path.h"
#include "cli/commands.h"
#include "sched/simulate.h"

#define DEFAULT_REFERENCE "reference/mobilenet_apps.json" /* under the data folder */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream simulate [--reference FILE] [--budget B] [--stream-fps S]\n"
            "                           [--max-apps N] [--trials T] [--seed K] [--time-limit SEC]\n"
            "                           [-o PREFIX]\n"
            "  mean event F1 against 1..N apps for mainstream, maxsharing and nosharing, in the\n"
            "  default and compat models; writes PREFIX.csv and PREFIX.svg (default 'simulate').\n"
            "  --reference defaults to $MAINSTREAM_DATA/" DEFAULT_REFERENCE "\n"
            "  (MAINSTREAM_DATA unset: the build's data folder, ../shared/data beside the sources).\n"
            "  defaults: --budget 100 --stream-fps 10 --max-apps 30 --trials 1 --seed 1 --time-limit 10\n");
}

static int parse_number(const char *opt, const char *text, double min, double *out)
{
    char *end;
    *out = strtod(text, &end);
    if (*end || !(*out >= min)) {
        fprintf(stderr, "mainstream simulate: %s: expected a number >= %g, got '%s'\n", opt, min, text);
        return -1;
    }
    return 0;
}

static ms_status write_outputs(const char *prefix, const ms_sim_row *rows, const ms_sim_config *cfg,
                               ms_error *err)
{
    size_t len = strlen(prefix) + 5;
    char *path = malloc(len);
    if (!path) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    ms_atomic_file f;
    ms_status st;
    snprintf(path, len, "%s.csv", prefix);
    if (!(st = ms_atomic_open(&f, path, err))) {
        ms_simulate_write_csv(f.fp, rows, cfg->max_apps);
        st = ms_atomic_commit(&f, err);
    }
    snprintf(path, len, "%s.svg", prefix);
    if (!st && !(st = ms_atomic_open(&f, path, err))) {
        ms_simulate_write_svg(f.fp, rows, cfg->max_apps, cfg);
        st = ms_atomic_commit(&f, err);
    }
    free(path);
    return st;
}

int cmd_simulate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"reference", required_argument, 0, 'r'}, {"budget", required_argument, 0, 'b'},
        {"stream-fps", required_argument, 0, 's'}, {"max-apps", required_argument, 0, 'n'},
        {"trials", required_argument, 0, 't'},    {"seed", required_argument, 0, 'k'},
        {"time-limit", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ms_sim_config cfg = {100, 10, 30, 1, 1, 10};
    const char *reference = NULL, *prefix = "simulate";
    char default_reference[4096];
    double v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': reference = optarg; break;
        case 'b':
            if (parse_number("--budget", optarg, 0, &cfg.budget)) return 2;
            break;
        case 's':
            if (parse_number("--stream-fps", optarg, 1, &cfg.stream_fps)) return 2;
            break;
        case 'n':
            if (parse_number("--max-apps", optarg, 1, &v)) return 2;
            if (v > 1000) {
                fprintf(stderr, "mainstream simulate: --max-apps: at most 1000\n");
                return 2;
            }
            cfg.max_apps = (int)v;
            break;
        case 't':
            if (parse_number("--trials", optarg, 1, &v)) return 2;
            if (v > 10000) {
                fprintf(stderr, "mainstream simulate: --trials: at most 10000\n");
                return 2;
            }
            cfg.trials = (int)v;
            break;
        case 'k':
            if (parse_number("--seed", optarg, 0, &v)) return 2;
            cfg.seed = (uint64_t)v;
            break;
        case 'l':
            if (parse_number("--time-limit", optarg, 0.001, &cfg.time_limit_s)) return 2;
            break;
        case 'o': prefix = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!reference) {
        snprintf(default_reference, sizeof default_reference, "%s/%s", ms_data_dir(), DEFAULT_REFERENCE);
        reference = default_reference;
    }
    if (access(reference, R_OK) != 0) {
        fprintf(stderr,
                "mainstream simulate: reference data %s not found: set MAINSTREAM_DATA to the shared "
                "data folder, or give --reference FILE\n",
                reference);
        return 1;
    }
    ms_error err;
    ms_reference ref;
    if (ms_reference_load(reference, &ref, &err)) {
        fprintf(stderr, "mainstream simulate: %s\n", err.msg);
        return 1;
    }
    ms_sim_row *rows = calloc((size_t)cfg.max_apps, sizeof *rows);
    int rc = 1;
    if (!rows) {
        fprintf(stderr, "mainstream simulate: out of memory\n");
    } else if (ms_simulate(&ref, &cfg, rows, &err) || write_outputs(prefix, rows, &cfg, &err)) {
        fprintf(stderr, "mainstream simulate: %s\n", err.msg);
    } else {
        ms_simulate_write_csv(stdout, rows, cfg.max_apps);
        rc = 0;
    }
    free(rows);
    ms_reference_free(&ref);
    return rc;
}
