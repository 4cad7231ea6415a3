/* The cost profile: the one owner of the scheduler's cost model as measured on a
 * machine. It defines the units (unit i < n-1 is the base network between chokepoints
 * i and i+1; unit n-1 is an app's own head at the last chokepoint, n = the number of
 * chokepoints), measures them (what `mainstream profile` and the runner at start both
 * call), and reads and writes the profile file (format_version checked, unknown keys
 * refused, every message naming the file and the field). Everything else that needs
 * unit costs goes through here: the runner, `mainstream profile`, the scheduler's
 * scenario files ("profile": a path), the benchmarks.
 *
 * File (docs/scheduler.md, "Cost profile"):
 *   {"format_version": 1, "backend", "precision", "batch", "threads", "model_fingerprint",
 *    "network_ms", "segments": [{"from": i, "to": i + 1, "ms"}, ...]}
 * Only "segments" is required (a scenario's hand-written profile may give nothing else);
 * segments[i] is unit i, ms per frame. */
#ifndef MS_COST_PROFILE_H
#define MS_COST_PROFILE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/error.h"
#include "graph/cut.h"

#define MS_PROFILE_FORMAT_VERSION 1

typedef struct {
    char *backend;            /* the backend's name; NULL: not recorded */
    int precision;            /* an ms_precision; -1: not recorded */
    int batch, threads;       /* 0: not recorded */
    bool has_fingerprint;
    uint8_t fingerprint[32];  /* the base model's (formats/model.h) */
    double network_ms;        /* the whole base network per frame; -1: not recorded */
    int n_units;
    double *unit_ms;          /* per frame, unit i (n_units of them, >= 1) */
} ms_profile;

void ms_profile_free(ms_profile *p);

/* ---- units */

/* The graph of unit i of base (cps: its n_cps chokepoints): the segment between
 * chokepoints i and i+1, or for i = n_cps - 1 an app's head at the last chokepoint
 * (ms_branch_from_base: the base's weights, a zero head). */
ms_status ms_profile_unit_graph(const ms_graph *base, const ms_chokepoint *cps, int n_cps, int i, ms_graph **out,
                                ms_error *err);

/* ---- measurement */

/* How the units are timed: `warmup` passes, then the median of `runs` passes. */
typedef struct {
    int warmup, runs;
} ms_profile_timing;

/* `mainstream profile`'s defaults, and the runner's shorter ones at start. */
#define MS_PROFILE_TIMING_DEFAULT ((ms_profile_timing){.warmup = 3, .runs = 20})
#define MS_PROFILE_TIMING_START ((ms_profile_timing){.warmup = 1, .runs = 7})

/* Measures every unit of base and the whole network on backend b with opts (batch,
 * threads, precision; the chaining fields are ignored). Each pass runs the whole
 * network, then the units chained as the runner runs them (each reading the previous
 * one's output in the backend's own layout, ms_plan_time_chain); costs are per frame
 * (per batch / batch). out records the backend, settings and the model's fingerprint. */
ms_status ms_profile_measure(const ms_graph *base, const ms_backend *b, const ms_plan_options *opts,
                             ms_profile_timing timing, ms_profile *out, ms_error *err);

/* ---- the file */

/* Reads a profile document; `path` names it in messages. */
ms_status ms_profile_parse(const cJSON *root, const char *path, ms_profile *out, ms_error *err);
ms_status ms_profile_load(const char *path, ms_profile *out, ms_error *err);

/* Reads a profile for base: its units must be base's (one per chokepoint, n_cps) and
 * its model_fingerprint, when it has one, base's. */
ms_status ms_profile_load_for(const char *path, const ms_graph *base, int n_cps, ms_profile *out, ms_error *err);

/* The checks of ms_profile_load_for on a profile already read from `path`. */
ms_status ms_profile_check_model(const ms_profile *p, const char *path, const ms_graph *base, int n_cps,
                                 ms_error *err);

/* The document (NULL when out of memory); every recorded field, format_version first. */
cJSON *ms_profile_json(const ms_profile *p);

/* Writes the document to path atomically ("-": stdout). */
ms_status ms_profile_save(const char *path, const ms_profile *p, bool pretty, ms_error *err);

#endif
