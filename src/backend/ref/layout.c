/* Reference kernels that only move values: concatenation along an axis, zero padding,
 * transposes, slices, and the copy that serves reshape (NHWC order is kept, only the shape changes) and the
 * QUANTIZE/DEQUANTIZE pairs of float graphs. */
#include "backend/ref/kernels.h"

#include <string.h>

/* Seen from the axis, each tensor is [outer, extent * inner]: the output interleaves one
 * block of every input per outer index. */
void ref_concat(const ms_node *n, const ref_tensor *const *inputs, ref_tensor *y)
{
    int64_t outer = 1;
    for (int d = 0; d < n->axis; d++) outer *= y->shape[d];
    float *yp = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n->n_inputs; k++) {
            int64_t block = ref_numel(inputs[k]) / outer;
            memcpy(yp, inputs[k]->data + o * block, (size_t)block * sizeof *yp);
            yp += block;
        }
}

/* Zeroes y, then copies each innermost row of x to its padded position. Shapes are
 * padded to 4-D with leading 1s (and no padding) so one loop nest serves every rank. */
void ref_pad(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t xs[4] = {1, 1, 1, 1}, ys[4] = {1, 1, 1, 1}, before[4] = {0, 0, 0, 0};
    int lead = 4 - x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        xs[lead + d] = x->shape[d];
        ys[lead + d] = y->shape[d];
        before[lead + d] = n->pads[d][0];
    }
    memset(y->data, 0, (size_t)ref_numel(y) * sizeof *y->data);
    const float *xp = x->data;
    for (int64_t a = 0; a < xs[0]; a++)
        for (int64_t b = 0; b < xs[1]; b++)
            for (int64_t c = 0; c < xs[2]; c++) {
                int64_t row = ((a + before[0]) * ys[1] + b + before[1]) * ys[2] + c + before[2];
                memcpy(y->data + row * ys[3] + before[3], xp, (size_t)xs[3] * sizeof *xp);
                xp += xs[3];
            }
}

void ref_copy(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    (void)n;
    memcpy(y->data, x->data, (size_t)ref_numel(x) * sizeof *y->data);
}

/* Shapes padded to 4-D with leading 1s: x's strides in y's order (transpose) or scaled
 * by the steps from the start offset (slice), then one loop nest over y. */
static void gather4(const ref_tensor *x, ref_tensor *y, const int64_t xst[4], int64_t offset)
{
    int64_t ys[4] = {1, 1, 1, 1};
    for (int d = 0; d < y->ndim; d++) ys[4 - y->ndim + d] = y->shape[d];
    float *yp = y->data;
    for (int64_t a = 0; a < ys[0]; a++)
        for (int64_t b = 0; b < ys[1]; b++)
            for (int64_t c = 0; c < ys[2]; c++)
                for (int64_t d = 0; d < ys[3]; d++)
                    *yp++ = x->data[offset + a * xst[0] + b * xst[1] + c * xst[2] + d * xst[3]];
}

static void strides_of(const ref_tensor *x, int64_t st[MS_MAX_DIMS])
{
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= x->shape[d];
    }
}

void ref_transpose(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t st[MS_MAX_DIMS], xst[4] = {0, 0, 0, 0};
    strides_of(x, st);
    for (int d = 0; d < y->ndim; d++) xst[4 - y->ndim + d] = st[n->perm[d]];
    gather4(x, y, xst, 0);
}

void ref_slice(const ms_node *n, const ref_tensor *x, ref_tensor *y)
{
    int64_t st[MS_MAX_DIMS], xst[4] = {0, 0, 0, 0}, offset = 0;
    strides_of(x, st);
    for (int d = 0; d < y->ndim; d++) {
        xst[4 - y->ndim + d] = st[d] * n->steps[d];
        offset += n->starts[d] * st[d];
    }
    gather4(x, y, xst, offset);
}
