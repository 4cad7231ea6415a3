/* TFLite import, operator half: each builtin operator of the main subgraph becomes one
 * IR node (two for a CONCATENATION with a fused activation, which the IR's concat does
 * not carry), with its options checked and its operands in the IR's layouts. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite_internal.h"

/* BuiltinOperator codes used here. */
enum {
    OP_ADD = 0, OP_AVERAGE_POOL_2D = 1, OP_CONCATENATION = 2, OP_CONV_2D = 3,
    OP_DEPTHWISE_CONV_2D = 4, OP_DEQUANTIZE = 6, OP_FULLY_CONNECTED = 9, OP_LOGISTIC = 14,
    OP_MAX_POOL_2D = 17, OP_RELU = 19, OP_RELU_N1_TO_1 = 20, OP_RELU6 = 21, OP_RESHAPE = 22,
    OP_SOFTMAX = 25, OP_CUSTOM = 32, OP_PAD = 34, OP_MEAN = 40, OP_SQUEEZE = 43,
    OP_QUANTIZE = 114
};

/* BuiltinOptions union types (1 + the table's position in the union). */
enum {
    OPT_CONV2D = 1, OPT_DEPTHWISE = 2, OPT_POOL2D = 5, OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9,
    OPT_CONCATENATION = 10, OPT_ADD = 11, OPT_REDUCER = 27
};

/* Largest stride, dilation or pooling window accepted. */
#define TFL_MAX_WINDOW 4096

typedef struct {
    uint32_t index;
    int32_t code;
    ms_fb_vec inputs, outputs;
    uint8_t options_type;
    ms_fb_table options;
    bool has_options;
    const char *custom; /* custom operator name (not NUL-terminated) */
    size_t custom_len;
} tfl_op;

static const char *op_name(int32_t code)
{
    switch (code) {
    case OP_ADD: return "ADD";
    case OP_AVERAGE_POOL_2D: return "AVERAGE_POOL_2D";
    case OP_CONCATENATION: return "CONCATENATION";
    case OP_CONV_2D: return "CONV_2D";
    case OP_DEPTHWISE_CONV_2D: return "DEPTHWISE_CONV_2D";
    case OP_DEQUANTIZE: return "DEQUANTIZE";
    case OP_FULLY_CONNECTED: return "FULLY_CONNECTED";
    case OP_LOGISTIC: return "LOGISTIC";
    case OP_MAX_POOL_2D: return "MAX_POOL_2D";
    case OP_RELU: return "RELU";
    case OP_RELU_N1_TO_1: return "RELU_N1_TO_1";
    case OP_RELU6: return "RELU6";
    case OP_RESHAPE: return "RESHAPE";
    case OP_SOFTMAX: return "SOFTMAX";
    case OP_CUSTOM: return "CUSTOM";
    case OP_PAD: return "PAD";
    case OP_MEAN: return "MEAN";
    case OP_SQUEEZE: return "SQUEEZE";
    case OP_QUANTIZE: return "QUANTIZE";
    }
    return "builtin";
}

static ms_status op_fail(tfl_ctx *c, const tfl_op *op, ms_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ms_status op_fail(tfl_ctx *c, const tfl_op *op, ms_status code, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tfl_fail(c, code, "operator %u (%s %d): %s", (unsigned)op->index, op_name(op->code),
                    (int)op->code, msg);
}

/* Graph tensor of input k; -1 for an absent optional input. Activation inputs must
 * already be computed, which keeps the node list in topological order. */
static ms_status op_input(tfl_ctx *c, const tfl_op *op, uint32_t k, bool optional,
                          bool depthwise, int *id)
{
    *id = -1;
    if (k >= op->inputs.n) {
        if (optional) return MS_OK;
        return op_fail(c, op, MS_ERR_FORMAT, "has %u inputs, needs at least %u",
                       (unsigned)op->inputs.n, (unsigned)k + 1);
    }
    int32_t index = ms_fb_vec_i32(&op->inputs, k);
    if (index == -1 && optional) return MS_OK;
    snprintf(c->where, sizeof c->where, "operator %u (%s) input %u: ", (unsigned)op->index,
             op_name(op->code), (unsigned)k);
    ms_status s = tfl_tensor(c, index, depthwise, id);
    c->where[0] = '\0';
    if (s) return s;
    if (!c->g->tensors[*id].data && !tfl_is_produced(c, *id))
        return op_fail(c, op, MS_ERR_FORMAT, "input %u ('%s') is not computed before it is used",
                       (unsigned)k, c->g->tensors[*id].name);
    return MS_OK;
}

static ms_status op_constant(tfl_ctx *c, const tfl_op *op, uint32_t k, int id, int ndim)
{
    const ms_tensor *t = &c->g->tensors[id];
    if (!t->data || t->ndim != ndim)
        return op_fail(c, op, MS_ERR_UNSUPPORTED, "input %u ('%s') must be a constant of %d dimensions",
                       (unsigned)k, t->name, ndim);
    return MS_OK;
}

/* The single output: a tensor that no earlier node computed and that is not constant. */
static ms_status op_output(tfl_ctx *c, const tfl_op *op, int *id)
{
    if (op->outputs.n != 1)
        return op_fail(c, op, MS_ERR_UNSUPPORTED, "has %u outputs, expected 1",
                       (unsigned)op->outputs.n);
    snprintf(c->where, sizeof c->where, "operator %u (%s) output: ", (unsigned)op->index,
             op_name(op->code));
    ms_status s = tfl_tensor(c, ms_fb_vec_i32(&op->outputs, 0), false, id);
    c->where[0] = '\0';
    if (s) return s;
    const ms_tensor *t = &c->g->tensors[*id];
    if (t->data || tfl_is_produced(c, *id))
        return op_fail(c, op, MS_ERR_FORMAT, "output '%s' is a constant, a graph input or computed twice",
                       t->name);
    return MS_OK;
}

/* The options table when it is of `type`; absent options leave *opt NULL (defaults). */
static ms_status op_options(tfl_ctx *c, const tfl_op *op, uint8_t type, const ms_fb_table **opt)
{
    *opt = NULL;
    if (op->options_type == 0 || !op->has_options) return MS_OK;
    if (op->options_type != type)
        return op_fail(c, op, MS_ERR_FORMAT, "options are of union type %u, expected %u",
                       (unsigned)op->options_type, (unsigned)type);
    *opt = &op->options;
    return MS_OK;
}

/* Field readers over possibly absent options, reporting the operator on failure. */
static ms_status opt_i32(tfl_ctx *c, const tfl_op *op, const ms_fb_table *opt, int id,
                         int32_t def, int32_t *v)
{
    *v = def;
    if (opt && ms_fb_i32(opt, id, def, v, c->err))
        return tfl_prefix(c, "operator %u options", (unsigned)op->index);
    return MS_OK;
}

static ms_status opt_u8(tfl_ctx *c, const tfl_op *op, const ms_fb_table *opt, int id,
                        uint8_t def, uint8_t *v)
{
    *v = def;
    if (opt && ms_fb_u8(opt, id, def, v, c->err))
        return tfl_prefix(c, "operator %u options", (unsigned)op->index);
    return MS_OK;
}

/* ActivationFunctionType -> clamp bounds. */
static ms_status set_activation(tfl_ctx *c, const tfl_op *op, uint8_t act, ms_node *n)
{
    switch (act) {
    case 0: n->act_min = -INFINITY; n->act_max = INFINITY; return MS_OK;
    case 1: n->act_min = 0.0f; n->act_max = INFINITY; return MS_OK;
    case 2: n->act_min = -1.0f; n->act_max = 1.0f; return MS_OK;
    case 3: n->act_min = 0.0f; n->act_max = 6.0f; return MS_OK;
    }
    return op_fail(c, op, MS_ERR_UNSUPPORTED, "fused activation %u is not supported", (unsigned)act);
}

/* Appends a node named after its output tensor and marks the output computed. */
static ms_status add_node(tfl_ctx *c, const tfl_op *op, ms_op_kind kind, const int *in, int n_in,
                          int out, ms_node **node)
{
    int nid = ms_graph_add_node(c->g, kind, c->g->tensors[out].name, in, n_in, out);
    if (nid < 0) return op_fail(c, op, MS_ERR_NOMEM, "out of memory");
    ms_status s = tfl_set_produced(c, out);
    if (s) return s;
    *node = &c->g->nodes[nid];
    return MS_OK;
}

/* Padding, strides and dilations shared by convolutions and pooling. */
static ms_status set_window(tfl_ctx *c, const tfl_op *op, uint8_t padding, int32_t sw,
                            int32_t sh, int32_t dw, int32_t dh, ms_node *n)
{
    if (padding > 1) return op_fail(c, op, MS_ERR_FORMAT, "padding %u is neither SAME nor VALID", padding);
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1 || sw > TFL_MAX_WINDOW || sh > TFL_MAX_WINDOW ||
        dw > TFL_MAX_WINDOW || dh > TFL_MAX_WINDOW)
        return op_fail(c, op, MS_ERR_FORMAT, "stride %dx%d or dilation %dx%d is out of range", sh, sw,
                       dh, dw);
    n->padding = padding == 0 ? MS_PAD_SAME : MS_PAD_VALID;
    n->stride_h = sh;
    n->stride_w = sw;
    n->dilation_h = dh;
    n->dilation_w = dw;
    return MS_OK;
}

/* An int32 bias of a quantised layer holds q with scale input_scale * weight_scale[o]
 * (TFLite's kernels use that product, whatever scale the bias tensor records). */
static ms_status check_bias(tfl_ctx *c, const tfl_op *op, int x, int w, int b)
{
    const ms_tensor *xt = &c->g->tensors[x], *wt = &c->g->tensors[w];
    ms_tensor *bt = &c->g->tensors[b];
    int64_t o = wt->shape[0];
    if (!bt->data || ms_tensor_numel(bt) != o)
        return op_fail(c, op, MS_ERR_FORMAT, "bias '%s' must be a constant of %lld values", bt->name,
                       (long long)o);
    if (bt->dtype != MS_DT_I32 || xt->quant.n != 1 || wt->quant.n < 1) return MS_OK;
    if (wt->quant.n > 1 && wt->quant.axis != 0)
        return op_fail(c, op, MS_ERR_UNSUPPORTED, "weight '%s' is quantised along dimension %d, not its outputs",
                       wt->name, wt->quant.axis);
    const uint8_t *q = bt->qdata;
    for (int64_t i = 0; i < o; i++) {
        float ws = wt->quant.scale[wt->quant.n > 1 ? i : 0];
        const uint8_t *p = q + i * 4; /* little-endian, as stored */
        int32_t v = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                              (uint32_t)p[3] << 24);
        bt->data[i] = (float)((double)xt->quant.scale[0] * ws * v);
    }
    return MS_OK;
}

static ms_status conv(tfl_ctx *c, const tfl_op *op, bool depthwise)
{
    const ms_fb_table *opt;
    int in[3], out;
    uint8_t padding, act;
    int32_t sw, sh, dw, dh;
    /* DepthwiseConv2DOptions has depth_multiplier before the activation */
    int shift = depthwise ? 1 : 0;
    ms_status s = op_options(c, op, depthwise ? OPT_DEPTHWISE : OPT_CONV2D, &opt);
    if (!s) s = opt_u8(c, op, opt, 0, 0, &padding);
    if (!s) s = opt_i32(c, op, opt, 1, 0, &sw);
    if (!s) s = opt_i32(c, op, opt, 2, 0, &sh);
    if (!s) s = opt_u8(c, op, opt, 3 + shift, 0, &act);
    if (!s) s = opt_i32(c, op, opt, 4 + shift, 1, &dw);
    if (!s) s = opt_i32(c, op, opt, 5 + shift, 1, &dh);
    if (!s) s = op_input(c, op, 0, false, false, &in[0]);
    if (!s) s = op_input(c, op, 1, false, depthwise, &in[1]);
    if (!s) s = op_constant(c, op, 1, in[1], 4);
    if (!s) s = op_input(c, op, 2, true, false, &in[2]);
    if (!s && in[2] >= 0) s = check_bias(c, op, in[0], in[1], in[2]);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    const ms_tensor *x = &c->g->tensors[in[0]], *w = &c->g->tensors[in[1]];
    int groups = 1;
    if (depthwise) {
        if (x->ndim != 4 || x->shape[3] < 1 || w->shape[0] % x->shape[3])
            return op_fail(c, op, MS_ERR_FORMAT, "depthwise weight '%s' has %lld channels, not a multiple of the input's",
                           w->name, (long long)w->shape[0]);
        groups = (int)x->shape[3];
    }
    ms_node *n = NULL;
    int64_t kh = w->shape[1], kw = w->shape[2];
    if ((s = add_node(c, op, MS_OP_CONV2D, in, in[2] >= 0 ? 3 : 2, out, &n))) return s;
    n->groups = groups;
    n->kernel_h = (int)kh;
    n->kernel_w = (int)kw;
    if ((s = set_window(c, op, padding, sw, sh, dw, dh, n))) return s;
    return set_activation(c, op, act, n);
}

static ms_status pool(tfl_ctx *c, const tfl_op *op, ms_op_kind kind)
{
    const ms_fb_table *opt;
    int in, out;
    uint8_t padding, act;
    int32_t sw, sh, fw, fh;
    ms_status s = op_options(c, op, OPT_POOL2D, &opt);
    if (!s) s = opt_u8(c, op, opt, 0, 0, &padding);
    if (!s) s = opt_i32(c, op, opt, 1, 0, &sw);
    if (!s) s = opt_i32(c, op, opt, 2, 0, &sh);
    if (!s) s = opt_i32(c, op, opt, 3, 0, &fw);
    if (!s) s = opt_i32(c, op, opt, 4, 0, &fh);
    if (!s) s = opt_u8(c, op, opt, 5, 0, &act);
    if (!s) s = op_input(c, op, 0, false, false, &in);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    if (fw < 1 || fh < 1 || fw > TFL_MAX_WINDOW || fh > TFL_MAX_WINDOW)
        return op_fail(c, op, MS_ERR_FORMAT, "pooling window %dx%d is out of range", fh, fw);
    ms_node *n = NULL;
    if ((s = add_node(c, op, kind, &in, 1, out, &n))) return s;
    n->kernel_h = fh;
    n->kernel_w = fw;
    if ((s = set_window(c, op, padding, sw, sh, 1, 1, n))) return s;
    return set_activation(c, op, act, n);
}

static ms_status fully_connected(tfl_ctx *c, const tfl_op *op)
{
    const ms_fb_table *opt;
    int in[3], out;
    uint8_t act, format, keep_dims;
    ms_status s = op_options(c, op, OPT_FULLY_CONNECTED, &opt);
    if (!s) s = opt_u8(c, op, opt, 0, 0, &act);
    if (!s) s = opt_u8(c, op, opt, 1, 0, &format);
    if (!s) s = opt_u8(c, op, opt, 2, 0, &keep_dims);
    if (!s) s = op_input(c, op, 0, false, false, &in[0]);
    if (!s) s = op_input(c, op, 1, false, false, &in[1]);
    if (!s) s = op_constant(c, op, 1, in[1], 2);
    if (!s) s = op_input(c, op, 2, true, false, &in[2]);
    if (!s && in[2] >= 0) s = check_bias(c, op, in[0], in[1], in[2]);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    if (format != 0)
        return op_fail(c, op, MS_ERR_UNSUPPORTED, "shuffled weights format %u is not supported", format);
    if (keep_dims && c->g->tensors[in[0]].ndim > 2)
        return op_fail(c, op, MS_ERR_UNSUPPORTED, "keep_num_dims over a %d-dimensional input is not supported",
                       c->g->tensors[in[0]].ndim);
    ms_node *n = NULL;
    if ((s = add_node(c, op, MS_OP_FULLY_CONNECTED, in, in[2] >= 0 ? 3 : 2, out, &n))) return s;
    return set_activation(c, op, act, n);
}

static ms_status add(tfl_ctx *c, const tfl_op *op)
{
    const ms_fb_table *opt;
    int in[2], out;
    uint8_t act;
    ms_status s = op_options(c, op, OPT_ADD, &opt);
    if (!s) s = opt_u8(c, op, opt, 0, 0, &act);
    if (!s) s = op_input(c, op, 0, false, false, &in[0]);
    if (!s) s = op_input(c, op, 1, false, false, &in[1]);
    if (!s) s = op_output(c, op, &out);
    ms_node *n = NULL;
    if (!s) s = add_node(c, op, MS_OP_ADD, in, 2, out, &n);
    return s ? s : set_activation(c, op, act, n);
}

/* Normalises a possibly negative axis of a rank-ndim tensor. */
static ms_status axis_of(tfl_ctx *c, const tfl_op *op, int64_t axis, int ndim, int *out)
{
    if (axis < -ndim || axis >= ndim)
        return op_fail(c, op, MS_ERR_FORMAT, "axis %lld is out of range for %d dimensions",
                       (long long)axis, ndim);
    *out = (int)(axis < 0 ? axis + ndim : axis);
    return MS_OK;
}

static ms_status concatenation(tfl_ctx *c, const tfl_op *op)
{
    const ms_fb_table *opt;
    int32_t axis;
    uint8_t act;
    int out = -1;
    ms_status s = op_options(c, op, OPT_CONCATENATION, &opt);
    if (!s) s = opt_i32(c, op, opt, 0, 0, &axis);
    if (!s) s = opt_u8(c, op, opt, 1, 0, &act);
    if (s) return s;
    if (op->inputs.n < 1) return op_fail(c, op, MS_ERR_FORMAT, "has no inputs");
    int *in = malloc(op->inputs.n * sizeof *in);
    if (!in) return op_fail(c, op, MS_ERR_NOMEM, "out of memory");
    for (uint32_t k = 0; k < op->inputs.n && !s; k++) s = op_input(c, op, k, false, false, &in[k]);
    if (!s) s = op_output(c, op, &out);
    int ax = 0;
    if (!s) s = axis_of(c, op, axis, c->g->tensors[out].ndim, &ax);
    /* the IR's concat has no activation: a fused one becomes a clip node after it */
    int pre = out;
    if (!s && act) {
        const ms_tensor *o = &c->g->tensors[out];
        char name[512];
        snprintf(name, sizeof name, "%.400s/pre_activation", o->name);
        int64_t shape[MS_MAX_DIMS];
        memcpy(shape, o->shape, sizeof shape);
        pre = ms_graph_add_tensor(c->g, name, o->ndim, shape, MS_DT_F32);
        if (pre < 0) s = op_fail(c, op, MS_ERR_NOMEM, "out of memory");
    }
    ms_node *n = NULL;
    if (!s) s = add_node(c, op, MS_OP_CONCAT, in, (int)op->inputs.n, pre, &n);
    free(in);
    if (s) return s;
    n->axis = ax;
    if (!act) return MS_OK;
    if ((s = add_node(c, op, MS_OP_CLIP, &pre, 1, out, &n))) return s;
    return set_activation(c, op, act, n);
}

/* RESHAPE and SQUEEZE: the output tensor's shape says it all; the shape operand and
 * the options are not needed. */
static ms_status reshape(tfl_ctx *c, const tfl_op *op)
{
    int in, out;
    ms_status s = op_input(c, op, 0, false, false, &in);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    const ms_tensor *x = &c->g->tensors[in], *y = &c->g->tensors[out];
    if (ms_tensor_numel(x) != ms_tensor_numel(y))
        return op_fail(c, op, MS_ERR_FORMAT, "reshapes %lld elements into %lld",
                       (long long)ms_tensor_numel(x), (long long)ms_tensor_numel(y));
    ms_node *n = NULL;
    return add_node(c, op, MS_OP_RESHAPE, &in, 1, out, &n);
}

static ms_status softmax(tfl_ctx *c, const tfl_op *op)
{
    const ms_fb_table *opt;
    float beta = 0.0f;
    int in, out;
    ms_status s = op_options(c, op, OPT_SOFTMAX, &opt);
    if (!s && opt && ms_fb_f32(opt, 0, 0.0f, &beta, c->err))
        s = tfl_prefix(c, "operator %u options", (unsigned)op->index);
    if (!s) s = op_input(c, op, 0, false, false, &in);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    if (!isfinite(beta)) return op_fail(c, op, MS_ERR_FORMAT, "beta is not finite");
    if (c->g->tensors[in].ndim < 1) return op_fail(c, op, MS_ERR_FORMAT, "input is a scalar");
    ms_node *n = NULL;
    if ((s = add_node(c, op, MS_OP_SOFTMAX, &in, 1, out, &n))) return s;
    n->beta = beta;
    n->axis = c->g->tensors[in].ndim - 1;
    return MS_OK;
}

static ms_status mean(tfl_ctx *c, const tfl_op *op)
{
    const ms_fb_table *opt;
    uint8_t keep;
    int in, out, n_axes = 0;
    int64_t axes[MS_MAX_DIMS];
    ms_status s = op_options(c, op, OPT_REDUCER, &opt);
    if (!s) s = opt_u8(c, op, opt, 0, 0, &keep);
    if (!s) s = op_input(c, op, 0, false, false, &in);
    if (!s && op->inputs.n < 2) s = op_fail(c, op, MS_ERR_FORMAT, "has no axes operand");
    if (!s) s = tfl_const_ints(c, ms_fb_vec_i32(&op->inputs, 1), axes, MS_MAX_DIMS, &n_axes);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    unsigned mask = 0;
    for (int i = 0; i < n_axes; i++) {
        int a = 0;
        if ((s = axis_of(c, op, axes[i], c->g->tensors[in].ndim, &a))) return s;
        mask |= 1u << a;
    }
    ms_node *n = NULL;
    if ((s = add_node(c, op, MS_OP_MEAN, &in, 1, out, &n))) return s;
    n->axes_mask = mask;
    n->keep_dims = keep != 0;
    return MS_OK;
}

static ms_status pad(tfl_ctx *c, const tfl_op *op)
{
    int in, out, n_vals = 0;
    int64_t vals[2 * MS_MAX_DIMS];
    ms_status s = op_input(c, op, 0, false, false, &in);
    if (!s && op->inputs.n < 2) s = op_fail(c, op, MS_ERR_FORMAT, "has no paddings operand");
    if (!s) s = tfl_const_ints(c, ms_fb_vec_i32(&op->inputs, 1), vals, 2 * MS_MAX_DIMS, &n_vals);
    if (!s) s = op_output(c, op, &out);
    if (s) return s;
    int ndim = c->g->tensors[in].ndim;
    if (n_vals != 2 * ndim)
        return op_fail(c, op, MS_ERR_FORMAT, "%d padding values for a %d-dimensional input", n_vals, ndim);
    for (int i = 0; i < n_vals; i++)
        if (vals[i] < 0 || vals[i] > TFL_MAX_WINDOW)
            return op_fail(c, op, MS_ERR_FORMAT, "padding %lld is out of range", (long long)vals[i]);
    ms_node *n = NULL;
    if ((s = add_node(c, op, MS_OP_PAD, &in, 1, out, &n))) return s;
    for (int d = 0; d < ndim; d++) {
        n->pads[d][0] = (int)vals[2 * d];
        n->pads[d][1] = (int)vals[2 * d + 1];
    }
    return MS_OK;
}

/* Single-input ops without options: copies, clips and the sigmoid. */
static ms_status unary(tfl_ctx *c, const tfl_op *op, ms_op_kind kind, float lo, float hi)
{
    int in, out;
    ms_status s = op_input(c, op, 0, false, false, &in);
    if (!s) s = op_output(c, op, &out);
    ms_node *n = NULL;
    if (!s) s = add_node(c, op, kind, &in, 1, out, &n);
    if (s) return s;
    if (kind == MS_OP_CLIP) {
        n->act_min = lo;
        n->act_max = hi;
    }
    return MS_OK;
}

/* Reads operator `index`: its code (max of the deprecated byte and the int32 field),
 * operands and options. */
static ms_status read_op(tfl_ctx *c, uint32_t index, tfl_op *op)
{
    ms_fb_table t, code;
    uint32_t opcode;
    int8_t old_code;
    int32_t new_code;
    memset(op, 0, sizeof *op);
    op->index = index;
    ms_status s = ms_fb_vec_table(&c->operators, index, &t, c->err);
    if (!s) s = ms_fb_u32(&t, TFL_OP_OPCODE, 0, &opcode, c->err);
    if (!s) s = ms_fb_vec_field(&t, TFL_OP_INPUTS, 4, &op->inputs, c->err);
    if (!s) s = ms_fb_vec_field(&t, TFL_OP_OUTPUTS, 4, &op->outputs, c->err);
    if (!s) s = ms_fb_u8(&t, TFL_OP_OPTIONS_TYPE, 0, &op->options_type, c->err);
    if (!s) s = ms_fb_table_field(&t, TFL_OP_OPTIONS, &op->options, &op->has_options, c->err);
    if (s) return tfl_prefix(c, "operator %u", (unsigned)index);
    if (opcode >= c->opcodes.n)
        return tfl_fail(c, MS_ERR_FORMAT, "operator %u: opcode index %u is out of range (the model has %u)",
                        (unsigned)index, (unsigned)opcode, (unsigned)c->opcodes.n);
    s = ms_fb_vec_table(&c->opcodes, opcode, &code, c->err);
    if (!s) s = ms_fb_i8(&code, TFL_OC_DEPRECATED_CODE, 0, &old_code, c->err);
    if (!s) s = ms_fb_i32(&code, TFL_OC_CODE, 0, &new_code, c->err);
    if (!s) s = ms_fb_string_field(&code, TFL_OC_CUSTOM, &op->custom, &op->custom_len, c->err);
    if (s) return tfl_prefix(c, "operator code %u", (unsigned)opcode);
    op->code = old_code > new_code ? old_code : new_code;
    return MS_OK;
}

ms_status tfl_add_operator(tfl_ctx *c, uint32_t index)
{
    tfl_op op;
    ms_status s = read_op(c, index, &op);
    if (s) return s;
    switch (op.code) {
    case OP_CONV_2D: return conv(c, &op, false);
    case OP_DEPTHWISE_CONV_2D: return conv(c, &op, true);
    case OP_AVERAGE_POOL_2D: return pool(c, &op, MS_OP_AVG_POOL);
    case OP_MAX_POOL_2D: return pool(c, &op, MS_OP_MAX_POOL);
    case OP_FULLY_CONNECTED: return fully_connected(c, &op);
    case OP_ADD: return add(c, &op);
    case OP_CONCATENATION: return concatenation(c, &op);
    case OP_RESHAPE:
    case OP_SQUEEZE: return reshape(c, &op);
    case OP_SOFTMAX: return softmax(c, &op);
    case OP_MEAN: return mean(c, &op);
    case OP_PAD: return pad(c, &op);
    case OP_QUANTIZE:
    case OP_DEQUANTIZE: return unary(c, &op, MS_OP_COPY, 0, 0);
    case OP_RELU: return unary(c, &op, MS_OP_CLIP, 0.0f, INFINITY);
    case OP_RELU6: return unary(c, &op, MS_OP_CLIP, 0.0f, 6.0f);
    case OP_RELU_N1_TO_1: return unary(c, &op, MS_OP_CLIP, -1.0f, 1.0f);
    case OP_LOGISTIC: return unary(c, &op, MS_OP_SIGMOID, 0, 0);
    case OP_CUSTOM:
        return op_fail(c, &op, MS_ERR_UNSUPPORTED, "custom operator '%.*s' is not supported",
                       (int)(op.custom_len > 100 ? 100 : op.custom_len), op.custom ? op.custom : "");
    }
    return op_fail(c, &op, MS_ERR_UNSUPPORTED, "this builtin operator is not supported");
}
