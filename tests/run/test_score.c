/* Event-level scoring (run/score.h) on hand-made label files and event lines, every
 * count worked out by hand; bad inputs fail naming the file and line. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/score.h"

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

/* Writes text to dir/name; returns the malloc'd path. */
static char *write_file(const char *name, const char *text)
{
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Labelled events [1,2], [4,4], [7,9]. */
static const char *labels_csv = "frame,present\n0,0\n1,1\n2,1\n3,0\n4,1\n5,0\n6,0\n7,1\n8,1\n9,1\n";

#define EV(stream, app, a, b)                                                                                \
    "{\"stream\":\"" stream "\",\"app\":\"" app "\",\"start_frame\":" #a ",\"end_frame\":" #b                \
    ",\"start_s\":0,\"end_s\":1,\"score\":0.9}\n"

/* Predicted for gate/car: [2,3] hits [1,2]; [5,6] hits nothing; [8,8] and [9,12] hit
 * [7,9]. Other apps' and streams' events are ignored. */
static const char *events_jsonl = EV("gate", "car", 2, 3) EV("gate", "person", 4, 4) EV("gate", "car", 5, 6)
    "\n" EV("yard", "car", 1, 9) EV("gate", "car", 8, 8) EV("gate", "car", 9, 12);

static void load(const char *labels, const char *events, long long from, ms_event_score *sc)
{
    char *lp = write_file("l.csv", labels), *ep = write_file("e.jsonl", events);
    ms_labels l;
    ms_span *p = NULL;
    int64_t np = 0;
    ms_error err;
    assert_int_equal(ms_score_load_labels(lp, &l, &err), MS_OK);
    /* allow_absent: some cases score an app that predicted nothing */
    assert_int_equal(ms_score_load_events(ep, "gate", "car", true, &p, &np, &err), MS_OK);
    assert_int_equal(ms_score_events(&l, p, np, from, sc, &err), MS_OK);
    ms_labels_free(&l);
    free(p);
    free(lp);
    free(ep);
}

static void expect_span(const ms_span *s, int64_t start, int64_t end)
{
    assert_int_equal(s->start, start);
    assert_int_equal(s->end, end);
}

static void test_labelled_runs(void **state)
{
    (void)state;
    /* frame 12 is missing: the gap ends the run [10,11]; 13 starts a new one */
    char *lp = write_file("l.csv", "frame,present\r\n0,0\r\n1,1\r\n2,1\r\n3,0\r\n10,1\r\n11,1\r\n13,1\r\n");
    ms_labels l;
    ms_error err;
    assert_int_equal(ms_score_load_labels(lp, &l, &err), MS_OK);
    assert_int_equal(l.n_present, 3);
    expect_span(&l.present[0], 1, 2);
    expect_span(&l.present[1], 10, 11);
    expect_span(&l.present[2], 13, 13);
    assert_int_equal(l.n_absent, 2);
    expect_span(&l.absent[0], 0, 0);
    expect_span(&l.absent[1], 3, 3);
    ms_labels_free(&l);
    free(lp);
}

static void test_score_whole(void **state)
{
    (void)state;
    ms_event_score sc;
    load(labels_csv, events_jsonl, 0, &sc);
    assert_int_equal(sc.labelled, 3);
    assert_int_equal(sc.detected, 2); /* [1,2] and [7,9]; [4,4] missed */
    assert_int_equal(sc.predicted, 4);
    assert_int_equal(sc.true_pos, 3); /* all but [5,6] */
    assert_float_equal(sc.recall, 2.0 / 3.0, 1e-12);
    assert_float_equal(sc.precision, 0.75, 1e-12);
    assert_float_equal(sc.f1, 12.0 / 17.0, 1e-12); /* 2 (2/3)(3/4) / (2/3 + 3/4) */
    /* absent runs [0,0], [3,3], [5,6]: frames 3, 5 and 6 lie in predicted events */
    assert_int_equal(sc.absent_frames, 4);
    assert_int_equal(sc.false_alarm_frames, 3);
    assert_float_equal(sc.false_alarm_fraction, 0.75, 1e-12);
}

static void test_score_from_frame(void **state)
{
    (void)state;
    ms_event_score sc;
    /* events starting at 4 or later: labelled [4,4], [7,9]; predicted [5,6], [8,8], [9,12] */
    load(labels_csv, events_jsonl, 4, &sc);
    assert_int_equal(sc.labelled, 2);
    assert_int_equal(sc.detected, 1);
    assert_int_equal(sc.predicted, 3);
    assert_int_equal(sc.true_pos, 2);
    assert_float_equal(sc.f1, 4.0 / 7.0, 1e-12); /* 2 (1/2)(2/3) / (1/2 + 2/3) */
    assert_int_equal(sc.absent_frames, 2); /* frames are counted from the cut: 5, 6 */
    assert_int_equal(sc.false_alarm_frames, 2);
    /* from 2: [2,3] counts, and is true: its match [1,2] started before the cut */
    load(labels_csv, events_jsonl, 2, &sc);
    assert_int_equal(sc.labelled, 2);
    assert_int_equal(sc.predicted, 4);
    assert_int_equal(sc.true_pos, 3);
    /* from 8: [7,9] started before, so no labelled event counts; [8,8] and [9,12] are true */
    load(labels_csv, events_jsonl, 8, &sc);
    assert_int_equal(sc.labelled, 0);
    assert_int_equal(sc.detected, 0);
    assert_int_equal(sc.predicted, 2);
    assert_int_equal(sc.true_pos, 2);
    assert_float_equal(sc.f1, 1.0, 1e-12);
    assert_int_equal(sc.absent_frames, 0);
    assert_float_equal(sc.false_alarm_fraction, 0.0, 0);
    /* a labelled event after the cut caught by a predicted one that starts before it */
    load(labels_csv, EV("gate", "car", 3, 5), 4, &sc);
    assert_int_equal(sc.labelled, 2);
    assert_int_equal(sc.detected, 1);
    assert_int_equal(sc.predicted, 0);
    assert_float_equal(sc.precision, 1.0, 0);
}

static void test_score_edges(void **state)
{
    (void)state;
    ms_event_score sc;
    /* one predicted event across two labelled ones detects both and counts once */
    load(labels_csv, EV("gate", "car", 2, 4), 0, &sc);
    assert_int_equal(sc.detected, 2);
    assert_int_equal(sc.true_pos, 1);
    assert_float_equal(sc.recall, 2.0 / 3.0, 1e-12);
    assert_float_equal(sc.precision, 1.0, 1e-12);
    assert_int_equal(sc.false_alarm_frames, 1); /* frame 3 */
    /* one event over everything: perfect event scores, every absent frame a false alarm;
     * overlapping predicted events are counted once per frame */
    load(labels_csv, EV("gate", "car", 0, 9) EV("gate", "car", 4, 6), 0, &sc);
    assert_float_equal(sc.f1, 1.0, 1e-12);
    assert_int_equal(sc.false_alarm_frames, 4);
    assert_float_equal(sc.false_alarm_fraction, 1.0, 1e-12);
    /* touching by one frame at either end overlaps; one frame short does not */
    load(labels_csv, EV("gate", "car", 0, 1) EV("gate", "car", 9, 9) EV("gate", "car", 5, 6), 0, &sc);
    assert_int_equal(sc.detected, 2);
    assert_int_equal(sc.true_pos, 2);
    /* nothing predicted: recall 0, precision 1 (nothing false), F1 0 */
    load(labels_csv, "", 0, &sc);
    assert_int_equal(sc.predicted, 0);
    assert_float_equal(sc.recall, 0.0, 0);
    assert_float_equal(sc.precision, 1.0, 0);
    assert_float_equal(sc.f1, 0.0, 0);
    /* only false alarms: both 0, F1 0 */
    load(labels_csv, EV("gate", "car", 5, 6), 0, &sc);
    assert_float_equal(sc.recall, 0.0, 0);
    assert_float_equal(sc.precision, 0.0, 0);
    assert_float_equal(sc.f1, 0.0, 0);
    /* no labelled event and none predicted: nothing missed, nothing false */
    load("frame,present\n0,0\n1,0\n", "", 0, &sc);
    assert_int_equal(sc.labelled, 0);
    assert_float_equal(sc.f1, 1.0, 0);
}

/* Loading fails with a format error whose message names the file and contains want. */
static void expect_labels_error(const char *text, const char *want)
{
    char *lp = write_file("bad.csv", text);
    ms_labels l;
    ms_error err;
    assert_int_equal(ms_score_load_labels(lp, &l, &err), MS_ERR_FORMAT);
    assert_null(l.present);
    assert_null(l.absent);
    if (!strstr(err.msg, lp) || !strstr(err.msg, want)) fail_msg("message '%s' lacks '%s'", err.msg, want);
    free(lp);
}

static void expect_events_error(const char *text, const char *want)
{
    char *ep = write_file("bad.jsonl", text);
    ms_span *p = NULL;
    int64_t n = 0;
    ms_error err;
    assert_int_equal(ms_score_load_events(ep, "gate", "car", false, &p, &n, &err), MS_ERR_FORMAT);
    assert_null(p);
    if (!strstr(err.msg, ep) || !strstr(err.msg, want)) fail_msg("message '%s' lacks '%s'", err.msg, want);
    free(ep);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_labels_error("frame,label\n0,1\n", "line 1: expected the header");
    expect_labels_error("", "line 1: expected the header");
    expect_labels_error("frame,present\n0,1\n1,2\n", "line 3: present '2' is not 0 or 1");
    expect_labels_error("frame,present\n0,1\n1, 1\n", "line 3: field 2 has spaces around it");
    expect_labels_error("frame,present\n0,1\n\"1\",1\n", "line 3: field 1 is quoted");
    expect_labels_error("frame,present\n", "no label rows");
    expect_labels_error("frame,present\n-1,1\n", "line 2: frame '-1' is not a whole number");
    expect_labels_error("frame,present\n0,1\nx,1\n", "line 3:");
    expect_labels_error("frame,present\n0,1\n1,1,\n", "line 3:");
    expect_labels_error("frame,present\n0,1\n5,1\n5,0\n", "line 4: frame 5 does not follow frame 5");
    expect_events_error(EV("gate", "car", 1, 2) "{\"stream\":\"gate\",\n", "line 2: not a JSON object");
    expect_events_error("\n\n[1,2]\n", "line 3: not a JSON object");
    expect_events_error("{\"stream\":\"gate\",\"app\":\"car\",\"start_frame\":3}\n", "line 1: missing field \"end_frame\"");
    expect_events_error("{\"stream\":\"gate\",\"app\":7,\"start_frame\":3,\"end_frame\":4}\n", "line 1: field \"app\"");
    expect_events_error(EV("gate", "car", 5, 4), "line 1: start_frame 5 and end_frame 4");
    /* a malformed line of another app still fails: the file is broken */
    expect_events_error(EV("gate", "car", 1, 2) EV("gate", "truck", -1, 2), "line 2:");

    /* a stream or app the file does not have: an error naming what it has */
    char *ep = write_file("names.jsonl", events_jsonl);
    ms_span *p = NULL;
    int64_t np = 0;
    ms_error e2;
    assert_int_equal(ms_score_load_events(ep, "gaet", "car", false, &p, &np, &e2), MS_ERR_INVALID);
    if (!strstr(e2.msg, "no event of stream 'gaet' (did you mean 'gate'?) (streams in the file: 'gate', 'yard')"))
        fail_msg("%s", e2.msg);
    assert_int_equal(ms_score_load_events(ep, "yard", "person", false, &p, &np, &e2), MS_ERR_INVALID);
    if (!strstr(e2.msg, "no event of app 'person' on stream 'yard' (apps on it: 'car')")) fail_msg("%s", e2.msg);
    /* ...unless the caller knows the app ran there: then no event is recall 0 */
    assert_int_equal(ms_score_load_events(ep, "yard", "person", true, &p, &np, &e2), MS_OK);
    assert_int_equal(np, 0);
    free(ep);

    ms_labels labels;
    ms_span *l = NULL;
    int64_t n = 0;
    ms_error err;
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    assert_int_equal(ms_score_load_labels(missing, &labels, &err), MS_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
    assert_int_equal(ms_score_load_events(missing, "gate", "car", false, &l, &n, &err), MS_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labelled_runs),    cmocka_unit_test(test_score_whole),
        cmocka_unit_test(test_score_from_frame), cmocka_unit_test(test_score_edges),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
