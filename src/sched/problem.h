/* Internal to sched/: a scenario compiled for search. Units are merged into segments
 * between the chokepoints any app can use; every app gets its list of options
 * (segment boundary, fps, value) after dominance pruning. */
#ifndef MS_SCHED_PROBLEM_H
#define MS_SCHED_PROBLEM_H

#include <stdbool.h>

#include "base/clock.h"
#include "sched/schedule.h"

typedef struct {
    int cut;       /* index into problem.bounds: the stem covers segments [0, cut) */
    int level;     /* index into problem.levels (the option's fps) */
    double fps;
    double branch; /* fps * per-frame cost of the app's own units */
    double value;  /* to maximise: weight * F1, or -weight * FNR / FPR */
    double metric; /* the objective's unweighted metric (F1, FNR or 1 - precision) */
    ms_event_metrics m;
} ms_option;

typedef struct {
    int n_options;
    ms_option *options; /* sorted by decreasing value */
    int group;          /* apps of one group have identical option lists (symmetry) */
} ms_app_options;

/* Outside --compat, options whose values differ by at most this are a tie: dominance
 * keeps the faster of two tied options, and the solved schedule is moved, app by app,
 * to the fastest tied option that fits the budget (solve.c), so that a saturated
 * prediction does not leave the budget idle. Far below the 1e-9 the exactness tests allow. */
#define MS_SCHED_TIE 1e-10

typedef struct {
    int n_apps;
    ms_app_options *apps;
    int n_bounds;   /* segment boundaries in units: bounds[0] = 0 ... bounds[n_bounds-1] = n_units */
    int *bounds;
    int n_segs;     /* n_bounds - 1 */
    double *seg_cost; /* per-frame cost of each segment */
    int n_levels;   /* distinct fps over all options, increasing */
    double *levels;
    double capacity; /* budget with a relative tolerance of 1e-9 for float summation order */
    bool maximise_min;
} ms_problem;

/* policy decides the options; objective their value. */
ms_status ms_problem_build(const ms_scenario *s, const ms_sched_config *cfg, ms_problem *pb,
                           ms_error *err);
void ms_problem_free(ms_problem *pb);

/* Keeps in each app only the options whose metric (as a value to maximise) reaches
 * threshold, then drops the dominated ones; used by the max-min search. */
ms_status ms_problem_restrict(const ms_problem *pb, double threshold, ms_problem *out, ms_error *err);

/* Search results are option indices per app (problem order = scenario order). */
typedef struct {
    bool found;
    double value; /* sum of option values */
    double bound; /* certified upper bound on the sum */
    bool exact;
    long nodes;
} ms_search_result;

/* Exact branch and bound for the sum of values (stairs.c) (choice: n_apps option indices, filled when
 * found; it may hold a starting incumbent when `found` is set on entry). */
ms_status ms_search_exact(const ms_problem *pb, double deadline, int *choice, ms_search_result *res,
                          ms_error *err);
/* The exact search run many times on one problem whose capacity changes between runs
 * (the sorting it does up front is done once): ms_search_ctx_exact is ms_search_exact
 * with pb->capacity as it is at the call. pb must outlive the context. */
typedef struct ms_search_ctx ms_search_ctx;
ms_status ms_search_ctx_new(const ms_problem *pb, ms_search_ctx **out, ms_error *err);
void ms_search_ctx_exact(ms_search_ctx *c, double deadline, int *choice, ms_search_result *res);
void ms_search_ctx_free(ms_search_ctx *c);

/* A frontier: schedules by increasing cost and strictly increasing value, none
 * dominated by another (cost <= and value >=); choice holds n_apps option indices per
 * point. */
typedef struct {
    int n, cap, n_apps;
    double *cost, *value;
    int *choice; /* n x n_apps */
} ms_frontier;
void ms_frontier_free(ms_frontier *f);
/* Adds a schedule unless a point costing no more (to within a relative 1e-12: float
 * summation order) is worth as much, dropping the points it dominates so; false when
 * out of memory. */
bool ms_frontier_add(ms_frontier *f, double cost, double value, const int *choice);

/* The whole frontier of the problem over the budgets [lo, pb->capacity] in one branch
 * and bound (out: initialised by the call): every schedule whose value beats every
 * cheaper schedule's, for costs in [lo, capacity] (points below lo may also come back;
 * they are real schedules, not necessarily on the frontier). res: found (some point),
 * exact (not out of time: otherwise the points are real schedules, not all of them),
 * value (the best point's) and nodes. */
/* A bound of the search: no schedule costing at most capacity is worth more (the
 * largest LP relaxation over the stem's first segment's rates, the rest of the stem
 * shared evenly by the apps; -INFINITY when nothing fits). */
double ms_search_ctx_bound(ms_search_ctx *c, double capacity);
ms_status ms_search_ctx_frontier(ms_search_ctx *c, double lo, double deadline, ms_frontier *out,
                                 ms_search_result *res, ms_error *err);

/* Whether some schedule fits the capacity (cheapest-first depth-first search). */
ms_status ms_search_feasible(const ms_problem *pb, double deadline, int *choice, ms_search_result *res,
                             ms_error *err);
/* A starting schedule: the best, over stems of one rate up to one chokepoint, of the
 * knapsack each such stem leaves, rounded greedily (stairs.c). */
ms_status ms_search_uniform_stems(const ms_problem *pb, int *choice, bool *found, ms_error *err);
/* Greedy upgrades by value per cost; for the max-min objective it lifts the worst app. */
ms_status ms_search_greedy(const ms_problem *pb, bool lift_min, int *choice, ms_search_result *res,
                           ms_error *err);

/* Search order of the apps: most valuable decisions first, identical apps adjacent. */
void ms_search_order(const ms_problem *pb, int *order);

/* Exact cost of a choice on the problem's segments. */
double ms_problem_cost(const ms_problem *pb, const int *choice);

#endif
