/* Chokepoint discovery and cutting a graph into stand-alone segments.
 *
 * A cut c (0 <= c <= n_nodes) splits the topologically ordered node list into nodes
 * [0, c) before and [c, n_nodes) after. The state crossing it is every non-constant
 * tensor (the graph input or a node's output) made before the cut and read after it
 * (a graph output counts as read after the last node). A chokepoint is a cut that:
 *
 *   1. is crossed by exactly one tensor, so that tensor carries all state;
 *   2. lies on a block boundary of the network, not inside a layer or block:
 *      (a) never between a depthwise convolution and the 1x1 convolution reading it
 *          (a depthwise-separable pair is one block);
 *      (b) when that 1x1 convolution is a linear projection (no activation after it),
 *          the pair is the tail of an inverted-residual block, and if the depthwise
 *          convolution reads a 1x1 expansion convolution, the cuts between expansion
 *          and depthwise belong to the block too (cuts inside a residual ADD are never
 *          single-tensor, so rule 1 already excludes them);
 *      (c) never between a PAD and the convolution or pooling reading it (the pad is
 *          part of that layer);
 *      (d) never between a node and an activation (CLIP, SIGMOID, LEAKY_RELU,
 *          HARD_SIGMOID, HARD_SWISH) or BATCH_NORM that reads its output: a
 *          separate activation or normalisation belongs to the layer before it. This
 *          is not needed for the TFLite models, whose activations are fused, but
 *          without it a graph imported with unfused ReLU and batch norm (ONNX, Keras)
 *          would get three chokepoints per convolution. The exception is an
 *          activation or normalisation reading a CONCAT: a concat computes nothing, so
 *          what reads it begins the next layer (pre-activation order, BN-ReLU-conv, as
 *          DenseNet writes every layer and transition); the cut before it stays, and the
 *          cuts from it up to the node it leads into (through glue) are inside that layer;
 *      (e) never between a linear convolution (no activation after it) and the pooling
 *          that is its output's sole reader (through a pad): nothing non-linear happens
 *          between them, so the pooling finishes that layer (DenseNet's transition:
 *          BN, ReLU, 1x1 conv, average pool is one block);
 *      (f) never after a 1x1 convolution with fewer output than input channels whose
 *          output fans out into branches that a CONCAT joins (the next single-tensor
 *          cut is that concat's output): such a bottleneck only narrows the module's
 *          input before it splits, so it is part of the module (SqueezeNet's Fire:
 *          squeeze, then expand 1x1 and 3x3, concat). A module whose input is made by
 *          a pool, a concat (GoogLeNet's inception, ShuffleNet) or a convolution that
 *          does not narrow is not affected, nor a fan-out that an ADD joins (residual);
 *   3. lies no later than the cut before the classifier, the last convolution or
 *      fully-connected node (index 0 is the input, the last chokepoint is the tensor
 *      entering the classifier; a suffix must keep something to fine-tune);
 *   4. is not separated from the previous chokepoint by trivial nodes only (COPY,
 *      RESHAPE, TRANSPOSE): such cuts carry the same values, so only the earliest is
 *      kept (a channel shuffle after a concat is the same state, permuted).
 *
 * Walking through trivial nodes, pads and activations when matching the patterns of
 * 2(a), 2(b), 2(d) and 2(e) lets them hold however an importer spelled the layers out; the walk
 * also passes gated activations (x * sigmoid(x), x * hard_sigmoid(x): ONNX spells swish
 * and hard swish so) and squeeze-excite scalings (x * gate(pool(x))), so a depthwise
 * convolution, its squeeze-excite and its projection are one block (MobileNetV3,
 * EfficientNet). */
#include "graph/cut.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Who makes and who reads each tensor. */
typedef struct {
    int *producer;    /* node index; -1 for graph inputs and constants */
    int *last_use;    /* last reading node; n_nodes for graph outputs; -1 if never read */
    int *n_consumers; /* reading nodes (a node reading a tensor twice counts twice) */
    int *consumer;    /* the first reading node */
    bool *is_input;
} usage;

static void usage_free(usage *u)
{
    free(u->producer);
    free(u->last_use);
    free(u->n_consumers);
    free(u->consumer);
    free(u->is_input);
}

static const char *graph_name(const ms_graph *g) { return g->source ? g->source : "graph"; }


/* Fills u from g and checks the graph is well formed: every tensor id in range, every
 * node output made once, every output read only after it is made. A tensor that no
 * node makes and that is not a graph input is a constant (weights, or a reshape's
 * target shape), whether or not its values are loaded. */
static ms_status usage_build(const ms_graph *g, usage *u, ms_error *err)
{
    size_t nt = (size_t)(g->n_tensors > 0 ? g->n_tensors : 1);
    u->producer = malloc(nt * sizeof *u->producer);
    u->last_use = malloc(nt * sizeof *u->last_use);
    u->n_consumers = calloc(nt, sizeof *u->n_consumers);
    u->consumer = malloc(nt * sizeof *u->consumer);
    u->is_input = calloc(nt, sizeof *u->is_input);
    if (!u->producer || !u->last_use || !u->n_consumers || !u->consumer || !u->is_input) {
        usage_free(u);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", graph_name(g));
    }
    for (int t = 0; t < g->n_tensors; t++) u->producer[t] = u->last_use[t] = u->consumer[t] = -1;
    for (int i = 0; i < g->n_inputs; i++) {
        if (g->inputs[i] < 0 || g->inputs[i] >= g->n_tensors) goto bad_io;
        u->is_input[g->inputs[i]] = true;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        int t = g->nodes[k].output;
        if (t < 0 || t >= g->n_tensors || u->producer[t] >= 0 || u->is_input[t]) {
            usage_free(u);
            return ms_errorf(err, MS_ERR_INVALID, "%s: node %d (%s) has an invalid or repeated output tensor",
                             graph_name(g), k, g->nodes[k].name);
        }
        u->producer[t] = k;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        for (int j = 0; j < n->n_inputs; j++) {
            int t = n->inputs[j];
            if (t < 0 || t >= g->n_tensors) {
                usage_free(u);
                return ms_errorf(err, MS_ERR_INVALID, "%s: node %d (%s) reads tensor %d, which does not exist",
                                 graph_name(g), k, n->name, t);
            }
            if (u->producer[t] >= k) {
                int maker = u->producer[t];
                usage_free(u);
                return ms_errorf(err, MS_ERR_INVALID,
                                 "%s: node %d (%s) reads tensor '%s' before node %d makes it",
                                 graph_name(g), k, n->name, g->tensors[t].name, maker);
            }
            u->last_use[t] = k;
            if (u->n_consumers[t]++ == 0) u->consumer[t] = k;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        if (g->outputs[i] < 0 || g->outputs[i] >= g->n_tensors) goto bad_io;
        u->last_use[g->outputs[i]] = g->n_nodes;
    }
    return MS_OK;
bad_io:
    usage_free(u);
    return ms_errorf(err, MS_ERR_INVALID, "%s: a graph input or output names a tensor that does not exist",
                     graph_name(g));
}

/* The tensors crossing cut c: returns how many, and in *tensor the one if there is one. */
static int crossing(const ms_graph *g, const usage *u, int c, int *tensor)
{
    int count = 0;
    *tensor = -1;
    for (int t = 0; t < g->n_tensors; t++) {
        if (u->producer[t] < 0 && !u->is_input[t]) continue; /* a constant */
        if (u->producer[t] < c && u->last_use[t] >= c) {
            count++;
            *tensor = t;
        }
    }
    return count;
}

/* Nodes that only move values: a cut after them carries what the cut before did. */
static bool is_trivial(const ms_node *n)
{
    return n->kind == MS_OP_COPY || n->kind == MS_OP_RESHAPE || n->kind == MS_OP_TRANSPOSE;
}

/* Unary activations and normalisation: they belong to the layer whose output they read. */
static bool is_epilogue(const ms_node *n)
{
    switch (n->kind) {
    case MS_OP_CLIP: case MS_OP_BATCH_NORM: case MS_OP_SIGMOID: case MS_OP_LEAKY_RELU: case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH: return true;
    default: return false;
    }
}

/* A gated activation x * f(x) (swish, hard swish spelled out): a MUL of a tensor and an
 * epilogue's output on that same tensor. Returns the gated tensor x, or -1. */
static int gated_input(const ms_graph *g, const usage *u, const ms_node *n)
{
    if (n->kind != MS_OP_MUL || n->n_inputs != 2) return -1;
    for (int j = 0; j < 2; j++) {
        int f = u->producer[n->inputs[j]], x = n->inputs[1 - j];
        if (f >= 0 && is_epilogue(&g->nodes[f]) && g->nodes[f].n_inputs >= 1 && g->nodes[f].inputs[0] == x) return x;
    }
    return -1;
}

/* Nodes that belong to the layer around them: matching walks through them. */
static bool is_glue(const ms_node *n) { return is_trivial(n) || is_epilogue(n) || n->kind == MS_OP_PAD; }

/* Tensor t's next form when it flows through a gated activation or a squeeze-excite
 * scaling (t read by a global pool or mean and, last, by a MUL with a gate computed
 * from it): the MUL's output; otherwise -1. */
static int through_gate(const ms_graph *g, const usage *u, int t)
{
    if (u->n_consumers[t] != 2 || u->last_use[t] == g->n_nodes) return -1;
    const ms_node *first = &g->nodes[u->consumer[t]], *last = &g->nodes[u->last_use[t]];
    if (last->kind != MS_OP_MUL) return -1;
    bool gated = gated_input(g, u, last) == t;
    bool se = (first->kind == MS_OP_GLOBAL_AVG_POOL || first->kind == MS_OP_MEAN) &&
              (last->inputs[0] == t || last->inputs[1] == t);
    return gated || se ? last->output : -1;
}

static bool is_depthwise(const ms_graph *g, const ms_node *n)
{
    if (n->kind != MS_OP_CONV2D || n->groups <= 1 || n->n_inputs < 1) return false;
    const ms_tensor *x = &g->tensors[n->inputs[0]];
    return x->ndim == 4 && x->shape[3] == n->groups;
}

static bool is_pointwise(const ms_graph *g, const ms_node *n)
{
    if (n->kind != MS_OP_CONV2D || n->groups != 1 || n->n_inputs < 2) return false;
    const ms_tensor *w = &g->tensors[n->inputs[1]];
    return w->ndim == 4 && w->shape[1] == 1 && w->shape[2] == 1;
}

static bool has_activation(const ms_node *n) { return isfinite(n->act_min) || isfinite(n->act_max); }

/* The node that really reads tensor t: follows sole readers through glue nodes.
 * Returns -1 when t has no sole reader. */
static int reader_through_glue(const ms_graph *g, const usage *u, int t)
{
    for (;;) {
        int next = through_gate(g, u, t);
        if (next >= 0) {
            t = next;
            continue;
        }
        if (u->n_consumers[t] != 1 || u->last_use[t] == g->n_nodes) return -1;
        int k = u->consumer[t];
        if (!is_glue(&g->nodes[k])) return k;
        t = g->nodes[k].output;
    }
}

/* The node that really made tensor t: follows producers back through glue nodes.
 * Returns -1 when t is a graph input. */
static int maker_through_glue(const ms_graph *g, const usage *u, int t)
{
    for (;;) {
        int k = u->producer[t];
        if (k >= 0 && gated_input(g, u, &g->nodes[k]) >= 0) {
            t = gated_input(g, u, &g->nodes[k]);
            continue;
        }
        if (k < 0 || !is_glue(&g->nodes[k]) || g->nodes[k].n_inputs < 1) return k;
        t = g->nodes[k].inputs[0];
    }
}

/* True when node k's output reaches the next layer with no activation on the way. */
static bool is_linear(const ms_graph *g, const usage *u, int k)
{
    if (has_activation(&g->nodes[k])) return false;
    int t = g->nodes[k].output;
    if (through_gate(g, u, t) >= 0) return false;
    while (u->n_consumers[t] == 1 && u->last_use[t] < g->n_nodes) {
        const ms_node *n = &g->nodes[u->consumer[t]];
        if (!is_glue(n)) break;
        if ((is_epilogue(n) && n->kind != MS_OP_BATCH_NORM) || has_activation(n)) return false;
        t = n->output;
    }
    return true;
}

/* Marks cuts (from, to] as inside a layer or block. */
static void exclude(bool *excluded, int from, int to)
{
    assert(from >= -1);
    for (int c = from < 0 ? 0 : from + 1; c <= to; c++) excluded[c] = true;
}

static bool is_pool(const ms_node *n)
{
    return n->kind == MS_OP_AVG_POOL || n->kind == MS_OP_MAX_POOL || n->kind == MS_OP_GLOBAL_AVG_POOL ||
           n->kind == MS_OP_MEAN;
}

/* Rule 2(d) for epilogue node k: after the layer it reads, or, reading a concat,
 * before the node it leads into. */
static void exclude_epilogue(const ms_graph *g, const usage *u, bool *excluded, int k)
{
    const ms_node *n = &g->nodes[k];
    int p = n->n_inputs >= 1 ? u->producer[n->inputs[0]] : -1;
    if (p < 0) return;
    if (g->nodes[p].kind != MS_OP_CONCAT) {
        exclude(excluded, p, k);
        return;
    }
    int r = reader_through_glue(g, u, n->output);
    if (r > k) exclude(excluded, k, r);
}

/* Rule 2(e): a pooling that alone reads linear convolution k's output (through glue). */
static void exclude_conv_pool(const ms_graph *g, const usage *u, bool *excluded, int k)
{
    if (g->nodes[k].kind != MS_OP_CONV2D || !is_linear(g, u, k)) return;
    int r = reader_through_glue(g, u, g->nodes[k].output);
    if (r >= 0 && is_pool(&g->nodes[r])) exclude(excluded, k, r);
}

/* Applies rules 2(a) to 2(e) and 3 of the comment at the top. */
static void mark_exclusions(const ms_graph *g, const usage *u, bool *excluded)
{
    int classifier = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        if (n->kind == MS_OP_CONV2D || n->kind == MS_OP_FULLY_CONNECTED) classifier = k;
        if (is_epilogue(n)) exclude_epilogue(g, u, excluded, k);
        exclude_conv_pool(g, u, excluded, k);
        if (n->kind == MS_OP_PAD && u->n_consumers[n->output] == 1) {
            int r = u->consumer[n->output];
            ms_op_kind rk = g->nodes[r].kind;
            if (rk == MS_OP_CONV2D || rk == MS_OP_AVG_POOL || rk == MS_OP_MAX_POOL) exclude(excluded, k, r);
        }
        if (!is_depthwise(g, n)) continue;
        int proj = reader_through_glue(g, u, n->output);
        if (proj < 0 || !is_pointwise(g, &g->nodes[proj])) continue;
        exclude(excluded, k, proj);
        if (!is_linear(g, u, proj)) continue;
        int expand = maker_through_glue(g, u, n->inputs[0]);
        if (expand >= 0 && is_pointwise(g, &g->nodes[expand])) exclude(excluded, expand, k);
    }
    /* A suffix must hold the classifier; with none, it must at least hold a node. */
    int last = classifier >= 0 ? classifier : g->n_nodes - 1;
    exclude(excluded, last, g->n_nodes);
}

/* A 1x1 convolution with fewer output than input channels. */
static bool is_squeeze(const ms_graph *g, const ms_node *n)
{
    if (!is_pointwise(g, n)) return false;
    const ms_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]];
    return x->ndim == 4 && w->shape[0] < x->shape[3];
}

/* Rule 2(f): excludes single-tensor cut c when its tensor, made by a squeeze (through
 * glue), fans out and the next single-tensor cut is a concat's output. count[c] and
 * tensor[c] are each cut's crossing tensors. */
static void exclude_squeeze(const ms_graph *g, const usage *u, const int *count, const int *tensor, bool *excluded)
{
    for (int c = 1; c < g->n_nodes; c++) {
        int t = tensor[c];
        if (count[c] != 1 || u->n_consumers[t] < 2 || u->last_use[t] == g->n_nodes) continue;
        int maker = maker_through_glue(g, u, t);
        if (maker < 0 || !is_squeeze(g, &g->nodes[maker])) continue;
        int next = c + 1;
        while (next <= g->n_nodes && count[next] != 1) next++;
        if (next > g->n_nodes) continue;
        int joiner = u->producer[tensor[next]];
        if (joiner >= 0 && g->nodes[joiner].kind == MS_OP_CONCAT) excluded[c] = true;
    }
}

static bool only_trivial_between(const ms_graph *g, int from, int to)
{
    for (int k = from; k < to; k++)
        if (!is_trivial(&g->nodes[k])) return false;
    return true;
}

ms_status ms_graph_chokepoints(const ms_graph *g, ms_chokepoint **out, int *n, ms_error *err)
{
    *out = NULL;
    *n = 0;
    if (g->n_inputs != 1)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: chokepoints need a graph with one input, it has %d",
                         graph_name(g), g->n_inputs);
    if (g->n_nodes < 1) return ms_errorf(err, MS_ERR_INVALID, "%s: the graph has no nodes", graph_name(g));
    usage u;
    ms_status s = usage_build(g, &u, err);
    if (s) return s;
    int ncuts = g->n_nodes + 1;
    bool *excluded = calloc((size_t)ncuts, sizeof *excluded);
    int64_t *macs_upto = malloc((size_t)ncuts * sizeof *macs_upto); /* MACs of nodes [0, c) */
    ms_chokepoint *cps = malloc((size_t)ncuts * sizeof *cps);
    int *cross = malloc(2 * (size_t)ncuts * sizeof *cross); /* count, then tensor, per cut */
    if (!excluded || !macs_upto || !cps || !cross) {
        free(excluded);
        free(macs_upto);
        free(cps);
        free(cross);
        usage_free(&u);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", graph_name(g));
    }
    int *tensor = cross + ncuts;
    macs_upto[0] = 0;
    for (int k = 0; k < g->n_nodes; k++) macs_upto[k + 1] = macs_upto[k] + ms_node_macs(g, &g->nodes[k]);
    for (int c = 0; c < ncuts; c++) cross[c] = crossing(g, &u, c, &tensor[c]);
    mark_exclusions(g, &u, excluded);
    exclude_squeeze(g, &u, cross, tensor, excluded);

    int count = 0;
    for (int c = 0; c < ncuts; c++) {
        int t = tensor[c];
        if (excluded[c] || cross[c] != 1) continue;
        if (count > 0 && only_trivial_between(g, cps[count - 1].node_end, c)) continue;
        cps[count].tensor = t;
        cps[count].node_end = c;
        cps[count].macs_before = macs_upto[c];
        cps[count].macs_after = macs_upto[g->n_nodes] - macs_upto[c];
        count++;
    }
    free(excluded);
    free(macs_upto);
    free(cross);
    usage_free(&u);
    if (count == 0 || cps[0].node_end != 0) {
        free(cps);
        return ms_errorf(err, MS_ERR_INVALID, "%s: the graph input is not read by any node", graph_name(g));
    }
    *out = cps;
    *n = count;
    return MS_OK;
}

/* The state tensors entering nodes [b, e) (made before b, read inside) and leaving it
 * (made inside, read at or after e, or a graph output). Returns the counts. */
static void boundary(const ms_graph *g, const usage *u, int b, int e, int *n_in, int *in, int *n_out,
                     int *out)
{
    *n_in = *n_out = 0;
    *in = *out = -1;
    for (int t = 0; t < g->n_tensors; t++) {
        int p = u->producer[t];
        if (p < 0 && !u->is_input[t]) continue;
        if (p >= b && p < e && u->last_use[t] >= e) {
            (*n_out)++;
            *out = t;
        }
        if (p >= b) continue;
        for (int k = b; k < e; k++) {
            const ms_node *n = &g->nodes[k];
            bool read = false;
            for (int j = 0; j < n->n_inputs && !read; j++) read = n->inputs[j] == t;
            if (read) {
                (*n_in)++;
                *in = t;
                break;
            }
        }
    }
}

static ms_status copy_tensor(ms_graph *dst, const ms_tensor *src, int *id)
{
    *id = ms_graph_add_tensor(dst, src->name, src->ndim, src->shape, src->dtype);
    if (*id < 0) return MS_ERR_NOMEM;
    ms_tensor *t = &dst->tensors[*id];
    if (src->quant.n > 0) {
        t->quant.scale = malloc((size_t)src->quant.n * sizeof *t->quant.scale);
        t->quant.zero_point = malloc((size_t)src->quant.n * sizeof *t->quant.zero_point);
        if (!t->quant.scale || !t->quant.zero_point) return MS_ERR_NOMEM; /* freed with dst */
        memcpy(t->quant.scale, src->quant.scale, (size_t)src->quant.n * sizeof *t->quant.scale);
        memcpy(t->quant.zero_point, src->quant.zero_point, (size_t)src->quant.n * sizeof *t->quant.zero_point);
        t->quant.n = src->quant.n;
        t->quant.axis = src->quant.axis;
    }
    if (src->data) {
        size_t bytes = (size_t)ms_tensor_numel(src) * sizeof *src->data;
        t->data = malloc(bytes ? bytes : 1);
        if (!t->data) return MS_ERR_NOMEM;
        memcpy(t->data, src->data, bytes);
    }
    if (src->qdata) {
        t->qdata = malloc(src->qbytes ? src->qbytes : 1);
        if (!t->qdata) return MS_ERR_NOMEM;
        memcpy(t->qdata, src->qdata, src->qbytes);
        t->qbytes = src->qbytes;
    }
    return MS_OK;
}

static ms_status copy_node(ms_graph *dst, const ms_node *src, const int *tensor_map)
{
    int *inputs = malloc(((size_t)src->n_inputs + 1) * sizeof *inputs);
    if (!inputs) return MS_ERR_NOMEM;
    for (int j = 0; j < src->n_inputs; j++) inputs[j] = tensor_map[src->inputs[j]];
    int id = ms_graph_add_node(dst, src->kind, src->name, inputs, src->n_inputs, tensor_map[src->output]);
    free(inputs);
    if (id < 0) return MS_ERR_NOMEM;
    ms_node *n = &dst->nodes[id];
    char *name = n->name;
    int *ins = n->inputs;
    int output = n->output;
    *n = *src;
    n->name = name;
    n->inputs = ins;
    n->output = output;
    return MS_OK;
}

/* Copies the tensors that nodes [b, e) use (in their original order) and the nodes. */
static ms_status fill_segment(const ms_graph *g, int b, int e, int in, int out, ms_graph *seg)
{
    int *map = malloc((size_t)g->n_tensors * sizeof *map);
    if (!map) return MS_ERR_NOMEM;
    for (int t = 0; t < g->n_tensors; t++) map[t] = -1;
    map[in] = 0;
    for (int k = b; k < e; k++) {
        for (int j = 0; j < g->nodes[k].n_inputs; j++) map[g->nodes[k].inputs[j]] = 0;
        map[g->nodes[k].output] = 0;
    }
    ms_status s = MS_OK;
    for (int t = 0; t < g->n_tensors && !s; t++)
        if (map[t] == 0) s = copy_tensor(seg, &g->tensors[t], &map[t]);
    for (int k = b; k < e && !s; k++) s = copy_node(seg, &g->nodes[k], map);
    if (!s) {
        seg->inputs = malloc(sizeof *seg->inputs);
        seg->outputs = malloc(sizeof *seg->outputs);
        if (!seg->inputs || !seg->outputs) s = MS_ERR_NOMEM;
    }
    if (!s) {
        seg->inputs[0] = map[in];
        seg->n_inputs = 1;
        seg->outputs[0] = map[out];
        seg->n_outputs = 1;
    }
    free(map);
    return s;
}

ms_status ms_graph_segment(const ms_graph *g, int node_begin, int node_end, ms_graph **out,
                           ms_error *err)
{
    *out = NULL;
    const char *name = graph_name(g);
    if (node_begin < 0 || node_end > g->n_nodes || node_begin >= node_end)
        return ms_errorf(err, MS_ERR_INVALID, "%s: segment [%d, %d) is not a non-empty range of its %d nodes",
                         name, node_begin, node_end, g->n_nodes);
    usage u;
    ms_status s = usage_build(g, &u, err);
    if (s) return s;
    int n_in, in, n_out, outt;
    boundary(g, &u, node_begin, node_end, &n_in, &in, &n_out, &outt);
    usage_free(&u);
    if (n_in != 1 || n_out != 1)
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: segment [%d, %d) has %d tensors entering and %d leaving; it needs one of each",
                         name, node_begin, node_end, n_in, n_out);

    ms_graph *seg = ms_graph_new();
    char source[1024];
    snprintf(source, sizeof source, "%s[%d:%d]", name, node_begin, node_end);
    if (!seg || !(seg->source = strdup(source)) ||
        fill_segment(g, node_begin, node_end, in, outt, seg) != MS_OK) {
        ms_graph_free(seg);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory cutting segment [%d, %d)", name, node_begin,
                         node_end);
    }
    seg->input_spec = g->input_spec;
    memcpy(seg->fingerprint, g->fingerprint, sizeof seg->fingerprint);
    *out = seg;
    return MS_OK;
}
