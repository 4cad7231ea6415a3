/* The M-Runner as a long-lived object: streams and apps come and go while it runs.
 *
 * STABLE INTERFACE: `mainstream serve` (src/serve/) builds on this header. Keep every
 * declaration below as it is; additions are fine, changes are not.
 *
 * A runtime owns the base model, the backend settings, the budget and policy, and a set
 * of streams (one decoder thread each, stream.h) and apps (an M-Package watching one
 * stream). One executor thread takes frames from every stream in turn, runs each
 * stream's stem tree on chunks of up to `batch` frames, turns the apps' scores into
 * events (detect.h) and hands them to the outputs and the callbacks.
 *
 * Ids. Every stream and app gets an id when it is added: one index space for both
 * (ids are > 0, never reused within a runtime), carried by exec nodes, stats, events
 * and schedules, so an id names the same thing for the runtime's whole life.
 *
 * Calls. Every function is safe from any thread except the callbacks' own (the executor
 * thread; a call from a callback is refused). A change is checked on the calling thread
 * first (names, the stream, the package against the base model, pinned chokepoints,
 * event statistics, the resize mode), so a bad request is refused with a message naming
 * the app or stream and changes nothing; then it goes through a small command queue and
 * the executor applies it between two chunks (the hot path takes no lock: one atomic
 * flag tells it there is work). The call returns once it is in effect: from the next
 * chunk on. Before ms_runtime_start/run, or after the executor stopped, the calling
 * thread applies it directly. A change that leaves no schedule within the budget is
 * refused too and rolled back.
 *
 * Planning. One budget for all streams together: the joint schedule maximises the
 * objective over every app of every stream (sched/joint.h); a stream is planned once
 * its rate is known (offline: once every stream's rate is known, so runs stay
 * deterministic) and re-planned when its app set, its rate, its measured cost or the
 * budget changes. Apps that a re-plan leaves unchanged keep their detectors and their
 * sampling phase: no score is lost or repeated across a re-plan.
 *
 * Removing an app closes its open event (written, and passed to the event callback) and
 * frees its branch; removing a stream stops its decoder and removes its apps the same
 * way. A stream that ends or fails stays listed (state ended or failed) until removed. */
#ifndef MS_RUN_RUNTIME_H
#define MS_RUN_RUNTIME_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "run/deploy.h"
#include "run/detect.h"
#include "run/stream.h"
#include "sched/schedule.h"

typedef struct ms_runtime ms_runtime;

/* An event as it closes: the ids and names stay valid for the duration of the call. */
typedef struct {
    int stream_id;
    const char *stream;
    int app_id;
    const char *app;
    ms_event event; /* frames, presentation times (s from the stream's start), peak score */
} ms_runtime_event;

/* Called on the executor thread for every closed event (after it is written to
 * events_path), including those closed by removing an app or a stream or by closing. */
typedef void (*ms_runtime_event_fn)(void *ctx, const ms_runtime_event *e);

/* Called on the executor thread for every score of every app (after scores_path). */
typedef void (*ms_runtime_score_fn)(void *ctx, int stream_id, int app_id, int64_t frame, double seconds, float score);

typedef struct {
    /* the base model and how it runs (as in a deployment, docs/runner.md) */
    const char *const *models; /* paths chained into one base network */
    int n_models;
    const char *backend;       /* "cpu" or "ref" */
    ms_precision precision;
    int threads;               /* >= 1 */
    int batch;                 /* frames per run of a node, >= 1 */
    const char *profile;       /* unit costs; NULL: measured at open on this backend */
    int resize;                /* ms_resize_mode, or -1: as the apps' packages were trained */
    /* scheduling */
    double budget;             /* ms of compute per second for all streams; <= 0: MS_AUTO_BUDGET */
    ms_policy policy;
    ms_objective objective;
    /* running */
    bool live;                 /* false: offline (every sampled frame, deterministic) */
    bool until_streams_end;    /* run returns once every stream has ended (mainstream run) */
    double report_every_s;     /* progress line on stderr and stats file; <= 0: only at the end */
    double replan_check_s;     /* live: how often observed and planned costs are compared; <= 0: 2 s */
    /* outputs (all optional) */
    const char *events_path;   /* JSON lines; "-": stdout; NULL: none */
    const char *scores_path;
    const char *stats_path;    /* JSON (ms_runtime_stats_json), rewritten atomically at each report */
    ms_runtime_event_fn on_event;
    ms_runtime_score_fn on_score;
    void *ctx;                 /* passed to the callbacks */
    volatile sig_atomic_t *stop; /* set asynchronously (a signal handler) to stop; may be NULL */
    const char *where;         /* names the source in messages (a deployment's path); NULL: "runtime" */
    const char *log_name;      /* first word of its log lines; NULL: "run" */
} ms_runtime_options;

/* The options of a deployment (its settings; its streams and apps are added separately,
 * ms_runtime_add_deployment). Pointers point into d. */
void ms_runtime_options_from_deployment(const ms_deployment *d, ms_runtime_options *o);

/* Loads the base model and the unit costs (read, or measured now), opens the outputs.
 * No stream is opened and nothing runs until streams are added and the runtime started. */
ms_status ms_runtime_open(const ms_runtime_options *o, ms_runtime **out, ms_error *err);

/* Adds a stream (its strings are copied; `fps` 0: the stream's own rate) and starts its
 * decoder. Refused: a name already in use. *id (may be NULL) gets the stream's id. */
ms_status ms_runtime_add_stream(ms_runtime *rt, const ms_deploy_stream *s, int *id, ms_error *err);

/* Adds an app; a->stream is the id of the stream it watches. Refused, changing nothing:
 * a name already in use, no such stream, a package that cannot be read or was not
 * trained on the base model, a pinned chokepoint it was not trained at, no event
 * statistics, a resize mode unlike the other apps', or no schedule within the budget. */
ms_status ms_runtime_add_app(ms_runtime *rt, const ms_deploy_app *a, int *id, ms_error *err);

/* Removes an app (its open event is closed and written) or a stream (its decoder is
 * stopped and its apps removed). Refused: no such id. */
ms_status ms_runtime_remove_app(ms_runtime *rt, int id, ms_error *err);
ms_status ms_runtime_remove_stream(ms_runtime *rt, int id, ms_error *err);

/* Every stream, then every app of a deployment, in file order (d->apps[i].stream is an
 * index into d->streams here). Stops at the first refusal, whose message names the
 * deployment's field; what was added before stays. */
ms_status ms_runtime_add_deployment(ms_runtime *rt, const ms_deployment *d, ms_error *err);

/* The id of the stream or app of that name; -1 when there is none. */
int ms_runtime_find_stream(ms_runtime *rt, const char *name);
int ms_runtime_find_app(ms_runtime *rt, const char *name);

/* Changes the budget (ms per second, > 0) or the policy and objective; every stream is
 * re-planned. Refused (nothing changes) when no schedule fits. */
ms_status ms_runtime_set_budget(ms_runtime *rt, double budget, ms_error *err);
ms_status ms_runtime_set_policy(ms_runtime *rt, ms_policy policy, ms_objective objective, ms_error *err);

/* Runs the executor on a thread of its own (returns at once) ... */
ms_status ms_runtime_start(ms_runtime *rt, ms_error *err);
/* ... or on the calling thread, until stopped (ms_runtime_stop, options.stop) or, with
 * until_streams_end, until every stream has ended. */
ms_status ms_runtime_run(ms_runtime *rt, ms_error *err);
/* Asks the executor to stop after its current chunk and returns (from any thread). */
void ms_runtime_stop(ms_runtime *rt);
/* Waits until the executor started by ms_runtime_start has returned. */
void ms_runtime_wait(ms_runtime *rt);
/* Stops (if running), closes every stream (open events written: a stream's end) and,
 * when the runtime ran, writes the final stats and progress line. The runtime stays
 * readable (stats, schedule) until closed; adding streams after it is refused. */
void ms_runtime_end(ms_runtime *rt);
/* Ends the runtime (ms_runtime_end) unless ended, closes the outputs and frees
 * everything. Returns the first output error (a write that failed) in err; NULL rt is
 * a no-op. */
ms_status ms_runtime_close(ms_runtime *rt, ms_error *err);

/* ---- snapshots (taken by the executor between chunks; owned by the caller) ---- */

typedef struct {
    int id;
    char *name;
    char *url;
    ms_stream_state state;
    bool up;            /* opening, running or reconnecting, and not stopped by an error */
    bool stopped;       /* stopped by the runtime after an error of its own (error says why) */
    double fps;         /* the stream's rate; 0 until known */
    int64_t decoded, processed, dropped, damaged; /* frames (damaged: packets skipped) */
    int64_t last_frame; /* index of the last frame the stem tree ran on; -1: none yet */
    int reopenings;
    int replans;        /* plans made for this stream after its first */
    bool planned;
    double planned_cost; /* ms per second of the stream's current plan */
    double budget;      /* the stream's part of the joint budget (its plan's cost) */
    char *error;        /* "" when none */
} ms_runtime_stream_stats;

typedef struct {
    int id;
    char *name;
    int stream_id;
    char *stream;
    int chokepoint;     /* -1 until planned */
    double planned_fps, observed_fps; /* observed: samples per second of video decoded so far */
    int64_t samples;
    long long events;
    ms_event_metrics predicted; /* the scheduler's event model at the planned point */
} ms_runtime_app_stats;

typedef enum { MS_RUNTIME_NODE_SEGMENT, MS_RUNTIME_NODE_BRANCH } ms_runtime_node_kind;

typedef struct {
    int stream_id;
    ms_runtime_node_kind kind;
    int from, to;       /* chokepoints: a segment covers [from, to); a branch starts at from (to = -1) */
    int app_id;         /* branch: the app; -1 for segments */
    double planned_fps;
    int64_t frames;
    double ms_per_frame, planned_ms_per_frame;
} ms_runtime_node_stats;

typedef struct {
    double elapsed_s;
    bool live;
    int replans;        /* re-plans after the first plan, all streams */
    double budget;      /* ms per second, all streams */
    double planned_cost; /* ms per second of all current plans */
    double observed_cost; /* ms of node compute per second of elapsed time */
    long long events;
    int streams_failed;
    long long plans_compiled; /* backend plans compiled so far (a re-plan compiles only new nodes) */
    int n_streams;
    ms_runtime_stream_stats *streams; /* in order of addition */
    int n_apps;
    ms_runtime_app_stats *apps;       /* in order of addition */
    int n_nodes;
    ms_runtime_node_stats *nodes;     /* per stream, parents first */
    int apps_refused; /* apps dropped when their stream opened: a pinned fps above its rate */
} ms_runtime_stats;

ms_status ms_runtime_stats_get(ms_runtime *rt, ms_runtime_stats *out, ms_error *err);
void ms_runtime_stats_free(ms_runtime_stats *s);
/* {"elapsed_s","mode","replans","budget","planned_cost","observed_cost","events",
 *  "streams":[...],"apps":[...],"nodes":[...]} (docs/runner.md); NULL when out of memory. */
cJSON *ms_runtime_stats_json(const ms_runtime_stats *s);

typedef struct {
    int app_id;
    char *name;
    int chokepoint;
    double fps;
    ms_event_metrics predicted;
} ms_runtime_assignment;

typedef struct {
    int stream_id;
    char *name;
    double stream_fps;
    double cost;        /* ms per second */
    int n_apps;
    ms_runtime_assignment *apps;
    ms_stem_tree tree;  /* branch indices index apps[] */
} ms_runtime_stream_schedule;

typedef struct {
    ms_policy policy;
    ms_objective objective;
    bool exact;
    double value;       /* the objective over every planned app of every stream */
    double cost, budget;
    int n_streams;      /* planned streams only */
    ms_runtime_stream_schedule *streams;
} ms_runtime_schedule;

ms_status ms_runtime_schedule_get(ms_runtime *rt, ms_runtime_schedule *out, ms_error *err);
void ms_runtime_schedule_free(ms_runtime_schedule *s);
/* The JSON of `mainstream schedule --json` for a multi-stream scenario (docs/scheduler.md). */
cJSON *ms_runtime_schedule_json(const ms_runtime_schedule *s);

#endif
