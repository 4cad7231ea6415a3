/* Chained plans (ms_plan_options input_from / native_output): segments of one network
 * passing activations in the backend's own layout give what the whole network gives,
 * for any batch on either side of a boundary, on both backends and precisions; the
 * native outputs convert to the plain values; bad chains fail with a message. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/dnnl/dnnl_internal.h"
#include "formats/model.h"
#include "graph/cut.h"
#include "testutil.h"

extern const ms_backend ms_backend_ref;
extern const ms_backend ms_backend_dnnl;

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

enum { N_SEG = 3 };

static void fill(float *v, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
}

static ms_plan *compile(const ms_backend *b, const ms_graph *g, int batch, int threads, ms_precision prec,
                        const ms_plan *from, bool native)
{
    ms_plan_options o = {.batch = batch, .threads = threads, .precision = prec, .input_from = from,
                         .native_output = native};
    ms_plan *p = NULL;
    ms_error err;
    ms_status st = ms_plan_compile(b, g, &o, &p, &err);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    return p;
}

/* The whole graph's output for `batch` frames of in. */
static float *run_whole(const ms_backend *b, const ms_graph *g, int batch, int threads, ms_precision prec,
                        const float *in)
{
    ms_plan *p = compile(b, g, batch, threads, prec, NULL, false);
    float *out = malloc((size_t)(batch * p->out_numel) * sizeof *out);
    ms_error err;
    assert_non_null(out);
    assert_int_equal(ms_plan_run(p, in, out, &err), MS_OK);
    ms_plan_free(p);
    return out;
}

/* Two oneDNN layouts are the same once both are taken at one frame. */
static bool same_layout(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    dnnl_memory_desc_t a1, b1;
    dn_with_batch(a, 1, &a1);
    dn_with_batch(b, 1, &b1);
    return dnnl_memory_desc_equal(&a1, &b1);
}

/* A oneDNN consumer reads its producer's native layout as it is: its input descriptor is
 * the producer's output descriptor, whichever layout oneDNN chose on this machine. */
static void check_reads_native(const ms_plan *producer, const ms_plan *consumer)
{
    assert_true(producer->native_out);
    assert_true(consumer->native_in);
    assert_int_equal(consumer->in_bytes, producer->out_bytes);
    assert_true(same_layout(&((const dn_plan *)consumer)->in_md, &((const dn_plan *)producer)->out_md));
}

/* Runs segs chained native (the last one plain) on `batch` frames and checks the result
 * against want; also checks each native boundary against the plain segment's output. */
static void check_chain(const ms_backend *b, ms_graph *const *segs, int batch, int threads, ms_precision prec,
                        const float *in, const float *want)
{
    ms_plan *p[N_SEG] = {0};
    void *buf[N_SEG] = {0};
    ms_error err;
    const void *x = in;
    for (int i = 0; i < N_SEG; i++) {
        p[i] = compile(b, segs[i], batch, threads, prec, i ? p[i - 1] : NULL, i + 1 < N_SEG);
        assert_int_equal(p[i]->native_in, i > 0 && b == &ms_backend_dnnl);
        if (i) assert_int_equal(p[i]->in_bytes, p[i - 1]->out_bytes);
        if (i && b == &ms_backend_dnnl) check_reads_native(p[i - 1], p[i]);
        buf[i] = malloc((size_t)(batch * p[i]->out_bytes));
        assert_non_null(buf[i]);
        assert_int_equal(ms_plan_run(p[i], x, buf[i], &err), MS_OK);
        x = buf[i];
    }
    int64_t n = batch * p[N_SEG - 1]->out_numel;
    double e = ms_test_rel_l2(buf[N_SEG - 1], want, (size_t)n);
    print_message("%s %s batch %d threads %d: rel L2 %.2g\n", b->name, prec == MS_PREC_INT8 ? "int8" : "fp32", batch,
                  threads, e);
    assert_true(e < 1e-5);
    /* The first boundary's native bytes are the plain segment's values. */
    ms_plan *plain = compile(b, segs[0], batch, threads, prec, NULL, false);
    float *a = malloc((size_t)(batch * plain->out_numel) * sizeof *a);
    float *c = malloc((size_t)(batch * plain->out_numel) * sizeof *c);
    assert_non_null(a);
    assert_non_null(c);
    assert_int_equal(ms_plan_run(plain, in, a, &err), MS_OK);
    assert_int_equal(ms_plan_output_to_plain(p[0], buf[0], batch, c, &err), MS_OK);
    assert_true(ms_test_rel_l2(c, a, (size_t)(batch * plain->out_numel)) < 1e-6);
    free(a);
    free(c);
    ms_plan_free(plain);
    for (int i = 0; i < N_SEG; i++) {
        ms_plan_free(p[i]);
        free(buf[i]);
    }
}

/* A producer of batch 3 feeding consumers of batch 1, one frame's bytes at a time (as
 * the runner gathers frames), and a consumer of batch 2 on frames 2 and 0 gathered. */
static void check_regather(const ms_backend *b, ms_graph *const *segs, int threads, ms_precision prec,
                           const float *in, const float *want, int64_t out_numel)
{
    ms_error err;
    ms_plan *p0 = compile(b, segs[0], 3, threads, prec, NULL, true);
    ms_plan *p1 = compile(b, segs[1], 1, threads, prec, p0, true);
    ms_plan *p2 = compile(b, segs[2], 1, threads, prec, p1, false);
    ms_plan *q1 = compile(b, segs[1], 2, threads, prec, p0, true);
    ms_plan *q2 = compile(b, segs[2], 2, threads, prec, q1, false);
    /* q1 may or may not pick p1's layout (oneDNN chooses per batch size and ISA): each
     * writes into a buffer of its own size, and the consumers read their own. */
    unsigned char *b0 = malloc((size_t)(3 * p0->out_bytes)), *b1 = malloc((size_t)p1->out_bytes);
    unsigned char *g0 = malloc((size_t)(2 * p0->out_bytes)), *c1 = malloc((size_t)(2 * q1->out_bytes));
    float *y = malloc((size_t)(2 * out_numel) * sizeof *y);
    assert_true(b0 && b1 && g0 && c1 && y);
    assert_int_equal(ms_plan_run(p0, in, b0, &err), MS_OK);
    for (int f = 0; f < 3; f++) {
        assert_int_equal(ms_plan_run(p1, b0 + f * p0->out_bytes, b1, &err), MS_OK);
        assert_int_equal(ms_plan_run(p2, b1, y, &err), MS_OK);
        assert_true(ms_test_rel_l2(y, want + f * out_numel, (size_t)out_numel) < 1e-5);
    }
    memcpy(g0, b0 + 2 * p0->out_bytes, (size_t)p0->out_bytes);
    memcpy(g0 + p0->out_bytes, b0, (size_t)p0->out_bytes);
    assert_int_equal(ms_plan_run(q1, g0, c1, &err), MS_OK);
    assert_int_equal(ms_plan_run(q2, c1, y, &err), MS_OK);
    assert_true(ms_test_rel_l2(y, want + 2 * out_numel, (size_t)out_numel) < 1e-5);
    assert_true(ms_test_rel_l2(y + out_numel, want, (size_t)out_numel) < 1e-5);
    /* Converting fewer frames than the batch: frame 0 of the batch-3 boundary. */
    ms_plan *plain = compile(b, segs[0], 3, threads, prec, NULL, false);
    float *a = malloc((size_t)(3 * plain->out_numel) * sizeof *a), *c = malloc((size_t)plain->out_numel * sizeof *c);
    assert_true(a && c);
    assert_int_equal(ms_plan_run(plain, in, a, &err), MS_OK);
    assert_int_equal(ms_plan_output_to_plain(p0, b0, 1, c, &err), MS_OK);
    assert_true(ms_test_rel_l2(c, a, (size_t)plain->out_numel) < 1e-6);
    free(a);
    free(c);
    ms_plan_free(plain);
    free(b0);
    free(b1);
    free(g0);
    free(c1);
    free(y);
    ms_plan_free(p0);
    ms_plan_free(p1);
    ms_plan_free(p2);
    ms_plan_free(q1);
    ms_plan_free(q2);
}

/* Every combination of batch, threads and precision for one backend and graph cut into
 * N_SEG segments (the ref backend runs one thread whatever it is given). */
static void check_all(const ms_backend *b, const ms_graph *g, ms_graph *const *segs, bool int8)
{
    int64_t in_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    int64_t out_numel = ms_tensor_numel(&g->tensors[g->outputs[0]]);
    float *in = malloc((size_t)(3 * in_numel) * sizeof *in);
    assert_non_null(in);
    fill(in, (size_t)(3 * in_numel), 11);
    for (int pi = 0; pi < (int8 ? 2 : 1); pi++) {
        ms_precision prec = pi ? MS_PREC_INT8 : MS_PREC_FP32;
        for (int threads = 1; threads <= (b == &ms_backend_ref ? 1 : 2); threads++) {
            float *want = run_whole(b, g, 3, threads, prec, in);
            check_chain(b, segs, 3, threads, prec, in, want);
            check_chain(b, segs, 1, threads, prec, in, want);
            if (threads == 1) check_regather(b, segs, threads, prec, in, want, out_numel);
            free(want);
        }
    }
    free(in);
}

static void cut(const ms_graph *g, const int *ends, ms_graph **segs)
{
    ms_error err;
    for (int i = 0; i < N_SEG; i++) {
        ms_status st = ms_graph_segment(g, ends[i], ends[i + 1], &segs[i], &err);
        if (st) print_message("%s\n", err.msg);
        assert_int_equal(st, MS_OK);
    }
}

static ms_graph *load_model(ms_graph **segs)
{
    const char *path = ms_test_data(MODEL);
    ms_graph *g = NULL;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &g, &err), MS_OK);
    ms_chokepoint *cps = NULL;
    int n = 0;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    assert_true(n >= 4);
    int ends[N_SEG + 1] = {0, cps[n / 3].node_end, cps[2 * n / 3].node_end, g->n_nodes};
    free(cps);
    cut(g, ends, segs);
    return g;
}

static void free_segs(ms_graph **segs)
{
    for (int i = 0; i < N_SEG; i++) ms_graph_free(segs[i]);
}

static void test_model_dnnl(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *segs[N_SEG];
    ms_graph *g = load_model(segs);
    check_all(&ms_backend_dnnl, g, segs, true);
    free_segs(segs);
    ms_graph_free(g);
}

static void test_model_ref(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *segs[N_SEG];
    ms_graph *g = load_model(segs);
    check_all(&ms_backend_ref, g, segs, false);
    free_segs(segs);
    ms_graph_free(g);
}

/* x [1, 7, 7, 3] -> conv 3x3 to 5 channels, ReLU -> conv 1x1 stride 2 to 12 -> depthwise
 * 3x3: channel counts that oneDNN's 8-blocked layouts pad. */
/* An int8 stem's u8 output read by a float network whose input is not quantised (an
 * app's trained head): the consumer dequantises it with the producer's parameters, so it
 * gets what it gets from the producer's plain output. */
static void test_u8_into_unquantised(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    ms_graph *segs[N_SEG];
    ms_graph *g = load_model(segs);
    ms_tensor *x = &segs[1]->tensors[segs[1]->inputs[0]];
    assert_int_equal(x->quant.n, 1);
    x->quant.n = 0;
    int64_t in_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    float *in = malloc((size_t)(2 * in_numel) * sizeof *in);
    assert_non_null(in);
    fill(in, (size_t)(2 * in_numel), 3);
    ms_plan *plain0 = compile(&ms_backend_dnnl, segs[0], 2, 1, MS_PREC_INT8, NULL, false);
    ms_plan *plain1 = compile(&ms_backend_dnnl, segs[1], 2, 1, MS_PREC_FP32, NULL, false);
    ms_plan *p0 = compile(&ms_backend_dnnl, segs[0], 2, 1, MS_PREC_INT8, NULL, true);
    ms_plan *p1 = compile(&ms_backend_dnnl, segs[1], 2, 1, MS_PREC_FP32, p0, false);
    /* u8 at the boundary, in whatever layout oneDNN chose, read as it is. */
    assert_int_equal(((dn_plan *)p0)->out_md.data_type, dnnl_u8);
    check_reads_native(p0, p1);
    float *mid = malloc((size_t)(2 * plain0->out_numel) * sizeof *mid);
    float *want = malloc((size_t)(2 * plain1->out_numel) * sizeof *want);
    float *got = malloc((size_t)(2 * plain1->out_numel) * sizeof *got);
    unsigned char *nat = malloc((size_t)(2 * p0->out_bytes));
    assert_true(mid && want && got && nat);
    ms_error err;
    assert_int_equal(ms_plan_run(plain0, in, mid, &err), MS_OK);
    assert_int_equal(ms_plan_run(plain1, mid, want, &err), MS_OK);
    assert_int_equal(ms_plan_run(p0, in, nat, &err), MS_OK);
    assert_int_equal(ms_plan_run(p1, nat, got, &err), MS_OK);
    double e = ms_test_rel_l2(got, want, (size_t)(2 * plain1->out_numel));
    print_message("u8 into an unquantised input: rel L2 %.2g\n", e);
    assert_true(e < 1e-5);
    free(in);
    free(mid);
    free(want);
    free(got);
    free(nat);
    ms_plan_free(plain0);
    ms_plan_free(plain1);
    ms_plan_free(p0);
    ms_plan_free(p1);
    free_segs(segs);
    ms_graph_free(g);
}

static ms_graph *small_graph(void)
{
    ms_graph *g = ms_graph_new();
    assert_non_null(g);
    int64_t xs[4] = {1, 7, 7, 3};
    int x = ms_test_tensor(g, "x", 4, xs);
    const int64_t ws[3][4] = {{5, 3, 3, 3}, {12, 1, 1, 5}, {12, 3, 3, 1}};
    int t = x;
    for (int i = 0; i < 3; i++) {
        float w[5 * 3 * 3 * 3], bias[12];
        fill(w, (size_t)(ws[i][0] * ws[i][1] * ws[i][2] * ws[i][3]), 100u + (uint32_t)i);
        fill(bias, 12, 200u + (uint32_t)i);
        int64_t bs[1] = {ws[i][0]};
        int in[3] = {t, ms_test_constant(g, "w", 4, ws[i], w), ms_test_constant(g, "b", 1, bs, bias)};
        int y = ms_test_tensor(g, "y", 0, NULL);
        ms_node *n = ms_test_node(g, MS_OP_CONV2D, "conv", in, 3, y);
        n->padding = MS_PAD_SAME;
        n->stride_h = n->stride_w = i == 1 ? 2 : 1;
        n->groups = i == 2 ? 12 : 1;
        if (i == 0) n->act_min = 0.0f;
        t = y;
    }
    ms_test_set_io(g, x, t);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    return g;
}

static void test_small_graph(void **state)
{
    (void)state;
    ms_graph *g = small_graph(), *segs[N_SEG];
    int ends[N_SEG + 1] = {0, 1, 2, 3};
    cut(g, ends, segs);
    /* oneDNN chooses the layout of 5 channels by ISA (blocked by 8 or 16 and padded on
     * AVX2, plain on some AVX-512 machines): whichever it is, the consumer must read it as
     * it is, and the native bytes must convert back to the plain values (check_chain). */
    ms_plan *p = compile(&ms_backend_dnnl, segs[0], 1, 1, MS_PREC_FP32, NULL, true);
    ms_plan *q = compile(&ms_backend_dnnl, segs[1], 1, 1, MS_PREC_FP32, p, true);
    dnnl_memory_desc_t plain;
    assert_int_equal(dnnl_memory_desc_init_by_tag(&plain, 4, ((dn_plan *)p)->out_md.dims, dnnl_f32, dnnl_nhwc),
                     dnnl_success);
    bool blocked = !same_layout(&((dn_plan *)p)->out_md, &plain);
    print_message("5 channels, 7x7: %lld native bytes per frame, %s layout\n", (long long)p->out_bytes,
                  blocked ? "a blocked" : "the plain NHWC");
    assert_true(blocked || p->out_bytes == p->out_numel * (int64_t)sizeof(float));
    check_reads_native(p, q);
    ms_plan_free(q);
    ms_plan_free(p);
    check_all(&ms_backend_dnnl, g, segs, false);
    check_all(&ms_backend_ref, g, segs, false);
    free_segs(segs);
    ms_graph_free(g);
}

static void test_errors(void **state)
{
    (void)state;
    ms_graph *g = small_graph(), *segs[N_SEG];
    int ends[N_SEG + 1] = {0, 1, 2, 3};
    cut(g, ends, segs);
    ms_plan *ref = compile(&ms_backend_ref, segs[0], 1, 1, MS_PREC_FP32, NULL, true);
    ms_plan *dn = compile(&ms_backend_dnnl, segs[0], 1, 1, MS_PREC_FP32, NULL, true);
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32, .input_from = ref};
    ms_plan *p = NULL;
    ms_error err;
    /* Mixing backends. */
    assert_int_equal(ms_plan_compile(&ms_backend_dnnl, segs[1], &o, &p, &err), MS_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err.msg, "'ref' plan on backend 'cpu'"));
    o.input_from = dn;
    assert_int_equal(ms_plan_compile(&ms_backend_ref, segs[1], &o, &p, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'cpu' plan on backend 'ref'"));
    /* Reading a tensor of another size: segment 2 (12 channels) after segment 0 (5). */
    assert_int_equal(ms_plan_compile(&ms_backend_dnnl, segs[2], &o, &p, &err), MS_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err.msg, "values per frame"));
    /* The same size in another shape: a [1, 5, 7, 7] input reading [1, 7, 7, 5]. */
    ms_graph *h = ms_graph_new();
    assert_non_null(h);
    int64_t s[4] = {1, 5, 7, 7};
    int x = ms_test_tensor(h, "x", 4, s), y = ms_test_tensor(h, "y", 4, s);
    ms_test_node(h, MS_OP_CLIP, "clip", &x, 1, y)->act_min = 0.0f;
    ms_test_set_io(h, x, y);
    assert_int_equal(ms_plan_compile(&ms_backend_dnnl, h, &o, &p, &err), MS_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err.msg, "shape"));
    ms_graph_free(h);
    ms_plan_free(ref);
    ms_plan_free(dn);
    free_segs(segs);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_graph),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_model_dnnl),
        cmocka_unit_test(test_model_ref),
        cmocka_unit_test(test_u8_into_unquantised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
