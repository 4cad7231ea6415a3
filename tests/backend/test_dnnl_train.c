/* The cpu (oneDNN) backend's train plan against the ref backend's: for each op, a small
 * graph (a convolution whose weights are parameters, the op, the binary head) is
 * trained one step on both with the same inputs and targets, and the outputs, the loss
 * and every parameter's gradient must agree (relative L2 < 1e-4), at batch 1 and 3 and
 * with 1 and 2 threads; after the same update of both plans' values their next forward
 * passes must agree too (the plan reads the optimiser's values). The same for whole
 * MobileNetV1 and V2 (residual) suffixes and an exported MobileNetV3-small suffix
 * (squeeze-excite); a few SGD steps lower the loss; int8 and bad targets are refused. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "formats/model.h"
#include "formats/mpackage.h"

#define BUILDER_SEED 7u
#include "graph_builder.h"

/* fc over x (flattened by a reshape, or read as NHWC by the fc itself) -> sigmoid. */
static ms_graph *finish_bce(builder *b, int x, bool reshape)
{
    int64_t k = ms_tensor_numel(infer(b, x)), fs[2] = {1, k}, ws[2] = {1, k}, bs[1] = {1};
    int flat = x, logit, score;
    if (reshape) {
        flat = ms_test_tensor(b->g, "flat", 2, fs);
        ms_test_node(b->g, MS_OP_RESHAPE, "flatten", &x, 1, flat);
    }
    int in[3] = {flat, constant(b, 2, ws, 0.3f), constant(b, 1, bs, 0.2f)};
    add(b, MS_OP_FULLY_CONNECTED, in, 3, &logit);
    add(b, MS_OP_SIGMOID, &logit, 1, &score);
    infer(b, score);
    return b->g;
}

static void free_plan_pair(ms_train_plan *a, ms_train_plan *b)
{
    ms_train_free(a);
    ms_train_free(b);
}

/* ||a - b|| / max(||b||, 1e-3): relative L2, except that a gradient much smaller than
 * the terms summed into it (a bias whose batch contributions nearly cancel) is held to
 * 1e-7 absolute, float32 rounding of those terms (a wrong kernel misses by far more). */
static double rel(const float *a, const float *b, size_t n)
{
    double nb = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        nb += (double)b[i] * b[i];
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    return sqrt(d) / fmax(sqrt(nb), 1e-3);
}

/* `steps` steps on cpu and ref from the same input and targets, the same update of both
 * plans' values after each; everything must agree. */
static void compare_steps(ms_graph *g, ms_loss loss, int batch, int threads, const float *target, int steps)
{
    ms_error err;
    ms_train_plan *cpu, *ref;
    ms_plan_options o = {.batch = batch, .threads = threads, .precision = MS_PREC_FP32};
    if (ms_train_compile(ms_backend_find("cpu"), g, &o, loss, &cpu, &err)) fail_msg("cpu: %s", err.msg);
    if (ms_train_compile(ms_backend_find("ref"), g, &o, loss, &ref, &err)) fail_msg("ref: %s", err.msg);
    assert_int_equal(cpu->n_params, ref->n_params);
    assert_int_equal(cpu->in_numel, ref->in_numel);
    assert_int_equal(cpu->out_numel, ref->out_numel);
    size_t n_in = (size_t)(cpu->in_numel * batch), n_out = (size_t)(cpu->out_numel * batch);
    float *in = malloc(n_in * sizeof *in), *yc = malloc(n_out * sizeof *yc), *yr = malloc(n_out * sizeof *yr);
    assert_true(in && yc && yr);
    for (size_t i = 0; i < n_in; i++) in[i] = 2.0f * rnd();
    for (int step = 0; step < steps; step++) {
        double lc, lr;
        if (ms_train_forward(cpu, in, yc, &err)) fail_msg("cpu forward: %s", err.msg);
        if (ms_train_forward(ref, in, yr, &err)) fail_msg("ref forward: %s", err.msg);
        if (ms_train_backward(cpu, target, &lc, &err)) fail_msg("cpu backward: %s", err.msg);
        if (ms_train_backward(ref, target, &lr, &err)) fail_msg("ref backward: %s", err.msg);
        double e = rel(yc, yr, n_out);
        if (!(e < 1e-4)) fail_msg("%s batch %d threads %d step %d: outputs differ (rel L2 %g)", g->source, batch, threads,
                                  step, e);
        if (!(fabs(lc - lr) <= 1e-5 * fabs(lr) + 1e-7))
            fail_msg("%s batch %d threads %d: loss %.9g (cpu) vs %.9g (ref)", g->source, batch, threads, lc, lr);
        for (int k = 0; k < cpu->n_params; k++) {
            const ms_param *pc = &cpu->params[k], *pr = &ref->params[k];
            assert_int_equal(pc->node, pr->node);
            assert_int_equal(pc->slot, pr->slot);
            assert_int_equal(pc->numel, pr->numel);
            e = rel(pc->grad, pr->grad, (size_t)pc->numel);
            if (!(e < 1e-4))
                fail_msg("%s batch %d threads %d step %d: gradient of param %d (node %d slot %d) differs (rel L2 %g, "
                         "[0] %g vs %g)",
                         g->source, batch, threads, step, k, pc->node, pc->slot, e, pc->grad[0], pr->grad[0]);
        }
        /* the same SGD update of both plans' values: the next pass must use it */
        for (int k = 0; k < cpu->n_params; k++)
            for (int64_t i = 0; i < cpu->params[k].numel; i++) {
                float v = ref->params[k].value[i] - 0.5f * ref->params[k].grad[i];
                ref->params[k].value[i] = cpu->params[k].value[i] = v;
            }
    }
    free(in);
    free(yc);
    free(yr);
    free_plan_pair(cpu, ref);
}

static void compare_on(ms_graph *g, ms_loss loss, int batch, int threads, const float *target)
{
    compare_steps(g, loss, batch, threads, target, 2);
}

static const float targets[3] = {1.0f, 0.0f, 1.0f};

/* batch 1 and 3, threads 1 and 2 */
static void compare(ms_graph *g, const char *what)
{
    free(g->source);
    g->source = strdup(what);
    for (int batch = 1; batch <= 3; batch += 2)
        for (int threads = 1; threads <= 2; threads++) compare_on(g, MS_LOSS_BCE, batch, threads, targets);
    ms_graph_free(g);
}

static void test_conv_variants(void **state)
{
    (void)state;
    /* 3x3; depthwise stride 2 (SAME pads unevenly) with ReLU6; grouped and dilated;
     * pointwise with ReLU6; depthwise with multiplier 2 */
    builder b = start(7, 6, 4);
    int t = conv(&b, b.x, 6, 3, 1, 1, 1, false);
    t = conv(&b, t, 6, 3, 2, 6, 1, true);
    t = conv(&b, t, 4, 3, 1, 2, 2, false);
    t = conv(&b, t, 3, 1, 1, 1, 1, true);
    t = conv(&b, t, 6, 3, 1, 3, 1, false);
    compare(finish_bce(&b, t, true), "conv variants");
}

static void test_fully_connected_on_nhwc(void **state)
{
    (void)state;
    builder b = start(3, 4, 5);
    int t = conv(&b, b.x, 8, 3, 1, 1, 1, false);
    compare(finish_bce(&b, t, false), "fc on NHWC");
}

/* conv -> OP -> head, for each op without parameters. */
static void between(ms_op_kind kind, void (*setup)(ms_node *n), const char *what)
{
    builder b = start(5, 6, 3);
    int t = conv(&b, b.x, 8, 3, 1, 1, 1, false), y;
    setup(add(&b, kind, &t, 1, &y));
    compare(finish_bce(&b, y, true), what);
}

static void set_avg_relu6(ms_node *n)
{
    set_avg(n);
    n->act_min = 0.1f;
    n->act_max = 0.5f;
}

static void test_pooling_and_reductions(void **state)
{
    (void)state;
    between(MS_OP_AVG_POOL, set_avg, "avg pool");
    between(MS_OP_AVG_POOL, set_avg_relu6, "avg pool clamped");
    between(MS_OP_MAX_POOL, set_avg, "max pool");
    between(MS_OP_GLOBAL_AVG_POOL, set_nothing, "global avg pool");
    between(MS_OP_MEAN, set_mean, "mean over H, W");
    between(MS_OP_MEAN, set_mean_c, "mean over C");
}

static void test_elementwise_and_layout(void **state)
{
    (void)state;
    between(MS_OP_CLIP, set_clip, "clip");
    between(MS_OP_PAD, set_pad, "pad");
    between(MS_OP_SIGMOID, set_nothing, "sigmoid inside");
    between(MS_OP_COPY, set_nothing, "copy");
}

static void test_batch_norm_frozen(void **state)
{
    (void)state;
    builder b = start(4, 4, 3);
    int t = conv(&b, b.x, 4, 3, 1, 1, 1, false), y;
    int64_t cs[1] = {4};
    int in[5] = {t, constant(&b, 1, cs, 1.0f), constant(&b, 1, cs, 1.0f), constant(&b, 1, cs, 1.0f),
                 constant(&b, 1, cs, 0.0f)};
    for (int i = 0; i < 4; i++) b.g->tensors[in[4]].data[i] = 0.5f + 0.25f * (float)i;
    ms_node *n = add(&b, MS_OP_BATCH_NORM, in, 5, &y);
    n->act_min = 0;
    n->act_max = 6;
    n->epsilon = 1e-3f;
    compare(finish_bce(&b, y, true), "batch norm");
}

static void test_add_and_concat(void **state)
{
    (void)state;
    /* residual with ReLU6; a per-channel constant add; concat of two branches along
     * channels (8 + 4, so the split is not on a block boundary of 8) */
    builder b = start(5, 5, 3);
    int a = conv(&b, b.x, 4, 3, 1, 1, 1, false);
    int c = conv(&b, a, 4, 1, 1, 1, 1, false), s;
    int in[2] = {a, c};
    ms_node *n = add(&b, MS_OP_ADD, in, 2, &s);
    n->act_min = 0;
    n->act_max = 6;
    int64_t cs[1] = {4};
    int in2[2] = {s, constant(&b, 1, cs, 0.5f)}, s2;
    add(&b, MS_OP_ADD, in2, 2, &s2);
    int d = conv(&b, s2, 8, 3, 1, 1, 1, false), cat;
    int in3[2] = {d, s2};
    n = add(&b, MS_OP_CONCAT, in3, 2, &cat);
    n->axis = 3;
    compare(finish_bce(&b, cat, true), "add and concat");
}

static void set_leaky(ms_node *n) { n->alpha = 0.1f; }
static void set_hard_sigmoid(ms_node *n)
{
    n->alpha = 0.3f;
    n->beta = 0.4f;
}

/* The ops added for ONNX graphs: each activation alone, then squeeze-excite blocks
 * (hard sigmoid gate as MobileNetV3, sigmoid gate and swish as EfficientNet), the gate
 * first in a mul (swapped), broadcasting sub and div by constants and by a computed
 * [N, 1, 1, C] value, a sub / div of two full-shape values, a transpose and slices. */
static void test_onnx_ops(void **state)
{
    (void)state;
    between(MS_OP_LEAKY_RELU, set_leaky, "leaky relu");
    between(MS_OP_HARD_SIGMOID, set_hard_sigmoid, "hard sigmoid");
    between(MS_OP_HARD_SWISH, set_nothing, "hard swish");

    builder b = start(4, 5, 3);
    int t = conv(&b, b.x, 4, 3, 1, 1, 1, false), hs, pool, s1, s2, gate, se;
    add(&b, MS_OP_HARD_SWISH, &t, 1, &hs);
    add(&b, MS_OP_GLOBAL_AVG_POOL, &hs, 1, &pool);
    s1 = conv(&b, pool, 2, 1, 1, 1, 1, false);
    add(&b, MS_OP_LEAKY_RELU, &s1, 1, &s2)->alpha = 0.2f;
    s2 = conv(&b, s2, 4, 1, 1, 1, 1, false);
    set_hard_sigmoid(add(&b, MS_OP_HARD_SIGMOID, &s2, 1, &gate));
    int mul_in[2] = {gate, hs}; /* the broadcast operand first: mul swaps them */
    add(&b, MS_OP_MUL, mul_in, 2, &se);
    int64_t cs[4] = {1, 1, 1, 4}, c1[1] = {4};
    int d1, d2, d3;
    int sub_in[2] = {se, constant(&b, 4, cs, 0.5f)};
    add(&b, MS_OP_SUB, sub_in, 2, &d1);
    int div_in[2] = {d1, constant(&b, 1, c1, 0.3f)};
    for (int k = 0; k < 4; k++) b.g->tensors[div_in[1]].data[k] += 1.5f; /* away from 0 */
    add(&b, MS_OP_DIV, div_in, 2, &d2);
    int sub2_in[2] = {d2, gate}; /* a computed value broadcast */
    add(&b, MS_OP_SUB, sub2_in, 2, &d3);
    compare(finish_bce(&b, d3, true), "squeeze-excite, hard sigmoid gate, sub and div");

    b = start(4, 4, 3);
    t = conv(&b, b.x, 6, 3, 1, 1, 1, false);
    int sg, sw, p2, g1, g2, gs, den, q, diff;
    add(&b, MS_OP_SIGMOID, &t, 1, &sg);
    int sw_in[2] = {t, sg}; /* swish */
    add(&b, MS_OP_MUL, sw_in, 2, &sw);
    add(&b, MS_OP_GLOBAL_AVG_POOL, &sw, 1, &p2);
    g1 = conv(&b, p2, 3, 1, 1, 1, 1, true);
    g2 = conv(&b, g1, 6, 1, 1, 1, 1, false);
    add(&b, MS_OP_SIGMOID, &g2, 1, &gs);
    int64_t c6[1] = {6};
    int den_in[2] = {gs, constant(&b, 1, c6, 0.1f)};
    for (int k = 0; k < 6; k++) b.g->tensors[den_in[1]].data[k] += 0.5f;
    add(&b, MS_OP_ADD, den_in, 2, &den);
    int q_in[2] = {sw, den}; /* divided by a computed [N, 1, 1, C] value */
    add(&b, MS_OP_DIV, q_in, 2, &q);
    int diff_in[2] = {q, sw}; /* two full-shape values */
    add(&b, MS_OP_SUB, diff_in, 2, &diff);
    int full_in[2] = {diff, den};
    int y;
    add(&b, MS_OP_MUL, full_in, 2, &y);
    compare(finish_bce(&b, y, true), "swish, sigmoid gate, div by a computed value");

    /* a transpose (H and W swap), a strided slice of it, and the two channel halves of
     * a conv (ShuffleNet's split) added back together */
    b = start(4, 5, 3);
    t = conv(&b, b.x, 6, 3, 1, 1, 1, false);
    int tr, sl, lo, hi, sum;
    ms_node *n = add(&b, MS_OP_TRANSPOSE, &t, 1, &tr);
    n->perm[1] = 2;
    n->perm[2] = 1;
    infer(&b, tr); /* [1, 5, 4, 6] */
    const int64_t ss[4] = {1, 3, 2, 6}, hs6[4] = {1, 3, 2, 3};
    const int64_t *shapes[3] = {ss, hs6, hs6};
    int *outs[3] = {&sl, &lo, &hi};
    for (int k = 0; k < 3; k++) {
        *outs[k] = act(&b);
        b.g->tensors[*outs[k]].ndim = 4;
        memcpy(b.g->tensors[*outs[k]].shape, shapes[k], sizeof ss);
    }
    n = ms_test_node(b.g, MS_OP_SLICE, "slice", &tr, 1, sl);
    n->steps[1] = 2;
    n->starts[2] = 1;
    n->steps[2] = 2;
    n = ms_test_node(b.g, MS_OP_SLICE, "low", &sl, 1, lo);
    n = ms_test_node(b.g, MS_OP_SLICE, "high", &sl, 1, hi);
    n->starts[3] = 3;
    int sum_in[2] = {lo, hi};
    add(&b, MS_OP_ADD, sum_in, 2, &sum);
    compare(finish_bce(&b, sum, true), "transpose and slices");
}

/* conv (ReLU6) -> flatten -> fc 5 classes -> softmax (beta 0.8) on class labels. */
static ms_graph *softmax_graph(void)
{
    builder b = start(4, 4, 2);
    int t = conv(&b, b.x, 3, 3, 2, 1, 1, true);
    int64_t k = ms_tensor_numel(infer(&b, t)), fs[2] = {1, k}, ws[2] = {5, k}, bs[1] = {5};
    int flat = ms_test_tensor(b.g, "flat", 2, fs), logits, probs;
    ms_test_node(b.g, MS_OP_RESHAPE, "flatten", &t, 1, flat);
    int in[3] = {flat, constant(&b, 2, ws, 0.5f), constant(&b, 1, bs, 0.2f)};
    add(&b, MS_OP_FULLY_CONNECTED, in, 3, &logits);
    add(&b, MS_OP_SOFTMAX, &logits, 1, &probs)->beta = 0.8f;
    infer(&b, probs);
    b.g->source = strdup("softmax");
    return b.g;
}

static void test_softmax_cross_entropy(void **state)
{
    (void)state;
    ms_graph *g = softmax_graph();
    const float labels[3] = {4, 0, 2};
    compare_on(g, MS_LOSS_SOFTMAX_XENT, 3, 2, labels);
    compare_on(g, MS_LOSS_SOFTMAX_XENT, 1, 1, labels);
    ms_graph_free(g);
}

/* MobileNetV1 0.25_128 after chokepoint 9 (blocks 10 to 13, average pool) with a fresh
 * binary head. */
static void test_real_suffix(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *path = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    ms_graph *base, *br;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &base, &err), MS_OK);
    assert_int_equal(ms_branch_from_base(base, 9, &br, &err), MS_OK);
    for (int i = 0; i < br->n_tensors; i++)
        if (!strcmp(br->tensors[i].name, "head/weight"))
            for (int64_t j = 0; j < ms_tensor_numel(&br->tensors[i]); j++) br->tensors[i].data[j] = 0.3f * rnd();
    compare_on(br, MS_LOSS_BCE, 3, 2, targets);
    compare_on(br, MS_LOSS_BCE, 1, 1, targets);
    ms_graph_free(br);
    ms_graph_free(base);
}

/* MobileNetV2 1.0_224 after chokepoint 16: a residual block (the add reads the cut
 * tensor itself), the last block, the 1x1 to 1280 channels, the average pool, the head. */
static void test_real_suffix_residual(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v2_1.0_224_quant.tflite");
    const char *path = ms_test_data("models/mobilenet_v2_1.0_224_quant.tflite");
    ms_graph *base, *br;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &base, &err), MS_OK);
    assert_int_equal(ms_branch_from_base(base, 16, &br, &err), MS_OK);
    bool residual = false;
    for (int i = 0; i < br->n_nodes; i++) residual |= br->nodes[i].kind == MS_OP_ADD;
    assert_true(residual);
    for (int i = 0; i < br->n_tensors; i++)
        if (!strcmp(br->tensors[i].name, "head/weight"))
            for (int64_t j = 0; j < ms_tensor_numel(&br->tensors[i]); j++) br->tensors[i].data[j] = 0.1f * rnd();
    compare_steps(br, MS_LOSS_BCE, 1, 2, targets, 1); /* one step: the ref plan is slow here */
    ms_graph_free(br);
    ms_graph_free(base);
}

/* torchvision's MobileNetV3-small (exported at test time by scripts/onnx_export.py:
 * seeded random weights) after chokepoint 10: two blocks with squeeze-excite (hard
 * sigmoid gates, hard swish spelled x * hard_sigmoid(x)), the last conv, the pool, the
 * head. Skipped without python3-torch and python3-torchvision. */
static void test_onnx_suffix_squeeze_excite(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import torch, torchvision, onnx' >/dev/null 2>&1") != 0) {
        print_message("skipped: /usr/bin/python3 cannot import torch, torchvision and onnx\n");
        skip();
    }
    char *dir = ms_test_tmpdir(), cmd[2048], model[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/scripts/onnx_export.py %s mobilenet_v3_small >/dev/null 2>&1",
             MS_SOURCE_DIR, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(model, sizeof model, "%s/mobilenet_v3_small.onnx", dir);
    const char *path = model;
    ms_graph *base, *br;
    ms_error err;
    if (ms_model_load(&path, 1, &base, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ms_branch_from_base(base, 10, &br, &err), MS_OK);
    int hard_sigmoid = 0, mul = 0;
    for (int i = 0; i < br->n_nodes; i++) {
        hard_sigmoid += br->nodes[i].kind == MS_OP_HARD_SIGMOID;
        mul += br->nodes[i].kind == MS_OP_MUL;
    }
    print_message("suffix: %d nodes, %d hard sigmoid, %d mul\n", br->n_nodes, hard_sigmoid, mul);
    assert_true(hard_sigmoid >= 2 && mul >= 2);
    for (int i = 0; i < br->n_tensors; i++)
        if (!strcmp(br->tensors[i].name, "head/weight"))
            for (int64_t j = 0; j < ms_tensor_numel(&br->tensors[i]); j++) br->tensors[i].data[j] = 0.1f * rnd();
    compare_steps(br, MS_LOSS_BCE, 3, 2, targets, 2);
    compare_steps(br, MS_LOSS_BCE, 1, 1, targets, 1);
    ms_graph_free(br);
    ms_graph_free(base);
    ms_test_rmdir(dir);
}

/* Plain SGD on a fixed batch through the public interface: the loss goes down. */
static void test_steps_reduce_loss(void **state)
{
    (void)state;
    builder b = start(6, 6, 3);
    int t = conv(&b, b.x, 8, 3, 2, 1, 1, true);
    t = conv(&b, t, 8, 3, 1, 8, 1, true);
    ms_graph *g = finish_bce(&b, t, true);
    ms_error err;
    ms_train_plan *p;
    ms_plan_options o = {.batch = 3, .threads = 2, .precision = MS_PREC_FP32};
    assert_int_equal(ms_train_compile(ms_backend_find("cpu"), g, &o, MS_LOSS_BCE, &p, &err), MS_OK);
    float in[3 * 6 * 6 * 3];
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) in[i] = rnd();
    double first = 0, loss = 0;
    for (int step = 0; step < 20; step++) {
        assert_int_equal(ms_train_forward(p, in, NULL, &err), MS_OK);
        assert_int_equal(ms_train_backward(p, targets, &loss, &err), MS_OK);
        if (!step) first = loss;
        for (int k = 0; k < p->n_params; k++)
            for (int64_t i = 0; i < p->params[k].numel; i++) p->params[k].value[i] -= 0.1f * p->params[k].grad[i];
    }
    print_message("loss %.4f -> %.4f after 20 steps\n", first, loss);
    assert_true(loss < 0.5 * first);
    ms_train_free(p);
    ms_graph_free(g);
}

static void test_refusals(void **state)
{
    (void)state;
    ms_graph *g = softmax_graph();
    ms_error err;
    ms_train_plan *p;
    ms_plan_options o = {.batch = 2, .threads = 1, .precision = MS_PREC_INT8};
    const ms_backend *cpu = ms_backend_find("cpu");
    assert_int_equal(ms_train_compile(cpu, g, &o, MS_LOSS_SOFTMAX_XENT, &p, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "float32 only"));
    assert_null(p);
    o.precision = MS_PREC_FP32;
    /* a softmax graph cannot be trained with binary cross-entropy */
    assert_int_equal(ms_train_compile(cpu, g, &o, MS_LOSS_BCE, &p, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "end in a sigmoid"));
    assert_int_equal(ms_train_compile(cpu, g, &o, MS_LOSS_SOFTMAX_XENT, &p, &err), MS_OK);
    float x[2 * 32] = {0}, labels[2] = {1, 5};
    double loss;
    assert_int_equal(ms_train_forward(p, x, NULL, &err), MS_OK);
    assert_int_equal(ms_train_backward(p, labels, &loss, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "label 1 is 5, not a class index in [0, 5)"));
    labels[1] = 1.5f;
    assert_int_equal(ms_train_backward(p, labels, &loss, &err), MS_ERR_INVALID);
    ms_train_free(p);
    ms_graph_free(g);

    /* a softmax inside the graph: refused at compile, naming the node, nothing leaked */
    builder m = start(3, 3, 2);
    int t = conv(&m, m.x, 2, 3, 1, 1, 1, false), sm;
    add(&m, MS_OP_SOFTMAX, &t, 1, &sm);
    g = finish_bce(&m, sm, true);
    assert_int_equal(ms_train_compile(cpu, g, &o, MS_LOSS_BCE, &p, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "(softmax): a softmax inside the graph"));
    assert_null(p);
    ms_graph_free(g);

    builder b = start(3, 3, 2);
    g = finish_bce(&b, conv(&b, b.x, 2, 3, 1, 1, 1, false), true);
    assert_int_equal(ms_train_compile(cpu, g, &o, MS_LOSS_BCE, &p, &err), MS_OK);
    float bad[2] = {0.5f, NAN};
    assert_int_equal(ms_train_forward(p, x, NULL, &err), MS_OK);
    assert_int_equal(ms_train_backward(p, bad, &loss, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "target 1 is nan, not in [0, 1]"));
    bad[1] = 1.25f;
    assert_int_equal(ms_train_backward(p, bad, &loss, &err), MS_ERR_INVALID);
    ms_train_free(p);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_variants),
        cmocka_unit_test(test_fully_connected_on_nhwc),
        cmocka_unit_test(test_pooling_and_reductions),
        cmocka_unit_test(test_elementwise_and_layout),
        cmocka_unit_test(test_batch_norm_frozen),
        cmocka_unit_test(test_add_and_concat),
        cmocka_unit_test(test_onnx_ops),
        cmocka_unit_test(test_softmax_cross_entropy),
        cmocka_unit_test(test_real_suffix),
        cmocka_unit_test(test_real_suffix_residual),
        cmocka_unit_test(test_onnx_suffix_squeeze_excite),
        cmocka_unit_test(test_steps_reduce_loss),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
