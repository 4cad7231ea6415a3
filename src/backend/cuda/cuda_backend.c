/* The "cuda" backend: compiles a graph into a plan of cuDNN, cuBLAS and own kernels
 * on an NVIDIA GPU, float32 or float16, and runs it. Built as a module of its own
 * (libmainstream_cuda.so, loaded by backend_module.c when "cuda" is asked for), so that
 * the core library and its tests never link the CUDA libraries.
 *
 * Compiling copies the graph at the plan's batch (ref_copy_graph: shapes inferred,
 * padding resolved), gives every activation a device buffer, uploads every weight once
 * (float16 plans: converted to float16; biases and batch-norm parameters stay float32)
 * and prepares one step per node (cuda_ops.c). At small batches the steps are captured
 * into a CUDA graph, launched as one.
 *
 * A run copies the plan's input in (host float32 -> device; converted to float16 in
 * float16 plans), runs the steps on the calling thread's default stream, and copies
 * the output out (device -> host float32, then waits for the stream). Nothing is
 * allocated and nothing else waits.
 *
 * Chaining: the native layout is NHWC in the plan's type (float32 or float16) in
 * device memory, so a plan with native_output writes its output to a device pointer
 * and a plan with input_from reads one; ms_plan_buffer_new gives such buffers. A
 * consumer of another type than its producer converts on the device. Runs of chained
 * plans from one thread are ordered by the thread's stream; only the last plain output
 * waits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "backend/ref/backward.h"

extern const ms_backend ms_backend_cuda;

#define STREAM cudaStreamPerThread

ms_status cu_fail(const cu_plan *p, const ms_node *n, const char *what, const char *why, ms_error *err)
{
    const char *src = p && p->g && p->g->source ? p->g->source : "graph";
    if (n) return ms_errorf(err, MS_ERR_BACKEND, "%s: node '%s' (%s): cuda: %s failed: %s", src, n->name,
                            ms_op_name(n->kind), what, why);
    return ms_errorf(err, MS_ERR_BACKEND, "%s: cuda: %s failed: %s", src, what, why);
}

static void cu_plan_free(ms_plan *base)
{
    cu_plan *p = (cu_plan *)base;
    if (!p) return;
    if (p->n_subs) {
        cu_pipeline_free(p);
        return;
    }
    if (p->graph) cudaGraphExecDestroy(p->graph);
    if (p->events)
        for (int i = 0; i <= p->g->n_nodes; i++)
            if (p->events[i]) cudaEventDestroy(p->events[i]);
    free(p->events);
    if (p->steps)
        for (int i = 0; i < p->g->n_nodes; i++) cu_free_step(&p->steps[i]);
    if (p->dev)
        for (int i = 0; i < p->g->n_tensors; i++) cudaFree(p->dev[i]);
    cudaFree(p->work);
    cudaFree(p->blas_work);
    cudaFree(p->stage_in);
    cudaFree(p->stage_out);
    cudaFree(p->native_in_buf);
    if (p->blas) cublasDestroy(p->blas);
    if (p->dnn) cudnnDestroy(p->dnn);
    free(p->steps);
    free(p->dev);
    ms_graph_free(p->g);
    free(p);
}

#define CU_TRY(call, what)                                                                \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) return cu_fail(p, NULL, what, cudaGetErrorString(e_), err); \
    } while (0)

/* Whether a device is there at all: the one message the tests skip on. */
static ms_status need_device(const ms_graph *g, ms_error *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: cuda: no CUDA device (%s)", g->source ? g->source : "graph",
                         e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return MS_OK;
}

/* A buffer for every tensor a node computes and for the input. */
static ms_status alloc_activations(cu_plan *p, ms_error *err)
{
    const ms_graph *g = p->g;
    size_t es = cu_type_size(p->type);
    for (int i = 0; i <= g->n_nodes; i++) {
        int t = i < g->n_nodes ? g->nodes[i].output : p->input;
        if (p->dev[t]) continue;
        size_t bytes = (size_t)ms_tensor_numel(&g->tensors[t]) * es;
        CU_TRY(cudaMalloc(&p->dev[t], bytes ? bytes : es), "allocating activations");
    }
    return MS_OK;
}

static ms_status run_steps(cu_plan *p, cudaStream_t s, ms_error *err)
{
    bool trace = p->events && p->runs + 1 == p->trace_run;
    for (int i = 0; i < p->g->n_nodes; i++) {
        if (trace) cudaEventRecord(p->events[i], s);
        ms_status st = cu_run_step(p, i, s, err);
        if (st) return st;
    }
    if (trace) cudaEventRecord(p->events[p->g->n_nodes], s);
    return MS_OK;
}

/* Prints the traced run's step times (MS_CUDA_TRACE), once the stream is idle. */
static void print_trace(cu_plan *p)
{
    if (!p->events || p->runs + 1 != p->trace_run || cudaStreamSynchronize(STREAM) != cudaSuccess) return;
    float total = 0;
    for (int i = 0; i < p->g->n_nodes; i++) {
        float ms = 0;
        cudaEventElapsedTime(&ms, p->events[i], p->events[i + 1]);
        total += ms;
        const ms_node *n = &p->g->nodes[i];
        const cu_step *st = &p->steps[i];
        static const char *impl[] = {"cudnn", "depthwise", "gemm", "direct"};
        fprintf(stderr, "trace batch %d %s %3d %-16s %-40s %8.4f ms %s algo %d%s%s\n", p->base.opts.batch,
                p->type == CU_F16 ? "fp16" : "fp32", i, ms_op_name(n->kind), n->name, ms,
                n->kind == MS_OP_CONV2D ? impl[st->impl] : "-", n->kind == MS_OP_CONV2D ? (int)st->algo : -1,
                st->padded ? " padded" : "", st->defer_act ? " deferred" : "");
    }
    fprintf(stderr, "trace batch %d total %.4f ms\n", p->base.opts.batch, total);
}

static ms_status set_streams(cu_plan *p, cudaStream_t s, ms_error *err)
{
    if (cudnnSetStream(p->dnn, s) != CUDNN_STATUS_SUCCESS || cublasSetStream(p->blas, s) != CUBLAS_STATUS_SUCCESS)
        return cu_fail(p, NULL, "setting the stream", "cuDNN or cuBLAS refused it", err);
    return MS_OK;
}

/* Captures the steps on a private stream; a capture cuDNN or cuBLAS refuses leaves the
 * plan launching them one by one. */
static ms_status capture(cu_plan *p, ms_error *err)
{
    cudaStream_t cap;
    CU_TRY(cudaStreamCreateWithFlags(&cap, cudaStreamNonBlocking), "creating a capture stream");
    ms_status st = set_streams(p, cap, err);
    cudaGraph_t graph = NULL;
    if (!st && cudaStreamBeginCapture(cap, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
        ms_error ignored;
        ms_status rs = run_steps(p, cap, &ignored);
        cudaError_t e = cudaStreamEndCapture(cap, &graph);
        if (!rs && e == cudaSuccess && graph && cudaGraphInstantiate(&p->graph, graph, 0) != cudaSuccess)
            p->graph = NULL;
        if (graph) cudaGraphDestroy(graph);
    }
    cudaGetLastError(); /* a refused capture is not an error of the plan */
    cudaStreamDestroy(cap);
    if (!st) st = set_streams(p, STREAM, err);
    return st;
}

/* Median time of 5 launches of the plan's steps (as a graph when it has one). */
static ms_status time_launch(cu_plan *p, float *ms, ms_error *err)
{
    cudaEvent_t ev[6];
    for (int i = 0; i < 6; i++) CU_TRY(cudaEventCreate(&ev[i]), "creating events");
    ms_status st = MS_OK;
    for (int i = -1; !st && i < 6; i++) { /* one warm-up launch */
        if (i >= 0) cudaEventRecord(ev[i], STREAM);
        if (i == 5) break;
        if (p->graph) {
            cudaError_t e = cudaGraphLaunch(p->graph, STREAM);
            if (e != cudaSuccess) st = cu_fail(p, NULL, "launching the graph", cudaGetErrorString(e), err);
        } else {
            st = run_steps(p, STREAM, err);
        }
    }
    cudaError_t e = cudaEventSynchronize(ev[5]);
    float t[5] = {0};
    for (int i = 0; !st && e == cudaSuccess && i < 5; i++) cudaEventElapsedTime(&t[i], ev[i], ev[i + 1]);
    for (int i = 0; i < 6; i++) cudaEventDestroy(ev[i]);
    if (st) return st;
    CU_TRY(e, "timing the plan");
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            float x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    *ms = t[2];
    return MS_OK;
}

/* CUDA graphs where they pay: the steps are captured, and the graph is kept when its
 * launches are faster than launching the steps one by one (measured here, on the
 * plan's buffers). MS_CUDA_GRAPHS=0 or 1 decides instead. */
static ms_status choose_launch(cu_plan *p, ms_error *err)
{
    const char *e = getenv("MS_CUDA_GRAPHS");
    bool forced = e && (!strcmp(e, "0") || !strcmp(e, "1"));
    if (forced && e[0] == '0') return MS_OK;
    ms_status st = capture(p, err);
    if (st || forced || !p->graph) return st;
    float t_graph = 0, t_steps = 0;
    st = time_launch(p, &t_graph, err);
    cudaGraphExec_t g = p->graph;
    p->graph = NULL;
    if (!st) st = time_launch(p, &t_steps, err);
    p->graph = g;
    if (!st && t_steps < t_graph) {
        cudaGraphExecDestroy(p->graph);
        p->graph = NULL;
    }
    return st;
}

static ms_status setup_io(cu_plan *p, const ms_plan_options *opts, ms_error *err)
{
    size_t b = (size_t)opts->batch;
    ms_plan *base = &p->base;
    if (opts->input_from) {
        const cu_plan *f = (const cu_plan *)opts->input_from;
        p->in_type = f->type;
        base->native_in = true;
        base->in_bytes = base->in_numel * (int64_t)cu_type_size(f->type);
        if (f->type != p->type) CU_TRY(cudaMalloc(&p->native_in_buf, b * (size_t)base->in_bytes), "allocating input");
    } else {
        base->in_bytes = base->in_numel * 4;
        if (p->type != CU_F32) CU_TRY(cudaMalloc((void **)&p->stage_in, b * (size_t)base->in_bytes), "allocating input");
    }
    base->native_out = opts->native_output;
    base->out_bytes = base->out_numel * (int64_t)(opts->native_output ? cu_type_size(p->type) : 4);
    if (p->type != CU_F32)
        CU_TRY(cudaMalloc((void **)&p->stage_out, b * (size_t)base->out_numel * 4), "allocating output");
    return MS_OK;
}

static ms_status compile_plan(cu_plan *p, const ms_graph *g, const ms_plan_options *opts, ms_error *err)
{
    ms_status st = ref_copy_graph(g, opts->batch, &p->g, err);
    if (st) return st;
    p->input = p->g->inputs[0];
    p->output = p->g->outputs[0];
    const ms_tensor *in = &p->g->tensors[p->input];
    if (in->data || p->input == p->output)
        return ms_errorf(err, MS_ERR_INVALID, "%s: the graph input '%s' is a constant or is its output", p->g->source,
                         in->name);
    p->base.in_numel = ms_tensor_numel(in) / opts->batch;
    p->base.out_numel = ms_tensor_numel(&p->g->tensors[p->output]) / opts->batch;
    if ((st = setup_io(p, opts, err))) return st;
    if (cudnnCreate(&p->dnn) != CUDNN_STATUS_SUCCESS) return cu_fail(p, NULL, "cudnnCreate", "no handle", err);
    if (cublasCreate(&p->blas) != CUBLAS_STATUS_SUCCESS) return cu_fail(p, NULL, "cublasCreate", "no handle", err);
    size_t blas_ws = (size_t)32 << 20;
    CU_TRY(cudaMalloc(&p->blas_work, blas_ws), "allocating the cuBLAS workspace");
    if (cublasSetWorkspace(p->blas, p->blas_work, blas_ws) != CUBLAS_STATUS_SUCCESS)
        return cu_fail(p, NULL, "cublasSetWorkspace", "refused", err);
    if ((st = set_streams(p, STREAM, err))) return st;
    p->dev = calloc((size_t)p->g->n_tensors + 1, sizeof *p->dev);
    p->steps = calloc((size_t)p->g->n_nodes + 1, sizeof *p->steps);
    if (!p->dev || !p->steps) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", p->g->source);
    if ((st = alloc_activations(p, err))) return st;
    for (int i = 0; i < p->g->n_nodes && !st; i++) st = cu_prepare_step(p, i, err);
    if (st) return st;
    if (p->work_size) CU_TRY(cudaMalloc(&p->work, p->work_size), "allocating the cuDNN workspace");
    const char *tr = getenv("MS_CUDA_TRACE");
    if (tr && atoi(tr) > 0) {
        p->trace_run = atoi(tr);
        p->events = calloc((size_t)p->g->n_nodes + 1, sizeof *p->events);
        if (!p->events) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", p->g->source);
        for (int i = 0; i <= p->g->n_nodes; i++) CU_TRY(cudaEventCreate(&p->events[i]), "creating events");
    } else if ((st = choose_launch(p, err))) {
        return st;
    }
    CU_TRY(cudaDeviceSynchronize(), "finishing the compile");
    return MS_OK;
}

ms_status cu_compile_one(const ms_graph *g, const ms_plan_options *opts, cu_plan **out, ms_error *err)
{
    *out = NULL;
    const char *src = g->source ? g->source : "graph";
    if (opts->precision != MS_PREC_FP32 && opts->precision != MS_PREC_FP16)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: the cuda backend runs fp32 and fp16 only", src);
    if (opts->input_from && opts->input_from->backend != &ms_backend_cuda)
        return ms_errorf(err, MS_ERR_INVALID, "%s: a cuda plan cannot read the output of a '%s' plan", src,
                         opts->input_from->backend->name);
    ms_status st = need_device(g, err);
    if (st) return st;
    cu_plan *p = calloc(1, sizeof *p);
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory compiling a cuda plan", src);
    p->base.backend = &ms_backend_cuda;
    p->base.opts = *opts;
    p->type = opts->precision == MS_PREC_FP16 ? CU_F16 : CU_F32;
    st = compile_plan(p, g, opts, err);
    if (st) {
        cu_plan_free(&p->base);
        return st;
    }
    *out = p;
    return MS_OK;
}

static ms_status cu_compile(const ms_graph *g, const ms_plan_options *opts, ms_plan **out, ms_error *err)
{
    *out = NULL;
    cu_plan *p = NULL;
    ms_status st = cu_pipeline_wanted(opts) ? cu_pipeline_compile(g, opts, &p, err) : cu_compile_one(g, opts, &p, err);
    if (!st) *out = &p->base;
    return st;
}

/* The input into dev[input] (or, launching step by step, a native input of the plan's
 * type read where it lies); returns in *bound the pointer dev[input] took for the run. */
static ms_status take_input(cu_plan *p, const void *in, void **saved, ms_error *err)
{
    size_t n = (size_t)p->base.opts.batch * (size_t)p->base.in_numel;
    void **x = &p->dev[p->input];
    *saved = NULL;
    if (!p->base.native_in) {
        void *dst = p->type == CU_F32 ? *x : (void *)p->stage_in;
        CU_TRY(cudaMemcpyAsync(dst, in, n * 4, cudaMemcpyHostToDevice, STREAM), "copying the input in");
        if (p->type != CU_F32 && cu_convert(CU_F32, dst, p->type, *x, (int64_t)n, (cu_stream)STREAM))
            return cu_fail(p, NULL, "converting the input", cudaGetErrorString(cudaGetLastError()), err);
    } else if (p->in_type != p->type) {
        if (cu_convert(p->in_type, in, p->type, *x, (int64_t)n, (cu_stream)STREAM))
            return cu_fail(p, NULL, "converting the input", cudaGetErrorString(cudaGetLastError()), err);
    } else if (p->graph) {
        CU_TRY(cudaMemcpyAsync(*x, in, n * cu_type_size(p->type), cudaMemcpyDeviceToDevice, STREAM),
               "copying the input in");
    } else {
        *saved = *x;
        *x = (void *)in;
    }
    return MS_OK;
}

static ms_status give_output(cu_plan *p, void *out, bool wait, ms_error *err)
{
    size_t n = (size_t)p->base.opts.batch * (size_t)p->base.out_numel;
    void *y = p->dev[p->output];
    if (p->base.native_out) {
        if (y != out)
            CU_TRY(cudaMemcpyAsync(out, y, n * cu_type_size(p->type), cudaMemcpyDeviceToDevice, STREAM),
                   "copying the output out");
        return MS_OK;
    }
    if (p->type != CU_F32) {
        if (cu_convert(p->type, y, CU_F32, p->stage_out, (int64_t)n, (cu_stream)STREAM))
            return cu_fail(p, NULL, "converting the output", cudaGetErrorString(cudaGetLastError()), err);
        y = p->stage_out;
    }
    CU_TRY(cudaMemcpyAsync(out, y, n * 4, cudaMemcpyDeviceToHost, STREAM), "copying the output out");
    if (wait) CU_TRY(cudaStreamSynchronize(STREAM), "waiting for the output");
    return MS_OK;
}

/* The steps (or the graph) once the input is in place, and the output out; waits for
 * a plain output when wait. */
ms_status cu_run_body(cu_plan *p, void *out, bool wait, ms_error *err)
{
    void *saved_out = NULL;
    ms_status st = MS_OK;
    if (p->base.native_out && !p->graph) { /* the last step writes straight into the caller's buffer */
        saved_out = p->dev[p->output];
        p->dev[p->output] = out;
    }
    if (p->graph) {
        cudaError_t e = cudaGraphLaunch(p->graph, STREAM);
        if (e != cudaSuccess) st = cu_fail(p, NULL, "launching the graph", cudaGetErrorString(e), err);
    } else {
        st = run_steps(p, STREAM, err);
    }
    if (!st) st = give_output(p, out, wait, err);
    if (!st && p->events) print_trace(p);
    p->runs++;
    if (saved_out) p->dev[p->output] = saved_out;
    return st;
}

static ms_status cu_run(ms_plan *base, const void *in, void *out, ms_error *err)
{
    cu_plan *p = (cu_plan *)base;
    if (p->n_subs) return cu_pipeline_run(p, in, out, err);
    void *saved_in = NULL;
    ms_status st = take_input(p, in, &saved_in, err);
    if (!st) st = cu_run_body(p, out, true, err);
    if (saved_in) p->dev[p->input] = saved_in;
    return st;
}

static ms_status cu_output_to_plain(ms_plan *base, const void *native, int frames, float *plain, ms_error *err)
{
    cu_plan *p = (cu_plan *)base;
    size_t n = (size_t)frames * (size_t)base->out_numel;
    const void *src = native;
    if (p->type != CU_F32) {
        if (cu_convert(p->type, native, CU_F32, p->stage_out, (int64_t)n, (cu_stream)STREAM))
            return cu_fail(p, NULL, "converting the output", cudaGetErrorString(cudaGetLastError()), err);
        src = p->stage_out;
    }
    CU_TRY(cudaMemcpyAsync(plain, src, n * 4, cudaMemcpyDeviceToHost, STREAM), "copying the output out");
    CU_TRY(cudaStreamSynchronize(STREAM), "waiting for the output");
    return MS_OK;
}

static ms_status cu_wait(ms_plan *base, ms_error *err)
{
    cu_plan *p = (cu_plan *)base;
    CU_TRY(cudaStreamSynchronize(STREAM), "waiting for the stream");
    return MS_OK;
}

static bool cu_same_output(const ms_plan *a, const ms_plan *b)
{
    return ((const cu_plan *)a)->type == ((const cu_plan *)b)->type;
}

static ms_status cu_buffer_new(size_t bytes, void **out, ms_error *err)
{
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *out = NULL;
        return ms_errorf(err, MS_ERR_BACKEND, "cuda: allocating %zu bytes of device memory failed: %s", bytes,
                         cudaGetErrorString(e));
    }
    return MS_OK;
}

static void cu_buffer_free(void *buf) { cudaFree(buf); }

static ms_status cu_buffer_copy(void *dst, const void *src, size_t bytes, ms_error *err)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, STREAM);
    if (e != cudaSuccess)
        return ms_errorf(err, MS_ERR_BACKEND, "cuda: copying %zu bytes on the device failed: %s", bytes,
                         cudaGetErrorString(e));
    return MS_OK;
}

__attribute__((visibility("default"))) const ms_backend ms_backend_cuda = {.name = "cuda",
                                                                           .compile = cu_compile,
                                                                           .run = cu_run,
                                                                           .free = cu_plan_free,
                                                                           .output_to_plain = cu_output_to_plain,
                                                                           .same_output = cu_same_output,
                                                                           .buffer_new = cu_buffer_new,
                                                                           .buffer_free = cu_buffer_free,
                                                                           .buffer_copy = cu_buffer_copy,
                                                                           .wait = cu_wait};

void cu_plan_release(cu_plan *p) { cu_plan_free(&p->base); }
