/* `mainstream infer`: on a TFLite model (NHWC in, the model's layout) its output equals
 * a plan run through the library on the same tensor, for a batch of 3 on ref and cpu;
 * usage, shape and file errors name what is wrong and write nothing. ONNX models are
 * covered by tests/formats/test_onnx_torchvision.c (NCHW in and out, against torch). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/backend.h"
#include "formats/model.h"
#include "formats/npy.h"

#define VWW "models/vww_96_float.tflite"

static void test_matches_library(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(VWW);
    char model[4096], in_path[4096], out_path[4096];
    snprintf(model, sizeof model, "%s", ms_test_data(VWW));
    char *dir = ms_test_tmpdir();
    snprintf(in_path, sizeof in_path, "%s/x.npy", dir);
    ms_npy x = {.ndim = 4, .shape = {3, 96, 96, 3}, .numel = 3 * 96 * 96 * 3};
    x.data = malloc((size_t)x.numel * sizeof *x.data);
    assert_non_null(x.data);
    uint32_t s = 7;
    for (int64_t i = 0; i < x.numel; i++) {
        s = s * 1664525u + 1013904223u;
        x.data[i] = (float)(s >> 8) / (float)(1u << 24);
    }
    ms_error err = {0};
    assert_int_equal(ms_npy_write(in_path, &x, &err), MS_OK);
    const char *paths[1] = {model};
    ms_graph *g = NULL;
    assert_int_equal(ms_model_load(paths, 1, &g, &err), MS_OK);
    static const char *const backends[2] = {"ref", "cpu"};
    for (int b = 0; b < 2; b++) {
        ms_plan_options o = {.batch = 3, .threads = 1, .precision = MS_PREC_FP32};
        ms_plan *plan = NULL;
        assert_int_equal(ms_plan_compile(ms_backend_find(backends[b]), g, &o, &plan, &err), MS_OK);
        float want[3 * 2];
        assert_int_equal(plan->out_numel, 2);
        assert_int_equal(ms_plan_run(plan, x.data, want, &err), MS_OK);
        ms_plan_free(plan);
        snprintf(out_path, sizeof out_path, "%s/y_%s.npy", dir, backends[b]);
        const char *args[] = {"infer", "--model", model, "--input", in_path, "-o", out_path, "--backend", backends[b], NULL};
        char *errout = NULL;
        int rc = ms_test_run_cli(args, NULL, &errout);
        if (rc) print_message("%s\n", errout);
        free(errout);
        assert_int_equal(rc, 0);
        ms_npy y;
        assert_int_equal(ms_npy_read(out_path, &y, &err), MS_OK);
        assert_int_equal(y.ndim, 2);
        assert_int_equal(y.shape[0], 3);
        assert_int_equal(y.shape[1], 2);
        assert_memory_equal(y.data, want, sizeof want);
        ms_npy_free(&y);
    }
    ms_graph_free(g);
    /* a frame of the wrong size: nothing written, the message gives both shapes */
    ms_npy bad = {.ndim = 4, .shape = {1, 3, 96, 96}, .numel = 3 * 96 * 96, .data = x.data};
    assert_int_equal(ms_npy_write(in_path, &bad, &err), MS_OK);
    snprintf(out_path, sizeof out_path, "%s/never.npy", dir);
    const char *args[] = {"infer", "--model", model, "--input", in_path, "-o", out_path, NULL};
    char *errout = NULL;
    assert_int_equal(ms_test_run_cli(args, NULL, &errout), 1);
    assert_non_null(strstr(errout, "the input has shape [1,3,96,96], the model takes [N,96,96,3]"));
    free(errout);
    struct stat st;
    assert_int_not_equal(stat(out_path, &st), 0);
    /* not a .npy file */
    const char *args2[] = {"infer", "--model", model, "--input", model, "-o", out_path, NULL};
    assert_int_equal(ms_test_run_cli(args2, NULL, &errout), 1);
    assert_non_null(strstr(errout, "not a .npy file"));
    free(errout);
    /* usage */
    const char *args3[] = {"infer", "--model", model, NULL};
    assert_int_equal(ms_test_run_cli(args3, NULL, &errout), 2);
    free(errout);
    const char *args4[] = {"infer", "--model", model, "--input", in_path, "-o", out_path, "--threads", "0", NULL};
    assert_int_equal(ms_test_run_cli(args4, NULL, &errout), 2);
    assert_non_null(strstr(errout, "--threads"));
    free(errout);
    free(x.data);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matches_library)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
