/* Tests of the M-Package: round trip of metadata and weights, branches built from a
 * package (run and checked against hand-computed scores), and rejection of corrupt
 * files (truncated, bad header length, offsets out of range, wrong dtype, duplicate and
 * missing tensors) and of a package on the wrong base model. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/file.h"
#include "base/json.h"
#include "formats/mpackage.h"
#include "formats/model.h"
#include "graph/cut.h"

static int constant(ms_graph *g, const char *name, int ndim, const int64_t *shape, float start)
{
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    assert_true(t >= 0);
    int64_t n = ms_tensor_numel(&g->tensors[t]);
    g->tensors[t].data = malloc((size_t)n * sizeof(float));
    assert_non_null(g->tensors[t].data);
    for (int64_t i = 0; i < n; i++) g->tensors[t].data[i] = start + 0.01f * (float)i;
    return t;
}

static int act(ms_graph *g, const char *name, int64_t h, int64_t w, int64_t c)
{
    int64_t shape[4] = {1, h, w, c};
    int t = ms_graph_add_tensor(g, name, 4, shape, MS_DT_F32);
    assert_true(t >= 0);
    return t;
}

static void conv1x1(ms_graph *g, const char *name, int x, int64_t in_c, int64_t out_c, int y, bool relu6)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s/w", name);
    snprintf(bn, sizeof bn, "%s/b", name);
    int64_t ws[4] = {out_c, 1, 1, in_c}, bs[1] = {out_c};
    int in[3] = {x, constant(g, wn, 4, ws, -0.1f), constant(g, bn, 1, bs, 0.05f)};
    int k = ms_graph_add_node(g, MS_OP_CONV2D, name, in, 3, y);
    assert_true(k >= 0);
    g->nodes[k].padding = MS_PAD_SAME;
    if (relu6) {
        g->nodes[k].act_min = 0;
        g->nodes[k].act_max = 6;
    }
}

/* x[1,4,4,3] -> convA 3->3 relu6 -> convB 3->4 relu6 -> global pool -> classifier conv
 * 4->5 -> reshape [1,5] -> softmax. Chokepoints: input, after A, after B, after pool. */
static ms_graph *tiny_base(void)
{
    ms_graph *g = ms_graph_new();
    assert_non_null(g);
    int x = act(g, "x", 4, 4, 3), a = act(g, "a", 4, 4, 3), b = act(g, "b", 4, 4, 4);
    int p = act(g, "pool", 1, 1, 4), c = act(g, "logits4", 1, 1, 5);
    int64_t s2[2] = {1, 5};
    int r = ms_graph_add_tensor(g, "logits", 2, s2, MS_DT_F32), sm = ms_graph_add_tensor(g, "probs", 2, s2, MS_DT_F32);
    conv1x1(g, "convA", x, 3, 3, a, true);
    conv1x1(g, "convB", a, 3, 4, b, true);
    assert_true(ms_graph_add_node(g, MS_OP_GLOBAL_AVG_POOL, "pool", &b, 1, p) >= 0);
    conv1x1(g, "classifier", p, 4, 5, c, false);
    assert_true(ms_graph_add_node(g, MS_OP_RESHAPE, "reshape", &c, 1, r) >= 0);
    assert_true(ms_graph_add_node(g, MS_OP_SOFTMAX, "softmax", &r, 1, sm) >= 0);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    assert_non_null(g->inputs);
    assert_non_null(g->outputs);
    g->inputs[0] = x;
    g->outputs[0] = sm;
    g->n_inputs = g->n_outputs = 1;
    g->source = strdup("tiny.tflite");
    g->input_spec = (ms_input_spec){.height = 4, .width = 4, .channels = 3, .mean = 127.5f, .scale = 1.0f / 127.5f};
    for (int i = 0; i < 32; i++) g->fingerprint[i] = (uint8_t)(i * 7);
    ms_error err;
    assert_int_equal(ms_graph_infer_shapes(g, &err), MS_OK);
    return g;
}

static float run1(const ms_graph *g, const float *in)
{
    ms_error err;
    ms_plan *plan;
    ms_plan_options o = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    assert_int_equal(ms_plan_compile(ms_backend_find("ref"), g, &o, &plan, &err), MS_OK);
    assert_int_equal(plan->out_numel, 1);
    float out;
    assert_int_equal(ms_plan_run(plan, in, &out, &err), MS_OK);
    ms_plan_free(plan);
    return out;
}

static ms_tensor *param(ms_graph *g, const char *node, int slot)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, node)) return &g->tensors[g->nodes[i].inputs[slot]];
    fail_msg("no node %s", node);
    return NULL;
}

/* A package trained (here: set by hand) at chokepoints 1 and 3. */
static ms_mpackage *tiny_package(const ms_graph *base)
{
    ms_error err;
    ms_mpackage *p;
    assert_int_equal(ms_mpackage_new("unit", base, &p, &err), MS_OK);
    for (int cp = 3; cp >= 1; cp -= 2) { /* out of order on purpose: the curve gets sorted */
        ms_graph *br;
        assert_int_equal(ms_branch_from_base(base, cp, &br, &err), MS_OK);
        ms_tensor *w = param(br, MS_MPACKAGE_HEAD, 1), *b = param(br, MS_MPACKAGE_HEAD, 2);
        for (int64_t i = 0; i < ms_tensor_numel(w); i++) w->data[i] = 0.5f - 0.25f * (float)i;
        b->data[0] = 0.125f * (float)cp;
        if (cp == 1) param(br, "convB", 2)->data[0] = 9.0f;
        ms_curve_point pt = {cp, 0.75 + 0.01 * cp, 0.125, 40 + cp, 60, 0.5};
        assert_int_equal(ms_mpackage_put_branch(p, br, &pt, &err), MS_OK);
        ms_graph_free(br);
    }
    static double lengths[3] = {500, 1500.5, 250};
    p->events = (ms_event_stats){true, 750.1666, NULL, 3, 0.3, 2.5, 0.107, 1394, 139.4};
    p->events.lengths_ms = malloc(sizeof lengths);
    assert_non_null(p->events.lengths_ms);
    memcpy(p->events.lengths_ms, lengths, sizeof lengths);
    p->training = (ms_train_settings){"adam", "cosine", 2, 16, 1e-3, 0.9, 1e-4, 18446744073709551557ull, true, 32, 8, 0.25};
    return p;
}

static void test_round_trip(void **state)
{
    (void)state;
    ms_graph *base = tiny_base();
    ms_mpackage *p = tiny_package(base);
    char *dir = ms_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/app.mpkg", dir);
    ms_error err;
    assert_int_equal(ms_mpackage_save(p, path, &err), MS_OK);
    ms_mpackage *q;
    assert_int_equal(ms_mpackage_load(path, &q, &err), MS_OK);
    assert_string_equal(q->app, "unit");
    assert_int_equal(q->version, MS_MPACKAGE_VERSION);
    assert_memory_equal(q->base_fingerprint, base->fingerprint, 32);
    assert_int_equal(q->input.height, 4);
    assert_int_equal(q->input.channels, 3);
    assert_true(q->input.scale == 1.0f / 127.5f);
    assert_string_equal(q->resize, "crop");
    assert_int_equal(q->n_curve, 2);
    assert_int_equal(q->curve[0].chokepoint, 1);
    assert_int_equal(q->curve[1].chokepoint, 3);
    assert_true(q->curve[1].tpr == 0.78);
    assert_int_equal(q->curve[0].positives, 41);
    assert_int_equal(q->curve[1].negatives, 60);
    assert_null(ms_mpackage_point(q, 2));
    assert_non_null(ms_mpackage_point(q, 3));
    assert_true(q->events.known);
    assert_int_equal(q->events.n_lengths, 3);
    assert_true(q->events.lengths_ms[1] == 1500.5);
    assert_true(q->events.correlation == 0.107);
    assert_int_equal(q->events.frames, 1394);
    assert_true(q->events.seconds == 139.4);
    assert_string_equal(q->training.optimizer, "adam");
    assert_true(q->training.seed == 18446744073709551557ull);
    assert_true(q->training.augment);
    assert_true(q->training.base_lr_scale == 0.25);
    /* cp01: convB (w, b) and head (w, b); cp03: head (w, b). */
    assert_int_equal(q->n_tensors, 6);
    for (int i = 0; i < q->n_tensors; i++) {
        assert_string_equal(q->tensors[i].name, p->tensors[i].name);
        size_t n = 1;
        for (int d = 0; d < q->tensors[i].ndim; d++) n *= (size_t)q->tensors[i].shape[d];
        assert_memory_equal(q->tensors[i].data, p->tensors[i].data, n * sizeof(float));
    }

    /* cp03 is the head alone on the pooled features: w = [0.5, 0.25, 0, -0.25], b =
     * 0.375, so the score is sigmoid(0.5*1 + 0.25*2 + 0*3 - 0.25*4 + 0.375) = sigmoid(0.375). */
    ms_graph *br;
    assert_int_equal(ms_mpackage_branch(q, base, 3, &br, &err), MS_OK);
    float feat[4] = {1, 2, 3, 4};
    assert_float_equal(run1(br, feat), 1.0 / (1.0 + exp(-0.375)), 1e-6);
    ms_graph_free(br);

    /* cp01 carries the changed convB bias: the score differs from a fresh branch's. */
    assert_int_equal(ms_mpackage_branch(q, base, 1, &br, &err), MS_OK);
    assert_true(param(br, "convB", 2)->data[0] == 9.0f);
    assert_null(param(br, "convB", 2)->qdata);
    float x[4 * 4 * 3];
    for (int i = 0; i < 48; i++) x[i] = 0.02f * (float)i;
    float score = run1(br, x);
    ms_graph_free(br);
    /* the same network set up by hand runs to the same score, bit for bit; the base
     * weights with a zero head give sigmoid(0) = 0.5 */
    assert_int_equal(ms_branch_from_base(base, 1, &br, &err), MS_OK);
    assert_float_equal(run1(br, x), 0.5, 0);
    ms_tensor *w = param(br, MS_MPACKAGE_HEAD, 1);
    for (int64_t i = 0; i < ms_tensor_numel(w); i++) w->data[i] = 0.5f - 0.25f * (float)i;
    param(br, MS_MPACKAGE_HEAD, 2)->data[0] = 0.125f;
    param(br, "convB", 2)->data[0] = 9.0f;
    assert_true(run1(br, x) == score);
    ms_graph_free(br);
    assert_int_equal(ms_mpackage_branch(q, base, 2, &br, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not trained at chokepoint 2"));

    ms_mpackage_free(q);
    ms_mpackage_free(p);
    ms_graph_free(base);
    ms_test_rmdir(dir);
}

static void test_fingerprint_mismatch(void **state)
{
    (void)state;
    ms_graph *base = tiny_base();
    ms_mpackage *p = tiny_package(base);
    base->fingerprint[0] ^= 0xff;
    ms_error err;
    ms_graph *br;
    assert_int_equal(ms_mpackage_check_base(p, base, &err), MS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "00070e15"));  /* the package's: bytes 0, 7, 14, 21 */
    assert_non_null(strstr(err.msg, "ff070e15"));  /* the model's */
    assert_non_null(strstr(err.msg, "tiny.tflite"));
    assert_int_equal(ms_mpackage_branch(p, base, 1, &br, &err), MS_ERR_INVALID);
    assert_null(br);
    ms_mpackage_free(p);
    ms_graph_free(base);
}

/* ---- corrupt files: rewrite a good package's header, or cut it short ---- */

typedef struct {
    char *dir;
    char path[512];
    unsigned char *bytes;
    size_t size;
    uint64_t hlen;
    ms_graph *base;
} corrupt_ctx;

static int corrupt_setup(void **state)
{
    corrupt_ctx *c = calloc(1, sizeof *c);
    c->base = tiny_base();
    ms_mpackage *p = tiny_package(c->base);
    c->dir = ms_test_tmpdir();
    snprintf(c->path, sizeof c->path, "%s/app.mpkg", c->dir);
    ms_error err;
    assert_int_equal(ms_mpackage_save(p, c->path, &err), MS_OK);
    ms_mpackage_free(p);
    assert_int_equal(ms_read_file(c->path, 1 << 20, &c->bytes, &c->size, &err), MS_OK);
    for (int i = 0; i < 8; i++) c->hlen |= (uint64_t)c->bytes[i] << (8 * i);
    *state = c;
    return 0;
}

static int corrupt_teardown(void **state)
{
    corrupt_ctx *c = *state;
    free(c->bytes);
    ms_graph_free(c->base);
    ms_test_rmdir(c->dir);
    free(c);
    return 0;
}

static void expect_load_error(const char *path, const char *fragment)
{
    ms_mpackage *p = (ms_mpackage *)1;
    ms_error err;
    assert_int_not_equal(ms_mpackage_load(path, &p, &err), MS_OK);
    assert_null(p);
    if (!strstr(err.msg, fragment) || !strstr(err.msg, path)) fail_msg("message '%s' lacks '%s' or the path", err.msg, fragment);
}

/* Writes the package again with its header JSON edited by `edit`. */
static void write_edited(corrupt_ctx *c, void (*edit)(cJSON *header))
{
    cJSON *h = cJSON_ParseWithLength((const char *)c->bytes + 8, (size_t)c->hlen);
    assert_non_null(h);
    edit(h);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t n = strlen(text), data = c->size - 8 - (size_t)c->hlen;
    unsigned char *out = malloc(8 + n + data);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, text, n);
    memcpy(out + 8 + n, c->bytes + 8 + c->hlen, data);
    ms_error err;
    assert_int_equal(ms_write_file_atomic(c->path, out, 8 + n + data, &err), MS_OK);
    free(out);
    free(text);
}

static cJSON *first_tensor(cJSON *h)
{
    for (cJSON *o = h->child; o; o = o->next)
        if (strcmp(o->string, "__metadata__")) return o;
    return NULL;
}

static void edit_dtype(cJSON *h)
{
    cJSON_ReplaceItemInObject(first_tensor(h), "dtype", cJSON_CreateString("F16"));
}

static void edit_offsets(cJSON *h)
{
    double off[2] = {0, 1e6};
    cJSON_ReplaceItemInObject(first_tensor(h), "data_offsets", cJSON_CreateDoubleArray(off, 2));
}

static void edit_span(cJSON *h)
{
    double shape[1] = {3};
    cJSON_ReplaceItemInObject(first_tensor(h), "shape", cJSON_CreateDoubleArray(shape, 1));
}

static void edit_drop_head(cJSON *h)
{
    cJSON_DeleteItemFromObject(h, "cp03/head/weight");
}

static void edit_overlap(cJSON *h)
{
    /* the second tensor claims the first one's bytes (same span length as its own) */
    cJSON *a = first_tensor(h), *b = a->next;
    cJSON *ao = cJSON_GetObjectItem(a, "data_offsets"), *bo = cJSON_GetObjectItem(b, "data_offsets");
    double len = cJSON_GetArrayItem(bo, 1)->valuedouble - cJSON_GetArrayItem(bo, 0)->valuedouble;
    double start = cJSON_GetArrayItem(ao, 0)->valuedouble, off[2] = {start, start + len};
    cJSON_ReplaceItemInObject(b, "data_offsets", cJSON_CreateDoubleArray(off, 2));
}

static void edit_version(cJSON *h)
{
    cJSON *md = cJSON_GetObjectItem(h, "__metadata__");
    cJSON *meta = cJSON_Parse(cJSON_GetObjectItem(md, "mainstream")->valuestring);
    cJSON_ReplaceItemInObject(meta, "format_version", cJSON_CreateNumber(7));
    char *s = cJSON_PrintUnformatted(meta);
    cJSON_ReplaceItemInObject(md, "mainstream", cJSON_CreateString(s));
    free(s);
    cJSON_Delete(meta);
}

static void edit_tpr(cJSON *h)
{
    cJSON *md = cJSON_GetObjectItem(h, "__metadata__");
    cJSON *meta = cJSON_Parse(cJSON_GetObjectItem(md, "mainstream")->valuestring);
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "curve"), 1), "tpr", cJSON_CreateNumber(1.5));
    char *s = cJSON_PrintUnformatted(meta);
    cJSON_ReplaceItemInObject(md, "mainstream", cJSON_CreateString(s));
    free(s);
    cJSON_Delete(meta);
}

static void edit_resize(cJSON *h)
{
    cJSON *md = cJSON_GetObjectItem(h, "__metadata__");
    cJSON *meta = cJSON_Parse(cJSON_GetObjectItem(md, "mainstream")->valuestring);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(meta, "input"), "resize", cJSON_CreateString("zoom"));
    char *s = cJSON_PrintUnformatted(meta);
    cJSON_ReplaceItemInObject(md, "mainstream", cJSON_CreateString(s));
    free(s);
    cJSON_Delete(meta);
}

static void test_corrupt_header_fields(void **state)
{
    corrupt_ctx *c = *state;
    write_edited(c, edit_dtype);
    expect_load_error(c->path, "dtype \"F16\" is not F32");
    write_edited(c, edit_offsets);
    expect_load_error(c->path, "data_offsets are not a range");
    write_edited(c, edit_span);
    expect_load_error(c->path, "its shape needs 12");
    write_edited(c, edit_drop_head);
    expect_load_error(c->path, "has no tensor \"cp03/head/weight\"");
    write_edited(c, edit_overlap);
    expect_load_error(c->path, "overlap");
    write_edited(c, edit_version);
    expect_load_error(c->path, "format_version 7");
    write_edited(c, edit_tpr);
    expect_load_error(c->path, "metadata.curve[1]: field \"tpr\" = 1.5 is not in [0, 1]");
    write_edited(c, edit_resize);
    expect_load_error(c->path, "metadata.input: field \"resize\" must be \"crop\" or \"stretch\"");
}

static void test_corrupt_framing(void **state)
{
    corrupt_ctx *c = *state;
    ms_error err;
    /* truncated: the data section loses its last bytes */
    assert_int_equal(ms_write_file_atomic(c->path, c->bytes, c->size - 4, &err), MS_OK);
    expect_load_error(c->path, "data_offsets are not a range");
    /* truncated inside the header */
    assert_int_equal(ms_write_file_atomic(c->path, c->bytes, 8 + c->hlen / 2, &err), MS_OK);
    expect_load_error(c->path, "header length");
    assert_int_equal(ms_write_file_atomic(c->path, c->bytes, 5, &err), MS_OK);
    expect_load_error(c->path, "too short");
    /* header length far beyond the file */
    unsigned char *b = malloc(c->size);
    memcpy(b, c->bytes, c->size);
    b[6] = 0x40;
    assert_int_equal(ms_write_file_atomic(c->path, b, c->size, &err), MS_OK);
    expect_load_error(c->path, "header length");
    /* header length one short: the JSON is cut */
    memcpy(b, c->bytes, c->size);
    b[0] = (unsigned char)(b[0] - 9);
    assert_int_equal(ms_write_file_atomic(c->path, b, c->size, &err), MS_OK);
    expect_load_error(c->path, "is not one JSON object");
    free(b);
}

static void test_save_failure_leaves_nothing(void **state)
{
    corrupt_ctx *c = *state;
    ms_mpackage *p = tiny_package(c->base);
    char path[600];
    snprintf(path, sizeof path, "%s/missing/app.mpkg", c->dir);
    ms_error err;
    assert_int_not_equal(ms_mpackage_save(p, path, &err), MS_OK);
    assert_non_null(strstr(err.msg, "missing/app.mpkg"));
    FILE *f = fopen(path, "rb");
    assert_null(f);
    ms_mpackage_free(p);
}

static void test_real_model_branches(void **state)
{
    (void)state;
    MS_REQUIRE_DATA("models/mobilenet_v1_0.25_128_quant.tflite");
    const char *path = ms_test_data("models/mobilenet_v1_0.25_128_quant.tflite");
    ms_graph *base;
    ms_error err;
    assert_int_equal(ms_model_load(&path, 1, &base, &err), MS_OK);
    ms_chokepoint *cps;
    int n;
    assert_int_equal(ms_graph_chokepoints(base, &cps, &n, &err), MS_OK);
    assert_int_equal(n, 16);
    for (int cp = 0; cp < n; cp += 7) {
        ms_graph *br;
        assert_int_equal(ms_branch_from_base(base, cp, &br, &err), MS_OK);
        /* the pooled features of 0.25 are 256 wide; the head maps them to one score */
        const ms_tensor *w = param(br, MS_MPACKAGE_HEAD, 1);
        assert_int_equal(w->shape[1], 256);
        assert_int_equal(br->tensors[br->outputs[0]].shape[1], 1);
        int convs = 0;
        for (int i = 0; i < br->n_nodes; i++) convs += br->nodes[i].kind == MS_OP_CONV2D;
        assert_int_equal(convs, cp == 0 ? 27 : cp == 7 ? 14 : 0);
        ms_graph_free(br);
    }
    free(cps);
    ms_graph_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_fingerprint_mismatch),
        cmocka_unit_test_setup_teardown(test_corrupt_header_fields, corrupt_setup, corrupt_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_framing, corrupt_setup, corrupt_teardown),
        cmocka_unit_test_setup_teardown(test_save_failure_leaves_nothing, corrupt_setup, corrupt_teardown),
        cmocka_unit_test(test_real_model_branches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
