/* Reference pooling and reductions: average and max pooling over a window (padding
 * cells are skipped, so an average divides by the number of real cells, as TFLite
 * does), global average pooling, and the mean over any set of non-batch axes. */
#include "backend/ref/kernels.h"

#include <math.h>

/* Visits the window of output cell (batch, oh, ow) in channel c and returns the average
 * or the maximum of the cells inside the input. */
static float pool_point(const ms_node *n, const ref_tensor *x, int64_t batch, int64_t oh, int64_t ow, int64_t c,
                        bool take_max)
{
    int64_t H = x->shape[1], W = x->shape[2], C = x->shape[3];
    double sum = 0;
    float max = -INFINITY;
    int64_t count = 0;
    for (int64_t kh = 0; kh < n->kernel_h; kh++) {
        int64_t ih = oh * n->stride_h - n->pad_top + kh;
        if (ih < 0 || ih >= H) continue;
        for (int64_t kw = 0; kw < n->kernel_w; kw++) {
            int64_t iw = ow * n->stride_w - n->pad_left + kw;
            if (iw < 0 || iw >= W) continue;
            float v = x->data[((batch * H + ih) * W + iw) * C + c];
            sum += v;
            if (v > max || isnan(v)) max = v;
            count++;
        }
    }
    if (take_max) return max;
    /* Explicit padding wider than the window can leave a window with no real cell. */
    return count ? (float)(sum / (double)count) : 0.0f;
}

static void pool(const ms_node *n, const ref_tensor *x, ref_tensor *y, bool take_max)
{
    int64_t N = y->shape[0], OH = y->shape[1], OW = y->shape[2], C = y->shape[3];
    for (int64_t batch = 0; batch < N; batch++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++)
                for (int64_t c = 0; c < C; c++) {
                    float v = pool_point(n, x, batch, oh, ow, c, take_max);
                    y->data[((batch * OH + oh) * OW + ow) * C + c] = ref_clamp(v, n->act_min, n->act_max);
                }
}

void ref_avg_pool(const ms_node *n, const ref_tensor *x, ref_tensor *y) { pool(n, x, y, false); }

void ref_max_pool(const ms_node *n, const ref_tensor *x, ref_tensor *y) { pool(n, x, y, true); }

void ref_global_avg_pool(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t N = x->shape[0], HW = x->shape[1] * x->shape[2], C = x->shape[3];
    for (int64_t batch = 0; batch < N; batch++)
        for (int64_t c = 0; c < C; c++) {
            double sum = 0;
            for (int64_t p = 0; p < HW; p++) sum += x->data[(batch * HW + p) * C + c];
            y->data[batch * C + c] = ref_clamp((float)(sum / (double)HW), n->act_min, n->act_max);
        }
}

/* Shapes are padded to 4-D with leading 1s so that one loop nest serves every rank.
 * Each output cell sums the input cells that share its kept coordinates: `kept` holds
 * the extents looped over for output cells (1 on reduced axes), `reduced` the extents
 * summed within one cell (1 on kept axes). */
static double sum_reduced(const float *x, const int64_t reduced[4], const int64_t stride[4])
{
    double sum = 0;
    for (int64_t a = 0; a < reduced[0]; a++)
        for (int64_t b = 0; b < reduced[1]; b++)
            for (int64_t c = 0; c < reduced[2]; c++)
                for (int64_t d = 0; d < reduced[3]; d++)
                    sum += x[a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3]];
    return sum;
}

int64_t ref_mean_geometry(const ms_node *n, const ref_tensor *x, int64_t kept[4], int64_t reduced[4],
                          int64_t stride[4])
{
    int lead = 4 - x->ndim;
    int64_t count = 1;
    for (int d = 0; d < 4; d++) kept[d] = reduced[d] = 1;
    for (int d = 0; d < x->ndim; d++) {
        bool r = n->axes_mask & (1u << d);
        (r ? reduced : kept)[lead + d] = x->shape[d];
        if (r) count *= x->shape[d];
    }
    stride[3] = 1;
    for (int d = 2; d >= 0; d--) stride[d] = stride[d + 1] * kept[d + 1] * reduced[d + 1];
    return count;
}

void ref_mean(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t kept[4], reduced[4], stride[4];
    int64_t count = ref_mean_geometry(n, x, kept, reduced, stride);
    float *yp = y->data;
    for (int64_t a = 0; a < kept[0]; a++)
        for (int64_t b = 0; b < kept[1]; b++)
            for (int64_t c = 0; c < kept[2]; c++)
                for (int64_t d = 0; d < kept[3]; d++) {
                    const float *base = x->data + a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3];
                    double mean = sum_reduced(base, reduced, stride) / (double)count;
                    *yp++ = ref_clamp((float)mean, n->act_min, n->act_max);
                }
}
