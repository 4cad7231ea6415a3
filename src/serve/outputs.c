/* Event outputs: config validation and the spool-backed delivery threads (outputs.h). */
#include "serve/outputs.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "serve/spool.h"

#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 2.0

/* ---- config ---- */

static const char *const FILE_KEYS[] = {"type", "path", "spool_bytes", NULL};
static const char *const MQTT_KEYS[] = {"type", "host", "port", "topic", "qos", "spool_bytes", NULL};
static const char *const REDIS_KEYS[] = {"type", "host", "port", "stream", "maxlen", "spool_bytes", NULL};

static ms_status check_keys(const cJSON *obj, const char *const *keys, const char *where, const char *type,
                            ms_error *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        int k = 0;
        while (keys[k] && strcmp(keys[k], c->string)) k++;
        if (!keys[k]) return ms_errorf(err, MS_ERR_FORMAT, "%s.%s: unknown field for a %s output", where, c->string, type);
    }
    return MS_OK;
}

static ms_status get_string(const cJSON *obj, const char *where, const char *field, bool required, char **out,
                            ms_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v) return required ? ms_errorf(err, MS_ERR_FORMAT, "%s.%s: missing", where, field) : MS_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return ms_errorf(err, MS_ERR_FORMAT, "%s.%s: must be a non-empty string", where, field);
    if (!(*out = strdup(v->valuestring))) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    return MS_OK;
}

static ms_status get_int(const cJSON *obj, const char *where, const char *field, bool required, long long lo,
                         long long hi, long long *out, ms_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v) return required ? ms_errorf(err, MS_ERR_FORMAT, "%s.%s: missing", where, field) : MS_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return ms_errorf(err, MS_ERR_INVALID, "%s.%s: must be an integer in [%lld, %lld]", where, field, lo, hi);
    *out = (long long)v->valuedouble;
    return MS_OK;
}

static char *resolve(const char *base_path, const char *p)
{
    const char *slash = base_path ? strrchr(base_path, '/') : NULL;
    if (p[0] == '/' || !slash) return strdup(p);
    size_t dir = (size_t)(slash - base_path) + 1, n = strlen(p);
    char *out = malloc(dir + n + 1);
    if (!out) return NULL;
    memcpy(out, base_path, dir);
    memcpy(out + dir, p, n + 1);
    return out;
}

static ms_status parse_one(const cJSON *obj, const char *where, const char *base_path, ms_sink_config *c,
                           ms_error *err)
{
    if (!cJSON_IsObject(obj)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!t) return ms_errorf(err, MS_ERR_FORMAT, "%s.type: missing (file, mqtt or redis)", where);
    if (!cJSON_IsString(t)) return ms_errorf(err, MS_ERR_FORMAT, "%s.type: must be a string (file, mqtt or redis)", where);
    long long port = 0, qos = 1, maxlen = 0, spool = MS_OUTPUT_DEFAULT_SPOOL_BYTES;
    ms_status st;
    if (!strcmp(t->valuestring, "file")) {
        c->kind = MS_SINK_FILE;
        char *path = NULL;
        if ((st = check_keys(obj, FILE_KEYS, where, "file", err)) || (st = get_string(obj, where, "path", true, &path, err)))
            return st;
        c->path = resolve(base_path, path);
        free(path);
        if (!c->path) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    } else if (!strcmp(t->valuestring, "mqtt")) {
        c->kind = MS_SINK_MQTT;
        if ((st = check_keys(obj, MQTT_KEYS, where, "mqtt", err)) ||
            (st = get_string(obj, where, "host", true, &c->host, err)) ||
            (st = get_int(obj, where, "port", true, 1, 65535, &port, err)) ||
            (st = get_string(obj, where, "topic", true, &c->topic, err)) ||
            (st = get_int(obj, where, "qos", false, 0, 2, &qos, err)))
            return st;
        if (strpbrk(c->topic, "+#"))
            return ms_errorf(err, MS_ERR_INVALID, "%s.topic: '%s' has a wildcard (+ or #); publish topics cannot", where,
                             c->topic);
    } else if (!strcmp(t->valuestring, "redis")) {
        c->kind = MS_SINK_REDIS;
        if ((st = check_keys(obj, REDIS_KEYS, where, "redis", err)) ||
            (st = get_string(obj, where, "host", true, &c->host, err)) ||
            (st = get_int(obj, where, "port", true, 1, 65535, &port, err)) ||
            (st = get_string(obj, where, "stream", true, &c->stream, err)) ||
            (st = get_int(obj, where, "maxlen", false, 0, 1ll << 40, &maxlen, err)))
            return st;
    } else {
        return ms_errorf(err, MS_ERR_INVALID, "%s.type: '%s' is not file, mqtt or redis", where, t->valuestring);
    }
    if ((st = get_int(obj, where, "spool_bytes", false, 4096, 1ll << 40, &spool, err))) return st;
    c->port = (int)port;
    c->qos = (int)qos;
    c->maxlen = maxlen;
    c->spool_bytes = spool;
    return MS_OK;
}

void ms_outputs_config_free(ms_outputs_config *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->items[i].path);
        free(c->items[i].host);
        free(c->items[i].topic);
        free(c->items[i].stream);
    }
    free(c->items);
    memset(c, 0, sizeof *c);
}

ms_status ms_outputs_config_parse(const cJSON *arr, const char *where, const char *base_path,
                                  ms_outputs_config *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    if (!arr) return MS_OK;
    if (!cJSON_IsArray(arr)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an array of outputs", where);
    int n = cJSON_GetArraySize(arr);
    if (n > 64) return ms_errorf(err, MS_ERR_INVALID, "%s: at most 64 outputs, got %d", where, n);
    if (n && !(out->items = calloc((size_t)n, sizeof *out->items)))
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    ms_status st = MS_OK;
    for (int i = 0; i < n && !st; i++) {
        char w[512];
        snprintf(w, sizeof w, "%s[%d]", where, i);
        out->n++;
        st = parse_one(cJSON_GetArrayItem(arr, i), w, base_path, &out->items[i], err);
    }
    if (st) ms_outputs_config_free(out);
    return st;
}

/* ---- delivery ---- */

typedef struct {
    const ms_sink_config *cfg;
    ms_sink sink;
    ms_spool *spool;
    pthread_t thread;
    bool started;
    char target[256];
    /* under ms_outputs.mu */
    bool connected;
    uint64_t delivered, failures;
} output;

struct ms_outputs {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* back-off waits; signalled at stop */
    bool stop;
    double drain_deadline;
    int n;
    output *items;
};

static const char *type_name(ms_sink_kind k)
{
    return k == MS_SINK_FILE ? "file" : k == MS_SINK_MQTT ? "mqtt" : "redis";
}

static void describe(const ms_sink_config *c, char *out, size_t size)
{
    if (c->kind == MS_SINK_FILE) snprintf(out, size, "%s", c->path);
    else snprintf(out, size, "%s:%d/%s", c->host, c->port, c->kind == MS_SINK_MQTT ? c->topic : c->stream);
}

/* A stable folder name per output: its type and a hash of where it delivers, so a config
 * whose outputs are reordered finds each spool again. */
static void spool_name(const ms_sink_config *c, const char *target, char *out, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = target; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(out, size, "%s-%016" PRIx64, type_name(c->kind), h);
}

static bool should_stop(ms_outputs *o, output *out)
{
    pthread_mutex_lock(&o->mu);
    bool stop = o->stop && (ms_spool_get_stats(out->spool).pending == 0 || ms_now() >= o->drain_deadline);
    pthread_mutex_unlock(&o->mu);
    return stop;
}

static void wait_s(ms_outputs *o, double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + s;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    pthread_mutex_lock(&o->mu);
    if (!o->stop) pthread_cond_timedwait(&o->cv, &o->mu, &ts);
    pthread_mutex_unlock(&o->mu);
}

static void set_connected(ms_outputs *o, output *out, bool up, bool failed)
{
    pthread_mutex_lock(&o->mu);
    out->connected = up;
    if (failed) out->failures++;
    pthread_mutex_unlock(&o->mu);
}

/* Sends one spooled record; false when the sink failed (the record stays spooled). */
static bool send_record(ms_outputs *o, output *out, const char *rec, size_t len)
{
    ms_error err;
    cJSON *j = cJSON_ParseWithLength(rec, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id"), *stream = cJSON_GetObjectItemCaseSensitive(j, "stream"),
                *app = cJSON_GetObjectItemCaseSensitive(j, "app");
    bool ok = true;
    if (!cJSON_IsString(id) || !cJSON_IsString(stream) || !cJSON_IsString(app)) {
        ms_log(MS_LOG_ERROR, "output %s: spooled record is not an event, skipped: %.200s", out->target, rec);
    } else {
        ms_sink_event e = {id->valuestring, stream->valuestring, app->valuestring, rec, len};
        if (out->sink.send(&out->sink, &e, &err)) {
            ms_warn("output %s: %s (will retry)", out->target, err.msg);
            out->sink.disconnect(&out->sink);
            set_connected(o, out, false, true);
            ok = false;
        }
    }
    cJSON_Delete(j);
    if (ok && ms_spool_pop(out->spool, &err)) {
        ms_log(MS_LOG_ERROR, "output %s: %s", out->target, err.msg);
        return false;
    }
    if (ok) {
        pthread_mutex_lock(&o->mu);
        out->delivered++;
        pthread_mutex_unlock(&o->mu);
    }
    return ok;
}

typedef struct {
    ms_outputs *o;
    output *out;
} thread_arg;

static void *deliver(void *arg)
{
    ms_outputs *o = ((thread_arg *)arg)->o;
    output *out = ((thread_arg *)arg)->out;
    free(arg);
    double backoff = BACKOFF_MIN_S;
    bool reported = false;
    while (!should_stop(o, out)) {
        ms_error err;
        if (!out->connected) {
            if (out->sink.connect(&out->sink, &err)) {
                if (!reported) ms_warn("output %s: %s (retrying; events are spooled)", out->target, err.msg);
                reported = true;
                set_connected(o, out, false, true);
                wait_s(o, backoff);
                backoff = fmin(backoff * 2, BACKOFF_MAX_S);
                continue;
            }
            if (reported) ms_info("output %s: connected", out->target);
            reported = false;
            backoff = BACKOFF_MIN_S;
            set_connected(o, out, true, false);
        }
        char *rec;
        size_t len;
        if (!ms_spool_peek(out->spool, 0.2, &rec, &len, &err)) continue;
        if (!send_record(o, out, rec, len)) wait_s(o, backoff);
        free(rec);
    }
    out->sink.disconnect(&out->sink);
    return NULL;
}

static ms_status open_one(ms_outputs *o, output *out, const char *spool_dir, ms_error *err)
{
    describe(out->cfg, out->target, sizeof out->target);
    char name[64], path[4096];
    spool_name(out->cfg, out->target, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", spool_dir, name);
    ms_status st = out->cfg->kind == MS_SINK_FILE   ? ms_sink_file_init(&out->sink, out->cfg, err)
                   : out->cfg->kind == MS_SINK_MQTT ? ms_sink_mqtt_init(&out->sink, out->cfg, err)
                                                    : ms_sink_redis_init(&out->sink, out->cfg, err);
    if (!st) st = ms_spool_open(path, (uint64_t)out->cfg->spool_bytes, &out->spool, err);
    if (st) return st;
    ms_spool_stats ss = ms_spool_get_stats(out->spool);
    if (ss.pending) ms_info("output %s: %" PRIu64 " events left from the last run are spooled", out->target, ss.pending);
    thread_arg *a = malloc(sizeof *a);
    if (!a) return ms_errorf(err, MS_ERR_NOMEM, "outputs: out of memory");
    *a = (thread_arg){o, out};
    if (pthread_create(&out->thread, NULL, deliver, a) != 0) {
        free(a);
        return ms_errorf(err, MS_ERR_IO, "output %s: cannot start its thread", out->target);
    }
    out->started = true;
    return MS_OK;
}

ms_status ms_outputs_open(const ms_outputs_config *cfg, const char *spool_dir, ms_outputs **out, ms_error *err)
{
    *out = NULL;
    if (cfg->n && mkdir(spool_dir, 0700) != 0 && errno != EEXIST)
        return ms_errorf(err, MS_ERR_IO, "%s: cannot create: %s", spool_dir, strerror(errno));
    ms_outputs *o = calloc(1, sizeof *o);
    if (!o || (cfg->n && !(o->items = calloc((size_t)cfg->n, sizeof *o->items)))) {
        free(o);
        return ms_errorf(err, MS_ERR_NOMEM, "outputs: out of memory");
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    ms_status st = MS_OK;
    for (int i = 0; i < cfg->n && !st; i++) {
        o->items[i].cfg = &cfg->items[i];
        o->n++;
        st = open_one(o, &o->items[i], spool_dir, err);
    }
    if (st) {
        ms_outputs_close(o, 0);
        return st;
    }
    *out = o;
    return MS_OK;
}

int ms_outputs_publish(ms_outputs *o, const ms_sink_event *e)
{
    int refused = 0;
    for (int i = 0; i < o->n; i++) {
        ms_error err;
        if (ms_spool_push(o->items[i].spool, e->json, e->len, &err)) {
            ms_log(MS_LOG_ERROR, "output %s: event %s (app %s) not delivered: %s", o->items[i].target, e->id, e->app,
                   err.msg);
            refused++;
        }
    }
    return refused;
}

int ms_outputs_count(const ms_outputs *o) { return o ? o->n : 0; }

ms_output_stats ms_outputs_stats(ms_outputs *o, int i)
{
    output *out = &o->items[i];
    ms_output_stats s = {.type = type_name(out->cfg->kind)};
    snprintf(s.target, sizeof s.target, "%s", out->target);
    ms_spool_stats ss = ms_spool_get_stats(out->spool);
    pthread_mutex_lock(&o->mu);
    s.connected = out->connected;
    s.delivered = out->delivered;
    s.failures = out->failures;
    pthread_mutex_unlock(&o->mu);
    s.pending = ss.pending;
    s.pending_bytes = ss.pending_bytes;
    s.spool_bytes = ss.max_bytes;
    s.dropped = ss.dropped;
    return s;
}

void ms_outputs_close(ms_outputs *o, double drain_s)
{
    if (!o) return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    o->drain_deadline = ms_now() + drain_s;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (int i = 0; i < o->n; i++) {
        output *out = &o->items[i];
        if (out->started) pthread_join(out->thread, NULL);
        if (out->sink.impl) {
            out->sink.disconnect(&out->sink);
            free(out->sink.impl);
        }
        ms_spool_close(out->spool);
    }
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o->items);
    free(o);
}
