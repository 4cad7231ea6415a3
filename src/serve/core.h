/* The server object shared by serve.c (start, events, shutdown) and api.c (requests):
 * internal to src/serve/. */
#ifndef MS_SERVE_CORE_H
#define MS_SERVE_CORE_H

#include <pthread.h>
#include <stdbool.h>

#include "graph/graph.h"
#include "run/deploy.h"
#include "run/runtime.h"
#include "serve/event.h"
#include "serve/feed.h"
#include "serve/http.h"
#include "serve/outputs.h"
#include "serve/state.h"

typedef struct {
    ms_deployment settings;    /* the config's settings (its streams and apps are empty) */
    ms_outputs_config outputs_cfg;
    ms_outputs *outputs;
    ms_feed *feed;
    ms_http *http;
    ms_runtime *rt;
    ms_graph *base;            /* for checking uploaded packages */
    ms_serve_state state;
    char *packages_dir;
    /* api_lock: readers (GET) share it, every change (runtime call + state commit) holds
     * it alone, and shutdown takes it to set `closing`, after which requests get 503 */
    pthread_rwlock_t api_lock;
    bool closing;
    pthread_mutex_t event_mu;  /* ids */
    ms_event_ids ids;
} ms_server;

/* The request handler (api.c), an ms_http_handler with ctx = ms_server. */
void ms_serve_handle(void *ctx, const ms_http_request *rq, ms_http_reply *rp);

/* Checks a stream or app object strictly and adds it to the runtime; on success
 * *stored is the object to keep in the state (local paths absolute). `where` names it
 * in messages; relative paths resolve against base_path's folder (the config's), or the
 * working folder when base_path is "" (API requests); *status gets the HTTP status of a
 * refusal. */
ms_status ms_serve_add_stream(ms_server *s, const cJSON *obj, const char *where, const char *base_path,
                              cJSON **stored, int *status, ms_error *err);
ms_status ms_serve_add_app(ms_server *s, const cJSON *obj, const char *where, const char *base_path,
                           cJSON **stored, int *status, ms_error *err);

#endif
