/* The stream planner (see planner.h): every planned stream's scenario, one joint
 * schedule under the whole budget (sched/joint.h), pinned rates put in place (the others
 * re-solved with what the pins leave when they overrun), each stream's stem tree. */
#include "run/planner.h"

#include <stdlib.h>
#include <string.h>

#include "sched/joint.h"

#define PIN_ROUNDS 8
#define SEARCH_SECONDS 10.0

bool ms_planner_same(const ms_stream_plan *a, const ms_stream_plan *b)
{
    if (a->n_apps != b->n_apps || a->stream_fps != b->stream_fps) return false;
    for (int i = 0; i < a->n_apps; i++)
        if (a->apps[i] != b->apps[i] || a->schedule.apps[i].chokepoint != b->schedule.apps[i].chokepoint ||
            a->schedule.apps[i].fps != b->schedule.apps[i].fps)
            return false;
    return true;
}

/* One joint solve at budget b, each stream's part moved into its plan, pins applied;
 * *total the cost of all, *pinned whether any app is pinned. */
static ms_status solve_once(ms_stream_plan *out, int n, const ms_sched_config *cfg, double b, bool *feasible,
                            double *total, bool *pinned, ms_error *err)
{
    ms_scenario *sc = malloc(sizeof *sc * (size_t)n);
    if (!sc) return ms_errorf(err, MS_ERR_NOMEM, "planning: out of memory");
    for (int i = 0; i < n; i++) sc[i] = out[i].scenario;
    ms_joint_schedule j;
    ms_status st = ms_joint_solve(sc, n, b, cfg, &j, err);
    free(sc);
    if (st) return st;
    *feasible = j.feasible;
    *total = 0;
    *pinned = false;
    for (int i = 0; i < n && st == MS_OK && j.feasible; i++) {
        ms_schedule_free(&out[i].schedule);
        out[i].schedule = j.streams[i];
        memset(&j.streams[i], 0, sizeof j.streams[i]);
        bool p;
        st = ms_stream_plan_pins(&out[i], &p, err);
        *pinned |= p;
        *total += out[i].schedule.cost;
    }
    ms_joint_schedule_free(&j);
    return st;
}

ms_status ms_planner_solve(const ms_run_model *m, ms_policy policy, ms_objective objective, double budget,
                           const ms_planner_stream *in, int n, ms_stream_plan *out, int *failed, ms_error *err)
{
    *failed = -1;
    if (n == 1) { /* one stream: the scheduler's own search, as a single-stream scenario gets */
        ms_status st = ms_stream_plan_solve(m, policy, objective, in[0].apps, in[0].n_apps, in[0].stream_fps,
                                           budget / in[0].correction, in[0].where, &out[0], err);
        if (st) *failed = 0;
        return st;
    }
    ms_status st = MS_OK;
    int made = 0;
    for (int i = 0; i < n && st == MS_OK; i++) {
        st = ms_stream_plan_init(&out[i], in[i].apps, in[i].n_apps, in[i].stream_fps, budget, err);
        if (st == MS_OK) made++;
        if (st == MS_OK) st = ms_stream_plan_scenario(m, &out[i], in[i].correction, in[i].where, err);
        if (st) *failed = i;
    }
    ms_sched_config cfg = {.policy = policy, .objective = objective, .time_limit_s = SEARCH_SECONDS};
    double b = budget, total = 0;
    bool feasible = false;
    for (int round = 0; round < PIN_ROUNDS && st == MS_OK; round++) {
        bool pinned = false;
        if ((st = solve_once(out, n, &cfg, b, &feasible, &total, &pinned, err)) || !feasible) break;
        if (!pinned || total <= budget * (1 + 1e-9)) break;
        b -= total - budget; /* the pins overran: the others get what they leave */
        if (b <= 0) feasible = false;
    }
    if (st == MS_OK && (!feasible || total > budget * (1 + 1e-9))) {
        int apps = 0;
        for (int i = 0; i < n; i++) apps += in[i].n_apps;
        if (n == 1) {
            *failed = 0;
            st = ms_errorf(err, MS_ERR_INVALID, "%s: no schedule of its %d app(s) fits its budget of %.4g ms per second",
                           in[0].where, apps, budget);
        } else {
            st = ms_errorf(err, MS_ERR_INVALID,
                           "no schedule of the %d app(s) of %d streams fits the budget of %.4g ms per second", apps, n,
                           budget);
        }
    }
    for (int i = 0; i < n && st == MS_OK; i++) {
        out[i].budget = out[i].schedule.cost; /* the stream's part of the budget */
        st = ms_stem_tree_build(&out[i].scenario, &out[i].schedule, &out[i].tree, err);
    }
    if (st)
        for (int i = 0; i < made; i++) ms_stream_plan_free(&out[i]);
    return st;
}
