/* `mainstream serve`: the runtime (run/runtime.h) as a service: an HTTP control API
 * (api.c over http.c), Prometheus metrics (metrics.c), event outputs to a file, MQTT and
 * Redis with an on-disk spool (outputs.c), a live SSE feed (feed.c) and state that
 * survives a crash (state.c). docs/serve.md is the reference. */
#ifndef MS_SERVE_SERVE_H
#define MS_SERVE_SERVE_H

#include <signal.h>
#include <stdbool.h>

#include "base/error.h"

#define MS_SERVE_DEFAULT_LISTEN "127.0.0.1:8080"
#define MS_SERVE_DEFAULT_STATE "mainstream-state"
#define MS_SERVE_MAX_JSON_BYTES (1u << 20)
#define MS_SERVE_MAX_PACKAGE_BYTES (512ull << 20)

typedef struct {
    const char *config_path;   /* a deployment with "outputs"; NULL: the one recorded in the state */
    const char *listen;        /* "ADDR:PORT"; NULL: MS_SERVE_DEFAULT_LISTEN */
    const char *token_file;    /* NULL: $MAINSTREAM_TOKEN, else no token (loopback only) */
    const char *state_dir;     /* NULL: MS_SERVE_DEFAULT_STATE */
    bool offline;              /* run streams offline (every sampled frame, as fast as possible) */
    double report_every_s;     /* progress line on stderr; <= 0: only at the end */
    volatile sig_atomic_t *stop; /* set by a signal handler to stop cleanly */
} ms_serve_options;

/* Starts everything, serves until *stop is set, then stops cleanly: open events are
 * closed and handed to the outputs, which get a few seconds to deliver them (what is
 * left stays spooled). Fails at start, before listening, when the config, the state,
 * the token or the address is bad. */
ms_status ms_serve_run(const ms_serve_options *o, ms_error *err);

#endif
