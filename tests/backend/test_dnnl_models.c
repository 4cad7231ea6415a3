/* The oneDNN backend on a real network, MobileNetV1 0.25_128 (the smallest model, to keep
 * the suite fast): fp32 matches the reference backend, and int8 with the model's own
 * quantisation gives the same top-1 class as fp32 on the sample images and logits
 * close to fp32's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "formats/model.h"
#include "media/image.h"
#include "testutil.h"

extern const ms_backend ms_backend_ref;
extern const ms_backend ms_backend_dnnl;

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

static ms_graph *load(void)
{
    const char *path = ms_test_data(MODEL);
    ms_graph *g = NULL;
    ms_error err;
    ms_status st = ms_model_load(&path, 1, &g, &err);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    return g;
}

static float *run(const ms_backend *b, const ms_graph *g, ms_precision prec, int batch, int threads, const float *in)
{
    ms_plan_options o = {.batch = batch, .threads = threads, .precision = prec};
    ms_plan *p = NULL;
    ms_error err;
    ms_status st = ms_plan_compile(b, g, &o, &p, &err);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    float *out = malloc((size_t)(batch * p->out_numel) * sizeof *out);
    assert_non_null(out);
    assert_int_equal(ms_plan_run(p, in, out, &err), MS_OK);
    ms_plan_free(p);
    return out;
}

static void test_fp32_matches_ref(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *g = load();
    int64_t in_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    int64_t out_numel = ms_tensor_numel(&g->tensors[g->outputs[0]]);
    int batch = 3;
    float *in = malloc((size_t)(batch * in_numel) * sizeof *in);
    assert_non_null(in);
    uint32_t seed = 5;
    for (int64_t i = 0; i < batch * in_numel; i++) {
        seed = seed * 1664525u + 1013904223u;
        in[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
    float *ref = run(&ms_backend_ref, g, MS_PREC_FP32, batch, 1, in);
    for (int threads = 1; threads <= 2; threads++) {
        float *dn = run(&ms_backend_dnnl, g, MS_PREC_FP32, batch, threads, in);
        double e = ms_test_rel_l2(dn, ref, (size_t)(batch * out_numel));
        print_message("threads %d: rel L2 %.2g\n", threads, e);
        assert_true(e < 1e-5);
        free(dn);
    }
    free(ref);
    free(in);
    ms_graph_free(g);
}

static int argmax(const float *v, int64_t n)
{
    int best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = (int)i;
    return best;
}

static void test_int8_agrees_with_fp32(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    static const char *images[] = {"images/cat.bmp",       "images/grace_hopper.bmp",
                                   "images/bird.bmp",      "images/sunflower.bmp",
                                   "images/dragonfly.bmp", "images/missvickie_potato_chips.bmp",
                                   "images/parrot.jpg",    "images/hot_dog.jpg"};
    enum { N = sizeof images / sizeof *images };
    for (int i = 0; i < N; i++) MS_REQUIRE_DATA(images[i]);
    ms_graph *g = load();
    int64_t in_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    int64_t out_numel = ms_tensor_numel(&g->tensors[g->outputs[0]]);
    float *in = malloc((size_t)(N * in_numel) * sizeof *in);
    assert_non_null(in);
    ms_error err;
    for (int i = 0; i < N; i++)
        assert_int_equal(ms_image_load(ms_test_data(images[i]), &g->input_spec, MS_RESIZE_CENTER_CROP,
                                       in + i * in_numel, &err),
                         MS_OK);
    float *f32 = run(&ms_backend_dnnl, g, MS_PREC_FP32, N, 1, in);
    float *i8 = run(&ms_backend_dnnl, g, MS_PREC_INT8, N, 2, in);
    int agree = 0;
    for (int i = 0; i < N; i++) {
        int a = argmax(f32 + i * out_numel, out_numel), b = argmax(i8 + i * out_numel, out_numel);
        print_message("%s: fp32 %d (p %.3f), int8 %d (p %.3f)\n", images[i], a, f32[i * out_numel + a], b,
                      i8[i * out_numel + b]);
        agree += a == b;
    }
    double e = ms_test_rel_l2(i8, f32, (size_t)(N * out_numel));
    print_message("top-1 agreement %d/%d, rel L2 of probabilities %.3f\n", agree, N, e);
    assert_true(agree >= N - 1);
    assert_true(e > 1e-4 && e < 0.25);
    free(f32);
    free(i8);
    free(in);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp32_matches_ref),
        cmocka_unit_test(test_int8_agrees_with_fp32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
