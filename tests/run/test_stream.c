/* Stream decoder threads: offline delivers every frame in order with its time; live
 * paces a file at its rate and drops what a slow consumer does not take (newest wins);
 * a missing file fails; an unreachable URL is retried with back-off, then fails. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../e2e/video_fixture.h"
#include "run/stream.h"

static const ms_input_spec spec = {.height = 16, .width = 16, .channels = 3, .mean = 127.5f, .scale = 1 / 127.5f};

static ms_stream *start(const char *url, bool live, bool network, int retries, ms_notifier *n)
{
    ms_stream_config cfg = {.name = "s", .url = url, .network = network, .retries = retries, .retry_s = 0.05,
                            .spec = spec, .live = live};
    ms_stream *s;
    ms_error err;
    if (ms_stream_start(&cfg, n, &s, &err)) fail_msg("%s", err.msg);
    return s;
}

/* Takes frames until the stream finishes, sleeping `pause` seconds after each. */
static int drain(ms_stream *s, ms_notifier *n, double pause, ms_frame *got, int cap)
{
    ms_frame f = {.pixels = malloc(sizeof(float) * 16 * 16 * 3)};
    assert_non_null(f.pixels);
    int k = 0;
    while (!ms_stream_finished(s)) {
        uint64_t seq = ms_notifier_seq(n);
        if (ms_stream_take(s, &f)) {
            assert_true(k < cap);
            got[k] = f;
            got[k++].pixels = NULL;
            if (pause > 0) nanosleep(&(struct timespec){0, (long)(pause * 1e9)}, NULL);
            continue;
        }
        ms_notifier_wait(n, seq, 0.05);
    }
    free(f.pixels);
    return k;
}

static char *video(int frames)
{
    char *dir = ms_test_tmpdir();
    char *path = malloc(strlen(dir) + 16);
    assert_non_null(path);
    sprintf(path, "%s/v.avi", dir);
    assert_int_equal(fixture_video(path, frames, 48, 32, 10), 0);
    free(dir);
    return path;
}

static void remove_video(char *path)
{
    *strrchr(path, '/') = '\0';
    ms_test_rmdir(path);
}

static void test_offline_every_frame(void **state)
{
    (void)state;
    char *path = video(10);
    ms_notifier n;
    ms_notifier_init(&n);
    ms_stream *s = start(path, false, false, 0, &n);
    ms_frame got[16];
    int k = drain(s, &n, 0.01, got, 16);
    assert_int_equal(k, 10);
    for (int i = 0; i < k; i++) {
        assert_int_equal(got[i].index, i);
        assert_float_equal(got[i].seconds, i / 10.0, 1e-9);
    }
    ms_stream_status st;
    ms_stream_get_status(s, &st);
    assert_int_equal(st.state, MS_STREAM_ENDED);
    assert_int_equal(st.decoded, 10);
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.dropped, 0);
    assert_float_equal(st.fps, 10, 1e-9);
    ms_stream_stop(s);
    ms_notifier_destroy(&n);
    remove_video(path);
}

/* 20 frames at 10 fps take 2 s; a consumer that needs 0.45 s a frame gets about five,
 * and the rest are dropped, newest winning. */
static void test_live_drops(void **state)
{
    (void)state;
    char *path = video(20);
    ms_notifier n;
    ms_notifier_init(&n);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ms_stream *s = start(path, true, false, 0, &n);
    ms_frame got[32];
    int k = drain(s, &n, 0.45, got, 32);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ms_stream_status st;
    ms_stream_get_status(s, &st);
    assert_int_equal(st.state, MS_STREAM_ENDED);
    assert_int_equal(st.decoded, 20);
    assert_true(wall >= 1.8); /* paced: not decoded as fast as possible */
    assert_true(k >= 2 && k <= 12);
    assert_int_equal(st.delivered, k);
    assert_int_equal(st.delivered + st.dropped, 20);
    for (int i = 1; i < k; i++) assert_true(got[i].index > got[i - 1].index);
    assert_int_equal(got[k - 1].index, 19); /* the last frame is never dropped */
    ms_stream_stop(s);
    ms_notifier_destroy(&n);
    remove_video(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    ms_notifier n;
    ms_notifier_init(&n);
    ms_stream *s = start("/nonexistent/v.avi", true, false, 3, &n);
    ms_frame got[1];
    assert_int_equal(drain(s, &n, 0, got, 1), 0);
    ms_stream_status st;
    ms_stream_get_status(s, &st);
    assert_int_equal(st.state, MS_STREAM_FAILED);
    assert_int_equal(st.reopenings, 0); /* a file is not retried */
    assert_non_null(strstr(st.error, "/nonexistent/v.avi"));
    ms_stream_stop(s);
    ms_notifier_destroy(&n);
}

static void test_unreachable_url(void **state)
{
    (void)state;
    ms_notifier n;
    ms_notifier_init(&n);
    ms_stream *s = start("rtsp://127.0.0.1:1/none", true, true, 2, &n);
    ms_frame got[1];
    assert_int_equal(drain(s, &n, 0, got, 1), 0);
    ms_stream_status st;
    ms_stream_get_status(s, &st);
    assert_int_equal(st.state, MS_STREAM_FAILED);
    assert_int_equal(st.reopenings, 2);
    assert_non_null(strstr(st.error, "rtsp://127.0.0.1:1/none"));
    assert_non_null(strstr(st.error, "gave up after 3 attempts"));
    ms_stream_stop(s);
    ms_notifier_destroy(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_every_frame),
        cmocka_unit_test(test_live_drops),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unreachable_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
