/* Tests of the TFLite importer on every model in shared/data/models: operator and
 * tensor counts, wiring, attributes, the input spec and weight values. Expected
 * values were decoded from the files with an independent script (Python struct over
 * the flatbuffer), not with this reader. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/model.h"

static ms_graph *load(const char *relative)
{
    const char *paths[1] = {ms_test_data(relative)};
    ms_graph *g = NULL;
    ms_error err;
    ms_status s = ms_model_load(paths, 1, &g, &err);
    if (s) print_message("%s\n", err.msg);
    assert_int_equal(s, MS_OK);
    return g;
}

static int count_kind(const ms_graph *g, ms_op_kind kind)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].kind == kind;
    return n;
}

static int count_depthwise(const ms_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].kind == MS_OP_CONV2D && g->nodes[i].groups > 1;
    return n;
}

static void assert_shape(const ms_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t want[4] = {d0, d1, d2, d3};
    assert_int_equal(t->ndim, ndim);
    for (int d = 0; d < ndim; d++) assert_int_equal(t->shape[d], want[d]);
}

static const ms_tensor *node_input(const ms_graph *g, int node, int k)
{
    assert_true(node < g->n_nodes && k < g->nodes[node].n_inputs);
    return &g->tensors[g->nodes[node].inputs[k]];
}

/* Every node reads tensors that are constants, graph inputs or outputs of earlier nodes. */
static void assert_topological(const ms_graph *g)
{
    char *ready = calloc((size_t)g->n_tensors, 1);
    for (int i = 0; i < g->n_inputs; i++) ready[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            assert_true(g->tensors[n->inputs[k]].data || ready[n->inputs[k]]);
        assert_false(ready[n->output]);
        ready[n->output] = 1;
    }
    for (int i = 0; i < g->n_outputs; i++) assert_true(ready[g->outputs[i]]);
    free(ready);
}

static void test_mobilenet_v1_025(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    ms_graph *g = load("models/mobilenet_v1_0.25_128_quant.tflite");
    /* 89 file tensors, less the RESHAPE shape operand (an attribute in the IR) */
    assert_int_equal(g->n_tensors, 88);
    assert_int_equal(g->n_nodes, 31);
    assert_int_equal(count_kind(g, MS_OP_CONV2D), 28);
    assert_int_equal(count_depthwise(g), 13);
    assert_int_equal(count_kind(g, MS_OP_AVG_POOL), 1);
    assert_int_equal(count_kind(g, MS_OP_RESHAPE), 1);
    assert_int_equal(count_kind(g, MS_OP_SOFTMAX), 1);
    assert_topological(g);

    assert_int_equal(g->input_spec.height, 128);
    assert_int_equal(g->input_spec.width, 128);
    assert_int_equal(g->input_spec.channels, 3);
    assert_float_equal(g->input_spec.mean, 128.0f, 0);
    assert_float_equal(g->input_spec.scale, 1.0f / 128, 0);
    assert_false(g->input_spec.bgr);

    /* conv1: stride 2, SAME, ReLU6, 8 filters over 3 channels */
    const ms_node *c1 = &g->nodes[0];
    assert_int_equal(c1->stride_h, 2);
    assert_int_equal(c1->padding, MS_PAD_SAME);
    assert_float_equal(c1->act_min, 0, 0);
    assert_float_equal(c1->act_max, 6, 0);
    assert_shape(node_input(g, 0, 1), 4, 8, 3, 3, 3);
    assert_shape(&g->tensors[c1->output], 4, 1, 64, 64, 8);

    /* block 13 depthwise: [1,3,3,256] in the file, [256,3,3,1] in the IR; file
     * element (h0, w0, c1) is byte 188, which lands at IR index 1*9 + 0 */
    const ms_node *dw = &g->nodes[25];
    assert_int_equal(dw->groups, 256);
    const ms_tensor *w = node_input(g, 25, 1);
    assert_shape(w, 4, 256, 3, 3, 1);
    assert_int_equal(w->dtype, MS_DT_U8);
    assert_int_equal(w->quant.n, 1);
    assert_int_equal(w->quant.zero_point[0], 165);
    assert_int_equal(((const uint8_t *)w->qdata)[0], 151);
    assert_int_equal(((const uint8_t *)w->qdata)[9], 188);
    assert_float_equal(w->data[0], -0.36106089f, 1e-6);
    assert_float_equal(w->data[9], 0.59317146f, 1e-6);
    assert_int_equal(w->qbytes, 2304);

    /* logits: 1x1 conv without activation, weight zp 94, bias scale in * w */
    const ms_node *logits = &g->nodes[28];
    assert_int_equal(logits->kind, MS_OP_CONV2D);
    assert_true(isinf(logits->act_max));
    const ms_tensor *lw = node_input(g, 28, 1), *lb = node_input(g, 28, 2);
    assert_shape(lw, 4, 1001, 1, 1, 256);
    assert_float_equal(lw->data[0], -0.016620880f, 1e-7);
    assert_float_equal(lw->data[1], -0.011080586f, 1e-7);
    assert_int_equal(lb->dtype, MS_DT_I32);
    assert_int_equal(lb->qbytes, 4004);
    assert_float_equal(lb->data[0], -0.87885113f, 1e-5);
    assert_float_equal(lb->data[1], 0.32249743f, 1e-5);

    /* activations keep their quantisation; average pool is VALID 4x4 */
    const ms_node *pool = &g->nodes[27];
    assert_int_equal(pool->kernel_h, 4);
    assert_int_equal(pool->kernel_w, 4);
    assert_int_equal(pool->padding, MS_PAD_VALID);
    const ms_tensor *pooled = &g->tensors[pool->output];
    assert_null(pooled->data);
    assert_int_equal(pooled->quant.n, 1);
    assert_float_equal(pooled->quant.scale[0], 0.023528477f, 1e-9);

    const ms_node *sm = &g->nodes[30];
    assert_int_equal(sm->kind, MS_OP_SOFTMAX);
    assert_float_equal(sm->beta, 1.0f, 0);
    assert_int_equal(sm->axis, 1);
    assert_int_equal(g->n_outputs, 1);
    assert_int_equal(g->outputs[0], sm->output);
    assert_shape(&g->tensors[sm->output], 2, 1, 1001, 0, 0);
    ms_graph_free(g);
}

static void test_mobilenet_v1_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int size, first_channels;
    } models[] = {
        {"models/mobilenet_v1_0.5_160_quant.tflite", 160, 16},
        {"models/mobilenet_v1_0.75_192_quant.tflite", 192, 24},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        MS_REQUIRE_DATA(models[i].file);
        ms_graph *g = load(models[i].file);
        assert_int_equal(g->n_tensors, 88);
        assert_int_equal(g->n_nodes, 31);
        assert_int_equal(count_depthwise(g), 13);
        assert_int_equal(g->input_spec.height, models[i].size);
        assert_int_equal(g->input_spec.width, models[i].size);
        assert_float_equal(g->input_spec.mean, 128.0f, 0);
        assert_shape(&g->tensors[g->nodes[0].output], 4, 1, models[i].size / 2,
                     models[i].size / 2, models[i].first_channels);
        assert_topological(g);
        ms_graph_free(g);
    }
}

static void test_mobilenet_v2(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v2_1.0_224_quant.tflite");
    ms_graph *g = load("models/mobilenet_v2_1.0_224_quant.tflite");
    assert_int_equal(g->n_tensors, 173);
    assert_int_equal(g->n_nodes, 66);
    assert_int_equal(count_kind(g, MS_OP_CONV2D), 53);
    assert_int_equal(count_depthwise(g), 17);
    assert_int_equal(count_kind(g, MS_OP_ADD), 10);
    assert_topological(g);
    assert_int_equal(g->input_spec.height, 224);
    assert_float_equal(g->input_spec.scale, 1.0f / 128, 0);
    /* projection convs have no activation; the first residual adds block 2's
     * projection to block 1's */
    assert_true(isinf(g->nodes[2].act_max));
    const ms_node *add = &g->nodes[9];
    assert_int_equal(add->kind, MS_OP_ADD);
    assert_int_equal(add->inputs[0], g->nodes[8].output);
    assert_int_equal(add->inputs[1], g->nodes[5].output);
    /* first conv: weight zp 122 scale 0.033969; bias 8516 * (1/128) * 0.033969 */
    const ms_tensor *b = node_input(g, 0, 2);
    assert_float_equal(b->data[0], 2.2599951f, 1e-5);
    ms_graph_free(g);
}

static void test_vww_float(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/vww_96_float.tflite");
    ms_graph *g = load("models/vww_96_float.tflite");
    assert_int_equal(g->n_tensors, 88);
    assert_int_equal(g->n_nodes, 31);
    assert_int_equal(count_kind(g, MS_OP_FULLY_CONNECTED), 1);
    assert_int_equal(count_depthwise(g), 13);
    assert_topological(g);
    /* float input: RGB pixels / 255, as the MLCommons Tiny reference feeds it */
    assert_int_equal(g->input_spec.height, 96);
    assert_int_equal(g->input_spec.channels, 3);
    assert_float_equal(g->input_spec.mean, 0.0f, 0);
    assert_float_equal(g->input_spec.scale, 1.0f / 255, 0);
    /* ReLU (not ReLU6) fused into the convolutions */
    assert_float_equal(g->nodes[0].act_min, 0, 0);
    assert_true(isinf(g->nodes[0].act_max));
    const ms_tensor *w = node_input(g, 0, 1), *b = node_input(g, 0, 2);
    assert_int_equal(w->dtype, MS_DT_F32);
    assert_null(w->qdata);
    assert_int_equal(w->quant.n, 0);
    assert_float_equal(w->data[0], 0.62090570f, 0);
    assert_float_equal(w->data[1], -1.5228945f, 0);
    assert_float_equal(b->data[0], 0.79620677f, 0);
    assert_float_equal(b->data[1], 0.56675136f, 0);
    const ms_node *fc = &g->nodes[29];
    assert_int_equal(fc->kind, MS_OP_FULLY_CONNECTED);
    assert_shape(node_input(g, 29, 1), 2, 2, 256, 0, 0);
    assert_float_equal(node_input(g, 29, 1)->data[0], 0.071714170f, 0);
    assert_float_equal(node_input(g, 29, 2)->data[0], 0.10810550f, 0);
    assert_float_equal(node_input(g, 29, 2)->data[1], -0.10810563f, 0);
    ms_graph_free(g);
}

static void test_extractor_and_head(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite");
    MS_REQUIRE_DATA("models/mobilenet_v1_1.0_224_quant_head_layers.tflite");
    ms_graph *e = load("models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite");
    assert_int_equal(e->n_tensors, 83);
    assert_int_equal(e->n_nodes, 28);
    assert_int_equal(count_depthwise(e), 13);
    assert_int_equal(e->nodes[27].kind, MS_OP_AVG_POOL);
    assert_int_equal(e->nodes[27].kernel_h, 7);
    assert_shape(&e->tensors[e->outputs[0]], 4, 1, 1, 1, 1024);
    assert_int_equal(e->input_spec.height, 224);
    ms_graph_free(e);

    ms_graph *h = load("models/mobilenet_v1_1.0_224_quant_head_layers.tflite");
    assert_int_equal(h->n_tensors, 6);
    assert_int_equal(h->n_nodes, 3);
    assert_int_equal(h->nodes[0].kind, MS_OP_CONV2D);
    assert_int_equal(h->nodes[1].kind, MS_OP_RESHAPE);
    assert_int_equal(h->nodes[2].kind, MS_OP_SOFTMAX);
    const ms_tensor *w = node_input(h, 0, 1);
    assert_shape(w, 4, 1001, 1, 1, 1024);
    assert_float_equal(w->data[0], -0.0049866010f, 1e-9);
    ms_graph_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobilenet_v1_025),
        cmocka_unit_test(test_mobilenet_v1_sizes),
        cmocka_unit_test(test_mobilenet_v2),
        cmocka_unit_test(test_vww_float),
        cmocka_unit_test(test_extractor_and_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
