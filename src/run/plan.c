/* Scheduling a deployment's streams and compiling their stem trees (see plan.h). */
#include "run/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "formats/model.h"
#include "run/units.h"

#define PIN_ROUNDS 8
#define SEARCH_SECONDS 10.0

void ms_run_model_free(ms_run_model *m)
{
    for (int i = 0; i < m->n_apps; i++) ms_run_app_free(&m->apps[i]);
    free(m->apps);
    free(m->unit_costs);
    free(m->cps);
    ms_graph_free(m->base);
    memset(m, 0, sizeof *m);
}

static ms_status check_app(const ms_deployment *d, const ms_run_model *m, int i, ms_error *err)
{
    const ms_deploy_app *a = &d->apps[i];
    const ms_run_app *ra = &m->apps[i];
    if (a->chokepoint >= 0 && !ms_run_app_has(ra, a->chokepoint))
        return ms_errorf(err, MS_ERR_INVALID, "%s: apps[%d].chokepoint: %s was not trained at chokepoint %d", d->path,
                         i, a->package, a->chokepoint);
    for (int k = 0; k < ra->n_points; k++)
        if (ra->chokepoints[k] >= m->n_cps)
            return ms_errorf(err, MS_ERR_INVALID, "%s: apps[%d].package: chokepoint %d is beyond the model's %d", d->path,
                             i, ra->chokepoints[k], m->n_cps);
    bool given = a->event_length_ms > 0 && a->event_frequency > 0 && a->correlation >= 0;
    if (!ra->events_known && !given)
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: apps[%d]: %s has no event statistics; give event_length_ms, event_frequency and "
                         "correlation",
                         d->path, i, a->package);
    /* what the scheduler's event model needs, from the package or the deployment */
    double length = a->event_length_ms > 0 ? a->event_length_ms : ra->event_length_ms;
    double frequency = a->event_frequency > 0 ? a->event_frequency : ra->event_frequency;
    if (!(length > 0 && length <= MS_EVENT_MAX_LENGTH_MS) || !(frequency > 0 && frequency < 1))
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: apps[%d]: %s's events (%g ms long, frequency %g) cannot be scheduled; give "
                         "event_length_ms in (0, %g] and event_frequency in (0, 1)",
                         d->path, i, a->package, length, frequency, MS_EVENT_MAX_LENGTH_MS);
    return MS_OK;
}

/* Frames must be fitted to the input as the apps' training pictures were, or every app
 * sees pictures unlike those it learnt from: the deployment's "resize" when given, else
 * the packages' own, which must then agree. */
static ms_status choose_resize(const ms_deployment *d, ms_run_model *m, ms_error *err)
{
    m->resize = d->resize >= 0 ? (ms_resize_mode)d->resize : m->apps[0].resize;
    for (int i = 0; i < m->n_apps; i++)
        if (m->apps[i].resize != m->resize)
            return ms_errorf(err, MS_ERR_INVALID,
                             "%s: apps[%d].package: %s was trained on pictures fitted by %s, but frames are fitted by "
                             "%s (%s)",
                             d->path, i, d->apps[i].package, ms_resize_mode_name(m->apps[i].resize),
                             ms_resize_mode_name(m->resize), d->resize >= 0 ? "the deployment's resize" : "apps[0]");
    return MS_OK;
}

ms_status ms_run_model_load(const ms_deployment *d, ms_run_model *m, ms_error *err)
{
    memset(m, 0, sizeof *m);
    m->backend = ms_backend_find(d->backend);
    m->opts = (ms_plan_options){.batch = d->batch, .threads = d->threads, .precision = d->precision};
    ms_status st = ms_model_load((const char *const *)d->models, d->n_models, &m->base, err);
    if (st) return ms_error_prefix(err, "%s: model", d->path);
    if ((st = ms_graph_chokepoints(m->base, &m->cps, &m->n_cps, err))) goto fail;
    if (!(m->apps = calloc((size_t)d->n_apps, sizeof *m->apps))) {
        st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", d->path);
        goto fail;
    }
    for (int i = 0; i < d->n_apps; i++) {
        char where[300];
        snprintf(where, sizeof where, "%s: apps[%d]", d->path, i);
        if ((st = ms_run_app_load(d->apps[i].package, m->base, where, &m->apps[i], err))) goto fail;
        m->n_apps++;
        if ((st = check_app(d, m, i, err))) goto fail;
    }
    if ((st = choose_resize(d, m, err))) goto fail;
    if (d->profile) st = ms_units_load(d->profile, m->base, m->n_cps, &m->unit_costs, err);
    else st = ms_units_measure(m->base, m->cps, m->n_cps, m->backend, &m->opts, &m->unit_costs, err);
    if (st) goto fail;
    return MS_OK;
fail:
    ms_run_model_free(m);
    return st;
}

double ms_plan_budget_share(const ms_deployment *d, int stream)
{
    int mine = 0;
    for (int i = 0; i < d->n_apps; i++) mine += d->apps[i].stream == stream;
    double total = d->budget > 0 ? d->budget : MS_AUTO_BUDGET;
    return total * mine / d->n_apps;
}

void ms_stream_plan_free(ms_stream_plan *p)
{
    free(p->apps);
    ms_scenario_free(&p->scenario);
    ms_schedule_free(&p->schedule);
    ms_stem_tree_free(&p->tree);
    memset(p, 0, sizeof *p);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 1, 2, ... floor(S), S itself, and every pinned rate; increasing, no repeats. */
static ms_status fps_options(const ms_deployment *d, ms_stream_plan *p, ms_error *err)
{
    ms_scenario *s = &p->scenario;
    int n = (int)floor(p->stream_fps) + 1 + p->n_apps;
    s->fps_options = malloc(sizeof *s->fps_options * (size_t)n);
    if (!s->fps_options) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int f = 1; f <= (int)floor(p->stream_fps); f++) s->fps_options[k++] = f;
    s->fps_options[k++] = p->stream_fps;
    for (int i = 0; i < p->n_apps; i++)
        if (d->apps[p->apps[i]].fps > 0) s->fps_options[k++] = fmin(d->apps[p->apps[i]].fps, p->stream_fps);
    qsort(s->fps_options, (size_t)k, sizeof *s->fps_options, compare_doubles);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (u == 0 || s->fps_options[i] != s->fps_options[u - 1]) s->fps_options[u++] = s->fps_options[i];
    s->n_fps = u;
    return MS_OK;
}

static ms_status scenario_app(const ms_deploy_app *a, const ms_run_app *ra, ms_app *out, ms_error *err)
{
    out->name = strdup(a->name);
    out->curve = calloc((size_t)ra->n_points, sizeof *out->curve);
    if (!out->name || !out->curve) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    out->weight = 1;
    out->event.event_length_ms = a->event_length_ms > 0 ? a->event_length_ms : ra->event_length_ms;
    out->event.event_frequency = a->event_frequency > 0 ? a->event_frequency : ra->event_frequency;
    out->event.correlation = a->correlation >= 0 ? a->correlation : ra->correlation;
    out->event.x_vote = a->x_vote;
    for (int k = 0; k < ra->n_points; k++) {
        if (a->chokepoint >= 0 && ra->chokepoints[k] != a->chokepoint) continue;
        out->curve[out->n_points++] = (ms_scenario_point){ra->chokepoints[k], ra->tpr[k], ra->fpr[k]};
    }
    return MS_OK;
}

static ms_status build_scenario(const ms_deployment *d, const ms_run_model *m, ms_stream_plan *p, ms_error *err)
{
    ms_scenario *s = &p->scenario;
    s->stream_fps = p->stream_fps;
    s->budget = p->budget;
    s->n_units = m->n_cps;
    s->unit_costs = malloc(sizeof *s->unit_costs * (size_t)m->n_cps);
    s->apps = calloc((size_t)p->n_apps, sizeof *s->apps);
    if (!s->unit_costs || !s->apps) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    memcpy(s->unit_costs, m->unit_costs, sizeof *s->unit_costs * (size_t)m->n_cps);
    if (fps_options(d, p, err)) return err->status;
    for (int i = 0; i < p->n_apps; i++) {
        s->n_apps++;
        if (scenario_app(&d->apps[p->apps[i]], &m->apps[p->apps[i]], &s->apps[i], err)) return err->status;
    }
    char where[300];
    snprintf(where, sizeof where, "%s: stream '%s'", d->path, d->streams[p->stream].name);
    return ms_scenario_validate(s, where, err);
}

/* Solves, puts pinned rates in place, and re-solves the rest with what the pins leave
 * when they overrun the budget. */
static ms_status solve(const ms_deployment *d, ms_stream_plan *p, ms_error *err)
{
    ms_sched_config cfg = {.policy = d->policy, .objective = d->objective, .time_limit_s = SEARCH_SECONDS};
    double budget = p->budget;
    int n = p->n_apps;
    int *cps = malloc(sizeof *cps * (size_t)(n ? n : 1));
    double *fps = malloc(sizeof *fps * (size_t)(n ? n : 1));
    if (!cps || !fps) {
        free(cps);
        free(fps);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    ms_status st = MS_OK;
    for (int round = 0; round < PIN_ROUNDS; round++) {
        ms_schedule_free(&p->schedule);
        p->scenario.budget = budget;
        if ((st = ms_schedule_solve(&p->scenario, &cfg, &p->schedule, err))) break;
        if (!p->schedule.feasible) break;
        bool pinned = false;
        for (int i = 0; i < n; i++) {
            double pin = d->apps[p->apps[i]].fps;
            if (pin > 0) {
                ms_assignment *as = &p->schedule.apps[i];
                as->fps = fmin(pin, p->stream_fps);
                /* the prediction must be of the rate that will run, not the one replaced */
                if ((st = ms_app_metrics(&p->scenario.apps[i], p->stream_fps, as->chokepoint, as->fps, false, &as->m,
                                         err)))
                    break;
                pinned = true;
            }
            cps[i] = p->schedule.apps[i].chokepoint;
            fps[i] = p->schedule.apps[i].fps;
        }
        if (st) break;
        p->schedule.cost = ms_schedule_cost(&p->scenario, cps, fps, false);
        if (!pinned || p->schedule.cost <= p->budget * (1 + 1e-9)) break;
        budget -= p->schedule.cost - p->budget;
        if (budget <= 0) {
            p->schedule.feasible = false;
            break;
        }
    }
    p->scenario.budget = p->budget;
    free(cps);
    free(fps);
    if (st) return st;
    if (!p->schedule.feasible || p->schedule.cost > p->budget * (1 + 1e-9))
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: stream '%s': no schedule of its %d app(s) fits its budget of %.4g ms per second", d->path,
                         d->streams[p->stream].name, n, p->budget);
    return MS_OK;
}

ms_status ms_plan_stream(const ms_deployment *d, const ms_run_model *m, int stream, double stream_fps, double budget,
                         ms_stream_plan *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(stream_fps > 0 && stream_fps <= 1000)) /* a video's own rate comes from the file */
        return ms_errorf(err, MS_ERR_INVALID, "%s: stream '%s': %g fps is outside (0, 1000]", d->path,
                         d->streams[stream].name, stream_fps);
    out->stream = stream;
    out->stream_fps = stream_fps;
    out->budget = budget;
    out->apps = malloc(sizeof *out->apps * (size_t)d->n_apps);
    if (!out->apps) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < d->n_apps; i++)
        if (d->apps[i].stream == stream) out->apps[out->n_apps++] = i;
    ms_status st = out->n_apps ? build_scenario(d, m, out, err) : MS_OK;
    if (st == MS_OK && out->n_apps) st = solve(d, out, err);
    if (st == MS_OK && out->n_apps) st = ms_stem_tree_build(&out->scenario, &out->schedule, &out->tree, err);
    if (st) ms_stream_plan_free(out);
    return st;
}

static double units_ms(const ms_run_model *m, int from, int to)
{
    double ms = 0;
    for (int u = from; u < to; u++) ms += m->unit_costs[u];
    return ms;
}

static ms_status add_branch(const ms_deployment *d, const ms_run_model *m, const ms_stream_plan *p, ms_exec_tree *t,
                            int parent, int scenario_app, ms_error *err)
{
    int app = p->apps[scenario_app];
    int c = p->schedule.apps[scenario_app].chokepoint;
    ms_graph *g;
    if (ms_run_app_branch(&m->apps[app], m->base, c, &g, err))
        return ms_error_prefix(err, "%s: apps[%d]", d->path, app);
    int index;
    ms_status st = ms_exec_add(t, MS_EXEC_BRANCH, parent, c, -1, app, p->schedule.apps[scenario_app].fps,
                               units_ms(m, c, m->n_cps), g, &index, err);
    ms_graph_free(g);
    return st;
}

ms_status ms_plan_build_exec(const ms_deployment *d, const ms_run_model *m, const ms_stream_plan *p, ms_exec_tree *t,
                             ms_error *err)
{
    ms_exec_init(t, m->backend, &m->opts, p->stream_fps,
                 (int64_t)m->base->input_spec.height * m->base->input_spec.width * m->base->input_spec.channels);
    ms_status st = MS_OK;
    for (int i = 0; i < p->tree.n_root_branches && st == MS_OK; i++)
        st = add_branch(d, m, p, t, -1, p->tree.root_branches[i], err);
    int parent = -1;
    for (int s = 0; s < p->tree.n_segments && st == MS_OK; s++) {
        const ms_stem_segment *seg = &p->tree.segments[s];
        ms_graph *g = NULL;
        st = ms_graph_segment(m->base, m->cps[seg->from].node_end, m->cps[seg->to].node_end, &g, err);
        int index = -1;
        if (st == MS_OK)
            st = ms_exec_add(t, MS_EXEC_SEGMENT, parent, seg->from, seg->to, -1, seg->fps,
                             units_ms(m, seg->from, seg->to), g, &index, err);
        ms_graph_free(g);
        parent = index;
        for (int b = 0; b < seg->n_branches && st == MS_OK; b++) st = add_branch(d, m, p, t, parent, seg->branches[b], err);
    }
    if (st) ms_exec_free(t);
    return st;
}
