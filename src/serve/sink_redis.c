/* The Redis sink through hiredis: each event is one XADD to the configured stream with
 * fields id, stream, app and event (the JSON line); delivered when Redis returns the
 * entry id. */
#include "serve/sink.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define REDIS_TIMEOUT_S 5

typedef struct {
    redisContext *c;
} redis_sink;

static void redis_disconnect(ms_sink *s)
{
    redis_sink *r = s->impl;
    if (r->c) redisFree(r->c);
    r->c = NULL;
}

static ms_status redis_connect(ms_sink *s, ms_error *err)
{
    redis_sink *r = s->impl;
    if (r->c) return MS_OK;
    struct timeval tv = {REDIS_TIMEOUT_S, 0};
    r->c = redisConnectWithTimeout(s->cfg->host, s->cfg->port, tv);
    if (!r->c) return ms_errorf(err, MS_ERR_NOMEM, "redis %s:%d: cannot allocate a context", s->cfg->host, s->cfg->port);
    if (r->c->err) {
        ms_status st = ms_errorf(err, MS_ERR_IO, "redis %s:%d: cannot connect: %s", s->cfg->host, s->cfg->port,
                                 r->c->errstr);
        redis_disconnect(s);
        return st;
    }
    redisSetTimeout(r->c, tv);
    return MS_OK;
}

static ms_status redis_send(ms_sink *s, const ms_sink_event *e, ms_error *err)
{
    redis_sink *r = s->impl;
    const char *argv[14];
    size_t lens[14];
    int n = 0;
    char maxlen[32];
    argv[n] = "XADD", lens[n++] = 4;
    argv[n] = s->cfg->stream, lens[n++] = strlen(s->cfg->stream);
    if (s->cfg->maxlen > 0) {
        snprintf(maxlen, sizeof maxlen, "%lld", s->cfg->maxlen);
        argv[n] = "MAXLEN", lens[n++] = 6;
        argv[n] = "~", lens[n++] = 1;
        argv[n] = maxlen, lens[n++] = strlen(maxlen);
    }
    argv[n] = "*", lens[n++] = 1;
    const char *fields[4][2] = {{"id", e->id}, {"stream", e->stream}, {"app", e->app}, {"event", e->json}};
    for (int i = 0; i < 4; i++) {
        argv[n] = fields[i][0], lens[n++] = strlen(fields[i][0]);
        argv[n] = fields[i][1], lens[n++] = i == 3 ? e->len : strlen(fields[i][1]);
    }
    redisReply *reply = redisCommandArgv(r->c, n, argv, lens);
    if (!reply)
        return ms_errorf(err, MS_ERR_IO, "redis %s:%d: XADD %s: %s", s->cfg->host, s->cfg->port, s->cfg->stream,
                         r->c->errstr[0] ? r->c->errstr : "no reply");
    ms_status st = MS_OK;
    if (reply->type != REDIS_REPLY_STRING)
        st = ms_errorf(err, MS_ERR_IO, "redis %s:%d: XADD %s: %s", s->cfg->host, s->cfg->port, s->cfg->stream,
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    freeReplyObject(reply);
    return st;
}

ms_status ms_sink_redis_init(ms_sink *s, const ms_sink_config *cfg, ms_error *err)
{
    memset(s, 0, sizeof *s);
    redis_sink *r = calloc(1, sizeof *r);
    if (!r) return ms_errorf(err, MS_ERR_NOMEM, "redis: out of memory");
    *s = (ms_sink){.cfg = cfg, .impl = r, .connect = redis_connect, .send = redis_send, .disconnect = redis_disconnect};
    return MS_OK;
}
