/* Pipelined plans: at large batches, copying the float32 input from the host takes
 * about as long as the network (MobileNetV1 1.0_224 in float16 at batch 256 on an H200:
 * 154 MB over PCIe, ~2.9 ms, against ~4.3 ms of compute). A plan whose input is plain
 * host memory and whose output is plain is then compiled as 4 sub-plans of a quarter
 * of the batch each; a run copies slice k+1 in on a copy stream while slice k computes
 * on the thread's stream, events ordering each slice's compute after its copy and the
 * next run's copy after the slice's compute. With page-locked input the copies overlap
 * the compute; with pageable input they are synchronous and the run is as unpipelined.
 * MS_CUDA_PIPELINE=0 turns it off (and MS_CUDA_TRACE does, to time plain steps). */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

enum { SLICES = 4, MIN_SLICE = 64 }; /* slices of 16 lost 12% at batch 64 (fp16): see docs/backend-cuda.md */

#define STREAM cudaStreamPerThread

bool cu_pipeline_wanted(const ms_plan_options *opts)
{
    const char *e = getenv("MS_CUDA_PIPELINE"), *tr = getenv("MS_CUDA_TRACE");
    if ((e && !strcmp(e, "0")) || (tr && atoi(tr) > 0)) return false;
    return !opts->input_from && !opts->native_output && opts->batch % SLICES == 0 &&
           opts->batch / SLICES >= MIN_SLICE;
}

void cu_pipeline_free(cu_plan *p)
{
    for (int k = 0; k < p->n_subs; k++) {
        if (p->subs[k]) cu_plan_release(p->subs[k]);
        if (p->copied && p->copied[k]) cudaEventDestroy(p->copied[k]);
        if (p->done && p->done[k]) cudaEventDestroy(p->done[k]);
    }
    if (p->copy_stream) cudaStreamDestroy(p->copy_stream);
    /* n_subs stays 0 when the arrays were not allocated */
    free(p->subs);
    free(p->copied);
    free(p->done);
    free(p);
}

ms_status cu_pipeline_compile(const ms_graph *g, const ms_plan_options *opts, cu_plan **out, ms_error *err)
{
    *out = NULL;
    cu_plan *p = calloc(1, sizeof *p);
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", g->source ? g->source : "graph");
    p->subs = calloc(SLICES, sizeof *p->subs);
    p->copied = calloc(SLICES, sizeof *p->copied);
    p->done = calloc(SLICES, sizeof *p->done);
    ms_status st = p->subs && p->copied && p->done ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    if (!st) p->n_subs = SLICES;
    ms_plan_options so = *opts;
    so.batch = opts->batch / SLICES;
    for (int k = 0; !st && k < SLICES; k++) st = cu_compile_one(g, &so, &p->subs[k], err);
    cudaError_t e = cudaSuccess;
    if (!st) e = cudaStreamCreateWithFlags(&p->copy_stream, cudaStreamNonBlocking);
    for (int k = 0; !st && e == cudaSuccess && k < SLICES; k++) {
        e = cudaEventCreateWithFlags(&p->copied[k], cudaEventDisableTiming);
        if (e == cudaSuccess) e = cudaEventCreateWithFlags(&p->done[k], cudaEventDisableTiming);
    }
    if (!st && e != cudaSuccess) st = cu_fail(p->subs[0], NULL, "creating the pipeline", cudaGetErrorString(e), err);
    if (st) {
        cu_pipeline_free(p);
        return st;
    }
    const cu_plan *s0 = p->subs[0];
    p->base = s0->base;
    p->base.opts = *opts;
    p->type = s0->type;
    *out = p;
    return MS_OK;
}

ms_status cu_pipeline_run(cu_plan *p, const void *in, void *out, ms_error *err)
{
    size_t in_slice = (size_t)p->subs[0]->base.opts.batch * (size_t)p->base.in_bytes;
    size_t out_slice = (size_t)p->subs[0]->base.opts.batch * (size_t)p->base.out_bytes;
    ms_status st = MS_OK;
    for (int k = 0; !st && k < p->n_subs; k++) {
        cu_plan *s = p->subs[k];
        size_t n = (size_t)s->base.opts.batch * (size_t)s->base.in_numel;
        void *dst = s->type == CU_F32 ? s->dev[s->input] : (void *)s->stage_in;
        cudaError_t e = cudaStreamWaitEvent(p->copy_stream, p->done[k], 0); /* the last run's slice k read it */
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(dst, (const char *)in + k * in_slice, n * 4, cudaMemcpyHostToDevice, p->copy_stream);
        if (e == cudaSuccess) e = cudaEventRecord(p->copied[k], p->copy_stream);
        if (e == cudaSuccess) e = cudaStreamWaitEvent(STREAM, p->copied[k], 0);
        if (e == cudaSuccess && s->type != CU_F32)
            e = (cudaError_t)cu_convert(CU_F32, dst, s->type, s->dev[s->input], (int64_t)n, (cu_stream)STREAM);
        if (e != cudaSuccess) return cu_fail(s, NULL, "copying a slice of the input in", cudaGetErrorString(e), err);
        st = cu_run_body(s, (char *)out + k * out_slice, false, err);
        if (!st) {
            e = cudaEventRecord(p->done[k], STREAM);
            if (e != cudaSuccess) st = cu_fail(s, NULL, "recording an event", cudaGetErrorString(e), err);
        }
    }
    if (!st) {
        cudaError_t e = cudaStreamSynchronize(STREAM);
        if (e != cudaSuccess) st = cu_fail(p->subs[0], NULL, "waiting for the output", cudaGetErrorString(e), err);
    }
    return st;
}
