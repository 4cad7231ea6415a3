/* Event outputs of `mainstream serve`: the config's "outputs" array, validated field by
 * field, and the fan-out that gives every event to each output.
 *
 *   "outputs": [{"type": "file", "path": "events.jsonl"},
 *               {"type": "mqtt", "host": "127.0.0.1", "port": 1883, "topic": "mainstream/events", "qos": 1},
 *               {"type": "redis", "host": "127.0.0.1", "port": 6379, "stream": "mainstream:events"}]
 *
 * Optional on every output: "spool_bytes" (bound of its spool, default 64 MiB); on
 * redis: "maxlen" (XADD MAXLEN ~ N). Unknown fields are refused.
 *
 * Delivery is at-least-once and ordered: publish appends the event to each output's
 * spool (spool.h, on disk under the state folder), and one delivery thread per output
 * sends the spool's oldest event through its sink (sink.h) and pops it once delivered.
 * A broker that is unreachable is retried with back-off (0.1 s doubling to 2 s) while
 * events wait on disk; a restart resumes from what is on disk. A full spool refuses the
 * event: counted per output and logged, never silent. */
#ifndef MS_SERVE_OUTPUTS_H
#define MS_SERVE_OUTPUTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "serve/sink.h"

#define MS_OUTPUT_DEFAULT_SPOOL_BYTES (64ll << 20)

typedef struct {
    int n;
    ms_sink_config *items;
} ms_outputs_config;

/* Parses a JSON array of outputs; `where` names it ("serve.json: outputs") and
 * `base_path` anchors relative file paths (NULL: as given). NULL arr: no outputs. */
ms_status ms_outputs_config_parse(const cJSON *arr, const char *where, const char *base_path,
                                  ms_outputs_config *out, ms_error *err);
void ms_outputs_config_free(ms_outputs_config *c);

typedef struct ms_outputs ms_outputs;

typedef struct {
    const char *type;     /* "file", "mqtt", "redis" */
    char target[256];     /* path, host:port/topic, host:port/stream */
    bool connected;
    uint64_t delivered;   /* since start */
    uint64_t pending;     /* spooled, not yet delivered */
    uint64_t pending_bytes, spool_bytes;
    uint64_t dropped;     /* refused by a full spool */
    uint64_t failures;    /* failed connects and sends */
} ms_output_stats;

/* Opens each output's spool under spool_dir (created) and starts its delivery thread.
 * The config must outlive the outputs. */
ms_status ms_outputs_open(const ms_outputs_config *cfg, const char *spool_dir, ms_outputs **out, ms_error *err);

/* Gives one event to every output. Returns how many outputs refused it (full spool or
 * write failure; each logged). Safe from any thread. */
int ms_outputs_publish(ms_outputs *o, const ms_sink_event *e);

int ms_outputs_count(const ms_outputs *o);
ms_output_stats ms_outputs_stats(ms_outputs *o, int i);

/* Stops delivery, first trying for up to drain_s seconds to deliver what is pending
 * (what is left stays spooled for the next start), and frees everything. */
void ms_outputs_close(ms_outputs *o, double drain_s);

#endif
