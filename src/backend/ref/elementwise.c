/* Reference elementwise kernels: inference batch norm, clip, add / mul / sub / div (with
 * NumPy broadcasting), softmax over the last axis, sigmoid, leaky ReLU, hard sigmoid and
 * hard swish. */
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

/* Strides of t seen as an operand of y: right-aligned to y's rank, padded to 4-D with
 * leading dimensions, 0 where t has extent 1 (it stretches). */
static void broadcast_strides(const ref_tensor *t, const ref_tensor *y, int64_t st[4])
{
    int64_t stride = 1;
    for (int d = 3; d >= 0; d--) {
        int td = d - (4 - t->ndim);
        int64_t e = td >= 0 ? t->shape[td] : 1;
        st[d] = e == 1 ? 0 : stride;
        stride *= e;
    }
    (void)y;
}

static double apply(ms_op_kind kind, double a, double b)
{
    switch (kind) {
    case MS_OP_MUL: return a * b;
    case MS_OP_SUB: return a - b;
    case MS_OP_DIV: return a / b;
    default: return a + b;
    }
}

/* add, mul, sub, div with NumPy broadcasting; y's shape is the broadcast one. */
void ref_binary(const ms_node *n, const ref_tensor *a, const ref_tensor *b, ref_tensor *y)
{
    int64_t ys[4] = {1, 1, 1, 1}, sa[4], sb[4];
    for (int d = 0; d < y->ndim; d++) ys[4 - y->ndim + d] = y->shape[d];
    broadcast_strides(a, y, sa);
    broadcast_strides(b, y, sb);
    float *yp = y->data;
    for (int64_t i0 = 0; i0 < ys[0]; i0++)
        for (int64_t i1 = 0; i1 < ys[1]; i1++)
            for (int64_t i2 = 0; i2 < ys[2]; i2++)
                for (int64_t i3 = 0; i3 < ys[3]; i3++) {
                    float va = a->data[i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3]];
                    float vb = b->data[i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3]];
                    *yp++ = ref_clamp((float)apply(n->kind, va, vb), n->act_min, n->act_max);
                }
}

void ref_add(const ms_node *n, const ref_tensor *a, const ref_tensor *b, ref_tensor *y) { ref_binary(n, a, b, y); }

/* Leaky ReLU, hard sigmoid and hard swish, as ONNX defines them. */
void ref_activation(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t total = ref_numel(x);
    for (int64_t i = 0; i < total; i++) {
        double v = x->data[i], r;
        if (n->kind == MS_OP_LEAKY_RELU) r = v < 0 ? n->alpha * v : v;
        else if (n->kind == MS_OP_HARD_SIGMOID) r = fmax(0.0, fmin(1.0, (double)n->alpha * v + n->beta));
        else r = v * fmax(0.0, fmin(1.0, v / 6.0 + 0.5));
        y->data[i] = isnan(v) ? (float)v : (float)r;
    }
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
