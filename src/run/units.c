/* Unit costs for the scheduler: measured on this machine or read from a profile. */
#include "run/units.h"

#include <stdlib.h>
#include <time.h>

#include "run/app.h"
#include "sched/scenario.h"

#define MEASURE_MIN_RUNS 5
#define MEASURE_MIN_SECONDS 0.05

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

ms_status ms_units_graph(const ms_graph *base, const ms_chokepoint *cps, int n_cps, int i, ms_graph **out,
                         ms_error *err)
{
    if (i < n_cps - 1) return ms_graph_segment(base, cps[i].node_end, cps[i + 1].node_end, out, err);
    return ms_run_branch_template(base, n_cps - 1, out, err);
}

/* Mean milliseconds per frame of one plan after a warm-up run. */
static ms_status time_plan(ms_plan *plan, float *in, float *out, double *ms, ms_error *err)
{
    if (ms_plan_run(plan, in, out, err)) return err->status;
    int runs = 0;
    double start = now_s(), elapsed = 0;
    while (runs < MEASURE_MIN_RUNS || elapsed < MEASURE_MIN_SECONDS) {
        if (ms_plan_run(plan, in, out, err)) return err->status;
        runs++;
        elapsed = now_s() - start;
    }
    *ms = elapsed * 1000.0 / runs / plan->opts.batch;
    return MS_OK;
}

ms_status ms_units_measure(const ms_graph *base, const ms_chokepoint *cps, int n_cps, const ms_backend *b,
                           const ms_plan_options *opts, double **costs, ms_error *err)
{
    *costs = calloc((size_t)n_cps, sizeof **costs);
    if (!*costs) return ms_errorf(err, MS_ERR_NOMEM, "profiling: out of memory");
    ms_status st = MS_OK;
    for (int i = 0; i < n_cps && st == MS_OK; i++) {
        ms_graph *g = NULL;
        ms_plan *plan = NULL;
        float *in = NULL, *out = NULL;
        st = ms_units_graph(base, cps, n_cps, i, &g, err);
        if (st == MS_OK) st = ms_plan_compile(b, g, opts, &plan, err);
        if (st == MS_OK) {
            in = calloc((size_t)(plan->in_numel * opts->batch), sizeof *in);
            out = malloc(sizeof *out * (size_t)(plan->out_numel * opts->batch));
            if (!in || !out) st = ms_errorf(err, MS_ERR_NOMEM, "profiling: out of memory");
        }
        if (st == MS_OK) st = time_plan(plan, in, out, &(*costs)[i], err);
        free(in);
        free(out);
        ms_plan_free(plan);
        ms_graph_free(g);
    }
    if (st != MS_OK) {
        free(*costs);
        *costs = NULL;
        return ms_error_prefix(err, "profiling %s", base->source ? base->source : "the model");
    }
    return MS_OK;
}

ms_status ms_units_load(const char *path, int n_cps, double **costs, ms_error *err)
{
    int n;
    if (ms_profile_unit_costs(path, costs, &n, err)) return err->status;
    if (n != n_cps) {
        free(*costs);
        *costs = NULL;
        return ms_errorf(err, MS_ERR_INVALID, "%s: segments: %d segments, but the model has %d chokepoints (one unit each)",
                         path, n, n_cps);
    }
    return MS_OK;
}
