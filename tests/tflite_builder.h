/* A minimal FlatBuffers writer for TFLite models, byte by byte: the tests of the TFLite
 * importer (tests/formats/test_tflite_synthetic.c) build their models with it, and
 * fuzz/seed_tflite.c writes the TFLite fuzz target's few-kilobyte seeds with it (so
 * the fuzzer does not start from megabyte models). For tests and seed makers only: the
 * library reads TFLite, it never writes it. Header-only; TFLB_CHECK (default: print and
 * abort) reports a model too large for the fixed buffer. */
#ifndef MS_TESTS_TFLITE_BUILDER_H
#define MS_TESTS_TFLITE_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TFLB_CHECK
#define TFLB_CHECK(c)                                             \
    do {                                                          \
        if (!(c)) {                                               \
            fprintf(stderr, "tflite_builder: %s failed\n", #c);   \
            abort();                                              \
        }                                                         \
    } while (0)
#endif

/* --- a minimal flatbuffer builder, filling a fixed array from the end towards the
 * front as FlatBuffers does, so every offset from a parent to a child is positive --- */

enum { CAP = 1 << 14 };

typedef struct {
    uint8_t buf[CAP];
    size_t head; /* the built bytes are buf[head, CAP) */
} fbb;

static inline size_t push(fbb *b, const void *p, size_t n)
{
    TFLB_CHECK(b->head >= n);
    b->head -= n;
    memcpy(b->buf + b->head, p, n);
    return b->head;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline size_t push_len(fbb *b, uint32_t n)
{
    uint8_t l[4];
    put32(l, n);
    return push(b, l, 4);
}

/* A vector of n elements of `size` bytes (already little-endian). */
static inline size_t vec(fbb *b, const void *data, uint32_t n, size_t size)
{
    if (n) push(b, data, n * size);
    return push_len(b, n);
}

static inline size_t vec_i32(fbb *b, const int32_t *v, uint32_t n)
{
    uint8_t tmp[64 * 4];
    for (uint32_t i = 0; i < n; i++) put32(tmp + 4 * i, (uint32_t)v[i]);
    return vec(b, tmp, n, 4);
}

static inline size_t str(fbb *b, const char *s)
{
    push(b, "", 1);
    return vec(b, s, (uint32_t)strlen(s), 1);
}

/* A vector of offsets to already built tables or strings. */
static inline size_t vec_ref(fbb *b, const size_t *refs, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;) {
        uint8_t o[4];
        put32(o, (uint32_t)(refs[i] - (b->head - 4)));
        push(b, o, 4);
    }
    return push_len(b, n);
}

/* One field of a table: a scalar of `size` bytes, or (size 0) an offset to `ref`. */
typedef struct {
    int id;
    int size;
    uint64_t value;
    size_t ref;
} field;

static inline size_t table(fbb *b, const field *f, int n)
{
    size_t inline_size = 4;
    int slots = 0;
    for (int i = 0; i < n; i++) {
        inline_size += f[i].size ? (size_t)f[i].size : 4;
        if (f[i].id + 1 > slots) slots = f[i].id + 1;
    }
    TFLB_CHECK(b->head >= inline_size);
    b->head -= inline_size;
    size_t pos = b->head, at = pos + 4;
    uint16_t offsets[32] = {0};
    for (int i = 0; i < n; i++) {
        offsets[f[i].id] = (uint16_t)(at - pos);
        if (f[i].size == 0) {
            put32(b->buf + at, (uint32_t)(f[i].ref - at));
            at += 4;
        } else {
            for (int k = 0; k < f[i].size; k++) b->buf[at++] = (uint8_t)(f[i].value >> (8 * k));
        }
    }
    uint8_t vt[4 + 2 * 32];
    uint16_t words[2 + 32] = {(uint16_t)(4 + 2 * slots), (uint16_t)inline_size};
    memcpy(words + 2, offsets, (size_t)slots * 2);
    for (int i = 0; i < 2 + slots; i++) {
        vt[2 * i] = (uint8_t)words[i];
        vt[2 * i + 1] = (uint8_t)(words[i] >> 8);
    }
    size_t vtpos = push(b, vt, (size_t)(4 + 2 * slots));
    put32(b->buf + pos, (uint32_t)(pos - vtpos));
    return pos;
}

#define F32(id, v) {id, 4, f32bits(v), 0}
#define I32(id, v) {id, 4, (uint32_t)(int32_t)(v), 0}
#define U8(id, v) {id, 1, (uint8_t)(v), 0}
#define U64(id, v) {id, 8, (uint64_t)(v), 0}
#define REF(id, r) {id, 0, 0, r}

static inline uint64_t f32bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Finishes the buffer: root offset and identifier in front; returns the file bytes. */
static inline size_t finish(fbb *b, size_t root, uint8_t **out)
{
    push(b, "TFL3", 4);
    uint8_t o[4];
    put32(o, (uint32_t)(root - (b->head - 4)));
    push(b, o, 4);
    *out = b->buf + b->head;
    return CAP - b->head;
}

/* --- the model: tensors, buffers, operators --- */

typedef struct {
    const char *name;
    int ndim;
    int32_t shape[4];
    int8_t type;
    const void *data; /* constant bytes, or NULL */
    size_t bytes;
    int nq;
    float scale[4];
    int64_t zp[4];
    int axis;
    bool external; /* data stored after the flatbuffer, found by Buffer.offset */
} tdef;

typedef struct {
    int opcode;
    int n_in;
    int32_t in[4];
    int32_t out;
    uint8_t options_type;
    field options[8];
    int n_options;
} odef;

typedef struct {
    int8_t deprecated;
    int32_t code;
    const char *custom;
} cdef;

/* Builds the model into b; external buffers' data sit at the end of the array (the
 * end of the file) at file offset ext_offset, known from a first pass. */
static inline size_t build(fbb *b, const tdef *t, int nt, const odef *o, int no, const cdef *c, int nc,
                    const int32_t *inputs, int ni, const int32_t *outputs, int nout,
                    uint64_t ext_offset, size_t *ext_pos, uint8_t **file)
{
    b->head = CAP;
    size_t ext_at = CAP;
    for (int i = nt - 1; i >= 0; i--)
        if (t[i].external) ext_at = push(b, t[i].data, t[i].bytes);
    *ext_pos = ext_at;
    size_t buffers[32], tensors[32], ops[32], codes[16];
    int nb = 0;
    buffers[nb++] = table(b, NULL, 0);
    int buffer_of[32];
    for (int i = 0; i < nt; i++) {
        buffer_of[i] = 0;
        if (!t[i].data) continue;
        if (t[i].external) {
            field f[2] = {U64(1, ext_offset), U64(2, t[i].bytes)};
            buffers[nb] = table(b, f, 2);
        } else {
            size_t d = vec(b, t[i].data, (uint32_t)t[i].bytes, 1);
            field f[1] = {REF(0, d)};
            buffers[nb] = table(b, f, 1);
        }
        buffer_of[i] = nb++;
    }
    for (int i = 0; i < nt; i++) {
        field f[8];
        int n = 0;
        f[n++] = (field)REF(0, vec_i32(b, t[i].shape, (uint32_t)t[i].ndim));
        f[n++] = (field)U8(1, t[i].type);
        f[n++] = (field)I32(2, buffer_of[i]);
        f[n++] = (field)REF(3, str(b, t[i].name));
        if (t[i].nq) {
            uint8_t sc[16], zp[32];
            for (int k = 0; k < t[i].nq; k++) {
                put32(sc + 4 * k, (uint32_t)f32bits(t[i].scale[k]));
                put32(zp + 8 * k, (uint32_t)t[i].zp[k]);
                put32(zp + 8 * k + 4, (uint32_t)((uint64_t)t[i].zp[k] >> 32));
            }
            size_t vs = vec(b, sc, (uint32_t)t[i].nq, 4), vz = vec(b, zp, (uint32_t)t[i].nq, 8);
            field q[3] = {REF(2, vs), REF(3, vz), I32(6, t[i].axis)};
            f[n++] = (field)REF(4, table(b, q, 3));
        }
        tensors[i] = table(b, f, n);
    }
    for (int i = 0; i < no; i++) {
        field f[4] = {I32(0, o[i].opcode), REF(1, vec_i32(b, o[i].in, (uint32_t)o[i].n_in)),
                      REF(2, vec_i32(b, &o[i].out, 1)), U8(3, o[i].options_type)};
        size_t opt = table(b, o[i].options, o[i].n_options);
        field all[5];
        memcpy(all, f, sizeof f);
        all[4] = (field)REF(4, opt);
        ops[i] = table(b, all, o[i].options_type ? 5 : 4);
    }
    for (int i = 0; i < nc; i++) {
        field f[4];
        int n = 0;
        f[n++] = (field)U8(0, c[i].deprecated);
        f[n++] = (field)I32(3, c[i].code);
        if (c[i].custom) f[n++] = (field)REF(1, str(b, c[i].custom));
        codes[i] = table(b, f, n);
    }
    field sg[4] = {REF(0, vec_ref(b, tensors, (uint32_t)nt)), REF(1, vec_i32(b, inputs, (uint32_t)ni)),
                   REF(2, vec_i32(b, outputs, (uint32_t)nout)), REF(3, vec_ref(b, ops, (uint32_t)no))};
    size_t subgraph = table(b, sg, 4);
    field m[4] = {I32(0, 3), REF(1, vec_ref(b, codes, (uint32_t)nc)), REF(2, vec_ref(b, &subgraph, 1)),
                  REF(4, vec_ref(b, buffers, (uint32_t)nb))};
    return finish(b, table(b, m, 4), file);
}


/* Builds the file twice, the second time with the external data's file offset known;
 * *file points into b. Returns its size. */
static inline size_t build_file(fbb *b, const tdef *t, int nt, const odef *o, int no, const cdef *c, int nc,
                                const int32_t *inputs, int ni, const int32_t *outputs, int nout, uint8_t **file)
{
    size_t ext_pos;
    build(b, t, nt, o, no, c, nc, inputs, ni, outputs, nout, 2, &ext_pos, file);
    size_t ext_offset = ext_pos - b->head;
    return build(b, t, nt, o, no, c, nc, inputs, ni, outputs, nout, ext_offset, &ext_pos, file);
}

#endif
