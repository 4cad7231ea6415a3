/* The machine's matrix-multiply ceiling as oneDNN reaches it: a large float32 sgemm and
 * a large u8 x s8 -> s32 gemm (the int8 convolutions' arithmetic), in multiply-adds per
 * second, so that a network's time can be read as a fraction of what the cores can do
 * and int8's best possible gain over float32 on this CPU is known (docs/backend-dnnl.md).
 *
 *   bench_gemm_peak [N] [THREADS] [REPS]   (defaults 1024, 1, 10; best of REPS) */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"

static int arg(int argc, char **argv, int i, int fallback)
{
    if (argc <= i) return fallback;
    long v = strtol(argv[i], NULL, 10);
    if (v < 1 || v > 65536) {
        fprintf(stderr, "bench_gemm_peak: argument %d ('%s') must be a whole number in [1, 65536]\n", i, argv[i]);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int n = arg(argc, argv, 1, 1024), threads = arg(argc, argv, 2, 1), reps = arg(argc, argv, 3, 10);
    omp_set_num_threads(threads);
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    uint8_t *a8 = malloc(nn);
    int8_t *b8 = malloc(nn);
    int32_t *c32 = malloc(nn * sizeof *c32), zero = 0;
    if (!a || !b || !c || !a8 || !b8 || !c32) {
        fprintf(stderr, "bench_gemm_peak: out of memory for n = %d\n", n);
        return 1;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 7) * 0.25f;
        b[i] = (float)(i % 5) * 0.5f;
        a8[i] = (uint8_t)(i % 200);
        b8[i] = (int8_t)(i % 100 - 50);
    }
    double best_f = 1e30, best_i = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* the first round warms up */
        double t0 = ms_now();
        if (dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n) != dnnl_success) return 1;
        double t1 = ms_now();
        if (dnnl_gemm_u8s8s32('N', 'N', 'F', n, n, n, 1.0f, a8, n, 0, b8, n, 0, 0.0f, c32, n, &zero) != dnnl_success)
            return 1;
        double t2 = ms_now();
        if (r && t1 - t0 < best_f) best_f = t1 - t0;
        if (r && t2 - t1 < best_i) best_i = t2 - t1;
    }
    double macs = (double)n * n * n;
    printf("n %d threads %d: f32 %.1f GMAC/s (%.1f GFLOP/s), u8s8s32 %.1f GMAC/s, int8/f32 %.2f\n", n, threads,
           macs / best_f / 1e9, 2 * macs / best_f / 1e9, macs / best_i / 1e9, best_f / best_i);
    free(a);
    free(b);
    free(c);
    free(a8);
    free(b8);
    free(c32);
    return 0;
}
