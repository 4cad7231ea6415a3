/* Backward of the elementwise and layout ops, the fused activation, and the two losses
 * (binary cross-entropy on sigmoid logits, softmax cross-entropy). */
#include "backend/ref/backward.h"

#include <math.h>

bool ref_has_act(const ms_node *n) { return n->kind == MS_OP_CLIP || isfinite(n->act_min) || isfinite(n->act_max); }

void ref_act_backward(const ms_node *n, const ref_tensor *y, const ref_tensor *dy, ref_tensor *dz)
{
    int64_t total = ref_numel(y);
    for (int64_t i = 0; i < total; i++) {
        float v = y->data[i];
        dz->data[i] = v > n->act_min && v < n->act_max ? dy->data[i] : 0.0f;
    }
}

/* Frozen statistics: y = x * scale / sqrt(variance + epsilon) + const, per channel. */
void ref_batch_norm_backward(const ms_node *n, const ref_tensor *scale, const ref_tensor *variance,
                             const ref_tensor *dz, ref_tensor *dx)
{
    int64_t C = dz->shape[dz->ndim - 1], total = ref_numel(dz);
    for (int64_t i = 0; i < total; i++) {
        int64_t c = i % C;
        dx->data[i] += (float)(dz->data[i] * scale->data[c] / sqrt((double)variance->data[c] + n->epsilon));
    }
}

/* b broadcast per channel collects the sum over every position. */
void ref_add_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *da, ref_tensor *db)
{
    (void)n;
    int64_t total = ref_numel(dz);
    if (da)
        for (int64_t i = 0; i < total; i++) da->data[i] += dz->data[i];
    if (db) {
        int64_t nb = ref_numel(db);
        for (int64_t i = 0; i < total; i++) db->data[i % nb] += dz->data[i];
    }
}

/* dx = beta * y * (dy - sum(dy * y)) over each row of the last axis. */
void ref_softmax_backward(const ms_node *n, const ref_tensor *y, const ref_tensor *dy, ref_tensor *dx)
{
    int64_t len = y->shape[y->ndim - 1], rows = ref_numel(y) / len;
    for (int64_t r = 0; r < rows; r++) {
        const float *yp = y->data + r * len, *gp = dy->data + r * len;
        double dot = 0;
        for (int64_t i = 0; i < len; i++) dot += (double)gp[i] * yp[i];
        for (int64_t i = 0; i < len; i++) dx->data[r * len + i] += (float)(n->beta * yp[i] * (gp[i] - dot));
    }
}

void ref_sigmoid_backward(const ms_node *n, const ref_tensor *y, const ref_tensor *dy, ref_tensor *dx)
{
    (void)n;
    int64_t total = ref_numel(y);
    for (int64_t i = 0; i < total; i++) dx->data[i] += dy->data[i] * y->data[i] * (1.0f - y->data[i]);
}

/* The forward's walk: per outer index, one block of every input in turn. */
void ref_concat_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *const *dx)
{
    int64_t outer = 1;
    for (int d = 0; d < n->axis; d++) outer *= dy->shape[d];
    const float *g = dy->data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n->n_inputs; k++) {
            int64_t block = ref_numel(dx[k]) / outer;
            if (dx[k]->data)
                for (int64_t i = 0; i < block; i++) dx[k]->data[o * block + i] += g[i];
            g += block;
        }
}

void ref_pad_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *dx)
{
    int64_t xs[4] = {1, 1, 1, 1}, ys[4] = {1, 1, 1, 1}, before[4] = {0, 0, 0, 0};
    int lead = 4 - dx->ndim;
    for (int d = 0; d < dx->ndim; d++) {
        xs[lead + d] = dx->shape[d];
        ys[lead + d] = dy->shape[d];
        before[lead + d] = n->pads[d][0];
    }
    float *xp = dx->data;
    for (int64_t a = 0; a < xs[0]; a++)
        for (int64_t b = 0; b < xs[1]; b++)
            for (int64_t c = 0; c < xs[2]; c++) {
                int64_t row = ((a + before[0]) * ys[1] + b + before[1]) * ys[2] + c + before[2];
                const float *g = dy->data + row * ys[3] + before[3];
                for (int64_t i = 0; i < xs[3]; i++) xp[i] += g[i];
                xp += xs[3];
            }
}

void ref_copy_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *dx)
{
    (void)n;
    int64_t total = ref_numel(dy);
    for (int64_t i = 0; i < total; i++) dx->data[i] += dy->data[i];
}

double ref_bce_with_logits(const ref_tensor *z, const float *t, ref_tensor *dz)
{
    int64_t N = z->shape[0], total = ref_numel(z);
    double loss = 0;
    for (int64_t i = 0; i < total; i++) {
        double v = z->data[i], p = 1.0 / (1.0 + exp(-v));
        loss += (v > 0 ? v : 0) - v * t[i] + log1p(exp(-fabs(v)));
        if (dz) dz->data[i] += (float)((p - t[i]) / (double)N);
    }
    return loss / (double)N;
}

double ref_softmax_xent(const ref_tensor *z, float beta, const float *label, ref_tensor *dz)
{
    int64_t N = z->shape[0], C = ref_numel(z) / N;
    double loss = 0;
    for (int64_t b = 0; b < N; b++) {
        const float *zp = z->data + b * C;
        int64_t k = (int64_t)label[b];
        double max = -INFINITY, sum = 0;
        for (int64_t c = 0; c < C; c++)
            if ((double)beta * zp[c] > max) max = (double)beta * zp[c];
        for (int64_t c = 0; c < C; c++) sum += exp((double)beta * zp[c] - max);
        loss += max + log(sum) - (double)beta * zp[k];
        if (dz)
            for (int64_t c = 0; c < C; c++) {
                double p = exp((double)beta * zp[c] - max) / sum;
                dz->data[b * C + c] += (float)(beta * (p - (c == k)) / (double)N);
            }
    }
    return loss / (double)N;
}

ms_status ref_loss_grad(ms_loss kind, const ref_tensor *z, float beta, const float *target, ref_tensor *dz,
                        double *loss, const char *source, ms_error *err)
{
    if (kind == MS_LOSS_BCE) {
        int64_t n = ref_numel(z);
        for (int64_t i = 0; i < n; i++)
            if (!(target[i] >= 0.0f && target[i] <= 1.0f))
                return ms_errorf(err, MS_ERR_INVALID, "%s: target %lld is %g, not in [0, 1]", source, (long long)i,
                                 (double)target[i]);
        *loss = ref_bce_with_logits(z, target, dz);
        return MS_OK;
    }
    int64_t frames = z->shape[0], classes = ref_numel(z) / frames;
    for (int64_t i = 0; i < frames; i++)
        if (!(target[i] >= 0.0f && target[i] < (float)classes) || target[i] != (float)(int64_t)target[i])
            return ms_errorf(err, MS_ERR_INVALID, "%s: label %lld is %g, not a class index in [0, %lld)", source,
                             (long long)i, (double)target[i], (long long)classes);
    *loss = ref_softmax_xent(z, beta, target, dz);
    return MS_OK;
}
