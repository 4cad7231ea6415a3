/* The joint schedule of several streams under one budget (see joint.h). */
#include "sched/joint.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

#define STEP_DOWN 1e-12 /* relative: the next frontier point costs less than this one */

#define ABOVE 8 /* virtual options above a frontier search's range */

/* One frontier point of a stream: a schedule (option per app) optimal for its cost. */
typedef struct {
    double cost, value;
    int *choice;
} front_point;

/* A window of a stream's frontier: every frontier point with cost in (bottom, start]
 * (consecutive, found walking down from capacity `start`). Points above start are
 * stood for by one virtual option (cost just above start, the stream's best value
 * within the whole budget), points below by another (the cheapest any schedule can
 * cost, the value of the window's cheapest point): both bound what they stand for, so
 * a combination that picks neither is optimal. */
typedef struct {
    ms_problem pb;
    ms_search_ctx *search; /* the exact search on pb, set up once */
    front_point *pts; /* decreasing cost and value */
    int n, cap;
    double start;     /* the walk's first capacity */
    double top_value; /* the best value within the whole budget */
    double top_cost;
    bool bottom;      /* the walk went below the cheapest schedule: nothing below */
    double low_cost;  /* no schedule costs less */
    bool low_refined; /* low_cost is the cheapest schedule's cost */
    int grow;         /* points to walk when the window grows down */
    bool feasible;    /* some schedule fits the whole budget */
    bool exact;
    long nodes, solves; /* exact-search work so far (to size the window's growth) */
    double limit;       /* frontier search: the most the stream can cost (the budget less the others' least) */
    double guess;       /* frontier search: the stream's share of the budget by app count */
    bool ranged;        /* the window comes from a frontier search (front_range), not a walk */
    long last_nodes;    /* frontier search: the last one's nodes */
    double above_cost[ABOVE], above_value[ABOVE]; /* frontier search: virtual options above the window */
    double above_top[ABOVE]; /* the most the points each stands for cost */
    bool above_exact[ABOVE]; /* its value is the exact search's at above_top */
} stream_front;

static void front_clear(stream_front *f)
{
    ms_search_ctx_free(f->search);
    f->search = NULL;
    for (int i = 0; i < f->n; i++) free(f->pts[i].choice);
    free(f->pts);
    f->pts = NULL;
    f->n = f->cap = 0;
}

static ms_status front_insert(stream_front *f, int at, int n_apps, double cost, double value, const int *choice,
                              ms_error *err)
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
    memmove(f->pts + at + 1, f->pts + at, sizeof *f->pts * (size_t)(f->n - at));
    f->pts[at] = (front_point){cost, value, c};
    f->n++;
    return MS_OK;
}

/* A starting incumbent for the search within cap: the schedule `from` (the frontier
 * point just above) with one app moved to another option, the best such that fits.
 * The next frontier point is often one of them, and a good incumbent prunes most of
 * the search. Returns whether one fits (choice filled). */
static bool neighbour(const ms_problem *pb, const int *from, double cap, int *choice, int *work)
{
    bool found = false;
    double best = -INFINITY, base = 0;
    for (int a = 0; a < pb->n_apps; a++) base += pb->apps[a].options[from[a]].value;
    memcpy(work, from, sizeof *work * (size_t)pb->n_apps);
    for (int a = 0; a < pb->n_apps; a++) {
        const ms_app_options *ao = &pb->apps[a];
        for (int i = 0; i < ao->n_options; i++) {
            double v = base - ao->options[from[a]].value + ao->options[i].value;
            if (i == from[a] || v <= best) continue;
            work[a] = i;
            if (ms_problem_cost(pb, work) <= cap) {
                best = v;
                found = true;
                memcpy(choice, work, sizeof *choice * (size_t)pb->n_apps);
            }
        }
        work[a] = from[a];
    }
    return found;
}

/* The best schedule within capacity cap: *found, its cost and value. seed: a schedule
 * just above cap to start the search from a neighbour of (may be NULL). */
static ms_status best_within(stream_front *f, ms_policy policy, double cap, double deadline, const int *seed,
                             int *choice, bool *found, double *cost, double *value, ms_error *err)
{
    ms_problem *pb = &f->pb;
    pb->capacity = cap;
    ms_search_result res = {0};
    if (seed && policy != MS_POLICY_GREEDY) {
        int *work = malloc(sizeof *work * (size_t)(pb->n_apps + 1));
        if (!work) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
        res.found = neighbour(pb, seed, cap, choice, work);
        free(work);
    }
    ms_status st = MS_OK;
    if (policy == MS_POLICY_GREEDY) {
        st = ms_search_greedy(pb, false, choice, &res, err);
    } else {
        if (!f->search) st = ms_search_ctx_new(pb, &f->search, err);
        if (st == MS_OK) ms_search_ctx_exact(f->search, deadline, choice, &res);
    }
    if (st) return st;
    if (!res.found && !res.exact) { /* out of time before any schedule: a greedy one, then any that fits */
        ms_search_result alt;
        if ((st = ms_search_greedy(pb, false, choice, &alt, err))) return st;
        if (!alt.found && (st = ms_search_feasible(pb, 0, choice, &alt, err))) return st;
        if (alt.found) {
            res.found = true;
            res.value = 0;
            for (int a = 0; a < pb->n_apps; a++) res.value += pb->apps[a].options[choice[a]].value;
        }
    }
    if (policy != MS_POLICY_GREEDY) f->exact &= res.exact;
    f->nodes += res.nodes + 1;
    f->solves++;
    *found = res.found;
    *cost = res.found ? ms_problem_cost(pb, choice) : 0;
    *value = res.value;
    return MS_OK;
}

/* Walks down from capacity cap: the optimum within it, then within just less than its
 * cost, and so on; points go in at position `at` onwards (in decreasing cost). Stops
 * after `max` points, at a point costing `stop` or less (already known), or below the
 * cheapest schedule (f->bottom). Every optimum for a budget in [c, previous c) has the
 * value of the point of cost c, so the points found are consecutive frontier points. */
static ms_status walk(stream_front *f, ms_policy policy, double cap, double stop, int at, int max, double deadline,
                      int *added, ms_error *err)
{
    int n = f->pb.n_apps;
    int *choice = calloc((size_t)n + 1, sizeof *choice);
    if (!choice) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    ms_status st = MS_OK;
    /* the point above the insertion (when growing down): nothing may repeat it */
    double last_cost = at > 0 ? f->pts[at - 1].cost : INFINITY, last_value = at > 0 ? f->pts[at - 1].value : INFINITY;
    *added = 0;
    int *seed = malloc(sizeof *seed * (size_t)(n + 1));
    bool seeded = seed && at > 0;
    if (seeded) memcpy(seed, f->pts[at - 1].choice, sizeof *seed * (size_t)n);
    while (*added < max && seed) {
        bool found;
        double cost, value;
        if ((st = best_within(f, policy, cap, deadline, seeded ? seed : NULL, choice, &found, &cost, &value, err)))
            break;
        if (found) {
            memcpy(seed, choice, sizeof *seed * (size_t)n);
            seeded = true;
        }
        if (!found) {
            if (stop < 0) f->bottom = true;
            break;
        }
        if (cost <= stop) break;
        if (cost >= last_cost || value >= last_value) { /* float noise at the capacity: step on */
            cap = fmin(cap, last_cost) * (1 - 1e-9);
            if (cost >= last_cost) continue;
        } else {
            if ((st = front_insert(f, at + *added, n, cost, value, choice, err))) break;
            (*added)++;
            last_cost = cost;
            last_value = value;
        }
        if (cost <= 0) {
            if (stop < 0) f->bottom = true;
            break;
        }
        cap = fmin(cap, cost) * (1 - STEP_DOWN);
        if (deadline > 0 && ms_now() > deadline) {
            f->exact = false;
            break;
        }
    }
    if (!seed) st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    free(seed);
    free(choice);
    return st;
}

/* No schedule costs less than every app's cheapest branch (the stem is extra). */
static double lowest_cost(const ms_problem *pb)
{
    double low = 0;
    for (int a = 0; a < pb->n_apps; a++) {
        double m = INFINITY;
        for (int i = 0; i < pb->apps[a].n_options; i++) m = fmin(m, pb->apps[a].options[i].branch);
        low += isfinite(m) ? m : 0;
    }
    return low;
}

/* The cheapest schedule of pb: feasibility searches at shrinking capacities. */
static ms_status cheapest(ms_problem *pb, double capacity, double deadline, bool *found, double *cost, bool *exact,
                          ms_error *err)
{
    int *choice = calloc((size_t)pb->n_apps + 1, sizeof *choice);
    if (!choice) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    ms_status st = MS_OK;
    *found = false;
    double cap = capacity;
    for (;;) {
        pb->capacity = cap;
        ms_search_result res;
        if ((st = ms_search_feasible(pb, deadline, choice, &res, err))) break;
        *exact &= res.exact;
        if (!res.found) break;
        double c = ms_problem_cost(pb, choice);
        if (*found && c >= *cost) break; /* float noise: no cheaper one */
        *found = true;
        *cost = c;
        if (c <= 0) break;
        cap = c * (1 - STEP_DOWN);
    }
    free(choice);
    return st;
}

#define FIRST_WALK 1 /* points of a first window; each growth down doubles its step */
#define MAX_GROW 64
#define MAX_POINTS 4096
#define NODE_WORK 2 /* one exact-search node against one combination state */
#define GROW_UP 0.5 /* a window grows up by this share of its span */

/* The stream's best within the whole capacity, then a first window walked down from
 * `guess` (clamped to the best's cost). Returns with f->n == 0 when nothing fits. */
static ms_status front_init(stream_front *f, ms_policy policy, double capacity, double guess, double deadline,
                            ms_error *err)
{
    f->exact = true;
    f->bottom = false;
    f->low_cost = lowest_cost(&f->pb);
    f->low_refined = false;
    f->nodes = f->solves = 0;
    f->grow = FIRST_WALK;
    int *choice = calloc((size_t)f->pb.n_apps + 1, sizeof *choice);
    if (!choice) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    bool found;
    ms_status st = best_within(f, policy, capacity, deadline, NULL, choice, &found, &f->top_cost, &f->top_value, err);
    f->feasible = found;
    if (st || !found) {
        free(choice);
        f->bottom = true;
        return st;
    }
    f->start = guess >= f->top_cost ? capacity : guess;
    int added;
    if (f->start == capacity) { /* the best within the budget is the window's first point */
        st = front_insert(f, 0, f->pb.n_apps, f->top_cost, f->top_value, choice, err);
        free(choice);
        if (st || f->top_cost <= 0) {
            if (f->top_cost <= 0) f->bottom = true;
            return st;
        }
        return walk(f, policy, f->top_cost * (1 - STEP_DOWN), -1, 1, FIRST_WALK - 1, deadline, &added, err);
    }
    free(choice);
    return walk(f, policy, f->start, -1, 0, FIRST_WALK, deadline, &added, err);
}

/* A schedule within capacity when the exact search ran out of time: the greedy one,
 * else any that fits (a feasibility search without time limit); added to fr. */
static ms_status add_fallback(ms_problem *pb, double capacity, ms_frontier *fr, ms_error *err)
{
    int *choice = calloc((size_t)pb->n_apps + 1, sizeof *choice);
    if (!choice) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    pb->capacity = capacity;
    ms_search_result res;
    ms_status st = ms_search_greedy(pb, false, choice, &res, err);
    if (st == MS_OK && !res.found) st = ms_search_feasible(pb, 0, choice, &res, err);
    if (st == MS_OK && res.found) {
        double value = 0;
        for (int a = 0; a < pb->n_apps; a++) value += pb->apps[a].options[choice[a]].value;
        if (!ms_frontier_add(fr, ms_problem_cost(pb, choice), value, choice))
            st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    free(choice);
    return st;
}

#define FIRST_RANGE 1.5 /* a frontier search's first range: [0, this x the share by app count] */
#define CHEAP_SEARCH 20000 /* nodes: a first range searched in fewer doubles */

/* The stream's frontier over [0, cap] in one branch and bound (ms_search_ctx_frontier),
 * cap clamped to f->limit and to the cost of a schedule of the best value (every app at
 * its most valuable option: no point costs more). The window is every point up to
 * start = cap, nothing is below it; unless cap reached the clamp, a ladder of ABOVE
 * virtual options stands for the points above: the range (cap, clamp] cut into equal
 * rungs, rung i (x_i, x_i+1] at cost just above x_i, worth the search's bound at
 * x_i+1 (ms_search_ctx_bound, at most the best value): what its points can be worth
 * at most. Out of time,
 * the points found so far (the search dives to the expensive end first) get the
 * schedules the fallback finds within the stream's share (f->guess) and within cap,
 * so that a feasible budget still gets a feasible combination. */
static ms_status front_range(stream_front *f, double capacity, double cap, double deadline, ms_error *err)
{
    for (int i = 0; i < f->n; i++) free(f->pts[i].choice);
    f->n = 0;
    f->exact = true;
    f->bottom = true;
    f->low_cost = lowest_cost(&f->pb);
    f->low_refined = true;
    f->grow = FIRST_WALK;
    int *top = calloc((size_t)f->pb.n_apps + 1, sizeof *top);
    if (!top) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    bool all = true;
    for (int a = 0; a < f->pb.n_apps; a++) all &= f->pb.apps[a].n_options > 0;
    f->top_cost = all ? ms_problem_cost(&f->pb, top) : INFINITY;
    f->top_value = 0;
    for (int a = 0; all && a < f->pb.n_apps; a++) f->top_value += f->pb.apps[a].options[0].value;
    free(top);
    double clamp = fmin(f->limit, f->top_cost) * (1 + 1e-9); /* (float summation order) */
    cap = fmin(cap, clamp);
    f->start = cap < clamp ? cap : capacity; /* capacity: nothing above the window */
    f->pb.capacity = cap;
    ms_status st = f->search ? MS_OK : ms_search_ctx_new(&f->pb, &f->search, err);
    ms_frontier fr = {0};
    ms_search_result res;
    if (st == MS_OK) st = ms_search_ctx_frontier(f->search, 0, deadline, &fr, &res, err);
    if (st) return st;
    f->exact = res.exact;
    f->nodes += res.nodes;
    f->last_nodes = res.nodes;
    f->solves++;
    if (!res.exact && (st = add_fallback(&f->pb, fmin(f->guess, cap), &fr, err)) == MS_OK)
        st = add_fallback(&f->pb, cap, &fr, err);
    f->pb.capacity = cap;
    for (int i = fr.n - 1; i >= 0 && st == MS_OK; i--) /* by decreasing cost */
        st = front_insert(f, f->n, f->pb.n_apps, fr.cost[i], fr.value[i], fr.choice + (size_t)i * (size_t)fr.n_apps,
                          err);
    ms_frontier_free(&fr);
    f->feasible = f->n > 0 || f->start < capacity; /* (nothing within cap, maybe above it) */
    for (int i = 0; i < ABOVE && f->start < capacity; i++) {
        double x0 = cap + (clamp - cap) * i / ABOVE, x1 = i + 1 == ABOVE ? clamp : cap + (clamp - cap) * (i + 1) / ABOVE;
        f->above_cost[i] = x0 * (1 + 1e-12) + 1e-300;
        f->above_top[i] = x1;
        f->above_value[i] = fmin(f->top_value, ms_search_ctx_bound(f->search, x1));
        f->above_exact[i] = false;
    }
    return st;
}

/* A virtual option above a frontier search's range, picked by the combination: its
 * value becomes the exact search's best within its top cost (a certified bound when
 * out of time), far below the LP's for most streams; points within that cost are
 * worth no more. */
static ms_status refine_above(stream_front *f, int i, double deadline, ms_error *err)
{
    double cap = f->pb.capacity;
    int *choice = calloc((size_t)f->pb.n_apps + 1, sizeof *choice);
    if (!choice) return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    f->pb.capacity = f->above_top[i];
    ms_search_result res = {0};
    ms_search_ctx_exact(f->search, deadline, choice, &res);
    f->pb.capacity = cap;
    free(choice);
    f->nodes += res.nodes;
    f->solves++;
    double v = res.exact ? (res.found ? res.value : -INFINITY) : res.bound;
    for (int k = 0; k <= i; k++) f->above_value[k] = fmin(f->above_value[k], v);
    f->above_exact[i] = true;
    return MS_OK;
}

/* The cheapest schedule bounds what lies below the window much better than the apps'
 * cheapest branches do; found (feasibility searches) only once the combination picks
 * the virtual option below the window. */
static ms_status front_refine_low(stream_front *f, double capacity, double deadline, ms_error *err)
{
    bool any, ex = true;
    double low;
    ms_status st = cheapest(&f->pb, capacity, deadline, &any, &low, &ex, err);
    f->exact &= ex;
    if (st == MS_OK && any) f->low_cost = fmax(f->low_cost, low);
    f->low_refined = true;
    return st;
}

/* Grows the window up (up: to a start twice as far above its top point) or down. */
static ms_status front_grow(stream_front *f, ms_policy policy, double capacity, bool up, int points, double deadline,
                            ms_error *err)
{
    int added;
    if (!up) {
        ms_status st = walk(f, policy, f->n ? f->pts[f->n - 1].cost * (1 - STEP_DOWN) : f->start, -1, f->n,
                            points > f->grow ? points : f->grow, deadline, &added, err);
        if (f->grow < MAX_GROW) f->grow *= 2;
        return st;
    }
    double top = f->n ? f->pts[0].cost : -1; /* an empty window: nothing below its start */
    double span = f->start - (f->n ? f->pts[f->n - 1].cost : 0);
    double start = fmin(capacity, f->start + GROW_UP * (span > 0 ? span : f->start));
    if (start >= f->top_cost || !(start > f->start)) start = capacity;
    ms_status st = walk(f, policy, start, top, 0, INT32_MAX, deadline, &added, err);
    f->start = start;
    return st;
}

static bool has_above(const stream_front *f, double capacity) { return f->start < capacity && f->start < f->top_cost; }

/* An option of the combination: a window point (mark = its index) or a virtual one
 * (mark -1: above a walked window, -2: below it, -3 - i: rung i above a frontier
 * search's range). */
typedef struct {
    double cost, value;
    int mark;
} copt;

typedef struct {
    double dcost, dvalue;
    int stream;
} lp_step;

typedef struct {
    double cost, value;
    int parent, option;
} dp_state;

static int by_cost(const void *a, const void *b)
{
    const copt *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    return (x->value < y->value) - (x->value > y->value);
}

static int by_slope(const void *a, const void *b)
{
    const lp_step *x = a, *y = b;
    double l = x->dvalue * y->dcost, r = y->dvalue * x->dcost;
    return (l < r) - (l > r);
}

static int dp_order(const void *a, const void *b)
{
    const dp_state *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    return (x->value < y->value) - (x->value > y->value);
}

/* The LP relaxation of streams k.. (each stream's cheapest option, then the steps of
 * every upper convex hull by decreasing value per cost, the last one in part). */
typedef struct {
    double base_cost, base_value;
    int n_steps;
    double *cum_cost, *cum_value; /* prefix sums over the steps by slope */
} lp_suffix;

static double lp_bound(const lp_suffix *l, double capacity)
{
    double room = capacity - l->base_cost;
    if (room < 0) return -INFINITY;
    int lo = 0, hi = l->n_steps; /* steps [0, lo) fit whole */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (l->cum_cost[mid - 1] <= room) lo = mid;
        else hi = mid - 1;
    }
    double v = l->base_value + (lo > 0 ? l->cum_value[lo - 1] : 0);
    if (lo < l->n_steps) {
        double dc = l->cum_cost[lo] - (lo > 0 ? l->cum_cost[lo - 1] : 0);
        double dv = l->cum_value[lo] - (lo > 0 ? l->cum_value[lo - 1] : 0);
        if (dc > 0) v += dv * (room - (lo > 0 ? l->cum_cost[lo - 1] : 0)) / dc;
    }
    return v;
}

/* Stream k's options by cost, its cheapest one and its hull steps (appended to steps). */
static int hull_steps(copt *o, int n, lp_step *steps, double *cheap_cost, double *cheap_value)
{
    qsort(o, (size_t)n, sizeof *o, by_cost);
    *cheap_cost = o[0].cost;
    *cheap_value = o[0].value;
    int m = 0;
    double c = o[0].cost, v = o[0].value;
    int at = 0;
    for (;;) { /* the next hull vertex: the steepest rise from (c, v) */
        int best = -1;
        double slope = 0;
        for (int i = at + 1; i < n; i++) {
            if (o[i].value <= v) continue;
            double dc = o[i].cost - c;
            double sl = dc > 0 ? (o[i].value - v) / dc : INFINITY;
            if (best < 0 || sl >= slope) {
                best = i;
                slope = sl;
            }
        }
        if (best < 0) break;
        steps[m++] = (lp_step){o[best].cost - c, o[best].value - v, 0};
        c = o[best].cost;
        v = o[best].value;
        at = best;
    }
    return m;
}

/* The multiple-choice knapsack over the streams' windows and their virtual options,
 * exactly: a dynamic programme over the streams keeping the Pareto set of (cost,
 * value) of the streams so far, each state dropped when even the LP bound of the
 * streams after it cannot reach a feasible schedule already known (the LP rounded).
 * pick[i] is an index into stream i's window, or -1 / -2 for a virtual option. */
static ms_status combine(stream_front *fs, int n, double capacity, bool real_only, int *pick, bool *found,
                         bool *exact, long *work, ms_error *err)
{
    *work = 0;
    *found = false;
    *exact = true;
    int total = 0;
    for (int s = 0; s < n; s++) total += fs[s].n + 1 + ABOVE;
    copt **opts = calloc((size_t)n, sizeof *opts);
    int *nopt = calloc((size_t)n, sizeof *nopt);
    lp_suffix *suf = calloc((size_t)n + 1, sizeof *suf);
    lp_step *steps = malloc(sizeof *steps * (size_t)(total + 1));
    lp_step *merged = malloc(sizeof *merged * (size_t)(total + 1));
    dp_state **stage = calloc((size_t)n + 1, sizeof *stage);
    int *nstage = calloc((size_t)n + 1, sizeof *nstage);
    ms_status st = opts && nopt && suf && steps && merged && stage && nstage
                       ? MS_OK
                       : ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    for (int s = 0; s < n && st == MS_OK; s++) {
        stream_front *f = &fs[s];
        if (!(opts[s] = malloc(sizeof **opts * (size_t)(f->n + 1 + ABOVE)))) {
            st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
            break;
        }
        copt *o = opts[s];
        int k = 0;
        if (!real_only && has_above(f, capacity)) {
            if (f->ranged) /* a frontier search's range: a ladder of options above it */
                for (int i = 0; i < ABOVE; i++) {
                    if (f->above_value[i] > -INFINITY) o[k++] = (copt){f->above_cost[i], f->above_value[i], -3 - i};
                }
            else
                o[k++] = (copt){f->start * (1 + 1e-12) + 1e-300, f->top_value, -1};
        }
        for (int i = 0; i < f->n; i++) o[k++] = (copt){f->pts[i].cost, f->pts[i].value, i};
        /* points below the window are worth strictly less than its cheapest one */
        if (!real_only && !f->bottom && f->n > 0)
            o[k++] = (copt){f->low_cost, nextafter(f->pts[f->n - 1].value, -INFINITY), -2};
        nopt[s] = k;
        if (k == 0) goto done; /* nothing of this stream fits: infeasible */
    }
    /* LP bounds of every suffix of streams, from the back */
    int n_merged = 0;
    for (int s = n - 1; s >= 0 && st == MS_OK; s--) {
        double cc, cv;
        int m = hull_steps(opts[s], nopt[s], steps, &cc, &cv);
        for (int i = 0; i < m; i++) steps[i].stream = s;
        qsort(steps, (size_t)m, sizeof *steps, by_slope);
        /* merge this stream's steps into the suffix's (both by decreasing slope) */
        lp_step *out = malloc(sizeof *out * (size_t)(n_merged + m + 1));
        suf[s].cum_cost = malloc(sizeof(double) * (size_t)(n_merged + m + 1));
        suf[s].cum_value = malloc(sizeof(double) * (size_t)(n_merged + m + 1));
        if (!out || !suf[s].cum_cost || !suf[s].cum_value) {
            free(out);
            st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
            break;
        }
        int a = 0, b = 0, k = 0;
        while (a < n_merged || b < m)
            out[k++] = b >= m || (a < n_merged && by_slope(&merged[a], &steps[b]) <= 0) ? merged[a++] : steps[b++];
        memcpy(merged, out, sizeof *merged * (size_t)k);
        free(out);
        n_merged = k;
        suf[s].base_cost = suf[s + 1].base_cost + cc;
        suf[s].base_value = suf[s + 1].base_value + cv;
        suf[s].n_steps = k;
        double c = 0, v = 0;
        for (int i = 0; i < k; i++) {
            suf[s].cum_cost[i] = c += merged[i].dcost;
            suf[s].cum_value[i] = v += merged[i].dvalue;
        }
    }
    if (st || suf[0].base_cost > capacity) goto done;
    /* a feasible schedule to prune against: the LP of all streams rounded down (hull
     * steps by decreasing slope while they fit; a stream whose step does not fit takes
     * none after it) */
    double lb = suf[0].base_value, used = suf[0].base_cost;
    bool *blocked = calloc((size_t)n, sizeof *blocked);
    if (!blocked) {
        st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
        goto done;
    }
    for (int i = 0; i < n_merged; i++) {
        const lp_step *x = &merged[i];
        if (blocked[x->stream]) continue;
        if (used + x->dcost > capacity * (1 - 1e-12)) { /* a margin: the DP sums in another order */
            blocked[x->stream] = true;
            continue;
        }
        used += x->dcost;
        lb += x->dvalue;
    }
    free(blocked);
    double tol = 1e-12 * fmax(1, fabs(lb));
    if (!(stage[0] = malloc(sizeof **stage))) st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    if (st == MS_OK) {
        stage[0][0] = (dp_state){0, 0, -1, -1};
        nstage[0] = 1;
    }
    for (int s = 0; s < n && st == MS_OK; s++) {
        size_t cap = (size_t)nstage[s] * (size_t)nopt[s];
        *work += (long)cap;
        dp_state *next = malloc(sizeof *next * (cap ? cap : 1));
        if (!next) {
            st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
            break;
        }
        int k = 0;
        for (int i = 0; i < nstage[s]; i++)
            for (int o = 0; o < nopt[s]; o++) {
                double c = stage[s][i].cost + opts[s][o].cost, v = stage[s][i].value + opts[s][o].value;
                if (c > capacity) continue;
                if (v + lp_bound(&suf[s + 1], capacity - c) < lb - tol) continue;
                next[k++] = (dp_state){c, v, i, o};
            }
        qsort(next, (size_t)k, sizeof *next, dp_order);
        int u = 0; /* the Pareto set: value strictly rising with cost */
        for (int i = 0; i < k; i++)
            if (u == 0 || next[i].value > next[u - 1].value) next[u++] = next[i];
        stage[s + 1] = next;
        nstage[s + 1] = u;
        if (u == 0) goto done;
    }
    if (st == MS_OK && nstage[n] > 0) {
        int at = nstage[n] - 1; /* the most valuable within the capacity */
        for (int s = n; s > 0; s--) {
            const dp_state *d = &stage[s][at];
            pick[s - 1] = opts[s - 1][d->option].mark;
            at = d->parent;
        }
        *found = true;
    }
done:
    for (int s = 0; opts && s < n; s++) free(opts[s]);
    for (int s = 0; suf && s <= n; s++) {
        free(suf[s].cum_cost);
        free(suf[s].cum_value);
    }
    for (int s = 0; stage && s <= n; s++) free(stage[s]);
    free(opts);
    free(nopt);
    free(suf);
    free(steps);
    free(merged);
    free(stage);
    free(nstage);
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

/* Windows of every stream (problems already built) grown until the combination picks
 * no virtual option; pick[s] is then the point of stream s. guess[s]: where to start. */
static ms_status solve_fronts(stream_front *fs, int n, double capacity, const double *guess, ms_policy policy,
                              double deadline, int *pick, bool *found, bool *exact, long *points, ms_error *err)
{
    ms_status st = MS_OK;
    *exact = true;
    *found = false;
    double low_all = 0; /* no combination costs less */
    for (int s = 0; s < n; s++) low_all += lowest_cost(&fs[s].pb);
    for (int s = 0; s < n && st == MS_OK; s++) {
        front_clear(&fs[s]);
        if (policy == MS_POLICY_GREEDY) {
            st = front_init(&fs[s], policy, capacity, guess[s], deadline, err);
            continue;
        }
        fs[s].nodes = fs[s].solves = 0;
        fs[s].ranged = true;
        fs[s].limit = capacity - (low_all - lowest_cost(&fs[s].pb));
        fs[s].guess = guess[s];
        st = front_range(&fs[s], capacity, FIRST_RANGE * guess[s], deadline, err);
        /* while the search is cheap the range doubles (ladders of many cheap streams
         * weaken the combination's pruning) */
        while (st == MS_OK && has_above(&fs[s], capacity) && fs[s].last_nodes < CHEAP_SEARCH)
            st = front_range(&fs[s], capacity, 2 * fs[s].pb.capacity, deadline, err);
    }
    for (int s = 0; s < n && st == MS_OK; s++)
        if (!fs[s].feasible) return MS_OK; /* a stream that fits no budget */
    while (st == MS_OK) {
        bool cexact, virtual = false;
        long work;
        if ((st = combine(fs, n, capacity, false, pick, found, &cexact, &work, err)) || !*found) break;
        *exact &= cexact;
        int growing = 0;
        for (int s = 0; s < n; s++) growing += pick[s] < 0;
        for (int s = 0; s < n && st == MS_OK; s++) {
            if (pick[s] >= 0) continue;
            virtual = true;
            if (pick[s] == -2 && !fs[s].low_refined) {
                st = front_refine_low(&fs[s], capacity, deadline, err);
                continue;
            }
            /* points worth walking: as much search work as the combination just cost,
             * shared by the growing streams (few where searches are dear, many where
             * combinations are) */
            double per_point = NODE_WORK * ((double)fs[s].nodes / (double)(fs[s].solves ? fs[s].solves : 1));
            double want = (double)work / (per_point * growing);
            if (policy == MS_POLICY_GREEDY)
                st = front_grow(&fs[s], policy, capacity, pick[s] == -1, want < MAX_POINTS ? (int)want : MAX_POINTS,
                                deadline, err);
            else if (!fs[s].above_exact[-3 - pick[s]])
                st = refine_above(&fs[s], -3 - pick[s], deadline, err);
            else /* a rung above the range, exact: the range grows to its top */
                st = front_range(&fs[s], capacity, fs[s].above_top[-3 - pick[s]], deadline, err);
        }
        if (!virtual) break;
        if (deadline > 0 && ms_now() > deadline) {
            /* out of time: the best combination of the points walked so far (feasible,
             * not proven optimal) */
            *exact = false;
            st = combine(fs, n, capacity, true, pick, found, &cexact, &work, err);
            break;
        }
    }
    *points = 0;
    for (int s = 0; s < n; s++) {
        *points += fs[s].n;
        *exact &= fs[s].exact;
    }
    return st;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Max-min: the largest threshold t (among the values options take) such that every
 * stream, restricted to options reaching t, fits the budget together (each stream's
 * cheapest schedule, summed); then the best mean F1 of those restricted streams. */
static ms_status solve_max_min(stream_front *fs, const ms_problem *full, int n, double capacity, const double *guess,
                               ms_policy policy, double deadline, int *pick, bool *found, bool *exact, long *points,
                               ms_error *err)
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
            ms_problem sub;
            if ((st = ms_problem_restrict(&full[s], cand[mid], &sub, err))) break;
            for (int a = 0; a < sub.n_apps; a++) ok &= sub.apps[a].n_options > 0;
            double c = 0;
            if (ok) st = cheapest(&sub, capacity - need, deadline, &ok, &c, exact, err);
            need += c;
            ms_problem_free(&sub);
        }
        if (st) break;
        if (ok && need <= capacity) lo = mid;
        else hi = mid;
    }
    *found = false;
    /* out of time before any threshold was proven to fit: the lowest one (every option),
     * so that a feasible schedule still comes back */
    if (st == MS_OK && lo < 0 && !*exact && u > 0) lo = 0;
    if (st == MS_OK && lo >= 0) {
        for (int s = 0; s < n && st == MS_OK; s++) {
            ms_problem_free(&fs[s].pb);
            st = ms_problem_restrict(&full[s], cand[lo], &fs[s].pb, err);
        }
        bool ex = true;
        if (st == MS_OK) st = solve_fronts(fs, n, capacity, guess, policy, deadline, pick, found, &ex, points, err);
        *exact &= ex;
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
    /* first windows where the budget split by app count would put each stream */
    double *guess = calloc((size_t)n + 1, sizeof *guess);
    int all = 0;
    for (int s = 0; s < n; s++) all += streams[s].n_apps;
    for (int s = 0; guess && s < n; s++) guess[s] = all ? capacity * streams[s].n_apps / all : capacity;
    if (st == MS_OK && !guess) st = ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    if (st == MS_OK && n > 0) {
        if (cfg->objective == MS_OBJ_MIN_F1)
            st = solve_max_min(fs, full, n, capacity, guess, cfg->policy, deadline, pick, &found, &exact,
                               &out->frontier_points, err);
        else
            st = solve_fronts(fs, n, capacity, guess, cfg->policy, deadline, pick, &found, &exact,
                              &out->frontier_points, err);
    }
    free(guess);
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
        front_clear(&fs[s]);
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
