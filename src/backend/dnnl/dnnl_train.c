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
 * This file: the parameters, compiling, running. dnnl_train_mem.c: buffers, conversions
 * and gradient accumulation; dnnl_train_fwd.c and dnnl_train_bwd.c: the ops.
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
 *   leaky relu,  eltwise relu (slope) / hardswish, backward from the input
 *   hard swish
 *   hard sigmoid eltwise linear, then a [0, 1] clamp in place; backward: the clamp's
 *                (kept output), then linear's
 *   mul/sub/div  binary, second operand broadcast; backward: binary mul / div by the
 *                other operand, a sum reduction where an operand broadcast
 *   transpose,   reorders between strided views of the plain bytes; backward: the
 *   slice        reverse reorder into a buffer zeroed once
 * The final sigmoid or softmax and the loss run in C on the plain logits with the ref
 * backend's functions (ref_loss_grad), so both backends check targets and compute the
 * loss the same way. Threads are OpenMP's, set around compiling and each pass as in the
 * inference plan (dnnl_backend.c). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnnl/dnnl_train.h"
#include "backend/ref/backward.h"

/* Every conv and fc weight and bias, in node order, slot 1 then 2 (the ref backend's). */
static ms_status make_params(dt_ctx *x)
{
    ms_graph *g = x->tp->g;
    ms_train_plan *b = &x->tp->base;
    b->params = calloc(2 * (size_t)g->n_nodes + 1, sizeof *b->params);
    if (!b->params) return dt_nomem(x);
    bool *used = calloc((size_t)g->n_tensors + 1, sizeof *used);
    if (!used) return dt_nomem(x);
    ms_status st = MS_OK;
    for (int k = 0; !st && k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        x->recs[k].w_param = x->recs[k].b_param = -1;
        if (!dt_has_params(n)) continue;
        for (int slot = 1; !st && slot <= 2 && slot < n->n_inputs; slot++) {
            int t = n->inputs[slot];
            if (!g->tensors[t].data) {
                st = ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: node '%s' input %d is computed, not a parameter",
                               dt_gname(g), n->name, slot);
            } else if (used[t]) {
                st = ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: parameter '%s' is shared between nodes", dt_gname(g),
                               g->tensors[t].name);
            } else {
                int64_t numel = ms_tensor_numel(&g->tensors[t]);
                float *grad = calloc((size_t)numel + 1, sizeof *grad);
                if (!grad) return free(used), dt_nomem(x);
                used[t] = true;
                *(slot == 1 ? &x->recs[k].w_param : &x->recs[k].b_param) = b->n_params;
                b->params[b->n_params++] = (ms_param){k, slot, numel, g->tensors[t].data, grad};
            }
        }
    }
    free(used);
    if (!st && !b->n_params)
        st = ms_errorf(x->c.err, MS_ERR_INVALID, "%s: nothing to train (no conv or fc node)", dt_gname(g));
    return st;
}

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
        bool up = dt_has_params(n);
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
        return ms_errorf(x->c.err, MS_ERR_UNSUPPORTED, "%s: %s training needs the graph to end in a %s node", dt_gname(g),
                         tp->base.loss == MS_LOSS_BCE ? "binary cross-entropy" : "softmax cross-entropy",
                         ms_op_name(want));
    tp->logits = g->nodes[tp->last].inputs[0];
    if (!x->needs[tp->logits])
        return ms_errorf(x->c.err, MS_ERR_INVALID, "%s: the output does not depend on any parameter", dt_gname(g));
    return MS_OK;
}

/* The forward of every node but the last, ending with the logits in a plain buffer. */
static ms_status lower_forward(dt_ctx *x)
{
    dt_plan *tp = x->tp;
    dnnl_memory_desc_t md;
    dn_plain_md(&x->c, tp->input, dnnl_f32, &md);
    dnnl_memory_t m;
    ms_status st = dt_new_value(x, tp->input, &md, &m);
    tp->in_buf = x->c.vals[tp->input].buf;
    for (int i = 0; !st && i < tp->last; i++) {
        x->c.node = &x->nodes[i];
        st = dt_forward_node(x, i);
    }
    x->c.node = NULL;
    dn_plain_md(&x->c, tp->logits, dnnl_f32, &md);
    if (!st) st = dt_value_as(x, tp->logits, &md, &m, &tp->logits_buf);
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
        st = dt_persistent(x, &x->c.vals[t].md, &v->mem, &v->buf);
        v->md = x->c.vals[t].md;
        v->ready = !st;
    }
    x->backward = true;
    tp->n_fwd = x->c.p->n_steps;
    dnnl_memory_desc_t md;
    dnnl_memory_t m;
    dn_plain_md(&x->c, tp->logits, dnnl_f32, &md);
    if (!st) st = dt_persistent(x, &md, &m, &tp->dlogits_buf);
    if (!st) st = dt_grad_add(x, tp->logits, &md, m);
    for (int i = tp->last - 1; !st && i >= 0; i--) {
        if (!x->grads[g->nodes[i].output].ready) continue;
        x->c.node = &x->nodes[i];
        st = dt_backward_node(x, i);
        dt_release_temps(x);
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
    if (!x->c.vals || !x->grads || !x->needs || !x->written || !x->recs || !x->nodes) return dt_nomem(x);
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
                         "%s: the cpu backend trains in float32 only (int8 plans are for inference)", dt_gname(g));
    dt_plan *tp = calloc(1, sizeof *tp);
    if (!tp) return ms_errorf(err, MS_ERR_NOMEM, "out of memory compiling a train plan");
    tp->base.backend = &ms_backend_dnnl;
    tp->base.opts = *opts;
    tp->base.loss = loss;
    ms_status st = ref_copy_graph(g, opts->batch, &tp->g, err);
    if (!st) st = ms_graph_check_trainable(tp->g, false, err);
    if (!st && !(tp->p = calloc(1, sizeof *tp->p))) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    if (!st) {
        tp->input = tp->g->inputs[0];
        tp->p->base.backend = &ms_backend_dnnl;
        tp->base.in_numel = ms_tensor_numel(&tp->g->tensors[tp->input]) / opts->batch;
        tp->base.out_numel = ms_tensor_numel(&tp->g->tensors[tp->g->outputs[0]]) / opts->batch;
        if (tp->g->tensors[tp->input].data)
            st = ms_errorf(err, MS_ERR_INVALID, "%s: graph input is a constant", dt_gname(tp->g));
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
        return ms_errorf(err, MS_ERR_BACKEND, "%s: oneDNN train plan: running a primitive failed: %s", dt_gname(tp->g),
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
    ms_status st = ref_loss_grad(base->loss, &z, tp->g->nodes[tp->last].beta, target, &dz, loss, dt_gname(tp->g), err);
    if (!st) st = run_steps(tp, tp->n_fwd, tp->p->n_steps, err);
    return st;
}
