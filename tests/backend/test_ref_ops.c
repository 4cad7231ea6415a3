/* Tests of every reference kernel, each run as a one-node graph through
 * ms_plan_compile/ms_plan_run, against values worked out by hand in the comments. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

/* Adds input x of the given shape, an unshaped output y and one node of `kind` reading
 * x and then the tensors in `extra`; returns the node, for setting attributes. */
static ms_node *op(ms_graph *g, ms_op_kind kind, int ndim, const int64_t *xshape, const int *extra,
                            int n_extra)
{
    int x = ms_test_tensor(g, "x", ndim, xshape);
    int y = ms_test_tensor(g, "y", 0, NULL);
    int in[8] = {x};
    for (int k = 0; k < n_extra; k++) in[k + 1] = extra[k];
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    assert_non_null(g->inputs);
    assert_non_null(g->outputs);
    g->inputs[0] = x;
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    int i = ms_graph_add_node(g, kind, "op", in, 1 + n_extra, y);
    assert_true(i >= 0);
    return &g->nodes[i];
}

/* Infers shapes, runs the graph on x at batch 1, checks the output's element count and
 * values (to 1e-5 relative), frees the graph. */
static void run_expect(ms_graph *g, const float *x, const float *want, int64_t n_want)
{
    ms_error err;
    if (ms_graph_infer_shapes(g, &err)) fail_msg("%s", err.msg);
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    if (ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err)) fail_msg("%s", err.msg);
    assert_int_equal(plan->out_numel, n_want);
    float *y = malloc((size_t)n_want * sizeof *y);
    assert_non_null(y);
    assert_int_equal(ms_plan_run(plan, x, y, &err), MS_OK);
    for (int64_t i = 0; i < n_want; i++)
        if (!(fabsf(y[i] - want[i]) <= 1e-5f * fmaxf(1.0f, fabsf(want[i]))))
            fail_msg("element %lld: got %.8g, want %.8g", (long long)i, y[i], want[i]);
    free(y);
    ms_plan_free(plan);
    ms_graph_free(g);
}

/* x = 1..n in NHWC order. */
static void iota(float *x, int n, float sign)
{
    for (int i = 0; i < n; i++) x[i] = sign * (float)(i + 1);
}

/* 4x4 input x[h][w] = 4h + w + 1, 3x3 kernel of ones, bias 0.5, stride 2, SAME.
 * out = 2x2, total pad = (2-1)*2 + 3 - 4 = 1: top/left 0, bottom/right 1, so
 *   (0,0) = rows 0-2, cols 0-2 = 1+2+3+5+6+7+9+10+11 = 54
 *   (0,1) = rows 0-2, cols 2-3 = 3+4+7+8+11+12      = 45
 *   (1,0) = rows 2-3, cols 0-2 = 9+10+11+13+14+15   = 72
 *   (1,1) = rows 2-3, cols 2-3 = 11+12+15+16        = 54
 * (symmetric padding would give (0,0) = 1+2+5+6 = 14). */
static void test_conv_same_stride2_pads_after(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, half = 0.5f;
    int w = ms_test_constant(g, "w", 4, (int64_t[]){1, 3, 3, 1}, ones);
    int b = ms_test_constant(g, "b", 1, (int64_t[]){1}, &half);
    ms_node *n = op(g, MS_OP_CONV2D, 4, (int64_t[]){1, 4, 4, 1}, (int[]){w, b}, 2);
    n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
    float x[16];
    iota(x, 16, 1);
    run_expect(g, x, (float[]){54.5f, 45.5f, 72.5f, 54.5f}, 4);
}

/* 5x5 input x[h][w] = 5h + w + 1, 3x3 kernel of ones, dilation 2, SAME: effective
 * kernel 5, pad 2 on every side, out 5x5. Taps sit at offsets -2, 0, +2.
 *   (0,0): rows/cols {0,2} -> 1 + 3 + 11 + 13 = 28
 *   (2,2): rows/cols {0,2,4} -> 9 + 5*(0+2+4)*3 + (0+2+4)*3 = 117
 *   (0,4): rows {0,2}, cols {2,4} -> 3 + 5 + 13 + 15 = 36 */
static void test_conv_dilation(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    int w = ms_test_constant(g, "w", 4, (int64_t[]){1, 3, 3, 1}, ones);
    ms_node *n = op(g, MS_OP_CONV2D, 4, (int64_t[]){1, 5, 5, 1}, &w, 1);
    n->dilation_h = n->dilation_w = 2;
    n->padding = MS_PAD_SAME;
    float x[25];
    iota(x, 25, 1);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err), MS_OK);
    float y[25];
    assert_int_equal(ms_plan_run(plan, x, y, &err), MS_OK);
    assert_float_equal(y[0], 28, 1e-5);
    assert_float_equal(y[2 * 5 + 2], 117, 1e-5);
    assert_float_equal(y[4], 36, 1e-5);
    ms_plan_free(plan);
    ms_graph_free(g);
}

/* Explicit padding is kept as given: 1x3 input [1,2,3], 1x2 kernel [1,10], pad left 2,
 * right 0 -> padded [0,0,1,2,3], out width 4: [0, 10, 1+20, 2+30] = [0,10,21,32]. */
static void test_conv_explicit_padding(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int w = ms_test_constant(g, "w", 4, (int64_t[]){1, 1, 2, 1}, (float[]){1, 10});
    ms_node *n = op(g, MS_OP_CONV2D, 4, (int64_t[]){1, 1, 3, 1}, &w, 1);
    n->padding = MS_PAD_EXPLICIT;
    n->pad_left = 2;
    run_expect(g, (float[]){1, 2, 3}, (float[]){0, 10, 21, 32}, 4);
}

/* groups = 2 on one pixel with channels [1,2,3,4]; weights [2,1,1,2]:
 * filter 0 = [1,10] reads channels 0-1: 1 + 20 = 21; filter 1 = [100,1000] reads
 * channels 2-3: 300 + 4000 = 4300. */
static void test_conv_groups(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int w = ms_test_constant(g, "w", 4, (int64_t[]){2, 1, 1, 2}, (float[]){1, 10, 100, 1000});
    op(g, MS_OP_CONV2D, 4, (int64_t[]){1, 1, 1, 4}, &w, 1)->groups = 2;
    run_expect(g, (float[]){1, 2, 3, 4}, (float[]){21, 4300}, 2);
}

/* Depthwise, multiplier 2: 2x2 input, channel 0 = [1,2;3,4], channel 1 = [10,20;30,40]
 * (NHWC: 1,10,2,20,3,30,4,40); weights [4,2,2,1], groups 2, VALID -> 1x1x4; output o
 * reads channel o/2:
 *   o0 = top-left of ch0 = 1; o1 = bottom-right of ch0 = 4;
 *   o2 = sum of ch1 = 100, clamped by act_max 50 -> 50; o3 = 2 * top-right of ch1 = 40. */
static void test_depthwise_multiplier(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    float wv[16] = {1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 2, 0, 0};
    int w = ms_test_constant(g, "w", 4, (int64_t[]){4, 2, 2, 1}, wv);
    ms_node *n = op(g, MS_OP_CONV2D, 4, (int64_t[]){1, 2, 2, 2}, &w, 1);
    n->groups = 2;
    n->act_max = 50;
    run_expect(g, (float[]){1, 10, 2, 20, 3, 30, 4, 40}, (float[]){1, 4, 50, 40}, 4);
}

/* x [1,2,1,2] flattens to [1,2,3,4]; w = [[1,0,0,1],[.5,.5,.5,.5]], b = [.25,-1]:
 * [1+4+.25, 5-1] = [5.25, 4], clamped to act_max 5 -> [5, 4]. */
static void test_fully_connected(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int w = ms_test_constant(g, "w", 2, (int64_t[]){2, 4}, (float[]){1, 0, 0, 1, .5f, .5f, .5f, .5f});
    int b = ms_test_constant(g, "b", 1, (int64_t[]){2}, (float[]){.25f, -1});
    op(g, MS_OP_FULLY_CONNECTED, 4, (int64_t[]){1, 2, 1, 2}, (int[]){w, b}, 2)->act_max = 5;
    run_expect(g, (float[]){1, 2, 3, 4}, (float[]){5, 4}, 2);
}

/* Two pixels of 2 channels [1,2 | 3,4]; scale [2,.5], offset [1,0], mean [1,2],
 * variance [3,15], epsilon 1 -> sd [2,4]:
 *   (1-1)/2*2+1 = 1, (2-2)/4*.5 = 0, (3-1)/2*2+1 = 3, (4-2)/4*.5 = .25 */
static void test_batch_norm(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int64_t c[1] = {2};
    int p[4] = {ms_test_constant(g, "scale", 1, c, (float[]){2, .5f}), ms_test_constant(g, "offset", 1, c, (float[]){1, 0}),
                ms_test_constant(g, "mean", 1, c, (float[]){1, 2}), ms_test_constant(g, "var", 1, c, (float[]){3, 15})};
    op(g, MS_OP_BATCH_NORM, 4, (int64_t[]){1, 1, 2, 2}, p, 4)->epsilon = 1;
    run_expect(g, (float[]){1, 2, 3, 4}, (float[]){1, 0, 3, .25f}, 4);
}

/* ReLU6: [-1, 3, 7, 6] -> [0, 3, 6, 6]; NaN stays NaN. */
static void test_clip(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_CLIP, 2, (int64_t[]){1, 4}, NULL, 0);
    n->act_min = 0;
    n->act_max = 6;
    run_expect(g, (float[]){-1, 3, 7, 6}, (float[]){0, 3, 6, 6}, 4);

    g = ms_graph_new();
    n = op(g, MS_OP_CLIP, 2, (int64_t[]){1, 1}, NULL, 0);
    n->act_min = 0;
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err), MS_OK);
    float x = NAN, y = 0;
    assert_int_equal(ms_plan_run(plan, &x, &y, &err), MS_OK);
    assert_true(isnan(y));
    ms_plan_free(plan);
    ms_graph_free(g);
}

/* 3x3 input 1..9, 3x3 window, stride 1, SAME (pad 1 all round); each output averages
 * only the real cells:
 *   (0,0) = (1+2+4+5)/4 = 3      (0,1) = (1..6)/6 = 3.5      (0,2) = (2+3+5+6)/4 = 4
 *   (1,0) = (1,2,4,5,7,8)/6 = 4.5 (1,1) = 45/9 = 5          (1,2) = (2,3,5,6,8,9)/6 = 5.5
 *   (2,0) = (4+5+7+8)/4 = 6      (2,1) = (4..9)/6 = 6.5      (2,2) = (5+6+8+9)/4 = 7
 * (counting the padding would make (0,0) = 12/9). */
static void test_avg_pool_excludes_padding(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_AVG_POOL, 4, (int64_t[]){1, 3, 3, 1}, NULL, 0);
    n->kernel_h = n->kernel_w = 3;
    n->padding = MS_PAD_SAME;
    float x[9];
    iota(x, 9, 1);
    run_expect(g, x, (float[]){3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7}, 9);
}

/* 3x3 input 1..9, 2x2 window, stride 2, SAME: out 2x2, total pad (2-1)*2 + 2 - 3 = 1,
 * all after: (0,0) = (1+2+4+5)/4 = 3, (0,1) = (3+6)/2 = 4.5, (1,0) = (7+8)/2 = 7.5,
 * (1,1) = 9. */
static void test_avg_pool_stride2_same(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_AVG_POOL, 4, (int64_t[]){1, 3, 3, 1}, NULL, 0);
    n->kernel_h = n->kernel_w = 2;
    n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
    float x[9];
    iota(x, 9, 1);
    run_expect(g, x, (float[]){3, 4.5f, 7.5f, 9}, 4);
}

/* 3x3 input -1..-9, 3x3 window, stride 2, SAME (pad 1 all round): padding never wins,
 * so (0,0) = max(-1,-2,-4,-5) = -1, (0,1) = max(-2,-3,-5,-6) = -2,
 * (1,0) = max(-4,-5,-7,-8) = -4, (1,1) = max(-5,-6,-8,-9) = -5. */
static void test_max_pool_ignores_padding(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_MAX_POOL, 4, (int64_t[]){1, 3, 3, 1}, NULL, 0);
    n->kernel_h = n->kernel_w = 3;
    n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
    float x[9];
    iota(x, 9, -1);
    run_expect(g, x, (float[]){-1, -2, -4, -5}, 4);
}

static const float two_by_two[8] = {1, 10, 2, 20, 3, 30, 4, 40}; /* ch0 1..4, ch1 10..40 */

/* Global average: ch0 (1+2+3+4)/4 = 2.5, ch1 25. */
static void test_global_avg_pool(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    op(g, MS_OP_GLOBAL_AVG_POOL, 4, (int64_t[]){1, 2, 2, 2}, NULL, 0);
    run_expect(g, two_by_two, (float[]){2.5f, 25}, 2);
}

/* Mean over W with keep_dims -> [1,2,1,2]: row 0 (1+2)/2 = 1.5, (10+20)/2 = 15;
 * row 1 3.5, 35. Over H, W, C -> [1]: (1+2+3+4)(1+10)/8 = 13.75. Over C -> [1,2,2]:
 * 5.5, 11, 16.5, 22. */
static void test_mean(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_MEAN, 4, (int64_t[]){1, 2, 2, 2}, NULL, 0);
    n->axes_mask = 1u << 2;
    n->keep_dims = true;
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_int_equal(g->tensors[g->outputs[0]].ndim, 4);
    assert_int_equal(g->tensors[g->outputs[0]].shape[2], 1);
    run_expect(g, two_by_two, (float[]){1.5f, 15, 3.5f, 35}, 4);

    g = ms_graph_new();
    op(g, MS_OP_MEAN, 4, (int64_t[]){1, 2, 2, 2}, NULL, 0)->axes_mask = 0xE;
    run_expect(g, two_by_two, (float[]){13.75f}, 1);

    g = ms_graph_new();
    op(g, MS_OP_MEAN, 4, (int64_t[]){1, 2, 2, 2}, NULL, 0)->axes_mask = 1u << 3;
    run_expect(g, two_by_two, (float[]){5.5f, 11, 16.5f, 22}, 4);
}

/* [1,2,3 | 4,5,6] + per-channel [10,20,30] = [11,22,33,14,25,36]; with fused ReLU
 * clamp max 30: [11,22,30,14,25,30]. Same-shape add of x and a constant. */
static void test_add(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int b = ms_test_constant(g, "b", 1, (int64_t[]){3}, (float[]){10, 20, 30});
    op(g, MS_OP_ADD, 4, (int64_t[]){1, 1, 2, 3}, &b, 1)->act_max = 30;
    run_expect(g, (float[]){1, 2, 3, 4, 5, 6}, (float[]){11, 22, 30, 14, 25, 30}, 6);

    g = ms_graph_new();
    b = ms_test_constant(g, "b", 2, (int64_t[]){1, 3}, (float[]){-1, -2, -3});
    op(g, MS_OP_ADD, 2, (int64_t[]){1, 3}, &b, 1);
    run_expect(g, (float[]){1, 2, 3}, (float[]){0, 0, 0}, 3);
}

/* Channels: x [1,2 | 3,4] (2 pixels x 2 channels) with c [9 | 8] (1 channel) ->
 * [1,2,9 | 3,4,8]. Width: x [1,1,2,2] with c [1,1,1,2] = [7,7] -> [1,2,3,4,7,7]. */
static void test_concat(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int c = ms_test_constant(g, "c", 4, (int64_t[]){1, 1, 2, 1}, (float[]){9, 8});
    op(g, MS_OP_CONCAT, 4, (int64_t[]){1, 1, 2, 2}, &c, 1)->axis = 3;
    run_expect(g, (float[]){1, 2, 3, 4}, (float[]){1, 2, 9, 3, 4, 8}, 6);

    g = ms_graph_new();
    c = ms_test_constant(g, "c", 4, (int64_t[]){1, 1, 1, 2}, (float[]){7, 7});
    op(g, MS_OP_CONCAT, 4, (int64_t[]){1, 1, 2, 2}, &c, 1)->axis = 2;
    run_expect(g, (float[]){1, 2, 3, 4}, (float[]){1, 2, 3, 4, 7, 7}, 6);
}

/* x [1,1,2,1] = [1,2]; pad H (1,0), W (0,1), C (0,1) -> [1,2,3,2]:
 * row 0 all zero; row 1: (1,0) (2,0) (0,0). */
static void test_pad(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_PAD, 4, (int64_t[]){1, 1, 2, 1}, NULL, 0);
    n->pads[1][0] = 1;
    n->pads[2][1] = 1;
    n->pads[3][1] = 1;
    run_expect(g, (float[]){1, 2}, (float[]){0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0}, 12);
}

static void test_reshape_and_copy(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    ms_node *n = op(g, MS_OP_RESHAPE, 4, (int64_t[]){1, 2, 2, 1}, NULL, 0);
    ms_tensor *y = &g->tensors[n->output];
    y->ndim = 2;
    y->shape[0] = 1;
    y->shape[1] = 4;
    run_expect(g, (float[]){1, 2, 3, 4}, (float[]){1, 2, 3, 4}, 4);

    g = ms_graph_new();
    op(g, MS_OP_COPY, 2, (int64_t[]){1, 3}, NULL, 0);
    run_expect(g, (float[]){-1, 0, 5}, (float[]){-1, 0, 5}, 3);
}

/* [1,2,3]: e^-2, e^-1, 1 over their sum 1.503214724 -> .090030573, .244728471,
 * .665240956. beta 2 on [0, ln(3)/2] -> weights 1 and 3 -> [.25, .75] (two rows).
 * [1000, 1000] stays finite: [.5, .5]. */
static void test_softmax(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    op(g, MS_OP_SOFTMAX, 2, (int64_t[]){1, 3}, NULL, 0);
    run_expect(g, (float[]){1, 2, 3}, (float[]){.090030573f, .244728471f, .665240956f}, 3);

    g = ms_graph_new();
    op(g, MS_OP_SOFTMAX, 3, (int64_t[]){1, 2, 2}, NULL, 0)->beta = 2;
    float h = logf(3) / 2;
    run_expect(g, (float[]){0, h, 1 + h, 1}, (float[]){.25f, .75f, .75f, .25f}, 4);

    g = ms_graph_new();
    op(g, MS_OP_SOFTMAX, 2, (int64_t[]){1, 2}, NULL, 0);
    run_expect(g, (float[]){1000, 1000}, (float[]){.5f, .5f}, 2);
}

/* sigmoid(0) = .5, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4. */
static void test_sigmoid(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    op(g, MS_OP_SIGMOID, 2, (int64_t[]){1, 3}, NULL, 0);
    run_expect(g, (float[]){0, logf(3), -logf(3)}, (float[]){.5f, .75f, .25f}, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same_stride2_pads_after),
        cmocka_unit_test(test_conv_dilation),
        cmocka_unit_test(test_conv_explicit_padding),
        cmocka_unit_test(test_conv_groups),
        cmocka_unit_test(test_depthwise_multiplier),
        cmocka_unit_test(test_fully_connected),
        cmocka_unit_test(test_batch_norm),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_avg_pool_excludes_padding),
        cmocka_unit_test(test_avg_pool_stride2_same),
        cmocka_unit_test(test_max_pool_ignores_padding),
        cmocka_unit_test(test_global_avg_pool),
        cmocka_unit_test(test_mean),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_reshape_and_copy),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_sigmoid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
