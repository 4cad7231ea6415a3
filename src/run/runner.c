/* The runner's executor thread: streams in, stem trees run, events out (see runner.h). */
#include "run/runner.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "run/output.h"
#include "run/plan.h"
#include "run/stream.h"

#define MIN_WINDOW_FRAMES 4 /* root frames a re-plan decision needs at least */

typedef struct {
    ms_detector det;
    int64_t samples;
    long long events;
    int chokepoint;
    double planned_fps;
    ms_event_metrics predicted; /* the scheduler's event model at the planned point */
} app_state;

typedef struct {
    ms_stream *stream;
    bool has_plan, closed;
    ms_stream_plan plan;
    ms_exec_tree tree;
    ms_frame *chunk;
    int n_chunk;
    double correction; /* observed / planned cost the current plan was made for */
    double next_check;
    double win_obs_ms, win_plan_ms;
    int64_t win_frames; /* root frames at the start of the window; -1: before the first chunk */
    int replans;
    char error[1300];
} stream_state;

typedef struct {
    const ms_deployment *d;
    const ms_runner_options *o;
    ms_run_model model;
    ms_notifier notify;
    stream_state *streams;
    app_state *apps;
    ms_jsonl events, scores;
    double start;
    ms_runner_result *result;
} runner;

static void on_score(void *ctx, int app, int64_t frame, double seconds, float score)
{
    runner *r = ctx;
    app_state *a = &r->apps[app];
    const ms_deploy_app *da = &r->d->apps[app];
    const char *stream = r->d->streams[da->stream].name;
    a->samples++;
    ms_jsonl_score(&r->scores, stream, da->name, frame, score);
    ms_event e;
    if (ms_detector_push(&a->det, frame, seconds, score, &e)) {
        a->events++;
        r->result->events++;
        ms_jsonl_event(&r->events, stream, da->name, &e);
    }
}

/* Closes the open events of the stream's apps (the stream ended or the run stops). */
static void finish_detectors(runner *r, int stream)
{
    for (int i = 0; i < r->d->n_apps; i++) {
        ms_event e;
        if (r->d->apps[i].stream != stream || !ms_detector_finish(&r->apps[i].det, &e)) continue;
        r->apps[i].events++;
        r->result->events++;
        ms_jsonl_event(&r->events, r->d->streams[stream].name, r->d->apps[i].name, &e);
    }
}

/* Appends to a log line being built (cut at the buffer's end). */
static void append(char *line, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *line, size_t size, const char *fmt, ...)
{
    size_t n = strlen(line);
    if (n + 1 >= size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, size - n, fmt, ap);
    va_end(ap);
}

static void print_plan(runner *r, int s)
{
    const ms_stream_plan *p = &r->streams[s].plan;
    char line[2048] = "";
    append(line, sizeof line, "run: stream '%s': %g fps, budget %.4g ms/s, plan costs %.4g ms/s:", r->d->streams[s].name,
           p->stream_fps, p->budget, p->schedule.cost);
    for (int i = 0; i < p->n_apps; i++)
        append(line, sizeof line, " %s@cp%d/%.3gfps", r->d->apps[p->apps[i]].name, p->schedule.apps[i].chokepoint,
               p->schedule.apps[i].fps);
    ms_info("%s", line);
}

/* Makes `next` the stream's plan and tree (freeing the old ones). */
static void install(runner *r, int s, ms_stream_plan *next, ms_exec_tree *tree)
{
    stream_state *st = &r->streams[s];
    if (st->has_plan) {
        ms_stream_plan_free(&st->plan);
        ms_exec_free(&st->tree);
    }
    st->plan = *next;
    st->tree = *tree;
    st->has_plan = true;
    st->win_obs_ms = st->win_plan_ms = 0;
    st->win_frames = -1;
    for (int i = 0; i < next->n_apps; i++) {
        app_state *a = &r->apps[next->apps[i]];
        a->chokepoint = next->schedule.apps[i].chokepoint;
        a->planned_fps = next->schedule.apps[i].fps;
        a->predicted = next->schedule.apps[i].m;
    }
    ms_stream_set_rate(st->stream, ms_exec_root_rate(tree));
    print_plan(r, s);
}

static ms_status plan(runner *r, int s, double budget, ms_error *err)
{
    ms_stream_status status;
    ms_stream_get_status(r->streams[s].stream, &status);
    ms_stream_plan next;
    ms_exec_tree tree;
    if (ms_plan_stream(r->d, &r->model, s, status.fps, budget, &next, err)) return err->status;
    if (ms_plan_build_exec(r->d, &r->model, &next, &tree, err)) {
        ms_stream_plan_free(&next);
        return err->status;
    }
    install(r, s, &next, &tree);
    return MS_OK;
}

/* Stops a stream for good: closes its apps' events and says how it ended. */
static void close_stream(runner *r, int s)
{
    stream_state *st = &r->streams[s];
    if (st->closed) return;
    st->closed = true;
    finish_detectors(r, s);
    ms_stream_status status;
    ms_stream_get_status(st->stream, &status);
    const char *name = r->d->streams[s].name;
    if (st->error[0]) {
        ms_log_error("run: stream '%s': stopped: %s", name, st->error);
        r->result->streams_failed++;
    } else if (status.state == MS_STREAM_FAILED) {
        ms_log_error("run: stream '%s': failed after %lld frames: %s", name, (long long)status.decoded, status.error);
        snprintf(st->error, sizeof st->error, "%s", status.error);
        r->result->streams_failed++;
    } else if (status.state == MS_STREAM_ENDED) {
        ms_info("run: stream '%s': ended after %lld frames (%lld dropped, %lld damaged packets skipped)", name, (long long)status.decoded, (long long)status.dropped, (long long)status.damaged);
    }
    st->n_chunk = 0;
}

/* Observed against planned node cost over a window of at least MIN_WINDOW_FRAMES root
 * frames (the first chunk of a tree, which pays for warming caches, is left out);
 * re-plans when they differ by more than the tolerance from what the plan assumed. */
static void check_cost(runner *r, int s)
{
    stream_state *st = &r->streams[s];
    double now = ms_now(), obs = 0, planned = 0;
    int64_t root_frames = 0;
    for (int i = 0; i < st->tree.n_nodes; i++) {
        obs += st->tree.nodes[i].seconds * 1000.0;
        planned += st->tree.nodes[i].planned_ms * (double)st->tree.nodes[i].frames;
        if (st->tree.nodes[i].parent < 0) root_frames += st->tree.nodes[i].frames;
    }
    if (st->win_frames < 0) {
        st->win_obs_ms = obs;
        st->win_plan_ms = planned;
        st->win_frames = root_frames;
        st->next_check = now + r->o->replan_check_s;
        return;
    }
    if (now < st->next_check || root_frames - st->win_frames < MIN_WINDOW_FRAMES) return;
    st->next_check = now + r->o->replan_check_s;
    double d_obs = obs - st->win_obs_ms, d_plan = planned - st->win_plan_ms;
    st->win_obs_ms = obs;
    st->win_plan_ms = planned;
    st->win_frames = root_frames;
    if (d_plan <= 0) return;
    double ratio = d_obs / d_plan;
    if (fabs(ratio / st->correction - 1) <= MS_REPLAN_TOLERANCE) return;
    /* decided on this ratio, whether or not a new plan comes of it: no retry storm */
    st->correction = ratio;
    double budget = ms_plan_budget_share(r->d, s) / ratio;
    ms_info("run: stream '%s': nodes cost %.2fx what the plan assumed; re-planning with %.4g ms/s", r->d->streams[s].name,
            ratio, budget);
    ms_error err = {0};
    if (plan(r, s, budget, &err)) {
        ms_warn("run: stream '%s': re-planning failed, keeping the current plan: %s", r->d->streams[s].name, err.msg);
        return;
    }
    st->replans++;
    r->result->replans++;
}

static cJSON *stats_json(runner *r)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    ms_json_add_version(root, 1);
    cJSON_AddNumberToObject(root, "elapsed_s", ms_now() - r->start);
    cJSON_AddStringToObject(root, "mode", r->o->live ? "live" : "offline");
    cJSON_AddNumberToObject(root, "replans", r->result->replans);
    cJSON *streams = cJSON_AddArrayToObject(root, "streams");
    cJSON *apps = cJSON_AddArrayToObject(root, "apps");
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int s = 0; s < r->d->n_streams; s++) {
        stream_state *st = &r->streams[s];
        ms_stream_status status;
        ms_stream_get_status(st->stream, &status);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(streams, o);
        cJSON_AddStringToObject(o, "name", r->d->streams[s].name);
        cJSON_AddStringToObject(o, "state", st->error[0] && status.state != MS_STREAM_FAILED ? "stopped"
                                                                                             : ms_stream_state_name(status.state));
        cJSON_AddNumberToObject(o, "fps", status.fps);
        cJSON_AddNumberToObject(o, "decoded", (double)status.decoded);
        cJSON_AddNumberToObject(o, "processed", (double)status.delivered);
        cJSON_AddNumberToObject(o, "dropped", (double)status.dropped);
        cJSON_AddNumberToObject(o, "damaged_packets", (double)status.damaged);
        cJSON_AddNumberToObject(o, "reopenings", status.reopenings);
        cJSON_AddNumberToObject(o, "replans", st->replans);
        if (st->has_plan) {
            cJSON_AddNumberToObject(o, "budget", st->plan.budget);
            cJSON_AddNumberToObject(o, "planned_cost", st->plan.schedule.cost);
        }
        const char *error = st->error[0] ? st->error : status.error;
        if (error[0]) cJSON_AddStringToObject(o, "error", error);
        for (int i = 0; st->has_plan && i < st->tree.n_nodes; i++) {
            const ms_exec_node *n = &st->tree.nodes[i];
            cJSON *no = cJSON_CreateObject();
            cJSON_AddItemToArray(nodes, no);
            cJSON_AddStringToObject(no, "stream", r->d->streams[s].name);
            if (n->kind == MS_EXEC_SEGMENT) {
                cJSON_AddStringToObject(no, "kind", "segment");
                cJSON_AddNumberToObject(no, "from", n->from);
                cJSON_AddNumberToObject(no, "to", n->to);
            } else {
                cJSON_AddStringToObject(no, "kind", "branch");
                cJSON_AddStringToObject(no, "app", r->d->apps[n->app].name);
                cJSON_AddNumberToObject(no, "from", n->from);
            }
            cJSON_AddNumberToObject(no, "planned_fps", n->rate);
            cJSON_AddNumberToObject(no, "frames", (double)n->frames);
            cJSON_AddNumberToObject(no, "ms_per_frame", n->frames ? n->seconds * 1000.0 / (double)n->frames : 0);
            cJSON_AddNumberToObject(no, "planned_ms_per_frame", n->planned_ms);
        }
    }
    for (int i = 0; i < r->d->n_apps; i++) {
        const app_state *a = &r->apps[i];
        /* samples per second of the video decoded so far */
        ms_stream_status status;
        ms_stream_get_status(r->streams[r->d->apps[i].stream].stream, &status);
        double span = status.fps > 0 ? (double)status.decoded / status.fps : 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(apps, o);
        cJSON_AddStringToObject(o, "name", r->d->apps[i].name);
        cJSON_AddStringToObject(o, "stream", r->d->streams[r->d->apps[i].stream].name);
        cJSON_AddNumberToObject(o, "chokepoint", a->chokepoint);
        cJSON_AddNumberToObject(o, "planned_fps", a->planned_fps);
        cJSON_AddNumberToObject(o, "observed_fps", span > 0 ? (double)a->samples / span : 0);
        cJSON_AddNumberToObject(o, "samples", (double)a->samples);
        cJSON_AddNumberToObject(o, "events", (double)a->events);
        cJSON_AddNumberToObject(o, "predicted_recall", a->predicted.recall);
        cJSON_AddNumberToObject(o, "predicted_precision", a->predicted.precision);
        cJSON_AddNumberToObject(o, "predicted_f1", a->predicted.f1);
    }
    return root;
}

static const char *field_str(const cJSON *o, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
    return v ? v : "?";
}

static double field_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Progress on stderr (one line for the whole run) and the stats file. */
static void report(runner *r, bool final)
{
    cJSON *stats = stats_json(r);
    if (!stats) return;
    char line[4096] = "";
    append(line, sizeof line, "run: %s %.1f s:", final ? "done after" : "at", ms_now() - r->start);
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(stats, "apps"))
    {
        append(line, sizeof line, " %s %.3g fps (plan %.3g)", field_str(o, "name"), field_num(o, "observed_fps"),
               field_num(o, "planned_fps"));
    }
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(stats, "streams"))
    {
        append(line, sizeof line, "; %s %s, %g dropped", field_str(o, "name"), field_str(o, "state"),
               field_num(o, "dropped"));
    }
    ms_info("%s", line);
    if (r->o->stats_path) {
        ms_error err = {0};
        if (ms_json_write(r->o->stats_path, stats, true, &err)) ms_warn("run: stats: %s", err.msg);
    }
    cJSON_Delete(stats);
}

enum { STEP_TOOK = 1, STEP_RAN = 2 };

/* Takes frames, plans on the first one, runs full (or, live, any) chunks. Returns what
 * it did (STEP_* flags); the stream may be closed afterwards. */
static int step_stream(runner *r, int s)
{
    stream_state *st = &r->streams[s];
    int did = 0;
    while (st->n_chunk < r->d->batch && ms_stream_take(st->stream, &st->chunk[st->n_chunk])) {
        st->n_chunk++;
        did |= STEP_TOOK;
    }
    bool finished = ms_stream_finished(st->stream);
    ms_error err = {0};
    if (st->n_chunk > 0 && !st->has_plan && plan(r, s, ms_plan_budget_share(r->d, s), &err)) {
        snprintf(st->error, sizeof st->error, "%s", err.msg);
        close_stream(r, s);
        return did;
    }
    bool ready = st->n_chunk == r->d->batch || (st->n_chunk > 0 && (r->o->live || finished));
    if (ready) {
        if (ms_exec_run(&st->tree, st->chunk, st->n_chunk, on_score, r, &err)) {
            snprintf(st->error, sizeof st->error, "%s", err.msg);
            close_stream(r, s);
            return did;
        }
        st->n_chunk = 0;
        did |= STEP_RAN;
        if (r->o->live) check_cost(r, s);
    }
    if (finished && st->n_chunk == 0) close_stream(r, s);
    return did;
}

/* Offline: the streams take turns, one chunk each in deployment order, so the outputs'
 * interleaving is as deterministic as their contents. Returns once stream s ran a chunk
 * or closed. */
static void offline_turn(runner *r, int s)
{
    while (!r->streams[s].closed && !(r->o->stop && *r->o->stop)) {
        uint64_t seq = ms_notifier_seq(&r->notify);
        if (step_stream(r, s) & STEP_RAN) return;
        if (!r->streams[s].closed) ms_notifier_wait(&r->notify, seq, 0.1);
    }
}

static void loop(runner *r)
{
    double next_report = r->o->report_every_s > 0 ? ms_now() + r->o->report_every_s : INFINITY;
    for (;;) {
        uint64_t seq = ms_notifier_seq(&r->notify);
        bool busy = !r->o->live, open = false;
        for (int s = 0; s < r->d->n_streams; s++) {
            if (r->streams[s].closed) continue;
            if (r->o->live) busy |= step_stream(r, s) != 0;
            else offline_turn(r, s);
            open |= !r->streams[s].closed;
        }
        if (!open || (r->o->stop && *r->o->stop)) break;
        if (ms_now() >= next_report) {
            report(r, false);
            next_report = ms_now() + r->o->report_every_s;
        }
        if (!busy) ms_notifier_wait(&r->notify, seq, 0.1);
    }
}

static ms_status start_streams(runner *r, ms_error *err)
{
    const ms_input_spec *spec = &r->model.base->input_spec;
    size_t floats = (size_t)spec->height * (size_t)spec->width * (size_t)spec->channels;
    for (int s = 0; s < r->d->n_streams; s++) {
        stream_state *st = &r->streams[s];
        st->correction = 1;
        st->chunk = calloc((size_t)r->d->batch, sizeof *st->chunk);
        if (!st->chunk) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
        for (int i = 0; i < r->d->batch; i++)
            if (!(st->chunk[i].pixels = malloc(floats * sizeof(float)))) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    for (int s = 0; s < r->d->n_streams; s++) {
        const ms_deploy_stream *ds = &r->d->streams[s];
        ms_stream_config cfg = {.name = ds->name, .url = ds->url, .network = ds->network, .retries = ds->retries,
                                .retry_s = ds->retry_s, .fps = ds->fps, .spec = *spec, .resize = r->model.resize,
                                .live = r->o->live};
        if (ms_stream_start(&cfg, &r->notify, &r->streams[s].stream, err)) return err->status;
    }
    return MS_OK;
}

static void free_runner(runner *r)
{
    for (int s = 0; r->streams && s < r->d->n_streams; s++) {
        stream_state *st = &r->streams[s];
        ms_stream_stop(st->stream);
        if (st->has_plan) {
            ms_stream_plan_free(&st->plan);
            ms_exec_free(&st->tree);
        }
        for (int i = 0; st->chunk && i < r->d->batch; i++) free(st->chunk[i].pixels);
        free(st->chunk);
    }
    free(r->streams);
    free(r->apps);
    ms_run_model_free(&r->model);
}

ms_status ms_runner_run(const ms_deployment *d, const ms_runner_options *o, ms_runner_result *result, ms_error *err)
{
    memset(result, 0, sizeof *result);
    runner r = {.d = d, .o = o, .result = result, .start = ms_now()};
    if (ms_run_model_load(d, &r.model, err)) return err->status;
    r.streams = calloc((size_t)d->n_streams, sizeof *r.streams);
    r.apps = calloc((size_t)d->n_apps, sizeof *r.apps);
    if (!r.streams || !r.apps) {
        free_runner(&r);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < d->n_apps; i++) {
        ms_detector_init(&r.apps[i].det, d->apps[i].threshold, d->apps[i].x_vote);
        r.apps[i].chokepoint = -1;
    }
    if (ms_jsonl_open(&r.events, o->events_path, err)) {
        free_runner(&r);
        return err->status;
    }
    if (ms_jsonl_open(&r.scores, o->scores_path, err)) {
        ms_jsonl_close(&r.events, NULL);
        free_runner(&r);
        return err->status;
    }
    ms_notifier_init(&r.notify);
    ms_status st = start_streams(&r, err);
    if (st == MS_OK) {
        loop(&r);
        for (int s = 0; s < d->n_streams; s++) close_stream(&r, s);
        report(&r, true);
    }
    free_runner(&r);
    ms_notifier_destroy(&r.notify);
    ms_error werr = {0};
    if (ms_jsonl_close(&r.events, &werr) && st == MS_OK) st = ms_errorf(err, werr.status, "%s", werr.msg);
    if (ms_jsonl_close(&r.scores, &werr) && st == MS_OK) st = ms_errorf(err, werr.status, "%s", werr.msg);
    return st;
}
