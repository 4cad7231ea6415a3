/* The cuda backend's own kernels (see cuda_kernels.h): memory-bound elementwise,
 * pooling, reduction, padding and softmax kernels over NHWC tensors of float32 or
 * float16, computing in float32. Grid-stride loops over int64 indices; one launcher
 * per op picks the element type. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "cuda_kernels.h"

namespace {

const int kThreads = 256;

__device__ __forceinline__ float ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }

/* NaN passes through, as ref_clamp. */
__device__ __forceinline__ float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

int blocks(int64_t total)
{
    int64_t b = (total + kThreads - 1) / kThreads;
    if (b > (1 << 20)) b = 1 << 20;
    return b < 1 ? 1 : (int)b;
}

#define GRID_LOOP(i, total) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (int64_t)gridDim.x * blockDim.x)

template <typename T>
__global__ void k_bias_act(T *y, const float *bias, int64_t total, int64_t C, float lo, float hi)
{
    GRID_LOOP(i, total) { st(y, i, clampf(ld(y, i) + (bias ? bias[i % C] : 0.0f), lo, hi)); }
}

/* The same over 32-bit indices (64-bit division costs tens of instructions), two
 * float16 values at a time when C is even. */
__global__ void k_bias_act_h2(__half2 *y, const float *bias, unsigned pairs, unsigned C2, float lo, float hi)
{
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += gridDim.x * blockDim.x) {
        float2 v = __half22float2(y[i]);
        if (bias) {
            unsigned c = (i % C2) * 2;
            v.x += bias[c];
            v.y += bias[c + 1];
        }
        y[i] = __floats2half2_rn(clampf(v.x, lo, hi), clampf(v.y, lo, hi));
    }
}

__global__ void k_bias_act_f32(float *y, const float *bias, unsigned total, unsigned C, float lo, float hi)
{
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x)
        y[i] = clampf(y[i] + (bias ? bias[i % C] : 0.0f), lo, hi);
}

/* One thread per output cell and channel (two channels for float16 pairs). */
template <typename T>
__global__ void k_depthwise(const T *__restrict__ x, const float *__restrict__ w, const float *__restrict__ bias,
                            T *__restrict__ y, cu_dw_args a)
{
    unsigned total = (unsigned)a.N * a.OH * a.OW * a.C;
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        unsigned c = i % a.C, r = i / a.C;
        int ow = (int)(r % a.OW);
        r /= a.OW;
        int oh = (int)(r % a.OH), n = (int)(r / a.OH);
        float acc = bias ? bias[c] : 0.0f;
        for (int kh = 0; kh < a.KH; kh++) {
            int ih = oh * a.sh - a.pt + kh * a.dh;
            if (ih < 0 || ih >= a.H) continue;
            for (int kw = 0; kw < a.KW; kw++) {
                int iw = ow * a.sw - a.pl + kw * a.dw;
                if (iw < 0 || iw >= a.W) continue;
                float v = ld(x, (((int64_t)n * a.H + ih) * a.W + iw) * a.C + c);
                if (a.in_act) v = clampf(v + (a.in_bias ? a.in_bias[c] : 0.0f), a.in_lo, a.in_hi);
                acc = fmaf(v, w[(kh * a.KW + kw) * a.C + c], acc);
            }
        }
        st(y, i, clampf(acc, a.lo, a.hi));
    }
}

__global__ void k_depthwise_h2(const __half2 *__restrict__ x, const float2 *__restrict__ w,
                               const float2 *__restrict__ bias, __half2 *__restrict__ y, cu_dw_args a)
{
    unsigned C2 = a.C / 2, total = (unsigned)a.N * a.OH * a.OW * C2;
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        unsigned c = i % C2, r = i / C2;
        int ow = (int)(r % a.OW);
        r /= a.OW;
        int oh = (int)(r % a.OH), n = (int)(r / a.OH);
        float2 acc = bias ? bias[c] : make_float2(0.0f, 0.0f);
        float2 ib = a.in_bias ? ((const float2 *)a.in_bias)[c] : make_float2(0.0f, 0.0f);
        for (int kh = 0; kh < a.KH; kh++) {
            int ih = oh * a.sh - a.pt + kh * a.dh;
            if (ih < 0 || ih >= a.H) continue;
            for (int kw = 0; kw < a.KW; kw++) {
                int iw = ow * a.sw - a.pl + kw * a.dw;
                if (iw < 0 || iw >= a.W) continue;
                float2 v = __half22float2(x[(((int64_t)n * a.H + ih) * a.W + iw) * C2 + c]);
                if (a.in_act) {
                    v.x = clampf(v.x + ib.x, a.in_lo, a.in_hi);
                    v.y = clampf(v.y + ib.y, a.in_lo, a.in_hi);
                }
                float2 k = w[(kh * a.KW + kw) * C2 + c];
                acc.x = fmaf(v.x, k.x, acc.x);
                acc.y = fmaf(v.y, k.y, acc.y);
            }
        }
        y[i] = __floats2half2_rn(clampf(acc.x, a.lo, a.hi), clampf(acc.y, a.lo, a.hi));
    }
}

/* V channels per thread through one 16-byte load per tap (8 float16 or 4 float32
 * values); needs C % V == 0 and 16-byte aligned rows. */
template <typename T, int V>
__global__ void k_depthwise_vec(const T *__restrict__ x, const float *__restrict__ w, const float *__restrict__ bias,
                                T *__restrict__ y, cu_dw_args a)
{
    unsigned CV = a.C / V, total = (unsigned)a.N * a.OH * a.OW * CV;
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        unsigned cv = i % CV, r = i / CV;
        int ow = (int)(r % a.OW);
        r /= a.OW;
        int oh = (int)(r % a.OH), n = (int)(r / a.OH);
        int c0 = (int)cv * V;
        float acc[V], ib[V];
#pragma unroll
        for (int v = 0; v < V; v++) {
            acc[v] = bias ? bias[c0 + v] : 0.0f;
            ib[v] = a.in_bias ? a.in_bias[c0 + v] : 0.0f;
        }
        for (int kh = 0; kh < a.KH; kh++) {
            int ih = oh * a.sh - a.pt + kh * a.dh;
            if (ih < 0 || ih >= a.H) continue;
            for (int kw = 0; kw < a.KW; kw++) {
                int iw = ow * a.sw - a.pl + kw * a.dw;
                if (iw < 0 || iw >= a.W) continue;
                uint4 raw = *reinterpret_cast<const uint4 *>(x + (((int64_t)n * a.H + ih) * a.W + iw) * a.C + c0);
                const T *xv = reinterpret_cast<const T *>(&raw);
                const float *wk = w + (kh * a.KW + kw) * a.C + c0;
#pragma unroll
                for (int v = 0; v < V; v++) {
                    float xf = ld(xv, v);
                    if (a.in_act) xf = clampf(xf + ib[v], a.in_lo, a.in_hi);
                    acc[v] = fmaf(xf, wk[v], acc[v]);
                }
            }
        }
        uint4 out;
        T *ov = reinterpret_cast<T *>(&out);
#pragma unroll
        for (int v = 0; v < V; v++) st(ov, v, clampf(acc[v], a.lo, a.hi));
        *reinterpret_cast<uint4 *>(y + (int64_t)i * V) = out;
    }
}

/* Direct convolution for few input channels (a network's first layer: 3 channels):
 * one thread per output value, output channels fastest, so a warp shares its input
 * pixels; weights transposed to [KH, KW, C, O]; padding skipped; bias and clamp fused. */
template <typename T>
__global__ void k_direct(const T *__restrict__ x, const float *__restrict__ w, const float *__restrict__ bias,
                         T *__restrict__ y, cu_direct_args a)
{
    unsigned total = (unsigned)a.N * a.OH * a.OW * a.O;
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        unsigned o = i % a.O, r = i / a.O;
        int ow = (int)(r % a.OW);
        r /= a.OW;
        int oh = (int)(r % a.OH), n = (int)(r / a.OH);
        float acc = bias ? bias[o] : 0.0f;
        for (int kh = 0; kh < a.KH; kh++) {
            int ih = oh * a.sh - a.pt + kh * a.dh;
            if (ih < 0 || ih >= a.H) continue;
            for (int kw = 0; kw < a.KW; kw++) {
                int iw = ow * a.sw - a.pl + kw * a.dw;
                if (iw < 0 || iw >= a.W) continue;
                const T *xp = x + (((int64_t)n * a.H + ih) * a.W + iw) * a.C;
                const float *wp = w + ((kh * a.KW + kw) * a.C) * a.O + o;
                for (int c = 0; c < a.C; c++) acc = fmaf(ld(xp, c), wp[c * a.O], acc);
            }
        }
        st(y, i, clampf(acc, a.lo, a.hi));
    }
}

template <typename T> __global__ void k_clip(const T *x, T *y, int64_t total, float lo, float hi)
{
    GRID_LOOP(i, total) { st(y, i, clampf(ld(x, i), lo, hi)); }
}

template <typename T>
__global__ void k_add(const T *a, const T *b, T *y, int64_t total, int64_t nb, float lo, float hi)
{
    GRID_LOOP(i, total) { st(y, i, clampf(ld(a, i) + ld(b, nb == total ? i : i % nb), lo, hi)); }
}

template <typename T>
__global__ void k_affine(const T *x, T *y, const float *scale, const float *shift, int64_t total, int64_t C, float lo,
                         float hi)
{
    GRID_LOOP(i, total)
    {
        int64_t c = i % C;
        st(y, i, clampf(fmaf(ld(x, i), scale[c], shift[c]), lo, hi));
    }
}

template <typename T> __global__ void k_pool(const T *x, T *y, cu_pool_args a)
{
    int64_t total = a.N * a.OH * a.OW * a.C;
    GRID_LOOP(i, total)
    {
        int64_t c = i % a.C, r = i / a.C;
        int64_t ow = r % a.OW;
        r /= a.OW;
        int64_t oh = r % a.OH, n = r / a.OH;
        float sum = 0.0f, mx = -INFINITY;
        int count = 0;
        for (int kh = 0; kh < a.kh; kh++) {
            int64_t ih = oh * a.sh - a.pt + kh;
            if (ih < 0 || ih >= a.H) continue;
            for (int kw = 0; kw < a.kw; kw++) {
                int64_t iw = ow * a.sw - a.pl + kw;
                if (iw < 0 || iw >= a.W) continue;
                float v = ld(x, ((n * a.H + ih) * a.W + iw) * a.C + c);
                sum += v;
                if (v > mx || isnan(v)) mx = v;
                count++;
            }
        }
        float v = a.take_max ? mx : count ? sum / (float)count : 0.0f;
        st(y, i, clampf(v, a.lo, a.hi));
    }
}

template <typename T>
__global__ void k_global_avg(const T *x, T *y, int64_t N, int64_t HW, int64_t C, float lo, float hi)
{
    GRID_LOOP(i, N * C)
    {
        int64_t c = i % C, n = i / C;
        const T *p = x + n * HW * C + c;
        float sum = 0.0f;
        for (int64_t q = 0; q < HW; q++) sum += ld(p, q * C);
        st(y, i, clampf(sum / (float)HW, lo, hi));
    }
}

template <typename T> __global__ void k_mean(const T *x, T *y, cu_mean_args a)
{
    int64_t total = a.kept[0] * a.kept[1] * a.kept[2] * a.kept[3];
    GRID_LOOP(i, total)
    {
        int64_t r = i, k[4];
        for (int d = 3; d >= 0; d--) {
            k[d] = r % a.kept[d];
            r /= a.kept[d];
        }
        int64_t base = k[0] * a.stride[0] + k[1] * a.stride[1] + k[2] * a.stride[2] + k[3] * a.stride[3];
        float sum = 0.0f;
        for (int64_t p = 0; p < a.reduced[0]; p++)
            for (int64_t q = 0; q < a.reduced[1]; q++)
                for (int64_t u = 0; u < a.reduced[2]; u++)
                    for (int64_t v = 0; v < a.reduced[3]; v++)
                        sum += ld(x, base + p * a.stride[0] + q * a.stride[1] + u * a.stride[2] + v * a.stride[3]);
        st(y, i, clampf(sum / (float)a.count, a.lo, a.hi));
    }
}

template <typename T> __global__ void k_pad(const T *x, T *y, cu_pad_args a)
{
    int64_t total = a.ys[0] * a.ys[1] * a.ys[2] * a.ys[3];
    GRID_LOOP(i, total)
    {
        int64_t r = i, src = 0, mul = 1;
        bool inside = true;
        for (int d = 3; d >= 0; d--) {
            int64_t c = r % a.ys[d] - a.before[d];
            r /= a.ys[d];
            inside = inside && c >= 0 && c < a.xs[d];
            src += c * mul;
            mul *= a.xs[d];
        }
        st(y, i, inside ? ld(x, src) : 0.0f);
    }
}

/* One block per row: the row's maximum of beta*x, the sum of exponentials, then the
 * quotients, each reduced through shared memory. */
template <typename T> __global__ void k_softmax(const T *x, T *y, int64_t len, float beta)
{
    __shared__ float red[kThreads];
    const T *xp = x + blockIdx.x * len;
    T *yp = y + blockIdx.x * len;
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) mx = fmaxf(mx, beta * ld(xp, i));
    red[threadIdx.x] = mx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }
    mx = red[0];
    __syncthreads();
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) sum += expf(beta * ld(xp, i) - mx);
    red[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    sum = red[0];
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) st(yp, i, expf(beta * ld(xp, i) - mx) / sum);
}

template <typename T> __global__ void k_sigmoid(const T *x, T *y, int64_t total)
{
    GRID_LOOP(i, total) { st(y, i, 1.0f / (1.0f + expf(-ld(x, i)))); }
}

template <typename A, typename B> __global__ void k_convert(const A *x, B *y, int64_t n)
{
    GRID_LOOP(i, n) { st(y, i, ld(x, i)); }
}

int launched() { return (int)cudaGetLastError(); }

} // namespace


extern "C" {

int cu_bias_act(cu_dtype t, void *y, const float *bias, int64_t total, int64_t C, float lo, float hi, cu_stream s)
{
    cudaStream_t cs = (cudaStream_t)s;
    bool small = total < ((int64_t)1 << 31);
    if (t == CU_F16 && small && C % 2 == 0)
        k_bias_act_h2<<<blocks(total / 2), kThreads, 0, cs>>>((__half2 *)y, bias, (unsigned)(total / 2), (unsigned)(C / 2),
                                                            lo, hi);
    else if (t == CU_F32 && small)
        k_bias_act_f32<<<blocks(total), kThreads, 0, cs>>>((float *)y, bias, (unsigned)total, (unsigned)C, lo, hi);
    else if (t == CU_F32) k_bias_act<float><<<blocks(total), kThreads, 0, cs>>>((float *)y, bias, total, C, lo, hi);
    else k_bias_act<__half><<<blocks(total), kThreads, 0, cs>>>((__half *)y, bias, total, C, lo, hi);
    return launched();
}

int cu_clip(cu_dtype t, const void *x, void *y, int64_t total, float lo, float hi, cu_stream s)
{
    if (t == CU_F32) k_clip<float><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, total, lo, hi);
    else k_clip<__half><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, total, lo, hi);
    return launched();
}

int cu_add(cu_dtype t, const void *a, const void *b, void *y, int64_t total, int64_t nb, float lo, float hi,
           cu_stream s)
{
    if (t == CU_F32)
        k_add<float><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const float *)a, (const float *)b, (float *)y,
                                                                       total, nb, lo, hi);
    else
        k_add<__half><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const __half *)a, (const __half *)b,
                                                                        (__half *)y, total, nb, lo, hi);
    return launched();
}

int cu_affine(cu_dtype t, const void *x, void *y, const float *scale, const float *shift, int64_t total, int64_t C,
              float lo, float hi, cu_stream s)
{
    if (t == CU_F32)
        k_affine<float><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, scale, shift,
                                                                          total, C, lo, hi);
    else
        k_affine<__half><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, scale,
                                                                           shift, total, C, lo, hi);
    return launched();
}

int cu_pool(cu_dtype t, const void *x, void *y, const cu_pool_args *a, cu_stream s)
{
    int g = blocks(a->N * a->OH * a->OW * a->C);
    if (t == CU_F32) k_pool<float><<<g, kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, *a);
    else k_pool<__half><<<g, kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, *a);
    return launched();
}

int cu_global_avg(cu_dtype t, const void *x, void *y, int64_t N, int64_t HW, int64_t C, float lo, float hi,
                  cu_stream s)
{
    int g = blocks(N * C);
    if (t == CU_F32)
        k_global_avg<float><<<g, kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, N, HW, C, lo, hi);
    else k_global_avg<__half><<<g, kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, N, HW, C, lo, hi);
    return launched();
}

int cu_mean(cu_dtype t, const void *x, void *y, const cu_mean_args *a, cu_stream s)
{
    int g = blocks(a->kept[0] * a->kept[1] * a->kept[2] * a->kept[3]);
    if (t == CU_F32) k_mean<float><<<g, kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, *a);
    else k_mean<__half><<<g, kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, *a);
    return launched();
}

int cu_pad(cu_dtype t, const void *x, void *y, const cu_pad_args *a, cu_stream s)
{
    int g = blocks(a->ys[0] * a->ys[1] * a->ys[2] * a->ys[3]);
    if (t == CU_F32) k_pad<float><<<g, kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, *a);
    else k_pad<__half><<<g, kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, *a);
    return launched();
}

int cu_depthwise(cu_dtype t, const void *x, const float *w, const float *bias, void *y, const cu_dw_args *a,
                 cu_stream s)
{
    cudaStream_t cs = (cudaStream_t)s;
    int64_t total = (int64_t)a->N * a->OH * a->OW * a->C;
    if (total >= ((int64_t)1 << 31)) return (int)cudaErrorInvalidValue;
    bool aligned = ((uintptr_t)x % 16 == 0) && ((uintptr_t)y % 16 == 0);
    if (t == CU_F16 && a->C % 8 == 0 && aligned)
        k_depthwise_vec<__half, 8><<<blocks(total / 8), kThreads, 0, cs>>>((const __half *)x, w, bias, (__half *)y, *a);
    else if (t == CU_F32 && a->C % 4 == 0 && aligned)
        k_depthwise_vec<float, 4><<<blocks(total / 4), kThreads, 0, cs>>>((const float *)x, w, bias, (float *)y, *a);
    else if (t == CU_F16 && a->C % 2 == 0)
        k_depthwise_h2<<<blocks(total / 2), kThreads, 0, cs>>>((const __half2 *)x, (const float2 *)w,
                                                             (const float2 *)bias, (__half2 *)y, *a);
    else if (t == CU_F16)
        k_depthwise<__half><<<blocks(total), kThreads, 0, cs>>>((const __half *)x, w, bias, (__half *)y, *a);
    else k_depthwise<float><<<blocks(total), kThreads, 0, cs>>>((const float *)x, w, bias, (float *)y, *a);
    return launched();
}

int cu_direct(cu_dtype t, const void *x, const float *w, const float *bias, void *y, const cu_direct_args *a,
              cu_stream s)
{
    cudaStream_t cs = (cudaStream_t)s;
    int64_t total = (int64_t)a->N * a->OH * a->OW * a->O;
    if (total >= ((int64_t)1 << 31)) return (int)cudaErrorInvalidValue;
    if (t == CU_F16) k_direct<__half><<<blocks(total), kThreads, 0, cs>>>((const __half *)x, w, bias, (__half *)y, *a);
    else k_direct<float><<<blocks(total), kThreads, 0, cs>>>((const float *)x, w, bias, (float *)y, *a);
    return launched();
}

int cu_softmax(cu_dtype t, const void *x, void *y, int64_t rows, int64_t len, float beta, cu_stream s)
{
    if (rows <= 0) return 0;
    if (t == CU_F32) k_softmax<float><<<(unsigned)rows, kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, len, beta);
    else k_softmax<__half><<<(unsigned)rows, kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, len, beta);
    return launched();
}

int cu_sigmoid(cu_dtype t, const void *x, void *y, int64_t total, cu_stream s)
{
    if (t == CU_F32) k_sigmoid<float><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const float *)x, (float *)y, total);
    else k_sigmoid<__half><<<blocks(total), kThreads, 0, (cudaStream_t)s>>>((const __half *)x, (__half *)y, total);
    return launched();
}

int cu_convert(cu_dtype from, const void *x, cu_dtype to, void *y, int64_t n, cu_stream s)
{
    cudaStream_t cs = (cudaStream_t)s;
    if (from == to) return (int)cudaMemcpyAsync(y, x, (size_t)n * (from == CU_F32 ? 4 : 2), cudaMemcpyDeviceToDevice, cs);
    if (from == CU_F32) k_convert<float, __half><<<blocks(n), kThreads, 0, cs>>>((const float *)x, (__half *)y, n);
    else k_convert<__half, float><<<blocks(n), kThreads, 0, cs>>>((const __half *)x, (float *)y, n);
    return launched();
}

void cu_host_to_half(const float *x, uint16_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        __half h = __float2half_rn(x[i]);
        y[i] = *reinterpret_cast<const uint16_t *>(&h);
    }
}

} // extern "C"
