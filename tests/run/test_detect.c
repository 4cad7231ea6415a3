/* Event detection with x-voting on synthetic score sequences, events worked out by hand. */
#include "testutil.h"

#include "run/detect.h"

typedef struct {
    int n;
    ms_event e[8];
} events;

/* Feeds scores as samples at frames 0, step, 2*step, ... (time = frame / 10). */
static void feed(ms_detector *d, const double *scores, int n, int step, events *out)
{
    out->n = 0;
    for (int i = 0; i < n; i++) {
        ms_event e;
        if (ms_detector_push(d, (int64_t)i * step, i * step / 10.0, scores[i], &e)) out->e[out->n++] = e;
    }
    ms_event e;
    if (ms_detector_finish(d, &e)) out->e[out->n++] = e;
}

static void expect_event(const ms_event *e, int64_t start, int64_t end, double score)
{
    assert_int_equal(e->start_frame, start);
    assert_int_equal(e->end_frame, end);
    assert_float_equal(e->start_s, start / 10.0, 1e-12);
    assert_float_equal(e->end_s, end / 10.0, 1e-12);
    assert_float_equal(e->score, score, 1e-12);
}

/* threshold 0.5, x = 1: every run of positives is an event; the threshold itself counts. */
static void test_single_vote(void **state)
{
    (void)state;
    const double s[] = {0.1, 0.6, 0.9, 0.2, 0.5, 0.4, 0.7, 0.8};
    ms_detector d;
    ms_detector_init(&d, 0.5, 1);
    events ev;
    feed(&d, s, 8, 1, &ev);
    assert_int_equal(ev.n, 3);
    expect_event(&ev.e[0], 1, 2, 0.9);
    expect_event(&ev.e[1], 4, 4, 0.5);
    expect_event(&ev.e[2], 6, 7, 0.8); /* closed by the end of the stream */
}

/* x = 3: runs of 2 are ignored; the event starts at the first sample of the run of 3. */
static void test_x_vote(void **state)
{
    (void)state;
    const double s[] = {0.9, 0.8, 0.1, 0.6, 0.7, 0.95, 0.6, 0.2, 0.7, 0.7, 0.1, 0.8, 0.9, 0.99};
    ms_detector d;
    ms_detector_init(&d, 0.5, 3);
    events ev;
    feed(&d, s, 14, 5, &ev); /* samples every 5th frame */
    assert_int_equal(ev.n, 2);
    expect_event(&ev.e[0], 15, 30, 0.95); /* samples 3..6 */
    expect_event(&ev.e[1], 55, 65, 0.99); /* samples 11..13, at the end */
    assert_false(ms_detector_open(&d));
}

/* An event is open only once the x-th positive arrives. */
static void test_open_state(void **state)
{
    (void)state;
    ms_detector d;
    ms_detector_init(&d, 0.3, 2);
    ms_event e;
    assert_false(ms_detector_push(&d, 0, 0, 0.4, &e));
    assert_false(ms_detector_open(&d));
    assert_false(ms_detector_push(&d, 1, 0.1, 0.35, &e));
    assert_true(ms_detector_open(&d));
    assert_true(ms_detector_push(&d, 2, 0.2, 0.1, &e));
    expect_event(&e, 0, 1, 0.4);
    assert_false(ms_detector_finish(&d, &e));
}

/* The wall clock of an event's first sample comes with it (x = 2: a run too short to
 * count does not set it); without one it is 0. */
static void test_start_wall(void **state)
{
    (void)state;
    const double s[] = {0.6, 0.1, 0.7, 0.8, 0.9, 0.2, 0.9, 0.9};
    ms_detector d;
    ms_detector_init(&d, 0.5, 2);
    events ev = {0};
    for (int i = 0; i < 8; i++) {
        ms_event e;
        if (ms_detector_push_at(&d, i, i / 10.0, 1000.0 + i * 0.25, s[i], &e)) ev.e[ev.n++] = e;
    }
    ms_event e;
    if (ms_detector_finish(&d, &e)) ev.e[ev.n++] = e;
    assert_int_equal(ev.n, 2);
    expect_event(&ev.e[0], 2, 4, 0.9);
    assert_true(ev.e[0].start_wall_s == 1000.5);
    expect_event(&ev.e[1], 6, 7, 0.9);
    assert_true(ev.e[1].start_wall_s == 1001.5);
    ms_detector_init(&d, 0.5, 1);
    assert_false(ms_detector_push(&d, 3, 0.3, 0.9, &e));
    assert_true(ms_detector_finish(&d, &e));
    assert_true(e.start_wall_s == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_vote),
        cmocka_unit_test(test_x_vote),
        cmocka_unit_test(test_open_state),
        cmocka_unit_test(test_start_wall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
