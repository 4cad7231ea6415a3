/* The oneDNN train plan's backward lowering, one function per op, each from the
 * finished gradient of the node's output (and the values the forward kept) to the
 * gradients of its inputs and parameters. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnnl/dnnl_train.h"

/* dy of tensor t through a clamp to [a, b] whose output t kept: dy where the kept
 * value lies strictly inside (a, b), else 0, in a temporary. */
static ms_status clamp_grad(dt_ctx *x, int t, float a, float b, dnnl_memory_t *dz, int *buf)
{
    const dn_value *y = &x->c.vals[t], *dy = &x->grads[t];
    dnnl_eltwise_desc_t fd, bd;
    DN_TRY(&x->c, dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, dnnl_eltwise_clip_v2_use_dst_for_bwd,
                                                 &y->md, a, b),
           "clamp descriptor");
    DN_TRY(&x->c, dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_clip_v2_use_dst_for_bwd, &dy->md, &y->md, a, b),
           "clamp backward descriptor");
    dnnl_primitive_desc_t hint, pd;
    ms_status st = dt_make_pd(x, &fd, NULL, NULL, &hint);
    if (st) return st;
    dnnl_primitive_attr_t attr;
    st = dn_attr(&x->c, &attr);
    if (!st) st = dt_make_pd(x, &bd, attr, hint, &pd);
    dnnl_primitive_desc_destroy(hint);
    if (st) return st;
    st = dt_temp(x, &dy->md, dz, buf);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DST, y->mem}, {DNNL_ARG_DIFF_DST, dy->mem}, {DNNL_ARG_DIFF_SRC, *dz}};
    return dn_emit(&x->c, pd, args, 3);
}

/* The gradient of node n's output before its clamp: dy where the kept output lies
 * strictly inside (act_min, act_max), else 0; dy itself when n does not clamp. */
static ms_status act_backward(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *md, dnnl_memory_t *dz, int *buf)
{
    const dn_value *dy = &x->grads[n->output];
    *md = dy->md;
    *dz = dy->mem;
    *buf = dy->buf;
    if (!dt_clamps(n)) return MS_OK;
    float a = isfinite(n->act_min) ? n->act_min : -FLT_MAX, b = isfinite(n->act_max) ? n->act_max : FLT_MAX;
    return clamp_grad(x, n->output, a, b, dz, buf);
}

static ms_status bwd_weighted(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dt_rec *r = &x->recs[i];
    ms_train_plan *tb = &x->tp->base;
    int in = n->inputs[0];
    dnnl_memory_desc_t dz_md, w_user, w_any, b_md;
    dnnl_memory_t dz;
    int dz_buf;
    dt_weight_mds(x, n, &w_user, &w_any, &b_md);
    ms_status st = act_backward(x, n, &dz_md, &dz, &dz_buf);
    dt_weighted_op op;
    dnnl_primitive_desc_t pd;
    if (!st && x->grads[in].ready) {
        st = dt_weighted_desc(x, n, dnnl_backward_data, &op);
        dnnl_primitive_attr_t attr = NULL;
        if (!st) st = dn_attr(&x->c, &attr);
        if (!st) st = dt_make_pd(x, &op, attr, r->hint, &pd);
        if (st) return st;
        dnnl_memory_t w, ddst, dsrc;
        bool direct;
        const dnnl_memory_desc_t *src_md = dn_pd_md(pd, dnnl_query_diff_src_md);
        st = dt_grad_as(x, n->inputs[1], &r->w_md, r->w, dn_pd_md(pd, dnnl_query_weights_md), &w);
        if (!st) st = dt_grad_as(x, n->output, &dz_md, dz, dn_pd_md(pd, dnnl_query_diff_dst_md), &ddst);
        if (!st) st = dt_grad_target(x, in, src_md, &dsrc, &direct);
        dnnl_memory_desc_t keep = *src_md;
        if (st) {
            dnnl_primitive_desc_destroy(pd);
            return st;
        }
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dsrc}};
        st = dn_emit(&x->c, pd, args, 3);
        if (!st) st = dt_grad_commit(x, in, &keep, dsrc, direct);
    }
    if (!st) st = dt_weighted_desc(x, n, dnnl_backward_weights, &op);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = dt_make_pd(x, &op, attr, r->hint, &pd);
    if (st) return st;
    dnnl_memory_t src, ddst, dw, uw, db = NULL;
    const dnnl_memory_desc_t *dw_md = dn_pd_md(pd, dnnl_query_diff_weights_md);
    dnnl_memory_desc_t keep = *dw_md;
    st = dt_value_as(x, in, dn_pd_md(pd, dnnl_query_src_md), &src, NULL);
    if (!st) st = dt_grad_as(x, n->output, &dz_md, dz, dn_pd_md(pd, dnnl_query_diff_dst_md), &ddst);
    if (!st) st = dt_user_mem(x, &w_user, tb->params[r->w_param].grad, &uw);
    if (!st && dt_same_md(dw_md, &w_user)) dw = uw;
    else if (!st) st = dt_temp(x, dw_md, &dw, NULL);
    if (!st && r->b_param >= 0) st = dt_user_mem(x, &b_md, tb->params[r->b_param].grad, &db);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dw},
                               {DNNL_ARG_DIFF_BIAS, db}};
    st = dn_emit(&x->c, pd, args, db ? 4 : 3);
    if (!st && dw != uw) st = dn_reorder(&x->c, n->inputs[1], &keep, dw, &w_user, uw);
    return st;
}

static ms_status bwd_pool(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dt_rec *r = &x->recs[i];
    int in = n->inputs[0];
    if (!x->grads[in].ready) return MS_OK;
    dnnl_memory_desc_t dz_md;
    dnnl_memory_t dz;
    int dz_buf;
    ms_status st = act_backward(x, n, &dz_md, &dz, &dz_buf);
    if (st) return st;
    dnnl_alg_kind_t alg;
    dnnl_dims_t kernel, strides, pl, pr, dil = {0, 0};
    dt_pool_geometry(x, n, &alg, kernel, strides, pl, pr);
    dnnl_pooling_v2_desc_t pdsc;
    DN_TRY(&x->c,
           dnnl_pooling_v2_backward_desc_init(&pdsc, alg, &x->grads[in].md, &dz_md, strides, kernel, dil, pl, pr),
           "pooling backward descriptor");
    dnnl_primitive_attr_t attr = NULL;
    st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &pdsc, attr, r->hint, &pd);
    if (st) return st;
    dnnl_memory_desc_t src_md = *dn_pd_md(pd, dnnl_query_diff_src_md);
    dnnl_memory_t dsrc;
    bool direct;
    st = dt_grad_target(x, in, &src_md, &dsrc, &direct);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_DIFF_SRC, dsrc}, {DNNL_ARG_WORKSPACE, r->ws}};
    st = dn_emit(&x->c, pd, args, r->ws ? 3 : 2);
    if (!st) st = dt_grad_commit(x, in, &src_md, dsrc, direct);
    return st;
}

/* dx = dz broadcast over the reduced axes, times 1/count: a binary mul of a constant
 * input-shaped 1/count by dz read in the reduced (kept dims) shape. */
static ms_status bwd_mean(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int in = n->inputs[0];
    if (!x->grads[in].ready) return MS_OK;
    dnnl_memory_desc_t dz_md, src, red;
    dnnl_memory_t dz, dz_red, ones, dsrc;
    int dz_buf;
    ms_status st = act_backward(x, n, &dz_md, &dz, &dz_buf);
    if (st) return st;
    dt_mean_md(x, n, &src, &red);
    int64_t total = ms_tensor_numel(&x->c.g->tensors[in]), count = total / ms_tensor_numel(&x->c.g->tensors[n->output]);
    float *share = malloc((size_t)total * sizeof *share + 1);
    if (!share) return dt_nomem(x);
    for (int64_t k = 0; k < total; k++) share[k] = 1.0f / (float)count;
    st = dn_const(&x->c, &src, share, &src, &ones);
    free(share);
    bool direct;
    if (!st) st = dn_mem_new(&x->c, &red, dz_buf, &dz_red);
    if (!st) st = dt_grad_target(x, in, &src, &dsrc, &direct);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = dt_binary(x, dnnl_binary_mul, &src, ones, &red, dz_red, &src, dsrc, attr);
    if (!st) st = dt_grad_commit(x, in, &src, dsrc, direct);
    return st;
}

static ms_status bwd_batch_norm(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int in = n->inputs[0];
    if (!x->grads[in].ready) return MS_OK;
    dnnl_memory_desc_t dz_md;
    dnnl_memory_t dz, dsrc;
    int dz_buf;
    bool direct;
    ms_status st = act_backward(x, n, &dz_md, &dz, &dz_buf);
    if (!st) st = dt_grad_target(x, in, &dz_md, &dsrc, &direct);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = dt_binary(x, dnnl_binary_mul, &dz_md, dz, &x->recs[i].scale_md, x->recs[i].scale, &dz_md, dsrc, attr);
    if (!st) st = dt_grad_commit(x, in, &dz_md, dsrc, direct);
    return st;
}

/* dz to both inputs (a constant needs none; an input read twice gets it twice). */
static ms_status bwd_add(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t dz_md;
    dnnl_memory_t dz;
    int dz_buf;
    ms_status st = act_backward(x, n, &dz_md, &dz, &dz_buf);
    for (int k = 0; !st && k < 2; k++) st = dt_grad_add(x, n->inputs[k], &dz_md, dz);
    return st;
}

static ms_status bwd_view(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t in;
    dnnl_memory_t m;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &in);
    ms_status st = dn_mem_new(&x->c, &in, x->grads[n->output].buf, &m);
    if (!st) st = dt_grad_add(x, n->inputs[0], &in, m);
    return st;
}

static ms_status bwd_pad(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t sub;
    dnnl_memory_t m;
    ms_status st = dt_pad_interior(x, n, &sub);
    if (!st) st = dn_mem_new(&x->c, &sub, x->grads[n->output].buf, &m);
    if (!st) st = dt_grad_add(x, n->inputs[0], &sub, m);
    return st;
}

static ms_status bwd_concat(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    static const int nhwc[4] = {0, 2, 3, 1};
    const dn_value *dy = &x->grads[n->output];
    int nd = dy->md.ndims, axis = n->axis < 0 ? n->axis + nd : n->axis;
    int dim = nd == 4 ? nhwc[axis] : axis;
    dnnl_dims_t offs = {0};
    ms_status st = MS_OK;
    for (int k = 0; !st && k < n->n_inputs; k++) {
        const dnnl_memory_desc_t *in = &x->c.vals[n->inputs[k]].md;
        dnnl_memory_desc_t sub;
        dnnl_memory_t m;
        dnnl_status_t s = dnnl_memory_desc_init_submemory(&sub, &dy->md, in->dims, offs);
        if (s != dnnl_success) return dn_fail(&x->c, s, "concat part view");
        offs[dim] += in->dims[dim];
        st = dn_mem_new(&x->c, &sub, dy->buf, &m);
        if (!st) st = dt_grad_add(x, n->inputs[k], &sub, m);
    }
    return st;
}

/* Clip and sigmoid from the kept output; leaky ReLU, hard swish and hard sigmoid's
 * linear part from the input (hard sigmoid's clamp first, from its kept output). */
static ms_status bwd_eltwise(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int in = n->inputs[0];
    if (!x->grads[in].ready) return MS_OK;
    bool use_dst = n->kind == MS_OP_CLIP || n->kind == MS_OP_SIGMOID;
    const dn_value *dy = &x->grads[n->output], *data = use_dst ? &x->c.vals[n->output] : &x->c.vals[in];
    dnnl_alg_kind_t alg;
    float a, b;
    dt_eltwise_alg(n, &alg, &a, &b);
    dnnl_memory_t diff = dy->mem;
    int buf;
    ms_status st = n->kind == MS_OP_HARD_SIGMOID ? clamp_grad(x, n->output, 0.0f, 1.0f, &diff, &buf) : MS_OK;
    if (st) return st;
    dnnl_eltwise_desc_t ed;
    DN_TRY(&x->c, dnnl_eltwise_backward_desc_init(&ed, alg, &dy->md, &data->md, a, b), "eltwise backward descriptor");
    dnnl_primitive_attr_t attr = NULL;
    st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &ed, attr, x->recs[i].hint, &pd);
    if (st) return st;
    dnnl_memory_desc_t src_md = *dn_pd_md(pd, dnnl_query_diff_src_md);
    dnnl_memory_t dsrc;
    bool direct;
    st = dt_grad_target(x, in, &src_md, &dsrc, &direct);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, data->mem}, {DNNL_ARG_DIFF_DST, diff},
                               {DNNL_ARG_DIFF_SRC, dsrc}};
    st = dn_emit(&x->c, pd, args, 3);
    if (!st) st = dt_grad_commit(x, in, &src_md, dsrc, direct);
    return st;
}

/* dst = -src (in place allowed). */
static ms_status negate(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t src, dnnl_memory_t dst)
{
    dnnl_eltwise_desc_t ed;
    DN_TRY(&x->c, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, dnnl_eltwise_linear, md, -1.0f, 0.0f),
           "negation descriptor");
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &ed, attr, NULL, &pd);
    if (st) return st;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
    return dn_emit(&x->c, pd, args, 2);
}

/* Adds src (in src_md, the output's shape) summed down to dst_md's broadcast shape to
 * t's gradient. */
static ms_status grad_add_reduced(dt_ctx *x, int t, const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                                  const dnnl_memory_desc_t *dst_md)
{
    dnnl_reduction_desc_t rd;
    DN_TRY(&x->c, dnnl_reduction_desc_init(&rd, dnnl_reduction_sum, src_md, dst_md, 0.0f, 0.0f),
           "broadcast gradient reduction");
    dnnl_memory_t d;
    bool direct;
    ms_status st = dt_grad_target(x, t, dst_md, &d, &direct);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = dt_make_pd(x, &rd, attr, NULL, &pd);
    if (st) return st;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, d}};
    st = dn_emit(&x->c, pd, args, 2);
    if (!st) st = dt_grad_commit(x, t, dst_md, d, direct);
    return st;
}

/* d = a (alg) b, b broadcast, with a plain attribute. */
static ms_status binary(dt_ctx *x, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *md, dnnl_memory_t a,
                        const dnnl_memory_desc_t *b_md, dnnl_memory_t b, dnnl_memory_t d)
{
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = dn_attr(&x->c, &attr);
    return st ? st : dt_binary(x, alg, md, a, b_md, b, md, d, attr);
}

/* da = dz (sub), dz * b (mul), dz / b (div), b broadcast. */
static ms_status grad_first(dt_ctx *x, const ms_node *n, int a, const dnnl_memory_desc_t *b_md, dnnl_memory_t bm)
{
    const dn_value *dy = &x->grads[n->output];
    if (n->kind == MS_OP_SUB) return dt_grad_add(x, a, &dy->md, dy->mem);
    dnnl_memory_t da;
    bool direct;
    ms_status st = dt_grad_target(x, a, &dy->md, &da, &direct);
    dnnl_alg_kind_t alg = n->kind == MS_OP_MUL ? dnnl_binary_mul : dnnl_binary_div;
    if (!st) st = binary(x, alg, &dy->md, dy->mem, b_md, bm, da);
    if (!st) st = dt_grad_commit(x, a, &dy->md, da, direct);
    return st;
}

/* db = -dz (sub), dz * a (mul), -(dz * y) / b (div), summed over the dimensions b
 * broadcasts along. */
static ms_status grad_second(dt_ctx *x, const ms_node *n, int a, int b, const dnnl_memory_desc_t *b_md,
                             dnnl_memory_t bm)
{
    const dn_value *dy = &x->grads[n->output];
    const dn_value *other = n->kind == MS_OP_MUL ? &x->c.vals[a] : &x->c.vals[n->output];
    dnnl_memory_t t;
    ms_status st = dt_temp(x, &dy->md, &t, NULL);
    if (!st && n->kind == MS_OP_SUB) st = negate(x, &dy->md, dy->mem, t);
    if (!st && n->kind != MS_OP_SUB) st = binary(x, dnnl_binary_mul, &dy->md, dy->mem, &other->md, other->mem, t);
    if (!st && n->kind == MS_OP_DIV) st = binary(x, dnnl_binary_div, &dy->md, t, b_md, bm, t);
    if (!st && n->kind == MS_OP_DIV) st = negate(x, &dy->md, t, t);
    if (st) return st;
    bool broadcast = false;
    for (int d = 0; d < b_md->ndims; d++) broadcast |= b_md->dims[d] != dy->md.dims[d];
    if (!broadcast) return dt_grad_add(x, b, &dy->md, t);
    return grad_add_reduced(x, b, &dy->md, t, b_md);
}

static ms_status bwd_binary(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int a, b;
    ms_status st = dt_binary_operands(x, n, &a, &b);
    if (st || (!x->grads[a].ready && !x->grads[b].ready)) return st;
    dnnl_memory_desc_t b_md;
    dnnl_memory_t bm;
    st = dt_binary_second(x, n, b, &x->c.vals[a].md, &b_md, &bm);
    if (!st && x->grads[a].ready) st = grad_first(x, n, a, &b_md, bm);
    if (!st && x->grads[b].ready) st = grad_second(x, n, a, b, &b_md, bm);
    return st;
}

/* dx: dy scattered through the gather into a buffer of its own holding x's plain bytes
 * (zeroed once: a slice never writes the cells it skipped), then added to x's gradient. */
static ms_status bwd_gather(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int in = n->inputs[0];
    if (!x->grads[in].ready) return MS_OK;
    dnnl_memory_desc_t in_ir, out_ir, view, in_p;
    ms_status st = dt_gather_mds(x, n, &in_ir, &out_ir, &view);
    if (st) return st;
    dn_plain_md(&x->c, in, dnnl_f32, &in_p);
    dnnl_memory_t dym, dx, dxv;
    int buf = -1;
    st = dn_mem_new(&x->c, &out_ir, x->grads[n->output].buf, &dym);
    if (!st) st = dt_persistent(x, &in_p, &dx, &buf);
    if (!st) st = dn_mem_new(&x->c, &view, buf, &dxv);
    if (!st) st = dn_reorder(&x->c, in, &out_ir, dym, &view, dxv);
    if (!st) st = dt_grad_add(x, in, &in_p, dx);
    return st;
}

ms_status dt_backward_node(dt_ctx *x, int i)
{
    switch (x->c.g->nodes[i].kind) {
    case MS_OP_CONV2D:
    case MS_OP_FULLY_CONNECTED: return bwd_weighted(x, i);
    case MS_OP_BATCH_NORM: return bwd_batch_norm(x, i);
    case MS_OP_CLIP:
    case MS_OP_SIGMOID:
    case MS_OP_LEAKY_RELU:
    case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH: return bwd_eltwise(x, i);
    case MS_OP_MUL:
    case MS_OP_SUB:
    case MS_OP_DIV: return bwd_binary(x, i);
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL:
    case MS_OP_GLOBAL_AVG_POOL: return bwd_pool(x, i);
    case MS_OP_MEAN: return bwd_mean(x, i);
    case MS_OP_ADD: return bwd_add(x, i);
    case MS_OP_CONCAT: return bwd_concat(x, i);
    case MS_OP_PAD: return bwd_pad(x, i);
    case MS_OP_RESHAPE:
    case MS_OP_COPY: return bwd_view(x, i);
    case MS_OP_SOFTMAX:
    case MS_OP_TRANSPOSE:
    case MS_OP_SLICE: return bwd_gather(x, i);
    case MS_OP_COUNT: break;
    }
    return MS_OK;
}
