/* Backend registry and the calls every backend's plan answers. */
#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

extern const ms_backend ms_backend_ref;
extern const ms_backend ms_backend_dnnl;
const ms_backend *ms_backend_module(const char *name); /* backend_module.c */

const ms_backend *ms_backend_find(const char *name)
{
    if (!strcmp(name, "ref")) return &ms_backend_ref;
    if (!strcmp(name, "cpu") || !strcmp(name, "dnnl")) return &ms_backend_dnnl;
    if (!strcmp(name, "cuda")) return ms_backend_module(name);
    return NULL;
}

ms_status ms_backend_get(const char *name, const ms_backend **out, ms_error *err)
{
    *out = ms_backend_find(name);
    if (*out) return MS_OK;
    if (!strcmp(name, "cuda"))
        return ms_errorf(err, MS_ERR_UNSUPPORTED,
                         "backend 'cuda' is not available here (libmainstream_cuda.so not built, or no CUDA driver)");
    return ms_errorf(err, MS_ERR_INVALID, "unknown backend '%s' (ref, cpu, cuda)", name);
}

const char *ms_precision_name(ms_precision p)
{
    return p == MS_PREC_INT8 ? "int8" : p == MS_PREC_FP16 ? "fp16" : "fp32";
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
    const ms_plan *from = opts->input_from;
    if (from && from->backend != b)
        return ms_errorf(err, MS_ERR_INVALID, "%s: cannot read the output of a '%s' plan on backend '%s'",
                         g->source ? g->source : "graph", from->backend->name, b->name);
    int in = g->inputs[0];
    if (from && in >= 0 && in < g->n_tensors && ms_tensor_numel(&g->tensors[in]) != from->out_numel)
        return ms_errorf(err, MS_ERR_INVALID, "%s: input '%s' has %lld values per frame, the plan it reads gives %lld",
                         g->source ? g->source : "graph", g->tensors[in].name,
                         (long long)ms_tensor_numel(&g->tensors[in]), (long long)from->out_numel);
    ms_status st = b->compile(g, opts, out, err);
    if (!st) (*out)->opts.input_from = NULL; /* the producer may be freed before this plan */
    return st;
}

ms_status ms_plan_run(ms_plan *plan, const void *in, void *out, ms_error *err)
{
    return plan->backend->run(plan, in, out, err);
}

ms_status ms_plan_output_to_plain(ms_plan *plan, const void *native, int frames, float *plain, ms_error *err)
{
    if (frames < 0 || frames > plan->opts.batch)
        return ms_errorf(err, MS_ERR_INVALID, "converting %d frames of a plan of batch %d", frames, plan->opts.batch);
    if (!plan->native_out || !plan->backend->output_to_plain) {
        memcpy(plain, native, (size_t)frames * (size_t)plan->out_numel * sizeof *plain);
        return MS_OK;
    }
    return plan->backend->output_to_plain(plan, native, frames, plain, err);
}

bool ms_plan_same_output(const ms_plan *a, const ms_plan *b)
{
    if (a->backend != b->backend || a->out_numel != b->out_numel || a->out_bytes != b->out_bytes ||
        a->native_out != b->native_out)
        return false;
    return !a->native_out || !a->backend->same_output || a->backend->same_output(a, b);
}

ms_status ms_plan_wait(ms_plan *plan, ms_error *err)
{
    return plan->backend->wait ? plan->backend->wait(plan, err) : MS_OK;
}

void ms_plan_free(ms_plan *plan)
{
    if (plan) plan->backend->free(plan);
}

ms_status ms_train_compile(const ms_backend *b, const ms_graph *g, const ms_plan_options *opts, ms_loss loss,
                           ms_train_plan **out, ms_error *err)
{
    *out = NULL;
    if (!b->train_compile)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "backend '%s' cannot train", b->name);
    if (opts->batch < 1) return ms_errorf(err, MS_ERR_INVALID, "batch must be >= 1, got %d", opts->batch);
    if (opts->threads < 1)
        return ms_errorf(err, MS_ERR_INVALID, "threads must be >= 1, got %d", opts->threads);
    if (g->n_inputs != 1 || g->n_outputs != 1)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: a train plan needs one input and one output, got %d and %d",
                         g->source ? g->source : "graph", g->n_inputs, g->n_outputs);
    return b->train_compile(g, opts, loss, out, err);
}

ms_status ms_train_forward(ms_train_plan *plan, const float *in, float *out, ms_error *err)
{
    return plan->backend->train_forward(plan, in, out, err);
}

ms_status ms_train_backward(ms_train_plan *plan, const float *target, double *loss, ms_error *err)
{
    return plan->backend->train_backward(plan, target, loss, err);
}

void ms_train_free(ms_train_plan *plan)
{
    if (plan) plan->backend->train_free(plan);
}

ms_status ms_backend_buffer_new(const ms_backend *b, size_t bytes, void **out, ms_error *err)
{
    if (b->buffer_new) return b->buffer_new(bytes, out, err);
    *out = malloc(bytes ? bytes : 1);
    return *out ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "out of memory for a %zu-byte buffer", bytes);
}

void ms_backend_buffer_free(const ms_backend *b, void *buf)
{
    if (b->buffer_free) b->buffer_free(buf);
    else free(buf);
}

ms_status ms_backend_buffer_copy(const ms_backend *b, void *dst, const void *src, size_t bytes, ms_error *err)
{
    if (b->buffer_copy) return b->buffer_copy(dst, src, bytes, err);
    memcpy(dst, src, bytes);
    return MS_OK;
}
