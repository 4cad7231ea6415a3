/* Backward of convolution (ordinary, grouped, depthwise; any stride, dilation and
 * resolved padding) and of fully connected layers.
 *
 * Each output cell (batch, oh, ow) and filter o of the forward pass read the taps
 * x[batch, oh*stride - pad + kh*dilation, ...] of its group's input channels; the
 * backward pass walks the same cells and taps and sends dz back along each of them:
 * to dx through the weights and to dw through the inputs. Walking in the forward
 * order keeps the innermost loop on contiguous channels. Taps in the padding read
 * zeros, so they receive nothing. */
#include "backend/ref/backward.h"

void ref_conv2d_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *dz,
                         ref_tensor *dx, ref_tensor *dw, ref_tensor *db)
{
    int64_t N = dz->shape[0], OH = dz->shape[1], OW = dz->shape[2], O = dz->shape[3];
    int64_t H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int64_t KH = w->shape[1], KW = w->shape[2], group_in = w->shape[3], per_group = O / n->groups;
    for (int64_t b = 0; b < N; b++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                const float *g = dz->data + ((b * OH + oh) * OW + ow) * O;
                if (db)
                    for (int64_t o = 0; o < O; o++) db->data[o] += g[o];
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * n->stride_h - n->pad_top + kh * n->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        int64_t iw = ow * n->stride_w - n->pad_left + kw * n->dilation_w;
                        if (iw < 0 || iw >= W) continue;
                        int64_t cell = ((b * H + ih) * W + iw) * C;
                        for (int64_t o = 0; o < O; o++) {
                            float go = g[o];
                            if (go == 0.0f) continue;
                            int64_t first = (o / per_group) * group_in, tap = ((o * KH + kh) * KW + kw) * group_in;
                            const float *xp = x->data + cell + first;
                            if (dw) {
                                float *dwp = dw->data + tap;
                                for (int64_t i = 0; i < group_in; i++) dwp[i] += go * xp[i];
                            }
                            if (dx) {
                                const float *wp = w->data + tap;
                                float *dxp = dx->data + cell + first;
                                for (int64_t i = 0; i < group_in; i++) dxp[i] += go * wp[i];
                            }
                        }
                    }
                }
            }
}

/* x is read as [N, I], as in the forward kernel. */
void ref_fully_connected_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *dz,
                                  ref_tensor *dx, ref_tensor *dw, ref_tensor *db)
{
    (void)n;
    int64_t N = dz->shape[0], O = w->shape[0], I = w->shape[1];
    for (int64_t b = 0; b < N; b++)
        for (int64_t o = 0; o < O; o++) {
            float go = dz->data[b * O + o];
            if (db) db->data[o] += go;
            if (go == 0.0f) continue;
            const float *xp = x->data + b * I, *wp = w->data + o * I;
            if (dw)
                for (int64_t i = 0; i < I; i++) dw->data[o * I + i] += go * xp[i];
            if (dx)
                for (int64_t i = 0; i < I; i++) dx->data[b * I + i] += go * wp[i];
        }
}
