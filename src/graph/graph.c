/* Graph construction and lookups: growing the tensor and node arrays, freeing. */
#include "graph/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ms_graph *ms_graph_new(void) { return calloc(1, sizeof(ms_graph)); }

static void tensor_free(ms_tensor *t)
{
    free(t->name);
    free(t->quant.scale);
    free(t->quant.zero_point);
    free(t->data);
    free(t->qdata);
}

void ms_graph_free(ms_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_tensors; i++) tensor_free(&g->tensors[i]);
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].inputs);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->source);
    free(g);
}

/* Makes room for element n (graphs have hundreds of entries, so growing one at a time
 * costs nothing that matters and keeps the struct free of capacity fields). */
static int grow(void **arr, int n, size_t elem)
{
    void *p = realloc(*arr, ((size_t)n + 1) * elem);
    if (!p) return -1;
    *arr = p;
    return 0;
}

int ms_graph_add_tensor(ms_graph *g, const char *name, int ndim, const int64_t *shape,
                        ms_dtype dtype)
{
    if (ndim < 0 || ndim > MS_MAX_DIMS) return -1;
    if (grow((void **)&g->tensors, g->n_tensors, sizeof *g->tensors)) return -1;
    ms_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name ? name : "");
    if (!t->name) return -1;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape ? shape[i] : 0;
    t->dtype = dtype;
    return g->n_tensors++;
}

void ms_node_init(ms_node *n, ms_op_kind kind)
{
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->output = -1;
    n->stride_h = n->stride_w = 1;
    n->dilation_h = n->dilation_w = 1;
    n->kernel_h = n->kernel_w = 1;
    n->groups = 1;
    n->padding = MS_PAD_VALID;
    n->act_min = -INFINITY;
    n->act_max = INFINITY;
    n->beta = 1.0f;
    n->epsilon = 1e-3f;
    n->alpha = 0.01f;
    for (int d = 0; d < MS_MAX_DIMS; d++) {
        n->perm[d] = d;
        n->steps[d] = 1;
    }
}

int ms_graph_add_node(ms_graph *g, ms_op_kind kind, const char *name, const int *inputs,
                      int n_inputs, int output)
{
    if (n_inputs < 0) return -1;
    if (grow((void **)&g->nodes, g->n_nodes, sizeof *g->nodes)) return -1;
    ms_node *n = &g->nodes[g->n_nodes];
    ms_node_init(n, kind);
    n->name = strdup(name ? name : "");
    n->inputs = malloc(((size_t)n_inputs + 1) * sizeof *n->inputs);
    if (!n->name || !n->inputs) {
        free(n->name);
        free(n->inputs);
        return -1;
    }
    if (n_inputs) memcpy(n->inputs, inputs, (size_t)n_inputs * sizeof *inputs);
    n->n_inputs = n_inputs;
    n->output = output;
    return g->n_nodes++;
}

int64_t ms_tensor_numel(const ms_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void ms_tensor_drop_quantised(ms_tensor *t)
{
    free(t->qdata);
    free(t->quant.scale);
    free(t->quant.zero_point);
    t->qdata = NULL;
    t->qbytes = 0;
    t->quant = (ms_quant){0};
    t->dtype = MS_DT_F32;
}

static bool same_shape(const ms_tensor *a, const ms_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* What the cpu backend trains of a mul, sub or div (dnnl_train_fwd.c): the first
 * operand computed and of the output's shape (mul may have it second), the other a
 * constant or a computed value of the output's rank, which broadcasts. */
static bool cpu_binary_ok(const ms_graph *g, const ms_node *n)
{
    if (n->n_inputs != 2) return false;
    const ms_tensor *a = &g->tensors[n->inputs[0]], *b = &g->tensors[n->inputs[1]], *y = &g->tensors[n->output];
    if ((a->data || !same_shape(a, y)) && n->kind == MS_OP_MUL) {
        const ms_tensor *t = a;
        a = b;
        b = t;
    }
    return !a->data && same_shape(a, y) && (b->data || b->ndim == y->ndim);
}

ms_status ms_graph_check_trainable(const ms_graph *g, bool onnx_ops, ms_error *err)
{
    for (int i = 0; i < g->n_nodes && !onnx_ops; i++) {
        const ms_node *n = &g->nodes[i];
        bool ok = true;
        for (int d = 0; n->kind == MS_OP_SLICE && d < MS_MAX_DIMS; d++) ok &= n->steps[d] >= 0;
        if (n->kind == MS_OP_ADD && n->n_inputs == 2) {
            const ms_tensor *a = &g->tensors[n->inputs[0]], *b = &g->tensors[n->inputs[1]], *y = &g->tensors[n->output];
            int64_t c = y->ndim ? y->shape[y->ndim - 1] : 0;
            ok = ms_tensor_numel(a) == ms_tensor_numel(y) && a->ndim == y->ndim &&
                 (ms_tensor_numel(b) == ms_tensor_numel(y) ||
                  (b->ndim >= 1 && b->shape[b->ndim - 1] == c && ms_tensor_numel(b) == c));
        }
        if (n->kind == MS_OP_MUL || n->kind == MS_OP_SUB || n->kind == MS_OP_DIV) ok = cpu_binary_ok(g, n);
        if (!ok)
            return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node %d '%s' (%s) cannot be trained on the cpu backend (forward only; the ref backend trains it)",
                             g->source ? g->source : "graph", i, n->name, ms_op_name(n->kind));
    }
    return MS_OK;
}

const char *ms_op_name(ms_op_kind kind)
{
    static const char *names[MS_OP_COUNT] = {
        [MS_OP_CONV2D] = "conv2d",
        [MS_OP_FULLY_CONNECTED] = "fully_connected",
        [MS_OP_BATCH_NORM] = "batch_norm",
        [MS_OP_CLIP] = "clip",
        [MS_OP_AVG_POOL] = "avg_pool",
        [MS_OP_MAX_POOL] = "max_pool",
        [MS_OP_GLOBAL_AVG_POOL] = "global_avg_pool",
        [MS_OP_MEAN] = "mean",
        [MS_OP_ADD] = "add",
        [MS_OP_CONCAT] = "concat",
        [MS_OP_PAD] = "pad",
        [MS_OP_RESHAPE] = "reshape",
        [MS_OP_SOFTMAX] = "softmax",
        [MS_OP_SIGMOID] = "sigmoid",
        [MS_OP_COPY] = "copy",
        [MS_OP_MUL] = "mul",
        [MS_OP_SUB] = "sub",
        [MS_OP_DIV] = "div",
        [MS_OP_TRANSPOSE] = "transpose",
        [MS_OP_SLICE] = "slice",
        [MS_OP_LEAKY_RELU] = "leaky_relu",
        [MS_OP_HARD_SIGMOID] = "hard_sigmoid",
        [MS_OP_HARD_SWISH] = "hard_swish",
    };
    return (unsigned)kind < MS_OP_COUNT ? names[kind] : "unknown";
}

const char *ms_dtype_name(ms_dtype t)
{
    switch (t) {
    case MS_DT_F32: return "float32";
    case MS_DT_U8: return "uint8";
    case MS_DT_I8: return "int8";
    case MS_DT_I32: return "int32";
    case MS_DT_I64: return "int64";
    }
    return "unknown";
}

int ms_graph_find_tensor(const ms_graph *g, const char *name)
{
    for (int i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return i;
    return -1;
}

const ms_node *ms_graph_output_node(const ms_graph *g)
{
    if (g->n_outputs != 1) return NULL;
    int t = g->outputs[0];
    for (int hops = 0; hops <= g->n_nodes; hops++) {
        const ms_node *producer = NULL;
        for (int i = g->n_nodes - 1; i >= 0 && !producer; i--)
            if (g->nodes[i].output == t) producer = &g->nodes[i];
        if (!producer) return NULL;
        if ((producer->kind != MS_OP_COPY && producer->kind != MS_OP_RESHAPE) || producer->n_inputs < 1) return producer;
        t = producer->inputs[0];
    }
    return NULL;
}
