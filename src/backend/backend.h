/* One interface for every compute backend: compile a graph (usually a segment between
 * two chokepoints) for a batch size, a thread count and a precision into a plan, run the
 * plan on a batch, free it. The reference backend (ref/) is plain C and is the ground
 * truth; dnnl/ runs on oneDNN. A plan has one input and one output tensor, both
 * float32 NHWC with the batch first, unless it is chained: a plan compiled with
 * native_output leaves its output in the backend's own layout (oneDNN's blocked ones),
 * and a plan compiled with input_from = P reads P's native output, so consecutive
 * segments pass activations without converting them at every boundary. A native
 * layout always keeps each frame's bytes together, one frame after another
 * (in_bytes / out_bytes per frame), so callers may gather frames by bytes. */
#ifndef MS_BACKEND_BACKEND_H
#define MS_BACKEND_BACKEND_H

#include "graph/graph.h"

/* MS_PREC_FP16: float16 activations and weights with float32 accumulation (cuda only). */
typedef enum { MS_PREC_FP32, MS_PREC_INT8, MS_PREC_FP16 } ms_precision;

typedef struct {
    int batch;   /* frames per run, >= 1 */
    int threads; /* worker threads, >= 1 */
    ms_precision precision;
    /* Chaining (both default off). input_from: the plan reads the native output of this
     * plan (same backend, its output tensor's shape and quantisation; any batch), not
     * plain floats. native_output: the plan writes its output in the backend's layout;
     * ms_plan_output_to_plain converts it. */
    const struct ms_plan *input_from;
    bool native_output;
} ms_plan_options;

typedef struct ms_backend ms_backend;

/* Training. A train plan runs the forward pass keeping every activation, then the
 * backward pass from a loss to the gradients of its parameters: the weight (input 1)
 * and bias (input 2) of every convolution and fully-connected node. The optimiser
 * updates `value` in place between steps; the plan uses it on the next forward. */
typedef enum {
    MS_LOSS_BCE,          /* the graph ends in a sigmoid; targets in [0, 1], one per output */
    MS_LOSS_SOFTMAX_XENT, /* the graph ends in a softmax; target = class index, one per frame */
} ms_loss;

typedef struct {
    int node;      /* index of the node in the compiled graph (same as in the caller's) */
    int slot;      /* 1 weight, 2 bias */
    int64_t numel;
    float *value;  /* the plan's copy of the parameter */
    float *grad;   /* d(loss)/d(value) after ms_train_backward, loss averaged over the batch */
} ms_param;

typedef struct {
    const ms_backend *backend;
    ms_plan_options opts;
    int64_t in_numel, out_numel; /* per frame */
    ms_loss loss;
    ms_param *params;
    int n_params;
} ms_train_plan;

/* Every backend's plan begins with this header. */
typedef struct ms_plan {
    const ms_backend *backend;
    ms_plan_options opts; /* opts.input_from is not kept (NULL) once compiled */
    int64_t in_numel;  /* elements of one frame's input */
    int64_t out_numel; /* elements of one frame's output */
    int64_t in_bytes;  /* bytes of one frame's input as run reads it: in_numel * 4 when plain */
    int64_t out_bytes; /* bytes of one frame's output as run writes it: out_numel * 4 when plain */
    bool native_in, native_out; /* the input / output is in the backend's layout, not plain floats */
} ms_plan;

struct ms_backend {
    const char *name;
    ms_status (*compile)(const ms_graph *g, const ms_plan_options *opts, ms_plan **out,
                         ms_error *err);
    /* in: opts.batch * in_bytes bytes; out: opts.batch * out_bytes bytes */
    ms_status (*run)(ms_plan *plan, const void *in, void *out, ms_error *err);
    void (*free)(ms_plan *plan);
    /* training; NULL when the backend cannot train */
    ms_status (*train_compile)(const ms_graph *g, const ms_plan_options *opts, ms_loss loss, ms_train_plan **out,
                               ms_error *err);
    ms_status (*train_forward)(ms_train_plan *plan, const float *in, float *out, ms_error *err);
    ms_status (*train_backward)(ms_train_plan *plan, const float *target, double *loss, ms_error *err);
    void (*train_free)(ms_train_plan *plan);
    /* chaining; NULL when the backend's native layout is plain NHWC float */
    ms_status (*output_to_plain)(ms_plan *plan, const void *native, int frames, float *plain, ms_error *err);
    bool (*same_output)(const ms_plan *a, const ms_plan *b);
    /* memory for native inputs and outputs when the backend keeps them off the host
     * (cuda: device memory); NULL: host memory (malloc, free, memcpy) */
    ms_status (*buffer_new)(size_t bytes, void **out, ms_error *err);
    void (*buffer_free)(void *buf);
    ms_status (*buffer_copy)(void *dst, const void *src, size_t bytes, ms_error *err);
    /* waits until the plan's runs so far are complete; NULL: runs complete on return */
    ms_status (*wait)(ms_plan *plan, ms_error *err);
};

/* "fp32", "int8" or "fp16". */
const char *ms_precision_name(ms_precision p);

/* "ref", "cpu" (also "dnnl") or "cuda" (loaded from libmainstream_cuda.so, see
 * backend_module.c); NULL if unknown or, for "cuda", not built or not loadable. */
const ms_backend *ms_backend_find(const char *name);
/* ms_backend_find with an error naming the backend when it is unknown or not available
 * here (cuda: the module not built, or not loadable on this machine). */
ms_status ms_backend_get(const char *name, const ms_backend **out, ms_error *err);

ms_status ms_plan_compile(const ms_backend *b, const ms_graph *g, const ms_plan_options *opts,
                          ms_plan **out, ms_error *err);
/* in: opts.batch * in_bytes bytes; out: opts.batch * out_bytes bytes (plain plans:
 * floats). */
ms_status ms_plan_run(ms_plan *plan, const void *in, void *out, ms_error *err);
void ms_plan_free(ms_plan *plan);
/* Waits until the plan's runs are complete: a cuda run with a native output returns
 * once its work is queued (the thread's stream orders what reads it next); timing
 * waits here. A no-op on the cpu backends. */
ms_status ms_plan_wait(ms_plan *plan, ms_error *err);
/* plain: frames * out_numel floats, the NHWC values of the first `frames` frames of
 * native (frames * out_bytes bytes of plan's output; frames may differ from the batch). */
ms_status ms_plan_output_to_plain(ms_plan *plan, const void *native, int frames, float *plain, ms_error *err);
/* Whether a plan compiled with input_from = a can read b's outputs too (the same frame
 * layout), so that one buffer may hold the frames of both. */
bool ms_plan_same_output(const ms_plan *a, const ms_plan *b);

/* Buffers for plans' native inputs and outputs (frames * in_bytes or out_bytes): where
 * the backend keeps them (device memory on cuda), host memory otherwise. buffer_copy
 * moves bytes between two such buffers (gathering frames of a chained plan); on cuda
 * it is ordered with the calling thread's runs and does not wait. */
ms_status ms_backend_buffer_new(const ms_backend *b, size_t bytes, void **out, ms_error *err);
void ms_backend_buffer_free(const ms_backend *b, void *buf);
ms_status ms_backend_buffer_copy(const ms_backend *b, void *dst, const void *src, size_t bytes, ms_error *err);

/* A train plan for a batch of opts->batch frames (a smaller last batch is the caller's
 * to drop or pad). Fails with MS_ERR_UNSUPPORTED when the backend cannot train. */
ms_status ms_train_compile(const ms_backend *b, const ms_graph *g, const ms_plan_options *opts, ms_loss loss,
                           ms_train_plan **out, ms_error *err);
/* in: batch * in_numel floats; out (may be NULL): batch * out_numel floats. */
ms_status ms_train_forward(ms_train_plan *plan, const float *in, float *out, ms_error *err);
/* target: batch * out_numel floats (BCE) or batch class indices (softmax). Sets every
 * params[i].grad and *loss (mean over the batch) from the last forward pass. */
ms_status ms_train_backward(ms_train_plan *plan, const float *target, double *loss, ms_error *err);
void ms_train_free(ms_train_plan *plan);

#endif
