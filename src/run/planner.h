/* The stream planner: the schedules of every planned stream of a runtime at once, for
 * its app set, budget, policy and objective (one joint budget, sched/joint.h), turned into stream plans (run/stream_plan.h) whose
 * stem trees the runtime compiles. Streams may carry a cost correction (observed /
 * planned node cost, measured live): their unit costs are taken as that much larger. */
#ifndef MS_RUN_PLANNER_H
#define MS_RUN_PLANNER_H

#include "run/stream_plan.h"

typedef struct {
    int index;               /* the caller's, copied into nothing: for the caller to map back */
    const ms_stream_plan_app *apps; /* the stream's apps, in the order the plan lists them */
    int n_apps;              /* >= 1 */
    double stream_fps;       /* > 0 */
    double correction;       /* > 0; 1: the unit costs as measured */
    const char *where;       /* names the stream in messages */
} ms_planner_stream;

/* Plans n streams sharing `budget` (ms per second): one joint schedule maximising the
 * objective over every app of every stream. out[i] is stream i's plan, budget
 * set to its part. On failure nothing is left in out and *failed is the index (into in)
 * of the stream that could not be planned, or -1 when no one stream is to blame. */
ms_status ms_planner_solve(const ms_run_model *m, ms_policy policy, ms_objective objective, double budget,
                           const ms_planner_stream *in, int n, ms_stream_plan *out, int *failed, ms_error *err);

/* Whether two plans run the same apps at the same points and rates (re-installing b
 * over a would change nothing). */
bool ms_planner_same(const ms_stream_plan *a, const ms_stream_plan *b);

#endif
