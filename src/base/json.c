/* JSON helpers over cJSON with field-naming validation messages. */
#include "base/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

ms_status ms_json_load(const char *path, size_t max_bytes, cJSON **out, ms_error *err)
{
    *out = NULL;
    unsigned char *data;
    size_t size;
    ms_status s = ms_read_file(path, max_bytes, &data, &size, err);
    if (s) return s;
    const char *end = NULL;
    /* size + 1: the NUL that ms_read_file appends must be inside the length for cJSON to
     * accept trailing whitespace when it requires NUL termination. */
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)data, size + 1, &end, true);
    if (!root) {
        size_t off = end ? (size_t)(end - (const char *)data) : 0;
        free(data);
        return ms_errorf(err, MS_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, off);
    }
    free(data);
    *out = root;
    return MS_OK;
}

static const cJSON *field(const cJSON *obj, const char *name)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

static ms_status read_number(const cJSON *v, const char *where, const char *name, double *out,
                             ms_error *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"%s\" must be a finite number", where, name);
    *out = v->valuedouble;
    return MS_OK;
}

ms_status ms_json_number(const cJSON *obj, const char *where, const char *name, double *out,
                         ms_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return ms_errorf(err, MS_ERR_FORMAT, "%s: missing field \"%s\"", where, name);
    return read_number(v, where, name, out, err);
}

ms_status ms_json_number_opt(const cJSON *obj, const char *where, const char *name, double *out,
                             ms_error *err)
{
    const cJSON *v = field(obj, name);
    return v ? read_number(v, where, name, out, err) : MS_OK;
}

static ms_status read_int(const cJSON *v, const char *where, const char *name, int64_t *out,
                          ms_error *err)
{
    double d = 0;
    ms_status s = read_number(v, where, name, &d, err);
    if (s) return s;
    if (d != floor(d) || fabs(d) > 9007199254740992.0)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"%s\" must be an integer", where, name);
    *out = (int64_t)d;
    return MS_OK;
}

ms_status ms_json_int(const cJSON *obj, const char *where, const char *name, int64_t *out,
                      ms_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return ms_errorf(err, MS_ERR_FORMAT, "%s: missing field \"%s\"", where, name);
    return read_int(v, where, name, out, err);
}

ms_status ms_json_int_opt(const cJSON *obj, const char *where, const char *name, int64_t *out,
                          ms_error *err)
{
    const cJSON *v = field(obj, name);
    return v ? read_int(v, where, name, out, err) : MS_OK;
}

static ms_status read_string(const cJSON *v, const char *where, const char *name, const char **out,
                             ms_error *err)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"%s\" must be a string", where, name);
    *out = v->valuestring;
    return MS_OK;
}

ms_status ms_json_string(const cJSON *obj, const char *where, const char *name, const char **out,
                         ms_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return ms_errorf(err, MS_ERR_FORMAT, "%s: missing field \"%s\"", where, name);
    return read_string(v, where, name, out, err);
}

ms_status ms_json_string_opt(const cJSON *obj, const char *where, const char *name,
                             const char **out, ms_error *err)
{
    const cJSON *v = field(obj, name);
    return v ? read_string(v, where, name, out, err) : MS_OK;
}

ms_status ms_json_array(const cJSON *obj, const char *where, const char *name, const cJSON **out,
                        ms_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return ms_errorf(err, MS_ERR_FORMAT, "%s: missing field \"%s\"", where, name);
    if (!cJSON_IsArray(v))
        return ms_errorf(err, MS_ERR_FORMAT, "%s: field \"%s\" must be an array", where, name);
    *out = v;
    return MS_OK;
}

ms_status ms_json_write(const char *path, const cJSON *root, bool pretty, ms_error *err)
{
    char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    if (!text) return ms_errorf(err, MS_ERR_NOMEM, "%s: cannot serialise JSON", path);
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: cannot serialise JSON", path);
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    ms_status s = ms_write_file_atomic(path, line, n + 1, err);
    free(line);
    return s;
}
