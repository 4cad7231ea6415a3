/* Turning one app's per-sample scores into events.
 *
 * A sample is positive when its score is >= the threshold. With x-voting an event is
 * declared once x consecutive samples are positive; it starts at the first of those x
 * samples and ends at the last positive sample before the first negative one (or at the
 * last sample of the stream). Its score is the highest score among its samples. The
 * detector sees only the samples the app was scheduled on, so "consecutive" means
 * consecutive samples, not consecutive stream frames. */
#ifndef MS_RUN_DETECT_H
#define MS_RUN_DETECT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t start_frame, end_frame;
    double start_s, end_s;
    double score; /* peak */
    double start_wall_s; /* wall clock when its first sample's frame arrived; 0: unknown */
} ms_event;

typedef struct {
    double threshold;
    int x_vote;          /* >= 1 */
    int run;             /* consecutive positive samples so far */
    int64_t run_frame;   /* first frame of the current run */
    double run_s;
    double run_peak;
    double run_wall;
    bool open;           /* an event has been declared and not yet closed */
    int64_t last_frame;  /* last positive sample of the current run */
    double last_s;
} ms_detector;

void ms_detector_init(ms_detector *d, double threshold, int x_vote);

/* Feeds one sample; returns true and fills *closed when it closes an event. */
bool ms_detector_push(ms_detector *d, int64_t frame, double seconds, double score, ms_event *closed);
/* The same, with the wall clock when the sample's frame arrived (the event's
 * start_wall_s is its first sample's); ms_detector_push passes 0 (unknown). */
bool ms_detector_push_at(ms_detector *d, int64_t frame, double seconds, double wall_s, double score, ms_event *closed);

/* Whether an event is open (declared, not yet closed). */
bool ms_detector_open(const ms_detector *d);

/* Closes the open event at the end of the stream; returns false when there is none. */
bool ms_detector_finish(ms_detector *d, ms_event *closed);

#endif
