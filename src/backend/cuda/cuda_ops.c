/* The cuda backend's ops: each node of the plan's graph copy becomes one step, prepared
 * once at compile (cuDNN descriptors and the fastest algorithm cudnnFind measures,
 * weights uploaded in the plan's type, kernel arguments) and run by cu_run_step on a
 * stream with no allocation and no synchronisation.
 *
 * Convolutions (ordinary, grouped, depthwise, dilated) run on cuDNN in NHWC, whose
 * filter layout KRSC is the IR's [O, KH, KW, I/groups], so weights upload as they are.
 * cuDNN pads symmetrically only: a convolution whose padding differs before and after
 * (TensorFlow's SAME at stride 2) first zero-pads its input into a buffer of its own.
 * float32 plans keep to FMA math (no TF32), so they agree with ref to float rounding;
 * float16 plans allow tensor cores and accumulate in float32 (cuDNN's pseudo-half
 * configuration, cuBLAS's CUBLAS_COMPUTE_32F). Bias and the fused activation follow
 * as one elementwise pass. Fully connected layers are one cuBLAS product; everything
 * else is a kernel of cuda_kernels.cu. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "backend/ref/kernels.h"

size_t cu_type_size(cu_dtype t) { return t == CU_F32 ? 4 : 2; }

static cudnnDataType_t dnn_type(cu_dtype t) { return t == CU_F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_HALF; }

#define CU_TRY(call, what)                                                             \
    do {                                                                               \
        cudaError_t e_ = (call);                                                       \
        if (e_ != cudaSuccess) return cu_fail(p, n, what, cudaGetErrorString(e_), err); \
    } while (0)
#define DNN_TRY(call, what)                                                               \
    do {                                                                                  \
        cudnnStatus_t e_ = (call);                                                        \
        if (e_ != CUDNN_STATUS_SUCCESS) return cu_fail(p, n, what, cudnnGetErrorString(e_), err); \
    } while (0)
#define BLAS_TRY(call, what)                                                               \
    do {                                                                                   \
        cublasStatus_t e_ = (call);                                                        \
        if (e_ != CUBLAS_STATUS_SUCCESS) return cu_fail(p, n, what, cublasGetStatusString(e_), err); \
    } while (0)
#define K_TRY(call, what) CU_TRY((cudaError_t)(call), what)

/* Uploads count float32 values as the plan's type (or float32 when as_f32). */
static ms_status upload(cu_plan *p, const ms_node *n, const float *src, int64_t count, bool as_f32, void **out,
                        ms_error *err)
{
    cu_dtype t = as_f32 ? CU_F32 : p->type;
    size_t bytes = (size_t)count * cu_type_size(t);
    CU_TRY(cudaMalloc(out, bytes ? bytes : 4), "allocating weights");
    if (!count) return MS_OK;
    const void *host = src;
    uint16_t *half = NULL;
    if (t == CU_F16) {
        half = malloc(bytes);
        if (!half) return ms_errorf(err, MS_ERR_NOMEM, "%s: node '%s': out of memory converting weights",
                                    p->g->source, n->name);
        cu_host_to_half(src, half, count);
        host = half;
    }
    cudaError_t e = cudaMemcpy(*out, host, bytes, cudaMemcpyHostToDevice);
    free(half);
    CU_TRY(e, "uploading weights");
    return MS_OK;
}

/* A constant read as an activation (an add's or concat's operand) gets a device copy. */
static ms_status ensure_dev(cu_plan *p, const ms_node *n, int t, ms_error *err)
{
    if (p->dev[t]) return MS_OK;
    const ms_tensor *x = &p->g->tensors[t];
    if (!x->data) return ms_errorf(err, MS_ERR_INVALID, "%s: node '%s' reads tensor '%s', which nothing computes",
                                   p->g->source, n->name, x->name);
    return upload(p, n, x->data, ms_tensor_numel(x), false, &p->dev[t], err);
}

static bool has_act(const ms_node *n) { return !(isinf(n->act_min) && n->act_min < 0 && isinf(n->act_max) && n->act_max > 0); }

/* Measures cuDNN's algorithms on the plan's own buffers and keeps the fastest that
 * succeeds (and, in float32 plans, uses no tensor cores). */
static ms_status find_algo(cu_plan *p, cu_step *st, const void *x, void *y, ms_error *err)
{
    const ms_node *n = st->n;
    size_t free_b = 0, total_b = 0;
    CU_TRY(cudaMemGetInfo(&free_b, &total_b), "querying device memory");
    size_t cap = free_b / 4 < ((size_t)1 << 30) ? free_b / 4 : ((size_t)1 << 30);
    void *ws = NULL;
    CU_TRY(cudaMalloc(&ws, cap), "allocating the algorithm search workspace");
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int got = 0;
    cudnnStatus_t s = cudnnFindConvolutionForwardAlgorithmEx(p->dnn, st->xd, x, st->wd, st->w, st->cd, st->yd, y,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf, ws, cap);
    cudaFree(ws);
    if (s != CUDNN_STATUS_SUCCESS) return cu_fail(p, n, "searching convolution algorithms", cudnnGetErrorString(s), err);
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > cap) continue;
        if (p->type == CU_F32 && perf[i].mathType != CUDNN_DEFAULT_MATH && perf[i].mathType != CUDNN_FMA_MATH) continue;
        st->algo = perf[i].algo;
        st->work = perf[i].memory;
        DNN_TRY(cudnnSetConvolutionMathType(st->cd, perf[i].mathType), "setting the math type");
        if (st->work > p->work_size) p->work_size = st->work;
        return MS_OK;
    }
    return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': cuDNN has no algorithm for this convolution",
                     p->g->source, n->name);
}

static ms_status run_conv(cu_plan *p, cu_step *st, cudaStream_t s, ms_error *err);

/* Median time of a few runs of the step (on the buffers it has), after a warm-up. */
static ms_status time_step(cu_plan *p, cu_step *st, float *ms, ms_error *err)
{
    const ms_node *n = st->n;
    cudaEvent_t ev[6];
    for (int i = 0; i < 6; i++) CU_TRY(cudaEventCreate(&ev[i]), "creating events");
    ms_status s = run_conv(p, st, cudaStreamPerThread, err);
    for (int i = 0; !s && i < 5; i++) {
        cudaEventRecord(ev[i], cudaStreamPerThread);
        s = run_conv(p, st, cudaStreamPerThread, err);
    }
    if (!s) cudaEventRecord(ev[5], cudaStreamPerThread);
    cudaError_t e = cudaEventSynchronize(ev[5]);
    float t[5] = {0};
    for (int i = 0; !s && e == cudaSuccess && i < 5; i++) cudaEventElapsedTime(&t[i], ev[i], ev[i + 1]);
    for (int i = 0; i < 6; i++) cudaEventDestroy(ev[i]);
    if (s) return s;
    CU_TRY(e, "timing a convolution");
    for (int i = 0; i < 5; i++) /* a median of five by insertion */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            float x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    *ms = t[2];
    return MS_OK;
}

/* The cuDNN path (st->impl as found) against the own path where the convolution has
 * one (depthwise with multiplier 1, or 1x1 at stride 1 without padding): the faster
 * stays. MS_CUDA_CONV=cudnn or own overrides the timing. found: find_algo's status. */
static ms_status choose_conv(cu_plan *p, cu_step *st, ms_status found, ms_error *err)
{
    const ms_node *n = st->n;
    const ms_tensor *x = &p->g->tensors[n->inputs[0]], *w = &p->g->tensors[n->inputs[1]];
    const ms_tensor *y = &p->g->tensors[n->output];
    int64_t C = x->shape[3], O = w->shape[0], KH = w->shape[1], KW = w->shape[2];
    bool dw = n->groups == C && O == C && w->shape[3] == 1 && ms_tensor_numel(y) < ((int64_t)1 << 31);
    bool gemm = n->groups == 1 && KH == 1 && KW == 1 && n->stride_h == 1 && n->stride_w == 1 && !n->pad_top &&
                !n->pad_bottom && !n->pad_left && !n->pad_right && x->shape[0] * x->shape[1] * x->shape[2] < INT32_MAX;
    bool direct = n->groups == 1 && C <= 4 && !gemm && ms_tensor_numel(y) < ((int64_t)1 << 31);
    if (!dw && !gemm && !direct) return found;
    const char *force = getenv("MS_CUDA_CONV");
    bool want_cudnn = force && !strcmp(force, "cudnn"), want_own = force && !strcmp(force, "own");
    if (dw) {
        float *host = malloc((size_t)(KH * KW * C) * sizeof *host);
        if (!host) return ms_errorf(err, MS_ERR_NOMEM, "%s: node '%s': out of memory", p->g->source, n->name);
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < KH * KW; k++) host[k * C + c] = w->data[c * KH * KW + k];
        ms_status s = upload(p, n, host, KH * KW * C, true, (void **)&st->wdw, err);
        free(host);
        if (s) return s;
        st->dw = (cu_dw_args){.N = (int)x->shape[0], .H = (int)x->shape[1], .W = (int)x->shape[2], .C = (int)C,
                              .OH = (int)y->shape[1], .OW = (int)y->shape[2], .KH = (int)KH, .KW = (int)KW,
                              .sh = n->stride_h, .sw = n->stride_w, .dh = n->dilation_h, .dw = n->dilation_w,
                              .pt = n->pad_top, .pl = n->pad_left, .lo = n->act_min, .hi = n->act_max};
    }
    if (direct) {
        float *host = malloc((size_t)(KH * KW * C * O) * sizeof *host);
        if (!host) return ms_errorf(err, MS_ERR_NOMEM, "%s: node '%s': out of memory", p->g->source, n->name);
        for (int64_t o = 0; o < O; o++)
            for (int64_t k = 0; k < KH * KW * C; k++) host[k * O + o] = w->data[o * KH * KW * C + k];
        ms_status s = upload(p, n, host, KH * KW * C * O, true, (void **)&st->wdw, err);
        free(host);
        if (s) return s;
        st->direct = (cu_direct_args){.N = (int)x->shape[0], .H = (int)x->shape[1], .W = (int)x->shape[2],
                                      .C = (int)C, .OH = (int)y->shape[1], .OW = (int)y->shape[2], .O = (int)O,
                                      .KH = (int)KH, .KW = (int)KW, .sh = n->stride_h, .sw = n->stride_w,
                                      .dh = n->dilation_h, .dw = n->dilation_w, .pt = n->pad_top,
                                      .pl = n->pad_left, .lo = n->act_min, .hi = n->act_max};
    }
    cu_conv_impl own = dw ? CU_CONV_DEPTHWISE : gemm ? CU_CONV_GEMM : CU_CONV_DIRECT;
    if (found || want_own) {
        st->impl = own;
    } else if (!want_cudnn) {
        float t_cudnn = 0, t_own = 0;
        void *ws = NULL;
        CU_TRY(cudaMalloc(&ws, st->work ? st->work : 16), "allocating a workspace");
        void *saved = p->work;
        p->work = ws;
        st->impl = CU_CONV_CUDNN;
        ms_status s = time_step(p, st, &t_cudnn, err);
        p->work = saved;
        cudaFree(ws);
        st->impl = own;
        if (!s) s = time_step(p, st, &t_own, err);
        if (s) return s;
        st->impl = t_own <= t_cudnn ? own : CU_CONV_CUDNN;
    }
    if (st->impl != CU_CONV_CUDNN) { /* the cuDNN path's buffers are not needed */
        cudaFree(st->padded);
        st->padded = NULL;
        st->work = 0;
    }
    if (found && st->impl == CU_CONV_CUDNN) return found;
    ms_error_clear(err);
    return MS_OK;
}

static ms_status prepare_conv(cu_plan *p, cu_step *st, ms_error *err)
{
    const ms_node *n = st->n;
    const ms_graph *g = p->g;
    const ms_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]], *y = &g->tensors[n->output];
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4 || !w->data || n->groups < 1)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': the cuda backend needs NHWC input and constant weights",
                         g->source, n->name);
    int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int ph = n->pad_top, pw = n->pad_left;
    const void *xin = p->dev[n->inputs[0]];
    if (n->pad_top != n->pad_bottom || n->pad_left != n->pad_right) {
        st->pad = (cu_pad_args){.xs = {N, H, W, C},
                                .ys = {N, H + n->pad_top + n->pad_bottom, W + n->pad_left + n->pad_right, C},
                                .before = {0, n->pad_top, n->pad_left, 0}};
        size_t bytes = (size_t)(st->pad.ys[0] * st->pad.ys[1] * st->pad.ys[2] * C) * cu_type_size(p->type);
        CU_TRY(cudaMalloc(&st->padded, bytes), "allocating the padded input");
        CU_TRY(cudaMemset(st->padded, 0, bytes), "zeroing the padded input");
        H = st->pad.ys[1];
        W = st->pad.ys[2];
        ph = pw = 0;
        xin = st->padded;
    }
    cudnnDataType_t dt = dnn_type(p->type);
    DNN_TRY(cudnnCreateTensorDescriptor(&st->xd), "creating a descriptor");
    DNN_TRY(cudnnCreateTensorDescriptor(&st->yd), "creating a descriptor");
    DNN_TRY(cudnnCreateFilterDescriptor(&st->wd), "creating a descriptor");
    DNN_TRY(cudnnCreateConvolutionDescriptor(&st->cd), "creating a descriptor");
    DNN_TRY(cudnnSetTensor4dDescriptor(st->xd, CUDNN_TENSOR_NHWC, dt, (int)N, (int)C, (int)H, (int)W), "input descriptor");
    DNN_TRY(cudnnSetTensor4dDescriptor(st->yd, CUDNN_TENSOR_NHWC, dt, (int)y->shape[0], (int)y->shape[3],
                                       (int)y->shape[1], (int)y->shape[2]),
            "output descriptor");
    DNN_TRY(cudnnSetFilter4dDescriptor(st->wd, dt, CUDNN_TENSOR_NHWC, (int)w->shape[0], (int)w->shape[3],
                                       (int)w->shape[1], (int)w->shape[2]),
            "filter descriptor");
    DNN_TRY(cudnnSetConvolution2dDescriptor(st->cd, ph, pw, n->stride_h, n->stride_w, n->dilation_h, n->dilation_w,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            "convolution descriptor");
    DNN_TRY(cudnnSetConvolutionGroupCount(st->cd, n->groups), "group count");
    DNN_TRY(cudnnSetConvolutionMathType(st->cd, p->type == CU_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH), "math type");
    int on, oc, oh, ow;
    DNN_TRY(cudnnGetConvolution2dForwardOutputDim(st->cd, st->xd, st->wd, &on, &oc, &oh, &ow), "output shape");
    if (on != y->shape[0] || oc != y->shape[3] || oh != y->shape[1] || ow != y->shape[2])
        return ms_errorf(err, MS_ERR_INVALID, "%s: node '%s': cuDNN computes a %dx%dx%d output, the graph says %lldx%lldx%lld",
                         g->source, n->name, oh, ow, oc, (long long)y->shape[1], (long long)y->shape[2],
                         (long long)y->shape[3]);
    ms_status s = upload(p, n, w->data, ms_tensor_numel(w), false, &st->w, err);
    if (!s && n->n_inputs > 2 && n->inputs[2] >= 0) {
        const ms_tensor *b = &g->tensors[n->inputs[2]];
        if (!b->data || ms_tensor_numel(b) != y->shape[3])
            return ms_errorf(err, MS_ERR_INVALID, "%s: node '%s': bias is not a constant of %lld values", g->source,
                             n->name, (long long)y->shape[3]);
        s = upload(p, n, b->data, ms_tensor_numel(b), true, (void **)&st->b, err);
    }
    if (s) return s;
    ms_status found = find_algo(p, st, xin, p->dev[n->output], err);
    return choose_conv(p, st, found, err);
}

static ms_status prepare_fc(cu_plan *p, cu_step *st, ms_error *err)
{
    const ms_node *n = st->n;
    const ms_graph *g = p->g;
    const ms_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]], *y = &g->tensors[n->output];
    if (w->ndim != 2 || !w->data)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': fully connected needs constant [O, I] weights",
                         g->source, n->name);
    st->rows = y->shape[0];
    st->cols = w->shape[0];
    st->inner = w->shape[1];
    if (st->rows < 1 || ms_tensor_numel(x) != st->rows * st->inner || ms_tensor_numel(y) != st->rows * st->cols)
        return ms_errorf(err, MS_ERR_INVALID, "%s: node '%s': input of %lld values does not flatten to [%lld, %lld]",
                         g->source, n->name, (long long)ms_tensor_numel(x), (long long)st->rows, (long long)st->inner);
    ms_status s = upload(p, n, w->data, ms_tensor_numel(w), false, &st->w, err);
    if (!s && n->n_inputs > 2 && n->inputs[2] >= 0) {
        const ms_tensor *b = &g->tensors[n->inputs[2]];
        if (!b->data || ms_tensor_numel(b) != st->cols)
            return ms_errorf(err, MS_ERR_INVALID, "%s: node '%s': bias is not a constant of %lld values", g->source,
                             n->name, (long long)st->cols);
        s = upload(p, n, b->data, st->cols, true, (void **)&st->b, err);
    }
    return s;
}

static ms_status prepare_bn(cu_plan *p, cu_step *st, ms_error *err)
{
    const ms_node *n = st->n;
    const ms_graph *g = p->g;
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    int64_t C = x->shape[x->ndim - 1];
    const float *prm[4];
    for (int k = 0; k < 4; k++) {
        const ms_tensor *t = &g->tensors[n->inputs[k + 1]];
        if (!t->data || ms_tensor_numel(t) != C)
            return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': batch norm parameters must be constants of %lld values",
                             g->source, n->name, (long long)C);
        prm[k] = t->data;
    }
    float *sc = malloc((size_t)C * 2 * sizeof *sc);
    if (!sc) return ms_errorf(err, MS_ERR_NOMEM, "%s: node '%s': out of memory", g->source, n->name);
    for (int64_t c = 0; c < C; c++) { /* scale, offset, mean, variance */
        double s = prm[0][c] / sqrt((double)prm[3][c] + n->epsilon);
        sc[c] = (float)s;
        sc[C + c] = (float)(prm[1][c] - prm[2][c] * s);
    }
    ms_status s = upload(p, n, sc, C, true, (void **)&st->scale, err);
    if (!s) s = upload(p, n, sc + C, C, true, (void **)&st->shift, err);
    free(sc);
    return s;
}

static void prepare_pool(cu_plan *p, cu_step *st)
{
    const ms_node *n = st->n;
    const ms_tensor *x = &p->g->tensors[n->inputs[0]], *y = &p->g->tensors[n->output];
    st->pool = (cu_pool_args){.N = x->shape[0], .H = x->shape[1], .W = x->shape[2], .C = x->shape[3],
                              .OH = y->shape[1], .OW = y->shape[2], .kh = n->kernel_h, .kw = n->kernel_w,
                              .sh = n->stride_h, .sw = n->stride_w, .pt = n->pad_top, .pl = n->pad_left,
                              .take_max = n->kind == MS_OP_MAX_POOL, .lo = n->act_min, .hi = n->act_max};
}

static void prepare_mean(cu_plan *p, cu_step *st)
{
    const ms_node *n = st->n;
    const ms_tensor *x = &p->g->tensors[n->inputs[0]];
    ref_tensor v = {.ndim = x->ndim};
    memcpy(v.shape, x->shape, sizeof v.shape);
    st->mean.count = ref_mean_geometry(n, &v, st->mean.kept, st->mean.reduced, st->mean.stride);
    st->mean.lo = n->act_min;
    st->mean.hi = n->act_max;
}

static void prepare_pad(cu_plan *p, cu_step *st)
{
    const ms_node *n = st->n;
    const ms_tensor *x = &p->g->tensors[n->inputs[0]], *y = &p->g->tensors[n->output];
    cu_pad_args a = {.xs = {1, 1, 1, 1}, .ys = {1, 1, 1, 1}, .before = {0, 0, 0, 0}};
    int lead = 4 - x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        a.xs[lead + d] = x->shape[d];
        a.ys[lead + d] = y->shape[d];
        a.before[lead + d] = n->pads[d][0];
    }
    st->pad = a;
}

/* A depthwise step on the own kernel reading a convolution's output that nothing else
 * reads takes over that convolution's bias and activation: applied as it loads its
 * input, they cost no pass of their own. */
static void defer_into(cu_plan *p, int i)
{
    cu_step *st = &p->steps[i];
    int t = st->n->inputs[0], producer = -1, readers = 0;
    for (int k = 0; k < i; k++)
        if (p->g->nodes[k].output == t) producer = k;
    for (int k = 0; k < p->g->n_nodes; k++)
        for (int j = 0; j < p->g->nodes[k].n_inputs; j++) readers += p->g->nodes[k].inputs[j] == t;
    if (producer < 0 || readers != 1 || t == p->output || p->g->nodes[producer].kind != MS_OP_CONV2D) return;
    cu_step *ps = &p->steps[producer];
    if (ps->impl == CU_CONV_DEPTHWISE || ps->impl == CU_CONV_DIRECT || !(ps->b || has_act(ps->n))) return;
    ps->defer_act = true;
    st->dw.in_act = 1;
    st->dw.in_bias = ps->b;
    st->dw.in_lo = ps->n->act_min;
    st->dw.in_hi = ps->n->act_max;
}

ms_status cu_prepare_step(cu_plan *p, int i, ms_error *err)
{
    cu_step *st = &p->steps[i];
    const ms_node *n = &p->g->nodes[i];
    st->n = n;
    bool weights = n->kind == MS_OP_CONV2D || n->kind == MS_OP_FULLY_CONNECTED || n->kind == MS_OP_BATCH_NORM;
    int reads = weights ? 1 : n->n_inputs;
    for (int k = 0; k < reads; k++) {
        ms_status s = ensure_dev(p, n, n->inputs[k], err);
        if (s) return s;
    }
    const ms_tensor *x = &p->g->tensors[n->inputs[0]];
    bool spatial = n->kind == MS_OP_AVG_POOL || n->kind == MS_OP_MAX_POOL || n->kind == MS_OP_GLOBAL_AVG_POOL;
    if (spatial && x->ndim != 4)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': %s needs an NHWC input", p->g->source, n->name,
                         ms_op_name(n->kind));
    switch (n->kind) {
    case MS_OP_CONV2D: {
        ms_status s = prepare_conv(p, st, err);
        if (!s && st->impl == CU_CONV_DEPTHWISE) defer_into(p, i);
        return s;
    }
    case MS_OP_FULLY_CONNECTED: return prepare_fc(p, st, err);
    case MS_OP_BATCH_NORM: return prepare_bn(p, st, err);
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL: prepare_pool(p, st); return MS_OK;
    case MS_OP_MEAN: prepare_mean(p, st); return MS_OK;
    case MS_OP_PAD: prepare_pad(p, st); return MS_OK;
    case MS_OP_CONCAT:
        if (n->axis < 0 || n->axis >= p->g->tensors[n->output].ndim)
            return ms_errorf(err, MS_ERR_INVALID, "%s: node '%s': concat axis %d", p->g->source, n->name, n->axis);
        return MS_OK;
    case MS_OP_CLIP:
    case MS_OP_GLOBAL_AVG_POOL:
    case MS_OP_ADD:
    case MS_OP_RESHAPE:
    case MS_OP_COPY:
    case MS_OP_SOFTMAX:
    case MS_OP_SIGMOID: return MS_OK;
    default: break;
    }
    return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': op %s is not supported by the cuda backend",
                     p->g->source, n->name, ms_op_name(n->kind));
}

static ms_status run_conv(cu_plan *p, cu_step *st, cudaStream_t s, ms_error *err)
{
    const ms_node *n = st->n;
    const void *x = p->dev[n->inputs[0]];
    void *y = p->dev[n->output];
    if (st->impl == CU_CONV_DEPTHWISE) {
        K_TRY(cu_depthwise(p->type, x, st->wdw, st->b, y, &st->dw, (cu_stream)s), "depthwise convolution");
        return MS_OK;
    }
    if (st->impl == CU_CONV_DIRECT) {
        K_TRY(cu_direct(p->type, x, st->wdw, st->b, y, &st->direct, (cu_stream)s), "direct convolution");
        return MS_OK;
    }
    if (st->impl == CU_CONV_GEMM) {
        const ms_tensor *yt = &p->g->tensors[n->output];
        float one = 1.0f, zero = 0.0f;
        int O = (int)yt->shape[3], M = (int)(yt->shape[0] * yt->shape[1] * yt->shape[2]);
        int K = (int)p->g->tensors[n->inputs[0]].shape[3];
        cudaDataType_t t = p->type == CU_F32 ? CUDA_R_32F : CUDA_R_16F;
        BLAS_TRY(cublasGemmEx(p->blas, CUBLAS_OP_T, CUBLAS_OP_N, O, M, K, &one, st->w, t, K, x, t, K, &zero, y, t, O,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "1x1 convolution as a matrix product");
        if ((st->b || has_act(n)) && !st->defer_act)
            K_TRY(cu_bias_act(p->type, y, st->b, (int64_t)M * O, O, n->act_min, n->act_max, (cu_stream)s),
                  "bias and activation");
        return MS_OK;
    }
    if (st->padded) {
        K_TRY(cu_pad(p->type, x, st->padded, &st->pad, (cu_stream)s), "padding the input");
        x = st->padded;
    }
    float one = 1.0f, zero = 0.0f;
    DNN_TRY(cudnnConvolutionForward(p->dnn, &one, st->xd, x, st->wd, st->w, st->cd, st->algo, p->work, st->work, &zero,
                                    st->yd, y),
            "convolution");
    if ((st->b || has_act(n)) && !st->defer_act) {
        const ms_tensor *yt = &p->g->tensors[n->output];
        K_TRY(cu_bias_act(p->type, y, st->b, ms_tensor_numel(yt), yt->shape[3], n->act_min, n->act_max, (cu_stream)s),
              "bias and activation");
    }
    return MS_OK;
}

static ms_status run_fc(cu_plan *p, cu_step *st, cudaStream_t s, ms_error *err)
{
    const ms_node *n = st->n;
    const void *x = p->dev[n->inputs[0]];
    void *y = p->dev[n->output];
    float one = 1.0f, zero = 0.0f;
    int M = (int)st->cols, N = (int)st->rows, K = (int)st->inner;
    /* column-major: y^T [O x N] = W^T' ... W is row-major [O, I], i.e. column-major I x O */
    cudaDataType_t t = p->type == CU_F32 ? CUDA_R_32F : CUDA_R_16F;
    BLAS_TRY(cublasGemmEx(p->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, st->w, t, K, x, t, K, &zero, y, t, M,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "matrix product");
    if (st->b || has_act(n))
        K_TRY(cu_bias_act(p->type, y, st->b, st->rows * st->cols, st->cols, n->act_min, n->act_max, (cu_stream)s),
              "bias and activation");
    return MS_OK;
}

static ms_status run_concat(cu_plan *p, const ms_node *n, cudaStream_t s, ms_error *err)
{
    const ms_tensor *y = &p->g->tensors[n->output];
    int64_t outer = 1;
    for (int d = 0; d < n->axis; d++) outer *= y->shape[d];
    size_t es = cu_type_size(p->type), yrow = (size_t)(ms_tensor_numel(y) / outer) * es, off = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        size_t row = (size_t)(ms_tensor_numel(&p->g->tensors[n->inputs[k]]) / outer) * es;
        if (row)
            CU_TRY(cudaMemcpy2DAsync((char *)p->dev[n->output] + off, yrow, p->dev[n->inputs[k]], row, row,
                                     (size_t)outer, cudaMemcpyDeviceToDevice, s),
                   "concatenating");
        off += row;
    }
    return MS_OK;
}

ms_status cu_run_step(cu_plan *p, int i, cudaStream_t s, ms_error *err)
{
    cu_step *st = &p->steps[i];
    const ms_node *n = st->n;
    const ms_tensor *x = &p->g->tensors[n->inputs[0]], *yt = &p->g->tensors[n->output];
    const void *in = p->dev[n->inputs[0]];
    void *y = p->dev[n->output];
    cu_stream cs = (cu_stream)s;
    cu_dtype t = p->type;
    int64_t total = ms_tensor_numel(yt);
    switch (n->kind) {
    case MS_OP_CONV2D: return run_conv(p, st, s, err);
    case MS_OP_FULLY_CONNECTED: return run_fc(p, st, s, err);
    case MS_OP_BATCH_NORM:
        K_TRY(cu_affine(t, in, y, st->scale, st->shift, total, x->shape[x->ndim - 1], n->act_min, n->act_max, cs),
              "batch norm");
        return MS_OK;
    case MS_OP_CLIP: K_TRY(cu_clip(t, in, y, total, n->act_min, n->act_max, cs), "clip"); return MS_OK;
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL: K_TRY(cu_pool(t, in, y, &st->pool, cs), "pooling"); return MS_OK;
    case MS_OP_GLOBAL_AVG_POOL:
        K_TRY(cu_global_avg(t, in, y, x->shape[0], x->shape[1] * x->shape[2], x->shape[3], n->act_min, n->act_max, cs),
              "global average pooling");
        return MS_OK;
    case MS_OP_MEAN: K_TRY(cu_mean(t, in, y, &st->mean, cs), "mean"); return MS_OK;
    case MS_OP_ADD:
        K_TRY(cu_add(t, in, p->dev[n->inputs[1]], y, total, ms_tensor_numel(&p->g->tensors[n->inputs[1]]), n->act_min,
                     n->act_max, cs),
              "add");
        return MS_OK;
    case MS_OP_CONCAT: return run_concat(p, n, s, err);
    case MS_OP_PAD: K_TRY(cu_pad(t, in, y, &st->pad, cs), "pad"); return MS_OK;
    case MS_OP_RESHAPE:
    case MS_OP_COPY:
        CU_TRY(cudaMemcpyAsync(y, in, (size_t)total * cu_type_size(t), cudaMemcpyDeviceToDevice, s), "copy");
        return MS_OK;
    case MS_OP_SOFTMAX: {
        int64_t len = x->shape[x->ndim - 1];
        K_TRY(cu_softmax(t, in, y, len ? total / len : 0, len, n->beta, cs), "softmax");
        return MS_OK;
    }
    case MS_OP_SIGMOID: K_TRY(cu_sigmoid(t, in, y, total, cs), "sigmoid"); return MS_OK;
    default: break;
    }
    return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s': op %s", p->g->source, n->name, ms_op_name(n->kind));
}

void cu_free_step(cu_step *st)
{
    if (st->xd) cudnnDestroyTensorDescriptor(st->xd);
    if (st->yd) cudnnDestroyTensorDescriptor(st->yd);
    if (st->wd) cudnnDestroyFilterDescriptor(st->wd);
    if (st->cd) cudnnDestroyConvolutionDescriptor(st->cd);
    cudaFree(st->padded);
    cudaFree(st->wdw);
    cudaFree(st->w);
    cudaFree(st->b);
    cudaFree(st->scale);
    cudaFree(st->shift);
}
