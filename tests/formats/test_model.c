/* Tests of ms_model_load: chaining files into one network, the SHA-256 fingerprint
 * (expected digests from coreutils sha256sum over the concatenated files), and the
 * errors for missing, oversized and mismatched files. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/model.h"

#define EXTRACTOR "models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
#define HEAD "models/mobilenet_v1_1.0_224_quant_head_layers.tflite"
#define SMALL "models/mobilenet_v1_0.25_128_quant.tflite"

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static ms_status load2(const char *a, const char *b, ms_graph **g, ms_error *err)
{
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s", ms_test_data(a));
    snprintf(pb, sizeof pb, "%s", ms_test_data(b));
    const char *paths[2] = {pa, pb};
    return ms_model_load(paths, 2, g, err);
}

static void test_chain_extractor_and_head(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(EXTRACTOR);
    MS_REQUIRE_DATA(HEAD);
    ms_graph *g;
    ms_error err;
    assert_int_equal(load2(EXTRACTOR, HEAD, &g, &err), MS_OK);
    /* 83 + 6 tensors, the head's input shared with the extractor's output */
    assert_int_equal(g->n_tensors, 88);
    assert_int_equal(g->n_nodes, 31);
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->n_outputs, 1);
    const ms_node *pool = &g->nodes[27], *logits = &g->nodes[28];
    assert_int_equal(pool->kind, MS_OP_AVG_POOL);
    assert_int_equal(logits->kind, MS_OP_CONV2D);
    assert_int_equal(logits->inputs[0], pool->output);
    assert_int_equal(g->nodes[29].inputs[0], logits->output);
    assert_int_equal(g->outputs[0], g->nodes[30].output);
    const ms_tensor *out = &g->tensors[g->outputs[0]];
    assert_int_equal(out->ndim, 2);
    assert_int_equal(out->shape[1], 1001);
    assert_int_equal(g->input_spec.height, 224);
    assert_float_equal(g->input_spec.mean, 128.0f, 0);
    assert_non_null(strstr(g->source, "embedding_extractor.tflite"));
    assert_non_null(strstr(g->source, "head_layers.tflite"));
    char h[65];
    hex(g->fingerprint, h);
    assert_string_equal(h, "12999937860b01dce7cd097d558ce080c427ed5cd89134539d37b12ddf2ad831");
    ms_graph_free(g);
}

static void test_single_file_fingerprint(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    const char *paths[1] = {ms_test_data(SMALL)};
    ms_graph *g;
    ms_error err;
    assert_int_equal(ms_model_load(paths, 1, &g, &err), MS_OK);
    char h[65];
    hex(g->fingerprint, h);
    assert_string_equal(h, "cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785");
    assert_string_equal(g->source, paths[0]);
    ms_graph_free(g);
}

static void test_chain_shape_mismatch_names_both(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    MS_REQUIRE_DATA(HEAD);
    ms_graph *g = (ms_graph *)&g;
    ms_error err;
    assert_int_equal(load2(SMALL, HEAD, &g, &err), MS_ERR_INVALID);
    assert_null(g);
    assert_non_null(strstr(err.msg, "head_layers.tflite"));
    assert_non_null(strstr(err.msg, "0.25_128_quant.tflite"));
    assert_non_null(strstr(err.msg, "[1, 1, 1, 1024]"));
    assert_non_null(strstr(err.msg, "[1, 1001]"));
    /* the other order fails too: the head's output is not an image */
    assert_int_equal(load2(HEAD, EXTRACTOR, &g, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "[1, 224, 224, 3]"));
}

static void test_missing_and_oversized_files(void **state)
{
    (void)state;
    ms_graph *g;
    ms_error err;
    const char *missing[1] = {"/nonexistent/model.tflite"};
    assert_int_equal(ms_model_load(missing, 1, &g, &err), MS_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/model.tflite"));
    assert_int_equal(ms_model_load(missing, 0, &g, &err), MS_ERR_INVALID);

    /* a sparse file just over the limit: refused before it is read */
    char *dir = ms_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/huge.tflite", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)MS_MODEL_MAX_BYTES + 1), 0);
    close(fd);
    const char *huge[1] = {path};
    assert_int_equal(ms_model_load(huge, 1, &g, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "huge.tflite"));
    assert_non_null(strstr(err.msg, "larger than the limit"));
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_extractor_and_head),
        cmocka_unit_test(test_single_file_fingerprint),
        cmocka_unit_test(test_chain_shape_mismatch_names_both),
        cmocka_unit_test(test_missing_and_oversized_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
