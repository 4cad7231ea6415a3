/* Tests of `mainstream schedule` and `mainstream simulate`: a good scenario (table, JSON,
 * -o FILE, profile), and bad ones failing with messages that name the field. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = ms_test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ms_test_rmdir(dir);
    return 0;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define APP(name, extra, curve)                                                              \
    "{\"name\": \"" name "\", \"event_length_ms\": 500, \"event_frequency\": 0.2, "          \
    "\"correlation\": 0.1" extra ", \"curve\": " curve "}"
#define CURVE "[{\"chokepoint\": 0, \"tpr\": 0.9, \"fpr\": 0.05}, {\"chokepoint\": 2, \"tpr\": 0.8, \"fpr\": 0.1}]"

static const char *good =
    "{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [2, 1.5, 0.5],\n"
    " \"apps\": [" APP("trains", "", CURVE) ", " APP("cars", ", \"x_vote\": 2, \"weight\": 2", CURVE) "]}\n";

/* Runs the CLI on a scenario text; returns the exit status, stderr in *errout. */
static int run_schedule(const char *text, const char *extra, char **out, char **errout)
{
    const char *path = write_file("s.json", text);
    const char *args[8] = {"schedule", path, NULL};
    int n = 2;
    if (extra) args[n++] = extra;
    args[n] = NULL;
    return ms_test_run_cli(args, out, errout);
}

static void test_schedule_json(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_schedule(good, "--json", &out, &err), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetObjectItem(doc, "format_version")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(doc, "policy")->valuestring, "mainstream");
    assert_string_equal(cJSON_GetObjectItem(doc, "objective")->valuestring, "f1");
    double value = cJSON_GetObjectItem(doc, "value")->valuedouble;
    double cost = cJSON_GetObjectItem(doc, "cost")->valuedouble;
    assert_true(value > 0 && value <= 1);
    assert_true(cost > 0 && cost <= 40 + 1e-9);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "exact")));
    cJSON *apps = cJSON_GetObjectItem(doc, "apps");
    assert_int_equal(cJSON_GetArraySize(apps), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(apps, 1), "name")->valuestring, "cars");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(apps, 0), "recall"));
    assert_non_null(cJSON_GetObjectItem(doc, "stem"));
    assert_non_null(cJSON_GetObjectItem(doc, "stem_tree"));
    cJSON_Delete(doc);
    free(out);
    free(err);
}

static void test_schedule_table_policies_and_output(void **state)
{
    (void)state;
    const char *policies[4] = {"mainstream", "greedy", "maxsharing", "nosharing"};
    for (int i = 0; i < 4; i++) {
        const char *path = write_file("s.json", good);
        char opt[64], outpath[512];
        snprintf(opt, sizeof opt, "--policy=%s", policies[i]);
        snprintf(outpath, sizeof outpath, "%s/out.json", dir);
        const char *args[] = {"schedule", path, opt, "--compat", "-o", outpath, NULL};
        char *out, *err;
        assert_int_equal(ms_test_run_cli(args, &out, &err), 0);
        assert_non_null(strstr(out, "trains"));
        assert_non_null(strstr(out, policies[i]));
        assert_int_equal(access(outpath, R_OK), 0);
        assert_non_null(strstr(out, "\nstem tree:\ninput\n"));
        free(out);
        free(err);
    }
    /* --dot FILE: the stem tree for Graphviz, beside the table */
    const char *path = write_file("s.json", good);
    char dotpath[512];
    snprintf(dotpath, sizeof dotpath, "%s/tree.dot", dir);
    const char *args[] = {"schedule", path, "--dot", dotpath, NULL};
    char *out, *err;
    assert_int_equal(ms_test_run_cli(args, &out, &err), 0);
    assert_non_null(strstr(out, "trains"));
    FILE *f = fopen(dotpath, "r");
    assert_non_null(f);
    char text[4096];
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "digraph stem_tree {"));
    assert_non_null(strstr(text, "trains\\ncp "));
    free(out);
    free(err);
}

static void test_schedule_profile(void **state)
{
    (void)state;
    write_file("p.json", "{\"backend\": \"ref\", \"segments\": [{\"from\": 0, \"to\": 1, \"ms\": 2}, "
                         "{\"from\": 1, \"to\": 2, \"ms\": 1.5}, {\"from\": 2, \"to\": 3, \"ms\": 0.5}]}");
    char *out, *err;
    const char *scenario = "{\"stream_fps\": 10, \"budget\": 40, \"profile\": \"p.json\", \"apps\": [" APP(
        "trains", "", CURVE) "]}";
    assert_int_equal(run_schedule(scenario, NULL, &out, &err), 0);
    free(out);
    free(err);
    const char *missing = "{\"stream_fps\": 10, \"budget\": 40, \"profile\": \"nope.json\", \"apps\": [" APP(
        "trains", "", CURVE) "]}";
    assert_int_equal(run_schedule(missing, NULL, &out, &err), 1);
    assert_non_null(strstr(err, "nope.json"));
    free(out);
    free(err);
}

/* Each bad scenario must fail with exit status 1 and a message naming what is wrong. */
static void expect_failure(const char *text, const char *extra, int status, const char *needle)
{
    char *out, *err;
    int rc = run_schedule(text, extra, &out, &err);
    if (rc != status || !strstr(err, needle))
        fail_msg("expected status %d and '%s', got %d: %s", status, needle, rc, err);
    free(out);
    free(err);
}

/* The value of `mainstream schedule --json` on a scenario text. */
static double schedule_value(const char *text)
{
    char *out, *err;
    assert_int_equal(run_schedule(text, "--json", &out, &err), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    double v = cJSON_GetObjectItem(doc, "value")->valuedouble;
    cJSON_Delete(doc);
    free(out);
    free(err);
    return v;
}

/* event_lengths_ms: one length equal to the mean gives the same schedule value as the
 * mean alone; lengths of 100 and 900 ms (mean 500) give a lower one (short events are
 * missed more often than a 500 ms event at the same rates; x-voting app included). */
static void test_event_lengths(void **state)
{
    (void)state;
    const char *one = "{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [2, 1.5, 0.5],\n"
                      " \"apps\": [" APP("trains", ", \"event_lengths_ms\": [500]", CURVE) ", " APP(
                          "cars", ", \"x_vote\": 2, \"weight\": 2, \"event_lengths_ms\": [500]", CURVE) "]}\n";
    const char *two = "{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [2, 1.5, 0.5],\n"
                      " \"apps\": [" APP("trains", ", \"event_lengths_ms\": [100, 900]", CURVE) ", " APP(
                          "cars", ", \"x_vote\": 2, \"weight\": 2, \"event_lengths_ms\": [100, 900]", CURVE) "]}\n";
    double base = schedule_value(good);
    assert_float_equal(schedule_value(one), base, 1e-12);
    assert_true(schedule_value(two) < base - 1e-3);
}

static void test_bad_scenarios(void **state)
{
    (void)state;
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1], \"apps\": [{\"name\": \"a\", "
                   "\"event_length_ms\": 500, \"event_frequency\": 0.2, \"curve\": " CURVE "}]}",
                   NULL, 1, "apps[0]: missing field \"correlation\"");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [{\"name\": \"a\", "
                   "\"event_length_ms\": 500, \"event_frequency\": -0.2, \"correlation\": 0, \"curve\": " CURVE
                   "}]}",
                   NULL, 1, "apps[0].event_frequency");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP("a", "", "[]") "]}",
                   NULL, 1, "apps[0].curve: must not be empty");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"fps_options\": [1, 20], "
                   "\"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "fps_options[1]");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, -1], \"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "unit_costs[1]");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1], \"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "apps[0].curve[1].chokepoint");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", ", \"package\": \"a.safetensors\"", CURVE) "]}",
                   NULL, 1, "apps[0].package");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", ", \"x_vote\": 0", CURVE) "]}",
                   NULL, 1, "apps[0].x_vote");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", ", \"event_lengths_ms\": []", CURVE) "]}",
                   NULL, 1, "apps[0].event_lengths_ms: must not be empty");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", ", \"event_lengths_ms\": [500, 0]", CURVE) "]}",
                   NULL, 1, "apps[0].event_lengths_ms[1]: must be a number > 0");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": []}", NULL, 1,
                   "apps: must not be empty");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [", NULL, 1,
                   "invalid JSON");
    /* strict keys, with the nearest known key suggested; versions */
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_cost\": [1, 1], \"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "s.json: unknown key \"unit_cost\" (did you mean \"unit_costs\"?)");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", ", \"xvote\": 2", CURVE) "]}",
                   NULL, 1, "s.json: apps[0]: unknown key \"xvote\" (did you mean \"x_vote\"?)");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", "", "[{\"chokepoint\": 0, \"tpr\": 0.9, \"fnr\": 0.05}]") "]}",
                   NULL, 1, "s.json: apps[0].curve[0]: unknown key \"fnr\" (did you mean \"fpr\"?)");
    expect_failure("{\"format_version\": 7, \"stream_fps\": 10, \"budget\": 40, \"unit_costs\": [1, 1], \"apps\": [" APP(
                       "a", "", CURVE) "]}",
                   NULL, 1, "s.json: format_version 7 is newer than this build reads (1)");
    write_file("p2.json", "{\"format_version\": 1, \"segments\": [{\"from\": 0, \"to\": 1, \"msec\": 2}]}");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"profile\": \"p2.json\", \"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "p2.json: segments[0]: unknown key \"msec\" (did you mean \"ms\"?)");
    write_file("p3.json", "{\"format_version\": 2, \"segments\": [{\"from\": 0, \"to\": 1, \"ms\": 2}]}");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"profile\": \"p3.json\", \"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "p3.json: format_version 2 is newer");
    write_file("p4.json", "{\"segments\": [{\"from\": 0, \"to\": 1, \"ms\": 2}], \"fingerprint\": \"ab\"}");
    expect_failure("{\"stream_fps\": 10, \"budget\": 40, \"profile\": \"p4.json\", \"apps\": [" APP("a", "", CURVE) "]}",
                   NULL, 1, "p4.json: unknown key \"fingerprint\"");
    /* found by fuzz_scenario: a huge stream_fps without fps_options overflowed the
     * conversion that makes the default options */
    expect_failure("{\"stream_fps\": 44444444444444444444444444444444444410, \"budget\": 3, \"unit_costs\": [1, 1], \"apps\": ["
                   APP("a", "", CURVE) "]}",
                   NULL, 1, "s.json: stream_fps must be in (0, 1000], got 4.44444e+37");
    /* an event so long that the event model would count its samples for ever */
    expect_failure("{\"stream_fps\": 10, \"budget\": 3, \"unit_costs\": [1, 1], \"apps\": [{\"name\": \"a\", "
                   "\"event_length_ms\": 1e30, \"event_frequency\": 0.2, \"correlation\": 0.1, \"curve\": " CURVE "}]}",
                   NULL, 1, "apps[0].event_length_ms: must be in (0, 3.6e+06], got 1e+30");
    expect_failure(good, "--policy=best", 2, "unknown policy 'best'");
    expect_failure(good, "--objective=auc", 2, "unknown objective 'auc'");
    expect_failure(good, "--budget=0.001", 1, "no schedule fits the budget");
}

/* Several streams under one budget: the JSON names every stream with its apps, costs
 * within the budget, and the value is the mean F1 over all apps (weights honoured). */
static void test_schedule_streams(void **state)
{
    (void)state;
    const char *text =
        "{\"budget\": 30, \"unit_costs\": [2, 1.5, 0.5], \"streams\": ["
        "{\"name\": \"gate\", \"stream_fps\": 10, \"apps\": [" APP("trains", "", CURVE) "]},"
        "{\"name\": \"yard\", \"stream_fps\": 5, \"apps\": [" APP("cars", ", \"weight\": 2", CURVE) ", "
        APP("bikes", "", CURVE) "]}]}";
    char *out = NULL, *err = NULL;
    assert_int_equal(run_schedule(text, "--json", &out, &err), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    const cJSON *streams = cJSON_GetObjectItemCaseSensitive(doc, "streams");
    assert_int_equal(cJSON_GetArraySize(streams), 2);
    double cost = 0, sum = 0, weight = 0;
    const char *names[2] = {"gate", "yard"};
    const double weights[2][2] = {{1, 0}, {2, 1}};
    for (int s = 0; s < 2; s++) {
        const cJSON *st = cJSON_GetArrayItem(streams, s);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "name")), names[s]);
        cost += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "cost"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(st, "stem_tree"));
        const cJSON *apps = cJSON_GetObjectItemCaseSensitive(st, "apps");
        assert_int_equal(cJSON_GetArraySize(apps), s + 1);
        for (int a = 0; a <= s; a++) {
            sum += weights[s][a] * cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(apps, a), "f1"));
            weight += weights[s][a];
        }
    }
    assert_true(cost <= 30 * (1 + 1e-9));
    assert_float_equal(cost, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "cost")), 1e-9);
    assert_float_equal(sum / weight, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "value")), 1e-9);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "exact")));
    cJSON_Delete(doc);
    free(out);
    free(err);
    /* the table lists both streams */
    assert_int_equal(run_schedule(text, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "yard"));
    assert_non_null(strstr(out, "2 streams"));
    free(out);
    free(err);
    expect_failure("{\"budget\": 3, \"unit_costs\": [2, 1.5, 0.5], \"streams\": [{\"name\": \"a\", \"stream_fps\": 5, "
                   "\"apps\": [" APP("x", "", CURVE) "]}, {\"name\": \"a\", \"stream_fps\": 5, \"apps\": ["
                   APP("y", "", CURVE) "]}]}",
                   NULL, 1, "streams[1].name: 'a' is used by streams[0] too");
    expect_failure("{\"budget\": 3, \"unit_costs\": [2, 1.5, 0.5], \"streams\": [{\"name\": \"a\", \"apps\": ["
                   APP("x", "", CURVE) "]}]}", NULL, 1, "streams[0]: missing field \"stream_fps\"");
    expect_failure("{\"budget\": 3, \"unit_costs\": [1], \"streams\": []}", NULL, 1, "streams: must not be empty");
    expect_failure("{\"budget\": 3, \"unit_costs\": [1], \"streams\": 5}", NULL, 1, "streams: must be an array");
}

static void test_simulate(void **state)
{
    (void)state;
    char prefix[512], path[600];
    snprintf(prefix, sizeof prefix, "%s/sim", dir);
    const char *missing[] = {"simulate", "--reference", "/nonexistent/apps.json", "-o", prefix, NULL};
    char *out, *err;
    assert_int_equal(ms_test_run_cli(missing, &out, &err), 1);
    assert_non_null(strstr(err, "/nonexistent/apps.json"));
    free(out);
    free(err);
    MS_REQUIRE_DATA("reference/mobilenet_apps.json");
    const char *args[] = {"simulate", "--reference", ms_test_data("reference/mobilenet_apps.json"),
                          "--max-apps", "3", "-o", prefix, NULL};
    assert_int_equal(ms_test_run_cli(args, &out, &err), 0);
    assert_non_null(strstr(out, "3,compat,nosharing,"));
    snprintf(path, sizeof path, "%s.svg", prefix);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s.csv", prefix);
    assert_int_equal(access(path, R_OK), 0);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_json),
        cmocka_unit_test(test_schedule_table_policies_and_output),
        cmocka_unit_test(test_schedule_profile),
        cmocka_unit_test(test_bad_scenarios),
        cmocka_unit_test(test_event_lengths),
        cmocka_unit_test(test_schedule_streams),
        cmocka_unit_test(test_simulate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
