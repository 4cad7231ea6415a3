/* ONNX import, model half: unpacking the file with protobuf-c (nesting and memory
 * bounded), opsets, initializers, the graph's inputs and outputs, the input spec from
 * metadata_props, and test tensors. The nodes are mapped in onnx_ops.c. */
#include "formats/onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/onnx_internal.h"

/* Messages nest at most this deep (graphs inside attributes, types inside types). */
#define OX_MAX_DEPTH 24
/* Most nodes, values and initializers a graph may have. */
#define OX_MAX_NODES 100000

ms_status ox_fail(ox_ctx *c, ms_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ms_errorf(c->err, code, "%s: %s", c->name, msg);
}

ms_status ox_node_fail(ox_ctx *c, ms_status code, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *n = c->node;
    return ms_errorf(c->err, code, "%s: node %d '%.120s' (%.60s): %s", c->name, c->node_index,
                     n && n->name ? n->name : "", n && n->op_type ? n->op_type : "?", msg);
}

/* ---- bounded unpacking ------------------------------------------------------------ */

/* protobuf-c recurses once per nested message and allocates as it reads: the allocator
 * refuses past a budget, and nesting is checked on the wire format first. */
typedef struct {
    size_t used, budget;
} ox_alloc_budget;

static void *budget_alloc(void *data, size_t size)
{
    ox_alloc_budget *b = data;
    if (size > b->budget - b->used) return NULL;
    size_t *p = malloc(size + sizeof(size_t) * 2);
    if (!p) return NULL;
    p[0] = size;
    b->used += size;
    return p + 2;
}

static void budget_free(void *data, void *ptr)
{
    ox_alloc_budget *b = data;
    if (!ptr) return;
    size_t *p = (size_t *)ptr - 2;
    b->used -= p[0];
    free(p);
}

/* Message kinds on the recursive paths of onnx.proto. */
enum { W_MODEL, W_GRAPH, W_NODE, W_ATTR, W_FUNC, W_TRAIN, W_VINFO, W_TYPE, W_TYPE_ELEM, W_TYPE_MAP, W_NONE };

static int child_kind(int kind, uint32_t field)
{
    switch (kind) {
    case W_MODEL: return field == 7 ? W_GRAPH : field == 20 ? W_TRAIN : field == 25 ? W_FUNC : W_NONE;
    case W_TRAIN: return field == 1 || field == 2 ? W_GRAPH : W_NONE;
    case W_GRAPH: return field == 1 ? W_NODE : field == 11 || field == 12 || field == 13 ? W_VINFO : W_NONE;
    case W_FUNC: return field == 7 ? W_NODE : W_NONE;
    case W_NODE: return field == 5 ? W_ATTR : W_NONE;
    case W_ATTR: return field == 6 || field == 11 ? W_GRAPH : field == 14 || field == 15 ? W_TYPE : W_NONE;
    case W_VINFO: return field == 2 ? W_TYPE : W_NONE;
    case W_TYPE: return field == 4 || field == 9 ? W_TYPE_ELEM : field == 5 ? W_TYPE_MAP : W_NONE;
    case W_TYPE_ELEM: return field == 1 ? W_TYPE : W_NONE;
    case W_TYPE_MAP: return field == 2 ? W_TYPE : W_NONE;
    }
    return W_NONE;
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return false;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* Walks a message of `kind` in [p, end): false when the wire format is broken or a
 * recursive path nests deeper than OX_MAX_DEPTH. */
static bool wire_ok(const uint8_t *p, const uint8_t *end, int kind, int depth, const char **why)
{
    if (depth > OX_MAX_DEPTH) {
        *why = "messages nest too deeply";
        return false;
    }
    while (p < end) {
        uint64_t key, v;
        if (!read_varint(&p, end, &key)) goto broken;
        uint32_t field = (uint32_t)(key >> 3);
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &v)) goto broken;
            break;
        case 1:
            if (end - p < 8) goto broken;
            p += 8;
            break;
        case 5:
            if (end - p < 4) goto broken;
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p)) goto broken;
            int child = child_kind(kind, field);
            if (child != W_NONE && !wire_ok(p, p + v, child, depth + 1, why)) return false;
            p += v;
            break;
        }
        default: goto broken;
        }
    }
    return true;
broken:
    *why = "the protobuf encoding is broken (truncated or corrupted)";
    return false;
}

static ms_status unpack_model(ox_ctx *c, const uint8_t *data, size_t size, ox_alloc_budget *b,
                              Onnx__ModelProto **out)
{
    const char *why = NULL;
    if (!wire_ok(data, data + size, W_MODEL, 0, &why)) return ox_fail(c, MS_ERR_FORMAT, "not a valid ONNX model: %s", why);
    ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = b};
    *out = onnx__model_proto__unpack(&alloc, size, data);
    if (!*out) {
        if (b->used + size > b->budget / 2)
            return ox_fail(c, MS_ERR_UNSUPPORTED, "unpacking needs more than %zu MiB", b->budget >> 20);
        return ox_fail(c, MS_ERR_FORMAT, "not a valid ONNX model (protobuf-c could not unpack a ModelProto)");
    }
    return MS_OK;
}

/* ---- values ------------------------------------------------------------------------ */

ox_value *ox_find(ox_ctx *c, const char *name)
{
    for (int i = c->n_vals - 1; i >= 0; i--)
        if (!strcmp(c->vals[i].name, name)) return &c->vals[i];
    return NULL;
}

ms_status ox_add_value(ox_ctx *c, const ox_value *v)
{
    if (c->n_vals >= c->cap_vals) return ox_fail(c, MS_ERR_FORMAT, "more values than the graph names");
    c->vals[c->n_vals++] = *v;
    return MS_OK;
}

void ox_value_free(ox_value *v)
{
    free(v->f);
    free(v->i);
    v->f = NULL;
    v->i = NULL;
}

int ox_ir_axis(int rank, int a)
{
    static const int nchw_to_nhwc[4] = {0, 3, 1, 2};
    return rank == 4 ? nchw_to_nhwc[a] : a;
}

void ox_ir_shape(int rank, const int64_t *dims, int64_t *ir)
{
    for (int a = 0; a < rank; a++) ir[ox_ir_axis(rank, a)] = dims[a];
    if (rank >= 1) ir[0] = 1;
}

static size_t elem_size(int32_t type, bool *is_int, bool *ok)
{
    *ok = true;
    *is_int = true;
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: *is_int = false; return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: *is_int = false; return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return 2;
    }
    *ok = false;
    return 0;
}

/* Element k of raw little-endian data of the given type. */
static double raw_elem(int32_t type, const uint8_t *p)
{
    uint64_t u = 0;
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
        for (int b = 0; b < 4; b++) u |= (uint64_t)p[b] << (8 * b);
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        return f;
    }
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: {
        for (int b = 0; b < 8; b++) u |= (uint64_t)p[b] << (8 * b);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        for (int b = 0; b < 8; b++) u |= (uint64_t)p[b] << (8 * b);
        return (double)(int64_t)u;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        for (int b = 0; b < 4; b++) u |= (uint64_t)p[b] << (8 * b);
        return (double)(int32_t)(uint32_t)u;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return (double)(int16_t)(uint16_t)(p[0] | p[1] << 8);
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return (double)(uint16_t)(p[0] | p[1] << 8);
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (double)(int8_t)p[0];
    default: return (double)p[0];
    }
}

static int64_t raw_int64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int b = 0; b < 8; b++) u |= (uint64_t)p[b] << (8 * b);
    return (int64_t)u;
}

ms_status ox_tensor_value(ox_ctx *c, const Onnx__TensorProto *t, const char *what, ox_value *v)
{
    memset(v, 0, sizeof *v);
    v->is_const = true;
    v->tensor = -1;
    v->name = t->name ? t->name : "";
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data)
        return ox_fail(c, MS_ERR_UNSUPPORTED,
                       "%s '%.200s': external data (weights in a separate file) is not supported; save the model with its weights inside",
                       what, v->name);
    if (t->segment) return ox_fail(c, MS_ERR_UNSUPPORTED, "%s '%.200s': segmented tensors are not supported", what, v->name);
    bool ok;
    size_t es = elem_size(t->data_type, &v->is_int, &ok);
    if (!ok)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "%s '%.200s': element type %d is not supported", what, v->name,
                       (int)t->data_type);
    if (t->n_dims > MS_ONNX_MAX_RANK)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "%s '%.200s' has %zu dimensions (at most %d)", what, v->name, t->n_dims,
                       MS_ONNX_MAX_RANK);
    v->rank = (int)t->n_dims;
    v->numel = 1;
    for (int d = 0; d < v->rank; d++) {
        if (t->dims[d] < 0 || t->dims[d] > OX_MAX_ELEMENTS)
            return ox_fail(c, MS_ERR_FORMAT, "%s '%.200s': dimension %d is %lld", what, v->name, d, (long long)t->dims[d]);
        v->dims[d] = t->dims[d];
        v->numel *= t->dims[d];
        if (v->numel > OX_MAX_ELEMENTS)
            return ox_fail(c, MS_ERR_UNSUPPORTED, "%s '%.200s' has more than %lld elements", what, v->name,
                           (long long)OX_MAX_ELEMENTS);
    }
    size_t n = (size_t)v->numel, have;
    const char *field;
    if (t->has_raw_data) {
        have = t->raw_data.len / es;
        field = "raw_data";
        if (t->raw_data.len % es) have = (size_t)-1;
    } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        have = t->n_float_data;
        field = "float_data";
    } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        have = t->n_double_data;
        field = "double_data";
    } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
        have = t->n_int64_data;
        field = "int64_data";
    } else {
        have = t->n_int32_data;
        field = "int32_data";
    }
    if (have != n)
        return ox_fail(c, MS_ERR_FORMAT, "%s '%.200s': %s holds %zd values, the shape [%d dims] needs %zu", what,
                       v->name, field, (ssize_t)have, v->rank, n);
    if (v->is_int) v->i = malloc((n + 1) * sizeof *v->i);
    else v->f = malloc((n + 1) * sizeof *v->f);
    if (!v->i && !v->f) return ox_fail(c, MS_ERR_NOMEM, "%s '%.200s': out of memory", what, v->name);
    for (size_t k = 0; k < n; k++) {
        if (t->has_raw_data) {
            const uint8_t *p = t->raw_data.data + k * es;
            if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) v->i[k] = raw_int64(p);
            else if (v->is_int) v->i[k] = (int64_t)raw_elem(t->data_type, p);
            else v->f[k] = (float)raw_elem(t->data_type, p);
        } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            v->f[k] = t->float_data[k];
        } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
            v->f[k] = (float)t->double_data[k];
        } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
            v->i[k] = t->int64_data[k];
        } else {
            v->i[k] = t->int32_data[k];
        }
    }
    return MS_OK;
}

/* ---- graph inputs, outputs, metadata ------------------------------------------------- */

/* The shape of a graph input from its type: float tensor, rank 1-4, every dimension
 * known except a symbolic batch (dimension 0), which counts as 1. */
static ms_status input_shape(ox_ctx *c, const Onnx__ValueInfoProto *vi, int *rank, int64_t *dims)
{
    const char *nm = vi->name ? vi->name : "";
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s' is not a tensor", nm);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s' has element type %d; only float (1) is supported",
                       nm, (int)tt->elem_type);
    if (!tt->shape) return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s' has no shape", nm);
    if (tt->shape->n_dim < 1 || tt->shape->n_dim > MS_MAX_DIMS)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s' has %zu dimensions (1 to %d are supported)", nm,
                       tt->shape->n_dim, MS_MAX_DIMS);
    *rank = (int)tt->shape->n_dim;
    for (int d = 0; d < *rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[d];
        bool known = dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (!known && d == 0) {
            dims[d] = 1;
            continue;
        }
        if (!known || dm->dim_value < 1 || dm->dim_value > OX_MAX_ELEMENTS)
            return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s': dimension %d is unknown or out of range "
                           "(only the batch, dimension 0, may be symbolic)", nm, d);
        dims[d] = dm->dim_value;
    }
    return MS_OK;
}

static const ms_onnx_tensor *bound(const ms_onnx_options *o, const char *name)
{
    for (int k = 0; o && k < o->n_consts; k++)
        if (o->consts[k].name && !strcmp(o->consts[k].name, name)) return &o->consts[k];
    return NULL;
}

static ms_status add_inputs(ox_ctx *c, const Onnx__GraphProto *gp, const ms_onnx_options *opts)
{
    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        if (!vi || !vi->name) return ox_fail(c, MS_ERR_FORMAT, "graph input %zu has no name", k);
        ox_value *old = ox_find(c, vi->name);
        if (old) continue; /* an initializer listed as an input (IR version < 4) */
        const ms_onnx_tensor *b = bound(opts, vi->name);
        ox_value v = {.name = vi->name, .tensor = -1};
        if (b) {
            v.is_const = true;
            v.rank = b->rank;
            memcpy(v.dims, b->dims, sizeof v.dims);
            v.numel = b->numel;
            v.f = malloc(((size_t)b->numel + 1) * sizeof *v.f);
            if (!v.f) return ox_fail(c, MS_ERR_NOMEM, "out of memory");
            memcpy(v.f, b->data, (size_t)b->numel * sizeof *v.f);
            ms_status s = ox_add_value(c, &v);
            if (s) ox_value_free(&v);
            if (s) return s;
            continue;
        }
        if (c->g->n_inputs >= 1)
            return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s': only one input is supported (the first is '%.200s')",
                           vi->name, c->g->tensors[c->g->inputs[0]].name);
        ms_status s = input_shape(c, vi, &v.rank, v.dims);
        if (s) return s;
        v.numel = 1;
        for (int d = 0; d < v.rank; d++) v.numel *= v.dims[d];
        if (v.numel > OX_MAX_ELEMENTS) return ox_fail(c, MS_ERR_UNSUPPORTED, "graph input '%.200s' is too large", vi->name);
        c->batch = v.dims[0];
        int64_t ir[MS_MAX_DIMS];
        ox_ir_shape(v.rank, v.dims, ir);
        v.tensor = ms_graph_add_tensor(c->g, vi->name, v.rank, ir, MS_DT_F32);
        int *in = malloc(sizeof *in);
        if (v.tensor < 0 || !in) {
            free(in);
            return ox_fail(c, MS_ERR_NOMEM, "out of memory");
        }
        in[0] = v.tensor;
        c->g->inputs = in;
        c->g->n_inputs = 1;
        if ((s = ox_add_value(c, &v))) return s;
    }
    if (c->g->n_inputs != 1) return ox_fail(c, MS_ERR_UNSUPPORTED, "the graph has no input that is not an initializer");
    return MS_OK;
}

static ms_status add_outputs(ox_ctx *c, const Onnx__GraphProto *gp)
{
    if (gp->n_output < 1) return ox_fail(c, MS_ERR_FORMAT, "the graph has no outputs");
    if (gp->n_output > 16) return ox_fail(c, MS_ERR_UNSUPPORTED, "the graph has %zu outputs (at most 16)", gp->n_output);
    c->g->outputs = malloc(gp->n_output * sizeof *c->g->outputs);
    if (!c->g->outputs) return ox_fail(c, MS_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < gp->n_output; k++) {
        const char *nm = gp->output[k] && gp->output[k]->name ? gp->output[k]->name : "";
        ox_value *v = ox_find(c, nm);
        if (!v) return ox_fail(c, MS_ERR_FORMAT, "graph output '%.200s' is computed by no node", nm);
        if (v->is_const) return ox_fail(c, MS_ERR_UNSUPPORTED, "graph output '%.200s' is a constant", nm);
        if (v->shuffle || v->rank > MS_MAX_DIMS)
            return ox_fail(c, MS_ERR_UNSUPPORTED, "graph output '%.200s' has %d dimensions (at most %d)", nm, v->rank, MS_MAX_DIMS);
        int t = v->tensor;
        if (t == c->g->inputs[0]) {
            /* the graph passes its input through (Identity, Dropout): a copy node */
            const ms_tensor *x = &c->g->tensors[t];
            int64_t shape[MS_MAX_DIMS];
            memcpy(shape, x->shape, sizeof shape);
            int y = ms_graph_add_tensor(c->g, nm, x->ndim, shape, MS_DT_F32);
            if (y < 0 || ms_graph_add_node(c->g, MS_OP_COPY, nm, &t, 1, y) < 0) return ox_fail(c, MS_ERR_NOMEM, "out of memory");
            t = y;
        }
        c->g->outputs[c->g->n_outputs++] = t;
    }
    return MS_OK;
}

/* "a,b,c" -> 3 finite floats. */
static bool parse_three(const char *s, float out[3])
{
    for (int k = 0; k < 3; k++) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v)) return false;
        out[k] = (float)v;
        s = end;
        while (*s == ' ') s++;
        if (k < 2) {
            if (*s != ',') return false;
            s++;
        }
    }
    while (*s == ' ') s++;
    return *s == '\0';
}

/* metadata_props: mean, std (three values each, in the model's channel order, on the
 * scale of `range`), range (the pixel scale they assume: 1 for pixels / 255, 255 for
 * raw pixels), channel_order (RGB or BGR). Without them: pixels / 255, RGB. */
static ms_status set_input_spec(ox_ctx *c, const Onnx__ModelProto *m)
{
    ms_input_spec *sp = &c->g->input_spec;
    const ms_tensor *x = &c->g->tensors[c->g->inputs[0]];
    if (x->ndim == 4) {
        sp->height = (int)x->shape[1];
        sp->width = (int)x->shape[2];
        sp->channels = (int)x->shape[3];
    }
    sp->mean = 0.0f;
    sp->scale = 1.0f / 255.0f;
    sp->origin = "default (no normalisation in the file: pixels / 255)";
    float mean[3] = {0, 0, 0}, stdv[3] = {1, 1, 1}, range = 1.0f;
    bool have_mean = false, have_std = false;
    for (size_t k = 0; k < m->n_metadata_props; k++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[k];
        if (!e || !e->key || !e->value) continue;
        const char *key = e->key, *val = e->value;
        if (!strcmp(key, "mean")) {
            if (!parse_three(val, mean)) return ox_fail(c, MS_ERR_FORMAT, "metadata 'mean' is '%.100s', not three numbers", val);
            have_mean = true;
        } else if (!strcmp(key, "std")) {
            if (!parse_three(val, stdv) || !(stdv[0] > 0) || !(stdv[1] > 0) || !(stdv[2] > 0))
                return ox_fail(c, MS_ERR_FORMAT, "metadata 'std' is '%.100s', not three positive numbers", val);
            have_std = true;
        } else if (!strcmp(key, "range")) {
            char *end;
            double r = strtod(val, &end);
            if (end == val || *end || !(r > 0) || r > 65536)
                return ox_fail(c, MS_ERR_FORMAT, "metadata 'range' is '%.100s', not a positive number (1 or 255)", val);
            range = (float)r;
        } else if (!strcmp(key, "channel_order")) {
            if (!strcmp(val, "RGB") || !strcmp(val, "rgb")) sp->bgr = false;
            else if (!strcmp(val, "BGR") || !strcmp(val, "bgr")) sp->bgr = true;
            else return ox_fail(c, MS_ERR_FORMAT, "metadata 'channel_order' is '%.100s', not RGB or BGR", val);
        }
    }
    if (!have_mean && !have_std) {
        sp->scale = range / 255.0f;
        if (range != 1.0f) sp->origin = "metadata_props (range)";
        return MS_OK;
    }
    if (sp->channels != 3) return ox_fail(c, MS_ERR_UNSUPPORTED, "metadata 'mean'/'std' need a 3-channel NCHW input");
    sp->per_channel = true;
    for (int k = 0; k < 3; k++) {
        sp->chan_mean[k] = mean[k] * 255.0f / range;
        sp->chan_scale[k] = range / (255.0f * stdv[k]);
    }
    sp->origin = "metadata_props (mean, std, range, channel_order)";
    return MS_OK;
}

static ms_status check_opsets(ox_ctx *c, const Onnx__ModelProto *m)
{
    c->opset = -1;
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[k];
        if (!o) continue;
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) c->opset = (int)o->version;
    }
    if (c->opset < 0) return ox_fail(c, MS_ERR_FORMAT, "the model imports no version of the default operator set");
    if (c->opset < 7 || c->opset > 17)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "operator set version %d is not supported (7 to 17 are)", c->opset);
    return MS_OK;
}

/* ---- the import -------------------------------------------------------------------- */

static ms_status import_graph(ox_ctx *c, const Onnx__ModelProto *m, const ms_onnx_options *opts)
{
    ms_status s = check_opsets(c, m);
    if (s) return s;
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) return ox_fail(c, MS_ERR_FORMAT, "the model has no graph");
    if (gp->n_node > OX_MAX_NODES || gp->n_initializer > OX_MAX_NODES || gp->n_input > OX_MAX_NODES)
        return ox_fail(c, MS_ERR_UNSUPPORTED, "the graph has more than %d nodes, initializers or inputs", OX_MAX_NODES);
    if (gp->n_sparse_initializer) return ox_fail(c, MS_ERR_UNSUPPORTED, "sparse initializers are not supported");
    size_t cap = gp->n_initializer + gp->n_input + 1;
    for (size_t k = 0; k < gp->n_node; k++) {
        if (gp->node[k] && gp->node[k]->n_output > 64)
            return ox_fail(c, MS_ERR_UNSUPPORTED, "node %zu has %zu outputs (at most 64)", k, gp->node[k]->n_output);
        cap += gp->node[k] ? gp->node[k]->n_output : 0;
    }
    if (!(c->vals = calloc(cap, sizeof *c->vals))) return ox_fail(c, MS_ERR_NOMEM, "out of memory");
    c->cap_vals = (int)cap;
    for (size_t k = 0; k < gp->n_initializer; k++) {
        ox_value v;
        if (!gp->initializer[k]) return ox_fail(c, MS_ERR_FORMAT, "initializer %zu is empty", k);
        if ((s = ox_tensor_value(c, gp->initializer[k], "initializer", &v))) return s;
        if ((s = ox_add_value(c, &v))) {
            ox_value_free(&v);
            return s;
        }
    }
    if ((s = add_inputs(c, gp, opts))) return s;
    for (size_t k = 0; k < gp->n_node; k++) {
        if (!gp->node[k]) return ox_fail(c, MS_ERR_FORMAT, "node %zu is empty", k);
        if ((s = ox_add_node(c, gp->node[k], (int)k))) return s;
    }
    c->node = NULL;
    if ((s = add_outputs(c, gp))) return s;
    if ((s = set_input_spec(c, m))) return s;
    return MS_OK;
}

/* After import the IR's own shape inference must agree with every shape computed here. */
static ms_status check_shapes(ox_ctx *c)
{
    ms_graph *g = c->g;
    int64_t *saved = malloc(((size_t)g->n_tensors + 1) * MS_MAX_DIMS * sizeof *saved);
    if (!saved) return ox_fail(c, MS_ERR_NOMEM, "out of memory");
    for (int t = 0; t < g->n_tensors; t++) memcpy(saved + (size_t)t * MS_MAX_DIMS, g->tensors[t].shape, sizeof g->tensors[t].shape);
    ms_status s = ms_graph_infer_shapes(g, c->err);
    for (int t = 0; !s && t < g->n_tensors; t++) {
        const ms_tensor *x = &g->tensors[t];
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != saved[(size_t)t * MS_MAX_DIMS + d]) {
                s = ox_fail(c, MS_ERR_FORMAT, "tensor '%.200s': dimension %d is %lld in the graph and %lld by import",
                            x->name, d, (long long)x->shape[d], (long long)saved[(size_t)t * MS_MAX_DIMS + d]);
                break;
            }
    }
    free(saved);
    return s;
}

ms_status ms_onnx_import(const uint8_t *data, size_t size, const char *name, const ms_onnx_options *opts,
                         ms_graph **out, ms_error *err)
{
    *out = NULL;
    ox_ctx c = {.name = name ? name : "model.onnx", .err = err, .node_index = -1};
    ox_alloc_budget b = {.budget = size * 4 + ((size_t)64 << 20)};
    Onnx__ModelProto *m = NULL;
    ms_status s = unpack_model(&c, data, size, &b, &m);
    if (!s && !(c.g = ms_graph_new())) s = ox_fail(&c, MS_ERR_NOMEM, "out of memory");
    if (!s && !(c.g->source = strdup(c.name))) s = ox_fail(&c, MS_ERR_NOMEM, "out of memory");
    if (!s) {
        c.g->nchw = true;
        s = import_graph(&c, m, opts);
    }
    if (!s) s = check_shapes(&c);
    for (int k = 0; k < c.n_vals; k++) ox_value_free(&c.vals[k]);
    free(c.vals);
    if (m) {
        ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = &b};
        onnx__model_proto__free_unpacked(m, &alloc);
    }
    if (s) {
        ms_graph_free(c.g);
        return s;
    }
    /* the input spec's origin is a static string: nothing of the model is kept */
    *out = c.g;
    return MS_OK;
}

bool ms_onnx_detect(const char *path, const uint8_t *data, size_t size)
{
    size_t n = path ? strlen(path) : 0;
    if (n >= 5 && !strcasecmp(path + n - 5, ".onnx")) return true;
    if (n >= 7 && !strcasecmp(path + n - 7, ".tflite")) return false;
    if (size >= 8 && !memcmp(data + 4, "TFL3", 4)) return false;
    /* a ModelProto starts with ir_version (field 1, varint): 0x08 */
    return size >= 2 && data[0] == 0x08;
}

ms_status ms_onnx_read_tensor(const uint8_t *data, size_t size, const char *name, ms_onnx_tensor *out,
                              ms_error *err)
{
    memset(out, 0, sizeof *out);
    ox_ctx c = {.name = name ? name : "tensor.pb", .err = err};
    ox_alloc_budget b = {.budget = size * 4 + ((size_t)16 << 20)};
    ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = &b};
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(&alloc, size, data);
    if (!t) return ox_fail(&c, MS_ERR_FORMAT, "not a valid TensorProto");
    ox_value v;
    ms_status s = ox_tensor_value(&c, t, "tensor", &v);
    if (!s) {
        out->name = strdup(v.name);
        out->rank = v.rank;
        memcpy(out->dims, v.dims, sizeof out->dims);
        out->numel = v.numel;
        if (v.is_int) {
            out->data = malloc(((size_t)v.numel + 1) * sizeof *out->data);
            for (int64_t k = 0; out->data && k < v.numel; k++) out->data[k] = (float)v.i[k];
        } else {
            out->data = v.f;
            v.f = NULL;
        }
        if (!out->name || !out->data) s = ox_fail(&c, MS_ERR_NOMEM, "out of memory");
        ox_value_free(&v);
    }
    onnx__tensor_proto__free_unpacked(t, &alloc);
    if (s) ms_onnx_tensor_free(out);
    return s;
}

void ms_onnx_tensor_free(ms_onnx_tensor *t)
{
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

static void append(char *buf, size_t size, const char *sep, const char *item)
{
    size_t n = strlen(buf);
    if (n + strlen(sep) + strlen(item) + 1 < size) snprintf(buf + n, size - n, "%s%s", n ? sep : "", item);
}

ms_status ms_onnx_describe(const uint8_t *data, size_t size, const char *name, ms_onnx_info *info, ms_error *err)
{
    memset(info, 0, sizeof *info);
    ox_ctx c = {.name = name ? name : "model.onnx", .err = err};
    ox_alloc_budget b = {.budget = size * 4 + ((size_t)64 << 20)};
    Onnx__ModelProto *m = NULL;
    ms_status s = unpack_model(&c, data, size, &b, &m);
    if (s) return s;
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) s = ox_fail(&c, MS_ERR_FORMAT, "the model has no graph");
    for (size_t k = 0; !s && k < gp->n_node; k++) {
        const char *op = gp->node[k] && gp->node[k]->op_type ? gp->node[k]->op_type : "?";
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++) seen = gp->node[j] && gp->node[j]->op_type && !strcmp(gp->node[j]->op_type, op);
        if (!seen) append(info->ops, sizeof info->ops, "+", op);
    }
    for (size_t k = 0; !s && k < gp->n_input; k++) {
        const char *nm = gp->input[k] && gp->input[k]->name ? gp->input[k]->name : "";
        bool init = false;
        for (size_t j = 0; j < gp->n_initializer && !init; j++)
            init = gp->initializer[j] && gp->initializer[j]->name && !strcmp(gp->initializer[j]->name, nm);
        if (init) continue;
        append(info->inputs, sizeof info->inputs, ",", nm);
        info->n_inputs++;
    }
    for (size_t k = 0; !s && k < gp->n_output; k++) {
        append(info->outputs, sizeof info->outputs, ",", gp->output[k] && gp->output[k]->name ? gp->output[k]->name : "");
        info->n_outputs++;
    }
    ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = &b};
    onnx__model_proto__free_unpacked(m, &alloc);
    return s;
}
