/* Times our backends on real models for bench/run_backend.sh: for every model, precision,
 * batch size and thread count asked for, compiles a plan and prints one line
 *   ours <model> <precision> <batch> <threads> <median ms per frame> <fastest run's ms per frame>
 * (of --runs runs after --warmup runs; random inputs, the models' own weights).
 *
 * usage: bench_backend [--backend cpu|ref] [--runs R] [--warmup W] [--precisions fp32,int8]
 *                      [--batches 1,8] [--threads 1,2] NAME=FILE[+FILE]...
 * FILE+FILE chains files into one network (MobileNetV1 1.0_224's extractor and head). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/plan_time.h"
#include "formats/model.h"

enum { MAX_LIST = 8, MAX_FILES = 4 };

typedef struct {
    int v[MAX_LIST];
    int n;
} int_list;

static int parse_list(const char *s, int_list *l)
{
    l->n = 0;
    while (*s && l->n < MAX_LIST) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1) return -1;
        l->v[l->n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return l->n ? 0 : -1;
}

static int bench_model(const ms_backend *b, const char *spec, const int_list *precs, const int_list *batches,
                       const int_list *threads, int warmup, int runs)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    char *eq = strchr(buf, '=');
    if (!eq) {
        fprintf(stderr, "bench_backend: '%s' is not NAME=FILE[+FILE]\n", spec);
        return 2;
    }
    *eq = 0;
    const char *files[MAX_FILES];
    int n = 0;
    for (char *f = strtok(eq + 1, "+"); f && n < MAX_FILES; f = strtok(NULL, "+")) files[n++] = f;
    ms_error err;
    ms_graph *g = NULL;
    if (ms_model_load(files, n, &g, &err)) {
        fprintf(stderr, "bench_backend: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (int pi = 0; !rc && pi < precs->n; pi++)
        for (int bi = 0; !rc && bi < batches->n; bi++)
            for (int ti = 0; !rc && ti < threads->n; ti++) {
                ms_plan_options o = {.batch = batches->v[bi], .threads = threads->v[ti],
                                     .precision = precs->v[pi] == 8 ? MS_PREC_INT8 : MS_PREC_FP32};
                ms_plan *p = NULL;
                double ms = 0, min_ms = 0;
                ms_status st = ms_plan_compile(b, g, &o, &p, &err);
                if (!st) st = ms_plan_time(p, warmup, runs, &ms, &min_ms, &err);
                ms_plan_free(p);
                if (st) {
                    fprintf(stderr, "bench_backend: %s\n", err.msg);
                    rc = 1;
                    break;
                }
                printf("ours %s %s %d %d %.4f %.4f\n", buf, precs->v[pi] == 8 ? "int8" : "fp32", o.batch, o.threads,
                       ms / o.batch, min_ms / o.batch);
                fflush(stdout);
            }
    ms_graph_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    const char *backend = "cpu";
    int warmup = 5, runs = 30;
    int_list precs = {{32, 8}, 2}, batches = {{1, 8}, 2}, threads = {{1, 2}, 2};
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (!strcmp(o, "--backend")) backend = v;
        else if (!strcmp(o, "--runs")) bad = (runs = atoi(v)) < 1;
        else if (!strcmp(o, "--warmup")) bad = (warmup = atoi(v)) < 0;
        else if (!strcmp(o, "--batches")) bad = parse_list(v, &batches);
        else if (!strcmp(o, "--threads")) bad = parse_list(v, &threads);
        else if (!strcmp(o, "--precisions")) {
            precs.n = 0;
            if (strstr(v, "fp32")) precs.v[precs.n++] = 32;
            if (strstr(v, "int8")) precs.v[precs.n++] = 8;
            bad = !precs.n;
        } else bad = 1;
        if (bad) {
            fprintf(stderr, "bench_backend: bad option %s %s\n", o, v);
            return 2;
        }
    }
    const ms_backend *b = ms_backend_find(backend);
    if (!b || i >= argc) {
        fprintf(stderr, "usage: bench_backend [--backend cpu|ref] [--runs R] [--warmup W] [--precisions fp32,int8]\n"
                        "                     [--batches 1,8] [--threads 1,2] NAME=FILE[+FILE]...\n");
        return 2;
    }
    for (; i < argc; i++) {
        int rc = bench_model(b, argv[i], &precs, &batches, &threads, warmup, runs);
        if (rc) return rc;
    }
    return 0;
}
