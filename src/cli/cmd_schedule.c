/* `mainstream schedule SCENARIO`: chooses a chokepoint and frame rate for every app of a
 * scenario within its budget and prints the schedule (table or JSON). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "sched/joint.h"
#include "sched/schedule.h"
#include "sched/stem_draw.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream schedule SCENARIO [--policy P] [--objective O] [--budget B]\n"
            "                           [--compat] [--time-limit S] [--json] [-o FILE] [--dot FILE]\n"
            "  --policy     mainstream (exact, default), greedy, maxsharing, nosharing\n"
            "  --objective  f1 (mean F1, default), min-f1, fnr (mean), fpr (mean 1-precision)\n"
            "  --budget     overrides the scenario's budget (cost units per second)\n"
            "  --compat     the original Mainstream's event model and arithmetic\n"
            "  --time-limit stop the exact search after S seconds; report value and bound\n"
            "  --json       print the schedule as JSON (also the format of -o FILE)\n"
            "  --dot FILE   write the stem tree as a Graphviz graph (\"-\": stdout; dot -Tsvg draws it)\n"
            "  -o, --output FILE  write the schedule as JSON to FILE;  -q, -v  fewer or more log messages\n"
            "\n"
            "Example:\n"
            "  mainstream schedule examples/scenario.json --budget 5 --dot - | dot -Tsvg > tree.svg\n");
}

static void print_table(FILE *out, const ms_scenario *s, const ms_sched_config *cfg,
                        const ms_schedule *sch, const ms_stem_tree *tree)
{
    if (!sch->feasible) {
        fprintf(out, "no schedule fits the budget %g\n", s->budget);
        return;
    }
    fprintf(out, "%-20s %10s %6s %7s %9s %7s %10s\n", "app", "chokepoint", "fps", "recall",
            "precision", "F1", "own cost");
    for (int a = 0; a < sch->n_apps; a++) {
        const ms_assignment *x = &sch->apps[a];
        double own = 0;
        for (int u = x->chokepoint; u < s->n_units; u++) own += s->unit_costs[u];
        fprintf(out, "%-20s %10d %6g %7.4f %9.4f %7.4f %10.3f\n", s->apps[a].name, x->chokepoint, x->fps,
                x->m.recall, x->m.precision, x->m.f1, own * x->fps);
    }
    fprintf(out, "policy %s, objective %s (%s model): value %.6f", ms_policy_name(cfg->policy),
            ms_objective_name(cfg->objective), cfg->compat ? "compat" : "default", sch->value);
    if (!sch->exact && isfinite(sch->bound)) fprintf(out, " (bound %.6f)", sch->bound);
    fprintf(out, ", cost %.3f of %g, %.3f s\n", sch->cost, s->budget, sch->seconds);
    fprintf(out, "\nstem tree:\n");
    ms_stem_tree_print(out, s, sch, tree);
}

static ms_status write_dot(const char *path, const ms_scenario *s, const ms_schedule *sch, const ms_stem_tree *tree,
                           ms_error *err)
{
    ms_atomic_file f;
    ms_status st = ms_atomic_open(&f, path, err);
    if (st) return st;
    ms_stem_tree_write_dot(f.fp, s, sch, tree);
    return ms_atomic_commit(&f, err);
}

static void print_joint(FILE *out, const ms_multi_scenario *m, const ms_sched_config *cfg, const ms_joint_schedule *j)
{
    if (!j->feasible) {
        fprintf(out, "no schedule fits the budget %g\n", m->budget);
        return;
    }
    fprintf(out, "%-12s %-20s %10s %6s %7s %9s %7s %10s\n", "stream", "app", "chokepoint", "fps", "recall",
            "precision", "F1", "own cost");
    for (int s = 0; s < m->n_streams; s++) {
        const ms_scenario *sc = &m->streams[s];
        for (int a = 0; a < sc->n_apps; a++) {
            const ms_assignment *x = &j->streams[s].apps[a];
            double own = 0;
            for (int u = x->chokepoint; u < sc->n_units; u++) own += sc->unit_costs[u];
            fprintf(out, "%-12s %-20s %10d %6g %7.4f %9.4f %7.4f %10.3f\n", m->names[s], sc->apps[a].name,
                    x->chokepoint, x->fps, x->m.recall, x->m.precision, x->m.f1, own * x->fps);
        }
        fprintf(out, "%-12s stream cost %.3f\n", m->names[s], j->streams[s].cost);
    }
    fprintf(out, "policy %s, objective %s (%s model), %d streams: value %.6f, cost %.3f of %g, %.3f s%s\n",
            ms_policy_name(cfg->policy), ms_objective_name(cfg->objective), cfg->compat ? "compat" : "default",
            m->n_streams, j->value, j->cost, m->budget, j->seconds, j->exact ? "" : " (not proven optimal)");
}

/* The multi-stream format: one joint schedule under the shared budget. */
static int schedule_streams(ms_multi_scenario *m, const ms_sched_config *cfg, bool json, const char *output)
{
    ms_joint_schedule j;
    ms_error err;
    if (ms_joint_solve(m->streams, m->n_streams, m->budget, cfg, &j, &err)) {
        fprintf(stderr, "mainstream schedule: %s\n", err.msg);
        return 1;
    }
    cJSON *doc = ms_joint_schedule_to_json(m->streams, (const char *const *)m->names, m->n_streams, m->budget, cfg, &j);
    ms_status st = doc ? MS_OK : ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
    if (!st && output) st = ms_json_write(output, doc, true, &err);
    if (!st && json) st = ms_json_write("-", doc, true, &err);
    if (!st && !json) print_joint(stdout, m, cfg, &j);
    cJSON_Delete(doc);
    int rc = st ? 1 : j.feasible ? 0 : 1;
    if (st) fprintf(stderr, "mainstream schedule: %s\n", err.msg);
    else if (!j.feasible) fprintf(stderr, "mainstream schedule: no schedule fits the budget %g\n", m->budget);
    ms_joint_schedule_free(&j);
    return rc;
}

int cmd_schedule(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, 0, 'p'},  {"objective", required_argument, 0, 'O'},
        {"budget", required_argument, 0, 'b'},  {"compat", no_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},          {"time-limit", required_argument, 0, 't'},
        {"dot", required_argument, 0, 'd'},     {"output", required_argument, 0, 'o'},
        {0, 0, 0, 0}};
    ms_sched_config cfg = {MS_POLICY_MAINSTREAM, MS_OBJ_MEAN_F1, false, 0};
    const char *output = NULL, *dot = NULL;
    double budget = -1;
    bool json = false;
    ms_error err;
    ms_cli c;
    int code, bad = 0;
    ms_cli_begin(&c, "schedule", usage, opts, "o:");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        switch (code) {
        case MS_CLI_EXIT: return c.exit_code;
        case 'p':
            if (ms_policy_parse(optarg, &cfg.policy, &err)) bad = ms_cli_fail(&c, "--policy: %s", err.msg);
            break;
        case 'O':
            if (ms_objective_parse(optarg, &cfg.objective, &err)) bad = ms_cli_fail(&c, "--objective: %s", err.msg);
            break;
        case 'b': bad = ms_cli_number(&c, optarg, 0, 1e300, &budget); break;
        case 'c': cfg.compat = true; break;
        case 'j': json = true; break;
        case 't': bad = ms_cli_number(&c, optarg, 1e-6, 1e9, &cfg.time_limit_s); break;
        case 'o': output = optarg; break;
        case 'd': dot = optarg; break;
        }
    }
    if (bad) return bad;
    if (c.n_models) return ms_cli_fail(&c, "--model: schedule reads no model (the scenario holds the costs)");
    if (optind == argc) return ms_cli_fail(&c, "no SCENARIO given");
    if (optind + 1 < argc) return ms_cli_fail(&c, "one SCENARIO only ('%s' is extra)", argv[optind + 1]);
    ms_multi_scenario multi;
    if (ms_multi_scenario_load(argv[optind], &multi, &err)) {
        fprintf(stderr, "mainstream schedule: %s\n", err.msg);
        return 1;
    }
    if (budget >= 0) multi.budget = budget;
    if (!multi.single) {
        int streams_rc = 2;
        if (dot) fprintf(stderr, "mainstream schedule: --dot: draws one stream's tree; a multi-stream scenario's are in --json\n");
        else streams_rc = schedule_streams(&multi, &cfg, json, output);
        ms_multi_scenario_free(&multi);
        return streams_rc;
    }
    /* the single-stream format: the scenario itself, as before */
    ms_scenario s = multi.streams[0];
    memset(&multi.streams[0], 0, sizeof multi.streams[0]);
    ms_multi_scenario_free(&multi);
    if (budget >= 0) s.budget = budget;
    ms_schedule sch;
    ms_stem_tree tree = {0};
    int rc = 1;
    if (ms_schedule_solve(&s, &cfg, &sch, &err)) goto fail_scenario;
    if (sch.feasible && ms_stem_tree_build(&s, &sch, &tree, &err)) goto fail_schedule;
    cJSON *doc = ms_schedule_to_json(&s, &cfg, &sch, sch.feasible ? &tree : NULL);
    if (!doc) {
        ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
        goto fail_tree;
    }
    ms_status st = MS_OK;
    if (output) st = ms_json_write(output, doc, true, &err);
    if (!st && json) st = ms_json_write("-", doc, true, &err);
    if (!st && dot && sch.feasible) st = write_dot(dot, &s, &sch, &tree, &err);
    if (!st && !json && !(dot && !strcmp(dot, "-"))) print_table(stdout, &s, &cfg, &sch, &tree);
    cJSON_Delete(doc);
    if (st) goto fail_tree;
    rc = sch.feasible ? 0 : 1;
    if (!sch.feasible) fprintf(stderr, "mainstream schedule: no schedule fits the budget %g\n", s.budget);
    ms_stem_tree_free(&tree);
    ms_schedule_free(&sch);
    ms_scenario_free(&s);
    return rc;
fail_tree:
    ms_stem_tree_free(&tree);
fail_schedule:
    ms_schedule_free(&sch);
fail_scenario:
    fprintf(stderr, "mainstream schedule: %s\n", err.msg);
    ms_scenario_free(&s);
    return 1;
}
