/* One interface for the places events go: a JSON-lines file, an MQTT broker
 * (libmosquitto), a Redis stream (hiredis). A sink only connects and sends one event at
 * a time; ordering, retries and the on-disk spool belong to outputs.c, which calls it
 * from one delivery thread per output, so a sink needs no lock.
 *
 * send returns MS_OK only once the event is delivered as far as the sink can know
 * (file: written and fdatasync'd; MQTT at QoS 1/2: the broker acknowledged it; QoS 0:
 * written to the socket; Redis: XADD returned the entry id). Any failure means "not
 * delivered": the caller disconnects, backs off and sends the same event again. */
#ifndef MS_SERVE_SINK_H
#define MS_SERVE_SINK_H

#include <stddef.h>

#include "base/error.h"

typedef enum { MS_SINK_FILE, MS_SINK_MQTT, MS_SINK_REDIS } ms_sink_kind;

/* One entry of a config's "outputs" (validated by outputs.c). */
typedef struct {
    ms_sink_kind kind;
    char *path;        /* file: the JSON-lines file (appended) */
    char *host;        /* mqtt, redis */
    int port;
    char *topic;       /* mqtt */
    int qos;           /* mqtt: 0, 1 (default) or 2 */
    char *stream;      /* redis: the stream key XADD appends to */
    long long maxlen;  /* redis: XADD MAXLEN ~ N (0: unbounded) */
    long long spool_bytes; /* bound of this output's spool */
} ms_sink_config;

/* The fields a sink may need beside the JSON line. */
typedef struct {
    const char *id, *stream, *app;
    const char *json;
    size_t len;
} ms_sink_event;

typedef struct ms_sink ms_sink;

struct ms_sink {
    const ms_sink_config *cfg;
    void *impl;
    ms_status (*connect)(ms_sink *s, ms_error *err);
    ms_status (*send)(ms_sink *s, const ms_sink_event *e, ms_error *err);
    void (*disconnect)(ms_sink *s);
};

/* Fills *s for cfg->kind (cfg must outlive s); the owner disconnects and frees s->impl. */
ms_status ms_sink_file_init(ms_sink *s, const ms_sink_config *cfg, ms_error *err);
ms_status ms_sink_mqtt_init(ms_sink *s, const ms_sink_config *cfg, ms_error *err);
ms_status ms_sink_redis_init(ms_sink *s, const ms_sink_config *cfg, ms_error *err);

#endif
