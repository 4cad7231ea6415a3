/* `mainstream run DEPLOYMENT.json`: runs the apps of a deployment on their streams and
 * writes their events (docs/runner.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "run/deploy.h"
#include "run/runner.h"

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
            "Ctrl-C stops cleanly: open events are closed and written.\n");
}

int cmd_run(int argc, char **argv)
{
    ms_runner_options o = {.live = true, .events_path = "-", .report_every_s = 10, .replan_check_s = 2};
    const char *deployment = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--mode") && has_value) {
            const char *m = argv[++i];
            if (strcmp(m, "live") && strcmp(m, "offline")) {
                fprintf(stderr, "mainstream run: --mode: '%s' is not live or offline\n", m);
                return 2;
            }
            o.live = !strcmp(m, "live");
        } else if (!strcmp(a, "--events") && has_value) {
            o.events_path = argv[++i];
        } else if (!strcmp(a, "--scores") && has_value) {
            o.scores_path = argv[++i];
        } else if (!strcmp(a, "--stats") && has_value) {
            o.stats_path = argv[++i];
        } else if (!strcmp(a, "--report-every") && has_value) {
            char *end;
            o.report_every_s = strtod(argv[++i], &end);
            if (*end || !(o.report_every_s >= 0)) {
                fprintf(stderr, "mainstream run: --report-every: '%s' is not a number of seconds\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--replan-every") && has_value) {
            char *end;
            o.replan_check_s = strtod(argv[++i], &end);
            if (*end || !(o.replan_check_s > 0)) {
                fprintf(stderr, "mainstream run: --replan-every: '%s' is not a positive number of seconds\n", argv[i]);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mainstream run: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!deployment) {
            deployment = a;
        } else {
            fprintf(stderr, "mainstream run: one deployment only ('%s' is extra)\n", a);
            return 2;
        }
    }
    if (!deployment) {
        usage(stderr);
        return 2;
    }
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
    o.stop = &stop_requested;
    ms_runner_result result;
    ms_status st = ms_runner_run(&d, &o, &result, &err);
    ms_deployment_free(&d);
    if (st) {
        fprintf(stderr, "mainstream run: %s\n", err.msg);
        return 1;
    }
    if (result.streams_failed) {
        fprintf(stderr, "mainstream run: %d stream(s) failed (see above); %lld event(s) written\n", result.streams_failed,
                result.events);
        return 1;
    }
    return 0;
}
