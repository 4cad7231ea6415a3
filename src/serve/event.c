/* Serve's event record: ids, ISO 8601 times, the JSON line (see event.h). */
#include "serve/event.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

ms_status ms_event_ids_init(ms_event_ids *ids, ms_error *err)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        return ms_errorf(err, MS_ERR_IO, "event ids: getrandom failed: %s", strerror(errno));
    snprintf(ids->prefix, sizeof ids->prefix, "%016" PRIx64, r);
    ids->next = 1;
    return MS_OK;
}

void ms_event_ids_next(ms_event_ids *ids, char *out, size_t size)
{
    snprintf(out, size, "%s-%06" PRIu64, ids->prefix, ids->next++);
}

void ms_event_iso8601(double wall_s, char *out, size_t size)
{
    if (!isfinite(wall_s) || wall_s < 0) wall_s = 0;
    int64_t ms = (int64_t)llround(wall_s * 1000.0);
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", date, (int)(ms % 1000));
}

char *ms_event_json(const char *id, const char *stream, const char *app, const ms_event *e,
                    double origin_wall_s, double close_wall_s)
{
    double start_wall, end_wall;
    if (e->start_wall_s > 0) {
        end_wall = close_wall_s;
        start_wall = e->start_wall_s < close_wall_s ? e->start_wall_s : close_wall_s;
    } else if (origin_wall_s > 0) {
        start_wall = origin_wall_s + e->start_s;
        end_wall = origin_wall_s + e->end_s;
    } else {
        end_wall = close_wall_s;
        start_wall = close_wall_s - (e->end_s - e->start_s);
    }
    char start_iso[32], end_iso[32];
    ms_event_iso8601(start_wall, start_iso, sizeof start_iso);
    ms_event_iso8601(end_wall, end_iso, sizeof end_iso);
    cJSON *o = cJSON_CreateObject();
    char *line = NULL;
    if (o && cJSON_AddStringToObject(o, "id", id) && cJSON_AddStringToObject(o, "stream", stream) &&
        cJSON_AddStringToObject(o, "app", app) && cJSON_AddNumberToObject(o, "start_frame", (double)e->start_frame) &&
        cJSON_AddNumberToObject(o, "end_frame", (double)e->end_frame) &&
        cJSON_AddNumberToObject(o, "start_s", e->start_s) && cJSON_AddNumberToObject(o, "end_s", e->end_s) &&
        cJSON_AddNumberToObject(o, "score", e->score) && cJSON_AddStringToObject(o, "start_time", start_iso) &&
        cJSON_AddStringToObject(o, "end_time", end_iso))
        line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return line;
}
