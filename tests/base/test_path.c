/* The shared data folder: MAINSTREAM_DATA overrides the build's default, and paths in
 * deployments and scenarios that start with it name files there, from any folder. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "run/deploy.h"

static void test_data_dir(void **state)
{
    (void)state;
    unsetenv("MAINSTREAM_DATA");
    assert_string_equal(ms_data_dir(), MS_SHARED_DATA); /* the build's MS_DATA_DIR */
    assert_true(ms_data_dir()[0] == '/');               /* absolute: the current folder does not matter */
    setenv("MAINSTREAM_DATA", "", 1);
    assert_string_equal(ms_data_dir(), MS_SHARED_DATA);
    setenv("MAINSTREAM_DATA", "/data/ms", 1);
    assert_string_equal(ms_data_dir(), "/data/ms");
    char *p = ms_path_expand("${MAINSTREAM_DATA}/models/a.tflite");
    assert_string_equal(p, "/data/ms/models/a.tflite");
    free(p);
    p = ms_path_expand("$MAINSTREAM_DATA/videos/x.mp4");
    assert_string_equal(p, "/data/ms/videos/x.mp4");
    free(p);
    p = ms_path_expand("$MAINSTREAM_DATA");
    assert_string_equal(p, "/data/ms");
    free(p);
    const char *kept[] = {"$MAINSTREAM_DATAX/a", "a/$MAINSTREAM_DATA/b", "${MAINSTREAM_DATA", "rel/a", "/abs"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        p = ms_path_expand(kept[i]);
        assert_string_equal(p, kept[i]);
        free(p);
    }
    unsetenv("MAINSTREAM_DATA");
}

static void test_deployment_paths(void **state)
{
    (void)state;
    setenv("MAINSTREAM_DATA", "/data/ms", 1);
    cJSON *root = cJSON_Parse("{\"model\": \"${MAINSTREAM_DATA}/models/m.tflite\", \"streams\": [{\"name\": \"s\", "
                              "\"url\": \"$MAINSTREAM_DATA/videos/v.mp4\"}], \"apps\": [{\"name\": \"a\", \"stream\": \"s\", "
                              "\"package\": \"a.mpkg\", \"threshold\": 0.5}]}");
    assert_non_null(root);
    ms_deployment d;
    ms_error err;
    if (ms_deployment_parse(root, "/srv/x/d.json", &d, &err)) fail_msg("%s", err.msg);
    assert_string_equal(d.models[0], "/data/ms/models/m.tflite");
    assert_string_equal(d.streams[0].url, "/data/ms/videos/v.mp4");
    assert_string_equal(d.apps[0].package, "/srv/x/a.mpkg"); /* relative: the deployment's folder */
    ms_deployment_free(&d);
    cJSON_Delete(root);
    unsetenv("MAINSTREAM_DATA");
}

/* The shipped example deployment names its model and videos through MAINSTREAM_DATA,
 * and they exist there whatever the current folder. */
static void test_example_deployment(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    assert_int_equal(chdir("/"), 0);
    ms_deployment d;
    ms_error err;
    if (ms_deployment_load(MS_SOURCE_DIR "/examples/default/deployment.json", &d, &err)) fail_msg("%s", err.msg);
    assert_int_equal(access(d.models[0], R_OK), 0);
    for (int i = 0; i < d.n_streams; i++) assert_int_equal(access(d.streams[i].url, R_OK), 0);
    ms_deployment_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_dir),
        cmocka_unit_test(test_deployment_paths),
        cmocka_unit_test(test_example_deployment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
