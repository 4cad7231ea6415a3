/* Exact search: depth-first branch and bound over the apps.
 *
 * A node fixes the options of the first apps (in search order); their shared stem is a
 * staircase G[j] = highest fps among the fixed apps still sharing segment j. Adding an
 * option (cut, fps) costs its own branch plus the stem increment
 * inc(cut, fps) = sum_{j < cut} seg_cost[j] * max(0, fps - G[j]).
 * Bound: the m remaining apps together raise the stem by at least the average of their
 * increments (a maximum is at least an average), so charging each option
 * branch + inc/m underestimates any completion's cost; the LP relaxation of the
 * multiple-choice knapsack over those costs (each app's upper convex hull, steps taken by
 * decreasing value per cost) then overestimates the best completion's value.
 * Apps with identical option lists are interchangeable: their option indices are kept
 * non-decreasing in search order (symmetry breaking). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

typedef struct {
    double cost, value;
} point;

typedef struct {
    double dcost, dvalue;
} step;

typedef struct {
    const ms_problem *pb;
    int n, nseg;
    int *order;   /* search position -> app */
    double *G;    /* (n + 1) staircases, one per depth */
    int *cur, *best;
    double best_value;
    bool found;
    double deadline;
    bool aborted;
    bool out_of_memory;
    double open_bound; /* max bound over nodes left unexplored by an abort */
    long nodes;
    double *inc;   /* n_levels x n_bounds */
    point *pts;    /* workspace: one app's options */
    step *steps;   /* workspace: hull steps of all remaining apps */
    int max_options;
} search;

static void compute_inc(search *S, const double *G)
{
    const ms_problem *pb = S->pb;
    for (int l = 0; l < pb->n_levels; l++) {
        double *row = S->inc + (size_t)l * pb->n_bounds, f = pb->levels[l], acc = 0;
        row[0] = 0;
        for (int j = 0; j < pb->n_segs; j++) {
            if (f > G[j]) acc += pb->seg_cost[j] * (f - G[j]);
            row[j + 1] = acc;
        }
    }
}

static double option_inc(const search *S, const ms_option *o)
{
    return S->inc[(size_t)o->level * S->pb->n_bounds + o->cut];
}

/* inc(cut, fps) computed directly (the table is overwritten by deeper nodes). */
static double stem_increment(const search *S, const double *G, const ms_option *o)
{
    double acc = 0;
    for (int j = 0; j < o->cut; j++)
        if (o->fps > G[j]) acc += S->pb->seg_cost[j] * (o->fps - G[j]);
    return acc;
}

static int compare_points(const void *a, const void *b)
{
    const point *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    return (x->value < y->value) - (x->value > y->value);
}

static int compare_steps(const void *a, const void *b)
{
    const step *x = a, *y = b;
    /* decreasing dvalue/dcost, compared without division */
    double l = x->dvalue * y->dcost, r = y->dvalue * x->dcost;
    return (l < r) - (l > r);
}

/* Upper bound on the value the apps from `depth` on can add with cap_left, or -INFINITY
 * when even their cheapest options cannot fit. Requires S->inc for the node's staircase. */
static double completion_bound(search *S, int depth, double cap_left)
{
    int m = S->n - depth, nsteps = 0;
    double base_cost = 0, base_value = 0;
    for (int d = depth; d < S->n; d++) {
        const ms_app_options *ao = &S->pb->apps[S->order[d]];
        for (int i = 0; i < ao->n_options; i++) {
            S->pts[i].cost = ao->options[i].branch + option_inc(S, &ao->options[i]) / m;
            S->pts[i].value = ao->options[i].value;
        }
        qsort(S->pts, (size_t)ao->n_options, sizeof *S->pts, compare_points);
        /* upper convex hull of the points of increasing value, from the cheapest */
        int h = 1;
        for (int i = 1; i < ao->n_options; i++) {
            point p = S->pts[i];
            if (p.value <= S->pts[h - 1].value) continue;
            while (h >= 2) {
                point a = S->pts[h - 2], b = S->pts[h - 1];
                /* drop b when it lies on or under the segment a-p */
                if ((b.value - a.value) * (p.cost - a.cost) <= (p.value - a.value) * (b.cost - a.cost))
                    h--;
                else
                    break;
            }
            S->pts[h++] = p;
        }
        base_cost += S->pts[0].cost;
        base_value += S->pts[0].value;
        for (int i = 1; i < h; i++)
            S->steps[nsteps++] = (step){S->pts[i].cost - S->pts[i - 1].cost,
                                        S->pts[i].value - S->pts[i - 1].value};
    }
    if (base_cost > cap_left) return -INFINITY;
    qsort(S->steps, (size_t)nsteps, sizeof *S->steps, compare_steps);
    double room = cap_left - base_cost, gain = 0;
    for (int i = 0; i < nsteps; i++) {
        if (S->steps[i].dcost <= room) {
            room -= S->steps[i].dcost;
            gain += S->steps[i].dvalue;
        } else {
            gain += S->steps[i].dvalue * (room / S->steps[i].dcost);
            break;
        }
    }
    return base_value + gain;
}

static bool out_of_time(search *S)
{
    if (S->aborted) return true;
    if (S->deadline > 0 && (S->nodes & 255) == 0 && ms_now() > S->deadline) S->aborted = true;
    return S->aborted;
}

static void raise_stem(const search *S, const double *G, const ms_option *o, double *out)
{
    memcpy(out, G, sizeof *out * (size_t)S->nseg);
    for (int j = 0; j < o->cut; j++)
        if (o->fps > out[j]) out[j] = o->fps;
}

static void branch_and_bound(search *S, int depth, double value, double cost)
{
    if (depth == S->n) {
        if (!S->found || value > S->best_value) {
            S->found = true;
            S->best_value = value;
            memcpy(S->best, S->cur, sizeof *S->cur * (size_t)S->n);
        }
        return;
    }
    S->nodes++;
    if (out_of_time(S)) return;
    const double *G = S->G + (size_t)depth * S->nseg;
    compute_inc(S, G);
    double bound = value + completion_bound(S, depth, S->pb->capacity - cost);
    if (bound == -INFINITY) return;
    if (S->found && bound <= S->best_value + 1e-12 * fmax(1.0, fabs(S->best_value))) return;
    const ms_app_options *ao = &S->pb->apps[S->order[depth]];
    int first = 0;
    if (depth > 0 && ao->group == S->pb->apps[S->order[depth - 1]].group) first = S->cur[depth - 1];
    double *next = S->G + (size_t)(depth + 1) * S->nseg;
    for (int i = first; i < ao->n_options; i++) {
        const ms_option *o = &ao->options[i];
        double c = cost + o->branch + stem_increment(S, G, o);
        if (c > S->pb->capacity) continue;
        S->cur[depth] = i;
        raise_stem(S, G, o, next);
        branch_and_bound(S, depth + 1, value + o->value, c);
        if (S->aborted) break;
    }
    if (S->aborted && bound > S->open_bound) S->open_bound = bound;
}

static double option_spread(const ms_app_options *ao)
{
    if (ao->n_options == 0) return 0;
    return ao->options[0].value - ao->options[ao->n_options - 1].value;
}

/* Search order: apps whose choice matters most first; a group's apps stay adjacent. */
static const ms_problem *sort_problem;
static int compare_order(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    const ms_app_options *ax = &sort_problem->apps[x], *ay = &sort_problem->apps[y];
    double sx = option_spread(&sort_problem->apps[ax->group]);
    double sy = option_spread(&sort_problem->apps[ay->group]);
    if (sx != sy) return sx < sy ? 1 : -1;
    if (ax->group != ay->group) return ax->group - ay->group;
    return x - y;
}

static bool search_init(search *S, const ms_problem *pb, double deadline)
{
    memset(S, 0, sizeof *S);
    S->pb = pb;
    S->n = pb->n_apps;
    S->nseg = pb->n_segs > 0 ? pb->n_segs : 1;
    S->deadline = deadline;
    S->open_bound = -INFINITY;
    int total = 0;
    for (int a = 0; a < pb->n_apps; a++) {
        if (pb->apps[a].n_options > S->max_options) S->max_options = pb->apps[a].n_options;
        total += pb->apps[a].n_options;
    }
    S->order = malloc(sizeof *S->order * (size_t)S->n + 1);
    S->G = calloc((size_t)(S->n + 1) * (size_t)S->nseg, sizeof *S->G);
    S->cur = calloc((size_t)S->n + 1, sizeof *S->cur);
    S->best = calloc((size_t)S->n + 1, sizeof *S->best);
    S->inc = calloc((size_t)pb->n_levels * (size_t)pb->n_bounds, sizeof *S->inc);
    S->pts = malloc(sizeof *S->pts * (size_t)(S->max_options + 1));
    S->steps = malloc(sizeof *S->steps * (size_t)(total + 1));
    if (!S->order || !S->G || !S->cur || !S->best || !S->inc || !S->pts || !S->steps) return false;
    for (int a = 0; a < S->n; a++) S->order[a] = a;
    sort_problem = pb;
    qsort(S->order, (size_t)S->n, sizeof *S->order, compare_order);
    return true;
}

static void search_free(search *S)
{
    free(S->order);
    free(S->G);
    free(S->cur);
    free(S->best);
    free(S->inc);
    free(S->pts);
    free(S->steps);
}

ms_status ms_search_exact(const ms_problem *pb, double deadline, int *choice, ms_search_result *res,
                          ms_error *err)
{
    search S;
    bool had_incumbent = res->found;
    memset(res, 0, sizeof *res);
    if (!search_init(&S, pb, deadline)) {
        search_free(&S);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    if (had_incumbent) {
        /* the incumbent in search order, so that symmetric apps' indices are sorted */
        S.found = true;
        S.best_value = 0;
        for (int d = 0; d < S.n; d++) {
            S.best[d] = choice[S.order[d]];
            S.best_value += pb->apps[S.order[d]].options[S.best[d]].value;
        }
    }
    bool any_empty = false;
    for (int a = 0; a < pb->n_apps; a++) any_empty |= pb->apps[a].n_options == 0;
    if (!any_empty) branch_and_bound(&S, 0, 0.0, 0.0);
    res->found = S.found;
    res->value = S.best_value;
    res->exact = !S.aborted;
    res->bound = S.aborted ? fmax(S.open_bound, S.best_value) : S.best_value;
    if (!S.found && !S.aborted) res->bound = -INFINITY;
    res->nodes = S.nodes;
    if (S.found)
        for (int d = 0; d < S.n; d++) choice[S.order[d]] = S.best[d];
    search_free(&S);
    return MS_OK;
}

/* Feasibility: cheapest-context options first, pruned by the sum of the remaining apps'
 * cheapest attributed costs. */
static bool feasible_dfs(search *S, int depth, double cost)
{
    if (depth == S->n) {
        memcpy(S->best, S->cur, sizeof *S->cur * (size_t)S->n);
        return true;
    }
    S->nodes++;
    if (out_of_time(S)) return false;
    const double *G = S->G + (size_t)depth * S->nseg;
    compute_inc(S, G);
    int m = S->n - depth;
    double lower = cost;
    for (int d = depth; d < S->n; d++) {
        const ms_app_options *ao = &S->pb->apps[S->order[d]];
        double cheapest = INFINITY;
        for (int i = 0; i < ao->n_options; i++)
            cheapest = fmin(cheapest, ao->options[i].branch + option_inc(S, &ao->options[i]) / m);
        lower += cheapest;
    }
    if (lower > S->pb->capacity) return false;
    const ms_app_options *ao = &S->pb->apps[S->order[depth]];
    int first = 0;
    if (depth > 0 && ao->group == S->pb->apps[S->order[depth - 1]].group) first = S->cur[depth - 1];
    /* children in order of their cost in this node's context */
    int k = ao->n_options - first;
    int *idx = malloc(sizeof *idx * (size_t)(k > 0 ? k : 1));
    double *ccost = malloc(sizeof *ccost * (size_t)(k > 0 ? k : 1));
    bool ok = false;
    if (!idx || !ccost) {
        S->out_of_memory = S->aborted = true;
        goto done;
    }
    for (int i = 0; i < k; i++) {
        idx[i] = first + i;
        ccost[i] = ao->options[first + i].branch + option_inc(S, &ao->options[first + i]);
    }
    for (int i = 1; i < k; i++) /* insertion sort: option lists are short */
        for (int j = i; j > 0 && ccost[j] < ccost[j - 1]; j--) {
            double tc = ccost[j];
            ccost[j] = ccost[j - 1];
            ccost[j - 1] = tc;
            int ti = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = ti;
        }
    double *next = S->G + (size_t)(depth + 1) * S->nseg;
    for (int i = 0; i < k && !ok && !S->aborted; i++) {
        if (cost + ccost[i] > S->pb->capacity) break;
        S->cur[depth] = idx[i];
        raise_stem(S, G, &ao->options[idx[i]], next);
        ok = feasible_dfs(S, depth + 1, cost + ccost[i]);
    }
done:
    free(idx);
    free(ccost);
    return ok;
}

ms_status ms_search_feasible(const ms_problem *pb, double deadline, int *choice, ms_search_result *res,
                             ms_error *err)
{
    search S;
    memset(res, 0, sizeof *res);
    if (!search_init(&S, pb, deadline)) {
        search_free(&S);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    bool any_empty = false;
    for (int a = 0; a < pb->n_apps; a++) any_empty |= pb->apps[a].n_options == 0;
    res->found = !any_empty && feasible_dfs(&S, 0, 0.0);
    if (S.out_of_memory) {
        search_free(&S);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    res->exact = res->found || !S.aborted;
    res->nodes = S.nodes;
    if (res->found)
        for (int d = 0; d < S.n; d++) {
            choice[S.order[d]] = S.best[d];
            res->value += pb->apps[S.order[d]].options[S.best[d]].value;
        }
    search_free(&S);
    return MS_OK;
}
