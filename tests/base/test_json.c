/* Strict JSON configs: unknown keys are refused with the nearest known key suggested,
 * repeated keys are refused, format versions are checked, and exact numbers read back as
 * written. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "base/json.h"

static const char *const known[] = {"threshold", "threads", "stream", "streams", "x_vote", "url", NULL};

static void test_nearest_key(void **state)
{
    (void)state;
    assert_string_equal(ms_json_nearest_key("treshold", known), "threshold");
    assert_string_equal(ms_json_nearest_key("Threads", known), "threads"); /* case folded: distance 0 */
    assert_string_equal(ms_json_nearest_key("xvote", known), "x_vote");
    assert_string_equal(ms_json_nearest_key("uri", known), "url");
    assert_string_equal(ms_json_nearest_key("steams", known), "streams"); /* 1 edit; "stream" is 2 */
    assert_null(ms_json_nearest_key("colour", known));
    /* keys longer than the distance table never match, and do not crash */
    char longkey[200];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_null(ms_json_nearest_key(longkey, known));
}

static ms_status check(const char *json, ms_error *err)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    ms_status s = ms_json_check_keys(o, "f.json: apps[1]", known, err);
    cJSON_Delete(o);
    return s;
}

static void test_check_keys(void **state)
{
    (void)state;
    ms_error err;
    assert_int_equal(check("{\"threshold\": 1, \"url\": \"x\"}", &err), MS_OK);
    assert_int_equal(check("{}", &err), MS_OK);
    assert_int_equal(check("{\"url\": 1, \"treshold\": 1}", &err), MS_ERR_FORMAT);
    assert_string_equal(err.msg, "f.json: apps[1]: unknown key \"treshold\" (did you mean \"threshold\"?)");
    assert_int_equal(check("{\"colour\": 1}", &err), MS_ERR_FORMAT);
    assert_string_equal(err.msg, "f.json: apps[1]: unknown key \"colour\"");
    assert_int_equal(check("{\"url\": 1, \"x_vote\": 2, \"url\": 3}", &err), MS_ERR_FORMAT);
    assert_string_equal(err.msg, "f.json: apps[1]: key \"url\" appears twice");
}

static ms_status version(const char *json, ms_error *err)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    ms_status s = ms_json_check_version(o, "p.json", 1, err);
    cJSON_Delete(o);
    return s;
}

static void test_versions(void **state)
{
    (void)state;
    ms_error err;
    assert_int_equal(version("{}", &err), MS_OK); /* before versions: version 1 */
    assert_int_equal(version("{\"format_version\": 1}", &err), MS_OK);
    assert_int_equal(version("{\"format_version\": 2}", &err), MS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "p.json: format_version 2 is newer than this build reads (1)"));
    assert_int_equal(version("{\"format_version\": 0}", &err), MS_ERR_FORMAT);
    assert_int_equal(version("{\"format_version\": 1.5}", &err), MS_ERR_FORMAT);
    assert_int_equal(version("{\"format_version\": \"1\"}", &err), MS_ERR_FORMAT);
    cJSON *o = cJSON_CreateObject();
    assert_true(ms_json_add_version(o, 1));
    assert_int_equal(cJSON_GetObjectItem(o, "format_version")->valueint, 1);
    cJSON_Delete(o);
}

/* Numbers written by ms_json_add_exact read back as the same doubles, in few digits
 * when few suffice. 0.0063394999597221613 is a measured unit cost that cJSON's own
 * printing (15 digits, accepted when within an epsilon) read back one bit off. */
static void test_exact_numbers(void **state)
{
    (void)state;
    const double values[] = {0.0063394999597221613, 0.1, 1.0 / 3, 0.5, 12, 1e-300, 123456789.123456789, -2.5e17};
    cJSON *o = cJSON_CreateObject();
    assert_non_null(o);
    char key[16];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "v%d", i);
        assert_true(ms_json_add_exact(o, key, values[i]));
    }
    char *text = cJSON_PrintUnformatted(o);
    assert_non_null(strstr(text, "\"v1\":0.1,"));
    assert_non_null(strstr(text, "\"v3\":0.5,"));
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "v%d", i);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(back, key);
        assert_true(cJSON_IsNumber(v));
        if (v->valuedouble != values[i]) fail_msg("%s: %.17g written, %.17g read", key, values[i], v->valuedouble);
    }
    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nearest_key),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_exact_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
