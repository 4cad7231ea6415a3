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

#define TFLB_CHECK assert_true
#include "tflite_builder.h" /* the flatbuffer writer and the model description (tdef, odef, cdef) */

/* Builds twice (the second time with the external data's file offset) and imports. */
static ms_status import_model(const tdef *t, int nt, const odef *o, int no, const cdef *c, int nc,
                              const int32_t *in, int ni, const int32_t *out, int nout, ms_graph **g,
                              ms_error *err)
{
    static fbb b;
    uint8_t *file;
    size_t size = build_file(&b, t, nt, o, no, c, nc, in, ni, out, nout, &file);
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
