/* Feasibility search (for the max-min objective): is there a schedule whose every app
 * uses one of its (restricted) options within the budget? Depth-first over the apps.
 *
 * A node fixes the options of the first apps (in search order); their shared stem is a
 * staircase G[j] = highest fps among the fixed apps still sharing segment j. Adding an
 * option (cut, fps) costs its own branch plus the stem increment
 * inc(cut, fps) = sum_{j < cut} seg_cost[j] * max(0, fps - G[j]).
 * The m remaining apps together raise the stem by at least the average of their
 * increments (a maximum is at least an average), so the sum over the remaining apps of
 * their cheapest branch + inc/m is a lower bound on any completion's cost.
 * Apps with identical option lists are interchangeable: their option indices are kept
 * non-decreasing in search order (symmetry breaking). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

typedef struct {
    const ms_problem *pb;
    int n, nseg;
    int *order;   /* search position -> app */
    double *G;    /* (n + 1) staircases, one per depth */
    int *cur, *best;
    double deadline;
    bool aborted;
    bool out_of_memory;
    long nodes;
    double *inc;   /* n_levels x n_bounds */
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

static bool search_init(search *S, const ms_problem *pb, double deadline)
{
    memset(S, 0, sizeof *S);
    S->pb = pb;
    S->n = pb->n_apps;
    S->nseg = pb->n_segs > 0 ? pb->n_segs : 1;
    S->deadline = deadline;
    S->order = malloc(sizeof *S->order * (size_t)S->n + 1);
    S->G = calloc((size_t)(S->n + 1) * (size_t)S->nseg, sizeof *S->G);
    S->cur = calloc((size_t)S->n + 1, sizeof *S->cur);
    S->best = calloc((size_t)S->n + 1, sizeof *S->best);
    S->inc = calloc((size_t)pb->n_levels * (size_t)pb->n_bounds, sizeof *S->inc);
    if (!S->order || !S->G || !S->cur || !S->best || !S->inc) return false;
    for (int a = 0; a < S->n; a++) S->order[a] = a;
    ms_search_order(pb, S->order);
    return true;
}

static void search_free(search *S)
{
    free(S->order);
    free(S->G);
    free(S->cur);
    free(S->best);
    free(S->inc);
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
