/* Compiling a scenario for search: which options each app has under a policy, their
 * event metrics and costs, dominance pruning and symmetry groups. */
#include "sched/problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ms_problem_free(ms_problem *pb)
{
    for (int a = 0; a < pb->n_apps; a++) free(pb->apps[a].options);
    free(pb->apps);
    free(pb->bounds);
    free(pb->seg_cost);
    free(pb->levels);
    memset(pb, 0, sizeof *pb);
}

/* The original's fix-up (ORIGINAL_MODEL.md §1.2): from the most-frozen end, a point whose
 * tpr is below the running maximum takes the (tpr, fpr) pair of that maximum. */
static void monotone_fixup(const ms_app *app, double *tpr, double *fpr)
{
    int n = app->n_points;
    for (int i = 0; i < n; i++) {
        tpr[i] = app->curve[i].tpr;
        fpr[i] = app->curve[i].fpr;
    }
    double prev_tpr = tpr[n - 1], prev_fpr = fpr[n - 1];
    for (int i = n - 1; i >= 0; i--) {
        if (prev_tpr > tpr[i]) {
            tpr[i] = prev_tpr;
            fpr[i] = prev_fpr;
        }
        prev_tpr = tpr[i];
        prev_fpr = fpr[i];
    }
}

ms_status ms_app_metrics(const ms_app *app, double stream_fps, int chokepoint, double fps,
                         bool compat, ms_event_metrics *out, ms_error *err)
{
    int at = -1;
    for (int i = 0; i < app->n_points; i++)
        if (app->curve[i].chokepoint == chokepoint) at = i;
    if (at < 0)
        return ms_errorf(err, MS_ERR_INVALID, "app %s: no curve point at chokepoint %d", app->name,
                         chokepoint);
    if (!(fps > 0) || fps > stream_fps)
        return ms_errorf(err, MS_ERR_INVALID, "app %s: fps %g is outside (0, %g]", app->name, fps,
                         stream_fps);
    double tpr = app->curve[at].tpr, fpr = app->curve[at].fpr;
    if (compat) {
        double *t = malloc(sizeof *t * 2 * (size_t)app->n_points);
        if (!t) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
        monotone_fixup(app, t, t + app->n_points);
        tpr = t[at];
        fpr = t[app->n_points + at];
        free(t);
    }
    ms_event_eval(&app->event, tpr, fpr, stream_fps, fps, compat, out);
    return MS_OK;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int compare_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Sorts and removes duplicates; returns the new length. */
static int unique_doubles(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static int unique_ints(int *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_ints);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

/* The curve points an app may use under a policy: [first, last] indices. */
static ms_status policy_points(const ms_app *app, int index, ms_policy policy, int *first, int *last,
                               ms_error *err)
{
    *first = 0;
    *last = app->n_points - 1;
    if (policy == MS_POLICY_MAXSHARING) *first = *last;
    if (policy == MS_POLICY_NOSHARING) {
        if (app->curve[0].chokepoint != 0)
            return ms_errorf(err, MS_ERR_INVALID,
                             "apps[%d] (%s): the nosharing policy needs a curve point at chokepoint 0",
                             index, app->name);
        *last = 0;
    }
    return MS_OK;
}

static int compare_options(const void *a, const void *b)
{
    const ms_option *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? 1 : -1;
    if (x->cut != y->cut) return x->cut < y->cut ? 1 : -1;
    return (x->fps > y->fps) - (x->fps < y->fps);
}

/* Sorts by decreasing value and drops every option that another kept option beats in
 * every context: shares at least as much (cut >=), runs no faster (fps <=) and is worth
 * at least as much. Such an option never costs more (docs/scheduler.md, "Dominance").
 * With keep_ties, a faster option tied in value (MS_SCHED_TIE) is kept: the schedule may
 * move to it when the budget allows (solve.c). */
static int prune_dominated(ms_option *o, int n, bool keep_ties)
{
    qsort(o, (size_t)n, sizeof *o, compare_options);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool dominated = false;
        for (int k = 0; k < kept && !dominated; k++)
            dominated = o[k].cut >= o[i].cut && o[k].fps <= o[i].fps &&
                        (!keep_ties || o[k].fps == o[i].fps || o[k].value > o[i].value + MS_SCHED_TIE);
        if (!dominated) o[kept++] = o[i];
    }
    return kept;
}

static bool same_options(const ms_app_options *a, const ms_app_options *b)
{
    if (a->n_options != b->n_options) return false;
    for (int i = 0; i < a->n_options; i++) {
        const ms_option *x = &a->options[i], *y = &b->options[i];
        if (x->cut != y->cut || x->fps != y->fps || x->value != y->value) return false;
    }
    return true;
}

static void assign_groups(ms_problem *pb)
{
    for (int a = 0; a < pb->n_apps; a++) {
        pb->apps[a].group = a;
        for (int b = 0; b < a; b++)
            if (pb->apps[b].group == b && same_options(&pb->apps[a], &pb->apps[b])) {
                pb->apps[a].group = b;
                break;
            }
    }
}

static double objective_metric(ms_objective obj, const ms_event_metrics *m)
{
    switch (obj) {
    case MS_OBJ_MEAN_FNR: return m->fnr;
    case MS_OBJ_MEAN_FPR: return m->fpr;
    default: return m->f1;
    }
}

/* Fills the segment structure: boundaries at every usable chokepoint. */
static ms_status build_segments(const ms_scenario *s, ms_policy policy, ms_problem *pb,
                                ms_error *err)
{
    int cap = 2;
    for (int a = 0; a < s->n_apps; a++) cap += s->apps[a].n_points;
    pb->bounds = malloc(sizeof *pb->bounds * (size_t)cap);
    if (!pb->bounds) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    int n = 0;
    pb->bounds[n++] = 0;
    pb->bounds[n++] = s->n_units;
    for (int a = 0; a < s->n_apps; a++) {
        int first, last;
        if (policy_points(&s->apps[a], a, policy, &first, &last, err)) return err->status;
        for (int i = first; i <= last; i++) pb->bounds[n++] = s->apps[a].curve[i].chokepoint;
    }
    pb->n_bounds = unique_ints(pb->bounds, n);
    pb->n_segs = pb->n_bounds - 1;
    pb->seg_cost = calloc((size_t)(pb->n_segs > 0 ? pb->n_segs : 1), sizeof *pb->seg_cost);
    if (!pb->seg_cost) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    for (int j = 0; j < pb->n_segs; j++)
        for (int u = pb->bounds[j]; u < pb->bounds[j + 1]; u++) pb->seg_cost[j] += s->unit_costs[u];
    return MS_OK;
}

/* The original's No-Sharing also tries fractional rates (i * 0.1, as Python computes them).
 * Outside --compat, Mainstream and its greedy baseline get them too, so the exact policy
 * never loses to No-Sharing for want of a rate; --compat keeps the original's integers. */
static bool fractional_rates(const ms_sched_config *cfg)
{
    if (cfg->policy == MS_POLICY_NOSHARING) return true;
    return !cfg->compat && (cfg->policy == MS_POLICY_MAINSTREAM || cfg->policy == MS_POLICY_GREEDY);
}

static ms_status build_levels(const ms_scenario *s, const ms_sched_config *cfg, ms_problem *pb,
                              ms_error *err)
{
    pb->levels = malloc(sizeof *pb->levels * (size_t)(s->n_fps + 9));
    if (!pb->levels) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < s->n_fps; i++) pb->levels[n++] = s->fps_options[i];
    if (fractional_rates(cfg))
        for (int i = 1; i <= 9; i++)
            if (i * 0.1 <= s->stream_fps) pb->levels[n++] = i * 0.1;
    pb->n_levels = unique_doubles(pb->levels, n);
    return MS_OK;
}

static int find_int(const int *v, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

static ms_status build_app_options(const ms_scenario *s, const ms_sched_config *cfg, int a,
                                   ms_problem *pb, ms_error *err)
{
    const ms_app *app = &s->apps[a];
    int first, last;
    if (policy_points(app, a, cfg->policy, &first, &last, err)) return err->status;
    int n = (last - first + 1) * pb->n_levels;
    ms_option *o = malloc(sizeof *o * (size_t)n);
    double *branch_per_frame = malloc(sizeof *branch_per_frame * (size_t)pb->n_bounds);
    if (!o || !branch_per_frame) {
        free(o);
        free(branch_per_frame);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    double tail = 0;
    for (int j = pb->n_segs; j >= 0; j--) {
        branch_per_frame[j] = tail;
        if (j > 0) tail += pb->seg_cost[j - 1];
    }
    int k = 0;
    for (int i = first; i <= last; i++) {
        int cut = find_int(pb->bounds, pb->n_bounds, app->curve[i].chokepoint);
        for (int l = 0; l < pb->n_levels; l++, k++) {
            ms_option *op = &o[k];
            op->cut = cut;
            op->level = l;
            op->fps = pb->levels[l];
            op->branch = op->fps * branch_per_frame[cut];
            if (ms_app_metrics(app, s->stream_fps, app->curve[i].chokepoint, op->fps, cfg->compat,
                               &op->m, err)) {
                free(o);
                free(branch_per_frame);
                return err->status;
            }
            op->metric = objective_metric(cfg->objective, &op->m);
            double sign = (cfg->objective == MS_OBJ_MEAN_FNR || cfg->objective == MS_OBJ_MEAN_FPR) ? -1 : 1;
            double weight = cfg->objective == MS_OBJ_MIN_F1 ? 1.0 : app->weight;
            op->value = sign * weight * op->metric;
        }
    }
    free(branch_per_frame);
    pb->apps[a].options = o;
    pb->apps[a].n_options = prune_dominated(o, n, !cfg->compat);
    return MS_OK;
}

ms_status ms_problem_build(const ms_scenario *s, const ms_sched_config *cfg, ms_problem *pb,
                           ms_error *err)
{
    memset(pb, 0, sizeof *pb);
    pb->n_apps = s->n_apps;
    pb->maximise_min = cfg->objective == MS_OBJ_MIN_F1;
    pb->capacity = s->budget + 1e-9 * fmax(1.0, s->budget);
    pb->apps = calloc((size_t)s->n_apps, sizeof *pb->apps);
    if (!pb->apps) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    if (build_segments(s, cfg->policy, pb, err) || build_levels(s, cfg, pb, err)) goto fail;
    for (int a = 0; a < s->n_apps; a++)
        if (build_app_options(s, cfg, a, pb, err)) goto fail;
    assign_groups(pb);
    return MS_OK;
fail:
    ms_problem_free(pb);
    return err->status;
}

ms_status ms_problem_restrict(const ms_problem *pb, double threshold, ms_problem *out, ms_error *err)
{
    *out = *pb;
    out->apps = calloc((size_t)pb->n_apps, sizeof *out->apps);
    out->bounds = malloc(sizeof *out->bounds * (size_t)pb->n_bounds);
    out->seg_cost = malloc(sizeof *out->seg_cost * (size_t)(pb->n_segs > 0 ? pb->n_segs : 1));
    out->levels = malloc(sizeof *out->levels * (size_t)pb->n_levels);
    if (!out->apps || !out->bounds || !out->seg_cost || !out->levels) goto nomem;
    memcpy(out->bounds, pb->bounds, sizeof *out->bounds * (size_t)pb->n_bounds);
    memcpy(out->seg_cost, pb->seg_cost, sizeof *out->seg_cost * (size_t)pb->n_segs);
    memcpy(out->levels, pb->levels, sizeof *out->levels * (size_t)pb->n_levels);
    for (int a = 0; a < pb->n_apps; a++) {
        const ms_app_options *src = &pb->apps[a];
        ms_app_options *dst = &out->apps[a];
        dst->options = malloc(sizeof *dst->options * (size_t)(src->n_options > 0 ? src->n_options : 1));
        if (!dst->options) goto nomem;
        for (int i = 0; i < src->n_options; i++)
            if (src->options[i].value >= threshold) dst->options[dst->n_options++] = src->options[i];
        dst->group = src->group;
    }
    return MS_OK;
nomem:
    if (!out->apps) out->n_apps = 0;
    ms_problem_free(out);
    return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
}

double ms_problem_cost(const ms_problem *pb, const int *choice)
{
    double cost = 0;
    for (int j = 0; j < pb->n_segs; j++) {
        double g = 0;
        for (int a = 0; a < pb->n_apps; a++) {
            const ms_option *o = &pb->apps[a].options[choice[a]];
            if (o->cut > j && o->fps > g) g = o->fps;
        }
        cost += pb->seg_cost[j] * g;
    }
    for (int a = 0; a < pb->n_apps; a++) cost += pb->apps[a].options[choice[a]].branch;
    return cost;
}
