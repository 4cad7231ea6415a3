/* Greedy search: start from the best uniform-stem schedule (ms_search_uniform_stems) or,
 * for the max-min objective, from the cheapest schedule (every app at its deepest
 * chokepoint and lowest rate), then repeatedly apply the single-app change with the best
 * value gained per unit of extra cost that still fits the budget; for max-min, lift the
 * worst app by its cheapest improving change. Costs are exact (the stem without the moving
 * app is known from each segment's two highest rates). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

typedef struct {
    double *top1, *top2; /* highest and second-highest fps among apps sharing each segment */
    int *count1;         /* how many apps run the highest fps there */
    double *without;     /* staircase without the app being moved */
} stem_stats;

static void collect(const ms_problem *pb, const int *choice, stem_stats *st)
{
    for (int j = 0; j < pb->n_segs; j++) {
        st->top1[j] = st->top2[j] = 0;
        st->count1[j] = 0;
    }
    for (int a = 0; a < pb->n_apps; a++) {
        const ms_option *o = &pb->apps[a].options[choice[a]];
        for (int j = 0; j < o->cut; j++) {
            if (o->fps > st->top1[j]) {
                st->top2[j] = st->top1[j];
                st->top1[j] = o->fps;
                st->count1[j] = 1;
            } else if (o->fps == st->top1[j]) {
                st->count1[j]++;
            } else if (o->fps > st->top2[j]) {
                st->top2[j] = o->fps;
            }
        }
    }
}

typedef struct {
    int app, option;
    double dcost, dvalue;
} move;

/* Whether m is a better move than best: by value per cost (free gains first), or for
 * lift_min by lowest extra cost. */
static bool better(const move *m, const move *best, bool lift_min)
{
    if (best->app < 0) return true;
    if (lift_min) return m->dcost < best->dcost || (m->dcost == best->dcost && m->dvalue > best->dvalue);
    bool free_m = m->dcost <= 0, free_b = best->dcost <= 0;
    if (free_m != free_b) return free_m;
    if (free_m) return m->dvalue > best->dvalue;
    return m->dvalue * best->dcost > best->dvalue * m->dcost;
}

static int worst_app(const ms_problem *pb, const int *choice)
{
    int worst = 0;
    for (int a = 1; a < pb->n_apps; a++)
        if (pb->apps[a].options[choice[a]].value < pb->apps[worst].options[choice[worst]].value)
            worst = a;
    return worst;
}

static void consider_app(const ms_problem *pb, const int *choice, const stem_stats *st, int a,
                         double cost, double stem, bool lift_min, move *best)
{
    const ms_app_options *ao = &pb->apps[a];
    const ms_option *cur = &ao->options[choice[a]];
    for (int j = 0; j < pb->n_segs; j++) {
        bool sole_top = j < cur->cut && cur->fps == st->top1[j] && st->count1[j] == 1;
        st->without[j] = sole_top ? st->top2[j] : st->top1[j];
    }
    for (int i = 0; i < ao->n_options; i++) {
        const ms_option *o = &ao->options[i];
        if (o->value <= cur->value) continue;
        double new_stem = 0;
        for (int j = 0; j < pb->n_segs; j++)
            new_stem += pb->seg_cost[j] * (j < o->cut ? fmax(st->without[j], o->fps) : st->without[j]);
        move m = {a, i, new_stem - stem + o->branch - cur->branch, o->value - cur->value};
        if (cost + m.dcost > pb->capacity) continue;
        if (better(&m, best, lift_min)) *best = m;
    }
}

ms_status ms_search_greedy(const ms_problem *pb, bool lift_min, int *choice, ms_search_result *res,
                           ms_error *err)
{
    memset(res, 0, sizeof *res);
    for (int a = 0; a < pb->n_apps; a++) {
        const ms_app_options *ao = &pb->apps[a];
        if (ao->n_options == 0) return MS_OK;
        int pick = 0;
        for (int i = 1; i < ao->n_options; i++) {
            const ms_option *o = &ao->options[i], *p = &ao->options[pick];
            if (o->cut > p->cut || (o->cut == p->cut && o->fps < p->fps)) pick = i;
        }
        choice[a] = pick;
    }
    if (!lift_min) {
        bool found;
        int *start = malloc(sizeof *start * (size_t)pb->n_apps);
        if (!start) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
        ms_status st = ms_search_uniform_stems(pb, start, &found, err);
        if (!st && found) memcpy(choice, start, sizeof *choice * (size_t)pb->n_apps);
        free(start);
        if (st) return st;
    }
    double cost = ms_problem_cost(pb, choice);
    if (cost > pb->capacity) return MS_OK;
    size_t ns = (size_t)(pb->n_segs > 0 ? pb->n_segs : 1);
    stem_stats st = {malloc(sizeof(double) * ns), malloc(sizeof(double) * ns), malloc(sizeof(int) * ns),
                     malloc(sizeof(double) * ns)};
    if (!st.top1 || !st.top2 || !st.count1 || !st.without) {
        free(st.top1);
        free(st.top2);
        free(st.count1);
        free(st.without);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    for (;;) {
        collect(pb, choice, &st);
        double stem = 0;
        for (int j = 0; j < pb->n_segs; j++) stem += pb->seg_cost[j] * st.top1[j];
        move best = {-1, -1, 0, 0};
        if (lift_min) {
            consider_app(pb, choice, &st, worst_app(pb, choice), cost, stem, true, &best);
        } else {
            for (int a = 0; a < pb->n_apps; a++) consider_app(pb, choice, &st, a, cost, stem, false, &best);
        }
        if (best.app < 0) break;
        choice[best.app] = best.option;
        cost = ms_problem_cost(pb, choice);
        res->nodes++;
    }
    free(st.top1);
    free(st.top2);
    free(st.count1);
    free(st.without);
    res->found = true;
    for (int a = 0; a < pb->n_apps; a++) res->value += pb->apps[a].options[choice[a]].value;
    res->bound = INFINITY;
    return MS_OK;
}
