/* Malformed and hostile ONNX files are refused with a message naming the file (and the
 * node or tensor), never crash and never leak: every truncation of real models from
 * libonnx-testdata, seeded byte corruptions, and hand-built files with huge dimensions,
 * unknown ops and attributes, external data, deep nesting, wrong sizes. Models are built
 * here with a small protobuf encoder (field numbers of onnx.proto). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "formats/npy.h"
#include "formats/onnx.h"
#include "testutil.h"

/* ---- a protobuf encoder ---- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} pb;

static void put(pb *p, const void *d, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
        assert_non_null(p->b);
    }
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void varint(pb *p, uint64_t v)
{
    uint8_t buf[10];
    int k = 0;
    do {
        buf[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(p, buf, (size_t)k);
}

static void f_varint(pb *p, int field, uint64_t v)
{
    varint(p, (uint64_t)field << 3);
    varint(p, v);
}

static void f_bytes(pb *p, int field, const void *d, size_t n)
{
    varint(p, (uint64_t)field << 3 | 2);
    varint(p, n);
    put(p, d, n);
}

static void f_str(pb *p, int field, const char *s) { f_bytes(p, field, s, strlen(s)); }

static void f_msg(pb *p, int field, pb *m)
{
    f_bytes(p, field, m->b, m->n);
    free(m->b);
    *m = (pb){0};
}

/* ValueInfoProto: a float tensor of the given dims. */
static void value_info(pb *out, int field, const char *name, int nd, const uint64_t *dims)
{
    pb shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int d = 0; d < nd; d++) {
        pb dim = {0};
        f_varint(&dim, 1, dims[d]);
        f_msg(&shape, 1, &dim);
    }
    f_varint(&tensor, 1, 1);
    f_msg(&tensor, 2, &shape);
    f_msg(&type, 1, &tensor);
    f_str(&vi, 1, name);
    f_msg(&vi, 2, &type);
    f_msg(out, field, &vi);
}

static void node(pb *graph, const char *op, const char *in, const char *in2, const char *out, pb *attrs)
{
    pb n = {0};
    f_str(&n, 1, in);
    if (in2) f_str(&n, 1, in2);
    f_str(&n, 2, out);
    f_str(&n, 3, "n0");
    f_str(&n, 4, op);
    if (attrs && attrs->n) put(&n, attrs->b, attrs->n);
    if (attrs) {
        free(attrs->b);
        *attrs = (pb){0};
    }
    f_msg(graph, 1, &n);
}

/* A model around graph (consumed) with the given opset. */
static pb model(pb *graph, int opset)
{
    pb m = {0}, op = {0};
    f_varint(&m, 1, 8);
    f_msg(&m, 7, graph);
    f_varint(&op, 2, (uint64_t)opset);
    f_msg(&m, 8, &op);
    return m;
}

/* x [1, 4] -> op -> y [1, 4] */
static pb unary_model(const char *op, pb *attrs, int opset)
{
    pb g = {0};
    uint64_t dims[2] = {1, 4};
    node(&g, op, "x", NULL, "y", attrs);
    value_info(&g, 11, "x", 2, dims);
    value_info(&g, 12, "y", 2, dims);
    return model(&g, opset);
}

static ms_status import(const pb *m, ms_error *err)
{
    ms_graph *g = NULL;
    ms_status s = ms_onnx_import(m->b, m->n, "hostile.onnx", NULL, &g, err);
    ms_graph_free(g);
    if (s) assert_non_null(strstr(err->msg, "hostile.onnx"));
    return s;
}

static void expect_refusal(pb *m, ms_status code, const char *words)
{
    ms_error err = {0};
    ms_status s = import(m, &err);
    if (s != code || !strstr(err.msg, words))
        fail_msg("expected status %d with '%s', got %d: %s", code, words, s, err.msg);
    free(m->b);
}

static void test_valid_and_unknown(void **state)
{
    (void)state;
    pb m = unary_model("Relu", NULL, 13);
    ms_error err = {0};
    assert_int_equal(import(&m, &err), MS_OK); /* the encoder makes real models */
    free(m.b);
    m = unary_model("Foo", NULL, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "node 0 'n0' (Foo): this operator is not supported");
    m = unary_model("ConvTranspose", NULL, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "ConvTranspose is not supported");
    pb attr = {0}, a = {0};
    f_str(&a, 1, "foo");
    f_varint(&a, 20, 2);
    f_varint(&a, 3, 1);
    f_msg(&attr, 5, &a);
    m = unary_model("Relu", &attr, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "attribute 'foo' is not supported");
    m = unary_model("Relu", NULL, 5);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "operator set version 5");
    m = unary_model("Relu", NULL, 18);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "operator set version 18");
    /* a node reading a value nothing makes */
    pb g = {0};
    uint64_t dims[2] = {1, 4};
    node(&g, "Relu", "nowhere", NULL, "y", NULL);
    value_info(&g, 11, "x", 2, dims);
    value_info(&g, 12, "y", 2, dims);
    m = model(&g, 13);
    expect_refusal(&m, MS_ERR_FORMAT, "computed by no earlier node");
}

static void test_sizes(void **state)
{
    (void)state;
    /* a graph input of 2^40 elements */
    pb g = {0};
    uint64_t huge[2] = {1, (uint64_t)1 << 40}, dims[2] = {1, 4};
    node(&g, "Relu", "x", NULL, "y", NULL);
    value_info(&g, 11, "x", 2, huge);
    value_info(&g, 12, "y", 2, dims);
    pb m = model(&g, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "graph input 'x': dimension 1");
    /* an initializer claiming 2^40 elements, with none */
    g = (pb){0};
    pb t = {0};
    f_varint(&t, 1, (uint64_t)1 << 20);
    f_varint(&t, 1, (uint64_t)1 << 20);
    f_varint(&t, 2, 1);
    f_str(&t, 8, "w");
    f_msg(&g, 5, &t);
    node(&g, "Add", "x", "w", "y", NULL);
    value_info(&g, 11, "x", 2, dims);
    value_info(&g, 12, "y", 2, dims);
    m = model(&g, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "initializer 'w' has more than");
    /* ConstantOfShape asking for 2^27 elements from a few bytes */
    g = (pb){0};
    f_varint(&t, 1, 4);
    f_varint(&t, 2, 7);
    int64_t big[4] = {1, 1 << 9, 1 << 9, 1 << 9};
    f_bytes(&t, 9, big, sizeof big);
    f_str(&t, 8, "shape");
    f_msg(&g, 5, &t);
    pb cn = {0};
    f_str(&cn, 1, "shape");
    f_str(&cn, 2, "z");
    f_str(&cn, 3, "n0");
    f_str(&cn, 4, "ConstantOfShape");
    f_msg(&g, 1, &cn);
    node(&g, "Relu", "x", NULL, "y", NULL);
    value_info(&g, 11, "x", 2, dims);
    value_info(&g, 12, "y", 2, dims);
    m = model(&g, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "more than 16777216 elements");
    /* float_data shorter than the shape */
    g = (pb){0};
    f_varint(&t, 1, 1);
    f_varint(&t, 1, 4);
    f_varint(&t, 2, 1);
    float three[3] = {1, 2, 3};
    f_bytes(&t, 4, three, sizeof three);
    f_str(&t, 8, "w");
    f_msg(&g, 5, &t);
    node(&g, "Add", "x", "w", "y", NULL);
    value_info(&g, 11, "x", 2, dims);
    value_info(&g, 12, "y", 2, dims);
    m = model(&g, 13);
    expect_refusal(&m, MS_ERR_FORMAT, "float_data holds 3 values");
    /* weights kept in another file */
    g = (pb){0};
    pb e = {0};
    f_varint(&t, 1, 1);
    f_varint(&t, 1, 4);
    f_varint(&t, 2, 1);
    f_str(&t, 8, "w");
    f_str(&e, 1, "location");
    f_str(&e, 2, "weights.bin");
    f_msg(&t, 13, &e);
    f_varint(&t, 14, 1);
    f_msg(&g, 5, &t);
    node(&g, "Add", "x", "w", "y", NULL);
    value_info(&g, 11, "x", 2, dims);
    value_info(&g, 12, "y", 2, dims);
    m = model(&g, 13);
    expect_refusal(&m, MS_ERR_UNSUPPORTED, "external data");
}

/* metadata_props: mean, std, range, channel_order become the input spec. */
static void add_meta(pb *m, const char *k, const char *v)
{
    pb e = {0};
    f_str(&e, 1, k);
    f_str(&e, 2, v);
    f_msg(m, 14, &e);
}

static void test_metadata(void **state)
{
    (void)state;
    pb g = {0};
    uint64_t dims[4] = {1, 3, 2, 2};
    node(&g, "Relu", "x", NULL, "y", NULL);
    value_info(&g, 11, "x", 4, dims);
    value_info(&g, 12, "y", 4, dims);
    pb m = model(&g, 13);
    add_meta(&m, "mean", "0.485,0.456,0.406");
    add_meta(&m, "std", "0.229,0.224,0.225");
    add_meta(&m, "range", "1");
    add_meta(&m, "channel_order", "BGR");
    ms_graph *gr = NULL;
    ms_error err = {0};
    assert_int_equal(ms_onnx_import(m.b, m.n, "meta.onnx", NULL, &gr, &err), MS_OK);
    const ms_input_spec *sp = &gr->input_spec;
    assert_true(sp->per_channel && sp->bgr);
    assert_int_equal(sp->height, 2);
    assert_int_equal(sp->channels, 3);
    assert_float_equal(sp->chan_mean[0], 0.485f * 255, 1e-3);
    assert_float_equal(sp->chan_scale[2], 1.0f / (255 * 0.225f), 1e-7);
    assert_non_null(strstr(sp->origin, "metadata_props"));
    ms_graph_free(gr);
    free(m.b);
    g = (pb){0};
    node(&g, "Relu", "x", NULL, "y", NULL);
    value_info(&g, 11, "x", 4, dims);
    value_info(&g, 12, "y", 4, dims);
    m = model(&g, 13);
    add_meta(&m, "std", "0.2,0,0.2");
    expect_refusal(&m, MS_ERR_FORMAT, "metadata 'std' is '0.2,0,0.2'");
}

/* Graphs nested in attributes 200 deep: refused before protobuf-c recurses. */
static void test_nesting(void **state)
{
    (void)state;
    pb inner = {0};
    for (int k = 0; k < 200; k++) {
        pb a = {0}, n = {0}, g = {0};
        f_str(&a, 1, "body");
        f_varint(&a, 20, 5);
        if (inner.n) f_msg(&a, 6, &inner);
        f_str(&n, 4, "If");
        f_msg(&n, 5, &a);
        f_msg(&g, 1, &n);
        inner = g;
    }
    pb m = model(&inner, 13);
    expect_refusal(&m, MS_ERR_FORMAT, "nest too deeply");
}

/* Every prefix of real models, and seeded corruptions of them. */
static void test_truncated_and_corrupted(void **state)
{
    (void)state;
    static const char *const cases[] = {"test_maxpool_2d_pads", "test_averagepool_2d_ceil",
                                        "test_clip_default_inbounds", "test_flatten_axis1"};
    char path[512];
    snprintf(path, sizeof path, "/usr/share/libonnx-testdata/data/node/%s/model.onnx", cases[0]);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        print_message("skipped: %s not found (libonnx-testdata)\n", path);
        skip();
    }
    fclose(probe);
    uint64_t rng = 12345;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        snprintf(path, sizeof path, "/usr/share/libonnx-testdata/data/node/%s/model.onnx", cases[c]);
        unsigned char *data;
        size_t size;
        ms_error err = {0};
        assert_int_equal(ms_read_file(path, 1 << 20, &data, &size, &err), MS_OK);
        ms_graph *g = NULL;
        assert_int_equal(ms_onnx_import(data, size, "hostile.onnx", NULL, &g, &err), MS_OK);
        ms_graph_free(g);
        int refused = 0;
        for (size_t len = 0; len < size; len++) {
            pb m = {.b = data, .n = len};
            ms_status s = import(&m, &err);
            refused += s != MS_OK;
        }
        assert_true(refused >= (int)size * 9 / 10); /* nearly every cut breaks the file */
        unsigned char *copy = malloc(size);
        for (int k = 0; k < 300; k++) {
            memcpy(copy, data, size);
            for (int f = 0; f < 3; f++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                copy[(rng >> 33) % size] ^= (unsigned char)(1u << ((rng >> 20) & 7));
            }
            pb m = {.b = copy, .n = size};
            (void)import(&m, &err); /* either outcome; no crash, no leak, a message on refusal */
        }
        free(copy);
        free(data);
    }
}

static void test_npy(void **state)
{
    (void)state;
    ms_npy a = {0}, b;
    ms_error err = {0};
    float v[6] = {1, 2, 3, 4, 5, -6};
    a.ndim = 2;
    a.shape[0] = 2;
    a.shape[1] = 3;
    a.numel = 6;
    a.data = v;
    char *dir = ms_test_tmpdir(), path[1024];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    assert_int_equal(ms_npy_write(path, &a, &err), MS_OK);
    assert_int_equal(ms_npy_read(path, &b, &err), MS_OK);
    assert_int_equal(b.ndim, 2);
    assert_int_equal(b.shape[1], 3);
    assert_memory_equal(b.data, v, sizeof v);
    ms_npy_free(&b);
    unsigned char *bytes;
    size_t size;
    assert_int_equal(ms_read_file(path, 1 << 20, &bytes, &size, &err), MS_OK);
    assert_int_equal((size - 24) % 64, 0); /* header padded to 64 bytes */
    for (size_t len = 0; len < size; len++) {
        assert_int_not_equal(ms_npy_parse(bytes, len, "t.npy", &b, &err), MS_OK);
        assert_non_null(strstr(err.msg, "t.npy"));
    }
    static const char *const bad[] = {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
                                      "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                                      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999), }",
                                      "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                                      "{'descr': '<f4', 'shape': (2, 3), }",
                                      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"};
    static const char *const why[] = {"'<i4' is not supported", "Fortran", "more than", "scalars", "lacks", "unknown header key"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        unsigned char buf[256] = "\x93NUMPY\x01\x00";
        size_t hl = strlen(bad[k]);
        buf[8] = (unsigned char)hl;
        buf[9] = 0;
        memcpy(buf + 10, bad[k], hl);
        memset(buf + 10 + hl, 0, 24);
        ms_status s = ms_npy_parse(buf, 10 + hl + 24, "t.npy", &b, &err);
        if (s == MS_OK || !strstr(err.msg, why[k])) fail_msg("case %zu: %s", k, err.msg);
    }
    /* A header that ends inside a dimension, at the end of the buffer (found by fuzz_npy:
     * the number was read past the header). */
    static const char cut[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (12";
    unsigned char *tight = malloc(10 + sizeof cut - 1);
    assert_non_null(tight);
    memcpy(tight, "\x93NUMPY\x01\x00", 8);
    tight[8] = (unsigned char)(sizeof cut - 1);
    tight[9] = 0;
    memcpy(tight + 10, cut, sizeof cut - 1);
    assert_int_not_equal(ms_npy_parse(tight, 10 + sizeof cut - 1, "t.npy", &b, &err), MS_OK);
    assert_non_null(strstr(err.msg, "'shape'"));
    free(tight);
    free(bytes);
    ms_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_unknown), cmocka_unit_test(test_sizes), cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_truncated_and_corrupted), cmocka_unit_test(test_npy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
