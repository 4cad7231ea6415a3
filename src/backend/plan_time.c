/* Median wall time of a plan's runs (see plan_time.h). */
#include "backend/plan_time.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/clock.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ms_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void fill_random(float *v, size_t n)
{
    uint32_t seed = 1;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
}

/* Runs plan on in into out and adds its wall time to *ms. */
static ms_status timed_run(ms_plan *plan, const void *in, void *out, double *ms, ms_error *err)
{
    double t0 = (ms_now() * 1e3);
    ms_status st = ms_plan_run(plan, in, out, err);
    if (!st) st = ms_plan_wait(plan, err); /* a GPU plan's native output is ready only then */
    *ms = (ms_now() * 1e3) - t0;
    return st;
}

static size_t in_size(const ms_plan *p) { return (size_t)p->opts.batch * (size_t)p->in_bytes; }
static size_t out_size(const ms_plan *p) { return (size_t)p->opts.batch * (size_t)p->out_bytes; }

ms_status ms_plan_time_chain(ms_plan *whole, ms_plan *const *plans, int n, int warmup, int runs, double *whole_ms,
                             double *seg_ms, ms_error *err)
{
    if (runs < 1 || warmup < 0) return ms_errorf(err, MS_ERR_INVALID, "timing needs runs >= 1, got %d", runs);
    /* bufs[i] is plan i's input; bufs[n] the last output; `whole` reads bufs[0] too. */
    unsigned char **bufs = calloc((size_t)n + 2, sizeof *bufs);
    bool *native = calloc((size_t)n + 2, sizeof *native); /* bufs[i] is a backend buffer */
    double *t = calloc((size_t)(n + 1) * (size_t)runs, sizeof *t);
    unsigned char *whole_out = NULL;
    ms_status st = bufs && t && native ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "out of memory timing plans");
    const ms_plan *prev = NULL;
    size_t first_in = 0;
    for (int i = 0; !st && i < n; i++) {
        if (!plans[i]) continue;
        if (prev && out_size(prev) != in_size(plans[i]))
            st = ms_errorf(err, MS_ERR_INVALID, "segment %d reads %zu bytes, the one before writes %zu", i,
                           in_size(plans[i]), out_size(prev));
        if (!prev && plans[i]->native_in)
            st = ms_errorf(err, MS_ERR_INVALID, "the first segment must read plain floats");
        if (!prev) first_in = in_size(plans[i]);
        prev = plans[i];
    }
    if (!st && whole && first_in && in_size(whole) != first_in)
        st = ms_errorf(err, MS_ERR_INVALID, "the segments and the whole network read different inputs");
    if (!st && whole) {
        first_in = in_size(whole);
        whole_out = malloc(out_size(whole) + 1);
        if (!whole_out) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory timing plans");
    }
    /* Every plan gets its own output buffer; a NULL plan passes its input on. */
    if (!st) {
        bufs[0] = malloc(first_in + sizeof(float));
        if (!bufs[0]) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory timing plans");
    }
    if (!st) fill_random((float *)bufs[0], first_in / sizeof(float));
    for (int i = 0; !st && i < n; i++) {
        if (!plans[i]) continue;
        if (plans[i]->native_out) { /* the backend's memory: device memory on cuda */
            st = ms_backend_buffer_new(plans[i]->backend, out_size(plans[i]) + 1, (void **)&bufs[i + 1], err);
            native[i + 1] = !st;
            continue;
        }
        bufs[i + 1] = malloc(out_size(plans[i]) + 1);
        if (!bufs[i + 1]) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory timing plans");
    }
    for (int pass = 0; !st && pass < warmup + runs; pass++) {
        double *row = t + (size_t)(n + 1) * (size_t)(pass < warmup ? 0 : pass - warmup);
        if (whole) st = timed_run(whole, bufs[0], whole_out, &row[n], err);
        const unsigned char *in = bufs[0];
        for (int i = 0; !st && i < n; i++) {
            row[i] = 0;
            if (!plans[i]) continue;
            st = timed_run(plans[i], in, bufs[i + 1], &row[i], err);
            in = bufs[i + 1];
        }
    }
    double *col = st ? NULL : malloc((size_t)runs * sizeof *col);
    if (!st && !col) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory timing plans");
    for (int i = 0; !st && i <= n; i++) {
        if (i == n && !whole) break;
        for (int r = 0; r < runs; r++) col[r] = t[(size_t)(n + 1) * (size_t)r + (size_t)i];
        double m = ms_median(col, runs);
        if (i < n) seg_ms[i] = m;
        else *whole_ms = m;
    }
    free(col);
    for (int i = 0; bufs && native && i <= n; i++) {
        if (native[i]) ms_backend_buffer_free(plans[i - 1]->backend, bufs[i]);
        else free(bufs[i]);
    }
    free(bufs);
    free(native);
    free(t);
    free(whole_out);
    return st;
}

ms_status ms_plan_time(ms_plan *plan, int warmup, int runs, double *median_ms, double *min_ms, ms_error *err)
{
    if (runs < 1 || warmup < 0) return ms_errorf(err, MS_ERR_INVALID, "timing needs runs >= 1, got %d", runs);
    /* Native inputs get the same random floats' bytes: any bytes are valid values. */
    size_t ni = in_size(plan) / sizeof(float);
    float *in = malloc((ni + 1) * sizeof *in);
    unsigned char *out = malloc(out_size(plan) + 1);
    double *t = malloc((size_t)runs * sizeof *t);
    ms_status st = MS_OK;
    if (!in || !out || !t) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory timing a plan");
    if (!st) fill_random(in, ni + 1);
    /* A native input or output is the backend's memory (device memory on cuda; its
     * input bytes are then whatever the device holds). */
    void *nin = NULL, *nout = NULL;
    if (!st && plan->native_in) st = ms_backend_buffer_new(plan->backend, in_size(plan) + 1, &nin, err);
    if (!st && plan->native_out) st = ms_backend_buffer_new(plan->backend, out_size(plan) + 1, &nout, err);
    const void *run_in = nin ? nin : (void *)in;
    void *run_out = nout ? nout : (void *)out;
    double ignored;
    for (int i = 0; !st && i < warmup; i++) st = timed_run(plan, run_in, run_out, &ignored, err);
    for (int i = 0; !st && i < runs; i++) st = timed_run(plan, run_in, run_out, &t[i], err);
    if (nin) ms_backend_buffer_free(plan->backend, nin);
    if (nout) ms_backend_buffer_free(plan->backend, nout);
    if (!st) {
        *median_ms = ms_median(t, runs);
        if (min_ms) *min_ms = t[0];
    }
    free(in);
    free(out);
    free(t);
    return st;
}
