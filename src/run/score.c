/* Event-level scoring of the runner's events against labelled frames (see score.h). */
#include "run/score.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json.h"
#include "base/text.h"
#include "formats/labels.h"

#define MAX_INPUT_BYTES ((size_t)1 << 30)

typedef struct {
    ms_span *v;
    int64_t n, cap;
} span_list;

static ms_status push(span_list *l, ms_span s, const char *path, ms_error *err)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        ms_span *grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return MS_OK;
}

ms_status ms_score_load_labels(const char *csv, ms_labels *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    ms_frame_labels fl;
    ms_status s = ms_frame_labels_load(csv, &fl, err);
    if (s) return s;
    span_list runs[2] = {{0}}; /* [0]: absent, [1]: present */
    for (int64_t i = 0; i < fl.n && !s; i++) {
        int64_t frame = fl.frames[i];
        span_list *l = &runs[fl.present[i]];
        /* a gap or a change starts a run */
        if (i > 0 && fl.present[i - 1] == fl.present[i] && fl.frames[i - 1] + 1 == frame) l->v[l->n - 1].end = frame;
        else s = push(l, (ms_span){frame, frame}, csv, err);
    }
    ms_frame_labels_free(&fl);
    if (s) {
        free(runs[0].v);
        free(runs[1].v);
        return s;
    }
    *out = (ms_labels){runs[1].v, runs[0].v, runs[1].n, runs[0].n};
    return MS_OK;
}

void ms_labels_free(ms_labels *l)
{
    free(l->present);
    free(l->absent);
    memset(l, 0, sizeof *l);
}

/* The distinct names met in an events file (at most NAMES_MAX kept), for messages. */
#define NAMES_MAX 32
typedef struct {
    char *v[NAMES_MAX + 1]; /* NULL-terminated */
    int n;
} name_set;

static void names_add(name_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name)) return;
    if (s->n < NAMES_MAX && (s->v[s->n] = strdup(name))) s->n++; /* a name lost to memory only shortens a message */
}

static void names_free(name_set *s)
{
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    memset(s, 0, sizeof *s);
}

/* "a, b, c" into buf. */
static const char *names_list(const name_set *s, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "", s->v[i]);
    }
    return buf;
}

/* Reads one event line; *keep says whether it is of the stream and app asked for. The
 * streams met, and the apps met on the stream asked for, are added to the name sets. */
static ms_status parse_event(const char *row, const char *where, const char *stream, const char *app, ms_span *span,
                             bool *keep, name_set *streams, name_set *apps, ms_error *err)
{
    cJSON *obj = cJSON_Parse(row);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return ms_errorf(err, MS_ERR_FORMAT, "%s: not a JSON object", where);
    }
    const char *st = NULL, *ap = NULL;
    int64_t start = 0, end = 0;
    ms_status s = ms_json_string(obj, where, "stream", &st, err);
    if (!s) s = ms_json_string(obj, where, "app", &ap, err);
    if (!s) s = ms_json_int(obj, where, "start_frame", &start, err);
    if (!s) s = ms_json_int(obj, where, "end_frame", &end, err);
    if (!s && (start < 0 || end < start))
        s = ms_errorf(err, MS_ERR_FORMAT, "%s: start_frame %lld and end_frame %lld are not 0 <= start <= end", where,
                      (long long)start, (long long)end);
    if (!s) {
        names_add(streams, st);
        if (!strcmp(st, stream)) names_add(apps, ap);
        *keep = !strcmp(st, stream) && !strcmp(ap, app);
        *span = (ms_span){start, end};
    }
    cJSON_Delete(obj);
    return s;
}

/* The stream and app asked for must be in the file: a misspelt name would score recall 0. */
static ms_status check_present(const char *jsonl, const char *stream, const char *app, const name_set *streams,
                               const name_set *apps, ms_error *err)
{
    char list[1024];
    const char *near;
    bool has_stream = false, has_app = false;
    for (int i = 0; i < streams->n; i++) has_stream |= !strcmp(streams->v[i], stream);
    for (int i = 0; i < apps->n; i++) has_app |= !strcmp(apps->v[i], app);
    if (!has_stream) {
        near = streams->n ? ms_json_nearest_key(stream, (const char *const *)streams->v) : NULL;
        return ms_errorf(err, MS_ERR_INVALID, "%s: no event of stream '%s'%s%s%s (streams in the file: %s)", jsonl,
                         stream, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                         streams->n ? names_list(streams, list, sizeof list) : "none");
    }
    if (!has_app) {
        near = ms_json_nearest_key(app, (const char *const *)apps->v);
        return ms_errorf(err, MS_ERR_INVALID, "%s: no event of app '%s' on stream '%s'%s%s%s (apps on it: %s)", jsonl, app,
                         stream, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                         names_list(apps, list, sizeof list));
    }
    return MS_OK;
}

ms_status ms_score_load_events(const char *jsonl, const char *stream, const char *app, bool allow_absent,
                               ms_span **out, int64_t *n, ms_error *err)
{
    *out = NULL;
    *n = 0;
    unsigned char *text;
    size_t size;
    ms_status s = ms_read_file(jsonl, MAX_INPUT_BYTES, &text, &size, err);
    if (s) return s;
    span_list l = {0};
    name_set streams = {0}, apps = {0};
    char *cursor = (char *)text, *row;
    long long line = 0;
    char where[1100];
    while (!s && (row = ms_text_next_line(&cursor))) {
        line++;
        if (!row[strspn(row, " \t")]) continue;
        snprintf(where, sizeof where, "%s: line %lld", jsonl, line);
        ms_span span;
        bool keep = false;
        s = parse_event(row, where, stream, app, &span, &keep, &streams, &apps, err);
        if (!s && keep) s = push(&l, span, jsonl, err);
    }
    free(text);
    if (!s && !allow_absent) s = check_present(jsonl, stream, app, &streams, &apps, err);
    names_free(&streams);
    names_free(&apps);
    if (s) {
        free(l.v);
        return s;
    }
    *out = l.v;
    *n = l.n;
    return MS_OK;
}

/* Index of the first span ending at or after frame (n when none); the spans are
 * disjoint and in order, so their ends increase. */
static int64_t first_ending_from(const ms_span *spans, int64_t n, int64_t frame)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (spans[mid].end < frame) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int by_start(const void *a, const void *b)
{
    const ms_span *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* The union of spans as disjoint spans in order, in place; returns their number. */
static int64_t merge_spans(ms_span *v, int64_t n)
{
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, by_start);
    int64_t m = 0;
    for (int64_t i = 1; i < n; i++) {
        if (v[i].start <= v[m].end + 1) {
            if (v[i].end > v[m].end) v[m].end = v[i].end;
        } else {
            v[++m] = v[i];
        }
    }
    return m + 1;
}

/* Frames of the absent runs (from from_frame on) that lie inside the merged spans. */
static void count_false_alarms(const ms_labels *labels, const ms_span *merged, int64_t n_merged, int64_t from_frame,
                               ms_event_score *out)
{
    for (int64_t k = 0; k < labels->n_absent; k++) {
        ms_span a = labels->absent[k];
        if (a.end < from_frame) continue;
        if (a.start < from_frame) a.start = from_frame;
        out->absent_frames += a.end - a.start + 1;
        for (int64_t i = first_ending_from(merged, n_merged, a.start); i < n_merged && merged[i].start <= a.end; i++) {
            int64_t lo = merged[i].start > a.start ? merged[i].start : a.start;
            int64_t hi = merged[i].end < a.end ? merged[i].end : a.end;
            out->false_alarm_frames += hi - lo + 1;
        }
    }
}

ms_status ms_score_events(const ms_labels *labels, const ms_span *predicted, int64_t n_predicted, int64_t from_frame,
                          ms_event_score *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    const ms_span *labelled = labels->present;
    int64_t n_labelled = labels->n_present;
    bool *hit = calloc((size_t)(n_labelled ? n_labelled : 1), sizeof *hit);
    ms_span *merged = malloc((size_t)(n_predicted ? n_predicted : 1) * sizeof *merged);
    if (!hit || !merged) {
        free(hit);
        free(merged);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n_predicted; i++) {
        const ms_span *p = &predicted[i];
        bool tp = false;
        for (int64_t k = first_ending_from(labelled, n_labelled, p->start); k < n_labelled && labelled[k].start <= p->end;
             k++) {
            hit[k] = true;
            tp = true;
        }
        if (p->start < from_frame) continue;
        out->predicted++;
        out->true_pos += tp;
    }
    for (int64_t k = 0; k < n_labelled; k++) {
        if (labelled[k].start < from_frame) continue;
        out->labelled++;
        out->detected += hit[k];
    }
    free(hit);
    if (n_predicted) memcpy(merged, predicted, (size_t)n_predicted * sizeof *merged);
    count_false_alarms(labels, merged, merge_spans(merged, n_predicted), from_frame, out);
    free(merged);
    out->recall = out->labelled ? (double)out->detected / (double)out->labelled : 1.0;
    out->precision = out->predicted ? (double)out->true_pos / (double)out->predicted : 1.0;
    double sum = out->recall + out->precision;
    out->f1 = sum > 0 ? 2 * out->recall * out->precision / sum : 0;
    out->false_alarm_fraction =
        out->absent_frames ? (double)out->false_alarm_frames / (double)out->absent_frames : 0;
    return MS_OK;
}

ms_status ms_score_check_stats(const char *stats_json, const char *stream, const char *app, ms_error *err)
{
    cJSON *root;
    if (ms_json_load(stats_json, MAX_INPUT_BYTES, &root, err)) return err->status;
    const cJSON *apps = NULL;
    ms_status s = ms_json_check_version(root, stats_json, 1, err);
    if (!s) s = ms_json_array(root, stats_json, "apps", &apps, err);
    bool found = false;
    for (int i = 0; !s && !found && i < cJSON_GetArraySize(apps); i++) {
        const cJSON *a = cJSON_GetArrayItem(apps, i);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "name"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "stream"));
        found = name && st && !strcmp(name, app) && !strcmp(st, stream);
    }
    if (!s && !found) s = ms_errorf(err, MS_ERR_INVALID, "%s: apps: no app '%s' on stream '%s'", stats_json, app, stream);
    cJSON_Delete(root);
    return s;
}
