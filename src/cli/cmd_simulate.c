/* `mainstream simulate`: the original paper's main experiment on its reference data,
 * written as PREFIX.csv and PREFIX.svg. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/path.h"
#include "cli/args.h"
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
            "  defaults: --budget 100 --stream-fps 10 --max-apps 30 --trials 1 --seed 1 --time-limit 10\n"
            "  -o, --output PREFIX   where the CSV and SVG go;  -q, -v   fewer or more log messages\n"
            "\n"
            "Example:\n"
            "  mainstream simulate --budget 100 --stream-fps 10 --max-apps 30 -o sim   # sim.csv, sim.svg\n");
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
    static const struct option opts[] = {
        {"reference", required_argument, 0, 'r'},  {"budget", required_argument, 0, 'b'},
        {"stream-fps", required_argument, 0, 's'}, {"max-apps", required_argument, 0, 'n'},
        {"trials", required_argument, 0, 't'},     {"seed", required_argument, 0, 'k'},
        {"time-limit", required_argument, 0, 'l'}, {"output", required_argument, 0, 'o'},
        {0, 0, 0, 0}};
    ms_sim_config cfg = {100, 10, 30, 1, 1, 10};
    const char *reference = NULL, *prefix = "simulate";
    char default_reference[4096];
    ms_cli c;
    int code, bad = 0;
    ms_cli_begin(&c, "simulate", usage, opts, "o:");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        switch (code) {
        case MS_CLI_EXIT: return c.exit_code;
        case 'r': reference = optarg; break;
        case 'b': bad = ms_cli_number(&c, optarg, 0, 1e12, &cfg.budget); break;
        case 's': bad = ms_cli_number(&c, optarg, 1, 1000, &cfg.stream_fps); break;
        case 'n': bad = ms_cli_int(&c, optarg, 1, 1000, &cfg.max_apps); break;
        case 't': bad = ms_cli_int(&c, optarg, 1, 10000, &cfg.trials); break;
        case 'k': bad = ms_cli_seed(&c, optarg, &cfg.seed); break;
        case 'l': bad = ms_cli_number(&c, optarg, 0.001, 1e9, &cfg.time_limit_s); break;
        case 'o': prefix = optarg; break;
        }
    }
    if (bad) return bad;
    if (optind != argc) return ms_cli_fail(&c, "unexpected argument '%s'", argv[optind]);
    if (c.n_models) return ms_cli_fail(&c, "--model: simulate reads no model (the reference data holds the costs)");
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
