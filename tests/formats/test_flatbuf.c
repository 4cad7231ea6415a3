/* Tests of the flatbuffer reader on small buffers assembled by hand: scalars and their
 * defaults, vectors, strings, nested tables, unaligned tables, and the checks on
 * vtables, offsets, lengths and nesting depth. */
#include "testutil.h"

#include <string.h>

#include "formats/flatbuf.h"

static void put16(uint8_t *b, size_t at, uint16_t v)
{
    b[at] = (uint8_t)v;
    b[at + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(v >> (8 * i));
}

/* A root table at `t` (deliberately odd, so every read is unaligned) with:
 *   field 0: int32 -7      field 1: absent      field 2: uint8 200
 *   field 3: vector of 3 int32 {1, -2, 3}       field 4: string "abc"
 *   field 5: sub-table whose field 0 is float 1.5
 * Returns the buffer size. */
static size_t build(uint8_t *b, size_t t)
{
    memset(b, 0, 256);
    put32(b, 0, (uint32_t)t);
    memcpy(b + 4, "TEST", 4);
    size_t vt = 9; /* root vtable: 6 fields */
    put16(b, vt, 4 + 2 * 6);
    put16(b, vt + 2, 24);
    put16(b, vt + 4, 4);  /* field 0 at t+4 */
    put16(b, vt + 6, 0);  /* field 1 absent */
    put16(b, vt + 8, 8);  /* field 2 at t+8 */
    put16(b, vt + 10, 12); /* field 3 at t+12 */
    put16(b, vt + 12, 16); /* field 4 at t+16 */
    put16(b, vt + 14, 20); /* field 5 at t+20 */
    put32(b, t, (uint32_t)(t - vt));
    put32(b, t + 4, (uint32_t)-7);
    b[t + 8] = 200;
    size_t vec = t + 31, str = vec + 16, sub = str + 9, subvt = sub + 8;
    put32(b, t + 12, (uint32_t)(vec - (t + 12)));
    put32(b, vec, 3);
    put32(b, vec + 4, 1);
    put32(b, vec + 8, (uint32_t)-2);
    put32(b, vec + 12, 3);
    put32(b, t + 16, (uint32_t)(str - (t + 16)));
    put32(b, str, 3);
    memcpy(b + str + 4, "abc", 4);
    put32(b, t + 20, (uint32_t)(sub - (t + 20)));
    /* the sub-table's vtable comes after it: a negative soffset */
    put32(b, sub, (uint32_t)(int32_t)(sub - subvt));
    float f = 1.5f;
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(b, sub + 4, u);
    put16(b, subvt, 6);
    put16(b, subvt + 2, 8);
    put16(b, subvt + 4, 4);
    return subvt + 6;
}

static void test_reads_fields(void **state)
{
    (void)state;
    uint8_t b[256];
    ms_fb fb = {b, build(b, 33)};
    ms_fb_table root, sub;
    ms_error err;
    assert_int_equal(ms_fb_root(&fb, "TEST", &root, &err), MS_OK);
    int32_t i32;
    uint8_t u8;
    uint32_t u32;
    assert_int_equal(ms_fb_i32(&root, 0, 5, &i32, &err), MS_OK);
    assert_int_equal(i32, -7);
    assert_int_equal(ms_fb_u32(&root, 1, 42, &u32, &err), MS_OK);
    assert_int_equal(u32, 42);
    assert_false(ms_fb_has(&root, 1));
    assert_int_equal(ms_fb_u8(&root, 2, 0, &u8, &err), MS_OK);
    assert_int_equal(u8, 200);
    /* a field id past the vtable is absent, not an error */
    assert_int_equal(ms_fb_i32(&root, 40, 9, &i32, &err), MS_OK);
    assert_int_equal(i32, 9);

    ms_fb_vec v;
    assert_int_equal(ms_fb_vec_field(&root, 3, 4, &v, &err), MS_OK);
    assert_int_equal(v.n, 3);
    assert_int_equal(ms_fb_vec_i32(&v, 1), -2);
    assert_int_equal(ms_fb_vec_i32(&v, 2), 3);
    assert_int_equal(ms_fb_vec_field(&root, 1, 4, &v, &err), MS_OK);
    assert_int_equal(v.n, 0);

    const char *s;
    size_t len;
    assert_int_equal(ms_fb_string_field(&root, 4, &s, &len, &err), MS_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "abc", 3);

    bool present;
    float f;
    assert_int_equal(ms_fb_table_field(&root, 5, &sub, &present, &err), MS_OK);
    assert_true(present);
    assert_int_equal(sub.depth, 1);
    assert_int_equal(ms_fb_f32(&sub, 0, 0.0f, &f, &err), MS_OK);
    assert_float_equal(f, 1.5f, 0);
    assert_int_equal(ms_fb_table_field(&root, 1, &sub, &present, &err), MS_OK);
    assert_false(present);
}

static void test_rejects_bad_structure(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t n = build(b, 33);
    ms_fb fb = {b, n};
    ms_fb_table root;
    ms_error err;
    assert_int_equal(ms_fb_root(&fb, "TFL3", &root, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "identifier"));
    fb.size = 7;
    assert_int_equal(ms_fb_root(&fb, NULL, &root, &err), MS_ERR_FORMAT);
    fb.size = n;

    /* vector length beyond the buffer, checked without overflow */
    size_t vec = 33 + 31;
    put32(b, vec, 0x3fffffff);
    assert_int_equal(ms_fb_root(&fb, "TEST", &root, &err), MS_OK);
    ms_fb_vec v;
    assert_int_equal(ms_fb_vec_field(&root, 3, 4, &v, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "run past the end"));
    /* a 4-element vector would overlap the string but still lie inside: accepted */
    put32(b, vec, 4);
    assert_int_equal(ms_fb_vec_field(&root, 3, 4, &v, &err), MS_OK);
    put32(b, vec, 3);

    /* string offset pointing past the end */
    put32(b, 33 + 16, 0x7ffffff0);
    const char *s;
    size_t len;
    assert_int_equal(ms_fb_string_field(&root, 4, &s, &len, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "outside"));

    /* a field placed beyond the table's declared size */
    n = build(b, 33);
    put16(b, 9 + 4, 22); /* field 0 at t+22 with 4 bytes: past the 24-byte table */
    assert_int_equal(ms_fb_root(&fb, "TEST", &root, &err), MS_OK);
    int32_t i32;
    assert_int_equal(ms_fb_i32(&root, 0, 0, &i32, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "overruns"));

    /* odd vtable size, vtable outside, table size past the end */
    n = build(b, 33);
    put16(b, 9, 7);
    assert_int_equal(ms_fb_root(&fb, "TEST", &root, &err), MS_ERR_FORMAT);
    n = build(b, 33);
    put32(b, 33, 0x80000000u);
    assert_int_equal(ms_fb_root(&fb, "TEST", &root, &err), MS_ERR_FORMAT);
    n = build(b, 33);
    put16(b, 9 + 2, 0xffff);
    assert_int_equal(ms_fb_root(&fb, "TEST", &root, &err), MS_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "runs past the end"));
    (void)n;
}

/* A chain of tables, each one's field 0 pointing at the next: the reader refuses to
 * follow it deeper than MS_FB_MAX_DEPTH. */
static void test_depth_limit(void **state)
{
    (void)state;
    enum { N = MS_FB_MAX_DEPTH + 4 };
    uint8_t b[16 + 8 * N];
    memset(b, 0, sizeof b);
    put32(b, 0, 16);
    put16(b, 8, 6); /* shared vtable: one field at offset 4 */
    put16(b, 10, 8);
    put16(b, 12, 4);
    for (int i = 0; i < N; i++) {
        size_t t = 16 + 8 * (size_t)i;
        put32(b, t, (uint32_t)(t - 8));
        put32(b, t + 4, i + 1 < N ? 4 : 0xfffffff0u);
    }
    ms_fb fb = {b, sizeof b};
    ms_fb_table t, next;
    ms_error err;
    bool present;
    assert_int_equal(ms_fb_root(&fb, NULL, &t, &err), MS_OK);
    int depth = 0;
    ms_status s;
    while (!(s = ms_fb_table_field(&t, 0, &next, &present, &err)) && present) {
        t = next;
        depth++;
    }
    assert_int_equal(s, MS_ERR_FORMAT);
    assert_int_equal(depth, MS_FB_MAX_DEPTH);
    assert_non_null(strstr(err.msg, "nests deeper"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_fields),
        cmocka_unit_test(test_rejects_bad_structure),
        cmocka_unit_test(test_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
