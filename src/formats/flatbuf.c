/* Bounds-checked FlatBuffers reading: tables, vtables, scalars, vectors and strings,
 * every offset and length checked against the buffer before it is followed. */
#include "formats/flatbuf.h"

#include <string.h>

static uint16_t rd_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t rd_u64(const uint8_t *p)
{
    return (uint64_t)rd_u32(p) | ((uint64_t)rd_u32(p + 4) << 32);
}

/* Whether [pos, pos + len) lies inside the buffer, without overflow. */
static bool in_bounds(const ms_fb *fb, size_t pos, size_t len)
{
    return pos <= fb->size && len <= fb->size - pos;
}

static ms_status table_at(const ms_fb *fb, size_t pos, int depth, ms_fb_table *t,
                          ms_error *err)
{
    if (depth > MS_FB_MAX_DEPTH)
        return ms_errorf(err, MS_ERR_FORMAT, "table at byte %zu nests deeper than %d", pos,
                         MS_FB_MAX_DEPTH);
    if (!in_bounds(fb, pos, 4))
        return ms_errorf(err, MS_ERR_FORMAT, "table at byte %zu lies outside the %zu-byte buffer",
                         pos, fb->size);
    int64_t vt = (int64_t)pos - (int64_t)(int32_t)rd_u32(fb->buf + pos);
    if (vt < 0 || !in_bounds(fb, (size_t)vt, 4))
        return ms_errorf(err, MS_ERR_FORMAT, "table at byte %zu: vtable offset points outside the buffer",
                         pos);
    uint16_t vt_size = rd_u16(fb->buf + vt);
    uint16_t obj_size = rd_u16(fb->buf + vt + 2);
    if (vt_size < 4 || vt_size % 2 || !in_bounds(fb, (size_t)vt, vt_size))
        return ms_errorf(err, MS_ERR_FORMAT, "table at byte %zu: bad vtable size %u", pos,
                         (unsigned)vt_size);
    if (obj_size < 4 || !in_bounds(fb, pos, obj_size))
        return ms_errorf(err, MS_ERR_FORMAT, "table at byte %zu: table size %u runs past the end",
                         pos, (unsigned)obj_size);
    t->fb = fb;
    t->pos = pos;
    t->vtable = (size_t)vt;
    t->vt_size = vt_size;
    t->obj_size = obj_size;
    t->depth = depth;
    return MS_OK;
}

ms_status ms_fb_root(const ms_fb *fb, const char *file_id, ms_fb_table *root, ms_error *err)
{
    if (fb->size < 8)
        return ms_errorf(err, MS_ERR_FORMAT, "%zu bytes is too short for a flatbuffer", fb->size);
    if (file_id && memcmp(fb->buf + 4, file_id, 4) != 0)
        return ms_errorf(err, MS_ERR_FORMAT, "file identifier is not \"%.4s\"", file_id);
    return table_at(fb, rd_u32(fb->buf), 0, root, err);
}

/* Position of field id's value, checked to hold width bytes inside the table; 0 when
 * the field is absent. */
static ms_status field_pos(const ms_fb_table *t, int id, size_t width, size_t *pos,
                           ms_error *err)
{
    *pos = 0;
    size_t slot = 4 + 2 * (size_t)id;
    if (id < 0 || slot + 2 > t->vt_size) return MS_OK;
    uint16_t off = rd_u16(t->fb->buf + t->vtable + slot);
    if (off == 0) return MS_OK;
    if (off < 4 || (size_t)off + width > t->obj_size)
        return ms_errorf(err, MS_ERR_FORMAT,
                         "table at byte %zu: field %d at offset %u overruns the %u-byte table",
                         t->pos, id, (unsigned)off, (unsigned)t->obj_size);
    *pos = t->pos + off;
    return MS_OK;
}

bool ms_fb_has(const ms_fb_table *t, int id)
{
    size_t slot = 4 + 2 * (size_t)id;
    return id >= 0 && slot + 2 <= t->vt_size && rd_u16(t->fb->buf + t->vtable + slot) != 0;
}

/* Reads a scalar field of width bytes into a little-endian uint64. */
static ms_status scalar(const ms_fb_table *t, int id, size_t width, bool *present, uint64_t *v,
                        ms_error *err)
{
    size_t pos;
    ms_status s = field_pos(t, id, width, &pos, err);
    if (s) return s;
    *present = pos != 0;
    if (!pos) return MS_OK;
    const uint8_t *p = t->fb->buf + pos;
    switch (width) {
    case 1: *v = p[0]; break;
    case 4: *v = rd_u32(p); break;
    default: *v = rd_u64(p); break;
    }
    return MS_OK;
}

ms_status ms_fb_u8(const ms_fb_table *t, int id, uint8_t def, uint8_t *out, ms_error *err)
{
    bool present = false;
    uint64_t v = 0;
    ms_status s = scalar(t, id, 1, &present, &v, err);
    *out = present ? (uint8_t)v : def;
    return s;
}

ms_status ms_fb_i8(const ms_fb_table *t, int id, int8_t def, int8_t *out, ms_error *err)
{
    uint8_t u;
    ms_status s = ms_fb_u8(t, id, (uint8_t)def, &u, err);
    *out = (int8_t)u;
    return s;
}

ms_status ms_fb_u32(const ms_fb_table *t, int id, uint32_t def, uint32_t *out, ms_error *err)
{
    bool present = false;
    uint64_t v = 0;
    ms_status s = scalar(t, id, 4, &present, &v, err);
    *out = present ? (uint32_t)v : def;
    return s;
}

ms_status ms_fb_i32(const ms_fb_table *t, int id, int32_t def, int32_t *out, ms_error *err)
{
    uint32_t u;
    ms_status s = ms_fb_u32(t, id, (uint32_t)def, &u, err);
    *out = (int32_t)u;
    return s;
}

ms_status ms_fb_u64(const ms_fb_table *t, int id, uint64_t def, uint64_t *out, ms_error *err)
{
    bool present = false;
    uint64_t v = 0;
    ms_status s = scalar(t, id, 8, &present, &v, err);
    *out = present ? v : def;
    return s;
}

ms_status ms_fb_f32(const ms_fb_table *t, int id, float def, float *out, ms_error *err)
{
    uint32_t u;
    memcpy(&u, &def, 4);
    ms_status s = ms_fb_u32(t, id, u, &u, err);
    memcpy(out, &u, 4);
    return s;
}

/* Follows the uoffset stored at pos; the target must leave at least `need` bytes. */
static ms_status follow(const ms_fb *fb, size_t pos, size_t need, size_t *target, ms_error *err)
{
    uint32_t off = rd_u32(fb->buf + pos);
    if (off > fb->size - pos || !in_bounds(fb, pos + off, need))
        return ms_errorf(err, MS_ERR_FORMAT, "offset %u at byte %zu points outside the %zu-byte buffer",
                         (unsigned)off, pos, fb->size);
    *target = pos + off;
    return MS_OK;
}

ms_status ms_fb_table_field(const ms_fb_table *t, int id, ms_fb_table *out, bool *present,
                            ms_error *err)
{
    size_t pos, target = 0;
    *present = false;
    ms_status s = field_pos(t, id, 4, &pos, err);
    if (s || !pos) return s;
    if ((s = follow(t->fb, pos, 4, &target, err))) return s;
    if ((s = table_at(t->fb, target, t->depth + 1, out, err))) return s;
    *present = true;
    return MS_OK;
}

/* A vector (or string) whose uoffset is stored at pos. */
static ms_status vec_at(const ms_fb *fb, size_t pos, size_t elem, int depth, ms_fb_vec *out,
                        ms_error *err)
{
    size_t target = 0;
    ms_status s = follow(fb, pos, 4, &target, err);
    if (s) return s;
    uint32_t n = rd_u32(fb->buf + target);
    size_t room = fb->size - target - 4;
    if (elem && n > room / elem)
        return ms_errorf(err, MS_ERR_FORMAT,
                         "vector at byte %zu: %u elements of %zu bytes run past the end of the buffer",
                         target, (unsigned)n, elem);
    out->fb = fb;
    out->pos = target + 4;
    out->n = n;
    out->elem = elem;
    out->depth = depth;
    return MS_OK;
}

ms_status ms_fb_vec_field(const ms_fb_table *t, int id, size_t elem, ms_fb_vec *out,
                          ms_error *err)
{
    size_t pos;
    memset(out, 0, sizeof *out);
    out->fb = t->fb;
    out->elem = elem;
    out->depth = t->depth;
    ms_status s = field_pos(t, id, 4, &pos, err);
    if (s || !pos) return s;
    return vec_at(t->fb, pos, elem, t->depth, out, err);
}

ms_status ms_fb_string_field(const ms_fb_table *t, int id, const char **str, size_t *len,
                             ms_error *err)
{
    ms_fb_vec v;
    *str = NULL;
    *len = 0;
    ms_status s = ms_fb_vec_field(t, id, 1, &v, err);
    if (s || !ms_fb_has(t, id)) return s;
    *str = (const char *)t->fb->buf + v.pos;
    *len = v.n;
    return MS_OK;
}

uint8_t ms_fb_vec_u8(const ms_fb_vec *v, uint32_t i)
{
    return v->fb->buf[v->pos + i];
}

int32_t ms_fb_vec_i32(const ms_fb_vec *v, uint32_t i)
{
    return (int32_t)rd_u32(v->fb->buf + v->pos + (size_t)i * 4);
}

int64_t ms_fb_vec_i64(const ms_fb_vec *v, uint32_t i)
{
    return (int64_t)rd_u64(v->fb->buf + v->pos + (size_t)i * 8);
}

float ms_fb_vec_f32(const ms_fb_vec *v, uint32_t i)
{
    uint32_t u = rd_u32(v->fb->buf + v->pos + (size_t)i * 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

const uint8_t *ms_fb_vec_bytes(const ms_fb_vec *v)
{
    return v->fb->buf + v->pos;
}

ms_status ms_fb_vec_table(const ms_fb_vec *v, uint32_t i, ms_fb_table *out, ms_error *err)
{
    if (i >= v->n || v->elem != 4)
        return ms_errorf(err, MS_ERR_INVALID, "vector element %u of %u is not a table", (unsigned)i,
                         (unsigned)v->n);
    size_t pos = v->pos + (size_t)i * 4, target = 0;
    ms_status s = follow(v->fb, pos, 4, &target, err);
    if (s) return s;
    return table_at(v->fb, target, v->depth + 1, out, err);
}
