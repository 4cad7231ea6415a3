/* End-to-end tests of `mainstream inspect` on the real MobileNet models: the chokepoints
 * it finds (count, tensors' shapes, multiply-adds) and its failures on bad input. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V1_025 "models/mobilenet_v1_0.25_128_quant.tflite"
#define V1_EXTRACTOR "models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
#define V1_HEAD "models/mobilenet_v1_1.0_224_quant_head_layers.tflite"
#define V2 "models/mobilenet_v2_1.0_224_quant.tflite"

/* Loading the 1.0_224 models takes ~10 s each under valgrind: there the small model's
 * test stands for them (the sanitizer build still runs all of them). */
#define SKIP_LARGE_UNDER_VALGRIND()                                                      \
    do {                                                                                 \
        if (getenv("MS_UNDER_VALGRIND")) {                                               \
            print_message("skipped under valgrind: 1.0_224 models are slow there\n"); \
            skip();                                                                      \
        }                                                                                \
    } while (0)

/* Runs `inspect --json` on the models and returns the parsed output. */
static cJSON *inspect_json(const char *m1, const char *m2)
{
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s", ms_test_data(m1));
    snprintf(p2, sizeof p2, "%s", m2 ? ms_test_data(m2) : "");
    const char *args[] = {"inspect", "--json", p1, m2 ? p2 : NULL, NULL};
    char *out = NULL, *errout = NULL;
    int rc = ms_test_run_cli(args, &out, &errout);
    if (rc != 0) print_message("stderr: %s\n", errout);
    assert_int_equal(rc, 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    free(out);
    free(errout);
    return root;
}

static int64_t number(const cJSON *o, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    assert_true(cJSON_IsNumber(v));
    return (int64_t)v->valuedouble;
}

/* Checks the chokepoints' shapes ({H, W, C} each, batch 1) and their MAC split. */
static void expect_chokepoints(const cJSON *root, const int (*hwc)[3], int n)
{
    const cJSON *cps = cJSON_GetObjectItemCaseSensitive(root, "chokepoints");
    assert_int_equal(cJSON_GetArraySize(cps), n);
    int64_t total = number(root, "macs"), previous = -1;
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    const char *input_name = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(inputs, 0), "name"));
    for (int i = 0; i < n; i++) {
        const cJSON *cp = cJSON_GetArrayItem(cps, i);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(cp, "shape");
        assert_int_equal(number(cp, "index"), i);
        assert_int_equal(cJSON_GetArraySize(shape), 4);
        int64_t got[4];
        for (int d = 0; d < 4; d++) got[d] = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble;
        if (got[1] != hwc[i][0] || got[2] != hwc[i][1] || got[3] != hwc[i][2])
            fail_msg("chokepoint %d (%s): shape [%lld,%lld,%lld,%lld], expected [1,%d,%d,%d]", i,
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cp, "tensor")), (long long)got[0],
                     (long long)got[1], (long long)got[2], (long long)got[3], hwc[i][0], hwc[i][1], hwc[i][2]);
        assert_int_equal(got[0], 1);
        int64_t before = number(cp, "macs_before");
        assert_true(before >= previous); /* pooling counts no multiply-adds */
        assert_true(before + number(cp, "macs_after") == total);
        previous = before;
    }
    const cJSON *first = cJSON_GetArrayItem(cps, 0);
    assert_int_equal(number(first, "macs_before"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "tensor")), input_name);
}

/* MobileNetV1 of width multiplier `w` (in quarters) at resolution r: input, conv1, the
 * 13 depthwise-separable blocks, the pooled features. */
static void v1_shapes(int quarters, int r, int (*hwc)[3])
{
    static const int channels[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    static const int stride[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    int h = r / 2, i = 0;
    hwc[i][0] = hwc[i][1] = r, hwc[i][2] = 3, i++;
    hwc[i][0] = hwc[i][1] = h, hwc[i][2] = 32 * quarters / 4, i++;
    for (int b = 0; b < 13; b++, i++) {
        h /= stride[b];
        hwc[i][0] = hwc[i][1] = h, hwc[i][2] = channels[b] * quarters / 4;
    }
    hwc[i][0] = hwc[i][1] = 1, hwc[i][2] = 1024 * quarters / 4;
}

static void test_v1_quarter(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(V1_025);
    cJSON *root = inspect_json(V1_025, NULL);
    int hwc[16][3];
    v1_shapes(1, 128, hwc);
    expect_chokepoints(root, hwc, 16);
    /* conv1: 64*64*8 outputs, 3*3*3 taps each */
    const cJSON *cp1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "chokepoints"), 1);
    assert_int_equal(number(cp1, "macs_before"), 64 * 64 * 8 * 27);
    cJSON_Delete(root);
}

static void test_v1_extractor_and_head(void **state)
{
    (void)state;
    SKIP_LARGE_UNDER_VALGRIND();
    MS_REQUIRE_DATA(V1_EXTRACTOR);
    MS_REQUIRE_DATA(V1_HEAD);
    cJSON *root = inspect_json(V1_EXTRACTOR, V1_HEAD);
    int hwc[16][3];
    v1_shapes(4, 224, hwc);
    expect_chokepoints(root, hwc, 16);
    /* the head's classifier comes after the last chokepoint: 1024 * 1001 MACs */
    const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "chokepoints"), 15);
    assert_int_equal(number(last, "macs_after"), 1024 * 1001);
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(outputs, 0), "shape");
    assert_int_equal((int)cJSON_GetArrayItem(shape, cJSON_GetArraySize(shape) - 1)->valuedouble, 1001);
    cJSON_Delete(root);
}

static void test_v2(void **state)
{
    (void)state;
    SKIP_LARGE_UNDER_VALGRIND();
    MS_REQUIRE_DATA(V2);
    cJSON *root = inspect_json(V2, NULL);
    /* input, conv1, the 17 inverted-residual blocks, the 1280-channel conv, pooling */
    static const int hwc[21][3] = {
        {224, 224, 3}, {112, 112, 32}, {112, 112, 16}, {56, 56, 24}, {56, 56, 24},
        {28, 28, 32},  {28, 28, 32},   {28, 28, 32},   {14, 14, 64}, {14, 14, 64},
        {14, 14, 64},  {14, 14, 64},   {14, 14, 96},   {14, 14, 96}, {14, 14, 96},
        {7, 7, 160},   {7, 7, 160},    {7, 7, 160},    {7, 7, 320},  {7, 7, 1280},
        {1, 1, 1280},
    };
    expect_chokepoints(root, hwc, 21);
    cJSON_Delete(root);
}

static void test_table_output(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(V1_025);
    char path[4096];
    snprintf(path, sizeof path, "%s", ms_test_data(V1_025));
    const char *args[] = {"inspect", path, NULL};
    char *out = NULL;
    assert_int_equal(ms_test_run_cli(args, &out, NULL), 0);
    assert_non_null(strstr(out, "chokepoints (16;"));
    assert_non_null(strstr(out, "conv2d"));
    assert_non_null(strstr(out, "avg_pool"));
    assert_non_null(strstr(out, "total: 31 layers"));
    free(out);
}

static void expect_failure(const char *const *args, int code, const char *needle)
{
    char *errout = NULL;
    assert_int_equal(ms_test_run_cli(args, NULL, &errout), code);
    if (!strstr(errout, needle)) fail_msg("stderr lacks '%s': %s", needle, errout);
    free(errout);
}

static void test_bad_input(void **state)
{
    (void)state;
    const char *none[] = {"inspect", NULL};
    expect_failure(none, 2, "no model file");
    const char *option[] = {"inspect", "--frobnicate", "x.tflite", NULL};
    expect_failure(option, 2, "unknown option '--frobnicate'");
    const char *missing[] = {"inspect", "/nonexistent/model.tflite", NULL};
    expect_failure(missing, 1, "/nonexistent/model.tflite");

    char *dir = ms_test_tmpdir();
    char garbage[256];
    snprintf(garbage, sizeof garbage, "%s/garbage.tflite", dir);
    FILE *fp = fopen(garbage, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 1000; i++) fputc((i * 7919) & 0xff, fp);
    fclose(fp);
    const char *bad[] = {"inspect", "--json", garbage, NULL};
    char *out = NULL, *errout = NULL;
    assert_int_equal(ms_test_run_cli(bad, &out, &errout), 1);
    assert_non_null(strstr(errout, garbage));
    assert_string_equal(out, ""); /* nothing half-printed */
    free(out);
    free(errout);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_quarter),
        cmocka_unit_test(test_v1_extractor_and_head),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_table_output),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
