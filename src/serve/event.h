/* The event record serve delivers: today's event fields (stream, app, frames, seconds
 * from the stream's start, peak score) plus a unique `id` and wall-clock `start_time` /
 * `end_time` in ISO 8601 UTC, rendered as one JSON line. Every output (file, MQTT,
 * Redis, the SSE feed) carries the same bytes, so a consumer can drop duplicates by id.
 *
 *   {"id":"6f1c...-000042","stream":"gate","app":"red-car","start_frame":120,
 *    "end_frame":161,"start_s":9.6,"end_s":12.88,"score":0.93,
 *    "start_time":"2026-12-03T10:24:21.120Z","end_time":"2026-12-03T10:24:24.400Z"} */
#ifndef MS_SERVE_EVENT_H
#define MS_SERVE_EVENT_H

#include <stdint.h>

#include "base/clock.h" /* ms_wall_now */
#include "base/error.h"
#include "run/detect.h"

/* Makes ids: a random 64-bit instance prefix (new at every start) and a counter, so ids
 * are unique across restarts without any state. */
typedef struct {
    char prefix[17];
    uint64_t next;
} ms_event_ids;

ms_status ms_event_ids_init(ms_event_ids *ids, ms_error *err);
/* Writes the next id into out (at least 32 bytes). Not thread-safe: one owner. */
void ms_event_ids_next(ms_event_ids *ids, char *out, size_t size);

/* ISO 8601 UTC with milliseconds, "2026-12-03T10:24:21.120Z", of a time_t-style
 * wall-clock second count; out holds at least 32 bytes. */
void ms_event_iso8601(double wall_s, char *out, size_t size);

/* One event as a JSON line (malloc'd, no trailing newline). close_wall_s is the wall
 * clock when the event closed: end_time. start_time is e->start_wall_s, the wall clock
 * when the event's first frame arrived (never after end_time). When that is unknown
 * (<= 0): origin_wall_s + start_s and + end_s when the wall clock of the stream's time 0
 * is known (> 0), else start_time is end_time minus the event's length in stream time. */
char *ms_event_json(const char *id, const char *stream, const char *app, const ms_event *e,
                    double origin_wall_s, double close_wall_s);

#endif
