/* The event model: from an app's per-frame accuracy (tpr p, fpr q) and event statistics,
 * the event-level recall, precision and F1 it gets when sampled at F fps from an S fps
 * stream. Two variants: the corrected model of MISSION.md (default) and the original's
 * arithmetic reproduced operation for operation (compat; docs/ORIGINAL_MODEL.md §2). */
#ifndef MS_SCHED_EVENT_H
#define MS_SCHED_EVENT_H

#include <stdbool.h>

#define MS_EVENT_MAX_X_VOTE 64 /* scenarios are validated against it */
/* The longest event the model takes (one hour): its cost grows with the samples inside
 * an event, so every reader refuses longer ones (found by fuzzing the scenario reader). */
#define MS_EVENT_MAX_LENGTH_MS 3600000.0

typedef struct {
    double event_length_ms; /* L */
    double event_frequency; /* f: fraction of windows that hold an event */
    double correlation;     /* r: first-order correlation of successive samples */
    int x_vote;             /* 0: one positive sample detects; x: x consecutive needed */
    int n_lengths;          /* 0, or the observed event lengths (the distribution; its holder owns it) */
    double *lengths_ms;     /* default model: recall and the non-event firing rate are their means
                             * over these lengths instead of their values at L; compat ignores them */
} ms_event_params;

typedef struct {
    double recall, precision, f1;
    double fnr; /* 1 - recall: events missed */
    double fpr; /* 1 - precision: declared events that are false (the original's "fpr") */
} ms_event_metrics;

/* Probability that an event of d stream frames, sampled every `stride` frames, is
 * missed, for per-sample positive rate p (exposed for tests). */
double ms_event_miss(double p, double d, double r, double stride, int x_vote, bool compat);

/* Event metrics of one (tpr, fpr, fps) choice. Requires 0 < fps <= stream_fps. With
 * e->n_lengths > 0 (default model only) an event's length is drawn from e->lengths_ms: the
 * miss probabilities of events and of non-event windows are averaged over the lengths. */
void ms_event_eval(const ms_event_params *e, double tpr, double fpr, double stream_fps, double fps,
                   bool compat, ms_event_metrics *out);

#endif
