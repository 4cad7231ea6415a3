/* An app's event statistics from a labelled video, and the correlation of its
 * classifier's misses.
 *
 * Events are the maximal runs of frames labelled present. Length: frames of the run /
 * fps (the list of all lengths is the distribution, its mean the typical length);
 * frequency: the fraction of labelled frames inside an event; events per minute.
 *
 * Correlation r (docs/trainer.md): the event model assumes that a sample that misses an
 * event (the classifier says "absent" on an event frame) is followed by a miss with
 * probability c = (1 - p) + p*r, p the per-frame true-positive rate: r = 0 makes misses
 * independent, r = 1 makes a miss certain to repeat. The estimator counts, over every
 * pair of consecutive frames inside the same event, the pairs whose first frame was
 * missed (n1) and those where both were (n11): c = n11 / n1, p = hits / event frames,
 * r = (c - (1 - p)) / p, clamped to [0, 1]; r = 0 when there is no missed pair or p = 0. */
#ifndef MS_TRAIN_EVENTS_H
#define MS_TRAIN_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/mpackage.h"

/* Adds the events of one labelled stream (frames in order) to *out (known = true). */
ms_status ms_events_add(const bool *present, int64_t n, double fps, ms_event_stats *out, ms_error *err);

typedef struct {
    int64_t event_frames, hits; /* frames inside events, and those detected */
    int64_t n1, n11;            /* consecutive in-event pairs with the first missed, and both */
} ms_miss_counts;

void ms_miss_count(const bool *present, const bool *detected, int64_t n, ms_miss_counts *acc);
double ms_miss_correlation(const ms_miss_counts *c);

#endif
