/* The reference backend's train plan: a private copy of the graph at the batch size,
 * one buffer per activation (all kept after the forward pass, which the backward pass
 * reads), one gradient buffer per activation that leads back to a parameter, and one
 * per parameter. The forward pass is the inference kernels of kernels.h; the backward
 * pass walks the nodes in reverse with the kernels of backward.h, starting from the
 * loss's gradient with respect to the logits entering the final sigmoid or softmax.
 * Single-threaded, float32, like the rest of ref/. */
#include <stdlib.h>
#include <string.h>

#include "backend/ref/backward.h"

extern const ms_backend ms_backend_ref;

typedef struct {
    ms_train_plan base;
    ms_graph *g;
    ref_tensor *views;   /* per tensor: constants point into g, activations own a buffer */
    ref_tensor *grads;   /* per tensor: a buffer where a gradient is needed, else data NULL */
    bool *owned;         /* views[i].data was allocated here */
    ref_tensor scratch;  /* the gradient before a node's fused clamp */
    const ref_tensor **args;
    ref_tensor **dargs;
    int input, output, logits, last; /* last: the node making the output */
} ref_train;

static const char *gname(const ms_graph *g) { return g->source ? g->source : "graph"; }

void ref_train_free(ms_train_plan *base)
{
    ref_train *p = (ref_train *)base;
    if (!p) return;
    if (p->g)
        for (int i = 0; i < p->g->n_tensors; i++) {
            if (p->views && p->owned && p->owned[i]) free(p->views[i].data);
            if (p->grads) free(p->grads[i].data);
        }
    free(p->views);
    free(p->grads);
    free(p->owned);
    free(p->scratch.data);
    free(p->args);
    free(p->dargs);
    free(p->base.params);
    ms_graph_free(p->g);
    free(p);
}

static bool has_params(const ms_node *n)
{
    return n->kind == MS_OP_CONV2D || n->kind == MS_OP_FULLY_CONNECTED;
}

/* Ops whose forward kernel clamps its result to [act_min, act_max]. */
static bool clamps(const ms_node *n)
{
    switch (n->kind) {
    case MS_OP_CONV2D: case MS_OP_FULLY_CONNECTED: case MS_OP_BATCH_NORM: case MS_OP_CLIP:
    case MS_OP_AVG_POOL: case MS_OP_MAX_POOL: case MS_OP_GLOBAL_AVG_POOL: case MS_OP_MEAN: case MS_OP_ADD:
        return ref_has_act(n);
    default: return false;
    }
}

static ms_status alloc_view(ref_tensor *v, const ms_tensor *t)
{
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    v->data = calloc((size_t)ms_tensor_numel(t) + 1, sizeof(float));
    return v->data ? MS_OK : MS_ERR_NOMEM;
}

/* needs[t]: an activation whose gradient leads back to a parameter (computed in
 * topological order: a node's output needs one when the node has parameters or reads
 * an activation that needs one). */
static void mark_needs(const ms_graph *g, bool *needs)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        bool up = has_params(n);
        for (int j = 0; j < n->n_inputs; j++) up |= needs[n->inputs[j]];
        needs[n->output] = up;
    }
}

static ms_status make_buffers(ref_train *p, ms_error *err)
{
    ms_graph *g = p->g;
    size_t nt = (size_t)g->n_tensors + 1;
    p->views = calloc(nt, sizeof *p->views);
    p->grads = calloc(nt, sizeof *p->grads);
    p->owned = calloc(nt, sizeof *p->owned);
    bool *needs = calloc(nt, sizeof *needs);
    int max_inputs = 5;
    for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].n_inputs > max_inputs) max_inputs = g->nodes[k].n_inputs;
    p->args = calloc((size_t)max_inputs, sizeof *p->args);
    p->dargs = calloc((size_t)max_inputs, sizeof *p->dargs);
    if (!p->views || !p->grads || !p->owned || !needs || !p->args || !p->dargs) goto nomem;
    mark_needs(g, needs);
    for (int k = 0; k < g->n_nodes; k++) p->owned[g->nodes[k].output] = true;
    p->owned[p->input] = true;
    int64_t largest = 1;
    for (int i = 0; i < g->n_tensors; i++) {
        const ms_tensor *t = &g->tensors[i];
        ref_tensor *v = &p->views[i];
        if (p->owned[i]) {
            if (alloc_view(v, t)) {
                p->owned[i] = false;
                goto nomem;
            }
            if (ms_tensor_numel(t) > largest) largest = ms_tensor_numel(t);
        } else {
            v->ndim = t->ndim;
            memcpy(v->shape, t->shape, sizeof v->shape);
            v->data = t->data;
        }
        p->grads[i].ndim = v->ndim;
        memcpy(p->grads[i].shape, v->shape, sizeof v->shape);
        if (needs[i] && p->owned[i] && alloc_view(&p->grads[i], t)) goto nomem;
    }
    p->scratch.data = malloc((size_t)largest * sizeof(float));
    if (!p->scratch.data) goto nomem;
    free(needs);
    return MS_OK;
nomem:
    free(needs);
    return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory for the train plan's buffers", gname(g));
}

/* Every conv and fc weight and bias: a parameter with its own gradient buffer. */
static ms_status make_params(ref_train *p, ms_error *err)
{
    ms_graph *g = p->g;
    p->base.params = calloc(2 * (size_t)g->n_nodes + 1, sizeof *p->base.params);
    if (!p->base.params) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", gname(g));
    for (int k = 0; k < g->n_nodes; k++) {
        const ms_node *n = &g->nodes[k];
        if (!has_params(n)) continue;
        for (int slot = 1; slot <= 2 && slot < n->n_inputs; slot++) {
            int t = n->inputs[slot];
            if (!g->tensors[t].data)
                return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s' input %d is computed, not a parameter",
                                 gname(g), n->name, slot);
            if (p->grads[t].data)
                return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: parameter '%s' is shared between nodes", gname(g),
                                 g->tensors[t].name);
            if (alloc_view(&p->grads[t], &g->tensors[t]))
                return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", gname(g));
            p->base.params[p->base.n_params++] = (ms_param){k, slot, ms_tensor_numel(&g->tensors[t]),
                                                            g->tensors[t].data, p->grads[t].data};
        }
    }
    if (!p->base.n_params) return ms_errorf(err, MS_ERR_INVALID, "%s: nothing to train (no conv or fc node)", gname(g));
    return MS_OK;
}

/* The loss reads the logits entering the final node, which must suit it. */
static ms_status find_logits(ref_train *p, ms_error *err)
{
    ms_graph *g = p->g;
    ms_op_kind want = p->base.loss == MS_LOSS_BCE ? MS_OP_SIGMOID : MS_OP_SOFTMAX;
    p->last = g->n_nodes - 1;
    if (p->last < 0 || g->nodes[p->last].output != p->output || g->nodes[p->last].kind != want)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: %s training needs the graph to end in a %s node", gname(g),
                         p->base.loss == MS_LOSS_BCE ? "binary cross-entropy" : "softmax cross-entropy",
                         ms_op_name(want));
    p->logits = g->nodes[p->last].inputs[0];
    if (!p->grads[p->logits].data)
        return ms_errorf(err, MS_ERR_INVALID, "%s: the output does not depend on any parameter", gname(g));
    return MS_OK;
}

ms_status ref_train_compile(const ms_graph *g, const ms_plan_options *opts, ms_loss loss, ms_train_plan **out,
                            ms_error *err)
{
    *out = NULL;
    if (opts->precision != MS_PREC_FP32)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: the ref backend trains in float32 only", gname(g));
    ref_train *p = calloc(1, sizeof *p);
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "out of memory compiling a train plan");
    p->base.backend = &ms_backend_ref;
    p->base.opts = *opts;
    p->base.loss = loss;
    ms_status s = ref_copy_graph(g, opts->batch, &p->g, err);
    if (!s) s = ms_graph_check_trainable(p->g, true, err);
    if (!s) {
        p->input = p->g->inputs[0];
        p->output = p->g->outputs[0];
        p->base.in_numel = ms_tensor_numel(&p->g->tensors[p->input]) / opts->batch;
        p->base.out_numel = ms_tensor_numel(&p->g->tensors[p->output]) / opts->batch;
        if (p->g->tensors[p->input].data)
            s = ms_errorf(err, MS_ERR_INVALID, "%s: graph input is a constant", gname(p->g));
    }
    if (!s) s = make_buffers(p, err);
    if (!s) s = make_params(p, err);
    if (!s) s = find_logits(p, err);
    if (s) {
        ref_train_free(&p->base);
        return s;
    }
    *out = &p->base;
    return MS_OK;
}

static void forward_node(ref_train *p, const ms_node *n)
{
    const ref_tensor **in = p->args;
    for (int k = 0; k < n->n_inputs; k++) in[k] = &p->views[n->inputs[k]];
    ref_forward_node(n, in, &p->views[n->output]);
}

ms_status ref_train_forward(ms_train_plan *base, const float *in, float *out, ms_error *err)
{
    (void)err;
    ref_train *p = (ref_train *)base;
    ref_tensor *x = &p->views[p->input], *y = &p->views[p->output];
    memcpy(x->data, in, (size_t)ref_numel(x) * sizeof *in);
    for (int k = 0; k < p->g->n_nodes; k++) forward_node(p, &p->g->nodes[k]);
    if (out) memcpy(out, y->data, (size_t)ref_numel(y) * sizeof *out);
    return MS_OK;
}

/* The gradient buffer of input j of n, or NULL when none is needed. */
static ref_tensor *dinput(ref_train *p, const ms_node *n, int j)
{
    ref_tensor *d = &p->grads[n->inputs[j]];
    return d->data ? d : NULL;
}

static void backward_node(ref_train *p, const ms_node *n)
{
    ref_tensor *y = &p->views[n->output], *dz = &p->grads[n->output];
    if (clamps(n)) {
        p->scratch.ndim = y->ndim;
        memcpy(p->scratch.shape, y->shape, sizeof y->shape);
        ref_act_backward(n, y, dz, &p->scratch);
        dz = &p->scratch;
    }
    const ref_tensor *x = &p->views[n->inputs[0]];
    ref_tensor *dx = dinput(p, n, 0);
    switch (n->kind) {
    case MS_OP_CONV2D:
        ref_conv2d_backward(n, x, &p->views[n->inputs[1]], dz, dx, dinput(p, n, 1),
                            n->n_inputs > 2 ? dinput(p, n, 2) : NULL);
        break;
    case MS_OP_FULLY_CONNECTED:
        ref_fully_connected_backward(n, x, &p->views[n->inputs[1]], dz, dx, dinput(p, n, 1),
                                     n->n_inputs > 2 ? dinput(p, n, 2) : NULL);
        break;
    case MS_OP_BATCH_NORM:
        if (dx) ref_batch_norm_backward(n, &p->views[n->inputs[1]], &p->views[n->inputs[4]], dz, dx);
        break;
    case MS_OP_CLIP:
    case MS_OP_RESHAPE:
    case MS_OP_COPY:
        if (dx) ref_copy_backward(n, dz, dx);
        break;
    case MS_OP_AVG_POOL: if (dx) ref_avg_pool_backward(n, dz, dx); break;
    case MS_OP_MAX_POOL: if (dx) ref_max_pool_backward(n, x, dz, dx); break;
    case MS_OP_GLOBAL_AVG_POOL: if (dx) ref_global_avg_pool_backward(n, dz, dx); break;
    case MS_OP_MEAN: if (dx) ref_mean_backward(n, dz, dx); break;
    case MS_OP_ADD:
    case MS_OP_MUL:
    case MS_OP_SUB:
    case MS_OP_DIV: ref_binary_backward(n, x, &p->views[n->inputs[1]], dz, dx, dinput(p, n, 1)); break;
    case MS_OP_CONCAT:
        for (int j = 0; j < n->n_inputs; j++) p->dargs[j] = &p->grads[n->inputs[j]];
        ref_concat_backward(n, dz, p->dargs);
        break;
    case MS_OP_PAD: if (dx) ref_pad_backward(n, dz, dx); break;
    case MS_OP_SOFTMAX: if (dx) ref_softmax_backward(n, y, dz, dx); break;
    case MS_OP_SIGMOID: if (dx) ref_sigmoid_backward(n, y, dz, dx); break;
    case MS_OP_TRANSPOSE:
    case MS_OP_SLICE: if (dx) ref_gather_backward(n, dz, dx); break;
    case MS_OP_LEAKY_RELU:
    case MS_OP_HARD_SIGMOID:
    case MS_OP_HARD_SWISH: if (dx) ref_activation_backward(n, x, dz, dx); break;
    case MS_OP_COUNT: break;
    }
}

ms_status ref_train_backward(ms_train_plan *base, const float *target, double *loss, ms_error *err)
{
    ref_train *p = (ref_train *)base;
    ms_graph *g = p->g;
    for (int i = 0; i < g->n_tensors; i++)
        if (p->grads[i].data) memset(p->grads[i].data, 0, (size_t)ref_numel(&p->grads[i]) * sizeof(float));
    ms_status s = ref_loss_grad(base->loss, &p->views[p->logits], g->nodes[p->last].beta, target,
                                &p->grads[p->logits], loss, gname(g), err);
    if (s) return s;
    for (int k = p->last - 1; k >= 0; k--)
        if (p->grads[g->nodes[k].output].data) backward_node(p, &g->nodes[k]);
    return MS_OK;
}
