/* Reference kernels that only move values: concatenation along an axis, zero padding,
 * and the copy that serves reshape (NHWC order is kept, only the shape changes) and the
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
