/* Deployment JSON: parsing and validation, every message naming the file and the field. */
#include "run/deploy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/path.h"

#define DEPLOY_MAX_BYTES (4u << 20)
#define DEFAULT_RETRIES 5
#define DEFAULT_RETRY_S 0.5
#define DEPLOY_FORMAT_VERSION 1
#define MAX_STREAM_OPTIONS 64
#define MAX_OPTION_VALUE 4096

/* Every key a deployment may have, per object: anything else is a mistake worth naming. */
static const char *const root_keys[] = {"format_version", "model", "backend", "precision", "threads", "batch",
                                        "budget", "profile", "policy", "objective", "resize", "streams", "apps",
                                        NULL};
const char *const ms_deploy_stream_keys[] = {"name", "url", "fps", "retries", "retry_s", "options", NULL};
const char *const ms_deploy_app_keys[] = {"name", "stream", "package", "x_vote", "threshold", "chokepoint", "fps",
                                          "event_length_ms", "event_frequency", "correlation", NULL};

void ms_deployment_free(ms_deployment *d)
{
    for (int i = 0; i < d->n_models; i++) free(d->models[i]);
    free(d->models);
    for (int i = 0; i < d->n_streams; i++) ms_deploy_stream_free(&d->streams[i]);
    free(d->streams);
    for (int i = 0; i < d->n_apps; i++) {
        free(d->apps[i].name);
        free(d->apps[i].package);
    }
    free(d->apps);
    free(d->backend);
    free(d->profile);
    free(d->path);
    memset(d, 0, sizeof *d);
}

static bool is_url(const char *s) { return strstr(s, "://") != NULL; }

/* A path relative to the deployment's folder, or the path itself when absolute or a URL;
 * a leading $MAINSTREAM_DATA names the shared data folder (base/path.h). */
static char *resolve(const char *deploy_path, const char *raw)
{
    char *expanded = ms_path_expand(raw);
    if (!expanded) return NULL;
    const char *slash = strrchr(deploy_path, '/'), *p = expanded;
    /* an expanded path is the data folder's, taken as given (a relative MAINSTREAM_DATA
     * is relative to the current folder, like any path in the environment) */
    if (p[0] == '/' || is_url(p) || !slash || strcmp(raw, expanded)) return expanded;
    free(expanded);
    p = raw;
    size_t dir = (size_t)(slash - deploy_path) + 1, n = strlen(p);
    char *out = malloc(dir + n + 1);
    if (!out) return NULL;
    memcpy(out, deploy_path, dir);
    memcpy(out + dir, p, n + 1);
    return out;
}

static ms_status nomem(ms_error *err, const char *where)
{
    return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
}

static ms_status parse_models(const cJSON *root, ms_deployment *d, ms_error *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!m) return ms_errorf(err, MS_ERR_FORMAT, "%s: model: missing (a path or a list of paths)", d->path);
    int n = cJSON_IsString(m) ? 1 : cJSON_IsArray(m) ? cJSON_GetArraySize(m) : 0;
    if (n == 0)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: model: must be a path or a non-empty list of paths", d->path);
    d->models = calloc((size_t)n, sizeof *d->models);
    if (!d->models) return nomem(err, d->path);
    for (int i = 0; i < n; i++) {
        const cJSON *item = cJSON_IsString(m) ? m : cJSON_GetArrayItem(m, i);
        if (!cJSON_IsString(item) || !item->valuestring[0])
            return ms_errorf(err, MS_ERR_FORMAT, "%s: model[%d]: must be a non-empty string", d->path, i);
        if (!(d->models[i] = resolve(d->path, item->valuestring))) return nomem(err, d->path);
        d->n_models++;
    }
    return MS_OK;
}

static ms_status parse_budget(const cJSON *root, ms_deployment *d, ms_error *err)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "budget");
    d->budget = 0;
    if (!b || (cJSON_IsString(b) && !strcmp(b->valuestring, "auto"))) return MS_OK;
    if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble) || b->valuedouble <= 0)
        return ms_errorf(err, MS_ERR_INVALID, "%s: budget: must be \"auto\" or a positive number", d->path);
    d->budget = b->valuedouble;
    return MS_OK;
}

static ms_status parse_settings(const cJSON *root, ms_deployment *d, ms_error *err)
{
    const char *backend = "cpu", *precision = "fp32", *policy = "mainstream", *objective = "f1";
    const char *resize = NULL, *profile = NULL;
    int64_t threads = 1, batch = 1;
    if (ms_json_string_opt(root, d->path, "backend", &backend, err) ||
        ms_json_string_opt(root, d->path, "precision", &precision, err) ||
        ms_json_string_opt(root, d->path, "policy", &policy, err) ||
        ms_json_string_opt(root, d->path, "objective", &objective, err) ||
        ms_json_string_opt(root, d->path, "resize", &resize, err) ||
        ms_json_string_opt(root, d->path, "profile", &profile, err) ||
        ms_json_int_opt(root, d->path, "threads", &threads, err) ||
        ms_json_int_opt(root, d->path, "batch", &batch, err))
        return err->status;
    if (!ms_backend_find(backend))
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s: backend: unknown backend '%s' (expected cpu, ref or cuda; cuda needs libmainstream_cuda.so)",
                         d->path, backend);
    if (!strcmp(precision, "fp32")) d->precision = MS_PREC_FP32;
    else if (!strcmp(precision, "int8")) d->precision = MS_PREC_INT8;
    else if (!strcmp(precision, "fp16")) d->precision = MS_PREC_FP16;
    else return ms_errorf(err, MS_ERR_INVALID, "%s: precision: '%s' is not fp32, int8 or fp16", d->path, precision);
    if (d->precision == MS_PREC_FP16 && strcmp(backend, "cuda"))
        return ms_errorf(err, MS_ERR_INVALID, "%s: precision: 'fp16' needs backend cuda, not '%s'", d->path, backend);
    if (threads < 1 || threads > 1024)
        return ms_errorf(err, MS_ERR_INVALID, "%s: threads: must be in [1, 1024], got %lld", d->path,
                         (long long)threads);
    if (batch < 1 || batch > 256)
        return ms_errorf(err, MS_ERR_INVALID, "%s: batch: must be in [1, 256], got %lld", d->path, (long long)batch);
    if (ms_policy_parse(policy, &d->policy, err)) return ms_error_prefix(err, "%s: policy", d->path);
    if (ms_objective_parse(objective, &d->objective, err)) return ms_error_prefix(err, "%s: objective", d->path);
    d->resize = resize ? ms_resize_mode_parse(resize) : -1;
    if (resize && d->resize < 0)
        return ms_errorf(err, MS_ERR_INVALID, "%s: resize: '%s' is not stretch or crop", d->path, resize);
    d->threads = (int)threads;
    d->batch = (int)batch;
    if (!(d->backend = strdup(backend))) return nomem(err, d->path);
    if (profile && !(d->profile = resolve(d->path, profile))) return nomem(err, d->path);
    return MS_OK;
}

static ms_status check_fps(double fps, const char *where, ms_error *err)
{
    if (!isfinite(fps) || fps <= 0 || fps > MS_DEPLOY_MAX_FPS)
        return ms_errorf(err, MS_ERR_INVALID, "%s.fps: must be in (0, %g], got %g", where, MS_DEPLOY_MAX_FPS, fps);
    return MS_OK;
}

/* One option's value as FFmpeg takes it: a string as it is, a number in decimal (whole
 * numbers without a fraction), a boolean as 1 or 0. */
static bool option_value(const cJSON *v, char *out, size_t size)
{
    if (cJSON_IsString(v)) return (size_t)snprintf(out, size, "%s", v->valuestring) < size;
    if (cJSON_IsBool(v)) return snprintf(out, size, "%d", cJSON_IsTrue(v) ? 1 : 0) > 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return false;
    double x = v->valuedouble;
    if (x == floor(x) && fabs(x) < 9007199254740992.0) snprintf(out, size, "%.0f", x);
    else snprintf(out, size, "%.17g", x);
    return true;
}

/* "options": an object of FFmpeg options, each one FFmpeg knows; whether this stream's
 * demuxer or protocol takes it is checked when it is opened (ms_video_open_with). */
static ms_status parse_options(const cJSON *obj, const char *where, ms_deploy_stream *s, ms_error *err)
{
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(obj, "options"), *o;
    if (!opts) return MS_OK;
    if (!cJSON_IsObject(opts))
        return ms_errorf(err, MS_ERR_FORMAT, "%s.options: must be an object of FFmpeg options (name: value)", where);
    if (cJSON_GetArraySize(opts) > MAX_STREAM_OPTIONS)
        return ms_errorf(err, MS_ERR_INVALID, "%s.options: at most %d options", where, MAX_STREAM_OPTIONS);
    cJSON_ArrayForEach(o, opts)
    {
        const char *key = o->string ? o->string : "";
        char value[MAX_OPTION_VALUE];
        if (!key[0] || strlen(key) > 128)
            return ms_errorf(err, MS_ERR_INVALID, "%s.options: a name must be 1-128 characters", where);
        for (int i = 0; i < s->options.n; i++)
            if (!strcmp(s->options.keys[i], key))
                return ms_errorf(err, MS_ERR_FORMAT, "%s.options.%s: given twice", where, key);
        if (!option_value(o, value, sizeof value))
            return ms_errorf(err, MS_ERR_FORMAT, "%s.options.%s: must be a string, a number or a boolean (at most %d "
                             "characters)", where, key, MAX_OPTION_VALUE - 1);
        const char *hint = !strcmp(key, "stimeout") ? "FFmpeg 5 renamed it \"timeout\"" : "ffmpeg -h full lists them";
        if (!ms_video_option_known(key))
            return ms_errorf(err, MS_ERR_INVALID, "%s.options.%s: not an option FFmpeg knows for opening an input (%s)",
                             where, key, hint);
        if (!ms_video_options_add(&s->options, key, value)) return nomem(err, where);
    }
    return MS_OK;
}

static ms_status parse_stream(const cJSON *obj, const char *where, const char *relative_to, ms_deploy_stream *s,
                              ms_error *err)
{
    if (!cJSON_IsObject(obj)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
    if (ms_json_check_keys(obj, where, ms_deploy_stream_keys, err)) return err->status;
    const char *name, *url;
    int64_t retries = DEFAULT_RETRIES;
    s->retry_s = DEFAULT_RETRY_S;
    if (ms_json_string(obj, where, "name", &name, err) || ms_json_string(obj, where, "url", &url, err) ||
        ms_json_number_opt(obj, where, "fps", &s->fps, err) ||
        ms_json_int_opt(obj, where, "retries", &retries, err) ||
        ms_json_number_opt(obj, where, "retry_s", &s->retry_s, err))
        return err->status;
    if (!name[0]) return ms_errorf(err, MS_ERR_INVALID, "%s.name: must not be empty", where);
    if (!url[0]) return ms_errorf(err, MS_ERR_INVALID, "%s.url: must not be empty", where);
    if (cJSON_GetObjectItemCaseSensitive(obj, "fps") && check_fps(s->fps, where, err)) return err->status;
    if (retries < 0 || retries > 1000000)
        return ms_errorf(err, MS_ERR_INVALID, "%s.retries: must be in [0, 1000000]", where);
    if (!isfinite(s->retry_s) || s->retry_s < 0 || s->retry_s > 60)
        return ms_errorf(err, MS_ERR_INVALID, "%s.retry_s: must be in [0, 60] seconds", where);
    if (parse_options(obj, where, s, err)) return err->status;
    s->retries = (int)retries;
    s->network = is_url(url) && strncmp(url, "file:", 5) != 0;
    if (!(s->name = strdup(name)) || !(s->url = resolve(relative_to, url))) return nomem(err, where);
    return MS_OK;
}

static int find_stream(const ms_deployment *d, const char *name)
{
    for (int i = 0; i < d->n_streams; i++)
        if (!strcmp(d->streams[i].name, name)) return i;
    return -1;
}

/* An app's fields; its stream by name in *stream (pointing into obj). */
static ms_status parse_app_fields(const cJSON *obj, const char *where, const char *relative_to, ms_deploy_app *a,
                                  const char **stream_name, ms_error *err)
{
    if (!cJSON_IsObject(obj)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be an object", where);
    if (ms_json_check_keys(obj, where, ms_deploy_app_keys, err)) return err->status;
    const char *name, *stream, *package;
    int64_t x_vote = 1, chokepoint = -1;
    a->fps = 0;
    a->event_length_ms = a->event_frequency = a->correlation = -1;
    if (ms_json_string(obj, where, "name", &name, err) || ms_json_string(obj, where, "stream", &stream, err) ||
        ms_json_string(obj, where, "package", &package, err) ||
        ms_json_int_opt(obj, where, "x_vote", &x_vote, err) ||
        ms_json_number(obj, where, "threshold", &a->threshold, err) ||
        ms_json_int_opt(obj, where, "chokepoint", &chokepoint, err) ||
        ms_json_number_opt(obj, where, "fps", &a->fps, err) ||
        ms_json_number_opt(obj, where, "event_length_ms", &a->event_length_ms, err) ||
        ms_json_number_opt(obj, where, "event_frequency", &a->event_frequency, err) ||
        ms_json_number_opt(obj, where, "correlation", &a->correlation, err))
        return err->status;
    if (cJSON_GetObjectItemCaseSensitive(obj, "event_length_ms") && !(a->event_length_ms > 0 && a->event_length_ms <= MS_EVENT_MAX_LENGTH_MS))
        return ms_errorf(err, MS_ERR_INVALID, "%s.event_length_ms: must be a positive number of milliseconds, at most %g",
                         where, MS_EVENT_MAX_LENGTH_MS);
    if (cJSON_GetObjectItemCaseSensitive(obj, "event_frequency") && !(a->event_frequency > 0 && a->event_frequency < 1))
        return ms_errorf(err, MS_ERR_INVALID, "%s.event_frequency: must be in (0, 1)", where);
    if (cJSON_GetObjectItemCaseSensitive(obj, "correlation") && !(a->correlation >= 0 && a->correlation <= 1))
        return ms_errorf(err, MS_ERR_INVALID, "%s.correlation: must be in [0, 1]", where);
    if (!name[0]) return ms_errorf(err, MS_ERR_INVALID, "%s.name: must not be empty", where);
    if (!package[0]) return ms_errorf(err, MS_ERR_INVALID, "%s.package: must not be empty", where);
    *stream_name = stream;
    a->stream = -1;
    if (x_vote < 1 || x_vote > MS_EVENT_MAX_X_VOTE)
        return ms_errorf(err, MS_ERR_INVALID, "%s.x_vote: must be in [1, %d], got %lld", where, MS_EVENT_MAX_X_VOTE,
                         (long long)x_vote);
    if (!isfinite(a->threshold) || a->threshold < 0 || a->threshold > 1)
        return ms_errorf(err, MS_ERR_INVALID, "%s.threshold: must be in [0, 1], got %g", where, a->threshold);
    if (chokepoint < -1 || chokepoint > 4096)
        return ms_errorf(err, MS_ERR_INVALID, "%s.chokepoint: must be a chokepoint index >= 0", where);
    if (cJSON_GetObjectItemCaseSensitive(obj, "fps") && check_fps(a->fps, where, err)) return err->status;
    a->x_vote = (int)x_vote;
    a->chokepoint = (int)chokepoint;
    if (!(a->name = strdup(name)) || !(a->package = resolve(relative_to, package))) return nomem(err, where);
    return MS_OK;
}

static ms_status parse_app(const cJSON *obj, const char *where, ms_deployment *d, ms_deploy_app *a, ms_error *err)
{
    const char *stream;
    if (parse_app_fields(obj, where, d->path, a, &stream, err)) return err->status;
    if ((a->stream = find_stream(d, stream)) < 0)
        return ms_errorf(err, MS_ERR_INVALID, "%s.stream: no stream named '%s'", where, stream);
    double stream_fps = d->streams[a->stream].fps;
    if (stream_fps > 0 && a->fps > stream_fps)
        return ms_errorf(err, MS_ERR_INVALID, "%s.fps: %g is above stream '%s''s %g fps", where, a->fps, stream,
                         stream_fps);
    return MS_OK;
}

void ms_deploy_stream_free(ms_deploy_stream *s)
{
    free(s->name);
    free(s->url);
    ms_video_options_free(&s->options);
    memset(s, 0, sizeof *s);
}

void ms_deploy_app_free(ms_deploy_app *a)
{
    free(a->name);
    free(a->package);
    memset(a, 0, sizeof *a);
}

ms_status ms_deploy_stream_parse(const cJSON *obj, const char *where, const char *relative_to, ms_deploy_stream *out,
                                 ms_error *err)
{
    memset(out, 0, sizeof *out);
    ms_status st = parse_stream(obj, where, relative_to, out, err);
    if (st) ms_deploy_stream_free(out);
    return st;
}

ms_status ms_deploy_app_parse(const cJSON *obj, const char *where, const char *relative_to, ms_deploy_app *out,
                              char **stream, ms_error *err)
{
    memset(out, 0, sizeof *out);
    *stream = NULL;
    const char *name = NULL;
    ms_status st = parse_app_fields(obj, where, relative_to, out, &name, err);
    if (st == MS_OK && !(*stream = strdup(name))) st = nomem(err, where);
    if (st) ms_deploy_app_free(out);
    return st;
}

static ms_status parse_list(const cJSON *root, ms_deployment *d, const char *field, ms_error *err)
{
    const cJSON *arr;
    if (ms_json_array(root, d->path, field, &arr, err)) return err->status;
    int n = cJSON_GetArraySize(arr);
    bool streams = !strcmp(field, "streams");
    if (n == 0) return ms_errorf(err, MS_ERR_INVALID, "%s: %s: must not be empty", d->path, field);
    if (streams && !(d->streams = calloc((size_t)n, sizeof *d->streams))) return nomem(err, d->path);
    if (!streams && !(d->apps = calloc((size_t)n, sizeof *d->apps))) return nomem(err, d->path);
    for (int i = 0; i < n; i++) {
        char where[512];
        snprintf(where, sizeof where, "%s: %s[%d]", d->path, field, i);
        const cJSON *item = cJSON_GetArrayItem(arr, i);
        const char *name;
        if (streams) {
            d->n_streams++;
            if (parse_stream(item, where, d->path, &d->streams[i], err)) return err->status;
            name = d->streams[i].name;
            for (int j = 0; j < i; j++)
                if (!strcmp(d->streams[j].name, name))
                    return ms_errorf(err, MS_ERR_INVALID, "%s.name: '%s' is used by %s[%d] too", where, name, field, j);
        } else {
            d->n_apps++;
            if (parse_app(item, where, d, &d->apps[i], err)) return err->status;
            name = d->apps[i].name;
            for (int j = 0; j < i; j++)
                if (!strcmp(d->apps[j].name, name))
                    return ms_errorf(err, MS_ERR_INVALID, "%s.name: '%s' is used by %s[%d] too", where, name, field, j);
        }
    }
    return MS_OK;
}

ms_status ms_deployment_parse(const cJSON *root, const char *path, ms_deployment *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(out->path = strdup(path))) return nomem(err, path);
    ms_status st = MS_OK;
    if (!cJSON_IsObject(root)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", path);
    if (st == MS_OK) st = ms_json_check_version(root, path, DEPLOY_FORMAT_VERSION, err);
    if (st == MS_OK) st = ms_json_check_keys(root, path, root_keys, err);
    if (st == MS_OK) st = parse_models(root, out, err);
    if (st == MS_OK) st = parse_settings(root, out, err);
    if (st == MS_OK) st = parse_budget(root, out, err);
    if (st == MS_OK) st = parse_list(root, out, "streams", err);
    if (st == MS_OK) st = parse_list(root, out, "apps", err);
    if (st != MS_OK) ms_deployment_free(out);
    return st;
}

ms_status ms_deployment_load(const char *path, ms_deployment *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root;
    if (ms_json_load(path, DEPLOY_MAX_BYTES, &root, err)) return err->status;
    ms_status st = ms_deployment_parse(root, path, out, err);
    cJSON_Delete(root);
    return st;
}

/* The settings alone, streams and apps left empty (mainstream serve: they arrive one at a
 * time). */
ms_status ms_deployment_parse_settings(const cJSON *root, const char *path, ms_deployment *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(out->path = strdup(path))) return nomem(err, path);
    ms_status st = MS_OK;
    if (!cJSON_IsObject(root)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", path);
    if (st == MS_OK) st = parse_models(root, out, err);
    if (st == MS_OK) st = parse_settings(root, out, err);
    if (st == MS_OK) st = parse_budget(root, out, err);
    if (st != MS_OK) ms_deployment_free(out);
    return st;
}
