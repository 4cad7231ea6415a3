/* Choosing a (chokepoint, frame rate) for every app of a scenario within a compute budget:
 * policies, objectives, the cost model and the result (with its stem tree). */
#ifndef MS_SCHED_SCHEDULE_H
#define MS_SCHED_SCHEDULE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "sched/event.h"
#include "sched/scenario.h"

typedef enum {
    MS_POLICY_MAINSTREAM, /* exact optimum over every (chokepoint, fps) option */
    MS_POLICY_GREEDY,     /* best value-per-cost upgrades, for very large app sets */
    MS_POLICY_MAXSHARING, /* every app at its last chokepoint, best frame rates */
    MS_POLICY_NOSHARING,  /* every app at chokepoint 0, frame rates may be 0.1..0.9 too */
} ms_policy;

typedef enum {
    MS_OBJ_MEAN_F1,  /* maximise the (weighted) mean event F1 */
    MS_OBJ_MIN_F1,   /* maximise the smallest F1 (then the mean F1 among those schedules) */
    MS_OBJ_MEAN_FNR, /* minimise the (weighted) mean event false-negative rate */
    MS_OBJ_MEAN_FPR, /* minimise the (weighted) mean 1 - precision */
} ms_objective;

typedef struct {
    ms_policy policy;
    ms_objective objective;
    bool compat;         /* the original's arithmetic (ORIGINAL_MODEL.md) */
    double time_limit_s; /* exact search stops after this long (0: no limit) and reports a bound */
} ms_sched_config;

typedef struct {
    int chokepoint;
    double fps;
    ms_event_metrics m;
} ms_assignment;

typedef struct {
    bool feasible;      /* false: not even the cheapest schedule fits the budget */
    bool exact;         /* value is proven optimal for the policy */
    double value;       /* mean (or min) of the objective's metric over the apps */
    double bound;       /* certified: no feasible schedule of the policy does better */
    double cost;        /* cost of the schedule (compute per second) */
    double seconds;     /* search time */
    long nodes;         /* search nodes visited */
    int n_apps;
    ms_assignment *apps; /* in scenario order */
} ms_schedule;

/* Segment [from, to) of the shared stem at fps; apps listed in `branches` leave the stem at
 * `to` (their own layers start there). Apps at chokepoint 0 are the tree's root branches. */
typedef struct {
    int from, to;
    double fps;
    int n_branches;
    int *branches; /* app indices */
} ms_stem_segment;

typedef struct {
    int n_segments;
    ms_stem_segment *segments; /* from the input onwards, fps non-increasing */
    int n_root_branches;
    int *root_branches;
} ms_stem_tree;

ms_status ms_policy_parse(const char *name, ms_policy *out, ms_error *err);
ms_status ms_objective_parse(const char *name, ms_objective *out, ms_error *err);
const char *ms_policy_name(ms_policy p);
const char *ms_objective_name(ms_objective o);

/* Solves the scenario under cfg. An infeasible budget is not an error: out->feasible. */
ms_status ms_schedule_solve(const ms_scenario *s, const ms_sched_config *cfg, ms_schedule *out,
                            ms_error *err);
void ms_schedule_free(ms_schedule *sch);

/* Cost of a schedule given per app: each unit at the highest fps among the apps still
 * sharing it plus, for every app that branched off before it, that app's own fps.
 * compat: the original's get_cost_schedule, float operations in its order. */
double ms_schedule_cost(const ms_scenario *s, const int *chokepoints, const double *fps, bool compat);

/* Event metrics of app a at (chokepoint, fps), with compat's monotone curve fix-up. */
ms_status ms_app_metrics(const ms_app *app, double stream_fps, int chokepoint, double fps,
                         bool compat, ms_event_metrics *out, ms_error *err);

/* The stem tree of a schedule, and its cost (equal to ms_schedule_cost). */
ms_status ms_stem_tree_build(const ms_scenario *s, const ms_schedule *sch, ms_stem_tree *out,
                             ms_error *err);
double ms_stem_tree_cost(const ms_scenario *s, const ms_stem_tree *t, const ms_schedule *sch);
void ms_stem_tree_free(ms_stem_tree *t);

#define MS_SCHEDULE_FORMAT_VERSION 1
/* {"format_version","policy","objective","value","cost","budget","apps":[...],"stem":[...],"stem_tree":{...}} */
cJSON *ms_schedule_to_json(const ms_scenario *s, const ms_sched_config *cfg, const ms_schedule *sch,
                           const ms_stem_tree *tree);

#endif
