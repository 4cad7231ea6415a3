/* Tests of the reference backend's plan: a hand-built multi-node graph with values
 * worked out by hand, batches giving each item the result it gets alone, a plan that
 * outlives its graph, and errors at compile time. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

/* Deterministic pseudo-random values in [-1, 1). */
static float *random_values(size_t n, uint32_t seed)
{
    float *v = malloc(n * sizeof *v + 1);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
    return v;
}

static int random_constant(ms_graph *g, const char *name, int ndim, const int64_t *shape, uint32_t seed)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *v = random_values((size_t)n, seed);
    int t = ms_test_constant(g, name, ndim, shape, v);
    free(v);
    return t;
}

static ms_plan *compile(const ms_graph *g, int batch)
{
    ms_plan_options opts = {.batch = batch, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    ms_error err;
    if (ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err)) fail_msg("%s", err.msg);
    return plan;
}

/* x [1,2,2,1] = [1,2,3,4]
 *  -> conv 1x1, w 2, b -5:      [-3,-1,1,3]
 *  -> ReLU:                     [0,0,1,3]
 *  -> global average pool:      [1]
 *  -> fc w [[1],[-1]]:          [1,-1]
 *  -> softmax: [1/(1+e^-2), e^-2/(1+e^-2)] = [.880797078, .119202922] */
static ms_graph *tiny_graph(void)
{
    ms_graph *g = ms_graph_new();
    int x = ms_test_tensor(g, "x", 4, (int64_t[]){1, 2, 2, 1});
    int w = ms_test_constant(g, "w", 4, (int64_t[]){1, 1, 1, 1}, (float[]){2});
    int b = ms_test_constant(g, "b", 1, (int64_t[]){1}, (float[]){-5});
    int fw = ms_test_constant(g, "fw", 2, (int64_t[]){2, 1}, (float[]){1, -1});
    int c = ms_test_tensor(g, "conv", 0, NULL), r = ms_test_tensor(g, "relu", 0, NULL), p = ms_test_tensor(g, "pool", 0, NULL);
    int f = ms_test_tensor(g, "fc", 0, NULL), s = ms_test_tensor(g, "prob", 0, NULL);
    ms_test_node(g, MS_OP_CONV2D, "conv", (int[]){x, w, b}, 3, c);
    ms_test_node(g, MS_OP_CLIP, "relu", &c, 1, r)->act_min = 0;
    ms_test_node(g, MS_OP_GLOBAL_AVG_POOL, "pool", &r, 1, p);
    ms_test_node(g, MS_OP_FULLY_CONNECTED, "fc", (int[]){p, fw}, 2, f);
    ms_test_node(g, MS_OP_SOFTMAX, "softmax", &f, 1, s);
    ms_test_set_io(g, x, s);
    return g;
}

static void test_tiny_graph_by_hand(void **state)
{
    (void)state;
    ms_graph *g = tiny_graph();
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_plan *plan = compile(g, 1);
    assert_int_equal(plan->in_numel, 4);
    assert_int_equal(plan->out_numel, 2);
    float y[2];
    assert_int_equal(ms_plan_run(plan, (float[]){1, 2, 3, 4}, y, &err), MS_OK);
    assert_float_equal(y[0], .880797078, 1e-6);
    assert_float_equal(y[1], .119202922, 1e-6);
    ms_plan_free(plan);
    ms_graph_free(g);
}

/* The plan copies what it needs: freeing the graph right after compiling is fine. */
static void test_plan_outlives_graph(void **state)
{
    (void)state;
    ms_graph *g = tiny_graph();
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_plan *plan = compile(g, 2);
    ms_graph_free(g);
    float y[4];
    assert_int_equal(ms_plan_run(plan, (float[]){1, 2, 3, 4, 0, 0, 0, 0}, y, &err), MS_OK);
    assert_float_equal(y[0], .880797078, 1e-6);
    /* all-zero frame: conv gives -5 everywhere, ReLU 0, fc [0,0], softmax [.5,.5] */
    assert_float_equal(y[2], .5, 1e-6);
    assert_float_equal(y[3], .5, 1e-6);
    ms_plan_free(plan);
}

/* 9x9x3 -> conv 3x3/2 SAME (4) -> BN -> ReLU6 -> depthwise 3x3 x2 SAME (8) -> add [8]
 * -> max pool 2x2/2 SAME -> pad H,W by 1 -> avg pool 3x3 VALID -> mean H,W keep_dims
 * -> concat with its sigmoid on channels (16) -> reshape [1,16] -> fc 16->5 -> softmax.
 * Random weights: used where only agreement matters. */
static ms_graph *mixed_graph(void)
{
    ms_graph *g = ms_graph_new();
    int x = ms_test_tensor(g, "x", 4, (int64_t[]){1, 9, 9, 3});
    int w1 = random_constant(g, "w1", 4, (int64_t[]){4, 3, 3, 3}, 1);
    int bn[4];
    for (int k = 0; k < 4; k++) bn[k] = random_constant(g, "bn", 1, (int64_t[]){4}, 10 + (uint32_t)k);
    for (int c = 0; c < 4; c++) /* variances are positive */
        g->tensors[bn[3]].data[c] = fabsf(g->tensors[bn[3]].data[c]) + 0.1f;
    int wd = random_constant(g, "wd", 4, (int64_t[]){8, 3, 3, 1}, 2);
    int ab = random_constant(g, "ab", 1, (int64_t[]){8}, 3);
    int fw = random_constant(g, "fw", 2, (int64_t[]){5, 16}, 4);
    int fb = random_constant(g, "fb", 1, (int64_t[]){5}, 5);
    const char *names[] = {"c1", "bn", "relu6", "dw", "add", "max", "pad", "avg", "mean", "sig", "cat"};
    int t[11];
    for (int k = 0; k < 11; k++) t[k] = ms_test_tensor(g, names[k], 0, NULL);
    int flat = ms_test_tensor(g, "flat", 2, (int64_t[]){1, 16});
    int logits = ms_test_tensor(g, "logits", 0, NULL), prob = ms_test_tensor(g, "prob", 0, NULL);

    ms_node *n = ms_test_node(g, MS_OP_CONV2D, "c1", (int[]){x, w1}, 2, t[0]);
    n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
    ms_test_node(g, MS_OP_BATCH_NORM, "bn", (int[]){t[0], bn[0], bn[1], bn[2], bn[3]}, 5, t[1]);
    n = ms_test_node(g, MS_OP_CLIP, "relu6", &t[1], 1, t[2]);
    n->act_min = 0;
    n->act_max = 6;
    n = ms_test_node(g, MS_OP_CONV2D, "dw", (int[]){t[2], wd}, 2, t[3]);
    n->groups = 4;
    n->padding = MS_PAD_SAME;
    ms_test_node(g, MS_OP_ADD, "add", (int[]){t[3], ab}, 2, t[4]);
    n = ms_test_node(g, MS_OP_MAX_POOL, "max", &t[4], 1, t[5]);
    n->kernel_h = n->kernel_w = n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
    n = ms_test_node(g, MS_OP_PAD, "pad", &t[5], 1, t[6]);
    n->pads[1][0] = n->pads[1][1] = n->pads[2][0] = n->pads[2][1] = 1;
    n = ms_test_node(g, MS_OP_AVG_POOL, "avg", &t[6], 1, t[7]);
    n->kernel_h = n->kernel_w = 3;
    n = ms_test_node(g, MS_OP_MEAN, "mean", &t[7], 1, t[8]);
    n->axes_mask = 0x6;
    n->keep_dims = true;
    ms_test_node(g, MS_OP_SIGMOID, "sig", &t[8], 1, t[9]);
    ms_test_node(g, MS_OP_CONCAT, "cat", (int[]){t[8], t[9]}, 2, t[10])->axis = 3;
    ms_test_node(g, MS_OP_RESHAPE, "flat", &t[10], 1, flat);
    ms_test_node(g, MS_OP_FULLY_CONNECTED, "fc", (int[]){flat, fw, fb}, 3, logits);
    ms_test_node(g, MS_OP_SOFTMAX, "softmax", &logits, 1, prob);
    ms_test_set_io(g, x, prob);
    return g;
}

/* A batch of 3 gives each frame exactly the output it gets alone (same loops, same
 * order of sums, so equal to the bit). */
static void test_batch_matches_single_frames(void **state)
{
    (void)state;
    ms_graph *g = mixed_graph();
    ms_error err;
    if (ms_graph_infer_shapes(g, &err)) fail_msg("%s", err.msg);
    assert_int_equal(g->tensors[g->outputs[0]].shape[1], 5);
    ms_plan *one = compile(g, 1), *three = compile(g, 3);
    assert_int_equal(three->in_numel, 9 * 9 * 3);
    assert_int_equal(three->out_numel, 5);
    float *x = random_values(3 * 243, 99);
    float y1[15], y3[15];
    for (int b = 0; b < 3; b++) assert_int_equal(ms_plan_run(one, x + b * 243, y1 + b * 5, &err), MS_OK);
    assert_int_equal(ms_plan_run(three, x, y3, &err), MS_OK);
    assert_memory_equal(y1, y3, sizeof y1);
    double sum = 0;
    for (int i = 0; i < 5; i++) sum += y3[5 + i];
    assert_float_equal(sum, 1.0, 1e-6);
    /* different frames give different outputs: the batch items are not mixed up */
    assert_memory_not_equal(y3, y3 + 5, 5 * sizeof(float));
    free(x);
    ms_plan_free(one);
    ms_plan_free(three);
    ms_graph_free(g);
}

/* Compiling checks shapes itself and names the node; the ref backend is float32 only. */
static void test_compile_errors(void **state)
{
    (void)state;
    ms_graph *g = tiny_graph();
    g->tensors[g->inputs[0]].shape[3] = 2; /* a 2-channel input for 1-channel weights */
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan = (ms_plan *)&opts;
    ms_error err;
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err), MS_ERR_INVALID);
    assert_null(plan);
    assert_non_null(strstr(err.msg, "'conv' (conv2d)"));
    assert_non_null(strstr(err.msg, "input [1,2,2,2], weights [1,1,1,1]"));
    ms_graph_free(g);

    g = tiny_graph();
    opts.precision = MS_PREC_INT8;
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "float32"));
    opts.precision = MS_PREC_FP32;
    opts.batch = 0;
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err), MS_ERR_INVALID);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_graph_by_hand),
        cmocka_unit_test(test_plan_outlives_graph),
        cmocka_unit_test(test_batch_matches_single_frames),
        cmocka_unit_test(test_compile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
