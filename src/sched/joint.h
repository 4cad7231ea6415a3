/* One budget across several streams. The streams' stem trees are separate, so the
 * joint problem decomposes: per stream, the exact frontier of (cost, objective value)
 * from the exact search (every schedule that is the optimum for some budget; one branch
 * and bound over a range of budgets, grown where the combination needs it), then an
 * exact combination across streams (a multiple-choice knapsack: one frontier point per
 * stream, total cost within the budget). Objectives: weighted mean F1 and mean FNR/FPR
 * are sums over all apps of all streams; min-F1 is the largest threshold every app of
 * every stream reaches within the budget, then the best mean F1 among those schedules
 * (docs/scheduler.md). */
#ifndef MS_SCHED_JOINT_H
#define MS_SCHED_JOINT_H

#include "sched/schedule.h"

typedef struct {
    bool feasible;      /* some schedule of every stream fits the budget together */
    bool exact;         /* proven optimal for the policy (no search ran out of time) */
    double value;       /* the objective over every app of every stream */
    double cost;        /* all streams */
    double seconds;
    long frontier_points; /* over all streams (the combination's options) */
    int n_streams;
    ms_schedule *streams; /* per stream, in the order given: apps, cost, value (its own) */
} ms_joint_schedule;

/* streams[i]'s own budget is ignored; `budget` is shared. Fails only on bad input or
 * memory; an infeasible budget gives out->feasible = false. */
ms_status ms_joint_solve(const ms_scenario *streams, int n, double budget, const ms_sched_config *cfg,
                         ms_joint_schedule *out, ms_error *err);
void ms_joint_schedule_free(ms_joint_schedule *j);

/* The objective's value of per-stream schedules taken together (weighted mean, or min for
 * min-f1), as ms_joint_solve reports it. */
double ms_joint_value(const ms_scenario *streams, int n, const ms_sched_config *cfg, const ms_schedule *sch);

/* {"policy","objective","model","feasible","exact","value","cost","budget","seconds",
 *  "frontier_points","streams":[{"name","stream_fps","cost","value","apps":[...],"stem":[...],
 *  "stem_tree":{...}}]} (docs/scheduler.md); NULL when out of memory. */
cJSON *ms_joint_schedule_to_json(const ms_scenario *streams, const char *const *names, int n, double budget,
                                 const ms_sched_config *cfg, const ms_joint_schedule *j);

#endif
