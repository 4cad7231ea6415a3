/* Event-level recall, precision and F1 of the runner's events against a labelled video.
 *
 * Labelled events are the maximal runs of frames labelled present (an unlabelled frame
 * ends a run). A labelled event is detected when at least one predicted event overlaps
 * it in frames; a predicted event is a true positive when it overlaps at least one
 * labelled event. This is the event model's notion (docs/scheduler.md): an event is
 * caught when any sample inside it fires, however many samples or predicted events that
 * takes, and a predicted event is a false alarm only when it touches no labelled event.
 * recall = detected / labelled (1 when there is no labelled event), precision =
 * true positives / predicted (1 when nothing was predicted, as in the event model),
 * F1 = 2PR / (P + R) (0 when both are 0).
 *
 * from_frame scores one part of a video (e.g. the validation part of a split by time):
 * only the labelled and predicted events that start at or after from_frame are counted,
 * but they are matched against all events, so an event is whole and belongs to the part
 * where it starts, and a match across the cut still counts. (Clipping events at the cut
 * instead would count a labelled event that straddles it as missed whenever the
 * predicted event that caught it ended before the cut.) */
#ifndef MS_RUN_SCORE_H
#define MS_RUN_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef struct {
    int64_t start, end; /* first and last frame, inclusive */
} ms_span;

typedef struct {
    int64_t labelled, detected;   /* labelled events, and those some predicted event overlaps */
    int64_t predicted, true_pos;  /* predicted events, and those overlapping a labelled event */
    double recall, precision, f1;
    /* Frames labelled absent (at or after from_frame), and those inside a predicted event:
     * the false-alarm time that event precision cannot see (one predicted event covering
     * the whole video overlaps every labelled event and has precision 1). */
    int64_t absent_frames, false_alarm_frames;
    double false_alarm_fraction; /* false_alarm_frames / absent_frames, 0 when none absent */
} ms_event_score;

/* A "frame,present" label file as runs of consecutive frames: present ones (the
 * labelled events) and absent ones, each disjoint and in frame order. */
typedef struct {
    ms_span *present, *absent; /* malloc'd, NULL when none */
    int64_t n_present, n_absent;
} ms_labels;

/* Reads a label file (header "frame,present", frames strictly increasing, present 0 or
 * 1; an unlabelled frame ends a run). */
ms_status ms_score_load_labels(const char *csv, ms_labels *out, ms_error *err);
void ms_labels_free(ms_labels *l);

/* The events of one stream and app in the runner's JSON-lines events file. Every line
 * must be an event object (blank lines are skipped); other apps' lines are checked and
 * skipped. *out is malloc'd (NULL when none). Unless allow_absent (the caller knows
 * from elsewhere, e.g. the run's stats, that the app ran on the stream), a stream or
 * app with no event in the file is an error (MS_ERR_INVALID) naming the names the file
 * has, so that a misspelt name does not score recall 0. */
ms_status ms_score_load_events(const char *jsonl, const char *stream, const char *app, bool allow_absent,
                               ms_span **out, int64_t *n, ms_error *err);

/* Checks that the runner's stats file (`run --stats`) lists app on stream. */
ms_status ms_score_check_stats(const char *stats_json, const char *stream, const char *app, ms_error *err);

/* Scores the predicted events (any order, may overlap) against the labels, counting the
 * events that start at or after from_frame (0: all) and the absent frames from it on. */
ms_status ms_score_events(const ms_labels *labels, const ms_span *predicted, int64_t n_predicted, int64_t from_frame,
                          ms_event_score *out, ms_error *err);

#endif
