/* End to end: `mainstream train` on a small real subset (flowers17: 20 sunflowers
 * against 20 other flowers) with MobileNetV1 0.25_128 at three chokepoints, then the
 * package is loaded and `mainstream evaluate` must find every head better than chance
 * on its own data; bad inputs fail with messages and leave no package. Under valgrind
 * (MS_UNDER_VALGRIND) the same runs on 4 + 4 images: the reference kernels that compute
 * the prefix are too slow there for 40. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/model.h"
#include "formats/mpackage.h"

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

/* Links images first+1 .. first+n (in name order) of flowers17/<cls> into dir. */
static void link_images(const char *dir, const char *cls, int first, int n)
{
    char src[4096], cmd[16384];
    snprintf(src, sizeof src, "%s/%s", ms_test_data("flowers17"), cls);
    snprintf(cmd, sizeof cmd, "ls '%s' | sed -n '%d,%dp' | while read f; do ln -s \"%s/$f\" \"%s/%s-$f\"; done", src,
             first + 1, first + n, src, dir, cls);
    assert_int_equal(system(cmd), 0);
}

typedef struct {
    char *dir;
    char pos[4096], neg[4096], pkg[4096];
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    c->dir = ms_test_tmpdir();
    snprintf(c->pos, sizeof c->pos, "%s/pos", c->dir);
    snprintf(c->neg, sizeof c->neg, "%s/neg", c->dir);
    snprintf(c->pkg, sizeof c->pkg, "%s/sunflower.mpkg", c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    ms_test_rmdir(c->dir);
    free(c);
    return 0;
}

static void test_train_and_evaluate(void **state)
{
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA("flowers17/sunflower");
    ctx *c = *state;
    assert_int_equal(mkdir(c->pos, 0755), 0);
    assert_int_equal(mkdir(c->neg, 0755), 0);
    int per_class = getenv("MS_UNDER_VALGRIND") ? 1 : 5, n = 4 * per_class, n_train = n * 3 / 4;
    link_images(c->pos, "sunflower", 0, n);
    const char *others[4] = {"daisy", "tulip", "bluebell", "iris"};
    for (int i = 0; i < 4; i++) link_images(c->neg, others[i], 0, per_class);
    char model[4096];
    snprintf(model, sizeof model, "%s", ms_test_data(MODEL));

    const char *train[] = {"train", "--model", model, "--positive", c->pos, "--negative", c->neg,
                           "--chokepoints", "13,14,15", "--epochs", "2", "--batch", "8", "--train-fraction", "0.75",
                           "--seed", "7", "-o", c->pkg, NULL};
    char *out = NULL, *err = NULL;
    int rc = ms_test_run_cli(train, &out, &err);
    if (rc != 0) fail_msg("train failed (%d): %s", rc, err);
    char expect[128];
    snprintf(expect, sizeof expect, "%d training frames (%d positive), %d validation (%d positive)", 2 * n_train,
             n_train, 2 * (n - n_train), n - n_train);
    if (!strstr(out, expect)) fail_msg("expected '%s' in: %s", expect, out);
    free(out);
    free(err);

    ms_mpackage *p;
    ms_graph *base;
    ms_error e;
    const char *paths[1] = {model};
    assert_int_equal(ms_mpackage_load(c->pkg, &p, &e), MS_OK);
    assert_int_equal(ms_model_load(paths, 1, &base, &e), MS_OK);
    assert_int_equal(ms_mpackage_check_base(p, base, &e), MS_OK);
    assert_string_equal(p->app, "sunflower");
    assert_int_equal(p->n_curve, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p->curve[i].chokepoint, 13 + i);
        assert_int_equal(p->curve[i].positives, n - n_train);
        assert_int_equal(p->curve[i].negatives, n - n_train);
        ms_graph *br;
        assert_int_equal(ms_mpackage_branch(p, base, 13 + i, &br, &e), MS_OK);
        ms_graph_free(br);
    }
    assert_int_equal(p->training.train_frames, 2 * n_train);
    assert_false(p->events.known);
    /* The training log beside the package: one CSV row per chokepoint and epoch, the
     * kept epoch's validation tpr and fpr being the package's curve; and its SVG. */
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/sunflower.epochs.csv", c->dir);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("no training log %s", path);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "chokepoint,epoch,train_loss,val_loss,val_acc,val_tpr,val_fpr,seconds,best\n");
    int rows = 0, kept[3] = {0};
    int cp, ep, best;
    double tl, vl, acc, ltpr, lfpr, sec;
    while (fscanf(f, "%d,%d,%lf,%lf,%lf,%lf,%lf,%lf,%d\n", &cp, &ep, &tl, &vl, &acc, &ltpr, &lfpr, &sec, &best) == 9) {
        rows++;
        assert_true(cp >= 13 && cp <= 15 && ep >= 1 && ep <= 2 && tl >= 0 && vl >= 0);
        if (best) {
            kept[cp - 13]++;
            assert_float_equal(ltpr, p->curve[cp - 13].tpr, 1e-6);
            assert_float_equal(lfpr, p->curve[cp - 13].fpr, 1e-6);
        }
    }
    assert_true(feof(f));
    fclose(f);
    assert_true(rows >= 3 && rows <= 6);
    for (int i = 0; i < 3; i++) assert_int_equal(kept[i], 1);
    snprintf(path, sizeof path, "%s/sunflower.curve.svg", c->dir);
    f = fopen(path, "r");
    if (!f) fail_msg("no curve %s", path);
    char svg[65536];
    size_t got = fread(svg, 1, sizeof svg - 1, f);
    svg[got] = '\0';
    fclose(f);
    assert_non_null(strstr(svg, "<svg "));
    assert_non_null(strstr(svg, "App sunflower"));
    assert_non_null(strstr(svg, "</svg>"));
    ms_mpackage_free(p);
    ms_graph_free(base);

    const char *eval[] = {"evaluate", "--package", c->pkg, "--model", model, "--positive", c->pos,
                          "--negative", c->neg, "--json", NULL};
    rc = ms_test_run_cli(eval, &out, &err);
    if (rc != 0) fail_msg("evaluate failed (%d): %s", rc, err);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    cJSON *cps = cJSON_GetObjectItem(root, "chokepoints");
    assert_int_equal(cJSON_GetArraySize(cps), 3);
    cJSON *o;
    cJSON_ArrayForEach(o, cps)
    {
        assert_int_equal(cJSON_GetObjectItem(o, "positives")->valueint, n);
        assert_int_equal(cJSON_GetObjectItem(o, "negatives")->valueint, n);
        double tpr = cJSON_GetObjectItem(o, "tpr")->valuedouble, fpr = cJSON_GetObjectItem(o, "fpr")->valuedouble;
        /* better than chance: balanced accuracy well above one half */
        if ((tpr + 1.0 - fpr) / 2.0 < 0.7)
            fail_msg("chokepoint %d: tpr %.3f fpr %.3f is not better than chance", cJSON_GetObjectItem(o, "index")->valueint,
                     tpr, fpr);
    }
    cJSON_Delete(root);
    free(out);
    free(err);
}

static void test_bad_inputs(void **state)
{
    MS_REQUIRE_DATA(MODEL);
    ctx *c = *state;
    char model[4096], missing[4200];
    snprintf(model, sizeof model, "%s", ms_test_data(MODEL));
    snprintf(missing, sizeof missing, "%s/nowhere", c->dir);
    char *out = NULL, *err = NULL;

    const char *no_negative[] = {"train", "--model", model, "--positive", c->dir, "-o", c->pkg, NULL};
    assert_int_not_equal(ms_test_run_cli(no_negative, &out, &err), 0);
    assert_non_null(strstr(err, "--positive and --negative go together"));
    free(out);
    free(err);

    const char *bad_dir[] = {"train", "--model", model, "--positive", missing, "--negative", missing, "-o", c->pkg, NULL};
    assert_int_not_equal(ms_test_run_cli(bad_dir, &out, &err), 0);
    assert_non_null(strstr(err, missing));
    free(out);
    free(err);

    const char *bad_epochs[] = {"train", "--model", model, "--epochs", "two", "-o", c->pkg, NULL};
    assert_int_equal(ms_test_run_cli(bad_epochs, &out, &err), 2);
    assert_non_null(strstr(err, "--epochs"));
    free(out);
    free(err);

    const char *bad_backend[] = {"train", "--model", model, "--backend", "gpu", "-o", c->pkg, NULL};
    assert_int_equal(ms_test_run_cli(bad_backend, &out, &err), 2);
    assert_non_null(strstr(err, "--backend: unknown backend 'gpu' (ref, cpu, cuda)"));
    free(out);
    free(err);

    const char *bad_cp_threads[] = {"train", "--model", model, "--cp-threads", "1.5", "-o", c->pkg, NULL};
    assert_int_equal(ms_test_run_cli(bad_cp_threads, &out, &err), 2);
    assert_non_null(strstr(err, "--cp-threads: '1.5' is not a whole number"));
    free(out);
    free(err);

    const char *bad_scale[] = {"train", "--model", model, "--base-lr-scale", "0", "-o", c->pkg, NULL};
    assert_int_equal(ms_test_run_cli(bad_scale, &out, &err), 2);
    assert_non_null(strstr(err, "--base-lr-scale"));
    free(out);
    free(err);

    const char *bad_pkg[] = {"evaluate", "--package", model, "--model", model, "--positive", c->dir, "--negative",
                             c->dir, NULL};
    assert_int_not_equal(ms_test_run_cli(bad_pkg, &out, &err), 0);
    assert_non_null(strstr(err, model));
    free(out);
    free(err);
    assert_int_not_equal(access(c->pkg, F_OK), 0); /* no package was left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_train_and_evaluate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
