/* An app of a deployment as the runner needs it: its M-Package read and checked against
 * the base model, its accuracy curve and event statistics for the scheduler (the
 * deployment may override the statistics), and its branch network at any trained
 * chokepoint. This is the runner's one door to formats/mpackage.h. */
#ifndef MS_RUN_APP_H
#define MS_RUN_APP_H

#include <stdbool.h>

#include "base/error.h"
#include "graph/graph.h"
#include "media/convert.h"

typedef struct {
    void *pkg;         /* ms_mpackage */
    int n_points;      /* trained chokepoints, increasing */
    int *chokepoints;
    double *tpr, *fpr;
    bool events_known; /* false: the package has no event statistics */
    double event_length_ms, event_frequency, correlation;
    ms_resize_mode resize; /* how the app's training pictures were fitted to the input */
} ms_run_app;

/* Reads the package at path and checks that it was trained on base. `where` names the
 * deployment field in messages. */
ms_status ms_run_app_load(const char *path, const ms_graph *base, const char *where, ms_run_app *out, ms_error *err);

/* The app's network from chokepoint c to its probability (formats/mpackage.h). */
ms_status ms_run_app_branch(const ms_run_app *a, const ms_graph *base, int chokepoint, ms_graph **out,
                            ms_error *err);

/* Whether the app was trained at chokepoint c. */
bool ms_run_app_has(const ms_run_app *a, int chokepoint);

void ms_run_app_free(ms_run_app *a);

/* An untrained app network at chokepoint c (base weights, a zero head): what the cost of
 * an app's own layers is measured on. */
ms_status ms_run_branch_template(const ms_graph *base, int chokepoint, ms_graph **out, ms_error *err);

#endif
