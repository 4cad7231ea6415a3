/* Tests of the cost model and the search: costs against a hand computation and a direct
 * recomputation, the exact search against brute-force enumeration on hundreds of random
 * small scenarios (every objective and policy), the greedy's feasibility, the stem tree. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/schedule.h"

static double uniform(unsigned *seed) { return rand_r(seed) / (double)RAND_MAX; }

/* A random scenario: 2-6 units, 1-4 apps with 1-3 curve points (0 always among them),
 * stream rate 2-4 with integer options, a budget between nothing and plenty. fractional
 * adds the rates 0.1 .. 0.9 to the options and keeps to 1-3 apps (brute force stays small). */
static void random_scenario(unsigned *seed, ms_scenario *s, bool fractional)
{
    memset(s, 0, sizeof *s);
    s->n_units = 2 + (int)(uniform(seed) * 5);
    s->unit_costs = malloc(sizeof(double) * (size_t)s->n_units);
    double total = 0;
    for (int u = 0; u < s->n_units; u++) total += s->unit_costs[u] = 0.1 + uniform(seed) * 3;
    s->stream_fps = 2 + (int)(uniform(seed) * 3);
    s->fps_options = malloc(sizeof(double) * (size_t)(s->stream_fps + 9));
    s->n_fps = 0;
    for (int i = 1; fractional && i <= 9; i++) s->fps_options[s->n_fps++] = i * 0.1;
    for (int i = 1; i <= (int)s->stream_fps; i++) s->fps_options[s->n_fps++] = i;
    s->n_apps = 1 + (int)(uniform(seed) * (fractional ? 3 : 4));
    s->apps = calloc((size_t)s->n_apps, sizeof *s->apps);
    for (int a = 0; a < s->n_apps; a++) {
        ms_app *app = &s->apps[a];
        app->name = strdup("app");
        app->event = (ms_event_params){.event_length_ms = 100 + uniform(seed) * 900,
                                       .event_frequency = 0.05 + uniform(seed) * 0.9,
                                       .correlation = uniform(seed) * 0.5,
                                       .x_vote = uniform(seed) < 0.3 ? 2 : 0};
        app->weight = uniform(seed) < 0.3 ? 0.5 + uniform(seed) : 1.0;
        /* identical apps now and then, to exercise symmetry breaking */
        if (a > 0 && uniform(seed) < 0.3) {
            free(app->name);
            ms_app_copy(&s->apps[a - 1], app, NULL);
            continue;
        }
        app->n_points = 1 + (int)(uniform(seed) * 3);
        app->curve = calloc((size_t)app->n_points, sizeof *app->curve);
        for (int i = 0; i < app->n_points; i++) {
            int c = i == 0 ? 0 : app->curve[i - 1].chokepoint + 1 + (int)(uniform(seed) * 2);
            app->curve[i].chokepoint = c > s->n_units ? s->n_units : c;
            app->curve[i].tpr = 0.3 + uniform(seed) * 0.7;
            app->curve[i].fpr = uniform(seed) * 0.3;
        }
        int k = 1; /* keep chokepoints distinct */
        for (int i = 1; i < app->n_points; i++)
            if (app->curve[i].chokepoint != app->curve[k - 1].chokepoint) app->curve[k++] = app->curve[i];
        app->n_points = k;
    }
    s->budget = uniform(seed) * total * s->stream_fps * s->n_apps * 0.7;
}

static double objective_metric(ms_objective o, const ms_event_metrics *m)
{
    return o == MS_OBJ_MEAN_FNR ? m->fnr : o == MS_OBJ_MEAN_FPR ? m->fpr : m->f1;
}

typedef struct {
    int chokepoint;
    double fps, metric, f1;
} choice;

/* The (point, fps) choices a policy gives app a, with their metrics. */
static int app_choices(const ms_scenario *s, const ms_sched_config *cfg, int a, choice *out)
{
    const ms_app *app = &s->apps[a];
    double levels[32];
    int nl = 0, n = 0;
    for (int i = 0; i < s->n_fps; i++) levels[nl++] = s->fps_options[i];
    /* No-Sharing always, Mainstream and greedy outside compat, also try 0.1 .. 0.9 fps */
    if (cfg->policy == MS_POLICY_NOSHARING || (!cfg->compat && cfg->policy != MS_POLICY_MAXSHARING))
        for (int i = 1; i <= 9; i++) levels[nl++] = i * 0.1;
    for (int p = 0; p < app->n_points; p++) {
        if (cfg->policy == MS_POLICY_MAXSHARING && p != app->n_points - 1) continue;
        if (cfg->policy == MS_POLICY_NOSHARING && app->curve[p].chokepoint != 0) continue;
        for (int l = 0; l < nl; l++) {
            ms_event_metrics m;
            ms_app_metrics(app, s->stream_fps, app->curve[p].chokepoint, levels[l], cfg->compat, &m, NULL);
            out[n++] = (choice){app->curve[p].chokepoint, levels[l], objective_metric(cfg->objective, &m), m.f1};
        }
    }
    return n;
}

/* Best value by enumerating every combination of choices; false when nothing fits.
 * Values are oriented to maximise. */
static bool brute_force(const ms_scenario *s, const ms_sched_config *cfg, double *best)
{
    int n = s->n_apps, idx[8] = {0}, count[8], cps[8];
    double fps[8];
    choice opts[8][96];
    for (int a = 0; a < n; a++) count[a] = app_choices(s, cfg, a, opts[a]);
    bool found = false;
    for (;;) {
        double sum = 0, wsum = 0, min = INFINITY;
        for (int a = 0; a < n; a++) {
            const choice *c = &opts[a][idx[a]];
            cps[a] = c->chokepoint;
            fps[a] = c->fps;
            double w = cfg->objective == MS_OBJ_MIN_F1 ? 1 : s->apps[a].weight;
            sum += w * c->metric;
            wsum += w;
            min = fmin(min, c->f1);
        }
        if (ms_schedule_cost(s, cps, fps, false) <= s->budget + 1e-9 * fmax(1, s->budget)) {
            double v = cfg->objective == MS_OBJ_MIN_F1 ? min : sum / wsum;
            if (cfg->objective == MS_OBJ_MEAN_FNR || cfg->objective == MS_OBJ_MEAN_FPR) v = -v;
            if (!found || v > *best) *best = v;
            found = true;
        }
        int a = 0;
        while (a < n && ++idx[a] == count[a]) idx[a++] = 0;
        if (a == n) break;
    }
    return found;
}

static void check_schedule(const ms_scenario *s, const ms_sched_config *cfg, const ms_schedule *sch)
{
    int cps[8];
    double fps[8], sum = 0, wsum = 0, min = INFINITY;
    for (int a = 0; a < s->n_apps; a++) {
        cps[a] = sch->apps[a].chokepoint;
        fps[a] = sch->apps[a].fps;
        ms_event_metrics m;
        assert_int_equal(ms_app_metrics(&s->apps[a], s->stream_fps, cps[a], fps[a], cfg->compat, &m, NULL),
                         MS_OK);
        assert_float_equal(m.f1, sch->apps[a].m.f1, 1e-12);
        double w = cfg->objective == MS_OBJ_MIN_F1 ? 1 : s->apps[a].weight;
        sum += w * objective_metric(cfg->objective, &m);
        wsum += w;
        min = fmin(min, m.f1);
    }
    double cost = ms_schedule_cost(s, cps, fps, false);
    assert_true(cost <= s->budget + 1e-9 * fmax(1, s->budget));
    assert_float_equal(cost, ms_schedule_cost(s, cps, fps, true), 1e-9);
    assert_float_equal(sch->value, cfg->objective == MS_OBJ_MIN_F1 ? min : sum / wsum, 1e-12);
    ms_stem_tree tree;
    assert_int_equal(ms_stem_tree_build(s, sch, &tree, NULL), MS_OK);
    assert_float_equal(ms_stem_tree_cost(s, &tree, sch), cost, 1e-9);
    for (int i = 1; i < tree.n_segments; i++) assert_true(tree.segments[i].fps <= tree.segments[i - 1].fps);
    ms_stem_tree_free(&tree);
}

/* Every policy and objective on n_scenarios random scenarios agrees with brute force. */
static void compare_with_brute_force(unsigned seed, int n_scenarios, bool fractional)
{
    int feasible = 0, runs = 0;
    const ms_policy policies[3] = {MS_POLICY_MAINSTREAM, MS_POLICY_MAXSHARING, MS_POLICY_NOSHARING};
    for (int t = 0; t < n_scenarios; t++) {
        ms_scenario s;
        random_scenario(&seed, &s, fractional);
        /* outside compat Mainstream has 9 more rates: keep brute force to ~1e5 schedules */
        bool compat = t % 2 == 1 || s.n_apps > (fractional ? 2 : 3);
        for (int o = 0; o < 4; o++)
            for (int p = 0; p < 3; p++) {
                if (p > 0 && o > 0) continue; /* baselines: mean F1 only */
                ms_sched_config cfg = {policies[p], (ms_objective)o, compat, 0};
                ms_schedule sch;
                ms_error err;
                assert_int_equal(ms_schedule_solve(&s, &cfg, &sch, &err), MS_OK);
                double best = 0;
                bool found = brute_force(&s, &cfg, &best);
                assert_int_equal(sch.feasible, found);
                runs++;
                if (found) {
                    feasible++;
                    assert_true(sch.exact);
                    double v = (o == MS_OBJ_MEAN_FNR || o == MS_OBJ_MEAN_FPR) ? -sch.value : sch.value;
                    if (fabs(v - best) > 1e-9)
                        fail_msg("scenario %d objective %d policy %d: search %.12f, brute force %.12f", t, o,
                                 p, v, best);
                    check_schedule(&s, &cfg, &sch);
                }
                ms_schedule_free(&sch);
            }
        ms_scenario_free(&s);
    }
    /* the generator must produce both outcomes, or the comparison proves little */
    assert_true(feasible > runs / 3 && feasible < runs);
}

static void test_exact_matches_brute_force(void **state)
{
    (void)state;
    compare_with_brute_force(2024, 300, false);
}

/* Many fps levels: the staircase search prunes drops no schedule can make tight. */
static void test_exact_matches_brute_force_fractional_rates(void **state)
{
    (void)state;
    compare_with_brute_force(77, 150, true);
}

static void test_greedy_is_feasible_and_not_better(void **state)
{
    (void)state;
    unsigned seed = 99;
    for (int t = 0; t < 150; t++) {
        ms_scenario s;
        random_scenario(&seed, &s, false);
        ms_sched_config g = {MS_POLICY_GREEDY, MS_OBJ_MEAN_F1, false, 0}, x = g;
        x.policy = MS_POLICY_MAINSTREAM;
        ms_schedule a, b;
        ms_error err;
        assert_int_equal(ms_schedule_solve(&s, &g, &a, &err), MS_OK);
        assert_int_equal(ms_schedule_solve(&s, &x, &b, &err), MS_OK);
        assert_int_equal(a.feasible, b.feasible);
        if (a.feasible) {
            assert_true(a.value <= b.value + 1e-12);
            check_schedule(&s, &g, &a);
        }
        ms_schedule_free(&a);
        ms_schedule_free(&b);
        ms_scenario_free(&s);
    }
}

/* units 1, 2, 3; A at (2, 4 fps), B at (1, 2 fps), C at (0, 1 fps):
 * unit 0: stem at max(4, 2) + C's own 1 = 5 -> 5; unit 1: stem 4 + own 2 + 1 = 7 -> 14;
 * unit 2: own 4 + 2 + 1 = 7 -> 21; total 40. */
static void test_cost_by_hand(void **state)
{
    (void)state;
    double units[3] = {1, 2, 3};
    ms_app apps[3] = {{0}};
    ms_scenario s = {10, 100, 3, units, 0, NULL, 3, apps};
    int cps[3] = {2, 1, 0};
    double fps[3] = {4, 2, 1};
    assert_float_equal(ms_schedule_cost(&s, cps, fps, false), 40, 1e-12);
    assert_float_equal(ms_schedule_cost(&s, cps, fps, true), 40, 1e-12);
    ms_assignment as[3] = {{.chokepoint = 2, .fps = 4}, {.chokepoint = 1, .fps = 2}, {.chokepoint = 0, .fps = 1}};
    ms_schedule sch = {.feasible = true, .n_apps = 3, .apps = as};
    ms_stem_tree tree;
    assert_int_equal(ms_stem_tree_build(&s, &sch, &tree, NULL), MS_OK);
    assert_int_equal(tree.n_segments, 2);
    assert_int_equal(tree.segments[0].to, 1);
    assert_float_equal(tree.segments[0].fps, 4, 0);
    assert_int_equal(tree.segments[0].n_branches, 1);
    assert_int_equal(tree.segments[0].branches[0], 1);
    assert_int_equal(tree.segments[1].from, 1);
    assert_int_equal(tree.segments[1].to, 2);
    assert_int_equal(tree.n_root_branches, 1);
    assert_float_equal(ms_stem_tree_cost(&s, &tree, &sch), 40, 1e-12);
    ms_stem_tree_free(&tree);
}

/* A saturated prediction: tpr 1, fpr 0, 2000 ms events on a 10 fps stream are caught
 * with certainty at every rate from 0.5 fps (stride <= 20 frames), F1 1. One unit costing
 * 1 per frame, budget 5: every rate from 0.5 to 5 ties; outside compat the schedule
 * takes the fastest that fits (5 fps) instead of leaving 90% of the budget idle. With
 * two such apps the budget holds 5 frames per second in all: 4 + 1 (or any split) would
 * do, the first app is raised first. */
static void test_saturated_tie_uses_the_budget(void **state)
{
    (void)state;
    double units[1] = {1};
    ms_scenario_point curve[1] = {{0, 1.0, 0.0}};
    ms_app apps[2] = {{.name = "a", .event = {.event_length_ms = 2000, .event_frequency = 0.1},
                       .weight = 1, .n_points = 1, .curve = curve},
                      {.name = "b", .event = {.event_length_ms = 2000, .event_frequency = 0.1},
                       .weight = 1, .n_points = 1, .curve = curve}};
    double rates[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ms_scenario s = {10, 5, 1, units, 10, rates, 1, apps};
    for (int p = 0; p < 4; p++) {
        ms_policy policies[4] = {MS_POLICY_MAINSTREAM, MS_POLICY_GREEDY, MS_POLICY_MAXSHARING, MS_POLICY_NOSHARING};
        ms_sched_config cfg = {.policy = policies[p], .objective = MS_OBJ_MEAN_F1};
        ms_schedule sch;
        ms_error err;
        assert_int_equal(ms_schedule_solve(&s, &cfg, &sch, &err), MS_OK);
        assert_true(sch.feasible);
        assert_float_equal(sch.value, 1.0, 0);
        assert_float_equal(sch.apps[0].fps, 5, 0);
        assert_float_equal(sch.cost, 5, 1e-12);
        ms_schedule_free(&sch);
    }
    s.n_apps = 2;
    ms_sched_config cfg = {.policy = MS_POLICY_MAINSTREAM, .objective = MS_OBJ_MEAN_F1};
    ms_schedule sch;
    ms_error err;
    assert_int_equal(ms_schedule_solve(&s, &cfg, &sch, &err), MS_OK);
    assert_float_equal(sch.value, 1.0, 0);
    assert_float_equal(sch.apps[0].fps + sch.apps[1].fps, 5, 1e-12);
    assert_true(sch.apps[0].fps >= 4);
    assert_float_equal(sch.cost, 5, 1e-12);
    ms_schedule_free(&sch);
    /* compat keeps the original's choice: the search's first optimum, not the budget's use */
    cfg.compat = true;
    s.n_apps = 1;
    assert_int_equal(ms_schedule_solve(&s, &cfg, &sch, &err), MS_OK);
    assert_true(sch.cost < 5);
    ms_schedule_free(&sch);
}

static void test_costs_match_direct_recomputation(void **state)
{
    (void)state;
    unsigned seed = 5;
    for (int t = 0; t < 300; t++) {
        ms_scenario s;
        random_scenario(&seed, &s, false);
        int cps[8];
        double fps[8];
        for (int a = 0; a < s.n_apps; a++) {
            cps[a] = (int)(uniform(&seed) * (s.n_units + 1));
            fps[a] = 1 + (int)(uniform(&seed) * s.stream_fps);
        }
        /* per unit: shared at the highest rate of apps still on the stem, plus own rates */
        double direct = 0;
        for (int u = 0; u < s.n_units; u++) {
            double top = 0, own = 0;
            for (int a = 0; a < s.n_apps; a++)
                if (cps[a] > u) top = fmax(top, fps[a]);
                else own += fps[a];
            direct += s.unit_costs[u] * (top + own);
        }
        assert_float_equal(ms_schedule_cost(&s, cps, fps, false), direct, 1e-9);
        assert_float_equal(ms_schedule_cost(&s, cps, fps, true), direct, 1e-9);
        ms_scenario_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_by_hand),
        cmocka_unit_test(test_saturated_tie_uses_the_budget),
        cmocka_unit_test(test_costs_match_direct_recomputation),
        cmocka_unit_test(test_exact_matches_brute_force),
        cmocka_unit_test(test_exact_matches_brute_force_fractional_rates),
        cmocka_unit_test(test_greedy_is_feasible_and_not_better),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
