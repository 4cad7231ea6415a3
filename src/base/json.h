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

/* Serialises root (unformatted, one line, with a trailing newline) to path atomically;
 * "-" writes to stdout. */
ms_status ms_json_write(const char *path, const cJSON *root, bool pretty, ms_error *err);

#endif
