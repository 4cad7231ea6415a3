/* The oneDNN backend's train plan: forward keeping every activation, backward from the
 * loss to the gradient of every convolution and fully-connected weight and bias.
 *
 * Compiling works on a private copy of the graph at the batch size (ref_copy_graph, so
 * shapes and padding are the ref backend's) and emits one list of primitives: first the
 * forward of every node, then the backward of every node in reverse order. Every
 * primitive, memory object and buffer is made here, none per step. Layouts are oneDNN's
 * choice (blocked) inside the plan; each activation keeps its own buffer (the backward
 * pass reads them) and each activation that leads back to a parameter gets a gradient
 * buffer in the same layout. A tensor read by several nodes collects their gradients:
 * the first (in backward order) writes its buffer, the others add to it (a reorder with
 * a sum post-op). Parameters: each forward reorders the optimiser's `value` arrays (the
 * graph's layout) into the layout the primitives chose, each backward reorders the weight
 * gradients back into `grad`.
 *
 * What each op becomes:
 *   conv, fc     convolution / inner product forward (fused clamp as an eltwise post-op);
 *                backward data (only where the input needs a gradient) and backward
 *                weights with the bias
 *   fused clamp  backward: eltwise clip_v2 on the kept output (dz = dy where the clamp
 *                did not hold), before the node's own backward
 *   pool         pooling forward-training (max keeps its workspace) and pooling backward
 *   mean         reduction; backward: dz broadcast times 1/count (binary mul)
 *   batch norm   frozen: y = x * s + b per channel (binary mul, binary add); dx = dz * s
 *   add          binary add; backward hands dz to both inputs
 *   concat, pad  forward into a plain NHWC output; backward: reorders of its sub-views
 *   reshape/copy plain views of the same bytes
 *   clip/sigmoid eltwise (the use_dst variants), backward from the kept output
 * The final sigmoid or softmax and the loss run in C on the plain logits with the ref
 * backend's functions (ref_loss_grad), so both backends check targets and compute the
 * loss the same way. Threads are OpenMP's, set around compiling and each pass as in the
 * inference plan (dnnl_backend.c). */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnnl/dnnl_internal.h"
#include "backend/ref/backward.h"

/* What a node's backward needs from its forward. */
typedef struct {
    dnnl_primitive_desc_t hint; /* the forward primitive descriptor */
    dnnl_memory_desc_t src_md, w_md;
    dnnl_memory_t src, w;       /* input 0 and the weights as the forward read them */
    dnnl_memory_t ws;           /* max pooling's workspace */
    dnnl_memory_t scale;        /* frozen batch norm's per-channel factor */
    dnnl_memory_desc_t scale_md;
    int w_param, b_param;       /* index in params, or -1 */
} dt_rec;

/* A forward value converted to another layout, kept for the backward pass. */
typedef struct {
    int t;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    int buf;
} dt_copy;

typedef struct {
    ms_train_plan base;
    dn_plan *p;
    ms_graph *g;          /* private copy at the batch size; params[].value point into it */
    int n_fwd;            /* steps [0, n_fwd) are the forward pass, the rest the backward */
    int input, logits, last;
    int in_buf, logits_buf, dlogits_buf;
} dt_plan;

typedef struct {
    dn_ctx c;             /* c.vals: the forward value of every tensor */
    dt_plan *tp;
    dn_node *nodes;       /* for messages (dn_fail names c.node) */
    dt_rec *recs;
    dn_value *grads;      /* per tensor; ready where a gradient is needed */
    bool *needs, *written;
    dt_copy *copies;
    int n_copies;
    bool backward;        /* lowering the backward pass (conversions are temporary) */
} dt_ctx;

static const char *gname(const ms_graph *g) { return g->source ? g->source : "graph"; }

static ms_status nomem(dt_ctx *x) { return ms_errorf(x->c.err, MS_ERR_NOMEM, "out of memory compiling a oneDNN train plan"); }

static ms_status unsupported(dt_ctx *x, const ms_node *n, const char *why)
{
    return ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: node '%s' (%s): %s", gname(x->c.g), n->name,
                     ms_op_name(n->kind), why);
}

static bool has_params(const ms_node *n) { return n->kind == MS_OP_CONV2D || n->kind == MS_OP_FULLY_CONNECTED; }

/* The ops whose forward clamps (ref's list: the others ignore act_min and act_max). */
static bool clamps(const ms_node *n)
{
    switch (n->kind) {
    case MS_OP_CONV2D: case MS_OP_FULLY_CONNECTED: case MS_OP_BATCH_NORM: case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL: case MS_OP_GLOBAL_AVG_POOL: case MS_OP_MEAN: case MS_OP_ADD:
        return ref_has_act(n);
    default: return false;
    }
}

static bool same_md(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) { return dnnl_memory_desc_equal(a, b); }

/* A buffer of its own (never reused, zeroed once) holding md. */
static ms_status persistent(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, int *buf)
{
    int b = dn_buf_take(&x->c, dnnl_memory_desc_get_size(md), true);
    if (b < 0) return nomem(x);
    if (buf) *buf = b;
    return dn_mem_new(&x->c, md, b, mem);
}

/* A buffer that lives until the current node's backward is lowered. */
static ms_status temp(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, int *buf)
{
    dn_ctx *c = &x->c;
    int b = dn_buf_take(c, dnnl_memory_desc_get_size(md), false);
    int *tp = b < 0 ? NULL : realloc(c->temps, ((size_t)c->n_temps + 1) * sizeof *c->temps);
    if (!tp) return nomem(x);
    c->temps = tp;
    c->temps[c->n_temps++] = b;
    if (buf) *buf = b;
    return dn_mem_new(c, md, b, mem);
}

static void release_temps(dt_ctx *x)
{
    for (int k = 0; k < x->c.n_temps; k++) dn_buf_put(&x->c, x->c.temps[k]);
    x->c.n_temps = 0;
}

/* A memory object over a caller-visible array (a parameter's value or gradient). */
static ms_status user_mem(dt_ctx *x, const dnnl_memory_desc_t *md, float *data, dnnl_memory_t *mem)
{
    ms_status st = dn_mem_new(&x->c, md, DN_BUF_OWNED, mem);
    if (!st && dnnl_memory_set_data_handle(*mem, data) != dnnl_success) st = nomem(x);
    return st;
}

/* Tensor t's forward value in layout want: its own memory, a conversion made in the
 * forward pass (kept), or, while lowering the backward pass, a temporary one. */
static ms_status value_as(dt_ctx *x, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *mem, int *buf)
{
    dn_value *v = &x->c.vals[t];
    int b;
    if (!buf) buf = &b;
    if (!v->ready)
        return ms_errorf(x->c.err, MS_ERR_INVALID, "%s: tensor '%s' is read before any node writes it",
                         gname(x->c.g), x->c.g->tensors[t].name);
    if (same_md(&v->md, want)) {
        *mem = v->mem;
        *buf = v->buf;
        return MS_OK;
    }
    for (int i = 0; i < x->n_copies; i++)
        if (x->copies[i].t == t && same_md(&x->copies[i].md, want)) {
            *mem = x->copies[i].mem;
            *buf = x->copies[i].buf;
            return MS_OK;
        }
    ms_status st;
    if (x->backward) {
        st = temp(x, want, mem, buf);
    } else {
        dt_copy *cp = realloc(x->copies, ((size_t)x->n_copies + 1) * sizeof *cp);
        if (!cp) return nomem(x);
        x->copies = cp;
        st = persistent(x, want, mem, buf);
        if (!st) x->copies[x->n_copies++] = (dt_copy){t, *want, *mem, *buf};
    }
    if (!st) st = dn_reorder(&x->c, t, &v->md, v->mem, want, *mem);
    return st;
}

/* The gradient of t in layout want (for reading). */
static ms_status grad_as(dt_ctx *x, int t, const dnnl_memory_desc_t *have_md, dnnl_memory_t have,
                         const dnnl_memory_desc_t *want, dnnl_memory_t *mem)
{
    if (same_md(have_md, want)) {
        *mem = have;
        return MS_OK;
    }
    ms_status st = temp(x, want, mem, NULL);
    if (!st) st = dn_reorder(&x->c, t, have_md, have, want, *mem);
    return st;
}

/* Adds a contribution (mem in layout md) to the gradient of t: a copy for the first, a
 * reorder with a sum post-op for the others. Nothing when t needs no gradient. */
static ms_status grad_add(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t mem)
{
    dn_value *gv = &x->grads[t];
    if (!gv->ready) return MS_OK;
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(&x->c, &attr);
    if (st) return st;
    dnnl_status_t s = dnnl_success;
    if (x->written[t]) {
        dnnl_post_ops_t po;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) {
            s = dnnl_post_ops_append_sum(po, 1.0f);
            if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, md, x->c.p->engine, &gv->md, x->c.p->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(&x->c, s, "gradient accumulation");
    x->written[t] = true;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, mem}, {DNNL_ARG_TO, gv->mem}};
    return dn_emit(&x->c, pd, args, 2);
}

/* Where a primitive writes its input gradient for t in layout md: straight into t's
 * gradient when it is the first and the layouts agree, else a temporary that
 * grad_commit adds. *mem is NULL when t needs no gradient. */
static ms_status grad_target(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, bool *direct)
{
    *direct = false;
    *mem = NULL;
    if (!x->grads[t].ready) return MS_OK;
    if (!x->written[t] && same_md(md, &x->grads[t].md)) {
        *direct = true;
        *mem = x->grads[t].mem;
        return MS_OK;
    }
    return temp(x, md, mem, NULL);
}

static ms_status grad_commit(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t mem, bool direct)
{
    if (direct) {
        x->written[t] = true;
        return MS_OK;
    }
    return grad_add(x, t, md, mem);
}

/* Makes tensor t's forward value a fresh buffer of its own in layout md. */
static ms_status new_value(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    dn_value *v = &x->c.vals[t];
    ms_status st = persistent(x, md, &v->mem, &v->buf);
    v->ready = !st;
    v->md = *md;
    *mem = v->mem;
    return st;
}

static ms_status make_pd(dt_ctx *x, const void *desc, dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                         dnnl_primitive_desc_t *pd)
{
    dnnl_status_t s = dnnl_primitive_desc_create(pd, desc, attr, x->c.p->engine, hint);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dn_fail(&x->c, s, hint ? "backward primitive descriptor" : "primitive descriptor");
    return MS_OK;
}

/* A scratchpad attribute, with the node's clamp as a post-op when it has one. */
static ms_status node_attr(dt_ctx *x, const ms_node *n, dnnl_primitive_attr_t *attr)
{
    ms_status st = dn_attr(&x->c, attr);
    if (!st && clamps(n)) st = dn_attr_act(&x->c, *attr, n->act_min, n->act_max, 1.0f);
    if (st && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}

/* Emits pd (destroyed) after keeping a copy as the node's backward hint. */
static ms_status emit_keep(dt_ctx *x, int i, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args, int n_args)
{
    dnnl_status_t s = dnnl_primitive_desc_clone(&x->recs[i].hint, pd);
    if (s != dnnl_success) {
        dnnl_primitive_desc_destroy(pd);
        return dn_fail(&x->c, s, "primitive descriptor copy");
    }
    return dn_emit(&x->c, pd, args, n_args);
}

/* ---- parameters ---- */

/* The graph-layout descriptors of node n's weights (oneDNN's logical dims, with the
 * tag that matches [O, KH, KW, I/groups] or [O, I]) and bias. */
static void weight_mds(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *user, dnnl_memory_desc_t *any,
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

/* Every conv and fc weight and bias, in node order, slot 1 then 2 (the ref backend's). */
static ms_status make_params(dt_ctx *x)
{
    ms_graph *g = x->tp->g;
    ms_train_plan *b = &x->tp->base;
    b->params = calloc(2 * (size_t)g->n_nodes + 1, sizeof *b->params);
    if (!b->params) return nomem(x);
    bool *used = calloc((size_t)g->n_tensors + 1, sizeof *used);
    if (!used) return nomem(x);
    ms_status st = MS_OK;
    for (int k = 0; !st && k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        x->recs[k].w_param = x->recs[k].b_param = -1;
        if (!has_params(n)) continue;
        for (int slot = 1; !st && slot <= 2 && slot < n->n_inputs; slot++) {
            int t = n->inputs[slot];
            if (!g->tensors[t].data) {
                st = ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: node '%s' input %d is computed, not a parameter",
                               gname(g), n->name, slot);
            } else if (used[t]) {
                st = ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: parameter '%s' is shared between nodes", gname(g),
                               g->tensors[t].name);
            } else {
                int64_t numel = ms_tensor_numel(&g->tensors[t]);
                float *grad = calloc((size_t)numel + 1, sizeof *grad);
                if (!grad) return free(used), nomem(x);
                used[t] = true;
                *(slot == 1 ? &x->recs[k].w_param : &x->recs[k].b_param) = b->n_params;
                b->params[b->n_params++] = (ms_param){k, slot, numel, g->tensors[t].data, grad};
            }
        }
    }
    free(used);
    if (!st && !b->n_params)
        st = ms_errorf(x->c.err, MS_ERR_INVALID, "%s: nothing to train (no conv or fc node)", gname(g));
    return st;
}

/* ---- forward ---- */

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
static ms_status weighted_desc(dt_ctx *x, const ms_node *n, dnnl_prop_kind_t prop, void *desc)
{
    dnnl_memory_desc_t src_p, dst_p, src, dst, w_user, w, b;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &src_p);
    dn_plain_md(&x->c, n->output, dnnl_f32, &dst_p);
    dn_any_md(&src_p, dnnl_f32, &src);
    dn_any_md(&dst_p, dnnl_f32, &dst);
    weight_mds(x, n, &w_user, &w, &b);
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

/* The operation descriptors are unions in all but name: the largest of them. */
typedef union {
    dnnl_convolution_desc_t conv;
    dnnl_inner_product_desc_t ip;
} weighted_op;

static ms_status fwd_weighted(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dt_rec *r = &x->recs[i];
    const ms_tensor *w = &x->c.g->tensors[n->inputs[1]];
    if (n->kind == MS_OP_CONV2D && (w->ndim != 4 || n->groups < 1 || w->shape[0] % n->groups))
        return unsupported(x, n, "weights must be [O, KH, KW, I/groups] with O a multiple of groups");
    if (n->kind == MS_OP_FULLY_CONNECTED &&
        (w->ndim != 2 || x->c.g->tensors[n->output].ndim != 2 ||
         (x->c.g->tensors[n->inputs[0]].ndim != 2 && x->c.g->tensors[n->inputs[0]].ndim != 4)))
        return unsupported(x, n, "needs weights [O, I], an input [N, I] or [N, H, W, C] and an output [N, O]");
    weighted_op op;
    ms_status st = weighted_desc(x, n, dnnl_forward_training, &op);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = node_attr(x, n, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = make_pd(x, &op, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_desc_t w_user, w_any, b_md;
    weight_mds(x, n, &w_user, &w_any, &b_md);
    ms_train_plan *tb = &x->tp->base;
    dnnl_memory_t uw, bm = NULL, dm;
    r->w_md = *dn_pd_md(pd, dnnl_query_weights_md);
    r->src_md = *dn_pd_md(pd, dnnl_query_src_md);
    st = user_mem(x, &w_user, tb->params[r->w_param].value, &uw);
    if (!st && same_md(&w_user, &r->w_md)) r->w = uw;
    else if (!st) st = persistent(x, &r->w_md, &r->w, NULL);
    if (!st && r->w != uw) st = dn_reorder(&x->c, n->inputs[1], &w_user, uw, &r->w_md, r->w);
    /* the bias descriptor was given plain, so the value array serves as it is */
    if (!st && r->b_param >= 0) st = user_mem(x, &b_md, tb->params[r->b_param].value, &bm);
    if (!st) st = value_as(x, n->inputs[0], &r->src_md, &r->src, NULL);
    if (!st) st = new_value(x, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, r->src}, {DNNL_ARG_WEIGHTS, r->w}, {DNNL_ARG_DST, dm}, {DNNL_ARG_BIAS, bm}};
    return emit_keep(x, i, pd, args, bm ? 4 : 3);
}

static void pool_geometry(const dt_ctx *x, const ms_node *n, dnnl_alg_kind_t *alg, dnnl_dims_t kernel,
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
        return unsupported(x, n, "input and output must be NHWC");
    dnnl_memory_desc_t dst_p, dst;
    dn_plain_md(&x->c, n->output, dnnl_f32, &dst_p);
    dn_any_md(&dst_p, dnnl_f32, &dst);
    dnnl_alg_kind_t alg;
    dnnl_dims_t kernel, strides, pl, pr, dil = {0, 0};
    pool_geometry(x, n, &alg, kernel, strides, pl, pr);
    dnnl_pooling_v2_desc_t pdsc;
    DN_TRY(&x->c,
           dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_training, alg, &x->c.vals[n->inputs[0]].md, &dst,
                                             strides, kernel, dil, pl, pr),
           "pooling descriptor");
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = node_attr(x, n, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = make_pd(x, &pdsc, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_t dm;
    const dnnl_memory_desc_t *wmd = dn_pd_md(pd, dnnl_query_workspace_md);
    if (wmd && dnnl_memory_desc_get_size(wmd)) st = persistent(x, wmd, &r->ws, NULL);
    if (!st) st = new_value(x, n->output, dn_pd_md(pd, dnnl_query_dst_md), &dm);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, x->c.vals[n->inputs[0]].mem}, {DNNL_ARG_DST, dm},
                               {DNNL_ARG_WORKSPACE, r->ws}};
    return emit_keep(x, i, pd, args, r->ws ? 3 : 2);
}

/* The reduced shape of a mean's input (kept axes, reduced ones 1), plain. */
static void mean_md(const dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *src, dnnl_memory_desc_t *red)
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
    mean_md(x, n, &src, &red);
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    if (dnnl_memory_desc_get_size(&out) != dnnl_memory_desc_get_size(&red))
        return unsupported(x, n, "output shape does not match the reduced input");
    dnnl_reduction_desc_t rd;
    DN_TRY(&x->c, dnnl_reduction_desc_init(&rd, dnnl_reduction_mean, &src, &red, 0.0f, 0.0f), "reduction descriptor");
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = node_attr(x, n, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = make_pd(x, &rd, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_t sm, rm;
    int buf;
    st = value_as(x, n->inputs[0], &src, &sm, NULL);
    if (!st) st = persistent(x, &red, &rm, &buf);
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
static ms_status binary(dt_ctx *x, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *a_md, dnnl_memory_t a,
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
    ms_status st = make_pd(x, &bd, attr, NULL, &pd);
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
    if (n->n_inputs != 5) return unsupported(x, n, "needs x, scale, offset, mean, variance");
    const dn_value *in = &x->c.vals[n->inputs[0]];
    int64_t C = in->md.ndims >= 2 ? in->md.dims[1] : 0;
    for (int k = 1; k < 5; k++)
        if (!g->tensors[n->inputs[k]].data || ms_tensor_numel(&g->tensors[n->inputs[k]]) != C)
            return unsupported(x, n, "parameters must be constant, one value per channel");
    float *s = malloc(2 * (size_t)C * sizeof *s + 1);
    if (!s) return nomem(x);
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
    if (!st) st = new_value(x, n->output, &in->md, &ym);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = binary(x, dnnl_binary_mul, &in->md, in->mem, &r->scale_md, r->scale, &in->md, ym, attr);
    attr = NULL;
    if (!st) st = node_attr(x, n, &attr);
    if (!st) st = binary(x, dnnl_binary_add, &in->md, ym, &b_md, bm, &in->md, ym, attr);
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
    if (g->tensors[a].data) return unsupported(x, n, "both inputs are constant");
    const dn_value *av = &x->c.vals[a];
    dnnl_memory_desc_t b_md;
    dnnl_memory_t bm, ym;
    ms_status st;
    if (g->tensors[b].data) {
        if (ms_tensor_numel(&g->tensors[b]) != av->md.dims[1] || av->md.ndims < 2)
            return unsupported(x, n, "a constant must hold one value per channel");
        st = channel_const(x, &av->md, g->tensors[b].data, &b_md, &bm);
    } else {
        if (ms_tensor_numel(&g->tensors[a]) != ms_tensor_numel(&g->tensors[b]))
            return unsupported(x, n, "only constants broadcast");
        b_md = av->md;
        st = value_as(x, b, &b_md, &bm, NULL);
    }
    if (!st) st = new_value(x, n->output, &av->md, &ym);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = node_attr(x, n, &attr);
    if (!st) st = binary(x, dnnl_binary_add, &av->md, av->mem, &b_md, bm, &av->md, ym, attr);
    return st;
}

/* Concat writes a plain NHWC output, so that the backward pass can read each input's
 * part as a strided view whatever the channel counts. */
static ms_status fwd_concat(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    enum { MAX_IN = 64 };
    if (n->n_inputs > MAX_IN) return unsupported(x, n, "more than 64 inputs");
    int nd = x->c.g->tensors[n->output].ndim, axis = n->axis < 0 ? n->axis + nd : n->axis;
    if (axis < 0 || axis >= nd) return unsupported(x, n, "axis out of range");
    static const int nhwc[4] = {0, 2, 3, 1};
    dnnl_memory_desc_t mds[MAX_IN], out;
    dnnl_exec_arg_t args[MAX_IN + 1];
    for (int k = 0; k < n->n_inputs; k++) {
        if (x->c.g->tensors[n->inputs[k]].data) return unsupported(x, n, "constant inputs");
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
    st = new_value(x, n->output, &out, &args[n->n_inputs].memory);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return dn_emit(&x->c, pd, args, n->n_inputs + 1);
}

/* The interior of a padded tensor t (plain) holding the unpadded one. */
static ms_status pad_interior(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *sub)
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
    if (n->pads[0][0] || n->pads[0][1]) return unsupported(x, n, "padding the batch dimension");
    dnnl_memory_desc_t out, sub;
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    dnnl_memory_t ym, inner;
    ms_status st = pad_interior(x, n, &sub);
    if (!st) st = new_value(x, n->output, &out, &ym);
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
        return unsupported(x, n, "input and output sizes differ");
    dnnl_memory_desc_t in, out;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &in);
    dn_plain_md(&x->c, n->output, dnnl_f32, &out);
    dnnl_memory_t m;
    int buf;
    ms_status st = value_as(x, n->inputs[0], &in, &m, &buf);
    if (!st) st = dn_alias(&x->c, n->output, buf, &out);
    return st;
}

/* Clip and sigmoid: the use_dst algorithms, whose backward reads the kept output. */
static void eltwise_alg(const ms_node *n, dnnl_alg_kind_t *alg, float *a, float *b)
{
    if (n->kind == MS_OP_SIGMOID) {
        *alg = dnnl_eltwise_logistic_use_dst_for_bwd;
        *a = *b = 0.0f;
        return;
    }
    *alg = dnnl_eltwise_clip_v2_use_dst_for_bwd;
    *a = isfinite(n->act_min) ? n->act_min : -FLT_MAX;
    *b = isfinite(n->act_max) ? n->act_max : FLT_MAX;
}

static ms_status fwd_eltwise(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    const dn_value *in = &x->c.vals[n->inputs[0]];
    dnnl_alg_kind_t alg;
    float a, b;
    eltwise_alg(n, &alg, &a, &b);
    dnnl_eltwise_desc_t ed;
    DN_TRY(&x->c, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, alg, &in->md, a, b), "eltwise descriptor");
    dnnl_primitive_attr_t attr;
    ms_status st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = make_pd(x, &ed, attr, NULL, &pd);
    if (st) return st;
    dnnl_memory_t ym;
    st = new_value(x, n->output, &in->md, &ym);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, ym}};
    return emit_keep(x, i, pd, args, 2);
}

static ms_status forward_node(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++)
        if (!x->c.g->tensors[n->inputs[k]].data && !x->c.vals[n->inputs[k]].ready)
            return unsupported(x, n, "reads a tensor no earlier node writes");
    switch (n->kind) {
    case MS_OP_CONV2D:
    case MS_OP_FULLY_CONNECTED: return fwd_weighted(x, i);
    case MS_OP_BATCH_NORM: return fwd_batch_norm(x, i);
    case MS_OP_CLIP:
    case MS_OP_SIGMOID: return fwd_eltwise(x, i);
    case MS_OP_AVG_POOL:
    case MS_OP_MAX_POOL:
    case MS_OP_GLOBAL_AVG_POOL: return fwd_pool(x, i);
    case MS_OP_MEAN: return fwd_mean(x, i);
    case MS_OP_ADD: return fwd_add(x, i);
    case MS_OP_CONCAT: return fwd_concat(x, i);
    case MS_OP_PAD: return fwd_pad(x, i);
    case MS_OP_RESHAPE:
    case MS_OP_COPY: return fwd_view(x, i);
    case MS_OP_SOFTMAX: return unsupported(x, n, "a softmax inside the graph (only the final one) cannot be trained");
    case MS_OP_COUNT: break;
    }
    return unsupported(x, n, "unknown op");
}

/* ---- backward ---- */

/* The gradient of node n's output before its clamp: dy where the kept output lies
 * strictly inside (act_min, act_max), else 0; dy itself when n does not clamp. */
static ms_status act_backward(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *md, dnnl_memory_t *dz, int *buf)
{
    const dn_value *y = &x->c.vals[n->output], *dy = &x->grads[n->output];
    *md = dy->md;
    *dz = dy->mem;
    *buf = dy->buf;
    if (!clamps(n)) return MS_OK;
    float a = isfinite(n->act_min) ? n->act_min : -FLT_MAX, b = isfinite(n->act_max) ? n->act_max : FLT_MAX;
    dnnl_eltwise_desc_t fd, bd;
    DN_TRY(&x->c, dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, dnnl_eltwise_clip_v2_use_dst_for_bwd,
                                                 &y->md, a, b),
           "clamp descriptor");
    DN_TRY(&x->c, dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_clip_v2_use_dst_for_bwd, &dy->md, &y->md, a, b),
           "clamp backward descriptor");
    dnnl_primitive_desc_t hint, pd;
    ms_status st = make_pd(x, &fd, NULL, NULL, &hint);
    if (st) return st;
    dnnl_primitive_attr_t attr;
    st = dn_attr(&x->c, &attr);
    if (!st) st = make_pd(x, &bd, attr, hint, &pd);
    dnnl_primitive_desc_destroy(hint);
    if (st) return st;
    st = temp(x, &dy->md, dz, buf);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DST, y->mem}, {DNNL_ARG_DIFF_DST, dy->mem}, {DNNL_ARG_DIFF_SRC, *dz}};
    return dn_emit(&x->c, pd, args, 3);
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
    weight_mds(x, n, &w_user, &w_any, &b_md);
    ms_status st = act_backward(x, n, &dz_md, &dz, &dz_buf);
    weighted_op op;
    dnnl_primitive_desc_t pd;
    if (!st && x->grads[in].ready) {
        st = weighted_desc(x, n, dnnl_backward_data, &op);
        dnnl_primitive_attr_t attr = NULL;
        if (!st) st = dn_attr(&x->c, &attr);
        if (!st) st = make_pd(x, &op, attr, r->hint, &pd);
        if (st) return st;
        dnnl_memory_t w, ddst, dsrc;
        bool direct;
        const dnnl_memory_desc_t *src_md = dn_pd_md(pd, dnnl_query_diff_src_md);
        st = grad_as(x, n->inputs[1], &r->w_md, r->w, dn_pd_md(pd, dnnl_query_weights_md), &w);
        if (!st) st = grad_as(x, n->output, &dz_md, dz, dn_pd_md(pd, dnnl_query_diff_dst_md), &ddst);
        if (!st) st = grad_target(x, in, src_md, &dsrc, &direct);
        dnnl_memory_desc_t keep = *src_md;
        if (st) {
            dnnl_primitive_desc_destroy(pd);
            return st;
        }
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dsrc}};
        st = dn_emit(&x->c, pd, args, 3);
        if (!st) st = grad_commit(x, in, &keep, dsrc, direct);
    }
    if (!st) st = weighted_desc(x, n, dnnl_backward_weights, &op);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = make_pd(x, &op, attr, r->hint, &pd);
    if (st) return st;
    dnnl_memory_t src, ddst, dw, uw, db = NULL;
    const dnnl_memory_desc_t *dw_md = dn_pd_md(pd, dnnl_query_diff_weights_md);
    dnnl_memory_desc_t keep = *dw_md;
    st = value_as(x, in, dn_pd_md(pd, dnnl_query_src_md), &src, NULL);
    if (!st) st = grad_as(x, n->output, &dz_md, dz, dn_pd_md(pd, dnnl_query_diff_dst_md), &ddst);
    if (!st) st = user_mem(x, &w_user, tb->params[r->w_param].grad, &uw);
    if (!st && same_md(dw_md, &w_user)) dw = uw;
    else if (!st) st = temp(x, dw_md, &dw, NULL);
    if (!st && r->b_param >= 0) st = user_mem(x, &b_md, tb->params[r->b_param].grad, &db);
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
    pool_geometry(x, n, &alg, kernel, strides, pl, pr);
    dnnl_pooling_v2_desc_t pdsc;
    DN_TRY(&x->c,
           dnnl_pooling_v2_backward_desc_init(&pdsc, alg, &x->grads[in].md, &dz_md, strides, kernel, dil, pl, pr),
           "pooling backward descriptor");
    dnnl_primitive_attr_t attr = NULL;
    st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = make_pd(x, &pdsc, attr, r->hint, &pd);
    if (st) return st;
    dnnl_memory_desc_t src_md = *dn_pd_md(pd, dnnl_query_diff_src_md);
    dnnl_memory_t dsrc;
    bool direct;
    st = grad_target(x, in, &src_md, &dsrc, &direct);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_DIFF_SRC, dsrc}, {DNNL_ARG_WORKSPACE, r->ws}};
    st = dn_emit(&x->c, pd, args, r->ws ? 3 : 2);
    if (!st) st = grad_commit(x, in, &src_md, dsrc, direct);
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
    mean_md(x, n, &src, &red);
    int64_t total = ms_tensor_numel(&x->c.g->tensors[in]), count = total / ms_tensor_numel(&x->c.g->tensors[n->output]);
    float *share = malloc((size_t)total * sizeof *share + 1);
    if (!share) return nomem(x);
    for (int64_t k = 0; k < total; k++) share[k] = 1.0f / (float)count;
    st = dn_const(&x->c, &src, share, &src, &ones);
    free(share);
    bool direct;
    if (!st) st = dn_mem_new(&x->c, &red, dz_buf, &dz_red);
    if (!st) st = grad_target(x, in, &src, &dsrc, &direct);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = binary(x, dnnl_binary_mul, &src, ones, &red, dz_red, &src, dsrc, attr);
    if (!st) st = grad_commit(x, in, &src, dsrc, direct);
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
    if (!st) st = grad_target(x, in, &dz_md, &dsrc, &direct);
    dnnl_primitive_attr_t attr = NULL;
    if (!st) st = dn_attr(&x->c, &attr);
    if (!st) st = binary(x, dnnl_binary_mul, &dz_md, dz, &x->recs[i].scale_md, x->recs[i].scale, &dz_md, dsrc, attr);
    if (!st) st = grad_commit(x, in, &dz_md, dsrc, direct);
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
    for (int k = 0; !st && k < 2; k++) st = grad_add(x, n->inputs[k], &dz_md, dz);
    return st;
}

static ms_status bwd_view(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t in;
    dnnl_memory_t m;
    dn_plain_md(&x->c, n->inputs[0], dnnl_f32, &in);
    ms_status st = dn_mem_new(&x->c, &in, x->grads[n->output].buf, &m);
    if (!st) st = grad_add(x, n->inputs[0], &in, m);
    return st;
}

static ms_status bwd_pad(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    dnnl_memory_desc_t sub;
    dnnl_memory_t m;
    ms_status st = pad_interior(x, n, &sub);
    if (!st) st = dn_mem_new(&x->c, &sub, x->grads[n->output].buf, &m);
    if (!st) st = grad_add(x, n->inputs[0], &sub, m);
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
        if (!st) st = grad_add(x, n->inputs[k], &sub, m);
    }
    return st;
}

static ms_status bwd_eltwise(dt_ctx *x, int i)
{
    const ms_node *n = &x->c.g->nodes[i];
    int in = n->inputs[0];
    if (!x->grads[in].ready) return MS_OK;
    const dn_value *y = &x->c.vals[n->output], *dy = &x->grads[n->output];
    dnnl_alg_kind_t alg;
    float a, b;
    eltwise_alg(n, &alg, &a, &b);
    dnnl_eltwise_desc_t ed;
    DN_TRY(&x->c, dnnl_eltwise_backward_desc_init(&ed, alg, &dy->md, &y->md, a, b), "eltwise backward descriptor");
    dnnl_primitive_attr_t attr = NULL;
    ms_status st = dn_attr(&x->c, &attr);
    dnnl_primitive_desc_t pd;
    if (!st) st = make_pd(x, &ed, attr, x->recs[i].hint, &pd);
    if (st) return st;
    dnnl_memory_desc_t src_md = *dn_pd_md(pd, dnnl_query_diff_src_md);
    dnnl_memory_t dsrc;
    bool direct;
    st = grad_target(x, in, &src_md, &dsrc, &direct);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DST, y->mem}, {DNNL_ARG_DIFF_DST, dy->mem}, {DNNL_ARG_DIFF_SRC, dsrc}};
    st = dn_emit(&x->c, pd, args, 3);
    if (!st) st = grad_commit(x, in, &src_md, dsrc, direct);
    return st;
}

static ms_status backward_node(dt_ctx *x, int i)
{
    switch (x->c.g->nodes[i].kind) {
    case MS_OP_CONV2D:
    case MS_OP_FULLY_CONNECTED: return bwd_weighted(x, i);
    case MS_OP_BATCH_NORM: return bwd_batch_norm(x, i);
    case MS_OP_CLIP:
    case MS_OP_SIGMOID: return bwd_eltwise(x, i);
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
    case MS_OP_COUNT: break;
    }
    return MS_OK;
}

/* ---- the plan ---- */

void dn_train_free(ms_train_plan *base)
{
    dt_plan *tp = (dt_plan *)base;
    if (!tp) return;
    for (int i = 0; i < tp->base.n_params; i++) free(tp->base.params[i].grad);
    free(tp->base.params);
    if (tp->p) dn_plan_free(&tp->p->base);
    ms_graph_free(tp->g);
    free(tp);
}

/* needs[t]: an activation whose gradient leads back to a parameter (ref's rule). */
static void mark_needs(const ms_graph *g, bool *needs)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        bool up = has_params(n);
        for (int j = 0; j < n->n_inputs; j++) up |= needs[n->inputs[j]];
        needs[n->output] = up;
    }
}

/* The loss reads the logits entering the final node, which must suit it. */
static ms_status find_logits(dt_ctx *x)
{
    dt_plan *tp = x->tp;
    const ms_graph *g = tp->g;
    ms_op_kind want = tp->base.loss == MS_LOSS_BCE ? MS_OP_SIGMOID : MS_OP_SOFTMAX;
    tp->last = g->n_nodes - 1;
    if (tp->last < 0 || g->nodes[tp->last].output != g->outputs[0] || g->nodes[tp->last].kind != want)
        return ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: %s training needs the graph to end in a %s node", gname(g),
                         tp->base.loss == MS_LOSS_BCE ? "binary cross-entropy" : "softmax cross-entropy",
                         ms_op_name(want));
    tp->logits = g->nodes[tp->last].inputs[0];
    if (!x->needs[tp->logits])
        return ms_errorf(x->c.err, MS_ERR_INVALID, "%s: the output does not depend on any parameter", gname(g));
    return MS_OK;
}

/* The forward of every node but the last, ending with the logits in a plain buffer. */
static ms_status lower_forward(dt_ctx *x)
{
    dt_plan *tp = x->tp;
    dnnl_memory_desc_t md;
    dn_plain_md(&x->c, tp->input, dnnl_f32, &md);
    dnnl_memory_t m;
    ms_status st = new_value(x, tp->input, &md, &m);
    tp->in_buf = x->c.vals[tp->input].buf;
    for (int i = 0; !st && i < tp->last; i++) {
        x->c.node = &x->nodes[i];
        st = forward_node(x, i);
    }
    x->c.node = NULL;
    dn_plain_md(&x->c, tp->logits, dnnl_f32, &md);
    if (!st) st = value_as(x, tp->logits, &md, &m, &tp->logits_buf);
    return st;
}

/* A gradient buffer, in the forward value's layout, for every activation that needs one;
 * then the backward of every node in reverse, from the plain logits' gradient. */
static ms_status lower_backward(dt_ctx *x)
{
    dt_plan *tp = x->tp;
    const ms_graph *g = tp->g;
    ms_status st = MS_OK;
    for (int t = 0; !st && t < g->n_tensors; t++) {
        dn_value *v = &x->grads[t];
        if (!x->needs[t] || !x->c.vals[t].ready || t == tp->input) continue;
        st = persistent(x, &x->c.vals[t].md, &v->mem, &v->buf);
        v->md = x->c.vals[t].md;
        v->ready = !st;
    }
    x->backward = true;
    tp->n_fwd = x->c.p->n_steps;
    dnnl_memory_desc_t md;
    dnnl_memory_t m;
    dn_plain_md(&x->c, tp->logits, dnnl_f32, &md);
    if (!st) st = persistent(x, &md, &m, &tp->dlogits_buf);
    if (!st) st = grad_add(x, tp->logits, &md, m);
    for (int i = tp->last - 1; !st && i >= 0; i--) {
        if (!x->grads[g->nodes[i].output].ready) continue;
        x->c.node = &x->nodes[i];
        st = backward_node(x, i);
        release_temps(x);
    }
    x->c.node = NULL;
    return st;
}

static ms_status compile(dt_ctx *x)
{
    dt_plan *tp = x->tp;
    const ms_graph *g = tp->g;
    size_t nt = (size_t)g->n_tensors + 1;
    x->c.vals = calloc(nt, sizeof *x->c.vals);
    x->grads = calloc(nt, sizeof *x->grads);
    x->needs = calloc(nt, sizeof *x->needs);
    x->written = calloc(nt, sizeof *x->written);
    x->recs = calloc((size_t)g->n_nodes + 1, sizeof *x->recs);
    x->nodes = calloc((size_t)g->n_nodes + 1, sizeof *x->nodes);
    if (!x->c.vals || !x->grads || !x->needs || !x->written || !x->recs || !x->nodes) return nomem(x);
    for (int i = 0; i < g->n_nodes; i++) {
        x->nodes[i].n = g->nodes[i];
        x->nodes[i].in0 = g->nodes[i].inputs[0];
    }
    mark_needs(g, x->needs);
    ms_status st = make_params(x);
    if (!st) st = find_logits(x);
    dnnl_status_t s = dnnl_success;
    if (!st) s = dnnl_engine_create(&tp->p->engine, dnnl_cpu, 0);
    if (!st && s == dnnl_success) s = dnnl_stream_create(&tp->p->stream, tp->p->engine, dnnl_stream_default_flags);
    if (!st && s != dnnl_success) st = dn_fail(&x->c, s, "engine creation");
    if (!st) st = lower_forward(x);
    if (!st) st = lower_backward(x);
    if (!st) st = dn_finish(&x->c);
    return st;
}

static void ctx_free(dt_ctx *x)
{
    for (int i = 0; x->recs && i < x->tp->g->n_nodes; i++)
        if (x->recs[i].hint) dnnl_primitive_desc_destroy(x->recs[i].hint);
    free(x->c.vals);
    free(x->c.temps);
    free(x->grads);
    free(x->needs);
    free(x->written);
    free(x->recs);
    free(x->nodes);
    free(x->copies);
}

ms_status dn_train_compile(const ms_graph *g, const ms_plan_options *opts, ms_loss loss, ms_train_plan **out,
                           ms_error *err)
{
    *out = NULL;
    if (opts->precision != MS_PREC_FP32)
        return ms_errorf(err, MS_ERR_UNSUPPORTED,
                         "%s: the cpu backend trains in float32 only (int8 plans are for inference)", gname(g));
    dt_plan *tp = calloc(1, sizeof *tp);
    if (!tp) return ms_errorf(err, MS_ERR_NOMEM, "out of memory compiling a train plan");
    tp->base.backend = &ms_backend_dnnl;
    tp->base.opts = *opts;
    tp->base.loss = loss;
    ms_status st = ref_copy_graph(g, opts->batch, &tp->g, err);
    if (!st && !(tp->p = calloc(1, sizeof *tp->p))) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    if (!st) {
        tp->input = tp->g->inputs[0];
        tp->p->base.backend = &ms_backend_dnnl;
        tp->base.in_numel = ms_tensor_numel(&tp->g->tensors[tp->input]) / opts->batch;
        tp->base.out_numel = ms_tensor_numel(&tp->g->tensors[tp->g->outputs[0]]) / opts->batch;
        if (tp->g->tensors[tp->input].data)
            st = ms_errorf(err, MS_ERR_INVALID, "%s: graph input is a constant", gname(tp->g));
    }
    if (!st) {
        dt_ctx x = {.c = {.p = tp->p, .g = tp->g, .batch = opts->batch, .precision = MS_PREC_FP32, .err = err},
                    .tp = tp};
        int saved = omp_get_max_threads();
        omp_set_num_threads(opts->threads);
        st = compile(&x);
        omp_set_num_threads(saved);
        ctx_free(&x);
    }
    if (st) {
        dn_train_free(&tp->base);
        return st;
    }
    *out = &tp->base;
    return MS_OK;
}

static ms_status run_steps(dt_plan *tp, int from, int to, ms_error *err)
{
    dn_plan *p = tp->p;
    int saved = omp_get_max_threads();
    omp_set_num_threads(tp->base.opts.threads);
    dnnl_status_t s = dnnl_success;
    for (int i = from; s == dnnl_success && i < to; i++)
        s = dnnl_primitive_execute(p->steps[i].prim, p->stream, p->steps[i].n_args, p->steps[i].args);
    if (s == dnnl_success) s = dnnl_stream_wait(p->stream);
    omp_set_num_threads(saved);
    if (s != dnnl_success)
        return ms_errorf(err, MS_ERR_BACKEND, "%s: oneDNN train plan: running a primitive failed: %s", gname(tp->g),
                         s == dnnl_out_of_memory ? "out of memory" : "execution error");
    return MS_OK;
}

/* The plain logits as a ref view (the final node's input at the batch size). */
static ref_tensor logits_view(dt_plan *tp, int buf)
{
    const ms_tensor *t = &tp->g->tensors[tp->logits];
    ref_tensor v = {tp->p->bufs[buf].data, t->ndim, {0}};
    memcpy(v.shape, t->shape, sizeof v.shape);
    return v;
}

ms_status dn_train_forward(ms_train_plan *base, const float *in, float *out, ms_error *err)
{
    dt_plan *tp = (dt_plan *)base;
    memcpy(tp->p->bufs[tp->in_buf].data, in, (size_t)(base->in_numel * base->opts.batch) * sizeof *in);
    ms_status st = run_steps(tp, 0, tp->n_fwd, err);
    if (st || !out) return st;
    const ms_node *last = &tp->g->nodes[tp->last];
    const ms_tensor *yt = &tp->g->tensors[last->output];
    ref_tensor z = logits_view(tp, tp->logits_buf), y = {out, yt->ndim, {0}};
    memcpy(y.shape, yt->shape, sizeof y.shape);
    const ref_tensor *args[1] = {&z};
    ref_forward_node(last, args, &y);
    return MS_OK;
}

ms_status dn_train_backward(ms_train_plan *base, const float *target, double *loss, ms_error *err)
{
    dt_plan *tp = (dt_plan *)base;
    ref_tensor z = logits_view(tp, tp->logits_buf), dz = logits_view(tp, tp->dlogits_buf);
    memset(dz.data, 0, (size_t)ref_numel(&dz) * sizeof(float));
    ms_status st = ref_loss_grad(base->loss, &z, tp->g->nodes[tp->last].beta, target, &dz, loss, gname(tp->g), err);
    if (!st) st = run_steps(tp, tp->n_fwd, tp->p->n_steps, err);
    return st;
}
