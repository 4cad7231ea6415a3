/* The MQTT sink through libmosquitto: one client per output, driven synchronously by the
 * delivery thread (mosquitto_loop), so an event counts as sent only when the broker has
 * acknowledged it (PUBACK at QoS 1, PUBCOMP at QoS 2; at QoS 0, once written out). */
#include "serve/sink.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

#define MQTT_TIMEOUT_S 5.0
#define MQTT_KEEPALIVE_S 30

typedef struct {
    struct mosquitto *m;
    int connack;     /* -1: waiting; else the CONNACK code */
    int acked_mid;   /* last acknowledged message id */
    unsigned serial;
} mqtt_sink;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { mosquitto_lib_init(); }

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    ((mqtt_sink *)obj)->connack = rc;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    (void)m;
    ((mqtt_sink *)obj)->acked_mid = mid;
}

static void mqtt_disconnect(ms_sink *s)
{
    mqtt_sink *q = s->impl;
    if (!q->m) return;
    mosquitto_disconnect(q->m);
    mosquitto_destroy(q->m);
    q->m = NULL;
}

/* Runs the client's loop until *done or the timeout; fails when the connection fails. */
static ms_status pump(ms_sink *s, const char *what, bool (*done)(const mqtt_sink *, int), int arg, ms_error *err)
{
    mqtt_sink *q = s->impl;
    double deadline = ms_now() + MQTT_TIMEOUT_S;
    while (!done(q, arg)) {
        int rc = mosquitto_loop(q->m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            return ms_errorf(err, MS_ERR_IO, "mqtt %s:%d: %s: %s", s->cfg->host, s->cfg->port, what,
                             mosquitto_strerror(rc));
        if (ms_now() > deadline)
            return ms_errorf(err, MS_ERR_IO, "mqtt %s:%d: %s: no answer in %g s", s->cfg->host, s->cfg->port, what,
                             MQTT_TIMEOUT_S);
    }
    return MS_OK;
}

static bool connack_seen(const mqtt_sink *q, int arg)
{
    (void)arg;
    return q->connack >= 0;
}

static bool mid_acked(const mqtt_sink *q, int mid) { return q->acked_mid == mid; }

static bool written(const mqtt_sink *q, int arg)
{
    (void)arg;
    return !mosquitto_want_write(q->m);
}

static ms_status mqtt_connect(ms_sink *s, ms_error *err)
{
    mqtt_sink *q = s->impl;
    if (q->m) return MS_OK;
    char id[64];
    snprintf(id, sizeof id, "mainstream-%ld-%u", (long)getpid(), q->serial++);
    if (!(q->m = mosquitto_new(id, true, q)))
        return ms_errorf(err, MS_ERR_NOMEM, "mqtt %s:%d: cannot create a client", s->cfg->host, s->cfg->port);
    mosquitto_connect_callback_set(q->m, on_connect);
    mosquitto_publish_callback_set(q->m, on_publish);
    q->connack = -1;
    int rc = mosquitto_connect(q->m, s->cfg->host, s->cfg->port, MQTT_KEEPALIVE_S);
    ms_status st = MS_OK;
    if (rc != MOSQ_ERR_SUCCESS)
        st = ms_errorf(err, MS_ERR_IO, "mqtt %s:%d: cannot connect: %s", s->cfg->host, s->cfg->port,
                       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    if (!st) st = pump(s, "connecting", connack_seen, 0, err);
    if (!st && q->connack != 0)
        st = ms_errorf(err, MS_ERR_IO, "mqtt %s:%d: connection refused: %s", s->cfg->host, s->cfg->port,
                       mosquitto_connack_string(q->connack));
    if (st) mqtt_disconnect(s);
    return st;
}

static ms_status mqtt_send(ms_sink *s, const ms_sink_event *e, ms_error *err)
{
    mqtt_sink *q = s->impl;
    int mid = 0;
    q->acked_mid = 0;
    int rc = mosquitto_publish(q->m, &mid, s->cfg->topic, (int)e->len, e->json, s->cfg->qos, false);
    if (rc != MOSQ_ERR_SUCCESS)
        return ms_errorf(err, MS_ERR_IO, "mqtt %s:%d: publish failed: %s", s->cfg->host, s->cfg->port,
                         mosquitto_strerror(rc));
    if (s->cfg->qos == 0) return pump(s, "publishing", written, 0, err);
    return pump(s, "waiting for the acknowledgement", mid_acked, mid, err);
}

ms_status ms_sink_mqtt_init(ms_sink *s, const ms_sink_config *cfg, ms_error *err)
{
    memset(s, 0, sizeof *s);
    pthread_once(&lib_once, lib_init);
    mqtt_sink *q = calloc(1, sizeof *q);
    if (!q) return ms_errorf(err, MS_ERR_NOMEM, "mqtt: out of memory");
    *s = (ms_sink){.cfg = cfg, .impl = q, .connect = mqtt_connect, .send = mqtt_send, .disconnect = mqtt_disconnect};
    return MS_OK;
}
