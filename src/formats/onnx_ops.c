/* ONNX import, node half: each ONNX node becomes IR nodes in the IR's layout. Reading a
 * node (attributes, inputs, output) is onnx_node.c's; a node whose inputs are all
 * constants is evaluated by onnx_fold.c instead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/onnx_internal.h"

typedef ox_node_t node_t;

/* A new activation value `name` with ONNX dims, and its IR tensor. */
static ms_status new_act(ox_ctx *c, const char *name, int rank, const int64_t *dims, int *tensor)
{
    if (rank < 1 || rank > MS_MAX_DIMS)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "output '%.200s' has %d dimensions (1 to %d are supported)", name, rank, MS_MAX_DIMS);
    if (dims[0] != c->batch)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "output '%.200s' has %lld in dimension 0, the batch is %lld: ops may not change the batch",
                            name, (long long)dims[0], (long long)c->batch);
    for (int d = 0; d < rank; d++)
        if (dims[d] < 1 || dims[d] > OX_MAX_ELEMENTS) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "output '%.200s': dimension %d is %lld", name, d, (long long)dims[d]);
    if (ox_numel(rank, dims) > OX_MAX_ELEMENTS) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "output '%.200s' is too large", name);
    int64_t ir[MS_MAX_DIMS];
    ox_ir_shape(rank, dims, ir);
    int t = ms_graph_add_tensor(c->g, name, rank, ir, MS_DT_F32);
    if (t < 0) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    ox_value v = {.name = name, .rank = rank, .numel = ox_numel(rank, dims), .tensor = t};
    memcpy(v.dims, dims, (size_t)rank * sizeof *dims);
    ms_status s = ox_add_value(c, &v);
    if (!s) *tensor = t;
    return s;
}

/* An IR tensor (no value) for intermediate results, IR shape given. */
static ms_status new_temp(ox_ctx *c, const char *base, const char *suffix, int rank, const int64_t *ir, int *t)
{
    char nm[400];
    snprintf(nm, sizeof nm, "%.300s/%s", base, suffix);
    *t = ms_graph_add_tensor(c->g, nm, rank, ir, MS_DT_F32);
    return *t < 0 ? ox_node_fail(c, MS_ERR_NOMEM, "out of memory") : MS_OK;
}

static ms_status add_ir(ox_ctx *c, ms_op_kind kind, const int *in, int n_in, int out, ms_node **node)
{
    const char *nm = c->node->name && c->node->name[0] ? c->node->name : c->g->tensors[out].name;
    int id = ms_graph_add_node(c->g, kind, nm, in, n_in, out);
    if (id < 0) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    *node = &c->g->nodes[id];
    return MS_OK;
}

/* A constant as an IR tensor: its values copied to float, dims right-aligned to `rank`
 * (leading 1s) and, for rank 4, moved from NCHW to NHWC. */
static ms_status ir_const(ox_ctx *c, const ox_value *v, int rank, int *t)
{
    if (v->rank > rank || rank > MS_MAX_DIMS)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "constant '%.200s' has %d dimensions (at most %d here)", v->name, v->rank, rank);
    int64_t od[MS_MAX_DIMS], ir[MS_MAX_DIMS];
    for (int d = 0; d < rank; d++) od[d] = d < rank - v->rank ? 1 : v->dims[d - (rank - v->rank)];
    for (int a = 0; a < rank; a++) ir[ox_ir_axis(rank, a)] = od[a];
    *t = ms_graph_add_tensor(c->g, v->name, rank, ir, MS_DT_F32);
    if (*t < 0) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    float *data = malloc(((size_t)v->numel + 1) * sizeof *data);
    if (!data) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    if (rank == 4) {
        int64_t N = od[0], C = od[1], H = od[2], W = od[3];
        for (int64_t a = 0; a < N; a++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++)
                        data[((a * H + h) * W + w) * C + ch] = (float)ox_cval(v, ((a * C + ch) * H + h) * W + w);
    } else {
        for (int64_t k = 0; k < v->numel; k++) data[k] = (float)ox_cval(v, k);
    }
    c->g->tensors[*t].data = data;
    return MS_OK;
}

/* ---- layout changes ------------------------------------------------------------------- */

/* Whether permuting dims by perm (y[d] = x[perm[d]]) keeps the bytes' order: the
 * dimensions larger than 1 stay in order. */
static bool trivial_perm(int rank, const int64_t *dims, const int *perm)
{
    int last = -1;
    for (int d = 0; d < rank; d++) {
        if (dims[perm[d]] == 1) continue;
        if (perm[d] < last) return false;
        last = perm[d];
    }
    return true;
}

/* Emits a transpose (or a reshape when the bytes keep their order) of IR tensor x into
 * a new tensor; *y is its id. */
static ms_status ir_permute(ox_ctx *c, int x, const int *perm, const char *suffix, int *y)
{
    const ms_tensor *xt = &c->g->tensors[x];
    int rank = xt->ndim;
    int64_t shape[MS_MAX_DIMS] = {0};
    for (int d = 0; d < rank; d++) shape[d] = xt->shape[perm[d]];
    bool trivial = trivial_perm(rank, xt->shape, perm);
    ms_status s = new_temp(c, c->g->tensors[x].name, suffix, rank, shape, y);
    ms_node *nd = NULL;
    if (!s) s = add_ir(c, trivial ? MS_OP_RESHAPE : MS_OP_TRANSPOSE, &x, 1, *y, &nd);
    if (!s && !trivial) memcpy(nd->perm, perm, sizeof nd->perm);
    return s;
}

/* The activation `src` reshaped to ONNX dims (rank, dims) as value `name`. A 4-D
 * activation is NHWC in the IR, so unless the bytes agree the data goes through NCHW
 * order (transposes on either side of the reshape). */
static ms_status reshape_to(ox_ctx *c, const ox_value *src, int rank, const int64_t *dims, const char *name)
{
    if (ox_numel(rank, dims) != src->numel)
        return ox_node_fail(c, MS_ERR_FORMAT, "cannot reshape %lld elements into %lld", (long long)src->numel,
                            (long long)ox_numel(rank, dims));
    static const int to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    int x = src->tensor, y;
    ms_status s = MS_OK;
    /* IR tensor in ONNX order */
    if (src->rank == 4 && !trivial_perm(4, c->g->tensors[x].shape, to_nchw)) s = ir_permute(c, x, to_nchw, "nchw", &x);
    if (s) return s;
    int64_t od[MS_MAX_DIMS];
    if (rank < 1 || rank > MS_MAX_DIMS)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "output has %d dimensions (1 to %d are supported)", rank, MS_MAX_DIMS);
    memcpy(od, dims, (size_t)rank * sizeof *dims);
    od[0] = 1;
    bool back = rank == 4 && !trivial_perm(4, od, to_nhwc);
    if ((s = new_act(c, name, rank, dims, &y))) return s;
    int mid = y;
    if (back && (s = new_temp(c, name, "nchw", rank, od, &mid))) return s;
    ms_node *nd = NULL;
    if ((s = add_ir(c, MS_OP_RESHAPE, &x, 1, mid, &nd))) return s;
    if (back) {
        if ((s = add_ir(c, MS_OP_TRANSPOSE, &mid, 1, y, &nd))) return s;
        memcpy(nd->perm, to_nhwc, sizeof nd->perm);
    }
    return MS_OK;
}

/* ---- shapes ---------------------------------------------------------------------------- */

/* The three steps of a channel shuffle (see ox_value.shuffle). The IR does it in 4-D:
 * NHWC [1, H, W, C] viewed as [1, H*W, g, C/g], transposed to [1, H*W, C/g, g], viewed
 * as [1, H, W, C]: channel b*g + a takes channel a*(C/g) + b, as ONNX's steps do. */
static ms_status channel_shuffle(ox_ctx *c, node_t *n, ox_value *x, int rank, const int64_t *dims)
{
    ox_value v = *x;
    v.name = n->output[0];
    v.f = NULL;
    v.i = NULL;
    if (!x->shuffle) {
        if (x->rank != 4 || dims[0] != x->dims[0] || dims[1] * dims[2] != x->dims[1] || dims[3] != x->dims[2] ||
            dims[4] != x->dims[3])
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "5-D reshapes are supported only as a channel shuffle's [N, g, C/g, H, W]");
        v.shuffle = 1;
        v.rank = 5;
        memcpy(v.dims, dims, 5 * sizeof *dims);
        return ox_add_value(c, &v);
    }
    if (x->shuffle != 2 || rank != 4 || dims[1] != x->dims[1] * x->dims[2] || dims[2] != x->dims[3] || dims[3] != x->dims[4])
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "a channel shuffle must end in a reshape back to [N, C, H, W]");
    int64_t g = x->dims[2], cg = x->dims[1]; /* after the transpose: [N, C/g, g, H, W] */
    const ms_tensor *xt = &c->g->tensors[x->tensor];
    int64_t hw = xt->shape[1] * xt->shape[2];
    int64_t v1[4] = {1, hw, g, cg}, v2[4] = {1, hw, cg, g};
    int a, b, y, in = x->tensor;
    ms_node *nd = NULL;
    static const int swap[4] = {0, 1, 3, 2};
    ms_status s = new_temp(c, n->output[0], "groups", 4, v1, &a);
    if (!s) s = add_ir(c, MS_OP_RESHAPE, &in, 1, a, &nd);
    if (!s) s = new_temp(c, n->output[0], "shuffled", 4, v2, &b);
    if (!s) s = add_ir(c, MS_OP_TRANSPOSE, &a, 1, b, &nd);
    if (!s) memcpy(nd->perm, swap, sizeof swap);
    if (!s) s = new_act(c, n->output[0], 4, dims, &y);
    if (!s) s = add_ir(c, MS_OP_RESHAPE, &b, 1, y, &nd);
    return s;
}

/* Reshape, Flatten, Squeeze, Unsqueeze end here: a constant is re-labelled, an
 * activation reshaped. */
static ms_status reshape_value(ox_ctx *c, node_t *n, ox_value *x, int rank, const int64_t *dims)
{
    if (ox_numel(rank, dims) != x->numel)
        return ox_node_fail(c, MS_ERR_FORMAT, "the new shape holds %lld elements, the input %lld",
                            (long long)ox_numel(rank, dims), (long long)x->numel);
    if (!x->is_const && (x->shuffle || rank == 5)) return channel_shuffle(c, n, x, rank, dims);
    if (x->is_const) {
        ox_value v = *x;
        ms_status s = ox_alias(c, n->output[0], x);
        if (s) return s;
        ox_value *nv = &c->vals[c->n_vals - 1];
        nv->rank = rank;
        memcpy(nv->dims, dims, (size_t)rank * sizeof *dims);
        (void)v;
        return MS_OK;
    }
    return reshape_to(c, x, rank, dims, n->output[0]);
}

static ms_status op_reshape(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t dims[MS_ONNX_MAX_RANK], allowzero;
    int rank;
    ms_status s = ox_known_attrs(c, n, "allowzero");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "allowzero", 0, &allowzero);
    if (!s) s = ox_const_ints(c, n, 1, dims, MS_ONNX_MAX_RANK, &rank);
    if (s) return s;
    int unknown = -1;
    int64_t known = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 0 && !allowzero) {
            if (d >= x->rank) return ox_node_fail(c, MS_ERR_FORMAT, "0 in dimension %d copies a dimension the input lacks", d);
            dims[d] = x->dims[d];
        }
        if (dims[d] == -1) {
            if (unknown >= 0) return ox_node_fail(c, MS_ERR_FORMAT, "two -1 dimensions");
            unknown = d;
        } else if (dims[d] < 1) {
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "dimension %d is %lld", d, (long long)dims[d]);
        } else {
            known *= dims[d];
            if (known > OX_MAX_ELEMENTS) return ox_node_fail(c, MS_ERR_FORMAT, "the shape is too large");
        }
    }
    if (unknown >= 0) {
        if (x->numel % known) return ox_node_fail(c, MS_ERR_FORMAT, "cannot infer the -1 dimension");
        dims[unknown] = x->numel / known;
    }
    return reshape_value(c, n, x, rank, dims);
}

static ms_status op_flatten(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t axis;
    int ax = 0;
    ms_status s = ox_known_attrs(c, n, "axis");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "axis", 1, &axis);
    if (s) return s;
    if (axis == x->rank) ax = x->rank;
    else if ((s = ox_norm_axis(c, axis, x->rank, &ax))) return s;
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) dims[d < ax ? 0 : 1] *= x->dims[d];
    return reshape_value(c, n, x, 2, dims);
}

/* Squeeze and Unsqueeze: axes from the attribute (opset < 13) or input 1. */
static ms_status squeeze_axes(ox_ctx *c, node_t *n, int64_t *axes, int *count)
{
    ms_status s = ox_known_attrs(c, n, "axes");
    return s ? s : ox_ints_operand(c, n, "axes", 1, axes, MS_ONNX_MAX_RANK, count);
}

static ms_status op_squeeze(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t axes[MS_ONNX_MAX_RANK];
    int count;
    ms_status s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = squeeze_axes(c, n, axes, &count);
    if (s) return s;
    bool drop[MS_ONNX_MAX_RANK] = {false};
    for (int k = 0; k < count; k++) {
        int a = 0;
        if ((s = ox_norm_axis(c, axes[k], x->rank, &a))) return s;
        if (x->dims[a] != 1) return ox_node_fail(c, MS_ERR_FORMAT, "axis %d has %lld elements, not 1", a, (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t dims[MS_ONNX_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (!(count < 0 ? x->dims[d] == 1 : drop[d])) dims[rank++] = x->dims[d];
    return reshape_value(c, n, x, rank, dims);
}

static ms_status op_unsqueeze(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t axes[MS_ONNX_MAX_RANK];
    int count;
    ms_status s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = squeeze_axes(c, n, axes, &count);
    if (s) return s;
    if (count < 0) return ox_node_fail(c, MS_ERR_FORMAT, "has no axes");
    int rank = x->rank + count;
    if (rank > MS_ONNX_MAX_RANK) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "result has too many dimensions");
    bool ins[MS_ONNX_MAX_RANK] = {false};
    for (int k = 0; k < count; k++) {
        int a = 0;
        if ((s = ox_norm_axis(c, axes[k], rank, &a))) return s;
        if (ins[a]) return ox_node_fail(c, MS_ERR_FORMAT, "axis %d is given twice", a);
        ins[a] = true;
    }
    int64_t dims[MS_ONNX_MAX_RANK];
    for (int d = 0, j = 0; d < rank; d++) dims[d] = ins[d] ? 1 : x->dims[j++];
    return reshape_value(c, n, x, rank, dims);
}

static ms_status op_transpose(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t p[MS_ONNX_MAX_RANK];
    int count;
    ms_status s = ox_known_attrs(c, n, "perm");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s) s = ox_attr_ints(c, n, "perm", p, MS_ONNX_MAX_RANK, &count);
    if (s) return s;
    if (count < 0) {
        count = x->rank;
        for (int d = 0; d < count; d++) p[d] = count - 1 - d;
    }
    unsigned seen = 0;
    if (count != x->rank) return ox_node_fail(c, MS_ERR_FORMAT, "perm has %d entries for %d dimensions", count, x->rank);
    for (int d = 0; d < count; d++) {
        if (p[d] < 0 || p[d] >= count || (seen & (1u << p[d]))) return ox_node_fail(c, MS_ERR_FORMAT, "perm is not a permutation");
        seen |= 1u << p[d];
    }
    int64_t dims[MS_ONNX_MAX_RANK];
    for (int d = 0; d < count; d++) dims[d] = x->dims[p[d]];
    if (x->is_const) return ox_fold_transpose(c, n, x, p, dims);
    if (x->shuffle) {
        if (x->shuffle != 1 || p[1] != 2 || p[2] != 1 || p[3] != 3 || p[4] != 4)
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "a channel shuffle's transpose must be (0, 2, 1, 3, 4)");
        ox_value v = *x;
        v.name = n->output[0];
        v.shuffle = 2;
        memcpy(v.dims, dims, sizeof v.dims);
        return ox_add_value(c, &v);
    }
    if (p[0] != 0) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "moves dimension 0 (the batch)");
    /* IR perm q: out_ir[d] = out_onnx[Lo[d]] = in_onnx[p[Lo[d]]] = in_ir[ir_axis(p[Lo[d]])] */
    int q[MS_MAX_DIMS], lo[MS_MAX_DIMS];
    for (int a = 0; a < count; a++) lo[ox_ir_axis(count, a)] = a;
    for (int d = 0; d < count; d++) q[d] = ox_ir_axis(count, (int)p[lo[d]]);
    int y;
    if ((s = new_act(c, n->output[0], count, dims, &y))) return s;
    bool trivial = trivial_perm(count, c->g->tensors[x->tensor].shape, q);
    ms_node *nd = NULL;
    if ((s = add_ir(c, trivial ? MS_OP_RESHAPE : MS_OP_TRANSPOSE, &x->tensor, 1, y, &nd))) return s;
    for (int d = 0; d < MS_MAX_DIMS; d++) nd->perm[d] = d < count ? q[d] : d;
    if (trivial) for (int d = 0; d < MS_MAX_DIMS; d++) nd->perm[d] = d;
    return MS_OK;
}

/* ---- elementwise ----------------------------------------------------------------------- */

static ms_status unary_node(ox_ctx *c, node_t *n, ms_op_kind kind, ms_node **nd)
{
    ox_value *x;
    int y;
    ms_status s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = new_act(c, n->output[0], x->rank, x->dims, &y);
    if (!s) s = add_ir(c, kind, &x->tensor, 1, y, nd);
    return s;
}

static ms_status op_relu(ox_ctx *c, node_t *n)
{
    ms_node *nd = NULL;
    ms_status s = ox_known_attrs(c, n, "");
    if (!s) s = unary_node(c, n, MS_OP_CLIP, &nd);
    if (!s) nd->act_min = 0.0f;
    return s;
}

static ms_status op_clip(ox_ctx *c, node_t *n)
{
    float lo = -INFINITY, hi = INFINITY;
    ms_status s = ox_known_attrs(c, n, c->opset < 11 ? "min,max" : "");
    if (!s) s = ox_float_operand(c, n, "min", 1, -INFINITY, &lo);
    if (!s) s = ox_float_operand(c, n, "max", 2, INFINITY, &hi);
    if (s) return s;
    if (isnan(lo) || isnan(hi)) return ox_node_fail(c, MS_ERR_FORMAT, "min or max is NaN");
    if (lo > hi) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "min %g is above max %g", lo, hi);
    ms_node *nd = NULL;
    if ((s = unary_node(c, n, MS_OP_CLIP, &nd))) return s;
    nd->act_min = lo;
    nd->act_max = hi;
    return MS_OK;
}

static ms_status op_activation(ox_ctx *c, node_t *n, ms_op_kind kind)
{
    float alpha = 0.01f, beta = 0.5f;
    ms_status s = ox_known_attrs(c, n, kind == MS_OP_LEAKY_RELU ? "alpha" : kind == MS_OP_HARD_SIGMOID ? "alpha,beta" : "");
    if (!s && kind == MS_OP_LEAKY_RELU) s = ox_attr_float(c, n, "alpha", 0.01f, &alpha);
    if (!s && kind == MS_OP_HARD_SIGMOID) s = ox_attr_float(c, n, "alpha", 0.2f, &alpha);
    if (!s && kind == MS_OP_HARD_SIGMOID) s = ox_attr_float(c, n, "beta", 0.5f, &beta);
    ms_node *nd = NULL;
    if (!s) s = unary_node(c, n, kind, &nd);
    if (s) return s;
    nd->alpha = alpha;
    nd->beta = beta;
    return MS_OK;
}

static ms_status op_binary(ox_ctx *c, node_t *n, ms_op_kind kind)
{
    ox_value *a, *b;
    ms_status s = ox_known_attrs(c, n, "");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &a);
    if (!s) s = ox_input(c, n, 1, &b);
    if (s) return s;
    if (a->is_const && b->is_const) return ox_fold_binary(c, n, a, b);
    int rank;
    int64_t dims[MS_ONNX_MAX_RANK];
    if ((s = ox_broadcast(c, a, b, &rank, dims))) return s;
    int in[2];
    ox_value *ops[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        ox_value *v = ops[k];
        if (v->is_const) {
            if (v->rank == rank && rank >= 1 && v->dims[0] != 1)
                return ox_node_fail(c, MS_ERR_UNSUPPORTED, "constant '%.200s' varies along dimension 0 (the batch)", v->name);
            if ((s = ir_const(c, v, rank, &in[k]))) return s;
        } else {
            if (v->rank != rank)
                return ox_node_fail(c, MS_ERR_UNSUPPORTED, "activation '%.200s' has %d dimensions, the result %d (an activation broadcasts only within its rank)",
                                    v->name, v->rank, rank);
            in[k] = v->tensor;
        }
    }
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], rank, dims, &y))) return s;
    return add_ir(c, kind, in, 2, y, &nd);
}

static ms_status op_identity(ox_ctx *c, node_t *n)
{
    ox_value *x;
    ms_status s = ox_known_attrs(c, n, "");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    return s ? s : ox_alias(c, n->output[0], x);
}

/* Dropout in inference: the identity. A training_mode input must be a false constant. */
static ms_status op_dropout(ox_ctx *c, node_t *n)
{
    ox_value *x;
    ms_status s = ox_known_attrs(c, n, "ratio,seed,is_test");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input(c, n, 0, &x);
    if (!s && ox_has_input(n, 2)) {
        float mode;
        if ((s = ox_const_scalar(c, n, 2, &mode))) return s;
        if (mode != 0) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "training_mode is true");
    }
    return s ? s : ox_alias(c, n->output[0], x);
}

/* ---- convolution, pooling, normalisation ------------------------------------------------ */

typedef struct {
    int kh, kw, sh, sw, dh, dw;
    int64_t pads[4]; /* top, left, bottom, right */
    int64_t oh, ow;
} window;

/* kernel_shape (given or from the weights), strides, dilations, pads and auto_pad of a
 * 2-D window over input [N, C, H, W]. */
static ms_status read_window(ox_ctx *c, node_t *n, const ox_value *x, int64_t kh, int64_t kw, bool ceil_mode, window *w)
{
    int64_t v[8];
    int cnt;
    char autopad[32];
    ms_status s = ox_attr_ints(c, n, "kernel_shape", v, 8, &cnt);
    if (s) return s;
    if (cnt >= 0) {
        if (cnt != 2) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "kernel_shape has %d values: only 2-D windows are supported", cnt);
        if (kh > 0 && (v[0] != kh || v[1] != kw)) return ox_node_fail(c, MS_ERR_FORMAT, "kernel_shape disagrees with the weights");
        kh = v[0];
        kw = v[1];
    }
    if (kh < 1 || kw < 1 || kh > OX_MAX_WINDOW || kw > OX_MAX_WINDOW) return ox_node_fail(c, MS_ERR_FORMAT, "kernel %lldx%lld is out of range", (long long)kh, (long long)kw);
    w->kh = (int)kh;
    w->kw = (int)kw;
    int64_t st[2] = {1, 1}, dl[2] = {1, 1};
    if ((s = ox_attr_pair(c, n, "strides", st)) || (s = ox_attr_pair(c, n, "dilations", dl))) return s;
    for (int k = 0; k < 2; k++)
        if (st[k] < 1 || dl[k] < 1 || st[k] > OX_MAX_WINDOW || dl[k] > OX_MAX_WINDOW)
            return ox_node_fail(c, MS_ERR_FORMAT, "stride or dilation out of range");
    w->sh = (int)st[0];
    w->sw = (int)st[1];
    w->dh = (int)dl[0];
    w->dw = (int)dl[1];
    memset(w->pads, 0, sizeof w->pads);
    if ((s = ox_attr_ints(c, n, "pads", v, 8, &cnt))) return s;
    if (cnt >= 0 && cnt != 4) return ox_node_fail(c, MS_ERR_FORMAT, "pads has %d values, expected 4", cnt);
    if (cnt == 4) {
        w->pads[0] = v[0], w->pads[1] = v[1], w->pads[2] = v[2], w->pads[3] = v[3];
        for (int k = 0; k < 4; k++)
            if (v[k] < 0 || v[k] > OX_MAX_WINDOW) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "pad %lld is out of range", (long long)v[k]);
    }
    if ((s = ox_attr_string(c, n, "auto_pad", "NOTSET", autopad, sizeof autopad))) return s;
    int64_t in[2] = {x->dims[2], x->dims[3]}, k2[2] = {kh, kw}, out[2];
    for (int k = 0; k < 2; k++) {
        int64_t eff = (k2[k] - 1) * dl[k] + 1;
        if (!strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER")) {
            out[k] = (in[k] + st[k] - 1) / st[k];
            int64_t total = (out[k] - 1) * st[k] + eff - in[k];
            if (total < 0) total = 0;
            int64_t small = total / 2, big = total - small;
            bool upper = !strcmp(autopad, "SAME_UPPER");
            w->pads[k] = upper ? small : big;
            w->pads[k + 2] = upper ? big : small;
        } else if (!strcmp(autopad, "VALID") || !strcmp(autopad, "NOTSET")) {
            if (!strcmp(autopad, "VALID")) w->pads[k] = w->pads[k + 2] = 0;
            int64_t span = in[k] + w->pads[k] + w->pads[k + 2] - eff;
            if (span < 0) return ox_node_fail(c, MS_ERR_FORMAT, "the window does not fit the input");
            out[k] = ceil_mode ? (span + st[k] - 1) / st[k] + 1 : span / st[k] + 1;
            /* the last window must start inside the input or the leading pad */
            if (ceil_mode && (out[k] - 1) * st[k] >= in[k] + w->pads[k]) out[k]--;
            int64_t extra = (out[k] - 1) * st[k] + eff - (in[k] + w->pads[k] + w->pads[k + 2]);
            if (extra > 0) w->pads[k + 2] += extra; /* ceil mode: cells past the input count as padding */
        } else {
            return ox_node_fail(c, MS_ERR_FORMAT, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", autopad);
        }
    }
    w->oh = out[0];
    w->ow = out[1];
    return MS_OK;
}

static void set_window(ms_node *nd, const window *w)
{
    nd->kernel_h = w->kh;
    nd->kernel_w = w->kw;
    nd->stride_h = w->sh;
    nd->stride_w = w->sw;
    nd->dilation_h = w->dh;
    nd->dilation_w = w->dw;
    nd->padding = MS_PAD_EXPLICIT;
    nd->pad_top = (int)w->pads[0];
    nd->pad_left = (int)w->pads[1];
    nd->pad_bottom = (int)w->pads[2];
    nd->pad_right = (int)w->pads[3];
}

static ms_status op_conv(ox_ctx *c, node_t *n)
{
    ox_value *x, *wv, *bv = NULL;
    int64_t group;
    window w;
    ms_status s = ox_known_attrs(c, n, "auto_pad,dilations,group,kernel_shape,pads,strides");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = ox_input_const(c, n, 1, &wv);
    if (!s && ox_has_input(n, 2)) s = ox_input_const(c, n, 2, &bv);
    if (!s) s = ox_attr_int(c, n, "group", 1, &group);
    if (s) return s;
    if (x->rank != 4 || wv->rank != 4)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "only 2-D convolutions (4-D input and weights) are supported");
    int64_t O = wv->dims[0], IG = wv->dims[1], C = x->dims[1];
    if (group < 1 || C % group || O % group || IG * group != C)
        return ox_node_fail(c, MS_ERR_FORMAT, "weights [%lld, %lld, ...] and group %lld do not fit %lld input channels",
                            (long long)O, (long long)IG, (long long)group, (long long)C);
    if (bv && bv->numel != O) return ox_node_fail(c, MS_ERR_FORMAT, "bias has %lld values for %lld outputs", (long long)bv->numel, (long long)O);
    if ((s = read_window(c, n, x, wv->dims[2], wv->dims[3], false, &w))) return s;
    /* weights [O, I/g, KH, KW] -> [O, KH, KW, I/g] */
    int64_t KH = wv->dims[2], KW = wv->dims[3];
    int64_t ws[4] = {O, KH, KW, IG};
    int in[3] = {x->tensor, -1, -1};
    in[1] = ms_graph_add_tensor(c->g, wv->name, 4, ws, MS_DT_F32);
    float *wd = in[1] < 0 ? NULL : malloc(((size_t)wv->numel + 1) * sizeof *wd);
    if (!wd) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    c->g->tensors[in[1]].data = wd;
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < IG; i++)
            for (int64_t h = 0; h < KH; h++)
                for (int64_t k = 0; k < KW; k++) wd[((o * KH + h) * KW + k) * IG + i] = (float)ox_cval(wv, ((o * IG + i) * KH + h) * KW + k);
    if (bv && (s = ir_const(c, bv, 1, &in[2]))) return s;
    int64_t dims[4] = {x->dims[0], O, w.oh, w.ow};
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], 4, dims, &y))) return s;
    if ((s = add_ir(c, MS_OP_CONV2D, in, bv ? 3 : 2, y, &nd))) return s;
    set_window(nd, &w);
    nd->groups = (int)group;
    return MS_OK;
}

static ms_status op_pool(ox_ctx *c, node_t *n, ms_op_kind kind)
{
    ox_value *x;
    int64_t ceil_mode = 0, include_pad = 0, storage = 0;
    window w;
    bool is_max = kind == MS_OP_MAX_POOL;
    ms_status s = ox_known_attrs(c, n, is_max ? "auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides"
                                           : "auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "ceil_mode", 0, &ceil_mode);
    if (!s) s = ox_attr_int(c, n, "count_include_pad", 0, &include_pad);
    if (!s) s = ox_attr_int(c, n, "storage_order", 0, &storage);
    if (s) return s;
    if (x->rank != 4) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "only 2-D pooling (4-D input) is supported");
    if (storage) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "storage_order 1 is not supported");
    if (!ox_attr(n, "kernel_shape")) return ox_node_fail(c, MS_ERR_FORMAT, "has no kernel_shape");
    if ((s = read_window(c, n, x, 0, 0, ceil_mode != 0, &w))) return s;
    if (w.dh != 1 || w.dw != 1) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "dilated pooling is not supported");
    int src = x->tensor;
    if (!is_max && include_pad && (w.pads[0] || w.pads[1] || w.pads[2] || w.pads[3])) {
        /* padding cells count: pad with zeros first, then pool without padding */
        if (ceil_mode) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "count_include_pad with ceil_mode is not supported");
        const ms_tensor *xt = &c->g->tensors[x->tensor];
        int64_t ps[4] = {1, xt->shape[1] + w.pads[0] + w.pads[2], xt->shape[2] + w.pads[1] + w.pads[3], xt->shape[3]};
        ms_node *pn = NULL;
        if ((s = new_temp(c, n->output[0], "pad", 4, ps, &src))) return s;
        if ((s = add_ir(c, MS_OP_PAD, &x->tensor, 1, src, &pn))) return s;
        pn->pads[1][0] = (int)w.pads[0];
        pn->pads[1][1] = (int)w.pads[2];
        pn->pads[2][0] = (int)w.pads[1];
        pn->pads[2][1] = (int)w.pads[3];
        memset(w.pads, 0, sizeof w.pads);
    }
    int64_t dims[4] = {x->dims[0], x->dims[1], w.oh, w.ow};
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], 4, dims, &y))) return s;
    if ((s = add_ir(c, kind, &src, 1, y, &nd))) return s;
    set_window(nd, &w);
    return MS_OK;
}

static ms_status op_global_avg_pool(ox_ctx *c, node_t *n)
{
    ox_value *x;
    ms_status s = ox_known_attrs(c, n, "");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (s) return s;
    if (x->rank != 4) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "only 4-D inputs are supported");
    int64_t dims[4] = {x->dims[0], x->dims[1], 1, 1};
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], 4, dims, &y))) return s;
    return add_ir(c, MS_OP_GLOBAL_AVG_POOL, &x->tensor, 1, y, &nd);
}

static ms_status op_batch_norm(ox_ctx *c, node_t *n)
{
    ox_value *x, *p[4];
    float eps;
    int64_t spatial = 1, training = 0;
    ms_status s = ox_known_attrs(c, n, "epsilon,momentum,spatial,training_mode,is_test,consumed_inputs");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    for (size_t k = 0; !s && k < 4; k++) s = ox_input_const(c, n, k + 1, &p[k]);
    if (!s) s = ox_attr_float(c, n, "epsilon", 1e-5f, &eps);
    if (!s) s = ox_attr_int(c, n, "spatial", 1, &spatial);
    if (!s) s = ox_attr_int(c, n, "training_mode", 0, &training);
    if (s) return s;
    if (!spatial || training) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "spatial 0 or training_mode 1 is not supported");
    if (x->rank != 4 && x->rank != 2)
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "only 2-D and 4-D inputs are supported (channels must be the IR's last axis)");
    if (!(eps >= 0)) return ox_node_fail(c, MS_ERR_FORMAT, "epsilon is negative");
    int in[5] = {x->tensor};
    for (int k = 0; k < 4; k++) {
        if (p[k]->numel != x->dims[1]) return ox_node_fail(c, MS_ERR_FORMAT, "parameter %d has %lld values for %lld channels", k + 1, (long long)p[k]->numel, (long long)x->dims[1]);
        ox_value flat = *p[k];
        flat.rank = 1;
        flat.dims[0] = flat.numel;
        if ((s = ir_const(c, &flat, 1, &in[k + 1]))) return s;
    }
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], x->rank, x->dims, &y))) return s;
    if ((s = add_ir(c, MS_OP_BATCH_NORM, in, 5, y, &nd))) return s;
    nd->epsilon = eps;
    return MS_OK;
}

/* y = x W^T + b from Gemm (B constant; alpha, beta folded into the weights and bias) or
 * a 2-D MatMul with a constant right operand. */
static ms_status fully_connected(ox_ctx *c, node_t *n, ox_value *x, const ox_value *bm, bool trans_b, float alpha,
                                 const ox_value *bias, float beta)
{
    if (x->rank != 2 || bm->rank != 2) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "only 2-D operands are supported");
    int64_t K = trans_b ? bm->dims[1] : bm->dims[0], O = trans_b ? bm->dims[0] : bm->dims[1];
    if (K != x->dims[1]) return ox_node_fail(c, MS_ERR_FORMAT, "inner dimensions %lld and %lld differ", (long long)x->dims[1], (long long)K);
    int64_t ws[2] = {O, K};
    int in[3] = {x->tensor, ms_graph_add_tensor(c->g, bm->name, 2, ws, MS_DT_F32), -1};
    float *wd = in[1] < 0 ? NULL : malloc(((size_t)(O * K) + 1) * sizeof *wd);
    if (!wd) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    c->g->tensors[in[1]].data = wd;
    for (int64_t o = 0; o < O; o++)
        for (int64_t k = 0; k < K; k++) wd[o * K + k] = alpha * (float)ox_cval(bm, trans_b ? o * K + k : k * O + o);
    ms_status s;
    if (bias) {
        bool per_out = bias->numel == O && (bias->rank == 1 || (bias->rank == 2 && bias->dims[1] == O));
        if (!per_out && bias->numel != 1) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "C must hold one value or one per output");
        int64_t bs[1] = {O};
        in[2] = ms_graph_add_tensor(c->g, bias->name, 1, bs, MS_DT_F32);
        float *bd = in[2] < 0 ? NULL : malloc(((size_t)O + 1) * sizeof *bd);
        if (!bd) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
        c->g->tensors[in[2]].data = bd;
        for (int64_t o = 0; o < O; o++) bd[o] = beta * (float)ox_cval(bias, per_out ? o : 0);
    }
    int64_t dims[2] = {x->dims[0], O};
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], 2, dims, &y))) return s;
    return add_ir(c, MS_OP_FULLY_CONNECTED, in, bias ? 3 : 2, y, &nd);
}

static ms_status op_gemm(ox_ctx *c, node_t *n)
{
    ox_value *a, *b, *bias = NULL;
    int64_t ta, tb;
    float alpha, beta;
    ms_status s = ox_known_attrs(c, n, "alpha,beta,transA,transB,broadcast");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &a);
    if (!s) s = ox_input_const(c, n, 1, &b);
    if (!s && ox_has_input(n, 2)) s = ox_input_const(c, n, 2, &bias);
    if (!s) s = ox_attr_int(c, n, "transA", 0, &ta);
    if (!s) s = ox_attr_int(c, n, "transB", 0, &tb);
    if (!s) s = ox_attr_float(c, n, "alpha", 1.0f, &alpha);
    if (!s) s = ox_attr_float(c, n, "beta", 1.0f, &beta);
    if (s) return s;
    if (ta) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "transA 1 is not supported (A is an activation with the batch first)");
    return fully_connected(c, n, a, b, tb != 0, alpha, bias, beta);
}

static ms_status op_matmul(ox_ctx *c, node_t *n)
{
    ox_value *a, *b;
    ms_status s = ox_known_attrs(c, n, "");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &a);
    if (!s) s = ox_input_const(c, n, 1, &b);
    return s ? s : fully_connected(c, n, a, b, false, 1.0f, NULL, 0.0f);
}

/* ---- layout ops -------------------------------------------------------------------------- */

static ms_status op_concat(ox_ctx *c, node_t *n)
{
    int64_t axis;
    ms_status s = ox_known_attrs(c, n, "axis");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_attr_int(c, n, "axis", 1, &axis);
    if (s) return s;
    if (n->n_input < 1 || n->n_input > 1024) return ox_node_fail(c, MS_ERR_FORMAT, "has %zu inputs", n->n_input);
    ox_value *first;
    if ((s = ox_input(c, n, 0, &first))) return s;
    int rank = first->rank, ax = 0;
    if ((s = ox_norm_axis(c, axis, rank, &ax))) return s;
    bool all_const = true;
    int64_t dims[MS_ONNX_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    dims[ax] = 0;
    for (size_t k = 0; k < n->n_input; k++) {
        ox_value *v;
        if ((s = ox_input(c, n, k, &v))) return s;
        all_const = all_const && v->is_const;
        if (v->rank != rank) return ox_node_fail(c, MS_ERR_FORMAT, "input %zu has %d dimensions, input 0 %d", k, v->rank, rank);
        for (int d = 0; d < rank; d++)
            if (d != ax && v->dims[d] != first->dims[d] && !(d == 0 && (v->is_const || first->is_const) && ax != 0))
                return ox_node_fail(c, MS_ERR_FORMAT, "input %zu's shape differs outside the axis", k);
        dims[ax] += v->dims[ax];
    }
    if (all_const) return ox_fold_concat(c, n, rank, ax, dims);
    if (ax != 0) dims[0] = c->batch; /* constants (dimension 0 of 1) join every frame */
    int *in = malloc(n->n_input * sizeof *in);
    if (!in) return ox_node_fail(c, MS_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !s && k < n->n_input; k++) {
        ox_value *v = ox_find(c, n->input[k]);
        if (v->is_const) {
            if (v->dims[0] != 1) s = ox_node_fail(c, MS_ERR_UNSUPPORTED, "constant input %zu varies along dimension 0 (the batch)", k);
            else s = ir_const(c, v, rank, &in[k]);
        } else {
            in[k] = v->tensor;
        }
    }
    int y;
    ms_node *nd = NULL;
    if (!s) s = new_act(c, n->output[0], rank, dims, &y);
    if (!s) s = add_ir(c, MS_OP_CONCAT, in, (int)n->n_input, y, &nd);
    free(in);
    if (!s) nd->axis = ox_ir_axis(rank, ax);
    return s;
}

/* One slice of activation x along ONNX axes into value `name`. */
static ms_status slice_node(ox_ctx *c, ox_value *x, const int64_t *start, const int64_t *step, const int64_t *len,
                            const char *name)
{
    int64_t dims[MS_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) dims[d] = len[d];
    int y;
    ms_node *nd = NULL;
    ms_status s = new_act(c, name, x->rank, dims, &y);
    if (!s) s = add_ir(c, MS_OP_SLICE, &x->tensor, 1, y, &nd);
    if (s) return s;
    for (int a = 0; a < x->rank; a++) {
        nd->starts[ox_ir_axis(x->rank, a)] = start[a];
        nd->steps[ox_ir_axis(x->rank, a)] = step[a];
    }
    nd->starts[0] = 0;
    nd->steps[0] = 1;
    if (start[0] != 0 || step[0] != 1 || len[0] != x->dims[0])
        return ox_node_fail(c, MS_ERR_UNSUPPORTED, "slices dimension 0 (the batch)");
    return MS_OK;
}

static ms_status op_split(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t axis, parts[64];
    int count;
    ms_status s = ox_known_attrs(c, n, "axis,split");
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "axis", 0, &axis);
    if (!s) s = ox_ints_operand(c, n, "split", 1, parts, 64, &count);
    if (s) return s;
    int ax = 0;
    if ((s = ox_norm_axis(c, axis, x->rank, &ax))) return s;
    int outs = (int)n->n_output;
    if (outs < 1 || outs > 64) return ox_node_fail(c, MS_ERR_FORMAT, "has %d outputs", outs);
    if (count < 0) {
        if (x->dims[ax] % outs) return ox_node_fail(c, MS_ERR_FORMAT, "dimension %lld does not split into %d equal parts", (long long)x->dims[ax], outs);
        for (int k = 0; k < outs; k++) parts[k] = x->dims[ax] / outs;
        count = outs;
    }
    int64_t sum = 0;
    for (int k = 0; k < count; k++) sum += parts[k];
    if (count != outs || sum != x->dims[ax]) return ox_node_fail(c, MS_ERR_FORMAT, "split sizes do not add up to the axis");
    int64_t start[MS_MAX_DIMS] = {0}, step[MS_MAX_DIMS] = {1, 1, 1, 1}, len[MS_MAX_DIMS];
    for (int k = 0, at = 0; k < outs; k++) {
        memcpy(len, x->dims, sizeof len);
        start[ax] = at;
        len[ax] = parts[k];
        at += (int)parts[k];
        if (!n->output[k] || !n->output[k][0]) continue;
        if (parts[k] < 1) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "empty split part");
        if ((s = slice_node(c, x, start, step, len, n->output[k]))) return s;
    }
    return MS_OK;
}

static ms_status op_slice(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t starts[8], ends[8], axes[8], steps[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int ns, ne, na = -1, nst = -1;
    ms_status s = ox_known_attrs(c, n, c->opset < 10 ? "starts,ends,axes" : "");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    /* attributes before opset 10, inputs 1 to 4 from it (ox_known_attrs refuses the
     * attributes there) */
    if (!s) s = ox_ints_operand(c, n, "starts", 1, starts, 8, &ns);
    if (!s) s = ox_ints_operand(c, n, "ends", 2, ends, 8, &ne);
    if (!s) s = ox_ints_operand(c, n, "axes", 3, axes, 8, &na);
    if (!s) s = ox_ints_operand(c, n, "steps", 4, steps, 8, &nst);
    if (s) return s;
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return ox_node_fail(c, MS_ERR_FORMAT, "starts, ends, axes and steps differ in length");
    int64_t start[MS_MAX_DIMS], step[MS_MAX_DIMS], len[MS_MAX_DIMS];
    bool seen[MS_MAX_DIMS] = {false};
    for (int d = 0; d < x->rank; d++) start[d] = 0, step[d] = 1, len[d] = x->dims[d];
    for (int k = 0; k < ns; k++) {
        int a = 0;
        if ((s = ox_norm_axis(c, na >= 0 ? axes[k] : k, x->rank, &a))) return s;
        if (seen[a]) return ox_node_fail(c, MS_ERR_FORMAT, "axis %d is given twice", a);
        seen[a] = true;
        int64_t dim = x->dims[a], st = steps[k], b = starts[k], e = ends[k];
        if (st == 0) return ox_node_fail(c, MS_ERR_FORMAT, "step 0");
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        if (st > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            len[a] = e > b ? (e - b + st - 1) / st : 0;
        } else {
            b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            len[a] = b > e ? (b - e + (-st) - 1) / (-st) : 0;
        }
        if (len[a] < 1) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "the slice is empty along axis %d", a);
        start[a] = b;
        step[a] = st;
    }
    return slice_node(c, x, start, step, len, n->output[0]);
}

static ms_status op_pad(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t pads[16];
    int np = -1;
    float value = 0.0f;
    char mode[32];
    ms_status s = ox_known_attrs(c, n, c->opset < 11 ? "mode,pads,value" : "mode");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = ox_attr_string(c, n, "mode", "constant", mode, sizeof mode);
    if (!s) s = c->opset < 11 ? ox_attr_ints(c, n, "pads", pads, 16, &np) : ox_const_ints(c, n, 1, pads, 16, &np);
    if (!s) s = ox_float_operand(c, n, "value", 2, 0.0f, &value);
    if (!s && ox_has_input(n, 3)) s = ox_node_fail(c, MS_ERR_UNSUPPORTED, "the axes input is not supported");
    if (s) return s;
    if (strcmp(mode, "constant")) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "mode '%s' is not supported (only constant zero padding)", mode);
    if (value != 0.0f) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "padding with %g is not supported (only zero)", value);
    if (np != 2 * x->rank) return ox_node_fail(c, MS_ERR_FORMAT, "%d pads for %d dimensions", np, x->rank);
    int64_t dims[MS_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) {
        if (pads[d] < 0 || pads[d + x->rank] < 0 || pads[d] > OX_MAX_WINDOW || pads[d + x->rank] > OX_MAX_WINDOW)
            return ox_node_fail(c, MS_ERR_UNSUPPORTED, "pad out of range (negative pads are not supported)");
        dims[d] = x->dims[d] + pads[d] + pads[d + x->rank];
    }
    if (pads[0] || pads[x->rank]) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "pads dimension 0 (the batch)");
    int y;
    ms_node *nd = NULL;
    if ((s = new_act(c, n->output[0], x->rank, dims, &y))) return s;
    if ((s = add_ir(c, MS_OP_PAD, &x->tensor, 1, y, &nd))) return s;
    for (int d = 0; d < x->rank; d++) {
        nd->pads[ox_ir_axis(x->rank, d)][0] = (int)pads[d];
        nd->pads[ox_ir_axis(x->rank, d)][1] = (int)pads[d + x->rank];
    }
    return MS_OK;
}

static ms_status op_reduce_mean(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t axes[8], keep;
    int count;
    ms_status s = ox_known_attrs(c, n, "axes,keepdims");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = ox_attr_ints(c, n, "axes", axes, 8, &count);
    if (!s) s = ox_attr_int(c, n, "keepdims", 1, &keep);
    if (s) return s;
    bool red[MS_MAX_DIMS] = {false};
    if (count < 0)
        for (int d = 0; d < x->rank; d++) red[d] = true;
    for (int k = 0; k < count; k++) {
        int a = 0;
        if ((s = ox_norm_axis(c, axes[k], x->rank, &a))) return s;
        red[a] = true;
    }
    if (red[0]) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "reduces dimension 0 (the batch)");
    int64_t kd[MS_MAX_DIMS], od[MS_MAX_DIMS];
    int orank = 0;
    unsigned mask = 0;
    for (int d = 0; d < x->rank; d++) {
        kd[d] = red[d] ? 1 : x->dims[d];
        if (red[d]) mask |= 1u << ox_ir_axis(x->rank, d);
        if (!red[d]) od[orank++] = x->dims[d];
    }
    int y;
    ms_node *nd = NULL;
    if (keep) {
        if ((s = new_act(c, n->output[0], x->rank, kd, &y))) return s;
    } else {
        if (orank < 1) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "the result is a scalar");
        int64_t ir[MS_MAX_DIMS];
        ox_ir_shape(x->rank, kd, ir);
        if ((s = new_temp(c, n->output[0], "keepdims", x->rank, ir, &y))) return s;
    }
    if ((s = add_ir(c, MS_OP_MEAN, &x->tensor, 1, y, &nd))) return s;
    nd->axes_mask = mask;
    nd->keep_dims = true;
    if (keep) return MS_OK;
    ox_value kv = {.name = n->output[0], .rank = x->rank, .numel = ox_numel(x->rank, kd), .tensor = y};
    memcpy(kv.dims, kd, sizeof kd);
    return reshape_to(c, &kv, orank, od, n->output[0]);
}

/* Softmax: the IR's runs over the last axis. ONNX's reduced axes (one axis from opset
 * 13, every axis from `axis` on before) must hold one axis of extent > 1, or be of
 * extent 1 throughout; when that axis is not the IR's last, transposes swap it there
 * and back. */
static ms_status op_softmax(ox_ctx *c, node_t *n)
{
    ox_value *x;
    int64_t axis;
    ms_status s = ox_known_attrs(c, n, "axis");
    if (!s) s = ox_one_output(c, n);
    if (!s) s = ox_input_act(c, n, 0, &x);
    if (!s) s = ox_attr_int(c, n, "axis", c->opset < 13 ? 1 : -1, &axis);
    if (s) return s;
    int ax = 0, rank = x->rank, target = -1;
    if ((s = ox_norm_axis(c, axis, rank, &ax))) return s;
    for (int a = 0; a < rank; a++) {
        bool reduced = c->opset < 13 ? a >= ax : a == ax;
        if (!reduced || (x->dims[a] == 1 && !(c->opset >= 13 && a == ax))) continue;
        if (target >= 0) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "softmax over several axes of extent > 1 (opset < 13 flattens from axis %d)", ax);
        target = a;
    }
    if (target < 0) target = ax;
    if (target == 0) return ox_node_fail(c, MS_ERR_UNSUPPORTED, "softmax over axis 0 (the batch)");
    int ia = ox_ir_axis(rank, target), last = rank - 1, in = x->tensor, y;
    int64_t dims[MS_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    const char *out = n->output[0];
    if ((s = new_act(c, out, rank, dims, &y))) return s;
    ms_node *nd = NULL;
    if (ia == last) {
        if ((s = add_ir(c, MS_OP_SOFTMAX, &in, 1, y, &nd))) return s;
        nd->axis = last;
        return MS_OK;
    }
    int perm[MS_MAX_DIMS] = {0, 1, 2, 3}, t1, t2;
    perm[ia] = last;
    perm[last] = ia;
    if ((s = ir_permute(c, in, perm, "to_last", &t1))) return s;
    const ms_tensor *tt = &c->g->tensors[t1];
    int64_t shape[MS_MAX_DIMS];
    memcpy(shape, tt->shape, sizeof shape);
    if ((s = new_temp(c, out, "softmax", rank, shape, &t2))) return s;
    if ((s = add_ir(c, MS_OP_SOFTMAX, &t1, 1, t2, &nd))) return s;
    nd->axis = last;
    bool trivial = trivial_perm(rank, shape, perm);
    if ((s = add_ir(c, trivial ? MS_OP_RESHAPE : MS_OP_TRANSPOSE, &t2, 1, y, &nd))) return s;
    if (!trivial) memcpy(nd->perm, perm, sizeof perm);
    return MS_OK;
}

static ms_status refuse(ox_ctx *c, const char *why) { return ox_node_fail(c, MS_ERR_UNSUPPORTED, "%s", why); }

ms_status ox_add_node(ox_ctx *c, const Onnx__NodeProto *n, int index)
{
    c->node = n;
    c->node_index = index;
    const char *op = n->op_type ? n->op_type : "";
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return refuse(c, "operators outside the default domain are not supported");
    if (n->n_input > 4096 || n->n_output > 64) return refuse(c, "too many inputs or outputs");
    for (size_t k = 0; k < n->n_output; k++)
        if (!n->output[k]) return ox_node_fail(c, MS_ERR_FORMAT, "output %zu has no name", k);
    if (!strcmp(op, "Conv")) return op_conv(c, n);
    if (!strcmp(op, "Relu")) return op_relu(c, n);
    if (!strcmp(op, "Clip")) return op_clip(c, n);
    if (!strcmp(op, "LeakyRelu")) return op_activation(c, n, MS_OP_LEAKY_RELU);
    if (!strcmp(op, "HardSigmoid")) return op_activation(c, n, MS_OP_HARD_SIGMOID);
    if (!strcmp(op, "HardSwish")) return op_activation(c, n, MS_OP_HARD_SWISH);
    if (!strcmp(op, "Sigmoid")) return op_activation(c, n, MS_OP_SIGMOID);
    if (!strcmp(op, "Add")) return op_binary(c, n, MS_OP_ADD);
    if (!strcmp(op, "Sub")) return op_binary(c, n, MS_OP_SUB);
    if (!strcmp(op, "Mul")) return op_binary(c, n, MS_OP_MUL);
    if (!strcmp(op, "Div")) return op_binary(c, n, MS_OP_DIV);
    if (!strcmp(op, "MaxPool")) return op_pool(c, n, MS_OP_MAX_POOL);
    if (!strcmp(op, "AveragePool")) return op_pool(c, n, MS_OP_AVG_POOL);
    if (!strcmp(op, "GlobalAveragePool")) return op_global_avg_pool(c, n);
    if (!strcmp(op, "BatchNormalization")) return op_batch_norm(c, n);
    if (!strcmp(op, "Gemm")) return op_gemm(c, n);
    if (!strcmp(op, "MatMul")) return op_matmul(c, n);
    if (!strcmp(op, "Flatten")) return op_flatten(c, n);
    if (!strcmp(op, "Reshape")) return op_reshape(c, n);
    if (!strcmp(op, "Squeeze")) return op_squeeze(c, n);
    if (!strcmp(op, "Unsqueeze")) return op_unsqueeze(c, n);
    if (!strcmp(op, "Transpose")) return op_transpose(c, n);
    if (!strcmp(op, "Concat")) return op_concat(c, n);
    if (!strcmp(op, "Split")) return op_split(c, n);
    if (!strcmp(op, "Slice")) return op_slice(c, n);
    if (!strcmp(op, "Pad")) return op_pad(c, n);
    if (!strcmp(op, "ReduceMean")) return op_reduce_mean(c, n);
    if (!strcmp(op, "Softmax")) return op_softmax(c, n);
    if (!strcmp(op, "Identity")) return op_identity(c, n);
    if (!strcmp(op, "Dropout")) return op_dropout(c, n);
    if (!strcmp(op, "Constant")) return ox_fold_constant(c, n);
    if (!strcmp(op, "ConstantOfShape")) return ox_fold_constant_of_shape(c, n);
    if (!strcmp(op, "Shape")) return ox_fold_shape(c, n);
    if (!strcmp(op, "Gather")) return ox_fold_gather(c, n);
    if (!strcmp(op, "Cast")) return ox_fold_cast(c, n);
    if (!strcmp(op, "ConvTranspose")) return refuse(c, "ConvTranspose is not supported");
    return refuse(c, "this operator is not supported");
}
