/* Backward of the ops added for ONNX graphs: add / sub / mul / div with NumPy
 * broadcasting (a broadcast operand collects the sum over the positions it stretched
 * over), leaky ReLU, hard sigmoid, hard swish, transpose and slice. Same conventions as
 * backward.h: gradients accumulate, NULL means not needed. */
#include "backend/ref/backward.h"

/* t's strides seen from y's index space (right-aligned, padded to 4-D, 0 where t has
 * extent 1). */
static void bstrides(const ref_tensor *t, int64_t st[4])
{
    int64_t stride = 1;
    for (int d = 3; d >= 0; d--) {
        int td = d - (4 - t->ndim);
        int64_t e = td >= 0 ? t->shape[td] : 1;
        st[d] = e == 1 ? 0 : stride;
        stride *= e;
    }
}

void ref_binary_backward(const ms_node *n, const ref_tensor *a, const ref_tensor *b, const ref_tensor *dz,
                         ref_tensor *da, ref_tensor *db)
{
    int64_t ys[4] = {1, 1, 1, 1}, sa[4], sb[4];
    for (int d = 0; d < dz->ndim; d++) ys[4 - dz->ndim + d] = dz->shape[d];
    bstrides(a, sa);
    bstrides(b, sb);
    const float *g = dz->data;
    for (int64_t i0 = 0; i0 < ys[0]; i0++)
        for (int64_t i1 = 0; i1 < ys[1]; i1++)
            for (int64_t i2 = 0; i2 < ys[2]; i2++)
                for (int64_t i3 = 0; i3 < ys[3]; i3++, g++) {
                    int64_t ka = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3];
                    int64_t kb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3];
                    double va = a->data[ka], vb = b->data[kb], ga, gb;
                    switch (n->kind) {
                    case MS_OP_SUB: ga = *g, gb = -*g; break;
                    case MS_OP_MUL: ga = *g * vb, gb = *g * va; break;
                    case MS_OP_DIV: ga = *g / vb, gb = -*g * va / (vb * vb); break;
                    default: ga = gb = *g; break;
                    }
                    if (da) da->data[ka] += (float)ga;
                    if (db) db->data[kb] += (float)gb;
                }
}

void ref_activation_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *dy, ref_tensor *dx)
{
    int64_t total = ref_numel(x);
    for (int64_t i = 0; i < total; i++) {
        double v = x->data[i], d;
        if (n->kind == MS_OP_LEAKY_RELU) {
            d = v < 0 ? n->alpha : 1.0;
        } else if (n->kind == MS_OP_HARD_SIGMOID) {
            double t = (double)n->alpha * v + n->beta;
            d = t > 0 && t < 1 ? n->alpha : 0.0;
        } else {
            d = v <= -3 ? 0.0 : v >= 3 ? 1.0 : (2 * v + 3) / 6; /* x * clamp(x/6 + 1/2, 0, 1) */
        }
        dx->data[i] += (float)(d * dy->data[i]);
    }
}

/* Scatters dy back through the gather the forward kernel did (transpose or slice). */
static void scatter4(const ref_tensor *dy, ref_tensor *dx, const int64_t xst[4], int64_t offset)
{
    int64_t ys[4] = {1, 1, 1, 1};
    for (int d = 0; d < dy->ndim; d++) ys[4 - dy->ndim + d] = dy->shape[d];
    const float *g = dy->data;
    for (int64_t a = 0; a < ys[0]; a++)
        for (int64_t b = 0; b < ys[1]; b++)
            for (int64_t c = 0; c < ys[2]; c++)
                for (int64_t d = 0; d < ys[3]; d++)
                    dx->data[offset + a * xst[0] + b * xst[1] + c * xst[2] + d * xst[3]] += *g++;
}

static void strides_of(const ref_tensor *x, int64_t st[MS_MAX_DIMS])
{
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= x->shape[d];
    }
}

void ref_gather_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *dx)
{
    int64_t st[MS_MAX_DIMS], xst[4] = {0, 0, 0, 0}, offset = 0;
    strides_of(dx, st);
    for (int d = 0; d < dy->ndim; d++) {
        if (n->kind == MS_OP_TRANSPOSE) {
            xst[4 - dy->ndim + d] = st[n->perm[d]];
        } else {
            xst[4 - dy->ndim + d] = st[d] * n->steps[d];
            offset += n->starts[d] * st[d];
        }
    }
    scatter4(dy, dx, xst, offset);
}
