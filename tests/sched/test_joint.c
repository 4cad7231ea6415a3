/* The joint schedule of several streams under one budget (sched/joint.h): against brute
 * force over every combination of every app's (chokepoint, fps) on every stream, and
 * never below any split of the budget between the streams (each stream then solved
 * alone by the exact search), on random small scenarios and all four objectives. */
#include "fixtures.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/joint.h"
#include "sched/simulate.h"


/* A random stream: 2-5 units, 1-2 apps with 1-3 curve points (0 always among them),
 * rate 2-3 with integer options (0.1 .. 0.9 are added by the default model). */
static void random_stream(unsigned *seed, ms_scenario *s, int max_apps)
{
    memset(s, 0, sizeof *s);
    s->n_units = 2 + (int)(uniform(seed) * 4);
    s->unit_costs = malloc(sizeof(double) * (size_t)s->n_units);
    for (int u = 0; u < s->n_units; u++) s->unit_costs[u] = 0.1 + uniform(seed) * 3;
    s->stream_fps = 2 + (int)(uniform(seed) * 2);
    s->fps_options = malloc(sizeof(double) * 4);
    s->n_fps = 0;
    for (int i = 1; i <= (int)s->stream_fps; i++) s->fps_options[s->n_fps++] = i;
    s->n_apps = 1 + (int)(uniform(seed) * max_apps);
    s->apps = calloc((size_t)s->n_apps, sizeof *s->apps);
    for (int a = 0; a < s->n_apps; a++) {
        ms_app *app = &s->apps[a];
        app->name = strdup("app");
        app->event = (ms_event_params){.event_length_ms = 100 + uniform(seed) * 900,
                                       .event_frequency = 0.05 + uniform(seed) * 0.9,
                                       .correlation = uniform(seed) * 0.5,
                                       .x_vote = uniform(seed) < 0.3 ? 2 : 0};
        app->weight = uniform(seed) < 0.3 ? 0.5 + uniform(seed) : 1.0;
        app->n_points = 1 + (int)(uniform(seed) * 3);
        app->curve = calloc((size_t)app->n_points, sizeof *app->curve);
        int k = 0;
        for (int i = 0; i < app->n_points; i++) {
            int c = i == 0 ? 0 : app->curve[k - 1].chokepoint + 1 + (int)(uniform(seed) * 2);
            if (c > s->n_units) break;
            app->curve[k++] = (ms_scenario_point){c, 0.3 + uniform(seed) * 0.7, uniform(seed) * 0.3};
        }
        app->n_points = k;
    }
}

static double metric(ms_objective o, const ms_event_metrics *m)
{
    return o == MS_OBJ_MEAN_FNR ? m->fnr : o == MS_OBJ_MEAN_FPR ? m->fpr : m->f1;
}

/* Every schedule of one stream: cost, weighted metric sum, weight, min F1. */
typedef struct {
    double cost, sum, weight, min;
} combo;

static int stream_combos(const ms_scenario *s, ms_objective obj, combo *out, int cap)
{
    double levels[16];
    int nl = 0;
    for (int i = 0; i < s->n_fps; i++) levels[nl++] = s->fps_options[i];
    for (int i = 1; i <= 9; i++) levels[nl++] = i * 0.1;
    int n = s->n_apps, count[4], idx[4] = {0}, cps[4];
    int cp[4][64];
    double fp[4][64];
    ms_event_metrics mm[4][64];
    for (int a = 0; a < n; a++) {
        count[a] = 0;
        for (int p = 0; p < s->apps[a].n_points; p++)
            for (int l = 0; l < nl; l++) {
                int k = count[a]++;
                cp[a][k] = s->apps[a].curve[p].chokepoint;
                fp[a][k] = levels[l];
                ms_app_metrics(&s->apps[a], s->stream_fps, cp[a][k], levels[l], false, &mm[a][k], NULL);
            }
    }
    int m = 0;
    for (;;) {
        double fps[4];
        combo c = {0, 0, 0, INFINITY};
        for (int a = 0; a < n; a++) {
            cps[a] = cp[a][idx[a]];
            fps[a] = fp[a][idx[a]];
            double w = obj == MS_OBJ_MIN_F1 ? 1 : s->apps[a].weight;
            c.sum += w * metric(obj, &mm[a][idx[a]]);
            c.weight += w;
            c.min = fmin(c.min, mm[a][idx[a]].f1);
        }
        c.cost = ms_schedule_cost(s, cps, fps, false);
        assert_true(m < cap);
        out[m++] = c;
        int a = 0;
        while (a < n && ++idx[a] == count[a]) idx[a++] = 0;
        if (a == n) break;
    }
    return m;
}

/* The best joint value by enumeration (oriented to maximise); false when nothing fits. */
static bool brute_force(const ms_scenario *s, int n, double budget, ms_objective obj, double *best)
{
    static combo lists[3][4096];
    int count[3], idx[3] = {0};
    for (int i = 0; i < n; i++) count[i] = stream_combos(&s[i], obj, lists[i], 4096);
    bool found = false;
    for (;;) {
        double cost = 0, sum = 0, weight = 0, min = INFINITY;
        for (int i = 0; i < n; i++) {
            const combo *c = &lists[i][idx[i]];
            cost += c->cost;
            sum += c->sum;
            weight += c->weight;
            min = fmin(min, c->min);
        }
        if (cost <= budget + 1e-9 * fmax(1, budget)) {
            double v = obj == MS_OBJ_MIN_F1 ? min : sum / weight;
            if (obj == MS_OBJ_MEAN_FNR || obj == MS_OBJ_MEAN_FPR) v = -v;
            if (!found || v > *best) *best = v;
            found = true;
        }
        int i = 0;
        while (i < n && ++idx[i] == count[i]) idx[i++] = 0;
        if (i == n) break;
    }
    return found;
}

static double oriented(ms_objective obj, double v)
{
    return obj == MS_OBJ_MEAN_FNR || obj == MS_OBJ_MEAN_FPR ? -v : v;
}

/* Splits b between the streams (fractions f, summing to 1), each solved alone. */
static bool split_value(const ms_scenario *s, int n, double budget, const double *f, const ms_sched_config *cfg,
                        double *value)
{
    ms_schedule sch[3];
    bool ok = true;
    int made = 0;
    for (int i = 0; i < n; i++) {
        ms_scenario sc = s[i];
        sc.budget = budget * f[i];
        ms_error err;
        assert_int_equal(ms_schedule_solve(&sc, cfg, &sch[i], &err), MS_OK);
        made++;
        ok &= sch[i].feasible;
    }
    if (ok) *value = oriented(cfg->objective, ms_joint_value(s, n, cfg, sch));
    for (int i = 0; i < made; i++) ms_schedule_free(&sch[i]);
    return ok;
}

static void free_streams(ms_scenario *s, int n)
{
    for (int i = 0; i < n; i++) ms_scenario_free(&s[i]);
}

/* The joint schedule's own numbers: per-stream costs and metrics recomputed. */
static void check_result(const ms_scenario *s, int n, double budget, const ms_joint_schedule *j)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        int cps[16];
        double fps[16];
        assert_true(s[i].n_apps <= 16);
        for (int a = 0; a < s[i].n_apps; a++) {
            cps[a] = j->streams[i].apps[a].chokepoint;
            fps[a] = j->streams[i].apps[a].fps;
            ms_event_metrics m;
            assert_int_equal(ms_app_metrics(&s[i].apps[a], s[i].stream_fps, cps[a], fps[a], false, &m, NULL), MS_OK);
            assert_float_equal(m.f1, j->streams[i].apps[a].m.f1, 1e-12);
        }
        double c = ms_schedule_cost(&s[i], cps, fps, false);
        assert_float_equal(c, j->streams[i].cost, 1e-9 * fmax(1, c));
        total += c;
    }
    assert_true(total <= budget + 1e-9 * fmax(1, budget) + 1e-9);
    assert_float_equal(total, j->cost, 1e-9 * fmax(1, total));
}

static void test_joint_against_brute_force(void **state)
{
    (void)state;
    unsigned seed = 20261203;
    const ms_objective objs[4] = {MS_OBJ_MEAN_F1, MS_OBJ_MIN_F1, MS_OBJ_MEAN_FNR, MS_OBJ_MEAN_FPR};
    int checked = 0, infeasible = 0;
    for (int trial = 0; trial < 160; trial++) {
        int n = 2 + (trial % 2);
        ms_scenario s[3];
        for (int i = 0; i < n; i++) random_stream(&seed, &s[i], n == 2 ? 2 : 1);
        double plenty = 0;
        for (int i = 0; i < n; i++) {
            double total = 0;
            for (int u = 0; u < s[i].n_units; u++) total += s[i].unit_costs[u];
            plenty += total * s[i].stream_fps * s[i].n_apps;
        }
        double budget = uniform(&seed) * plenty * 0.6;
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, objs[trial % 4], false, 0};
        ms_joint_schedule j;
        ms_error err;
        if (ms_joint_solve(s, n, budget, &cfg, &j, &err)) fail_msg("%s", err.msg);
        double best;
        bool found = brute_force(s, n, budget, cfg.objective, &best);
        assert_int_equal(j.feasible, found);
        assert_true(j.exact);
        if (found) {
            check_result(s, n, budget, &j);
            if (fabs(oriented(cfg.objective, j.value) - best) > 1e-9)
                fail_msg("trial %d (%s): joint %.12f, brute force %.12f", trial, ms_objective_name(cfg.objective),
                         oriented(cfg.objective, j.value), best);
            checked++;
        } else {
            infeasible++;
        }
        ms_joint_schedule_free(&j);
        free_streams(s, n);
    }
    assert_true(checked >= 100);
    assert_true(infeasible >= 1);
}

/* On a fine grid of splits (2 streams: 400 splits; 3 streams: 60 x 60), no split of
 * the budget solved stream by stream beats the joint schedule, and one of them (the
 * joint schedule's own costs, as fractions) equals it up to the search's tolerance. */
static void test_joint_never_below_a_split(void **state)
{
    (void)state;
    unsigned seed = 7;
    const ms_objective objs[4] = {MS_OBJ_MEAN_F1, MS_OBJ_MIN_F1, MS_OBJ_MEAN_FNR, MS_OBJ_MEAN_FPR};
    int strictly_better = 0;
    for (int trial = 0; trial < 24; trial++) {
        int n = 2 + (trial % 2);
        ms_scenario s[3];
        for (int i = 0; i < n; i++) random_stream(&seed, &s[i], 2);
        double budget = 0;
        for (int i = 0; i < n; i++)
            for (int u = 0; u < s[i].n_units; u++) budget += s[i].unit_costs[u];
        budget *= 0.3 + uniform(&seed);
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, objs[trial % 4], false, 0};
        ms_joint_schedule j;
        ms_error err;
        if (ms_joint_solve(s, n, budget, &cfg, &j, &err)) fail_msg("%s", err.msg);
        double jv = oriented(cfg.objective, j.value), best_split = -INFINITY;
        int steps = n == 2 ? 400 : 60;
        for (int a = 0; a <= steps; a++)
            for (int b = 0; b <= (n == 2 ? 0 : steps - a); b++) {
                double f[3] = {(double)a / steps, n == 2 ? 1.0 - (double)a / steps : (double)b / steps, 0};
                if (n == 3) f[2] = 1.0 - f[0] - f[1];
                double v;
                if (!split_value(s, n, budget, f, &cfg, &v)) continue;
                assert_true(j.feasible);
                if (v > jv + 1e-9) fail_msg("trial %d: a split gives %.12f, the joint schedule %.12f", trial, v, jv);
                best_split = fmax(best_split, v);
            }
        if (j.feasible) {
            /* the joint schedule's own split reproduces it */
            double f[3];
            for (int i = 0; i < n; i++) f[i] = j.streams[i].cost / j.cost;
            double v;
            if (j.cost > 0 && split_value(s, n, j.cost, f, &cfg, &v)) assert_true(v >= jv - 1e-9);
            strictly_better += jv > best_split + 1e-9;
        }
        ms_joint_schedule_free(&j);
        free_streams(s, n);
    }
    print_message("joint better than every grid split in %d of 24 scenarios\n", strictly_better);
}

/* n streams of apps drawn from the reference apps with their full curves (85 MobileNet
 * units, 16 chokepoints), each as fixtures.h's reference_stream makes it. */
static void reference_streams(const ms_reference *ref, unsigned *seed, ms_scenario *s, int n, int apps)
{
    for (int k = 0; k < n; k++) reference_stream(ref, seed, &s[k], apps);
}

/* Full-size curves (every chokepoint of the reference apps): 2 streams of 3 apps, all
 * four objectives, exact, and never below any of 41 splits of the budget. */
static void test_joint_full_curves_never_below_a_split(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("reference/mobilenet_apps.json");
    ms_reference ref;
    ms_error err;
    if (ms_reference_load(ms_test_data("reference/mobilenet_apps.json"), &ref, &err)) fail_msg("%s", err.msg);
    unsigned seed = 12;
    const ms_objective objs[4] = {MS_OBJ_MEAN_F1, MS_OBJ_MIN_F1, MS_OBJ_MEAN_FNR, MS_OBJ_MEAN_FPR};
    for (int trial = 0; trial < 4; trial++) {
        ms_scenario s[2];
        reference_streams(&ref, &seed, s, 2, 3);
        assert_true(s[0].apps[0].n_points >= 16);
        double budget = 10 * 6 * (0.5 + uniform(&seed));
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, objs[trial], false, 0};
        ms_joint_schedule j;
        if (ms_joint_solve(s, 2, budget, &cfg, &j, &err)) fail_msg("%s", err.msg);
        assert_true(j.feasible);
        assert_true(j.exact);
        check_result(s, 2, budget, &j);
        assert_float_equal(j.value, ms_joint_value(s, 2, &cfg, j.streams), 1e-12);
        double jv = oriented(cfg.objective, j.value);
        for (int a = 0; a <= 40; a++) {
            double f[2] = {a / 40.0, 1 - a / 40.0}, v;
            if (!split_value(s, 2, budget, f, &cfg, &v)) continue;
            if (v > jv + 1e-9) fail_msg("%s: a split gives %.12f, the joint schedule %.12f",
                                        ms_objective_name(cfg.objective), v, jv);
        }
        ms_joint_schedule_free(&j);
        free_streams(s, 2);
    }
    ms_reference_free(&ref);
}

/* Out of time: the joint search still returns a feasible schedule within the budget (the
 * best it has), marked not exact. */
static void test_joint_out_of_time(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("reference/mobilenet_apps.json");
    ms_reference ref;
    ms_error err;
    if (ms_reference_load(ms_test_data("reference/mobilenet_apps.json"), &ref, &err)) fail_msg("%s", err.msg);
    unsigned seed = 5;
    ms_scenario s[3];
    reference_streams(&ref, &seed, s, 3, 10);
    const ms_objective objs[2] = {MS_OBJ_MEAN_F1, MS_OBJ_MIN_F1};
    for (int o = 0; o < 2; o++) {
        ms_sched_config cfg = {MS_POLICY_MAINSTREAM, objs[o], false, 1e-6};
        ms_joint_schedule j;
        if (ms_joint_solve(s, 3, 300, &cfg, &j, &err)) fail_msg("%s", err.msg);
        if (!j.feasible) fail_msg("%s: out of time, no schedule", ms_objective_name(cfg.objective));
        assert_false(j.exact);
        check_result(s, 3, 300, &j);
        assert_float_equal(j.value, ms_joint_value(s, 3, &cfg, j.streams), 1e-12);
        ms_joint_schedule_free(&j);
    }
    free_streams(s, 3);
    ms_reference_free(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joint_against_brute_force),
        cmocka_unit_test(test_joint_never_below_a_split),
        cmocka_unit_test(test_joint_full_curves_never_below_a_split),
        cmocka_unit_test(test_joint_out_of_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
