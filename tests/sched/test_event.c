/* Tests of the event model against hand-derived values, the original's published example
 * (ORIGINAL_MODEL.md §2.5) and monotonicity in the frame rate. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

#include "sched/event.h"
#include "sched/schedule.h"

static ms_event_params params(double L, double f, double r, int x)
{
    ms_event_params e = {.event_length_ms = L, .event_frequency = f, .correlation = r, .x_vote = x};
    return e;
}

/* 1200 ms, c = 0, S = 5, O = 1..5: the original's 1 - F1 = .653 .170 .222 .321 .408. The
 * quoted numbers are the compat model (d in sampled frames); p = .931, q = .068, f = .2 is
 * an app that reproduces all five to three decimals. The default model differs below S. */
static void test_original_example_is_compat(void **state)
{
    (void)state;
    const double quoted[5] = {.653, .170, .222, .321, .408};
    ms_event_params e = params(1200, 0.2, 0, 0);
    for (int o = 1; o <= 5; o++) {
        ms_event_metrics m;
        ms_event_eval(&e, 0.931, 0.068, 5, o, true, &m);
        assert_float_equal(1 - m.f1, quoted[o - 1], 5e-4);
    }
    /* default: d = 6 stream frames whatever O; at O = S both models coincide */
    const double corrected[5] = {.167, .238, .309, .364, .408};
    for (int o = 1; o <= 5; o++) {
        ms_event_metrics m;
        ms_event_eval(&e, 0.931, 0.068, 5, o, false, &m);
        assert_float_equal(1 - m.f1, corrected[o - 1], 5e-4);
    }
}

static void test_plain_miss_by_hand(void **state)
{
    (void)state;
    /* default: p .8, r .5 -> c = .2 + .4 = .6; L 1000 ms at S 10 = 10 frames, stride 2:
     * exactly 5 samples, miss = .2 * .6^4 = .02592 */
    assert_float_equal(ms_event_miss(0.8, 10, 0.5, 2, 0, false), 0.02592, 1e-12);
    /* compat: d = L * F = 5 sampled frames, stride 2: 2 or 3 samples with weight .5 each:
     * .5 * .2 * .6 + .5 * .2 * .36 = .096 */
    assert_float_equal(ms_event_miss(0.8, 5, 0.5, 2, 0, true), 0.096, 1e-12);
    /* shorter than the stride: hit only if a sample lands in it (1/10) and fires */
    assert_float_equal(ms_event_miss(0.8, 1, 0.5, 10, 0, false), 0.92, 1e-12);
}

static void test_x_voting_by_hand(void **state)
{
    (void)state;
    /* 3 samples, p .5, independent: sequences without two positives in a row are
     * FFF FFT FTF TFF TFT = 5/8 */
    assert_float_equal(ms_event_miss(0.5, 3, 0, 1, 2, false), 0.625, 1e-12);
    assert_float_equal(ms_event_miss(0.5, 3, 0, 1, 2, true), 0.625, 1e-12);
    /* r .5, default chain: P(T|T) = .75, P(T|F) = .25:
     * FFF .28125 + FFT .09375 + FTF .03125 + TFF .09375 + TFT .03125 = .53125 */
    assert_float_equal(ms_event_miss(0.5, 3, 0.5, 1, 2, false), 0.53125, 1e-12);
    /* compat chain: P(T|T) = .75 but P(T|F) = p = .5:
     * .125 + .125 + .0625 + .0625 + .0625 = .4375 */
    assert_float_equal(ms_event_miss(0.5, 3, 0.5, 1, 2, true), 0.4375, 1e-12);
    /* x = 1: compat gives (1-p)^h = .008, not the plain model's .2 * .6^2 = .072; the
     * default model's x = 1 is the plain model */
    assert_float_equal(ms_event_miss(0.8, 3, 0.5, 1, 1, true), 0.008, 1e-12);
    assert_float_equal(ms_event_miss(0.8, 3, 0.5, 1, 0, true), 0.072, 1e-12);
    assert_float_equal(ms_event_miss(0.8, 3, 0.5, 1, 1, false), 0.072, 1e-12);
    /* fewer samples than votes: always missed */
    assert_float_equal(ms_event_miss(0.9, 2, 0.1, 1, 3, false), 1.0, 0);
}

static void test_precision_and_f1_by_hand(void **state)
{
    (void)state;
    /* S = F = 10, L = 100 ms: one sample per event, recall = p = .9, N = q = .1;
     * f = .5: precision = .45 / (.45 + .05) = .9, F1 = .9 */
    ms_event_params e = params(100, 0.5, 0.3, 0);
    ms_event_metrics m;
    ms_event_eval(&e, 0.9, 0.1, 10, 10, false, &m);
    assert_float_equal(m.recall, 0.9, 1e-12);
    assert_float_equal(m.precision, 0.9, 1e-12);
    assert_float_equal(m.f1, 0.9, 1e-12);
    assert_float_equal(m.fnr, 0.1, 1e-12);
    assert_float_equal(m.fpr, 0.1, 1e-12);
    /* f = .2: tp = .18, fp = .08, precision = .18/.26 */
    e.event_frequency = 0.2;
    ms_event_eval(&e, 0.9, 0.1, 10, 10, true, &m);
    double p = 0.18 / 0.26;
    assert_float_equal(m.precision, p, 1e-12);
    assert_float_equal(m.f1, 2 * p * 0.9 / (p + 0.9), 1e-12);
    /* a classifier that never fires: precision 1 by convention, recall and F1 0 */
    ms_event_eval(&e, 0, 0, 10, 10, true, &m);
    assert_float_equal(m.precision, 1, 0);
    assert_float_equal(m.f1, 0, 0);
}

static double uniform(unsigned *seed) { return rand_r(seed) / (double)RAND_MAX; }

static void test_more_fps_never_lowers_recall(void **state)
{
    (void)state;
    unsigned seed = 7;
    for (int t = 0; t < 400; t++) {
        ms_event_params e = params(50 + 3000 * uniform(&seed), uniform(&seed), uniform(&seed),
                                   (int)(uniform(&seed) * 4));
        double p = uniform(&seed), S = 1 + (int)(uniform(&seed) * 30);
        for (int compat = 0; compat <= 1; compat++) {
            double prev = -1;
            for (double f = 0.1; f <= S; f += 0.1 * (1 + (int)(uniform(&seed) * 5))) {
                ms_event_metrics m;
                ms_event_eval(&e, p, 0.05, S, f, compat, &m);
                assert_true(m.recall >= prev - 1e-12);
                assert_true(m.recall >= -1e-12 && m.recall <= 1 + 1e-12);
                prev = m.recall;
            }
        }
    }
}

static void test_default_x1_is_plain(void **state)
{
    (void)state;
    unsigned seed = 3;
    for (int t = 0; t < 300; t++) {
        double p = uniform(&seed), r = uniform(&seed), stride = 1 + 5 * uniform(&seed);
        double d = 20 * uniform(&seed);
        assert_float_equal(ms_event_miss(p, d, r, stride, 1, false), ms_event_miss(p, d, r, stride, 0, false),
                           1e-12);
    }
}

/* The compat fix-up: a point below the running maximum from the deep end takes that
 * maximum's (tpr, fpr) pair; the default model uses the raw curve. */
static void test_compat_monotone_fixup(void **state)
{
    (void)state;
    ms_scenario_point curve[3] = {{0, 0.5, 0.2}, {3, 0.7, 0.1}, {5, 0.6, 0.3}};
    ms_app app = {"a", params(500, 0.3, 0.1, 0), 1, 3, curve};
    ms_event_metrics fixed, at3, raw, ev;
    ms_error err;
    assert_int_equal(ms_app_metrics(&app, 10, 0, 4, true, &fixed, &err), MS_OK);
    assert_int_equal(ms_app_metrics(&app, 10, 3, 4, true, &at3, &err), MS_OK);
    assert_float_equal(fixed.f1, at3.f1, 0);
    assert_int_equal(ms_app_metrics(&app, 10, 0, 4, false, &raw, &err), MS_OK);
    ms_event_eval(&app.event, 0.5, 0.2, 10, 4, false, &ev);
    assert_float_equal(raw.f1, ev.f1, 0);
    assert_int_equal(ms_app_metrics(&app, 10, 4, 4, false, &raw, &err), MS_ERR_INVALID);
    assert_int_equal(ms_app_metrics(&app, 10, 0, 11, false, &raw, &err), MS_ERR_INVALID);
}

/* The length distribution (default model): two events, 1000 ms and 200 ms, at S 10, F 5
 * (stride 2); p .8, q .1, r .5, f .2. Events: 10 frames -> 5 samples, miss .2 * .6^4 =
 * .02592; 2 frames -> 1 sample, miss .2; recall 1 - (.02592 + .2)/2 = .88704. Non-event
 * windows (c = .9 + .05 = .95): .9 * .95^4 = .733055625 and .9, N = .1834721875;
 * precision .177408 / (.177408 + .8 * .1834721875) = .54724182; F1 .67688982. The mean
 * length (600 ms: 3 samples, miss .2 * .36 = .072) would say recall .928. Compat ignores
 * the lengths. */
static void test_length_distribution_by_hand(void **state)
{
    (void)state;
    double lengths[2] = {1000, 200};
    ms_event_params e = params(600, 0.2, 0.5, 0);
    ms_event_metrics mean, dist, compat_mean, compat_dist;
    ms_event_eval(&e, 0.8, 0.1, 10, 5, false, &mean);
    ms_event_eval(&e, 0.8, 0.1, 10, 5, true, &compat_mean);
    e.n_lengths = 2;
    e.lengths_ms = lengths;
    ms_event_eval(&e, 0.8, 0.1, 10, 5, false, &dist);
    ms_event_eval(&e, 0.8, 0.1, 10, 5, true, &compat_dist);
    assert_float_equal(mean.recall, 0.928, 1e-12);
    assert_float_equal(dist.recall, 0.88704, 1e-12);
    assert_float_equal(dist.precision, 0.5472418204686664, 1e-12);
    assert_float_equal(dist.f1, 0.6768898238839953, 1e-12);
    assert_true(compat_dist.f1 == compat_mean.f1 && compat_dist.recall == compat_mean.recall);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_original_example_is_compat),
        cmocka_unit_test(test_plain_miss_by_hand),
        cmocka_unit_test(test_x_voting_by_hand),
        cmocka_unit_test(test_precision_and_f1_by_hand),
        cmocka_unit_test(test_more_fps_never_lowers_recall),
        cmocka_unit_test(test_default_x1_is_plain),
        cmocka_unit_test(test_compat_monotone_fixup),
        cmocka_unit_test(test_length_distribution_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
