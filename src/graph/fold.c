/* Batch-norm folding: conv followed by inference batch norm becomes one conv with
 * w'[o] = w[o] * s[o] and b'[o] = (b[o] - mean[o]) * s[o] + offset[o], where
 * s[o] = scale[o] / sqrt(variance[o] + epsilon). */
#include "graph/fold.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int producer(const ms_graph *g, int tensor)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].output == tensor) return i;
    return -1;
}

/* Reads of the tensor by nodes and graph outputs. */
static int readers(const ms_graph *g, int tensor)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) count += g->nodes[i].inputs[k] == tensor;
    for (int k = 0; k < g->n_outputs; k++) count += g->outputs[k] == tensor;
    return count;
}

static bool foldable(const ms_graph *g, int bn_index, int *conv_index)
{
    const ms_node *bn = &g->nodes[bn_index];
    if (bn->kind != MS_OP_BATCH_NORM || bn->n_inputs != 5) return false;
    for (int k = 1; k < 5; k++)
        if (!g->tensors[bn->inputs[k]].data) return false;
    int c = producer(g, bn->inputs[0]);
    if (c < 0) return false;
    const ms_node *conv = &g->nodes[c];
    if (conv->kind != MS_OP_CONV2D || readers(g, bn->inputs[0]) != 1) return false;
    if (conv->act_min != -INFINITY || conv->act_max != INFINITY) return false;
    for (int k = 1; k < conv->n_inputs; k++)
        if (!g->tensors[conv->inputs[k]].data) return false;
    *conv_index = c;
    return true;
}

/* Makes input k of node `owner` a constant that no other node reads, copying it (or,
 * when `create` is set and the node has no such input, making a zero tensor of `numel`
 * elements) so that it can be rewritten in place. Returns the tensor id or -1. */
static int private_constant(ms_graph *g, int owner, int k, int64_t numel, const char *suffix)
{
    ms_node *n = &g->nodes[owner];
    if (k < n->n_inputs && readers(g, n->inputs[k]) == 1) return n->inputs[k];
    char name[512];
    snprintf(name, sizeof name, "%s/%s", n->name, suffix);
    /* Copied out before adding a tensor moves the array. */
    bool copy = k < n->n_inputs;
    int ndim = 1;
    int64_t shape[MS_MAX_DIMS] = {numel};
    if (copy) {
        ndim = g->tensors[n->inputs[k]].ndim;
        memcpy(shape, g->tensors[n->inputs[k]].shape, sizeof shape);
    }
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    if (t < 0) return -1;
    float *data = calloc((size_t)numel + 1, sizeof *data);
    if (!data) return -1;
    if (copy) memcpy(data, g->tensors[n->inputs[k]].data, (size_t)numel * sizeof *data);
    g->tensors[t].data = data;
    if (k == n->n_inputs) {
        int *inputs = realloc(n->inputs, ((size_t)k + 1) * sizeof *inputs);
        if (!inputs) return -1;
        n->inputs = inputs;
        n->n_inputs = k + 1;
    }
    n->inputs[k] = t;
    return t;
}

static ms_status fold_pair(ms_graph *g, int conv_index, int bn_index, ms_error *err)
{
    const char *src = g->source ? g->source : "graph";
    const ms_node *bn = &g->nodes[bn_index];
    const ms_tensor *w = &g->tensors[g->nodes[conv_index].inputs[1]];
    if (w->ndim != 4 || w->shape[0] < 1)
        return ms_errorf(err, MS_ERR_INVALID, "%s: conv '%s' has weights without a 4-D shape (infer shapes first)",
                         src, g->nodes[conv_index].name);
    int64_t out_channels = w->shape[0], per_channel = ms_tensor_numel(w) / out_channels;
    for (int k = 1; k < 5; k++)
        if (ms_tensor_numel(&g->tensors[bn->inputs[k]]) != out_channels)
            return ms_errorf(err, MS_ERR_INVALID, "%s: batch norm '%s' has %lld-element parameters after conv '%s' with %lld outputs",
                             src, bn->name, (long long)ms_tensor_numel(&g->tensors[bn->inputs[k]]),
                             g->nodes[conv_index].name, (long long)out_channels);
    int wt = private_constant(g, conv_index, 1, ms_tensor_numel(w), "weights_folded");
    int bt = wt < 0 ? -1 : private_constant(g, conv_index, 2, out_channels, "bias_folded");
    if (wt < 0 || bt < 0) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory folding '%s'", src, bn->name);
    bn = &g->nodes[bn_index];
    const float *scale = g->tensors[bn->inputs[1]].data, *offset = g->tensors[bn->inputs[2]].data;
    const float *mean = g->tensors[bn->inputs[3]].data, *variance = g->tensors[bn->inputs[4]].data;
    float *wd = g->tensors[wt].data, *bd = g->tensors[bt].data;
    for (int64_t o = 0; o < out_channels; o++) {
        double s = scale[o] / sqrt((double)variance[o] + bn->epsilon);
        for (int64_t i = 0; i < per_channel; i++) wd[o * per_channel + i] = (float)(wd[o * per_channel + i] * s);
        bd[o] = (float)((bd[o] - (double)mean[o]) * s + offset[o]);
    }
    ms_tensor_drop_quantised(&g->tensors[wt]);
    ms_tensor_drop_quantised(&g->tensors[bt]);

    ms_node *conv = &g->nodes[conv_index];
    conv->output = bn->output;
    conv->act_min = bn->act_min;
    conv->act_max = bn->act_max;
    free(bn->name);
    free(bn->inputs);
    memmove(&g->nodes[bn_index], &g->nodes[bn_index + 1], (size_t)(g->n_nodes - bn_index - 1) * sizeof *g->nodes);
    g->n_nodes--;
    return MS_OK;
}

ms_status ms_graph_fold_batch_norm(ms_graph *g, ms_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        int c;
        if (!foldable(g, i, &c)) continue;
        ms_status s = fold_pair(g, c, i, err);
        if (s) return s;
        i--;
    }
    return MS_OK;
}
