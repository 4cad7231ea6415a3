/* `mainstream classify --labels-csv`: accuracy against a file,class CSV, the images
 * found relative to the CSV's folder; a malformed CSV is named; usage errors exit 2.
 * ONNX classifiers ending in logits (torchvision ResNet-18 exported at test time, seeded
 * random weights, ending in a Gemm; a small model ending in MatMul and a bias Add): the
 * printed scores are the softmax of what `mainstream infer` gives on the same pixels
 * (top-1 = infer's argmax, the 10 scores summing to 1); a model ending in a pooled
 * feature map (SqueezeNet) is still refused. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "formats/model.h"
#include "formats/npy.h"
#include "media/image.h"

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_labels_csv_accuracy(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA("images/bird.bmp");
    char *dir = ms_test_tmpdir();
    char path[300], csv[300];
    /* links to the shared images beside the CSV: bird is class 20 (right), parrot is
     * given 20 too (wrong: it is a macaw, 89, and chickadee is far from its top 5) */
    snprintf(path, sizeof path, "%s/bird.bmp", dir);
    assert_int_equal(symlink(ms_test_data("images/bird.bmp"), path), 0);
    snprintf(path, sizeof path, "%s/parrot.jpg", dir);
    assert_int_equal(symlink(ms_test_data("images/parrot.jpg"), path), 0);
    snprintf(csv, sizeof csv, "%s/labels.csv", dir);
    write_text(csv, "file,class\nbird.bmp,20\nparrot.jpg,20\n");
    char *model = strdup(ms_test_data(MODEL));

    const char *args[] = {"classify", "--model", model, "--json", "--labels-csv", csv, NULL};
    char *out = NULL, *errout = NULL;
    int rc = ms_test_run_cli(args, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    assert_non_null(strstr(out, "\"truth\":20"));
    assert_non_null(strstr(out, "{\"images\": 2, \"top1\": 0.5000, \"top5\": 0.5000, \"failed\": 0}\n"));
    free(out);
    free(errout);

    /* text summary, batch of 1 (two runs) */
    const char *text[] = {"classify", "--model", model, "--batch", "1", "--labels-csv", csv, NULL};
    assert_int_equal(ms_test_run_cli(text, &out, &errout), 0);
    assert_non_null(strstr(out, "top-1 50.00% (1/2)  top-5 50.00% (1/2)  failed 0\n"));
    free(out);
    free(errout);

    write_text(csv, "name;class\nbird.bmp;20\n");
    assert_int_equal(ms_test_run_cli(args, &out, &errout), 1);
    assert_non_null(strstr(errout, csv));
    assert_non_null(strstr(errout, "file,class"));
    free(out);
    free(errout);
    free(model);
    ms_test_rmdir(dir);
}

static void test_usage_errors(void **state)
{
    (void)state;
    const char *cases[][6] = {
        {"classify", "x.jpg", NULL},                                    /* no --model */
        {"classify", "--model", "m.tflite", NULL},                      /* no image */
        {"classify", "--model", "m.tflite", "--top", "0", NULL},        /* K out of range */
        {"classify", "--model", "m.tflite", "--resize", "squash", NULL}, /* unknown mode */
        {"classify", "--model", "m.tflite", "--batch", "x", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL, *errout = NULL;
        assert_int_equal(ms_test_run_cli(cases[i], &out, &errout), 2);
        assert_true(strlen(errout) > 0);
        assert_string_equal(out, "");
        free(out);
        free(errout);
    }
    char *out = NULL, *errout = NULL;
    const char *missing[] = {"classify", "--model", "/nonexistent/m.tflite", "x.jpg", NULL};
    assert_int_equal(ms_test_run_cli(missing, &out, &errout), 1);
    assert_non_null(strstr(errout, "/nonexistent/m.tflite"));
    free(out);
    free(errout);
}

/* A feature extractor alone is not a classifier: refused, naming what it ends in; with its
 * head chained it classifies (the Coral reference: cat.bmp is 286, Egyptian cat). */
static void test_refuses_features(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite");
    MS_REQUIRE_DATA("images/cat.bmp");
    char ext[4200], head[4200], img[4200];
    snprintf(ext, sizeof ext, "%s", ms_test_data("models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"));
    snprintf(head, sizeof head, "%s", ms_test_data("models/mobilenet_v1_1.0_224_quant_head_layers.tflite"));
    snprintf(img, sizeof img, "%s", ms_test_data("images/cat.bmp"));
    const char *alone[] = {"classify", "--model", ext, img, NULL};
    char *out = NULL, *errout = NULL;
    assert_int_equal(ms_test_run_cli(alone, &out, &errout), 1);
    assert_non_null(strstr(errout, "the output is not a class distribution (the model ends in avg_pool, not softmax or a fully-connected "
                                  "layer's logits)"));
    assert_string_equal(out, "");
    free(out);
    free(errout);
    const char *chained[] = {"classify", "--model", ext, "--model", head, "--top", "1", "--json", img, NULL};
    assert_int_equal(ms_test_run_cli(chained, &out, &errout), 0);
    assert_non_null(strstr(out, "\"class\":286"));
    free(out);
    free(errout);
}

/* The pixels classify feeds the model for image `img` (stretched), written as an NCHW
 * .npy for `infer`. */
static void image_npy(const char *model, const char *img, const char *npy)
{
    ms_graph *g = NULL;
    ms_error err;
    if (ms_model_load(&model, 1, &g, &err)) fail_msg("%s", err.msg);
    const ms_input_spec *s = &g->input_spec;
    size_t hw = (size_t)s->height * (size_t)s->width, c = (size_t)s->channels;
    float *hwc = malloc(sizeof *hwc * hw * c);
    ms_npy x = {.ndim = 4, .shape = {1, s->channels, s->height, s->width}, .numel = (int64_t)(hw * c)};
    x.data = malloc(sizeof *x.data * hw * c);
    assert_non_null(hwc);
    assert_non_null(x.data);
    if (ms_image_load(img, s, MS_RESIZE_STRETCH, hwc, &err)) fail_msg("%s", err.msg);
    for (size_t p = 0; p < hw; p++)
        for (size_t k = 0; k < c; k++) x.data[k * hw + p] = hwc[p * c + k];
    if (ms_npy_write(npy, &x, &err)) fail_msg("%s", err.msg);
    free(hwc);
    ms_npy_free(&x);
    ms_graph_free(g);
}

/* classify's scores for img on model `name` (10 classes) against the softmax of infer's
 * output on the same pixels. */
static void check_logits_classifier(const char *dir, const char *name, const char *img)
{
    char model[1024], x[1100], y[1100];
    snprintf(model, sizeof model, "%s/%s.onnx", dir, name);
    snprintf(x, sizeof x, "%s/x.npy", dir);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    image_npy(model, img, x);
    const char *infer[] = {"infer", "--model", model, "--input", x, "-o", y, NULL};
    char *out = NULL, *errout = NULL;
    if (ms_test_run_cli(infer, &out, &errout)) fail_msg("infer: %s", errout);
    free(out);
    free(errout);
    ms_npy logits;
    ms_error err;
    if (ms_npy_read(y, &logits, &err)) fail_msg("%s", err.msg);
    assert_int_equal(logits.numel, 10);
    int argmax = 0;
    double want[10], sum = 0;
    for (int k = 0; k < 10; k++) argmax = logits.data[k] > logits.data[argmax] ? k : argmax;
    for (int k = 0; k < 10; k++) sum += want[k] = exp((double)logits.data[k] - logits.data[argmax]);

    const char *classify[] = {"classify", "--model", model, "--top", "10", "--json", img, NULL};
    if (ms_test_run_cli(classify, &out, &errout)) fail_msg("classify: %s", errout);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "scores")->valuestring, "softmax of the logits");
    cJSON *top = cJSON_GetObjectItem(j, "top");
    assert_int_equal(cJSON_GetArraySize(top), 10);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 0), "class")->valueint, argmax);
    double total = 0;
    for (int r = 0; r < 10; r++) {
        cJSON *e = cJSON_GetArrayItem(top, r);
        int k = cJSON_GetObjectItem(e, "class")->valueint;
        double p = cJSON_GetObjectItem(e, "score")->valuedouble;
        assert_true(k >= 0 && k < 10);
        assert_float_equal(p, want[k] / sum, 1e-4);
        total += p;
    }
    assert_float_equal(total, 1.0, 1e-5);
    print_message("%s on %s: top-1 %d (p %.4f), infer's argmax %d, scores sum to %.7f\n", name, img, argmax,
                  want[argmax] / sum, argmax, total);
    cJSON_Delete(j);
    free(out);
    free(errout);
    ms_npy_free(&logits);
}

static void test_onnx_logits(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("images/cat.bmp");
    MS_REQUIRE_DATA("images/parrot.jpg");
    if (system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") != 0) {
        print_message("skipped: /usr/bin/python3 cannot import torch and torchvision (python3-torchvision)\n");
        skip();
    }
    char *dir = ms_test_tmpdir(), cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/scripts/onnx_export.py %s resnet18:10 squeezenet1_1:10 >/dev/null 2>&1",
             MS_SOURCE_DIR, dir);
    assert_int_equal(system(cmd), 0);
    char img[2][4200];
    snprintf(img[0], sizeof img[0], "%s", ms_test_data("images/cat.bmp"));
    snprintf(img[1], sizeof img[1], "%s", ms_test_data("images/parrot.jpg"));
    for (int i = 0; i < 2; i++) check_logits_classifier(dir, "resnet18_10", img[i]);
    /* a MatMul and a bias Add instead of a Gemm (what other exporters write) */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import numpy as np, onnx; from onnx import helper as h, numpy_helper as n, TensorProto as T; "
             "r = np.random.RandomState(0); "
             "ns = [h.make_node(\"GlobalAveragePool\", [\"x\"], [\"p\"]), h.make_node(\"Flatten\", [\"p\"], [\"f\"]), "
             "h.make_node(\"MatMul\", [\"f\", \"W\"], [\"m\"]), h.make_node(\"Add\", [\"m\", \"b\"], [\"y\"])]; "
             "g = h.make_graph(ns, \"matmul_add\", [h.make_tensor_value_info(\"x\", T.FLOAT, [1, 3, 32, 32])], "
             "[h.make_tensor_value_info(\"y\", T.FLOAT, [1, 10])], "
             "[n.from_array(r.randn(3, 10).astype(np.float32) * 4, \"W\"), n.from_array(r.randn(10).astype(np.float32), \"b\")]); "
             "onnx.save(h.make_model(g, opset_imports=[h.make_opsetid(\"\", 13)]), \"%s/matmul_add.onnx\")'",
             dir);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 2; i++) check_logits_classifier(dir, "matmul_add", img[i]);

    /* the text form says so before the first image */
    char model[1024];
    snprintf(model, sizeof model, "%s/resnet18_10.onnx", dir);
    const char *text[] = {"classify", "--model", model, "--top", "1", img[0], NULL};
    char *out = NULL, *errout = NULL;
    assert_int_equal(ms_test_run_cli(text, &out, &errout), 0);
    const char *note = "note: the model ends in a fully-connected layer's logits; scores are their softmax\n";
    assert_true(!strncmp(out, note, strlen(note)));
    free(out);
    free(errout);

    /* SqueezeNet's classes come out of a pooled convolution: not told from features, refused */
    snprintf(model, sizeof model, "%s/squeezenet1_1_10.onnx", dir);
    const char *squeeze[] = {"classify", "--model", model, img[0], NULL};
    assert_int_equal(ms_test_run_cli(squeeze, &out, &errout), 1);
    assert_non_null(strstr(errout, "the model ends in global_avg_pool, not softmax or a fully-connected layer's logits"));
    assert_string_equal(out, "");
    free(out);
    free(errout);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onnx_logits),
        cmocka_unit_test(test_refuses_features),
        cmocka_unit_test(test_labels_csv_accuracy),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
