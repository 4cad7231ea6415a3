/* Allocation-failure injection (SQLite style): the importers' and the runner's set-up
 * paths and the cpu backend's compile path run again and again with allocation k
 * failing, k = 0, 1, 2, ... until a run needs fewer allocations than k; each run must
 * return an error with a message (or work around the failure, as the scheduler does for
 * one buffer), not crash, and leave nothing allocated (LeakSanitizer checks that in the
 * sanitizer build). malloc, calloc, realloc, strdup, strndup and aligned_alloc
 * of the library are wrapped at link time (-Wl,--wrap, CMakeLists.txt), and cJSON's
 * allocations through its hooks (leaks are LeakSanitizer's to find). In the cpu backend's
 * path the oneDNN calls that create something (engine, stream, memory, attributes,
 * post-ops, primitive descriptors, primitives) and run one are wrapped too and counted
 * with the allocations: the k-th returns dnnl_out_of_memory, and the error must say
 * oneDNN failed and name the node (its name and op) or the part of the plan being built.
 * oneDNN's own allocations inside the library are not ours to fail. Set
 * MS_ALLOC_FAIL_STRIDE=1 to fail every allocation of the slow paths too (by default the
 * model, runner and cpu backend paths try every 7th). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <execinfo.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "formats/labels.h"
#include "formats/model.h"
#include "formats/mpackage.h"
#include "graph/cut.h"
#include "run/deploy.h"
#include "run/stream_plan.h"
#include "sched/scenario.h"
#include "../run/fixtures.h"

static long fail_at = -1;  /* the index of the allocation to fail; -1: none */
static long count;         /* allocations since arm() */
static bool failed_dnnl;   /* the failed one was a oneDNN call */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

static int fail_now(void)
{
    if (fail_at < 0 || count++ != fail_at) return 0;
    if (getenv("MS_ALLOC_FAIL_TRACE")) { /* where the failed allocation is, for diagnosis */
        void *frames[16];
        backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
    }
    return 1;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return fail_now() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return fail_now() ? NULL : __real_aligned_alloc(a, n); }
static void *json_malloc(size_t n) { return __wrap_malloc(n); }

/* The oneDNN calls that create objects (or run a primitive): the injected failure leaves
 * the output untouched, the worst a caller can get. */
dnnl_status_t __real_dnnl_engine_create(dnnl_engine_t *e, dnnl_engine_kind_t k, size_t i);
dnnl_status_t __real_dnnl_stream_create(dnnl_stream_t *s, dnnl_engine_t e, unsigned f);
dnnl_status_t __real_dnnl_memory_create(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t e, void *h);
dnnl_status_t __real_dnnl_primitive_attr_create(dnnl_primitive_attr_t *a);
dnnl_status_t __real_dnnl_post_ops_create(dnnl_post_ops_t *p);
dnnl_status_t __real_dnnl_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t d,
                                                const_dnnl_primitive_attr_t a, dnnl_engine_t e,
                                                const_dnnl_primitive_desc_t h);
dnnl_status_t __real_dnnl_reorder_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *s,
                                                        dnnl_engine_t se, const dnnl_memory_desc_t *d,
                                                        dnnl_engine_t de, const_dnnl_primitive_attr_t a);
dnnl_status_t __real_dnnl_concat_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *d, int n,
                                                       int dim, const dnnl_memory_desc_t *s,
                                                       const_dnnl_primitive_attr_t a, dnnl_engine_t e);
dnnl_status_t __real_dnnl_primitive_create(dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd);
dnnl_status_t __real_dnnl_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int n,
                                            const dnnl_exec_arg_t *args);
dnnl_status_t __wrap_dnnl_engine_create(dnnl_engine_t *e, dnnl_engine_kind_t k, size_t i);
dnnl_status_t __wrap_dnnl_stream_create(dnnl_stream_t *s, dnnl_engine_t e, unsigned f);
dnnl_status_t __wrap_dnnl_memory_create(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t e, void *h);
dnnl_status_t __wrap_dnnl_primitive_attr_create(dnnl_primitive_attr_t *a);
dnnl_status_t __wrap_dnnl_post_ops_create(dnnl_post_ops_t *p);
dnnl_status_t __wrap_dnnl_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t d,
                                                const_dnnl_primitive_attr_t a, dnnl_engine_t e,
                                                const_dnnl_primitive_desc_t h);
dnnl_status_t __wrap_dnnl_reorder_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *s,
                                                        dnnl_engine_t se, const dnnl_memory_desc_t *d,
                                                        dnnl_engine_t de, const_dnnl_primitive_attr_t a);
dnnl_status_t __wrap_dnnl_concat_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *d, int n,
                                                       int dim, const dnnl_memory_desc_t *s,
                                                       const_dnnl_primitive_attr_t a, dnnl_engine_t e);
dnnl_status_t __wrap_dnnl_primitive_create(dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd);
dnnl_status_t __wrap_dnnl_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int n,
                                            const dnnl_exec_arg_t *args);

static bool dnnl_fail_now(void)
{
    if (!fail_now()) return false;
    failed_dnnl = true;
    return true;
}

#define DNNL_WRAP(call) (dnnl_fail_now() ? dnnl_out_of_memory : (call))
dnnl_status_t __wrap_dnnl_engine_create(dnnl_engine_t *e, dnnl_engine_kind_t k, size_t i)
{
    return DNNL_WRAP(__real_dnnl_engine_create(e, k, i));
}
dnnl_status_t __wrap_dnnl_stream_create(dnnl_stream_t *s, dnnl_engine_t e, unsigned f)
{
    return DNNL_WRAP(__real_dnnl_stream_create(s, e, f));
}
dnnl_status_t __wrap_dnnl_memory_create(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t e, void *h)
{
    return DNNL_WRAP(__real_dnnl_memory_create(m, md, e, h));
}
dnnl_status_t __wrap_dnnl_primitive_attr_create(dnnl_primitive_attr_t *a)
{
    return DNNL_WRAP(__real_dnnl_primitive_attr_create(a));
}
dnnl_status_t __wrap_dnnl_post_ops_create(dnnl_post_ops_t *p) { return DNNL_WRAP(__real_dnnl_post_ops_create(p)); }
dnnl_status_t __wrap_dnnl_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t d,
                                                const_dnnl_primitive_attr_t a, dnnl_engine_t e,
                                                const_dnnl_primitive_desc_t h)
{
    return DNNL_WRAP(__real_dnnl_primitive_desc_create(pd, d, a, e, h));
}
dnnl_status_t __wrap_dnnl_reorder_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *s,
                                                        dnnl_engine_t se, const dnnl_memory_desc_t *d,
                                                        dnnl_engine_t de, const_dnnl_primitive_attr_t a)
{
    return DNNL_WRAP(__real_dnnl_reorder_primitive_desc_create(pd, s, se, d, de, a));
}
dnnl_status_t __wrap_dnnl_concat_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *d, int n,
                                                       int dim, const dnnl_memory_desc_t *s,
                                                       const_dnnl_primitive_attr_t a, dnnl_engine_t e)
{
    return DNNL_WRAP(__real_dnnl_concat_primitive_desc_create(pd, d, n, dim, s, a, e));
}
dnnl_status_t __wrap_dnnl_primitive_create(dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd)
{
    return DNNL_WRAP(__real_dnnl_primitive_create(p, pd));
}
dnnl_status_t __wrap_dnnl_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int n,
                                            const dnnl_exec_arg_t *args)
{
    return DNNL_WRAP(__real_dnnl_primitive_execute(p, s, n, args));
}

static void arm(long k)
{
    count = 0;
    fail_at = k;
    failed_dnnl = false;
}

typedef ms_status (*path_fn)(void *ctx, ms_error *err);
/* Checks the error of a run whose allocation (or oneDNN call, dnnl) k failed. */
typedef void (*check_fn)(const char *what, long k, bool dnnl, const ms_error *err);

/* Runs fn with allocation k failing for k = 0, step, 2 step, ... until it succeeds
 * without reaching k; every failure must be an error with a message. Returns the
 * allocations of a whole run. */
static long inject_checked(const char *what, path_fn fn, void *ctx, long step, check_fn check)
{
    ms_error err;
    arm(-1);
    if (fn(ctx, &err)) fail_msg("%s fails without injection: %s", what, err.msg);
    long absorbed = 0; /* failures a path works around (e.g. the scheduler's cost fallback) */
    long dnnl_calls = 0; /* failures that were oneDNN calls */
    for (long k = 0;; k += step) {
        ms_error_clear(&err);
        arm(k);
        ms_status s = fn(ctx, &err);
        long used = count;
        bool dnnl = failed_dnnl;
        arm(-1);
        dnnl_calls += dnnl;
        if (used <= k) {
            if (s) fail_msg("%s: failed (%s) although allocation %ld was not reached", what, err.msg, k);
            print_message("%s: %ld allocations, each failed in turn (step %ld): errors, no crash; %ld worked around\n",
                          what, used, step, absorbed);
            if (dnnl_calls) print_message("  (%ld of the failed ones were oneDNN calls)\n", dnnl_calls);
            return used;
        }
        if (s == MS_OK) absorbed++;
        else if (!err.msg[0]) fail_msg("%s: allocation %ld failed with an empty message", what, k);
        else if (check) check(what, k, dnnl, &err);
    }
}

static long inject(const char *what, path_fn fn, void *ctx, long step)
{
    return inject_checked(what, fn, ctx, step, NULL);
}

static long slow_step(void)
{
    const char *v = getenv("MS_ALLOC_FAIL_STRIDE");
    long s = v ? atol(v) : 7;
    return s > 0 ? s : 1;
}

/* ---- the paths ---- */

static char dir[512];

static ms_status labels_path(void *ctx, ms_error *err)
{
    (void)ctx;
    static const char text[] = "frame,present\n0,0\n1,1\n2,1\n3,0\n";
    ms_frame_labels f;
    ms_status s = ms_frame_labels_parse("l.csv", text, sizeof text - 1, &f, err);
    if (!s) ms_frame_labels_free(&f);
    static const char classes[] = "file,class\na.jpg,1\nb.jpg,2\n";
    ms_class_labels c;
    if (!s) s = ms_class_labels_parse("c.csv", classes, sizeof classes - 1, &c, err);
    if (!s) ms_class_labels_free(&c);
    return s;
}

static ms_status scenario_path(void *ctx, ms_error *err)
{
    (void)ctx;
    char path[600];
    snprintf(path, sizeof path, "%s/s.json", dir);
    ms_scenario s;
    ms_status st = ms_scenario_load(path, &s, err);
    if (!st) ms_scenario_free(&s);
    return st;
}

static ms_status model_path(void *ctx, ms_error *err)
{
    (void)ctx;
    const char *paths[1] = {ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite")};
    ms_graph *g = NULL;
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_status s = ms_model_load(paths, 1, &g, err);
    if (!s) s = ms_graph_chokepoints(g, &cps, &n, err);
    free(cps);
    ms_graph_free(g);
    return s;
}

static ms_status package_path(void *ctx, ms_error *err)
{
    (void)ctx;
    char path[600];
    snprintf(path, sizeof path, "%s/app0.mpk", dir);
    ms_mpackage *p = NULL;
    ms_status s = ms_mpackage_load(path, &p, err);
    ms_mpackage_free(p);
    return s;
}

/* What `mainstream run` does before the first frame: the deployment, the model and the
 * packages, the stream's schedule and its compiled stem tree. */
static ms_status runner_path(void *ctx, ms_error *err)
{
    (void)ctx;
    char path[600];
    snprintf(path, sizeof path, "%s/deploy.json", dir);
    ms_deployment d;
    ms_run_model m;
    ms_stream_plan p;
    ms_exec_tree t;
    ms_status s = ms_deployment_load(path, &d, err);
    if (s) return s;
    if (!(s = ms_run_model_load(&d, &m, err))) {
        if (!(s = ms_stream_plan_deployment(&d, &m, 0, 10, 1000, &p, err))) {
            if (!(s = ms_stream_plan_exec(&d, &m, &p, &t, err))) ms_exec_free(&t);
            ms_stream_plan_free(&p);
        }
        ms_run_model_free(&m);
    }
    ms_deployment_free(&d);
    return s;
}

/* ---- the cpu backend (oneDNN): compiling, running once, freeing ---- */

typedef struct {
    ms_graph *whole, *head, *tail; /* the model, and its segments before and after a chokepoint */
    const ms_backend *cpu;
} dnnl_ctx;

/* A batch-2 fp32 plan (one frame per primitive run) and an int8 plan of the whole model,
 * run once each; a two-thread chain of two segments (the first's native output read by
 * the second, primitives for the whole batch). */
static ms_status dnnl_path(void *ctx, ms_error *err)
{
    const dnnl_ctx *d = ctx;
    static float in[2 * 128 * 128 * 3], out[2 * 1001];
    ms_plan *p = NULL, *q = NULL;
    ms_plan_options fp32 = {.batch = 2, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan_options int8 = {.batch = 1, .threads = 1, .precision = MS_PREC_INT8};
    ms_status s = ms_plan_compile(d->cpu, d->whole, &fp32, &p, err);
    if (!s) s = ms_plan_run(p, in, out, err);
    ms_plan_free(p);
    p = NULL;
    if (!s) s = ms_plan_compile(d->cpu, d->whole, &int8, &p, err);
    if (!s) s = ms_plan_run(p, in, out, err);
    ms_plan_free(p);
    p = NULL;
    ms_plan_options first = {.batch = 2, .threads = 2, .precision = MS_PREC_FP32, .native_output = true};
    if (!s) s = ms_plan_compile(d->cpu, d->head, &first, &p, err);
    ms_plan_options second = {.batch = 2, .threads = 2, .precision = MS_PREC_FP32, .input_from = p};
    if (!s) s = ms_plan_compile(d->cpu, d->tail, &second, &q, err);
    ms_plan_free(q);
    ms_plan_free(p);
    return s;
}

/* A oneDNN failure says so and names the node (name and op; running: its index and op)
 * or the part of the plan; an allocation of ours says it ran out of memory, naming the same. */
static void dnnl_check(const char *what, long k, bool dnnl, const ms_error *err)
{
    const char *m = err->msg;
    bool named = (strstr(m, "node '") && strstr(m, "): ")) || strstr(m, ": the plan's ") || /* compiling */
                 (strstr(m, "oneDNN plan: step ") && (strstr(m, "(node ") || strstr(m, "(its input or output"))); /* running */
    if (dnnl && (!strstr(m, "oneDNN") || !strstr(m, "out_of_memory") || !named))
        fail_msg("%s: oneDNN call %ld failed: the error does not say oneDNN failed and where: %s", what, k, m);
    if (!dnnl && (!strstr(m, "out of memory") || (strstr(m, "oneDNN plan") && !named)))
        fail_msg("%s: allocation %ld failed: the error does not say where memory ran out: %s", what, k, m);
}

static int setup(void **state)
{
    (void)state;
    char *d = ms_test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    cJSON_Hooks hooks = {json_malloc, free};
    cJSON_InitHooks(&hooks);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_InitHooks(NULL);
    ms_test_rmdir(strdup(dir));
    return 0;
}

static void test_parsers(void **state)
{
    (void)state;
    inject("labels", labels_path, NULL, 1);
    char path[600];
    snprintf(path, sizeof path, "%s/s.json", dir);
    assert_int_equal(fixture_write(path, "{\"format_version\": 1, \"stream_fps\": 10, \"budget\": 5, \"unit_costs\": [1, 2, 0.5],"
                                         " \"apps\": [{\"name\": \"a\", \"event_length_ms\": 500, \"event_frequency\": 0.2,"
                                         " \"correlation\": 0.1, \"curve\": [{\"chokepoint\": 0, \"tpr\": 0.9, \"fpr\": 0.1},"
                                         " {\"chokepoint\": 2, \"tpr\": 0.8, \"fpr\": 0.2}]}]}\n"),
                     0);
    inject("scenario", scenario_path, NULL, 1);
}

static void test_model_package_and_runner(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *model = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    ms_graph *base;
    ms_error err;
    assert_int_equal(ms_model_load(&model, 1, &base, &err), MS_OK);
    char path[600], json[4096];
    const int cps[2] = {13, 15};
    snprintf(path, sizeof path, "%s/app0.mpk", dir);
    if (fixture_package(base, "app0", cps, 2, 1, path, &err)) fail_msg("%s", err.msg);
    ms_graph_free(base);
    snprintf(path, sizeof path, "%s/profile.json", dir);
    assert_int_equal(fixture_profile(path, 16, 1), 0);
    snprintf(json, sizeof json,
             "{\"model\": \"%s\", \"backend\": \"ref\", \"budget\": 1000, \"profile\": \"profile.json\","
             " \"streams\": [{\"name\": \"cam\", \"url\": \"none.mp4\", \"fps\": 10}],"
             " \"apps\": [{\"name\": \"a\", \"stream\": \"cam\", \"package\": \"app0.mpk\", \"threshold\": 0.5}]}",
             model);
    snprintf(path, sizeof path, "%s/deploy.json", dir);
    assert_int_equal(fixture_write(path, json), 0);
    inject("M-Package", package_path, NULL, 1);
    long step = slow_step();
    inject("TFLite model and chokepoints", model_path, NULL, step);
    inject("runner set-up", runner_path, NULL, step);
}

static void test_cpu_backend(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *model = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    dnnl_ctx d = {0};
    ms_error err;
    ms_chokepoint *cps = NULL;
    int n = 0;
    assert_int_equal(ms_model_load(&model, 1, &d.whole, &err), MS_OK);
    assert_int_equal(ms_graph_chokepoints(d.whole, &cps, &n, &err), MS_OK);
    int cut = cps[n / 2].node_end;
    free(cps);
    assert_int_equal(ms_graph_segment(d.whole, 0, cut, &d.head, &err), MS_OK);
    assert_int_equal(ms_graph_segment(d.whole, cut, d.whole->n_nodes, &d.tail, &err), MS_OK);
    assert_int_equal(ms_backend_get("cpu", &d.cpu, &err), MS_OK);
    /* one oneDNN failure by hand: the first primitive descriptor is the first node's */
    for (long k = 0;; k++) {
        arm(k);
        ms_plan *p = NULL;
        ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
        ms_status s = ms_plan_compile(d.cpu, d.whole, &o, &p, &err);
        long used = count;
        bool dnnl = failed_dnnl;
        arm(-1);
        ms_plan_free(p);
        if (used <= k) fail_msg("no primitive descriptor failed in %ld calls", used);
        if (dnnl && strstr(err.msg, "primitive descriptor")) {
            assert_int_equal(s, MS_ERR_BACKEND);
            assert_non_null(strstr(err.msg, "node '"));
            assert_non_null(strstr(err.msg, " (conv2d): oneDNN primitive descriptor failed: out_of_memory"));
            print_message("call %ld, the first primitive descriptor, failing: %s\n", k, err.msg);
            break;
        }
    }
    inject_checked("cpu backend: compile, run, free (fp32, int8, a 2-thread chain)", dnnl_path, &d, slow_step(),
                   dnnl_check);
    ms_graph_free(d.tail);
    ms_graph_free(d.head);
    ms_graph_free(d.whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_backend),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_model_package_and_runner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
