/* Joint scheduling speed and value: S streams of A apps each under one budget, solved
 * exactly (sched/joint.h), against the split it replaces (each stream gets the budget in
 * proportion to its apps and is solved alone by the exact search).
 * usage: bench_joint REFERENCE STREAMS APPS BUDGET_PER_APP [trained_chokepoints 0|K] [seed]
 * Apps are drawn from the reference apps (85 MobileNet layers, 16 chokepoints, 10 fps
 * streams, rates 0.1..0.9 and 1..10); each curve is perturbed by +-0.01 so that no two
 * apps are interchangeable. trained_chokepoints K keeps K of each app's curve points
 * (the first, then evenly spaced, as `mainstream train --chokepoints` would give a
 * runtime app); 0 keeps all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "sched/joint.h"
#include "sched/simulate.h"

static uint64_t rng_state = 42;

static double uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void keep_points(ms_app *a, int k)
{
    if (k <= 0 || a->n_points <= k) return;
    ms_scenario_point *p = malloc(sizeof *p * (size_t)k);
    for (int i = 0; i < k; i++) p[i] = a->curve[(int)((double)i * (a->n_points - 1) / (k - 1) + 0.5)];
    free(a->curve);
    a->curve = p;
    a->n_points = k;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s REFERENCE STREAMS APPS BUDGET_PER_APP [trained_chokepoints] [seed]\n", argv[0]);
        return 2;
    }
    int n_streams = atoi(argv[2]), n_apps = atoi(argv[3]), keep = argc > 5 ? atoi(argv[5]) : 0;
    double per_app = atof(argv[4]);
    if (argc > 6) rng_state = strtoull(argv[6], NULL, 10);
    ms_error err;
    ms_reference ref;
    if (ms_reference_load(argv[1], &ref, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double fps[19];
    int n_fps = 0;
    for (int i = 1; i <= 10; i++) fps[n_fps++] = i;
    ms_scenario *s = calloc((size_t)n_streams, sizeof *s);
    for (int k = 0; k < n_streams; k++) {
        s[k] = (ms_scenario){10, 0, ref.n_units, ref.unit_costs, n_fps, fps, n_apps, calloc((size_t)n_apps, sizeof(ms_app))};
        for (int a = 0; a < n_apps; a++) {
            ms_app_copy(&ref.apps[(int)(uniform() * ref.n_apps)], &s[k].apps[a], &err);
            keep_points(&s[k].apps[a], keep);
            for (int i = 0; i < s[k].apps[a].n_points; i++) {
                s[k].apps[a].curve[i].tpr = clamp01(s[k].apps[a].curve[i].tpr + 0.02 * (uniform() - 0.5));
                s[k].apps[a].curve[i].fpr = clamp01(s[k].apps[a].curve[i].fpr + 0.02 * (uniform() - 0.5));
            }
        }
    }
    double budget = per_app * n_streams * n_apps;
    const ms_objective objs[4] = {MS_OBJ_MEAN_F1, MS_OBJ_MIN_F1, MS_OBJ_MEAN_FNR, MS_OBJ_MEAN_FPR};
    printf("# %d streams x %d apps, budget %g (%g per app), %s curve points, 10 fps, rates 0.1..0.9 and 1..10\n",
           n_streams, n_apps, budget, per_app, keep ? argv[5] : "all");
    printf("%-7s %9s %9s %7s %10s %10s %10s %9s %9s\n", "obj", "joint_s", "joint_cpu", "exact", "points", "joint",
           "split", "split_s", "gain");
    for (int o = 0; o < 4; o++) {
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, objs[o], false, 120};
        ms_joint_schedule j;
        double cpu0 = ms_process_cpu_now();
        if (ms_joint_solve(s, n_streams, budget, &cfg, &j, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double joint_cpu = ms_process_cpu_now() - cpu0;
        /* the split by app count, each stream alone */
        double t0 = ms_now();
        ms_schedule *sp = calloc((size_t)n_streams, sizeof *sp);
        bool ok = true;
        for (int k = 0; k < n_streams; k++) {
            s[k].budget = budget / n_streams;
            if (ms_schedule_solve(&s[k], &cfg, &sp[k], &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            ok &= sp[k].feasible;
        }
        double split_s = ms_now() - t0;
        double split = ok ? ms_joint_value(s, n_streams, &cfg, sp) : NAN;
        double sign = objs[o] == MS_OBJ_MEAN_FNR || objs[o] == MS_OBJ_MEAN_FPR ? -1 : 1;
        printf("%-7s %9.3f %9.3f %7s %10ld %10.6f %10.6f %9.3f %+9.6f\n", ms_objective_name(objs[o]), j.seconds,
               joint_cpu, j.exact ? "yes" : "no", j.frontier_points, j.value, split, split_s, sign * (j.value - split));
        fflush(stdout);
        for (int k = 0; k < n_streams; k++) ms_schedule_free(&sp[k]);
        free(sp);
        ms_joint_schedule_free(&j);
    }
    for (int k = 0; k < n_streams; k++) {
        for (int a = 0; a < n_apps; a++) ms_app_free(&s[k].apps[a]);
        free(s[k].apps);
    }
    free(s);
    ms_reference_free(&ref);
    return 0;
}
