/* `mainstream classify --labels-csv`: accuracy against a file,class CSV, the images
 * found relative to the CSV's folder; a malformed CSV is named; usage errors exit 2. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_labels_csv_accuracy(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA("images/bird.bmp");
    char *dir = ms_test_tmpdir();
    char path[300], csv[300];
    /* links to the shared images beside the CSV: bird is class 20 (right), parrot is
     * given 20 too (wrong: it is a macaw, 89, and chickadee is far from its top 5) */
    snprintf(path, sizeof path, "%s/bird.bmp", dir);
    assert_int_equal(symlink(ms_test_data("images/bird.bmp"), path), 0);
    snprintf(path, sizeof path, "%s/parrot.jpg", dir);
    assert_int_equal(symlink(ms_test_data("images/parrot.jpg"), path), 0);
    snprintf(csv, sizeof csv, "%s/labels.csv", dir);
    write_text(csv, "file,class\nbird.bmp,20\nparrot.jpg,20\n");
    char *model = strdup(ms_test_data(MODEL));

    const char *args[] = {"classify", "--model", model, "--json", "--labels-csv", csv, NULL};
    char *out = NULL, *errout = NULL;
    int rc = ms_test_run_cli(args, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    assert_non_null(strstr(out, "\"truth\":20"));
    assert_non_null(strstr(out, "{\"images\": 2, \"top1\": 0.5000, \"top5\": 0.5000, \"failed\": 0}\n"));
    free(out);
    free(errout);

    /* text summary, batch of 1 (two runs) */
    const char *text[] = {"classify", "--model", model, "--batch", "1", "--labels-csv", csv, NULL};
    assert_int_equal(ms_test_run_cli(text, &out, &errout), 0);
    assert_non_null(strstr(out, "top-1 50.00% (1/2)  top-5 50.00% (1/2)  failed 0\n"));
    free(out);
    free(errout);

    write_text(csv, "name;class\nbird.bmp;20\n");
    assert_int_equal(ms_test_run_cli(args, &out, &errout), 1);
    assert_non_null(strstr(errout, csv));
    assert_non_null(strstr(errout, "file,class"));
    free(out);
    free(errout);
    free(model);
    ms_test_rmdir(dir);
}

static void test_usage_errors(void **state)
{
    (void)state;
    const char *cases[][6] = {
        {"classify", "x.jpg", NULL},                                    /* no --model */
        {"classify", "--model", "m.tflite", NULL},                      /* no image */
        {"classify", "--model", "m.tflite", "--top", "0", NULL},        /* K out of range */
        {"classify", "--model", "m.tflite", "--resize", "squash", NULL}, /* unknown mode */
        {"classify", "--model", "m.tflite", "--batch", "x", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL, *errout = NULL;
        assert_int_equal(ms_test_run_cli(cases[i], &out, &errout), 2);
        assert_true(strlen(errout) > 0);
        assert_string_equal(out, "");
        free(out);
        free(errout);
    }
    char *out = NULL, *errout = NULL;
    const char *missing[] = {"classify", "--model", "/nonexistent/m.tflite", "x.jpg", NULL};
    assert_int_equal(ms_test_run_cli(missing, &out, &errout), 1);
    assert_non_null(strstr(errout, "/nonexistent/m.tflite"));
    free(out);
    free(errout);
}

/* A feature extractor alone is not a classifier: refused, naming what it ends in; with its
 * head chained it classifies (the Coral reference: cat.bmp is 286, Egyptian cat). */
static void test_refuses_features(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite");
    MS_REQUIRE_DATA("images/cat.bmp");
    char ext[4200], head[4200], img[4200];
    snprintf(ext, sizeof ext, "%s", ms_test_data("models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"));
    snprintf(head, sizeof head, "%s", ms_test_data("models/mobilenet_v1_1.0_224_quant_head_layers.tflite"));
    snprintf(img, sizeof img, "%s", ms_test_data("images/cat.bmp"));
    const char *alone[] = {"classify", "--model", ext, img, NULL};
    char *out = NULL, *errout = NULL;
    assert_int_equal(ms_test_run_cli(alone, &out, &errout), 1);
    assert_non_null(strstr(errout, "the output is not a class distribution (the model ends in avg_pool, not softmax)"));
    assert_string_equal(out, "");
    free(out);
    free(errout);
    const char *chained[] = {"classify", "--model", ext, "--model", head, "--top", "1", "--json", img, NULL};
    assert_int_equal(ms_test_run_cli(chained, &out, &errout), 0);
    assert_non_null(strstr(out, "\"class\":286"));
    free(out);
    free(errout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_features),
        cmocka_unit_test(test_labels_csv_accuracy),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
