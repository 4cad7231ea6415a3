/* Gradient checks of the ref backend's training: for each op, a small graph puts it
 * between a convolution (whose weights are parameters, so their gradient flows through
 * the op's backward kernel) and the binary head (flatten -> fc -> sigmoid); the
 * gradients of every parameter from ms_train_backward must match central finite
 * differences of the loss. The same for a whole suffix of the real MobileNet, and
 * hand-computed values for the losses. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/ref/backward.h"
#include "formats/model.h"
#include "formats/mpackage.h"

#define BUILDER_SEED 2024u
#include "graph_builder.h"

/* flatten -> fc K->1 -> sigmoid, then shapes inferred. */
static ms_graph *finish_bce(builder *b, int x)
{
    infer(b, x);
    int64_t k = ms_tensor_numel(&b->g->tensors[x]), fs[2] = {1, k}, ws[2] = {1, k}, bs[1] = {1};
    int flat = ms_test_tensor(b->g, "flat", 2, fs), logit, score;
    ms_test_node(b->g, MS_OP_RESHAPE, "flatten", &x, 1, flat);
    int in[3] = {flat, constant(b, 2, ws, 0.5f), constant(b, 1, bs, 0.2f)};
    add(b, MS_OP_FULLY_CONNECTED, in, 3, &logit);
    add(b, MS_OP_SIGMOID, &logit, 1, &score);
    infer(b, score);
    return b->g;
}

/* Loss at the plan's current parameters. */
static double loss_now(ms_train_plan *p, const float *in, const float *target)
{
    ms_error err;
    double loss;
    assert_int_equal(ms_train_forward(p, in, NULL, &err), MS_OK);
    assert_int_equal(ms_train_backward(p, target, &loss, &err), MS_OK);
    return loss;
}

static double central(ms_train_plan *p, const float *in, const float *target, float *v, float eps)
{
    float keep = *v;
    *v = keep + eps;
    double up = loss_now(p, in, target);
    *v = keep - eps;
    double down = loss_now(p, in, target);
    *v = keep;
    return (up - down) / (2.0 * (double)eps);
}

/* Compares every parameter's gradient (up to `per_param` entries of each, spread over
 * the tensor) with central differences of the loss. */
/* has_kinks: the graph clamps or takes a maximum, so the loss has kinks. */
static void check_gradients(ms_graph *g, ms_loss kind, int batch, const float *target, int per_param, bool has_kinks)
{
    ms_error err;
    ms_train_plan *p;
    ms_plan_options o = {.batch = batch, .threads = 1, .precision = MS_PREC_FP32};
    if (ms_train_compile(ms_backend_find("ref"), g, &o, kind, &p, &err)) fail_msg("%s", err.msg);
    size_t n_in = (size_t)(p->in_numel * batch);
    float *in = malloc(n_in * sizeof *in);
    for (size_t i = 0; i < n_in; i++) in[i] = 2.0f * rnd();
    double loss0 = loss_now(p, in, target);
    assert_true(isfinite(loss0) && loss0 > 0);
    /* the analytic gradients, kept before the loss is evaluated anywhere else */
    float **grads = calloc((size_t)p->n_params, sizeof *grads);
    assert_non_null(grads);
    for (int k = 0; k < p->n_params; k++) {
        grads[k] = malloc((size_t)p->params[k].numel * sizeof **grads);
        assert_non_null(grads[k]);
        memcpy(grads[k], p->params[k].grad, (size_t)p->params[k].numel * sizeof **grads);
    }
    for (int k = 0; k < p->n_params; k++) {
        ms_param *q = &p->params[k];
        const float *grad = grads[k];
        int checked = 0, kinked = 0, wrong = 0;
        int64_t step = q->numel > per_param ? q->numel / per_param : 1;
        for (int64_t i = 0; i < q->numel; i += step) {
            /* Central differences at two step sizes: on a smooth loss they agree to
             * O(eps^2); a clamp or a max switching within the larger step makes them
             * disagree (the loss has a kink there and no derivative to compare with).
             * The steps are large enough that float32 rounding of the loss stays
             * below 1e-4 in the quotient. */
            double fd = central(p, in, target, q->value + i, 2e-3f), fd2 = central(p, in, target, q->value + i, 1e-3f);
            if (fabs(fd - fd2) > 2e-4 + 0.02 * fabs(fd)) {
                kinked++;
                continue;
            }
            fd = (4.0 * fd2 - fd) / 3.0; /* Richardson: the O(eps^2) terms cancel */
            checked++;
            if (fabs(fd - grad[i]) > 1e-4 + 1e-2 * fabs(fd)) {
                wrong++;
                print_message("%s: parameter %d (node %d slot %d) [%lld]: finite difference %.6g, backward %.6g\n",
                              g->source ? g->source : "graph", k, q->node, q->slot, (long long)i, fd, grad[i]);
            }
        }
        /* With clamps, a cell a hair from its bound is crossed by both steps alike and
         * escapes detection, and it shifts every entry that reaches it: allow one entry
         * in six (a wrong kernel gets most of them wrong). Smooth graphs must match
         * everywhere. */
        if (kinked > (checked + kinked) / 3 || wrong > (has_kinks ? checked / 6 : 0))
            fail_msg("%s: parameter %d (node %d slot %d): %d of %d entries differ, %d at kinks",
                     g->source ? g->source : "graph", k, q->node, q->slot, wrong, checked, kinked);
    }
    for (int k = 0; k < p->n_params; k++) free(grads[k]);
    free(grads);
    free(in);
    ms_train_free(p);
}

static const float bce_targets[2] = {1.0f, 0.0f};

static void conv_variants(bool relu6)
{
    /* plain 3x3 stride 1; depthwise stride 2 (SAME pads unevenly); grouped and dilated;
     * pointwise */
    builder b = start(7, 6, 4);
    int t = conv(&b, b.x, 6, 3, 1, 1, 1, false);
    t = conv(&b, t, 6, 3, 2, 6, 1, relu6);
    t = conv(&b, t, 4, 3, 1, 2, 2, false);
    t = conv(&b, t, 3, 1, 1, 1, 1, relu6);
    check_gradients(finish_bce(&b, t), MS_LOSS_BCE, 2, bce_targets, 30, relu6);
    ms_graph_free(b.g);
}

static void test_conv_variants(void **state)
{
    (void)state;
    conv_variants(false);
    conv_variants(true);
}

static void test_depthwise_multiplier_and_stride(void **state)
{
    (void)state;
    builder b = start(8, 8, 3);
    int t = conv(&b, b.x, 6, 3, 2, 3, 1, false); /* depthwise, multiplier 2 */
    t = conv(&b, t, 4, 5, 3, 1, 1, false);       /* 5x5 stride 3 */
    check_gradients(finish_bce(&b, t), MS_LOSS_BCE, 2, bce_targets, 30, false);
    ms_graph_free(b.g);
}

/* conv -> OP -> head, for each op without parameters. */
static void check_between(ms_op_kind kind, void (*setup)(ms_node *n), bool has_kinks)
{
    builder b = start(5, 6, 3);
    int t = conv(&b, b.x, 4, 3, 1, 1, 1, false), y;
    ms_node *n = add(&b, kind, &t, 1, &y);
    setup(n);
    check_gradients(finish_bce(&b, y), MS_LOSS_BCE, 2, bce_targets, 40, has_kinks);
    ms_graph_free(b.g);
}

static void set_softmax(ms_node *n) { n->beta = 1.5f; }

static void test_pooling_and_reductions(void **state)
{
    (void)state;
    check_between(MS_OP_AVG_POOL, set_avg, false);
    check_between(MS_OP_MAX_POOL, set_avg, true);
    check_between(MS_OP_GLOBAL_AVG_POOL, set_nothing, false);
    check_between(MS_OP_MEAN, set_mean, false);
    check_between(MS_OP_MEAN, set_mean_c, false);
}

static void test_elementwise_and_layout(void **state)
{
    (void)state;
    check_between(MS_OP_CLIP, set_clip, true);
    check_between(MS_OP_PAD, set_pad, false);
    check_between(MS_OP_SOFTMAX, set_softmax, false);
    check_between(MS_OP_SIGMOID, set_nothing, false);
    check_between(MS_OP_COPY, set_nothing, false);
}

static void test_batch_norm_frozen(void **state)
{
    (void)state;
    builder b = start(4, 4, 3);
    int t = conv(&b, b.x, 4, 3, 1, 1, 1, false), y;
    int64_t cs[1] = {4};
    int in[5] = {t, constant(&b, 1, cs, 1.0f), constant(&b, 1, cs, 1.0f), constant(&b, 1, cs, 1.0f),
                 constant(&b, 1, cs, 0.0f)};
    for (int i = 0; i < 4; i++) b.g->tensors[in[4]].data[i] = 0.5f + 0.25f * (float)i; /* variances > 0 */
    ms_node *n = add(&b, MS_OP_BATCH_NORM, in, 5, &y);
    n->act_min = 0;
    n->act_max = 6;
    check_gradients(finish_bce(&b, y), MS_LOSS_BCE, 2, bce_targets, 40, true);
    ms_graph_free(b.g);
}

static void test_add_and_concat(void **state)
{
    (void)state;
    /* residual: x -> convA -> (convB, identity) -> add (ReLU6) ; per-channel bias add;
     * concat of two branches along channels */
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
    int d = conv(&b, s2, 2, 3, 1, 1, 1, false), cat;
    int in3[2] = {d, s2};
    n = add(&b, MS_OP_CONCAT, in3, 2, &cat);
    n->axis = 3;
    check_gradients(finish_bce(&b, cat), MS_LOSS_BCE, 2, bce_targets, 40, true);
    ms_graph_free(b.g);
}

static void test_softmax_cross_entropy(void **state)
{
    (void)state;
    /* conv -> flatten -> fc 5 classes -> softmax, trained on class labels */
    builder b = start(4, 4, 2);
    int t = conv(&b, b.x, 3, 3, 2, 1, 1, true);
    infer(&b, t);
    int64_t k = ms_tensor_numel(&b.g->tensors[t]), fs[2] = {1, k}, ws[2] = {5, k}, bs[1] = {5};
    int flat = ms_graph_add_tensor(b.g, "flat", 2, fs, MS_DT_F32), logits, probs;
    assert_true(ms_graph_add_node(b.g, MS_OP_RESHAPE, "flatten", &t, 1, flat) >= 0);
    int in[3] = {flat, constant(&b, 2, ws, 0.5f), constant(&b, 1, bs, 0.2f)};
    add(&b, MS_OP_FULLY_CONNECTED, in, 3, &logits);
    ms_node *n = add(&b, MS_OP_SOFTMAX, &logits, 1, &probs);
    n->beta = 0.8f;
    infer(&b, probs);
    const float labels[3] = {4, 0, 2};
    check_gradients(b.g, MS_LOSS_SOFTMAX_XENT, 3, labels, 40, true);

    /* a label outside [0, 5) is refused */
    ms_error err;
    ms_train_plan *p;
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    assert_int_equal(ms_train_compile(ms_backend_find("ref"), b.g, &o, MS_LOSS_SOFTMAX_XENT, &p, &err), MS_OK);
    float x[32] = {0}, bad = 5;
    double loss;
    assert_int_equal(ms_train_forward(p, x, NULL, &err), MS_OK);
    assert_int_equal(ms_train_backward(p, &bad, &loss, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not a class index in [0, 5)"));
    ms_train_free(p);
    /* a softmax graph cannot be trained with binary cross-entropy */
    assert_int_equal(ms_train_compile(ms_backend_find("ref"), b.g, &o, MS_LOSS_BCE, &p, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "end in a sigmoid"));
    ms_graph_free(b.g);
}

/* Values worked out by hand: z = 0, t = 1: loss log 2, gradient (0.5 - 1)/N. */
static void test_losses_by_hand(void **state)
{
    (void)state;
    float z[2] = {0.0f, 2.0f}, dzv[2] = {0, 0}, t[2] = {1.0f, 0.0f};
    ref_tensor zt = {z, 2, {2, 1}}, dz = {dzv, 2, {2, 1}};
    /* frame 1: z = 2, t = 0: loss = 2 + log(1 + e^-2) = 2.126928, gradient sigmoid(2) = 0.880797 */
    double loss = ref_bce_with_logits(&zt, t, &dz);
    assert_float_equal(loss, (log(2.0) + 2.0 + log1p(exp(-2.0))) / 2.0, 1e-9);
    assert_float_equal(dzv[0], -0.25, 1e-7);
    assert_float_equal(dzv[1], 0.880797 / 2.0, 1e-6);
    /* a saturated logit keeps a finite loss and an exact gradient */
    z[0] = -100.0f;
    dzv[0] = dzv[1] = 0;
    loss = ref_bce_with_logits(&zt, t, &dz);
    assert_float_equal(loss, (100.0 + 2.0 + log1p(exp(-2.0))) / 2.0, 1e-6);
    assert_float_equal(dzv[0], -0.5, 1e-7);
    /* softmax over [0, ln 3] with beta 1: p = [1/4, 3/4]; label 1: loss = ln(4/3) */
    float zs[2] = {0.0f, (float)log(3.0)}, ds[2] = {0, 0}, label = 1;
    ref_tensor st = {zs, 2, {1, 2}}, sd = {ds, 2, {1, 2}};
    assert_float_equal(ref_softmax_xent(&st, 1.0f, &label, &sd), log(4.0 / 3.0), 1e-7);
    assert_float_equal(ds[0], 0.25, 1e-7);
    assert_float_equal(ds[1], -0.25, 1e-7);
}

/* The whole suffix of MobileNetV1 0.25_128 after chokepoint 13 (depthwise and pointwise
 * block 13, average pool) with the binary head, at the model's own weights. */
static void test_real_suffix(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *path = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    ms_graph *base, *br;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &base, &err), MS_OK);
    assert_int_equal(ms_branch_from_base(base, 13, &br, &err), MS_OK);
    /* a head that is not zero, so gradients reach the base layers */
    for (int i = 0; i < br->n_tensors; i++)
        if (!strcmp(br->tensors[i].name, "head/weight"))
            for (int64_t j = 0; j < ms_tensor_numel(&br->tensors[i]); j++) br->tensors[i].data[j] = 0.3f * rnd();
    check_gradients(br, MS_LOSS_BCE, 2, bce_targets, 6, true);
    ms_graph_free(br);
    ms_graph_free(base);
}

static void set_leaky(ms_node *n) { n->alpha = 0.1f; }
static void set_hard_sigmoid(ms_node *n)
{
    n->alpha = 0.3f;
    n->beta = 0.4f;
}

/* The ops added for ONNX graphs: activations one by one, then a squeeze-excite block
 * with hard swish (MobileNetV3's), broadcasting sub and div, a transpose and a slice. */
static void test_onnx_ops(void **state)
{
    (void)state;
    check_between(MS_OP_LEAKY_RELU, set_leaky, true);
    check_between(MS_OP_HARD_SIGMOID, set_hard_sigmoid, true);
    check_between(MS_OP_HARD_SWISH, set_nothing, true);
    builder b = start(4, 5, 3);
    int t = conv(&b, b.x, 4, 3, 1, 1, 1, false), hs, pool, s1, s2, gate, se, d1, d2, tr, sl;
    add(&b, MS_OP_HARD_SWISH, &t, 1, &hs);
    add(&b, MS_OP_GLOBAL_AVG_POOL, &hs, 1, &pool);
    s1 = conv(&b, pool, 2, 1, 1, 1, 1, false);
    ms_node *n = add(&b, MS_OP_LEAKY_RELU, &s1, 1, &s2);
    n->alpha = 0.2f;
    s2 = conv(&b, s2, 4, 1, 1, 1, 1, false);
    n = add(&b, MS_OP_HARD_SIGMOID, &s2, 1, &gate);
    set_hard_sigmoid(n);
    int mul_in[2] = {hs, gate};
    add(&b, MS_OP_MUL, mul_in, 2, &se);
    int64_t cs[4] = {1, 1, 1, 4};
    int sub_in[2] = {se, constant(&b, 4, cs, 0.5f)};
    add(&b, MS_OP_SUB, sub_in, 2, &d1);
    int div_in[2] = {d1, constant(&b, 4, cs, 0.3f)};
    for (int k = 0; k < 4; k++) b.g->tensors[div_in[1]].data[k] += 1.5f; /* away from 0 */
    add(&b, MS_OP_DIV, div_in, 2, &d2);
    n = add(&b, MS_OP_TRANSPOSE, &d2, 1, &tr);
    n->perm[1] = 2;
    n->perm[2] = 1;
    infer(&b, tr);
    int64_t ss[4] = {1, 3, 2, 3};
    sl = act(&b);
    b.g->tensors[sl].ndim = 4;
    for (int d = 0; d < 4; d++) b.g->tensors[sl].shape[d] = ss[d];
    n = ms_test_node(b.g, MS_OP_SLICE, "slice", &tr, 1, sl);
    n->starts[1] = 0;
    n->steps[1] = 2;
    n->starts[3] = 3;
    n->steps[3] = -1;
    int y = conv(&b, sl, 2, 1, 1, 1, 1, false);
    check_gradients(finish_bce(&b, y), MS_LOSS_BCE, 2, bce_targets, 30, true);
    ms_graph_free(b.g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_variants),
        cmocka_unit_test(test_depthwise_multiplier_and_stride),
        cmocka_unit_test(test_pooling_and_reductions),
        cmocka_unit_test(test_elementwise_and_layout),
        cmocka_unit_test(test_batch_norm_frozen),
        cmocka_unit_test(test_add_and_concat),
        cmocka_unit_test(test_softmax_cross_entropy),
        cmocka_unit_test(test_losses_by_hand),
        cmocka_unit_test(test_real_suffix),
        cmocka_unit_test(test_onnx_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
