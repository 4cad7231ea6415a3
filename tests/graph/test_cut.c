/* Tests of chokepoint discovery and segment cutting on small hand-built graphs whose
 * chokepoints are known by construction. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "formats/model.h"
#include "graph/cut.h"
#include "graph/graph.h"

/* ---- building graphs by hand (NHWC, SAME padding, shapes computed here) ---- */

static int activation(ms_graph *g, const char *name, int64_t h, int64_t w, int64_t c)
{
    int64_t shape[4] = {1, h, w, c};
    int t = ms_graph_add_tensor(g, name, 4, shape, MS_DT_F32);
    assert_true(t >= 0);
    return t;
}

/* A constant filled with a deterministic pseudo-random pattern in [-0.5, 0.5). */
static int constant(ms_graph *g, const char *name, int ndim, const int64_t *shape)
{
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    assert_true(t >= 0);
    int64_t n = ms_tensor_numel(&g->tensors[t]);
    float *d = malloc((size_t)n * sizeof *d);
    assert_non_null(d);
    static uint32_t seed = 12345;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        d[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    g->tensors[t].data = d;
    return t;
}

static int node(ms_graph *g, ms_op_kind kind, const char *name, const int *in, int n_in, int out)
{
    int k = ms_graph_add_node(g, kind, name, in, n_in, out);
    assert_true(k >= 0);
    return k;
}

enum { ACT_NONE, ACT_RELU6 };

/* conv with kernel k, stride s, `groups` groups (groups == channels: depthwise). */
static int conv(ms_graph *g, const char *name, int x, int64_t out_c, int k, int s, int groups, int act)
{
    int64_t in_h = g->tensors[x].shape[1], in_w = g->tensors[x].shape[2], in_c = g->tensors[x].shape[3];
    int64_t h = (in_h + s - 1) / s, w = (in_w + s - 1) / s;
    char wname[64], bname[64];
    snprintf(wname, sizeof wname, "%s/w", name);
    snprintf(bname, sizeof bname, "%s/b", name);
    int64_t wshape[4] = {out_c, k, k, in_c / groups}, bshape[1] = {out_c};
    int in[3] = {x, constant(g, wname, 4, wshape), constant(g, bname, 1, bshape)};
    int y = activation(g, name, h, w, out_c);
    int id = node(g, MS_OP_CONV2D, name, in, 3, y);
    ms_node *n = &g->nodes[id];
    n->stride_h = n->stride_w = s;
    n->groups = groups;
    n->padding = MS_PAD_SAME;
    int64_t pad = (h - 1) * s + k - in_h > 0 ? (h - 1) * s + k - in_h : 0;
    n->pad_top = n->pad_left = (int)(pad / 2);
    n->pad_bottom = n->pad_right = (int)(pad - pad / 2);
    if (act == ACT_RELU6) {
        n->act_min = 0;
        n->act_max = 6;
    }
    return y;
}

static int dwconv(ms_graph *g, const char *name, int x, int s)
{
    int64_t c = g->tensors[x].shape[3];
    return conv(g, name, x, c, 3, s, (int)c, ACT_RELU6);
}

static int global_pool(ms_graph *g, const char *name, int x)
{
    int k = (int)g->tensors[x].shape[1];
    int y = activation(g, name, 1, 1, g->tensors[x].shape[3]);
    int id = node(g, MS_OP_AVG_POOL, name, &x, 1, y);
    g->nodes[id].kernel_h = g->nodes[id].kernel_w = k;
    g->nodes[id].stride_h = g->nodes[id].stride_w = k;
    return y;
}

static int unary(ms_graph *g, ms_op_kind kind, const char *name, int x, int ndim, const int64_t *shape)
{
    int64_t same[MS_MAX_DIMS]; /* a copy: adding a tensor may move g->tensors */
    memcpy(same, shape ? shape : g->tensors[x].shape, (size_t)ndim * sizeof *same);
    int y = ms_graph_add_tensor(g, name, ndim, same, MS_DT_F32);
    assert_true(y >= 0);
    node(g, kind, name, &x, 1, y);
    return y;
}

static int flatten(ms_graph *g, const char *name, int x)
{
    int64_t shape[2] = {1, ms_tensor_numel(&g->tensors[x])};
    return unary(g, MS_OP_RESHAPE, name, x, 2, shape);
}

static int fully_connected(ms_graph *g, const char *name, int x, int64_t out)
{
    int64_t wshape[2] = {out, g->tensors[x].shape[1]}, bshape[1] = {out}, yshape[2] = {1, out};
    int in[3] = {x, constant(g, "fc/w", 2, wshape), constant(g, "fc/b", 1, bshape)};
    int y = ms_graph_add_tensor(g, name, 2, yshape, MS_DT_F32);
    node(g, MS_OP_FULLY_CONNECTED, name, in, 3, y);
    return y;
}

static ms_graph *start(const char *source, int64_t h, int64_t w, int64_t c, int *x)
{
    ms_graph *g = ms_graph_new();
    assert_non_null(g);
    g->source = strdup(source);
    *x = activation(g, "input", h, w, c);
    g->inputs = malloc(sizeof *g->inputs);
    g->inputs[0] = *x;
    g->n_inputs = 1;
    g->input_spec = (ms_input_spec){.height = (int)h, .width = (int)w, .channels = (int)c, .mean = 127.5f, .scale = 1 / 127.5f};
    for (int i = 0; i < 32; i++) g->fingerprint[i] = (uint8_t)i;
    return g;
}

static void finish(ms_graph *g, int y)
{
    g->outputs = malloc(sizeof *g->outputs);
    g->outputs[0] = y;
    g->n_outputs = 1;
}

/* MobileNetV1 in miniature. Nodes: 0 conv1, 1 dw1, 2 pw1, 3 dw2, 4 pw2, 5 pool,
 * 6 logits (1x1 conv), 7 reshape, 8 softmax. */
static ms_graph *v1_like(void)
{
    int x;
    ms_graph *g = start("v1.tflite", 8, 8, 3, &x);
    x = conv(g, "conv1", x, 8, 3, 2, 1, ACT_RELU6);
    x = dwconv(g, "dw1", x, 1);
    x = conv(g, "pw1", x, 16, 1, 1, 1, ACT_RELU6);
    x = dwconv(g, "dw2", x, 2);
    x = conv(g, "pw2", x, 32, 1, 1, 1, ACT_RELU6);
    x = global_pool(g, "pool", x);
    x = conv(g, "logits", x, 5, 1, 1, 1, ACT_NONE);
    x = flatten(g, "squeeze", x);
    x = unary(g, MS_OP_SOFTMAX, "softmax", x, 2, NULL);
    finish(g, x);
    return g;
}

/* MobileNetV2 in miniature. Nodes: 0 conv1; block A (no residual): 1 expand,
 * 2 dw, 3 project (linear); block B (residual): 4 expand, 5 dw, 6 project, 7 add;
 * 8 conv 1x1 (relu6), 9 pool, 10 reshape, 11 fully connected, 12 softmax. */
static ms_graph *v2_like(void)
{
    int x;
    ms_graph *g = start("v2.tflite", 8, 8, 4, &x);
    x = conv(g, "conv1", x, 8, 3, 1, 1, ACT_RELU6);
    x = conv(g, "a/expand", x, 16, 1, 1, 1, ACT_RELU6);
    x = dwconv(g, "a/dw", x, 2);
    int a = conv(g, "a/project", x, 8, 1, 1, 1, ACT_NONE);
    x = conv(g, "b/expand", a, 16, 1, 1, 1, ACT_RELU6);
    x = dwconv(g, "b/dw", x, 1);
    x = conv(g, "b/project", x, 8, 1, 1, 1, ACT_NONE);
    int in[2] = {a, x};
    x = activation(g, "b/add", 4, 4, 8);
    node(g, MS_OP_ADD, "b/add", in, 2, x);
    x = conv(g, "last", x, 12, 1, 1, 1, ACT_RELU6);
    x = global_pool(g, "pool", x);
    x = flatten(g, "flatten", x);
    x = fully_connected(g, "fc", x, 3);
    x = unary(g, MS_OP_SOFTMAX, "softmax", x, 2, NULL);
    finish(g, x);
    return g;
}

static void expect_chokepoints(const ms_graph *g, const int *node_end, const char *const *tensor, int n)
{
    ms_chokepoint *cps;
    int count;
    ms_error err;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &count, &err), MS_OK);
    for (int i = 0; i < count && i < n; i++) {
        print_message("chokepoint %d: cut %d tensor %s\n", i, cps[i].node_end, g->tensors[cps[i].tensor].name);
        assert_int_equal(cps[i].node_end, node_end[i]);
        assert_string_equal(g->tensors[cps[i].tensor].name, tensor[i]);
        assert_true(cps[i].macs_before + cps[i].macs_after == ms_graph_macs(g));
    }
    assert_int_equal(count, n);
    free(cps);
}

static void test_v1_chain(void **state)
{
    (void)state;
    ms_graph *g = v1_like();
    const int ends[] = {0, 1, 3, 5, 6};
    const char *const names[] = {"input", "conv1", "pw1", "pw2", "pool"};
    expect_chokepoints(g, ends, names, 5);

    /* Multiply-adds by hand: conv1 4*4*8 outputs * 3*3*3 = 3456; dw1 4*4*8 * 9 = 1152;
     * pw1 4*4*16 * 8 = 2048; dw2 2*2*16 * 9 = 576; pw2 2*2*32 * 16 = 2048. */
    ms_chokepoint *cps;
    int n;
    ms_error err;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    assert_true(cps[0].macs_before == 0);
    assert_true(cps[1].macs_before == 3456);
    assert_true(cps[2].macs_before == 3456 + 1152 + 2048);
    assert_true(cps[3].macs_before == 3456 + 1152 + 2048 + 576 + 2048);
    assert_true(cps[4].macs_after >= 5 * 32); /* at least the logits conv */
    free(cps);
    ms_graph_free(g);
}

static void test_v2_blocks(void **state)
{
    (void)state;
    ms_graph *g = v2_like();
    /* Cut 2 (expansion | depthwise) is single-tensor but inside block A; cut 3 splits
     * a depthwise pair; cuts 5-7 are crossed by the residual too; cut 11 (before the
     * classifier) is cut 10 again across a reshape. */
    const int ends[] = {0, 1, 4, 8, 9, 10};
    const char *const names[] = {"input", "conv1", "a/project", "b/add", "last", "pool"};
    expect_chokepoints(g, ends, names, 6);
    ms_graph_free(g);
}

/* input -> copy -> conv a -> pad -> conv (valid) -> reshape -> fully connected. */
static void test_pad_and_trivial_nodes(void **state)
{
    (void)state;
    int x;
    ms_graph *g = start("pad.tflite", 6, 6, 2, &x);
    x = unary(g, MS_OP_COPY, "dequantize", x, 4, NULL);
    x = conv(g, "a", x, 4, 1, 1, 1, ACT_RELU6);
    int64_t padded[4] = {1, 8, 8, 4};
    x = unary(g, MS_OP_PAD, "pad", x, 4, padded);
    for (int d = 1; d <= 2; d++) g->nodes[2].pads[d][0] = g->nodes[2].pads[d][1] = 1;
    x = conv(g, "b", x, 4, 3, 2, 1, ACT_RELU6);
    g->nodes[3].padding = MS_PAD_VALID;
    g->nodes[3].pad_top = g->nodes[3].pad_bottom = g->nodes[3].pad_left = g->nodes[3].pad_right = 0;
    g->tensors[x].shape[1] = g->tensors[x].shape[2] = 3;
    x = flatten(g, "flatten", x);
    x = fully_connected(g, "fc", x, 2);
    finish(g, x);
    const int ends[] = {0, 2, 4};
    const char *const names[] = {"input", "a", "b"};
    expect_chokepoints(g, ends, names, 3);
    ms_graph_free(g);
}

/* input -> stem -> (branch 1x1 | branch 3x3) -> concat -> conv -> classifier. */
static void test_parallel_branches(void **state)
{
    (void)state;
    int x;
    ms_graph *g = start("branches.tflite", 4, 4, 3, &x);
    int stem = conv(g, "stem", x, 4, 3, 1, 1, ACT_RELU6);
    int in[2] = {conv(g, "left", stem, 4, 1, 1, 1, ACT_RELU6), conv(g, "right", stem, 4, 3, 1, 1, ACT_RELU6)};
    x = activation(g, "concat", 4, 4, 8);
    int k = node(g, MS_OP_CONCAT, "concat", in, 2, x);
    g->nodes[k].axis = 3;
    x = conv(g, "mix", x, 8, 1, 1, 1, ACT_RELU6);
    x = conv(g, "classifier", x, 2, 4, 4, 1, ACT_NONE);
    finish(g, x);
    const int ends[] = {0, 1, 4, 5};
    const char *const names[] = {"input", "stem", "concat", "mix"};
    expect_chokepoints(g, ends, names, 4);
    ms_graph_free(g);
}

/* Unfused batch norm and ReLU belong to their convolution. Nodes: 0 conv, 1 batch
 * norm, 2 clip, 3 conv, 4 clip, 5 classifier. */
static void test_unfused_activations(void **state)
{
    (void)state;
    int x;
    ms_graph *g = start("unfused.onnx", 4, 4, 3, &x);
    x = conv(g, "c1", x, 4, 3, 1, 1, ACT_NONE);
    int64_t cshape[1] = {4};
    int bn_in[5] = {x, constant(g, "bn/s", 1, cshape), constant(g, "bn/o", 1, cshape),
                    constant(g, "bn/m", 1, cshape), constant(g, "bn/v", 1, cshape)};
    x = activation(g, "bn", 4, 4, 4);
    node(g, MS_OP_BATCH_NORM, "bn", bn_in, 5, x);
    x = unary(g, MS_OP_CLIP, "relu1", x, 4, NULL);
    x = conv(g, "c2", x, 4, 1, 1, 1, ACT_NONE);
    x = unary(g, MS_OP_CLIP, "relu2", x, 4, NULL);
    x = conv(g, "classifier", x, 2, 4, 4, 1, ACT_NONE);
    finish(g, x);
    const int ends[] = {0, 3, 5};
    const char *const names[] = {"input", "relu1", "relu2"};
    expect_chokepoints(g, ends, names, 3);
    ms_graph_free(g);
}

/* A SqueezeNet Fire module then a DenseNet transition. Nodes: 0 stem; fire: 1 squeeze
 * (1x1, 8 -> 4 channels), 2 expand 1x1, 3 expand 3x3, 4 concat; transition: 5 batch
 * norm, 6 ReLU, 7 linear 1x1 conv, 8 average pool; 9 classifier. The old rule cut after
 * the squeeze (cut 2), after the transition's ReLU and conv (cuts 7, 8) and not before
 * its batch norm (cut 5). */
static void test_fire_and_transition(void **state)
{
    (void)state;
    int x;
    ms_graph *g = start("fire.onnx", 4, 4, 3, &x);
    x = conv(g, "stem", x, 8, 3, 1, 1, ACT_RELU6);
    int sq = conv(g, "squeeze", x, 4, 1, 1, 1, ACT_RELU6);
    int in[2] = {conv(g, "expand1x1", sq, 8, 1, 1, 1, ACT_RELU6), conv(g, "expand3x3", sq, 8, 3, 1, 1, ACT_RELU6)};
    x = activation(g, "concat", 4, 4, 16);
    int k = node(g, MS_OP_CONCAT, "concat", in, 2, x); /* may move g->nodes */
    g->nodes[k].axis = 3;
    int64_t cshape[1] = {16};
    int bn_in[5] = {x, constant(g, "bn/s", 1, cshape), constant(g, "bn/o", 1, cshape),
                    constant(g, "bn/m", 1, cshape), constant(g, "bn/v", 1, cshape)};
    x = activation(g, "bn", 4, 4, 16);
    node(g, MS_OP_BATCH_NORM, "bn", bn_in, 5, x);
    x = unary(g, MS_OP_CLIP, "relu", x, 4, NULL);
    x = conv(g, "transition", x, 8, 1, 1, 1, ACT_NONE);
    x = global_pool(g, "pool", x);
    x = conv(g, "classifier", x, 2, 1, 1, 1, ACT_NONE);
    finish(g, x);
    const int ends[] = {0, 1, 5, 9};
    const char *const names[] = {"input", "stem", "concat", "pool"};
    expect_chokepoints(g, ends, names, 4);
    ms_graph_free(g);
}

static void test_bad_graphs_rejected(void **state)
{
    (void)state;
    ms_graph *g = v1_like();
    ms_chokepoint *cps;
    int n;
    ms_error err;
    g->nodes[3].inputs[0] = 999;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "v1.tflite: node 3 (dw2) reads tensor 999"));
    g->nodes[3].inputs[0] = g->nodes[4].output; /* reads what a later node makes */
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "before node 4 makes it"));
    assert_null(cps);
    g->n_inputs = 0;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_ERR_UNSUPPORTED);
    ms_graph_free(g);
}

static void test_segment_copies_and_names(void **state)
{
    (void)state;
    ms_graph *g = v1_like();
    int w = ms_graph_find_tensor(g, "pw1/w");
    ms_tensor *wt = &g->tensors[w];
    wt->quant.n = 1;
    wt->quant.scale = malloc(sizeof(float));
    wt->quant.zero_point = malloc(sizeof(int32_t));
    wt->quant.scale[0] = 0.02f;
    wt->quant.zero_point[0] = 128;
    wt->qbytes = 3;
    wt->qdata = malloc(3);
    memcpy(wt->qdata, "\x01\x02\x03", 3);

    ms_graph *seg;
    ms_error err;
    assert_int_equal(ms_graph_segment(g, 1, 3, &seg, &err), MS_OK);
    assert_string_equal(seg->source, "v1.tflite[1:3]");
    assert_int_equal(seg->n_nodes, 2);
    assert_string_equal(seg->nodes[0].name, "dw1");
    assert_string_equal(seg->nodes[1].name, "pw1");
    assert_int_equal(seg->nodes[0].groups, 8);
    assert_true(seg->nodes[0].act_max == 6);
    /* input, dw1/w, dw1/b, dw1, pw1/w, pw1/b, pw1 */
    assert_int_equal(seg->n_tensors, 7);
    assert_string_equal(seg->tensors[seg->inputs[0]].name, "conv1");
    assert_string_equal(seg->tensors[seg->outputs[0]].name, "pw1");
    assert_int_equal(seg->input_spec.height, 8);
    assert_int_equal(seg->fingerprint[31], 31);
    int sw = ms_graph_find_tensor(seg, "pw1/w");
    ms_tensor *st = &seg->tensors[sw];
    assert_true(st->data != wt->data);
    assert_memory_equal(st->data, wt->data, (size_t)ms_tensor_numel(wt) * sizeof(float));
    assert_int_equal(st->quant.n, 1);
    assert_true(st->quant.scale[0] == 0.02f && st->quant.zero_point[0] == 128);
    assert_int_equal(st->qbytes, 3);
    assert_memory_equal(st->qdata, "\x01\x02\x03", 3);
    ms_graph_free(g); /* the segment owns its copies */
    assert_true(seg->tensors[sw].quant.scale[0] == 0.02f);
    ms_graph_free(seg);
}

static void test_segment_errors(void **state)
{
    (void)state;
    ms_graph *g = v2_like();
    ms_graph *seg;
    ms_error err;
    assert_int_equal(ms_graph_segment(g, 0, 6, &seg, &err), MS_ERR_INVALID); /* cut 6: residual */
    assert_null(seg);
    assert_string_equal(err.msg, "v2.tflite: segment [0, 6) has 1 tensors entering and 2 leaving; it needs one of each");
    assert_int_equal(ms_graph_segment(g, 6, 9, &seg, &err), MS_ERR_INVALID);
    assert_int_equal(ms_graph_segment(g, 3, 3, &seg, &err), MS_ERR_INVALID);
    assert_int_equal(ms_graph_segment(g, -1, 3, &seg, &err), MS_ERR_INVALID);
    assert_int_equal(ms_graph_segment(g, 0, 14, &seg, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "segment [0, 14)"));
    ms_graph_free(g);
}

/* Segment [a, b) then [b, c) holds the nodes and tensors of [a, c), joined at b. */
static void test_segments_compose(void **state)
{
    (void)state;
    ms_graph *g = v2_like();
    ms_chokepoint *cps;
    int n;
    ms_error err;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    for (int i = 0; i + 2 < n + 1; i++) {
        int a = cps[i].node_end, b = i + 1 < n ? cps[i + 1].node_end : g->n_nodes;
        int c = i + 2 < n ? cps[i + 2].node_end : g->n_nodes;
        if (b == c) continue;
        ms_graph *ab, *bc, *ac;
        assert_int_equal(ms_graph_segment(g, a, b, &ab, &err), MS_OK);
        assert_int_equal(ms_graph_segment(g, b, c, &bc, &err), MS_OK);
        assert_int_equal(ms_graph_segment(g, a, c, &ac, &err), MS_OK);
        assert_string_equal(ab->tensors[ab->outputs[0]].name, bc->tensors[bc->inputs[0]].name);
        assert_string_equal(ab->tensors[ab->inputs[0]].name, ac->tensors[ac->inputs[0]].name);
        assert_string_equal(bc->tensors[bc->outputs[0]].name, ac->tensors[ac->outputs[0]].name);
        assert_int_equal(ab->n_nodes + bc->n_nodes, ac->n_nodes);
        for (int k = 0; k < ac->n_nodes; k++) {
            const ms_node *part = k < ab->n_nodes ? &ab->nodes[k] : &bc->nodes[k - ab->n_nodes];
            assert_string_equal(part->name, ac->nodes[k].name);
        }
        /* the joining tensor is counted in both halves */
        assert_int_equal(ab->n_tensors + bc->n_tensors - 1, ac->n_tensors);
        assert_true(ms_graph_macs(ab) + ms_graph_macs(bc) == ms_graph_macs(ac));
        ms_graph_free(ab);
        ms_graph_free(bc);
        ms_graph_free(ac);
    }
    free(cps);
    ms_graph_free(g);
}

/* Runs g on the reference backend for a batch of `batch` frames; *out is malloc'd. */
static void run_ref(const ms_graph *g, const float *in, int batch, float **out, int64_t *out_numel)
{
    ms_plan_options opts = {.batch = batch, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    ms_error err;
    if (ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err)) fail_msg("%s", err.msg);
    *out_numel = plan->out_numel;
    *out = malloc((size_t)(batch * plan->out_numel) * sizeof **out);
    assert_non_null(*out);
    if (ms_plan_run(plan, in, *out, &err)) fail_msg("%s", err.msg);
    ms_plan_free(plan);
}

/* Running [0, k) and then [k, n) gives the whole graph's output at every chokepoint k,
 * and so does running the chain of segments between consecutive chokepoints. */
static void expect_segments_run_like_whole(ms_graph *g)
{
    enum { BATCH = 2 };
    int64_t in_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    float *in = malloc((size_t)(BATCH * in_numel) * sizeof *in);
    assert_non_null(in);
    for (int64_t i = 0; i < BATCH * in_numel; i++) in[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    float *whole;
    int64_t out_numel;
    run_ref(g, in, BATCH, &whole, &out_numel);

    ms_chokepoint *cps;
    int n;
    ms_error err;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    float *chain = in;
    for (int i = 0; i < n; i++) {
        int k = cps[i].node_end, next = i + 1 < n ? cps[i + 1].node_end : g->n_nodes;
        if (k > 0) {
            ms_graph *head, *tail;
            float *mid, *out;
            int64_t mid_numel, numel;
            assert_int_equal(ms_graph_segment(g, 0, k, &head, &err), MS_OK);
            assert_int_equal(ms_graph_segment(g, k, g->n_nodes, &tail, &err), MS_OK);
            run_ref(head, in, BATCH, &mid, &mid_numel);
            assert_int_equal(mid_numel, ms_tensor_numel(&g->tensors[cps[i].tensor]));
            run_ref(tail, mid, BATCH, &out, &numel);
            assert_int_equal(numel, out_numel);
            assert_true(ms_test_rel_l2(out, whole, (size_t)(BATCH * out_numel)) <= 1e-6);
            free(mid);
            free(out);
            ms_graph_free(head);
            ms_graph_free(tail);
        }
        ms_graph *seg;
        float *next_values;
        int64_t numel;
        assert_int_equal(ms_graph_segment(g, k, next, &seg, &err), MS_OK);
        run_ref(seg, chain, BATCH, &next_values, &numel);
        if (chain != in) free(chain);
        chain = next_values;
        ms_graph_free(seg);
    }
    assert_true(ms_test_rel_l2(chain, whole, (size_t)(BATCH * out_numel)) <= 1e-6);
    if (chain != in) free(chain);
    free(cps);
    free(whole);
    free(in);
}

static void test_segments_run_like_whole_graph(void **state)
{
    (void)state;
    ms_graph *g = v1_like();
    expect_segments_run_like_whole(g);
    ms_graph_free(g);
    g = v2_like();
    expect_segments_run_like_whole(g);
    ms_graph_free(g);
}

/* The same on a real model: MobileNetV1 0.25_128 has the 16 chokepoints of the design,
 * and cutting it at a few of them changes no output value. */
static void test_real_model_segments(void **state)
{
    (void)state;
    const char *rel = "models/mobilenet_v1_0.25_128_quant.tflite";
    MS_REQUIRE_DATA(rel);
    const char *path = ms_test_data(rel);
    ms_graph *g;
    ms_error err;
    if (ms_model_load(&path, 1, &g, &err)) fail_msg("%s", err.msg);
    ms_chokepoint *cps;
    int n;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    assert_int_equal(n, 16);
    int64_t in_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    float *in = malloc((size_t)in_numel * sizeof *in);
    assert_non_null(in);
    for (int64_t i = 0; i < in_numel; i++) in[i] = (float)((i * 37) % 255) / 128.0f - 1.0f;
    float *whole;
    int64_t out_numel;
    run_ref(g, in, 1, &whole, &out_numel);
    const int picks[] = {1, 8, 15};
    for (int p = 0; p < 3; p++) {
        int k = cps[picks[p]].node_end;
        ms_graph *head, *tail;
        float *mid, *out;
        int64_t numel;
        assert_int_equal(ms_graph_segment(g, 0, k, &head, &err), MS_OK);
        assert_int_equal(ms_graph_segment(g, k, g->n_nodes, &tail, &err), MS_OK);
        run_ref(head, in, 1, &mid, &numel);
        run_ref(tail, mid, 1, &out, &numel);
        assert_int_equal(numel, out_numel);
        assert_true(ms_test_rel_l2(out, whole, (size_t)out_numel) <= 1e-6);
        free(mid);
        free(out);
        ms_graph_free(head);
        ms_graph_free(tail);
    }
    free(whole);
    free(in);
    free(cps);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_chain),
        cmocka_unit_test(test_v2_blocks),
        cmocka_unit_test(test_pad_and_trivial_nodes),
        cmocka_unit_test(test_parallel_branches),
        cmocka_unit_test(test_unfused_activations),
        cmocka_unit_test(test_fire_and_transition),
        cmocka_unit_test(test_bad_graphs_rejected),
        cmocka_unit_test(test_segment_copies_and_names),
        cmocka_unit_test(test_segment_errors),
        cmocka_unit_test(test_segments_compose),
        cmocka_unit_test(test_segments_run_like_whole_graph),
        cmocka_unit_test(test_real_model_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
