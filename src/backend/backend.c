/* Backend registry and the calls every backend's plan answers. */
#include "backend/backend.h"

#include <string.h>

extern const ms_backend ms_backend_ref;
extern const ms_backend ms_backend_dnnl;

const ms_backend *ms_backend_find(const char *name)
{
    if (!strcmp(name, "ref")) return &ms_backend_ref;
    if (!strcmp(name, "cpu") || !strcmp(name, "dnnl")) return &ms_backend_dnnl;
    return NULL;
}

ms_status ms_plan_compile(const ms_backend *b, const ms_graph *g, const ms_plan_options *opts,
                          ms_plan **out, ms_error *err)
{
    *out = NULL;
    if (opts->batch < 1) return ms_errorf(err, MS_ERR_INVALID, "batch must be >= 1, got %d", opts->batch);
    if (opts->threads < 1)
        return ms_errorf(err, MS_ERR_INVALID, "threads must be >= 1, got %d", opts->threads);
    if (g->n_inputs != 1 || g->n_outputs != 1)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: a plan needs one input and one output, got %d and %d",
                         g->source ? g->source : "graph", g->n_inputs, g->n_outputs);
    return b->compile(g, opts, out, err);
}

ms_status ms_plan_run(ms_plan *plan, const float *in, float *out, ms_error *err)
{
    return plan->backend->run(plan, in, out, err);
}

void ms_plan_free(ms_plan *plan)
{
    if (plan) plan->backend->free(plan);
}
