/* The M-Runner: runs a deployment until its streams end (or it is told to stop).
 *
 * One decoder thread per stream (stream.h) feeds one executor thread, which takes frames
 * from every stream in turn, plans a stream's stem tree when its first frame arrives
 * (its rate is known then), runs the tree on chunks of up to `batch` frames, turns the
 * apps' scores into events (detect.h) and writes them (output.h). It counts what each
 * app and node really did; in live mode, when the observed cost of the nodes differs
 * from the planned one by more than 20%, it re-plans the stream with the budget
 * corrected by that ratio and switches trees between chunks. The detectors belong to
 * the apps, not to the trees, so a switch neither loses nor repeats an event. A stream
 * that fails is reported and closed; the others go on. */
#ifndef MS_RUN_RUNNER_H
#define MS_RUN_RUNNER_H

#include <signal.h>
#include <stdbool.h>

#include "run/deploy.h"

#define MS_REPLAN_TOLERANCE 0.2

typedef struct {
    bool live;
    const char *events_path;   /* NULL: none; "-": stdout */
    const char *scores_path;
    const char *stats_path;    /* JSON, rewritten atomically at every report */
    double report_every_s;     /* progress on stderr and the stats file; <= 0: only at the end */
    double replan_check_s;     /* live: how often observed costs are compared with the plan */
    volatile sig_atomic_t *stop; /* set asynchronously to stop (SIGINT); may be NULL */
} ms_runner_options;

typedef struct {
    int streams_failed;  /* streams that ended in an error */
    int replans;
    long long events;
} ms_runner_result;

/* Loads the model and packages, opens the outputs, runs. Fails before reading any frame
 * when the deployment cannot run; a stream failing later is reported in the result. */
ms_status ms_runner_run(const ms_deployment *d, const ms_runner_options *o, ms_runner_result *result, ms_error *err);

#endif
