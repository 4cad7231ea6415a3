/* Tests of batch-norm folding: the folded weights and bias by hand, outputs unchanged
 * on the reference backend, and the pairs that must be left alone. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "graph/fold.h"

/* A constant of deterministic pseudo-random values in [lo, lo + 1). */
static int random_constant(ms_graph *g, const char *name, int ndim, const int64_t *shape, uint32_t seed, float lo)
{
    int t = ms_test_tensor(g, name, ndim, shape);
    size_t n = (size_t)ms_tensor_numel(&g->tensors[t]);
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = lo + (float)(seed >> 8) / (float)(1u << 24);
    }
    g->tensors[t].data = v;
    return t;
}

/* Batch-norm parameters for c channels: scale, offset, mean in [-.5,.5), variance in
 * [.5, 1.5). Fills bn[0..3]. */
static void bn_params(ms_graph *g, int64_t c, uint32_t seed, int bn[4])
{
    for (int k = 0; k < 4; k++) bn[k] = random_constant(g, "bn", 1, &c, seed + (uint32_t)k, k == 3 ? .5f : -.5f);
}

/* Runs g on the reference backend for a fixed pseudo-random input; returns the output. */
static float *run(const ms_graph *g, int64_t *n_out)
{
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    ms_error err;
    if (ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err)) fail_msg("%s", err.msg);
    float *x = malloc((size_t)plan->in_numel * sizeof *x), *y = malloc((size_t)plan->out_numel * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (int64_t i = 0; i < plan->in_numel; i++) x[i] = sinf((float)i);
    assert_int_equal(ms_plan_run(plan, x, y, &err), MS_OK);
    *n_out = plan->out_numel;
    free(x);
    ms_plan_free(plan);
    return y;
}

/* conv 1x1, w = 2, no bias, then BN scale 3, offset 1, mean .5, variance 3, epsilon 1:
 * s = 3 / sqrt(3 + 1) = 1.5; w' = 2 * 1.5 = 3; b' = (0 - .5) * 1.5 + 1 = .25. */
static void test_fold_by_hand(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int64_t one[4] = {1, 1, 1, 1};
    int x = ms_test_tensor(g, "x", 4, (int64_t[]){1, 2, 2, 1});
    int w = ms_test_tensor(g, "w", 4, one);
    g->tensors[w].data = malloc(sizeof(float));
    assert_non_null(g->tensors[w].data);
    g->tensors[w].data[0] = 2;
    const float values[4] = {3, 1, .5f, 3};
    int bn[4];
    for (int k = 0; k < 4; k++) {
        bn[k] = ms_test_tensor(g, "bn", 1, one);
        g->tensors[bn[k]].data = malloc(sizeof(float));
        assert_non_null(g->tensors[bn[k]].data);
        g->tensors[bn[k]].data[0] = values[k];
    }
    int c = ms_test_tensor(g, "c", 0, NULL), y = ms_test_tensor(g, "y", 0, NULL);
    ms_test_node(g, MS_OP_CONV2D, "conv", (int[]){x, w}, 2, c);
    ms_test_node(g, MS_OP_BATCH_NORM, "bn", (int[]){c, bn[0], bn[1], bn[2], bn[3]}, 5, y)->epsilon = 1;
    ms_test_set_io(g, x, y);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_int_equal(ms_graph_fold_batch_norm(g, &err), MS_OK);
    assert_int_equal(g->n_nodes, 1);
    const ms_node *n = &g->nodes[0];
    assert_int_equal(n->output, y);
    assert_int_equal(n->n_inputs, 3);
    assert_float_equal(g->tensors[n->inputs[1]].data[0], 3, 1e-6);
    assert_float_equal(g->tensors[n->inputs[2]].data[0], .25, 1e-6);
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_graph_free(g);
}

/* x 7x7x3 -> conv 3x3/2 SAME (4, no bias) -> BN -> ReLU6 -> conv 1x1 (6, bias) -> BN.
 * Both pairs fold; the output is unchanged to float rounding. */
static void test_fold_keeps_outputs(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = ms_test_tensor(g, "x", 4, (int64_t[]){1, 7, 7, 3});
    int w1 = random_constant(g, "w1", 4, (int64_t[]){4, 3, 3, 3}, 1, -.5f);
    int w2 = random_constant(g, "w2", 4, (int64_t[]){6, 1, 1, 4}, 2, -.5f);
    int b2 = random_constant(g, "b2", 1, (int64_t[]){6}, 3, -.5f);
    int bn1[4], bn2[4];
    bn_params(g, 4, 10, bn1);
    bn_params(g, 6, 20, bn2);
    int t[5];
    for (int k = 0; k < 5; k++) t[k] = ms_test_tensor(g, "t", 0, NULL);
    ms_node *n = ms_test_node(g, MS_OP_CONV2D, "c1", (int[]){x, w1}, 2, t[0]);
    n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
    ms_test_node(g, MS_OP_BATCH_NORM, "bn1", (int[]){t[0], bn1[0], bn1[1], bn1[2], bn1[3]}, 5, t[1]);
    n = ms_test_node(g, MS_OP_CLIP, "relu6", &t[1], 1, t[2]);
    n->act_min = 0;
    n->act_max = 6;
    ms_test_node(g, MS_OP_CONV2D, "c2", (int[]){t[2], w2, b2}, 3, t[3]);
    ms_test_node(g, MS_OP_BATCH_NORM, "bn2", (int[]){t[3], bn2[0], bn2[1], bn2[2], bn2[3]}, 5, t[4]);
    ms_test_set_io(g, x, t[4]);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    int64_t n_before, n_after;
    float *before = run(g, &n_before);
    assert_int_equal(ms_graph_fold_batch_norm(g, &err), MS_OK);
    assert_int_equal(g->n_nodes, 3);
    assert_int_equal(g->nodes[0].kind, MS_OP_CONV2D);
    assert_int_equal(g->nodes[0].n_inputs, 3); /* bias created */
    assert_int_equal(g->nodes[1].kind, MS_OP_CLIP);
    assert_int_equal(g->nodes[2].inputs[2], b2); /* own bias rewritten in place */
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    float *after = run(g, &n_after);
    assert_int_equal(n_before, 4 * 4 * 6); /* ceil(7/2) = 4 */
    assert_int_equal(n_after, n_before);
    double e = ms_test_rel_l2(after, before, (size_t)n_before);
    if (!(e < 1e-6)) fail_msg("relative L2 error %g after folding", e);
    free(before);
    free(after);
    ms_graph_free(g);
}

/* Two convs share one weight tensor, each followed by its own BN: both fold into
 * private copies, and the output (their sum) is unchanged. */
static void test_fold_shared_weights(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = ms_test_tensor(g, "x", 4, (int64_t[]){1, 4, 4, 2});
    int w = random_constant(g, "w", 4, (int64_t[]){2, 3, 3, 2}, 5, -.5f);
    int bn1[4], bn2[4];
    bn_params(g, 2, 30, bn1);
    bn_params(g, 2, 40, bn2);
    int t[5];
    for (int k = 0; k < 5; k++) t[k] = ms_test_tensor(g, "t", 0, NULL);
    ms_test_node(g, MS_OP_CONV2D, "c1", (int[]){x, w}, 2, t[0])->padding = MS_PAD_SAME;
    ms_test_node(g, MS_OP_BATCH_NORM, "bn1", (int[]){t[0], bn1[0], bn1[1], bn1[2], bn1[3]}, 5, t[1]);
    ms_test_node(g, MS_OP_CONV2D, "c2", (int[]){x, w}, 2, t[2])->padding = MS_PAD_SAME;
    ms_test_node(g, MS_OP_BATCH_NORM, "bn2", (int[]){t[2], bn2[0], bn2[1], bn2[2], bn2[3]}, 5, t[3]);
    ms_test_node(g, MS_OP_ADD, "sum", (int[]){t[1], t[3]}, 2, t[4]);
    ms_test_set_io(g, x, t[4]);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    int64_t n_before, n_after;
    float *before = run(g, &n_before);
    assert_int_equal(ms_graph_fold_batch_norm(g, &err), MS_OK);
    assert_int_equal(g->n_nodes, 3);
    assert_int_not_equal(g->nodes[0].inputs[1], g->nodes[1].inputs[1]);
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    float *after = run(g, &n_after);
    double e = ms_test_rel_l2(after, before, (size_t)n_before);
    if (!(e < 1e-6)) fail_msg("relative L2 error %g after folding", e);
    free(before);
    free(after);
    ms_graph_free(g);
}

/* Left alone: a conv whose output is also read by another node, and a conv with a
 * fused activation (the clamp comes before the BN). */
static void test_fold_leaves_unsafe_pairs(void **state)
{
    (void)state;
    ms_graph *g = ms_graph_new();
    int x = ms_test_tensor(g, "x", 4, (int64_t[]){1, 3, 3, 2});
    int w = random_constant(g, "w", 4, (int64_t[]){2, 1, 1, 2}, 7, -.5f);
    int bn[4];
    bn_params(g, 2, 50, bn);
    int t[5];
    for (int k = 0; k < 5; k++) t[k] = ms_test_tensor(g, "t", 0, NULL);
    ms_test_node(g, MS_OP_CONV2D, "c1", (int[]){x, w}, 2, t[0]);
    ms_test_node(g, MS_OP_BATCH_NORM, "bn1", (int[]){t[0], bn[0], bn[1], bn[2], bn[3]}, 5, t[1]);
    ms_test_node(g, MS_OP_ADD, "sum", (int[]){t[0], t[1]}, 2, t[2]);
    ms_test_node(g, MS_OP_CONV2D, "c2", (int[]){t[2], w}, 2, t[3])->act_max = 6;
    ms_test_node(g, MS_OP_BATCH_NORM, "bn2", (int[]){t[3], bn[0], bn[1], bn[2], bn[3]}, 5, t[4]);
    ms_test_set_io(g, x, t[4]);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    assert_int_equal(ms_graph_fold_batch_norm(g, &err), MS_OK);
    assert_int_equal(g->n_nodes, 5);
    assert_int_equal(g->nodes[0].n_inputs, 2);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_by_hand),
        cmocka_unit_test(test_fold_keeps_outputs),
        cmocka_unit_test(test_fold_shared_weights),
        cmocka_unit_test(test_fold_leaves_unsafe_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
