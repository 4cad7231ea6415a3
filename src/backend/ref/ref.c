/* The reference backend's plan: a private copy of the graph with every activation
 * shape scaled to the batch, one float buffer per activation allocated at compile time,
 * and a run that executes the nodes in order with the kernels of kernels.h.
 *
 * Single-threaded whatever opts.threads says (it is the ground truth, not a contender),
 * float32 only. The plan owns copies of the weights, so it outlives the graph. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/ref/backward.h"
#include "backend/ref/kernels.h"

extern const ms_backend ms_backend_ref;

typedef struct {
    ms_plan base;
    ms_graph *g;       /* the private copy: shapes at the plan's batch, padding resolved */
    ref_tensor *views; /* one per tensor of g: constants point into g, activations own a buffer */
    bool *owned;       /* views[i].data was allocated by the plan */
    const ref_tensor **args; /* scratch: the current node's input views */
    int input, output;
} ref_plan;

/* A copy of g through the public constructors, with dimension 0 of every activation
 * multiplied by batch; its shapes are inferred afresh, which also checks the graph. */
ms_status ref_copy_graph(const ms_graph *g, int batch, ms_graph **out, ms_error *err)
{
    const char *src = g->source ? g->source : "graph";
    ms_graph *c = ms_graph_new();
    if (!c) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory copying the graph", src);
    *out = c;
    c->source = strdup(src);
    c->inputs = malloc(((size_t)g->n_inputs + 1) * sizeof *c->inputs);
    c->outputs = malloc(((size_t)g->n_outputs + 1) * sizeof *c->outputs);
    if (!c->source || !c->inputs || !c->outputs) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", src);
    memcpy(c->inputs, g->inputs, (size_t)g->n_inputs * sizeof *c->inputs);
    memcpy(c->outputs, g->outputs, (size_t)g->n_outputs * sizeof *c->outputs);
    c->n_inputs = g->n_inputs;
    c->n_outputs = g->n_outputs;
    for (int i = 0; i < g->n_tensors; i++) {
        const ms_tensor *t = &g->tensors[i];
        if (ms_graph_add_tensor(c, t->name, t->ndim, t->shape, t->dtype) < 0)
            return ms_errorf(err, MS_ERR_INVALID, "%s: cannot copy tensor '%s' (rank %d, or out of memory)", src,
                             t->name, t->ndim);
        ms_tensor *ct = &c->tensors[i];
        if (!t->data) {
            if (ct->ndim >= 1 && ct->shape[0] > 0) ct->shape[0] *= batch;
            continue;
        }
        int64_t numel = ms_tensor_numel(t);
        if (numel < 0) return ms_errorf(err, MS_ERR_INVALID, "%s: constant '%s' has a negative dimension", src, t->name);
        ct->data = malloc((size_t)numel * sizeof *ct->data + 1);
        if (!ct->data) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory copying tensor '%s'", src, t->name);
        memcpy(ct->data, t->data, (size_t)numel * sizeof *ct->data);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        if (ms_graph_add_node(c, n->kind, n->name, n->inputs, n->n_inputs, n->output) < 0)
            return ms_errorf(err, MS_ERR_INVALID, "%s: cannot copy node '%s' (%d inputs, or out of memory)", src,
                             n->name, n->n_inputs);
        ms_node *cn = &c->nodes[i];
        char *name = cn->name;
        int *inputs = cn->inputs;
        *cn = *n;
        cn->name = name;
        cn->inputs = inputs;
    }
    return ms_graph_infer_shapes(c, err);
}

static void ref_free(ms_plan *base)
{
    ref_plan *p = (ref_plan *)base;
    if (!p) return;
    if (p->views && p->owned) /* either may be missing when compiling ran out of memory */
        for (int i = 0; i < p->g->n_tensors; i++)
            if (p->owned[i]) free(p->views[i].data);
    free(p->views);
    free(p->owned);
    free(p->args);
    ms_graph_free(p->g);
    free(p);
}

/* Points every tensor's view at its values: constants at the copy's data, activations
 * that a node computes (or the graph input) at a fresh buffer. Tensors nothing computes
 * nor reads get no buffer. */
static ms_status make_views(ref_plan *p, ms_error *err)
{
    ms_graph *g = p->g;
    p->views = calloc((size_t)g->n_tensors + 1, sizeof *p->views);
    p->owned = calloc((size_t)g->n_tensors + 1, sizeof *p->owned);
    int max_inputs = 5;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].n_inputs > max_inputs) max_inputs = g->nodes[i].n_inputs;
    p->args = calloc((size_t)max_inputs, sizeof *p->args);
    if (!p->views || !p->owned || !p->args) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", g->source);
    for (int i = 0; i < g->n_nodes; i++) p->owned[g->nodes[i].output] = true;
    p->owned[p->input] = true;
    for (int i = 0; i < g->n_tensors; i++) {
        const ms_tensor *t = &g->tensors[i];
        ref_tensor *v = &p->views[i];
        v->ndim = t->ndim;
        memcpy(v->shape, t->shape, sizeof v->shape);
        if (!p->owned[i]) {
            v->data = t->data;
            continue;
        }
        size_t bytes = (size_t)ms_tensor_numel(t) * sizeof(float);
        v->data = malloc(bytes + 1);
        if (!v->data) {
            p->owned[i] = false;
            return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory for tensor '%s' (%zu bytes)", g->source, t->name,
                             bytes);
        }
    }
    return MS_OK;
}

static ms_status ref_compile(const ms_graph *g, const ms_plan_options *opts, ms_plan **out, ms_error *err)
{
    *out = NULL;
    if (opts->precision != MS_PREC_FP32)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: the ref backend runs float32 only",
                         g->source ? g->source : "graph");
    ref_plan *p = calloc(1, sizeof *p);
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "out of memory compiling a ref plan");
    p->base.backend = &ms_backend_ref;
    p->base.opts = *opts;
    ms_status s = ref_copy_graph(g, opts->batch, &p->g, err);
    if (!s) {
        p->input = p->g->inputs[0];
        p->output = p->g->outputs[0];
        if (p->g->tensors[p->input].data)
            s = ms_errorf(err, MS_ERR_INVALID, "%s: graph input '%s' is a constant", p->g->source,
                          p->g->tensors[p->input].name);
    }
    if (!s) {
        p->base.in_numel = ms_tensor_numel(&p->g->tensors[p->input]) / opts->batch;
        p->base.out_numel = ms_tensor_numel(&p->g->tensors[p->output]) / opts->batch;
        /* The native layout is plain NHWC float: chaining changes nothing here. */
        p->base.in_bytes = p->base.in_numel * (int64_t)sizeof(float);
        p->base.out_bytes = p->base.out_numel * (int64_t)sizeof(float);
        s = make_views(p, err);
    }
    if (s) {
        ref_free(&p->base);
        return s;
    }
    *out = &p->base;
    return MS_OK;
}

static void run_node(ref_plan *p, const ms_node *n)
{
    const ref_tensor **in = p->args;
    for (int k = 0; k < n->n_inputs; k++) in[k] = &p->views[n->inputs[k]];
    ref_forward_node(n, in, &p->views[n->output]);
}

static ms_status ref_run(ms_plan *base, const void *in, void *out, ms_error *err)
{
    (void)err;
    ref_plan *p = (ref_plan *)base;
    ref_tensor *x = &p->views[p->input], *y = &p->views[p->output];
    memcpy(x->data, in, (size_t)ref_numel(x) * sizeof(float));
    for (int i = 0; i < p->g->n_nodes; i++) run_node(p, &p->g->nodes[i]);
    memcpy(out, y->data, (size_t)ref_numel(y) * sizeof(float));
    return MS_OK;
}

const ms_backend ms_backend_ref = {.name = "ref",
                                   .compile = ref_compile,
                                   .run = ref_run,
                                   .free = ref_free,
                                   .train_compile = ref_train_compile,
                                   .train_forward = ref_train_forward,
                                   .train_backward = ref_train_backward,
                                   .train_free = ref_train_free};
