/* Internals of the cuda backend shared by its files: the plan (a private copy of the
 * graph at the plan's batch, one device buffer per activation, one step per node with
 * its cuDNN descriptors, weights and kernel arguments), and the per-op lowering.
 *
 * Every device call of a run goes to the calling thread's default stream
 * (cudaStreamPerThread), so consecutive plans run from one thread are ordered without
 * any synchronisation between them; a CUDA graph captured at compile is launched on
 * that stream too. */
#ifndef MS_BACKEND_CUDA_INTERNAL_H
#define MS_BACKEND_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdbool.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"

/* How a convolution runs: cuDNN; the own depthwise kernel (padding, bias and clamp
 * fused); for a 1x1 convolution, one cuBLAS product; for an input of few channels
 * (a first layer), the own direct kernel. Chosen by timing at compile. */
typedef enum { CU_CONV_CUDNN, CU_CONV_DEPTHWISE, CU_CONV_GEMM, CU_CONV_DIRECT } cu_conv_impl;

typedef struct {
    const ms_node *n; /* in the plan's graph copy */
    cu_conv_impl impl;
    float *wdw;        /* depthwise: float32 weights [KH, KW, C] */
    cu_dw_args dw;
    cu_direct_args direct; /* direct: weights [KH, KW, C, O] float32 in wdw */
    bool defer_act;    /* bias and activation left to the depthwise step reading the output */
    /* conv */
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t algo;
    size_t work;       /* workspace bytes the algorithm needs */
    void *padded;      /* conv with asymmetric padding: the zero-padded input, or NULL */
    cu_pad_args pad;   /* its geometry */
    /* conv, fc: device weights in the plan's type, bias float32 (NULL: none) */
    void *w;
    float *b;
    int64_t rows, cols, inner; /* fc: frames, outputs, inputs */
    /* batch norm: per-channel scale and shift, float32 */
    float *scale, *shift;
    cu_pool_args pool;
    cu_mean_args mean;
} cu_step;

typedef struct cu_plan {
    ms_plan base;
    ms_graph *g;       /* private copy: shapes at the batch, padding resolved */
    cu_dtype type;     /* activations and weights: float32, or float16 (fp32 accumulation) */
    cu_dtype in_type;  /* the native input's type (its producer's), when base.native_in */
    int input, output;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void **dev;        /* per tensor: its device buffer (activations), NULL otherwise */
    cu_step *steps;    /* one per node */
    void *work;        /* cuDNN workspace, the largest any step needs */
    size_t work_size;
    void *blas_work;   /* cuBLAS workspace, set on the handle (graph capture needs it) */
    float *stage_in;   /* plain input of a float16 plan, as float32, before conversion */
    float *stage_out;  /* plain output of a float16 plan, as float32, after conversion */
    void *native_in_buf; /* a native input of another type, converted into dev[input] */
    cudaGraphExec_t graph; /* the steps captured, or NULL: launched one by one */
    /* MS_CUDA_TRACE=N: the N-th run launched step by step prints each step's time */
    cudaEvent_t *events;   /* one per step and one after the last */
    int trace_run, runs;
    /* A pipelined plan (cuda_pipeline.c) holds only sub-plans for slices of the batch,
     * whose input copies overlap the previous slice's compute; g and the rest are unused. */
    struct cu_plan **subs;
    int n_subs;
    cudaStream_t copy_stream;
    cudaEvent_t *copied, *done; /* per slice: its input is in; its compute is done */
} cu_plan;

/* Reports a failed CUDA, cuDNN or cuBLAS call as MS_ERR_BACKEND naming the node. */
ms_status cu_fail(const cu_plan *p, const ms_node *n, const char *what, const char *why, ms_error *err);

/* cuda_ops.c: prepares node i's step (descriptors, weights, algorithm) and runs it. */
ms_status cu_prepare_step(cu_plan *p, int i, ms_error *err);
ms_status cu_run_step(cu_plan *p, int i, cudaStream_t s, ms_error *err);
void cu_free_step(cu_step *st);

size_t cu_type_size(cu_dtype t);

/* cuda_backend.c: one plan (no pipelining); the steps once the input is in place, then
 * the output (waiting for a plain one when wait). */
ms_status cu_compile_one(const ms_graph *g, const ms_plan_options *opts, cu_plan **out, ms_error *err);
ms_status cu_run_body(cu_plan *p, void *out, bool wait, ms_error *err);
void cu_plan_release(cu_plan *p);

/* cuda_pipeline.c */
bool cu_pipeline_wanted(const ms_plan_options *opts);
ms_status cu_pipeline_compile(const ms_graph *g, const ms_plan_options *opts, cu_plan **out, ms_error *err);
ms_status cu_pipeline_run(cu_plan *p, const void *in, void *out, ms_error *err);
void cu_pipeline_free(cu_plan *p);

#endif
