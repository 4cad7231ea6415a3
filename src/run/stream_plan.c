/* Scheduling a stream and compiling its stem tree (see stream_plan.h). */
#include "run/stream_plan.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "formats/model.h"

#define PIN_ROUNDS 8
#define SEARCH_SECONDS 10.0

void ms_run_model_free(ms_run_model *m)
{
    for (int i = 0; i < m->n_apps; i++) ms_run_app_free(&m->apps[i]);
    free(m->apps);
    ms_profile_free(&m->costs);
    free(m->cps);
    ms_graph_free(m->base);
    memset(m, 0, sizeof *m);
}

ms_status ms_stream_plan_check_app(const ms_run_model *m, const ms_deploy_app *a, const ms_run_app *ra, const char *where,
                            ms_error *err)
{
    if (a->chokepoint >= 0 && !ms_run_app_has(ra, a->chokepoint))
        return ms_errorf(err, MS_ERR_INVALID, "%s.chokepoint: %s was not trained at chokepoint %d", where, a->package,
                         a->chokepoint);
    for (int k = 0; k < ra->n_points; k++)
        if (ra->chokepoints[k] >= m->n_cps)
            return ms_errorf(err, MS_ERR_INVALID, "%s.package: chokepoint %d is beyond the model's %d", where,
                             ra->chokepoints[k], m->n_cps);
    bool given = a->event_length_ms > 0 && a->event_frequency > 0 && a->correlation >= 0;
    if (!ra->events_known && !given)
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: %s has no event statistics; give event_length_ms, event_frequency and correlation", where,
                         a->package);
    /* what the scheduler's event model needs, from the package or the deployment */
    double length = a->event_length_ms > 0 ? a->event_length_ms : ra->event_length_ms;
    double frequency = a->event_frequency > 0 ? a->event_frequency : ra->event_frequency;
    if (!(length > 0 && length <= MS_EVENT_MAX_LENGTH_MS) || !(frequency > 0 && frequency < 1))
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: %s's events (%g ms long, frequency %g) cannot be scheduled; give "
                         "event_length_ms in (0, %g] and event_frequency in (0, 1)",
                         where, a->package, length, frequency, MS_EVENT_MAX_LENGTH_MS);
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

/* The unit costs: the profile at `profile` (checked against the model), or measured now
 * on the model's backend and settings. A profile recorded on another backend, at another
 * precision, other threads or another batch than the plans run with is used, with a
 * warning: its costs are not the plans' (2 threads against 1 differ by a factor of 1.6
 * to 40 on the 2-core development machine, docs/runner.md, "Threads: why 1 by default"). */
static ms_status load_costs(ms_run_model *m, const char *profile, ms_error *err)
{
    if (!profile) return ms_profile_measure(m->base, m->backend, &m->opts, MS_PROFILE_TIMING_START, &m->costs, err);
    ms_status st = ms_profile_load_for(profile, m->base, m->n_cps, &m->costs, err);
    if (st) return st;
    const ms_profile *p = &m->costs;
    const ms_plan_options *o = &m->opts;
    bool other = (p->backend && strcmp(p->backend, m->backend->name)) ||
                 (p->precision >= 0 && p->precision != (int)o->precision) || (p->threads && p->threads != o->threads) ||
                 (p->batch && p->batch != o->batch);
    if (other)
        ms_warn("%s: measured on %s, %s, %d threads and batch %d, but the plans run on %s, %s, %d threads and batch %d: "
                "the schedule's costs are not theirs (profile again with --backend %s --precision %s --threads %d "
                "--batch %d)",
                profile, p->backend ? p->backend : "?", p->precision >= 0 ? ms_precision_name(p->precision) : "?",
                p->threads, p->batch, m->backend->name, ms_precision_name(o->precision), o->threads, o->batch,
                m->backend->name, ms_precision_name(o->precision), o->threads, o->batch);
    return MS_OK;
}

ms_status ms_run_model_load_base(const ms_run_model_config *c, ms_run_model *m, ms_error *err)
{
    memset(m, 0, sizeof *m);
    m->backend = ms_backend_find(c->backend);
    if (!m->backend) return ms_errorf(err, MS_ERR_INVALID, "%s: backend: unknown backend '%s'", c->where, c->backend);
    m->opts = (ms_plan_options){.batch = c->batch, .threads = c->threads, .precision = c->precision};
    ms_status st = ms_model_load(c->models, c->n_models, &m->base, err);
    if (st) return ms_error_prefix(err, "%s: model", c->where);
    if ((st = ms_graph_chokepoints(m->base, &m->cps, &m->n_cps, err))) goto fail;
    if ((st = load_costs(m, c->profile, err))) goto fail;
    return MS_OK;
fail:
    ms_run_model_free(m);
    return st;
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
        if ((st = ms_stream_plan_check_app(m, &d->apps[i], &m->apps[i], where, err))) goto fail;
    }
    if ((st = choose_resize(d, m, err))) goto fail;
    if ((st = load_costs(m, d->profile, err))) goto fail;
    return MS_OK;
fail:
    ms_run_model_free(m);
    return st;
}

void ms_stream_plan_free(ms_stream_plan *p)
{
    free(p->apps);
    free(p->entries);
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
static ms_status fps_options(ms_stream_plan *p, ms_error *err)
{
    ms_scenario *s = &p->scenario;
    int n = (int)floor(p->stream_fps) + 1 + p->n_apps;
    s->fps_options = malloc(sizeof *s->fps_options * (size_t)n);
    if (!s->fps_options) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int f = 1; f <= (int)floor(p->stream_fps); f++) s->fps_options[k++] = f;
    s->fps_options[k++] = p->stream_fps;
    for (int i = 0; i < p->n_apps; i++)
        if (p->entries[i].desc->fps > 0) s->fps_options[k++] = p->entries[i].desc->fps;
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

ms_status ms_stream_plan_scenario(const ms_run_model *m, ms_stream_plan *p, double correction, const char *where,
                                 ms_error *err)
{
    ms_scenario *s = &p->scenario;
    if (!(p->stream_fps > 0 && p->stream_fps <= 1000)) /* a video's own rate comes from the file */
        return ms_errorf(err, MS_ERR_INVALID, "%s: %g fps is outside (0, 1000]", where, p->stream_fps);
    for (int i = 0; i < p->n_apps; i++) /* a pin is never quietly lowered */
        if (p->entries[i].desc->fps > p->stream_fps)
            return ms_errorf(err, MS_ERR_INVALID, "%s: app '%s'.fps: %g is above the stream's %g fps", where,
                             p->entries[i].desc->name, p->entries[i].desc->fps, p->stream_fps);
    s->stream_fps = p->stream_fps;
    s->budget = p->budget;
    s->n_units = m->n_cps;
    assert(m->costs.n_units == m->n_cps);
    s->unit_costs = malloc(sizeof *s->unit_costs * (size_t)m->n_cps);
    s->apps = calloc((size_t)p->n_apps, sizeof *s->apps);
    if (!s->unit_costs || !s->apps) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    for (int u = 0; u < m->n_cps; u++) s->unit_costs[u] = m->costs.unit_ms[u] * correction;
    if (fps_options(p, err)) return err->status;
    for (int i = 0; i < p->n_apps; i++) {
        s->n_apps++;
        if (scenario_app(p->entries[i].desc, p->entries[i].pkg, &s->apps[i], err)) return err->status;
    }
    return ms_scenario_validate(s, where, err);
}

/* Puts pinned rates in place of the scheduler's (with the prediction of the rate that
 * will run) and sets the schedule's cost; returns whether any app is pinned. */
ms_status ms_stream_plan_pins(ms_stream_plan *p, bool *pinned, ms_error *err)
{
    int n = p->n_apps;
    int *cps = malloc(sizeof *cps * (size_t)(n ? n : 1));
    double *fps = malloc(sizeof *fps * (size_t)(n ? n : 1));
    ms_status st = cps && fps ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    *pinned = false;
    for (int i = 0; i < n && st == MS_OK; i++) {
        double pin = p->entries[i].desc->fps;
        ms_assignment *as = &p->schedule.apps[i];
        if (pin > 0) {
            as->fps = pin; /* at most the stream's rate (ms_stream_plan_scenario) */
            st = ms_app_metrics(&p->scenario.apps[i], p->stream_fps, as->chokepoint, as->fps, false, &as->m, err);
            *pinned = true;
        }
        cps[i] = as->chokepoint;
        fps[i] = as->fps;
    }
    if (st == MS_OK) p->schedule.cost = ms_schedule_cost(&p->scenario, cps, fps, false);
    free(cps);
    free(fps);
    return st;
}

/* Solves, puts pinned rates in place, and re-solves the rest with what the pins leave
 * when they overrun the budget. */
static ms_status solve(ms_stream_plan *p, ms_policy policy, ms_objective objective, const char *where, ms_error *err)
{
    ms_sched_config cfg = {.policy = policy, .objective = objective, .time_limit_s = SEARCH_SECONDS};
    double budget = p->budget;
    ms_status st = MS_OK;
    for (int round = 0; round < PIN_ROUNDS; round++) {
        ms_schedule_free(&p->schedule);
        p->scenario.budget = budget;
        if ((st = ms_schedule_solve(&p->scenario, &cfg, &p->schedule, err))) break;
        if (!p->schedule.feasible) break;
        bool pinned;
        if ((st = ms_stream_plan_pins(p, &pinned, err))) break;
        if (!pinned || p->schedule.cost <= p->budget * (1 + 1e-9)) break;
        budget -= p->schedule.cost - p->budget;
        if (budget <= 0) {
            p->schedule.feasible = false;
            break;
        }
    }
    p->scenario.budget = p->budget;
    if (st) return st;
    if (!p->schedule.feasible || p->schedule.cost > p->budget * (1 + 1e-9))
        return ms_errorf(err, MS_ERR_INVALID, "%s: no schedule of its %d app(s) fits its budget of %.4g ms per second",
                         where, p->n_apps, p->budget);
    return MS_OK;
}

ms_status ms_stream_plan_init(ms_stream_plan *out, const ms_stream_plan_app *apps, int n_apps, double stream_fps,
                              double budget, ms_error *err)
{
    memset(out, 0, sizeof *out);
    out->stream = -1;
    out->stream_fps = stream_fps;
    out->budget = budget;
    out->apps = malloc(sizeof *out->apps * (size_t)(n_apps ? n_apps : 1));
    out->entries = malloc(sizeof *out->entries * (size_t)(n_apps ? n_apps : 1));
    if (!out->apps || !out->entries) {
        ms_stream_plan_free(out);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_apps; i++) {
        out->apps[i] = apps[i].id;
        out->entries[i] = apps[i];
    }
    out->n_apps = n_apps;
    return MS_OK;
}

ms_status ms_stream_plan_solve(const ms_run_model *m, ms_policy policy, ms_objective objective, const ms_stream_plan_app *apps,
                              int n_apps, double stream_fps, double budget, const char *where, ms_stream_plan *out,
                              ms_error *err)
{
    ms_status st = ms_stream_plan_init(out, apps, n_apps, stream_fps, budget, err);
    if (st) return st;
    st = n_apps ? ms_stream_plan_scenario(m, out, 1, where, err) : MS_OK;
    if (st == MS_OK && n_apps) st = solve(out, policy, objective, where, err);
    if (st == MS_OK && n_apps) st = ms_stem_tree_build(&out->scenario, &out->schedule, &out->tree, err);
    if (st) ms_stream_plan_free(out);
    return st;
}

ms_status ms_stream_plan_deployment(const ms_deployment *d, const ms_run_model *m, int stream, double stream_fps, double budget,
                         ms_stream_plan *out, ms_error *err)
{
    ms_stream_plan_app *apps = malloc(sizeof *apps * (size_t)d->n_apps);
    if (!apps) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < d->n_apps; i++)
        if (d->apps[i].stream == stream) apps[n++] = (ms_stream_plan_app){i, &d->apps[i], &m->apps[i]};
    char where[300];
    snprintf(where, sizeof where, "%s: stream '%s'", d->path, d->streams[stream].name);
    ms_status st = ms_stream_plan_solve(m, d->policy, d->objective, apps, n, stream_fps, budget, where, out, err);
    if (st == MS_OK) out->stream = stream;
    free(apps);
    return st;
}

double ms_run_model_units_ms(const ms_run_model *m, int from, int to)
{
    double ms = 0;
    for (int u = from; u < to; u++) ms += m->costs.unit_ms[u];
    return ms;
}

static ms_status add_branch(const ms_run_model *m, const ms_stream_plan *p, ms_exec_tree *t, int parent,
                            int scenario_app, ms_error *err)
{
    const ms_stream_plan_app *a = &p->entries[scenario_app];
    int c = p->schedule.apps[scenario_app].chokepoint;
    ms_graph *g;
    if (ms_run_app_branch(a->pkg, m->base, c, &g, err)) return ms_error_prefix(err, "app '%s'", a->desc->name);
    int index;
    ms_status st = ms_exec_add(t, MS_EXEC_BRANCH, parent, c, -1, a->id, p->schedule.apps[scenario_app].fps,
                               ms_run_model_units_ms(m, c, m->n_cps), g, &index, err);
    ms_graph_free(g);
    return st;
}

ms_status ms_stream_plan_exec(const ms_deployment *d, const ms_run_model *m, const ms_stream_plan *p, ms_exec_tree *t,
                             ms_error *err)
{
    (void)d;
    ms_exec_init(t, m->backend, &m->opts, p->stream_fps,
                 (int64_t)m->base->input_spec.height * m->base->input_spec.width * m->base->input_spec.channels);
    ms_status st = MS_OK;
    for (int i = 0; i < p->tree.n_root_branches && st == MS_OK; i++)
        st = add_branch(m, p, t, -1, p->tree.root_branches[i], err);
    int parent = -1;
    for (int s = 0; s < p->tree.n_segments && st == MS_OK; s++) {
        const ms_stem_segment *seg = &p->tree.segments[s];
        ms_graph *g = NULL;
        st = ms_graph_segment(m->base, m->cps[seg->from].node_end, m->cps[seg->to].node_end, &g, err);
        int index = -1;
        if (st == MS_OK)
            st = ms_exec_add(t, MS_EXEC_SEGMENT, parent, seg->from, seg->to, -1, seg->fps,
                             ms_run_model_units_ms(m, seg->from, seg->to), g, &index, err);
        ms_graph_free(g);
        parent = index;
        for (int b = 0; b < seg->n_branches && st == MS_OK; b++) st = add_branch(m, p, t, parent, seg->branches[b], err);
    }
    if (st) ms_exec_free(t);
    return st;
}
