/* Tests of the trainer's parts with hand-computed values: event statistics and the miss
 * correlation estimator, optimiser steps and schedules, the seeded image split, the
 * time split of a labelled video and its CSV errors, augmentation, and the feature
 * store's spill to a mapped file. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "train/augment.h"
#include "train/dataset.h"
#include "train/events.h"
#include "train/features.h"
#include "train/optim.h"

static void test_event_statistics(void **state)
{
    (void)state;
    /* 10 fps: events of 3 and 2 frames (300 and 200 ms) in 10 frames; 5 of 10 frames present */
    bool present[10] = {0, 1, 1, 1, 0, 0, 1, 1, 0, 0};
    ms_event_stats ev = {0};
    ms_error err;
    assert_int_equal(ms_events_add(present, 10, 10.0, &ev, &err), MS_OK);
    assert_true(ev.known);
    assert_int_equal(ev.n_lengths, 2);
    assert_float_equal(ev.lengths_ms[0], 300.0, 1e-9);
    assert_float_equal(ev.lengths_ms[1], 200.0, 1e-9);
    assert_float_equal(ev.length_mean_ms, 250.0, 1e-9);
    assert_float_equal(ev.frequency, 0.5, 1e-9);
    assert_float_equal(ev.events_per_minute, 2 * 60.0, 1e-9); /* 2 events in one second */
    /* a second stream of 10 frames, one 1-frame event: 3 events in 2 s, 6 of 20 frames */
    bool more[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(ms_events_add(more, 10, 10.0, &ev, &err), MS_OK);
    assert_int_equal(ev.n_lengths, 3);
    assert_float_equal(ev.frequency, 0.3, 1e-9);
    assert_float_equal(ev.events_per_minute, 90.0, 1e-9);
    assert_float_equal(ev.length_mean_ms, 200.0, 1e-9);
    assert_int_equal(ms_events_add(more, 10, 0.0, &ev, &err), MS_ERR_INVALID);
    free(ev.lengths_ms);
}

static void test_miss_correlation(void **state)
{
    (void)state;
    /* one event of 8 frames, detections 1 0 0 0 1 1 0 1: p = 4/8 = 0.5; pairs whose first
     * is missed: (0,0) (0,0) (0,1) (0,1) -> n1 = 4, n11 = 2, c = 0.5; r = (0.5 - 0.5)/0.5 = 0 */
    bool present[8] = {1, 1, 1, 1, 1, 1, 1, 1}, det[8] = {1, 0, 0, 0, 1, 1, 0, 1};
    ms_miss_counts mc = {0};
    ms_miss_count(present, det, 8, &mc);
    assert_int_equal(mc.event_frames, 8);
    assert_int_equal(mc.hits, 4);
    assert_int_equal(mc.n1, 4);
    assert_int_equal(mc.n11, 2);
    assert_float_equal(ms_miss_correlation(&mc), 0.0, 1e-12);
    /* misses in one block: 1 1 0 0 0 0 1 1: p = 0.5, n1 = 4 (pairs 2-3,3-4,4-5,5-6), n11 = 3,
     * c = 0.75, r = (0.75 - 0.5) / 0.5 = 0.5 */
    bool block[8] = {1, 1, 0, 0, 0, 0, 1, 1};
    ms_miss_counts mb = {0};
    ms_miss_count(present, block, 8, &mb);
    assert_int_equal(mb.n1, 4);
    assert_int_equal(mb.n11, 3);
    assert_float_equal(ms_miss_correlation(&mb), 0.5, 1e-12);
    /* pairs across two events do not count: frames 3 and 4 are separate events */
    bool two[6] = {1, 1, 0, 1, 1, 0}, d2[6] = {1, 0, 0, 0, 1, 0};
    ms_miss_counts m2 = {0};
    ms_miss_count(two, d2, 6, &m2);
    assert_int_equal(m2.n1, 1); /* only (3, 4): frame 1's successor is outside the event */
    assert_int_equal(m2.n11, 0);
    ms_miss_counts none = {0};
    assert_float_equal(ms_miss_correlation(&none), 0.0, 0);
}

/* A one-parameter "plan" to step the optimisers by hand. */
static void test_optimizers(void **state)
{
    (void)state;
    float w[2] = {1.0f, 0.5f}, g[2] = {0.5f, -1.0f}, b[1] = {0.0f}, gb[1] = {2.0f};
    ms_param params[2] = {{0, 1, 2, w, g}, {0, 2, 1, b, gb}};
    ms_train_plan plan = {.params = params, .n_params = 2};
    ms_optimizer o;
    ms_error err;
    /* SGD, momentum 0.9, decay 0.1 on weights: m = g + 0.1 w = 0.6, -0.95, 2 (bias: no decay) */
    assert_int_equal(ms_optimizer_init(&o, MS_OPT_SGD, 0.9, 0.1, &plan, &err), MS_OK);
    ms_optimizer_step(&o, &plan, 0.1);
    assert_float_equal(w[0], 1.0 - 0.1 * 0.6, 1e-6);
    assert_float_equal(w[1], 0.5 + 0.1 * 0.95, 1e-6);
    assert_float_equal(b[0], -0.2, 1e-6);
    /* second step, same gradient: m = 0.9*0.6 + 0.5 + 0.1*0.94 = 1.134 */
    ms_optimizer_step(&o, &plan, 0.1);
    assert_float_equal(w[0], 0.94 - 0.1 * 1.134, 1e-6);
    ms_optimizer_free(&o);
    /* Adam's first step moves every weight by lr * sign(g) (bias-corrected m/sqrt(v) = +-1) */
    w[0] = 1.0f;
    w[1] = 0.5f;
    b[0] = 0.0f;
    assert_int_equal(ms_optimizer_init(&o, MS_OPT_ADAM, 0.9, 0.0, &plan, &err), MS_OK);
    ms_optimizer_step(&o, &plan, 0.01);
    assert_float_equal(w[0], 0.99, 1e-6);
    assert_float_equal(w[1], 0.51, 1e-6);
    assert_float_equal(b[0], -0.01, 1e-6);
    ms_optimizer_free(&o);
    /* A scaled parameter moves by its share of the rate: the weights at a quarter, the
     * bias (scale left at 1) as before. */
    w[0] = 1.0f;
    w[1] = 0.5f;
    b[0] = 0.0f;
    assert_int_equal(ms_optimizer_init(&o, MS_OPT_ADAM, 0.9, 0.0, &plan, &err), MS_OK);
    ms_optimizer_scale_lr(&o, 0, 0.25);
    ms_optimizer_step(&o, &plan, 0.01);
    assert_float_equal(w[0], 0.9975, 1e-6);
    assert_float_equal(w[1], 0.5025, 1e-6);
    assert_float_equal(b[0], -0.01, 1e-6);
    ms_optimizer_free(&o);

    assert_float_equal(ms_schedule_lr(MS_SCHED_COSINE, 1.0, 0, 10), 1.0, 1e-12);
    assert_float_equal(ms_schedule_lr(MS_SCHED_COSINE, 1.0, 5, 10), 0.5, 1e-12);
    assert_float_equal(ms_schedule_lr(MS_SCHED_STEP, 1.0, 6, 10), 0.1, 1e-12);
    assert_float_equal(ms_schedule_lr(MS_SCHED_STEP, 1.0, 8, 10), 0.01, 1e-12);
    assert_float_equal(ms_schedule_lr(MS_SCHED_CONSTANT, 0.3, 8, 10), 0.3, 0);
    assert_int_equal(ms_optimizer_parse("adam"), MS_OPT_ADAM);
    assert_int_equal(ms_optimizer_parse("rmsprop"), -1);
    assert_int_equal(ms_schedule_parse("warm"), -1);
}

static void write_text(const char *path, const char *text)
{
    ms_error err;
    assert_int_equal(ms_write_file_atomic(path, text, strlen(text), &err), MS_OK);
}

static void test_image_split(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    char p[512], n[512], f[600];
    snprintf(p, sizeof p, "%s/p", dir);
    snprintf(n, sizeof n, "%s/n", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(mkdir(n, 0755), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(f, sizeof f, "%s/%02d.jpg", p, i);
        write_text(f, "x");
        snprintf(f, sizeof f, "%s/%02d.PNG", n, i);
        write_text(f, "x");
    }
    snprintf(f, sizeof f, "%s/notes.txt", n);
    write_text(f, "not an image");
    ms_dataset a = {0}, b = {0};
    ms_error err;
    assert_int_equal(ms_dataset_add_folder(&a, p, true, &err), MS_OK);
    assert_int_equal(ms_dataset_add_folder(&a, n, false, &err), MS_OK);
    assert_int_equal(a.n_samples, 20); /* the .txt is not listed */
    assert_non_null(strstr(a.sources[0].path, "/p/00.jpg"));
    assert_int_equal(ms_dataset_split_images(&a, 0.7, 42, &err), MS_OK);
    int64_t tp, tn, vp, vn;
    ms_dataset_counts(&a, true, &tp, &tn);
    ms_dataset_counts(&a, false, &vp, &vn);
    assert_int_equal(tp, 7); /* per class: round(0.7 * 10) */
    assert_int_equal(tn, 7);
    assert_int_equal(vp, 3);
    assert_int_equal(vn, 3);
    /* the same seed gives the same split; another seed another one */
    assert_int_equal(ms_dataset_add_folder(&b, p, true, &err), MS_OK);
    assert_int_equal(ms_dataset_add_folder(&b, n, false, &err), MS_OK);
    assert_int_equal(ms_dataset_split_images(&b, 0.7, 42, &err), MS_OK);
    for (int64_t i = 0; i < 20; i++) assert_int_equal(a.samples[i].train, b.samples[i].train);
    assert_int_equal(ms_dataset_split_images(&b, 0.7, 43, &err), MS_OK);
    bool differs = false;
    for (int64_t i = 0; i < 20; i++) differs |= a.samples[i].train != b.samples[i].train;
    assert_true(differs);
    ms_dataset_free(&b);
    /* classes: p is positive, n negative */
    assert_int_equal(ms_dataset_add_classes(&b, dir, "p", &err), MS_OK);
    ms_dataset_counts(&b, true, &tp, &tn);
    assert_int_equal(tp, 10);
    assert_int_equal(tn, 10);
    ms_dataset_free(&b);
    assert_int_equal(ms_dataset_add_classes(&b, dir, "q", &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no class folder named 'q'"));
    ms_dataset_free(&b);
    /* an empty folder is an error, not a sort of nothing */
    snprintf(f, sizeof f, "%s/empty", dir);
    assert_int_equal(mkdir(f, 0755), 0);
    assert_int_equal(ms_dataset_add_folder(&b, f, true, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no images"));
    assert_int_equal(b.n_samples, 0);
    ms_dataset_free(&b);
    ms_dataset_free(&a);
    ms_test_rmdir(dir);
}

static void test_video_split_by_time(void **state)
{
    (void)state;
    char *dir = ms_test_tmpdir();
    char csv[512];
    snprintf(csv, sizeof csv, "%s/l.csv", dir);
    write_text(csv, "frame,present\r\n5,1\r\n4,0\r\n");
    ms_dataset d = {0};
    ms_error err;
    assert_int_equal(ms_dataset_add_video(&d, "v.mp4", csv, 0.6, 1, &err), MS_ERR_FORMAT); /* frames must increase */
    assert_non_null(strstr(err.msg, "line 3: frame 4 does not follow frame 5"));
    ms_dataset_free(&d);
    write_text(csv, "frame,present\r\n0,0\r\n1,1\r\n2,1\r\n3,0\r\n4,0\r\n5,1\r\n6,0\r\n7,1\r\n8,0\r\n9,0\r\n");
    assert_int_equal(ms_dataset_add_video(&d, "v.mp4", csv, 0.6, 1, &err), MS_OK);
    assert_int_equal(d.n_samples, 10);
    for (int64_t i = 0; i < 10; i++) {
        assert_int_equal(d.samples[i].frame, i);
        assert_int_equal(d.samples[i].train, i < 6); /* the first 60% in time */
    }
    assert_true(d.samples[5].positive);
    assert_int_equal(d.sources[0].n_labels, 10);
    ms_dataset_free(&d);
    /* every third frame; the split still falls at frame 6 */
    assert_int_equal(ms_dataset_add_video(&d, "v.mp4", csv, 0.6, 3, &err), MS_OK);
    assert_int_equal(d.n_samples, 4); /* frames 0, 3, 6, 9 */
    assert_true(d.samples[1].train);
    assert_false(d.samples[2].train);
    ms_dataset_free(&d);
    write_text(csv, "frame,present\n0,0\n1,2\n");
    assert_int_equal(ms_dataset_add_video(&d, "v.mp4", csv, 0.6, 1, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 3"));
    assert_non_null(strstr(err.msg, "l.csv"));
    ms_dataset_free(&d);
    write_text(csv, "frame,present\n");
    assert_int_equal(ms_dataset_add_video(&d, "v.mp4", csv, 0.6, 1, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "no label rows"));
    ms_dataset_free(&d);
    ms_test_rmdir(dir);
}

static void test_augment(void **state)
{
    (void)state;
    /* a constant image stays constant; a horizontal ramp is mirrored or not, and the
     * same seed gives the same copy */
    enum { H = 8, W = 8 };
    float src[H * W], a[H * W], b[H * W];
    for (int i = 0; i < H * W; i++) src[i] = 3.0f;
    ms_augment(src, a, H, W, 1, 5);
    for (int i = 0; i < H * W; i++) assert_float_equal(a[i], 3.0, 1e-6);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) src[y * W + x] = (float)x;
    ms_augment(src, a, H, W, 1, 9);
    ms_augment(src, b, H, W, 1, 9);
    assert_memory_equal(a, b, sizeof a);
    bool mirrored = a[0] > a[W - 1];
    for (int y = 0; y < H; y++)
        for (int x = 1; x < W; x++) assert_true(mirrored ? a[y * W + x] <= a[y * W + x - 1] : a[y * W + x] >= a[y * W + x - 1]);
    /* the crop keeps 80-100% of the width: the span of values is 0.8*7 to 7 */
    double span = fabs(a[W - 1] - a[0]);
    assert_true(span >= 0.8 * 7 - 1e-4 && span <= 7 + 1e-4);
}

static void test_store_spills_to_a_mapped_file(void **state)
{
    (void)state;
    ms_store a, b;
    ms_error err;
    size_t left = 1000;
    assert_int_equal(ms_store_alloc(&a, 800, &left, &err), MS_OK);
    assert_false(a.mapped);
    assert_int_equal(left, 200);
    assert_int_equal(ms_store_alloc(&b, 4096, &left, &err), MS_OK);
    assert_true(b.mapped);
    for (int i = 0; i < 1024; i++) b.data[i] = (float)i;
    assert_float_equal(b.data[1023], 1023.0, 0);
    ms_store_free(&a);
    ms_store_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_statistics),  cmocka_unit_test(test_miss_correlation),
        cmocka_unit_test(test_optimizers),        cmocka_unit_test(test_image_split),
        cmocka_unit_test(test_video_split_by_time), cmocka_unit_test(test_augment),
        cmocka_unit_test(test_store_spills_to_a_mapped_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
