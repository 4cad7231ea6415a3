/* The oneDNN backend's int8 path on a hand-built quantised network (u8 activations and
 * u8 weights with zero points, as in the TFLite models): it must stay within the
 * quantisation error of the fp32 reference, and must really be quantised (differ from
 * the fp32 plan). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "testutil.h"

extern const ms_backend ms_backend_ref;
extern const ms_backend ms_backend_dnnl;

static uint32_t rng = 777;

static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static void quantise(ms_graph *g, int t, float scale, int32_t zp)
{
    ms_tensor *x = &g->tensors[t];
    x->dtype = MS_DT_U8;
    x->quant.n = 1;
    x->quant.scale = malloc(sizeof(float));
    x->quant.zero_point = malloc(sizeof(int32_t));
    assert_true(x->quant.scale && x->quant.zero_point);
    x->quant.scale[0] = scale;
    x->quant.zero_point[0] = zp;
}

static int act(ms_graph *g, const char *name, float scale, int32_t zp)
{
    int t = ms_graph_add_tensor(g, name, 0, NULL, MS_DT_F32);
    assert_true(t >= 0);
    quantise(g, t, scale, zp);
    return t;
}

/* u8 weights q in [lo, hi] with zero point zp, stored dequantised as the importer does. */
static int weights(ms_graph *g, int o, int k, int i, float scale, int zp, int lo, int hi)
{
    int64_t s[4] = {o, k, k, i};
    int t = ms_graph_add_tensor(g, "w", 4, s, MS_DT_U8);
    assert_true(t >= 0);
    quantise(g, t, scale, zp);
    ms_tensor *w = &g->tensors[t];
    int64_t n = ms_tensor_numel(w);
    w->data = malloc((size_t)n * sizeof *w->data);
    assert_non_null(w->data);
    for (int64_t j = 0; j < n; j++) w->data[j] = scale * (float)(lo + (int)(next() % (uint32_t)(hi - lo + 1)) - zp);
    return t;
}

static int bias(ms_graph *g, int o, float scale)
{
    int64_t s[1] = {o};
    int t = ms_graph_add_tensor(g, "b", 1, s, MS_DT_I32);
    assert_true(t >= 0);
    ms_tensor *b = &g->tensors[t];
    b->data = malloc((size_t)o * sizeof *b->data);
    assert_non_null(b->data);
    for (int j = 0; j < o; j++) b->data[j] = scale * (float)((int)(next() % 2001) - 1000);
    return t;
}

static int conv(ms_graph *g, int x, int w, int b, int y, int stride, int groups, bool relu6)
{
    int in[3] = {x, w, b};
    int i = ms_graph_add_node(g, MS_OP_CONV2D, "conv", in, 3, y);
    assert_true(i >= 0);
    ms_node *n = &g->nodes[i];
    n->stride_h = n->stride_w = stride;
    n->groups = groups;
    n->padding = MS_PAD_SAME;
    if (relu6) n->act_min = 0.0f, n->act_max = 6.0f;
    return y;
}

/* Stem (weights that fit s8 after the shift), depthwise (weights that do not: they are
 * re-quantised per channel), pointwise with a linear output, global pool, softmax. */
static ms_graph *quant_net(bool stem_only)
{
    ms_graph *g = ms_graph_new();
    assert_non_null(g);
    int64_t s[4] = {1, 16, 16, 3};
    int x = ms_graph_add_tensor(g, "x", 4, s, MS_DT_U8);
    quantise(g, x, 1.0f / 128, 128);
    g->inputs = malloc(sizeof *g->inputs);
    g->inputs[0] = x;
    g->n_inputs = 1;
    float a6 = 6.0f / 255;
    int y1 = conv(g, x, weights(g, 8, 3, 3, 0.02f, 128, 40, 215), bias(g, 8, 0.02f / 128), act(g, "y1", a6, 0), 2, 1, true);
    int y2 = conv(g, y1, weights(g, 8, 3, 1, 0.03f, 110, 0, 255), bias(g, 8, 0.03f * a6), act(g, "y2", a6, 0), 1, 8, true);
    int y3 = conv(g, y2, weights(g, 16, 1, 8, 0.01f, 130, 60, 200), bias(g, 16, 0.01f * a6), act(g, "y3", 0.1f, 128), 1, 1, false);
    int p = act(g, "p", 0.1f, 128);
    int pi = ms_graph_add_node(g, MS_OP_GLOBAL_AVG_POOL, "pool", &y3, 1, p);
    int64_t rs[2] = {1, 16};
    int r = ms_graph_add_tensor(g, "r", 2, rs, MS_DT_U8);
    quantise(g, r, 0.1f, 128);
    int ri = ms_graph_add_node(g, MS_OP_RESHAPE, "reshape", &p, 1, r);
    int sm = act(g, "sm", 1.0f / 256, 0);
    int si = ms_graph_add_node(g, MS_OP_SOFTMAX, "softmax", &r, 1, sm);
    assert_true(pi >= 0 && ri >= 0 && si >= 0);
    g->outputs = malloc(sizeof *g->outputs);
    g->outputs[0] = sm;
    g->n_outputs = 1;
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    /* The pre-softmax output shows the quantisation error better than probabilities. */
    g->outputs[0] = stem_only ? y1 : y3;
    return g;
}

static void run(const ms_backend *b, const ms_graph *g, ms_precision prec, int batch, int threads, const float *in,
                float *out)
{
    ms_plan_options o = {.batch = batch, .threads = threads, .precision = prec};
    ms_plan *p = NULL;
    ms_error err;
    ms_status st = ms_plan_compile(b, g, &o, &p, &err);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    assert_int_equal(ms_plan_run(p, in, out, &err), MS_OK);
    ms_plan_free(p);
}

/* The stem's weights have neighbouring pairs beyond what vpmaddubsw adds without
 * saturating (on CPUs without VNNI): those channels must be re-quantised. Its output step
 * is 6/255 on values of rms ~3, so only rounding should remain. */
static void test_int8_stem_does_not_saturate(void **state)
{
    (void)state;
    ms_graph *g = quant_net(true);
    size_t ni = 3 * 16 * 16 * 3, no = 3 * 8 * 8 * 8;
    float *in = malloc(ni * sizeof *in), *ref = malloc(no * sizeof *ref), *i8 = malloc(no * sizeof *i8);
    assert_true(in && ref && i8);
    for (size_t i = 0; i < ni; i++) in[i] = ((float)(next() % 256) - 128) / 128;
    run(&ms_backend_ref, g, MS_PREC_FP32, 3, 1, in, ref);
    run(&ms_backend_dnnl, g, MS_PREC_INT8, 3, 1, in, i8);
    int far = 0;
    for (size_t i = 0; i < no; i++) far += fabsf(i8[i] - ref[i]) > 0.1f; /* > 4 steps */
    double e = ms_test_rel_l2(i8, ref, no);
    print_message("stem: rel L2 %.3g, %d of %zu outputs off by more than 4 steps\n", e, far, no);
    assert_true(e < 0.012);
    assert_int_equal(far, 0);
    free(in);
    free(ref);
    free(i8);
    ms_graph_free(g);
}

static void test_int8_close_to_fp32(void **state)
{
    (void)state;
    ms_graph *g = quant_net(false);
    for (int batch = 1; batch <= 3; batch += 2)
        for (int threads = 1; threads <= 2; threads++) {
            size_t ni = (size_t)batch * 16 * 16 * 3, no = (size_t)batch * 8 * 8 * 16;
            float *in = malloc(ni * sizeof *in), *ref = malloc(no * sizeof *ref);
            float *f32 = malloc(no * sizeof *f32), *i8 = malloc(no * sizeof *i8);
            assert_true(in && ref && f32 && i8);
            /* Inputs on the u8 grid of x, as images are. */
            for (size_t i = 0; i < ni; i++) in[i] = ((float)(next() % 256) - 128) / 128;
            run(&ms_backend_ref, g, MS_PREC_FP32, batch, threads, in, ref);
            run(&ms_backend_dnnl, g, MS_PREC_FP32, batch, threads, in, f32);
            run(&ms_backend_dnnl, g, MS_PREC_INT8, batch, threads, in, i8);
            double e32 = ms_test_rel_l2(f32, ref, no), e8 = ms_test_rel_l2(i8, ref, no);
            print_message("batch %d threads %d: fp32 %.2g, int8 %.3g\n", batch, threads, e32, e8);
            assert_true(e32 < 1e-5);
            assert_true(e8 > 1e-4); /* really quantised */
            /* but only by rounding: y3's step is 0.1 on values of rms ~3, three layers
             * round before it, and the weights lose a bit on CPUs without VNNI. */
            assert_true(e8 < 0.05);
            free(in);
            free(ref);
            free(f32);
            free(i8);
        }
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_stem_does_not_saturate),
        cmocka_unit_test(test_int8_close_to_fp32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
