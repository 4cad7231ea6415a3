/* The joint schedule of several streams under one budget (see joint.h). */
#include "sched/joint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

#define STEP_DOWN 1e-12 /* relative: the next frontier point costs less than this one */

/* One frontier point of a stream: a schedule (option per app) optimal for its cost. */
typedef struct {
    double cost, value;
    int *choice;
} front_point;

typedef struct {
    ms_problem pb;
    bool built;
    front_point *pts; /* decreasing cost and value */
    int n, cap;
    bool exact;
} stream_front;

static void front_free(stream_front *f)
{
    for (int i = 0; i < f->n; i++) free(f->pts[i].choice);
    free(f->pts);
    f->pts = NULL;
    f->n = f->cap = 0;
}

static ms_status front_push(stream_front *f, int n_apps, double cost, double value, const int *choice, ms_error *err)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 16;
        front_point *p = realloc(f->pts, sizeof *p * (size_t)cap);
        if (!p) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
        f->pts = p;
        f->cap = cap;
    }
    int *c = malloc(sizeof *c * (size_t)(n_apps ? n_apps : 1));
    if (!c) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    memcpy(c, choice, sizeof *c * (size_t)n_apps);
    f->pts[f->n++] = (front_point){cost, value, c};
    return MS_OK;
}

/* The frontier of pb from capacity `top` down: solve at the capacity, record the
 * schedule (cost c, value v), solve again just below c, until nothing fits. Every
 * optimum for a budget in [c, previous c) is v, so the points are all the frontier. */
static ms_status walk(stream_front *f, ms_policy policy, double top, double deadline, ms_error *err)
{
    ms_problem *pb = &f->pb;
    int n = pb->n_apps;
    int *choice = calloc((size_t)n + 1, sizeof *choice);
    if (!choice) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    ms_status st = MS_OK;
    f->exact = true;
    double cap = top;
    for (;;) {
        pb->capacity = cap;
        ms_search_result res;
        if ((st = ms_search_greedy(pb, false, choice, &res, err))) break;
        if (policy != MS_POLICY_GREEDY && (st = ms_search_exact(pb, deadline, choice, &res, err))) break;
        if (policy != MS_POLICY_GREEDY) f->exact &= res.exact;
        if (!res.found) break;
        double cost = ms_problem_cost(pb, choice);
        if (f->n > 0 && (cost >= f->pts[f->n - 1].cost || res.value >= f->pts[f->n - 1].value)) {
            /* float noise at the capacity (or the greedy's non-monotone answer): step on */
            cap = fmin(cap, f->pts[f->n - 1].cost) * (1 - 1e-9);
            if (cost >= f->pts[f->n - 1].cost) continue;
        } else if ((st = front_push(f, n, cost, res.value, choice, err))) {
            break;
        }
        if (cost <= 0) break;
        cap = fmin(cap, cost) * (1 - STEP_DOWN);
        if (deadline > 0 && ms_now() > deadline) {
            f->exact = false;
            break;
        }
    }
    free(choice);
    return st;
}

/* The multiple-choice knapsack over the streams' frontiers, solved by the exact search
 * as a problem without a stem: stream i is "app" i whose options are its points. */
static ms_status combine(stream_front *fs, int n, double capacity, double deadline, int *pick, bool *found,
                         bool *exact, ms_error *err)
{
    ms_problem cb = {0};
    cb.n_apps = n;
    cb.apps = calloc((size_t)n, sizeof *cb.apps);
    cb.bounds = calloc(1, sizeof *cb.bounds);
    cb.levels = malloc(sizeof *cb.levels);
    ms_status st = cb.apps && cb.bounds && cb.levels ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    if (st == MS_OK) {
        cb.n_bounds = 1;
        cb.n_levels = 1;
        cb.levels[0] = 1;
        cb.capacity = capacity;
    }
    for (int s = 0; s < n && st == MS_OK; s++) {
        ms_app_options *ao = &cb.apps[s];
        ao->group = s;
        ao->options = calloc((size_t)fs[s].n, sizeof *ao->options);
        if (!ao->options) {
            st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
            break;
        }
        ao->n_options = fs[s].n;
        for (int k = 0; k < fs[s].n; k++) /* by decreasing value, as the search wants */
            ao->options[k] = (ms_option){.cut = 0, .level = 0, .fps = 1, .branch = fs[s].pts[k].cost,
                                         .value = fs[s].pts[k].value, .metric = fs[s].pts[k].value};
    }
    ms_search_result res = {0};
    if (st == MS_OK) st = ms_search_exact(&cb, deadline, pick, &res, err);
    *found = st == MS_OK && res.found;
    *exact = st == MS_OK && res.exact;
    ms_problem_free(&cb);
    return st;
}

static double metric_of(const ms_sched_config *cfg, const ms_event_metrics *m)
{
    if (cfg->objective == MS_OBJ_MEAN_FNR) return m->fnr;
    if (cfg->objective == MS_OBJ_MEAN_FPR) return m->fpr;
    return m->f1;
}

double ms_joint_value(const ms_scenario *streams, int n, const ms_sched_config *cfg, const ms_schedule *sch)
{
    double sum = 0, weight = 0, min = INFINITY;
    for (int s = 0; s < n; s++)
        for (int a = 0; a < streams[s].n_apps; a++) {
            double w = cfg->objective == MS_OBJ_MIN_F1 ? 1.0 : streams[s].apps[a].weight;
            double v = metric_of(cfg, &sch[s].apps[a].m);
            sum += w * v;
            weight += w;
            min = fmin(min, v);
        }
    if (cfg->objective == MS_OBJ_MIN_F1) return isfinite(min) ? min : 0;
    return weight > 0 ? sum / weight : 0;
}

/* Stream s's schedule from option choices of its problem. */
static ms_status fill_stream(const ms_scenario *sc, const ms_sched_config *cfg, const ms_problem *pb, const int *choice,
                             ms_schedule *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_apps = sc->n_apps;
    out->apps = calloc((size_t)sc->n_apps + 1, sizeof *out->apps);
    int *cps = malloc(sizeof *cps * (size_t)(sc->n_apps + 1));
    double *fps = malloc(sizeof *fps * (size_t)(sc->n_apps + 1));
    if (!out->apps || !cps || !fps) {
        free(cps);
        free(fps);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    double sum = 0, weight = 0, min = INFINITY;
    for (int a = 0; a < sc->n_apps; a++) {
        const ms_option *o = &pb->apps[a].options[choice[a]];
        out->apps[a] = (ms_assignment){pb->bounds[o->cut], o->fps, o->m};
        cps[a] = out->apps[a].chokepoint;
        fps[a] = o->fps;
        double w = cfg->objective == MS_OBJ_MIN_F1 ? 1.0 : sc->apps[a].weight, v = metric_of(cfg, &o->m);
        sum += w * v;
        weight += w;
        min = fmin(min, v);
    }
    out->feasible = true;
    out->value = cfg->objective == MS_OBJ_MIN_F1 ? min : sum / weight;
    out->cost = ms_schedule_cost(sc, cps, fps, cfg->compat);
    free(cps);
    free(fps);
    return MS_OK;
}

void ms_joint_schedule_free(ms_joint_schedule *j)
{
    for (int s = 0; j->streams && s < j->n_streams; s++) ms_schedule_free(&j->streams[s]);
    free(j->streams);
    memset(j, 0, sizeof *j);
}

/* Frontiers of every stream (problems already built), combined; pick[s] the point. */
static ms_status solve_fronts(stream_front *fs, int n, double capacity, ms_policy policy, double deadline, int *pick,
                              bool *found, bool *exact, long *points, ms_error *err)
{
    ms_status st = MS_OK;
    *exact = true;
    *points = 0;
    for (int s = 0; s < n && st == MS_OK; s++) {
        front_free(&fs[s]);
        st = walk(&fs[s], policy, capacity, deadline, err);
        *exact &= fs[s].exact;
        *points += fs[s].n;
    }
    *found = false;
    if (st) return st;
    for (int s = 0; s < n; s++)
        if (fs[s].n == 0) return MS_OK; /* a stream that fits no budget */
    bool cexact;
    st = combine(fs, n, capacity, deadline, pick, found, &cexact, err);
    *exact &= cexact;
    return st;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Max-min: the largest threshold t (among the values options take) such that every
 * stream, restricted to options reaching t, fits the budget together; then the best
 * mean F1 of those restricted streams. Feasibility at t is the cheapest schedule of each
 * restricted stream (its frontier's last point) summed. */
static ms_status solve_max_min(stream_front *fs, const ms_problem *full, int n, double capacity, ms_policy policy,
                               double deadline, int *pick, bool *found, bool *exact, long *points, ms_error *err)
{
    int total = 0;
    for (int s = 0; s < n; s++)
        for (int a = 0; a < full[s].n_apps; a++) total += full[s].apps[a].n_options;
    double *cand = malloc(sizeof *cand * (size_t)(total + 1));
    if (!cand) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    int m = 0;
    for (int s = 0; s < n; s++)
        for (int a = 0; a < full[s].n_apps; a++)
            for (int i = 0; i < full[s].apps[a].n_options; i++) cand[m++] = full[s].apps[a].options[i].value;
    qsort(cand, (size_t)m, sizeof *cand, compare_doubles);
    int u = 0;
    for (int i = 0; i < m; i++)
        if (u == 0 || cand[i] != cand[u - 1]) cand[u++] = cand[i];
    ms_status st = MS_OK;
    int lo = -1, hi = u; /* cand[lo] feasible, cand[hi] not */
    *exact = true;
    while (hi - lo > 1 && st == MS_OK) {
        int mid = lo + (hi - lo) / 2;
        double need = 0;
        bool ok = true;
        for (int s = 0; s < n && st == MS_OK && ok; s++) {
            ms_problem_free(&fs[s].pb);
            front_free(&fs[s]);
            if ((st = ms_problem_restrict(&full[s], cand[mid], &fs[s].pb, err))) break;
            for (int a = 0; a < fs[s].pb.n_apps; a++) ok &= fs[s].pb.apps[a].n_options > 0;
            if (!ok) break;
            /* the cheapest schedule reaching t: the feasibility search at shrinking capacities */
            if ((st = walk(&fs[s], policy, capacity, deadline, err))) break;
            *exact &= fs[s].exact;
            *points += fs[s].n;
            ok = fs[s].n > 0;
            if (ok) need += fs[s].pts[fs[s].n - 1].cost;
        }
        if (st) break;
        if (ok && need <= capacity) lo = mid;
        else hi = mid;
    }
    *found = false;
    if (st == MS_OK && lo >= 0) {
        for (int s = 0; s < n && st == MS_OK; s++) {
            ms_problem_free(&fs[s].pb);
            st = ms_problem_restrict(&full[s], cand[lo], &fs[s].pb, err);
        }
        long pts = 0;
        bool ex = true;
        if (st == MS_OK) st = solve_fronts(fs, n, capacity, policy, deadline, pick, found, &ex, &pts, err);
        *exact &= ex;
        *points += pts;
    }
    free(cand);
    return st;
}

ms_status ms_joint_solve(const ms_scenario *streams, int n, double budget, const ms_sched_config *cfg,
                         ms_joint_schedule *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    double start = ms_now(), deadline = cfg->time_limit_s > 0 ? start + cfg->time_limit_s : 0;
    stream_front *fs = calloc((size_t)n + 1, sizeof *fs);
    ms_problem *full = calloc((size_t)n + 1, sizeof *full);
    int *pick = calloc((size_t)n + 1, sizeof *pick);
    out->streams = calloc((size_t)n + 1, sizeof *out->streams);
    ms_status st = fs && full && pick && out->streams ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    if (st == MS_OK) out->n_streams = n;
    double capacity = budget + 1e-9 * fmax(1.0, budget);
    ms_sched_config sum_cfg = *cfg;
    for (int s = 0; s < n && st == MS_OK; s++) {
        ms_scenario sc = streams[s];
        sc.budget = budget;
        if ((st = ms_problem_build(&sc, cfg, &full[s], err))) break;
        if (cfg->objective != MS_OBJ_MIN_F1) {
            fs[s].pb = full[s];
            memset(&full[s], 0, sizeof full[s]);
        }
    }
    bool found = false, exact = true;
    if (st == MS_OK && n > 0) {
        if (cfg->objective == MS_OBJ_MIN_F1)
            st = solve_max_min(fs, full, n, capacity, cfg->policy, deadline, pick, &found, &exact,
                               &out->frontier_points, err);
        else
            st = solve_fronts(fs, n, capacity, cfg->policy, deadline, pick, &found, &exact, &out->frontier_points,
                              err);
    }
    if (st == MS_OK && found) {
        for (int s = 0; s < n && st == MS_OK; s++) {
            st = fill_stream(&streams[s], &sum_cfg, &fs[s].pb, fs[s].pts[pick[s]].choice, &out->streams[s], err);
            out->streams[s].exact = exact;
            out->cost += out->streams[s].cost;
        }
        if (st == MS_OK) out->value = ms_joint_value(streams, n, cfg, out->streams);
    }
    out->feasible = found || n == 0;
    out->exact = exact && cfg->policy != MS_POLICY_GREEDY;
    out->seconds = ms_now() - start;
    for (int s = 0; fs && s < n; s++) {
        front_free(&fs[s]);
        ms_problem_free(&fs[s].pb);
        if (full) ms_problem_free(&full[s]);
    }
    free(fs);
    free(full);
    free(pick);
    if (st) ms_joint_schedule_free(out);
    return st;
}

cJSON *ms_joint_schedule_to_json(const ms_scenario *streams, const char *const *names, int n, double budget,
                                 const ms_sched_config *cfg, const ms_joint_schedule *j)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "policy", ms_policy_name(cfg->policy));
    cJSON_AddStringToObject(root, "objective", ms_objective_name(cfg->objective));
    cJSON_AddStringToObject(root, "model", cfg->compat ? "compat" : "default");
    cJSON_AddBoolToObject(root, "feasible", j->feasible);
    cJSON_AddBoolToObject(root, "exact", j->exact);
    if (j->feasible) {
        cJSON_AddNumberToObject(root, "value", j->value);
        cJSON_AddNumberToObject(root, "cost", j->cost);
    }
    cJSON_AddNumberToObject(root, "budget", budget);
    cJSON_AddNumberToObject(root, "seconds", j->seconds);
    cJSON_AddNumberToObject(root, "frontier_points", (double)j->frontier_points);
    cJSON *arr = cJSON_AddArrayToObject(root, "streams");
    for (int s = 0; arr && j->feasible && s < n; s++) {
        ms_stem_tree tree = {0};
        ms_error err;
        if (ms_stem_tree_build(&streams[s], &j->streams[s], &tree, &err)) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON *one = ms_schedule_to_json(&streams[s], cfg, &j->streams[s], &tree);
        ms_stem_tree_free(&tree);
        cJSON *o = cJSON_CreateObject();
        if (!one || !o) {
            cJSON_Delete(one);
            cJSON_Delete(o);
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddStringToObject(o, "name", names && names[s] ? names[s] : "");
        cJSON_AddNumberToObject(o, "stream_fps", streams[s].stream_fps);
        cJSON_AddNumberToObject(o, "cost", j->streams[s].cost);
        cJSON_AddNumberToObject(o, "value", j->streams[s].value);
        const char *moved[3] = {"apps", "stem", "stem_tree"};
        for (int k = 0; k < 3; k++) {
            cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(one, moved[k]);
            if (item) cJSON_AddItemToObject(o, moved[k], item);
        }
        cJSON_Delete(one);
        cJSON_AddItemToArray(arr, o);
    }
    return root;
}
