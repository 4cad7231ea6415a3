/* Reference elementwise kernels: inference batch norm, clip, add (with per-channel
 * broadcast of the second operand), softmax over the last axis, sigmoid. */
#include "backend/ref/kernels.h"

#include <math.h>

/* y = (x - mean) / sqrt(variance + epsilon) * scale + offset, per channel (last axis). */
void ref_batch_norm(const ms_node *n, const ref_tensor *x, const ref_tensor *scale, const ref_tensor *offset,
                    const ref_tensor *mean, const ref_tensor *variance, ref_tensor *y)
{
    int64_t C = x->shape[x->ndim - 1], total = ref_numel(x);
    for (int64_t i = 0; i < total; i++) {
        int64_t c = i % C;
        double v = (x->data[i] - (double)mean->data[c]) / sqrt((double)variance->data[c] + n->epsilon) *
                       scale->data[c] + offset->data[c];
        y->data[i] = ref_clamp((float)v, n->act_min, n->act_max);
    }
}

void ref_clip(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t total = ref_numel(x);
    for (int64_t i = 0; i < total; i++) y->data[i] = ref_clamp(x->data[i], n->act_min, n->act_max);
}

/* b either has a's shape or holds one value per channel; in both cases element i of a
 * meets element i mod numel(b) of b, since channels are the fastest-varying axis. */
void ref_add(const ms_node *n, const ref_tensor *a, const ref_tensor *b, ref_tensor *y)
{
    int64_t total = ref_numel(a), nb = ref_numel(b);
    for (int64_t i = 0; i < total; i++)
        y->data[i] = ref_clamp(a->data[i] + b->data[i % nb], n->act_min, n->act_max);
}

/* y = exp(beta*x - max) / sum exp(beta*x - max) over each row of the last axis; taking
 * the row's maximum out first keeps exp from overflowing. */
void ref_softmax(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t len = x->shape[x->ndim - 1], rows = ref_numel(x) / len;
    for (int64_t r = 0; r < rows; r++) {
        const float *xp = x->data + r * len;
        float *yp = y->data + r * len;
        double max = -INFINITY;
        for (int64_t i = 0; i < len; i++)
            if ((double)n->beta * xp[i] > max) max = (double)n->beta * xp[i];
        double sum = 0;
        for (int64_t i = 0; i < len; i++) sum += exp((double)n->beta * xp[i] - max);
        for (int64_t i = 0; i < len; i++) yp[i] = (float)(exp((double)n->beta * xp[i] - max) / sum);
    }
}

void ref_sigmoid(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    (void)n;
    int64_t total = ref_numel(x);
    for (int64_t i = 0; i < total; i++) y->data[i] = (float)(1.0 / (1.0 + exp(-(double)x->data[i])));
}
