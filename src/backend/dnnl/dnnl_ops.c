/* What each graph op becomes in oneDNN (fp32). Layouts are oneDNN's choice (format_tag
 * any) wherever a primitive accepts it; ops that reinterpret bytes (reshape, fully
 * connected over a flattened input, mean without kept dims) read plain NHWC. In int8
 * plans, convolutions go to dnnl_int8.c first; every other op reads its inputs as f32,
 * dequantising u8 values on the way. */
#include <math.h>
#include <string.h>

#include "backend/dnnl/dnnl_internal.h"

static const char *src_name(const dn_ctx *c) { return c->g->source ? c->g->source : "graph"; }

static ms_status unsupported(dn_ctx *c, const char *why)
{
    return ms_errorf(c->err, MS_ERR_UNSUPPORTED, "%s: node '%s' (%s): %s", src_name(c), c->node->n.name,
                     ms_op_name(c->node->n.kind), why);
}

/* Creates the primitive descriptor for op_desc with attr (destroyed here). */
static ms_status make_pd(dn_ctx *c, const void *op_desc, dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd)
{
    dnnl_status_t s = dnnl_primitive_desc_create(pd, op_desc, attr, c->p->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(c, s, "primitive descriptor");
    return MS_OK;
}

/* The rest of a convolution or inner product once its operation descriptor is set: the
 * fused activation, the primitive, its constant weights (reordered to the layout oneDNN
 * chose) and bias (b < 0: none), its input and output. */
static ms_status emit_weighted(dn_ctx *c, const dn_node *d, const void *op_desc, const dnnl_memory_desc_t *w_user,
                               const float *weights, int b, const dnnl_memory_desc_t *b_md)
{
    const ms_node *n = &d->n;
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (!st) st = dn_attr_act(c, attr, n->act_min, n->act_max, 1.0f);
    if (st) {
        if (attr) dnnl_primitive_attr_destroy(attr);
        return st;
    }
    dnnl_primitive_desc_t pd;
    st = make_pd(c, op_desc, attr, &pd);
    if (st) return st;
    dnnl_memory_t wm, bm = NULL, sm, dm;
    st = dn_const(c, w_user, weights, dn_pd_md(pd, dnnl_query_weights_md), &wm);
    if (!st && b >= 0) st = dn_const(c, b_md, c->g->tensors[b].data, b_md, &bm);
    if (!st) st = dn_input(c, d->in0, dn_pd_md(pd, dnnl_query_src_md), &sm);
    if (!st) st = dn_output(c, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dm}, {DNNL_ARG_BIAS, bm}};
    return dn_emit(c, pd, args, bm ? 4 : 3);
}

static ms_status lower_conv(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    if (c->precision == MS_PREC_INT8) {
        bool done = false;
        ms_status st = dn_lower_conv_int8(c, d, &done);
        if (st || done) return st;
    }
    const ms_tensor *w = &c->g->tensors[n->inputs[1]];
    int b = n->n_inputs > 2 ? n->inputs[2] : -1;
    if (!w->data || w->ndim != 4 || (b >= 0 && !c->g->tensors[b].data))
        return unsupported(c, "weights and bias must be constant, weights [O, KH, KW, I/groups]");
    int64_t O = w->shape[0], KH = w->shape[1], KW = w->shape[2], IG = w->shape[3], G = n->groups;
    if (G < 1 || O % G) return unsupported(c, "output channels are not a multiple of groups");

    dnnl_memory_desc_t src_p, dst_p, src_any, dst_any, w_user, w_any, b_md;
    dn_plain_md(c, d->in0, dnnl_f32, &src_p);
    dn_plain_md(c, n->output, dnnl_f32, &dst_p);
    dn_any_md(&src_p, dnnl_f32, &src_any);
    dn_any_md(&dst_p, dnnl_f32, &dst_any);
    if (G == 1) {
        dnnl_dims_t wd = {O, IG, KH, KW};
        dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, dnnl_ohwi);
        dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any);
    } else {
        dnnl_dims_t wd = {G, O / G, IG, KH, KW};
        dnnl_memory_desc_init_by_tag(&w_user, 5, wd, dnnl_f32, dnnl_gohwi);
        dnnl_memory_desc_init_by_tag(&w_any, 5, wd, dnnl_f32, dnnl_format_tag_any);
    }
    dnnl_dims_t bd = {O};
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    dnnl_dims_t strides = {n->stride_h, n->stride_w}, dil = {n->dilation_h - 1, n->dilation_w - 1};
    dnnl_dims_t pl = {n->pad_top, n->pad_left}, pr = {n->pad_bottom, n->pad_right};
    dnnl_convolution_desc_t cd;
    DN_TRY(c, dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                         &src_any, &w_any, b >= 0 ? &b_md : NULL, &dst_any,
                                                         strides, dil, pl, pr),
           "convolution descriptor");
    return emit_weighted(c, d, &cd, &w_user, w->data, b, &b_md);
}

static ms_status lower_fc(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    const ms_tensor *x = &c->g->tensors[d->in0], *w = &c->g->tensors[n->inputs[1]];
    int b = n->n_inputs > 2 ? n->inputs[2] : -1;
    if (!w->data || w->ndim != 2 || (b >= 0 && !c->g->tensors[b].data))
        return unsupported(c, "weights and bias must be constant, weights [O, I]");
    if (x->ndim != 2 && x->ndim != 4) return unsupported(c, "input must be [N, I] or [N, H, W, C]");
    int64_t O = w->shape[0];
    if (ms_tensor_numel(x) != w->shape[1]) return unsupported(c, "input does not flatten to the weights' width");
    /* A 4-D input flattens in NHWC order, so the weights [O, H*W*C] are ohwi. */
    dnnl_memory_desc_t src_p, src_any, dst_p, dst_any, w_user, w_any, b_md;
    dn_plain_md(c, d->in0, dnnl_f32, &src_p);
    dn_any_md(&src_p, dnnl_f32, &src_any);
    dn_plain_md(c, n->output, dnnl_f32, &dst_p);
    if (dst_p.ndims != 2) return unsupported(c, "output must be [N, O]");
    dn_any_md(&dst_p, dnnl_f32, &dst_any);
    if (x->ndim == 4) {
        dnnl_dims_t wd = {O, x->shape[3], x->shape[1], x->shape[2]};
        dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, dnnl_ohwi);
        dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any);
    } else {
        dnnl_dims_t wd = {O, x->shape[1]};
        dnnl_memory_desc_init_by_tag(&w_user, 2, wd, dnnl_f32, dnnl_ab);
        dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dnnl_f32, dnnl_format_tag_any);
    }
    dnnl_dims_t bd = {O};
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    dnnl_inner_product_desc_t ipd;
    DN_TRY(c, dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src_any, &w_any,
                                                   b >= 0 ? &b_md : NULL, &dst_any),
           "inner product descriptor");
    return emit_weighted(c, d, &ipd, &w_user, w->data, b, &b_md);
}

/* Runs a one-source primitive described by op_desc from src (tensor t, layout src_md)
 * into the node's output in the layout the primitive picks. */
static ms_status unary(dn_ctx *c, const void *op_desc, dnnl_primitive_attr_t attr, int t,
                       const dnnl_memory_desc_t *src_md)
{
    dnnl_primitive_desc_t pd;
    ms_status st = make_pd(c, op_desc, attr, &pd);
    if (st) return st;
    dnnl_memory_t sm, dm;
    st = dn_input(c, t, src_md, &sm);
    if (!st) st = dn_output(c, c->node->n.output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_DST, dm}};
    return dn_emit(c, pd, args, 2);
}

/* An attribute with the node's own fused activation. */
static ms_status act_attr(dn_ctx *c, dnnl_primitive_attr_t *attr)
{
    ms_status st = dn_attr(c, attr);
    if (!st) st = dn_attr_act(c, *attr, c->node->n.act_min, c->node->n.act_max, 1.0f);
    if (st && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}

static ms_status lower_pool(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    const ms_tensor *x = &c->g->tensors[d->in0];
    if (x->ndim != 4) return unsupported(c, "input must be NHWC");
    dnnl_memory_desc_t src, dst_p, dst_any;
    dn_f32_md(c, d->in0, &src);
    dn_plain_md(c, n->output, dnnl_f32, &dst_p);
    dn_any_md(&dst_p, dnnl_f32, &dst_any);
    dnnl_dims_t kernel = {n->kernel_h, n->kernel_w}, strides = {n->stride_h, n->stride_w}, dil = {0, 0};
    dnnl_dims_t pl = {n->pad_top, n->pad_left}, pr = {n->pad_bottom, n->pad_right};
    dnnl_alg_kind_t alg = n->kind == MS_OP_MAX_POOL ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    if (n->kind == MS_OP_GLOBAL_AVG_POOL) {
        kernel[0] = x->shape[1];
        kernel[1] = x->shape[2];
        strides[0] = strides[1] = 1;
        pl[0] = pl[1] = pr[0] = pr[1] = 0;
        if (dst_p.ndims != 4) return unsupported(c, "output must be [N, 1, 1, C]");
    }
    dnnl_pooling_v2_desc_t pdsc;
    DN_TRY(c, dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, &src, &dst_any, strides,
                                                kernel, dil, pl, pr),
           "pooling descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = act_attr(c, &attr);
    if (st) return st;
    return unary(c, &pdsc, attr, d->in0, &src);
}

/* Mean over any set of axes (a reduction); without kept dims the result is read back
 * as the output's plain layout, which holds the same bytes. */
static ms_status lower_mean(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    int nd = c->g->tensors[d->in0].ndim;
    dnnl_memory_desc_t src, red;
    dn_plain_md(c, d->in0, dnnl_f32, &src);
    dnnl_dims_t dims;
    memcpy(dims, src.dims, sizeof dims);
    for (int k = 0; k < nd; k++)
        if (n->axes_mask & (1u << k)) dims[dn_dim(nd, k)] = 1;
    dnnl_memory_desc_init_by_tag(&red, nd, dims, dnnl_f32, nd == 4 ? dnnl_acdb : nd == 3 ? dnnl_abc : nd == 2 ? dnnl_ab : dnnl_a);
    dnnl_reduction_desc_t rd;
    DN_TRY(c, dnnl_reduction_desc_init(&rd, dnnl_reduction_mean, &src, &red, 0.0f, 0.0f), "reduction descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (st) return st;
    dnnl_primitive_desc_t pd;
    st = make_pd(c, &rd, attr, &pd);
    if (st) return st;
    dnnl_memory_t sm, dm;
    st = dn_input(c, d->in0, &src, &sm);
    if (!st) st = dn_output(c, n->output, &red, &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_DST, dm}};
    st = dn_emit(c, pd, args, 2);
    dnnl_memory_desc_t out;
    dn_plain_md(c, n->output, dnnl_f32, &out);
    if (st || dnnl_memory_desc_equal(&out, &red)) return st;
    if (dnnl_memory_desc_get_size(&out) != dnnl_memory_desc_get_size(&red))
        return unsupported(c, "output shape does not match the reduced input");
    dn_value *v = &c->vals[n->output];
    v->md = out;
    return dn_mem_new(c, &out, v->buf, &v->mem);
}

/* Whether tensor t has exactly the node output's shape (no broadcasting). */
static bool full_shape(const dn_ctx *c, int t)
{
    const ms_tensor *x = &c->g->tensors[t], *y = &c->g->tensors[c->node->n.output];
    if (x->ndim != y->ndim) return false;
    for (int d = 0; d < x->ndim; d++)
        if (x->shape[d] != y->shape[d]) return false;
    return true;
}

/* One operand of a binary op: a constant right-aligned to nd dimensions (it broadcasts),
 * an activation of the output's shape in its own layout (src0), or any activation of
 * the output's rank in the plain layout (src1, which oneDNN broadcasts). */
static ms_status binary_operand(dn_ctx *c, int t, int nd, bool src0, dnnl_memory_desc_t *md, dnnl_memory_t *m)
{
    const ms_tensor *x = &c->g->tensors[t];
    if (x->data) {
        dn_const_md(c, t, nd, md);
        return dn_const(c, md, x->data, md, m);
    }
    if (x->ndim != nd) return unsupported(c, "an activation operand must have the output's rank");
    if (src0) dn_f32_md(c, t, md);
    else dn_plain_md(c, t, dnnl_f32, md);
    return dn_input(c, t, md, m);
}

/* add, mul, sub, div. oneDNN broadcasts only its second source, so a first operand
 * smaller than the output swaps places (add, mul; sub as -(b - a)); div and operands
 * that both broadcast are refused. */
static ms_status lower_binary(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    int a = d->in0, b = n->inputs[1];
    int nd = c->g->tensors[n->output].ndim;
    bool negate = false;
    dnnl_alg_kind_t alg = n->kind == MS_OP_MUL ? dnnl_binary_mul : n->kind == MS_OP_SUB ? dnnl_binary_sub
                          : n->kind == MS_OP_DIV ? dnnl_binary_div : dnnl_binary_add;
    if (c->g->tensors[a].data && c->g->tensors[b].data) return unsupported(c, "both inputs are constant");
    if (!full_shape(c, a) || c->g->tensors[a].data) {
        if (!full_shape(c, b) || c->g->tensors[b].data)
            return unsupported(c, "neither operand has the output's shape (both broadcast)");
        if (n->kind == MS_OP_DIV) return unsupported(c, "the numerator broadcasts (oneDNN broadcasts only the divisor)");
        negate = n->kind == MS_OP_SUB;
        int t = a;
        a = b;
        b = t;
    }
    dnnl_memory_desc_t a_md, b_md, dst_any;
    dnnl_memory_t am, bm, dm;
    ms_status st = binary_operand(c, a, nd, true, &a_md, &am);
    if (!st) st = binary_operand(c, b, nd, false, &b_md, &bm);
    if (st) return st;
    dnnl_memory_desc_init_by_tag(&dst_any, a_md.ndims, a_md.dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_binary_desc_t bd;
    DN_TRY(c, dnnl_binary_desc_init(&bd, alg, &a_md, &b_md, &dst_any), "binary descriptor");
    dnnl_primitive_attr_t attr;
    if (negate) {
        if ((st = dn_attr(c, &attr))) return st;
        dnnl_post_ops_t po;
        dnnl_status_t s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) {
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, -1.0f, 0.0f);
            if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
            dnnl_post_ops_destroy(po);
        }
        if (s != dnnl_success) {
            dnnl_primitive_attr_destroy(attr);
            return dn_fail(c, s, "negation post-op");
        }
        if (n->act_min != -INFINITY || n->act_max != INFINITY) {
            dnnl_primitive_attr_destroy(attr);
            return unsupported(c, "a fused activation on a swapped subtraction");
        }
    } else if ((st = act_attr(c, &attr))) {
        return st;
    }
    dnnl_primitive_desc_t pd;
    st = make_pd(c, &bd, attr, &pd);
    if (st) return st;
    st = dn_output(c, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC_0, am}, {DNNL_ARG_SRC_1, bm}, {DNNL_ARG_DST, dm}};
    return dn_emit(c, pd, args, 3);
}

/* Row-major strides of a tensor's plain layout in the IR's dimension order. */
static void ir_strides(const dn_ctx *c, int t, dnnl_dims_t st)
{
    const ms_tensor *x = &c->g->tensors[t];
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= d == 0 ? c->batch : x->shape[d];
    }
}

/* Transpose and slice: one reorder from a strided view of the input's plain bytes (in
 * the IR's dimension order) into the output's plain bytes. */
static ms_status lower_gather(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    const ms_tensor *y = &c->g->tensors[n->output];
    int nd = y->ndim;
    dnnl_dims_t xst, vst, ydims, yst;
    ir_strides(c, d->in0, xst);
    ir_strides(c, n->output, yst);
    int64_t offset = 0;
    for (int k = 0; k < nd; k++) {
        ydims[k] = k == 0 ? c->batch : y->shape[k];
        if (n->kind == MS_OP_TRANSPOSE) {
            vst[k] = xst[n->perm[k]];
        } else {
            if (n->steps[k] < 1) return unsupported(c, "negative slice steps");
            vst[k] = xst[k] * n->steps[k];
            offset += n->starts[k] * xst[k];
        }
    }
    dnnl_memory_desc_t in_plain, view, out_plain, out_rows;
    dn_plain_md(c, d->in0, dnnl_f32, &in_plain);
    dn_plain_md(c, n->output, dnnl_f32, &out_plain);
    DN_TRY(c, dnnl_memory_desc_init_by_strides(&view, nd, ydims, dnnl_f32, vst), "strided view");
    view.offset0 = offset;
    DN_TRY(c, dnnl_memory_desc_init_by_strides(&out_rows, nd, ydims, dnnl_f32, yst), "output view");
    dnnl_memory_t xm, vm, ym, rm;
    int buf;
    ms_status st = dn_input_buf(c, d->in0, &in_plain, &xm, &buf);
    if (!st) st = dn_mem_new(c, &view, buf, &vm);
    if (!st) st = dn_output(c, n->output, &out_plain, &ym);
    if (!st) st = dn_mem_new(c, &out_rows, c->vals[n->output].buf, &rm);
    if (!st) st = dn_reorder(c, d->in0, &view, vm, &out_rows, rm);
    return st;
}

static ms_status lower_concat(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    enum { MAX_IN = 64 };
    if (n->n_inputs > MAX_IN) return unsupported(c, "more than 64 inputs");
    dnnl_memory_desc_t mds[MAX_IN];
    int nd = c->g->tensors[d->in0].ndim;
    int axis = n->axis < 0 ? n->axis + nd : n->axis;
    if (axis < 0 || axis >= nd) return unsupported(c, "axis out of range");
    for (int k = 0; k < n->n_inputs; k++) {
        int t = k ? n->inputs[k] : d->in0;
        if (c->g->tensors[t].data && c->batch != 1)
            return unsupported(c, "a constant input holds one frame: plans with it run one frame at a time (1 thread)");
        if (c->g->tensors[t].data) dn_plain_md(c, t, dnnl_f32, &mds[k]);
        else dn_f32_md(c, t, &mds[k]);
    }
    dnnl_primitive_desc_t pd;
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (st) return st;
    dnnl_status_t s = dnnl_concat_primitive_desc_create(&pd, NULL, n->n_inputs, dn_dim(nd, axis), mds, attr,
                                                        c->p->engine);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(c, s, "concat descriptor");
    dnnl_exec_arg_t args[MAX_IN + 1];
    for (int k = 0; !st && k < n->n_inputs; k++) {
        args[k].arg = DNNL_ARG_MULTIPLE_SRC + k;
        int t = k ? n->inputs[k] : d->in0;
        if (c->g->tensors[t].data) st = dn_const(c, &mds[k], c->g->tensors[t].data, &mds[k], &args[k].memory);
        else st = dn_input(c, t, &mds[k], &args[k].memory);
    }
    args[n->n_inputs].arg = DNNL_ARG_DST;
    if (!st) st = dn_output(c, n->output, dn_pd_md(pd, dnnl_query_dst_md), &args[n->n_inputs].memory);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return dn_emit(c, pd, args, n->n_inputs + 1);
}

/* Zero padding: the output gets a buffer of its own, zeroed once when the plan is made
 * and never reused, and each run copies the input into its interior. */
static ms_status lower_pad(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    int nd = c->g->tensors[d->in0].ndim;
    if (n->pads[0][0] || n->pads[0][1]) return unsupported(c, "padding the batch dimension");
    dnnl_memory_desc_t out, in, sub;
    dn_plain_md(c, n->output, dnnl_f32, &out);
    dn_f32_md(c, d->in0, &in);
    dnnl_dims_t offs = {0};
    for (int k = 0; k < nd; k++) offs[dn_dim(nd, k)] = n->pads[k][0];
    DN_TRY(c, dnnl_memory_desc_init_submemory(&sub, &out, in.dims, offs), "padded view");
    int buf = dn_buf_take(c, dnnl_memory_desc_get_size(&out), true);
    if (buf < 0) return dn_nomem(c);
    dn_value *v = &c->vals[n->output];
    v->ready = true;
    v->md = out;
    v->buf = buf;
    dnnl_memory_t sm, inner;
    ms_status st = dn_mem_new(c, &out, buf, &v->mem);
    if (!st) st = dn_mem_new(c, &sub, buf, &inner);
    if (!st) st = dn_input(c, d->in0, &in, &sm);
    if (!st) st = dn_reorder(c, d->in0, &in, sm, &sub, inner);
    return st;
}

/* Reshape and copy: a view of the input's plain bytes, no data moves. u8 values stay u8
 * when both tensors share their quantisation. */
static ms_status lower_view(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    const ms_tensor *x = &c->g->tensors[d->in0], *y = &c->g->tensors[n->output];
    if (ms_tensor_numel(x) != ms_tensor_numel(y)) return unsupported(c, "input and output sizes differ");
    dnnl_data_type_t dt = c->vals[d->in0].ready ? c->vals[d->in0].md.data_type : dnnl_f32;
    if (dt == dnnl_u8) {
        bool same = x->quant.n == 1 && y->quant.n == 1 && x->quant.scale[0] == y->quant.scale[0] &&
                    x->quant.zero_point[0] == y->quant.zero_point[0];
        if (!same) dt = dnnl_f32;
    }
    dnnl_memory_desc_t in, out;
    if (n->kind == MS_OP_COPY && dt == c->vals[d->in0].md.data_type) {
        in = c->vals[d->in0].md;
        out = in;
    } else {
        dn_plain_md(c, d->in0, dt, &in);
        dn_plain_md(c, n->output, dt, &out);
    }
    dnnl_memory_t m;
    int buf;
    ms_status st = dn_input_buf(c, d->in0, &in, &m, &buf);
    if (!st) st = dn_alias(c, n->output, buf, &out);
    return st;
}

static ms_status lower_softmax(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    int nd = c->g->tensors[d->in0].ndim;
    if (n->beta != 1.0f) return unsupported(c, "softmax beta other than 1");
    dnnl_memory_desc_t src, dst;
    dn_plain_md(c, d->in0, dnnl_f32, &src);
    dn_plain_md(c, n->output, dnnl_f32, &dst);
    dnnl_softmax_v2_desc_t sd;
    DN_TRY(c, dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference, dnnl_softmax_accurate, &src, &dst,
                                                dn_dim(nd, nd - 1)),
           "softmax descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (st) return st;
    return unary(c, &sd, attr, d->in0, &src);
}

/* Clip (ReLU, ReLU6, any bounds) and sigmoid, in the input's own layout. */
static ms_status lower_eltwise(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    dnnl_memory_desc_t src;
    dn_f32_md(c, d->in0, &src);
    dnnl_alg_kind_t alg = dnnl_eltwise_logistic;
    float a = 0.0f, b = 0.0f;
    if (n->kind == MS_OP_CLIP) {
        alg = dnnl_eltwise_clip;
        a = n->act_min == -INFINITY ? -3.4e38f : n->act_min;
        b = n->act_max == INFINITY ? 3.4e38f : n->act_max;
    } else if (n->kind == MS_OP_LEAKY_RELU) {
        alg = dnnl_eltwise_relu;
        a = n->alpha;
    } else if (n->kind == MS_OP_HARD_SWISH) {
        alg = dnnl_eltwise_hardswish;
    } else if (n->kind == MS_OP_HARD_SIGMOID) {
        /* oneDNN 2.6 has no hard sigmoid: alpha * x + beta, then a clip post-op to [0, 1] */
        alg = dnnl_eltwise_linear;
        a = n->alpha;
        b = n->beta;
    }
    dnnl_eltwise_desc_t ed;
    DN_TRY(c, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg, &src, a, b), "eltwise descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (!st && n->kind == MS_OP_HARD_SIGMOID) st = dn_attr_act(c, attr, 0.0f, 1.0f, 1.0f);
    if (st) {
        if (attr) dnnl_primitive_attr_destroy(attr);
        return st;
    }
    return unary(c, &ed, attr, d->in0, &src);
}

/* Inference batch norm with the graph's statistics, for graphs not yet folded. */
static ms_status lower_batch_norm(dn_ctx *c, const dn_node *d)
{
    const ms_node *n = &d->n;
    if (n->n_inputs != 5) return unsupported(c, "needs x, scale, offset, mean, variance");
    for (int k = 1; k < 5; k++)
        if (!c->g->tensors[n->inputs[k]].data) return unsupported(c, "parameters must be constant");
    dnnl_memory_desc_t src, pm;
    dn_f32_md(c, d->in0, &src);
    int nd = src.ndims;
    dnnl_dims_t cd = {src.dims[1]};
    if (nd < 2 || ms_tensor_numel(&c->g->tensors[n->inputs[1]]) != cd[0])
        return unsupported(c, "parameters must have one value per channel");
    dnnl_memory_desc_init_by_tag(&pm, 1, cd, dnnl_f32, dnnl_a);
    dnnl_batch_normalization_desc_t bd;
    DN_TRY(c, dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &src, n->epsilon,
                                                         dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift),
           "batch norm descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(c, &attr);
    if (st) return st;
    dnnl_primitive_desc_t pd;
    st = make_pd(c, &bd, attr, &pd);
    if (st) return st;
    static const int arg_of[5] = {0, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    dnnl_exec_arg_t args[6];
    for (int k = 1; !st && k < 5; k++) {
        args[k].arg = arg_of[k];
        st = dn_const(c, &pm, c->g->tensors[n->inputs[k]].data, &pm, &args[k].memory);
    }
    args[0].arg = DNNL_ARG_SRC;
    args[5].arg = DNNL_ARG_DST;
    if (!st) st = dn_input(c, d->in0, &src, &args[0].memory);
    if (!st) st = dn_output(c, n->output, dn_pd_md(pd, dnnl_query_dst_md), &args[5].memory);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return dn_emit(c, pd, args, 6);
}

ms_status dn_lower_node(dn_ctx *c, const dn_node *d)
{
    const ms_graph *g = c->g;
    for (int k = 0; k < d->n.n_inputs; k++) {
        int t = k ? d->n.inputs[k] : d->in0;
        if (t < 0 || t >= g->n_tensors) return unsupported(c, "input tensor id out of range");
    }
    switch (d->n.kind) {
    case MS_OP_CONV2D: return lower_conv(c, d);
    case MS_OP_FULLY_CONNECTED: return lower_fc(c, d);
    case MS_OP_BATCH_NORM: return lower_batch_norm(c, d);
    case MS_OP_CLIP:
    case MS_OP_SIGMOID:
    case MS_OP_LEAKY_RELU:
    case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH: return lower_eltwise(c, d);
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL:
    case MS_OP_GLOBAL_AVG_POOL: return lower_pool(c, d);
    case MS_OP_MEAN: return lower_mean(c, d);
    case MS_OP_ADD:
    case MS_OP_MUL:
    case MS_OP_SUB:
    case MS_OP_DIV: return lower_binary(c, d);
    case MS_OP_TRANSPOSE:
    case MS_OP_SLICE: return lower_gather(c, d);
    case MS_OP_CONCAT: return lower_concat(c, d);
    case MS_OP_PAD: return lower_pad(c, d);
    case MS_OP_RESHAPE:
    case MS_OP_COPY: return lower_view(c, d);
    case MS_OP_SOFTMAX: return lower_softmax(c, d);
    case MS_OP_COUNT: break;
    }
    return unsupported(c, "unknown op");
}
