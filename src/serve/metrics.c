/* Prometheus text rendering of serve's metrics (see metrics.h). */
#include "serve/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(ms_prom *p, const char *s, size_t n)
{
    if (p->failed) return;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n + 1) cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b) {
            p->failed = true;
            return;
        }
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void puts_(ms_prom *p, const char *s) { put(p, s, strlen(s)); }

static void putf(ms_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(ms_prom *p, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(p, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void ms_prom_family(ms_prom *p, const char *name, const char *type, const char *help)
{
    putf(p, "# HELP %s ", name);
    for (const char *c = help; *c; c++) {
        if (*c == '\\') puts_(p, "\\\\");
        else if (*c == '\n') puts_(p, "\\n");
        else put(p, c, 1);
    }
    putf(p, "\n# TYPE %s %s\n", name, type);
}

void ms_prom_sample(ms_prom *p, const char *name, const char *const *labels, double value)
{
    puts_(p, name);
    if (labels && labels[0]) {
        puts_(p, "{");
        for (int i = 0; labels[i]; i += 2) {
            putf(p, "%s%s=\"", i ? "," : "", labels[i]);
            for (const char *c = labels[i + 1]; *c; c++) {
                if (*c == '\\') puts_(p, "\\\\");
                else if (*c == '"') puts_(p, "\\\"");
                else if (*c == '\n') puts_(p, "\\n");
                else put(p, c, 1);
            }
            puts_(p, "\"");
        }
        puts_(p, "}");
    }
    if (isnan(value)) puts_(p, " NaN\n");
    else if (isinf(value)) puts_(p, value > 0 ? " +Inf\n" : " -Inf\n");
    else if (value == floor(value) && fabs(value) < 9007199254740992.0) putf(p, " %.0f\n", value);
    else putf(p, " %.15g\n", value);
}

static void app_family(ms_prom *p, const ms_runtime_stats *st, const char *name, const char *type, const char *help,
                       int which)
{
    ms_prom_family(p, name, type, help);
    for (int i = 0; i < st->n_apps; i++) {
        const ms_runtime_app_stats *a = &st->apps[i];
        const char *labels[] = {"app", a->name, "stream", a->stream, NULL};
        double v = which == 0   ? a->observed_fps
                   : which == 1 ? a->planned_fps
                   : which == 2 ? a->predicted.f1
                   : which == 3 ? (double)a->chokepoint
                                : (double)a->events;
        ms_prom_sample(p, name, labels, v);
    }
}

static void stream_family(ms_prom *p, const ms_runtime_stats *st, const char *name, const char *type,
                          const char *help, int which)
{
    ms_prom_family(p, name, type, help);
    for (int i = 0; i < st->n_streams; i++) {
        const ms_runtime_stream_stats *s = &st->streams[i];
        const char *labels[] = {"stream", s->name, NULL};
        double v = which == 0   ? (s->up ? 1 : 0)
                   : which == 1 ? (double)s->decoded
                   : which == 2 ? (double)s->dropped
                                : (double)s->reopenings;
        ms_prom_sample(p, name, labels, v);
    }
}

static const char *stream_name(const ms_runtime_stats *st, int id)
{
    for (int i = 0; i < st->n_streams; i++)
        if (st->streams[i].id == id) return st->streams[i].name;
    return "";
}

static const char *app_name(const ms_runtime_stats *st, int id)
{
    for (int i = 0; i < st->n_apps; i++)
        if (st->apps[i].id == id) return st->apps[i].name;
    return "";
}

static void node_family(ms_prom *p, const ms_runtime_stats *st, const char *name, const char *help, bool planned)
{
    ms_prom_family(p, name, "gauge", help);
    for (int i = 0; i < st->n_nodes; i++) {
        const ms_runtime_node_stats *n = &st->nodes[i];
        char from[16], to[16];
        snprintf(from, sizeof from, "%d", n->from);
        snprintf(to, sizeof to, "%d", n->to);
        bool seg = n->kind == MS_RUNTIME_NODE_SEGMENT;
        const char *labels[] = {"stream", stream_name(st, n->stream_id), "kind", seg ? "segment" : "branch",
                                "from",   from,   "to", seg ? to : "", "app", seg ? "" : app_name(st, n->app_id), NULL};
        ms_prom_sample(p, name, labels, planned ? n->planned_ms_per_frame : n->ms_per_frame);
    }
}

static void output_family(ms_prom *p, const ms_output_stats *o, int n, const char *name, const char *type,
                          const char *help, int which)
{
    ms_prom_family(p, name, type, help);
    for (int i = 0; i < n; i++) {
        const char *labels[] = {"output", o[i].target, "type", o[i].type, NULL};
        double v = which == 0   ? (o[i].connected ? 1 : 0)
                   : which == 1 ? (double)o[i].delivered
                   : which == 2 ? (double)o[i].pending
                   : which == 3 ? (double)o[i].pending_bytes
                   : which == 4 ? (double)o[i].spool_bytes
                   : which == 5 ? (double)o[i].dropped
                                : (double)o[i].failures;
        ms_prom_sample(p, name, labels, v);
    }
}

static void scalar(ms_prom *p, const char *name, const char *type, const char *help, double v)
{
    ms_prom_family(p, name, type, help);
    ms_prom_sample(p, name, NULL, v);
}

char *ms_serve_metrics(const ms_runtime_stats *st, const ms_output_stats *outs, int n_outs)
{
    ms_prom p = {0};
    app_family(&p, st, "mainstream_app_fps", "gauge", "Samples per second of video the app really got", 0);
    app_family(&p, st, "mainstream_app_planned_fps", "gauge", "The app's sampling rate in the current plan", 1);
    app_family(&p, st, "mainstream_app_predicted_f1", "gauge", "The scheduler's predicted event F1 at the planned point", 2);
    app_family(&p, st, "mainstream_app_chokepoint", "gauge", "The chokepoint the app branches off at (-1: not planned)", 3);
    app_family(&p, st, "mainstream_events_total", "counter", "Events the app closed", 4);
    stream_family(&p, st, "mainstream_stream_up", "gauge", "1 while the stream is opening, running or reconnecting", 0);
    stream_family(&p, st, "mainstream_stream_frames_decoded_total", "counter", "Frames decoded", 1);
    stream_family(&p, st, "mainstream_stream_frames_dropped_total", "counter", "Frames dropped because the executor was busy", 2);
    stream_family(&p, st, "mainstream_stream_reopenings_total", "counter", "Times the stream was reopened after a failure", 3);
    node_family(&p, st, "mainstream_node_ms_per_frame", "Observed milliseconds per frame of a stem-tree node", false);
    node_family(&p, st, "mainstream_node_planned_ms_per_frame", "Planned milliseconds per frame of a stem-tree node", true);
    scalar(&p, "mainstream_cost_ms_per_second", "gauge", "Observed node compute, ms per second of elapsed time", st->observed_cost);
    scalar(&p, "mainstream_planned_cost_ms_per_second", "gauge", "Planned cost of all current plans, ms per second", st->planned_cost);
    scalar(&p, "mainstream_budget_ms_per_second", "gauge", "The budget for all streams, ms of compute per second", st->budget);
    scalar(&p, "mainstream_replans_total", "counter", "Re-plans after the first plan, all streams", st->replans);
    output_family(&p, outs, n_outs, "mainstream_output_up", "gauge", "1 while the output is connected", 0);
    output_family(&p, outs, n_outs, "mainstream_output_delivered_total", "counter", "Events delivered since start", 1);
    output_family(&p, outs, n_outs, "mainstream_output_spooled_events", "gauge", "Events spooled on disk, not yet delivered", 2);
    output_family(&p, outs, n_outs, "mainstream_output_spool_bytes", "gauge", "Bytes spooled on disk, not yet delivered", 3);
    output_family(&p, outs, n_outs, "mainstream_output_spool_limit_bytes", "gauge", "The spool's bound", 4);
    output_family(&p, outs, n_outs, "mainstream_output_dropped_total", "counter", "Events refused because the spool was full", 5);
    output_family(&p, outs, n_outs, "mainstream_output_failures_total", "counter", "Failed connects and sends", 6);
    if (p.failed) {
        free(p.buf);
        return NULL;
    }
    return p.buf;
}
