/* JSON helpers over cJSON with field-naming validation messages. */
#include "base/json.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
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

bool ms_json_add_exact(cJSON *obj, const char *key, double v)
{
    if (!isfinite(v)) return cJSON_AddNumberToObject(obj, key, v) != NULL;
    char buf[64];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_AddRawToObject(obj, key, buf) != NULL;
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

/* Levenshtein distance with case folded, two rows; keys longer than 63 bytes never match. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return (size_t)-1;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= m; j++) prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof prev);
    }
    return prev[m];
}

const char *ms_json_nearest_key(const char *key, const char *const *known)
{
    size_t limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2, best_d = (size_t)-1;
    const char *best = NULL;
    for (const char *const *k = known; *k; k++) {
        size_t d = edit_distance(key, *k);
        if (d < best_d) {
            best_d = d;
            best = *k;
        }
    }
    return best_d <= limit ? best : NULL;
}

ms_status ms_json_check_keys(const cJSON *obj, const char *where, const char *const *known, ms_error *err)
{
    if (!cJSON_IsObject(obj)) return MS_OK; /* the caller reports what obj should be */
    uint64_t seen = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *key = c->string ? c->string : "";
        int found = -1;
        for (int k = 0; known[k] && found < 0; k++)
            if (!strcmp(key, known[k])) found = k;
        assert(found < 64); /* known lists are short */
        if (found >= 0 && (seen >> found & 1))
            return ms_errorf(err, MS_ERR_FORMAT, "%s: key \"%s\" appears twice", where, key);
        if (found >= 0) {
            seen |= (uint64_t)1 << found;
            continue;
        }
        const char *near = ms_json_nearest_key(key, known);
        if (near)
            return ms_errorf(err, MS_ERR_FORMAT, "%s: unknown key \"%.200s\" (did you mean \"%s\"?)", where, key, near);
        return ms_errorf(err, MS_ERR_FORMAT, "%s: unknown key \"%.200s\"", where, key);
    }
    return MS_OK;
}

ms_status ms_json_check_version(const cJSON *root, const char *where, int supported, ms_error *err)
{
    int64_t v = 1;
    if (ms_json_int_opt(root, where, MS_JSON_FORMAT_VERSION_KEY, &v, err)) return err->status;
    if (v < 1)
        return ms_errorf(err, MS_ERR_FORMAT, "%s: " MS_JSON_FORMAT_VERSION_KEY ": %lld is not a version (>= 1)", where,
                         (long long)v);
    if (v > supported)
        return ms_errorf(err, MS_ERR_UNSUPPORTED,
                         "%s: " MS_JSON_FORMAT_VERSION_KEY " %lld is newer than this build reads (%d): upgrade mainstream",
                         where, (long long)v, supported);
    return MS_OK;
}

bool ms_json_add_version(cJSON *root, int version)
{
    return cJSON_AddNumberToObject(root, MS_JSON_FORMAT_VERSION_KEY, version) != NULL;
}
