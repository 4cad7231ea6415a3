/* The runtime (run/runtime.h) on the VWW model with packages of random weights and
 * videos written here: while a 2-stream offline run is going, adding an app, removing
 * an app, changing the budget and removing a stream each take effect at the next chunk;
 * the scores of the apps that did not change are identical to those of a run without
 * the changes (nothing lost or repeated); a rate-only re-plan compiles nothing and an
 * added app compiles only its branch; bad additions are refused with a message naming
 * them and change nothing; an app pinned above its stream's rate is refused, when the
 * stream declares its rate or when it opens. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../e2e/video_fixture.h"
#include "base/clock.h"
#include "base/log.h"
#include "fixtures.h"
#include "run/runtime.h"

#define MODEL "models/vww_96_float.tflite"
#define OTHER_MODEL "models/mobilenet_v1_0.25_128_quant.tflite"
#define MAX_SCORES 4096
#define WAIT_S 120.0

static char *dir;

static const char *at(const char *name) { return fixture_path(dir, name); }

static int setup(void **state)
{
    (void)state;
    if (!ms_test_data_exists(MODEL) || !ms_test_data_exists(OTHER_MODEL)) return 0;
    dir = ms_test_tmpdir();
    ms_error err;
    const int cps[3] = {0, 8, 15}, ocp[1] = {0};
    const char *names[4] = {"a", "b", "c", "d"}, *alien[1] = {"alien"};
    if (fixture_packages(ms_test_data(MODEL), names, 4, cps, 3, 11, dir, &err)) fail_msg("%s", err.msg);
    /* a package of another base model */
    if (fixture_packages(ms_test_data(OTHER_MODEL), alien, 1, ocp, 1, 5, dir, &err)) fail_msg("%s", err.msg);
    assert_int_equal(fixture_profile(at("profile.json"), 16, 0.5), 0);
    /* long enough that the changes below land while both streams run */
    assert_int_equal(fixture_video(at("cam.avi"), 400, 96, 64, 20), 0);
    assert_int_equal(fixture_video(at("road.avi"), 300, 96, 64, 10), 0);
    assert_int_equal(fixture_video(at("short.avi"), 30, 96, 64, 10), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (dir) ms_test_rmdir(dir);
    dir = NULL;
    return 0;
}

typedef struct {
    int n;
    int64_t frame[MAX_SCORES];
    float score[MAX_SCORES];
    double wall[MAX_SCORES]; /* when the callback got it */
} app_scores;

#define MAX_EVENTS 256

/* What the callbacks saw, by app name (a..d); guarded: the test thread reads counts. */
typedef struct {
    pthread_mutex_t mu;
    app_scores apps[5];
    int events[5];
    ms_event event[5][MAX_EVENTS]; /* the first MAX_EVENTS of each app */
} seen;

static int app_index(const char *name) { return name[0] - 'a'; }

typedef struct {
    seen *seen;
    int ids[5]; /* the apps' ids (a..e), to map scores back */
} ctx;

static void on_score(void *c, int stream_id, int app_id, int64_t frame, double seconds, float score)
{
    (void)stream_id;
    (void)seconds;
    ctx *x = c;
    for (int i = 0; i < 5; i++) {
        if (x->ids[i] != app_id) continue;
        pthread_mutex_lock(&x->seen->mu);
        app_scores *s = &x->seen->apps[i];
        assert_true(s->n < MAX_SCORES);
        s->frame[s->n] = frame;
        s->wall[s->n] = ms_wall_now();
        s->score[s->n++] = score;
        pthread_mutex_unlock(&x->seen->mu);
    }
}

static void on_event(void *c, const ms_runtime_event *e)
{
    ctx *x = c;
    int i = app_index(e->app);
    assert_true(i >= 0 && i < 5);
    assert_int_equal(e->app_id, x->ids[i]);
    pthread_mutex_lock(&x->seen->mu);
    if (x->seen->events[i] < MAX_EVENTS) x->seen->event[i][x->seen->events[i]] = e->event;
    x->seen->events[i]++;
    pthread_mutex_unlock(&x->seen->mu);
}

static int count(seen *s, int app)
{
    pthread_mutex_lock(&s->mu);
    int n = s->apps[app].n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static ms_runtime *open_runtime(ctx *x, double budget)
{
    const char *model = ms_test_data(MODEL);
    ms_runtime_options o = {.models = &model, .n_models = 1, .backend = "ref", .precision = MS_PREC_FP32,
                            .threads = 1, .batch = 1, .profile = at("profile.json"), .resize = -1,
                            .budget = budget, .policy = MS_POLICY_MAINSTREAM, .objective = MS_OBJ_MEAN_F1,
                            .live = false, .on_score = on_score, .on_event = on_event, .ctx = x,
                            .where = "test", .log_name = "test_runtime"};
    ms_runtime *rt;
    ms_error err;
    if (ms_runtime_open(&o, &rt, &err)) fail_msg("%s", err.msg);
    return rt;
}

static int add_stream(ms_runtime *rt, const char *name, const char *file)
{
    ms_deploy_stream s = {.name = (char *)name, .url = (char *)at(file), .retries = 0, .retry_s = 0.5};
    int id;
    ms_error err;
    if (ms_runtime_add_stream(rt, &s, &id, &err)) fail_msg("%s", err.msg);
    return id;
}

static ms_deploy_app app_desc(const char *name, int stream, const char *package, int cp, double fps)
{
    return (ms_deploy_app){.name = (char *)name, .stream = stream, .package = (char *)at(package), .x_vote = 1,
                           .threshold = 0.5, .chokepoint = cp, .fps = fps, .event_length_ms = -1,
                           .event_frequency = -1, .correlation = -1};
}

static void add_app(ms_runtime *rt, ctx *x, const char *name, int stream, int cp, double fps)
{
    char package[16];
    snprintf(package, sizeof package, "%s.mpk", name[0] == 'e' ? "c" : name);
    ms_deploy_app a = app_desc(name, stream, package, cp, fps);
    ms_error err;
    if (ms_runtime_add_app(rt, &a, &x->ids[app_index(name)], &err)) fail_msg("%s", err.msg);
}

static ms_runtime_stats stats(ms_runtime *rt)
{
    ms_runtime_stats s;
    ms_error err;
    if (ms_runtime_stats_get(rt, &s, &err)) fail_msg("%s", err.msg);
    return s;
}

static const ms_runtime_stream_stats *stream_named(const ms_runtime_stats *s, const char *name)
{
    for (int i = 0; i < s->n_streams; i++)
        if (!strcmp(s->streams[i].name, name)) return &s->streams[i];
    return NULL;
}

/* Waits (bounded) until stream `name` ran a frame with index >= frame. */
static void wait_frame(ms_runtime *rt, const char *name, int64_t frame)
{
    double until = ms_now() + WAIT_S;
    for (;;) {
        ms_runtime_stats s = stats(rt);
        const ms_runtime_stream_stats *st = stream_named(&s, name);
        bool done = st && st->last_frame >= frame;
        bool over = st && !st->up;
        ms_runtime_stats_free(&s);
        if (done) return;
        if (over) fail_msg("stream %s ended before frame %lld", name, (long long)frame);
        if (ms_now() > until) fail_msg("stream %s did not reach frame %lld", name, (long long)frame);
        usleep(2000);
    }
}

static int64_t last_frame(ms_runtime *rt, const char *name)
{
    ms_runtime_stats s = stats(rt);
    const ms_runtime_stream_stats *st = stream_named(&s, name);
    assert_non_null(st);
    int64_t f = st->last_frame;
    ms_runtime_stats_free(&s);
    return f;
}

/* Waits until every stream has ended. */
static void wait_ended(ms_runtime *rt)
{
    double until = ms_now() + WAIT_S;
    for (;;) {
        ms_runtime_stats s = stats(rt);
        bool up = false;
        for (int i = 0; i < s.n_streams; i++) up |= s.streams[i].up;
        ms_runtime_stats_free(&s);
        if (!up) return;
        if (ms_now() > until) fail_msg("the streams did not end");
        usleep(5000);
    }
}

static long long compiled(ms_runtime *rt)
{
    ms_runtime_stats s = stats(rt);
    long long n = s.plans_compiled;
    ms_runtime_stats_free(&s);
    return n;
}

/* Streams cam (a: chokepoint 8 at 5 fps, b: 15 at 2 fps, e: 8 at 2 fps) and road (c: 8
 * at 4 fps), all pinned, so that every plan is known; the baseline runs them to the end
 * unchanged. e runs below the rate of the segment it reads: which frames it takes
 * depends on its sampling phase, which must survive every re-plan. */
static void baseline(seen *out)
{
    ctx x = {.seen = out};
    ms_runtime *rt = open_runtime(&x, 200);
    int cam = add_stream(rt, "cam", "cam.avi"), road = add_stream(rt, "road", "road.avi");
    add_app(rt, &x, "a", cam, 8, 5);
    add_app(rt, &x, "b", cam, 15, 2);
    add_app(rt, &x, "c", road, 8, 4);
    add_app(rt, &x, "e", cam, 8, 2);
    ms_error err;
    if (ms_runtime_start(rt, &err)) fail_msg("%s", err.msg);
    wait_ended(rt);
    assert_int_equal(ms_runtime_close(rt, &err), MS_OK);
}

static void assert_same_scores(const app_scores *got, const app_scores *want, int n, const char *what)
{
    if (got->n < n || want->n < n) fail_msg("%s: %d and %d scores, %d expected", what, got->n, want->n, n);
    for (int k = 0; k < n; k++) {
        if (got->frame[k] != want->frame[k] || got->score[k] != want->score[k])
            fail_msg("%s: score %d: frame %lld (%.9g), without the changes frame %lld (%.9g)", what, k,
                     (long long)got->frame[k], got->score[k], (long long)want->frame[k], want->score[k]);
    }
}

static int by_score(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* An event's start_wall_s is when its first frame arrived. Offline with batch 1 and one
 * app (whose samples are all the frames the decoder offers), sample k is handed over
 * only once the executor took sample k-1, which it does after scoring sample k-2; and
 * it is scored after it arrived. So score_wall[k-2] <= start_wall_s <= score_wall[k],
 * an ordering, not a timing. The threshold is the median score of a first run (offline
 * runs repeat exactly), so that events start in the middle of the stream. */
static void test_event_start_wall(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA(OTHER_MODEL);
    static seen runs[2];
    float threshold = 0.5f;
    for (int r = 0; r < 2; r++) {
        pthread_mutex_init(&runs[r].mu, NULL);
        ctx x = {.seen = &runs[r]};
        ms_runtime *rt = open_runtime(&x, 200);
        int cam = add_stream(rt, "cam", "road.avi");
        ms_deploy_app a = app_desc("a", cam, "a.mpk", 8, 4);
        a.threshold = threshold;
        ms_error err;
        if (ms_runtime_add_app(rt, &a, &x.ids[0], &err)) fail_msg("%s", err.msg);
        if (ms_runtime_start(rt, &err)) fail_msg("%s", err.msg);
        wait_ended(rt);
        assert_int_equal(ms_runtime_close(rt, &err), MS_OK);
        app_scores *s = &runs[r].apps[0];
        assert_true(s->n > 60);
        static float sorted[MAX_SCORES];
        memcpy(sorted, s->score, (size_t)s->n * sizeof *sorted);
        qsort(sorted, (size_t)s->n, sizeof *sorted, by_score);
        threshold = sorted[s->n / 2];
    }
    const app_scores *s = &runs[1].apps[0];
    int n = runs[1].events[0] < MAX_EVENTS ? runs[1].events[0] : MAX_EVENTS, checked = 0;
    assert_true(n >= 2);
    for (int i = 0; i < n; i++) {
        const ms_event *e = &runs[1].event[0][i];
        int k = 0;
        while (k < s->n && s->frame[k] != e->start_frame) k++;
        assert_true(k < s->n);
        if (!(e->start_wall_s > 0 && e->start_wall_s <= s->wall[k]))
            fail_msg("event %d (frame %lld): start_wall_s %.6f, its first sample scored at %.6f", i,
                     (long long)e->start_frame, e->start_wall_s, s->wall[k]);
        if (k >= 2 && !(e->start_wall_s >= s->wall[k - 2]))
            fail_msg("event %d (frame %lld): start_wall_s %.6f before sample k-2 was scored (%.6f)", i,
                     (long long)e->start_frame, e->start_wall_s, s->wall[k - 2]);
        checked += k >= 2;
    }
    assert_true(checked >= 1);
}

static void test_changes_while_running(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    MS_REQUIRE_DATA(OTHER_MODEL);
    static seen base, live;
    pthread_mutex_init(&base.mu, NULL);
    pthread_mutex_init(&live.mu, NULL);
    baseline(&base);
    assert_true(base.apps[0].n > 60 && base.apps[1].n > 30 && base.apps[2].n > 60);

    ctx x = {.seen = &live};
    ms_runtime *rt = open_runtime(&x, 200);
    int cam = add_stream(rt, "cam", "cam.avi"), road = add_stream(rt, "road", "road.avi");
    add_app(rt, &x, "a", cam, 8, 5);
    add_app(rt, &x, "b", cam, 15, 2);
    add_app(rt, &x, "c", road, 8, 4);
    add_app(rt, &x, "e", cam, 8, 2);
    /* one index space: every id distinct */
    int ids[5] = {cam, road, x.ids[0], x.ids[1], x.ids[2]};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < i; j++) assert_int_not_equal(ids[i], ids[j]);
    ms_error err;
    if (ms_runtime_start(rt, &err)) fail_msg("%s", err.msg);
    wait_frame(rt, "cam", 100);

    /* bad additions are refused, naming the app, and change nothing */
    int before = 0;
    ms_runtime_stats s0 = stats(rt);
    before = s0.n_apps;
    ms_runtime_stats_free(&s0);
    ms_deploy_app dup = app_desc("a", cam, "d.mpk", -1, 0);
    assert_int_equal(ms_runtime_add_app(rt, &dup, NULL, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'a' exists already"));
    ms_deploy_app alien = app_desc("alien", cam, "alien.mpk", -1, 0);
    assert_int_not_equal(ms_runtime_add_app(rt, &alien, NULL, &err), MS_OK);
    assert_non_null(strstr(err.msg, "app 'alien'"));
    ms_deploy_app untrained = app_desc("u", cam, "d.mpk", 3, 0);
    assert_int_equal(ms_runtime_add_app(rt, &untrained, NULL, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "app 'u'.chokepoint"));
    ms_deploy_app nowhere = app_desc("f", 9999, "d.mpk", -1, 0);
    assert_int_equal(ms_runtime_add_app(rt, &nowhere, NULL, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no stream with id 9999"));
    ms_deploy_stream dup_stream = {.name = "cam", .url = (char *)at("cam.avi")};
    assert_int_equal(ms_runtime_add_stream(rt, &dup_stream, NULL, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'cam' exists already"));
    assert_int_equal(ms_runtime_remove_app(rt, 12345, &err), MS_ERR_INVALID);
    assert_int_equal(ms_runtime_set_budget(rt, -1, &err), MS_ERR_INVALID);
    ms_runtime_stats s1 = stats(rt);
    assert_int_equal(s1.n_apps, before);
    ms_runtime_stats_free(&s1);

    /* add d on cam at chokepoint 0, 1 fps: only its branch is compiled; it runs from the
     * next chunk on (the next frame the stream offers: at most 4 frames later at 5 of 20 fps) */
    long long c0 = compiled(rt);
    int64_t l0 = last_frame(rt, "cam");
    add_app(rt, &x, "d", cam, 0, 1);
    int64_t l1 = last_frame(rt, "cam");
    assert_int_equal(compiled(rt) - c0, 1);
    wait_frame(rt, "cam", l1 + 40);
    pthread_mutex_lock(&live.mu);
    assert_true(live.apps[3].n >= 1);
    int64_t first_d = live.apps[3].frame[0];
    pthread_mutex_unlock(&live.mu);
    assert_true(first_d > l0);
    assert_true(first_d <= l1 + 4);

    /* a new budget with every app pinned: a re-plan that compiles nothing */
    c0 = compiled(rt);
    ms_runtime_stats s2 = stats(rt);
    int replans = s2.replans;
    ms_runtime_stats_free(&s2);
    if (ms_runtime_set_budget(rt, 150, &err)) fail_msg("%s", err.msg);
    ms_runtime_stats s3 = stats(rt);
    assert_float_equal(s3.budget, 150, 0);
    assert_true(s3.replans > replans);
    assert_true(s3.planned_cost <= 150);
    assert_int_equal(s3.plans_compiled, c0);
    ms_runtime_stats_free(&s3);

    /* remove b: no b score after the call returns; its open event was closed */
    int nb;
    if (ms_runtime_remove_app(rt, x.ids[1], &err)) fail_msg("%s", err.msg);
    nb = count(&live, 1);
    assert_int_equal(ms_runtime_find_app(rt, "b"), -1);
    int64_t l2 = last_frame(rt, "cam");
    wait_frame(rt, "cam", l2 + 40);
    assert_int_equal(count(&live, 1), nb);

    /* remove road: c stops at once, its decoder with it */
    if (ms_runtime_remove_stream(rt, road, &err)) fail_msg("%s", err.msg);
    int nc = count(&live, 2);
    assert_int_equal(ms_runtime_find_stream(rt, "road"), -1);
    assert_int_equal(ms_runtime_find_app(rt, "c"), -1);
    wait_ended(rt);
    assert_int_equal(count(&live, 2), nc);
    ms_runtime_schedule sch;
    if (ms_runtime_schedule_get(rt, &sch, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sch.n_streams, 1);
    assert_int_equal(sch.streams[0].n_apps, 3); /* a, d and e */
    ms_runtime_schedule_free(&sch);
    assert_int_equal(ms_runtime_close(rt, &err), MS_OK);

    /* a and e ran through every change exactly as without them; b and c up to their removal */
    assert_int_equal(live.apps[0].n, base.apps[0].n);
    assert_same_scores(&live.apps[0], &base.apps[0], base.apps[0].n, "a");
    assert_int_equal(live.apps[4].n, base.apps[4].n);
    assert_same_scores(&live.apps[4], &base.apps[4], base.apps[4].n, "e");
    assert_same_scores(&live.apps[1], &base.apps[1], nb, "b");
    assert_same_scores(&live.apps[2], &base.apps[2], nc, "c");
    assert_true(nb < base.apps[1].n && nc < base.apps[2].n);
    /* after its first, every frame d took is where a 1 fps sampler's tick advances */
    assert_true(live.apps[3].n >= 3);
    for (int k = 2; k < live.apps[3].n; k++) assert_int_equal(live.apps[3].frame[k] - live.apps[3].frame[k - 1], 20);
}

/* Error lines logged, for the refusals that happen while the runtime runs. */
typedef struct {
    pthread_mutex_t mu;
    char text[8192];
} logged;

static void on_log(void *user, ms_log_level level, const char *msg)
{
    logged *l = user;
    if (level < MS_LOG_ERROR) return;
    pthread_mutex_lock(&l->mu);
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s\n", msg);
    pthread_mutex_unlock(&l->mu);
}

static void expect_refused(ms_runtime *rt, const ms_deploy_app *a, const char *needle)
{
    ms_error err;
    assert_int_equal(ms_runtime_add_app(rt, a, NULL, &err), MS_ERR_INVALID);
    if (!strstr(err.msg, needle)) fail_msg("expected '%s' in: %s", needle, err.msg);
}

/* Pinned rates: a negative or non-number fps is refused as such; above a declared rate
 * at once; above a rate the stream gives only when it opens (short.avi, 10 fps, declares
 * nothing), the app is refused then, by name, and its stream's other app runs on; once
 * the rate is known, at once again. Nothing refused changes the runtime. */
static void test_pinned_rates(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(MODEL);
    static seen got;
    static logged log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_mutex_init(&got.mu, NULL);
    ctx x = {.seen = &got};
    ms_runtime *rt = open_runtime(&x, 200);
    int s = add_stream(rt, "s", "short.avi");
    ms_deploy_stream declared = {.name = "t", .url = (char *)at("short.avi"), .fps = 10, .retry_s = 0.5};
    int t;
    ms_error err;
    if (ms_runtime_add_stream(rt, &declared, &t, &err)) fail_msg("%s", err.msg);
    ms_deploy_app neg = app_desc("n", s, "a.mpk", 15, -1);
    expect_refused(rt, &neg, "app 'n'.fps: must be in (0, 1000], or 0 for the scheduler's choice, got -1");
    neg.fps = 0.0 / 0.0;
    expect_refused(rt, &neg, "app 'n'.fps: must be in (0, 1000], or 0 for the scheduler's choice, got ");
    neg.fps = 5000;
    expect_refused(rt, &neg, "app 'n'.fps: must be in (0, 1000], or 0 for the scheduler's choice, got 5000");
    ms_deploy_app over = app_desc("o", t, "a.mpk", 15, 20);
    expect_refused(rt, &over, "app 'o'.fps: 20 is above stream 't''s 10 fps");
    add_app(rt, &x, "a", s, 15, 20); /* s's rate is not known yet */
    add_app(rt, &x, "b", s, 15, 5);
    ms_log_set_callback(on_log, &log);
    if (ms_runtime_start(rt, &err)) fail_msg("%s", err.msg);
    wait_ended(rt);
    ms_log_set_callback(NULL, NULL);
    pthread_mutex_lock(&log.mu);
    if (!strstr(log.text, "test_runtime: app 'a'.fps: 20 is above stream 's''s 10 fps (its rate as opened): the app is refused"))
        fail_msg("logged: %s", log.text);
    pthread_mutex_unlock(&log.mu);
    ms_runtime_stats st = stats(rt);
    assert_int_equal(st.apps_refused, 1);
    assert_int_equal(st.n_apps, 1);
    assert_string_equal(st.apps[0].name, "b");
    assert_int_equal(st.streams_failed, 0);
    ms_runtime_stats_free(&st);
    assert_int_equal(ms_runtime_find_app(rt, "a"), -1);
    assert_int_equal(count(&got, 0), 0);
    assert_int_equal(count(&got, 1), 15); /* 5 of 10 fps over 30 frames */
    /* the rate is known now: refused at the call */
    ms_deploy_app late = app_desc("c", s, "c.mpk", 15, 12);
    expect_refused(rt, &late, "app 'c'.fps: 12 is above stream 's''s 10 fps (its rate as opened)");
    st = stats(rt);
    assert_int_equal(st.n_apps, 1);
    assert_int_equal(st.apps_refused, 1);
    ms_runtime_stats_free(&st);
    assert_int_equal(ms_runtime_close(rt, &err), MS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_while_running),
        cmocka_unit_test(test_pinned_rates),
        cmocka_unit_test(test_event_start_wall),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
