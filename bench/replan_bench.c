/* Re-plan latency of the runtime: 10 apps on 3 streams (VWW 96 base, packages of random
 * weights trained at chokepoints 0, 8 and 15, videos written here), offline. Times, on
 * the calling thread, a budget change, an app added and an app removed while the
 * streams run (each call returns once the executor applied it between two chunks, so a
 * call also waits for the chunk in progress), and counts the plans each compiled. The
 * peer is what a runner without re-planning does instead: stop and start again (open
 * the model, add the streams and apps, plan and compile the first trees), timed here
 * the same way.
 * usage: bench_replan MODEL WORKDIR [rounds] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/e2e/video_fixture.h"
#include "../tests/run/fixtures.h"
#include "base/clock.h"
#include "formats/model.h"
#include "run/runtime.h"

#define N_STREAMS 3
#define N_APPS 10

static char work[2048];

static const char *at(const char *name)
{
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", work, name);
    return buf[k];
}

static void die(const ms_error *err)
{
    fprintf(stderr, "bench_replan: %s\n", err->msg);
    exit(1);
}

static ms_runtime *open_all(const char *model, int *stream_ids, int *app_ids, double *seconds)
{
    double t0 = ms_now();
    ms_runtime_options o = {.models = &model, .n_models = 1, .backend = "cpu", .precision = MS_PREC_FP32,
                            .threads = 1, .batch = 1, .profile = at("profile.json"), .resize = -1, .budget = 60,
                            .policy = MS_POLICY_MAINSTREAM, .objective = MS_OBJ_MEAN_F1, .live = false,
                            .log_name = "bench_replan"};
    ms_runtime *rt;
    ms_error err;
    if (ms_runtime_open(&o, &rt, &err)) die(&err);
    for (int s = 0; s < N_STREAMS; s++) {
        char name[16], file[32];
        snprintf(name, sizeof name, "cam%d", s);
        snprintf(file, sizeof file, "cam%d.avi", s);
        ms_deploy_stream d = {.name = name, .url = (char *)at(file), .retry_s = 0.5};
        if (ms_runtime_add_stream(rt, &d, &stream_ids[s], &err)) die(&err);
    }
    for (int a = 0; a < N_APPS; a++) {
        char name[16], file[32];
        snprintf(name, sizeof name, "app%d", a);
        snprintf(file, sizeof file, "app%d.mpk", a % 4);
        ms_deploy_app d = {.name = name, .stream = stream_ids[a % N_STREAMS], .package = (char *)at(file),
                           .x_vote = 1, .threshold = 0.5, .chokepoint = -1, .event_length_ms = -1,
                           .event_frequency = -1, .correlation = -1};
        if (ms_runtime_add_app(rt, &d, &app_ids[a], &err)) die(&err);
    }
    if (ms_runtime_start(rt, &err)) die(&err);
    /* the first plans are made when the streams' rates are known */
    for (;;) {
        ms_runtime_stats st;
        if (ms_runtime_stats_get(rt, &st, &err)) die(&err);
        int planned = 0;
        for (int s = 0; s < st.n_streams; s++) planned += st.streams[s].planned && st.streams[s].last_frame >= 0;
        ms_runtime_stats_free(&st);
        if (planned == N_STREAMS) break;
        usleep(1000);
    }
    *seconds = ms_now() - t0;
    return rt;
}

static long long compiled(ms_runtime *rt)
{
    ms_runtime_stats st;
    ms_error err;
    if (ms_runtime_stats_get(rt, &st, &err)) die(&err);
    long long n = st.plans_compiled;
    ms_runtime_stats_free(&st);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL WORKDIR [rounds]\n", argv[0]);
        return 2;
    }
    const char *model = argv[1];
    snprintf(work, sizeof work, "%s", argv[2]);
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    ms_error err;
    ms_graph *base;
    if (ms_model_load(&model, 1, &base, &err)) die(&err);
    const int cps[3] = {0, 8, 15};
    for (int i = 0; i < 4; i++) {
        char name[16], file[32];
        snprintf(name, sizeof name, "app%d", i);
        snprintf(file, sizeof file, "app%d.mpk", i);
        if (fixture_package(base, name, cps, 3, (uint64_t)i + 3, at(file), &err)) die(&err);
    }
    ms_graph_free(base);
    fixture_profile(at("profile.json"), 16, 0.5);
    for (int s = 0; s < N_STREAMS; s++) {
        char file[32];
        snprintf(file, sizeof file, "cam%d.avi", s);
        if (fixture_video(at(file), 3000, 96, 64, 10)) {
            fprintf(stderr, "bench_replan: cannot write %s\n", at(file));
            return 1;
        }
    }
    printf("# %d apps on %d streams, VWW 96 (cpu, fp32, 1 thread), offline; seconds per call (median of %d)\n",
           N_APPS, N_STREAMS, rounds);
    double t_budget[64], t_add[64], t_remove[64], t_restart[64];
    long long c_budget = 0, c_add = 0, c_remove = 0;
    for (int r = 0; r < rounds && r < 64; r++) {
        int streams[N_STREAMS], apps[N_APPS];
        ms_runtime *rt = open_all(model, streams, apps, &t_restart[r]);
        long long c0 = compiled(rt);
        double t0 = ms_now();
        if (ms_runtime_set_budget(rt, r % 2 ? 70 : 50, &err)) die(&err);
        t_budget[r] = ms_now() - t0;
        long long c1 = compiled(rt);
        ms_deploy_app extra = {.name = "extra", .stream = streams[0], .package = (char *)at("app1.mpk"), .x_vote = 1,
                               .threshold = 0.5, .chokepoint = -1, .event_length_ms = -1, .event_frequency = -1,
                               .correlation = -1};
        int id;
        t0 = ms_now();
        if (ms_runtime_add_app(rt, &extra, &id, &err)) die(&err);
        t_add[r] = ms_now() - t0;
        long long c2 = compiled(rt);
        t0 = ms_now();
        if (ms_runtime_remove_app(rt, apps[4], &err)) die(&err);
        t_remove[r] = ms_now() - t0;
        long long c3 = compiled(rt);
        c_budget += c1 - c0;
        c_add += c2 - c1;
        c_remove += c3 - c2;
        if (ms_runtime_close(rt, &err)) die(&err);
    }
    int n = rounds < 64 ? rounds : 64;
    double *all[4] = {t_budget, t_add, t_remove, t_restart};
    for (int k = 0; k < 4; k++) /* medians */
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (all[k][j] < all[k][i]) {
                    double t = all[k][i];
                    all[k][i] = all[k][j];
                    all[k][j] = t;
                }
    double restart = t_restart[n / 2];
    printf("%-22s %10s %16s %12s\n", "change", "seconds", "plans compiled", "vs restart");
    printf("%-22s %10.4f %16.1f %11.1fx\n", "budget 60 -> 50/70", t_budget[n / 2], (double)c_budget / n, restart / t_budget[n / 2]);
    printf("%-22s %10.4f %16.1f %11.1fx\n", "one app added", t_add[n / 2], (double)c_add / n, restart / t_add[n / 2]);
    printf("%-22s %10.4f %16.1f %11.1fx\n", "one app removed", t_remove[n / 2], (double)c_remove / n, restart / t_remove[n / 2]);
    printf("%-22s %10.4f\n", "restart (the peer)", restart);
    return 0;
}
