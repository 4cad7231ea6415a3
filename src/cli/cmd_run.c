/* `mainstream run DEPLOYMENT.json`: runs the apps of a deployment on their streams and
 * writes their events (docs/runner.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "run/deploy.h"
#include "run/runtime.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream run DEPLOYMENT.json [--mode live|offline] [--events FILE] [--scores FILE]\n"
            "                      [--stats FILE] [--report-every SECONDS] [--replan-every SECONDS]\n"
            "\n"
            "Runs every app of the deployment on its stream: the base network's shared layers once,\n"
            "each app's own layers at the rate the scheduler gave it, and its scores turned into events.\n"
            "\n"
            "  --mode live       frames arrive at the stream's rate; late frames are dropped (default)\n"
            "  --mode offline    every sampled frame is processed, as fast as possible (deterministic)\n"
            "  --events FILE     events as JSON lines (\"-\": stdout, the default)\n"
            "  --scores FILE     every app's score on every frame it ran on, as JSON lines\n"
            "  --stats FILE      observed rates and costs as JSON, rewritten at each report\n"
            "  --report-every S  progress on stderr every S seconds (default 10; 0: only at the end)\n"
            "  --replan-every S  live: compare observed and planned costs every S seconds (default 2);\n"
            "                    a gap over 20%% re-plans the stream with the budget corrected\n"
            "\n"
            "  -q, -v            fewer (warnings only) or more log messages; log lines carry UTC times\n"
            "\n"
            "Ctrl-C stops cleanly: open events are closed and written.\n"
            "\n"
            "Example:\n"
            "  mainstream run examples/default/deployment.json --mode offline --events events.jsonl \\\n"
            "      --stats stats.json\n");
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},         {"events", required_argument, NULL, 'e'},
        {"scores", required_argument, NULL, 's'},       {"stats", required_argument, NULL, 't'},
        {"report-every", required_argument, NULL, 'r'}, {"replan-every", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    struct {
        bool live;
        const char *events_path, *scores_path, *stats_path;
        double report_every_s, replan_check_s;
    } o = {.live = true, .events_path = "-", .report_every_s = 10, .replan_check_s = 2};
    ms_cli c;
    int code, bad = 0;
    ms_cli_begin(&c, "run", usage, opts, "");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        switch (code) {
        case MS_CLI_EXIT: return c.exit_code;
        case 'm':
            if (strcmp(optarg, "live") && strcmp(optarg, "offline")) bad = ms_cli_fail(&c, "--mode: '%s' is not live or offline", optarg);
            o.live = !strcmp(optarg, "live");
            break;
        case 'e': o.events_path = optarg; break;
        case 's': o.scores_path = optarg; break;
        case 't': o.stats_path = optarg; break;
        case 'r': bad = ms_cli_number(&c, optarg, 0, 1e9, &o.report_every_s); break;
        case 'p':
            bad = ms_cli_number(&c, optarg, 0, 1e9, &o.replan_check_s);
            if (!bad && !(o.replan_check_s > 0)) bad = ms_cli_fail(&c, "--replan-every: must be > 0 seconds");
            break;
        }
    }
    if (bad) return bad;
    if (c.n_models) return ms_cli_fail(&c, "--model: the deployment names its model (\"model\")");
    if (optind == argc) return ms_cli_fail(&c, "no DEPLOYMENT.json given");
    if (optind + 1 < argc) return ms_cli_fail(&c, "one deployment only ('%s' is extra)", argv[optind + 1]);
    const char *deployment = argv[optind];
    ms_deployment d;
    ms_error err = {0};
    if (ms_deployment_load(deployment, &d, &err)) {
        fprintf(stderr, "mainstream run: %s\n", err.msg);
        return 1;
    }
    ms_log_set_timestamps(true); /* a long run: say when */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ms_runtime_options ro;
    ms_runtime_options_from_deployment(&d, &ro);
    ro.live = o.live;
    ro.until_streams_end = true;
    ro.events_path = o.events_path;
    ro.scores_path = o.scores_path;
    ro.stats_path = o.stats_path;
    ro.report_every_s = o.report_every_s;
    ro.replan_check_s = o.replan_check_s;
    ro.stop = &stop_requested;
    ms_runtime *rt = NULL;
    ms_status st = ms_runtime_open(&ro, &rt, &err);
    if (st == MS_OK) st = ms_runtime_add_deployment(rt, &d, &err);
    if (st == MS_OK) st = ms_runtime_run(rt, &err);
    ms_runtime_stats stats = {0};
    if (rt) {
        ms_runtime_end(rt);
        ms_error serr = {0};
        ms_runtime_stats_get(rt, &stats, &serr);
        ms_error cerr = {0};
        if (ms_runtime_close(rt, &cerr) && st == MS_OK) st = ms_errorf(&err, cerr.status, "%s", cerr.msg);
    }
    ms_deployment_free(&d);
    if (st) {
        fprintf(stderr, "mainstream run: %s\n", err.msg);
        ms_runtime_stats_free(&stats);
        return 1;
    }
    int failed = stats.streams_failed, refused = stats.apps_refused;
    long long events = stats.events;
    ms_runtime_stats_free(&stats);
    if (failed) fprintf(stderr, "mainstream run: %d stream(s) failed (see above); %lld event(s) written\n", failed, events);
    if (refused) fprintf(stderr, "mainstream run: %d app(s) refused (see above); %lld event(s) written\n", refused, events);
    return failed || refused ? 1 : 0;
}
