/* `mainstream serve [CONFIG.json]`: runs the deployment as a service with an HTTP
 * control API, metrics and event outputs (docs/serve.md). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "serve/serve.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream serve [CONFIG.json] [--listen ADDR:PORT] [--token-file FILE] [--state DIR]\n"
            "                        [--mode live|offline] [--report-every SECONDS]\n"
            "\n"
            "Runs a deployment (docs/runner.md; its streams and apps may be empty, and \"outputs\" says\n"
            "where events go) as a service: streams, apps and the budget change through the HTTP API,\n"
            "/metrics serves Prometheus metrics, events go to files, MQTT and Redis (docs/serve.md).\n"
            "\n"
            "  --listen ADDR:PORT   where the API listens (default %s; port 0: any free port)\n"
            "  --token-file FILE    requests must carry 'Authorization: Bearer TOKEN' (default:\n"
            "                       $MAINSTREAM_TOKEN); required to listen on a non-loopback address\n"
            "  --state DIR          streams, apps, budget, uploaded packages and the event spool\n"
            "                       (default %s); a restart with the same DIR resumes\n"
            "                       (CONFIG may then be left out)\n"
            "  --mode live|offline  live (default): frames at the streams' rates; offline: every\n"
            "                       sampled frame as fast as possible\n"
            "  --report-every S     a progress line on stderr every S seconds (default 0: only at the end)\n"
            "\n"
            "SIGTERM or Ctrl-C stops cleanly: open events are closed and delivered.\n",
            MS_SERVE_DEFAULT_LISTEN, MS_SERVE_DEFAULT_STATE);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"token-file", required_argument, NULL, 't'},
        {"state", required_argument, NULL, 's'},  {"mode", required_argument, NULL, 'm'},
        {"report-every", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    ms_serve_options o = {.stop = &stop_requested};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 't': o.token_file = optarg; break;
        case 's': o.state_dir = optarg; break;
        case 'm':
            if (strcmp(optarg, "live") && strcmp(optarg, "offline")) {
                fprintf(stderr, "mainstream serve: --mode: '%s' is not live or offline\n", optarg);
                return 2;
            }
            o.offline = !strcmp(optarg, "offline");
            break;
        case 'r':
            o.report_every_s = strtod(optarg, &end);
            if (*end || !(o.report_every_s >= 0)) {
                fprintf(stderr, "mainstream serve: --report-every: '%s' is not a number of seconds\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "mainstream serve: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) o.config_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "mainstream serve: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer that hangs up is an error value, not a signal */
    ms_error err;
    if (ms_serve_run(&o, &err)) {
        fprintf(stderr, "mainstream serve: %s\n", err.msg);
        return 1;
    }
    return 0;
}
