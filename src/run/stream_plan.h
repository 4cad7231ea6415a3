/* A stream plan (ms_stream_plan_*; `ms_plan_*` is a backend's compiled plan): the base
 * model loaded once with its chokepoints and unit costs (ms_run_model), then for one
 * stream its scenario, the scheduler's schedule and its stem tree compiled into an
 * executor. The stream planner (planner.h) makes these for all streams under one joint
 * budget; ms_stream_plan_solve schedules one stream alone.
 *
 * "auto" budget is 900 ms of compute per second of video: the machine's threads busy,
 * less 10% kept for decoding and conversion. Pinned apps: a pinned chokepoint restricts
 * the app's curve to that point, so the scheduler can only choose it; a pinned fps
 * replaces the scheduler's choice, and when that overruns the budget the others are
 * re-solved within what remains. */
#ifndef MS_RUN_STREAM_PLAN_H
#define MS_RUN_STREAM_PLAN_H

#include "cost/profile.h"
#include "graph/cut.h"
#include "run/app.h"
#include "run/deploy.h"
#include "run/exec.h"
#include "sched/schedule.h"

#define MS_AUTO_BUDGET 900.0

typedef struct {
    ms_graph *base;
    ms_chokepoint *cps;
    int n_cps;
    ms_profile costs;   /* n_cps units, ms per frame (cost/profile.h): read or measured */
    ms_run_app *apps;   /* deployment order */
    int n_apps;
    const ms_backend *backend;
    ms_plan_options opts;
    ms_resize_mode resize; /* how every stream's frames are fitted to the base input */
} ms_run_model;

/* What a model is loaded with: the base network's files, the backend settings and the
 * unit costs (a profile file, or NULL: measured now, as `mainstream profile` measures
 * them, with MS_PROFILE_TIMING_START); `where` names the source in messages. */
typedef struct {
    const char *const *models;
    int n_models;
    const char *backend;
    ms_precision precision;
    int threads, batch;
    const char *profile;
    const char *where;
} ms_run_model_config;

/* The base model, its chokepoints and unit costs, with no apps (m->apps NULL). */
ms_status ms_run_model_load_base(const ms_run_model_config *c, ms_run_model *m, ms_error *err);

/* Checks a loaded package against the model and the app's description (pinned
 * chokepoint, event statistics); `where` names the app ("d.json: apps[1]"). */
ms_status ms_stream_plan_check_app(const ms_run_model *m, const ms_deploy_app *a, const ms_run_app *ra, const char *where,
                            ms_error *err);

/* Loads the base model, every package (checked against it and against pinned
 * chokepoints) and the unit costs (read or measured). Nothing is read from a stream. */
ms_status ms_run_model_load(const ms_deployment *d, ms_run_model *m, ms_error *err);
void ms_run_model_free(ms_run_model *m);

/* An app as a stream plan sees it: its id (a deployment index, or a runtime id), its
 * description and its package. */
typedef struct {
    int id;
    const ms_deploy_app *desc;
    const ms_run_app *pkg;
} ms_stream_plan_app;

typedef struct {
    int stream;          /* deployment index; -1 when planned from a list of apps */
    double stream_fps;
    double budget;       /* the stream's share, ms per second */
    int n_apps;
    int *apps;           /* ids of the stream's apps, scenario order */
    ms_stream_plan_app *entries; /* the same apps, scenario order */
    ms_scenario scenario;
    ms_schedule schedule;
    ms_stem_tree tree;
} ms_stream_plan;

/* The schedule of one stream. budget: the stream's share (already corrected when
 * re-planning). Fails when no schedule fits. */
ms_status ms_stream_plan_deployment(const ms_deployment *d, const ms_run_model *m, int stream, double stream_fps, double budget,
                         ms_stream_plan *out, ms_error *err);

/* The schedule of a stream's apps (scenario order = the order given); `where` names the
 * stream in messages. */
ms_status ms_stream_plan_solve(const ms_run_model *m, ms_policy policy, ms_objective objective, const ms_stream_plan_app *apps,
                              int n_apps, double stream_fps, double budget, const char *where, ms_stream_plan *out,
                              ms_error *err);

/* The parts of ms_stream_plan_solve, for planners that solve several streams at once:
 * a plan with its apps and nothing else; its scenario (unit costs times correction,
 * the apps' curves and events, the rates 1..floor(S), S and the pinned ones); pinned
 * rates put in place of a schedule's (with their predictions), the schedule's cost
 * recomputed, *pinned whether any app is pinned. */
ms_status ms_stream_plan_init(ms_stream_plan *out, const ms_stream_plan_app *apps, int n_apps, double stream_fps,
                              double budget, ms_error *err);
ms_status ms_stream_plan_scenario(const ms_run_model *m, ms_stream_plan *p, double correction, const char *where,
                                 ms_error *err);
ms_status ms_stream_plan_pins(ms_stream_plan *p, bool *pinned, ms_error *err);

/* Planned ms per frame of units [from, to). */
double ms_run_model_units_ms(const ms_run_model *m, int from, int to);

/* Compiles a plan's stem tree: one segment node per stem segment (parent: the previous
 * segment), one branch node per app (parent: the segment it leaves from, or the stream
 * for chokepoint 0); a branch node's app is the app's id. d is not used (may be NULL). */
ms_status ms_stream_plan_exec(const ms_deployment *d, const ms_run_model *m, const ms_stream_plan *p,
                             ms_exec_tree *t, ms_error *err);

void ms_stream_plan_free(ms_stream_plan *p);

#endif
