/* Robustness of the TFLite importer on damaged files: empty and foreign files,
 * truncation at many lengths, random byte corruption (fixed seed), oversized vector
 * lengths, offsets and indices pointing outside, and graphs that are well-formed
 * flatbuffers but wrong models. Every case must end in a clear error naming the file
 * or in a graph that holds together; ASan and UBSan (the Debug build) check that
 * nothing reads outside a buffer or leaks. Each import gets a buffer of exactly the
 * file's size, so an overread cannot hide in slack. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "formats/flatbuf.h"
#include "formats/tflite.h"

#define SMALL "models/mobilenet_v1_0.25_128_quant.tflite"
#define NAME "corrupt.tflite"

static uint8_t *model;
static size_t model_size;

static int setup(void **state)
{
    (void)state;
    if (!ms_test_data_exists(SMALL)) return 0;
    ms_error err;
    return ms_read_file(ms_test_data(SMALL), (size_t)1 << 30, &model, &model_size, &err) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    free(model);
    return 0;
}

/* A graph that imported must hang together: ids in range, constants readable to the
 * end of their shape, nodes in topological order. */
static void check_graph(const ms_graph *g)
{
    char *ready = calloc((size_t)g->n_tensors + 1, 1);
    assert_true(g->n_inputs >= 1 && g->n_outputs >= 1);
    for (int i = 0; i < g->n_inputs; i++) {
        assert_in_range(g->inputs[i], 0, g->n_tensors - 1);
        ready[g->inputs[i]] = 1;
    }
    /* reading each constant's last value proves (under ASan) that its allocation
     * covers its shape */
    for (int i = 0; i < g->n_tensors; i++) {
        const ms_tensor *t = &g->tensors[i];
        volatile float last = t->data && ms_tensor_numel(t) ? t->data[ms_tensor_numel(t) - 1] : 0;
        (void)last;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            assert_in_range(n->inputs[k], 0, g->n_tensors - 1);
            assert_true(ready[n->inputs[k]] || g->tensors[n->inputs[k]].data);
        }
        assert_in_range(n->output, 0, g->n_tensors - 1);
        assert_false(ready[n->output]);
        ready[n->output] = 1;
    }
    for (int i = 0; i < g->n_outputs; i++) assert_true(ready[g->outputs[i]]);
    free(ready);
}

/* Imports a private copy of buf[0, n); returns the status after checking the outcome. */
static ms_status import_copy(const uint8_t *buf, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n) memcpy(copy, buf, n);
    ms_graph *g = (ms_graph *)&copy;
    ms_error err;
    ms_error_clear(&err);
    ms_status s = ms_tflite_import(copy, n, NAME, &g, &err);
    free(copy);
    if (s == MS_OK) {
        assert_non_null(g);
        check_graph(g);
        ms_graph_free(g);
    } else {
        assert_null(g);
        assert_int_equal(err.status, s);
        if (strncmp(err.msg, NAME ": ", strlen(NAME) + 2) != 0 || strlen(err.msg) < strlen(NAME) + 10)
            fail_msg("unclear message for status %d: \"%s\"", s, err.msg);
    }
    return s;
}

static ms_status import_expect_error(const uint8_t *buf, size_t n, const char *needle)
{
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, buf, n);
    ms_graph *g;
    ms_error err;
    ms_status s = ms_tflite_import(copy, n, NAME, &g, &err);
    free(copy);
    if (s == MS_OK) {
        ms_graph_free(g);
        fail_msg("imported, expected an error with \"%s\"", needle);
    }
    if (!strstr(err.msg, needle)) fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
    return s;
}

static void test_empty_and_foreign_files(void **state)
{
    (void)state;
    assert_int_equal(import_copy((const uint8_t *)"", 0), MS_ERR_FORMAT);
    import_expect_error((const uint8_t *)"TFL3", 4, "too short");
    const char *text = "background\ntench\ngoldfish\ngreat white shark\n";
    import_expect_error((const uint8_t *)text, strlen(text), "not a TFLite model");
    /* a flatbuffer with another identifier */
    if (!model) skip();
    uint8_t *other = malloc(model_size);
    memcpy(other, model, model_size);
    memcpy(other + 4, "ONNX", 4);
    import_expect_error(other, model_size, "file identifier");
    free(other);
}

static void test_truncated(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    /* the subgraph's tables start 44 714 bytes before the end: a file cut before
     * them always fails */
    size_t tables = model_size - 44714;
    for (size_t n = 0; n < 600; n += 3) assert_int_not_equal(import_copy(model, n), MS_OK);
    for (int i = 0; i < 200; i++)
        assert_int_not_equal(import_copy(model, 600 + (tables - 600) / 200 * (size_t)i), MS_OK);
    /* cut densely through the tables, up to the zip of the labels appended after
     * them (its last 21 822 bytes, which the importer does not read) */
    size_t zip = model_size - 21822;
    int errors = 0, cuts = 0;
    for (size_t n = tables; n < zip; n += 223, cuts++) errors += import_copy(model, n) != MS_OK;
    print_message("%d of %d cuts through the tables were refused\n", errors, cuts);
    assert_int_equal(errors, cuts);
    assert_int_equal(import_copy(model, zip), MS_OK);
    assert_int_equal(import_copy(model, model_size), MS_OK);
}

/* xorshift32: a fixed, portable sequence */
static uint32_t next_random(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_random_corruption(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    uint8_t *buf = malloc(model_size);
    memcpy(buf, model, model_size);
    uint32_t seed = 20261126;
    int errors = 0;
    const int variants = 300;
    for (int v = 0; v < variants; v++) {
        size_t pos[4];
        int n = 1 + (int)(next_random(&seed) % 4);
        for (int k = 0; k < n; k++) {
            /* mostly the table areas (the first 600 and last 45 000 bytes), where a
             * flipped byte changes structure, sometimes the weights */
            uint32_t r = next_random(&seed), where = next_random(&seed) % 10;
            if (where < 3) pos[k] = r % 600;
            else if (where < 9) pos[k] = model_size - 1 - r % 45000;
            else pos[k] = r % model_size;
            buf[pos[k]] = (uint8_t)next_random(&seed);
        }
        errors += import_copy(buf, model_size) != MS_OK;
        for (int k = n - 1; k >= 0; k--) buf[pos[k]] = model[pos[k]];
    }
    print_message("%d of %d corrupted variants were refused\n", errors, variants);
    /* both outcomes must occur, or the test is not exercising the checks */
    assert_true(errors > variants / 10 && errors < variants);
    free(buf);
}

/* --- targeted damage: positions found through the reader's public structs --- */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Byte position of field id's value in table t. */
static size_t field_at(const ms_fb_table *t, int id)
{
    const uint8_t *vt = t->fb->buf + t->vtable + 4 + 2 * id;
    size_t off = (size_t)(vt[0] | vt[1] << 8);
    assert_true(off != 0);
    return t->pos + off;
}

typedef struct {
    ms_fb fb;
    ms_fb_table root, subgraph, tensor0, op0, op1, buffer1;
    ms_fb_vec opcodes, subgraphs, tensors, operators, buffers, op0_inputs, op0_outputs,
        op1_outputs;
} layout;

static void find_layout(layout *l)
{
    l->fb.buf = model;
    l->fb.size = model_size;
    ms_error err;
    assert_int_equal(ms_fb_root(&l->fb, "TFL3", &l->root, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->root, 1, 4, &l->opcodes, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->root, 2, 4, &l->subgraphs, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->root, 4, 4, &l->buffers, &err), MS_OK);
    assert_int_equal(ms_fb_vec_table(&l->subgraphs, 0, &l->subgraph, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->subgraph, 0, 4, &l->tensors, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->subgraph, 3, 4, &l->operators, &err), MS_OK);
    assert_int_equal(ms_fb_vec_table(&l->tensors, 0, &l->tensor0, &err), MS_OK);
    assert_int_equal(ms_fb_vec_table(&l->operators, 0, &l->op0, &err), MS_OK);
    assert_int_equal(ms_fb_vec_table(&l->operators, 1, &l->op1, &err), MS_OK);
    assert_int_equal(ms_fb_vec_table(&l->buffers, 1, &l->buffer1, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->op0, 1, 4, &l->op0_inputs, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->op0, 2, 4, &l->op0_outputs, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&l->op1, 2, 4, &l->op1_outputs, &err), MS_OK);
}

/* Writes v at pos in a copy of the model and expects an error mentioning needle. */
static void damage32(size_t pos, uint32_t v, const char *needle)
{
    uint8_t saved[4];
    memcpy(saved, model + pos, 4);
    wr32(model + pos, v);
    print_message("bytes %zu..%zu = 0x%08x\n", pos, pos + 3, (unsigned)v);
    import_expect_error(model, model_size, needle);
    memcpy(model + pos, saved, 4);
}

static void test_oversized_vector_lengths(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    layout l;
    find_layout(&l);
    size_t lengths[] = {l.tensors.pos - 4, l.operators.pos - 4, l.opcodes.pos - 4,
                        l.buffers.pos - 4, l.op0_inputs.pos - 4};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        damage32(lengths[i], 0xffffffffu, "run past the end");
        damage32(lengths[i], 0x40000000u, "run past the end");
    }
    /* the largest constant (the logits' weights) one byte longer than its shape:
     * still inside the file */
    ms_fb_vec data, largest = {0};
    ms_error err;
    ms_fb_table b;
    for (uint32_t i = 1; i < l.buffers.n; i++) {
        assert_int_equal(ms_fb_vec_table(&l.buffers, i, &b, &err), MS_OK);
        assert_int_equal(ms_fb_vec_field(&b, 0, 1, &data, &err), MS_OK);
        if (data.n > largest.n) largest = data;
    }
    assert_int_equal(largest.n, 1001 * 256);
    damage32(largest.pos - 4, largest.n + 1, "the shape needs");
    /* the file's name and a tensor shape with a negative dimension */
    ms_fb_vec shape;
    assert_int_equal(ms_fb_vec_field(&l.tensor0, 0, 4, &shape, &err), MS_OK);
    damage32(shape.pos + 4, 0xfffffff0u, "dimension 1 is -16");
    damage32(shape.pos - 4, 5, "5 dimensions");
}

static void test_offsets_outside(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    layout l;
    find_layout(&l);
    damage32(0, (uint32_t)model_size + 100, "outside");
    damage32(0, (uint32_t)model_size - 2, "outside");
    /* the subgraph table's vtable offset, and the tensors vector's offset */
    damage32(l.subgraph.pos, 0x7fffffffu, "vtable offset points outside");
    damage32(l.subgraph.pos, 0x80000001u, "vtable offset points outside");
    damage32(field_at(&l.subgraph, 0), 0xfffffff0u, "points outside");
    /* an operator's input and opcode index; a tensor's buffer index */
    damage32(l.op0_inputs.pos, 5000, "tensor index 5000 is out of range");
    damage32(field_at(&l.op1, 0), 99, "opcode index 99 is out of range");
    damage32(field_at(&l.tensor0, 2), 9999, "buffer 9999 is out of range");
    /* a vtable claiming a field beyond the end of its table */
    uint8_t *buf = malloc(model_size);
    memcpy(buf, model, model_size);
    size_t slot = l.op0.vtable + 4 + 2 * 1;
    buf[slot] = 0xf0;
    buf[slot + 1] = 0x7f;
    import_expect_error(buf, model_size, "overruns");
    free(buf);
}

static void test_wrong_graphs(void **state)
{
    (void)state;
    MS_REQUIRE_DATA(SMALL);
    layout l;
    find_layout(&l);
    /* operator 1 writes operator 0's output; operator 0 reads operator 1's output */
    damage32(l.op1_outputs.pos, rd32(model + l.op0_outputs.pos), "computed twice");
    damage32(l.op0_inputs.pos, rd32(model + l.op1_outputs.pos), "not computed before it is used");
    ms_error err;
    /* an operator code turned into MUL, which the IR has no node for */
    ms_fb_table code;
    assert_int_equal(ms_fb_vec_table(&l.opcodes, 0, &code, &err), MS_OK);
    uint8_t *buf = malloc(model_size);
    memcpy(buf, model, model_size);
    buf[field_at(&code, 0)] = 18;
    assert_int_equal(import_expect_error(buf, model_size, "operator 0 (builtin 18)"),
                     MS_ERR_UNSUPPORTED);
    free(buf);
    /* schema version 2 */
    damage32(field_at(&l.root, 0), 2, "schema version 2");
    /* the softmax output declared with 1000 classes: shape inference gives 1001 */
    ms_fb_vec outputs, shape;
    ms_fb_table t;
    assert_int_equal(ms_fb_vec_field(&l.subgraph, 2, 4, &outputs, &err), MS_OK);
    assert_int_equal(ms_fb_vec_table(&l.tensors, (uint32_t)ms_fb_vec_i32(&outputs, 0), &t, &err), MS_OK);
    assert_int_equal(ms_fb_vec_field(&t, 0, 4, &shape, &err), MS_OK);
    assert_int_equal(ms_fb_vec_i32(&shape, 1), 1001);
    damage32(shape.pos + 4, 1000, "is declared [1, 1000] but its operator gives [1, 1001]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_foreign_files),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_oversized_vector_lengths),
        cmocka_unit_test(test_offsets_outside),
        cmocka_unit_test(test_wrong_graphs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
