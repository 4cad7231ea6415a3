/* The oneDNN train plan's forward lowering, one function per op (dnnl_train.c lists
 * what each becomes). Every value is kept in a buffer of its own for the backward pass,
 * and every primitive descriptor that a backward primitive needs as its hint is kept. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnnl/dnnl_train.h"

/* The graph-layout descriptors of node n's weights (oneDNN's logical dims, with the
 * tag that matches [O, KH, KW, I/groups] or [O, I]) and bias. */
void dt_weight_mds(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *user, dnnl_memory_desc_t *any,
                   dnnl_memory_desc_t *bias)
{
    const ms_tensor *w = &x->c.g->tensors[n->inputs[1]], *in = &x->c.g->tensors[n->inputs[0]];
    int64_t O = w->shape[0];
    dnnl_dims_t d;
    int nd;
    dnnl_format_tag_t tag;
    if (n->kind == MS_OP_CONV2D && n->groups > 1) {
        int64_t G = n->groups;
        dnnl_dims_t gd = {G, O / G, w->shape[3], w->shape[1], w->shape[2]};
        memcpy(d, gd, sizeof gd);
        nd = 5;
        tag = dnnl_gohwi;
    } else if (n->kind == MS_OP_CONV2D) {
        dnnl_dims_t cd = {O, w->shape[3], w->shape[1], w->shape[2]};
        memcpy(d, cd, sizeof cd);
        nd = 4;
        tag = dnnl_ohwi;
    } else if (in->ndim == 4) { /* fc over an NHWC input flattens it: [O, H*W*C] is ohwi */
        dnnl_dims_t fd = {O, in->shape[3], in->shape[1], in->shape[2]};
        memcpy(d, fd, sizeof fd);
        nd = 4;
        tag = dnnl_ohwi;
    } else {
        dnnl_dims_t fd = {O, w->shape[1]};
        memcpy(d, fd, sizeof fd);
        nd = 2;
        tag = dnnl_ab;
    }
    dnnl_memory_desc_init_by_tag(user, nd, d, dnnl_f32, tag);
    dnnl_memory_desc_init_by_tag(any, nd, d, dnnl_f32, dnnl_format_tag_any);
    dnnl_dims_t bd = {O};
    dnnl_memory_desc_init_by_tag(bias, 1, bd, dnnl_f32, dnnl_a);
}

static void conv_geometry(const ms_node *n, dnnl_dims_t strides, dnnl_dims_t dil, dnnl_dims_t pl, dnnl_dims_t pr)
{
    strides[0] = n->stride_h;
    strides[1] = n->stride_w;
    dil[0] = n->dilation_h - 1;
    dil[1] = n->dilation_w - 1;
    pl[0] = n->pad_top;
    pl[1] = n->pad_left;
    pr[0] = n->pad_bottom;
    pr[1] = n->pad_right;
}

/* The operation descriptor of conv / fc node n: forward (prop forward_training),
 * backward data (prop backward_data) or backward weights. All layouts any. */
ms_status dt_weighted_desc(dt_ctx *x, const ms_node *n, dnnl_prop_kind_t prop, void *desc)
{
    dnnl_memory_desc_t src_p, dst_p, src, dst, w_user, w, b;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &src_p);
    dn_plain_md(&x->c, n->output, dnnl_f32, &dst_p);
    dn_any_md(&src_p, dnnl_f32, &src);
    dn_any_md(&dst_p, dnnl_f32, &dst);
    dt_weight_mds(x, n, &w_user, &w, &b);
    const dnnl_memory_desc_t *bias = n->n_inputs > 2 ? &b : NULL;
    dnnl_status_t s;
    if (n->kind == MS_OP_CONV2D) {
        dnnl_dims_t st, dil, pl, pr;
        conv_geometry(n, st, dil, pl, pr);
        dnnl_convolution_desc_t *cd = desc;
        if (prop == dnnl_forward_training)
            s = dnnl_dilated_convolution_forward_desc_init(cd, prop, dnnl_convolution_direct, &src, &w, bias, &dst, st,
                                                           dil, pl, pr);
        else if (prop == dnnl_backward_data)
            s = dnnl_dilated_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, &src, &w, &dst, st, dil,
                                                                 pl, pr);
        else
            s = dnnl_dilated_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, &src, &w, bias, &dst,
                                                                    st, dil, pl, pr);
    } else {
        dnnl_inner_product_desc_t *ipd = desc;
        if (prop == dnnl_forward_training)
            s = dnnl_inner_product_forward_desc_init(ipd, prop, &src, &w, bias, &dst);
        else if (prop == dnnl_backward_data)
            s = dnnl_inner_product_backward_data_desc_init(ipd, &src, &w, &dst);
        else
            s = dnnl_inner_product_backward_weights_desc_init(ipd, &src, &w, bias, &dst);
    }
    if (s != dnnl_success) return dn_fail(&x->c, s, "operation descriptor");
    return MS_OK;
}


static ms_status fwd_weighted(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dt_rec *r = &x->recs[i];
    const ms_tensor *w = &x->c.g->tensors[n->inputs[1]];
    if (n->kind == MS_OP_CONV2D && (w->ndim != 4 || n->groups < 1 || w->shape[0] % n->groups))
        return dt_unsupported(x, n, "weights must be [O, KH, KW, I/groups] with O a multiple of groups");
    if (n->kind == MS_OP_FULLY_CONNECTED &&
        (w->ndim != 2 || x->c.g->tensors[n->output].ndim != 2 ||
         (x->c.g->tensors[n->inputs[0]].ndim != 2 && x->c.g->tensors[n->inputs[0]].ndim != 4)))
        return dt_unsupported(x, n, "needs weights [O, I], an input [N, I] or [N, H, W, C] and an output [N, O]");
    dt_weighted_op op;
    ms_status st = dt_weighted_desc(x, n, dnnl_forward_training, &op);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dt_node_attr(x, n, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &op, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_desc_t w_user, w_any, b_md;
    dt_weight_mds(x, n, &w_user, &w_any, &b_md);
    ms_train_plan *tb = &x->tp->base;
    dnnl_memory_t uw, bm = NULL, dm;
    r->w_md = *dn_pd_md(pd, dnnl_query_weights_md);
    r->src_md = *dn_pd_md(pd, dnnl_query_src_md);
    st = dt_user_mem(x, &w_user, tb->params[r->w_param].value, &uw);
    if (!st && dt_same_md(&w_user, &r->w_md)) r->w = uw;
    else if (!st) st = dt_persistent(x, &r->w_md, &r->w, NULL);
    if (!st && r->w != uw) st = dn_reorder(&x->c, n->inputs[1], &w_user, uw, &r->w_md, r->w);
    /* the bias descriptor was given plain, so the value array serves as it is */
    if (!st && r->b_param >= 0) st = dt_user_mem(x, &b_md, tb->params[r->b_param].value, &bm);
    if (!st) st = dt_value_as(x, n->inputs[0], &r->src_md, &r->src, NULL);
    if (!st) st = dt_new_value(x, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, r->src}, {DNNL_ARG_WEIGHTS, r->w}, {DNNL_ARG_DST, dm}, {DNNL_ARG_BIAS, bm}};
    return dt_emit_keep(x, i, pd, args, bm ? 4 : 3);
}

void dt_pool_geometry(const dt_ctx *x, const ms_node *n, dnnl_alg_kind_t *alg, dnnl_dims_t kernel,
                      dnnl_dims_t strides, dnnl_dims_t pl, dnnl_dims_t pr)
{
    const ms_tensor *in = &x->c.g->tensors[n->inputs[0]];
    *alg = n->kind == MS_OP_MAX_POOL ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    bool global = n->kind == MS_OP_GLOBAL_AVG_POOL;
    kernel[0] = global ? in->shape[1] : n->kernel_h;
    kernel[1] = global ? in->shape[2] : n->kernel_w;
    strides[0] = global ? 1 : n->stride_h;
    strides[1] = global ? 1 : n->stride_w;
    pl[0] = global ? 0 : n->pad_top;
    pl[1] = global ? 0 : n->pad_left;
    pr[0] = global ? 0 : n->pad_bottom;
    pr[1] = global ? 0 : n->pad_right;
}

static ms_status fwd_pool(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dt_rec *r = &x->recs[i];
    if (x->c.g->tensors[n->inputs[0]].ndim != 4 || x->c.g->tensors[n->output].ndim != 4)
        return dt_unsupported(x, n, "input and output must be NHWC");
    dnnl_memory_desc_t dst_p, dst;
    dn_plain_md(&x->c, n->output, dnnl_f32, &dst_p);
    dn_any_md(&dst_p, dnnl_f32, &dst);
    dnnl_alg_kind_t alg;
    dnnl_dims_t kernel, strides, pl, pr, dil = {0, 0};
    dt_pool_geometry(x, n, &alg, kernel, strides, pl, pr);
    dnnl_pooling_v2_desc_t pdsc;
    DN_TRY(&x->c,
           dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_training, alg, &x->c.vals[n->inputs[0]].md, &dst,
                                             strides, kernel, dil, pl, pr),
           "pooling descriptor");
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = dt_node_attr(x, n, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &pdsc, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_t dm;
    const dnnl_memory_desc_t *wmd = dn_pd_md(pd, dnnl_query_workspace_md);
    if (wmd && dnnl_memory_desc_get_size(wmd)) st = dt_persistent(x, wmd, &r->ws, NULL);
    if (!st) st = dt_new_value(x, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, x->c.vals[n->inputs[0]].mem}, {DNNL_ARG_DST, dm},
                               {DNNL_ARG_WORKSPACE, r->ws}};
    return dt_emit_keep(x, i, pd, args, r->ws ? 3 : 2);
}

/* The reduced shape of a mean's input (kept axes, reduced ones 1), plain. */
void dt_mean_md(const dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *src, dnnl_memory_desc_t *red)
{
    int nd = x->c.g->tensors[n->inputs[0]].ndim;
    static const int nhwc[4] = {0, 2, 3, 1};
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, src);
    dnnl_dims_t dims;
    memcpy(dims, src->dims, sizeof dims);
    for (int k = 0; k < nd; k++)
        if (n->axes_mask & (1u << k)) dims[nd == 4 ? nhwc[k] : k] = 1;
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_acdb};
    dnnl_memory_desc_init_by_tag(red, src->ndims, dims, dnnl_f32, tags[src->ndims]);
}

/* The reduction writes the kept-dims shape; the output reads the same bytes in its own
 * plain shape (without kept dims they hold the same values in the same order). */
static ms_status fwd_mean(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t src, red, out;
    dt_mean_md(x, n, &src, &red);
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    if (dnnl_memory_desc_get_size(&out) != dnnl_memory_desc_get_size(&red))
        return dt_unsupported(x, n, "output shape does not match the reduced input");
    dnnl_reduction_desc_t rd;
    DN_TRY(&x->c, dnnl_reduction_desc_init(&rd, dnnl_reduction_mean, &src, &red, 0.0f, 0.0f), "reduction descriptor");
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = dt_node_attr(x, n, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &rd, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_t sm, rm;
    int buf = -1;
    st = dt_value_as(x, n->inputs[0], &src, &sm, NULL);
    if (!st) st = dt_persistent(x, &red, &rm, &buf);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dn_value *v = &x->c.vals[n->output];
    v->ready = true;
    v->md = out;
    v->buf = buf;
    st = dn_mem_new(&x->c, &out, buf, &v->mem);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_DST, rm}};
    return dn_emit(&x->c, pd, args, 2);
}

/* A per-channel constant for a value in layout like (its channel axis is dim 1). */
static ms_status channel_const(dt_ctx *x, const dnnl_memory_desc_t *like, const float *v, dnnl_memory_desc_t *md,
                               dnnl_memory_t *mem)
{
    dnnl_dims_t d;
    for (int k = 0; k < like->ndims; k++) d[k] = 1;
    d[1] = like->dims[1];
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd};
    dnnl_memory_desc_init_by_tag(md, like->ndims, d, dnnl_f32, tags[like->ndims]);
    return dn_const(&x->c, md, v, md, mem);
}

/* Emits dst = src0 (op) src1 with attr. */
ms_status dt_binary(dt_ctx *x, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *a_md, dnnl_memory_t a,
                    const dnnl_memory_desc_t *b_md, dnnl_memory_t b, const dnnl_memory_desc_t *d_md,
                    dnnl_memory_t d, dnnl_primitive_attr_t attr)
{
    dnnl_binary_desc_t bd;
    dnnl_status_t s = dnnl_binary_desc_init(&bd, alg, a_md, b_md, d_md);
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return dn_fail(&x->c, s, "binary descriptor");
    }
    dnnl_primitive_desc_t pd;
    ms_status st = dt_make_pd(x, &bd, attr, NULL, &pd);
    if (st) return st;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, d}};
    return dn_emit(&x->c, pd, args, 3);
}

/* Frozen batch norm: y = x * s + b, s = scale / sqrt(variance + epsilon), b = offset -
 * mean * s, per channel; the clamp rides on the add. */
static ms_status fwd_batch_norm(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dt_rec *r = &x->recs[i];
    const ms_graph *g = x->c.g;
    if (n->n_inputs != 5) return dt_unsupported(x, n, "needs x, scale, offset, mean, variance");
    const dn_value *in = &x->c.vals[n->inputs[0]];
    int64_t C = in->md.ndims >= 2 ? in->md.dims[1] : 0;
    for (int k = 1; k < 5; k++)
        if (!g->tensors[n->inputs[k]].data || ms_tensor_numel(&g->tensors[n->inputs[k]]) != C)
            return dt_unsupported(x, n, "parameters must be constant, one value per channel");
    float *s = malloc(2 * (size_t)C * sizeof *s + 1);
    if (!s) return dt_nomem(x);
    float *b = s + C;
    const float *scale = g->tensors[n->inputs[1]].data, *offset = g->tensors[n->inputs[2]].data,
                *mean = g->tensors[n->inputs[3]].data, *var = g->tensors[n->inputs[4]].data;
    for (int64_t c = 0; c < C; c++) {
        double f = scale[c] / sqrt((double)var[c] + n->epsilon);
        s[c] = (float)f;
        b[c] = (float)(offset[c] - mean[c] * f);
    }
    dnnl_memory_desc_t b_md;
    dnnl_memory_t bm, ym;
    ms_status st = channel_const(x, &in->md, s, &r->scale_md, &r->scale);
    if (!st) st = channel_const(x, &in->md, b, &b_md, &bm);
    free(s);
    if (!st) st = dt_new_value(x, n->output, &in->md, &ym);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = dt_binary(x, dnnl_binary_mul, &in->md, in->mem, &r->scale_md, r->scale, &in->md, ym, attr);
    attr = NULL;
    if (!st) st = dt_node_attr(x, n, &attr);
    if (!st) st = dt_binary(x, dnnl_binary_add, &in->md, ym, &b_md, bm, &in->md, ym, attr);
    return st;
}

static ms_status fwd_add(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    const ms_graph *g = x->c.g;
    int a = n->inputs[0], b = n->inputs[1];
    if (g->tensors[a].data && !g->tensors[b].data) {
        a = n->inputs[1];
        b = n->inputs[0];
    }
    if (g->tensors[a].data) return dt_unsupported(x, n, "both inputs are constant");
    const dn_value *av = &x->c.vals[a];
    dnnl_memory_desc_t b_md;
    dnnl_memory_t bm, ym;
    ms_status st;
    if (g->tensors[b].data) {
        if (ms_tensor_numel(&g->tensors[b]) != av->md.dims[1] || av->md.ndims < 2)
            return dt_unsupported(x, n, "a constant must hold one value per channel");
        st = channel_const(x, &av->md, g->tensors[b].data, &b_md, &bm);
    } else {
        if (ms_tensor_numel(&g->tensors[a]) != ms_tensor_numel(&g->tensors[b]))
            return dt_unsupported(x, n, "only constants broadcast");
        b_md = av->md;
        st = dt_value_as(x, b, &b_md, &bm, NULL);
    }
    if (!st) st = dt_new_value(x, n->output, &av->md, &ym);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dt_node_attr(x, n, &attr);
    if (!st) st = dt_binary(x, dnnl_binary_add, &av->md, av->mem, &b_md, bm, &av->md, ym, attr);
    return st;
}

/* Concat writes a plain NHWC output, so that the backward pass can read each input's
 * part as a strided view whatever the channel counts. */
static ms_status fwd_concat(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    enum { MAX_IN = 64 };
    if (n->n_inputs > MAX_IN) return dt_unsupported(x, n, "more than 64 inputs");
    int nd = x->c.g->tensors[n->output].ndim, axis = n->axis < 0 ? n->axis + nd : n->axis;
    if (axis < 0 || axis >= nd) return dt_unsupported(x, n, "axis out of range");
    static const int nhwc[4] = {0, 2, 3, 1};
    dnnl_memory_desc_t mds[MAX_IN], out;
    dnnl_exec_arg_t args[MAX_IN + 1];
    for (int k = 0; k < n->n_inputs; k++) {
        if (x->c.g->tensors[n->inputs[k]].data) return dt_unsupported(x, n, "constant inputs");
        mds[k] = x->c.vals[n->inputs[k]].md;
        args[k] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + k, x->c.vals[n->inputs[k]].mem};
    }
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(&x->c, &attr);
    if (st) return st;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_concat_primitive_desc_create(&pd, &out, n->n_inputs, nd == 4 ? nhwc[axis] : axis, mds,
                                                        attr, x->c.p->engine);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(&x->c, s, "concat descriptor");
    args[n->n_inputs].arg = DNNL_ARG_DST;
    st = dt_new_value(x, n->output, &out, &args[n->n_inputs].memory);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return dn_emit(&x->c, pd, args, n->n_inputs + 1);
}

/* The interior of a padded tensor t (plain) holding the unpadded one. */
ms_status dt_pad_interior(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *sub)
{
    int nd = x->c.g->tensors[n->inputs[0]].ndim;
    static const int nhwc[4] = {0, 2, 3, 1};
    dnnl_memory_desc_t out, in;
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &in);
    dnnl_dims_t offs = {0};
    for (int k = 0; k < nd; k++) offs[nd == 4 ? nhwc[k] : k] = n->pads[k][0];
    DN_TRY(&x->c, dnnl_memory_desc_init_submemory(sub, &out, in.dims, offs), "padded view");
    return MS_OK;
}

/* Zero padding: the output's border is zeroed once (its buffer is never reused) and
 * each forward copies the input into the interior. */
static ms_status fwd_pad(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    if (n->pads[0][0] || n->pads[0][1]) return dt_unsupported(x, n, "padding the batch dimension");
    dnnl_memory_desc_t out, sub;
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    dnnl_memory_t ym, inner;
    ms_status st = dt_pad_interior(x, n, &sub);
    if (!st) st = dt_new_value(x, n->output, &out, &ym);
    if (!st) st = dn_mem_new(&x->c, &sub, x->c.vals[n->output].buf, &inner);
    const dn_value *in = &x->c.vals[n->inputs[0]];
    if (!st) st = dn_reorder(&x->c, n->inputs[0], &in->md, in->mem, &sub, inner);
    return st;
}

/* Reshape and copy: the input's plain bytes read in the output's plain shape. */
static ms_status fwd_view(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    const ms_graph *g = x->c.g;
    if (ms_tensor_numel(&g->tensors[n->inputs[0]]) != ms_tensor_numel(&g->tensors[n->output]))
        return dt_unsupported(x, n, "input and output sizes differ");
    dnnl_memory_desc_t in, out;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &in);
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    dnnl_memory_t m;
    int buf = -1;
    ms_status st = dt_value_as(x, n->inputs[0], &in, &m, &buf);
    if (!st) st = dn_alias(&x->c, n->output, buf, &out);
    return st;
}

/* Clip and sigmoid: the use_dst algorithms, whose backward reads the kept output.
 * Leaky ReLU (relu with a slope) and hard swish: backward from the input. Hard sigmoid:
 * oneDNN 2.6 has none, so alpha * x + beta (linear), then a [0, 1] clamp (fwd_eltwise). */
void dt_eltwise_alg(const ms_node *n, dnnl_alg_kind_t *alg, float *a, float *b)
{
    *a = *b = 0.0f;
    switch (n->kind) {
    case MS_OP_SIGMOID: *alg = dnnl_eltwise_logistic_use_dst_for_bwd; return;
    case MS_OP_LEAKY_RELU: *alg = dnnl_eltwise_relu; *a = n->alpha; return;
    case MS_OP_HARD_SWISH: *alg = dnnl_eltwise_hardswish; return;
    case MS_OP_HARD_SIGMOID:
        *alg = dnnl_eltwise_linear;
        *a = n->alpha;
        *b = n->beta;
        return;
    default:
        *alg = dnnl_eltwise_clip_v2_use_dst_for_bwd;
        *a = isfinite(n->act_min) ? n->act_min : -FLT_MAX;
        *b = isfinite(n->act_max) ? n->act_max : FLT_MAX;
    }
}

static ms_status fwd_eltwise(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    const dn_value *in = &x->c.vals[n->inputs[0]];
    dnnl_alg_kind_t alg;
    float a, b;
    dt_eltwise_alg(n, &alg, &a, &b);
    dnnl_eltwise_desc_t ed;
    DN_TRY(&x->c, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, alg, &in->md, a, b), "eltwise descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &ed, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_t ym;
    st = dt_new_value(x, n->output, &in->md, &ym);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, ym}};
    st = dt_emit_keep(x, i, pd, args, 2);
    if (st || n->kind != MS_OP_HARD_SIGMOID) return st;
    /* the [0, 1] clamp in place, as its own primitive (oneDNN runs a linear eltwise with
     * a clip post-op only in its reference implementation) */
    DN_TRY(&x->c, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, dnnl_eltwise_clip_v2_use_dst_for_bwd,
                                                 &in->md, 0.0f, 1.0f),
           "clamp descriptor");
    if ((st = dn_attr(&x->c, &attr)) || (st = dt_make_pd(x, &ed, attr, NULL, &pd))) return st;
    dnnl_exec_arg_t clamp[2] = {{DNNL_ARG_SRC, ym}, {DNNL_ARG_DST, ym}};
    return dn_emit(&x->c, pd, clamp, 2);
}

/* Whether tensor t has node n's output shape. */
static bool full_shape(const ms_graph *g, const ms_node *n, int t)
{
    const ms_tensor *a = &g->tensors[t], *y = &g->tensors[n->output];
    if (a->ndim != y->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != y->shape[d]) return false;
    return true;
}

ms_status dt_binary_operands(dt_ctx *x, const ms_node *n, int *a, int *b)
{
    const ms_graph *g = x->c.g;
    *a = n->inputs[0];
    *b = n->inputs[1];
    bool a_ok = !g->tensors[*a].data && full_shape(g, n, *a);
    if (!a_ok && n->kind == MS_OP_MUL && !g->tensors[*b].data && full_shape(g, n, *b)) {
        *a = n->inputs[1];
        *b = n->inputs[0];
        a_ok = true;
    }
    if (!a_ok)
        return dt_unsupported(x, n, "the first operand must be computed and of the output's shape (oneDNN broadcasts "
                                    "only the second)");
    if (!g->tensors[*b].data && g->tensors[*b].ndim != g->tensors[n->output].ndim)
        return dt_unsupported(x, n, "a computed second operand must have the output's rank");
    return MS_OK;
}

/* The second operand of binary node n: a constant right-aligned to the output's rank, a
 * computed value that broadcasts in the plain layout, one of the output's shape in the
 * first operand's layout `like` (converted once, kept, when it is in another). */
ms_status dt_binary_second(dt_ctx *x, const ms_node *n, int b, const dnnl_memory_desc_t *like,
                           dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    const ms_tensor *t = &x->c.g->tensors[b];
    if (!t->data) {
        if (full_shape(x->c.g, n, b)) *md = *like; /* the first operand's layout: no broadcast */
        else dn_plain_md(&x->c, b, dnnl_f32, md);
        return dt_value_as(x, b, md, mem, NULL);
    }
    dn_const_md(&x->c, b, x->c.g->tensors[n->output].ndim, md);
    return dn_const(&x->c, md, t->data, md, mem);
}

static dnnl_alg_kind_t binary_alg(const ms_node *n)
{
    return n->kind == MS_OP_MUL ? dnnl_binary_mul : n->kind == MS_OP_SUB ? dnnl_binary_sub : dnnl_binary_div;
}

/* mul, sub, div: y = a (op) b in a's layout, b broadcast (dt_binary_operands). */
static ms_status fwd_binary(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int a, b;
    ms_status st = dt_binary_operands(x, n, &a, &b);
    if (st) return st;
    const dn_value *av = &x->c.vals[a];
    dnnl_memory_desc_t b_md;
    dnnl_memory_t bm, ym;
    st = dt_binary_second(x, n, b, &av->md, &b_md, &bm);
    if (!st) st = dt_new_value(x, n->output, &av->md, &ym);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = dt_binary(x, binary_alg(n), &av->md, av->mem, &b_md, bm, &av->md, ym, attr);
    return st;
}

/* Transpose and slice as reorders between descriptors in the IR's own dimension order
 * (row-major: the plain layout's bytes): ir[t] is tensor t's plain bytes so; *view is
 * the input's bytes seen in the output's dimensions, each output index d stepping the
 * input by its stride along perm[d] (transpose) or steps[d] times its own (slice, from
 * starts). Negative slice steps are refused. */
ms_status dt_gather_mds(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *in_ir, dnnl_memory_desc_t *out_ir,
                        dnnl_memory_desc_t *view)
{
    const ms_tensor *in = &x->c.g->tensors[n->inputs[0]], *out = &x->c.g->tensors[n->output];
    int nd = in->ndim;
    if (nd < 1 || out->ndim != nd) return dt_unsupported(x, n, "input and output must have the same rank");
    dnnl_dims_t di, dout, st, vst;
    int64_t stride = 1, offset = 0;
    for (int d = nd - 1; d >= 0; d--) {
        di[d] = in->shape[d];
        dout[d] = out->shape[d];
        st[d] = stride;
        stride *= in->shape[d];
    }
    for (int d = 0; d < nd; d++) {
        if (n->kind == MS_OP_TRANSPOSE) {
            vst[d] = st[n->perm[d]];
            continue;
        }
        if (n->steps[d] < 1) return dt_unsupported(x, n, "a negative step");
        vst[d] = st[d] * n->steps[d];
        offset += n->starts[d] * st[d];
    }
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd};
    dnnl_memory_desc_init_by_tag(in_ir, nd, di, dnnl_f32, tags[nd]);
    dnnl_memory_desc_init_by_tag(out_ir, nd, dout, dnnl_f32, tags[nd]);
    /* set by hand: dnnl_memory_desc_init_by_strides refuses a strided view whose rows
     * reach past the next outer stride (a slice of 3 of 5 rows with step 2), although
     * no two of its elements overlap */
    *view = *out_ir;
    for (int d = 0; d < nd; d++) view->format_desc.blocking.strides[d] = vst[d];
    view->offset0 = offset;
    return MS_OK;
}

/* y = the gathered view of x's plain bytes, into y's plain buffer. */
static ms_status fwd_gather(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t in_ir, out_ir, view, in_p, out_p;
    ms_status st = dt_gather_mds(x, n, &in_ir, &out_ir, &view);
    if (st) return st;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &in_p);
    dn_plain_md(&x->c, n->output, dnnl_f32, &out_p);
    dnnl_memory_t im, vm, ym, yir;
    int buf = -1;
    st = dt_value_as(x, n->inputs[0], &in_p, &im, &buf);
    if (!st) st = dn_mem_new(&x->c, &view, buf, &vm);
    if (!st) st = dt_new_value(x, n->output, &out_p, &ym);
    if (!st) st = dn_mem_new(&x->c, &out_ir, x->c.vals[n->output].buf, &yir);
    if (!st) st = dn_reorder(&x->c, n->inputs[0], &view, vm, &out_ir, yir);
    return st;
}

ms_status dt_forward_node(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++)
        if (!x->c.g->tensors[n->inputs[k]].data && !x->c.vals[n->inputs[k]].ready)
            return dt_unsupported(x, n, "reads a tensor no earlier node writes");
    switch (n->kind) {
    case MS_OP_CONV2D:
    case MS_OP_FULLY_CONNECTED: return fwd_weighted(x, i);
    case MS_OP_BATCH_NORM: return fwd_batch_norm(x, i);
    case MS_OP_CLIP:
    case MS_OP_SIGMOID:
    case MS_OP_LEAKY_RELU:
    case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH: return fwd_eltwise(x, i);
    case MS_OP_MUL:
    case MS_OP_SUB:
    case MS_OP_DIV: return fwd_binary(x, i);
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL:
    case MS_OP_GLOBAL_AVG_POOL: return fwd_pool(x, i);
    case MS_OP_MEAN: return fwd_mean(x, i);
    case MS_OP_ADD: return fwd_add(x, i);
    case MS_OP_CONCAT: return fwd_concat(x, i);
    case MS_OP_PAD: return fwd_pad(x, i);
    case MS_OP_RESHAPE:
    case MS_OP_COPY: return fwd_view(x, i);
    case MS_OP_SOFTMAX: return dt_unsupported(x, n, "a softmax inside the graph (only the final one) cannot be trained");
    case MS_OP_TRANSPOSE:
    case MS_OP_SLICE: return fwd_gather(x, i);
    case MS_OP_COUNT: break;
    }
    return dt_unsupported(x, n, "unknown op");
}
