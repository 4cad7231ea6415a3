/* Scheduler speed: time to the exact optimum (and the greedy's gap to it) against the
 * number of apps, on the original's setting: MobileNet's 85 layer latencies and 16
 * chokepoints, apps drawn from the nine reference apps, a 10 fps stream.
 * usage: bench_sched REFERENCE [budget] [time_limit_s] [distinct] [compat]
 * distinct = 1 perturbs every drawn app's curve (tpr, fpr +- 0.01) so that no two apps
 * are interchangeable and symmetry breaking cannot help. fractional = 1 adds the rates
 * 0.1 .. 0.9 to the integer ones (19 levels). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s REFERENCE [budget] [time_limit_s] [distinct 0|1] [compat 0|1] [fractional 0|1]\n", argv[0]);
        return 2;
    }
    double budget = argc > 2 ? atof(argv[2]) : 100;
    double limit = argc > 3 ? atof(argv[3]) : 60;
    int distinct = argc > 4 ? atoi(argv[4]) : 0, compat = argc > 5 ? atoi(argv[5]) : 0;
    int fractional = argc > 6 ? atoi(argv[6]) : 0;
    ms_error err;
    ms_reference ref;
    if (ms_reference_load(argv[1], &ref, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const int sizes[] = {2, 3, 5, 10, 20, 30, 50, 100};
    printf("# budget %g, stream 10 fps, %s apps, %s model, %s rates, time limit %g s\n", budget,
           distinct ? "distinct" : "reference", compat ? "compat" : "default",
           fractional ? "0.1..0.9 and 1..10" : "1..10", limit);
    printf("%5s %10s %10s %6s %10s %10s %10s %10s %10s\n", "apps", "exact_s", "nodes", "exact", "value",
           "bound", "greedy_s", "greedy", "gap");
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int n = sizes[k];
        double fps[19];
        int n_fps = 0;
        for (int i = 1; fractional && i <= 9; i++) fps[n_fps++] = i * 0.1;
        for (int i = 1; i <= 10; i++) fps[n_fps++] = i;
        ms_scenario s = {10, budget, ref.n_units, ref.unit_costs, n_fps, NULL, n, NULL};
        s.fps_options = fps;
        s.apps = calloc((size_t)n, sizeof *s.apps);
        for (int a = 0; a < n; a++) {
            ms_app_copy(&ref.apps[(int)(uniform() * ref.n_apps)], &s.apps[a], &err);
            for (int i = 0; distinct && i < s.apps[a].n_points; i++) {
                s.apps[a].curve[i].tpr = clamp01(s.apps[a].curve[i].tpr + 0.02 * (uniform() - 0.5));
                s.apps[a].curve[i].fpr = clamp01(s.apps[a].curve[i].fpr + 0.02 * (uniform() - 0.5));
            }
        }
        ms_sched_config exact = {MS_POLICY_MAINSTREAM, MS_OBJ_MEAN_F1, compat, limit};
        ms_sched_config greedy = {MS_POLICY_GREEDY, MS_OBJ_MEAN_F1, compat, 0};
        ms_schedule x, g;
        if (ms_schedule_solve(&s, &exact, &x, &err) || ms_schedule_solve(&s, &greedy, &g, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%5d %10.4f %10ld %6s %10.6f %10.6f %10.4f %10.6f %10.6f\n", n, x.seconds, x.nodes,
               x.exact ? "yes" : "no", x.value, x.bound, g.seconds, g.value, x.value - g.value);
        fflush(stdout);
        ms_schedule_free(&x);
        ms_schedule_free(&g);
        for (int a = 0; a < n; a++) ms_app_free(&s.apps[a]);
        free(s.apps);
    }
    ms_reference_free(&ref);
    return 0;
}
