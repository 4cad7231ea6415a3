/* Shape inference and size accounting for the IR: checks that every node's inputs fit
 * together, resolves SAME padding the way TensorFlow/TFLite do, sets every activation
 * tensor's shape, and counts multiply-adds and parameters.
 *
 * Dimension 0 of every activation is the batch, so no op may reduce, pad or concatenate
 * along it: a backend compiles a graph for a batch of N by scaling dimension 0 alone. */
#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prefix of every message about node `i`: "node 3 'conv1' (conv2d)". */
static ms_status node_error(ms_error *err, const ms_graph *g, int i, const char *what)
{
    const ms_node *n = &g->nodes[i];
    return ms_errorf(err, MS_ERR_INVALID, "%s: node %d '%s' (%s): %s", g->source ? g->source : "graph",
                     i, n->name, ms_op_name(n->kind), what);
}

static void shape_str(const ms_tensor *t, char *buf, size_t size)
{
    int off = snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && off < (int)size; d++)
        off += snprintf(buf + off, size - (size_t)off, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (off < (int)size) snprintf(buf + off, size - (size_t)off, "]");
}


/* One spatial dimension of a convolution or pooling window. Returns the output size, or
 * -1 if the window does not fit. SAME follows TensorFlow: out = ceil(in / stride) and
 * the odd pixel of padding goes after (bottom/right), so stride-2 SAME convolutions of
 * even inputs pad only at the end. */
static int64_t window_out(int64_t in, int k, int stride, int dilation, ms_padding padding,
                          int *pad_before, int *pad_after)
{
    int64_t eff = (int64_t)(k - 1) * dilation + 1;
    if (padding == MS_PAD_SAME) {
        int64_t out = (in + stride - 1) / stride;
        int64_t total = (out - 1) * stride + eff - in;
        if (total < 0) total = 0;
        *pad_before = (int)(total / 2);
        *pad_after = (int)(total - total / 2);
        return out;
    }
    if (padding == MS_PAD_VALID) *pad_before = *pad_after = 0;
    int64_t span = in + *pad_before + *pad_after - eff;
    return span < 0 ? -1 : span / stride + 1;
}

/* Resolves the node's window and sets y's spatial dims; x is NHWC. */
static ms_status infer_window(ms_graph *g, int i, const ms_tensor *x, int kh, int kw, int64_t channels,
                              ms_tensor *y, ms_error *err)
{
    ms_node *n = &g->nodes[i];
    char msg[512];
    if (n->stride_h < 1 || n->stride_w < 1 || n->dilation_h < 1 || n->dilation_w < 1 || kh < 1 || kw < 1) {
        snprintf(msg, sizeof msg, "kernel %dx%d, stride %dx%d and dilation %dx%d must all be >= 1", kh, kw,
                 n->stride_h, n->stride_w, n->dilation_h, n->dilation_w);
        return node_error(err, g, i, msg);
    }
    if (n->padding == MS_PAD_EXPLICIT && (n->pad_top < 0 || n->pad_bottom < 0 || n->pad_left < 0 || n->pad_right < 0))
        return node_error(err, g, i, "explicit padding must be >= 0");
    int64_t oh = window_out(x->shape[1], kh, n->stride_h, n->dilation_h, n->padding, &n->pad_top, &n->pad_bottom);
    int64_t ow = window_out(x->shape[2], kw, n->stride_w, n->dilation_w, n->padding, &n->pad_left, &n->pad_right);
    if (oh < 1 || ow < 1) {
        snprintf(msg, sizeof msg, "window %dx%d (dilation %dx%d) does not fit input %lldx%lld with padding %d,%d,%d,%d",
                 kh, kw, n->dilation_h, n->dilation_w, (long long)x->shape[1], (long long)x->shape[2], n->pad_top,
                 n->pad_bottom, n->pad_left, n->pad_right);
        return node_error(err, g, i, msg);
    }
    y->ndim = 4;
    y->shape[0] = x->shape[0];
    y->shape[1] = oh;
    y->shape[2] = ow;
    y->shape[3] = channels;
    return MS_OK;
}

static ms_status infer_conv(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    ms_node *n = &g->nodes[i];
    char msg[512], xs[96], ws[96];
    if (n->n_inputs != 2 && n->n_inputs != 3) return node_error(err, g, i, "needs inputs x, w and optionally b");
    const ms_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]];
    shape_str(x, xs, sizeof xs);
    shape_str(w, ws, sizeof ws);
    if (x->ndim != 4 || w->ndim != 4) {
        snprintf(msg, sizeof msg, "input %s and weights %s must both be 4-D (NHWC, [O,KH,KW,I/groups])", xs, ws);
        return node_error(err, g, i, msg);
    }
    int64_t c = x->shape[3], o = w->shape[0];
    if (n->groups < 1 || c % n->groups || o % n->groups || w->shape[3] * n->groups != c) {
        snprintf(msg, sizeof msg, "input %s, weights %s and groups %d do not match (need I = %lld = weights' %lld * groups, O divisible by groups)",
                 xs, ws, n->groups, (long long)c, (long long)w->shape[3]);
        return node_error(err, g, i, msg);
    }
    if (n->n_inputs == 3) {
        const ms_tensor *b = &g->tensors[n->inputs[2]];
        if (ms_tensor_numel(b) != o) {
            snprintf(msg, sizeof msg, "bias has %lld elements, weights have %lld output channels",
                     (long long)ms_tensor_numel(b), (long long)o);
            return node_error(err, g, i, msg);
        }
    }
    n->kernel_h = (int)w->shape[1];
    n->kernel_w = (int)w->shape[2];
    return infer_window(g, i, x, n->kernel_h, n->kernel_w, o, y, err);
}

static ms_status infer_pool(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    ms_node *n = &g->nodes[i];
    if (n->n_inputs != 1 || g->tensors[n->inputs[0]].ndim != 4)
        return node_error(err, g, i, "needs one 4-D (NHWC) input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    n->dilation_h = n->dilation_w = 1;
    return infer_window(g, i, x, n->kernel_h, n->kernel_w, x->shape[3], y, err);
}

static ms_status infer_fc(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    char msg[512], xs[96], ws[96];
    if (n->n_inputs != 2 && n->n_inputs != 3) return node_error(err, g, i, "needs inputs x, w and optionally b");
    const ms_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]];
    shape_str(x, xs, sizeof xs);
    shape_str(w, ws, sizeof ws);
    if (x->ndim < 1 || w->ndim != 2 || x->shape[0] < 1 || ms_tensor_numel(x) != x->shape[0] * w->shape[1]) {
        snprintf(msg, sizeof msg, "input %s does not flatten to [N, %lld] for weights %s", xs,
                 w->ndim == 2 ? (long long)w->shape[1] : -1LL, ws);
        return node_error(err, g, i, msg);
    }
    if (n->n_inputs == 3 && ms_tensor_numel(&g->tensors[n->inputs[2]]) != w->shape[0]) {
        snprintf(msg, sizeof msg, "bias has %lld elements, weights %s have %lld outputs",
                 (long long)ms_tensor_numel(&g->tensors[n->inputs[2]]), ws, (long long)w->shape[0]);
        return node_error(err, g, i, msg);
    }
    y->ndim = 2;
    y->shape[0] = x->shape[0];
    y->shape[1] = w->shape[0];
    return MS_OK;
}

static ms_status infer_batch_norm(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    char msg[512];
    if (n->n_inputs != 5) return node_error(err, g, i, "needs inputs x, scale, offset, mean, variance");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    if (x->ndim < 1) return node_error(err, g, i, "input has no shape");
    int64_t c = x->shape[x->ndim - 1];
    static const char *names[] = {"", "scale", "offset", "mean", "variance"};
    for (int k = 1; k < 5; k++) {
        int64_t m = ms_tensor_numel(&g->tensors[n->inputs[k]]);
        if (m != c) {
            snprintf(msg, sizeof msg, "%s has %lld elements, input has %lld channels", names[k], (long long)m,
                     (long long)c);
            return node_error(err, g, i, msg);
        }
    }
    if (!(n->epsilon >= 0)) return node_error(err, g, i, "epsilon must be >= 0");
    *y = (ms_tensor){.ndim = x->ndim};
    memcpy(y->shape, x->shape, sizeof y->shape);
    return MS_OK;
}

/* clip, sigmoid, copy: the output has the input's shape. */
static ms_status infer_unary(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    if (n->n_inputs != 1) return node_error(err, g, i, "needs exactly one input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    y->ndim = x->ndim;
    memcpy(y->shape, x->shape, sizeof y->shape);
    return MS_OK;
}

static ms_status infer_softmax(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    ms_status s = infer_unary(g, i, y, err);
    if (s) return s;
    if (y->ndim < 1) return node_error(err, g, i, "input has no shape");
    g->nodes[i].axis = y->ndim - 1;
    return MS_OK;
}

static ms_status infer_global_pool(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    if (n->n_inputs != 1 || g->tensors[n->inputs[0]].ndim != 4)
        return node_error(err, g, i, "needs one 4-D (NHWC) input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    y->ndim = 4;
    y->shape[0] = x->shape[0];
    y->shape[1] = y->shape[2] = 1;
    y->shape[3] = x->shape[3];
    return MS_OK;
}

static ms_status infer_mean(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    char msg[512];
    if (n->n_inputs < 1) return node_error(err, g, i, "needs an input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    if (n->axes_mask & 1u) return node_error(err, g, i, "cannot reduce dimension 0: it is the batch");
    if (n->axes_mask == 0 || n->axes_mask >> x->ndim) {
        snprintf(msg, sizeof msg, "axes mask 0x%x does not name axes of a %d-D input", n->axes_mask, x->ndim);
        return node_error(err, g, i, msg);
    }
    y->ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        bool reduced = n->axes_mask & (1u << d);
        if (reduced && !n->keep_dims) continue;
        y->shape[y->ndim++] = reduced ? 1 : x->shape[d];
    }
    return MS_OK;
}

/* add, mul, sub, div: NumPy broadcasting, shapes right-aligned, a dimension of 1
 * stretches to the other's. */
static ms_status infer_binary(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    char msg[512], as[96], bs[96];
    if (n->n_inputs != 2) return node_error(err, g, i, "needs exactly two inputs");
    const ms_tensor *a = &g->tensors[n->inputs[0]], *b = &g->tensors[n->inputs[1]];
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    *y = (ms_tensor){.ndim = nd};
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t ea = da >= 0 ? a->shape[da] : 1, eb = db >= 0 ? b->shape[db] : 1;
        if (ea != eb && ea != 1 && eb != 1) {
            shape_str(a, as, sizeof as);
            shape_str(b, bs, sizeof bs);
            snprintf(msg, sizeof msg, "shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)", as, bs, d,
                     (long long)ea, (long long)eb);
            return node_error(err, g, i, msg);
        }
        y->shape[d] = ea == 1 ? eb : ea;
    }
    return MS_OK;
}

static ms_status infer_transpose(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    if (n->n_inputs != 1) return node_error(err, g, i, "needs exactly one input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    unsigned seen = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (n->perm[d] < 0 || n->perm[d] >= x->ndim || (seen & (1u << n->perm[d])))
            return node_error(err, g, i, "perm is not a permutation of the input's dimensions");
        seen |= 1u << n->perm[d];
    }
    if (x->ndim < 1 || n->perm[0] != 0) return node_error(err, g, i, "cannot move dimension 0: it is the batch");
    *y = (ms_tensor){.ndim = x->ndim};
    for (int d = 0; d < x->ndim; d++) y->shape[d] = x->shape[n->perm[d]];
    return MS_OK;
}

/* The output tensor carries the slice's shape; every index it reaches must lie in x. */
static ms_status infer_slice(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    if (n->n_inputs != 1) return node_error(err, g, i, "needs exactly one input");
    const ms_tensor *x = &g->tensors[n->inputs[0]], *t = &g->tensors[n->output];
    if (t->ndim != x->ndim || x->ndim < 1) return node_error(err, g, i, "output rank differs from the input's");
    *y = (ms_tensor){.ndim = x->ndim};
    for (int d = 0; d < x->ndim; d++) {
        int64_t len = t->shape[d], first = n->starts[d], last = first + (len - 1) * n->steps[d];
        if (len < 1 || n->steps[d] == 0 || first < 0 || first >= x->shape[d] || last < 0 || last >= x->shape[d])
            return node_error(err, g, i, "slice reaches outside the input");
        y->shape[d] = len;
    }
    if (y->shape[0] != x->shape[0] || n->starts[0] != 0 || n->steps[0] != 1)
        return node_error(err, g, i, "cannot slice dimension 0: it is the batch");
    return MS_OK;
}

static ms_status infer_concat(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    ms_node *n = &g->nodes[i];
    char msg[512], as[96], bs[96];
    if (n->n_inputs < 1) return node_error(err, g, i, "needs at least one input");
    const ms_tensor *first = &g->tensors[n->inputs[0]];
    int nd = first->ndim;
    if (n->axis < 0) n->axis += nd;
    if (n->axis < 1 || n->axis >= nd) {
        snprintf(msg, sizeof msg, "axis %d is not a non-batch axis of a %d-D input", n->axis, nd);
        return node_error(err, g, i, msg);
    }
    *y = (ms_tensor){.ndim = nd};
    memcpy(y->shape, first->shape, sizeof y->shape);
    y->shape[n->axis] = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const ms_tensor *t = &g->tensors[n->inputs[k]];
        bool fits = t->ndim == nd;
        for (int d = 0; fits && d < nd; d++) fits = d == n->axis || t->shape[d] == first->shape[d];
        if (!fits) {
            shape_str(first, as, sizeof as);
            shape_str(t, bs, sizeof bs);
            snprintf(msg, sizeof msg, "input %d has shape %s, which does not match input 0's %s outside axis %d", k,
                     bs, as, n->axis);
            return node_error(err, g, i, msg);
        }
        y->shape[n->axis] += t->shape[n->axis];
    }
    return MS_OK;
}

static ms_status infer_pad(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    if (n->n_inputs < 1) return node_error(err, g, i, "needs an input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    if (n->pads[0][0] || n->pads[0][1]) return node_error(err, g, i, "cannot pad dimension 0: it is the batch");
    *y = (ms_tensor){.ndim = x->ndim};
    for (int d = 0; d < x->ndim; d++) {
        if (n->pads[d][0] < 0 || n->pads[d][1] < 0) return node_error(err, g, i, "pads must be >= 0");
        y->shape[d] = x->shape[d] + n->pads[d][0] + n->pads[d][1];
    }
    return MS_OK;
}

/* The output tensor already carries the target shape (at most one -1, which is solved
 * for); only the element count and the batch dimension are checked. */
static ms_status infer_reshape(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    char msg[512], xs[96], ys[96];
    if (n->n_inputs < 1) return node_error(err, g, i, "needs an input");
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    const ms_tensor *target = &g->tensors[n->output];
    if (target->ndim < 1) return node_error(err, g, i, "output tensor has no target shape");
    *y = (ms_tensor){.ndim = target->ndim};
    memcpy(y->shape, target->shape, sizeof y->shape);
    int unknown = -1;
    int64_t known = 1;
    for (int d = 0; d < y->ndim; d++) {
        if (y->shape[d] == -1 && unknown < 0) unknown = d;
        else if (y->shape[d] < 1) return node_error(err, g, i, "target shape has a dimension < 1 (or two -1s)");
        else known *= y->shape[d];
    }
    if (unknown >= 0 && ms_tensor_numel(x) % known == 0) y->shape[unknown] = ms_tensor_numel(x) / known;
    shape_str(x, xs, sizeof xs);
    shape_str(y, ys, sizeof ys);
    if (ms_tensor_numel(y) != ms_tensor_numel(x) || y->shape[0] != x->shape[0]) {
        snprintf(msg, sizeof msg, "cannot reshape %s to %s (element count and batch must be kept)", xs, ys);
        return node_error(err, g, i, msg);
    }
    return MS_OK;
}

static ms_status infer_node(ms_graph *g, int i, ms_tensor *y, ms_error *err)
{
    switch (g->nodes[i].kind) {
    case MS_OP_CONV2D: return infer_conv(g, i, y, err);
    case MS_OP_FULLY_CONNECTED: return infer_fc(g, i, y, err);
    case MS_OP_BATCH_NORM: return infer_batch_norm(g, i, y, err);
    case MS_OP_CLIP:
    case MS_OP_SIGMOID:
    case MS_OP_LEAKY_RELU:
    case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH:
    case MS_OP_COPY: return infer_unary(g, i, y, err);
    case MS_OP_SOFTMAX: return infer_softmax(g, i, y, err);
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL: return infer_pool(g, i, y, err);
    case MS_OP_GLOBAL_AVG_POOL: return infer_global_pool(g, i, y, err);
    case MS_OP_MEAN: return infer_mean(g, i, y, err);
    case MS_OP_ADD:
    case MS_OP_MUL:
    case MS_OP_SUB:
    case MS_OP_DIV: return infer_binary(g, i, y, err);
    case MS_OP_TRANSPOSE: return infer_transpose(g, i, y, err);
    case MS_OP_SLICE: return infer_slice(g, i, y, err);
    case MS_OP_CONCAT: return infer_concat(g, i, y, err);
    case MS_OP_PAD: return infer_pad(g, i, y, err);
    case MS_OP_RESHAPE: return infer_reshape(g, i, y, err);
    case MS_OP_COUNT: break;
    }
    return node_error(err, g, i, "unknown op kind");
}

/* Checks that the node's tensor ids are valid, its activation inputs were produced
 * earlier (or are graph inputs), and its output is a fresh activation. `ready` marks
 * the activations available so far. */
static ms_status check_wiring(const ms_graph *g, int i, const bool *ready, ms_error *err)
{
    const ms_node *n = &g->nodes[i];
    char msg[512];
    for (int k = 0; k < n->n_inputs; k++) {
        int t = n->inputs[k];
        if (t < 0 || t >= g->n_tensors) {
            snprintf(msg, sizeof msg, "input %d is tensor id %d, outside [0, %d)", k, t, g->n_tensors);
            return node_error(err, g, i, msg);
        }
        if (!g->tensors[t].data && !ready[t]) {
            snprintf(msg, sizeof msg, "input %d '%s' is not computed by an earlier node nor a graph input", k,
                     g->tensors[t].name);
            return node_error(err, g, i, msg);
        }
    }
    if (n->output < 0 || n->output >= g->n_tensors) return node_error(err, g, i, "output tensor id out of range");
    const ms_tensor *y = &g->tensors[n->output];
    if (y->data || ready[n->output]) {
        snprintf(msg, sizeof msg, "output '%s' is a constant or already computed", y->name);
        return node_error(err, g, i, msg);
    }
    return MS_OK;
}

ms_status ms_graph_infer_shapes(ms_graph *g, ms_error *err)
{
    const char *src = g->source ? g->source : "graph";
    bool *ready = calloc((size_t)g->n_tensors + 1, sizeof *ready);
    if (!ready) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory inferring shapes", src);
    ms_status s = MS_OK;
    for (int k = 0; k < g->n_inputs && !s; k++) {
        int t = g->inputs[k];
        if (t < 0 || t >= g->n_tensors) {
            s = ms_errorf(err, MS_ERR_INVALID, "%s: graph input %d is tensor id %d, outside [0, %d)", src, k, t,
                          g->n_tensors);
            break;
        }
        const ms_tensor *x = &g->tensors[t];
        bool shaped = x->ndim >= 1;
        for (int d = 0; d < x->ndim; d++) shaped = shaped && x->shape[d] >= 1;
        if (!shaped) s = ms_errorf(err, MS_ERR_INVALID, "%s: graph input '%s' has no complete shape", src, x->name);
        ready[t] = true;
    }
    for (int i = 0; i < g->n_nodes && !s; i++) {
        s = check_wiring(g, i, ready, err);
        if (s) break;
        ms_tensor y = {0};
        s = infer_node(g, i, &y, err);
        if (s) break;
        ms_tensor *out = &g->tensors[g->nodes[i].output];
        out->ndim = y.ndim;
        memcpy(out->shape, y.shape, sizeof out->shape);
        ready[g->nodes[i].output] = true;
    }
    for (int k = 0; k < g->n_outputs && !s; k++) {
        int t = g->outputs[k];
        if (t < 0 || t >= g->n_tensors || !ready[t])
            s = ms_errorf(err, MS_ERR_INVALID, "%s: graph output %d (tensor id %d) is not computed by any node",
                          src, k, t);
    }
    free(ready);
    return s;
}

/* Multiply-adds against weights: conv N*OH*OW*O*KH*KW*(I/groups), fully connected N*O*I.
 * Every other op (batch norm, pooling, elementwise, softmax) counts 0, as in the papers'
 * figures (MobileNetV1 1.0_224: 569M). Needs shapes inferred. */
int64_t ms_node_macs(const ms_graph *g, const ms_node *n)
{
    if (n->n_inputs < 2) return 0;
    const ms_tensor *y = &g->tensors[n->output], *w = &g->tensors[n->inputs[1]];
    if (n->kind == MS_OP_CONV2D && w->ndim == 4 && w->shape[0] > 0)
        return ms_tensor_numel(y) * (ms_tensor_numel(w) / w->shape[0]);
    if (n->kind == MS_OP_FULLY_CONNECTED && w->ndim == 2) return ms_tensor_numel(y) * w->shape[1];
    return 0;
}

int64_t ms_graph_macs(const ms_graph *g)
{
    int64_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += ms_node_macs(g, &g->nodes[i]);
    return total;
}

/* Elements of the constant tensors that nodes read, each tensor counted once. A
 * reshape's second input (the target shape in TFLite) is not a parameter. */
int64_t ms_graph_params(const ms_graph *g)
{
    bool *seen = calloc((size_t)g->n_tensors + 1, sizeof *seen);
    if (!seen) return -1;
    int64_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        int used = n->kind == MS_OP_RESHAPE ? 1 : n->n_inputs;
        for (int k = 0; k < used && k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0 || t >= g->n_tensors || seen[t] || !g->tensors[t].data) continue;
            seen[t] = true;
            total += ms_tensor_numel(&g->tensors[t]);
        }
    }
    free(seen);
    return total;
}
