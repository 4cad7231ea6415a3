/* One node's forward pass on the reference kernels: the dispatch the inference plan
 * (ref.c) and the training plan (train.c) share. */
#include "backend/ref/kernels.h"

void ref_forward_node(const ms_node *n, const ref_tensor **in, ref_tensor *y)
{
    const ref_tensor *bias = n->n_inputs > 2 ? in[2] : NULL;
    switch (n->kind) {
    case MS_OP_CONV2D: ref_conv2d(n, in[0], in[1], bias, y); break;
    case MS_OP_FULLY_CONNECTED: ref_fully_connected(n, in[0], in[1], bias, y); break;
    case MS_OP_BATCH_NORM: ref_batch_norm(n, in[0], in[1], in[2], in[3], in[4], y); break;
    case MS_OP_CLIP: ref_clip(n, in[0], y); break;
    case MS_OP_AVG_POOL: ref_avg_pool(n, in[0], y); break;
    case MS_OP_MAX_POOL: ref_max_pool(n, in[0], y); break;
    case MS_OP_GLOBAL_AVG_POOL: ref_global_avg_pool(n, in[0], y); break;
    case MS_OP_MEAN: ref_mean(n, in[0], y); break;
    case MS_OP_ADD: ref_add(n, in[0], in[1], y); break;
    case MS_OP_CONCAT: ref_concat(n, in, y); break;
    case MS_OP_PAD: ref_pad(n, in[0], y); break;
    case MS_OP_RESHAPE:
    case MS_OP_COPY: ref_copy(n, in[0], y); break;
    case MS_OP_SOFTMAX: ref_softmax(n, in[0], y); break;
    case MS_OP_SIGMOID: ref_sigmoid(n, in[0], y); break;
    case MS_OP_MUL:
    case MS_OP_SUB:
    case MS_OP_DIV: ref_binary(n, in[0], in[1], y); break;
    case MS_OP_TRANSPOSE: ref_transpose(n, in[0], y); break;
    case MS_OP_SLICE: ref_slice(n, in[0], y); break;
    case MS_OP_LEAKY_RELU:
    case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH: ref_activation(n, in[0], y); break;
    case MS_OP_COUNT: break;
    }
}
