/* Serve's persistent state under --state (see state.h). */
#include "serve/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"

#define STATE_VERSION 1
#define STATE_MAX_BYTES (16u << 20)

char *ms_serve_state_path(const ms_serve_state *s, const char *name)
{
    size_t n = strlen(s->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", s->dir, name);
    return p;
}

static ms_status make_dir(const char *p, ms_error *err)
{
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "state: out of memory");
    if (mkdir(p, 0700) == 0) {
        if (ms_fsync_parent(p, err)) return err->status;
    } else if (errno != EEXIST) {
        return ms_errorf(err, MS_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    }
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) return ms_errorf(err, MS_ERR_IO, "%s: not a folder", p);
    return MS_OK;
}

static ms_status check_root(const ms_serve_state *s, ms_error *err)
{
    const cJSON *r = s->root, *v = cJSON_GetObjectItemCaseSensitive(r, "version");
    if (!cJSON_IsObject(r)) return ms_errorf(err, MS_ERR_FORMAT, "%s: must be a JSON object", s->file);
    if (!cJSON_IsNumber(v) || v->valuedouble != STATE_VERSION)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: version: must be %d", s->file, STATE_VERSION);
    const char *lists[2] = {"streams", "apps"};
    for (int i = 0; i < 2; i++)
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, lists[i])))
            return ms_errorf(err, MS_ERR_FORMAT, "%s: %s: must be an array", s->file, lists[i]);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "budget");
    if (b && !(cJSON_IsNumber(b) && isfinite(b->valuedouble) && b->valuedouble > 0))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: budget: must be a positive number", s->file);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "config");
    if (c && !cJSON_IsString(c)) return ms_errorf(err, MS_ERR_FORMAT, "%s: config: must be a path", s->file);
    return MS_OK;
}

/* Removes uploads a killed serve left half-written (packages/.upload-*). */
static void remove_partial_uploads(const char *packages)
{
    DIR *d = opendir(packages);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".upload-", 8)) continue;
        size_t n = strlen(packages) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (p) {
            snprintf(p, n, "%s/%s", packages, e->d_name);
            unlink(p);
        }
        free(p);
    }
    closedir(d);
}

static ms_status take_lock(ms_serve_state *s, ms_error *err)
{
    char *p = ms_serve_state_path(s, "lock");
    if (!p) return ms_errorf(err, MS_ERR_NOMEM, "state: out of memory");
    ms_status st = MS_OK;
    s->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) st = ms_errorf(err, MS_ERR_IO, "%s: cannot open: %s", p, strerror(errno));
    else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0)
        st = ms_errorf(err, MS_ERR_IO, "%s: in use by another mainstream serve", s->dir);
    free(p);
    return st;
}

ms_status ms_serve_state_open(const char *dir, ms_serve_state *s, ms_error *err)
{
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    ms_status st = MS_OK;
    if (!(s->dir = strdup(dir)) || !(s->file = ms_serve_state_path(s, "state.json")))
        st = ms_errorf(err, MS_ERR_NOMEM, "state: out of memory");
    char *pk = st ? NULL : ms_serve_state_path(s, "packages"), *sp = st ? NULL : ms_serve_state_path(s, "spool");
    if (!st) st = make_dir(dir, err);
    if (!st) st = make_dir(pk, err);
    if (!st) st = make_dir(sp, err);
    if (!st) st = take_lock(s, err);
    if (!st) remove_partial_uploads(pk);
    free(pk);
    free(sp);
    if (!st && access(s->file, F_OK) == 0) {
        s->existed = true;
        if (!(st = ms_json_load(s->file, STATE_MAX_BYTES, &s->root, err))) st = check_root(s, err);
    } else if (!st) {
        s->root = cJSON_CreateObject();
        if (!s->root || !cJSON_AddNumberToObject(s->root, "version", STATE_VERSION) ||
            !cJSON_AddArrayToObject(s->root, "streams") || !cJSON_AddArrayToObject(s->root, "apps"))
            st = ms_errorf(err, MS_ERR_NOMEM, "state: out of memory");
    }
    if (st) ms_serve_state_close(s);
    return st;
}

ms_status ms_serve_state_commit(ms_serve_state *s, cJSON *next, ms_error *err)
{
    ms_status st = next ? ms_json_write(s->file, next, true, err) : ms_errorf(err, MS_ERR_NOMEM, "state: out of memory");
    if (st) {
        cJSON_Delete(next);
        return st;
    }
    cJSON_Delete(s->root);
    s->root = next;
    return MS_OK;
}

cJSON *ms_serve_state_list(const ms_serve_state *s, const char *which)
{
    return cJSON_GetObjectItemCaseSensitive(s->root, which);
}

double ms_serve_state_budget(const ms_serve_state *s)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(s->root, "budget");
    return cJSON_IsNumber(b) ? b->valuedouble : 0;
}

const char *ms_serve_state_config(const ms_serve_state *s)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s->root, "config");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

void ms_serve_state_close(ms_serve_state *s)
{
    if (s->lock_fd >= 0) close(s->lock_fd);
    cJSON_Delete(s->root);
    free(s->dir);
    free(s->file);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
}
