/* JSON helpers over cJSON: load a file, read fields with validation whose messages
 * name the file and the field ("scenario.json: apps[2].curve: must be a non-empty array"),
 * and write a cJSON tree atomically. */
#ifndef MS_BASE_JSON_H
#define MS_BASE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Parses the JSON file at path (at most max_bytes). */
ms_status ms_json_load(const char *path, size_t max_bytes, cJSON **out, ms_error *err);

/* Field readers. `where` names the object for messages (e.g. "scenario.json: apps[3]").
 * Required readers fail when the field is missing; optional ones leave *out unchanged. */
ms_status ms_json_number(const cJSON *obj, const char *where, const char *field, double *out,
                         ms_error *err);
ms_status ms_json_number_opt(const cJSON *obj, const char *where, const char *field, double *out,
                             ms_error *err);
ms_status ms_json_int(const cJSON *obj, const char *where, const char *field, int64_t *out,
                      ms_error *err);
ms_status ms_json_int_opt(const cJSON *obj, const char *where, const char *field, int64_t *out,
                          ms_error *err);
ms_status ms_json_string(const cJSON *obj, const char *where, const char *field, const char **out,
                         ms_error *err);
ms_status ms_json_string_opt(const cJSON *obj, const char *where, const char *field,
                             const char **out, ms_error *err);
ms_status ms_json_array(const cJSON *obj, const char *where, const char *field,
                        const cJSON **out, ms_error *err);

/* Strict configs: every key of obj must be one of known (NULL-terminated). An unknown key
 * fails naming `where` and the key, and suggests the nearest known key when one is close
 * ("d.json: apps[0]: unknown key \"treshold\" (did you mean \"threshold\"?)"). A known key
 * given twice fails too (cJSON would silently take the first). At most 64 known keys. */
ms_status ms_json_check_keys(const cJSON *obj, const char *where, const char *const *known, ms_error *err);

/* The nearest of known (NULL-terminated) to key by edit distance (Levenshtein, case
 * folded), or NULL when none is within max(2, strlen(key) / 3) edits. */
const char *ms_json_nearest_key(const char *key, const char *const *known);

/* Format versions. Every JSON document Mainstream writes has "format_version" at its top
 * level; a reader accepts a document without one as version 1 (what every file written
 * before versions existed is) and refuses one newer than `supported`. */
#define MS_JSON_FORMAT_VERSION_KEY "format_version"
ms_status ms_json_check_version(const cJSON *root, const char *where, int supported, ms_error *err);
/* Adds "format_version": version to root (false when out of memory). */
bool ms_json_add_version(cJSON *root, int version);

/* Adds "key": v written so that it reads back as the same double (the shortest of 15, 16
 * or 17 significant digits that does; cJSON's own printing may lose the last bit). A
 * non-finite v is added as cJSON adds it. False when out of memory. */
bool ms_json_add_exact(cJSON *obj, const char *key, double v);

/* Serialises root (unformatted, one line, with a trailing newline) to path atomically;
 * "-" writes to stdout. */
ms_status ms_json_write(const char *path, const cJSON *root, bool pretty, ms_error *err);

#endif
