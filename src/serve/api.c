/* The HTTP API of `mainstream serve`: routing, strict request validation, and the calls
 * into the runtime and the state (docs/serve.md). A refused request changes nothing:
 * every check runs before the runtime is touched, and a change the state cannot record
 * is rolled back. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"
#include "formats/mpackage.h"
#include "serve/core.h"
#include "serve/metrics.h"

#define NAME_MAX_LEN 128

static const char *const BUDGET_KEYS[] = {"budget", NULL};

/* ---- validation ---- */

/* A name that is safe in a path, a topic and a URL: [A-Za-z0-9][A-Za-z0-9._-]*. */
static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > NAME_MAX_LEN || !isalnum((unsigned char)n[0])) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '.' && n[i] != '_' && n[i] != '-') return false;
    return true;
}

/* An object with known keys only (the shared check: unknown keys get the nearest known
 * one suggested, a key given twice is refused). */
static ms_status check_keys(const cJSON *obj, const char *const *keys, const char *where, ms_error *err)
{
    if (!cJSON_IsObject(obj)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", where);
    return ms_json_check_keys(obj, where, keys, err);
}

static ms_status check_name(const cJSON *obj, const char *where, ms_error *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!n) return ms_errorf(err, MS_ERR_FORMAT, "%s.name: missing", where);
    if (!cJSON_IsString(n) || !name_ok(n->valuestring))
        return ms_errorf(err, MS_ERR_INVALID,
                         "%s.name: must be 1-%d characters of letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit (no '/' or '..')",
                         where, NAME_MAX_LEN);
    return MS_OK;
}

/* A local path made absolute against the working folder; URLs and absolute paths stay. */
static char *absolute(const char *p)
{
    if (p[0] == '/' || strstr(p, "://")) return strdup(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return strdup(p);
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", cwd, p);
    return out;
}

static cJSON *with_string(const cJSON *obj, const char *field, const char *value)
{
    cJSON *copy = cJSON_Duplicate(obj, 1), *v = value ? cJSON_CreateString(value) : NULL;
    if (!copy || !v || !cJSON_ReplaceItemInObjectCaseSensitive(copy, field, v)) {
        cJSON_Delete(copy);
        cJSON_Delete(v);
        return NULL;
    }
    return copy;
}

/* ---- adding (shared with the start-up replay) ---- */

ms_status ms_serve_add_stream(ms_server *s, const cJSON *obj, const char *where, const char *base_path,
                              cJSON **stored, int *status, ms_error *err)
{
    *stored = NULL;
    *status = 400;
    ms_deploy_stream ds;
    if (check_keys(obj, ms_deploy_stream_keys, where, err) || check_name(obj, where, err) ||
        ms_deploy_stream_parse(obj, where, base_path, &ds, err))
        return err->status;
    ms_status st = MS_OK;
    char *url = absolute(ds.url);
    if (!url) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    if (!st && ms_runtime_find_stream(s->rt, ds.name) >= 0) {
        *status = 409;
        st = ms_errorf(err, MS_ERR_INVALID, "%s.name: a stream named '%s' exists", where, ds.name);
    }
    if (!st) {
        free(ds.url);
        ds.url = url;
        url = NULL;
        st = ms_runtime_add_stream(s->rt, &ds, NULL, err);
    }
    if (!st && !(*stored = with_string(obj, "url", ds.url))) {
        int id = ms_runtime_find_stream(s->rt, ds.name);
        ms_error e2;
        ms_runtime_remove_stream(s->rt, id, &e2);
        *status = 500;
        st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    }
    free(url);
    ms_deploy_stream_free(&ds);
    return st;
}

/* The package an app names: an uploaded one (a bare name with DIR/packages/NAME.mpk),
 * else a path on the server (already resolved against base_path by the parser). */
static char *package_path(ms_server *s, const char *name, const char *package)
{
    if (!strchr(name, '/') && name_ok(name)) {
        size_t n = strlen(s->packages_dir) + strlen(name) + 8;
        char *p = malloc(n);
        if (!p) return NULL;
        snprintf(p, n, "%s/%s.mpk", s->packages_dir, name);
        if (access(p, R_OK) == 0) return p;
        free(p);
    }
    return absolute(package);
}

/* The stream an app object names, as the deployment parser wants it (name and rate). */
static ms_status app_stream(ms_server *s, const cJSON *obj, const char *where, ms_deploy_stream *out, int *status,
                            ms_error *err)
{
    memset(out, 0, sizeof *out);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "stream");
    if (!cJSON_IsString(st)) return ms_errorf(err, MS_ERR_FORMAT, "%s.stream: missing or not a string", where);
    const cJSON *list = ms_serve_state_list(&s->state, "streams"), *found = NULL, *item;
    cJSON_ArrayForEach(item, list)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, st->valuestring)) found = item;
    }
    if (!found || ms_runtime_find_stream(s->rt, st->valuestring) < 0) {
        *status = 404;
        return ms_errorf(err, MS_ERR_INVALID, "%s.stream: no stream named '%s'", where, st->valuestring);
    }
    const cJSON *fps = cJSON_GetObjectItemCaseSensitive(found, "fps");
    out->name = st->valuestring;
    out->fps = cJSON_IsNumber(fps) ? fps->valuedouble : 0;
    return MS_OK;
}

ms_status ms_serve_add_app(ms_server *s, const cJSON *obj, const char *where, const char *base_path,
                           cJSON **stored, int *status, ms_error *err)
{
    *stored = NULL;
    *status = 400;
    ms_deploy_stream stream;
    if (check_keys(obj, ms_deploy_app_keys, where, err) || check_name(obj, where, err) ||
        app_stream(s, obj, where, &stream, status, err))
        return err->status;
    ms_deploy_app da;
    char *stream_name;
    if (ms_deploy_app_parse(obj, where, base_path, &da, &stream_name, err)) return err->status;
    free(stream_name); /* the same as stream.name, checked above */
    ms_status st = MS_OK;
    if (stream.fps > 0 && da.fps > stream.fps)
        st = ms_errorf(err, MS_ERR_INVALID, "%s.fps: %g is above stream '%s''s %g fps", where, da.fps, stream.name,
                       stream.fps);
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(obj, "package");
    char *pkg = st ? NULL : package_path(s, given->valuestring, da.package);
    if (!st && !pkg) st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    if (!st && ms_runtime_find_app(s->rt, da.name) >= 0) {
        *status = 409;
        st = ms_errorf(err, MS_ERR_INVALID, "%s.name: an app named '%s' exists", where, da.name);
    }
    if (!st) {
        free(da.package);
        da.package = pkg;
        pkg = NULL;
        da.stream = ms_runtime_find_stream(s->rt, stream.name);
        st = ms_runtime_add_app(s->rt, &da, NULL, err);
        if (st) ms_error_prefix(err, "%s", where);
    }
    if (!st && !(*stored = with_string(obj, "package", da.package))) {
        ms_error e2;
        ms_runtime_remove_app(s->rt, ms_runtime_find_app(s->rt, da.name), &e2);
        *status = 500;
        st = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", where);
    }
    free(pkg);
    ms_deploy_app_free(&da);
    return st;
}

/* ---- helpers ---- */

static cJSON *parse_body(const ms_http_request *rq, ms_http_reply *rp)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(rq->body, rq->body_len, &end, 0);
    if (j) { /* nothing but white space may follow the value */
        for (const char *c = end; c < rq->body + rq->body_len; c++)
            if (!isspace((unsigned char)*c)) {
                cJSON_Delete(j);
                j = NULL;
                break;
            }
    }
    if (!j) {
        size_t at = end && end >= rq->body ? (size_t)(end - rq->body) : 0;
        ms_http_reply_error(rp, 400, "body: not valid JSON (near byte %zu)", at);
    }
    return j;
}

/* The state with one change: append obj to list, or remove the named entries. */
static cJSON *state_with(ms_server *s, const char *list, cJSON *append, const char *remove_field, const char *name)
{
    cJSON *next = cJSON_Duplicate(s->state.root, 1);
    cJSON *arr = next ? cJSON_GetObjectItemCaseSensitive(next, list) : NULL;
    if (!arr) {
        cJSON_Delete(next);
        cJSON_Delete(append);
        return NULL;
    }
    if (append) cJSON_AddItemToArray(arr, append);
    if (remove_field) {
        for (int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), remove_field);
            if (cJSON_IsString(v) && !strcmp(v->valuestring, name)) cJSON_DeleteItemFromArray(arr, i);
        }
    }
    return next;
}

static void reply_created(ms_http_reply *rp, const char *kind, const char *name, int id)
{
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, kind, name);
        cJSON_AddNumberToObject(j, "id", id);
    }
    ms_http_reply_json(rp, 201, j);
}

/* ---- handlers (api_lock held: alone for changes) ---- */

static void post_stream(ms_server *s, const ms_http_request *rq, ms_http_reply *rp)
{
    cJSON *body = parse_body(rq, rp), *stored;
    if (!body) return;
    ms_error err;
    int status;
    if (ms_serve_add_stream(s, body, "body", "", &stored, &status, &err)) {
        ms_http_reply_error(rp, status, "%s", err.msg);
    } else {
        const char *name = cJSON_GetObjectItemCaseSensitive(stored, "name")->valuestring;
        int id = ms_runtime_find_stream(s->rt, name);
        char keep[NAME_MAX_LEN + 1];
        snprintf(keep, sizeof keep, "%s", name);
        if (ms_serve_state_commit(&s->state, state_with(s, "streams", stored, NULL, NULL), &err)) {
            ms_error e2;
            ms_runtime_remove_stream(s->rt, id, &e2);
            ms_http_reply_error(rp, 500, "state: %s (the stream was not added)", err.msg);
        } else {
            reply_created(rp, "stream", keep, id);
        }
    }
    cJSON_Delete(body);
}

static void post_app(ms_server *s, const ms_http_request *rq, ms_http_reply *rp)
{
    cJSON *body = parse_body(rq, rp), *stored;
    if (!body) return;
    ms_error err;
    int status;
    if (ms_serve_add_app(s, body, "body", "", &stored, &status, &err)) {
        ms_http_reply_error(rp, status, "%s", err.msg);
    } else {
        char keep[NAME_MAX_LEN + 1];
        snprintf(keep, sizeof keep, "%s", cJSON_GetObjectItemCaseSensitive(stored, "name")->valuestring);
        int id = ms_runtime_find_app(s->rt, keep);
        if (ms_serve_state_commit(&s->state, state_with(s, "apps", stored, NULL, NULL), &err)) {
            ms_error e2;
            ms_runtime_remove_app(s->rt, id, &e2);
            ms_http_reply_error(rp, 500, "state: %s (the app was not added)", err.msg);
        } else {
            reply_created(rp, "app", keep, id);
        }
    }
    cJSON_Delete(body);
}

static void delete_stream(ms_server *s, const char *name, ms_http_reply *rp)
{
    int id = ms_runtime_find_stream(s->rt, name);
    ms_error err;
    if (id < 0) {
        ms_http_reply_error(rp, 404, "streams/%s: no stream of that name", name);
        return;
    }
    cJSON *next = state_with(s, "streams", NULL, "name", name);
    cJSON *apps = next ? cJSON_GetObjectItemCaseSensitive(next, "apps") : NULL;
    for (int i = cJSON_GetArraySize(apps) - 1; i >= 0; i--) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(apps, i), "stream");
        if (cJSON_IsString(v) && !strcmp(v->valuestring, name)) cJSON_DeleteItemFromArray(apps, i);
    }
    /* state first: a crash after it leaves the stream gone at restart, as acknowledged */
    if (ms_serve_state_commit(&s->state, next, &err)) ms_http_reply_error(rp, 500, "state: %s", err.msg);
    else if (ms_runtime_remove_stream(s->rt, id, &err)) ms_http_reply_error(rp, 500, "%s", err.msg);
    else rp->status = 204;
}

static void delete_app(ms_server *s, const char *name, ms_http_reply *rp)
{
    int id = ms_runtime_find_app(s->rt, name);
    ms_error err;
    if (id < 0) ms_http_reply_error(rp, 404, "apps/%s: no app of that name", name);
    else if (ms_serve_state_commit(&s->state, state_with(s, "apps", NULL, "name", name), &err))
        ms_http_reply_error(rp, 500, "state: %s", err.msg);
    else if (ms_runtime_remove_app(s->rt, id, &err)) ms_http_reply_error(rp, 500, "%s", err.msg);
    else rp->status = 204;
}

static void put_budget(ms_server *s, const ms_http_request *rq, ms_http_reply *rp)
{
    cJSON *body = parse_body(rq, rp);
    if (!body) return;
    ms_error err;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(body, "budget");
    if (check_keys(body, BUDGET_KEYS, "body", &err)) ms_http_reply_error(rp, 400, "%s", err.msg);
    else if (!b) ms_http_reply_error(rp, 400, "body.budget: missing");
    else if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble) || b->valuedouble <= 0 || b->valuedouble > 1e9)
        ms_http_reply_error(rp, 400, "body.budget: must be a positive number of ms per second");
    else {
        ms_runtime_stats now;
        double old = 0;
        if (!ms_runtime_stats_get(s->rt, &now, &err)) {
            old = now.budget; /* the budget in force, to restore if the state cannot be written */
            ms_runtime_stats_free(&now);
        }
        cJSON *next = cJSON_Duplicate(s->state.root, 1), *nb = cJSON_CreateNumber(b->valuedouble);
        if (next && nb && !cJSON_GetObjectItemCaseSensitive(next, "budget")) cJSON_AddItemToObject(next, "budget", nb);
        else if (next && nb) cJSON_ReplaceItemInObjectCaseSensitive(next, "budget", nb);
        else cJSON_Delete(nb);
        if (ms_runtime_set_budget(s->rt, b->valuedouble, &err)) {
            cJSON_Delete(next);
            ms_http_reply_error(rp, 400, "body.budget: %s", err.msg);
        } else if (ms_serve_state_commit(&s->state, next, &err)) {
            ms_error e2;
            if (old > 0) ms_runtime_set_budget(s->rt, old, &e2);
            ms_http_reply_error(rp, 500, "state: %s (the budget was not changed)", err.msg);
        } else {
            cJSON *j = cJSON_CreateObject();
            if (j) cJSON_AddNumberToObject(j, "budget", b->valuedouble);
            ms_http_reply_json(rp, 200, j);
        }
    }
    cJSON_Delete(body);
}

static void put_package(ms_server *s, const char *name, const ms_http_request *rq, ms_http_reply *rp)
{
    ms_mpackage *p = NULL;
    ms_error err;
    if (!rq->upload_path || rq->upload_len == 0) {
        ms_http_reply_error(rp, 400, "body: empty (send the M-Package's bytes)");
        return;
    }
    if (ms_mpackage_load(rq->upload_path, &p, &err)) {
        ms_http_reply_error(rp, 400, "body: not a valid M-Package: %s", err.msg);
        return;
    }
    if (ms_mpackage_check_base(p, s->base, &err)) {
        ms_http_reply_error(rp, 400, "body: %s", err.msg);
        ms_mpackage_free(p);
        return;
    }
    size_t n = strlen(s->packages_dir) + strlen(name) + 8;
    char *dst = malloc(n);
    if (dst) snprintf(dst, n, "%s/%s.mpk", s->packages_dir, name);
    bool existed = dst && access(dst, F_OK) == 0;
    ms_error derr;
    if (!dst || rename(rq->upload_path, dst) != 0) {
        ms_http_reply_error(rp, 500, "packages/%s: cannot keep the package: %s", name, strerror(errno));
    } else if (ms_fsync_dir(s->packages_dir, &derr)) {
        ms_http_reply_error(rp, 500, "packages/%s: %s", name, derr.msg);
    } else {
        cJSON *j = cJSON_CreateObject(), *cps = cJSON_CreateArray();
        if (j && cps) {
            cJSON_AddStringToObject(j, "package", name);
            cJSON_AddStringToObject(j, "app", p->app ? p->app : "");
            for (int i = 0; i < p->n_curve; i++) cJSON_AddItemToArray(cps, cJSON_CreateNumber(p->curve[i].chokepoint));
            cJSON_AddItemToObject(j, "chokepoints", cps);
            cps = NULL;
        }
        cJSON_Delete(cps);
        ms_http_reply_json(rp, existed ? 200 : 201, j);
    }
    free(dst);
    ms_mpackage_free(p);
}

static void get_json(ms_server *s, const char *what, ms_http_reply *rp)
{
    ms_error err;
    if (!strcmp(what, "schedule")) {
        ms_runtime_schedule sch;
        if (ms_runtime_schedule_get(s->rt, &sch, &err)) {
            ms_http_reply_error(rp, 500, "%s", err.msg);
            return;
        }
        ms_http_reply_json(rp, 200, ms_runtime_schedule_json(&sch));
        ms_runtime_schedule_free(&sch);
        return;
    }
    ms_runtime_stats st;
    if (ms_runtime_stats_get(s->rt, &st, &err)) {
        ms_http_reply_error(rp, 500, "%s", err.msg);
        return;
    }
    cJSON *j = ms_runtime_stats_json(&st);
    ms_runtime_stats_free(&st);
    if (j && strcmp(what, "stats")) { /* streams or apps: that list of the stats */
        cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(j, what), *out = cJSON_CreateObject();
        cJSON_Delete(j);
        j = NULL;
        if (out && list) {
            cJSON_AddItemToObject(out, what, list);
            j = out;
        } else {
            cJSON_Delete(out);
            cJSON_Delete(list);
        }
    }
    ms_http_reply_json(rp, 200, j);
}

static void get_metrics(ms_server *s, ms_http_reply *rp)
{
    ms_error err;
    ms_runtime_stats st;
    if (ms_runtime_stats_get(s->rt, &st, &err)) {
        ms_http_reply_error(rp, 500, "%s", err.msg);
        return;
    }
    int n = ms_outputs_count(s->outputs);
    ms_output_stats *outs = calloc((size_t)(n ? n : 1), sizeof *outs);
    for (int i = 0; outs && i < n; i++) outs[i] = ms_outputs_stats(s->outputs, i);
    char *text = outs ? ms_serve_metrics(&st, outs, n) : NULL;
    free(outs);
    ms_runtime_stats_free(&st);
    if (!text) {
        ms_http_reply_error(rp, 500, "metrics: out of memory");
        return;
    }
    rp->status = 200;
    rp->body = text;
    rp->len = strlen(text);
    rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- routing ---- */

static bool is(const ms_http_request *rq, const char *method, const char *path)
{
    return !strcmp(rq->method, method) && !strcmp(rq->path, path);
}

/* The NAME of PREFIX/NAME, or NULL when the path is not under prefix. */
static const char *tail(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) ? NULL : path + n;
}

static void named(ms_server *s, const ms_http_request *rq, ms_http_reply *rp, const char *kind, const char *name)
{
    bool package = !strcmp(kind, "packages");
    const char *method = package ? "PUT" : "DELETE";
    if (!name_ok(name)) {
        ms_http_reply_error(rp, 400,
                            "%s/%s: a name is letters, digits, '.', '_' or '-', starting with a letter or digit "
                            "(no '/' or '..')",
                            kind, name);
        return;
    }
    if (strcmp(rq->method, method)) {
        rp->allow = method;
        ms_http_reply_error(rp, 405, "%s/%s: only %s", kind, name, method);
        return;
    }
    if (package) put_package(s, name, rq, rp);
    else if (!strcmp(kind, "streams")) delete_stream(s, name, rp);
    else delete_app(s, name, rp);
}

static void route(ms_server *s, const ms_http_request *rq, ms_http_reply *rp)
{
    const char *name;
    if (is(rq, "GET", "/v1/streams")) get_json(s, "streams", rp);
    else if (is(rq, "POST", "/v1/streams")) post_stream(s, rq, rp);
    else if (is(rq, "GET", "/v1/apps")) get_json(s, "apps", rp);
    else if (is(rq, "POST", "/v1/apps")) post_app(s, rq, rp);
    else if (is(rq, "GET", "/v1/stats")) get_json(s, "stats", rp);
    else if (is(rq, "GET", "/v1/schedule")) get_json(s, "schedule", rp);
    else if (is(rq, "PUT", "/v1/budget")) put_budget(s, rq, rp);
    else if (is(rq, "GET", "/metrics")) get_metrics(s, rp);
    else if ((name = tail(rq->path, "/v1/streams/"))) named(s, rq, rp, "streams", name);
    else if ((name = tail(rq->path, "/v1/apps/"))) named(s, rq, rp, "apps", name);
    else if ((name = tail(rq->path, "/v1/packages/"))) named(s, rq, rp, "packages", name);
    else {
        static const struct {
            const char *path, *allow;
        } known[] = {{"/v1/health", "GET"}, {"/v1/events", "GET"},  {"/v1/streams", "GET, POST"},
                     {"/v1/apps", "GET, POST"}, {"/v1/stats", "GET"}, {"/v1/schedule", "GET"},
                     {"/v1/budget", "PUT"}, {"/metrics", "GET"}};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!strcmp(rq->path, known[i].path)) {
                rp->allow = known[i].allow;
                ms_http_reply_error(rp, 405, "%s: method %s not allowed (allowed: %s)", rq->path, rq->method,
                                    known[i].allow);
                return;
            }
        ms_http_reply_error(rp, 404, "%s: no such resource", rq->path);
    }
}

void ms_serve_handle(void *ctx, const ms_http_request *rq, ms_http_reply *rp)
{
    ms_server *s = ctx;
    if (is(rq, "GET", "/v1/health")) {
        cJSON *j = cJSON_CreateObject();
        if (j) cJSON_AddStringToObject(j, "status", "ok");
        ms_http_reply_json(rp, 200, j);
        return;
    }
    if (is(rq, "GET", "/v1/events")) {
        rp->sse = true;
        return;
    }
    if (strcmp(rq->method, "GET")) pthread_rwlock_wrlock(&s->api_lock);
    else pthread_rwlock_rdlock(&s->api_lock);
    if (s->closing) ms_http_reply_error(rp, 503, "serve is shutting down");
    else route(s, rq, rp);
    pthread_rwlock_unlock(&s->api_lock);
}
