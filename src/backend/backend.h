/* One interface for every compute backend: compile a graph (usually a segment between
 * two chokepoints) for a batch size, a thread count and a precision into a plan, run the
 * plan on a batch, free it. The reference backend (ref/) is plain C and is the ground
 * truth; dnnl/ runs on oneDNN. A plan has one input and one output tensor, both
 * float32 NHWC with the batch first. */
#ifndef MS_BACKEND_BACKEND_H
#define MS_BACKEND_BACKEND_H

#include "graph/graph.h"

typedef enum { MS_PREC_FP32, MS_PREC_INT8 } ms_precision;

typedef struct {
    int batch;   /* frames per run, >= 1 */
    int threads; /* worker threads, >= 1 */
    ms_precision precision;
} ms_plan_options;

typedef struct ms_backend ms_backend;

/* Every backend's plan begins with this header. */
typedef struct {
    const ms_backend *backend;
    ms_plan_options opts;
    int64_t in_numel;  /* elements of one frame's input */
    int64_t out_numel; /* elements of one frame's output */
} ms_plan;

struct ms_backend {
    const char *name;
    ms_status (*compile)(const ms_graph *g, const ms_plan_options *opts, ms_plan **out,
                         ms_error *err);
    /* in: opts.batch * in_numel floats; out: opts.batch * out_numel floats */
    ms_status (*run)(ms_plan *plan, const float *in, float *out, ms_error *err);
    void (*free)(ms_plan *plan);
};

/* "ref" or "cpu"; NULL if unknown. */
const ms_backend *ms_backend_find(const char *name);

ms_status ms_plan_compile(const ms_backend *b, const ms_graph *g, const ms_plan_options *opts,
                          ms_plan **out, ms_error *err);
ms_status ms_plan_run(ms_plan *plan, const float *in, float *out, ms_error *err);
void ms_plan_free(ms_plan *plan);

#endif
