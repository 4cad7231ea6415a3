/* The stream planner (see planner.h): each stream gets the budget in proportion to its
 * apps and is scheduled alone. */
#include "run/planner.h"

#include <string.h>

bool ms_planner_same(const ms_stream_plan *a, const ms_stream_plan *b)
{
    if (a->n_apps != b->n_apps || a->stream_fps != b->stream_fps) return false;
    for (int i = 0; i < a->n_apps; i++)
        if (a->apps[i] != b->apps[i] || a->schedule.apps[i].chokepoint != b->schedule.apps[i].chokepoint ||
            a->schedule.apps[i].fps != b->schedule.apps[i].fps)
            return false;
    return true;
}

ms_status ms_planner_solve(const ms_run_model *m, ms_policy policy, ms_objective objective, double budget,
                           int total, const ms_planner_stream *in, int n, ms_stream_plan *out, int *failed,
                           ms_error *err)
{
    *failed = -1;
    for (int i = 0; i < n; i++) {
        double share = budget * in[i].n_apps / total / in[i].correction;
        ms_status st = ms_plan_stream_apps(m, policy, objective, in[i].apps, in[i].n_apps, in[i].stream_fps, share,
                                           in[i].where, &out[i], err);
        if (st) {
            for (int k = 0; k < i; k++) ms_stream_plan_free(&out[k]);
            *failed = i;
            return st;
        }
    }
    return MS_OK;
}
