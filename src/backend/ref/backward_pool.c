/* Backward of pooling and reductions: an average hands each input cell its share
 * (1/count of every window or reduction it belongs to); a maximum hands the whole
 * gradient to the cell the forward pass picked. */
#include "backend/ref/backward.h"

#include <math.h>

/* The number of real (non-padding) cells in output (oh, ow)'s window. */
static int64_t window_count(const ms_node *n, int64_t H, int64_t W, int64_t oh, int64_t ow)
{
    int64_t count = 0;
    for (int64_t kh = 0; kh < n->kernel_h; kh++) {
        int64_t ih = oh * n->stride_h - n->pad_top + kh;
        if (ih < 0 || ih >= H) continue;
        for (int64_t kw = 0; kw < n->kernel_w; kw++) {
            int64_t iw = ow * n->stride_w - n->pad_left + kw;
            count += iw >= 0 && iw < W;
        }
    }
    return count;
}

void ref_avg_pool_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *dx)
{
    int64_t N = dz->shape[0], OH = dz->shape[1], OW = dz->shape[2], C = dz->shape[3];
    int64_t H = dx->shape[1], W = dx->shape[2];
    for (int64_t b = 0; b < N; b++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t count = window_count(n, H, W, oh, ow);
                if (!count) continue;
                const float *g = dz->data + ((b * OH + oh) * OW + ow) * C;
                for (int64_t kh = 0; kh < n->kernel_h; kh++) {
                    int64_t ih = oh * n->stride_h - n->pad_top + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < n->kernel_w; kw++) {
                        int64_t iw = ow * n->stride_w - n->pad_left + kw;
                        if (iw < 0 || iw >= W) continue;
                        float *d = dx->data + ((b * H + ih) * W + iw) * C;
                        for (int64_t c = 0; c < C; c++) d[c] += g[c] / (float)count;
                    }
                }
            }
}

void ref_max_pool_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *dz, ref_tensor *dx)
{
    int64_t N = dz->shape[0], OH = dz->shape[1], OW = dz->shape[2], C = dz->shape[3];
    int64_t H = x->shape[1], W = x->shape[2];
    for (int64_t b = 0; b < N; b++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++)
                for (int64_t c = 0; c < C; c++) {
                    float max = -INFINITY;
                    int64_t at = -1;
                    for (int64_t kh = 0; kh < n->kernel_h; kh++) {
                        int64_t ih = oh * n->stride_h - n->pad_top + kh;
                        if (ih < 0 || ih >= H) continue;
                        for (int64_t kw = 0; kw < n->kernel_w; kw++) {
                            int64_t iw = ow * n->stride_w - n->pad_left + kw;
                            if (iw < 0 || iw >= W) continue;
                            int64_t i = ((b * H + ih) * W + iw) * C + c;
                            if (at < 0 || x->data[i] > max) {
                                max = x->data[i];
                                at = i;
                            }
                        }
                    }
                    if (at >= 0) dx->data[at] += dz->data[((b * OH + oh) * OW + ow) * C + c];
                }
}

void ref_global_avg_pool_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *dx)
{
    (void)n;
    int64_t N = dx->shape[0], HW = dx->shape[1] * dx->shape[2], C = dx->shape[3];
    for (int64_t b = 0; b < N; b++)
        for (int64_t p = 0; p < HW; p++)
            for (int64_t c = 0; c < C; c++) dx->data[(b * HW + p) * C + c] += dz->data[b * C + c] / (float)HW;
}

/* The forward kernel's walk (shapes padded to 4-D): output cell k, in order, averages
 * the cells that share its kept coordinates. */
void ref_mean_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *dx)
{
    int64_t kept[4], reduced[4], stride[4];
    int64_t count = ref_mean_geometry(n, dx, kept, reduced, stride);
    const float *g = dz->data;
    for (int64_t a = 0; a < kept[0]; a++)
        for (int64_t b = 0; b < kept[1]; b++)
            for (int64_t c = 0; c < kept[2]; c++)
                for (int64_t d = 0; d < kept[3]; d++) {
                    float share = *g++ / (float)count;
                    float *base = dx->data + a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3];
                    for (int64_t ra = 0; ra < reduced[0]; ra++)
                        for (int64_t rb = 0; rb < reduced[1]; rb++)
                            for (int64_t rc = 0; rc < reduced[2]; rc++)
                                for (int64_t rd = 0; rd < reduced[3]; rd++)
                                    base[ra * stride[0] + rb * stride[1] + rc * stride[2] + rd * stride[3]] += share;
                }
}
