/* Unit costs for the scheduler: measured on this machine (median of a few runs, as
 * `mainstream profile` does) or read from a profile. */
#include "run/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "backend/plan_time.h"
#include "base/json.h"
#include "run/app.h"
#include "sched/scenario.h"

#define MEASURE_WARMUP 1
#define MEASURE_RUNS 7
#define PROFILE_MAX_BYTES (1u << 20)

ms_status ms_units_graph(const ms_graph *base, const ms_chokepoint *cps, int n_cps, int i, ms_graph **out,
                         ms_error *err)
{
    if (i < n_cps - 1) return ms_graph_segment(base, cps[i].node_end, cps[i + 1].node_end, out, err);
    return ms_run_branch_template(base, n_cps - 1, out, err);
}

/* The units are timed as `mainstream profile` times segments: chained, each reading the
 * previous one's output in the backend's layout (ms_plan_time_chain). */
ms_status ms_units_measure(const ms_graph *base, const ms_chokepoint *cps, int n_cps, const ms_backend *b,
                           const ms_plan_options *opts, double **costs, ms_error *err)
{
    *costs = calloc((size_t)n_cps, sizeof **costs);
    ms_plan **plans = calloc((size_t)n_cps + 1, sizeof *plans);
    double *ms = calloc((size_t)n_cps + 1, sizeof *ms);
    ms_status st = *costs && plans && ms ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "profiling: out of memory");
    ms_plan_options o = *opts;
    for (int i = 0; i < n_cps && st == MS_OK; i++) {
        ms_graph *g = NULL;
        o.native_output = i + 1 < n_cps;
        st = ms_units_graph(base, cps, n_cps, i, &g, err);
        if (st == MS_OK) st = ms_plan_compile(b, g, &o, &plans[i], err);
        o.input_from = plans[i];
        ms_graph_free(g);
    }
    if (st == MS_OK) st = ms_plan_time_chain(NULL, plans, n_cps, MEASURE_WARMUP, MEASURE_RUNS, NULL, ms, err);
    for (int i = 0; i < n_cps && st == MS_OK; i++) (*costs)[i] = ms[i] / opts->batch;
    for (int i = 0; plans && i < n_cps; i++) ms_plan_free(plans[i]);
    free(plans);
    free(ms);
    if (st != MS_OK) {
        free(*costs);
        *costs = NULL;
        return ms_error_prefix(err, "profiling %s", base->source ? base->source : "the model");
    }
    return MS_OK;
}

/* A profile that names its model must name this one. */
static ms_status check_fingerprint(const char *path, const ms_graph *base, ms_error *err)
{
    cJSON *root;
    if (ms_json_load(path, PROFILE_MAX_BYTES, &root, err)) return err->status;
    const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_fingerprint"));
    char ours[65];
    for (int i = 0; i < 32; i++) snprintf(ours + 2 * i, 3, "%02x", base->fingerprint[i]);
    ms_status st = MS_OK;
    if (hex && strcasecmp(hex, ours))
        st = ms_errorf(err, MS_ERR_INVALID, "%s: model_fingerprint: %s, but the deployment's model is %s", path, hex, ours);
    cJSON_Delete(root);
    return st;
}

ms_status ms_units_load(const char *path, const ms_graph *base, int n_cps, double **costs, ms_error *err)
{
    int n;
    if (ms_profile_unit_costs(path, costs, &n, err)) return err->status; /* checks the version and keys */
    if (check_fingerprint(path, base, err)) {
        free(*costs);
        *costs = NULL;
        return err->status;
    }
    if (n != n_cps) {
        free(*costs);
        *costs = NULL;
        return ms_errorf(err, MS_ERR_INVALID, "%s: segments: %d segments, but the model has %d chokepoints (one unit each)",
                         path, n, n_cps);
    }
    return MS_OK;
}
