/* Whole-network inference in the model's own layout (see infer.h). */
#include "backend/infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NCHW <-> NHWC for n frames of c x h x w. */
static void to_nhwc(const float *x, float *y, int64_t n, int64_t c, int64_t h, int64_t w)
{
    for (int64_t a = 0; a < n; a++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < h * w; i++) y[(a * h * w + i) * c + ch] = x[(a * c + ch) * h * w + i];
}

static void to_nchw(const float *x, float *y, int64_t n, int64_t c, int64_t h, int64_t w)
{
    for (int64_t a = 0; a < n; a++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < h * w; i++) y[(a * c + ch) * h * w + i] = x[(a * h * w + i) * c + ch];
}

/* The model-layout shape of IR tensor t at batch n. */
static void model_shape(const ms_graph *g, const ms_tensor *t, int64_t n, int64_t *shape)
{
    memcpy(shape, t->shape, sizeof t->shape);
    if (g->nchw && t->ndim == 4) {
        shape[1] = t->shape[3];
        shape[2] = t->shape[1];
        shape[3] = t->shape[2];
    }
    shape[0] = n;
}

ms_status ms_infer(const ms_backend *b, const ms_graph *g, int threads, ms_precision precision,
                   const ms_infer_tensor *in, ms_infer_tensor *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    const char *src = g->source ? g->source : "graph";
    if (g->n_inputs != 1 || g->n_outputs < 1) return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: needs one input and an output", src);
    const ms_tensor *x = &g->tensors[g->inputs[0]], *y = &g->tensors[g->outputs[0]];
    int64_t want[MS_MAX_DIMS];
    model_shape(g, x, in->ndim >= 1 ? in->shape[0] : 0, want);
    bool fits = in->ndim == x->ndim && in->shape[0] >= 1 && in->shape[0] <= 65536;
    for (int d = 1; fits && d < x->ndim; d++) fits = in->shape[d] == want[d];
    if (!fits) {
        char have[128] = "", need[128] = "";
        size_t h = 0, k = 0;
        for (int d = 0; d < in->ndim && h < sizeof have; d++) h += (size_t)snprintf(have + h, sizeof have - h, "%s%lld", d ? "," : "", (long long)in->shape[d]);
        for (int d = 0; d < x->ndim && k < sizeof need; d++) k += (size_t)snprintf(need + k, sizeof need - k, d ? ",%lld" : "N", (long long)want[d]);
        return ms_errorf(err, MS_ERR_INVALID, "%s: the input has shape [%s], the model takes [%s] (N: the batch, 1 to 65536)", src, have, need);
    }
    int64_t n = in->shape[0];
    ms_plan_options o = {.batch = (int)n, .threads = threads, .precision = precision};
    ms_plan *plan = NULL;
    ms_status s = ms_plan_compile(b, g, &o, &plan, err);
    if (s) return s;
    size_t in_n = (size_t)(n * plan->in_numel), out_n = (size_t)(n * plan->out_numel);
    float *xin = malloc((in_n + 1) * sizeof *xin), *yout = malloc((out_n + 1) * sizeof *yout);
    float *ymodel = malloc((out_n + 1) * sizeof *ymodel);
    if (!xin || !yout || !ymodel) s = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory for a batch of %lld", src, (long long)n);
    if (!s) {
        if (g->nchw && x->ndim == 4) to_nhwc(in->data, xin, n, x->shape[3], x->shape[1], x->shape[2]);
        else memcpy(xin, in->data, in_n * sizeof *xin);
        s = ms_plan_run(plan, xin, yout, err);
    }
    if (!s) {
        if (g->nchw && y->ndim == 4) to_nchw(yout, ymodel, n, y->shape[3], y->shape[1], y->shape[2]);
        else memcpy(ymodel, yout, out_n * sizeof *ymodel);
        out->ndim = y->ndim;
        model_shape(g, y, n, out->shape);
        out->data = ymodel;
        ymodel = NULL;
    }
    free(xin);
    free(yout);
    free(ymodel);
    ms_plan_free(plan);
    return s;
}
