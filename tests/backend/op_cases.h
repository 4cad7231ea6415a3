/* The op cases every backend is checked on against the reference backend: graph
 * builders (random constants from one seeded generator) and one test per case, each
 * handing its graph to the including file's check(), which runs it on that backend and
 * compares (and frees the graph). Included by test_dnnl.c and test_cuda.c. */
#ifndef MS_TESTS_BACKEND_OP_CASES_H
#define MS_TESTS_BACKEND_OP_CASES_H

#include <stdbool.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "testutil.h"

static uint32_t rng = 12345;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int act(ms_graph *g, const char *name, int ndim, const int64_t *shape)
{
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    assert_true(t >= 0);
    return t;
}

/* A constant of random values in [-scale, scale) (offset shifts them, e.g. variances). */
static int cst(ms_graph *g, const char *name, int ndim, const int64_t *shape, float scale, float offset)
{
    int t = act(g, name, ndim, shape);
    ms_tensor *x = &g->tensors[t];
    int64_t n = ms_tensor_numel(x);
    x->data = malloc((size_t)n * sizeof *x->data);
    assert_non_null(x->data);
    for (int64_t i = 0; i < n; i++) x->data[i] = offset + scale * frand();
    return t;
}

static ms_node *node(ms_graph *g, ms_op_kind kind, const int *in, int n_in, int out)
{
    int i = ms_graph_add_node(g, kind, ms_op_name(kind), in, n_in, out);
    assert_true(i >= 0);
    return &g->nodes[i];
}

static ms_graph *graph_nhwc(int h, int w, int c, int *x)
{
    ms_graph *g = ms_graph_new();
    assert_non_null(g);
    int64_t s[4] = {1, h, w, c};
    *x = act(g, "x", 4, s);
    g->inputs = malloc(sizeof *g->inputs);
    g->inputs[0] = *x;
    g->n_inputs = 1;
    return g;
}

static void set_output(ms_graph *g, int t)
{
    g->outputs = malloc(sizeof *g->outputs);
    g->outputs[0] = t;
    g->n_outputs = 1;
}

static int conv(ms_graph *g, int x, int o, int k, int stride, int groups, ms_padding pad, bool bias)
{
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK); /* for x's channels */
    int64_t ws[4] = {o, k, k, g->tensors[x].shape[3] / groups}, bs[1] = {o};
    int w = cst(g, "w", 4, ws, 0.3f, 0.0f);
    int in[3] = {x, w, bias ? cst(g, "b", 1, bs, 0.5f, 0.0f) : -1};
    int y = act(g, "y", 0, NULL);
    ms_node *n = node(g, MS_OP_CONV2D, in, bias ? 3 : 2, y);
    n->stride_h = n->stride_w = stride;
    n->groups = groups;
    n->padding = pad;
    return y;
}

/* Defined by the including file: runs g on its backend against ref, then frees g. */
static void check(ms_graph *g);

static void test_conv_same_bias_relu6(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(9, 8, 5, &x);
    int y = conv(g, x, 7, 3, 1, 1, MS_PAD_SAME, true);
    g->nodes[0].act_min = 0.0f;
    g->nodes[0].act_max = 6.0f;
    set_output(g, y);
    check(g);
}

static void test_conv_stride2_asymmetric_same(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(10, 12, 3, &x); /* SAME, stride 2, even: pads only bottom/right */
    int y = conv(g, x, 8, 3, 2, 1, MS_PAD_SAME, true);
    set_output(g, y);
    check(g);
}

static void test_conv_valid_no_bias_dilated(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(11, 11, 4, &x);
    int y = conv(g, x, 6, 3, 1, 1, MS_PAD_VALID, false);
    g->nodes[0].dilation_h = 2;
    g->nodes[0].dilation_w = 3;
    set_output(g, y);
    check(g);
}

static void test_conv_depthwise_and_groups(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(8, 8, 16, &x);
    int y = conv(g, x, 16, 3, 1, 16, MS_PAD_SAME, true); /* depthwise */
    int z = conv(g, y, 32, 3, 2, 16, MS_PAD_SAME, true); /* depthwise, multiplier 2 */
    int u = conv(g, z, 8, 1, 1, 4, MS_PAD_VALID, true);  /* grouped 1x1 */
    set_output(g, u);
    check(g);
}

static void test_conv_explicit_padding(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(7, 6, 3, &x);
    int y = conv(g, x, 4, 3, 1, 1, MS_PAD_EXPLICIT, true);
    ms_node *n = &g->nodes[0];
    n->pad_top = 2, n->pad_bottom = 0, n->pad_left = 1, n->pad_right = 3;
    set_output(g, y);
    check(g);
}

/* A clip node after a conv (fused into it) and one after a pool (run on its own). */
static void test_clip_fused_and_alone(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(6, 6, 4, &x);
    int y = conv(g, x, 4, 3, 1, 1, MS_PAD_SAME, true);
    int z = act(g, "z", 0, NULL);
    ms_node *c1 = node(g, MS_OP_CLIP, &y, 1, z);
    c1->act_min = 0.0f;
    c1->act_max = 0.5f;
    int p = act(g, "p", 0, NULL);
    ms_node *mp = node(g, MS_OP_MAX_POOL, &z, 1, p);
    mp->kernel_h = mp->kernel_w = 2;
    mp->stride_h = mp->stride_w = 2;
    int q = act(g, "q", 0, NULL);
    ms_node *c2 = node(g, MS_OP_CLIP, &p, 1, q);
    c2->act_min = 0.1f; /* relu with a floor: only the lower bound */
    set_output(g, q);
    check(g);
}

static void test_pad_then_conv_and_pad_alone(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(6, 7, 3, &x);
    int p = act(g, "p", 0, NULL);
    ms_node *pn = node(g, MS_OP_PAD, &x, 1, p);
    pn->pads[1][0] = 1, pn->pads[1][1] = 2, pn->pads[2][0] = 0, pn->pads[2][1] = 1;
    int y = conv(g, p, 5, 3, 2, 1, MS_PAD_VALID, true); /* the pad folds into the conv */
    int q = act(g, "q", 0, NULL);
    ms_node *qn = node(g, MS_OP_PAD, &y, 1, q); /* stays a pad: an avg pool reads it */
    qn->pads[1][1] = 1, qn->pads[3][0] = 2, qn->pads[3][1] = 1;
    int r = act(g, "r", 0, NULL);
    ms_node *ap = node(g, MS_OP_AVG_POOL, &q, 1, r);
    ap->kernel_h = ap->kernel_w = 2;
    set_output(g, r);
    check(g);
}

static void test_pools(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(9, 10, 6, &x);
    int a = act(g, "a", 0, NULL);
    ms_node *ap = node(g, MS_OP_AVG_POOL, &x, 1, a); /* SAME: excludes padding */
    ap->kernel_h = 3, ap->kernel_w = 2, ap->stride_h = 2, ap->stride_w = 2, ap->padding = MS_PAD_SAME;
    int m = act(g, "m", 0, NULL);
    ms_node *mp = node(g, MS_OP_MAX_POOL, &a, 1, m);
    mp->kernel_h = mp->kernel_w = 3, mp->padding = MS_PAD_SAME;
    int gp = act(g, "g", 0, NULL);
    node(g, MS_OP_GLOBAL_AVG_POOL, &m, 1, gp);
    set_output(g, gp);
    check(g);
}

static void test_mean(void **state)
{
    (void)state;
    for (int keep = 0; keep < 2; keep++) {
        int x;
        ms_graph *g = graph_nhwc(5, 7, 12, &x);
        int y = conv(g, x, 12, 3, 1, 1, MS_PAD_SAME, true);
        int m = act(g, "m", 0, NULL);
        ms_node *n = node(g, MS_OP_MEAN, &y, 1, m);
        n->axes_mask = 0x6; /* H and W */
        n->keep_dims = keep;
        set_output(g, m);
        check(g);
    }
}

static void test_fc_softmax(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(3, 2, 5, &x);
    int64_t ws[2] = {10, 30}, bs[1] = {10};
    int in[3] = {x, cst(g, "w", 2, ws, 0.3f, 0.0f), cst(g, "b", 1, bs, 0.3f, 0.0f)};
    int f = act(g, "f", 0, NULL);
    ms_node *fc = node(g, MS_OP_FULLY_CONNECTED, in, 3, f); /* flattens NHWC */
    fc->act_min = 0.0f;
    int64_t ws2[2] = {7, 10};
    int in2[2] = {f, cst(g, "w2", 2, ws2, 0.5f, 0.0f)};
    int f2 = act(g, "f2", 0, NULL);
    node(g, MS_OP_FULLY_CONNECTED, in2, 2, f2);
    int s = act(g, "s", 0, NULL);
    node(g, MS_OP_SOFTMAX, &f2, 1, s);
    set_output(g, s);
    check(g);
}

static void test_add_concat_sigmoid_copy(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(6, 5, 8, &x);
    int y = conv(g, x, 8, 1, 1, 1, MS_PAD_VALID, true);
    int a = act(g, "a", 0, NULL);
    int ain[2] = {y, x};
    ms_node *an = node(g, MS_OP_ADD, ain, 2, a); /* residual */
    an->act_min = 0.0f, an->act_max = 6.0f;
    int64_t cs[1] = {8};
    int bin[2] = {a, cst(g, "c", 1, cs, 1.0f, 0.0f)};
    int b = act(g, "b", 0, NULL);
    node(g, MS_OP_ADD, bin, 2, b); /* per-channel constant */
    int s = act(g, "s", 0, NULL);
    node(g, MS_OP_SIGMOID, &b, 1, s);
    int cin[3] = {s, y, x};
    int c = act(g, "c", 0, NULL);
    ms_node *cn = node(g, MS_OP_CONCAT, cin, 3, c);
    cn->axis = 3;
    int d = act(g, "d", 0, NULL);
    node(g, MS_OP_COPY, &c, 1, d);
    set_output(g, d);
    check(g);
}

static void test_concat_spatial_and_reshape(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(4, 4, 16, &x);
    int y = conv(g, x, 16, 3, 1, 1, MS_PAD_SAME, true);
    int cin[2] = {y, x};
    int c = act(g, "c", 0, NULL);
    ms_node *cn = node(g, MS_OP_CONCAT, cin, 2, c);
    cn->axis = 1;
    int64_t rs[2] = {1, 8 * 4 * 16};
    int r = act(g, "r", 2, rs);
    node(g, MS_OP_RESHAPE, &c, 1, r);
    set_output(g, r);
    check(g);
}

static void test_batch_norm(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(5, 5, 16, &x);
    int y = conv(g, x, 16, 3, 1, 1, MS_PAD_SAME, false);
    int64_t cs[1] = {16};
    int in[5] = {y, cst(g, "scale", 1, cs, 0.5f, 1.0f), cst(g, "offset", 1, cs, 0.5f, 0.0f),
                 cst(g, "mean", 1, cs, 0.5f, 0.0f), cst(g, "var", 1, cs, 0.4f, 0.6f)};
    int z = act(g, "z", 0, NULL);
    node(g, MS_OP_BATCH_NORM, in, 5, z);
    set_output(g, z);
    check(g);
}

/* A MobileNetV2-shaped stack: stem, inverted residual with add, pool, classifier. */
static ms_graph *small_net(void)
{
    int x;
    ms_graph *g = graph_nhwc(32, 32, 3, &x);
    int y = conv(g, x, 16, 3, 2, 1, MS_PAD_SAME, true);
    g->nodes[0].act_min = 0.0f, g->nodes[0].act_max = 6.0f;
    int e = conv(g, y, 48, 1, 1, 1, MS_PAD_VALID, true);
    g->nodes[1].act_min = 0.0f, g->nodes[1].act_max = 6.0f;
    int dw = conv(g, e, 48, 3, 1, 48, MS_PAD_SAME, true);
    g->nodes[2].act_min = 0.0f, g->nodes[2].act_max = 6.0f;
    int pr = conv(g, dw, 16, 1, 1, 1, MS_PAD_VALID, true);
    int ain[2] = {pr, y};
    int a = act(g, "a", 0, NULL);
    node(g, MS_OP_ADD, ain, 2, a);
    int s2 = conv(g, a, 24, 3, 2, 8, MS_PAD_SAME, true);
    int p = act(g, "p", 0, NULL);
    ms_node *pn = node(g, MS_OP_AVG_POOL, &s2, 1, p);
    pn->kernel_h = pn->kernel_w = 8;
    int head = conv(g, p, 10, 1, 1, 1, MS_PAD_VALID, true);
    int64_t rs[2] = {1, 10};
    int r = act(g, "r", 2, rs);
    node(g, MS_OP_RESHAPE, &head, 1, r);
    int sm = act(g, "sm", 0, NULL);
    node(g, MS_OP_SOFTMAX, &r, 1, sm);
    set_output(g, sm);
    return g;
}

static void test_small_network(void **state)
{
    (void)state;
    check(small_net());
}

#define MS_OP_CASE_TESTS \
    cmocka_unit_test(test_conv_same_bias_relu6), \
    cmocka_unit_test(test_conv_stride2_asymmetric_same), \
    cmocka_unit_test(test_conv_valid_no_bias_dilated), \
    cmocka_unit_test(test_conv_depthwise_and_groups), \
    cmocka_unit_test(test_conv_explicit_padding), \
    cmocka_unit_test(test_clip_fused_and_alone), \
    cmocka_unit_test(test_pad_then_conv_and_pad_alone), \
    cmocka_unit_test(test_pools), \
    cmocka_unit_test(test_mean), \
    cmocka_unit_test(test_fc_softmax), \
    cmocka_unit_test(test_add_concat_sigmoid_copy), \
    cmocka_unit_test(test_concat_spatial_and_reshape), \
    cmocka_unit_test(test_batch_norm), \
    cmocka_unit_test(test_small_network),

#endif
