/* The public header alone is enough to load a model, cut it at its chokepoints and run
 * a segment: what an embedding program does first. */
#include "testutil.h"

#include <stdlib.h>

#include <mainstream.h>

static void test_load_cut_and_run_through_public_header(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *path = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    ms_error err;
    ms_graph *g = NULL;
    assert_int_equal(ms_model_load(&path, 1, &g, &err), MS_OK);
    ms_chokepoint *cps = NULL;
    int n = 0;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    assert_int_equal(n, 16);

    /* The stem up to chokepoint 1 is the first convolution: 128x128x3 -> 64x64x8. */
    ms_graph *stem = NULL;
    assert_int_equal(ms_graph_segment(g, 0, cps[1].node_end, &stem, &err), MS_OK);
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan = NULL;
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), stem, &opts, &plan, &err), MS_OK);
    assert_int_equal(plan->in_numel, 128 * 128 * 3);
    assert_int_equal(plan->out_numel, 64 * 64 * 8);
    float *in = calloc((size_t)plan->in_numel, sizeof *in);
    float *out = calloc((size_t)plan->out_numel, sizeof *out);
    assert_int_equal(ms_plan_run(plan, in, out, &err), MS_OK);
    /* ReLU6 is fused into the first convolution. */
    for (int64_t i = 0; i < plan->out_numel; i++) assert_true(out[i] >= 0.0f && out[i] <= 6.0f);
    free(in);
    free(out);
    ms_plan_free(plan);
    ms_graph_free(stem);
    free(cps);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_cut_and_run_through_public_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
