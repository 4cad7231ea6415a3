/* Timing a compiled plan: warm-up runs, then the median of repeated runs, for
 * `mainstream profile` and the benchmarks. */
#ifndef MS_BACKEND_PLAN_TIME_H
#define MS_BACKEND_PLAN_TIME_H

#include "backend/backend.h"

/* Runs plan `warmup` times, then `runs` times (>= 1), on an input of deterministic
 * pseudo-random values in [-1, 1), and sets *median_ms to the median wall time of one
 * run (the whole batch) and, when min_ms is not NULL, *min_ms to the fastest run (on a
 * shared machine the fastest run is the one least disturbed by other processes). */
ms_status ms_plan_time(ms_plan *plan, int warmup, int runs, double *median_ms, double *min_ms, ms_error *err);

#endif
