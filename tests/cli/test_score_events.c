/* `mainstream score-events`: the JSON and table outputs on a hand-made label file and
 * events (counts worked out by hand), --from-frame, and failures naming file and line. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir_path[4096], labels[4200], events[4200];

static int setup(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    snprintf(dir_path, sizeof dir_path, "%s", dir);
    free(dir);
    snprintf(labels, sizeof labels, "%s/l.csv", dir_path);
    snprintf(events, sizeof events, "%s/e.jsonl", dir_path);
    FILE *f = fopen(labels, "w");
    assert_non_null(f);
    /* labelled events [1,2], [5,7] */
    fputs("frame,present\n0,0\n1,1\n2,1\n3,0\n4,0\n5,1\n6,1\n7,1\n8,0\n", f);
    fclose(f);
    f = fopen(events, "w");
    assert_non_null(f);
    /* gate/car: [0,1] hits [1,2]; [3,4] is false; yard/car is another stream */
    fputs("{\"stream\":\"gate\",\"app\":\"car\",\"start_frame\":0,\"end_frame\":1,\"start_s\":0,\"end_s\":0.1,\"score\":0.8}\n"
          "{\"stream\":\"yard\",\"app\":\"car\",\"start_frame\":5,\"end_frame\":6,\"start_s\":0.5,\"end_s\":0.6,\"score\":0.7}\n"
          "{\"stream\":\"gate\",\"app\":\"car\",\"start_frame\":3,\"end_frame\":4,\"start_s\":0.3,\"end_s\":0.4,\"score\":0.9}\n",
          f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *dir = strdup(dir_path);
    ms_test_rmdir(dir);
    return 0;
}

static double number(const cJSON *o, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_json(void **state)
{
    (void)state;
    const char *args[] = {"score-events", "--events", events, "--labels", labels, "--stream", "gate", "--app", "car",
                          "--json", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(ms_test_run_cli(args, &out, &err), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_int_equal((int)number(o, "labelled"), 2);
    assert_int_equal((int)number(o, "detected"), 1);
    assert_int_equal((int)number(o, "predicted"), 2);
    assert_int_equal((int)number(o, "true_positives"), 1);
    assert_float_equal(number(o, "recall"), 0.5, 1e-12);
    assert_float_equal(number(o, "precision"), 0.5, 1e-12);
    assert_float_equal(number(o, "f1"), 0.5, 1e-12);
    assert_int_equal((int)number(o, "from_frame"), 0);
    /* absent [0,0], [3,4], [8,8]: 0, 3 and 4 inside predicted events */
    assert_int_equal((int)number(o, "absent_frames"), 4);
    assert_int_equal((int)number(o, "false_alarm_frames"), 3);
    assert_float_equal(number(o, "false_alarm_fraction"), 0.75, 1e-12);
    cJSON_Delete(o);
    free(out);
    free(err);
}

static void test_table_from_frame(void **state)
{
    (void)state;
    /* events from frame 2: labelled [5,7]; predicted [3,4]: recall 0, precision 0 */
    const char *args[] = {"score-events", "--events", events, "--labels", labels, "--stream", "gate", "--app", "car",
                          "--from-frame", "2", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(ms_test_run_cli(args, &out, &err), 0);
    assert_non_null(strstr(out, "labelled 1, detected 0: recall 0.000"));
    assert_non_null(strstr(out, "predicted 1, true positives 0: precision 0.000"));
    assert_non_null(strstr(out, "F1 0.000"));
    assert_non_null(strstr(out, "absent frames 3, inside predicted events 2: false-alarm fraction 0.667"));
    free(out);
    free(err);
}

static void test_errors(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    /* the events file given as labels: its first line is not the header */
    const char *bad[] = {"score-events", "--events", events, "--labels", events, "--stream", "gate", "--app", "car", NULL};
    assert_int_equal(ms_test_run_cli(bad, &out, &err), 1);
    assert_non_null(strstr(err, events));
    assert_non_null(strstr(err, "line 1: expected the header"));
    assert_string_equal(out, "");
    free(out);
    free(err);
    /* the labels given as events: line 1 is not JSON */
    const char *swapped[] = {"score-events", "--events", labels, "--labels", labels, "--stream", "gate", "--app", "car",
                             NULL};
    assert_int_equal(ms_test_run_cli(swapped, &out, &err), 1);
    assert_non_null(strstr(err, labels));
    assert_non_null(strstr(err, "line 1: not a JSON object"));
    free(out);
    free(err);
    const char *usage[] = {"score-events", "--events", events, "--stream", "gate", "--app", "car", NULL};
    assert_int_equal(ms_test_run_cli(usage, &out, &err), 2);
    assert_non_null(strstr(err, "--labels"));
    free(out);
    free(err);
    /* a misspelt app is an error, not recall 0 */
    const char *typo[] = {"score-events", "--events", events, "--labels", labels, "--stream", "gate", "--app", "cars", NULL};
    assert_int_equal(ms_test_run_cli(typo, &out, &err), 1);
    assert_non_null(strstr(err, "no event of app 'cars' on stream 'gate' (did you mean 'car'?)"));
    assert_string_equal(out, "");
    free(out);
    free(err);
    /* with the run's stats vouching for it, an app with no event scores recall 0 */
    char stats[4300];
    snprintf(stats, sizeof stats, "%s/stats.json", dir_path);
    FILE *f = fopen(stats, "w");
    assert_non_null(f);
    fputs("{\"format_version\": 1, \"apps\": [{\"name\": \"bus\", \"stream\": \"gate\", \"events\": 0}]}\n", f);
    fclose(f);
    const char *quiet[] = {"score-events", "--events", events, "--labels", labels, "--stream", "gate", "--app", "bus",
                           "--stats", stats, NULL};
    assert_int_equal(ms_test_run_cli(quiet, &out, &err), 0);
    assert_non_null(strstr(out, "labelled 2, detected 0: recall 0.000"));
    free(out);
    free(err);
    const char *unlisted[] = {"score-events", "--events", events, "--labels", labels, "--stream", "gate", "--app", "van",
                              "--stats", stats, NULL};
    assert_int_equal(ms_test_run_cli(unlisted, &out, &err), 1);
    assert_non_null(strstr(err, "stats.json: apps: no app 'van' on stream 'gate'"));
    free(out);
    free(err);
    const char *neg[] = {"score-events", "--events", events, "--labels", labels, "--stream", "gate", "--app", "car",
                         "--from-frame", "-3", NULL};
    assert_int_equal(ms_test_run_cli(neg, &out, &err), 2);
    assert_non_null(strstr(err, "--from-frame"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_table_from_frame),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
