/* `mainstream serve`: start-up, the event path and a clean shutdown (see serve.h). */
#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "formats/model.h"
#include "serve/core.h"

#define CONFIG_MAX_BYTES (4u << 20)
#define DRAIN_S 5.0

static const char *const CONFIG_KEYS[] = {"format_version", "model", "backend", "precision", "threads", "batch",  "budget", "profile",
                                          "policy", "objective", "resize",  "streams", "apps", "outputs", NULL};

/* Every closed event: an id, the JSON line, each output's spool, the SSE feed. Under
 * event_mu, so events reach every output in the order they closed. */
static void on_event(void *ctx, const ms_runtime_event *e)
{
    ms_server *s = ctx;
    char id[48];
    pthread_mutex_lock(&s->event_mu);
    ms_event_ids_next(&s->ids, id, sizeof id);
    char *json = ms_event_json(id, e->stream, e->app, &e->event, 0, ms_wall_now());
    if (!json) {
        ms_log(MS_LOG_ERROR, "serve: event %s of app %s: out of memory, not delivered", id, e->app);
    } else {
        ms_sink_event se = {id, e->stream, e->app, json, strlen(json)};
        if (s->outputs) ms_outputs_publish(s->outputs, &se);
        ms_feed_push(s->feed, id, json);
        cJSON_free(json);
    }
    pthread_mutex_unlock(&s->event_mu);
}

static char *absolute(const char *p)
{
    if (p[0] == '/') return strdup(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return strdup(p);
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", cwd, p);
    return out;
}

static ms_status load_config(ms_server *s, const ms_serve_options *o, char **path, cJSON **root, ms_error *err)
{
    *root = NULL;
    const char *given = o->config_path ? o->config_path : ms_serve_state_config(&s->state);
    if (!given)
        return ms_errorf(err, MS_ERR_INVALID, "no CONFIG given, and %s records none (give the deployment once)",
                         s->state.file);
    if (!(*path = absolute(given))) return ms_errorf(err, MS_ERR_NOMEM, "serve: out of memory");
    if (ms_json_load(*path, CONFIG_MAX_BYTES, root, err)) return err->status;
    if (!cJSON_IsObject(*root)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", *path);
    if (ms_json_check_keys(*root, *path, CONFIG_KEYS, err)) return err->status;
    char where[4200];
    snprintf(where, sizeof where, "%s: outputs", *path);
    if (ms_deployment_parse_settings(*root, *path, &s->settings, err) ||
        ms_outputs_config_parse(cJSON_GetObjectItemCaseSensitive(*root, "outputs"), where, *path, &s->outputs_cfg, err))
        return err->status;
    return MS_OK;
}

static ms_status get_token(const ms_serve_options *o, char **token, ms_error *err)
{
    *token = NULL;
    if (o->token_file) return ms_http_read_token(o->token_file, token, err);
    const char *env = getenv("MAINSTREAM_TOKEN");
    if (env && *env && !(*token = strdup(env))) return ms_errorf(err, MS_ERR_NOMEM, "serve: out of memory");
    return MS_OK;
}

static ms_status open_runtime(ms_server *s, const ms_serve_options *o, const char *path, ms_error *err)
{
    ms_runtime_options ro;
    ms_runtime_options_from_deployment(&s->settings, &ro);
    ro.live = !o->offline;
    ro.until_streams_end = false;
    ro.report_every_s = o->report_every_s;
    ro.events_path = ro.scores_path = ro.stats_path = NULL;
    ro.on_event = on_event;
    ro.on_score = NULL;
    ro.ctx = s;
    ro.stop = o->stop;
    ro.where = path;
    ro.log_name = "serve";
    if (ms_model_load((const char *const *)s->settings.models, s->settings.n_models, &s->base, err))
        return err->status;
    return ms_runtime_open(&ro, &s->rt, err);
}

/* Re-adds what the state holds (or, on the first start, what the config lists) and
 * records it, with the config's path and the budget, as the state. */
static ms_status replay(ms_server *s, const cJSON *config, const char *path, ms_error *err)
{
    double budget = ms_serve_state_budget(&s->state);
    if (budget > 0 && ms_runtime_set_budget(s->rt, budget, err))
        return ms_error_prefix(err, "%s: budget", s->state.file);
    const char *source = s->state.existed ? s->state.file : path;
    const cJSON *from = s->state.existed ? s->state.root : config;
    cJSON *next = cJSON_CreateObject();
    cJSON *lists[2] = {cJSON_CreateArray(), cJSON_CreateArray()};
    const char *names[2] = {"streams", "apps"};
    ms_status st = next && lists[0] && lists[1] ? MS_OK : ms_errorf(err, MS_ERR_NOMEM, "serve: out of memory");
    for (int l = 0; l < 2 && !st; l++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(from, names[l]), *item;
        if (arr && !cJSON_IsArray(arr)) st = ms_errorf(err, MS_ERR_FORMAT, "%s: %s: must be an array", source, names[l]);
        int i = 0;
        cJSON_ArrayForEach(item, arr)
        {
            if (st) break;
            char where[4300];
            snprintf(where, sizeof where, "%s: %s[%d]", source, names[l], i++);
            cJSON *stored;
            int status;
            st = l == 0 ? ms_serve_add_stream(s, item, where, path, &stored, &status, err)
                        : ms_serve_add_app(s, item, where, path, &stored, &status, err);
            if (!st) cJSON_AddItemToArray(lists[l], stored);
            if (!st && l == 0 && !s->state.existed) /* apps look their stream up in the state */
                cJSON_AddItemToArray(ms_serve_state_list(&s->state, "streams"), cJSON_Duplicate(stored, 1));
        }
    }
    if (!st) {
        cJSON_AddNumberToObject(next, "version", 1);
        cJSON_AddStringToObject(next, "config", path);
        if (budget > 0) cJSON_AddNumberToObject(next, "budget", budget);
        cJSON_AddItemToObject(next, "streams", lists[0]);
        cJSON_AddItemToObject(next, "apps", lists[1]);
        lists[0] = lists[1] = NULL;
        st = ms_serve_state_commit(&s->state, next, err);
        next = NULL;
    }
    cJSON_Delete(next);
    cJSON_Delete(lists[0]);
    cJSON_Delete(lists[1]);
    return st;
}

static void shutdown_server(ms_server *s)
{
    pthread_rwlock_wrlock(&s->api_lock);
    s->closing = true;
    pthread_rwlock_unlock(&s->api_lock);
    ms_error err;
    if (ms_runtime_close(s->rt, &err)) ms_log(MS_LOG_ERROR, "serve: %s", err.msg);
    s->rt = NULL;
    if (s->feed) ms_feed_close(s->feed);
    ms_http_stop(s->http);
    ms_outputs_close(s->outputs, DRAIN_S);
    ms_feed_free(s->feed);
    ms_graph_free(s->base);
    ms_outputs_config_free(&s->outputs_cfg);
    ms_deployment_free(&s->settings);
    ms_serve_state_close(&s->state);
    free(s->packages_dir);
    pthread_rwlock_destroy(&s->api_lock);
    pthread_mutex_destroy(&s->event_mu);
}

ms_status ms_serve_run(const ms_serve_options *o, ms_error *err)
{
    ms_server s = {0};
    s.state.lock_fd = -1;
    pthread_rwlock_init(&s.api_lock, NULL);
    pthread_mutex_init(&s.event_mu, NULL);
    const char *listen = o->listen ? o->listen : MS_SERVE_DEFAULT_LISTEN;
    char host[128], *path = NULL, *token = NULL, *spool = NULL;
    int port;
    bool loopback;
    cJSON *config = NULL;
    ms_status st = ms_http_parse_listen(listen, host, sizeof host, &port, &loopback, err);
    if (!st) st = get_token(o, &token, err);
    if (!st && !loopback && !token)
        st = ms_errorf(err, MS_ERR_INVALID,
                       "--listen: %s is not a loopback address; give a token (--token-file or MAINSTREAM_TOKEN)", listen);
    if (!st) st = ms_serve_state_open(o->state_dir ? o->state_dir : MS_SERVE_DEFAULT_STATE, &s.state, err);
    if (!st) st = load_config(&s, o, &path, &config, err);
    if (!st && (!(s.packages_dir = ms_serve_state_path(&s.state, "packages")) ||
                !(spool = ms_serve_state_path(&s.state, "spool")) || !(s.feed = ms_feed_new())))
        st = ms_errorf(err, MS_ERR_NOMEM, "serve: out of memory");
    if (!st) st = ms_event_ids_init(&s.ids, err);
    if (!st) st = ms_outputs_open(&s.outputs_cfg, spool, &s.outputs, err);
    if (!st) st = open_runtime(&s, o, path, err);
    if (!st) st = replay(&s, config, path, err);
    ms_http_options ho = {.listen = listen, .token = token, .max_json = MS_SERVE_MAX_JSON_BYTES,
                          .max_upload = MS_SERVE_MAX_PACKAGE_BYTES, .upload_prefix = "/v1/packages/",
                          .upload_dir = s.packages_dir, .handler = ms_serve_handle, .ctx = &s, .feed = s.feed};
    if (!st) st = ms_http_start(&ho, &s.http, err);
    if (!st) {
        fprintf(stderr, "mainstream serve: listening on http://%s%s%s:%d (state %s)\n", strchr(host, ':') ? "[" : "", host,
                strchr(host, ':') ? "]" : "", ms_http_port(s.http), s.state.dir);
        st = ms_runtime_run(s.rt, err);
    }
    cJSON_Delete(config);
    free(path);
    free(token);
    free(spool);
    shutdown_server(&s);
    return st;
}
