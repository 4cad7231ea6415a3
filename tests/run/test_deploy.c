/* Deployment validation: a good file parses with defaults and resolved paths; every bad
 * field fails with a message naming it. A profile measured at other threads than the
 * deployment's is used with a warning naming both. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "formats/model.h"
#include "run/deploy.h"
#include "run/stream_plan.h"
#include "fixtures.h"

#define GOOD_STREAMS "[{\"name\":\"cam\",\"url\":\"v/cam.mp4\",\"fps\":10},{\"name\":\"door\",\"url\":\"rtsp://h/d\"}]"
#define GOOD_APP "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"a.mpk\",\"threshold\":0.5}"

static ms_status parse(const char *json, ms_deployment *d, ms_error *err)
{
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    ms_status st = ms_deployment_parse(root, "/srv/x/d.json", d, err);
    cJSON_Delete(root);
    return st;
}

static void test_good(void **state)
{
    (void)state;
    ms_deployment d;
    ms_error err;
    const char *json = "{\"model\":[\"m/a.tflite\",\"/abs/b.tflite\"],\"backend\":\"ref\",\"threads\":2,\"budget\":250.5,"
                       "\"policy\":\"maxsharing\",\"streams\":" GOOD_STREAMS ",\"apps\":[" GOOD_APP
                       ",{\"name\":\"b\",\"stream\":\"door\",\"package\":\"/p/b.mpk\",\"threshold\":0.7,"
                       "\"x_vote\":3,\"chokepoint\":4,\"fps\":2}]}";
    if (parse(json, &d, &err)) fail_msg("%s", err.msg);
    assert_int_equal(d.n_models, 2);
    assert_string_equal(d.models[0], "/srv/x/m/a.tflite");
    assert_string_equal(d.models[1], "/abs/b.tflite");
    assert_int_equal(d.threads, 2);
    assert_int_equal(d.batch, 1);
    assert_float_equal(d.budget, 250.5, 0);
    assert_int_equal(d.policy, MS_POLICY_MAXSHARING);
    assert_int_equal(d.objective, MS_OBJ_MEAN_F1);
    assert_int_equal(d.precision, MS_PREC_FP32);
    assert_int_equal(d.n_streams, 2);
    assert_string_equal(d.streams[0].url, "/srv/x/v/cam.mp4");
    assert_false(d.streams[0].network);
    assert_string_equal(d.streams[1].url, "rtsp://h/d");
    assert_true(d.streams[1].network);
    assert_int_equal(d.n_apps, 2);
    assert_string_equal(d.apps[0].package, "/srv/x/a.mpk");
    assert_int_equal(d.apps[0].x_vote, 1);
    assert_int_equal(d.apps[0].chokepoint, -1);
    assert_float_equal(d.apps[0].fps, 0, 0);
    assert_int_equal(d.apps[1].stream, 1);
    assert_int_equal(d.apps[1].x_vote, 3);
    assert_int_equal(d.apps[1].chokepoint, 4);
    assert_float_equal(d.apps[1].fps, 2, 0);
    ms_deployment_free(&d);
    /* "auto" budget and a single model path */
    if (parse("{\"model\":\"m.tflite\",\"backend\":\"ref\",\"budget\":\"auto\",\"streams\":" GOOD_STREAMS
              ",\"apps\":[" GOOD_APP "]}",
              &d, &err))
        fail_msg("%s", err.msg);
    assert_float_equal(d.budget, 0, 0);
    assert_int_equal(d.n_models, 1);
    ms_deployment_free(&d);
    /* the current format version, given explicitly */
    if (parse("{\"format_version\":1,\"model\":\"m.tflite\",\"streams\":" GOOD_STREAMS ",\"apps\":[" GOOD_APP "]}", &d,
              &err))
        fail_msg("%s", err.msg);
    assert_string_equal(d.backend, "cpu");
    ms_deployment_free(&d);
}

typedef struct {
    const char *json;
    const char *message;
} bad_case;

#define WRAP(settings, apps) \
    "{\"model\":[\"m.tflite\"]" settings ",\"streams\":" GOOD_STREAMS ",\"apps\":[" apps "]}"

static void test_bad_fields(void **state)
{
    (void)state;
    const bad_case cases[] = {
        {"[1]", "d.json: must be a JSON object"},
        {"{\"backend\":\"ref\",\"streams\":[],\"apps\":[]}", "d.json: model: missing"},
        {"{\"model\":[],\"streams\":[],\"apps\":[]}", "d.json: model: must be a path or a non-empty list"},
        {"{\"model\":[\"\"],\"streams\":[],\"apps\":[]}", "d.json: model[0]: must be a non-empty string"},
        {WRAP(",\"backend\":\"gpu9\"", GOOD_APP), "backend: unknown backend 'gpu9'"},
        {WRAP(",\"precision\":\"fp16\"", GOOD_APP), "precision: 'fp16' needs backend cuda, not 'cpu'"},
        {WRAP(",\"precision\":\"bf16\"", GOOD_APP), "precision: 'bf16' is not fp32, int8 or fp16"},
        {WRAP(",\"backend\":\"ref\",\"backend\":\"cpu\"", GOOD_APP), "d.json: key \"backend\" appears twice"},
        {WRAP(",\"treads\":2", GOOD_APP), "d.json: unknown key \"treads\" (did you mean \"threads\"?)"},
        {WRAP(",\"colour\":\"blue\"", GOOD_APP), "d.json: unknown key \"colour\""},
        {WRAP(",\"format_version\":2", GOOD_APP), "d.json: format_version 2 is newer than this build reads (1)"},
        {WRAP(",\"format_version\":0", GOOD_APP), "d.json: format_version: 0 is not a version"},
        {WRAP(",\"format_version\":\"1\"", GOOD_APP), "d.json: field \"format_version\" must be a finite number"},
        {"{\"model\":\"m\",\"streams\":[{\"name\":\"s\",\"uri\":\"x\"}],\"apps\":[]}",
         "d.json: streams[0]: unknown key \"uri\" (did you mean \"url\"?)"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"treshold\":0.5}"),
         "d.json: apps[0]: unknown key \"treshold\" (did you mean \"threshold\"?)"},
        {WRAP(",\"threads\":0", GOOD_APP), "threads: must be in [1, 1024]"},
        {WRAP(",\"batch\":1000", GOOD_APP), "batch: must be in [1, 256]"},
        {WRAP(",\"budget\":-3", GOOD_APP), "budget: must be \"auto\" or a positive number"},
        {WRAP(",\"budget\":\"lots\"", GOOD_APP), "budget: must be \"auto\" or a positive number"},
        {WRAP(",\"policy\":\"best\"", GOOD_APP), "policy: unknown policy 'best'"},
        {WRAP(",\"objective\":\"accuracy\"", GOOD_APP), "objective: unknown objective 'accuracy'"},
        {WRAP(",\"resize\":\"zoom\"", GOOD_APP), "resize: 'zoom' is not stretch or crop"},
        {"{\"model\":\"m\",\"backend\":\"ref\",\"streams\":[],\"apps\":[" GOOD_APP "]}", "streams: must not be empty"},
        {"{\"model\":\"m\",\"backend\":\"ref\",\"streams\":[{\"url\":\"x\"}],\"apps\":[]}", "streams[0]"},
        {"{\"model\":\"m\",\"backend\":\"ref\",\"streams\":[{\"name\":\"s\",\"url\":\"\"}],\"apps\":[]}",
         "streams[0].url: must not be empty"},
        {"{\"model\":\"m\",\"backend\":\"ref\",\"streams\":[{\"name\":\"s\",\"url\":\"x\",\"fps\":0}],\"apps\":[]}",
         "streams[0].fps: must be in (0, 1000]"},
        {"{\"model\":\"m\",\"backend\":\"ref\",\"streams\":[{\"name\":\"s\",\"url\":\"x\"},{\"name\":\"s\",\"url\":\"y\"}],"
         "\"apps\":[]}",
         "streams[1].name: 's' is used by streams[0] too"},
        {"{\"model\":\"m\",\"backend\":\"ref\",\"streams\":[{\"name\":\"s\",\"url\":\"x\",\"retries\":-1}],\"apps\":[]}",
         "streams[0].retries"},
        {WRAP("", ""), "apps: must not be empty"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"gate\",\"package\":\"p\",\"threshold\":0.5}"),
         "apps[0].stream: no stream named 'gate'"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"threshold\":0.5}"), "apps[0]"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\"}"), "apps[0]"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":1.5}"),
         "apps[0].threshold: must be in [0, 1]"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":0.5,\"x_vote\":0}"),
         "apps[0].x_vote: must be in [1, 64]"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":0.5,\"chokepoint\":-2}"),
         "apps[0].chokepoint"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":0.5,\"fps\":12}"),
         "apps[0].fps: 12 is above stream 'cam''s 10 fps"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":0.5,\"fps\":-1}"),
         "apps[0].fps: must be in (0, 1000], got -1"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":0.5,\"event_frequency\":2}"),
         "apps[0].event_frequency: must be in (0, 1)"},
        {WRAP("", GOOD_APP "," GOOD_APP), "apps[1].name: 'a' is used by apps[0] too"},
        {WRAP("", "{\"name\":\"a\",\"stream\":\"cam\",\"package\":\"p\",\"threshold\":0.5,\"event_length_ms\":4e6}"),
         "apps[0].event_length_ms: must be a positive number of milliseconds, at most 3.6e+06"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ms_deployment d;
        ms_error err = {0};
        if (parse(cases[i].json, &d, &err) == MS_OK) fail_msg("case %zu parsed: %s", i, cases[i].json);
        if (!strstr(err.msg, cases[i].message) || !strstr(err.msg, "d.json"))
            fail_msg("case %zu: message '%s' does not contain '%s'", i, err.msg, cases[i].message);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    ms_deployment d;
    ms_error err;
    assert_int_not_equal(ms_deployment_load("/nonexistent/d.json", &d, &err), MS_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/d.json"));
}

/* A stream and an app on their own, as a request to a running service gives them. */
static void test_one_object(void **state)
{
    (void)state;
    ms_error err;
    cJSON *o = cJSON_Parse("{\"name\":\"gate\",\"url\":\"v/g.mp4\",\"fps\":12.5,\"retries\":3}");
    ms_deploy_stream s;
    assert_int_equal(ms_deploy_stream_parse(o, "request", "/srv/x/", &s, &err), MS_OK);
    assert_string_equal(s.name, "gate");
    assert_string_equal(s.url, "/srv/x/v/g.mp4");
    assert_float_equal(s.fps, 12.5, 0);
    assert_int_equal(s.retries, 3);
    assert_false(s.network);
    ms_deploy_stream_free(&s);
    cJSON_Delete(o);
    o = cJSON_Parse("{\"name\":\"red\",\"stream\":\"gate\",\"package\":\"p/r.mpk\",\"threshold\":0.6,"
                    "\"x_vote\":2,\"chokepoint\":9}");
    ms_deploy_app a;
    char *stream;
    assert_int_equal(ms_deploy_app_parse(o, "request", "/srv/x/", &a, &stream, &err), MS_OK);
    assert_string_equal(a.name, "red");
    assert_string_equal(stream, "gate");
    assert_string_equal(a.package, "/srv/x/p/r.mpk");
    assert_int_equal(a.stream, -1);
    assert_int_equal(a.x_vote, 2);
    assert_int_equal(a.chokepoint, 9);
    assert_float_equal(a.threshold, 0.6, 0);
    assert_true(a.event_length_ms < 0 && a.fps == 0);
    free(stream);
    ms_deploy_app_free(&a);
    cJSON_Delete(o);
    o = cJSON_Parse("{\"name\":\"red\",\"stream\":\"gate\",\"package\":\"p/r.mpk\",\"threshold\":1.5}");
    assert_int_equal(ms_deploy_app_parse(o, "request", "./", &a, &stream, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "request.threshold"));
    assert_null(stream);
    cJSON_Delete(o);
    o = cJSON_Parse("{\"name\":\"gate\"}");
    assert_int_not_equal(ms_deploy_stream_parse(o, "request", "./", &s, &err), MS_OK);
    assert_non_null(strstr(err.msg, "url"));
    cJSON_Delete(o);
}

/* "options": FFmpeg options of a stream, in a deployment and on their own; numbers and
 * booleans become strings; refusals name streams[i].options(.KEY). */
static void test_stream_options(void **state)
{
    (void)state;
    ms_deployment d;
    ms_error err = {0};
    const char *json = "{\"model\":\"m\",\"streams\":[{\"name\":\"cam\",\"url\":\"rtsp://h/c\","
                       "\"options\":{\"rtsp_transport\":\"tcp\",\"timeout\":5000000,\"probesize\":32.5,"
                       "\"reconnect\":true}}],\"apps\":[" GOOD_APP "]}";
    if (parse(json, &d, &err)) fail_msg("%s", err.msg);
    const ms_video_options *o = &d.streams[0].options;
    assert_int_equal(o->n, 4);
    const char *want[4][2] = {{"rtsp_transport", "tcp"}, {"timeout", "5000000"}, {"probesize", "32.5"},
                              {"reconnect", "1"}};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(o->keys[i], want[i][0]);
        assert_string_equal(o->values[i], want[i][1]);
    }
    ms_deployment_free(&d);
    /* a stream without options has none */
    cJSON *one = cJSON_Parse("{\"name\":\"gate\",\"url\":\"g.mp4\"}");
    ms_deploy_stream s;
    assert_int_equal(ms_deploy_stream_parse(one, "body", "./", &s, &err), MS_OK);
    assert_int_equal(s.options.n, 0);
    ms_deploy_stream_free(&s);
    cJSON_Delete(one);
    const bad_case cases[] = {
        {"{\"rtsp_transport\":[\"tcp\"]}", "streams[0].options.rtsp_transport: must be a string, a number or a boolean"},
        {"{\"timeout\":{\"us\":5}}", "streams[0].options.timeout: must be a string, a number or a boolean"},
        {"{\"timeout\":null}", "streams[0].options.timeout: must be a string, a number or a boolean"},
        {"{\"no_such_option\":\"1\"}", "streams[0].options.no_such_option: not an option FFmpeg knows"},
        {"{\"stimeout\":\"5000000\"}", "streams[0].options.stimeout: not an option FFmpeg knows for opening an "
                                     "input (FFmpeg 5 renamed it \"timeout\")"},
        {"{\"timeout\":1,\"timeout\":2}", "streams[0].options.timeout: given twice"},
        {"{\"\":1}", "streams[0].options: a name must be 1-128 characters"},
        {"\"rtsp_transport=tcp\"", "streams[0].options: must be an object of FFmpeg options"},
        {"[]", "streams[0].options: must be an object of FFmpeg options"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc,
                 "{\"model\":\"m\",\"streams\":[{\"name\":\"cam\",\"url\":\"rtsp://h/c\",\"options\":%s}],"
                 "\"apps\":[" GOOD_APP "]}",
                 cases[i].json);
        if (parse(doc, &d, &err) == MS_OK) fail_msg("case %zu parsed: %s", i, cases[i].json);
        if (!strstr(err.msg, cases[i].message) || !strstr(err.msg, "d.json"))
            fail_msg("case %zu: message '%s' does not contain '%s'", i, err.msg, cases[i].message);
    }
}

static void keep_warning(void *user, ms_log_level level, const char *msg)
{
    if (level == MS_LOG_WARN) snprintf(user, 1024, "%s", msg);
}

/* Loads the deployment at path with the base model and packages, returning the last
 * warning logged (empty: none). */
static void load_warning(const char *path, char *warning)
{
    ms_deployment d;
    ms_run_model m;
    ms_error err;
    warning[0] = '\0';
    ms_log_set_callback(keep_warning, warning);
    if (ms_deployment_load(path, &d, &err)) fail_msg("%s", err.msg);
    ms_status st = ms_run_model_load(&d, &m, &err);
    ms_log_set_callback(NULL, NULL);
    if (st) fail_msg("%s", err.msg);
    ms_run_model_free(&m);
    ms_deployment_free(&d);
}

static void test_profile_threads(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *model = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    char *dir = ms_test_tmpdir(), path[600], json[2048], warning[1024];
    ms_graph *base;
    ms_error err;
    assert_int_equal(ms_model_load(&model, 1, &base, &err), MS_OK);
    const int cps[1] = {15};
    snprintf(path, sizeof path, "%s/a.mpk", dir);
    if (fixture_package(base, "a", cps, 1, 1, path, &err)) fail_msg("%s", err.msg);
    ms_graph_free(base);
    snprintf(path, sizeof path, "%s/profile.json", dir);
    assert_int_equal(fixture_profile(path, 16, 1), 0); /* threads 1, batch 1 */
    /* the profile: ref, fp32, 1 thread, batch 1 */
    const struct {
        const char *backend, *precision;
        int threads;
        const char *warning; /* NULL: none */
    } cases[] = {
        {"ref", "fp32", 1, NULL},
        {"ref", "fp32", 2, "profile.json: measured on ref, fp32, 1 threads and batch 1, but the plans run on ref, fp32, "
                           "2 threads and batch 1"},
        {"cpu", "fp32", 1, "but the plans run on cpu, fp32, 1 threads and batch 1"},
        {"cpu", "int8", 1, "but the plans run on cpu, int8, 1 threads and batch 1: the schedule's costs are not theirs "
                           "(profile again with --backend cpu --precision int8 --threads 1 --batch 1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(json, sizeof json,
                 "{\"model\": \"%s\", \"backend\": \"%s\", \"precision\": \"%s\", \"threads\": %d,"
                 " \"profile\": \"profile.json\","
                 " \"streams\": [{\"name\": \"cam\", \"url\": \"none.mp4\", \"fps\": 10}],"
                 " \"apps\": [{\"name\": \"a\", \"stream\": \"cam\", \"package\": \"a.mpk\", \"threshold\": 0.5}]}",
                 model, cases[i].backend, cases[i].precision, cases[i].threads);
        snprintf(path, sizeof path, "%s/d.json", dir);
        assert_int_equal(fixture_write(path, json), 0);
        load_warning(path, warning);
        if (!cases[i].warning) assert_string_equal(warning, "");
        else if (!strstr(warning, cases[i].warning))
            fail_msg("case %zu: the warning '%s' does not say '%s'", i, warning, cases[i].warning);
    }
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_profile_threads),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_one_object),
        cmocka_unit_test(test_stream_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
