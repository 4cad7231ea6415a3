/* A scheduling scenario: the stream, the budget, the per-unit costs of the base model and
 * the apps with their accuracy curves and event statistics. Loaded from the scenario JSON
 * of docs/scheduler.md (or built by hand), validated field by field. */
#ifndef MS_SCHED_SCENARIO_H
#define MS_SCHED_SCENARIO_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/error.h"
#include "sched/event.h"

typedef struct {
    int chokepoint; /* number of leading units shared with the stem */
    double tpr;     /* per-frame true-positive rate */
    double fpr;     /* per-frame false-positive rate */
} ms_scenario_point;

typedef struct {
    char *name;
    ms_event_params event;
    double weight;         /* weight in mean objectives (1 by default) */
    int n_points;          /* curve sorted by increasing chokepoint, no duplicates */
    ms_scenario_point *curve;
} ms_app;

typedef struct {
    double stream_fps;
    double budget;      /* cost units per second (ms of compute per second with a profile) */
    int n_units;
    double *unit_costs; /* per-frame cost of each unit (layer or segment) */
    int n_fps;
    double *fps_options; /* increasing; default 1..floor(stream_fps) */
    int n_apps;
    ms_app *apps;
} ms_scenario;

/* Loads and validates a scenario file; a "profile" field is read relative to the
 * scenario's folder when not absolute. */
ms_status ms_scenario_load(const char *path, ms_scenario *out, ms_error *err);
/* The same on a parsed document; path names it and anchors a relative profile. */
ms_status ms_scenario_parse(const cJSON *root, const char *path, ms_scenario *out, ms_error *err);

/* Several streams under one budget (docs/scheduler.md): {"budget", "unit_costs" |
 * "profile", "streams": [{"name", "stream_fps", "fps_options", "apps"}]}; every stream
 * gets a copy of the unit costs and the total budget. A file in the single-stream format
 * loads as one unnamed stream with `single` set. */
typedef struct {
    bool single;
    double budget;
    int n_streams;
    ms_scenario *streams;
    char **names;      /* NULL for the single-stream format */
} ms_multi_scenario;

ms_status ms_multi_scenario_load(const char *path, ms_multi_scenario *out, ms_error *err);
void ms_multi_scenario_free(ms_multi_scenario *m);

/* Validates and fills one app from its JSON object; point_key names the curve's
 * chokepoint field ("chokepoint", or "num_frozen" in the original's reference data). */
ms_status ms_scenario_parse_app(const cJSON *obj, const char *where, const char *point_key,
                                int n_units, ms_app *out, ms_error *err);

/* Checks the cross-field rules (fps options within (0, stream_fps], curves within units). */
ms_status ms_scenario_validate(const ms_scenario *s, const char *where, ms_error *err);

/* Deep copy of an app (for building scenarios out of a pool of apps). */
ms_status ms_app_copy(const ms_app *src, ms_app *dst, ms_error *err);
void ms_app_free(ms_app *a);
void ms_scenario_free(ms_scenario *s);

#endif
