/* The JSON fuzz targets' common step: the bytes as a JSON document (as ms_json_load
 * parses a file), NULL when they are not one. */
#ifndef MS_FUZZ_JSON_H
#define MS_FUZZ_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static cJSON *fuzz_json(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return NULL;
    memcpy(text, data, size);
    text[size] = '\0';
    cJSON *root = cJSON_ParseWithLengthOpts(text, size + 1, NULL, true);
    free(text);
    return root;
}

#endif
