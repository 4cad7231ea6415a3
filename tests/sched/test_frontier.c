/* The whole-frontier search (ms_search_ctx_frontier, stairs.c): on streams of the
 * reference apps with their full curves it returns exactly the points the exact search
 * walks one by one (the optimum within a capacity, then within just less than its cost,
 * ...), and on small random scenarios exactly the Pareto set of every schedule. */
#include "fixtures.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/problem.h"
#include "sched/simulate.h"


/* The frontier walked by the per-point exact search from capacity down, by increasing
 * cost (as the frontier search returns it): n points into cost/value. */
static int walk(ms_problem *pb, ms_search_ctx *ctx, double capacity, double *cost, double *value, int max)
{
    int n = 0, *choice = calloc((size_t)pb->n_apps + 1, sizeof *choice);
    assert_non_null(choice);
    double cap = capacity;
    for (;;) {
        pb->capacity = cap;
        ms_search_result res = {0};
        ms_search_ctx_exact(ctx, 0, choice, &res);
        assert_true(res.exact);
        if (!res.found) break;
        double c = ms_problem_cost(pb, choice);
        assert_true(c <= cap);
        if (n > 0 && res.value >= value[n - 1]) { /* a cheaper schedule of the same value */
            assert_true(res.value <= value[n - 1] + 1e-12);
            cost[n - 1] = c;
        } else {
            assert_true(n < max);
            cost[n] = c;
            value[n++] = res.value;
        }
        if (c <= 0) break;
        cap = c * (1 - 1e-12);
    }
    pb->capacity = capacity;
    free(choice);
    for (int i = 0; i < n / 2; i++) { /* increasing cost */
        double t = cost[i];
        cost[i] = cost[n - 1 - i];
        cost[n - 1 - i] = t;
        t = value[i];
        value[i] = value[n - 1 - i];
        value[n - 1 - i] = t;
    }
    return n;
}

/* Every frontier point's schedule costs and is worth what the point says. */
static void check_points(const ms_problem *pb, const ms_frontier *f)
{
    for (int i = 0; i < f->n; i++) {
        const int *ch = f->choice + (size_t)i * (size_t)f->n_apps;
        double v = 0;
        for (int a = 0; a < pb->n_apps; a++) v += pb->apps[a].options[ch[a]].value;
        assert_float_equal(v, f->value[i], 1e-9);
        assert_float_equal(ms_problem_cost(pb, ch), f->cost[i], 1e-9 * fmax(1, f->cost[i]));
        assert_true(f->cost[i] <= pb->capacity);
        if (i > 0) assert_true(f->cost[i] > f->cost[i - 1] && f->value[i] > f->value[i - 1]);
    }
}

/* Streams of 2, 3, 4 and 6 reference apps under mean F1, FNR and FPR: the frontier over
 * [0, budget] equals the walk, point for point (costs and values to 1e-9); over
 * [budget / 2, budget] its points from budget / 2 up equal the walk's. */
static void test_frontier_equals_the_walk(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("reference/mobilenet_apps.json");
    ms_reference ref;
    ms_error err;
    if (ms_reference_load(ms_test_data("reference/mobilenet_apps.json"), &ref, &err)) fail_msg("%s", err.msg);
    unsigned seed = 31;
    const int apps[4] = {2, 3, 4, 6};
    const ms_objective objs[4] = {MS_OBJ_MEAN_F1, MS_OBJ_MEAN_FNR, MS_OBJ_MEAN_FPR, MS_OBJ_MEAN_F1};
    enum { MAX = 8192 };
    double *wc = malloc(sizeof(double) * MAX), *wv = malloc(sizeof(double) * MAX);
    assert_non_null(wc);
    assert_non_null(wv);
    for (int t = 0; t < 4; t++) {
        ms_scenario sc;
        reference_stream(&ref, &seed, &sc, apps[t]);
        assert_true(sc.apps[0].n_points >= 16);
        sc.budget = 10.0 * apps[t];
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, objs[t], false, 0};
        ms_problem pb;
        if (ms_problem_build(&sc, &cfg, &pb, &err)) fail_msg("%s", err.msg);
        ms_search_ctx *ctx;
        assert_int_equal(ms_search_ctx_new(&pb, &ctx, &err), MS_OK);
        int n = walk(&pb, ctx, pb.capacity, wc, wv, MAX);
        assert_true(n >= 10);
        ms_frontier f;
        ms_search_result res;
        assert_int_equal(ms_search_ctx_frontier(ctx, 0, 0, &f, &res, &err), MS_OK);
        assert_true(res.exact && res.found);
        check_points(&pb, &f);
        if (f.n != n) {
            for (int i = 0; i < (n > f.n ? n : f.n); i++)
                print_message("%d: %.15f %.12f | %.15f %.12f\n", i, i < f.n ? f.cost[i] : 0, i < f.n ? f.value[i] : 0,
                              i < n ? wc[i] : 0, i < n ? wv[i] : 0);
            fail_msg("stream %d: the frontier search has %d points, the walk %d", t, f.n, n);
        }
        for (int i = 0; i < n; i++) {
            assert_float_equal(f.cost[i], wc[i], 1e-9 * fmax(1, wc[i]));
            assert_float_equal(f.value[i], wv[i], 1e-9);
        }
        print_message("%d apps (%s): %d frontier points\n", apps[t], ms_objective_name(objs[t]), n);
        ms_frontier_free(&f);
        /* a range: the points from lo up */
        double lo = sc.budget / 2;
        assert_int_equal(ms_search_ctx_frontier(ctx, lo, 0, &f, &res, &err), MS_OK);
        assert_true(res.exact);
        check_points(&pb, &f);
        int first = 0, mine = 0;
        while (first < n && wc[first] < lo) first++;
        while (mine < f.n && f.cost[mine] < lo) mine++;
        assert_int_equal(f.n - mine, n - first);
        for (int i = first; i < n; i++) {
            assert_float_equal(f.cost[mine + i - first], wc[i], 1e-9 * fmax(1, wc[i]));
            assert_float_equal(f.value[mine + i - first], wv[i], 1e-9);
        }
        ms_frontier_free(&f);
        ms_search_ctx_free(ctx);
        ms_problem_free(&pb);
        ms_scenario_free(&sc);
    }
    free(wc);
    free(wv);
    ms_reference_free(&ref);
}

/* A random scenario: 2-5 units, 1-3 apps with 1-3 curve points (0 among them), 2-3 fps
 * with integer options (and 0.1..0.9 from the default model). */
static void random_scenario(unsigned *seed, ms_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->n_units = 2 + (int)(uniform(seed) * 4);
    s->unit_costs = malloc(sizeof(double) * (size_t)s->n_units);
    for (int u = 0; u < s->n_units; u++) s->unit_costs[u] = 0.1 + uniform(seed) * 3;
    s->stream_fps = 2 + (int)(uniform(seed) * 2);
    s->fps_options = malloc(sizeof(double) * 4);
    for (int i = 1; i <= (int)s->stream_fps; i++) s->fps_options[s->n_fps++] = i;
    s->n_apps = 1 + (int)(uniform(seed) * 3);
    s->apps = calloc((size_t)s->n_apps, sizeof *s->apps);
    double total = 0;
    for (int u = 0; u < s->n_units; u++) total += s->unit_costs[u];
    s->budget = uniform(seed) * total * s->stream_fps * s->n_apps;
    for (int a = 0; a < s->n_apps; a++) {
        ms_app *app = &s->apps[a];
        app->name = strdup("app");
        app->event = (ms_event_params){.event_length_ms = 100 + uniform(seed) * 900,
                                       .event_frequency = 0.05 + uniform(seed) * 0.9,
                                       .correlation = uniform(seed) * 0.5};
        app->weight = uniform(seed) < 0.3 ? 0.5 + uniform(seed) : 1.0;
        app->curve = calloc(3, sizeof *app->curve);
        int k = 0, points = 1 + (int)(uniform(seed) * 3);
        for (int i = 0; i < points; i++) {
            int c = i == 0 ? 0 : app->curve[k - 1].chokepoint + 1 + (int)(uniform(seed) * 2);
            if (c > s->n_units) break;
            app->curve[k++] = (ms_scenario_point){c, 0.3 + uniform(seed) * 0.7, uniform(seed) * 0.3};
        }
        app->n_points = k;
    }
}

typedef struct {
    double cost, value;
} pv;

static int by_cost_then_value(const void *x, const void *y)
{
    const pv *p = x, *q = y;
    if (p->cost != q->cost) return p->cost < q->cost ? -1 : 1;
    return (p->value < q->value) - (p->value > q->value);
}

/* The frontier as the walk finds it, from every combination of the problem's options
 * within its capacity: the most valuable (the cheapest of them on a tie), then the most
 * valuable costing under 1 - 1e-12 times its cost, and so on; n points into cost/value
 * by increasing cost. */
static int brute_frontier(const ms_problem *pb, double *cost, double *value, int max)
{
    enum { ALL = 200000 };
    int idx[3] = {0}, n = 0, m = 0;
    pv *all = malloc(sizeof *all * ALL);
    int *arg = malloc(sizeof *arg * ALL); /* arg[k]: the most valuable of all[0..k], the first on a tie */
    assert_non_null(all);
    assert_non_null(arg);
    for (;;) {
        double val = 0;
        for (int a = 0; a < pb->n_apps; a++) val += pb->apps[a].options[idx[a]].value;
        double k = ms_problem_cost(pb, idx);
        if (k <= pb->capacity) {
            assert_true(m < ALL);
            all[m++] = (pv){k, val};
        }
        int a = 0;
        while (a < pb->n_apps && ++idx[a] == pb->apps[a].n_options) idx[a++] = 0;
        if (a == pb->n_apps) break;
    }
    qsort(all, (size_t)m, sizeof *all, by_cost_then_value);
    for (int k = 0; k < m; k++) arg[k] = k == 0 || all[k].value > all[arg[k - 1]].value ? k : arg[k - 1];
    double cap = pb->capacity;
    for (int k = m - 1;;) {
        while (k >= 0 && all[k].cost > cap) k--;
        if (k < 0) break;
        const pv *p = &all[arg[k]];
        assert_true(n < max);
        cost[n] = p->cost;
        value[n++] = p->value;
        if (p->cost <= 0) break;
        cap = p->cost * (1 - 1e-12);
    }
    for (int i = 0; i < n / 2; i++) { /* increasing cost */
        pv t = {cost[i], value[i]};
        cost[i] = cost[n - 1 - i];
        value[i] = value[n - 1 - i];
        cost[n - 1 - i] = t.cost;
        value[n - 1 - i] = t.value;
    }
    free(all);
    free(arg);
    return n;
}

/* 200 random scenarios, mean F1 and mean FNR: the frontier search returns exactly the
 * Pareto set found by enumeration. */
static void test_frontier_against_brute_force(void **state)
{
    (void)state;
    unsigned seed = 99;
    int points = 0;
    for (int t = 0; t < 200; t++) {
        ms_scenario sc;
        random_scenario(&seed, &sc);
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, t % 2 ? MS_OBJ_MEAN_FNR : MS_OBJ_MEAN_F1, false, 0};
        ms_problem pb;
        ms_error err;
        if (ms_problem_build(&sc, &cfg, &pb, &err)) fail_msg("%s", err.msg);
        double bc[4096], bv[4096];
        int n = brute_frontier(&pb, bc, bv, 4096);
        ms_search_ctx *ctx;
        assert_int_equal(ms_search_ctx_new(&pb, &ctx, &err), MS_OK);
        ms_frontier f;
        ms_search_result res;
        assert_int_equal(ms_search_ctx_frontier(ctx, 0, 0, &f, &res, &err), MS_OK);
        assert_true(res.exact);
        check_points(&pb, &f);
        if (f.n != n) {
            for (int i = 0; i < (n > f.n ? n : f.n); i++)
                print_message("%d: %.12f %.12f | %.12f %.12f\n", i, i < f.n ? f.cost[i] : 0, i < f.n ? f.value[i] : 0,
                              i < n ? bc[i] : 0, i < n ? bv[i] : 0);
            fail_msg("scenario %d: the frontier search has %d points, enumeration %d", t, f.n, n);
        }
        for (int i = 0; i < n; i++) {
            assert_float_equal(f.cost[i], bc[i], 1e-9 * fmax(1, bc[i]));
            assert_float_equal(f.value[i], bv[i], 1e-9);
        }
        points += n;
        ms_frontier_free(&f);
        ms_search_ctx_free(ctx);
        ms_problem_free(&pb);
        ms_scenario_free(&sc);
    }
    assert_true(points >= 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frontier_equals_the_walk),
        cmocka_unit_test(test_frontier_against_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
