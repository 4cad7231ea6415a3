/* The HTTP side of `mainstream serve`, through libmicrohttpd: one listening daemon whose
 * internal polling thread accepts connections (a thread per connection, at most 64, so
 * an SSE feed or a slow runtime call never holds up another request), the body limits,
 * the bearer token, and replies. Routing and the API live in api.c: this file hands it a
 * whole request and sends back what it answers.
 *
 * Before a request reaches the handler: with a token, every request except
 * GET /v1/health must carry "Authorization: Bearer TOKEN" (none or not a bearer token:
 * 401 with WWW-Authenticate; a wrong token: 403); a body over the limit is refused with
 * 413 (by Content-Length before it is read, or as soon as it grows past the limit).
 * Bodies of upload routes (the upload_prefix) go to a temporary file in upload_dir
 * (limit max_upload); every other body is kept in memory (limit max_json). A body sent
 * without Content-Length that grows past the limit is read on and discarded, then
 * answered 413; one that goes on to twice the limit has its connection closed. */
#ifndef MS_SERVE_HTTP_H
#define MS_SERVE_HTTP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "serve/feed.h"

typedef struct {
    const char *method;
    const char *path;        /* decoded, without the query */
    const char *body;        /* in-memory body (NUL-terminated), "" when none */
    size_t body_len;
    const char *upload_path; /* upload routes: the temporary file holding the body */
    uint64_t upload_len;
} ms_http_request;

typedef struct {
    int status;
    char *body;               /* malloc'd; NULL: no body */
    size_t len;
    const char *content_type; /* default application/json */
    const char *allow;        /* 405: the Allow header */
    bool sse;                 /* answer with the event feed (text/event-stream) */
} ms_http_reply;

typedef void (*ms_http_handler)(void *ctx, const ms_http_request *rq, ms_http_reply *rp);

typedef struct {
    const char *listen;      /* "ADDR:PORT" (IPv4, or [IPv6]:PORT); port 0: any free port */
    const char *token;       /* NULL: no authentication (loopback only) */
    size_t max_json;         /* body limit of ordinary requests */
    uint64_t max_upload;     /* body limit of upload routes */
    const char *upload_prefix; /* e.g. "/v1/packages/" (PUT only) */
    const char *upload_dir;  /* where upload bodies are written */
    ms_http_handler handler;
    void *ctx;
    ms_feed *feed;           /* for sse replies */
} ms_http_options;

typedef struct ms_http ms_http;

/* Parses "ADDR:PORT"; loopback is set for 127.0.0.0/8 and ::1. */
ms_status ms_http_parse_listen(const char *listen, char *host, size_t host_size, int *port, bool *loopback,
                               ms_error *err);

/* Starts listening (refused: a non-loopback address without a token). */
ms_status ms_http_start(const ms_http_options *o, ms_http **out, ms_error *err);
/* The port actually bound (useful with port 0). */
int ms_http_port(const ms_http *h);
/* Stops accepting and waits for the connection threads (close the feed first). */
void ms_http_stop(ms_http *h);

/* Reply helpers: a JSON body (takes ownership of j), an {"error": "..."} body. */
void ms_http_reply_json(ms_http_reply *rp, int status, cJSON *j);
void ms_http_reply_error(ms_http_reply *rp, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads a bearer token from a file (first line, surrounding whitespace removed). */
ms_status ms_http_read_token(const char *path, char **token, ms_error *err);

#endif
