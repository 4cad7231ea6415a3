/* Timing a compiled plan: warm-up runs, then the median of repeated runs, for
 * `mainstream profile` and the benchmarks. */
#ifndef MS_BACKEND_PLAN_TIME_H
#define MS_BACKEND_PLAN_TIME_H

#include "backend/backend.h"

/* The median of t[0..n) (n >= 1); sorts t in place. */
double ms_median(double *t, int n);

/* Runs plan `warmup` times, then `runs` times (>= 1), on an input of deterministic
 * pseudo-random values in [-1, 1), and sets *median_ms to the median wall time of one
 * run (the whole batch) and, when min_ms is not NULL, *min_ms to the fastest run (on a
 * shared machine the fastest run is the one least disturbed by other processes). */
ms_status ms_plan_time(ms_plan *plan, int warmup, int runs, double *median_ms, double *min_ms, ms_error *err);

/* Times the segments of one network as the network runs them: each pass runs `whole`
 * (when not NULL) and then the chain plans[0..n), each plan reading the previous one's
 * output, timing every plan; after `warmup` passes, `runs` passes are timed. Buffers are
 * sized by bytes per frame, so chained plans (input_from, native_output) pass their
 * native layouts; the first plan must read plain floats.
 * *whole_ms and seg_ms[i] get the medians per run (the whole batch). A NULL plan (an
 * empty segment) takes 0 ms. Running the chain, rather than each segment alone, leaves
 * the caches as the network would: a segment timed alone keeps its weights cached from
 * run to run and looks cheaper than it is inside the network. */
ms_status ms_plan_time_chain(ms_plan *whole, ms_plan *const *plans, int n, int warmup, int runs, double *whole_ms,
                             double *seg_ms, ms_error *err);

#endif
