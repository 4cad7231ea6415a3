/* The per-frame cost of each unit of the base network, the numbers the scheduler plans
 * with: unit i < n-1 is the segment between chokepoints i and i+1, unit n-1 an app's
 * own head at the last chokepoint, so an app branching at chokepoint c pays units
 * c..n-1 and shares units 0..c-1 (n = the number of chokepoints). Either read from a
 * `mainstream profile` file or measured here on the deployment's backend, batch and
 * threads. */
#ifndef MS_RUN_UNITS_H
#define MS_RUN_UNITS_H

#include "backend/backend.h"
#include "graph/cut.h"

/* Milliseconds per frame of every unit, measured now (a few runs each). */
ms_status ms_units_measure(const ms_graph *base, const ms_chokepoint *cps, int n_cps, const ms_backend *b,
                           const ms_plan_options *opts, double **costs, ms_error *err);

/* Reads a profile's segments as unit costs; their number must be n_cps, and its
 * model_fingerprint, when it has one, must be base's. */
ms_status ms_units_load(const char *path, const ms_graph *base, int n_cps, double **costs, ms_error *err);

/* The graph of unit i (segment or head template). */
ms_status ms_units_graph(const ms_graph *base, const ms_chokepoint *cps, int n_cps, int i, ms_graph **out,
                         ms_error *err);

#endif
