/* `mainstream profile`: measures what the scheduler's cost model needs, the milliseconds
 * per frame of the whole network and of every segment between consecutive chokepoints,
 * on a given backend, precision, batch size and thread count. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/plan_time.h"
#include "base/json.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "formats/model.h"
#include "graph/cut.h"

typedef struct {
    const char *models[MS_CLI_MAX_MODELS];
    int n_models;
    const char *backend;
    ms_precision precision;
    int batch, threads, runs, warmup;
    bool json;
    const char *out;
} profile_args;

typedef struct {
    int from, to;
    double ms; /* per frame */
} segment_time;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream profile --model FILE [--model FILE]... [--backend ref|cpu|cuda]\n"
            "                          [--precision fp32|int8|fp16] [--batch N] [--threads T]\n"
            "                          [--runs R] [--warmup W] [--json] [-o profile.json]\n"
            "\n"
            "Times the network and each segment between consecutive chokepoints (the last one\n"
            "runs to the network's end; the segments run back to back, each on the previous\n"
            "one's output in the backend's own layout, as in the network): W warm-up passes,\n"
            "then the median of R passes, reported as milliseconds per frame (per batch / N).\n"
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
    *a = (profile_args){.backend = "cpu", .precision = MS_PREC_FP32, .batch = 1, .threads = 1, .runs = 20, .warmup = 3};
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

/* Compiles the network and its segments between consecutive chokepoints (the last
 * running to the network's end), then times them together (ms_plan_time_chain): ms per
 * frame of the whole network and of every segment. */
static ms_status profile(const ms_backend *b, const ms_graph *g, const profile_args *a, double *net_ms,
                         segment_time **out, int *n_out, ms_error *err)
{
    ms_plan_options o = {.batch = a->batch, .threads = a->threads, .precision = a->precision};
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_status st = ms_graph_chokepoints(g, &cps, &n, err);
    if (st) return st;
    segment_time *seg = calloc((size_t)n + 1, sizeof *seg);
    ms_plan **plans = calloc((size_t)n + 1, sizeof *plans);
    double *ms = calloc((size_t)n + 1, sizeof *ms);
    ms_plan *whole = NULL;
    if (!seg || !plans || !ms) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory profiling segments");
    if (!st) st = ms_plan_compile(b, g, &o, &whole, err);
    /* The segments pass activations in the backend's layout, as one network would hold
     * them: only the first reads plain floats and only the last writes them. */
    int last = -1;
    for (int i = 0; i < n; i++)
        if (cps[i].node_end < (i + 1 < n ? cps[i + 1].node_end : g->n_nodes)) last = i;
    const ms_plan *prev = NULL;
    for (int i = 0; !st && i < n; i++) {
        int begin = cps[i].node_end, end = i + 1 < n ? cps[i + 1].node_end : g->n_nodes;
        seg[i].from = i;
        seg[i].to = i + 1;
        if (begin >= end) continue; /* an empty segment costs nothing */
        ms_graph *s = NULL;
        ms_plan_options so = o;
        so.input_from = prev;
        so.native_output = i != last;
        st = ms_graph_segment(g, begin, end, &s, err);
        if (!st) st = ms_plan_compile(b, s, &so, &plans[i], err);
        ms_graph_free(s);
        prev = plans[i];
    }
    double whole_ms = 0;
    if (!st) st = ms_plan_time_chain(whole, plans, n, a->warmup, a->runs, &whole_ms, ms, err);
    for (int i = 0; !st && i < n; i++) seg[i].ms = ms[i] / a->batch;
    *net_ms = whole_ms / a->batch;
    for (int i = 0; plans && i < n; i++) ms_plan_free(plans[i]);
    ms_plan_free(whole);
    free(plans);
    free(ms);
    free(cps);
    if (st) {
        free(seg);
        return st;
    }
    *out = seg;
    *n_out = n;
    return MS_OK;
}

static cJSON *profile_json(const ms_graph *g, const profile_args *a, double net_ms, const segment_time *seg, int n)
{
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", g->fingerprint[i]);
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (!root || !arr) {
        cJSON_Delete(root);
        cJSON_Delete(arr);
        return NULL;
    }
    cJSON_AddStringToObject(root, "backend", a->backend);
    cJSON_AddStringToObject(root, "precision", ms_precision_name(a->precision));
    cJSON_AddNumberToObject(root, "batch", a->batch);
    cJSON_AddNumberToObject(root, "threads", a->threads);
    ms_json_add_version(root, 1);
    cJSON_AddStringToObject(root, "model_fingerprint", hex);
    cJSON_AddNumberToObject(root, "network_ms", net_ms);
    cJSON_AddItemToObject(root, "segments", arr);
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        if (!s) break;
        cJSON_AddNumberToObject(s, "from", seg[i].from);
        cJSON_AddNumberToObject(s, "to", seg[i].to);
        cJSON_AddNumberToObject(s, "ms", seg[i].ms);
        cJSON_AddItemToArray(arr, s);
    }
    if (cJSON_GetArraySize(arr) != n) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static void print_table(const profile_args *a, double net_ms, const segment_time *seg, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += seg[i].ms;
    printf("backend %s, %s, batch %d, %d thread%s (median of %d runs, ms per frame)\n", a->backend,
           ms_precision_name(a->precision), a->batch, a->threads, a->threads > 1 ? "s" : "", a->runs);
    printf("%-10s %10s %7s\n", "segment", "ms", "share");
    for (int i = 0; i < n; i++)
        printf("%3d -> %-3d %10.3f %6.1f%%\n", seg[i].from, seg[i].to, seg[i].ms, sum > 0 ? 100 * seg[i].ms / sum : 0.0);
    printf("%-10s %10.3f\n%-10s %10.3f (%+.1f%% of the network)\n", "network", net_ms, "segments", sum,
           net_ms > 0 ? 100 * (sum - net_ms) / net_ms : 0.0);
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
    segment_time *seg = NULL;
    int n = 0;
    double net_ms = 0;
    ms_status st = ms_backend_get(a.backend, &b, &err);
    if (!st) st = ms_model_load(a.models, a.n_models, &g, &err);
    if (!st) st = profile(b, g, &a, &net_ms, &seg, &n, &err);
    if (!st && (a.json || a.out)) {
        cJSON *root = profile_json(g, &a, net_ms, seg, n);
        if (!root) st = ms_errorf(&err, MS_ERR_NOMEM, "out of memory building the profile");
        if (!st && a.out) st = ms_json_write(a.out, root, true, &err);
        if (!st && a.json) st = ms_json_write("-", root, false, &err);
        cJSON_Delete(root);
    }
    if (!st && !a.json) print_table(&a, net_ms, seg, n);
    free(seg);
    ms_graph_free(g);
    if (st) {
        fprintf(stderr, "mainstream profile: %s\n", err.msg);
        return 1;
    }
    return 0;
}
