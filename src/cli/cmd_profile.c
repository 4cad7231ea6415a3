/* `mainstream profile`: measures what the scheduler's cost model needs, the milliseconds
 * per frame of the whole network and of every unit (the segments between consecutive
 * chokepoints and an app's head at the last), on a given backend, precision, batch size
 * and thread count. The measurement and the file are cost/profile.h's, which the runner
 * uses too. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cost/profile.h"
#include "formats/model.h"

typedef struct {
    const char *models[MS_CLI_MAX_MODELS];
    int n_models;
    const char *backend;
    ms_precision precision;
    int batch, threads, runs, warmup;
    bool json;
    const char *out;
} profile_args;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream profile --model FILE [--model FILE]... [--backend ref|cpu|cuda]\n"
            "                          [--precision fp32|int8|fp16] [--batch N] [--threads T]\n"
            "                          [--runs R] [--warmup W] [--json] [-o profile.json]\n"
            "\n"
            "Times the network and each unit of the scheduler's cost model: the segments between\n"
            "consecutive chokepoints, then an app's own head at the last chokepoint (the units\n"
            "run back to back, each on the previous one's output in the backend's own layout,\n"
            "as the runner's stem tree runs them): W warm-up passes, then the median of R\n"
            "passes, reported as milliseconds per frame (per batch / N).\n"
            "Several model files are chained into one network. Defaults: cpu, fp32, batch 1,\n"
            "1 thread, 20 runs, 3 warm-up runs. One thread by default because a profile must be\n"
            "measured at the thread count the deployment will run with (its \"threads\", 1 by\n"
            "default); give --threads T to profile a deployment of T threads.\n"
            "\n"
            "  --json          print the profile as JSON on stdout\n"
            "  -o, --output F  write the JSON profile to F (atomically)\n"
            "  -q, -v          fewer or more log messages\n"
            "\n"
            "Example:\n"
            "  mainstream profile --model $MAINSTREAM_DATA/models/mobilenet_v1_0.25_128_quant.tflite \\\n"
            "      --threads 2 -o profile.json\n");
}

/* Returns 0 when parsed, else the exit status: 0 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, profile_args *a, bool *done)
{
    static const struct option opts[] = {
        {"backend", required_argument, NULL, 'b'}, {"precision", required_argument, NULL, 'p'},
        {"batch", required_argument, NULL, 'n'},   {"threads", required_argument, NULL, 't'},
        {"runs", required_argument, NULL, 'r'},    {"warmup", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},          {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    *a = (profile_args){.backend = "cpu", .precision = MS_PREC_FP32, .batch = 1, .threads = 1,
                        .runs = MS_PROFILE_TIMING_DEFAULT.runs, .warmup = MS_PROFILE_TIMING_DEFAULT.warmup};
    *done = true;
    ms_cli c;
    int code, bad = 0;
    ms_cli_begin(&c, "profile", usage, opts, "o:");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        switch (code) {
        case MS_CLI_EXIT: return c.exit_code;
        case 'b':
            bad = ms_cli_backend(&c, optarg, &a->backend);
            break;
        case 'p': bad = ms_cli_precision(&c, optarg, &a->precision); break;
        case 'n': bad = ms_cli_int(&c, optarg, 1, 4096, &a->batch); break;
        case 't': bad = ms_cli_int(&c, optarg, 1, 1024, &a->threads); break;
        case 'r': bad = ms_cli_int(&c, optarg, 1, 1000000, &a->runs); break;
        case 'w': bad = ms_cli_int(&c, optarg, 0, 1000000, &a->warmup); break;
        case 'j': a->json = true; break;
        case 'o': a->out = optarg; break;
        }
    }
    if (bad) return bad;
    if (optind < argc) return ms_cli_fail(&c, "unexpected argument '%s' (give each model file its own --model)", argv[optind]);
    if (!c.n_models) return ms_cli_fail(&c, "--model FILE is required");
    memcpy(a->models, c.models, sizeof *a->models * (size_t)c.n_models);
    a->n_models = c.n_models;
    *done = false;
    return 0;
}

static void print_table(const profile_args *a, const ms_profile *p)
{
    double sum = 0;
    for (int i = 0; i < p->n_units; i++) sum += p->unit_ms[i];
    printf("backend %s, %s, batch %d, %d thread%s (median of %d runs, ms per frame)\n", p->backend,
           ms_precision_name(a->precision), a->batch, a->threads, a->threads > 1 ? "s" : "", a->runs);
    printf("%-10s %10s %7s\n", "unit", "ms", "share");
    for (int i = 0; i < p->n_units; i++) {
        char name[32];
        if (i + 1 < p->n_units) snprintf(name, sizeof name, "%3d -> %d", i, i + 1);
        else snprintf(name, sizeof name, "head @ %d", i);
        printf("%-10s %10.3f %6.1f%%\n", name, p->unit_ms[i], sum > 0 ? 100 * p->unit_ms[i] / sum : 0.0);
    }
    printf("%-10s %10.3f\n%-10s %10.3f (%+.1f%% of the network)\n", "network", p->network_ms, "units", sum,
           p->network_ms > 0 ? 100 * (sum - p->network_ms) / p->network_ms : 0.0);
}

int cmd_profile(int argc, char **argv)
{
    profile_args a;
    bool done;
    int rc = parse(argc, argv, &a, &done);
    if (done) return rc;
    const ms_backend *b = NULL;
    ms_error err;
    ms_graph *g = NULL;
    ms_profile p = {0};
    ms_plan_options o = {.batch = a.batch, .threads = a.threads, .precision = a.precision};
    ms_status st = ms_backend_get(a.backend, &b, &err);
    if (!st) st = ms_model_load(a.models, a.n_models, &g, &err);
    if (!st) st = ms_profile_measure(g, b, &o, (ms_profile_timing){.warmup = a.warmup, .runs = a.runs}, &p, &err);
    if (!st && a.out) st = ms_profile_save(a.out, &p, true, &err);
    if (!st && a.json) st = ms_profile_save("-", &p, false, &err);
    if (!st && !a.json) print_table(&a, &p);
    ms_profile_free(&p);
    ms_graph_free(g);
    if (st) {
        fprintf(stderr, "mainstream profile: %s\n", err.msg);
        return 1;
    }
    return 0;
}
