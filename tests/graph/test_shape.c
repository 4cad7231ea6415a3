/* Tests of shape inference (SAME padding as TensorFlow resolves it, every op's output
 * shape, errors naming the node) and of MAC and parameter counts, against values worked
 * out by hand in the comments. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

/* An activation tensor of the given shape (ndim dims). */
static int act(ms_graph *g, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    assert_true(t >= 0);
    return t;
}

/* A constant tensor of zeros of the given shape. */
static int cst(ms_graph *g, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int t = act(g, name, ndim, d0, d1, d2, d3);
    g->tensors[t].data = calloc((size_t)ms_tensor_numel(&g->tensors[t]), sizeof(float));
    assert_non_null(g->tensors[t].data);
    return t;
}

/* An output tensor with no shape yet. */
static int out(ms_graph *g, const char *name) { return act(g, name, 0, 0, 0, 0, 0); }

static void assert_shape(const ms_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t want[4] = {d0, d1, d2, d3};
    assert_int_equal(t->ndim, ndim);
    for (int d = 0; d < ndim; d++) assert_int_equal(t->shape[d], want[d]);
}

/* A single conv of x [1,h,w,c] with weights [o,kh,kw,c/groups]; returns the graph. */
static ms_graph *one_conv(int64_t h, int64_t w, int64_t c, int64_t o, int kh, int kw, int groups, int stride,
                          int dilation, ms_padding padding)
{
    ms_graph *g = ms_graph_new();
    int x = act(g, "x", 4, 1, h, w, c);
    int wt = cst(g, "w", 4, o, kh, kw, c / groups);
    int b = cst(g, "b", 1, o, 0, 0, 0);
    int y = out(g, "y");
    int in[3] = {x, wt, b};
    ms_node *n = ms_test_node(g, MS_OP_CONV2D, "conv", in, 3, y);
    n->groups = groups;
    n->stride_h = n->stride_w = stride;
    n->dilation_h = n->dilation_w = dilation;
    n->padding = padding;
    ms_test_set_io(g, x, y);
    return g;
}

static void assert_pads(const ms_node *n, int top, int bottom, int left, int right)
{
    assert_int_equal(n->pad_top, top);
    assert_int_equal(n->pad_bottom, bottom);
    assert_int_equal(n->pad_left, left);
    assert_int_equal(n->pad_right, right);
}

/* MobileNetV1's first conv: 224x224x3, 3x3, stride 2, SAME, 32 filters.
 * out = ceil(224/2) = 112; total pad = max((112-1)*2 + 3 - 224, 0) = 1 -> top 0, bottom 1.
 * MACs = 112*112*32 * 3*3*3 = 401408 * 27 = 10,838,016. Params = 32*27 + 32 = 896. */
static void test_mobilenet_first_conv(void **state)
{
    (void)state;
    ms_graph *g = one_conv(224, 224, 3, 32, 3, 3, 1, 2, 1, MS_PAD_SAME);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[g->outputs[0]], 4, 1, 112, 112, 32);
    assert_pads(&g->nodes[0], 0, 1, 0, 1);
    assert_int_equal(g->nodes[0].kernel_h, 3);
    assert_int_equal(g->nodes[0].kernel_w, 3);
    assert_int_equal(ms_node_macs(g, &g->nodes[0]), 10838016);
    assert_int_equal(ms_graph_macs(g), 10838016);
    assert_int_equal(ms_graph_params(g), 896);
    ms_graph_free(g);
}

/* SAME padding in other cases:
 *  in 7, k 3, stride 2: out ceil(7/2) = 4, total = 3*2 + 3 - 7 = 2 -> 1, 1
 *  in 10, k 3, dilation 2, stride 1: effective k 5, out 10, total = 9 + 5 - 10 = 4 -> 2, 2
 *  in 7, k 1, stride 2: out 4, total = 3*2 + 1 - 7 = 0 -> 0, 0
 *  in 8, k 5, stride 3: out ceil(8/3) = 3, total = 2*3 + 5 - 8 = 3 -> 1, 2 */
static void test_same_padding_cases(void **state)
{
    (void)state;
    ms_error err;
    struct { int64_t in; int k, stride, dilation; int64_t out; int before, after; } cases[] = {
        {7, 3, 2, 1, 4, 1, 1}, {10, 3, 1, 2, 10, 2, 2}, {7, 1, 2, 1, 4, 0, 0}, {8, 5, 3, 1, 3, 1, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ms_graph *g = one_conv(cases[c].in, cases[c].in, 2, 4, cases[c].k, cases[c].k, 1, cases[c].stride,
                               cases[c].dilation, MS_PAD_SAME);
        assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
        assert_shape(&g->tensors[g->outputs[0]], 4, 1, cases[c].out, cases[c].out, 4);
        assert_pads(&g->nodes[0], cases[c].before, cases[c].after, cases[c].before, cases[c].after);
        ms_graph_free(g);
    }
}

/* VALID: in 10, k 3, stride 2 -> (10 - 3)/2 + 1 = 4, no padding.
 * Explicit: in 5, pads top 2 bottom 1 (left 0 right 0), k 3, stride 1 -> h 5+3-3+1 = 6, w 3. */
static void test_valid_and_explicit_padding(void **state)
{
    (void)state;
    ms_error err;
    ms_graph *g = one_conv(10, 10, 2, 4, 3, 3, 1, 2, 1, MS_PAD_VALID);
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[g->outputs[0]], 4, 1, 4, 4, 4);
    assert_pads(&g->nodes[0], 0, 0, 0, 0);
    ms_graph_free(g);

    g = one_conv(5, 5, 2, 4, 3, 3, 1, 1, 1, MS_PAD_EXPLICIT);
    g->nodes[0].pad_top = 2;
    g->nodes[0].pad_bottom = 1;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[g->outputs[0]], 4, 1, 6, 3, 4);
    assert_pads(&g->nodes[0], 2, 1, 0, 0);
    ms_graph_free(g);
}

/* Depthwise with multiplier 2: 112x112x32, weights [64,3,3,1], groups 32, stride 1 SAME
 * -> 112x112x64; MACs = 112*112*64 * 3*3*1 = 802816 * 9 = 7,225,344. */
static void test_depthwise_macs(void **state)
{
    (void)state;
    ms_error err;
    ms_graph *g = one_conv(112, 112, 32, 64, 3, 3, 32, 1, 1, MS_PAD_SAME);
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[g->outputs[0]], 4, 1, 112, 112, 64);
    assert_pads(&g->nodes[0], 1, 1, 1, 1);
    assert_int_equal(ms_graph_macs(g), 7225344);
    /* params: 64*9 weights + 64 bias */
    assert_int_equal(ms_graph_params(g), 640);
    ms_graph_free(g);
}

/* MobileNet's head: 7x7x1024 -> avg pool 7x7 VALID -> 1x1x1024 -> conv 1x1 to 1001 ->
 * reshape [1,-1] -> softmax. Conv MACs = 1001*1024 = 1,025,024. Params = 1001*1024 + 1001. */
static void test_head_shapes(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = act(g, "x", 4, 1, 7, 7, 1024);
    int p = out(g, "pool");
    int w = cst(g, "w", 4, 1001, 1, 1, 1024);
    int b = cst(g, "b", 1, 1001, 0, 0, 0);
    int logits4 = out(g, "logits4");
    int shape = cst(g, "shape", 1, 2, 0, 0, 0);
    int logits = act(g, "logits", 2, 1, -1, 0, 0);
    int prob = out(g, "prob");
    ms_node *n = ms_test_node(g, MS_OP_AVG_POOL, "pool", &x, 1, p);
    n->kernel_h = n->kernel_w = 7;
    n->stride_h = n->stride_w = 2;
    int conv_in[3] = {p, w, b};
    ms_test_node(g, MS_OP_CONV2D, "logits", conv_in, 3, logits4);
    int reshape_in[2] = {logits4, shape};
    ms_test_node(g, MS_OP_RESHAPE, "reshape", reshape_in, 2, logits);
    ms_test_node(g, MS_OP_SOFTMAX, "softmax", &logits, 1, prob);
    ms_test_set_io(g, x, prob);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[p], 4, 1, 1, 1, 1024);
    assert_shape(&g->tensors[logits4], 4, 1, 1, 1, 1001);
    assert_shape(&g->tensors[logits], 2, 1, 1001, 0, 0);
    assert_shape(&g->tensors[prob], 2, 1, 1001, 0, 0);
    assert_int_equal(g->nodes[3].axis, 1);
    assert_int_equal(ms_graph_macs(g), 1025024);
    assert_int_equal(ms_graph_params(g), 1025024 + 1001);
    ms_graph_free(g);
}

/* fc: [2,3,1,4] flattens to [2,12]; weights [5,12] -> [2,5]; MACs = 2*5*12 = 120.
 * batch norm keeps the shape; clip, sigmoid, copy too. */
static void test_fc_and_elementwise(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = act(g, "x", 4, 2, 3, 1, 4);
    int bn_p[4];
    for (int k = 0; k < 4; k++) bn_p[k] = cst(g, "bn", 1, 4, 0, 0, 0);
    int bn = out(g, "bn_out");
    int c = out(g, "clip"), s = out(g, "sig"), cp = out(g, "copy");
    int w = cst(g, "w", 2, 5, 12, 0, 0);
    int y = out(g, "y");
    int bn_in[5] = {x, bn_p[0], bn_p[1], bn_p[2], bn_p[3]};
    ms_test_node(g, MS_OP_BATCH_NORM, "bn", bn_in, 5, bn);
    ms_test_node(g, MS_OP_CLIP, "relu", &bn, 1, c);
    ms_test_node(g, MS_OP_SIGMOID, "sigmoid", &c, 1, s);
    ms_test_node(g, MS_OP_COPY, "copy", &s, 1, cp);
    int fc_in[2] = {cp, w};
    ms_test_node(g, MS_OP_FULLY_CONNECTED, "fc", fc_in, 2, y);
    ms_test_set_io(g, x, y);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[cp], 4, 2, 3, 1, 4);
    assert_shape(&g->tensors[y], 2, 2, 5, 0, 0);
    assert_int_equal(ms_graph_macs(g), 120);
    assert_int_equal(ms_node_macs(g, &g->nodes[0]), 0);
    assert_int_equal(ms_graph_params(g), 4 * 4 + 60);
    ms_graph_free(g);
}

/* mean over H and W of [1,7,5,8]: keep_dims -> [1,1,1,8], else [1,8]. Global average
 * pool -> [1,1,1,8]. Pad H by (1,2), C by (0,3) -> [1,10,5,11]. Concat [1,7,5,8] with a
 * [1,7,5,3] tensor on axis -1 (resolved to 3) -> [1,7,5,11]. Add with a [8] bias keeps
 * [1,7,5,8]. */
static void test_reductions_pad_concat_add(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = act(g, "x", 4, 1, 7, 5, 8);
    int m1 = out(g, "mean_keep"), m2 = out(g, "mean"), gp = out(g, "gap"), pd = out(g, "pad");
    int other = cst(g, "other", 4, 1, 7, 5, 3);
    int cat = out(g, "cat");
    int bias = cst(g, "bias", 1, 8, 0, 0, 0);
    int sum = out(g, "sum");
    ms_node *n = ms_test_node(g, MS_OP_MEAN, "mean_keep", &x, 1, m1);
    n->axes_mask = 0x6;
    n->keep_dims = true;
    n = ms_test_node(g, MS_OP_MEAN, "mean", &x, 1, m2);
    n->axes_mask = 0x6;
    ms_test_node(g, MS_OP_GLOBAL_AVG_POOL, "gap", &x, 1, gp);
    n = ms_test_node(g, MS_OP_PAD, "pad", &x, 1, pd);
    n->pads[1][0] = 1;
    n->pads[1][1] = 2;
    n->pads[3][1] = 3;
    int cat_in[2] = {x, other};
    n = ms_test_node(g, MS_OP_CONCAT, "cat", cat_in, 2, cat);
    n->axis = -1;
    int add_in[2] = {x, bias};
    ms_test_node(g, MS_OP_ADD, "add", add_in, 2, sum);
    ms_test_set_io(g, x, sum);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_shape(&g->tensors[m1], 4, 1, 1, 1, 8);
    assert_shape(&g->tensors[m2], 2, 1, 8, 0, 0);
    assert_shape(&g->tensors[gp], 4, 1, 1, 1, 8);
    assert_shape(&g->tensors[pd], 4, 1, 10, 5, 11);
    assert_shape(&g->tensors[cat], 4, 1, 7, 5, 11);
    assert_int_equal(g->nodes[4].axis, 3);
    assert_shape(&g->tensors[sum], 4, 1, 7, 5, 8);
    ms_graph_free(g);
}

/* A weight tensor read by two convs counts once. */
static void test_params_counted_once(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = act(g, "x", 4, 1, 4, 4, 2);
    int w = cst(g, "w", 4, 2, 3, 3, 2);
    int y1 = out(g, "y1"), y2 = out(g, "y2");
    int in1[2] = {x, w}, in2[2] = {y1, w};
    ms_test_node(g, MS_OP_CONV2D, "c1", in1, 2, y1)->padding = MS_PAD_SAME;
    ms_test_node(g, MS_OP_CONV2D, "c2", in2, 2, y2)->padding = MS_PAD_SAME;
    ms_test_set_io(g, x, y2);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_int_equal(ms_graph_params(g), 36);
    /* each conv: 4*4*2 outputs * 3*3*2 = 32 * 18 = 576 */
    assert_int_equal(ms_graph_macs(g), 2 * 576);
    ms_graph_free(g);
}

static void expect_error(ms_graph *g, const char *a, const char *b)
{
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_ERR_INVALID);
    if (!strstr(err.msg, a) || (b && !strstr(err.msg, b))) fail_msg("message '%s' lacks '%s' / '%s'", err.msg, a, b);
    ms_graph_free(g);
}

static void test_errors_name_node_and_mismatch(void **state)
{
    (void)state;
    /* conv whose weights expect 4 input channels on a 3-channel input */
    ms_graph *g = one_conv(8, 8, 3, 4, 3, 3, 1, 1, 1, MS_PAD_SAME);
    g->tensors[1].shape[3] = 4;
    expect_error(g, "'conv' (conv2d)", "I = 3");

    /* channels not divisible by groups */
    g = one_conv(8, 8, 3, 4, 3, 3, 1, 1, 1, MS_PAD_SAME);
    g->nodes[0].groups = 2;
    expect_error(g, "conv", "groups 2");

    /* VALID window larger than the input */
    g = one_conv(2, 2, 3, 4, 3, 3, 1, 1, 1, MS_PAD_VALID);
    expect_error(g, "conv", "does not fit");

    /* add of [1,2,2,3] and [1,2,2,4] */
    g = ms_graph_new();
    int a = act(g, "a", 4, 1, 2, 2, 3), b = cst(g, "b", 4, 1, 2, 2, 4), y = out(g, "y");
    int in[2] = {a, b};
    ms_test_node(g, MS_OP_ADD, "sum", in, 2, y);
    ms_test_set_io(g, a, y);
    expect_error(g, "'sum' (add)", "[1,2,2,3] and [1,2,2,4]");

    /* reshape that changes the element count */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    y = act(g, "y", 2, 1, 10, 0, 0);
    ms_test_node(g, MS_OP_RESHAPE, "flat", &a, 1, y);
    ms_test_set_io(g, a, y);
    expect_error(g, "'flat' (reshape)", "[1,2,2,3] to [1,10]");

    /* an input no node computes */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    int ghost = act(g, "ghost", 4, 1, 2, 2, 3);
    y = out(g, "y");
    in[0] = a;
    in[1] = ghost;
    ms_test_node(g, MS_OP_ADD, "sum", in, 2, y);
    ms_test_set_io(g, a, y);
    expect_error(g, "'sum'", "'ghost' is not computed");

    /* mean over the batch */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    y = out(g, "y");
    ms_test_node(g, MS_OP_MEAN, "m", &a, 1, y)->axes_mask = 0x1;
    ms_test_set_io(g, a, y);
    expect_error(g, "'m' (mean)", "batch");

    /* fc whose weights do not match the flattened input */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    int w = cst(g, "w", 2, 5, 11, 0, 0);
    y = out(g, "y");
    in[0] = a;
    in[1] = w;
    ms_test_node(g, MS_OP_FULLY_CONNECTED, "fc", in, 2, y);
    ms_test_set_io(g, a, y);
    expect_error(g, "'fc' (fully_connected)", "[1,2,2,3] does not flatten to [N, 11]");

    /* concat with mismatched spatial size */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    b = cst(g, "b", 4, 1, 3, 2, 3);
    y = out(g, "y");
    in[0] = a;
    in[1] = b;
    ms_test_node(g, MS_OP_CONCAT, "cat", in, 2, y)->axis = 3;
    ms_test_set_io(g, a, y);
    expect_error(g, "'cat' (concat)", "input 1 has shape [1,3,2,3]");

    /* a node writing a tensor an earlier node computed */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    y = out(g, "y");
    ms_test_node(g, MS_OP_COPY, "first", &a, 1, y);
    ms_test_node(g, MS_OP_COPY, "second", &a, 1, y);
    ms_test_set_io(g, a, y);
    expect_error(g, "'second' (copy)", "'y' is a constant or already computed");

    /* a graph output no node computes */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    y = out(g, "y");
    int orphan = out(g, "orphan");
    ms_test_node(g, MS_OP_COPY, "copy", &a, 1, y);
    ms_test_set_io(g, a, orphan);
    expect_error(g, "graph output 0", "not computed");

    /* a node with no inputs */
    g = ms_graph_new();
    a = act(g, "a", 4, 1, 2, 2, 3);
    y = out(g, "y");
    ms_test_node(g, MS_OP_MAX_POOL, "pool", NULL, 0, y);
    ms_test_set_io(g, a, y);
    expect_error(g, "'pool' (max_pool)", "4-D");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobilenet_first_conv),
        cmocka_unit_test(test_same_padding_cases),
        cmocka_unit_test(test_valid_and_explicit_padding),
        cmocka_unit_test(test_depthwise_macs),
        cmocka_unit_test(test_head_shapes),
        cmocka_unit_test(test_fc_and_elementwise),
        cmocka_unit_test(test_reductions_pad_concat_add),
        cmocka_unit_test(test_params_counted_once),
        cmocka_unit_test(test_errors_name_node_and_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
