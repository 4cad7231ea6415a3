/* End to end: `mainstream classify` with the small MobileNetV1 0.25_128 on the Coral test
 * images whose top-1 this model gets as the 1.0_224 model does (cat: 282/283/286, bird
 * 20, sunflower 986, parrot 89), in one batch, as JSON; a bad image among good ones is
 * named on stderr, the good ones still print (as text) and the exit status is 1; an
 * unknown backend is a usage error. Small enough to run under valgrind too. */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MODEL "models/mobilenet_v1_0.25_128_quant.tflite"

static char *dup_path(const char *rel) { return strdup(ms_test_data(rel)); }

/* The top-1 class of each JSON line, in order; returns how many lines. */
static int top1_classes(const char *out, int *classes, int max)
{
    int n = 0;
    char *copy = strdup(out), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        cJSON *top = cJSON_GetObjectItem(j, "top");
        assert_int_equal(cJSON_GetArraySize(top), 2);
        cJSON *first = cJSON_GetArrayItem(top, 0), *second = cJSON_GetArrayItem(top, 1);
        assert_true(cJSON_GetObjectItem(first, "score")->valuedouble >=
                    cJSON_GetObjectItem(second, "score")->valuedouble);
        assert_true(cJSON_IsString(cJSON_GetObjectItem(first, "label")));
        classes[n++] = cJSON_GetObjectItem(first, "class")->valueint;
        cJSON_Delete(j);
    }
    free(copy);
    return n;
}

static void test_coral_images_top1(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    char *model = dup_path(MODEL), *labels = dup_path("models/imagenet_labels.txt");
    char *cat = dup_path("images/cat.bmp"), *bird = dup_path("images/bird.bmp");
    char *sunflower = dup_path("images/sunflower.bmp"), *parrot = dup_path("images/parrot.jpg");
    /* Under valgrind (about 50 times slower) two of the images, a BMP and a JPEG, suffice. */
    const bool all = getenv("MS_UNDER_VALGRIND") == NULL;
    const char *args[] = {"classify", "--model", model, "--labels", labels, "--json", "--top", "2",
                          bird, parrot, all ? cat : NULL, sunflower, NULL};
    char *out = NULL, *errout = NULL;
    int rc = ms_test_run_cli(args, &out, &errout);
    if (rc != 0) fail_msg("exit %d: %s", rc, errout);
    int classes[8];
    assert_int_equal(top1_classes(out, classes, 8), all ? 4 : 2);
    assert_int_equal(classes[0], 20);
    assert_int_equal(classes[1], 89);
    if (all) {
        assert_true(classes[2] == 282 || classes[2] == 283 || classes[2] == 286);
        assert_int_equal(classes[3], 986);
    }
    assert_non_null(strstr(out, "\"label\":\"macaw\""));
    assert_non_null(strstr(out, parrot));
    free(out);
    free(errout);

    free(model);
    free(labels);
    free(cat);
    free(bird);
    free(sunflower);
    free(parrot);
}

static void test_bad_image_is_named(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    char *dir = ms_test_tmpdir();
    char bad[300];
    snprintf(bad, sizeof bad, "%s/broken.jpg", dir);
    FILE *f = fopen(bad, "wb");
    fputs("\xff\xd8\xff\xe0 not really a JPEG", f);
    fclose(f);
    char *model = dup_path(MODEL), *bird = dup_path("images/bird.bmp");
    char *labels = dup_path("models/imagenet_labels.txt");
    const char *args[] = {"classify", "--model", model, "--labels", labels, "--top", "1", bad, bird, NULL};
    char *out = NULL, *errout = NULL;
    assert_int_equal(ms_test_run_cli(args, &out, &errout), 1);
    assert_non_null(strstr(errout, bad));
    assert_null(strstr(out, bad));
    /* the good one still printed, in the text form: its path, then "class score label" */
    char want[4200];
    snprintf(want, sizeof want, "%s\n    20  0.", bird);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "  chickadee\n"));
    free(out);
    free(errout);
    free(labels);

    const char *unknown[] = {"classify", "--model", model, "--backend", "nosuch", bird, NULL};
    assert_int_equal(ms_test_run_cli(unknown, &out, &errout), 2);
    assert_non_null(strstr(errout, "unknown backend 'nosuch'"));
    free(out);
    free(errout);
    free(model);
    free(bird);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coral_images_top1),
        cmocka_unit_test(test_bad_image_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
