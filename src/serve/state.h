/* What `mainstream serve` keeps under --state DIR, so that after kill -9 and a restart
 * with the same DIR it runs the same deployment again:
 *
 *   DIR/state.json   {"version": 1, "config": "/abs/serve.json", "budget": B,
 *                     "streams": [stream objects], "apps": [app objects]}
 *                    replaced atomically (temporary file, fsync, rename) after every
 *                    change the API accepts, before the change is acknowledged
 *   DIR/packages/    uploaded M-Packages, NAME.mpk, each checked and renamed into place
 *                    (half-written uploads, .upload-*, are removed at open)
 *   DIR/spool/       one spool per event output (spool.h)
 *   DIR/lock         held (flock) while a serve uses DIR: a second one is refused
 *
 * Stream and app objects are kept as the API received them, with local paths made
 * absolute, so they are re-added at start exactly as they were. "budget" is absent
 * until PUT /v1/budget sets it. */
#ifndef MS_SERVE_STATE_H
#define MS_SERVE_STATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/error.h"

typedef struct {
    char *dir;
    char *file;       /* DIR/state.json */
    int lock_fd;
    bool existed;     /* state.json was there at open */
    cJSON *root;
} ms_serve_state;

/* Creates DIR (and packages/, spool/), takes the lock, loads state.json when present
 * (checked: an object with version 1 and arrays streams and apps). */
ms_status ms_serve_state_open(const char *dir, ms_serve_state *s, ms_error *err);

/* A folder or file under DIR (malloc'd). */
char *ms_serve_state_path(const ms_serve_state *s, const char *name);

/* Writes next as the new state (atomically); on success it replaces s->root (and is
 * owned by s), on failure it is freed and s->root stays. */
ms_status ms_serve_state_commit(ms_serve_state *s, cJSON *next, ms_error *err);

/* Accessors on s->root. */
cJSON *ms_serve_state_list(const ms_serve_state *s, const char *which); /* "streams" or "apps" */
double ms_serve_state_budget(const ms_serve_state *s);                  /* 0: not set */
const char *ms_serve_state_config(const ms_serve_state *s);            /* NULL: not set */

void ms_serve_state_close(ms_serve_state *s);

#endif
