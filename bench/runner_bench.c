/* Times the runner's stem-tree executor for bench/run_runner.sh: N apps on one stream
 * under the plans of three policies (mainstream, maxsharing, nosharing), every app on
 * every frame, on frames decoded from a real video. Prints
 *   plan <apps> <policy> <chokepoint of each app, comma-separated>
 *   ours <apps> <policy> <frames per second> <median ms per frame> <fastest pass's ms per frame>
 * and writes the frames the peer must use to OUT/frames.f32 (float32, HWC, frame after
 * frame) with OUT/frames.txt (count height width channels).
 *
 * The plans come from the scheduler on a scenario of synthetic apps (accuracy rising with
 * the chokepoint at an app-specific pace, 2 s events, 10% of the time, a 10 fps stream,
 * unit costs measured here) within a budget of --budget times the cost of one app's full
 * network on every frame (default 0.4: sharing is what lets more apps in); the branches
 * are the apps' networks built from the base (their weights do not change the time).
 *
 * usage: bench_runner [--backend cpu] [--threads T] [--runs R] [--frames F] [--budget B]
 *                     [--apps 1,2,4,8,16] --video FILE --out DIR MODEL[+MODEL] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "formats/model.h"
#include "media/video.h"
#include "run/app.h"
#include "run/exec.h"
#include "cost/profile.h"
#include "sched/schedule.h"

#define STREAM_FPS 10.0
#define MAX_APPS 64

typedef struct {
    const char *backend, *video, *out, *model;
    int threads, runs, frames;
    double budget; /* in full networks at the stream's rate */
    int apps[8], n_apps;
} bench_args;

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A scenario of n synthetic apps over the measured units. */
static int make_scenario(int n, double budget, const double *units, int n_units, ms_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->stream_fps = STREAM_FPS;
    double full = 0;
    for (int u = 0; u < n_units; u++) full += units[u];
    s->budget = budget * full * STREAM_FPS;
    s->n_units = n_units;
    s->unit_costs = malloc(sizeof *s->unit_costs * (size_t)n_units);
    s->n_fps = (int)STREAM_FPS;
    s->fps_options = malloc(sizeof *s->fps_options * (size_t)s->n_fps);
    s->apps = calloc((size_t)n, sizeof *s->apps);
    if (!s->unit_costs || !s->fps_options || !s->apps) return -1;
    memcpy(s->unit_costs, units, sizeof *units * (size_t)n_units);
    for (int i = 0; i < s->n_fps; i++) s->fps_options[i] = i + 1;
    for (int a = 0; a < n; a++) {
        ms_app *app = &s->apps[a];
        s->n_apps++;
        char name[16];
        snprintf(name, sizeof name, "app%d", a);
        app->name = strdup(name);
        app->curve = calloc((size_t)n_units, sizeof *app->curve);
        if (!app->name || !app->curve) return -1;
        app->weight = 1;
        app->event = (ms_event_params){.event_length_ms = 2000, .event_frequency = 0.1, .correlation = 0.3};
        double pace = 0.5 + (a % 4) * 0.75; /* how fast accuracy falls as more is frozen */
        for (int c = 0; c < n_units; c++) {
            double x = (double)c / (n_units - 1);
            app->curve[app->n_points++] = (ms_scenario_point){c, 0.95 - 0.35 * pow(x, 1.0 / pace), 0.05 + 0.1 * x};
        }
    }
    return 0;
}

/* The executor tree of a schedule with every app at the stream's rate. */
static ms_status build_tree(const ms_graph *base, const ms_chokepoint *cps, const ms_scenario *s, ms_schedule *sch,
                            const ms_backend *b, const ms_plan_options *o, ms_exec_tree *t, ms_error *err)
{
    for (int a = 0; a < sch->n_apps; a++) sch->apps[a].fps = STREAM_FPS;
    ms_stem_tree tree;
    if (ms_stem_tree_build(s, sch, &tree, err)) return err->status;
    const ms_input_spec *spec = &base->input_spec;
    ms_exec_init(t, b, o, STREAM_FPS, (int64_t)spec->height * spec->width * spec->channels);
    ms_status st = MS_OK;
    int index, parent = -1;
    ms_graph *g = NULL;
    for (int i = 0; i < tree.n_root_branches && st == MS_OK; i++) {
        st = ms_run_branch_template(base, 0, &g, err);
        if (st == MS_OK) st = ms_exec_add(t, MS_EXEC_BRANCH, -1, 0, -1, tree.root_branches[i], STREAM_FPS, 0, g, &index, err);
        ms_graph_free(g);
    }
    for (int k = 0; k < tree.n_segments && st == MS_OK; k++) {
        const ms_stem_segment *seg = &tree.segments[k];
        st = ms_graph_segment(base, cps[seg->from].node_end, cps[seg->to].node_end, &g, err);
        if (st == MS_OK) st = ms_exec_add(t, MS_EXEC_SEGMENT, parent, seg->from, seg->to, -1, STREAM_FPS, 0, g, &parent, err);
        ms_graph_free(g);
        for (int i = 0; i < seg->n_branches && st == MS_OK; i++) {
            st = ms_run_branch_template(base, seg->to, &g, err);
            if (st == MS_OK)
                st = ms_exec_add(t, MS_EXEC_BRANCH, parent, seg->to, -1, seg->branches[i], STREAM_FPS, 0, g, &index, err);
            ms_graph_free(g);
        }
    }
    ms_stem_tree_free(&tree);
    return st;
}

static void ignore_score(void *ctx, int app, int64_t frame, double seconds, float score)
{
    (void)ctx, (void)app, (void)frame, (void)seconds, (void)score;
}

/* Median and fastest ms per frame over `runs` passes over every frame. */
static ms_status time_tree(ms_exec_tree *t, ms_frame *frames, int n, int runs, double *median, double *fastest,
                           ms_error *err)
{
    double *ms = malloc(sizeof *ms * (size_t)runs);
    if (!ms) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    ms_status st = ms_exec_run(t, frames, 1, ignore_score, NULL, err); /* warm-up */
    for (int r = 0; r < runs && st == MS_OK; r++) {
        for (int i = 0; i < t->n_nodes; i++) ms_sampler_init(&t->nodes[i].sampler, t->nodes[i].rate, STREAM_FPS);
        double start = ms_now();
        for (int i = 0; i < n && st == MS_OK; i++) st = ms_exec_run(t, &frames[i], 1, ignore_score, NULL, err);
        ms[r] = (ms_now() - start) * 1000.0 / n;
    }
    if (st == MS_OK) {
        qsort(ms, (size_t)runs, sizeof *ms, compare_doubles);
        *median = ms[runs / 2];
        *fastest = ms[0];
    }
    free(ms);
    return st;
}

/* Decodes the first n frames of the video into model inputs and writes them for the peer. */
static ms_status load_frames(const bench_args *a, const ms_input_spec *spec, ms_frame *frames, ms_error *err)
{
    ms_video *v;
    if (ms_video_open(a->video, &v, err)) return err->status;
    size_t floats = (size_t)spec->height * spec->width * spec->channels;
    char path[4096];
    snprintf(path, sizeof path, "%s/frames.f32", a->out);
    FILE *f = fopen(path, "wb");
    ms_status st = f ? MS_OK : ms_errorf(err, MS_ERR_IO, "%s: cannot write", path);
    for (int i = 0; i < a->frames && st == MS_OK; i++) {
        bool end;
        frames[i].pixels = malloc(floats * sizeof(float));
        if (!frames[i].pixels) st = ms_errorf(err, MS_ERR_NOMEM, "out of memory");
        if (st == MS_OK)
            st = ms_video_next(v, spec, MS_RESIZE_STRETCH, frames[i].pixels, &frames[i].index, &frames[i].seconds, &end, err);
        if (st == MS_OK && end) st = ms_errorf(err, MS_ERR_INVALID, "%s: fewer than %d frames", a->video, a->frames);
        if (st == MS_OK && fwrite(frames[i].pixels, sizeof(float), floats, f) != floats)
            st = ms_errorf(err, MS_ERR_IO, "%s: write failed", path);
    }
    if (f && fclose(f) && st == MS_OK) st = ms_errorf(err, MS_ERR_IO, "%s: write failed", path);
    ms_video_close(v);
    snprintf(path, sizeof path, "%s/frames.txt", a->out);
    f = st == MS_OK ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%d %d %d %d\n", a->frames, spec->height, spec->width, spec->channels);
        fclose(f);
    }
    return st;
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.backend = "cpu", .threads = 1, .runs = 5, .frames = 20, .budget = 0.4,
                      .apps = {1, 2, 4, 8, 16}, .n_apps = 5};
    for (int i = 1; i < argc; i++) {
        bool v = i + 1 < argc;
        if (!strcmp(argv[i], "--backend") && v) a->backend = argv[++i];
        else if (!strcmp(argv[i], "--threads") && v) a->threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && v) a->runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && v) a->frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--budget") && v) a->budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--video") && v) a->video = argv[++i];
        else if (!strcmp(argv[i], "--out") && v) a->out = argv[++i];
        else if (!strcmp(argv[i], "--apps") && v) {
            a->n_apps = 0;
            for (char *s = strtok(argv[++i], ","); s && a->n_apps < 8; s = strtok(NULL, ",")) a->apps[a->n_apps++] = atoi(s);
        } else if (argv[i][0] != '-' && !a->model) a->model = argv[i];
        else return -1;
    }
    if (!a->video || !a->out || !a->model || a->threads < 1 || a->runs < 1 || a->frames < 1 || !(a->budget > 0))
        return -1;
    for (int i = 0; i < a->n_apps; i++)
        if (a->apps[i] < 1 || a->apps[i] > MAX_APPS) return -1;
    return 0;
}

static int bench_policies(const bench_args *a, const ms_graph *base, const ms_chokepoint *cps, int n_cps,
                          const double *units, ms_frame *frames, const ms_backend *b, const ms_plan_options *o)
{
    static const ms_policy policies[] = {MS_POLICY_MAINSTREAM, MS_POLICY_MAXSHARING, MS_POLICY_NOSHARING};
    ms_error err;
    for (int k = 0; k < a->n_apps; k++) {
        ms_scenario s;
        if (make_scenario(a->apps[k], a->budget, units, n_cps, &s)) {
            ms_scenario_free(&s);
            fprintf(stderr, "bench_runner: out of memory\n");
            return 1;
        }
        for (int p = 0; p < 3; p++) {
            ms_sched_config cfg = {.policy = policies[p], .objective = MS_OBJ_MEAN_F1, .time_limit_s = 30};
            ms_schedule sch;
            ms_exec_tree t = {0};
            double median = 0, fastest = 0;
            ms_status st = ms_schedule_solve(&s, &cfg, &sch, &err);
            if (st == MS_OK) {
                printf("plan %d %s ", a->apps[k], ms_policy_name(policies[p]));
                for (int i = 0; i < sch.n_apps; i++) printf("%s%d", i ? "," : "", sch.apps[i].chokepoint);
                printf("\n");
                st = build_tree(base, cps, &s, &sch, b, o, &t, &err);
            }
            if (st == MS_OK) st = time_tree(&t, frames, a->frames, a->runs, &median, &fastest, &err);
            if (st == MS_OK)
                printf("ours %d %s %.2f %.3f %.3f\n", a->apps[k], ms_policy_name(policies[p]), 1000.0 / median, median,
                       fastest);
            fflush(stdout);
            ms_exec_free(&t);
            ms_schedule_free(&sch);
            if (st) {
                fprintf(stderr, "bench_runner: %s\n", err.msg);
                ms_scenario_free(&s);
                return 1;
            }
        }
        ms_scenario_free(&s);
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_args a;
    if (parse_args(argc, argv, &a)) {
        fprintf(stderr, "usage: bench_runner [--backend cpu] [--threads T] [--runs R] [--frames F] [--budget B]\n"
                        "                    [--apps 1,2,4,8,16] --video FILE --out DIR MODEL[+MODEL]\n");
        return 2;
    }
    const ms_backend *b = ms_backend_find(a.backend);
    if (!b) {
        fprintf(stderr, "bench_runner: unknown backend %s\n", a.backend);
        return 2;
    }
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", a.model);
    const char *files[4];
    int n_files = 0;
    for (char *f = strtok(spec, "+"); f && n_files < 4; f = strtok(NULL, "+")) files[n_files++] = f;
    ms_error err;
    ms_graph *base = NULL;
    ms_chokepoint *cps = NULL;
    ms_profile units = {0};
    int n_cps = 0, rc = 1;
    ms_plan_options o = {.batch = 1, .threads = a.threads, .precision = MS_PREC_FP32};
    ms_frame *frames = calloc((size_t)a.frames, sizeof *frames);
    if (!frames) return 1;
    if (ms_model_load(files, n_files, &base, &err) || ms_graph_chokepoints(base, &cps, &n_cps, &err) ||
        ms_profile_measure(base, b, &o, MS_PROFILE_TIMING_START, &units, &err) || load_frames(&a, &base->input_spec, frames, &err))
        fprintf(stderr, "bench_runner: %s\n", err.msg);
    else
        rc = bench_policies(&a, base, cps, n_cps, units.unit_ms, frames, b, &o);
    for (int i = 0; i < a.frames; i++) free(frames[i].pixels);
    free(frames);
    ms_profile_free(&units);
    free(cps);
    ms_graph_free(base);
    return rc;
}
