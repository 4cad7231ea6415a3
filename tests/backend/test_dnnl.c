/* The oneDNN backend against the reference backend, op by op and on small networks:
 * random weights and inputs, batch 1 and 3, 1 and 2 threads, relative L2 error < 1e-5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "op_cases.h"
#include "testutil.h"

extern const ms_backend ms_backend_ref;
extern const ms_backend ms_backend_dnnl;

/* Runs g on ref and dnnl for every batch and thread count and compares. */
static void check_graph(ms_graph *g, ms_precision prec, double tol)
{
    ms_error err;
    ms_status is = ms_graph_infer_shapes(g, &err);
    if (is) print_message("%s\n", err.msg);
    assert_int_equal(is, MS_OK);
    static const int batches[2] = {1, 3}, threads[2] = {1, 2};
    for (int bi = 0; bi < 2; bi++)
        for (int ti = 0; ti < 2; ti++) {
            ms_plan_options o = {.batch = batches[bi], .threads = threads[ti], .precision = MS_PREC_FP32};
            ms_plan *ref = NULL, *dn = NULL;
            ms_status rs = ms_plan_compile(&ms_backend_ref, g, &o, &ref, &err);
            if (rs) print_message("ref: %s\n", err.msg);
            assert_int_equal(rs, MS_OK);
            o.precision = prec;
            ms_status st = ms_plan_compile(&ms_backend_dnnl, g, &o, &dn, &err);
            if (st) print_message("%s\n", err.msg);
            assert_int_equal(st, MS_OK);
            assert_int_equal(dn->in_numel, ref->in_numel);
            assert_int_equal(dn->out_numel, ref->out_numel);
            size_t ni = (size_t)(o.batch * ref->in_numel), no = (size_t)(o.batch * ref->out_numel);
            float *in = malloc(ni * sizeof *in), *a = malloc(no * sizeof *a), *b = malloc(no * sizeof *b);
            assert_true(in && a && b);
            for (size_t i = 0; i < ni; i++) in[i] = frand();
            assert_int_equal(ms_plan_run(ref, in, a, &err), MS_OK);
            /* Twice: a plan must give the same answer on every run (buffers are reused). */
            for (int rep = 0; rep < 2; rep++) {
                memset(b, 0, no * sizeof *b);
                assert_int_equal(ms_plan_run(dn, in, b, &err), MS_OK);
                double e = ms_test_rel_l2(b, a, no);
                if (!(e < tol)) print_message("batch %d threads %d: rel L2 %g\n", o.batch, o.threads, e);
                assert_true(e < tol);
            }
            free(in);
            free(a);
            free(b);
            ms_plan_free(ref);
            ms_plan_free(dn);
        }
    ms_graph_free(g);
}

static void check(ms_graph *g) { check_graph(g, MS_PREC_FP32, 1e-5); }

/* Bad input is reported, not crashed on: a conv whose weights are not constants. */
static void test_rejects_activation_weights(void **state)
{
    (void)state;
    int x;
    ms_graph *g = graph_nhwc(4, 4, 2, &x);
    int64_t ws[4] = {2, 1, 1, 2};
    int w = act(g, "w", 4, ws);
    int in[2] = {x, w};
    int y = act(g, "y", 0, NULL);
    node(g, MS_OP_CONV2D, in, 2, y);
    set_output(g, y);
    int64_t s[4] = {1, 4, 4, 2};
    g->tensors[y].ndim = 4;
    memcpy(g->tensors[y].shape, s, sizeof s);
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *p = NULL;
    ms_error err;
    assert_int_equal(ms_plan_compile(&ms_backend_dnnl, g, &o, &p, &err), MS_ERR_UNSUPPORTED);
    assert_null(p);
    assert_non_null(strstr(err.msg, "constant"));
    ms_graph_free(g);
}

/* A graph whose output no node computes, and a node reading a tensor id out of range. */
static void test_rejects_bad_wiring(void **state)
{
    (void)state;
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *p = NULL;
    ms_error err;
    for (int bad = 0; bad < 2; bad++) {
        int x;
        ms_graph *g = graph_nhwc(4, 4, 2, &x);
        int64_t s[4] = {1, 4, 4, 2};
        int y = act(g, "y", 4, s), z = act(g, "z", 4, s);
        int in = bad ? 99 : x;
        node(g, MS_OP_SIGMOID, &in, 1, y);
        set_output(g, bad ? y : z);
        assert_int_equal(ms_plan_compile(&ms_backend_dnnl, g, &o, &p, &err), MS_ERR_INVALID);
        assert_null(p);
        assert_non_null(strstr(err.msg, bad ? "out of range" : "'z'"));
        ms_graph_free(g);
    }
}

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(ms_backend_find("cpu"), &ms_backend_dnnl);
    assert_ptr_equal(ms_backend_find("dnnl"), &ms_backend_dnnl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MS_OP_CASE_TESTS
        cmocka_unit_test(test_rejects_activation_weights),
        cmocka_unit_test(test_rejects_bad_wiring),
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
