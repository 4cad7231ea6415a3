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
#include "cli/commands.h"
#include "cli/data_args.h"
#include "formats/model.h"
#include "graph/cut.h"

typedef struct {
    const char *models[MS_MAX_MODEL_FILES];
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
            "usage: mainstream profile --model FILE... [--backend ref|cpu]\n"
            "                          [--precision fp32|int8] [--batch N] [--threads T]\n"
            "                          [--runs R] [--warmup W] [--json] [-o profile.json]\n"
            "\n"
            "Times the network and each segment between consecutive chokepoints (the last one\n"
            "runs to the network's end; the segments run back to back, each on the previous\n"
            "one's output in the backend's own layout, as in the network): W warm-up passes,\n"
            "then the median of R passes, reported as milliseconds per frame (per batch / N).\n"
            "Several model files are chained into one network. Defaults: cpu, fp32, batch 1,\n"
            "1 thread, 20 runs, 3 warm-up runs.\n"
            "\n"
            "  --json      print the profile as JSON on stdout\n"
            "  -o FILE     write the JSON profile to FILE (atomically)\n");
}

static bool parse_int(const char *s, int lo, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > INT_MAX) return false;
    *out = (int)v;
    return true;
}

/* Returns 0 when parsed, 2 on a usage error (already reported), -1 for --help. */
static int parse(int argc, char **argv, profile_args *a)
{
    *a = (profile_args){.backend = "cpu", .precision = MS_PREC_FP32, .batch = 1, .threads = 1, .runs = 20, .warmup = 3};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(o, "--json") && strcmp(o, "--help") && strcmp(o, "-h");
        if (takes && !v) {
            fprintf(stderr, "mainstream profile: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return -1;
        if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        }
        if (!strcmp(o, "--model")) {
            if (ms_model_args(argc, argv, &i, a->models, &a->n_models, MS_MAX_MODEL_FILES) < 0) return 2;
            continue;
        }
        i++;
        bool ok = true;
        if (!strcmp(o, "--backend")) {
            a->backend = v;
        } else if (!strcmp(o, "--precision")) {
            ok = !strcmp(v, "fp32") || !strcmp(v, "int8");
            a->precision = !strcmp(v, "int8") ? MS_PREC_INT8 : MS_PREC_FP32;
        } else if (!strcmp(o, "--batch")) {
            ok = parse_int(v, 1, &a->batch);
        } else if (!strcmp(o, "--threads")) {
            ok = parse_int(v, 1, &a->threads);
        } else if (!strcmp(o, "--runs")) {
            ok = parse_int(v, 1, &a->runs);
        } else if (!strcmp(o, "--warmup")) {
            ok = parse_int(v, 0, &a->warmup);
        } else if (!strcmp(o, "-o")) {
            a->out = v;
        } else {
            fprintf(stderr, "mainstream profile: unknown option '%s'\n", o);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "mainstream profile: bad value '%s' for %s\n", v, o);
            return 2;
        }
    }
    if (!a->n_models) {
        fprintf(stderr, "mainstream profile: --model FILE is required\n");
        return 2;
    }
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
    cJSON_AddStringToObject(root, "precision", a->precision == MS_PREC_INT8 ? "int8" : "fp32");
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
           a->precision == MS_PREC_INT8 ? "int8" : "fp32", a->batch, a->threads, a->threads > 1 ? "s" : "", a->runs);
    printf("%-10s %10s %7s\n", "segment", "ms", "share");
    for (int i = 0; i < n; i++)
        printf("%3d -> %-3d %10.3f %6.1f%%\n", seg[i].from, seg[i].to, seg[i].ms, sum > 0 ? 100 * seg[i].ms / sum : 0.0);
    printf("%-10s %10.3f\n%-10s %10.3f (%+.1f%% of the network)\n", "network", net_ms, "segments", sum,
           net_ms > 0 ? 100 * (sum - net_ms) / net_ms : 0.0);
}

int cmd_profile(int argc, char **argv)
{
    profile_args a;
    int rc = parse(argc, argv, &a);
    if (rc < 0) {
        usage(stdout);
        return 0;
    }
    if (rc) {
        usage(stderr);
        return rc;
    }
    const ms_backend *b = ms_backend_find(a.backend);
    if (!b) {
        fprintf(stderr, "mainstream profile: unknown backend '%s' (ref, cpu)\n", a.backend);
        return 2;
    }
    ms_error err;
    ms_graph *g = NULL;
    segment_time *seg = NULL;
    int n = 0;
    double net_ms = 0;
    ms_status st = ms_model_load(a.models, a.n_models, &g, &err);
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
