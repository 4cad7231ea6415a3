/* The feature cache on cpu, whose prefix segments pass oneDNN's layouts from one to the
 * next and store plain NHWC copies, holds what the ref backend (plain floats throughout)
 * computes, at every requested chokepoint, including a short last batch. */
#include <stdlib.h>

#include "formats/model.h"
#include "testutil.h"
#include "train/features.h"

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"
#define IMAGES "images"

static void build(const ms_graph *base, const char *backend, const int *cps, int n_cps, ms_feature_cache *c)
{
    ms_dataset d = {0};
    ms_error err;
    assert_int_equal(ms_dataset_add_folder(&d, ms_test_data(IMAGES), true, &err), MS_OK);
    assert_int_equal(ms_dataset_split_images(&d, 1.0, 1, &err), MS_OK);
    ms_feature_options o = {.backend = backend, .threads = 1, .batch = 4, .seed = 1, .memory_limit = 1u << 30};
    ms_status st = ms_features_build(base, &d, cps, n_cps, &o, c, &err);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    ms_dataset_free(&d);
}

static void test_cpu_cache_matches_ref(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA(IMAGES);
    const char *path = ms_test_data(MODEL);
    ms_graph *base = NULL;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &base, &err), MS_OK);
    const int cps[3] = {3, 4, 9}; /* consecutive and distant cuts */
    ms_feature_cache cpu = {0}, ref = {0};
    build(base, "cpu", cps, 3, &cpu);
    build(base, "ref", cps, 3, &ref);
    assert_int_equal(cpu.n_rows, ref.n_rows);
    assert_true(cpu.n_rows % 4 != 0); /* a short last batch of the prefix */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(cpu.numel[k], ref.numel[k]);
        size_t n = (size_t)(cpu.n_rows * cpu.numel[k]);
        double e = ms_test_rel_l2(cpu.stores[k].data, ref.stores[k].data, n);
        print_message("chokepoint %d: rel L2 %.2g over %lld rows\n", cps[k], e, (long long)cpu.n_rows);
        assert_true(e < 1e-5);
    }
    ms_features_free(&cpu);
    ms_features_free(&ref);
    ms_graph_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_cache_matches_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
