/* `mainstream score-events`: event-level recall, precision and F1 of one app's events
 * from `mainstream run` against the labelled frames of its video (src/run/score.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "run/score.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream score-events --events EVENTS.jsonl --labels CSV --stream NAME --app NAME\n"
            "                               [--stats STATS.json] [--from-frame N] [--json]\n"
            "\n"
            "Scores the events of one stream and app in a `mainstream run` events file against a\n"
            "\"frame,present\" label file. Labelled events are the maximal runs of present frames.\n"
            "A labelled event is detected (recall) when some predicted event overlaps it in frames;\n"
            "a predicted event is a true positive (precision) when it overlaps some labelled event.\n"
            "F1 = 2PR/(P+R). --from-frame N counts only the events (labelled and predicted) that\n"
            "start at frame N or later, matched against all events (e.g. the validation part of a\n"
            "video split by time). Event precision cannot see a predicted event that covers much\n"
            "absent time, so the false-alarm fraction is printed too: of the frames labelled absent\n"
            "(from N on), those inside a predicted event. --json prints {\"stream\",\"app\",\n"
            "\"from_frame\",\"labelled\",\"detected\",\"recall\",\"predicted\",\"true_positives\",\n"
            "\"precision\",\"f1\",\"absent_frames\",\"false_alarm_frames\",\"false_alarm_fraction\"}.\n"
            "A stream or app with no event in the file is an error (a misspelt name would score\n"
            "recall 0); --stats FILE (the run's `--stats` output) vouches that the app ran on the\n"
            "stream, so one that detected nothing scores recall 0. -q, -v: fewer or more log messages.\n"
            "\n"
            "Example:\n"
            "  mainstream score-events --events out/default/events.jsonl --stats out/default/stats.json \\\n"
            "      --labels $MAINSTREAM_DATA/videos/person.labels.csv --stream crossing --app person\n");
}

typedef struct {
    const char *events, *labels, *stream, *app, *stats;
    long long from_frame;
    bool json;
} score_args;

/* -1 when parsed, else the exit status (0 after --help, 2 on a usage error). */
static int parse(int argc, char **argv, score_args *a)
{
    static const struct option opts[] = {
        {"events", required_argument, NULL, 'e'}, {"labels", required_argument, NULL, 'l'},
        {"stream", required_argument, NULL, 's'}, {"app", required_argument, NULL, 'a'},
        {"stats", required_argument, NULL, 't'},  {"from-frame", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},         {NULL, 0, NULL, 0}};
    *a = (score_args){0};
    ms_cli c;
    int code, bad = 0;
    double from = 0;
    ms_cli_begin(&c, "score-events", usage, opts, "");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        switch (code) {
        case MS_CLI_EXIT: return c.exit_code;
        case 'e': a->events = optarg; break;
        case 'l': a->labels = optarg; break;
        case 's': a->stream = optarg; break;
        case 'a': a->app = optarg; break;
        case 't': a->stats = optarg; break;
        case 'j': a->json = true; break;
        case 'f':
            bad = ms_cli_number(&c, optarg, 0, 1e15, &from);
            if (!bad && from != (double)(long long)from) bad = ms_cli_fail(&c, "--from-frame: '%s' is not a whole number >= 0", optarg);
            a->from_frame = (long long)from;
            break;
        }
    }
    if (bad) return bad;
    if (optind < argc) return ms_cli_fail(&c, "unexpected argument '%s'", argv[optind]);
    if (c.n_models) return ms_cli_fail(&c, "--model: score-events reads no model");
    if (!a->events || !a->labels || !a->stream || !a->app)
        return ms_cli_fail(&c, "--events, --labels, --stream and --app are required");
    return -1;
}

static ms_status print_json(const score_args *a, const ms_event_score *sc, ms_error *err)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && ms_json_add_version(o, 1) && cJSON_AddStringToObject(o, "stream", a->stream) && cJSON_AddStringToObject(o, "app", a->app) &&
              cJSON_AddNumberToObject(o, "from_frame", (double)a->from_frame) &&
              cJSON_AddNumberToObject(o, "labelled", (double)sc->labelled) &&
              cJSON_AddNumberToObject(o, "detected", (double)sc->detected) &&
              cJSON_AddNumberToObject(o, "recall", sc->recall) &&
              cJSON_AddNumberToObject(o, "predicted", (double)sc->predicted) &&
              cJSON_AddNumberToObject(o, "true_positives", (double)sc->true_pos) &&
              cJSON_AddNumberToObject(o, "precision", sc->precision) && cJSON_AddNumberToObject(o, "f1", sc->f1) &&
              cJSON_AddNumberToObject(o, "absent_frames", (double)sc->absent_frames) &&
              cJSON_AddNumberToObject(o, "false_alarm_frames", (double)sc->false_alarm_frames) &&
              cJSON_AddNumberToObject(o, "false_alarm_fraction", sc->false_alarm_fraction);
    ms_status s = ok ? ms_json_write("-", o, false, err) : ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    cJSON_Delete(o);
    return s;
}

int cmd_score_events(int argc, char **argv)
{
    score_args a;
    int r = parse(argc, argv, &a);
    if (r >= 0) return r;
    ms_error err;
    ms_labels labels;
    ms_span *predicted = NULL;
    int64_t n_predicted = 0;
    ms_event_score sc;
    ms_status s = ms_score_load_labels(a.labels, &labels, &err);
    if (!s && a.stats) s = ms_score_check_stats(a.stats, a.stream, a.app, &err);
    if (!s) s = ms_score_load_events(a.events, a.stream, a.app, a.stats != NULL, &predicted, &n_predicted, &err);
    if (!s) s = ms_score_events(&labels, predicted, n_predicted, a.from_frame, &sc, &err);
    if (!s && a.json) s = print_json(&a, &sc, &err);
    if (!s && !a.json) {
        printf("stream %s, app %s, events from frame %lld\n", a.stream, a.app, a.from_frame);
        printf("labelled %lld, detected %lld: recall %.3f\n", (long long)sc.labelled, (long long)sc.detected, sc.recall);
        printf("predicted %lld, true positives %lld: precision %.3f\n", (long long)sc.predicted,
               (long long)sc.true_pos, sc.precision);
        printf("F1 %.3f\n", sc.f1);
        printf("absent frames %lld, inside predicted events %lld: false-alarm fraction %.3f\n",
               (long long)sc.absent_frames, (long long)sc.false_alarm_frames, sc.false_alarm_fraction);
    }
    if (s) fprintf(stderr, "mainstream score-events: %s\n", err.msg);
    ms_labels_free(&labels);
    free(predicted);
    return s ? 1 : 0;
}
