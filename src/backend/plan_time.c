/* Median wall time of a plan's runs (see plan_time.h). */
#include "backend/plan_time.h"

#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ms_status ms_plan_time(ms_plan *plan, int warmup, int runs, double *median_ms, double *min_ms, ms_error *err)
{
    if (runs < 1 || warmup < 0) return ms_errorf(err, MS_ERR_INVALID, "timing needs runs >= 1, got %d", runs);
    size_t ni = (size_t)(plan->opts.batch * plan->in_numel), no = (size_t)(plan->opts.batch * plan->out_numel);
    float *in = malloc((ni + 1) * sizeof *in), *out = malloc((no + 1) * sizeof *out);
    double *t = malloc((size_t)runs * sizeof *t);
    ms_status st = MS_OK;
    if (!in || !out || !t) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory timing a plan");
    uint32_t seed = 1;
    for (size_t i = 0; !st && i < ni; i++) {
        seed = seed * 1664525u + 1013904223u;
        in[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
    for (int i = 0; !st && i < warmup; i++) st = ms_plan_run(plan, in, out, err);
    for (int i = 0; !st && i < runs; i++) {
        double t0 = now_ms();
        st = ms_plan_run(plan, in, out, err);
        t[i] = now_ms() - t0;
    }
    if (!st) {
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        *median_ms = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
        if (min_ms) *min_ms = t[0];
    }
    free(in);
    free(out);
    free(t);
    return st;
}
