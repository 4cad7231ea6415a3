/* Scenario JSON: parsing and validation with messages that name the file and the field
 * ("s.json: apps[2].curve[0].tpr: must be in [0, 1]"). */
#include "sched/scenario.h"

#include <libgen.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/path.h"
#include "cost/profile.h"

#define SCENARIO_MAX_BYTES (64u << 20)
#define SCENARIO_FORMAT_VERSION 1

/* Every key each object may have ("package" is known, and refused as not supported yet). */
static const char *const scenario_keys[] = {"format_version", "stream_fps", "budget", "unit_costs", "profile",
                                            "fps_options", "apps", NULL};
/* The multi-stream form: the shared budget and costs at the root, one object per stream. */
static const char *const multi_keys[] = {"format_version", "budget", "unit_costs", "profile", "streams", NULL};
static const char *const stream_keys[] = {"name", "stream_fps", "fps_options", "apps", NULL};
static const char *const app_keys[] = {"name", "event_length_ms", "event_frequency", "correlation", "x_vote",
                                       "weight", "curve", "package", "event_lengths_ms", NULL};

void ms_app_free(ms_app *a)
{
    free(a->name);
    free(a->curve);
    free(a->event.lengths_ms);
    memset(a, 0, sizeof *a);
}

void ms_scenario_free(ms_scenario *s)
{
    for (int i = 0; i < s->n_apps; i++) ms_app_free(&s->apps[i]);
    free(s->apps);
    free(s->unit_costs);
    free(s->fps_options);
    memset(s, 0, sizeof *s);
}

ms_status ms_app_copy(const ms_app *src, ms_app *dst, ms_error *err)
{
    *dst = *src;
    dst->name = strdup(src->name);
    dst->curve = malloc(sizeof *dst->curve * (size_t)src->n_points);
    dst->event.lengths_ms = NULL;
    if (src->event.n_lengths > 0 && (dst->event.lengths_ms = malloc(sizeof(double) * (size_t)src->event.n_lengths)))
        memcpy(dst->event.lengths_ms, src->event.lengths_ms, sizeof(double) * (size_t)src->event.n_lengths);
    if (!dst->name || !dst->curve || (src->event.n_lengths > 0 && !dst->event.lengths_ms)) {
        ms_app_free(dst);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory copying app %s", src->name);
    }
    memcpy(dst->curve, src->curve, sizeof *dst->curve * (size_t)src->n_points);
    return MS_OK;
}

static ms_status parse_numbers(const cJSON *obj, const char *where, const char *field, bool positive,
                               double **out, int *n, ms_error *err);

static ms_status check_range(double v, double lo, double hi, const char *where, const char *field,
                             ms_error *err)
{
    if (v < lo || v > hi)
        return ms_errorf(err, MS_ERR_INVALID, "%s.%s: %g is outside [%g, %g]", where, field, v, lo,
                         hi);
    return MS_OK;
}

static int compare_points(const void *a, const void *b)
{
    const ms_scenario_point *x = a, *y = b;
    return (x->chokepoint > y->chokepoint) - (x->chokepoint < y->chokepoint);
}

static ms_status parse_curve(const cJSON *obj, const char *where, const char *point_key,
                             int n_units, ms_app *app, ms_error *err)
{
    const cJSON *curve;
    if (ms_json_array(obj, where, "curve", &curve, err)) return err->status;
    int n = cJSON_GetArraySize(curve);
    if (n == 0) return ms_errorf(err, MS_ERR_INVALID, "%s.curve: must not be empty", where);
    app->curve = calloc((size_t)n, sizeof *app->curve);
    if (!app->curve) return ms_errorf(err, MS_ERR_NOMEM, "%s.curve: out of memory", where);
    app->n_points = n;
    for (int i = 0; i < n; i++) {
        const cJSON *pt = cJSON_GetArrayItem(curve, i);
        char at[320];
        snprintf(at, sizeof at, "%s.curve[%d]", where, i);
        if (!cJSON_IsObject(pt)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", at);
        const char *const point_keys[] = {point_key, "tpr", "fpr", NULL};
        if (ms_json_check_keys(pt, at, point_keys, err)) return err->status;
        int64_t c;
        ms_scenario_point *p = &app->curve[i];
        if (ms_json_int(pt, at, point_key, &c, err) || ms_json_number(pt, at, "tpr", &p->tpr, err) ||
            ms_json_number(pt, at, "fpr", &p->fpr, err))
            return err->status;
        if (c < 0 || c > n_units)
            return ms_errorf(err, MS_ERR_INVALID, "%s.%s: %lld is outside [0, %d] (the number of units)",
                             at, point_key, (long long)c, n_units);
        p->chokepoint = (int)c;
        if (check_range(p->tpr, 0, 1, at, "tpr", err) || check_range(p->fpr, 0, 1, at, "fpr", err))
            return err->status;
    }
    qsort(app->curve, (size_t)n, sizeof *app->curve, compare_points);
    for (int i = 1; i < n; i++)
        if (app->curve[i].chokepoint == app->curve[i - 1].chokepoint)
            return ms_errorf(err, MS_ERR_INVALID, "%s.curve: chokepoint %d appears twice", where,
                             app->curve[i].chokepoint);
    return MS_OK;
}

ms_status ms_scenario_parse_app(const cJSON *obj, const char *where, const char *point_key,
                                int n_units, ms_app *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    out->weight = 1.0;
    if (!cJSON_IsObject(obj)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
    if (ms_json_check_keys(obj, where, app_keys, err)) return err->status;
    const char *name;
    int64_t x_vote = 0;
    ms_event_params *e = &out->event;
    if (ms_json_string(obj, where, "name", &name, err) ||
        ms_json_number(obj, where, "event_length_ms", &e->event_length_ms, err) ||
        ms_json_number(obj, where, "event_frequency", &e->event_frequency, err) ||
        ms_json_number(obj, where, "correlation", &e->correlation, err) ||
        ms_json_int_opt(obj, where, "x_vote", &x_vote, err) ||
        ms_json_number_opt(obj, where, "weight", &out->weight, err))
        goto fail;
    if (cJSON_GetObjectItemCaseSensitive(obj, "package")) {
        ms_errorf(err, MS_ERR_UNSUPPORTED,
                  "%s.package: M-Package apps are not supported yet; give \"curve\" and the event "
                  "statistics inline",
                  where);
        goto fail;
    }
    if (!(e->event_length_ms > 0) || e->event_length_ms > MS_EVENT_MAX_LENGTH_MS) {
        ms_errorf(err, MS_ERR_INVALID, "%s.event_length_ms: must be in (0, %g], got %g", where, MS_EVENT_MAX_LENGTH_MS,
                  e->event_length_ms);
        goto fail;
    }
    if (check_range(e->event_frequency, 0, 1, where, "event_frequency", err) ||
        check_range(e->correlation, 0, 1, where, "correlation", err))
        goto fail;
    if (cJSON_GetObjectItemCaseSensitive(obj, "x_vote") && (x_vote < 1 || x_vote > MS_EVENT_MAX_X_VOTE)) {
        ms_errorf(err, MS_ERR_INVALID, "%s.x_vote: must be in [1, %d], got %lld", where,
                  MS_EVENT_MAX_X_VOTE, (long long)x_vote);
        goto fail;
    }
    e->x_vote = (int)x_vote;
    if (cJSON_GetObjectItemCaseSensitive(obj, "event_lengths_ms") &&
        parse_numbers(obj, where, "event_lengths_ms", true, &e->lengths_ms, &e->n_lengths, err))
        goto fail;
    if (!(out->weight > 0)) {
        ms_errorf(err, MS_ERR_INVALID, "%s.weight: must be > 0, got %g", where, out->weight);
        goto fail;
    }
    if (parse_curve(obj, where, point_key, n_units, out, err)) goto fail;
    out->name = strdup(name);
    if (!out->name) {
        ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
        goto fail;
    }
    return MS_OK;
fail:
    ms_app_free(out);
    return err->status;
}

/* Reads a non-empty array of numbers >= 0 (or > 0 when positive is set). */
static ms_status parse_numbers(const cJSON *obj, const char *where, const char *field, bool positive,
                               double **out, int *n, ms_error *err)
{
    const cJSON *arr;
    if (ms_json_array(obj, where, field, &arr, err)) return err->status;
    int count = cJSON_GetArraySize(arr);
    if (count == 0) return ms_errorf(err, MS_ERR_INVALID, "%s.%s: must not be empty", where, field);
    double *v = malloc(sizeof *v * (size_t)count);
    if (!v) return ms_errorf(err, MS_ERR_NOMEM, "%s.%s: out of memory", where, field);
    for (int i = 0; i < count; i++) {
        const cJSON *item = cJSON_GetArrayItem(arr, i);
        v[i] = cJSON_IsNumber(item) ? item->valuedouble : NAN;
        if (!isfinite(v[i]) || v[i] < 0 || (positive && v[i] == 0)) {
            free(v);
            return ms_errorf(err, MS_ERR_INVALID, "%s.%s[%d]: must be a number %s", where, field, i,
                             positive ? "> 0" : ">= 0");
        }
    }
    *out = v;
    *n = count;
    return MS_OK;
}

ms_status ms_scenario_validate(const ms_scenario *s, const char *where, ms_error *err)
{
    if (!(s->stream_fps > 0) || s->stream_fps > 1000)
        return ms_errorf(err, MS_ERR_INVALID, "%s: stream_fps must be in (0, 1000], got %g", where,
                         s->stream_fps);
    if (!(s->budget >= 0) || !isfinite(s->budget))
        return ms_errorf(err, MS_ERR_INVALID, "%s: budget must be a finite number >= 0, got %g",
                         where, s->budget);
    if (s->n_fps < 1) return ms_errorf(err, MS_ERR_INVALID, "%s: fps_options: must not be empty", where);
    for (int i = 0; i < s->n_fps; i++) {
        if (!(s->fps_options[i] > 0) || s->fps_options[i] > s->stream_fps)
            return ms_errorf(err, MS_ERR_INVALID,
                             "%s: fps_options[%d]: %g is outside (0, stream_fps = %g]", where, i,
                             s->fps_options[i], s->stream_fps);
        if (i > 0 && s->fps_options[i] <= s->fps_options[i - 1])
            return ms_errorf(err, MS_ERR_INVALID, "%s: fps_options: must be strictly increasing",
                             where);
    }
    if (s->n_apps < 1) return ms_errorf(err, MS_ERR_INVALID, "%s: apps: must not be empty", where);
    for (int a = 0; a < s->n_apps; a++)
        for (int i = 0; i < s->apps[a].n_points; i++)
            if (s->apps[a].curve[i].chokepoint > s->n_units)
                return ms_errorf(err, MS_ERR_INVALID,
                                 "%s: apps[%d].curve: chokepoint %d exceeds the %d units", where, a,
                                 s->apps[a].curve[i].chokepoint, s->n_units);
    return MS_OK;
}

static ms_status default_fps_options(ms_scenario *s, const char *where, ms_error *err)
{
    /* checked here too, before the conversion to int (ms_scenario_validate runs later) */
    if (!(s->stream_fps > 0) || s->stream_fps > 1000)
        return ms_errorf(err, MS_ERR_INVALID, "%s: stream_fps must be in (0, 1000], got %g", where, s->stream_fps);
    int n = (int)floor(s->stream_fps);
    if (n < 1)
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: stream_fps %g is below 1: give fps_options explicitly", where,
                         s->stream_fps);
    s->fps_options = malloc(sizeof *s->fps_options * (size_t)n);
    if (!s->fps_options) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    for (int i = 0; i < n; i++) s->fps_options[i] = i + 1;
    s->n_fps = n;
    return MS_OK;
}

/* The unit costs come either inline or from a profile named relative to the scenario. */
static ms_status load_unit_costs(const cJSON *root, const char *path, ms_scenario *s, ms_error *err)
{
    const char *profile = NULL;
    if (ms_json_string_opt(root, path, "profile", &profile, err)) return err->status;
    bool inline_costs = cJSON_GetObjectItemCaseSensitive(root, "unit_costs") != NULL;
    if (profile && inline_costs)
        return ms_errorf(err, MS_ERR_INVALID, "%s: give either \"unit_costs\" or \"profile\", not both",
                         path);
    if (!profile) return parse_numbers(root, path, "unit_costs", false, &s->unit_costs, &s->n_units, err);
    char *resolved = ms_path_expand(profile);
    if (!resolved) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    if (!strcmp(resolved, profile) && profile[0] != '/') {
        free(resolved);
        resolved = NULL;
        char *copy = strdup(path);
        if (!copy) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        const char *dir = dirname(copy);
        size_t len = strlen(dir) + strlen(profile) + 2;
        resolved = malloc(len);
        if (resolved) snprintf(resolved, len, "%s/%s", dir, profile);
        free(copy);
        if (!resolved) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    }
    ms_profile p;
    ms_status st = ms_profile_load(resolved ? resolved : profile, &p, err);
    free(resolved);
    if (st) return ms_error_prefix(err, "%s: profile", path);
    s->unit_costs = p.unit_ms; /* taken over */
    s->n_units = p.n_units;
    p.unit_ms = NULL;
    ms_profile_free(&p);
    return MS_OK;
}

/* A stream's fields (stream_fps, fps_options, apps) into s, whose unit costs are set;
 * `where` names the object in messages. */
static ms_status parse_stream(const cJSON *obj, const char *where, ms_scenario *s, ms_error *err)
{
    const cJSON *apps;
    if (ms_json_number(obj, where, "stream_fps", &s->stream_fps, err)) return err->status;
    if (cJSON_GetObjectItemCaseSensitive(obj, "fps_options")) {
        if (parse_numbers(obj, where, "fps_options", true, &s->fps_options, &s->n_fps, err)) return err->status;
    } else if (!(s->stream_fps > 0)) {
        return ms_errorf(err, MS_ERR_INVALID, "%s: stream_fps must be > 0, got %g", where, s->stream_fps);
    } else if (default_fps_options(s, where, err)) {
        return err->status;
    }
    if (ms_json_array(obj, where, "apps", &apps, err)) return err->status;
    int n = cJSON_GetArraySize(apps);
    if (n > 0 && !(s->apps = calloc((size_t)n, sizeof *s->apps)))
        return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    for (int i = 0; i < n; i++) {
        char at[400];
        snprintf(at, sizeof at, "%s: apps[%d]", where, i);
        if (ms_scenario_parse_app(cJSON_GetArrayItem(apps, i), at, "chokepoint", s->n_units, &s->apps[i], err))
            return err->status;
        s->n_apps = i + 1;
    }
    return ms_scenario_validate(s, where, err);
}

static ms_status parse_single(const cJSON *root, const char *path, ms_scenario *s, ms_error *err)
{
    if (ms_json_number(root, path, "budget", &s->budget, err) || load_unit_costs(root, path, s, err))
        return err->status;
    return parse_stream(root, path, s, err);
}

ms_status ms_scenario_load(const char *path, ms_scenario *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root;
    if (ms_json_load(path, SCENARIO_MAX_BYTES, &root, err)) return err->status;
    ms_status st = ms_scenario_parse(root, path, out, err);
    cJSON_Delete(root);
    return st;
}

ms_status ms_scenario_parse(const cJSON *root, const char *path, ms_scenario *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    ms_status st;
    if (!cJSON_IsObject(root)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", path);
    else if (ms_json_check_version(root, path, SCENARIO_FORMAT_VERSION, err) ||
             ms_json_check_keys(root, path, scenario_keys, err))
        st = err->status;
    else st = parse_single(root, path, out, err);
    if (st) ms_scenario_free(out);
    return st;
}

void ms_multi_scenario_free(ms_multi_scenario *m)
{
    for (int i = 0; m->streams && i < m->n_streams; i++) {
        ms_scenario_free(&m->streams[i]);
        free(m->names[i]);
    }
    free(m->streams);
    free(m->names);
    memset(m, 0, sizeof *m);
}

static ms_status parse_multi(const cJSON *root, const char *path, const cJSON *streams, ms_multi_scenario *m,
                             ms_error *err)
{
    ms_scenario costs = {0};
    if (ms_json_check_version(root, path, SCENARIO_FORMAT_VERSION, err) ||
        ms_json_check_keys(root, path, multi_keys, err) || ms_json_number(root, path, "budget", &m->budget, err) ||
        load_unit_costs(root, path, &costs, err))
        return err->status;
    int n = cJSON_GetArraySize(streams);
    ms_status st = MS_OK;
    if (n == 0) st = ms_errorf(err, MS_ERR_INVALID, "%s: streams: must not be empty", path);
    if (st == MS_OK && (!(m->streams = calloc((size_t)n, sizeof *m->streams)) ||
                        !(m->names = calloc((size_t)n, sizeof *m->names))))
        st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n && st == MS_OK; i++) {
        char where[400];
        snprintf(where, sizeof where, "%s: streams[%d]", path, i);
        const cJSON *obj = cJSON_GetArrayItem(streams, i);
        ms_scenario *s = &m->streams[i];
        m->n_streams = i + 1;
        const char *name;
        if (!cJSON_IsObject(obj)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
        else if (ms_json_check_keys(obj, where, stream_keys, err) || ms_json_string(obj, where, "name", &name, err))
            st = err->status;
        else if (!(m->names[i] = strdup(name)) || !(s->unit_costs = malloc(sizeof *s->unit_costs * (size_t)costs.n_units)))
            st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
        if (st) break;
        for (int k = 0; k < i; k++)
            if (!strcmp(m->names[k], name)) st = ms_errorf(err, MS_ERR_INVALID, "%s.name: '%s' is used by streams[%d] too", where, name, k);
        if (st) break;
        memcpy(s->unit_costs, costs.unit_costs, sizeof *s->unit_costs * (size_t)costs.n_units);
        s->n_units = costs.n_units;
        s->budget = m->budget;
        st = parse_stream(obj, where, s, err);
    }
    free(costs.unit_costs);
    return st;
}

ms_status ms_multi_scenario_load(const char *path, ms_multi_scenario *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root;
    if (ms_json_load(path, SCENARIO_MAX_BYTES, &root, err)) return err->status;
    ms_status st = MS_OK;
    const cJSON *streams = cJSON_GetObjectItemCaseSensitive(root, "streams");
    if (!cJSON_IsObject(root)) {
        st = ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", path);
    } else if (streams) {
        if (!cJSON_IsArray(streams)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: streams: must be an array", path);
        else st = parse_multi(root, path, streams, out, err);
    } else {
        out->single = true;
        out->streams = calloc(1, sizeof *out->streams);
        out->names = calloc(1, sizeof *out->names);
        if (!out->streams || !out->names) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
        else {
            out->n_streams = 1;
            st = ms_scenario_parse(root, path, &out->streams[0], err);
            out->budget = out->streams[0].budget;
        }
    }
    cJSON_Delete(root);
    if (st) ms_multi_scenario_free(out);
    return st;
}
