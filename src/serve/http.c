/* HTTP through libmicrohttpd: limits, authentication, replies, the SSE feed (http.h). */
#include "serve/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"

#define MAX_CONNECTIONS 64
#define IDLE_TIMEOUT_S 60
#define SSE_KEEPALIVE_S 15.0

struct ms_http {
    struct MHD_Daemon *d;
    ms_http_options o;
    char *token;
    char *upload_prefix, *upload_dir;
    int port;
};

typedef struct {
    bool started, refused;
    bool upload;
    char *body;
    size_t len, cap;
    bool too_large;
    uint64_t discarded;
    int fd;
    char *tmp;
    uint64_t upload_len;
} request;

/* ---- replies ---- */

void ms_http_reply_json(ms_http_reply *rp, int status, cJSON *j)
{
    rp->status = status;
    rp->content_type = "application/json";
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) {
        rp->status = 500;
        s = strdup("{\"error\":\"out of memory\"}");
    }
    size_t n = s ? strlen(s) : 0;
    rp->body = s ? realloc(s, n + 2) : NULL;
    if (!rp->body) {
        free(s);
        rp->len = 0;
        return;
    }
    rp->body[n] = '\n';
    rp->body[n + 1] = '\0';
    rp->len = n + 1;
}

void ms_http_reply_error(ms_http_reply *rp, int status, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    if (j && !cJSON_AddStringToObject(j, "error", msg)) {
        cJSON_Delete(j);
        j = NULL;
    }
    ms_http_reply_json(rp, status, j);
    if (rp->status == 500 && status != 500) rp->status = status;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, ms_http_reply *rp)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rp->len, rp->body ? rp->body : (char *)"", MHD_RESPMEM_MUST_COPY);
    free(rp->body);
    rp->body = NULL;
    if (!r) return MHD_NO;
    if (rp->len) MHD_add_response_header(r, "Content-Type", rp->content_type ? rp->content_type : "application/json");
    if (rp->allow) MHD_add_response_header(r, "Allow", rp->allow);
    if (rp->status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"mainstream\"");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *c, request *rq, int status, const char *msg)
{
    ms_http_reply rp = {0};
    ms_http_reply_error(&rp, status, "%s", msg);
    rq->refused = true;
    return send_reply(c, &rp);
}

/* ---- SSE ---- */

typedef struct {
    ms_feed *feed;
    uint64_t pos;
    char *pend;
    size_t pend_len, pend_off;
} sse;

static ssize_t sse_read(void *cls, uint64_t at, char *buf, size_t max)
{
    (void)at;
    sse *s = cls;
    double since = ms_now();
    while (!s->pend) {
        char *line;
        uint64_t missed;
        bool closed;
        if (ms_feed_next(s->feed, &s->pos, 1.0, &line, &missed, &closed)) {
            if (missed) {
                char note[64 + 16];
                snprintf(note, sizeof note, ": %llu events skipped (reader too slow)\n\n", (unsigned long long)missed);
                size_t n = strlen(note), m = strlen(line);
                char *both = malloc(n + m + 1);
                if (both) {
                    memcpy(both, note, n);
                    memcpy(both + n, line, m + 1);
                }
                free(line);
                line = both;
                if (!line) return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            s->pend = line;
        } else if (closed) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        } else if (ms_now() - since >= SSE_KEEPALIVE_S) {
            if (!(s->pend = strdup(": keepalive\n\n"))) return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (s->pend) {
            s->pend_len = strlen(s->pend);
            s->pend_off = 0;
        }
    }
    size_t n = s->pend_len - s->pend_off < max ? s->pend_len - s->pend_off : max;
    memcpy(buf, s->pend + s->pend_off, n);
    s->pend_off += n;
    if (s->pend_off == s->pend_len) {
        free(s->pend);
        s->pend = NULL;
    }
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse *s = cls;
    free(s->pend);
    free(s);
}

static enum MHD_Result send_sse(ms_http *h, struct MHD_Connection *c)
{
    sse *s = calloc(1, sizeof *s);
    if (!s) return MHD_NO;
    s->feed = h->o.feed;
    s->pos = ms_feed_head(h->o.feed);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- requests ---- */

static bool token_ok(const char *want, const char *got)
{
    size_t a = strlen(want), b = strlen(got);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < a; i++) diff |= (unsigned char)(want[i] ^ (i < b ? got[i] : 0));
    return diff == 0;
}

/* 0 when allowed, else the status to refuse with. */
static int check_auth(ms_http *h, struct MHD_Connection *c, const char *url, const char *method)
{
    if (!h->token || (!strcmp(method, "GET") && !strcmp(url, "/v1/health"))) return 0;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7)) return 401;
    a += 7;
    while (*a == ' ') a++;
    return token_ok(h->token, a) ? 0 : 403;
}

static bool is_upload(ms_http *h, const char *url, const char *method)
{
    return h->upload_prefix && !strcmp(method, "PUT") && !strncmp(url, h->upload_prefix, strlen(h->upload_prefix));
}

static enum MHD_Result first_call(ms_http *h, struct MHD_Connection *c, request *rq, const char *url,
                                  const char *method)
{
    rq->started = true;
    int auth = check_auth(h, c, url, method);
    if (auth == 401) return refuse(c, rq, 401, "Authorization: a bearer token is required");
    if (auth == 403) return refuse(c, rq, 403, "Authorization: wrong token");
    rq->upload = is_upload(h, url, method);
    uint64_t limit = rq->upload ? h->o.max_upload : h->o.max_json;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > limit) {
        char msg[128];
        snprintf(msg, sizeof msg, "body: %s bytes is over the limit of %llu", cl, (unsigned long long)limit);
        return refuse(c, rq, 413, msg);
    }
    if (rq->upload) {
        size_t n = strlen(h->upload_dir) + 32;
        if (!(rq->tmp = malloc(n))) return MHD_NO;
        snprintf(rq->tmp, n, "%s/.upload-XXXXXX", h->upload_dir);
        if ((rq->fd = mkostemp(rq->tmp, O_CLOEXEC)) < 0) {
            ms_warn("serve: %s: cannot create: %s", rq->tmp, strerror(errno));
            free(rq->tmp);
            rq->tmp = NULL;
            return refuse(c, rq, 500, "cannot store the upload");
        }
    }
    return MHD_YES;
}

static bool take_chunk(ms_http *h, request *rq, const char *data, size_t n)
{
    uint64_t limit = rq->upload ? h->o.max_upload : h->o.max_json;
    uint64_t have = rq->upload ? rq->upload_len : rq->len;
    if (rq->too_large || have + n > limit) {
        /* past the limit (a body without Content-Length): what follows is discarded, and
         * the connection closed when the client keeps sending as much again */
        rq->too_large = true;
        rq->discarded += n;
        return rq->discarded <= limit;
    }
    if (rq->upload) {
        while (n > 0) {
            ssize_t w = write(rq->fd, data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            data += w;
            n -= (size_t)w;
            rq->upload_len += (uint64_t)w;
        }
        return true;
    }
    if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap * 2 : 4096;
        while (cap < rq->len + n + 1) cap *= 2;
        char *b = realloc(rq->body, cap);
        if (!b) return false;
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = '\0';
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)version;
    ms_http *h = cls;
    request *rq = *con_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        rq->fd = -1;
        *con_cls = rq;
        return first_call(h, c, rq, url, method);
    }
    if (rq->refused) {
        *data_size = 0; /* the reply is queued; the rest of the body is discarded */
        return MHD_YES;
    }
    if (*data_size) {
        if (!take_chunk(h, rq, data, *data_size))
            return rq->too_large ? MHD_NO : refuse(c, rq, 500, "cannot store the body");
        *data_size = 0;
        return MHD_YES;
    }
    if (rq->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "body: over the limit of %llu bytes",
                 (unsigned long long)(rq->upload ? h->o.max_upload : h->o.max_json));
        return refuse(c, rq, 413, msg);
    }
    if (rq->upload && fsync(rq->fd) != 0) return refuse(c, rq, 500, "cannot store the upload");
    ms_http_request req = {.method = method, .path = url, .body = rq->body ? rq->body : "", .body_len = rq->len,
                           .upload_path = rq->tmp, .upload_len = rq->upload_len};
    ms_http_reply rp = {.status = 500};
    h->o.handler(h->o.ctx, &req, &rp);
    if (rp.sse) return send_sse(h, c);
    return send_reply(c, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    request *rq = *con_cls;
    if (!rq) return;
    if (rq->fd >= 0) close(rq->fd);
    if (rq->tmp) unlink(rq->tmp); /* the handler renamed it away when it kept it */
    free(rq->tmp);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

/* ---- daemon ---- */

ms_status ms_http_parse_listen(const char *listen, char *host, size_t host_size, int *port, bool *loopback,
                               ms_error *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return ms_errorf(err, MS_ERR_INVALID, "--listen: '%s' is not ADDR:PORT", listen);
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') h++, n -= 2;
    if (n + 1 > host_size) return ms_errorf(err, MS_ERR_INVALID, "--listen: '%s': address too long", listen);
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return ms_errorf(err, MS_ERR_INVALID, "--listen: '%s': port must be in [0, 65535]", listen);
    *port = (int)p;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) *loopback = (ntohl(a4.s_addr) >> 24) == 127;
    else if (inet_pton(AF_INET6, host, &a6) == 1) *loopback = IN6_IS_ADDR_LOOPBACK(&a6);
    else return ms_errorf(err, MS_ERR_INVALID, "--listen: '%s' is not a numeric IPv4 or IPv6 address", host);
    return MS_OK;
}

ms_status ms_http_read_token(const char *path, char **token, ms_error *err)
{
    unsigned char *data;
    size_t size;
    if (ms_read_file(path, 4096, &data, &size, err)) return err->status;
    char *s = (char *)data, *e;
    while (*s && isspace((unsigned char)*s)) s++;
    for (e = s; *e && *e != '\n' && *e != '\r'; e++) {
    }
    while (e > s && isspace((unsigned char)e[-1])) e--;
    *e = '\0';
    ms_status st = MS_OK;
    for (char *c = s; *c && !st; c++)
        if (!isgraph((unsigned char)*c)) st = ms_errorf(err, MS_ERR_INVALID, "%s: the token has a non-printable character", path);
    if (!st && !*s) st = ms_errorf(err, MS_ERR_INVALID, "%s: the token is empty", path);
    if (!st && !(*token = strdup(s))) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    free(data);
    return st;
}

ms_status ms_http_start(const ms_http_options *o, ms_http **out, ms_error *err)
{
    *out = NULL;
    char host[128];
    int port;
    bool loopback;
    if (ms_http_parse_listen(o->listen, host, sizeof host, &port, &loopback, err)) return err->status;
    if (!loopback && !o->token)
        return ms_errorf(err, MS_ERR_INVALID,
                         "--listen: %s is not a loopback address; give a token (--token-file or MAINSTREAM_TOKEN)",
                         o->listen);
    ms_http *h = calloc(1, sizeof *h);
    if (!h) return ms_errorf(err, MS_ERR_NOMEM, "http: out of memory");
    h->o = *o;
    if ((o->token && !(h->token = strdup(o->token))) || (o->upload_prefix && !(h->upload_prefix = strdup(o->upload_prefix))) ||
        (o->upload_dir && !(h->upload_dir = strdup(o->upload_dir)))) {
        ms_http_stop(h);
        return ms_errorf(err, MS_ERR_NOMEM, "http: out of memory");
    }
    struct sockaddr_storage ss = {0};
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a->sin_addr);
    }
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    if (!h->d) {
        ms_http_stop(h);
        return ms_errorf(err, MS_ERR_IO, "--listen: cannot listen on %s (address in use or not this machine's)", o->listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    *out = h;
    return MS_OK;
}

int ms_http_port(const ms_http *h) { return h->port; }

void ms_http_stop(ms_http *h)
{
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    free(h->token);
    free(h->upload_prefix);
    free(h->upload_dir);
    free(h);
}
