/* Event lengths, frequency and miss correlation from per-frame labels. */
#include "train/events.h"

#include <stdlib.h>

ms_status ms_events_add(const bool *present, int64_t n, double fps, ms_event_stats *out, ms_error *err)
{
    if (fps <= 0) return ms_errorf(err, MS_ERR_INVALID, "event statistics need the video's frame rate");
    int64_t positives = (int64_t)(out->frequency * (double)out->frames + 0.5);
    for (int64_t i = 0; i < n;) {
        if (!present[i]) {
            i++;
            continue;
        }
        int64_t start = i;
        while (i < n && present[i]) i++;
        double *grown = realloc(out->lengths_ms, ((size_t)out->n_lengths + 1) * sizeof *grown);
        if (!grown) return ms_errorf(err, MS_ERR_NOMEM, "out of memory for event lengths");
        out->lengths_ms = grown;
        out->lengths_ms[out->n_lengths++] = (double)(i - start) * 1000.0 / fps;
        positives += i - start;
    }
    out->frames += n;
    out->seconds += (double)n / fps;
    out->known = true;
    out->frequency = out->frames ? (double)positives / (double)out->frames : 0;
    out->events_per_minute = out->seconds > 0 ? (double)out->n_lengths * 60.0 / out->seconds : 0;
    double sum = 0;
    for (int i = 0; i < out->n_lengths; i++) sum += out->lengths_ms[i];
    out->length_mean_ms = out->n_lengths ? sum / out->n_lengths : 0;
    return MS_OK;
}

void ms_miss_count(const bool *present, const bool *detected, int64_t n, ms_miss_counts *acc)
{
    for (int64_t i = 0; i < n; i++) {
        if (!present[i]) continue;
        acc->event_frames++;
        acc->hits += detected[i];
        if (i > 0 && present[i - 1] && !detected[i - 1]) {
            acc->n1++;
            acc->n11 += !detected[i];
        }
    }
}

double ms_miss_correlation(const ms_miss_counts *c)
{
    if (c->n1 == 0 || c->hits == 0) return 0;
    double p = (double)c->hits / (double)c->event_frames, cond = (double)c->n11 / (double)c->n1;
    double r = (cond - (1.0 - p)) / p;
    return r < 0 ? 0 : r > 1 ? 1 : r;
}
