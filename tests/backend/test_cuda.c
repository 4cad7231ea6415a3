/* The cuda backend against the reference backend, op by op and on small networks
 * (random weights and inputs, batch 1 and 3, fp32 within rel L2 1e-5 and fp16 within
 * 2e-3, steps one by one and as a CUDA graph), chained plans, and whole MobileNets.
 * Every test skips, saying why, where the backend is not built or no GPU is present. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "formats/model.h"
#include "graph/cut.h"
#include "run/exec.h"
#include "op_cases.h"
#include "testutil.h"

extern const ms_backend ms_backend_ref;

/* Skips the test, saying why, unless the cuda backend is built, loads and finds a GPU;
 * a skipped test's graph (owned, may be NULL) is freed first. */
static const ms_backend *cuda_or_skip_freeing(ms_graph *owned)
{
    const ms_backend *b = ms_backend_find("cuda");
    if (!b) {
        print_message("skipped: the cuda backend (libmainstream_cuda.so) is not built or cannot be loaded\n");
        ms_graph_free(owned);
        skip();
    }
    int x;
    ms_graph *g = graph_nhwc(2, 2, 1, &x);
    int y = act(g, "y", 0, NULL);
    node(g, MS_OP_SIGMOID, &x, 1, y);
    set_output(g, y);
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *p = NULL;
    ms_error err;
    ms_status st = ms_plan_compile(b, g, &o, &p, &err);
    ms_graph_free(g);
    ms_plan_free(p);
    if (st == MS_ERR_UNSUPPORTED && strstr(err.msg, "no CUDA device")) {
        print_message("skipped: %s\n", err.msg);
        ms_graph_free(owned);
        skip();
    }
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    return b;
}

static const ms_backend *cuda_or_skip(void) { return cuda_or_skip_freeing(NULL); }

/* Runs g on ref and on cuda (fp32 within 1e-5, fp16 within 2e-3), batch 1 and 3, steps
 * launched one by one with convolutions on cuDNN, and captured into a CUDA graph with
 * the own depthwise kernel and 1x1 products where they apply; twice per plan, the
 * output poisoned before each run. */
static void check(ms_graph *g)
{
    const ms_backend *cuda = cuda_or_skip_freeing(g);
    ms_error err;
    ms_status is = ms_graph_infer_shapes(g, &err);
    if (is) print_message("%s\n", err.msg);
    assert_int_equal(is, MS_OK);
    static const int batches[2] = {1, 3};
    static const ms_precision precs[2] = {MS_PREC_FP32, MS_PREC_FP16};
    static const double tols[2] = {1e-5, 2e-3};
    for (int bi = 0; bi < 2; bi++) {
        ms_plan_options o = {.batch = batches[bi], .threads = 1, .precision = MS_PREC_FP32};
        ms_plan *ref = NULL;
        ms_status rs = ms_plan_compile(&ms_backend_ref, g, &o, &ref, &err);
        if (rs) print_message("ref: %s\n", err.msg);
        assert_int_equal(rs, MS_OK);
        size_t ni = (size_t)(o.batch * ref->in_numel), no = (size_t)(o.batch * ref->out_numel);
        float *in = malloc(ni * sizeof *in), *a = malloc(no * sizeof *a), *b = malloc(no * sizeof *b);
        assert_true(in && a && b);
        for (size_t i = 0; i < ni; i++) in[i] = frand();
        assert_int_equal(ms_plan_run(ref, in, a, &err), MS_OK);
        for (int pi = 0; pi < 2; pi++)
            for (int graphs = 0; graphs < 2; graphs++) {
                setenv("MS_CUDA_GRAPHS", graphs ? "1" : "0", 1);
                setenv("MS_CUDA_CONV", graphs ? "own" : "cudnn", 1); /* both ways of a convolution */
                o.precision = precs[pi];
                ms_plan *cu = NULL;
                ms_status st = ms_plan_compile(cuda, g, &o, &cu, &err);
                if (st) print_message("%s\n", err.msg);
                assert_int_equal(st, MS_OK);
                assert_int_equal(cu->in_numel, ref->in_numel);
                assert_int_equal(cu->out_numel, ref->out_numel);
                for (int rep = 0; rep < 2; rep++) {
                    for (size_t i = 0; i < no; i++) b[i] = NAN;
                    st = ms_plan_run(cu, in, b, &err);
                    if (st) print_message("%s\n", err.msg);
                    assert_int_equal(st, MS_OK);
                    double e = ms_test_rel_l2(b, a, no);
                    if (!(e < tols[pi]) || rep == 0)
                        print_message("%s batch %d %s graphs %d: rel L2 %.3g\n", g->nodes[0].name, o.batch,
                                      pi ? "fp16" : "fp32", graphs, e);
                    assert_true(e < tols[pi]);
                }
                ms_plan_free(cu);
            }
        unsetenv("MS_CUDA_GRAPHS");
        unsetenv("MS_CUDA_CONV");
        free(in);
        free(a);
        free(b);
        ms_plan_free(ref);
    }
    ms_graph_free(g);
}
/* At batch 256 a plan with plain ends is 4 pipelined sub-plans (input copies overlap
 * compute): the same values as ref, on every run, fp32 and fp16. */
static void test_pipelined_batch(void **state)
{
    (void)state;
    const ms_backend *cuda = cuda_or_skip();
    ms_graph *g = small_net();
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    int batch = 256;
    ms_plan_options o = {.batch = batch, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *ref = NULL;
    assert_int_equal(ms_plan_compile(&ms_backend_ref, g, &o, &ref, &err), MS_OK);
    size_t ni = (size_t)(batch * ref->in_numel), no = (size_t)(batch * ref->out_numel);
    float *in = malloc(ni * sizeof *in), *a = malloc(no * sizeof *a), *b = malloc(no * sizeof *b);
    assert_true(in && a && b);
    for (size_t i = 0; i < ni; i++) in[i] = frand();
    assert_int_equal(ms_plan_run(ref, in, a, &err), MS_OK);
    for (int pi = 0; pi < 2; pi++) {
        o.precision = pi ? MS_PREC_FP16 : MS_PREC_FP32;
        ms_plan *cu = NULL;
        ms_status st = ms_plan_compile(cuda, g, &o, &cu, &err);
        if (st) print_message("%s\n", err.msg);
        assert_int_equal(st, MS_OK);
        for (int rep = 0; rep < 3; rep++) {
            for (size_t i = 0; i < no; i++) b[i] = NAN;
            assert_int_equal(ms_plan_run(cu, in, b, &err), MS_OK);
            double e = ms_test_rel_l2(b, a, no);
            if (rep == 0) print_message("pipelined batch 256 %s: rel L2 %.3g\n", pi ? "fp16" : "fp32", e);
            assert_true(e < (pi ? 2e-3 : 1e-5));
        }
        ms_plan_free(cu);
    }
    free(in);
    free(a);
    free(b);
    ms_plan_free(ref);
    ms_graph_free(g);
}

/* ---- chained plans ---- */

static ms_plan *compile(const ms_backend *b, const ms_graph *g, int batch, ms_precision prec, const ms_plan *from,
                        bool native)
{
    ms_plan_options o = {.batch = batch, .threads = 1, .precision = prec, .input_from = from, .native_output = native};
    ms_plan *p = NULL;
    ms_error err;
    ms_status st = ms_plan_compile(b, g, &o, &p, &err);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    return p;
}

static float *run_plain(const ms_backend *b, const ms_graph *g, int batch, ms_precision prec, const float *in)
{
    ms_plan *p = compile(b, g, batch, prec, NULL, false);
    float *out = malloc((size_t)(batch * p->out_numel) * sizeof *out);
    assert_non_null(out);
    ms_error err;
    assert_int_equal(ms_plan_run(p, in, out, &err), MS_OK);
    ms_plan_free(p);
    return out;
}

static float *random_input(const ms_graph *g, int batch)
{
    size_t n = (size_t)(batch * ms_tensor_numel(&g->tensors[g->inputs[0]]));
    float *in = malloc(n * sizeof *in);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++) in[i] = frand();
    return in;
}

/* The segments between the chosen chokepoints (indices into the graph's list; the last
 * segment runs to the graph's output). */
static int cut(const ms_graph *g, const int *pick, int n_pick, ms_graph **segs)
{
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_error err;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    int ends[16], k = 0;
    for (int i = 0; i < n_pick; i++) {
        int c = pick[i] < 0 ? n + pick[i] : pick[i];
        assert_true(c >= 0 && c < n);
        ends[k++] = cps[c].node_end;
    }
    ends[k++] = g->n_nodes;
    free(cps);
    for (int i = 0; i + 1 < k; i++) {
        ms_status st = ms_graph_segment(g, ends[i], ends[i + 1], &segs[i], &err);
        if (st) print_message("%s\n", err.msg);
        assert_int_equal(st, MS_OK);
    }
    return k - 1;
}

/* Runs segs as a chain (native device buffers between them, plain at the ends) at
 * precision prec for every segment but those listed as fp32 in mixed (a bit mask). */
static float *run_chain(const ms_backend *b, ms_graph *const *segs, int n, int batch, ms_precision prec,
                        unsigned fp32_mask, const float *in)
{
    ms_plan *plans[16];
    void *bufs[16] = {0};
    ms_error err;
    for (int i = 0; i < n; i++) {
        ms_precision pr = (fp32_mask >> i) & 1u ? MS_PREC_FP32 : prec;
        plans[i] = compile(b, segs[i], batch, pr, i ? plans[i - 1] : NULL, i + 1 < n);
        assert_int_equal(plans[i]->native_in, i > 0);
        if (i + 1 < n)
            assert_int_equal(ms_backend_buffer_new(b, (size_t)(batch * plans[i]->out_bytes), &bufs[i], &err), MS_OK);
    }
    float *out = malloc((size_t)(batch * plans[n - 1]->out_numel) * sizeof *out);
    assert_non_null(out);
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < n; i++) {
            ms_status st = ms_plan_run(plans[i], i ? bufs[i - 1] : in, i + 1 < n ? bufs[i] : (void *)out, &err);
            if (st) print_message("%s\n", err.msg);
            assert_int_equal(st, MS_OK);
        }
    for (int i = 0; i < n; i++) {
        ms_plan_free(plans[i]);
        if (bufs[i]) ms_backend_buffer_free(b, bufs[i]);
    }
    return out;
}

/* A batch-3 producer's native output, converted to plain and read frame by frame by
 * batch-1 consumers (frames gathered by bytes on the device). */
static void check_regather(const ms_backend *b, ms_graph *const *segs, ms_precision prec, const float *in,
                           const float *ref0, const float *ref1, double tol)
{
    ms_error err;
    ms_plan *p0 = compile(b, segs[0], 3, prec, NULL, true);
    ms_plan *p1 = compile(b, segs[1], 1, prec, p0, false);
    void *mid = NULL, *one = NULL;
    assert_int_equal(ms_backend_buffer_new(b, (size_t)(3 * p0->out_bytes), &mid, &err), MS_OK);
    assert_int_equal(ms_backend_buffer_new(b, (size_t)p0->out_bytes, &one, &err), MS_OK);
    assert_int_equal(ms_plan_run(p0, in, mid, &err), MS_OK);
    float *plain0 = malloc((size_t)(3 * p0->out_numel) * sizeof *plain0);
    float *out = malloc((size_t)(3 * p1->out_numel) * sizeof *out);
    assert_true(plain0 && out);
    assert_int_equal(ms_plan_output_to_plain(p0, mid, 3, plain0, &err), MS_OK);
    double e0 = ms_test_rel_l2(plain0, ref0, (size_t)(3 * p0->out_numel));
    for (int j = 2; j >= 0; j--) { /* out of order, through a buffer of one frame */
        assert_int_equal(ms_backend_buffer_copy(b, one, (char *)mid + j * p0->out_bytes, (size_t)p0->out_bytes, &err),
                         MS_OK);
        assert_int_equal(ms_plan_run(p1, one, out + j * p1->out_numel, &err), MS_OK);
    }
    double e1 = ms_test_rel_l2(out, ref1, (size_t)(3 * p1->out_numel));
    print_message("regather %s: first segment rel L2 %.3g, second %.3g\n", prec == MS_PREC_FP16 ? "fp16" : "fp32", e0,
                  e1);
    assert_true(e0 < tol && e1 < tol);
    free(plain0);
    free(out);
    ms_backend_buffer_free(b, mid);
    ms_backend_buffer_free(b, one);
    ms_plan_free(p0);
    ms_plan_free(p1);
}

/* Chains of segments against ref's whole graph: fp32, fp16, fp16 with an fp32 last
 * segment (a float head on a half stem), and regathered frames. */
static void check_chains(ms_graph *g, const int *pick, int n_pick, int batch, double tol16)
{
    const ms_backend *cuda = cuda_or_skip_freeing(g);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_graph *segs[16];
    int n = cut(g, pick, n_pick, segs);
    assert_true(n >= 2);
    float *in = random_input(g, batch);
    float *ref = run_plain(&ms_backend_ref, g, batch, MS_PREC_FP32, in);
    size_t no = (size_t)(batch * ms_tensor_numel(&g->tensors[g->outputs[0]]));
    float *a = run_chain(cuda, segs, n, batch, MS_PREC_FP32, 0, in);
    float *h = run_chain(cuda, segs, n, batch, MS_PREC_FP16, 0, in);
    float *m = run_chain(cuda, segs, n, batch, MS_PREC_FP16, 1u << (n - 1), in);
    double ea = ms_test_rel_l2(a, ref, no), eh = ms_test_rel_l2(h, ref, no), em = ms_test_rel_l2(m, ref, no);
    print_message("%s: %d segments, batch %d: fp32 chain rel L2 %.3g, fp16 %.3g, fp16 with fp32 last %.3g\n",
                  g->source ? g->source : "graph", n, batch, ea, eh, em);
    assert_true(ea < 1e-5);
    assert_true(eh < tol16 && em < tol16);
    free(a);
    free(h);
    free(m);
    /* regather over the first cut: segment 0 alone, and the rest joined */
    int second[2] = {pick[0], pick[1]};
    ms_graph *two[2];
    cut(g, second, 2, two);
    ms_graph_free(two[1]);
    ms_chokepoint *cps = NULL;
    int nc = 0;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &nc, &err), MS_OK);
    int c1 = pick[1] < 0 ? nc + pick[1] : pick[1];
    assert_int_equal(ms_graph_segment(g, cps[c1].node_end, g->n_nodes, &two[1], &err), MS_OK);
    free(cps);
    float *in3 = random_input(g, 3);
    float *ref0 = run_plain(&ms_backend_ref, two[0], 3, MS_PREC_FP32, in3);
    float *ref1 = run_plain(&ms_backend_ref, g, 3, MS_PREC_FP32, in3);
    check_regather(cuda, two, MS_PREC_FP32, in3, ref0, ref1, 1e-5);
    check_regather(cuda, two, MS_PREC_FP16, in3, ref0, ref1, tol16);
    free(in3);
    free(ref0);
    free(ref1);
    ms_graph_free(two[0]);
    ms_graph_free(two[1]);
    for (int i = 0; i < n; i++) ms_graph_free(segs[i]);
    free(in);
    free(ref);
    ms_graph_free(g);
}

static void test_chain_small_network(void **state)
{
    (void)state;
    static const int pick[3] = {0, 1, -1};
    check_chains(small_net(), pick, 3, 2, 2e-3);
}

/* ---- whole networks ---- */

#define V1_EXTRACTOR "models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
#define V1_HEAD "models/mobilenet_v1_1.0_224_quant_head_layers.tflite"
#define V2 "models/mobilenet_v2_1.0_224_quant.tflite"

static ms_graph *load(const char *const *files, int n)
{
    const char *paths[2];
    for (int i = 0; i < n; i++) paths[i] = strdup(ms_test_data(files[i]));
    ms_graph *g = NULL;
    ms_error err;
    ms_status st = ms_model_load(paths, n, &g, &err);
    for (int i = 0; i < n; i++) free((void *)paths[i]);
    if (st) print_message("%s\n", err.msg);
    assert_int_equal(st, MS_OK);
    return g;
}

/* The whole network at batch 2 against ref: fp32 within 1e-5; fp16 (28-53 layers of
 * float16 activations, softmax probabilities) within tol16; then chained at three
 * chokepoints. */
static void check_model(const char *const *files, int n, double tol16)
{
    for (int i = 0; i < n; i++) MS_REQUIRE_DATA(files[i]);
    const ms_backend *cuda = cuda_or_skip();
    ms_graph *g = load(files, n);
    int batch = 2;
    float *in = random_input(g, batch);
    float *ref = run_plain(&ms_backend_ref, g, batch, MS_PREC_FP32, in);
    size_t no = (size_t)(batch * ms_tensor_numel(&g->tensors[g->outputs[0]]));
    float *a = run_plain(cuda, g, batch, MS_PREC_FP32, in);
    float *h = run_plain(cuda, g, batch, MS_PREC_FP16, in);
    double ea = ms_test_rel_l2(a, ref, no), eh = ms_test_rel_l2(h, ref, no);
    print_message("%s: fp32 rel L2 %.3g, fp16 %.3g\n", g->source, ea, eh);
    assert_true(ea < 1e-5);
    assert_true(eh < tol16);
    free(a);
    free(h);
    free(in);
    free(ref);
    static const int pick[4] = {0, 3, 9, -1};
    check_chains(g, pick, 4, batch, tol16);
}

static void test_mobilenet_v1(void **state)
{
    (void)state;
    static const char *const files[2] = {V1_EXTRACTOR, V1_HEAD};
    check_model(files, 2, 2e-2);
}

static void test_mobilenet_v2(void **state)
{
    (void)state;
    static const char *const files[1] = {V2};
    check_model(files, 1, 2e-2);
}

/* ---- the stem tree on the GPU ---- */

#define V1_025 "models/mobilenet_v1_0.25_128_quant.tflite"
enum { TREE_FRAMES = 6, TREE_APPS = 3 };

/* An app's branch over a chokepoint tensor [1, H, W, C]: global average pool, a
 * fully connected layer to one logit, sigmoid (random weights). */
static ms_graph *branch(const ms_tensor *at)
{
    int x;
    ms_graph *g = graph_nhwc((int)at->shape[1], (int)at->shape[2], (int)at->shape[3], &x);
    int p = act(g, "pool", 0, NULL);
    node(g, MS_OP_GLOBAL_AVG_POOL, &x, 1, p);
    int64_t ws[2] = {1, at->shape[3]}, bs[1] = {1};
    int in[3] = {p, cst(g, "w", 2, ws, 2.0f, 0.0f), cst(g, "b", 1, bs, 0.5f, 0.0f)};
    int f = act(g, "logit", 0, NULL);
    node(g, MS_OP_FULLY_CONNECTED, in, 3, f);
    int s = act(g, "p", 0, NULL);
    node(g, MS_OP_SIGMOID, &f, 1, s);
    set_output(g, s);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    return g;
}

typedef struct {
    int n[TREE_APPS];
    int64_t frame[TREE_APPS][TREE_FRAMES];
    float score[TREE_APPS][TREE_FRAMES];
} tree_scores;

static void collect(void *ctx, int app, int64_t frame, double seconds, float score)
{
    (void)seconds;
    tree_scores *s = ctx;
    assert_true(app >= 0 && app < TREE_APPS && s->n[app] < TREE_FRAMES);
    s->frame[app][s->n[app]] = frame;
    s->score[app][s->n[app]++] = score;
}

/* A stem of two segments ([0, cp4), [cp4, cp8)) with three apps (at cp4 sampling half
 * the frames, two at cp8), run over 6 frames in chunks of 4 on cuda: every app's score
 * equals its own network (prefix + branch) on ref within 1e-4, segments hand device
 * memory to their children. */
static void test_stem_tree(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(V1_025);
    const ms_backend *cuda = cuda_or_skip();
    const char *path = ms_test_data(V1_025);
    ms_graph *g = NULL;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &g, &err), MS_OK);
    ms_chokepoint *cps = NULL;
    int n_cps = 0;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n_cps, &err), MS_OK);
    assert_true(n_cps > 8);
    ms_graph *seg[2], *br[TREE_APPS], *prefix[2];
    assert_int_equal(ms_graph_segment(g, 0, cps[4].node_end, &seg[0], &err), MS_OK);
    assert_int_equal(ms_graph_segment(g, cps[4].node_end, cps[8].node_end, &seg[1], &err), MS_OK);
    assert_int_equal(ms_graph_segment(g, 0, cps[8].node_end, &prefix[1], &err), MS_OK);
    prefix[0] = seg[0];
    static const int app_at[TREE_APPS] = {0, 1, 1};
    static const double app_fps[TREE_APPS] = {5, 10, 10};
    for (int a = 0; a < TREE_APPS; a++)
        br[a] = branch(&g->tensors[cps[app_at[a] ? 8 : 4].tensor]);
    ms_plan_options o = {.batch = 4, .threads = 1, .precision = MS_PREC_FP32};
    int64_t frame_numel = ms_tensor_numel(&g->tensors[g->inputs[0]]);
    ms_exec_tree t;
    ms_exec_init(&t, cuda, &o, 10.0, frame_numel);
    int idx[2 + TREE_APPS];
    assert_int_equal(ms_exec_add(&t, MS_EXEC_SEGMENT, -1, 0, 4, -1, 10, 1, seg[0], &idx[0], &err), MS_OK);
    assert_int_equal(ms_exec_add(&t, MS_EXEC_SEGMENT, idx[0], 4, 8, -1, 10, 1, seg[1], &idx[1], &err), MS_OK);
    for (int a = 0; a < TREE_APPS; a++) {
        ms_status st = ms_exec_add(&t, MS_EXEC_BRANCH, idx[app_at[a]], app_at[a] ? 8 : 4, -1, a, app_fps[a], 1, br[a],
                                   &idx[2 + a], &err);
        if (st) print_message("%s\n", err.msg);
        assert_int_equal(st, MS_OK);
    }
    for (int i = 0; i < 2; i++) {
        assert_true(t.nodes[idx[i]].plan1->native_out);
        assert_true(t.nodes[idx[i]].out_native);
    }
    ms_frame frames[TREE_FRAMES];
    for (int i = 0; i < TREE_FRAMES; i++) {
        frames[i] = (ms_frame){.index = i, .seconds = i / 10.0, .pixels = malloc((size_t)frame_numel * sizeof(float))};
        assert_non_null(frames[i].pixels);
        for (int64_t k = 0; k < frame_numel; k++) frames[i].pixels[k] = frand();
    }
    tree_scores got;
    memset(&got, 0, sizeof got);
    for (int i = 0; i < TREE_FRAMES; i += 4) {
        int n = TREE_FRAMES - i < 4 ? TREE_FRAMES - i : 4;
        ms_status st = ms_exec_run(&t, frames + i, n, collect, &got, &err);
        if (st) print_message("%s\n", err.msg);
        assert_int_equal(st, MS_OK);
    }
    assert_int_equal(got.n[0], 3); /* 5 of 10 fps: frames 0, 2, 4 */
    assert_int_equal(got.n[1], TREE_FRAMES);
    int distinct = 0;
    for (int a = 0; a < TREE_APPS; a++) {
        ms_plan *pp = compile(&ms_backend_ref, prefix[app_at[a]], 1, MS_PREC_FP32, NULL, false);
        ms_plan *bp = compile(&ms_backend_ref, br[a], 1, MS_PREC_FP32, NULL, false);
        float *mid = malloc((size_t)pp->out_numel * sizeof *mid), own;
        assert_non_null(mid);
        for (int k = 0; k < got.n[a]; k++) {
            assert_int_equal(ms_plan_run(pp, frames[got.frame[a][k]].pixels, mid, &err), MS_OK);
            assert_int_equal(ms_plan_run(bp, mid, &own, &err), MS_OK);
            double rel = fabs((double)got.score[a][k] - own) / fmax(fabs(own), 1e-30);
            if (!(rel < 1e-4))
                fail_msg("app %d frame %lld: tree %.9g, own network %.9g", a, (long long)got.frame[a][k],
                         got.score[a][k], own);
            distinct += k > 0 && got.score[a][k] != got.score[a][k - 1];
        }
        free(mid);
        ms_plan_free(pp);
        ms_plan_free(bp);
    }
    print_message("stem tree on cuda: %d, %d, %d scores, %d distinct steps, all within 1e-4 of ref\n", got.n[0],
                  got.n[1], got.n[2], distinct);
    assert_true(distinct >= 6);
    ms_exec_free(&t);
    for (int i = 0; i < TREE_FRAMES; i++) free(frames[i].pixels);
    for (int a = 0; a < TREE_APPS; a++) ms_graph_free(br[a]);
    ms_graph_free(seg[0]);
    ms_graph_free(seg[1]);
    ms_graph_free(prefix[1]);
    free(cps);
    ms_graph_free(g);
}

/* Bad input is reported: fp16 on the cpu backend, int8 on cuda, a cpu plan as input. */
static void test_rejects(void **state)
{
    (void)state;
    const ms_backend *cuda = cuda_or_skip();
    int x;
    ms_graph *g = graph_nhwc(4, 4, 2, &x);
    int y = act(g, "y", 0, NULL);
    node(g, MS_OP_SIGMOID, &x, 1, y);
    set_output(g, y);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_INT8};
    ms_plan *p = NULL;
    assert_int_equal(ms_plan_compile(cuda, g, &o, &p, &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "fp32 and fp16"));
    o.precision = MS_PREC_FP16;
    assert_int_equal(ms_plan_compile(ms_backend_find("cpu"), g, &o, &p, &err), MS_ERR_UNSUPPORTED);
    assert_null(p);
    o.precision = MS_PREC_FP32;
    ms_plan *cpu = NULL;
    assert_int_equal(ms_plan_compile(ms_backend_find("cpu"), g, &o, &cpu, &err), MS_OK);
    o.input_from = cpu;
    assert_int_equal(ms_plan_compile(cuda, g, &o, &p, &err), MS_ERR_INVALID);
    assert_null(p);
    ms_plan_free(cpu);
    ms_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MS_OP_CASE_TESTS
        cmocka_unit_test(test_pipelined_batch),
        cmocka_unit_test(test_chain_small_network),
        cmocka_unit_test(test_mobilenet_v1),
        cmocka_unit_test(test_mobilenet_v2),
        cmocka_unit_test(test_stem_tree),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
