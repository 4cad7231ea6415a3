/* TFLite import, model half: the file's root tables, its tensors (shape, type,
 * quantisation, constant data) and the graph's inputs, outputs and input spec. The
 * operators are mapped in tflite_ops.c. */
#include "formats/tflite.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite_internal.h"

/* Activations and constants larger than this are refused (1 GiB of float32). */
#define TFL_MAX_ELEMENTS ((int64_t)1 << 28)

ms_status tfl_fail(tfl_ctx *c, ms_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ms_errorf(c->err, code, "%s: %s%s", c->name, c->where, msg);
}

ms_status tfl_prefix(tfl_ctx *c, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ms_error_prefix(c->err, "%s: %s%s", c->name, c->where, what);
}

/* A file tensor as stored: enough to build a graph tensor or read a constant operand. */
typedef struct {
    ms_fb_table table;
    const char *name;
    size_t name_len;
    int ndim;
    int64_t shape[MS_MAX_DIMS];
    int8_t type;
    ms_dtype dtype;
    size_t elem_size;
    int64_t numel;
    const uint8_t *bytes; /* constant data, or NULL for an activation */
    size_t n_bytes;
} tfl_raw;

static ms_status dtype_of(int8_t type, ms_dtype *dt, size_t *elem)
{
    switch (type) {
    case TFL_FLOAT32: *dt = MS_DT_F32; *elem = 4; return MS_OK;
    case TFL_UINT8: *dt = MS_DT_U8; *elem = 1; return MS_OK;
    case TFL_INT8: *dt = MS_DT_I8; *elem = 1; return MS_OK;
    case TFL_INT32: *dt = MS_DT_I32; *elem = 4; return MS_OK;
    case TFL_INT64: *dt = MS_DT_I64; *elem = 8; return MS_OK;
    }
    return MS_ERR_UNSUPPORTED;
}

/* The bytes of buffer `index` (NULL, 0 for an empty one). Buffers of files over 2 GiB
 * may live outside the flatbuffer, at `offset` from the start of the file. */
static ms_status buffer_bytes(tfl_ctx *c, uint32_t index, const uint8_t **bytes, size_t *n)
{
    *bytes = NULL;
    *n = 0;
    ms_fb_table b;
    ms_fb_vec data;
    uint64_t offset, size;
    ms_status s = ms_fb_vec_table(&c->buffers, index, &b, c->err);
    if (!s) s = ms_fb_vec_field(&b, TFL_B_DATA, 1, &data, c->err);
    if (!s) s = ms_fb_u64(&b, TFL_B_OFFSET, 0, &offset, c->err);
    if (!s) s = ms_fb_u64(&b, TFL_B_SIZE, 0, &size, c->err);
    if (s) return tfl_prefix(c, "buffer %u", (unsigned)index);
    if (data.n) {
        *bytes = ms_fb_vec_bytes(&data);
        *n = data.n;
    } else if (offset > 1) {
        if (offset > c->fb.size || size > c->fb.size - offset)
            return tfl_fail(c, MS_ERR_FORMAT,
                            "buffer %u: %llu bytes at offset %llu lie outside the %zu-byte file",
                            (unsigned)index, (unsigned long long)size,
                            (unsigned long long)offset, c->fb.size);
        *bytes = c->fb.buf + offset;
        *n = (size_t)size;
    }
    return MS_OK;
}

/* Reads file tensor `index`: name, shape, type and constant bytes, all checked. */
static ms_status read_raw(tfl_ctx *c, int32_t index, tfl_raw *r)
{
    memset(r, 0, sizeof *r);
    if (index < 0 || (uint32_t)index >= c->tensors.n)
        return tfl_fail(c, MS_ERR_FORMAT, "tensor index %d is out of range (the subgraph has %u)",
                        index, (unsigned)c->tensors.n);
    ms_fb_vec shape;
    uint32_t buffer;
    uint8_t is_variable;
    ms_status s = ms_fb_vec_table(&c->tensors, (uint32_t)index, &r->table, c->err);
    if (!s) s = ms_fb_string_field(&r->table, TFL_T_NAME, &r->name, &r->name_len, c->err);
    if (!s) s = ms_fb_vec_field(&r->table, TFL_T_SHAPE, 4, &shape, c->err);
    if (!s) s = ms_fb_i8(&r->table, TFL_T_TYPE, TFL_FLOAT32, &r->type, c->err);
    if (!s) s = ms_fb_u32(&r->table, TFL_T_BUFFER, 0, &buffer, c->err);
    if (!s) s = ms_fb_u8(&r->table, TFL_T_IS_VARIABLE, 0, &is_variable, c->err);
    if (s) return tfl_prefix(c, "tensor %d", index);
    if (!r->name) r->name = "";
    int nl = r->name_len > 200 ? 200 : (int)r->name_len;
    if (dtype_of(r->type, &r->dtype, &r->elem_size))
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s': element type %d is not supported",
                        index, nl, r->name, r->type);
    if (is_variable || ms_fb_has(&r->table, TFL_T_SPARSITY))
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s': variable and sparse tensors are not supported",
                        index, nl, r->name);
    if (shape.n > MS_MAX_DIMS)
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s' has %u dimensions, at most %d are supported",
                        index, nl, r->name, (unsigned)shape.n, MS_MAX_DIMS);
    r->ndim = (int)shape.n;
    r->numel = 1;
    for (int d = 0; d < r->ndim; d++) {
        r->shape[d] = ms_fb_vec_i32(&shape, (uint32_t)d);
        if (r->shape[d] < 0 || r->shape[d] > TFL_MAX_ELEMENTS)
            return tfl_fail(c, MS_ERR_FORMAT, "tensor %d '%.*s': dimension %d is %lld", index, nl,
                            r->name, d, (long long)r->shape[d]);
        r->numel *= r->shape[d];
        if (r->numel > TFL_MAX_ELEMENTS)
            return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s' has more than %lld elements",
                            index, nl, r->name, (long long)TFL_MAX_ELEMENTS);
    }
    if (buffer >= c->buffers.n)
        return tfl_fail(c, MS_ERR_FORMAT, "tensor %d '%.*s': buffer %u is out of range (the model has %u)",
                        index, nl, r->name, (unsigned)buffer, (unsigned)c->buffers.n);
    if ((s = buffer_bytes(c, buffer, &r->bytes, &r->n_bytes))) return s;
    if (r->bytes && r->n_bytes != (size_t)r->numel * r->elem_size)
        return tfl_fail(c, MS_ERR_FORMAT, "tensor %d '%.*s': buffer %u holds %zu bytes, the shape needs %zu",
                        index, nl, r->name, (unsigned)buffer, r->n_bytes,
                        (size_t)r->numel * r->elem_size);
    return MS_OK;
}

/* Reads the tensor's quantisation parameters into q (allocated; freed with the graph). */
static ms_status read_quant(tfl_ctx *c, int32_t index, const tfl_raw *r, ms_quant *q)
{
    ms_fb_table qt;
    bool present;
    ms_fb_vec scale, zp;
    uint8_t details;
    int32_t axis;
    ms_status s = ms_fb_table_field(&r->table, TFL_T_QUANT, &qt, &present, c->err);
    if (s || !present) return s ? tfl_prefix(c, "tensor %d", index) : MS_OK;
    s = ms_fb_vec_field(&qt, TFL_Q_SCALE, 4, &scale, c->err);
    if (!s) s = ms_fb_vec_field(&qt, TFL_Q_ZERO_POINT, 8, &zp, c->err);
    if (!s) s = ms_fb_u8(&qt, TFL_Q_DETAILS_TYPE, 0, &details, c->err);
    if (!s) s = ms_fb_i32(&qt, TFL_Q_DIM, 0, &axis, c->err);
    if (s) return tfl_prefix(c, "tensor %d quantization", index);
    int nl = r->name_len > 200 ? 200 : (int)r->name_len;
    if (details)
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s': custom quantization is not supported",
                        index, nl, r->name);
    if (scale.n == 0) return MS_OK;
    if (zp.n != scale.n)
        return tfl_fail(c, MS_ERR_FORMAT, "tensor %d '%.*s': %u scales but %u zero points", index, nl,
                        r->name, (unsigned)scale.n, (unsigned)zp.n);
    if (scale.n > 1 && (axis < 0 || axis >= r->ndim || r->shape[axis] != scale.n))
        return tfl_fail(c, MS_ERR_FORMAT,
                        "tensor %d '%.*s': %u per-channel scales do not match dimension %d",
                        index, nl, r->name, (unsigned)scale.n, axis);
    q->scale = malloc(scale.n * sizeof *q->scale);
    q->zero_point = malloc(scale.n * sizeof *q->zero_point);
    if (!q->scale || !q->zero_point)
        return tfl_fail(c, MS_ERR_NOMEM, "tensor %d: out of memory for quantization", index);
    q->n = (int)scale.n;
    q->axis = scale.n > 1 ? axis : 0;
    for (uint32_t i = 0; i < scale.n; i++) {
        float sc = ms_fb_vec_f32(&scale, i);
        int64_t z = ms_fb_vec_i64(&zp, i);
        if (!isfinite(sc) || sc < 0 || z < INT32_MIN || z > INT32_MAX)
            return tfl_fail(c, MS_ERR_FORMAT, "tensor %d '%.*s': bad quantization scale %g / zero point %lld",
                            index, nl, r->name, (double)sc, (long long)z);
        q->scale[i] = sc;
        q->zero_point[i] = (int32_t)z;
    }
    return MS_OK;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Element i of raw little-endian data as a double (exact for every supported type but
 * int64 beyond 2^53). */
static double raw_value(const uint8_t *p, ms_dtype dt, int64_t i)
{
    switch (dt) {
    case MS_DT_F32: {
        uint32_t u = le32(p + i * 4);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case MS_DT_U8: return p[i];
    case MS_DT_I8: return (int8_t)p[i];
    case MS_DT_I32: return (int32_t)le32(p + i * 4);
    case MS_DT_I64: {
        uint64_t u = (uint64_t)le32(p + i * 8) | (uint64_t)le32(p + i * 8 + 4) << 32;
        return (double)(int64_t)u;
    }
    }
    return 0;
}

/* Fills t->data with the float values of t->qdata (as stored), dequantised with t->quant. */
static void dequantise(ms_tensor *t)
{
    int64_t n = ms_tensor_numel(t);
    const uint8_t *q = t->qdata;
    bool byte = t->dtype == MS_DT_U8 || t->dtype == MS_DT_I8;
    if (byte && t->quant.n <= 1) {
        /* 8-bit values with one scale: a table of the 256 possible results */
        float lut[256];
        for (int v = 0; v < 256; v++) {
            double x = t->dtype == MS_DT_U8 ? v : (int8_t)v;
            lut[v] = (float)(t->quant.n ? t->quant.scale[0] * (x - t->quant.zero_point[0]) : x);
        }
        for (int64_t i = 0; i < n; i++) t->data[i] = lut[q[i]];
        return;
    }
    int64_t inner = 1;
    int64_t channels = t->quant.n > 1 ? t->shape[t->quant.axis] : 1;
    for (int d = t->quant.axis + 1; t->quant.n > 1 && d < t->ndim; d++) inner *= t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        double v = raw_value(q, t->dtype, i);
        if (t->quant.n && t->dtype != MS_DT_F32) {
            int64_t ch = t->quant.n > 1 ? (i / inner) % channels : 0;
            v = t->quant.scale[ch] * (v - t->quant.zero_point[ch]);
        }
        t->data[i] = (float)v;
    }
}

/* Rewrites a [1, KH, KW, C] depthwise weight as [C, KH, KW, 1] (data and qdata). */
static ms_status to_depthwise_layout(tfl_ctx *c, ms_tensor *t, size_t elem)
{
    int64_t kh = t->shape[1], kw = t->shape[2], ch = t->shape[3];
    float *data = malloc((size_t)(kh * kw * ch) * sizeof *data + 1);
    uint8_t *q = malloc((size_t)(kh * kw * ch) * elem + 1);
    if (!data || !q) {
        free(data);
        free(q);
        return tfl_fail(c, MS_ERR_NOMEM, "tensor '%s': out of memory", t->name);
    }
    const uint8_t *src = t->qdata;
    for (int64_t y = 0; y < kh * kw; y++)
        for (int64_t o = 0; o < ch; o++) {
            data[o * kh * kw + y] = t->data[y * ch + o];
            memcpy(q + (o * kh * kw + y) * (int64_t)elem, src + (y * ch + o) * (int64_t)elem, elem);
        }
    free(t->data);
    free(t->qdata);
    t->data = data;
    t->qdata = q;
    int64_t shape[4] = {ch, kh, kw, 1};
    memcpy(t->shape, shape, sizeof shape);
    static const int axis_map[4] = {3, 1, 2, 0};
    if (t->quant.n > 1) t->quant.axis = axis_map[t->quant.axis];
    return MS_OK;
}

static ms_status grow_produced(tfl_ctx *c)
{
    if (c->g->n_tensors <= c->n_produced) return MS_OK;
    bool *p = realloc(c->produced, (size_t)c->g->n_tensors * sizeof *p);
    if (!p) return tfl_fail(c, MS_ERR_NOMEM, "out of memory");
    memset(p + c->n_produced, 0, (size_t)(c->g->n_tensors - c->n_produced) * sizeof *p);
    c->produced = p;
    c->n_produced = c->g->n_tensors;
    return MS_OK;
}

/* Adds file tensor `index` to the graph with its quantisation and constant data. */
static ms_status add_tensor(tfl_ctx *c, int32_t index, bool depthwise, int *id)
{
    tfl_raw r;
    ms_status s = read_raw(c, index, &r);
    if (s) return s;
    char *name = strndup(r.name, r.name_len);
    if (!name) return tfl_fail(c, MS_ERR_NOMEM, "out of memory");
    int tid = ms_graph_add_tensor(c->g, name, r.ndim, r.shape, r.dtype);
    free(name);
    if (tid < 0) return tfl_fail(c, MS_ERR_NOMEM, "tensor %d: out of memory", index);
    if ((s = grow_produced(c))) return s;
    ms_tensor *t = &c->g->tensors[tid];
    if ((s = read_quant(c, index, &r, &t->quant))) return s;
    if (depthwise && (!r.bytes || r.ndim != 4 || r.shape[0] != 1))
        return tfl_fail(c, MS_ERR_FORMAT, "tensor %d '%s': a depthwise weight must be a constant [1, KH, KW, C]",
                        index, t->name);
    if (r.bytes) {
        t->qdata = malloc(r.n_bytes + 1);
        t->data = malloc((size_t)r.numel * sizeof *t->data + 1);
        if (!t->qdata || !t->data)
            return tfl_fail(c, MS_ERR_NOMEM, "tensor %d: out of memory for %zu bytes", index,
                            r.n_bytes);
        memcpy(t->qdata, r.bytes, r.n_bytes);
        t->qbytes = r.n_bytes;
        dequantise(t);
        if (depthwise && (s = to_depthwise_layout(c, t, r.elem_size))) return s;
        if (t->dtype == MS_DT_F32) {
            /* the float values are the stored values: keep one copy */
            free(t->qdata);
            t->qdata = NULL;
            t->qbytes = 0;
        }
    }
    c->tensor_id[index] = tid;
    c->use[index] = depthwise ? TFL_USE_DEPTHWISE : TFL_USE_PLAIN;
    *id = tid;
    return MS_OK;
}

ms_status tfl_tensor(tfl_ctx *c, int32_t index, bool depthwise, int *id)
{
    if (index < 0 || (uint32_t)index >= c->tensors.n)
        return tfl_fail(c, MS_ERR_FORMAT, "tensor index %d is out of range (the subgraph has %u)",
                        index, (unsigned)c->tensors.n);
    if (c->tensor_id[index] < 0) return add_tensor(c, index, depthwise, id);
    if (c->use[index] != (depthwise ? TFL_USE_DEPTHWISE : TFL_USE_PLAIN))
        return tfl_fail(c, MS_ERR_UNSUPPORTED,
                        "tensor %d '%s' is used both as a depthwise weight and in another role",
                        index, c->g->tensors[c->tensor_id[index]].name);
    *id = c->tensor_id[index];
    return MS_OK;
}

ms_status tfl_const_ints(tfl_ctx *c, int32_t index, int64_t *vals, int max, int *n)
{
    tfl_raw r;
    ms_status s = read_raw(c, index, &r);
    if (s) return s;
    int nl = r.name_len > 200 ? 200 : (int)r.name_len;
    if (!r.bytes || (r.dtype != MS_DT_I32 && r.dtype != MS_DT_I64))
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s' must be a constant int32 or int64 tensor",
                        index, nl, r.name);
    if (r.numel > max)
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "tensor %d '%.*s' has %lld values, at most %d are supported",
                        index, nl, r.name, (long long)r.numel, max);
    for (int64_t i = 0; i < r.numel; i++) {
        const uint8_t *p = r.bytes + i * (int64_t)r.elem_size;
        vals[i] = r.dtype == MS_DT_I32 ? (int32_t)le32(p)
                                       : (int64_t)((uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32);
    }
    *n = (int)r.numel;
    return MS_OK;
}

ms_status tfl_set_produced(tfl_ctx *c, int id)
{
    ms_status s = grow_produced(c);
    if (s) return s;
    if (id >= 0 && id < c->n_produced) c->produced[id] = true;
    return MS_OK;
}

bool tfl_is_produced(const tfl_ctx *c, int id)
{
    return id >= 0 && id < c->n_produced && c->produced[id];
}

static ms_status append_id(tfl_ctx *c, int **arr, int *n, int id)
{
    int *p = realloc(*arr, ((size_t)*n + 1) * sizeof *p);
    if (!p) return tfl_fail(c, MS_ERR_NOMEM, "out of memory");
    p[(*n)++] = id;
    *arr = p;
    return MS_OK;
}

static ms_status add_inputs(tfl_ctx *c, const ms_fb_vec *inputs)
{
    for (uint32_t i = 0; i < inputs->n; i++) {
        int id;
        ms_status s = tfl_tensor(c, ms_fb_vec_i32(inputs, i), false, &id);
        if (s) return s;
        if (c->g->tensors[id].data)
            return tfl_fail(c, MS_ERR_FORMAT, "graph input %u ('%s') is a constant", (unsigned)i,
                            c->g->tensors[id].name);
        if (tfl_is_produced(c, id))
            return tfl_fail(c, MS_ERR_FORMAT, "graph input %u ('%s') is listed twice", (unsigned)i,
                            c->g->tensors[id].name);
        if ((s = append_id(c, &c->g->inputs, &c->g->n_inputs, id))) return s;
        if ((s = tfl_set_produced(c, id))) return s;
    }
    if (!c->g->n_inputs) return tfl_fail(c, MS_ERR_FORMAT, "the main subgraph has no inputs");
    return MS_OK;
}

static ms_status add_outputs(tfl_ctx *c, const ms_fb_vec *outputs)
{
    for (uint32_t i = 0; i < outputs->n; i++) {
        int id;
        ms_status s = tfl_tensor(c, ms_fb_vec_i32(outputs, i), false, &id);
        if (s) return s;
        if (!tfl_is_produced(c, id))
            return tfl_fail(c, MS_ERR_FORMAT, "graph output %u ('%s') is computed by no operator",
                            (unsigned)i, c->g->tensors[id].name);
        if ((s = append_id(c, &c->g->outputs, &c->g->n_outputs, id))) return s;
    }
    if (!c->g->n_outputs) return tfl_fail(c, MS_ERR_FORMAT, "the main subgraph has no outputs");
    return MS_OK;
}

/* How pixels become the first input: see tflite.h. Non-image inputs leave it zero. */
static void set_input_spec(ms_graph *g)
{
    const ms_tensor *t = &g->tensors[g->inputs[0]];
    ms_input_spec *spec = &g->input_spec;
    memset(spec, 0, sizeof *spec);
    if (t->ndim != 4) return;
    spec->height = (int)t->shape[1];
    spec->width = (int)t->shape[2];
    spec->channels = (int)t->shape[3];
    if (t->quant.n == 1 && t->dtype == MS_DT_U8) {
        spec->mean = (float)t->quant.zero_point[0];
        spec->scale = t->quant.scale[0];
    } else if (t->quant.n == 1 && t->dtype == MS_DT_I8) {
        spec->mean = (float)t->quant.zero_point[0] + 128.0f;
        spec->scale = t->quant.scale[0];
    } else {
        spec->mean = 0.0f;
        spec->scale = 1.0f / 255.0f;
    }
}

/* Reads the model's root and main subgraph into the context's vectors. */
static ms_status open_model(tfl_ctx *c, ms_fb_vec *inputs, ms_fb_vec *outputs)
{
    ms_fb_table model, sg;
    ms_fb_vec subgraphs;
    uint32_t version;
    ms_status s = ms_fb_root(&c->fb, "TFL3", &model, c->err);
    if (s) return tfl_prefix(c, "not a TFLite model");
    s = ms_fb_u32(&model, TFL_MODEL_VERSION, 0, &version, c->err);
    if (!s) s = ms_fb_vec_field(&model, TFL_MODEL_OPCODES, 4, &c->opcodes, c->err);
    if (!s) s = ms_fb_vec_field(&model, TFL_MODEL_SUBGRAPHS, 4, &subgraphs, c->err);
    if (!s) s = ms_fb_vec_field(&model, TFL_MODEL_BUFFERS, 4, &c->buffers, c->err);
    if (s) return tfl_prefix(c, "model");
    if (version != 3)
        return tfl_fail(c, MS_ERR_UNSUPPORTED, "schema version %u, expected 3", (unsigned)version);
    if (!subgraphs.n) return tfl_fail(c, MS_ERR_FORMAT, "the model has no subgraphs");
    s = ms_fb_vec_table(&subgraphs, 0, &sg, c->err);
    if (!s) s = ms_fb_vec_field(&sg, TFL_SG_TENSORS, 4, &c->tensors, c->err);
    if (!s) s = ms_fb_vec_field(&sg, TFL_SG_INPUTS, 4, inputs, c->err);
    if (!s) s = ms_fb_vec_field(&sg, TFL_SG_OUTPUTS, 4, outputs, c->err);
    if (!s) s = ms_fb_vec_field(&sg, TFL_SG_OPERATORS, 4, &c->operators, c->err);
    if (s) return tfl_prefix(c, "subgraph 0");
    return MS_OK;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

/* Runs shape inference over the graph and checks that every computed tensor gets the
 * shape the file declares for it: a file whose shapes contradict its operators is
 * refused here rather than misread later. */
static ms_status check_shapes(tfl_ctx *c)
{
    ms_graph *g = c->g;
    typedef struct {
        int ndim;
        int64_t shape[MS_MAX_DIMS];
    } declared;
    declared *file = malloc((size_t)g->n_tensors * sizeof *file);
    if (!file) return tfl_fail(c, MS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_tensors; i++) {
        file[i].ndim = g->tensors[i].ndim;
        memcpy(file[i].shape, g->tensors[i].shape, sizeof file[i].shape);
    }
    ms_status s = ms_graph_infer_shapes(g, c->err);
    for (int i = 0; i < g->n_nodes && !s; i++) {
        const ms_tensor *t = &g->tensors[g->nodes[i].output];
        const declared *d = &file[g->nodes[i].output];
        if (d->ndim == t->ndim && !memcmp(d->shape, t->shape, (size_t)t->ndim * sizeof *t->shape))
            continue;
        char want[96], got[96];
        shape_str(d->ndim, d->shape, want, sizeof want);
        shape_str(t->ndim, t->shape, got, sizeof got);
        s = tfl_fail(c, MS_ERR_FORMAT, "tensor '%.200s' is declared %s but its operator gives %s",
                     t->name, want, got);
    }
    free(file);
    return s;
}

static ms_status build(tfl_ctx *c)
{
    ms_fb_vec inputs, outputs;
    ms_status s = open_model(c, &inputs, &outputs);
    if (s) return s;
    c->tensor_id = malloc((c->tensors.n + 1) * sizeof *c->tensor_id);
    c->use = calloc(c->tensors.n + 1, 1);
    if (!c->tensor_id || !c->use) return tfl_fail(c, MS_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < c->tensors.n; i++) c->tensor_id[i] = -1;
    if ((s = add_inputs(c, &inputs))) return s;
    for (uint32_t i = 0; i < c->operators.n; i++)
        if ((s = tfl_add_operator(c, i))) return s;
    if ((s = add_outputs(c, &outputs))) return s;
    set_input_spec(c->g);
    return check_shapes(c);
}

ms_status ms_tflite_import(const uint8_t *data, size_t size, const char *name, ms_graph **out,
                           ms_error *err)
{
    *out = NULL;
    tfl_ctx c = {.name = name, .fb = {data, size}, .err = err};
    c.g = ms_graph_new();
    if (!c.g || !(c.g->source = strdup(name))) {
        ms_graph_free(c.g);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", name);
    }
    ms_status s = build(&c);
    free(c.tensor_id);
    free(c.use);
    free(c.produced);
    if (s) {
        ms_graph_free(c.g);
        return s;
    }
    *out = c.g;
    return MS_OK;
}
