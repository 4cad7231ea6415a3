/* A deployment: the base model, the backend, the budget and scheduling policy, the streams
 * and the apps that watch them (docs/runner.md). Loaded from JSON and validated field by
 * field before anything is opened, so a bad file fails at once with a message naming the
 * field ("d.json: apps[1].stream: no stream named 'gate'"). Relative paths resolve
 * against the deployment file's folder. */
#ifndef MS_RUN_DEPLOY_H
#define MS_RUN_DEPLOY_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "backend/backend.h"
#include "base/error.h"
#include "media/convert.h"
#include "media/video.h"
#include "sched/schedule.h"

#define MS_DEPLOY_MAX_FPS 1000.0 /* the highest rate of a stream or an app, frames per second */

typedef struct {
    char *name;
    char *url;       /* a path (resolved) or a URL */
    double fps;      /* 0: the stream's own rate */
    bool network;    /* a URL other than file: — reopened with back-off when it fails */
    int retries;     /* reopen attempts in a row before giving up (network streams) */
    double retry_s;  /* first back-off delay; doubles up to 8 s */
    ms_video_options options; /* FFmpeg options for opening it ("options": {"rtsp_transport": "tcp"}) */
} ms_deploy_stream;

typedef struct {
    char *name;
    int stream;      /* index into streams */
    char *package;   /* M-Package path (resolved) */
    int x_vote;      /* >= 1 */
    double threshold;
    int chokepoint;  /* -1: the scheduler chooses */
    double fps;      /* 0: the scheduler chooses */
    /* event statistics overriding the package's (< 0: from the package) */
    double event_length_ms, event_frequency, correlation;
} ms_deploy_app;

typedef struct {
    char *path;      /* the deployment file, for messages */
    char **models;   /* resolved paths, chained into one base network */
    int n_models;
    char *backend;   /* "cpu", "ref" */
    ms_precision precision;
    int threads;
    int batch;       /* frames per run of a node (>= 1) */
    double budget;   /* ms of compute per second of video; 0: auto */
    char *profile;   /* optional cost profile (resolved); NULL: measured at start */
    ms_policy policy;
    ms_objective objective;
    int resize;      /* ms_resize_mode, or -1: fit frames as the apps' packages were trained */
    int n_streams;
    ms_deploy_stream *streams;
    int n_apps;
    ms_deploy_app *apps;
} ms_deployment;

/* The keys a stream and an app object may have (NULL-terminated), for callers that check
 * an object before parsing it (ms_json_check_keys). */
extern const char *const ms_deploy_stream_keys[];
extern const char *const ms_deploy_app_keys[];

ms_status ms_deployment_load(const char *path, ms_deployment *out, ms_error *err);

/* Validates a parsed deployment; `path` names it in messages and anchors relative paths. */
ms_status ms_deployment_parse(const cJSON *root, const char *path, ms_deployment *out, ms_error *err);

void ms_deployment_free(ms_deployment *d);

/* One stream or app object as a deployment's lists hold them, on its own (a request to a
 * running service): `where` names it in messages; relative paths resolve against the
 * folder of `relative_to` (a file path; "./" for the current folder). An app's stream
 * comes back by name in *stream (to free); out->stream is -1. */
ms_status ms_deploy_stream_parse(const cJSON *obj, const char *where, const char *relative_to, ms_deploy_stream *out,
                                 ms_error *err);
ms_status ms_deploy_app_parse(const cJSON *obj, const char *where, const char *relative_to, ms_deploy_app *out,
                              char **stream, ms_error *err);
/* For `mainstream serve`, whose streams and apps arrive one at a time: the settings of a
 * deployment only (model, backend, budget, ...); its streams and apps are left empty. */
ms_status ms_deployment_parse_settings(const cJSON *root, const char *path, ms_deployment *out, ms_error *err);
void ms_deploy_stream_free(ms_deploy_stream *s);
void ms_deploy_app_free(ms_deploy_app *a);

#endif
