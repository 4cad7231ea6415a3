/* Tests of the TFLite importer on small models built here, byte by byte, for the
 * paths the shared MobileNets do not take: int8 with per-channel weights and biases,
 * an int8 input, PAD, MEAN, CONCATENATION with a fused activation, QUANTIZE,
 * DEQUANTIZE, standalone RELU6, LOGISTIC, a FULLY_CONNECTED with RELU_N1_TO_1, the
 * extended builtin_code field, custom and unknown operators, and a buffer stored
 * outside the flatbuffer. The expected values are computed by hand from the bytes. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite.h"

/* --- a minimal flatbuffer builder, filling a fixed array from the end towards the
 * front as FlatBuffers does, so every offset from a parent to a child is positive --- */

enum { CAP = 1 << 14 };

typedef struct {
    uint8_t buf[CAP];
    size_t head; /* the built bytes are buf[head, CAP) */
} fbb;

static size_t push(fbb *b, const void *p, size_t n)
{
    assert_true(b->head >= n);
    b->head -= n;
    memcpy(b->buf + b->head, p, n);
    return b->head;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static size_t push_len(fbb *b, uint32_t n)
{
    uint8_t l[4];
    put32(l, n);
    return push(b, l, 4);
}

/* A vector of n elements of `size` bytes (already little-endian). */
static size_t vec(fbb *b, const void *data, uint32_t n, size_t size)
{
    if (n) push(b, data, n * size);
    return push_len(b, n);
}

static size_t vec_i32(fbb *b, const int32_t *v, uint32_t n)
{
    uint8_t tmp[64 * 4];
    for (uint32_t i = 0; i < n; i++) put32(tmp + 4 * i, (uint32_t)v[i]);
    return vec(b, tmp, n, 4);
}

static size_t str(fbb *b, const char *s)
{
    push(b, "", 1);
    return vec(b, s, (uint32_t)strlen(s), 1);
}

/* A vector of offsets to already built tables or strings. */
static size_t vec_ref(fbb *b, const size_t *refs, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;) {
        uint8_t o[4];
        put32(o, (uint32_t)(refs[i] - (b->head - 4)));
        push(b, o, 4);
    }
    return push_len(b, n);
}

/* One field of a table: a scalar of `size` bytes, or (size 0) an offset to `ref`. */
typedef struct {
    int id;
    int size;
    uint64_t value;
    size_t ref;
} field;

static size_t table(fbb *b, const field *f, int n)
{
    size_t inline_size = 4;
    int slots = 0;
    for (int i = 0; i < n; i++) {
        inline_size += f[i].size ? (size_t)f[i].size : 4;
        if (f[i].id + 1 > slots) slots = f[i].id + 1;
    }
    assert_true(b->head >= inline_size);
    b->head -= inline_size;
    size_t pos = b->head, at = pos + 4;
    uint16_t offsets[32] = {0};
    for (int i = 0; i < n; i++) {
        offsets[f[i].id] = (uint16_t)(at - pos);
        if (f[i].size == 0) {
            put32(b->buf + at, (uint32_t)(f[i].ref - at));
            at += 4;
        } else {
            for (int k = 0; k < f[i].size; k++) b->buf[at++] = (uint8_t)(f[i].value >> (8 * k));
        }
    }
    uint8_t vt[4 + 2 * 32];
    uint16_t words[2 + 32] = {(uint16_t)(4 + 2 * slots), (uint16_t)inline_size};
    memcpy(words + 2, offsets, (size_t)slots * 2);
    for (int i = 0; i < 2 + slots; i++) {
        vt[2 * i] = (uint8_t)words[i];
        vt[2 * i + 1] = (uint8_t)(words[i] >> 8);
    }
    size_t vtpos = push(b, vt, (size_t)(4 + 2 * slots));
    put32(b->buf + pos, (uint32_t)(pos - vtpos));
    return pos;
}

#define F32(id, v) {id, 4, f32bits(v), 0}
#define I32(id, v) {id, 4, (uint32_t)(int32_t)(v), 0}
#define U8(id, v) {id, 1, (uint8_t)(v), 0}
#define U64(id, v) {id, 8, (uint64_t)(v), 0}
#define REF(id, r) {id, 0, 0, r}

static uint64_t f32bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Finishes the buffer: root offset and identifier in front; returns the file bytes. */
static size_t finish(fbb *b, size_t root, uint8_t **out)
{
    push(b, "TFL3", 4);
    uint8_t o[4];
    put32(o, (uint32_t)(root - (b->head - 4)));
    push(b, o, 4);
    *out = b->buf + b->head;
    return CAP - b->head;
}

/* --- the model: tensors, buffers, operators --- */

typedef struct {
    const char *name;
    int ndim;
    int32_t shape[4];
    int8_t type;
    const void *data; /* constant bytes, or NULL */
    size_t bytes;
    int nq;
    float scale[4];
    int64_t zp[4];
    int axis;
    bool external; /* data stored after the flatbuffer, found by Buffer.offset */
} tdef;

typedef struct {
    int opcode;
    int n_in;
    int32_t in[4];
    int32_t out;
    uint8_t options_type;
    field options[8];
    int n_options;
} odef;

typedef struct {
    int8_t deprecated;
    int32_t code;
    const char *custom;
} cdef;

/* Builds the model into b; external buffers' data sit at the end of the array (the
 * end of the file) at file offset ext_offset, known from a first pass. */
static size_t build(fbb *b, const tdef *t, int nt, const odef *o, int no, const cdef *c, int nc,
                    const int32_t *inputs, int ni, const int32_t *outputs, int nout,
                    uint64_t ext_offset, size_t *ext_pos, uint8_t **file)
{
    b->head = CAP;
    size_t ext_at = CAP;
    for (int i = nt - 1; i >= 0; i--)
        if (t[i].external) ext_at = push(b, t[i].data, t[i].bytes);
    *ext_pos = ext_at;
    size_t buffers[32], tensors[32], ops[32], codes[16];
    int nb = 0;
    buffers[nb++] = table(b, NULL, 0);
    int buffer_of[32];
    for (int i = 0; i < nt; i++) {
        buffer_of[i] = 0;
        if (!t[i].data) continue;
        if (t[i].external) {
            field f[2] = {U64(1, ext_offset), U64(2, t[i].bytes)};
            buffers[nb] = table(b, f, 2);
        } else {
            size_t d = vec(b, t[i].data, (uint32_t)t[i].bytes, 1);
            field f[1] = {REF(0, d)};
            buffers[nb] = table(b, f, 1);
        }
        buffer_of[i] = nb++;
    }
    for (int i = 0; i < nt; i++) {
        field f[8];
        int n = 0;
        f[n++] = (field)REF(0, vec_i32(b, t[i].shape, (uint32_t)t[i].ndim));
        f[n++] = (field)U8(1, t[i].type);
        f[n++] = (field)I32(2, buffer_of[i]);
        f[n++] = (field)REF(3, str(b, t[i].name));
        if (t[i].nq) {
            uint8_t sc[16], zp[32];
            for (int k = 0; k < t[i].nq; k++) {
                put32(sc + 4 * k, (uint32_t)f32bits(t[i].scale[k]));
                put32(zp + 8 * k, (uint32_t)t[i].zp[k]);
                put32(zp + 8 * k + 4, (uint32_t)((uint64_t)t[i].zp[k] >> 32));
            }
            size_t vs = vec(b, sc, (uint32_t)t[i].nq, 4), vz = vec(b, zp, (uint32_t)t[i].nq, 8);
            field q[3] = {REF(2, vs), REF(3, vz), I32(6, t[i].axis)};
            f[n++] = (field)REF(4, table(b, q, 3));
        }
        tensors[i] = table(b, f, n);
    }
    for (int i = 0; i < no; i++) {
        field f[4] = {I32(0, o[i].opcode), REF(1, vec_i32(b, o[i].in, (uint32_t)o[i].n_in)),
                      REF(2, vec_i32(b, &o[i].out, 1)), U8(3, o[i].options_type)};
        size_t opt = table(b, o[i].options, o[i].n_options);
        field all[5];
        memcpy(all, f, sizeof f);
        all[4] = (field)REF(4, opt);
        ops[i] = table(b, all, o[i].options_type ? 5 : 4);
    }
    for (int i = 0; i < nc; i++) {
        field f[4];
        int n = 0;
        f[n++] = (field)U8(0, c[i].deprecated);
        f[n++] = (field)I32(3, c[i].code);
        if (c[i].custom) f[n++] = (field)REF(1, str(b, c[i].custom));
        codes[i] = table(b, f, n);
    }
    field sg[4] = {REF(0, vec_ref(b, tensors, (uint32_t)nt)), REF(1, vec_i32(b, inputs, (uint32_t)ni)),
                   REF(2, vec_i32(b, outputs, (uint32_t)nout)), REF(3, vec_ref(b, ops, (uint32_t)no))};
    size_t subgraph = table(b, sg, 4);
    field m[4] = {I32(0, 3), REF(1, vec_ref(b, codes, (uint32_t)nc)), REF(2, vec_ref(b, &subgraph, 1)),
                  REF(4, vec_ref(b, buffers, (uint32_t)nb))};
    return finish(b, table(b, m, 4), file);
}

/* Builds twice (the second time with the external data's file offset) and imports. */
static ms_status import_model(const tdef *t, int nt, const odef *o, int no, const cdef *c, int nc,
                              const int32_t *in, int ni, const int32_t *out, int nout, ms_graph **g,
                              ms_error *err)
{
    static fbb b;
    uint8_t *file;
    size_t ext_pos;
    size_t size = build(&b, t, nt, o, no, c, nc, in, ni, out, nout, 2, &ext_pos, &file);
    size_t ext_offset = ext_pos - b.head;
    size = build(&b, t, nt, o, no, c, nc, in, ni, out, nout, ext_offset, &ext_pos, &file);
    uint8_t *copy = malloc(size);
    memcpy(copy, file, size);
    ms_status s = ms_tflite_import(copy, size, "synthetic.tflite", g, err);
    free(copy);
    return s;
}

/* Opcode table entries: index = what the operators use. CONV_2D is written the new
 * way (deprecated byte 0, the int32 field 3) to exercise max(). */
static const cdef codes[] = {
    {0, 3, NULL},   /* 0 CONV_2D */
    {4, 4, NULL},   /* 1 DEPTHWISE_CONV_2D */
    {34, 34, NULL}, /* 2 PAD */
    {40, 40, NULL}, /* 3 MEAN */
    {2, 2, NULL},   /* 4 CONCATENATION */
    {6, 6, NULL},   /* 5 DEQUANTIZE */
    {21, 21, NULL}, /* 6 RELU6 */
    {22, 22, NULL}, /* 7 RESHAPE */
    {9, 9, NULL},   /* 8 FULLY_CONNECTED */
};
static const cdef codes2[] = {
    {14, 14, NULL},   /* 0 LOGISTIC */
    {114, 114, NULL}, /* 1 QUANTIZE */
    {32, 32, "MyOp"}, /* 2 CUSTOM */
    {127, 150, NULL}, /* 3 GELU: only in the extended field */
    {19, 19, NULL},   /* 4 RELU */
};

static const int8_t w_conv[6] = {10, -10, 5, 5, -1, 2};           /* [3,1,1,2] */
static const int32_t b_conv[3] = {10, -20, 30};                    /* scales 0.5 * {0.1,0.2,0.3} */
static const int8_t w_dw[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; /* [1,2,2,3] */
static const int32_t paddings[8] = {0, 0, 1, 1, 2, 0, 0, 0};
static const int32_t axes[2] = {1, -2};
static const int32_t new_shape[2] = {1, 6};
static const float w_fc[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1}; /* [2,6] */

static void test_int8_per_channel_and_small_ops(void **state)
{
    (void)state;
    const tdef t[] = {
        /* 0 */ {"in", 4, {1, 4, 4, 2}, 9, NULL, 0, 1, {0.5f}, {-1}, 0, false},
        /* 1 */ {"w_conv", 4, {3, 1, 1, 2}, 9, w_conv, 6, 3, {0.1f, 0.2f, 0.3f}, {0, 0, 0}, 0, false},
        /* 2 */ {"b_conv", 1, {3}, 2, b_conv, 12, 3, {0.05f, 0.1f, 0.15f}, {0, 0, 0}, 0, false},
        /* 3 */ {"conv", 4, {1, 4, 4, 3}, 9, NULL, 0, 1, {0.1f}, {0}, 0, false},
        /* 4 */ {"w_dw", 4, {1, 2, 2, 3}, 9, w_dw, 12, 3, {1, 2, 3}, {0, 0, 0}, 3, true},
        /* 5 */ {"dw", 4, {1, 2, 2, 3}, 9, NULL, 0, 0, {0}, {0}, 0, false},
        /* 6 */ {"paddings", 2, {4, 2}, 2, paddings, 32, 0, {0}, {0}, 0, false},
        /* 7 */ {"pad", 4, {1, 4, 4, 3}, 9, NULL, 0, 0, {0}, {0}, 0, false},
        /* 8 */ {"axes", 1, {2}, 2, axes, 8, 0, {0}, {0}, 0, false},
        /* 9 */ {"mean", 4, {1, 1, 1, 3}, 9, NULL, 0, 0, {0}, {0}, 0, false},
        /* 10 */ {"concat", 4, {1, 1, 1, 6}, 9, NULL, 0, 0, {0}, {0}, 0, false},
        /* 11 */ {"deq", 4, {1, 1, 1, 6}, 0, NULL, 0, 0, {0}, {0}, 0, false},
        /* 12 */ {"relu6", 4, {1, 1, 1, 6}, 0, NULL, 0, 0, {0}, {0}, 0, false},
        /* 13 */ {"flat", 2, {1, 6}, 0, NULL, 0, 0, {0}, {0}, 0, false},
        /* 14 */ {"new_shape", 1, {2}, 2, new_shape, 8, 0, {0}, {0}, 0, false},
        /* 15 */ {"w_fc", 2, {2, 6}, 0, w_fc, 48, 0, {0}, {0}, 0, false},
        /* 16 */ {"fc", 2, {1, 2}, 0, NULL, 0, 0, {0}, {0}, 0, false},
    };
    const odef o[] = {
        {0, 3, {0, 1, 2}, 3, 1, {U8(0, 1), I32(1, 1), I32(2, 1), U8(3, 3)}, 4},
        {1, 2, {3, 4}, 5, 2, {U8(0, 0), I32(1, 2), I32(2, 2), I32(3, 1), U8(4, 0)}, 5},
        {2, 2, {5, 6}, 7, 0, {{0}}, 0},
        {3, 2, {7, 8}, 9, 27, {U8(0, 1)}, 1},
        {4, 2, {9, 9}, 10, 10, {I32(0, -1), U8(1, 1)}, 2},
        {5, 1, {10}, 11, 0, {{0}}, 0},
        {6, 1, {11}, 12, 0, {{0}}, 0},
        {7, 2, {12, 14}, 13, 0, {{0}}, 0},
        {8, 3, {13, 15, -1}, 16, 8, {U8(0, 2)}, 1},
    };
    const int32_t in[1] = {0}, out[1] = {16};
    ms_graph *g;
    ms_error err;
    ms_status s = import_model(t, 17, o, 9, codes, 9, in, 1, out, 1, &g, &err);
    if (s) fail_msg("%s", err.msg);
    /* 14 file tensors used (not the paddings, axes or shape operands) plus concat's
     * pre-activation tensor; 9 operators plus concat's clip */
    assert_int_equal(g->n_tensors, 15);
    assert_int_equal(g->n_nodes, 10);

    /* int8 input: pixel p is fed as p - 128, x = 0.5 * (p - 128 - (-1)) */
    assert_float_equal(g->input_spec.mean, 127.0f, 0);
    assert_float_equal(g->input_spec.scale, 0.5f, 0);

    const ms_node *conv = &g->nodes[0];
    assert_int_equal(conv->kind, MS_OP_CONV2D);
    assert_int_equal(conv->padding, MS_PAD_VALID);
    assert_float_equal(conv->act_max, 6.0f, 0);
    const ms_tensor *w = &g->tensors[conv->inputs[1]], *b = &g->tensors[conv->inputs[2]];
    assert_int_equal(w->quant.n, 3);
    assert_float_equal(w->data[0], 1.0f, 1e-6);  /* 0.1 * 10 */
    assert_float_equal(w->data[1], -1.0f, 1e-6); /* 0.1 * -10 */
    assert_float_equal(w->data[2], 1.0f, 1e-6);  /* 0.2 * 5 */
    assert_float_equal(w->data[5], 0.6f, 1e-6);  /* 0.3 * 2 */
    assert_float_equal(b->data[0], 0.5f, 1e-6);  /* 10 * 0.5 * 0.1 */
    assert_float_equal(b->data[1], -2.0f, 1e-6); /* -20 * 0.5 * 0.2 */
    assert_float_equal(b->data[2], 4.5f, 1e-6);  /* 30 * 0.5 * 0.3 */

    /* depthwise [1,2,2,3] per channel along 3 -> [3,2,2,1] per channel along 0;
     * its data came from the buffer outside the flatbuffer */
    const ms_node *dw = &g->nodes[1];
    assert_int_equal(dw->groups, 3);
    assert_int_equal(dw->stride_h, 2);
    assert_int_equal(dw->padding, MS_PAD_SAME);
    assert_int_equal(dw->n_inputs, 2);
    const ms_tensor *wd = &g->tensors[dw->inputs[1]];
    assert_int_equal(wd->shape[0], 3);
    assert_int_equal(wd->shape[3], 1);
    assert_int_equal(wd->quant.axis, 0);
    static const int8_t want_q[12] = {1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12};
    assert_memory_equal(wd->qdata, want_q, 12);
    for (int i = 0; i < 12; i++) assert_float_equal(wd->data[i], (float)((i / 4 + 1) * want_q[i]), 0);

    const ms_node *pad = &g->nodes[2];
    assert_int_equal(pad->kind, MS_OP_PAD);
    assert_int_equal(pad->pads[1][0], 1);
    assert_int_equal(pad->pads[1][1], 1);
    assert_int_equal(pad->pads[2][0], 2);
    assert_int_equal(pad->pads[2][1], 0);
    assert_int_equal(pad->n_inputs, 1);
    const ms_node *mean = &g->nodes[3];
    assert_int_equal(mean->kind, MS_OP_MEAN);
    assert_int_equal(mean->axes_mask, 0x6u);
    assert_true(mean->keep_dims);
    const ms_node *cat = &g->nodes[4], *clip = &g->nodes[5];
    assert_int_equal(cat->kind, MS_OP_CONCAT);
    assert_int_equal(cat->axis, 3);
    assert_int_equal(cat->n_inputs, 2);
    assert_int_equal(clip->kind, MS_OP_CLIP);
    assert_int_equal(clip->inputs[0], cat->output);
    assert_float_equal(clip->act_min, 0.0f, 0);
    assert_true(isinf(clip->act_max));
    assert_int_equal(g->nodes[6].kind, MS_OP_COPY);
    assert_int_equal(g->nodes[7].kind, MS_OP_CLIP);
    assert_float_equal(g->nodes[7].act_max, 6.0f, 0);
    assert_int_equal(g->nodes[8].kind, MS_OP_RESHAPE);
    const ms_node *fc = &g->nodes[9];
    assert_int_equal(fc->kind, MS_OP_FULLY_CONNECTED);
    assert_int_equal(fc->n_inputs, 2);
    assert_float_equal(fc->act_min, -1.0f, 0);
    assert_float_equal(fc->act_max, 1.0f, 0);
    assert_float_equal(g->tensors[fc->inputs[1]].data[11], -1.0f, 0);
    assert_null(g->tensors[fc->inputs[1]].qdata);
    ms_graph_free(g);
}

static void test_unsupported_and_extended_codes(void **state)
{
    (void)state;
    const tdef t[] = {
        {"x", 2, {1, 4}, 0, NULL, 0, 0, {0}, {0}, 0, false},
        {"y", 2, {1, 4}, 0, NULL, 0, 0, {0}, {0}, 0, false},
        {"z", 2, {1, 4}, 3, NULL, 0, 1, {1.0f / 256}, {0}, 0, false},
    };
    const int32_t in[1] = {0}, out[1] = {2};
    ms_graph *g;
    ms_error err;
    /* LOGISTIC then QUANTIZE: a sigmoid and a copy */
    odef o[2] = {{0, 1, {0}, 1, 0, {{0}}, 0}, {1, 1, {1}, 2, 0, {{0}}, 0}};
    assert_int_equal(import_model(t, 3, o, 2, codes2, 5, in, 1, out, 1, &g, &err), MS_OK);
    assert_int_equal(g->nodes[0].kind, MS_OP_SIGMOID);
    assert_int_equal(g->nodes[1].kind, MS_OP_COPY);
    assert_int_equal(g->tensors[g->outputs[0]].dtype, MS_DT_U8);
    ms_graph_free(g);
    /* a custom operator is named; GELU exists only in the int32 code field */
    o[0].opcode = 2;
    assert_int_equal(import_model(t, 3, o, 2, codes2, 5, in, 1, out, 1, &g, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "synthetic.tflite: operator 0 (CUSTOM 32): custom operator 'MyOp'"));
    o[0].opcode = 3;
    assert_int_equal(import_model(t, 3, o, 2, codes2, 5, in, 1, out, 1, &g, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "operator 0 (builtin 150)"));
    /* RELU becomes a clip at 0; it has no options, so a stray table is ignored */
    o[0].opcode = 4;
    o[0].options_type = 1;
    assert_int_equal(import_model(t, 3, o, 2, codes2, 5, in, 1, out, 1, &g, &err), MS_OK);
    assert_int_equal(g->nodes[0].kind, MS_OP_CLIP);
    assert_float_equal(g->nodes[0].act_min, 0.0f, 0);
    assert_true(isinf(g->nodes[0].act_max));
    ms_graph_free(g);
}

static void test_bad_options(void **state)
{
    (void)state;
    const tdef t[] = {
        {"in", 4, {1, 4, 4, 2}, 0, NULL, 0, 0, {0}, {0}, 0, false},
        {"w", 4, {3, 1, 1, 2}, 0, w_fc, 24, 0, {0}, {0}, 0, false},
        {"out", 4, {1, 4, 4, 3}, 0, NULL, 0, 0, {0}, {0}, 0, false},
    };
    const int32_t in[1] = {0}, out[1] = {2};
    ms_graph *g;
    ms_error err;
    odef o = {0, 2, {0, 1}, 2, 1, {U8(0, 1), I32(1, 1), I32(2, 1), U8(3, 0)}, 4};
    assert_int_equal(import_model(t, 3, &o, 1, codes, 1, in, 1, out, 1, &g, &err), MS_OK);
    assert_int_equal(g->nodes[0].n_inputs, 2);
    ms_graph_free(g);
    /* zero stride, a TANH activation, a Pool2DOptions table on a convolution */
    o.options[1] = (field)I32(1, 0);
    assert_int_equal(import_model(t, 3, &o, 1, codes, 1, in, 1, out, 1, &g, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "stride"));
    o.options[1] = (field)I32(1, 1);
    o.options[3] = (field)U8(3, 4);
    assert_int_equal(import_model(t, 3, &o, 1, codes, 1, in, 1, out, 1, &g, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "fused activation 4"));
    o.options[3] = (field)U8(3, 0);
    o.options_type = 5;
    assert_int_equal(import_model(t, 3, &o, 1, codes, 1, in, 1, out, 1, &g, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "union type 5, expected 1"));
    /* a weight that is an activation */
    o.options_type = 1;
    o.in[1] = 0;
    assert_int_not_equal(import_model(t, 3, &o, 1, codes, 1, in, 1, out, 1, &g, &err), MS_OK);
    assert_non_null(strstr(err.msg, "must be a constant"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_per_channel_and_small_ops),
        cmocka_unit_test(test_unsupported_and_extended_codes),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
