/* Times the cuda backend on MobileNetV1 1.0_224 (or any model) for bench/run_cuda.sh: for
 * every precision, batch and launch mode asked for, compiles a plan and prints
 *   ours <model> <precision> <batch> <graphs 0|1> <median ms per batch> <images/s at the median> <pipe|nopipe>
 * (nopipe: MS_CUDA_PIPELINE=0 was set, so large batches copy their input in unpipelined)
 * over --runs runs after --warmup runs. Input is random float32 NHWC in page-locked host
 * memory, the output comes back to page-locked host memory: a run is what a caller pays
 * (copy in, network, copy out, wait), as the PyTorch peer measures it.
 *
 * usage: bench_cuda [--runs R] [--warmup W] [--precisions fp32,fp16] [--batches 1,8,64,256]
 *                   [--graphs 0,1] NAME=FILE[+FILE] */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/clock.h"
#include "formats/model.h"

enum { MAX_LIST = 8, MAX_FILES = 4, MAX_RUNS = 1000 };

static int parse_list(const char *s, int *v, int *n, int min)
{
    *n = 0;
    while (*s && *n < MAX_LIST) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < min || (*end && *end != ',')) return -1;
        v[(*n)++] = (int)x;
        s = *end ? end + 1 : end;
    }
    return *n ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_one(const ms_backend *b, const ms_graph *g, const char *name, ms_precision prec, int batch,
                     int graphs, int warmup, int runs)
{
    setenv("MS_CUDA_GRAPHS", graphs ? "1" : "0", 1);
    ms_plan_options o = {.batch = batch, .threads = 1, .precision = prec};
    ms_plan *p = NULL;
    ms_error err;
    if (ms_plan_compile(b, g, &o, &p, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    size_t ni = (size_t)(batch * p->in_numel) * sizeof(float), no = (size_t)(batch * p->out_numel) * sizeof(float);
    float *in = NULL, *out = NULL;
    if (cudaMallocHost((void **)&in, ni) != cudaSuccess || cudaMallocHost((void **)&out, no) != cudaSuccess) {
        fprintf(stderr, "bench_cuda: cannot allocate page-locked memory\n");
        ms_plan_free(p);
        return 1;
    }
    uint32_t seed = 7;
    for (size_t i = 0; i < ni / sizeof *in; i++) {
        seed = seed * 1664525u + 1013904223u;
        in[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
    static double t[MAX_RUNS];
    int rc = 0;
    for (int r = 0; !rc && r < warmup + runs; r++) {
        double t0 = ms_now();
        if (ms_plan_run(p, in, out, &err)) {
            fprintf(stderr, "bench_cuda: %s\n", err.msg);
            rc = 1;
        }
        if (r >= warmup) t[r - warmup] = (ms_now() - t0) * 1e3;
    }
    if (!rc) {
        qsort(t, (size_t)runs, sizeof *t, cmp);
        double med = t[runs / 2];
        const char *pipe = getenv("MS_CUDA_PIPELINE");
        printf("ours %s %s %d %d %.4f %.1f %s\n", name, prec == MS_PREC_FP16 ? "fp16" : "fp32", batch, graphs, med,
               batch * 1e3 / med, pipe && !strcmp(pipe, "0") ? "nopipe" : "pipe");
        fflush(stdout);
    }
    cudaFreeHost(in);
    cudaFreeHost(out);
    ms_plan_free(p);
    return rc;
}

int main(int argc, char **argv)
{
    int precs[MAX_LIST] = {32, 16}, np = 2, batches[MAX_LIST] = {1, 8, 64, 256}, nb = 4, graphs[MAX_LIST] = {0, 1},
        ng = 2;
    int runs = 30, warmup = 5, i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (!strcmp(o, "--runs")) bad = (runs = atoi(v)) < 1 || runs > MAX_RUNS;
        else if (!strcmp(o, "--warmup")) bad = (warmup = atoi(v)) < 0;
        else if (!strcmp(o, "--batches")) bad = parse_list(v, batches, &nb, 1);
        else if (!strcmp(o, "--graphs")) bad = parse_list(v, graphs, &ng, 0);
        else if (!strcmp(o, "--precisions")) {
            np = 0;
            if (strstr(v, "fp32")) precs[np++] = 32;
            if (strstr(v, "fp16")) precs[np++] = 16;
            bad = !np;
        } else bad = 1;
        if (bad) {
            fprintf(stderr, "bench_cuda: bad option %s %s\n", o, v);
            return 2;
        }
    }
    if (i + 1 != argc || !strchr(argv[i], '=')) {
        fprintf(stderr, "usage: bench_cuda [--runs R] [--warmup W] [--precisions fp32,fp16] [--batches 1,8,64,256] "
                        "[--graphs 0,1] NAME=FILE[+FILE]\n");
        return 2;
    }
    const ms_backend *b = ms_backend_find("cuda");
    if (!b) {
        fprintf(stderr, "bench_cuda: the cuda backend (libmainstream_cuda.so) cannot be loaded\n");
        return 1;
    }
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", argv[i]);
    char *eq = strchr(spec, '=');
    *eq = 0;
    const char *files[MAX_FILES];
    int nf = 0;
    for (char *f = strtok(eq + 1, "+"); f && nf < MAX_FILES; f = strtok(NULL, "+")) files[nf++] = f;
    ms_graph *g = NULL;
    ms_error err;
    if (ms_model_load(files, nf, &g, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (int pi = 0; !rc && pi < np; pi++)
        for (int bi = 0; !rc && bi < nb; bi++)
            for (int gi = 0; !rc && gi < ng; gi++)
                rc = bench_one(b, g, spec, precs[pi] == 16 ? MS_PREC_FP16 : MS_PREC_FP32, batches[bi], graphs[gi],
                               warmup, runs);
    ms_graph_free(g);
    return rc;
}
