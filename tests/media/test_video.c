/* Tests of video decoding: frame counts, rates and timestamps of the shared clips,
 * conversion of frames at several model sizes through the converter cache, and
 * damaged or missing streams (an error or a clean end, never a crash). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/video.h"

typedef struct {
    int64_t frames;
    double last_pts;
    ms_status status;
    char msg[1024];
} walk_result;

/* Decodes the whole stream, converting every `convert_every`-th frame (0: none), and
 * checks that indices count up from 0 and timestamps increase. */
static walk_result walk(ms_video *v, int convert_every)
{
    ms_input_spec spec = {.height = 48, .width = 64, .channels = 3, .mean = 127.5f, .scale = 1.0f / 127.5f, .bgr = false};
    float out[48 * 64 * 3];
    walk_result r = {0, -1, MS_OK, ""};
    ms_error err;
    for (;;) {
        int64_t idx = -1;
        double pts = -1;
        bool end = false;
        bool convert = convert_every > 0 && r.frames % convert_every == 0;
        r.status = ms_video_next(v, &spec, MS_RESIZE_STRETCH, convert ? out : NULL, &idx, &pts, &end, &err);
        if (r.status != MS_OK) {
            snprintf(r.msg, sizeof r.msg, "%s", err.msg);
            return r;
        }
        if (end) return r;
        assert_int_equal(idx, r.frames);
        assert_true(pts > r.last_pts);
        if (convert)
            for (size_t i = 0; i < sizeof out / sizeof *out; i++) assert_true(out[i] >= -1.0f && out[i] <= 1.0f);
        r.last_pts = pts;
        r.frames++;
    }
}

static void check_clip(const char *rel, int w, int h, double fps, int64_t frames)
{
    ms_video *v;
    ms_error err;
    assert_int_equal(ms_video_open(ms_test_data(rel), &v, &err), MS_OK);
    const ms_video_info *info = ms_video_get_info(v);
    assert_int_equal(info->width, w);
    assert_int_equal(info->height, h);
    assert_float_equal(info->fps, fps, 0.01);
    assert_int_equal(info->n_frames, frames);
    walk_result r = walk(v, 50);
    assert_int_equal(r.status, MS_OK);
    assert_int_equal(r.frames, frames);
    assert_float_equal(r.last_pts, (double)(frames - 1) / fps, 0.5 / fps);
    assert_int_equal(ms_video_skipped(v), 0);
    /* after the end, the end again */
    bool end = false;
    assert_int_equal(ms_video_next(v, NULL, MS_RESIZE_STRETCH, NULL, NULL, NULL, &end, &err), MS_OK);
    assert_true(end);
    ms_video_close(v);
}

static void test_clip_counts_and_rates(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("videos/person.mp4");
    check_clip("videos/person.mp4", 768, 432, 10.0, 1394);
    check_clip("videos/car.mp4", 768, 432, 12.5, 377);
    /* train-day: "about 190 frames at about 30 fps"; the container says 183 at 30 */
    check_clip("videos/train-day.mp4", 300, 300, 30.0, 183);
}

/* Area averaging keeps a picture's mean: the mean of a 32x18 input is the mean of the
 * full 768x432 frame to within a grey level, for each channel. Converting at more
 * sizes than the cache holds and coming back gives the same bytes again. */
static void test_frame_conversion_through_the_cache(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("videos/car.mp4");
    ms_video *v;
    ms_error err;
    assert_int_equal(ms_video_open(ms_test_data("videos/car.mp4"), &v, &err), MS_OK);
    bool end;
    for (int i = 0; i < 30; i++)
        assert_int_equal(ms_video_next(v, NULL, MS_RESIZE_STRETCH, NULL, NULL, NULL, &end, &err), MS_OK);
    assert_false(end);

    ms_input_spec full = {.height = 432, .width = 768, .channels = 3, .mean = 0.0f, .scale = 1.0f, .bgr = false};
    float *big = malloc(sizeof(float) * 432 * 768 * 3);
    assert_int_equal(ms_video_convert(v, &full, MS_RESIZE_STRETCH, big, &err), MS_OK);
    double mean_full[3] = {0, 0, 0};
    for (int i = 0; i < 432 * 768; i++)
        for (int c = 0; c < 3; c++) mean_full[c] += big[3 * i + c] / (432.0 * 768.0);

    ms_input_spec small = {.height = 18, .width = 32, .channels = 3, .mean = 0.0f, .scale = 1.0f, .bgr = false};
    float first[18 * 32 * 3], again[18 * 32 * 3];
    assert_int_equal(ms_video_convert(v, &small, MS_RESIZE_STRETCH, first, &err), MS_OK);
    double mean_small[3] = {0, 0, 0};
    for (int i = 0; i < 18 * 32; i++)
        for (int c = 0; c < 3; c++) mean_small[c] += first[3 * i + c] / (18.0 * 32.0);
    for (int c = 0; c < 3; c++) assert_float_equal(mean_small[c], mean_full[c], 1.0);

    const int sizes[] = {96, 128, 160, 192, 224};
    for (int s = 0; s < 5; s++) {
        ms_input_spec spec = {.height = sizes[s], .width = sizes[s], .channels = 3, .mean = 128.0f, .scale = 1.0f / 128, .bgr = s % 2 == 1};
        assert_int_equal(ms_video_convert(v, &spec, MS_RESIZE_CENTER_CROP, big, &err), MS_OK);
    }
    assert_int_equal(ms_video_convert(v, &small, MS_RESIZE_STRETCH, again, &err), MS_OK);
    assert_memory_equal(first, again, sizeof first);
    free(big);
    ms_video_close(v);
}

static void copy_prefix(const char *from, const char *to, size_t n)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char *buf = malloc(n);
    size_t got = fread(buf, 1, n, in);
    assert_int_equal(fwrite(buf, 1, got, out), got);
    free(buf);
    fclose(in);
    fclose(out);
}

static void test_truncated_clip_ends_or_fails_cleanly(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("videos/car.mp4");
    char *dir = ms_test_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/car-third.mp4", dir);
    copy_prefix(ms_test_data("videos/car.mp4"), path, 2811553 / 3);
    ms_video *v;
    ms_error err;
    assert_int_equal(ms_video_open(path, &v, &err), MS_OK); /* the index is at the front */
    walk_result r = walk(v, 10);
    if (r.status != MS_OK) assert_non_null(strstr(r.msg, path));
    assert_true(r.frames > 50 && r.frames < 377);
    ms_video_close(v);

    /* cut inside the index (the moov box is 9600 bytes): FFmpeg still opens it from what
     * it read, but there is nothing to play, so an error or an immediate end */
    copy_prefix(ms_test_data("videos/car.mp4"), path, 1000);
    if (ms_video_open(path, &v, &err) == MS_OK) {
        r = walk(v, 1);
        if (r.status != MS_OK) assert_non_null(strstr(r.msg, path));
        assert_int_equal(r.frames, 0);
        ms_video_close(v);
    } else {
        assert_non_null(strstr(err.msg, path));
    }
    ms_test_rmdir(dir);
}

static void test_missing_and_wrong_streams(void **state)
{
    (void)state;
    ms_video *v = NULL;
    ms_error err;
    assert_int_equal(ms_video_open("/nonexistent/clip.mp4", &v, &err), MS_ERR_IO);
    assert_null(v);
    assert_non_null(strstr(err.msg, "/nonexistent/clip.mp4"));

    char *dir = ms_test_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/clip.mp4", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a video\n", f);
    fclose(f);
    assert_int_equal(ms_video_open(path, &v, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));

    if (ms_test_data_exists("videos/train-day.mp4")) {
        assert_int_equal(ms_video_open(ms_test_data("videos/train-day.mp4"), &v, &err), MS_OK);
        ms_input_spec spec = {.height = 8, .width = 8, .channels = 3, .mean = 0, .scale = 1, .bgr = false};
        float out[8 * 8 * 3];
        assert_int_equal(ms_video_convert(v, &spec, MS_RESIZE_STRETCH, out, &err), MS_ERR_INVALID);
        assert_null(ms_video_frame(v));
        ms_video_close(v);
    }
    ms_test_rmdir(dir);
}

/* FFmpeg options at the open: ones the file's demuxer and the format layer take open it;
 * one they leave unused, and a value FFmpeg refuses, fail it naming the option. */
static void test_open_options(void **state)
{
    (void)state;
    assert_true(ms_video_option_known("rtsp_transport"));
    assert_true(ms_video_option_known("timeout"));
    assert_true(ms_video_option_known("probesize"));
    assert_false(ms_video_option_known("no_such_option"));
    assert_false(ms_video_option_known("stimeout")); /* gone in FFmpeg 5 */
    ms_video_options o = {0}, copy;
    assert_true(ms_video_options_add(&o, "probesize", "5000000"));
    assert_true(ms_video_options_add(&o, "ignore_editlist", "1")); /* the mov demuxer's own */
    assert_true(ms_video_options_copy(&o, &copy));
    assert_int_equal(copy.n, 2);
    assert_string_equal(copy.keys[1], "ignore_editlist");
    assert_string_equal(copy.values[0], "5000000");
    ms_video_options_free(&o);
    assert_int_equal(o.n, 0);
    MS_REQUIRE_DATA("videos/car.mp4");
    const char *url = ms_test_data("videos/car.mp4");
    ms_video *v = NULL;
    ms_error err;
    if (ms_video_open_with(url, &copy, &v, &err)) fail_msg("%s", err.msg);
    bool end;
    assert_int_equal(ms_video_next(v, NULL, MS_RESIZE_STRETCH, NULL, NULL, NULL, &end, &err), MS_OK);
    assert_false(end);
    ms_video_close(v);
    ms_video_options_free(&copy);
    ms_video_options unused = {0}, bad = {0};
    assert_true(ms_video_options_add(&unused, "probesize", "5000000"));
    assert_true(ms_video_options_add(&unused, "rtsp_transport", "tcp"));
    assert_int_equal(ms_video_open_with(url, &unused, &v, &err), MS_ERR_INVALID);
    assert_null(v);
    assert_non_null(strstr(err.msg, "options.rtsp_transport: not used by FFmpeg's mov,mp4"));
    assert_null(strstr(err.msg, "probesize"));
    assert_true(ms_video_options_add(&bad, "probesize", "lots"));
    assert_int_equal(ms_video_open_with(url, &bad, &v, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "cannot open with its options"));
    ms_video_options_free(&unused);
    ms_video_options_free(&bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_counts_and_rates),
        cmocka_unit_test(test_frame_conversion_through_the_cache),
        cmocka_unit_test(test_truncated_clip_ends_or_fails_cleanly),
        cmocka_unit_test(test_missing_and_wrong_streams),
        cmocka_unit_test(test_open_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
