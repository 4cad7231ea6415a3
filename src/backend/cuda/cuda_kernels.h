/* The cuda backend's own kernels (cuda_kernels.cu), for the ops cuDNN and cuBLAS do not
 * cover as the IR defines them: bias and clamp after a convolution or a matrix product,
 * clip, add with per-channel broadcast, inference batch norm, pooling that averages over
 * real cells only (TFLite's), global average pooling, the mean over any axes, zero
 * padding of any rank, softmax over the last axis, sigmoid, and conversions between
 * float32 and float16. Every kernel reads and writes elements of one type (CU_F32 or
 * CU_F16), computes in float32, and is launched on the given stream; a launcher
 * returns the launch's cudaError_t (as int), never synchronises. */
#ifndef MS_BACKEND_CUDA_KERNELS_H
#define MS_BACKEND_CUDA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CU_F32 = 0, CU_F16 = 1 } cu_dtype;

typedef struct CUstream_st *cu_stream;

/* y[i] = clamp(y[i] + bias[i % C]) in place; bias (float32) may be NULL. */
int cu_bias_act(cu_dtype t, void *y, const float *bias, int64_t total, int64_t C, float lo, float hi,
                cu_stream s);
/* y[i] = clamp(x[i]) */
int cu_clip(cu_dtype t, const void *x, void *y, int64_t total, float lo, float hi, cu_stream s);
/* y[i] = clamp(a[i] + b[i % nb]) */
int cu_add(cu_dtype t, const void *a, const void *b, void *y, int64_t total, int64_t nb, float lo, float hi,
           cu_stream s);
/* y[i] = clamp(x[i] * scale[c] + shift[c]), c = i % C (float32 scale and shift) */
int cu_affine(cu_dtype t, const void *x, void *y, const float *scale, const float *shift, int64_t total, int64_t C,
              float lo, float hi, cu_stream s);

typedef struct {
    int64_t N, H, W, C, OH, OW;
    int kh, kw, sh, sw, pt, pl;
    int take_max;
    float lo, hi;
} cu_pool_args;
int cu_pool(cu_dtype t, const void *x, void *y, const cu_pool_args *a, cu_stream s);
/* y[n, c] = clamp(mean over HW of x[n, :, c]) */
int cu_global_avg(cu_dtype t, const void *x, void *y, int64_t N, int64_t HW, int64_t C, float lo, float hi,
                  cu_stream s);
/* The mean of ref_mean_geometry's walk: one output per kept cell, in order. */
typedef struct {
    int64_t kept[4], reduced[4], stride[4], count;
    float lo, hi;
} cu_mean_args;
int cu_mean(cu_dtype t, const void *x, void *y, const cu_mean_args *a, cu_stream s);
/* 4-D zero pad: ys = xs + before + after per dimension. */
typedef struct {
    int64_t xs[4], ys[4], before[4];
} cu_pad_args;
int cu_pad(cu_dtype t, const void *x, void *y, const cu_pad_args *a, cu_stream s);
/* Depthwise convolution with multiplier 1 over NHWC, zero padding (any, also
 * asymmetric) skipped, bias (float32, may be NULL) and clamp fused. w is float32
 * [KH, KW, C] (the IR's [C, KH, KW, 1] transposed at compile, so that a warp reads
 * consecutive channels). */
typedef struct {
    int N, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
    float lo, hi;
    /* in_act: each input value read is first clamp(x + in_bias[c], in_lo, in_hi), the
     * bias and activation of the convolution that wrote x, deferred to here */
    int in_act;
    const float *in_bias; /* may be NULL */
    float in_lo, in_hi;
} cu_dw_args;
int cu_depthwise(cu_dtype t, const void *x, const float *w, const float *bias, void *y, const cu_dw_args *a,
                 cu_stream s);
/* Direct convolution (groups 1) for inputs of few channels; w is float32 [KH, KW, C, O]. */
typedef struct {
    int N, H, W, C, OH, OW, O, KH, KW, sh, sw, dh, dw, pt, pl;
    float lo, hi;
} cu_direct_args;
int cu_direct(cu_dtype t, const void *x, const float *w, const float *bias, void *y, const cu_direct_args *a,
              cu_stream s);
/* softmax of beta * x over rows of len */
int cu_softmax(cu_dtype t, const void *x, void *y, int64_t rows, int64_t len, float beta, cu_stream s);
int cu_sigmoid(cu_dtype t, const void *x, void *y, int64_t total, cu_stream s);
/* y (type to) = x (type from), n elements */
int cu_convert(cu_dtype from, const void *x, cu_dtype to, void *y, int64_t n, cu_stream s);
/* Host-side float32 -> float16 (round to nearest even), for weights at compile. */
void cu_host_to_half(const float *x, uint16_t *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
