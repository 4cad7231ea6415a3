/* An app's network at a chokepoint: the base layers after the cut up to the base
 * classifier, then the app's head (flatten -> fully connected K->1 -> sigmoid). Built
 * from the base model alone (what training starts from) or with a package's weights
 * (what runs), and stored back into a package after training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/mpackage.h"
#include "graph/cut.h"

bool ms_branch_node_trainable(const ms_node *n)
{
    return n->kind == MS_OP_CONV2D || n->kind == MS_OP_FULLY_CONNECTED;
}

static const char *graph_name(const ms_graph *g) { return g->source ? g->source : "model"; }

/* A graph whose only content is its input, a copy of base tensor t (shape, name). */
static ms_status input_only(const ms_graph *base, int t, ms_graph **out)
{
    ms_graph *g = ms_graph_new();
    *out = g;
    if (!g) return MS_ERR_NOMEM;
    const ms_tensor *src = &base->tensors[t];
    g->inputs = malloc(sizeof *g->inputs);
    g->outputs = malloc(sizeof *g->outputs);
    if (!g->inputs || !g->outputs || ms_graph_add_tensor(g, src->name, src->ndim, src->shape, MS_DT_F32) < 0)
        return MS_ERR_NOMEM;
    g->inputs[0] = g->outputs[0] = 0;
    g->n_inputs = g->n_outputs = 1;
    g->input_spec = base->input_spec;
    memcpy(g->fingerprint, base->fingerprint, sizeof g->fingerprint);
    return MS_OK;
}

/* A constant float tensor of zeros. */
static int add_zeros(ms_graph *g, const char *name, int ndim, const int64_t *shape)
{
    int id = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    if (id < 0) return -1;
    int64_t n = ms_tensor_numel(&g->tensors[id]);
    g->tensors[id].data = calloc((size_t)n + 1, sizeof(float));
    return g->tensors[id].data ? id : -1;
}

/* Appends flatten -> fully connected K->1 -> sigmoid after g's output. */
static ms_status append_head(ms_graph *g)
{
    int x = g->outputs[0];
    int64_t batch = g->tensors[x].shape[0], k = ms_tensor_numel(&g->tensors[x]) / batch;
    int64_t flat_shape[2] = {batch, k}, w_shape[2] = {1, k}, b_shape[1] = {1}, y_shape[2] = {batch, 1};
    int flat = ms_graph_add_tensor(g, MS_MPACKAGE_HEAD "/flatten", 2, flat_shape, MS_DT_F32);
    int w = add_zeros(g, MS_MPACKAGE_HEAD "/weight", 2, w_shape);
    int b = add_zeros(g, MS_MPACKAGE_HEAD "/bias", 1, b_shape);
    int logit = ms_graph_add_tensor(g, MS_MPACKAGE_HEAD "/logit", 2, y_shape, MS_DT_F32);
    int score = ms_graph_add_tensor(g, MS_MPACKAGE_HEAD "/score", 2, y_shape, MS_DT_F32);
    if (flat < 0 || w < 0 || b < 0 || logit < 0 || score < 0) return MS_ERR_NOMEM;
    int fc_in[3] = {flat, w, b};
    if (ms_graph_add_node(g, MS_OP_RESHAPE, MS_MPACKAGE_HEAD "/flatten", &x, 1, flat) < 0 ||
        ms_graph_add_node(g, MS_OP_FULLY_CONNECTED, MS_MPACKAGE_HEAD, fc_in, 3, logit) < 0 ||
        ms_graph_add_node(g, MS_OP_SIGMOID, MS_MPACKAGE_HEAD "/sigmoid", &logit, 1, score) < 0)
        return MS_ERR_NOMEM;
    g->outputs[0] = score;
    return MS_OK;
}

bool ms_mpackage_is_head_node(const char *name)
{
    size_t n = strlen(MS_MPACKAGE_HEAD);
    return !strncmp(name, MS_MPACKAGE_HEAD, n) && (name[n] == '\0' || name[n] == '/');
}

ms_status ms_branch_from_base(const ms_graph *base, int chokepoint, ms_graph **out, ms_error *err)
{
    *out = NULL;
    ms_chokepoint *cps;
    int n;
    ms_status s = ms_graph_chokepoints(base, &cps, &n, err);
    if (s) return s;
    if (chokepoint < 0 || chokepoint >= n) {
        free(cps);
        return ms_errorf(err, MS_ERR_INVALID, "%s: chokepoint %d does not exist (the model has %d, 0 to %d)",
                         graph_name(base), chokepoint, n, n - 1);
    }
    int begin = cps[chokepoint].node_end, end = cps[n - 1].node_end, t = cps[chokepoint].tensor;
    free(cps);
    ms_graph *g = NULL;
    if (begin < end) {
        if ((s = ms_graph_segment(base, begin, end, &g, err))) return s;
    } else if (input_only(base, t, &g)) {
        ms_graph_free(g);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory building a branch", graph_name(base));
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (ms_mpackage_is_head_node(g->nodes[i].name)) {
            s = ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: node '%s' clashes with the app head's reserved name '%s'",
                          graph_name(base), g->nodes[i].name, MS_MPACKAGE_HEAD);
            ms_graph_free(g);
            return s;
        }
    char source[1100];
    snprintf(source, sizeof source, "%s[cp%02d]", graph_name(base), chokepoint);
    free(g->source);
    g->source = strdup(source);
    if (!g->source || append_head(g)) {
        ms_graph_free(g);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory building a branch", graph_name(base));
    }
    if ((s = ms_graph_infer_shapes(g, err))) {
        ms_graph_free(g);
        return s;
    }
    *out = g;
    return MS_OK;
}

/* The package's name for input `slot` (1 weight, 2 bias) of branch node n. */
static void param_name(int chokepoint, const ms_node *n, int slot, char *buf, size_t size)
{
    snprintf(buf, size, "cp%02d/%s/%s", chokepoint, n->name, slot == 1 ? "weight" : "bias");
}

static bool same_shape(const ms_tensor *t, const ms_mpackage_tensor *pt)
{
    if (t->ndim != pt->ndim) return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != pt->shape[d]) return false;
    return true;
}

static const ms_mpackage_tensor *find(const ms_mpackage *p, const char *name)
{
    for (int i = 0; i < p->n_tensors; i++)
        if (!strcmp(p->tensors[i].name, name)) return &p->tensors[i];
    return NULL;
}

/* Overwrites a branch constant with the package's values. The quantised bytes of the
 * base no longer describe it, so they go. */
static void set_constant(ms_tensor *t, const ms_mpackage_tensor *pt)
{
    memcpy(t->data, pt->data, (size_t)ms_tensor_numel(t) * sizeof(float));
    ms_tensor_drop_quantised(t);
}

/* Loads every trainable parameter of g from p; every package tensor of the chokepoint
 * must be used. */
static ms_status load_params(const ms_mpackage *p, int chokepoint, ms_graph *g, ms_error *err)
{
    const char *pkg = p->path ? p->path : "package";
    int used = 0;
    char name[1100];
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        if (!ms_branch_node_trainable(n)) continue;
        for (int slot = 1; slot < n->n_inputs && slot <= 2; slot++) {
            ms_tensor *t = &g->tensors[n->inputs[slot]];
            param_name(chokepoint, n, slot, name, sizeof name);
            const ms_mpackage_tensor *pt = find(p, name);
            if (!pt) return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\" is missing", pkg, name);
            if (!t->data || !same_shape(t, pt))
                return ms_errorf(err, MS_ERR_FORMAT, "%s: tensor \"%s\" does not have the shape of layer '%s' of %s",
                                 pkg, name, n->name, g->source);
            set_constant(t, pt);
            used++;
        }
    }
    char prefix[32];
    int have = 0, len = snprintf(prefix, sizeof prefix, "cp%02d/", chokepoint);
    for (int i = 0; i < p->n_tensors; i++) have += !strncmp(p->tensors[i].name, prefix, (size_t)len);
    if (have != used)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: chokepoint %d has %d tensors but its branch of %s has %d parameters",
                         pkg, chokepoint, have, g->source, used);
    return MS_OK;
}

ms_status ms_mpackage_branch(const ms_mpackage *p, const ms_graph *base, int chokepoint, ms_graph **out,
                             ms_error *err)
{
    *out = NULL;
    ms_status s = ms_mpackage_check_base(p, base, err);
    if (s) return s;
    if (!ms_mpackage_point(p, chokepoint))
        return ms_errorf(err, MS_ERR_INVALID, "%s: app '%s' was not trained at chokepoint %d",
                         p->path ? p->path : "package", p->app, chokepoint);
    ms_graph *g;
    if ((s = ms_branch_from_base(base, chokepoint, &g, err))) return s;
    if ((s = load_params(p, chokepoint, g, err))) {
        ms_graph_free(g);
        return s;
    }
    *out = g;
    return MS_OK;
}

/* Removes the tensors and curve point of a chokepoint. */
static void drop_chokepoint(ms_mpackage *p, int chokepoint)
{
    char prefix[32];
    int len = snprintf(prefix, sizeof prefix, "cp%02d/", chokepoint), k = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        if (!strncmp(p->tensors[i].name, prefix, (size_t)len)) {
            free(p->tensors[i].name);
            free(p->tensors[i].data);
        } else {
            p->tensors[k++] = p->tensors[i];
        }
    }
    p->n_tensors = k;
    k = 0;
    for (int i = 0; i < p->n_curve; i++)
        if (p->curve[i].chokepoint != chokepoint) p->curve[k++] = p->curve[i];
    p->n_curve = k;
}

static ms_status add_tensor(ms_mpackage *p, const char *name, const ms_tensor *t)
{
    ms_mpackage_tensor *arr = realloc(p->tensors, ((size_t)p->n_tensors + 1) * sizeof *arr);
    if (!arr) return MS_ERR_NOMEM;
    p->tensors = arr;
    ms_mpackage_tensor *pt = &arr[p->n_tensors];
    size_t bytes = (size_t)ms_tensor_numel(t) * sizeof(float);
    pt->name = strdup(name);
    pt->data = malloc(bytes + 1);
    if (!pt->name || !pt->data) {
        free(pt->name);
        free(pt->data);
        return MS_ERR_NOMEM;
    }
    memcpy(pt->data, t->data, bytes);
    pt->ndim = t->ndim;
    memcpy(pt->shape, t->shape, sizeof pt->shape);
    p->n_tensors++;
    return MS_OK;
}

ms_status ms_mpackage_put_branch(ms_mpackage *p, const ms_graph *branch, const ms_curve_point *point,
                                 ms_error *err)
{
    drop_chokepoint(p, point->chokepoint);
    ms_curve_point *curve = realloc(p->curve, ((size_t)p->n_curve + 1) * sizeof *curve);
    if (!curve) return ms_errorf(err, MS_ERR_NOMEM, "out of memory adding chokepoint %d", point->chokepoint);
    p->curve = curve;
    int at = p->n_curve;
    while (at > 0 && curve[at - 1].chokepoint > point->chokepoint) {
        curve[at] = curve[at - 1];
        at--;
    }
    curve[at] = *point;
    p->n_curve++;
    char name[1100];
    for (int i = 0; i < branch->n_nodes; i++) {
        const ms_node *n = &branch->nodes[i];
        if (!ms_branch_node_trainable(n)) continue;
        for (int slot = 1; slot < n->n_inputs && slot <= 2; slot++) {
            const ms_tensor *t = &branch->tensors[n->inputs[slot]];
            ms_status s = MS_OK;
            param_name(point->chokepoint, n, slot, name, sizeof name);
            if (!t->data)
                s = ms_errorf(err, MS_ERR_INVALID, "%s: layer '%s' input %d is not a constant", branch->source,
                              n->name, slot);
            else if (add_tensor(p, name, t))
                s = ms_errorf(err, MS_ERR_NOMEM, "out of memory storing tensor \"%s\"", name);
            if (s) {
                drop_chokepoint(p, point->chokepoint);
                return s;
            }
        }
    }
    return MS_OK;
}
