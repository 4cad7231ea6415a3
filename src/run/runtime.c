/* The runtime: streams and apps that come and go, one executor thread, a command queue
 * between the two (see runtime.h). */
#include "run/runtime.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timer.h"
#include "run/app.h"
#include "run/output.h"
#include "run/stream_plan.h"
#include "run/planner.h"

#define MIN_WINDOW_FRAMES 4 /* root frames a re-plan decision needs at least */
#define REPLAN_TOLERANCE 0.2
#define IDLE_WAIT_S 0.1

typedef struct rt_stream rt_stream;

typedef struct {
    int id;
    char *where;        /* names the app in messages ("d.json: apps[1]", "app 'x'") */
    ms_deploy_app desc; /* strings owned; desc.stream is the stream's id */
    ms_run_app pkg;
    rt_stream *stream;
    ms_detector det;
    int64_t samples;
    long long events;
    int chokepoint;
    double planned_fps;
    ms_event_metrics predicted;
} rt_app;

/* A compiled node kept across re-plans (by segment, and by app and chokepoint). */
typedef struct {
    ms_exec_kind kind;
    int from, to, app;
    ms_plan *plan1, *planb;
    const ms_plan *compiled_from; /* the parent plan it reads (NULL: the frames) */
    bool used;
} rt_cached;

struct rt_stream {
    int id;
    ms_deploy_stream desc; /* strings owned */
    ms_stream *stream;     /* NULL until its decoder starts */
    bool closed;
    char error[1300];
    bool has_plan;
    ms_stream_plan plan;
    ms_exec_tree tree;
    rt_cached *cache;
    int n_cache;
    ms_frame *chunk;
    int n_chunk;
    int64_t last_frame;
    double correction;     /* observed / planned cost the current plan was made for */
    double win_obs_ms, win_plan_ms;
    int64_t win_frames;    /* root frames at the start of the window; -1: before the first chunk */
    int plans;             /* plans installed (the first is not a re-plan) */
};

typedef enum { CMD_ADD_STREAM, CMD_ADD_APP, CMD_REMOVE_APP, CMD_REMOVE_STREAM, CMD_BUDGET, CMD_POLICY, CMD_STATS,
               CMD_SCHEDULE } cmd_kind;

typedef struct cmd {
    cmd_kind kind;
    rt_stream *stream; /* add: built by the caller, owned by the runtime once applied */
    rt_app *app;
    int id;
    double budget;
    ms_policy policy;
    ms_objective objective;
    void *out;
    const char *where;
    bool done;
    ms_status status;
    ms_error *err;
    struct cmd *next;
} cmd;

struct ms_runtime {
    ms_runtime_options o;
    char *where, *log_name, *events_path, *scores_path, *stats_path;
    ms_run_model model;
    int resize;              /* -1 until known */
    char resize_from[320];   /* who fixed it, for messages */
    double budget;
    ms_policy policy;
    ms_objective objective;
    /* state: changed only under mu (by the executor, or by a caller while none runs) */
    rt_stream **streams;
    int n_streams, cap_streams;
    rt_app **apps;           /* increasing ids */
    int n_apps, cap_apps;
    int next_id;
    bool dirty;              /* the plans must be made again */
    ms_jsonl events, scores;
    bool outputs_open, started, ended;
    ms_notifier notify;
    double start;
    int replans, streams_failed, apps_refused;
    long long n_events, plans_compiled;
    ms_timers timers;        /* reports, and (live) cost checks */
    int report_timer, cost_timer;
    /* the command queue */
    pthread_mutex_t mu;
    pthread_cond_t done_cond;
    cmd *head, *tail;
    atomic_int pending;
    atomic_int stop_flag;
    bool running;
    pthread_t executor;
    bool thread_started;
    ms_status run_status;
    ms_error run_err;
};

/* ---------------------------------------------------------------- lookups */

static rt_app *find_app_id(ms_runtime *rt, int id)
{
    int lo = 0, hi = rt->n_apps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (rt->apps[mid]->id == id) return rt->apps[mid];
        if (rt->apps[mid]->id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static rt_stream *find_stream_id(ms_runtime *rt, int id)
{
    for (int i = 0; i < rt->n_streams; i++)
        if (rt->streams[i]->id == id) return rt->streams[i];
    return NULL;
}

static bool name_used(ms_runtime *rt, const char *name, bool app)
{
    if (app) {
        for (int i = 0; i < rt->n_apps; i++)
            if (!strcmp(rt->apps[i]->desc.name, name)) return true;
    } else {
        for (int i = 0; i < rt->n_streams; i++)
            if (!strcmp(rt->streams[i]->desc.name, name)) return true;
    }
    return false;
}

int ms_runtime_find_stream(ms_runtime *rt, const char *name)
{
    pthread_mutex_lock(&rt->mu);
    int id = -1;
    for (int i = 0; i < rt->n_streams && id < 0; i++)
        if (!strcmp(rt->streams[i]->desc.name, name)) id = rt->streams[i]->id;
    pthread_mutex_unlock(&rt->mu);
    return id;
}

int ms_runtime_find_app(ms_runtime *rt, const char *name)
{
    pthread_mutex_lock(&rt->mu);
    int id = -1;
    for (int i = 0; i < rt->n_apps && id < 0; i++)
        if (!strcmp(rt->apps[i]->desc.name, name)) id = rt->apps[i]->id;
    pthread_mutex_unlock(&rt->mu);
    return id;
}

/* ---------------------------------------------------------------- events and scores */

static void emit_event(ms_runtime *rt, rt_app *a, const ms_event *e)
{
    a->events++;
    rt->n_events++;
    ms_jsonl_event(&rt->events, a->stream->desc.name, a->desc.name, e);
    if (rt->o.on_event) {
        ms_runtime_event re = {a->stream->id, a->stream->desc.name, a->id, a->desc.name, *e};
        rt->o.on_event(rt->o.ctx, &re);
    }
}

/* When a frame of the chunk being run arrived (0 when it is not in the chunk). */
static double frame_wall(const rt_stream *s, int64_t frame)
{
    for (int i = 0; i < s->n_chunk; i++)
        if (s->chunk[i].index == frame) return s->chunk[i].wall_s;
    return 0;
}

static void on_score(void *ctx, int app, int64_t frame, double seconds, float score)
{
    ms_runtime *rt = ctx;
    rt_app *a = find_app_id(rt, app);
    assert(a);
    a->samples++;
    ms_jsonl_score(&rt->scores, a->stream->desc.name, a->desc.name, frame, score);
    if (rt->o.on_score) rt->o.on_score(rt->o.ctx, a->stream->id, a->id, frame, seconds, score);
    ms_event e;
    if (ms_detector_push_at(&a->det, frame, seconds, frame_wall(a->stream, frame), score, &e)) emit_event(rt, a, &e);
}

static void finish_app(ms_runtime *rt, rt_app *a)
{
    ms_event e;
    if (ms_detector_finish(&a->det, &e)) emit_event(rt, a, &e);
}

/* ---------------------------------------------------------------- plans */

static void cache_free(rt_stream *s)
{
    for (int i = 0; i < s->n_cache; i++) {
        ms_plan_free(s->cache[i].plan1);
        ms_plan_free(s->cache[i].planb);
    }
    free(s->cache);
    s->cache = NULL;
    s->n_cache = 0;
}

/* The cached plans of a node reading `from`'s output, compiled now when there are none. */
static ms_status cached_plans(ms_runtime *rt, rt_stream *s, ms_exec_kind kind, int from, int to, int app,
                              const ms_plan *parent, rt_cached **out, ms_error *err)
{
    for (int i = 0; i < s->n_cache; i++) {
        rt_cached *c = &s->cache[i];
        if (c->kind != kind || c->from != from || c->to != to || c->app != app) continue;
        bool same = c->compiled_from == parent ||
                    (c->compiled_from && parent && ms_plan_same_output(c->compiled_from, parent));
        if (!same) continue;
        c->compiled_from = parent;
        c->used = true;
        *out = c;
        return MS_OK;
    }
    ms_graph *g = NULL;
    ms_status st;
    if (kind == MS_EXEC_SEGMENT) {
        st = ms_graph_segment(rt->model.base, rt->model.cps[from].node_end, rt->model.cps[to].node_end, &g, err);
    } else {
        rt_app *a = find_app_id(rt, app);
        st = ms_run_app_branch(&a->pkg, rt->model.base, from, &g, err);
        if (st) ms_error_prefix(err, "app '%s'", a->desc.name);
    }
    rt_cached c = {.kind = kind, .from = from, .to = to, .app = app, .compiled_from = parent, .used = true};
    if (st == MS_OK) st = ms_exec_compile(rt->model.backend, &rt->model.opts, kind, g, parent, &c.plan1, &c.planb, err);
    ms_graph_free(g);
    if (st) return st;
    rt->plans_compiled++;
    rt_cached *grown = realloc(s->cache, sizeof *grown * (size_t)(s->n_cache + 1));
    if (!grown) {
        ms_plan_free(c.plan1);
        ms_plan_free(c.planb);
        return ms_errorf(err, MS_ERR_NOMEM, "stream '%s': out of memory", s->desc.name);
    }
    s->cache = grown;
    s->cache[s->n_cache] = c;
    *out = &s->cache[s->n_cache++];
    return MS_OK;
}

static ms_status add_node(ms_runtime *rt, rt_stream *s, ms_exec_tree *t, ms_exec_kind kind, int parent, int from,
                          int to, int app, double rate, int *index, ms_error *err)
{
    rt_cached *c;
    const ms_plan *from_plan = parent < 0 ? NULL : t->nodes[parent].plan1;
    ms_status st = cached_plans(rt, s, kind, from, to, app, from_plan, &c, err);
    if (st) return st;
    double ms = ms_run_model_units_ms(&rt->model, from, kind == MS_EXEC_SEGMENT ? to : rt->model.n_cps);
    return ms_exec_add_plans(t, kind, parent, from, to, app, rate, ms, c->plan1, c->planb, true, index, err);
}

static ms_status add_branch(ms_runtime *rt, rt_stream *s, const ms_stream_plan *p, ms_exec_tree *t, int parent,
                            int k, ms_error *err)
{
    int index;
    return add_node(rt, s, t, MS_EXEC_BRANCH, parent, p->schedule.apps[k].chokepoint, -1, p->apps[k],
                    p->schedule.apps[k].fps, &index, err);
}

/* The plan's stem tree from cached or new plans, in the order ms_stream_plan_exec gives. */
static ms_status build_tree(ms_runtime *rt, rt_stream *s, const ms_stream_plan *p, ms_exec_tree *t, ms_error *err)
{
    const ms_input_spec *in = &rt->model.base->input_spec;
    ms_exec_init(t, rt->model.backend, &rt->model.opts, p->stream_fps, (int64_t)in->height * in->width * in->channels);
    ms_status st = MS_OK;
    for (int i = 0; i < p->tree.n_root_branches && st == MS_OK; i++)
        st = add_branch(rt, s, p, t, -1, p->tree.root_branches[i], err);
    int parent = -1;
    for (int g = 0; g < p->tree.n_segments && st == MS_OK; g++) {
        const ms_stem_segment *seg = &p->tree.segments[g];
        int index = -1;
        st = add_node(rt, s, t, MS_EXEC_SEGMENT, parent, seg->from, seg->to, -1, seg->fps, &index, err);
        parent = index;
        for (int b = 0; b < seg->n_branches && st == MS_OK; b++) st = add_branch(rt, s, p, t, parent, seg->branches[b], err);
    }
    if (st) ms_exec_free(t);
    return st;
}

/* Whether new node n and old node o are the same computation on the same frames: same
 * kind, cut, app and rate, under parents that are the same too. */
static bool same_node(const ms_exec_tree *nt, int n, const ms_exec_tree *ot, int o)
{
    for (;;) {
        if (n < 0 || o < 0) return n < 0 && o < 0;
        const ms_exec_node *a = &nt->nodes[n], *b = &ot->nodes[o];
        if (a->kind != b->kind || a->from != b->from || a->to != b->to || a->app != b->app || a->rate != b->rate)
            return false;
        n = a->parent;
        o = b->parent;
    }
}

/* Nodes that stay keep their sampling phase and counters: no frame is taken twice or
 * skipped by an app whose place in the tree did not change. */
static void carry_over(ms_exec_tree *nt, const ms_exec_tree *ot)
{
    for (int i = 0; i < nt->n_nodes; i++)
        for (int j = 0; j < ot->n_nodes; j++)
            if (same_node(nt, i, ot, j)) {
                nt->nodes[i].sampler = ot->nodes[j].sampler;
                nt->nodes[i].frames = ot->nodes[j].frames;
                nt->nodes[i].seconds = ot->nodes[j].seconds;
                break;
            }
}

/* Drops cached plans the current tree does not use. */
static void cache_trim(rt_stream *s)
{
    int k = 0;
    for (int i = 0; i < s->n_cache; i++) {
        if (s->cache[i].used) {
            s->cache[k] = s->cache[i];
            s->cache[k++].used = false;
        } else {
            ms_plan_free(s->cache[i].plan1);
            ms_plan_free(s->cache[i].planb);
        }
    }
    s->n_cache = k;
}

static const char *log_name(const ms_runtime *rt) { return rt->log_name; }

/* Appends to a log line being built (cut at the buffer's end), so a line is logged whole. */
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

static void print_plan(ms_runtime *rt, rt_stream *s)
{
    const ms_stream_plan *p = &s->plan;
    char line[2048] = "";
    append(line, sizeof line, "%s: stream '%s': %g fps, budget %.4g ms/s, plan costs %.4g ms/s:", log_name(rt),
           s->desc.name, p->stream_fps, p->budget, p->schedule.cost);
    for (int i = 0; i < p->n_apps; i++)
        append(line, sizeof line, " %s@cp%d/%.3gfps", p->entries[i].desc->name, p->schedule.apps[i].chokepoint,
               p->schedule.apps[i].fps);
    ms_info("%s", line);
}

static void unplan(rt_stream *s)
{
    if (!s->has_plan) return;
    ms_stream_plan_free(&s->plan);
    ms_exec_free(&s->tree);
    s->has_plan = false;
}

/* Makes `next` the stream's plan (taking it over) with its tree compiled from the
 * cache; the old plan stays when compiling fails. */
static ms_status install(ms_runtime *rt, rt_stream *s, ms_stream_plan *next, ms_error *err)
{
    for (int i = 0; i < s->n_cache; i++) s->cache[i].used = false;
    ms_exec_tree tree;
    ms_status st = build_tree(rt, s, next, &tree, err);
    if (st) {
        /* keep what the current tree uses */
        for (int i = 0; i < s->n_cache; i++)
            for (int j = 0; s->has_plan && j < s->tree.n_nodes; j++)
                if (s->cache[i].plan1 == s->tree.nodes[j].plan1) s->cache[i].used = true;
        cache_trim(s);
        ms_stream_plan_free(next);
        return st;
    }
    if (s->has_plan) carry_over(&tree, &s->tree);
    unplan(s);
    cache_trim(s);
    s->plan = *next;
    s->tree = tree;
    s->has_plan = true;
    s->win_obs_ms = s->win_plan_ms = 0;
    s->win_frames = -1;
    if (s->plans++ > 0) rt->replans++;
    for (int i = 0; i < next->n_apps; i++) {
        rt_app *a = find_app_id(rt, next->apps[i]);
        a->chokepoint = next->schedule.apps[i].chokepoint;
        a->planned_fps = next->schedule.apps[i].fps;
        a->predicted = next->schedule.apps[i].m;
    }
    if (s->stream) ms_stream_set_rate(s->stream, ms_exec_root_rate(&s->tree));
    print_plan(rt, s);
    return MS_OK;
}

static double stream_rate(rt_stream *s)
{
    if (!s->stream) return 0;
    ms_stream_status status;
    ms_stream_get_status(s->stream, &status);
    return status.fps;
}

static void close_stream(ms_runtime *rt, rt_stream *s);
static void drop_app_at(ms_runtime *rt, int i);
static void forget_app(ms_runtime *rt, int id);

/* A stream's rate as far as it is known: declared, or read from the stream once it
 * opened (0: not known yet). */
static double known_rate(rt_stream *s)
{
    double opened = stream_rate(s);
    return opened > 0 ? opened : s->desc.fps;
}

/* Refuses an app pinned above its stream's rate (0: unknown, nothing to check), naming
 * the app, and saying so when the rate is not declared but read when the stream opened. */
static ms_status check_pinned_rate(const char *where, const ms_deploy_app *d, const rt_stream *s, double rate,
                                   ms_error *err)
{
    if (!(rate > 0) || !(d->fps > rate)) return MS_OK;
    return ms_errorf(err, MS_ERR_INVALID, "%s.fps: %g is above stream '%s''s %g fps%s", where, d->fps, s->desc.name,
                     rate, s->desc.fps > 0 ? "" : " (its rate as opened)");
}

/* Apps pinned above a rate that became known when their stream opened (or changed when
 * it reopened) are refused: dropped with a message naming them and counted, their open
 * events closed; the stream's other apps go on. */
static void refuse_fast_pins(ms_runtime *rt)
{
    for (int k = rt->n_apps - 1; k >= 0; k--) {
        rt_app *a = rt->apps[k];
        ms_error err = {0};
        if (!check_pinned_rate(a->where, &a->desc, a->stream, known_rate(a->stream), &err)) continue;
        ms_log_error("%s: %s: the app is refused", log_name(rt), err.msg);
        finish_app(rt, a);
        int id = a->id;
        drop_app_at(rt, k);
        forget_app(rt, id);
        rt->apps_refused++;
    }
}

static bool plan_has_app(const rt_stream *s, int id)
{
    for (int i = 0; s->has_plan && i < s->plan.n_apps; i++)
        if (s->plan.apps[i] == id) return true;
    return false;
}

/* Plans every stream that can be planned (open, rate known, apps) for the current app
 * set, budget and policy. All plans are made before any is installed, so a planning
 * failure leaves every stream as it was; *failed (may be NULL) gets the stream to
 * blame, if one is. A plan equal to the installed one is not installed again. */
static ms_status replan_blame(ms_runtime *rt, rt_stream **failed, ms_error *err)
{
    ms_planner_stream *in = calloc((size_t)rt->n_streams + 1, sizeof *in);
    ms_stream_plan *out = calloc((size_t)rt->n_streams + 1, sizeof *out);
    ms_stream_plan_app *apps = calloc((size_t)rt->n_apps + 1, sizeof *apps);
    char(*where)[400] = calloc((size_t)rt->n_streams + 1, sizeof *where);
    ms_status st = in && out && apps && where ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "planning: out of memory");
    int n = 0, used = 0, blame = -1;
    if (failed) *failed = NULL;
    refuse_fast_pins(rt);
    for (int i = 0; i < rt->n_streams && st == MS_OK; i++) {
        rt_stream *s = rt->streams[i];
        double fps = stream_rate(s);
        int first = used;
        for (int k = 0; k < rt->n_apps; k++)
            if (rt->apps[k]->stream == s)
                apps[used++] = (ms_stream_plan_app){rt->apps[k]->id, &rt->apps[k]->desc, &rt->apps[k]->pkg};
        if (used == first) unplan(s); /* no apps left: nothing to run */
        if (s->closed || used == first || !(fps > 0)) {
            used = first;
            continue;
        }
        snprintf(where[n], sizeof where[n], "%s: stream '%s'", rt->where, s->desc.name);
        in[n] = (ms_planner_stream){.index = i, .apps = apps + first, .n_apps = used - first, .stream_fps = fps,
                                    .correction = s->correction, .where = where[n]};
        n++;
    }
    if (st == MS_OK && n > 0)
        st = ms_planner_solve(&rt->model, rt->policy, rt->objective, rt->budget, in, n, out, &blame, err);
    if (st && blame >= 0 && failed) *failed = rt->streams[in[blame].index];
    for (int i = 0; i < n && st == MS_OK; i++) {
        rt_stream *s = rt->streams[in[i].index];
        if (s->has_plan && ms_planner_same(&s->plan, &out[i])) {
            /* the same tree: nothing is compiled or reset, but the stream was re-planned */
            s->plan.budget = out[i].budget;
            s->plans++;
            rt->replans++;
            print_plan(rt, s);
            ms_stream_plan_free(&out[i]);
            continue;
        }
        ms_status ist = install(rt, s, &out[i], err);
        if (ist) { /* the others are installed already: a stream that cannot compile stops */
            snprintf(s->error, sizeof s->error, "%s", err->msg);
            close_stream(rt, s);
            unplan(s);
        }
    }
    if (st) for (int i = 0; i < n; i++) ms_stream_plan_free(&out[i]);
    rt->dirty = false;
    free(in);
    free(out);
    free(apps);
    free(where);
    return st;
}

static ms_status replan(ms_runtime *rt, ms_error *err) { return replan_blame(rt, NULL, err); }

/* Streams whose plan still runs app id lose it (the app is gone). */
static void forget_app(ms_runtime *rt, int id)
{
    for (int i = 0; i < rt->n_streams; i++)
        if (plan_has_app(rt->streams[i], id)) {
            unplan(rt->streams[i]);
            rt->dirty = true;
        }
}

/* ---------------------------------------------------------------- streams */

static ms_status start_decoder(ms_runtime *rt, rt_stream *s, ms_error *err)
{
    if (s->stream || s->closed) return MS_OK;
    const ms_input_spec *spec = &rt->model.base->input_spec;
    ms_stream_config cfg = {.name = s->desc.name, .url = s->desc.url, .network = s->desc.network,
                            .retries = s->desc.retries, .retry_s = s->desc.retry_s, .fps = s->desc.fps,
                            .options = &s->desc.options, .spec = *spec, .resize = (ms_resize_mode)rt->resize,
                            .live = rt->o.live};
    return ms_stream_start(&cfg, &rt->notify, &s->stream, err);
}

/* Decoders start once the executor runs and the frames' fitting is known (an app fixes it). */
static void start_decoders(ms_runtime *rt)
{
    if (!rt->running || rt->resize < 0) return;
    for (int i = 0; i < rt->n_streams; i++) {
        rt_stream *s = rt->streams[i];
        ms_error err = {0};
        if (!s->stream && !s->closed && start_decoder(rt, s, &err)) {
            snprintf(s->error, sizeof s->error, "%s", err.msg);
            s->closed = true;
            rt->streams_failed++;
            ms_log_error("%s: stream '%s': stopped: %s", log_name(rt), s->desc.name, s->error);
        }
    }
}

/* Stops a stream for good: closes its apps' events and says how it ended. */
static void close_stream(ms_runtime *rt, rt_stream *s)
{
    if (s->closed) return;
    s->closed = true;
    for (int i = 0; i < rt->n_apps; i++)
        if (rt->apps[i]->stream == s) finish_app(rt, rt->apps[i]);
    s->n_chunk = 0;
    if (!s->stream) return;
    ms_stream_status status;
    ms_stream_get_status(s->stream, &status);
    const char *name = s->desc.name;
    if (s->error[0]) {
        ms_log_error("%s: stream '%s': stopped: %s", log_name(rt), name, s->error);
        rt->streams_failed++;
    } else if (status.state == MS_STREAM_FAILED) {
        ms_log_error("%s: stream '%s': failed after %lld frames: %s", log_name(rt), name,
                (long long)status.decoded, status.error);
        snprintf(s->error, sizeof s->error, "%s", status.error);
        rt->streams_failed++;
    } else if (status.state == MS_STREAM_ENDED) {
        ms_info("%s: stream '%s': ended after %lld frames (%lld dropped, %lld damaged packets skipped)",
                log_name(rt), name, (long long)status.decoded, (long long)status.dropped, (long long)status.damaged);
    }
}

static void free_stream(ms_runtime *rt, rt_stream *s)
{
    if (!s) return;
    ms_stream_stop(s->stream);
    unplan(s);
    cache_free(s);
    for (int i = 0; s->chunk && i < rt->model.opts.batch; i++) free(s->chunk[i].pixels);
    free(s->chunk);
    ms_deploy_stream_free(&s->desc);
    free(s);
}

static void free_app(rt_app *a)
{
    if (!a) return;
    ms_run_app_free(&a->pkg);
    free(a->where);
    free(a->desc.name);
    free(a->desc.package);
    free(a);
}

/* The observed and planned node cost of the stream's tree so far, and its root frames. */
static void tree_cost(const rt_stream *s, double *obs, double *planned, int64_t *root_frames)
{
    *obs = *planned = 0;
    *root_frames = 0;
    for (int i = 0; i < s->tree.n_nodes; i++) {
        *obs += s->tree.nodes[i].seconds * 1000.0;
        *planned += s->tree.nodes[i].planned_ms * (double)s->tree.nodes[i].frames;
        if (s->tree.nodes[i].parent < 0) *root_frames += s->tree.nodes[i].frames;
    }
}

/* After a tree's first chunk (which pays for warming caches): the cost window starts. */
static void cost_window_begin(rt_stream *s)
{
    if (s->win_frames >= 0) return;
    tree_cost(s, &s->win_obs_ms, &s->win_plan_ms, &s->win_frames);
}

/* On the cost timer: observed against planned node cost over the window (at least
 * MIN_WINDOW_FRAMES root frames); a ratio that differs by more than the tolerance from
 * the one the plan was made for becomes the stream's cost correction and re-plans. */
static void check_cost(ms_runtime *rt, rt_stream *s)
{
    double obs, planned;
    int64_t root_frames;
    if (!s->has_plan || s->win_frames < 0) return;
    tree_cost(s, &obs, &planned, &root_frames);
    if (root_frames - s->win_frames < MIN_WINDOW_FRAMES) return;
    double d_obs = obs - s->win_obs_ms, d_plan = planned - s->win_plan_ms;
    s->win_obs_ms = obs;
    s->win_plan_ms = planned;
    s->win_frames = root_frames;
    if (d_plan <= 0) return;
    double ratio = d_obs / d_plan;
    if (fabs(ratio / s->correction - 1) <= REPLAN_TOLERANCE) return;
    /* decided on this ratio, whether or not a new plan comes of it: no retry storm */
    s->correction = ratio;
    ms_info("%s: stream '%s': nodes cost %.2fx what the plan assumed; re-planning", log_name(rt),
            s->desc.name, ratio);
    ms_error err = {0};
    if (replan(rt, &err))
        ms_warn("%s: stream '%s': re-planning failed, keeping the current plan: %s", log_name(rt),
                s->desc.name, err.msg);
}

static bool has_apps(ms_runtime *rt, rt_stream *s)
{
    for (int i = 0; i < rt->n_apps; i++)
        if (rt->apps[i]->stream == s) return true;
    return false;
}

enum { STEP_TOOK = 1, STEP_RAN = 2 };

/* Whether an open stream with apps does not know its rate yet (its decoder is opening). */
static bool rate_unknown(ms_runtime *rt)
{
    for (int i = 0; i < rt->n_streams; i++) {
        rt_stream *s = rt->streams[i];
        if (!s->closed && s->stream && !(stream_rate(s) > 0) && !ms_stream_finished(s->stream) && has_apps(rt, s))
            return true;
    }
    return false;
}

/* Takes frames, plans when the stream can be planned, runs full (or, live, any)
 * chunks. Returns what it did (STEP_* flags); the stream may be closed afterwards. */
static int step_stream(ms_runtime *rt, rt_stream *s)
{
    int did = 0;
    int batch = rt->model.opts.batch;
    ms_error err = {0};
    rt_stream *blame = NULL;
    /* planned as soon as the rate is known, before any frame is taken, so that the
     * decoder offers only the frames the tree needs from the second frame on (offline:
     * once every stream's rate is known, so that all are planned at once) */
    /* a stream reopened at another rate is planned again for it */
    if (s->has_plan && stream_rate(s) > 0 && stream_rate(s) != s->plan.stream_fps) {
        ms_info("%s: stream '%s': its rate is now %g fps; re-planning", log_name(rt), s->desc.name,
                stream_rate(s));
        unplan(s);
    }
    if (!s->has_plan && has_apps(rt, s) && stream_rate(s) > 0) {
        if (!rt->o.live && rate_unknown(rt)) return did;
        if (replan_blame(rt, &blame, &err)) {
            if (!blame) blame = s;
            snprintf(blame->error, sizeof blame->error, "%s", err.msg);
            close_stream(rt, blame);
            if (blame == s) return did;
        }
    }
    while (s->n_chunk < batch && ms_stream_take(s->stream, &s->chunk[s->n_chunk])) {
        s->n_chunk++;
        did |= STEP_TOOK;
    }
    bool finished = ms_stream_finished(s->stream);
    if (s->n_chunk > 0 && !s->has_plan) { /* no apps: the frames are not needed */
        s->n_chunk = 0;
        did |= STEP_RAN;
    }
    bool ready = s->n_chunk == batch || (s->n_chunk > 0 && (rt->o.live || finished));
    if (ready) {
        if (ms_exec_run(&s->tree, s->chunk, s->n_chunk, on_score, rt, &err)) {
            snprintf(s->error, sizeof s->error, "%s", err.msg);
            close_stream(rt, s);
            return did;
        }
        s->last_frame = s->chunk[s->n_chunk - 1].index;
        s->n_chunk = 0;
        did |= STEP_RAN;
        cost_window_begin(s);
    }
    if (finished && s->n_chunk == 0) close_stream(rt, s);
    return did;
}

/* ---------------------------------------------------------------- stats */

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static ms_status fill_stats(ms_runtime *rt, ms_runtime_stats *o, ms_error *err)
{
    memset(o, 0, sizeof *o);
    o->elapsed_s = rt->started ? ms_now() - rt->start : 0;
    o->live = rt->o.live;
    o->replans = rt->replans;
    o->budget = rt->budget;
    o->events = rt->n_events;
    o->streams_failed = rt->streams_failed;
    o->apps_refused = rt->apps_refused;
    o->plans_compiled = rt->plans_compiled;
    int n_nodes = 0;
    for (int i = 0; i < rt->n_streams; i++) n_nodes += rt->streams[i]->has_plan ? rt->streams[i]->tree.n_nodes : 0;
    o->streams = calloc((size_t)rt->n_streams + 1, sizeof *o->streams);
    o->apps = calloc((size_t)rt->n_apps + 1, sizeof *o->apps);
    o->nodes = calloc((size_t)n_nodes + 1, sizeof *o->nodes);
    if (!o->streams || !o->apps || !o->nodes) goto nomem;
    double node_ms = 0;
    for (int i = 0; i < rt->n_streams; i++) {
        rt_stream *s = rt->streams[i];
        ms_runtime_stream_stats *so = &o->streams[o->n_streams++];
        ms_stream_status status = {.state = MS_STREAM_OPENING};
        if (s->stream) ms_stream_get_status(s->stream, &status);
        so->id = s->id;
        so->name = strdup(s->desc.name);
        so->url = strdup(s->desc.url);
        so->state = status.state;
        so->stopped = s->error[0] && status.state != MS_STREAM_FAILED;
        so->up = !s->closed && !so->stopped && status.state != MS_STREAM_ENDED && status.state != MS_STREAM_FAILED;
        so->fps = status.fps;
        so->decoded = status.decoded;
        so->processed = status.delivered;
        so->dropped = status.dropped;
        so->damaged = status.damaged;
        so->last_frame = s->last_frame;
        so->reopenings = status.reopenings;
        so->replans = s->plans > 0 ? s->plans - 1 : 0;
        so->planned = s->has_plan;
        so->planned_cost = s->has_plan ? s->plan.schedule.cost : 0;
        so->budget = s->has_plan ? s->plan.budget : 0;
        so->error = dup_or_empty(s->error[0] ? s->error : status.error);
        if (!so->name || !so->url || !so->error) goto nomem;
        o->planned_cost += so->planned_cost;
        for (int k = 0; s->has_plan && k < s->tree.n_nodes; k++) {
            const ms_exec_node *n = &s->tree.nodes[k];
            o->nodes[o->n_nodes++] = (ms_runtime_node_stats){
                .stream_id = s->id, .kind = n->kind == MS_EXEC_SEGMENT ? MS_RUNTIME_NODE_SEGMENT : MS_RUNTIME_NODE_BRANCH,
                .from = n->from, .to = n->to, .app_id = n->app, .planned_fps = n->rate, .frames = n->frames,
                .ms_per_frame = n->frames ? n->seconds * 1000.0 / (double)n->frames : 0,
                .planned_ms_per_frame = n->planned_ms};
            node_ms += n->seconds * 1000.0;
        }
    }
    o->observed_cost = o->elapsed_s > 0 ? node_ms / o->elapsed_s : 0;
    for (int i = 0; i < rt->n_apps; i++) {
        rt_app *a = rt->apps[i];
        ms_runtime_app_stats *ao = &o->apps[o->n_apps++];
        ms_stream_status status = {0};
        if (a->stream->stream) ms_stream_get_status(a->stream->stream, &status);
        double span = status.fps > 0 ? (double)status.decoded / status.fps : 0; /* seconds of video so far */
        *ao = (ms_runtime_app_stats){.id = a->id, .name = strdup(a->desc.name), .stream_id = a->stream->id,
                                     .stream = strdup(a->stream->desc.name), .chokepoint = a->chokepoint,
                                     .planned_fps = a->planned_fps,
                                     .observed_fps = span > 0 ? (double)a->samples / span : 0,
                                     .samples = a->samples, .events = a->events, .predicted = a->predicted};
        if (!ao->name || !ao->stream) goto nomem;
    }
    return MS_OK;
nomem:
    ms_runtime_stats_free(o);
    return ms_errorf(err, MS_ERR_NOMEM, "stats: out of memory");
}

void ms_runtime_stats_free(ms_runtime_stats *s)
{
    for (int i = 0; s->streams && i < s->n_streams; i++) {
        free(s->streams[i].name);
        free(s->streams[i].url);
        free(s->streams[i].error);
    }
    for (int i = 0; s->apps && i < s->n_apps; i++) {
        free(s->apps[i].name);
        free(s->apps[i].stream);
    }
    free(s->streams);
    free(s->apps);
    free(s->nodes);
    memset(s, 0, sizeof *s);
}

static const char *stream_state_word(const ms_runtime_stream_stats *s)
{
    return s->stopped ? "stopped" : ms_stream_state_name(s->state);
}

static const char *name_of_id(const ms_runtime_stats *s, int id)
{
    for (int i = 0; i < s->n_streams; i++)
        if (s->streams[i].id == id) return s->streams[i].name;
    for (int i = 0; i < s->n_apps; i++)
        if (s->apps[i].id == id) return s->apps[i].name;
    return "?";
}

cJSON *ms_runtime_stats_json(const ms_runtime_stats *s)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    ms_json_add_version(root, 1);
    cJSON_AddNumberToObject(root, "elapsed_s", s->elapsed_s);
    cJSON_AddStringToObject(root, "mode", s->live ? "live" : "offline");
    cJSON_AddNumberToObject(root, "replans", s->replans);
    cJSON_AddNumberToObject(root, "budget", s->budget);
    cJSON_AddNumberToObject(root, "planned_cost", s->planned_cost);
    cJSON_AddNumberToObject(root, "observed_cost", s->observed_cost);
    cJSON_AddNumberToObject(root, "events", (double)s->events);
    cJSON_AddNumberToObject(root, "plans_compiled", (double)s->plans_compiled);
    cJSON *streams = cJSON_AddArrayToObject(root, "streams");
    cJSON *apps = cJSON_AddArrayToObject(root, "apps");
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int i = 0; i < s->n_streams; i++) {
        const ms_runtime_stream_stats *st = &s->streams[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(streams, o);
        cJSON_AddNumberToObject(o, "id", st->id);
        cJSON_AddStringToObject(o, "name", st->name);
        cJSON_AddStringToObject(o, "state", stream_state_word(st));
        cJSON_AddNumberToObject(o, "fps", st->fps);
        cJSON_AddNumberToObject(o, "decoded", (double)st->decoded);
        cJSON_AddNumberToObject(o, "processed", (double)st->processed);
        cJSON_AddNumberToObject(o, "dropped", (double)st->dropped);
        cJSON_AddNumberToObject(o, "damaged_packets", (double)st->damaged);
        cJSON_AddNumberToObject(o, "reopenings", st->reopenings);
        cJSON_AddNumberToObject(o, "replans", st->replans);
        cJSON_AddNumberToObject(o, "last_frame", (double)st->last_frame);
        if (st->planned) {
            cJSON_AddNumberToObject(o, "budget", st->budget);
            cJSON_AddNumberToObject(o, "planned_cost", st->planned_cost);
        }
        if (st->error[0]) cJSON_AddStringToObject(o, "error", st->error);
    }
    for (int i = 0; i < s->n_nodes; i++) {
        const ms_runtime_node_stats *n = &s->nodes[i];
        cJSON *no = cJSON_CreateObject();
        cJSON_AddItemToArray(nodes, no);
        cJSON_AddStringToObject(no, "stream", name_of_id(s, n->stream_id));
        cJSON_AddNumberToObject(no, "stream_id", n->stream_id);
        if (n->kind == MS_RUNTIME_NODE_SEGMENT) {
            cJSON_AddStringToObject(no, "kind", "segment");
            cJSON_AddNumberToObject(no, "from", n->from);
            cJSON_AddNumberToObject(no, "to", n->to);
        } else {
            cJSON_AddStringToObject(no, "kind", "branch");
            cJSON_AddStringToObject(no, "app", name_of_id(s, n->app_id));
            cJSON_AddNumberToObject(no, "app_id", n->app_id);
            cJSON_AddNumberToObject(no, "from", n->from);
        }
        cJSON_AddNumberToObject(no, "planned_fps", n->planned_fps);
        cJSON_AddNumberToObject(no, "frames", (double)n->frames);
        cJSON_AddNumberToObject(no, "ms_per_frame", n->ms_per_frame);
        cJSON_AddNumberToObject(no, "planned_ms_per_frame", n->planned_ms_per_frame);
    }
    for (int i = 0; i < s->n_apps; i++) {
        const ms_runtime_app_stats *a = &s->apps[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(apps, o);
        cJSON_AddNumberToObject(o, "id", a->id);
        cJSON_AddStringToObject(o, "name", a->name);
        cJSON_AddStringToObject(o, "stream", a->stream);
        cJSON_AddNumberToObject(o, "stream_id", a->stream_id);
        cJSON_AddNumberToObject(o, "chokepoint", a->chokepoint);
        cJSON_AddNumberToObject(o, "planned_fps", a->planned_fps);
        cJSON_AddNumberToObject(o, "observed_fps", a->observed_fps);
        cJSON_AddNumberToObject(o, "samples", (double)a->samples);
        cJSON_AddNumberToObject(o, "events", (double)a->events);
        cJSON_AddNumberToObject(o, "predicted_recall", a->predicted.recall);
        cJSON_AddNumberToObject(o, "predicted_precision", a->predicted.precision);
        cJSON_AddNumberToObject(o, "predicted_f1", a->predicted.f1);
    }
    return root;
}

/* Progress on stderr (one line for the whole run) and the stats file. */
static void report(ms_runtime *rt, bool final)
{
    ms_runtime_stats s;
    ms_error err = {0};
    if (fill_stats(rt, &s, &err)) return;
    char line[4096] = "";
    append(line, sizeof line, "%s: %s %.1f s:", log_name(rt), final ? "done after" : "at", s.elapsed_s);
    for (int i = 0; i < s.n_apps; i++)
        append(line, sizeof line, " %s %.3g fps (plan %.3g)", s.apps[i].name, s.apps[i].observed_fps,
               s.apps[i].planned_fps);
    for (int i = 0; i < s.n_streams; i++)
        append(line, sizeof line, "; %s %s, %g dropped", s.streams[i].name, stream_state_word(&s.streams[i]),
               (double)s.streams[i].dropped);
    ms_info("%s", line);
    if (rt->stats_path) {
        cJSON *doc = ms_runtime_stats_json(&s);
        if (!doc || ms_json_write(rt->stats_path, doc, true, &err))
            ms_warn("%s: stats: %s", log_name(rt), doc ? err.msg : "out of memory");
        cJSON_Delete(doc);
    }
    ms_runtime_stats_free(&s);
}

/* ---------------------------------------------------------------- schedule snapshot */

static ms_status fill_schedule(ms_runtime *rt, ms_runtime_schedule *o, ms_error *err)
{
    memset(o, 0, sizeof *o);
    o->policy = rt->policy;
    o->objective = rt->objective;
    o->budget = rt->budget;
    o->exact = true;
    o->streams = calloc((size_t)rt->n_streams + 1, sizeof *o->streams);
    if (!o->streams) return ms_errorf(err, MS_ERR_NOMEM, "schedule: out of memory");
    double weight = 0, sum = 0, min = INFINITY;
    for (int i = 0; i < rt->n_streams; i++) {
        rt_stream *s = rt->streams[i];
        if (!s->has_plan) continue;
        const ms_stream_plan *p = &s->plan;
        ms_runtime_stream_schedule *so = &o->streams[o->n_streams++];
        so->stream_id = s->id;
        so->name = strdup(s->desc.name);
        so->stream_fps = p->stream_fps;
        so->cost = p->schedule.cost;
        so->apps = calloc((size_t)p->n_apps + 1, sizeof *so->apps);
        if (!so->name || !so->apps) goto nomem;
        o->exact &= p->schedule.exact;
        o->cost += p->schedule.cost;
        for (int k = 0; k < p->n_apps; k++) {
            const ms_assignment *as = &p->schedule.apps[k];
            so->apps[so->n_apps++] = (ms_runtime_assignment){p->apps[k], strdup(p->entries[k].desc->name),
                                                             as->chokepoint, as->fps, as->m};
            if (!so->apps[k].name) goto nomem;
            double w = p->scenario.apps[k].weight, metric = rt->objective == MS_OBJ_MEAN_FNR ? as->m.fnr
                                                            : rt->objective == MS_OBJ_MEAN_FPR ? as->m.fpr
                                                                                                : as->m.f1;
            weight += w;
            sum += w * metric;
            min = fmin(min, as->m.f1);
        }
        if (ms_stem_tree_build(&p->scenario, &p->schedule, &so->tree, err)) {
            ms_runtime_schedule_free(o);
            return err->status;
        }
    }
    o->value = rt->objective == MS_OBJ_MIN_F1 ? (isfinite(min) ? min : 0) : weight > 0 ? sum / weight : 0;
    return MS_OK;
nomem:
    ms_runtime_schedule_free(o);
    return ms_errorf(err, MS_ERR_NOMEM, "schedule: out of memory");
}

void ms_runtime_schedule_free(ms_runtime_schedule *s)
{
    for (int i = 0; s->streams && i < s->n_streams; i++) {
        ms_runtime_stream_schedule *so = &s->streams[i];
        for (int k = 0; so->apps && k < so->n_apps; k++) free(so->apps[k].name);
        free(so->apps);
        free(so->name);
        ms_stem_tree_free(&so->tree);
    }
    free(s->streams);
    memset(s, 0, sizeof *s);
}

static cJSON *int_array(const int *v, int n, const ms_runtime_assignment *apps)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(apps[v[i]].name));
    return a;
}

cJSON *ms_runtime_schedule_json(const ms_runtime_schedule *s)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "policy", ms_policy_name(s->policy));
    cJSON_AddStringToObject(root, "objective", ms_objective_name(s->objective));
    cJSON_AddBoolToObject(root, "exact", s->exact);
    cJSON_AddNumberToObject(root, "value", s->value);
    cJSON_AddNumberToObject(root, "cost", s->cost);
    cJSON_AddNumberToObject(root, "budget", s->budget);
    cJSON *streams = cJSON_AddArrayToObject(root, "streams");
    for (int i = 0; i < s->n_streams; i++) {
        const ms_runtime_stream_schedule *so = &s->streams[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(streams, o);
        cJSON_AddNumberToObject(o, "id", so->stream_id);
        cJSON_AddStringToObject(o, "name", so->name);
        cJSON_AddNumberToObject(o, "stream_fps", so->stream_fps);
        cJSON_AddNumberToObject(o, "cost", so->cost);
        cJSON *apps = cJSON_AddArrayToObject(o, "apps");
        for (int k = 0; k < so->n_apps; k++) {
            const ms_runtime_assignment *a = &so->apps[k];
            cJSON *ao = cJSON_CreateObject();
            cJSON_AddItemToArray(apps, ao);
            cJSON_AddNumberToObject(ao, "id", a->app_id);
            cJSON_AddStringToObject(ao, "name", a->name);
            cJSON_AddNumberToObject(ao, "chokepoint", a->chokepoint);
            cJSON_AddNumberToObject(ao, "fps", a->fps);
            cJSON_AddNumberToObject(ao, "recall", a->predicted.recall);
            cJSON_AddNumberToObject(ao, "precision", a->predicted.precision);
            cJSON_AddNumberToObject(ao, "f1", a->predicted.f1);
        }
        cJSON *tree = cJSON_AddObjectToObject(o, "stem_tree");
        cJSON_AddItemToObject(tree, "root_branches",
                              int_array(so->tree.root_branches, so->tree.n_root_branches, so->apps));
        cJSON *segs = cJSON_AddArrayToObject(tree, "segments");
        for (int g = 0; g < so->tree.n_segments; g++) {
            const ms_stem_segment *seg = &so->tree.segments[g];
            cJSON *sg = cJSON_CreateObject();
            cJSON_AddItemToArray(segs, sg);
            cJSON_AddNumberToObject(sg, "from", seg->from);
            cJSON_AddNumberToObject(sg, "to", seg->to);
            cJSON_AddNumberToObject(sg, "fps", seg->fps);
            cJSON_AddItemToObject(sg, "branches", int_array(seg->branches, seg->n_branches, so->apps));
        }
    }
    return root;
}

/* ---------------------------------------------------------------- commands */

static ms_status grow(void **arr, int *cap, int n, size_t size)
{
    if (n < *cap) return MS_OK;
    int c = *cap ? 2 * *cap : 8;
    void *p = realloc(*arr, size * (size_t)c);
    if (!p) return MS_ERR_NOMEM;
    *arr = p;
    *cap = c;
    return MS_OK;
}

static void drop_app_at(ms_runtime *rt, int i)
{
    free_app(rt->apps[i]);
    memmove(rt->apps + i, rt->apps + i + 1, sizeof *rt->apps * (size_t)(rt->n_apps - i - 1));
    rt->n_apps--;
}

/* The plans after a change: made now when the executor could run a chunk with the old
 * ones; a failure is the change's refusal. */
static ms_status replan_now(ms_runtime *rt, ms_error *err)
{
    rt->dirty = true;
    return replan(rt, err);
}

static ms_status apply_add_app(ms_runtime *rt, cmd *c, ms_error *err)
{
    rt_app *a = c->app;
    rt_stream *s = find_stream_id(rt, a->desc.stream);
    if (!s) return ms_errorf(err, MS_ERR_INVALID, "%s.stream: no stream with id %d", c->where, a->desc.stream);
    if (name_used(rt, a->desc.name, true))
        return ms_errorf(err, MS_ERR_INVALID, "%s.name: an app named '%s' exists already", c->where, a->desc.name);
    if (check_pinned_rate(c->where, &a->desc, s, known_rate(s), err)) return err->status; /* opened meanwhile */
    if (rt->resize >= 0 && a->pkg.resize != (ms_resize_mode)rt->resize)
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s.package: %s was trained on pictures fitted by %s, but frames are fitted by %s (%s)",
                         c->where, a->desc.package, ms_resize_mode_name(a->pkg.resize),
                         ms_resize_mode_name((ms_resize_mode)rt->resize), rt->resize_from);
    if (grow((void **)&rt->apps, &rt->cap_apps, rt->n_apps, sizeof *rt->apps))
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", c->where);
    a->id = rt->next_id++;
    a->stream = s;
    ms_detector_init(&a->det, a->desc.threshold, a->desc.x_vote);
    a->chokepoint = -1;
    rt->apps[rt->n_apps++] = a;
    if (rt->running) {
        ms_status st = replan_now(rt, err);
        if (st) { /* refused: the old plans are still installed */
            rt->n_apps--;
            forget_app(rt, a->id);
            return st;
        }
    } else {
        rt->dirty = true;
    }
    if (rt->resize < 0) {
        rt->resize = a->pkg.resize;
        snprintf(rt->resize_from, sizeof rt->resize_from, "%s", c->where);
        start_decoders(rt);
    }
    c->id = a->id;
    c->app = NULL; /* the runtime's now */
    return MS_OK;
}

static ms_status apply_add_stream(ms_runtime *rt, cmd *c, ms_error *err)
{
    rt_stream *s = c->stream;
    if (rt->ended) return ms_errorf(err, MS_ERR_INVALID, "%s: the runtime has ended", c->where);
    if (name_used(rt, s->desc.name, false))
        return ms_errorf(err, MS_ERR_INVALID, "%s.name: a stream named '%s' exists already", c->where, s->desc.name);
    if (grow((void **)&rt->streams, &rt->cap_streams, rt->n_streams, sizeof *rt->streams))
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", c->where);
    s->id = rt->next_id++;
    rt->streams[rt->n_streams++] = s;
    c->id = s->id;
    c->stream = NULL;
    start_decoders(rt);
    return MS_OK;
}

static ms_status apply_remove_app(ms_runtime *rt, int id, ms_error *err)
{
    for (int i = 0; i < rt->n_apps; i++) {
        if (rt->apps[i]->id != id) continue;
        rt_app *a = rt->apps[i];
        finish_app(rt, a);
        drop_app_at(rt, i);
        /* its branch goes with the stream's next plan; the unchanged apps keep their nodes */
        ms_error perr = {0};
        if (rt->running && replan_now(rt, &perr))
            ms_warn("%s: after removing app %d: %s", log_name(rt), id, perr.msg);
        forget_app(rt, id);
        return MS_OK;
    }
    return ms_errorf(err, MS_ERR_INVALID, "%s: no app with id %d", rt->where, id);
}

static ms_status apply_remove_stream(ms_runtime *rt, int id, ms_error *err)
{
    for (int i = 0; i < rt->n_streams; i++) {
        rt_stream *s = rt->streams[i];
        if (s->id != id) continue;
        for (int k = 0; k < rt->n_apps; k++)
            if (rt->apps[k]->stream == s) finish_app(rt, rt->apps[k]);
        for (int k = rt->n_apps - 1; k >= 0; k--)
            if (rt->apps[k]->stream == s) drop_app_at(rt, k);
        free_stream(rt, s);
        memmove(rt->streams + i, rt->streams + i + 1, sizeof *rt->streams * (size_t)(rt->n_streams - i - 1));
        rt->n_streams--;
        ms_error perr = {0};
        if (rt->running && replan_now(rt, &perr))
            ms_warn("%s: after removing stream %d: %s", log_name(rt), id, perr.msg);
        return MS_OK;
    }
    return ms_errorf(err, MS_ERR_INVALID, "%s: no stream with id %d", rt->where, id);
}

static ms_status apply_settings(ms_runtime *rt, double budget, ms_policy policy, ms_objective objective, ms_error *err)
{
    double ob = rt->budget;
    ms_policy op = rt->policy;
    ms_objective oo = rt->objective;
    rt->budget = budget;
    rt->policy = policy;
    rt->objective = objective;
    if (!rt->running) {
        rt->dirty = true;
        return MS_OK;
    }
    ms_status st = replan_now(rt, err);
    if (st) {
        rt->budget = ob;
        rt->policy = op;
        rt->objective = oo;
        rt->dirty = false;
        return ms_error_prefix(err, "refused");
    }
    return MS_OK;
}

static void apply(ms_runtime *rt, cmd *c)
{
    ms_error *err = c->err;
    switch (c->kind) {
    case CMD_ADD_STREAM: c->status = apply_add_stream(rt, c, err); break;
    case CMD_ADD_APP: c->status = apply_add_app(rt, c, err); break;
    case CMD_REMOVE_APP: c->status = apply_remove_app(rt, c->id, err); break;
    case CMD_REMOVE_STREAM: c->status = apply_remove_stream(rt, c->id, err); break;
    case CMD_BUDGET: c->status = apply_settings(rt, c->budget, rt->policy, rt->objective, err); break;
    case CMD_POLICY: c->status = apply_settings(rt, rt->budget, c->policy, c->objective, err); break;
    case CMD_STATS: c->status = fill_stats(rt, c->out, err); break;
    case CMD_SCHEDULE: c->status = fill_schedule(rt, c->out, err); break;
    }
    c->done = true;
}

/* With mu held: applies every queued command and wakes their callers. */
static void drain(ms_runtime *rt)
{
    while (rt->head) {
        cmd *c = rt->head;
        rt->head = c->next;
        if (!rt->head) rt->tail = NULL;
        apply(rt, c);
    }
    atomic_store(&rt->pending, 0);
    pthread_cond_broadcast(&rt->done_cond);
}

static void apply_pending(ms_runtime *rt)
{
    if (!atomic_load_explicit(&rt->pending, memory_order_acquire)) return;
    pthread_mutex_lock(&rt->mu);
    drain(rt);
    pthread_mutex_unlock(&rt->mu);
}

/* Applies c now when no executor runs, else queues it and waits until it is applied. */
static ms_status submit(ms_runtime *rt, cmd *c)
{
    pthread_mutex_lock(&rt->mu);
    if (rt->running && pthread_equal(pthread_self(), rt->executor)) {
        pthread_mutex_unlock(&rt->mu);
        return ms_errorf(c->err, MS_ERR_INVALID, "%s: runtime calls cannot be made from its callbacks", rt->where);
    }
    if (!rt->running) {
        apply(rt, c);
    } else {
        c->next = NULL;
        if (rt->tail) rt->tail->next = c;
        else rt->head = c;
        rt->tail = c;
        atomic_store_explicit(&rt->pending, 1, memory_order_release);
        ms_notifier_signal(&rt->notify);
        while (!c->done) pthread_cond_wait(&rt->done_cond, &rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    return c->status;
}

/* ---------------------------------------------------------------- public calls */

static ms_status add_stream_at(ms_runtime *rt, const ms_deploy_stream *d, const char *where, int *id, ms_error *err)
{
    if (!d->name || !d->name[0] || !d->url || !d->url[0])
        return ms_errorf(err, MS_ERR_INVALID, "%s: a stream needs a name and a url", where);
    rt_stream *s = calloc(1, sizeof *s);
    bool copied = false;
    int batch = rt->model.opts.batch;
    const ms_input_spec *spec = &rt->model.base->input_spec;
    size_t floats = (size_t)spec->height * (size_t)spec->width * (size_t)spec->channels;
    if (s) {
        s->desc = *d;
        s->desc.name = strdup(d->name);
        s->desc.url = strdup(d->url);
        copied = ms_video_options_copy(&d->options, &s->desc.options);
        s->chunk = calloc((size_t)batch, sizeof *s->chunk);
        s->correction = 1;
        s->last_frame = -1;
    }
    bool ok = s && s->desc.name && s->desc.url && copied && s->chunk;
    for (int i = 0; ok && i < batch; i++) ok = (s->chunk[i].pixels = malloc(floats * sizeof(float))) != NULL;
    if (!ok) {
        free_stream(rt, s);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    }
    cmd c = {.kind = CMD_ADD_STREAM, .stream = s, .where = where, .err = err};
    ms_status st = submit(rt, &c);
    if (st) free_stream(rt, c.stream);
    else if (id) *id = c.id;
    return st;
}

ms_status ms_runtime_add_stream(ms_runtime *rt, const ms_deploy_stream *s, int *id, ms_error *err)
{
    char where[300];
    snprintf(where, sizeof where, "stream '%s'", s->name ? s->name : "");
    return add_stream_at(rt, s, where, id, err);
}

static ms_status add_app_at(ms_runtime *rt, const ms_deploy_app *d, const char *where, int *id, ms_error *err)
{
    if (!d->name || !d->name[0] || !d->package || !d->package[0])
        return ms_errorf(err, MS_ERR_INVALID, "%s: an app needs a name and a package", where);
    if (d->x_vote < 1 || d->x_vote > MS_EVENT_MAX_X_VOTE || !(d->threshold >= 0 && d->threshold <= 1))
        return ms_errorf(err, MS_ERR_INVALID, "%s: x_vote must be in [1, %d] and threshold in [0, 1]", where,
                         MS_EVENT_MAX_X_VOTE);
    /* early refusals, so that a bad package is not read at all */
    pthread_mutex_lock(&rt->mu);
    bool dup = name_used(rt, d->name, true);
    rt_stream *on = find_stream_id(rt, d->stream);
    ms_status st = MS_OK;
    if (dup) st = ms_errorf(err, MS_ERR_INVALID, "%s.name: an app named '%s' exists already", where, d->name);
    else if (!on) st = ms_errorf(err, MS_ERR_INVALID, "%s.stream: no stream with id %d", where, d->stream);
    else if (!(d->fps >= 0 && d->fps <= MS_DEPLOY_MAX_FPS))
        st = ms_errorf(err, MS_ERR_INVALID, "%s.fps: must be in (0, %g], or 0 for the scheduler's choice, got %g", where,
                       MS_DEPLOY_MAX_FPS, d->fps);
    else st = check_pinned_rate(where, d, on, known_rate(on), err);
    pthread_mutex_unlock(&rt->mu);
    if (st) return st;
    rt_app *a = calloc(1, sizeof *a);
    if (!a) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    a->desc = *d;
    a->desc.name = strdup(d->name);
    a->desc.package = strdup(d->package);
    a->where = strdup(where);
    if (!a->desc.name || !a->desc.package || !a->where) {
        free_app(a);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    }
    /* the package is read and checked here, on the caller's thread: the base model is
     * read-only once the runtime is open */
    st = ms_run_app_load(a->desc.package, rt->model.base, where, &a->pkg, err);
    if (st == MS_OK) st = ms_stream_plan_check_app(&rt->model, &a->desc, &a->pkg, where, err);
    if (st) {
        free_app(a);
        return st;
    }
    cmd c = {.kind = CMD_ADD_APP, .app = a, .where = where, .err = err};
    st = submit(rt, &c);
    if (st) free_app(c.app);
    else if (id) *id = c.id;
    return st;
}

ms_status ms_runtime_add_app(ms_runtime *rt, const ms_deploy_app *a, int *id, ms_error *err)
{
    char where[300];
    snprintf(where, sizeof where, "app '%s'", a->name ? a->name : "");
    return add_app_at(rt, a, where, id, err);
}

ms_status ms_runtime_remove_app(ms_runtime *rt, int id, ms_error *err)
{
    cmd c = {.kind = CMD_REMOVE_APP, .id = id, .err = err};
    return submit(rt, &c);
}

ms_status ms_runtime_remove_stream(ms_runtime *rt, int id, ms_error *err)
{
    cmd c = {.kind = CMD_REMOVE_STREAM, .id = id, .err = err};
    return submit(rt, &c);
}

ms_status ms_runtime_add_deployment(ms_runtime *rt, const ms_deployment *d, ms_error *err)
{
    int *ids = calloc((size_t)d->n_streams + 1, sizeof *ids);
    if (!ids) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", d->path);
    ms_status st = MS_OK;
    char where[600];
    for (int i = 0; i < d->n_streams && st == MS_OK; i++) {
        snprintf(where, sizeof where, "%s: streams[%d]", d->path, i);
        st = add_stream_at(rt, &d->streams[i], where, &ids[i], err);
    }
    for (int i = 0; i < d->n_apps && st == MS_OK; i++) {
        snprintf(where, sizeof where, "%s: apps[%d]", d->path, i);
        ms_deploy_app a = d->apps[i];
        a.stream = ids[d->apps[i].stream];
        st = add_app_at(rt, &a, where, NULL, err);
    }
    free(ids);
    return st;
}

ms_status ms_runtime_set_budget(ms_runtime *rt, double budget, ms_error *err)
{
    if (!(budget > 0) || !isfinite(budget))
        return ms_errorf(err, MS_ERR_INVALID, "%s: budget: must be a positive number of ms per second, got %g",
                         rt->where, budget);
    cmd c = {.kind = CMD_BUDGET, .budget = budget, .err = err};
    return submit(rt, &c);
}

ms_status ms_runtime_set_policy(ms_runtime *rt, ms_policy policy, ms_objective objective, ms_error *err)
{
    if ((int)policy < 0 || policy > MS_POLICY_NOSHARING || (int)objective < 0 || objective > MS_OBJ_MEAN_FPR)
        return ms_errorf(err, MS_ERR_INVALID, "%s: unknown policy or objective", rt->where);
    cmd c = {.kind = CMD_POLICY, .policy = policy, .objective = objective, .err = err};
    return submit(rt, &c);
}

ms_status ms_runtime_stats_get(ms_runtime *rt, ms_runtime_stats *out, ms_error *err)
{
    cmd c = {.kind = CMD_STATS, .out = out, .err = err};
    return submit(rt, &c);
}

ms_status ms_runtime_schedule_get(ms_runtime *rt, ms_runtime_schedule *out, ms_error *err)
{
    cmd c = {.kind = CMD_SCHEDULE, .out = out, .err = err};
    return submit(rt, &c);
}

/* ---------------------------------------------------------------- the executor */

static bool stop_asked(ms_runtime *rt)
{
    return atomic_load(&rt->stop_flag) || (rt->o.stop && *rt->o.stop);
}

static bool any_planned(ms_runtime *rt)
{
    for (int i = 0; i < rt->n_streams; i++)
        if (rt->streams[i]->has_plan) return true;
    return false;
}

static bool any_open(ms_runtime *rt)
{
    for (int i = 0; i < rt->n_streams; i++)
        if (!rt->streams[i]->closed) return true;
    return false;
}

/* Offline: the streams take turns, one chunk each in order of addition, so the outputs'
 * interleaving is as deterministic as their contents. Returns once the stream ran a
 * chunk, closed or went away. */
static void offline_turn(ms_runtime *rt, int id)
{
    for (;;) {
        apply_pending(rt);
        rt_stream *s = find_stream_id(rt, id);
        if (!s || s->closed || !s->stream || stop_asked(rt)) return;
        uint64_t seq = ms_notifier_seq(&rt->notify);
        if (step_stream(rt, s) & STEP_RAN) return;
        if (!s->closed) ms_notifier_wait(&rt->notify, seq, IDLE_WAIT_S);
    }
}

/* The timers that are due: a progress report, the live cost checks. */
static void run_timers(ms_runtime *rt)
{
    double now = ms_now();
    if (ms_timers_due(&rt->timers, rt->report_timer, now)) report(rt, false);
    if (ms_timers_due(&rt->timers, rt->cost_timer, now))
        for (int i = 0; i < rt->n_streams; i++)
            if (!rt->streams[i]->closed) check_cost(rt, rt->streams[i]);
}

static void loop(ms_runtime *rt)
{
    double now = ms_now();
    rt->timers.n = 0;
    rt->report_timer = ms_timers_add(&rt->timers, rt->o.report_every_s > 0 ? rt->o.report_every_s : 0, now);
    rt->cost_timer = ms_timers_add(&rt->timers, rt->o.live ? rt->o.replan_check_s : 0, now);
    int *ids = NULL, cap = 0;
    for (;;) {
        apply_pending(rt);
        if (rt->dirty && any_planned(rt)) { /* first plans are made at each stream's first chunk */
            ms_error err = {0};
            if (replan(rt, &err)) ms_warn("%s: %s", log_name(rt), err.msg);
            rt->dirty = false;
        }
        uint64_t seq = ms_notifier_seq(&rt->notify);
        bool busy = false;
        if (cap < rt->n_streams) {
            int *grown = realloc(ids, sizeof *ids * (size_t)rt->n_streams);
            if (grown) {
                ids = grown;
                cap = rt->n_streams;
            }
        }
        int n = rt->n_streams < cap ? rt->n_streams : cap;
        for (int i = 0; i < n; i++) ids[i] = rt->streams[i]->id;
        for (int i = 0; i < n; i++) {
            rt_stream *s = find_stream_id(rt, ids[i]);
            if (!s || s->closed || !s->stream) continue;
            if (rt->o.live) busy |= step_stream(rt, s) != 0;
            else {
                offline_turn(rt, ids[i]);
                busy = true;
            }
        }
        if (stop_asked(rt) || (rt->o.until_streams_end && !any_open(rt))) break;
        run_timers(rt);
        if (!busy) ms_notifier_wait(&rt->notify, seq, ms_timers_wait(&rt->timers, ms_now(), IDLE_WAIT_S));
    }
    free(ids);
}

static ms_status begin(ms_runtime *rt, ms_error *err)
{
    pthread_mutex_lock(&rt->mu);
    ms_status st = MS_OK;
    if (rt->running || rt->ended)
        st = ms_errorf(err, MS_ERR_INVALID, "%s: the runtime is %s", rt->where, rt->ended ? "ended" : "running already");
    if (st == MS_OK && !rt->outputs_open) {
        st = ms_jsonl_open(&rt->events, rt->events_path, err);
        if (st == MS_OK && (st = ms_jsonl_open(&rt->scores, rt->scores_path, err))) ms_jsonl_close(&rt->events, NULL);
        rt->outputs_open = st == MS_OK;
    }
    if (st == MS_OK) {
        if (!rt->started) rt->start = ms_now();
        rt->started = true;
        rt->running = true;
        rt->executor = pthread_self();
        start_decoders(rt);
    }
    pthread_mutex_unlock(&rt->mu);
    return st;
}

static void end(ms_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    drain(rt);
    rt->running = false;
    pthread_mutex_unlock(&rt->mu);
}

ms_status ms_runtime_run(ms_runtime *rt, ms_error *err)
{
    if (begin(rt, err)) return err->status;
    loop(rt);
    end(rt);
    return MS_OK;
}

static void *executor_main(void *arg)
{
    ms_runtime *rt = arg;
    loop(rt);
    end(rt);
    return NULL;
}

ms_status ms_runtime_start(ms_runtime *rt, ms_error *err)
{
    if (rt->thread_started) return ms_errorf(err, MS_ERR_INVALID, "%s: the runtime was started already", rt->where);
    if (begin(rt, err)) return err->status;
    /* the executor is the new thread: pthread_self() above was the caller's */
    pthread_mutex_lock(&rt->mu);
    int rc = pthread_create(&rt->executor, NULL, executor_main, rt);
    if (rc == 0) rt->thread_started = true;
    else rt->running = false;
    pthread_mutex_unlock(&rt->mu);
    if (rc != 0) return ms_errorf(err, MS_ERR_IO, "%s: cannot start the executor thread", rt->where);
    return MS_OK;
}

void ms_runtime_stop(ms_runtime *rt)
{
    atomic_store(&rt->stop_flag, 1);
    ms_notifier_signal(&rt->notify);
}

void ms_runtime_wait(ms_runtime *rt)
{
    if (!rt->thread_started) return;
    pthread_join(rt->executor, NULL);
    rt->thread_started = false;
}

/* ---------------------------------------------------------------- open and close */

void ms_runtime_options_from_deployment(const ms_deployment *d, ms_runtime_options *o)
{
    memset(o, 0, sizeof *o);
    o->models = (const char *const *)d->models;
    o->n_models = d->n_models;
    o->backend = d->backend;
    o->precision = d->precision;
    o->threads = d->threads;
    o->batch = d->batch;
    o->profile = d->profile;
    o->resize = d->resize;
    o->budget = d->budget;
    o->policy = d->policy;
    o->objective = d->objective;
    o->where = d->path;
}

static char *dup_opt(const char *s, bool *ok)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *ok = false;
    return d;
}

ms_status ms_runtime_open(const ms_runtime_options *o, ms_runtime **out, ms_error *err)
{
    *out = NULL;
    ms_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return ms_errorf(err, MS_ERR_NOMEM, "runtime: out of memory");
    bool ok = true;
    rt->o = *o;
    rt->where = dup_opt(o->where ? o->where : "runtime", &ok);
    rt->log_name = dup_opt(o->log_name ? o->log_name : "run", &ok);
    rt->events_path = dup_opt(o->events_path, &ok);
    rt->scores_path = dup_opt(o->scores_path, &ok);
    rt->stats_path = dup_opt(o->stats_path, &ok);
    rt->o.models = NULL;
    rt->o.backend = rt->o.profile = rt->o.where = rt->o.log_name = NULL;
    rt->o.events_path = rt->o.scores_path = rt->o.stats_path = NULL;
    if (!(rt->o.replan_check_s > 0)) rt->o.replan_check_s = 2;
    rt->budget = o->budget > 0 ? o->budget : MS_AUTO_BUDGET;
    rt->policy = o->policy;
    rt->objective = o->objective;
    rt->resize = o->resize;
    snprintf(rt->resize_from, sizeof rt->resize_from, "%s", "the runtime's resize");
    rt->next_id = 1;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->done_cond, NULL);
    ms_notifier_init(&rt->notify);
    if (!ok) {
        ms_runtime_close(rt, NULL);
        return ms_errorf(err, MS_ERR_NOMEM, "runtime: out of memory");
    }
    ms_status st = MS_OK;
    if (o->threads < 1 || o->batch < 1 || o->n_models < 1 || !o->backend)
        st = ms_errorf(err, MS_ERR_INVALID, "%s: a runtime needs a model, a backend, threads >= 1 and batch >= 1",
                       rt->where);
    ms_run_model_config mc = {.models = o->models, .n_models = o->n_models, .backend = o->backend,
                              .precision = o->precision, .threads = o->threads, .batch = o->batch,
                              .profile = o->profile, .where = rt->where};
    if (st == MS_OK) st = ms_run_model_load_base(&mc, &rt->model, err);
    if (st) {
        ms_runtime_close(rt, NULL);
        return st;
    }
    *out = rt;
    return MS_OK;
}

void ms_runtime_end(ms_runtime *rt)
{
    if (rt->ended) return;
    ms_runtime_stop(rt);
    ms_runtime_wait(rt);
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < rt->n_streams; i++) close_stream(rt, rt->streams[i]);
    if (rt->started) report(rt, true);
    rt->ended = true;
    pthread_mutex_unlock(&rt->mu);
}

ms_status ms_runtime_close(ms_runtime *rt, ms_error *err)
{
    if (!rt) return MS_OK;
    ms_runtime_end(rt);
    for (int i = 0; i < rt->n_streams; i++) free_stream(rt, rt->streams[i]);
    for (int i = 0; i < rt->n_apps; i++) free_app(rt->apps[i]);
    free(rt->streams);
    free(rt->apps);
    ms_status st = MS_OK;
    if (rt->outputs_open) {
        ms_error werr = {0};
        if (ms_jsonl_close(&rt->events, &werr) && st == MS_OK) st = ms_errorf(err, werr.status, "%s", werr.msg);
        if (ms_jsonl_close(&rt->scores, &werr) && st == MS_OK) st = ms_errorf(err, werr.status, "%s", werr.msg);
    }
    if (rt->model.base) ms_run_model_free(&rt->model);
    ms_notifier_destroy(&rt->notify);
    pthread_cond_destroy(&rt->done_cond);
    pthread_mutex_destroy(&rt->mu);
    free(rt->where);
    free(rt->log_name);
    free(rt->events_path);
    free(rt->scores_path);
    free(rt->stats_path);
    free(rt);
    return st;
}
