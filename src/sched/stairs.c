/* Exact search for the sum of the apps' values: branch and bound over the stem first,
 * then over the apps.
 *
 * Any schedule's stem is a staircase: G[j] = highest fps among apps still sharing segment
 * j, non-increasing in j. Conversely, for any non-increasing G with values in the fps
 * levels (or 0), an app may take option (cut c, fps f) when c = 0 or f <= G[c-1], and the
 * schedule then costs at most stem(G) + sum of branches, with equality for the tight
 * staircase. So the optimum is the best, over staircases, of a multiple-choice knapsack
 * in which every app picks independently among the options the staircase allows.
 *
 * Outer search: G[0], G[1], ... in turn. With G[0..j) fixed, an option with c <= j costs
 * exactly its branch (if allowed); an option with c > j needs f <= G[j-1] and shares the
 * undecided tail of the stem with the other apps: the tail costs at least the average over
 * all n apps of f * tail-units-to-c (a maximum is at least an average), so charging
 * branch + f * (P[c] - P[j]) / n underestimates every completion. The LP relaxation of the
 * knapsack over these costs (each app's upper convex hull, steps by decreasing value per
 * cost) bounds every staircase below the node; children are visited best bound first.
 * Inner search (a full staircase): branch and bound over the apps with the same LP bound,
 * now with exact costs; identical apps keep non-decreasing option indices (symmetry).
 *
 * Only staircases that can be tight are enumerated: where G drops at boundary j
 * (G[j-1] > G[j], with G[nseg] = 0), the tight staircase of the schedule has an app with
 * cut exactly j running at G[j-1]. So a drop needs some app with the option
 * (cut j, fps G[j-1]), and distinct drops need distinct apps: at most n drops. The optimum's
 * own tight staircase passes both tests, so exactness is kept; without them, a few apps
 * and many fps levels leave billions of staircases nearly as good as the optimum.
 * Frontier mode (ms_search_ctx_frontier): the same outer search returns every point of
 * the frontier over a range of budgets; the incumbent is the frontier found so far, a
 * node is pruned when its LP bound, as a function of the budget, lies under it on every
 * step (front_beaten), and a full staircase's knapsack is a dynamic programme over
 * Pareto states (leaf_frontier). */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"

typedef struct {
    double cost, value;
    int option;
} point;

/* An option as the outer search's nodes at some j see it: its open_cost, what decides
 * whether it is allowed (fps, cut), its index. */
typedef struct option_at {
    double cost, fps, value;
    int cut, option;
} option_at;

typedef struct {
    double dcost, dvalue;
    int pos; /* search position of the step's app */
    int to;  /* option the step leads to */
} step;

typedef struct {
    const ms_problem *pb;
    int n, nseg, kmax;
    int *order;
    double *prefix; /* prefix[i]: per-frame cost of segments [0, i) */
    double *G;      /* staircase being built */
    bool *can_drop; /* (nseg + 1) x n_levels: some app has the option (cut, level) */
    double *cost;   /* n x kmax: option costs at the current node (INFINITY: not allowed) */
    int cost_j;     /* the j of those costs */
    struct option_at *by_cost; /* (nseg + 1) x n x kmax: each app's options by open_cost at j, cheapest first */
    point *pts;
    step *steps;
    int nsteps;
    step *merge_buf; /* workspace of sort_steps */
    double *cum_cost, *cum_value; /* frontier mode: sums of steps [0, i) of the sorted steps */
    int *run_end;    /* app_hull's runs of steps: run i ends at run_end[i] */
    int nruns;
    double *base_cost, *base_value; /* inner: suffix sums of each app's cheapest allowed option */
    int *ord;  /* n x kmax: inner search's option order per app (allowed options only) */
    int *nord; /* how many each app has */
    double *key; /* workspace: reduced values for the ordering */
    double lambda; /* LP price of cost at the leaf's root: orders options by v - lambda * cost */
    int *cur, *best;
    bool found;
    double best_value;
    long nodes;
    double deadline;
    bool aborted;
    double open_bound;
    /* frontier mode (front set): every point of the frontier within [lo, capacity] */
    ms_frontier *front;
    double lo;
    int *leaf_choice;                   /* workspace: a complete schedule's options */
    double lp_base_cost, lp_base_value; /* lp_bound's cheapest options, summed */
    struct dp_state *dp[3];             /* frontier mode's knapsack: two stages of states, a merge workspace */
    int dp_cap[3];
    int *dp_from;                       /* (n + 1) x ...: every stage's states, as (parent, option) */
    size_t dp_from_n, dp_from_cap;
} stairs;

/* A state of the frontier-mode knapsack: the apps before some depth decided, their
 * cost and value; trail: where its (parent trail, option) pair is in dp_from. */
typedef struct dp_state {
    double cost, value;
    size_t trail;
} dp_state;

static int compare_points(const void *a, const void *b)
{
    const point *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    return (x->value < y->value) - (x->value > y->value);
}

static int compare_steps(const void *a, const void *b)
{
    const step *x = a, *y = b;
    double l = x->dvalue * y->dcost, r = y->dvalue * x->dcost; /* decreasing value per cost */
    return (l < r) - (l > r);
}

static bool out_of_time(stairs *S)
{
    if (S->aborted) return true;
    if (S->deadline > 0 && (S->nodes & 63) == 0 && ms_now() > S->deadline) S->aborted = true;
    return S->aborted;
}

/* An option's cost with the staircase fixed on segments [0, j), if allowed: its branch,
 * plus for c > j its average share of the undecided stem. */
static double open_cost(const stairs *S, const ms_option *o, int j)
{
    if (o->cut <= j) return o->branch;
    return o->branch + o->fps * (S->prefix[o->cut] - S->prefix[j]) / S->n;
}

/* Option costs with the staircase fixed on segments [0, j). */
static void node_costs(stairs *S, int j)
{
    const ms_problem *pb = S->pb;
    S->cost_j = j;
    for (int a = 0; a < S->n; a++) {
        const ms_app_options *ao = &pb->apps[a];
        double *row = S->cost + (size_t)a * S->kmax;
        for (int i = 0; i < ao->n_options; i++) {
            const ms_option *o = &ao->options[i];
            bool allowed = o->cut <= j ? (o->cut == 0 || o->fps <= S->G[o->cut - 1])
                                       : !(j > 0 && o->fps > S->G[j - 1]);
            row[i] = allowed ? open_cost(S, o, j) : INFINITY;
        }
    }
}

/* Collects app a's allowed options at the current node (G fixed on [0, cost_j)) that
 * are worth more than every cheaper allowed one into S->pts, cheapest first (ties: most
 * valuable first); returns how many. The others are on no upper hull and in no inner
 * order (a cheaper allowed option is worth as much). The order at each j, with each
 * option's cost there, is made once, up front: no node computes costs. */
static int allowed_by_cost(stairs *S, int a)
{
    int j = S->cost_j, k = 0, n = S->pb->apps[a].n_options;
    const option_at *o = S->by_cost + ((size_t)j * (size_t)S->n + (size_t)a) * (size_t)S->kmax;
    const double *G = S->G;
    double open = j > 0 ? G[j - 1] : INFINITY, top = -INFINITY; /* options with cut > j: fps at most G[j-1] */
    for (int p = 0; p < n; p++, o++) {
        if (o->value <= top) continue;
        bool allowed = o->cut <= j ? (o->cut == 0 || o->fps <= G[o->cut - 1]) : o->fps <= open;
        if (!allowed) continue;
        S->pts[k++] = (point){o->cost, o->value, o->option};
        top = o->value;
    }
    return k;
}

/* Appends app a's upper-hull steps (tagged pos) to S->steps; returns its cheapest point,
 * or cost INFINITY when it has no allowed option. */
static point app_hull(stairs *S, int a, int pos)
{
    int k = allowed_by_cost(S, a);
    if (k == 0) return (point){INFINITY, 0, -1};
    int h = 1;
    for (int i = 1; i < k; i++) {
        point p = S->pts[i];
        if (p.value <= S->pts[h - 1].value) continue;
        while (h >= 2) {
            point u = S->pts[h - 2], v = S->pts[h - 1];
            if ((v.value - u.value) * (p.cost - u.cost) <= (p.value - u.value) * (v.cost - u.cost)) h--;
            else break;
        }
        S->pts[h++] = p;
    }
    for (int i = 1; i < h; i++)
        S->steps[S->nsteps++] = (step){S->pts[i].cost - S->pts[i - 1].cost,
                                       S->pts[i].value - S->pts[i - 1].value, pos, S->pts[i].option};
    S->run_end[S->nruns++] = S->nsteps;
    return S->pts[0];
}

/* S->steps by decreasing value per cost, as a stable sort would leave them: each app's
 * hull steps (one run per app_hull call) already come by decreasing slope, so adjacent
 * runs are merged bottom-up (ties: the earlier run first). A run out of order (float
 * noise) falls back to qsort. */
static void sort_steps(stairs *S)
{
    for (int r = 0, from = 0; r < S->nruns; from = S->run_end[r++])
        for (int i = from + 1; i < S->run_end[r]; i++)
            if (compare_steps(&S->steps[i - 1], &S->steps[i]) > 0) {
                qsort(S->steps, (size_t)S->nsteps, sizeof *S->steps, compare_steps);
                return;
            }
    step *a = S->steps, *b = S->merge_buf;
    int n = S->nruns;
    int *end = S->run_end;
    while (n > 1) {
        int m = 0, from = 0;
        for (int r = 0; r < n; r += 2) {
            int mid = end[r], to = r + 1 < n ? end[r + 1] : end[r], i = from, j = mid, k = from;
            while (i < mid && j < to) b[k++] = compare_steps(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < to) b[k++] = a[j++];
            end[m++] = to;
            from = to;
        }
        n = m;
        step *t = a;
        a = b;
        b = t;
    }
    if (a != S->steps) memcpy(S->steps, a, sizeof *S->steps * (size_t)S->nsteps);
    S->nruns = n;
}

/* Greedy fill of sorted steps (skipping apps before position from) into room. */
static double fill_steps(const stairs *S, int from, double room)
{
    double gain = 0;
    for (int i = 0; i < S->nsteps; i++) {
        const step *st = &S->steps[i];
        if (st->pos < from) continue;
        if (st->dcost <= room) {
            room -= st->dcost;
            gain += st->dvalue;
        } else {
            return gain + st->dvalue * (room / st->dcost);
        }
    }
    return gain;
}

/* LP bound over all apps at the current costs; -INFINITY when nothing fits. */
static double lp_bound(stairs *S, double cap_left)
{
    S->nsteps = 0;
    S->nruns = 0;
    double base_cost = 0, base_value = 0;
    for (int a = 0; a < S->n; a++) {
        point p = app_hull(S, a, 0);
        if (p.cost == INFINITY) return -INFINITY;
        base_cost += p.cost;
        base_value += p.value;
    }
    S->lp_base_cost = base_cost;
    S->lp_base_value = base_value;
    if (base_cost > cap_left) return -INFINITY;
    sort_steps(S);
    return base_value + fill_steps(S, 0, cap_left - base_cost);
}

/* The last point of the frontier costing at most b (-1: none). */
static int front_at(const ms_frontier *F, double b)
{
    int lo = 0, hi = F->n; /* points [0, lo) cost at most b */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (F->cost[mid] <= b) lo = mid + 1;
        else hi = mid;
    }
    return lo - 1;
}

#define SAME_COST 1e-12 /* relative: costs this close are one (the walk's step down, joint.c) */

/* Adds a schedule to the frontier unless a point costing no more (to within SAME_COST)
 * is worth as much; drops the points it dominates so. Costs equal but for float
 * summation order are common (sums of the same unit costs); they are one budget, so
 * the more valuable schedule stands for both, as when walking. Returns false when out
 * of memory. */
bool ms_frontier_add(ms_frontier *F, double cost, double value, const int *choice)
{
    int i = front_at(F, cost * (1 + SAME_COST)), na = F->n_apps;
    if (i >= 0 && F->value[i] >= value) return true;
    int from = front_at(F, cost / (1 + SAME_COST)) + 1, to = from; /* points [from, to) go */
    if (from > 0 && F->cost[from - 1] >= cost / (1 + SAME_COST)) from--; /* (front_at keeps cost <= b) */
    while (to < F->n && F->value[to] <= value) to++;
    if (to == from && F->n == F->cap) {
        int cap = F->cap ? 2 * F->cap : 64;
        double *c = realloc(F->cost, sizeof *c * (size_t)cap);
        if (c) F->cost = c;
        double *v = c ? realloc(F->value, sizeof *v * (size_t)cap) : NULL;
        if (v) F->value = v;
        int *ch = v ? realloc(F->choice, sizeof *ch * (size_t)cap * (size_t)(na ? na : 1)) : NULL;
        if (!ch) return false;
        F->choice = ch;
        F->cap = cap;
    }
    int tail = F->n - to, shift = from + 1 - to; /* to - from points become one */
    memmove(F->cost + to + shift, F->cost + to, sizeof *F->cost * (size_t)tail);
    memmove(F->value + to + shift, F->value + to, sizeof *F->value * (size_t)tail);
    memmove(F->choice + (size_t)(to + shift) * (size_t)na, F->choice + (size_t)to * (size_t)na,
            sizeof *F->choice * (size_t)tail * (size_t)na);
    F->cost[from] = cost;
    F->value[from] = value;
    memcpy(F->choice + (size_t)from * (size_t)na, choice, sizeof *choice * (size_t)na);
    F->n += shift;
    return true;
}

static double tie_tol(double v) { return 1e-12 * fmax(1.0, fabs(v)); }

/* Frontier mode: the sums of the sorted steps before each, in the order (and so with
 * the rounding) in which a walk along them adds them. */
static void steps_prefix(stairs *S)
{
    S->cum_cost[0] = S->cum_value[0] = 0;
    for (int i = 0; i < S->nsteps; i++) {
        S->cum_cost[i + 1] = S->cum_cost[i] + S->steps[i].dcost;
        S->cum_value[i + 1] = S->cum_value[i] + S->steps[i].dvalue;
    }
}

/* The largest i in [lo, n] with cum[i] <= x (cum nondecreasing, cum[lo] <= x). */
static int cum_at(const double *cum, int lo, int n, double x)
{
    int hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (cum[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Frontier mode: the LP's gain over the cheapest options with room to spend (room >= 0),
 * from the sorted steps' sums: whole steps while they fit, the next one in part. */
static double lp_gain(const stairs *S, double room)
{
    int i = cum_at(S->cum_cost, 0, S->nsteps, room);
    double gain = S->cum_value[i];
    if (i < S->nsteps) gain += S->steps[i].dvalue * ((room - S->cum_cost[i]) / S->steps[i].dcost);
    return gain;
}

/* Frontier mode: whether a node can add nothing to the frontier within [lo, capacity].
 * Its completions cost at least low = spent + base_cost; at budget b its LP bound is
 * U(b) = base_value + the sorted steps (S->steps, every one an undecided app's, with
 * their sums from steps_prefix) filled into b - low, nondecreasing (and concave) in b,
 * U(capacity) = top. On each step of the frontier [cost_k, cost_k+1) (value v_k) that
 * meets [max(low, lo), capacity], U's supremum is U(cost_k+1) (or top on the last
 * step); the node is beaten when none of them exceeds its step's value. Steps worth top
 * or more need no look. Once step k passes, U stays at most v_k up to the budget B
 * where it reaches v_k, and every later step ending at or below B passes too (its
 * value exceeds v_k): the test jumps to the step holding B, so it looks at no more
 * frontier steps than there are LP steps, each found by binary search. */
static bool front_beaten(const stairs *S, double spent, double base_cost, double base_value, double top)
{
    const ms_frontier *F = S->front;
    double low = spent + base_cost;
    if (low > S->pb->capacity) return true;
    int i = 0, ns = S->nsteps;
    const step *st = S->steps;
    int k = front_at(F, fmax(low, S->lo));
    if (k < 0) return false; /* budgets in [low, the cheapest point) have no point yet */
    for (;;) {
        double v = F->value[k];
        if (top <= v + tie_tol(v)) return true;
        if (k + 1 >= F->n) return false; /* the last step reaches capacity, where U = top */
        double room = F->cost[k + 1] - low; /* > 0: cost_k+1 > low */
        i = cum_at(S->cum_cost, i, ns, room);
        double u = base_value + S->cum_value[i];
        if (i < ns) u += st[i].dvalue * ((room - S->cum_cost[i]) / st[i].dcost);
        if (u > v + tie_tol(v)) return false;
        double want = v - base_value; /* the gain at which U reaches v */
        i = cum_at(S->cum_value, i, ns, want);
        if (i == ns) return true; /* U never exceeds v: (top <= v, caught above) */
        double B = low + S->cum_cost[i] + st[i].dcost * ((want - S->cum_value[i]) / st[i].dvalue);
        int at = front_at(F, B);
        k = at > k + 1 ? at : k + 1;
    }
}

/* Frontier mode: a complete schedule (the inner search's options at every depth) of
 * cost at most `cost` under the staircase, recorded at its exact cost (the staircase may
 * be looser than its tight one). When a point costing less (by a margin for float
 * summation) is worth as much it is left out: under its tight staircase, where the two
 * costs agree, it would be left out too, and there it is met. */
static bool front_has_better(const stairs *S, double cost, double value)
{
    int at = front_at(S->front, cost - 1e-13 * S->pb->capacity);
    return at >= 0 && S->front->value[at] >= value;
}

/* Frontier mode: S->leaf_choice, worth value, costing at most cost under the staircase. */
static void front_record(stairs *S, double cost, double value)
{
    if (front_has_better(S, cost, value)) return;
    if (!ms_frontier_add(S->front, ms_problem_cost(S->pb, S->leaf_choice), value, S->leaf_choice))
        S->aborted = true; /* out of memory: reported as inexact */
}

static void record(stairs *S, double value)
{
    S->found = true;
    S->best_value = value;
    for (int d = 0; d < S->n; d++) {
        int a = S->order[d];
        S->best[a] = S->ord[(size_t)a * S->kmax + S->cur[d]];
    }
}

static bool beaten(const stairs *S, double bound)
{
    return S->found && bound <= S->best_value + 1e-12 * fmax(1.0, fabs(S->best_value));
}

static void inner(stairs *S, int d, double value, double cap_left)
{
    assert(!S->front); /* frontier mode's full staircases: leaf_frontier */
    if (d == S->n) {
        if (!S->found || value > S->best_value) record(S, value);
        return;
    }
    S->nodes++;
    if (out_of_time(S)) return;
    double room = cap_left - S->base_cost[d];
    if (room < 0) return;
    double bound = value + S->base_value[d] + fill_steps(S, d, room);
    if (beaten(S, bound)) return;
    int a = S->order[d];
    const ms_app_options *ao = &S->pb->apps[a];
    const double *row = S->cost + (size_t)a * S->kmax;
    const int *ord = S->ord + (size_t)a * S->kmax;
    int first = 0;
    if (d > 0 && ao->group == S->pb->apps[S->order[d - 1]].group) first = S->cur[d - 1];
    for (int k = first; k < S->nord[a] && !S->aborted; k++) {
        int i = ord[k];
        if (row[i] > cap_left) continue;
        S->cur[d] = k;
        inner(S, d + 1, value + ao->options[i].value, cap_left - row[i]);
    }
    if (S->aborted && bound > S->open_bound) S->open_bound = bound;
}

/* The price at which the LP relaxation runs out of room: the slope of the step that does
 * not fit whole (0 when everything fits). */
static double lp_price(const stairs *S, double room)
{
    for (int i = 0; i < S->nsteps; i++) {
        if (S->steps[i].dcost > room) return S->steps[i].dvalue / S->steps[i].dcost;
        room -= S->steps[i].dcost;
    }
    return 0;
}

/* Each app's useful options by decreasing v - lambda * cost: the first dive follows the
 * LP solution, so a near-optimal incumbent comes early. An allowed option that costs at
 * least as much as another and is worth no more is left out: swapping it for the other
 * never loses, and with many fps levels most options are such. Identical apps get
 * identical orders, which keeps the symmetry rule valid. */
static void order_options(stairs *S)
{
    for (int a = 0; a < S->n; a++) {
        int *ord = S->ord + (size_t)a * S->kmax, np = allowed_by_cost(S, a), k = 0;
        double top_value = -INFINITY;
        for (int p = 0; p < np; p++) {
            const point *pt = &S->pts[p];
            if (pt->value <= top_value) continue; /* dominated by a cheaper kept option */
            top_value = pt->value;
            double key = pt->value - S->lambda * pt->cost;
            int at = k++;
            while (at > 0 && S->key[at - 1] < key) { /* insertion: lists are short */
                S->key[at] = S->key[at - 1];
                ord[at] = ord[at - 1];
                at--;
            }
            S->key[at] = key;
            ord[at] = pt->option;
        }
        S->nord[a] = k;
    }
}

static int compare_states(const void *a, const void *b)
{
    const dp_state *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    return (x->value < y->value) - (x->value > y->value);
}

static bool dp_reserve(stairs *S, int which, size_t n)
{
    if (n <= (size_t)S->dp_cap[which]) return true;
    size_t cap = n * 2;
    if (cap > INT32_MAX) return false;
    dp_state *p = realloc(S->dp[which], sizeof *p * cap);
    if (!p) return false;
    S->dp[which] = p;
    S->dp_cap[which] = (int)cap;
    return true;
}

/* Appends (parent trail, option) to dp_from; returns where, or SIZE_MAX when out of memory. */
static size_t dp_trail(stairs *S, size_t parent, int option)
{
    if (S->dp_from_n + 2 > S->dp_from_cap) {
        size_t cap = S->dp_from_cap ? 2 * S->dp_from_cap : 4096;
        int *p = realloc(S->dp_from, sizeof *p * cap);
        if (!p) return SIZE_MAX;
        S->dp_from = p;
        S->dp_from_cap = cap;
    }
    size_t at = S->dp_from_n;
    if (at > INT32_MAX) return SIZE_MAX;
    S->dp_from[at] = (int)parent;
    S->dp_from[at + 1] = option;
    S->dp_from_n += 2;
    return at;
}

/* Drops the steps of apps at positions before from (the ones decided at that depth). */
static void steps_from(stairs *S, int from)
{
    int m = 0;
    for (int i = 0; i < S->nsteps; i++)
        if (S->steps[i].pos >= from) S->steps[m++] = S->steps[i];
    S->nsteps = m;
}

/* Merges the sorted runs of S->dp[which][0, m) (run r ends at S->run_end[r], nruns of
 * them) bottom-up into one list sorted by compare_states; returns the buffer holding
 * it (which or 2: S->dp[2] is the workspace, as large). */
static int dp_merge(stairs *S, int which, int nruns)
{
    dp_state *a = S->dp[which], *b = S->dp[2];
    int *end = S->run_end, ia = which, ib = 2;
    while (nruns > 1) {
        int r2 = 0, from = 0;
        for (int r = 0; r < nruns; r += 2) {
            int mid = end[r], to = r + 1 < nruns ? end[r + 1] : end[r], i = from, j = mid, k = from;
            while (i < mid && j < to) b[k++] = compare_states(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < to) b[k++] = a[j++];
            end[r2++] = to;
            from = to;
        }
        nruns = r2;
        dp_state *t = a;
        a = b;
        b = t;
        int ti = ia;
        ia = ib;
        ib = ti;
    }
    return ia;
}

/* Frontier mode at a full staircase: the knapsack's Pareto set by a dynamic programme
 * over the apps in search order (a state dominated by another, costing no more and
 * worth as much, is dropped: swapping in the other's options never loses), each state
 * dropped when front_beaten says its completions add nothing; the last stage's states
 * are recorded. Trails are indices into dp_from (-1 ends one). A stage's surviving
 * states come by increasing cost, so each option's children do too: the next stage is
 * the merge of one sorted run per option, and the steps of decided apps are dropped
 * as the depth grows. */
static void leaf_frontier(stairs *S, double cap_left)
{
    double spent = S->pb->capacity - cap_left;
    S->dp_from_n = 0;
    if (!dp_reserve(S, 0, 1)) {
        S->aborted = true;
        return;
    }
    S->dp[0][0] = (dp_state){0, 0, (size_t)-1};
    int n = 1, cur = 0;
    for (int d = 0; d < S->n && n > 0 && !S->aborted; d++) {
        int a = S->order[d], m = 0, nxt = cur == 0 ? 1 : 0, live = 0, nruns = 0;
        const double *row = S->cost + (size_t)a * S->kmax;
        const int *ord = S->ord + (size_t)a * S->kmax;
        const ms_option *opt = S->pb->apps[a].options;
        steps_from(S, d);
        steps_prefix(S);
        for (int k = 0; k < n && !S->aborted; k++) {
            dp_state st = S->dp[cur][k];
            S->nodes++;
            if (out_of_time(S)) break;
            double room = cap_left - st.cost - S->base_cost[d];
            if (room < 0) break; /* states by increasing cost: no later one fits either */
            double bound = st.value + S->base_value[d] + lp_gain(S, room);
            if (front_beaten(S, spent + st.cost, S->base_cost[d], st.value + S->base_value[d], bound)) continue;
            S->dp[cur][live++] = st;
        }
        if (S->aborted) break;
        if (!dp_reserve(S, nxt, (size_t)live * (size_t)S->nord[a] + 1) || !dp_reserve(S, 2, (size_t)S->dp_cap[nxt])) {
            S->aborted = true;
            break;
        }
        for (int i = 0; i < S->nord[a] && !S->aborted; i++) {
            for (int k = 0; k < live; k++) {
                const dp_state *st = &S->dp[cur][k];
                double c = st->cost + row[ord[i]];
                if (c > cap_left) break; /* by increasing cost */
                size_t t = dp_trail(S, st->trail, ord[i]);
                if (t == SIZE_MAX) {
                    S->aborted = true;
                    break;
                }
                S->dp[nxt][m++] = (dp_state){c, st->value + opt[ord[i]].value, t};
            }
            if (nruns == 0 || S->run_end[nruns - 1] < m) S->run_end[nruns++] = m;
        }
        if (S->aborted) break;
        int in = nruns > 0 ? dp_merge(S, nxt, nruns) : nxt;
        int u = 0; /* the Pareto set: value strictly rising with cost */
        for (int k = 0; k < m; k++) {
            const dp_state *x = &S->dp[in][k];
            dp_state *last = u > 0 ? &S->dp[nxt][u - 1] : NULL;
            /* (a run may hold equal costs by rising value: two parents' costs rounded to one) */
            if (last && x->cost == last->cost) {
                if (x->value > last->value) *last = *x;
            } else if (!last || x->value > last->value) {
                S->dp[nxt][u++] = *x;
            }
        }
        n = u;
        cur = nxt;
    }
    if (S->aborted) return;
    for (int k = 0; k < n && !S->aborted; k++) {
        const dp_state *st = &S->dp[cur][k];
        if (front_has_better(S, spent + st->cost, st->value)) continue;
        size_t t = st->trail;
        for (int d = S->n - 1; d >= 0; d--) {
            S->leaf_choice[S->order[d]] = S->dp_from[t + 1];
            t = (size_t)S->dp_from[t];
        }
        front_record(S, spent + st->cost, st->value);
    }
}

/* A full staircase: the knapsack over the options it allows, exactly. */
static void leaf(stairs *S, double cap_left)
{
    node_costs(S, S->nseg);
    S->nsteps = 0;
    S->nruns = 0;
    S->base_cost[S->n] = S->base_value[S->n] = 0;
    for (int d = S->n - 1; d >= 0; d--) {
        point p = app_hull(S, S->order[d], d);
        if (p.cost == INFINITY) return;
        S->base_cost[d] = S->base_cost[d + 1] + p.cost;
        S->base_value[d] = S->base_value[d + 1] + p.value;
    }
    sort_steps(S);
    if (S->base_cost[0] > cap_left) return;
    S->lambda = lp_price(S, cap_left - S->base_cost[0]);
    order_options(S);
    if (S->front) leaf_frontier(S, cap_left);
    else inner(S, 0, 0.0, cap_left);
}

typedef struct {
    double fps, bound;
    int level;
    double low; /* frontier mode: no completion costs less */
} child;

static int compare_children(const void *a, const void *b)
{
    const child *x = a, *y = b;
    return (x->bound < y->bound) - (x->bound > y->bound);
}

/* Whether the staircase may drop from level top_level at boundary j, drops made so far. */
static bool drop_allowed(const stairs *S, int j, int top_level, int drops)
{
    return drops < S->n && S->can_drop[(size_t)j * (size_t)S->pb->n_levels + (size_t)top_level];
}

/* Decides G[j] given G[0..j); stem_cost is the cost of segments [0, j); top_level is the
 * level of G[j-1] (-1 for none yet or 0 fps); drops counts the drops in G[0..j). */
static void outer(stairs *S, int j, double stem_cost, int top_level, int drops)
{
    const ms_problem *pb = S->pb;
    double cap_left = pb->capacity - stem_cost;
    if (j == S->nseg) {
        if (top_level < 0 || drop_allowed(S, j, top_level, drops)) leaf(S, cap_left);
        return;
    }
    S->nodes++;
    if (out_of_time(S)) return;
    double top = j > 0 ? S->G[j - 1] : INFINITY;
    child *kids = malloc(sizeof *kids * (size_t)(pb->n_levels + 1));
    if (!kids) {
        S->aborted = true; /* reported as an inexact result with its bound */
        return;
    }
    int nk = 0;
    for (int l = -1; l < pb->n_levels; l++) {
        double g = l < 0 ? 0 : pb->levels[l];
        if (g > top) break;
        if (j > 0 && top_level >= 0 && g < top && !drop_allowed(S, j, top_level, drops)) continue;
        /* G[j] = 0 ends the stem: every later segment is 0 too */
        for (int i = j; i < (g == 0 ? S->nseg : j + 1); i++) S->G[i] = g;
        S->cost_j = g == 0 ? S->nseg : j + 1; /* lp_bound needs no node costs, only the order at cost_j */
        double spent = stem_cost + pb->seg_cost[j] * g;
        if (S->front && S->cost_j == S->nseg) { /* a full staircase: its leaf makes this LP and test itself, later */
            kids[nk++] = (child){g, INFINITY, l, spent};
            continue;
        }
        double b = lp_bound(S, cap_left - pb->seg_cost[j] * g);
        if (b == -INFINITY) continue;
        if (S->front && (steps_prefix(S), front_beaten(S, spent, S->lp_base_cost, S->lp_base_value, b))) continue;
        kids[nk++] = (child){g, b, l, spent + S->lp_base_cost};
    }
    qsort(kids, (size_t)nk, sizeof *kids, compare_children);
    for (int k = 0; k < nk && !S->aborted; k++) {
        if (S->front) { /* the frontier grew since: a point costing no more than any completion, worth as much */
            int at = front_at(S->front, kids[k].low);
            if (at >= 0 && kids[k].bound <= S->front->value[at] + tie_tol(S->front->value[at])) continue;
        } else if (beaten(S, kids[k].bound)) {
            break;
        }
        double g = kids[k].fps;
        for (int i = j; i < (g == 0 ? S->nseg : j + 1); i++) S->G[i] = g;
        int dropped = j > 0 && top_level >= 0 && g < top;
        if (g == 0) leaf(S, cap_left);
        else outer(S, j + 1, stem_cost + pb->seg_cost[j] * g, kids[k].level, drops + dropped);
        if (S->aborted && kids[k].bound > S->open_bound) S->open_bound = kids[k].bound;
    }
    free(kids);
}

static bool stairs_init(stairs *S, const ms_problem *pb, double deadline)
{
    memset(S, 0, sizeof *S);
    S->pb = pb;
    S->n = pb->n_apps;
    S->nseg = pb->n_segs;
    S->deadline = deadline;
    S->open_bound = -INFINITY;
    int total = 0;
    for (int a = 0; a < pb->n_apps; a++) {
        if (pb->apps[a].n_options > S->kmax) S->kmax = pb->apps[a].n_options;
        total += pb->apps[a].n_options;
    }
    size_t n1 = (size_t)S->n + 1;
    S->order = malloc(sizeof *S->order * n1);
    S->prefix = calloc((size_t)S->nseg + 1, sizeof *S->prefix);
    S->G = calloc((size_t)S->nseg + 1, sizeof *S->G);
    S->by_cost = malloc(sizeof *S->by_cost * ((size_t)S->nseg + 1) * n1 * (size_t)(S->kmax + 1));
    S->can_drop = calloc(((size_t)S->nseg + 1) * (size_t)(pb->n_levels > 0 ? pb->n_levels : 1),
                         sizeof *S->can_drop);
    S->cost = malloc(sizeof *S->cost * n1 * (size_t)(S->kmax + 1));
    S->pts = malloc(sizeof *S->pts * (size_t)(S->kmax + 1));
    S->steps = malloc(sizeof *S->steps * (size_t)(total + 1));
    S->merge_buf = malloc(sizeof *S->merge_buf * (size_t)(total + 1));
    S->cum_cost = malloc(sizeof *S->cum_cost * (size_t)(total + 2));
    S->cum_value = malloc(sizeof *S->cum_value * (size_t)(total + 2));
    S->run_end = malloc(sizeof *S->run_end * (n1 + (size_t)S->kmax + 1)); /* app_hull: a run per app; leaf_frontier: per option */
    S->base_cost = malloc(sizeof *S->base_cost * n1);
    S->base_value = malloc(sizeof *S->base_value * n1);
    S->ord = malloc(sizeof *S->ord * n1 * (size_t)(S->kmax + 1));
    S->nord = calloc(n1, sizeof *S->nord);
    S->key = malloc(sizeof *S->key * (size_t)(S->kmax + 1));
    S->cur = calloc(n1, sizeof *S->cur);
    S->best = calloc(n1, sizeof *S->best);
    S->leaf_choice = calloc(n1, sizeof *S->leaf_choice);
    if (!S->leaf_choice || !S->order || !S->prefix || !S->G || !S->can_drop || !S->by_cost || !S->cost || !S->pts ||
        !S->steps || !S->merge_buf || !S->cum_cost || !S->cum_value || !S->run_end || !S->base_cost || !S->base_value || !S->ord || !S->nord || !S->key || !S->cur ||
        !S->best)
        return false;
    for (int j = 0; j < S->nseg; j++) S->prefix[j + 1] = S->prefix[j] + pb->seg_cost[j];
    for (int a = 0; a < pb->n_apps; a++)
        for (int i = 0; i < pb->apps[a].n_options; i++) {
            const ms_option *o = &pb->apps[a].options[i];
            S->can_drop[(size_t)o->cut * (size_t)pb->n_levels + (size_t)o->level] = true;
        }
    for (int j = 0; j <= S->nseg; j++)
        for (int a = 0; a < pb->n_apps; a++) {
            const ms_app_options *ao = &pb->apps[a];
            option_at *sorted = S->by_cost + ((size_t)j * (size_t)S->n + (size_t)a) * (size_t)S->kmax;
            for (int i = 0; i < ao->n_options; i++)
                S->pts[i] = (point){open_cost(S, &ao->options[i], j), ao->options[i].value, i};
            qsort(S->pts, (size_t)ao->n_options, sizeof *S->pts, compare_points);
            for (int i = 0; i < ao->n_options; i++) {
                const ms_option *o = &ao->options[S->pts[i].option];
                sorted[i] = (option_at){S->pts[i].cost, o->fps, o->value, o->cut, S->pts[i].option};
            }
        }
    ms_search_order(pb, S->order);
    return true;
}

static void stairs_free(stairs *S)
{
    free(S->order);
    free(S->prefix);
    free(S->G);
    free(S->can_drop);
    free(S->by_cost);
    free(S->cost);
    free(S->pts);
    free(S->steps);
    free(S->merge_buf);
    free(S->cum_cost);
    free(S->cum_value);
    free(S->run_end);
    free(S->base_cost);
    free(S->base_value);
    free(S->ord);
    free(S->nord);
    free(S->key);
    free(S->cur);
    free(S->best);
    free(S->leaf_choice);
    free(S->dp[0]);
    free(S->dp[1]);
    free(S->dp[2]);
    free(S->dp_from);
}

/* One exact search on an initialised S (the problem's capacity as it is now). */
static void exact_run(stairs *S, double deadline, bool had_incumbent, int *choice, ms_search_result *res)
{
    const ms_problem *pb = S->pb;
    S->deadline = deadline;
    S->open_bound = -INFINITY;
    S->found = false;
    S->best_value = 0;
    S->nodes = 0;
    S->aborted = false;
    memset(res, 0, sizeof *res);
    if (had_incumbent) {
        S->found = true;
        for (int a = 0; a < pb->n_apps; a++) {
            S->best[a] = choice[a];
            S->best_value += pb->apps[a].options[choice[a]].value;
        }
    }
    outer(S, 0, 0.0, -1, 0);
    res->found = S->found;
    res->value = S->best_value;
    res->exact = !S->aborted;
    res->bound = S->aborted ? fmax(S->open_bound, S->best_value) : S->best_value;
    if (!S->found && !S->aborted) res->bound = -INFINITY;
    res->nodes = S->nodes;
    if (S->found) memcpy(choice, S->best, sizeof *choice * (size_t)pb->n_apps);
}

ms_status ms_search_exact(const ms_problem *pb, double deadline, int *choice, ms_search_result *res,
                          ms_error *err)
{
    stairs S;
    bool had_incumbent = res->found;
    if (!stairs_init(&S, pb, deadline)) {
        stairs_free(&S);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    exact_run(&S, deadline, had_incumbent, choice, res);
    stairs_free(&S);
    return MS_OK;
}

struct ms_search_ctx {
    stairs S;
};

ms_status ms_search_ctx_new(const ms_problem *pb, ms_search_ctx **out, ms_error *err)
{
    *out = calloc(1, sizeof **out);
    if (*out && stairs_init(&(*out)->S, pb, 0)) return MS_OK;
    ms_search_ctx_free(*out);
    *out = NULL;
    return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
}

void ms_search_ctx_exact(ms_search_ctx *c, double deadline, int *choice, ms_search_result *res)
{
    exact_run(&c->S, deadline, res->found, choice, res);
}

/* Frontier mode: a first frontier before the search, so that it prunes from the start
 * (the search's first dives follow the LP at the whole capacity, where most staircases
 * bound alike, and would leave the cheap end empty for long). For every uniform stem
 * (one rate up to one chokepoint) the knapsack it leaves, walked up its LP: every app at
 * its cheapest allowed option, then hull steps by decreasing value per cost, each prefix
 * a schedule (each app's steps come in its own hull's order). */
static void front_seed(stairs *S)
{
    const ms_problem *pb = S->pb;
    for (int c = 0; c <= S->nseg && !S->aborted; c++)
        for (int l = 0; l < (c == 0 ? 1 : pb->n_levels) && !S->aborted; l++) {
            double f = c == 0 ? 0 : pb->levels[l], cost = f * S->prefix[c], value = 0;
            for (int j = 0; j < S->nseg; j++) S->G[j] = j < c ? f : 0;
            node_costs(S, S->nseg);
            S->nsteps = 0;
            S->nruns = 0;
            bool ok = true;
            for (int a = 0; a < S->n && ok; a++) {
                point p = app_hull(S, a, a);
                ok = p.cost < INFINITY;
                S->leaf_choice[a] = p.option;
                cost += p.cost;
                value += p.value;
            }
            if (!ok || cost > pb->capacity) continue;
            sort_steps(S);
            front_record(S, cost, value);
            for (int i = 0; i < S->nsteps && !S->aborted; i++) {
                const step *st = &S->steps[i];
                int a = st->pos, from = S->leaf_choice[a]; /* (steps out of hull order after float noise: still a schedule) */
                const double *row = S->cost + (size_t)a * S->kmax;
                if ((cost += row[st->to] - row[from]) > pb->capacity) break;
                value += pb->apps[a].options[st->to].value - pb->apps[a].options[from].value;
                S->leaf_choice[a] = st->to;
                front_record(S, cost, value);
            }
        }
}

ms_status ms_search_ctx_frontier(ms_search_ctx *c, double lo, double deadline, ms_frontier *out,
                                 ms_search_result *res, ms_error *err)
{
    stairs *S = &c->S;
    memset(out, 0, sizeof *out);
    memset(res, 0, sizeof *res);
    out->n_apps = S->n;
    S->front = out;
    S->lo = lo;
    S->deadline = deadline;
    S->open_bound = -INFINITY;
    S->found = false;
    S->nodes = 0;
    S->aborted = false;
    front_seed(S);
    outer(S, 0, 0.0, -1, 0);
    S->front = NULL;
    res->found = out->n > 0;
    res->value = out->n > 0 ? out->value[out->n - 1] : 0;
    res->exact = !S->aborted;
    res->bound = S->aborted ? fmax(S->open_bound, res->value) : res->value;
    res->nodes = S->nodes;
    if (S->aborted && (deadline <= 0 || ms_now() <= deadline)) { /* only memory stops it early otherwise */
        ms_frontier_free(out);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    return MS_OK;
}

/* The largest LP bound over the staircases' first `depth` segments (each segment's
 * rate among the levels or 0, non-increasing), the cost of those segments exact. */
static double branch_bound(stairs *S, int j, double cap_left, int depth)
{
    if (j == S->nseg || depth == 0) {
        node_costs(S, j);
        return lp_bound(S, cap_left);
    }
    double top = j > 0 ? S->G[j - 1] : INFINITY, best = -INFINITY;
    for (int l = -1; l < S->pb->n_levels; l++) {
        double g = l < 0 ? 0 : S->pb->levels[l];
        if (g > top) break;
        for (int i = j; i < (g == 0 ? S->nseg : j + 1); i++) S->G[i] = g;
        double b = g == 0 ? (node_costs(S, S->nseg), lp_bound(S, cap_left))
                          : branch_bound(S, j + 1, cap_left - S->pb->seg_cost[j] * g, depth - 1);
        best = fmax(best, b);
    }
    return best;
}

double ms_search_ctx_bound(ms_search_ctx *c, double capacity)
{
    return branch_bound(&c->S, 0, capacity, 1);
}

void ms_frontier_free(ms_frontier *f)
{
    free(f->cost);
    free(f->value);
    free(f->choice);
    memset(f, 0, sizeof *f);
}

void ms_search_ctx_free(ms_search_ctx *c)
{
    if (!c) return;
    stairs_free(&c->S);
    free(c);
}

/* The knapsack under one staircase, rounded greedily: every app at its cheapest allowed
 * option, then hull steps by decreasing value per cost while they fit (an app whose step
 * does not fit takes no further step). Returns false when the cheapest options do not fit. */
static bool round_knapsack(stairs *S, double cap_left, int *choice, double *value)
{
    node_costs(S, S->nseg);
    S->nsteps = 0;
    S->nruns = 0;
    double cost = 0;
    *value = 0;
    for (int a = 0; a < S->n; a++) {
        point p = app_hull(S, a, a);
        if (p.cost == INFINITY) return false;
        choice[a] = p.option;
        cost += p.cost;
        *value += p.value;
        S->cur[a] = 0; /* 1: blocked */
    }
    if (cost > cap_left) return false;
    sort_steps(S);
    for (int i = 0; i < S->nsteps; i++) {
        const step *st = &S->steps[i];
        if (S->cur[st->pos]) continue;
        if (cost + st->dcost > cap_left) {
            S->cur[st->pos] = 1;
            continue;
        }
        cost += st->dcost;
        *value += st->dvalue;
        choice[st->pos] = st->to;
    }
    return true;
}

ms_status ms_search_uniform_stems(const ms_problem *pb, int *choice, bool *found, ms_error *err)
{
    stairs S;
    *found = false;
    int *trial = malloc(sizeof *trial * (size_t)(pb->n_apps + 1));
    if (!trial || !stairs_init(&S, pb, 0)) {
        if (trial) stairs_free(&S);
        free(trial);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    double best = -INFINITY;
    for (int c = 0; c <= S.nseg; c++)
        for (int l = 0; l < (c == 0 ? 1 : pb->n_levels); l++) {
            double f = c == 0 ? 0 : pb->levels[l], value;
            for (int j = 0; j < S.nseg; j++) S.G[j] = j < c ? f : 0;
            if (round_knapsack(&S, pb->capacity - f * S.prefix[c], trial, &value) && value > best) {
                best = value;
                *found = true;
                memcpy(choice, trial, sizeof *choice * (size_t)pb->n_apps);
            }
        }
    stairs_free(&S);
    free(trial);
    return MS_OK;
}

/* Sum over apps of their cheapest allowed option at the current costs (INFINITY when an
 * app has none); with pick set, each app's cheapest option goes to S->best. */
static double cheapest_total(stairs *S, bool pick)
{
    double total = 0;
    for (int a = 0; a < S->n; a++) {
        const double *row = S->cost + (size_t)a * S->kmax;
        int arg = -1;
        for (int i = 0; i < S->pb->apps[a].n_options; i++)
            if (row[i] < INFINITY && (arg < 0 || row[i] < row[arg])) arg = i;
        if (arg < 0) return INFINITY;
        total += row[arg];
        if (pick) S->best[a] = arg;
    }
    return total;
}

/* Feasibility (max-min objective): is there a staircase under which every app's cheapest
 * allowed option fits? Same outer search, bounded by the cheapest completion; stops at the
 * first schedule that fits. */
static void feasible_outer(stairs *S, int j, double stem_cost)
{
    const ms_problem *pb = S->pb;
    double cap_left = pb->capacity - stem_cost;
    if (S->found || out_of_time(S)) return;
    S->nodes++;
    double top = j > 0 ? S->G[j - 1] : INFINITY;
    child *kids = malloc(sizeof *kids * (size_t)(pb->n_levels + 1));
    if (!kids) {
        S->aborted = true;
        return;
    }
    int nk = 0;
    for (int l = -1; l < pb->n_levels; l++) {
        double g = l < 0 ? 0 : pb->levels[l];
        if (g > top) break;
        bool ends = g == 0 || j + 1 == S->nseg;
        for (int i = j; i < (g == 0 ? S->nseg : j + 1); i++) S->G[i] = g;
        node_costs(S, ends ? S->nseg : j + 1);
        double lower = pb->seg_cost[j] * g + cheapest_total(S, ends);
        if (lower > cap_left) continue;
        if (ends) { /* a complete staircase that fits: S->best holds its options */
            S->found = true;
            break;
        }
        kids[nk++] = (child){g, lower, l, 0};
    }
    /* cheapest children first: the one most likely to fit */
    qsort(kids, (size_t)nk, sizeof *kids, compare_children);
    for (int k = nk - 1; k >= 0 && !S->found && !S->aborted; k--) {
        double g = kids[k].fps;
        S->G[j] = g;
        feasible_outer(S, j + 1, stem_cost + pb->seg_cost[j] * g);
    }
    free(kids);
}

ms_status ms_search_feasible(const ms_problem *pb, double deadline, int *choice, ms_search_result *res,
                             ms_error *err)
{
    stairs S;
    memset(res, 0, sizeof *res);
    if (!stairs_init(&S, pb, deadline)) {
        stairs_free(&S);
        return ms_errorf(err, MS_ERR_NOMEM, "scheduler: out of memory");
    }
    if (S.nseg == 0) {
        node_costs(&S, 0);
        S.found = cheapest_total(&S, true) <= pb->capacity;
    } else {
        feasible_outer(&S, 0, 0.0);
    }
    res->found = S.found;
    res->exact = S.found || !S.aborted;
    res->nodes = S.nodes;
    if (S.found)
        for (int a = 0; a < pb->n_apps; a++) {
            choice[a] = S.best[a];
            res->value += pb->apps[a].options[S.best[a]].value;
        }
    stairs_free(&S);
    return MS_OK;
}

static double option_spread(const ms_app_options *ao)
{
    if (ao->n_options == 0) return 0;
    return ao->options[0].value - ao->options[ao->n_options - 1].value;
}

static int compare_order(const void *a, const void *b, void *ctx)
{
    const ms_problem *pb = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    const ms_app_options *ax = &pb->apps[x], *ay = &pb->apps[y];
    double sx = option_spread(&pb->apps[ax->group]), sy = option_spread(&pb->apps[ay->group]);
    if (sx != sy) return sx < sy ? 1 : -1;
    if (ax->group != ay->group) return ax->group - ay->group;
    return x - y;
}

void ms_search_order(const ms_problem *pb, int *order)
{
    for (int a = 0; a < pb->n_apps; a++) order[a] = a;
    qsort_r(order, (size_t)pb->n_apps, sizeof *order, compare_order, (void *)pb);
}
