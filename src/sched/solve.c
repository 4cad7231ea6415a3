/* Solving a scenario: policy and objective names, the dispatch to greedy or exact search
 * (binary search over thresholds for max-min), and the schedule's cost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

static const char *const policy_names[] = {"mainstream", "greedy", "maxsharing", "nosharing"};
static const char *const objective_names[] = {"f1", "min-f1", "fnr", "fpr"};

ms_status ms_policy_parse(const char *name, ms_policy *out, ms_error *err)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, policy_names[i])) {
            *out = (ms_policy)i;
            return MS_OK;
        }
    return ms_errorf(err, MS_ERR_INVALID,
                     "unknown policy '%s' (expected mainstream, greedy, maxsharing or nosharing)", name);
}

ms_status ms_objective_parse(const char *name, ms_objective *out, ms_error *err)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, objective_names[i])) {
            *out = (ms_objective)i;
            return MS_OK;
        }
    return ms_errorf(err, MS_ERR_INVALID, "unknown objective '%s' (expected f1, min-f1, fnr or fpr)",
                     name);
}

const char *ms_policy_name(ms_policy p) { return policy_names[p]; }
const char *ms_objective_name(ms_objective o) { return objective_names[o]; }

void ms_schedule_free(ms_schedule *sch)
{
    free(sch->apps);
    memset(sch, 0, sizeof *sch);
}

double ms_schedule_cost(const ms_scenario *s, const int *chokepoints, const double *fps, bool compat)
{
    double cost = 0;
    if (!compat) {
        for (int u = 0; u < s->n_units; u++) {
            double shared = 0, own = 0;
            for (int a = 0; a < s->n_apps; a++) {
                if (chokepoints[a] > u) shared = fmax(shared, fps[a]);
                else own += fps[a];
            }
            cost += s->unit_costs[u] * (shared + own);
        }
        return cost;
    }
    /* get_cost_schedule (ORIGINAL_MODEL.md §3.2): segments end at each distinct
     * chokepoint in increasing order, then at the last unit. */
    int seg_start = 0, prev_end = -1;
    for (;;) {
        int seg_end = s->n_units + 1;
        for (int a = 0; a < s->n_apps; a++)
            if (chokepoints[a] > prev_end && chokepoints[a] < seg_end) seg_end = chokepoints[a];
        bool last = seg_end > s->n_units;
        if (last) seg_end = s->n_units;
        double seg_latency = 0;
        for (int i = seg_start; i < seg_end; i++) seg_latency += s->unit_costs[i];
        double branched = 0, not_branched = 0;
        bool any_branched = false, any_shared = false;
        for (int a = 0; a < s->n_apps; a++) {
            if (chokepoints[a] < seg_end) {
                branched += fps[a];
                any_branched = true;
            } else {
                not_branched = any_shared ? fmax(not_branched, fps[a]) : fps[a];
                any_shared = true;
            }
        }
        double seg_fps = 0;
        if (any_branched) seg_fps += branched;
        if (any_shared) seg_fps += not_branched;
        cost += seg_latency * seg_fps;
        if (last) break;
        seg_start = prev_end = seg_end;
    }
    return cost;
}

/* Sum of weights, the denominator of the weighted means. */
static double weight_sum(const ms_scenario *s, const ms_sched_config *cfg)
{
    double w = 0;
    for (int a = 0; a < s->n_apps; a++) w += cfg->objective == MS_OBJ_MIN_F1 ? 1.0 : s->apps[a].weight;
    return w;
}

static double metric_of(const ms_sched_config *cfg, const ms_event_metrics *m)
{
    if (cfg->objective == MS_OBJ_MEAN_FNR) return m->fnr;
    if (cfg->objective == MS_OBJ_MEAN_FPR) return m->fpr;
    return m->f1;
}

static void fill_schedule(const ms_scenario *s, const ms_sched_config *cfg, const ms_problem *pb,
                          const int *choice, ms_schedule *out)
{
    int *cps = malloc(sizeof *cps * (size_t)s->n_apps);
    double *fps = malloc(sizeof *fps * (size_t)s->n_apps);
    double sum = 0, min = INFINITY;
    for (int a = 0; a < s->n_apps; a++) {
        const ms_option *o = &pb->apps[a].options[choice[a]];
        out->apps[a].chokepoint = pb->bounds[o->cut];
        out->apps[a].fps = o->fps;
        out->apps[a].m = o->m;
        double metric = metric_of(cfg, &o->m);
        sum += (cfg->objective == MS_OBJ_MIN_F1 ? 1.0 : s->apps[a].weight) * metric;
        min = fmin(min, metric);
    }
    out->value = cfg->objective == MS_OBJ_MIN_F1 ? min : sum / weight_sum(s, cfg);
    if (cps && fps) {
        for (int a = 0; a < s->n_apps; a++) {
            cps[a] = out->apps[a].chokepoint;
            fps[a] = out->apps[a].fps;
        }
        out->cost = ms_schedule_cost(s, cps, fps, cfg->compat);
    } else {
        out->cost = ms_problem_cost(pb, choice);
    }
    free(cps);
    free(fps);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Max-min: the largest threshold t for which every app can reach t within the budget
 * (binary search over the values options take), then the best mean among those schedules.
 * res->bound is the largest threshold not proven infeasible. */
static ms_status solve_max_min(const ms_problem *pb, double deadline, int *choice,
                               ms_search_result *res, ms_error *err)
{
    int total = 0;
    for (int a = 0; a < pb->n_apps; a++) total += pb->apps[a].n_options;
    double *cand = malloc(sizeof *cand * (size_t)(total > 0 ? total : 1));
    if (!cand) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    int n = 0;
    for (int a = 0; a < pb->n_apps; a++)
        for (int i = 0; i < pb->apps[a].n_options; i++) cand[n++] = pb->apps[a].options[i].value;
    qsort(cand, (size_t)n, sizeof *cand, compare_doubles);
    int lo = -1, hi = n, proven_hi = n; /* cand[lo] feasible; cand[hi..] treated as infeasible */
    long nodes = 0;
    ms_status st = MS_OK;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        ms_problem sub;
        ms_search_result r;
        if ((st = ms_problem_restrict(pb, cand[mid], &sub, err))) break;
        st = ms_search_feasible(&sub, deadline, choice, &r, err);
        ms_problem_free(&sub);
        if (st) break;
        nodes += r.nodes;
        if (r.found) {
            lo = mid;
        } else {
            hi = mid;
            if (r.exact) proven_hi = mid;
        }
    }
    memset(res, 0, sizeof *res);
    if (!st && lo >= 0) {
        ms_problem sub;
        if (!(st = ms_problem_restrict(pb, cand[lo], &sub, err))) {
            res->found = true; /* choice holds the schedule that proved cand[lo] feasible */
            st = ms_search_exact(&sub, deadline, choice, res, err);
            ms_problem_free(&sub);
        }
        res->exact = res->exact && proven_hi == hi;
        res->bound = proven_hi > 0 ? cand[proven_hi - 1] : -INFINITY;
    }
    res->nodes += nodes;
    free(cand);
    return st;
}

/* Outside --compat: moves each app, in turn, to its fastest option worth at least its
 * value in the solved schedule (less MS_SCHED_TIE) that still fits the budget, so that
 * a tie in predicted value (a saturated prediction) is broken towards using the budget.
 * The objective never drops by more than MS_SCHED_TIE per app. */
static void use_idle_budget(const ms_problem *pb, int *choice)
{
    for (int a = 0; a < pb->n_apps; a++) {
        const ms_app_options *ao = &pb->apps[a];
        double floor_value = ao->options[choice[a]].value - MS_SCHED_TIE;
        int best = choice[a];
        for (int i = 0; i < ao->n_options; i++) {
            if (ao->options[i].value < floor_value || ao->options[i].fps <= ao->options[best].fps) continue;
            int was = choice[a];
            choice[a] = i;
            if (ms_problem_cost(pb, choice) <= pb->capacity) best = i;
            choice[a] = was;
        }
        choice[a] = best;
    }
}

static ms_status alloc_schedule(const ms_scenario *s, ms_schedule *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_apps = s->n_apps;
    out->apps = calloc((size_t)s->n_apps, sizeof *out->apps);
    if (!out->apps) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    return MS_OK;
}

ms_status ms_schedule_solve(const ms_scenario *s, const ms_sched_config *cfg, ms_schedule *out,
                            ms_error *err)
{
    ms_problem pb;
    if (alloc_schedule(s, out, err)) return err->status;
    if (ms_problem_build(s, cfg, &pb, err)) {
        ms_schedule_free(out);
        return err->status;
    }
    double start = ms_now();
    double deadline = cfg->time_limit_s > 0 ? start + cfg->time_limit_s : 0;
    int *choice = calloc((size_t)s->n_apps, sizeof *choice);
    ms_search_result res;
    ms_status st = choice ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    bool lift_min = cfg->objective == MS_OBJ_MIN_F1;
    if (!st) st = ms_search_greedy(&pb, lift_min, choice, &res, err);
    if (!st && cfg->policy != MS_POLICY_GREEDY) {
        if (lift_min) {
            st = solve_max_min(&pb, deadline, choice, &res, err);
        } else {
            /* the greedy schedule, when there is one, seeds the exact search */
            st = ms_search_exact(&pb, deadline, choice, &res, err);
        }
    }
    if (!st && res.found && !cfg->compat) use_idle_budget(&pb, choice);
    if (!st) {
        out->feasible = res.found;
        out->exact = cfg->policy != MS_POLICY_GREEDY && res.exact;
        out->nodes = res.nodes;
        out->seconds = ms_now() - start;
        if (res.found) fill_schedule(s, cfg, &pb, choice, out);
        double sign = (cfg->objective == MS_OBJ_MEAN_FNR || cfg->objective == MS_OBJ_MEAN_FPR) ? -1 : 1;
        if (cfg->policy == MS_POLICY_GREEDY)
            out->bound = sign * INFINITY;
        else if (lift_min)
            out->bound = res.bound;
        else
            out->bound = sign * res.bound / weight_sum(s, cfg);
        if (out->exact && res.found) out->bound = out->value;
    }
    free(choice);
    ms_problem_free(&pb);
    if (st) ms_schedule_free(out);
    return st;
}
