/* Reference convolution and fully connected kernels.
 *
 * conv2d covers ordinary, grouped and depthwise convolution: weights are
 * [O, KH, KW, I/groups] and output channel o reads the input channels of group
 * o / (O/groups). Depthwise with multiplier m is groups = C, O = C*m, so output channel
 * o reads input channel o/m, as in TFLite. */
#include "backend/ref/kernels.h"

int64_t ref_numel(const ref_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* One output value: the dot product of the receptive field with filter o, skipping
 * taps that fall in the padding (they read zeros). */
static double conv_point(const ms_node *n, const ref_tensor *x, const ref_tensor *w, int64_t batch, int64_t oh,
                         int64_t ow, int64_t o)
{
    int64_t H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int64_t O = w->shape[0], KH = w->shape[1], KW = w->shape[2], group_in = w->shape[3];
    int64_t group = o / (O / n->groups);
    double acc = 0;
    for (int64_t kh = 0; kh < KH; kh++) {
        int64_t ih = oh * n->stride_h - n->pad_top + kh * n->dilation_h;
        if (ih < 0 || ih >= H) continue;
        for (int64_t kw = 0; kw < KW; kw++) {
            int64_t iw = ow * n->stride_w - n->pad_left + kw * n->dilation_w;
            if (iw < 0 || iw >= W) continue;
            const float *xp = x->data + ((batch * H + ih) * W + iw) * C + group * group_in;
            const float *wp = w->data + ((o * KH + kh) * KW + kw) * group_in;
            for (int64_t i = 0; i < group_in; i++) acc += (double)xp[i] * wp[i];
        }
    }
    return acc;
}

void ref_conv2d(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *b, ref_tensor *y)
{
    int64_t N = y->shape[0], OH = y->shape[1], OW = y->shape[2], O = y->shape[3];
    for (int64_t batch = 0; batch < N; batch++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                float *yp = y->data + ((batch * OH + oh) * OW + ow) * O;
                for (int64_t o = 0; o < O; o++) {
                    double acc = conv_point(n, x, w, batch, oh, ow, o) + (b ? b->data[o] : 0.0);
                    yp[o] = ref_clamp((float)acc, n->act_min, n->act_max);
                }
            }
}

/* x is read as [N, I] whatever its shape: each batch item flattened in NHWC order. */
void ref_fully_connected(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *b,
                         ref_tensor *y)
{
    int64_t N = y->shape[0], O = w->shape[0], I = w->shape[1];
    for (int64_t batch = 0; batch < N; batch++)
        for (int64_t o = 0; o < O; o++) {
            const float *xp = x->data + batch * I, *wp = w->data + o * I;
            double acc = b ? b->data[o] : 0.0;
            for (int64_t i = 0; i < I; i++) acc += (double)xp[i] * wp[i];
            y->data[batch * O + o] = ref_clamp((float)acc, n->act_min, n->act_max);
        }
}
