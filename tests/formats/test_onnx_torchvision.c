/* Whole networks against PyTorch: scripts/onnx_export.py exports torchvision
 * classifiers (seeded random weights, nothing downloaded, opset 13, batch dimension
 * dynamic) with Debian's python3-torch and python3-torchvision, and saves an input batch
 * of 2 and torch's output on it. `mainstream infer` must match torch (relative L2 under
 * 1e-4) on the ref and cpu backends, and `inspect` must find chokepoints. Skipped when
 * /usr/bin/python3 cannot import torch, torchvision and onnx (the export writes metadata with it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/model.h"
#include "formats/npy.h"
#include "graph/cut.h"
#include "testutil.h"

static const char *const families[] = {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
                                       "efficientnet_b0", "densenet121", "googlenet", "squeezenet1_1",
                                       "shufflenet_v2_x1_0", "regnet_y_400mf"};
#define N_FAMILIES (sizeof families / sizeof *families)

static char *dir;

static int setup(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import torch, torchvision, onnx' >/dev/null 2>&1") != 0) return 0;
    dir = ms_test_tmpdir();
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/scripts/onnx_export.py %s", MS_SOURCE_DIR, dir);
    for (size_t k = 0; k < N_FAMILIES; k++) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s", families[k]);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " >/dev/null 2>&1");
    if (system(cmd) != 0) {
        print_message("exporting with torch failed: %s\n", cmd);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (dir) ms_test_rmdir(dir);
    return 0;
}

/* The torch module a node came from: the first two components of its name
 * ("/features/transition1/conv/Conv" -> "/features/transition1"), or the whole name. */
static size_t module_len(const char *name)
{
    const char *p = name;
    for (int slashes = 0; *p; p++)
        if (*p == '/' && ++slashes == 3) return (size_t)(p - name);
    return strlen(name);
}

/* DenseNet's transition layers and dense blocks and SqueezeNet's Fire modules are each
 * one block: no chokepoint may fall between two nodes of one such module. n_want is the
 * count docs/onnx.md lists. */
static void check_no_cut_inside_modules(const char *model, int n_want)
{
    ms_graph *g;
    ms_error err;
    if (ms_model_load(&model, 1, &g, &err)) fail_msg("%s", err.msg);
    ms_chokepoint *cps;
    int n;
    assert_int_equal(ms_graph_chokepoints(g, &cps, &n, &err), MS_OK);
    for (int i = 1; i < n; i++) {
        int c = cps[i].node_end;
        const char *before = g->nodes[c - 1].name, *after = g->nodes[c].name;
        size_t len = module_len(before);
        print_message("chokepoint %d: cut %d between %s and %s\n", i, c, before, after);
        bool same = len == module_len(after) && !strncmp(before, after, len) && before[len] == '/';
        if (same) fail_msg("chokepoint %d (cut %d) lies inside module %.*s", i, c, (int)len, before);
    }
    assert_int_equal(n, n_want);
    free(cps);
    ms_graph_free(g);
}

static void check_family(const char *name)
{
    if (!dir) {
        print_message("skipped: /usr/bin/python3 cannot import torch, torchvision and onnx (python3-torchvision, python3-onnx)\n");
        skip();
    }
    char model[1024], x[1024], want_path[1024], got_path[1024];
    snprintf(model, sizeof model, "%s/%s.onnx", dir, name);
    snprintf(x, sizeof x, "%s/%s.x.npy", dir, name);
    snprintf(want_path, sizeof want_path, "%s/%s.y.npy", dir, name);
    ms_npy want;
    ms_error err = {0};
    assert_int_equal(ms_npy_read(want_path, &want, &err), MS_OK);
    static const char *const backends[] = {"ref", "cpu"};
    for (int b = 0; b < 2; b++) {
#if defined(__SANITIZE_ADDRESS__)
        /* the sanitizer build's reference kernels take minutes on the largest two; the
         * optimised build checks them on ref */
        if (b == 0 && (!strcmp(name, "resnet50") || !strcmp(name, "densenet121"))) {
            print_message("%s: ref skipped in the sanitizer build\n", name);
            continue;
        }
#endif
        snprintf(got_path, sizeof got_path, "%s/%s.%s.npy", dir, name, backends[b]);
        const char *args[] = {"infer", "--model", model, "--input", x, "-o", got_path, "--backend", backends[b], NULL};
        char *errout = NULL;
        int rc = ms_test_run_cli(args, NULL, &errout);
        if (rc != 0) print_message("%s on %s: %s\n", name, backends[b], errout ? errout : "");
        free(errout);
        assert_int_equal(rc, 0);
        ms_npy got;
        assert_int_equal(ms_npy_read(got_path, &got, &err), MS_OK);
        assert_int_equal(got.ndim, 2);
        assert_int_equal(got.shape[0], 2);
        assert_int_equal(got.numel, want.numel);
        double rel = ms_test_rel_l2(got.data, want.data, (size_t)want.numel);
        print_message("%-20s %s: rel L2 %.3g\n", name, backends[b], rel);
        assert_true(rel < 1e-4);
        ms_npy_free(&got);
    }
    ms_npy_free(&want);
    const char *args[] = {"inspect", "--json", model, NULL};
    char *out = NULL;
    assert_int_equal(ms_test_run_cli(args, &out, NULL), 0);
    assert_non_null(strstr(out, "\"chokepoints\""));
    free(out);
    if (!strcmp(name, "densenet121")) check_no_cut_inside_modules(model, 11);
    if (!strcmp(name, "squeezenet1_1")) check_no_cut_inside_modules(model, 13);
}

#define FAMILY_TEST(i)                    \
    static void test_##i(void **state)    \
    {                                     \
        (void)state;                      \
        check_family(families[i]);        \
    }
FAMILY_TEST(0)
FAMILY_TEST(1)
FAMILY_TEST(2)
FAMILY_TEST(3)
FAMILY_TEST(4)
FAMILY_TEST(5)
FAMILY_TEST(6)
FAMILY_TEST(7)
FAMILY_TEST(8)
FAMILY_TEST(9)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_0), cmocka_unit_test(test_1), cmocka_unit_test(test_2), cmocka_unit_test(test_3),
        cmocka_unit_test(test_4), cmocka_unit_test(test_5), cmocka_unit_test(test_6), cmocka_unit_test(test_7),
        cmocka_unit_test(test_8), cmocka_unit_test(test_9),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
