/* A small, bounds-checked FlatBuffers reader for untrusted files.
 *
 * Nothing in the buffer is trusted: every offset, vtable, vector length and string is
 * checked against the buffer before use, tables nest at most MS_FB_MAX_DEPTH deep, and
 * every read goes through memcpy (no alignment assumptions) as little-endian.
 * Tables are read by field id (the n-th field of the schema's table, counting a union
 * as two fields: its type byte, then its value). Errors say which buffer offset and
 * field was wrong; callers prefix the file and the schema path. */
#ifndef MS_FORMATS_FLATBUF_H
#define MS_FORMATS_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define MS_FB_MAX_DEPTH 32

typedef struct {
    const uint8_t *buf;
    size_t size;
} ms_fb;

typedef struct {
    const ms_fb *fb;
    size_t pos;        /* start of the table (where its vtable offset is stored) */
    size_t vtable;     /* start of its vtable */
    uint16_t vt_size;  /* bytes in the vtable, header included */
    uint16_t obj_size; /* bytes in the table's inline part */
    int depth;         /* 0 for the root */
} ms_fb_table;

typedef struct {
    const ms_fb *fb;
    size_t pos;   /* first element */
    uint32_t n;   /* number of elements */
    size_t elem;  /* bytes per element */
    int depth;    /* depth of the table that holds the vector */
} ms_fb_vec;

/* Reads the root table of buf. file_id (4 characters) is checked when not NULL. */
ms_status ms_fb_root(const ms_fb *fb, const char *file_id, ms_fb_table *root, ms_error *err);

/* Whether field `id` is present (non-zero vtable entry). */
bool ms_fb_has(const ms_fb_table *t, int id);

/* Scalar fields: absent fields give `def`. */
ms_status ms_fb_u8(const ms_fb_table *t, int id, uint8_t def, uint8_t *out, ms_error *err);
ms_status ms_fb_i8(const ms_fb_table *t, int id, int8_t def, int8_t *out, ms_error *err);
ms_status ms_fb_i32(const ms_fb_table *t, int id, int32_t def, int32_t *out, ms_error *err);
ms_status ms_fb_u32(const ms_fb_table *t, int id, uint32_t def, uint32_t *out, ms_error *err);
ms_status ms_fb_u64(const ms_fb_table *t, int id, uint64_t def, uint64_t *out, ms_error *err);
ms_status ms_fb_f32(const ms_fb_table *t, int id, float def, float *out, ms_error *err);

/* A sub-table field; *present is false (and out untouched) when the field is absent. */
ms_status ms_fb_table_field(const ms_fb_table *t, int id, ms_fb_table *out, bool *present,
                            ms_error *err);

/* A vector field of elements of elem bytes (scalars, or 4 for offsets to tables or
 * strings); an absent field gives an empty vector. */
ms_status ms_fb_vec_field(const ms_fb_table *t, int id, size_t elem, ms_fb_vec *out,
                          ms_error *err);

/* A string field as pointer and length (not NUL-terminated in general); absent: NULL, 0. */
ms_status ms_fb_string_field(const ms_fb_table *t, int id, const char **s, size_t *len,
                             ms_error *err);

/* Element i (< v->n; checked by the caller) of a checked vector. */
uint8_t ms_fb_vec_u8(const ms_fb_vec *v, uint32_t i);
int32_t ms_fb_vec_i32(const ms_fb_vec *v, uint32_t i);
int64_t ms_fb_vec_i64(const ms_fb_vec *v, uint32_t i);
float ms_fb_vec_f32(const ms_fb_vec *v, uint32_t i);
/* The bytes of a vector of ubyte, for bulk copies. */
const uint8_t *ms_fb_vec_bytes(const ms_fb_vec *v);

/* Element i of a vector of tables. */
ms_status ms_fb_vec_table(const ms_fb_vec *v, uint32_t i, ms_fb_table *out, ms_error *err);

#endif
