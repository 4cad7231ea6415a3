/* GET /metrics: the runtime's stats and the outputs' counters in the Prometheus text
 * exposition format (version 0.0.4): per family one # HELP and one # TYPE line, then its
 * samples, label values escaped (\\ \" \n).
 *
 *   mainstream_app_fps, mainstream_app_planned_fps, mainstream_app_predicted_f1,
 *   mainstream_app_chokepoint, mainstream_events_total        {app, stream}
 *   mainstream_stream_up, mainstream_stream_frames_decoded_total,
 *   mainstream_stream_frames_dropped_total, mainstream_stream_reopenings_total {stream}
 *   mainstream_node_ms_per_frame, mainstream_node_planned_ms_per_frame
 *                                             {stream, kind, from, to, app}
 *   mainstream_cost_ms_per_second, mainstream_planned_cost_ms_per_second,
 *   mainstream_budget_ms_per_second, mainstream_replans_total
 *   mainstream_output_up, mainstream_output_delivered_total, mainstream_output_spooled_events,
 *   mainstream_output_spool_bytes, mainstream_output_spool_limit_bytes,
 *   mainstream_output_dropped_total, mainstream_output_failures_total {output, type} */
#ifndef MS_SERVE_METRICS_H
#define MS_SERVE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "run/runtime.h"
#include "serve/outputs.h"

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory */
} ms_prom;

/* Starts a metric family. type: "gauge" or "counter". */
void ms_prom_family(ms_prom *p, const char *name, const char *type, const char *help);
/* One sample; labels is "k1", "v1", "k2", "v2", ..., NULL (or NULL for none). */
void ms_prom_sample(ms_prom *p, const char *name, const char *const *labels, double value);

/* The whole page (malloc'd, NUL-terminated); NULL when out of memory. */
char *ms_serve_metrics(const ms_runtime_stats *st, const ms_output_stats *outs, int n_outs);

#endif
