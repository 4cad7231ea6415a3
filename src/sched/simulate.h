/* The original Mainstream's main experiment: mean event F1 against the number of apps
 * for the Mainstream, Max-Sharing and No-Sharing policies, on the reference MobileNet data
 * (per-layer latencies and nine apps' accuracy curves), in the compat and default models. */
#ifndef MS_SCHED_SIMULATE_H
#define MS_SCHED_SIMULATE_H

#include <stdint.h>
#include <stdio.h>

#include "sched/scenario.h"
#include "sched/schedule.h"

/* The reference data: units = layers, apps with curves keyed by frozen-layer counts. */
typedef struct {
    int n_units;
    double *unit_costs;
    int n_apps;
    ms_app *apps;
} ms_reference;

ms_status ms_reference_load(const char *path, ms_reference *out, ms_error *err);
void ms_reference_free(ms_reference *r);

typedef struct {
    double budget, stream_fps;
    int max_apps, trials;
    uint64_t seed;
    double time_limit_s; /* per exact solve */
} ms_sim_config;

#define MS_SIM_POLICIES 3 /* mainstream, maxsharing, nosharing */
#define MS_SIM_MODELS 2   /* default, compat */

typedef struct {
    int n_apps;
    double mean_f1[MS_SIM_MODELS][MS_SIM_POLICIES]; /* averaged over trials */
    int inexact[MS_SIM_MODELS][MS_SIM_POLICIES];    /* trials stopped by the time limit */
    double seconds[MS_SIM_MODELS][MS_SIM_POLICIES]; /* mean solve time */
} ms_sim_row;

extern const ms_policy ms_sim_policies[MS_SIM_POLICIES];

/* Runs the experiment; rows[i] is for i + 1 apps (max_apps rows). An infeasible schedule
 * counts as F1 0 for every app (no app gets a frame). */
ms_status ms_simulate(const ms_reference *ref, const ms_sim_config *cfg, ms_sim_row *rows,
                      ms_error *err);

/* CSV (apps,model,policy,mean_f1,inexact_trials,mean_seconds) and an SVG line chart. */
void ms_simulate_write_csv(FILE *out, const ms_sim_row *rows, int n);
void ms_simulate_write_svg(FILE *out, const ms_sim_row *rows, int n, const ms_sim_config *cfg);

#endif
