/* `mainstream profile` on MobileNetV1 0.25_128: the JSON profile's fields, one unit
 * per chokepoint (the last an app's head), the file written atomically and equal to
 * what was printed,
 * and usage and load errors. Timing values are only checked to be positive: performance
 * belongs in bench/. */
#include "testutil.h"

#include "cost/profile.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V1_025 "models/mobilenet_v1_0.25_128_quant.tflite"

static double number(const cJSON *o, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_profile_json(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(V1_025);
    char model[4096], path[4096];
    snprintf(model, sizeof model, "%s", ms_test_data(V1_025));
    char *dir = ms_test_tmpdir();
    snprintf(path, sizeof path, "%s/profile.json", dir);
    const char *args[] = {"profile", "--model", model, "--precision", "int8", "--batch", "2", "--threads", "2",
                          "--runs", "2", "--warmup", "0", "--json", "-o", path, NULL};
    char *out = NULL, *errout = NULL;
    int rc = ms_test_run_cli(args, &out, &errout);
    if (rc) print_message("stderr: %s\n", errout);
    assert_int_equal(rc, 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(root, "backend")), "cpu");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(root, "precision")), "int8");
    assert_int_equal((int)number(root, "batch"), 2);
    assert_int_equal((int)number(root, "threads"), 2);
    assert_int_equal((int)number(root, "format_version"), 1);
    const char *fp = cJSON_GetStringValue(cJSON_GetObjectItem(root, "model_fingerprint"));
    assert_non_null(fp);
    assert_int_equal(strlen(fp), 64);
    assert_true(number(root, "network_ms") > 0);
    /* MobileNetV1: input, conv1, 13 blocks, pooling: 16 chokepoints, 16 segments. */
    const cJSON *segs = cJSON_GetObjectItem(root, "segments");
    assert_int_equal(cJSON_GetArraySize(segs), 16);
    double sum = 0;
    for (int i = 0; i < 16; i++) {
        const cJSON *s = cJSON_GetArrayItem(segs, i);
        assert_int_equal((int)number(s, "from"), i);
        assert_int_equal((int)number(s, "to"), i + 1);
        assert_true(number(s, "ms") > 0);
        sum += number(s, "ms");
    }
    print_message("network %.3f ms, segments %.3f ms per frame\n", number(root, "network_ms"), sum);
    /* The file holds the same profile. */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *saved = cJSON_Parse(buf);
    assert_non_null(saved);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(saved, "model_fingerprint")), fp);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(saved, "segments")), 16);
    /* ...which the strict reader (unknown keys, format_version) accepts, and which is
     * field for field the profile printed on stdout (the same measurement) */
    ms_profile from_file, from_stdout;
    ms_error err;
    if (ms_profile_load(path, &from_file, &err)) fail_msg("%s", err.msg);
    if (ms_profile_parse(root, "stdout", &from_stdout, &err)) fail_msg("%s", err.msg);
    assert_int_equal(from_file.n_units, 16);
    assert_string_equal(from_file.backend, from_stdout.backend);
    assert_int_equal(from_file.precision, MS_PREC_INT8);
    assert_int_equal(from_file.batch, 2);
    assert_int_equal(from_file.threads, 2);
    assert_memory_equal(from_file.fingerprint, from_stdout.fingerprint, 32);
    assert_true(from_file.network_ms == from_stdout.network_ms);
    for (int i = 0; i < 16; i++) assert_true(from_file.unit_ms[i] == from_stdout.unit_ms[i]);
    ms_profile_free(&from_file);
    ms_profile_free(&from_stdout);
    cJSON_Delete(saved);
    cJSON_Delete(root);
    free(out);
    free(errout);
    ms_test_rmdir(dir);
}

static void test_profile_errors(void **state)
{
    (void)state;
    char *errout = NULL;
    const char *no_model[] = {"profile", "--batch", "2", NULL};
    assert_int_equal(ms_test_run_cli(no_model, NULL, &errout), 2);
    assert_non_null(strstr(errout, "--model"));
    free(errout);
    const char *bad_batch[] = {"profile", "--model", "x.tflite", "--batch", "0", NULL};
    assert_int_equal(ms_test_run_cli(bad_batch, NULL, &errout), 2);
    assert_non_null(strstr(errout, "--batch"));
    free(errout);
    const char *bad_backend[] = {"profile", "--model", "x.tflite", "--backend", "gpu9", NULL};
    assert_int_equal(ms_test_run_cli(bad_backend, NULL, &errout), 2);
    assert_non_null(strstr(errout, "gpu9"));
    free(errout);
    char *dir = ms_test_tmpdir(), path[4096], missing[4096];
    snprintf(path, sizeof path, "%s/profile.json", dir);
    snprintf(missing, sizeof missing, "%s/missing.tflite", dir);
    const char *no_file[] = {"profile", "--model", missing, "-o", path, NULL};
    assert_int_equal(ms_test_run_cli(no_file, NULL, &errout), 1);
    assert_non_null(strstr(errout, "missing.tflite"));
    FILE *f = fopen(path, "r");
    assert_null(f); /* nothing half-written */
    free(errout);
    const char *no_files[] = {"profile", "--runs", "1", NULL};
    assert_int_equal(ms_test_run_cli(no_files, NULL, &errout), 2);
    assert_non_null(strstr(errout, "--model FILE is required"));
    free(errout);
    const char *no_value[] = {"profile", "--runs", "1", "--model", NULL};
    assert_int_equal(ms_test_run_cli(no_value, NULL, &errout), 2);
    assert_non_null(strstr(errout, "--model needs a value"));
    free(errout);
    ms_test_rmdir(dir);
}

/* --model repeated: the second file is read and chained; a second file after one
 * --model is a usage error that says how to give it. */
static void test_profile_model_list(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(V1_025);
    char *dir = ms_test_tmpdir(), model[4096], missing[4096];
    snprintf(model, sizeof model, "%s", ms_test_data(V1_025));
    snprintf(missing, sizeof missing, "%s/second.tflite", dir);
    const char *two_files[] = {"profile", "--model", model, "--model", missing, "--runs", "1", NULL};
    char *errout = NULL;
    assert_int_equal(ms_test_run_cli(two_files, NULL, &errout), 1);
    assert_non_null(strstr(errout, "second.tflite"));
    free(errout);
    const char *one_flag[] = {"profile", "--model", model, missing, "--runs", "1", NULL};
    assert_int_equal(ms_test_run_cli(one_flag, NULL, &errout), 2);
    assert_non_null(strstr(errout, "give each model file its own --model"));
    free(errout);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_json),
        cmocka_unit_test(test_profile_errors),
        cmocka_unit_test(test_profile_model_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
