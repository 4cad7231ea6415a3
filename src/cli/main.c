/* `mainstream <command> [args]`: finds the subcommand and hands it the arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "mainstream_version.h"

#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"inspect", cmd_inspect, "print a model's layers, sizes and chokepoints"},
    {"profile", cmd_profile, "time a model and each segment between chokepoints on a backend"},
    {"classify", cmd_classify, "print the top classes of images under a model"},
    {"schedule", cmd_schedule, "choose chokepoints and frame rates for a set of apps"},
    {"simulate", cmd_simulate, "mean F1 against number of apps for the scheduling policies"},
    {"train", cmd_train, "fine-tune an app at every chokepoint and write its M-Package"},
    {"evaluate", cmd_evaluate, "measure an M-Package's accuracy curve on labelled data"},
    {"run", cmd_run, "run a deployment's apps on its streams and write their events"},
    {"serve", cmd_serve, "run a deployment as a service: HTTP API, metrics, MQTT/Redis/file event outputs"},
    {"infer", cmd_infer, "run a whole network on a .npy tensor and write its output as .npy"},
    {"score-events", cmd_score_events, "event recall, precision and F1 of run events against labelled frames"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mainstream <command> [options]\n\ncommands:\n");
    for (const command *c = commands; c->name; c++) fprintf(out, "  %-13s %s\n", c->name, c->summary);
    fprintf(out, "\n`mainstream help <command>` (or `mainstream <command> --help`) describes a command, with an\n"
                 "example. Every command takes -q (warnings only) and -v (debug messages); MS_LOG=debug|info|\n"
                 "warn|error sets the level too, MS_LOG_TIME=1 timestamps the log, MAINSTREAM_DATA names the\n"
                 "shared data folder. `mainstream --version` prints the version.\n");
}

int main(int argc, char **argv)
{
    /* The command says what it is doing (info); a library user's default stays warn. */
    if (!getenv("MS_LOG")) ms_log_set_level(MS_LOG_INFO);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("mainstream %s\n", MAINSTREAM_VERSION_STRING);
        return 0;
    }
    if (!strcmp(argv[1], "help") && argc > 2) { /* `mainstream help CMD` is `mainstream CMD --help` */
        for (const command *c = commands; c->name; c++)
            if (!strcmp(argv[2], c->name)) {
                char *help_argv[] = {argv[2], "--help", NULL};
                return c->run(2, help_argv);
            }
        fprintf(stderr, "mainstream: unknown command '%s'\n", argv[2]);
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (const command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "mainstream: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
