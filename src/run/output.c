/* JSON-lines outputs (see output.h). */
#include "run/output.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

ms_status ms_jsonl_open(ms_jsonl *o, const char *path, ms_error *err)
{
    memset(o, 0, sizeof *o);
    if (!path) return MS_OK;
    if (!(o->path = strdup(path))) return ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory", path);
    o->fp = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!o->fp) {
        ms_status st = ms_errorf(err, MS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(o->path);
        o->path = NULL;
        return st;
    }
    return MS_OK;
}

static void write_line(ms_jsonl *o, cJSON *obj)
{
    char *line = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!line) {
        o->failed = 1;
        return;
    }
    size_t n = strlen(line);
    line[n] = '\n';
    if (fwrite(line, 1, n + 1, o->fp) != n + 1 || fflush(o->fp) != 0) o->failed = 1;
    line[n] = '\0';
    cJSON_free(line);
}

static cJSON *base_object(const char *stream, const char *app)
{
    cJSON *obj = cJSON_CreateObject();
    if (obj && (!cJSON_AddStringToObject(obj, "stream", stream) || !cJSON_AddStringToObject(obj, "app", app))) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

void ms_jsonl_event(ms_jsonl *o, const char *stream, const char *app, const ms_event *e)
{
    if (!o->fp) return;
    cJSON *obj = base_object(stream, app);
    if (obj && (!cJSON_AddNumberToObject(obj, "start_frame", (double)e->start_frame) ||
                !cJSON_AddNumberToObject(obj, "end_frame", (double)e->end_frame) ||
                !cJSON_AddNumberToObject(obj, "start_s", e->start_s) ||
                !cJSON_AddNumberToObject(obj, "end_s", e->end_s) || !cJSON_AddNumberToObject(obj, "score", e->score))) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    write_line(o, obj);
}

void ms_jsonl_score(ms_jsonl *o, const char *stream, const char *app, int64_t frame, double score)
{
    if (!o->fp) return;
    cJSON *obj = base_object(stream, app);
    if (obj && (!cJSON_AddNumberToObject(obj, "frame", (double)frame) || !cJSON_AddNumberToObject(obj, "score", score))) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    write_line(o, obj);
}

ms_status ms_jsonl_close(ms_jsonl *o, ms_error *err)
{
    ms_status st = MS_OK;
    if (o->fp && o->fp != stdout && fclose(o->fp) != 0) o->failed = 1;
    if (o->failed) st = ms_errorf(err, MS_ERR_IO, "%s: writing failed", o->path ? o->path : "output");
    free(o->path);
    memset(o, 0, sizeof *o);
    return st;
}
