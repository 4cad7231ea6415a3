/* Event detection with x-voting over an app's sampled scores (see detect.h). */
#include "run/detect.h"

void ms_detector_init(ms_detector *d, double threshold, int x_vote)
{
    *d = (ms_detector){0};
    d->threshold = threshold;
    d->x_vote = x_vote < 1 ? 1 : x_vote;
}

bool ms_detector_open(const ms_detector *d) { return d->open; }

static void fill_event(const ms_detector *d, ms_event *e)
{
    e->start_frame = d->run_frame;
    e->start_s = d->run_s;
    e->end_frame = d->last_frame;
    e->end_s = d->last_s;
    e->score = d->run_peak;
    e->start_wall_s = d->run_wall;
}

bool ms_detector_push(ms_detector *d, int64_t frame, double seconds, double score, ms_event *closed)
{
    return ms_detector_push_at(d, frame, seconds, 0, score, closed);
}

bool ms_detector_push_at(ms_detector *d, int64_t frame, double seconds, double wall_s, double score, ms_event *closed)
{
    if (score >= d->threshold) {
        if (d->run == 0) {
            d->run_frame = frame;
            d->run_s = seconds;
            d->run_wall = wall_s;
            d->run_peak = score;
        } else if (score > d->run_peak) {
            d->run_peak = score;
        }
        d->run++;
        d->last_frame = frame;
        d->last_s = seconds;
        if (d->run >= d->x_vote) d->open = true;
        return false;
    }
    bool was_open = d->open;
    if (was_open) fill_event(d, closed);
    d->run = 0;
    d->open = false;
    return was_open;
}

bool ms_detector_finish(ms_detector *d, ms_event *closed)
{
    bool was_open = d->open;
    if (was_open) fill_event(d, closed);
    d->run = 0;
    d->open = false;
    return was_open;
}
