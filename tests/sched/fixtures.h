/* Scenario fixtures of the scheduler's tests: a seeded uniform draw, and streams of the
 * reference apps (docs/scheduler.md) with their full curves. */
#ifndef MS_TESTS_SCHED_FIXTURES_H
#define MS_TESTS_SCHED_FIXTURES_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"
#include "sched/simulate.h"
#include "testutil.h"

static double uniform(unsigned *seed) { return rand_r(seed) / (double)RAND_MAX; }

/* One stream of `apps` reference apps, full curves perturbed by +-0.01, 10 fps, rates
 * 1..10 (0.1..0.9 come with the default model). */
static void reference_stream(const ms_reference *ref, unsigned *seed, ms_scenario *sc, int apps)
{
    memset(sc, 0, sizeof *sc);
    sc->stream_fps = 10;
    sc->n_units = ref->n_units;
    sc->unit_costs = malloc(sizeof(double) * (size_t)ref->n_units);
    memcpy(sc->unit_costs, ref->unit_costs, sizeof(double) * (size_t)ref->n_units);
    sc->fps_options = malloc(sizeof(double) * 10);
    for (int i = 0; i < 10; i++) sc->fps_options[sc->n_fps++] = i + 1;
    sc->apps = calloc((size_t)apps, sizeof *sc->apps);
    for (int a = 0; a < apps; a++) {
        int pick = (int)(uniform(seed) * ref->n_apps) % ref->n_apps;
        assert_int_equal(ms_app_copy(&ref->apps[pick], &sc->apps[a], NULL), MS_OK);
        sc->n_apps++;
        for (int i = 0; i < sc->apps[a].n_points; i++) {
            ms_scenario_point *pt = &sc->apps[a].curve[i];
            pt->tpr = fmin(1, fmax(0, pt->tpr + 0.02 * (uniform(seed) - 0.5)));
            pt->fpr = fmin(1, fmax(0, pt->fpr + 0.02 * (uniform(seed) - 0.5)));
        }
    }
}

#endif
