/* Writes the seed models of fuzz_tflite: a few TFLite files of 2 to 4 KB, built
 * here with the tests' flatbuffer writer (tests/tflite_builder.h), so the fuzzer starts
 * from inputs it can run thousands of times a second instead of the shared megabyte
 * models (docs/hardening.md, "Fuzzing"). Nothing comes from the shared data:
 *   mini_float.tflite  a MobileNet in small: CONV_2D (3x3, stride 2, RELU6), DEPTHWISE_CONV_2D,
 *                      1x1 CONV_2D, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX
 *                      (it has chokepoints, so the target's chokepoint search runs too)
 *   mini_uint8.tflite  the same with uint8 tensors and per-tensor quantisation (the
 *                      shared models' kind), an int32 bias
 *   ops_float.tflite   PAD, MAX_POOL_2D, a residual ADD (RELU), CONCATENATION, MEAN,
 *                      SQUEEZE, FULLY_CONNECTED, LOGISTIC
 * Each is imported (ms_tflite_import) and searched for chokepoints before it is written:
 * a seed the importer refuses would only test its first checks.
 * Usage: seed_tflite DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "formats/tflite.h"
#include "graph/cut.h"
#include "tflite_builder.h"

enum { T_F32 = 0, T_I32 = 2, T_U8 = 3 };

static const cdef codes[] = {
    {3, 3, NULL},   /* 0 CONV_2D */
    {4, 4, NULL},   /* 1 DEPTHWISE_CONV_2D */
    {1, 1, NULL},   /* 2 AVERAGE_POOL_2D */
    {22, 22, NULL}, /* 3 RESHAPE */
    {9, 9, NULL},   /* 4 FULLY_CONNECTED */
    {25, 25, NULL}, /* 5 SOFTMAX */
    {34, 34, NULL}, /* 6 PAD */
    {17, 17, NULL}, /* 7 MAX_POOL_2D */
    {0, 0, NULL},   /* 8 ADD */
    {2, 2, NULL},   /* 9 CONCATENATION */
    {40, 40, NULL}, /* 10 MEAN */
    {43, 43, NULL}, /* 11 SQUEEZE */
    {14, 14, NULL}, /* 12 LOGISTIC */
};
#define N_CODES ((int)(sizeof codes / sizeof *codes))

/* Constant bytes: n values, float32 or (quant) uint8, deterministic and varied. */
static void fill(uint8_t *out, int n, bool quant, int salt)
{
    for (int i = 0; i < n; i++) {
        int v = (i * 37 + salt * 11) % 29 - 14;
        if (quant) {
            out[i] = (uint8_t)(128 + 4 * v);
        } else {
            float f = (float)v / 16.0f;
            memcpy(out + 4 * i, &f, 4);
        }
    }
}

static void fill_bias(uint8_t *out, int n, int salt)
{
    for (int i = 0; i < n; i++) put32(out + 4 * i, (uint32_t)(int32_t)((i * 13 + salt) % 40 - 20));
}

/* A tensor: float32, or uint8 with scale 1/32 and zero point 128 (biases: int32 with
 * the product of the input's and the weights' scales). */
static tdef tensor(const char *name, int ndim, const int32_t *shape, const void *data, size_t bytes, bool quant,
                   bool bias)
{
    tdef t = {.name = name, .ndim = ndim, .type = T_F32, .data = data, .bytes = bytes};
    memcpy(t.shape, shape, sizeof(int32_t) * (size_t)ndim);
    if (quant) {
        t.type = bias ? T_I32 : T_U8;
        t.nq = 1;
        t.scale[0] = bias ? 1.0f / 1024 : 1.0f / 32;
        t.zp[0] = bias ? 0 : 128;
    }
    return t;
}

static size_t mini(fbb *b, bool q, uint8_t **file)
{
    static uint8_t w1[4 * 27 * 4], b1[16], wdw[36 * 4], bdw[16], wpw[32 * 4], bpw[32], wfc[24 * 4], bfc[12];
    static const int32_t flat_shape[2] = {1, 8};
    size_t e = q ? 1 : 4;
    fill(w1, 4 * 27, q, 1), fill(wdw, 36, q, 2), fill(wpw, 32, q, 3), fill(wfc, 24, q, 4);
    if (q) fill_bias(b1, 4, 1), fill_bias(bdw, 4, 2), fill_bias(bpw, 8, 3), fill_bias(bfc, 3, 4);
    else fill(b1, 4, false, 5), fill(bdw, 4, false, 6), fill(bpw, 8, false, 7), fill(bfc, 3, false, 8);
    const tdef t[] = {
        tensor("input", 4, (int32_t[]){1, 8, 8, 3}, NULL, 0, q, false),
        tensor("w1", 4, (int32_t[]){4, 3, 3, 3}, w1, 4 * 27 * e, q, false),
        tensor("b1", 1, (int32_t[]){4}, b1, 16, q, true),
        tensor("conv1", 4, (int32_t[]){1, 4, 4, 4}, NULL, 0, q, false),
        tensor("wdw", 4, (int32_t[]){1, 3, 3, 4}, wdw, 36 * e, q, false),
        tensor("bdw", 1, (int32_t[]){4}, bdw, 16, q, true),
        tensor("dw", 4, (int32_t[]){1, 4, 4, 4}, NULL, 0, q, false),
        tensor("wpw", 4, (int32_t[]){8, 1, 1, 4}, wpw, 32 * e, q, false),
        tensor("bpw", 1, (int32_t[]){8}, bpw, 32, q, true),
        tensor("pw", 4, (int32_t[]){1, 4, 4, 8}, NULL, 0, q, false),
        tensor("pool", 4, (int32_t[]){1, 1, 1, 8}, NULL, 0, q, false),
        {.name = "shape", .ndim = 1, .shape = {2}, .type = T_I32, .data = flat_shape, .bytes = 8},
        tensor("flat", 2, (int32_t[]){1, 8}, NULL, 0, q, false),
        tensor("wfc", 2, (int32_t[]){3, 8}, wfc, 24 * e, q, false),
        tensor("bfc", 1, (int32_t[]){3}, bfc, 12, q, true),
        tensor("logits", 2, (int32_t[]){1, 3}, NULL, 0, q, false),
        q ? (tdef){.name = "prob", .ndim = 2, .shape = {1, 3}, .type = T_U8, .nq = 1, .scale = {1.0f / 256}}
          : tensor("prob", 2, (int32_t[]){1, 3}, NULL, 0, false, false),
    };
    /* padding SAME 0, VALID 1; activation RELU6 3 */
    const odef o[] = {
        {0, 3, {0, 1, 2}, 3, 1, {U8(0, 0), I32(1, 2), I32(2, 2), U8(3, 3)}, 4},
        {1, 3, {3, 4, 5}, 6, 2, {U8(0, 0), I32(1, 1), I32(2, 1), I32(3, 1), U8(4, 3)}, 5},
        {0, 3, {6, 7, 8}, 9, 1, {U8(0, 1), I32(1, 1), I32(2, 1), U8(3, 3)}, 4},
        {2, 1, {9}, 10, 5, {U8(0, 1), I32(1, 4), I32(2, 4), I32(3, 4), I32(4, 4), U8(5, 0)}, 6},
        {3, 2, {10, 11}, 12, 0, {{0}}, 0},
        {4, 3, {12, 13, 14}, 15, 8, {U8(0, 0)}, 1},
        {5, 1, {15}, 16, 9, {F32(0, 1.0f)}, 1},
    };
    const int32_t in[1] = {0}, out[1] = {16};
    return build_file(b, t, (int)(sizeof t / sizeof *t), o, (int)(sizeof o / sizeof *o), codes, N_CODES, in, 1, out,
                      1, file);
}

static size_t ops(fbb *b, uint8_t **file)
{
    static uint8_t w[4 * 4 * 4], bias[16], wfc[8 * 4], bfc[4];
    static const int32_t pads[8] = {0, 0, 1, 1, 1, 1, 0, 0}, axes[2] = {1, 2};
    fill(w, 16, false, 1), fill(bias, 4, false, 2), fill(wfc, 8, false, 3), fill(bfc, 1, false, 4);
    const tdef t[] = {
        tensor("input", 4, (int32_t[]){1, 6, 6, 4}, NULL, 0, false, false),
        {.name = "pads", .ndim = 2, .shape = {4, 2}, .type = T_I32, .data = pads, .bytes = 32},
        tensor("padded", 4, (int32_t[]){1, 8, 8, 4}, NULL, 0, false, false),
        tensor("max", 4, (int32_t[]){1, 4, 4, 4}, NULL, 0, false, false),
        tensor("w", 4, (int32_t[]){4, 1, 1, 4}, w, 64, false, false),
        tensor("b", 1, (int32_t[]){4}, bias, 16, false, false),
        tensor("conv", 4, (int32_t[]){1, 4, 4, 4}, NULL, 0, false, false),
        tensor("sum", 4, (int32_t[]){1, 4, 4, 4}, NULL, 0, false, false),
        tensor("cat", 4, (int32_t[]){1, 4, 4, 8}, NULL, 0, false, false),
        {.name = "axes", .ndim = 1, .shape = {2}, .type = T_I32, .data = axes, .bytes = 8},
        tensor("mean", 4, (int32_t[]){1, 1, 1, 8}, NULL, 0, false, false),
        tensor("squeezed", 2, (int32_t[]){1, 8}, NULL, 0, false, false),
        tensor("wfc", 2, (int32_t[]){1, 8}, wfc, 32, false, false),
        tensor("bfc", 1, (int32_t[]){1}, bfc, 4, false, false),
        tensor("logit", 2, (int32_t[]){1, 1}, NULL, 0, false, false),
        tensor("score", 2, (int32_t[]){1, 1}, NULL, 0, false, false),
    };
    const odef o[] = {
        {6, 2, {0, 1}, 2, 0, {{0}}, 0},
        {7, 1, {2}, 3, 5, {U8(0, 1), I32(1, 2), I32(2, 2), I32(3, 2), I32(4, 2), U8(5, 0)}, 6},
        {0, 3, {3, 4, 5}, 6, 1, {U8(0, 0), I32(1, 1), I32(2, 1), U8(3, 0)}, 4},
        {8, 2, {3, 6}, 7, 11, {U8(0, 1)}, 1},
        {9, 2, {7, 3}, 8, 10, {I32(0, 3), U8(1, 0)}, 2},
        {10, 2, {8, 9}, 10, 27, {U8(0, 1)}, 1},
        {11, 1, {10}, 11, 0, {{0}}, 0},
        {4, 3, {11, 12, 13}, 14, 8, {U8(0, 0)}, 1},
        {12, 1, {14}, 15, 0, {{0}}, 0},
    };
    const int32_t in[1] = {0}, out[1] = {15};
    return build_file(b, t, (int)(sizeof t / sizeof *t), o, (int)(sizeof o / sizeof *o), codes, N_CODES, in, 1, out,
                      1, file);
}

/* Imports the model and searches its chokepoints, then writes it to DIR/name. */
static int check_and_write(const char *dir, const char *name, const uint8_t *bytes, size_t size)
{
    ms_graph *g = NULL;
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ms_status s = ms_tflite_import(bytes, size, name, &g, &err);
    if (!s) s = ms_graph_chokepoints(g, &cps, &n, &err);
    if (!s) s = ms_write_file_atomic(path, bytes, size, &err);
    free(cps);
    ms_graph_free(g);
    if (s) {
        fprintf(stderr, "seed_tflite: %s\n", err.msg);
        return 1;
    }
    printf("%s: %zu bytes, %d chokepoints\n", path, size, n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_tflite DIR\n");
        return 2;
    }
    static fbb b;
    uint8_t *file;
    int bad = 0;
    size_t size = mini(&b, false, &file);
    bad |= check_and_write(argv[1], "mini_float.tflite", file, size);
    size = mini(&b, true, &file);
    bad |= check_and_write(argv[1], "mini_uint8.tflite", file, size);
    size = ops(&b, &file);
    bad |= check_and_write(argv[1], "ops_float.tflite", file, size);
    return bad;
}
