/* `mainstream score-events`: event-level recall, precision and F1 of one app's events
 * from `mainstream run` against the labelled frames of its video (src/run/score.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
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
            "stream, so one that detected nothing scores recall 0.\n");
}

typedef struct {
    const char *events, *labels, *stream, *app, *stats;
    long long from_frame;
    bool json;
} score_args;

static int parse(int argc, char **argv, score_args *a)
{
    *a = (score_args){0};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(opt, "--json")) {
            a->json = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "score-events: unknown option or missing value: %s\n", opt);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(opt, "--events")) a->events = v;
        else if (!strcmp(opt, "--labels")) a->labels = v;
        else if (!strcmp(opt, "--stream")) a->stream = v;
        else if (!strcmp(opt, "--app")) a->app = v;
        else if (!strcmp(opt, "--stats")) a->stats = v;
        else if (!strcmp(opt, "--from-frame")) {
            char *end;
            errno = 0;
            a->from_frame = strtoll(v, &end, 10);
            if (errno || end == v || *end || a->from_frame < 0) {
                fprintf(stderr, "score-events: --from-frame: '%s' is not a whole number >= 0\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "score-events: unknown option %s\n", opt);
            return 2;
        }
    }
    if (!a->events || !a->labels || !a->stream || !a->app) {
        fprintf(stderr, "score-events: --events, --labels, --stream and --app are required "
                        "(see mainstream score-events --help)\n");
        return 2;
    }
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
