/* ONNX's own backend test cases (Debian's libonnx-testdata:
 * /usr/share/libonnx-testdata/data/node/NAME/model.onnx with test_data_set_K/input_*.pb
 * and output_*.pb) on the ref and cpu backends.
 *
 * Every case whose ops are all in the supported list is run: its first input is the
 * plan's input (dimension 0 the batch), every other input is bound as a constant (frame
 * by frame, when it has input 0's rank and batch: the IR's ops never mix frames, and an
 * op that would is refused at import), each
 * output is compared with |got - want| <= 1e-7 + 1e-3 |want| (the suite's default
 * tolerances). A case may be refused (the importer or a backend says it does not
 * handle this attribute or shape) with a clear message; it may never give a wrong
 * answer. Cases of other ops must be refused at import. The per-op table goes to stdout
 * (docs/formats.md has it); MS_ONNX_CONFORMANCE_VERBOSE=1 prints every case. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/infer.h"
#include "base/file.h"
#include "formats/onnx.h"
#include "testutil.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

static const char *const supported[] = {
    "Conv", "BatchNormalization", "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Add", "Sub",
    "Mul", "Div", "Gemm", "MatMul", "Flatten", "Reshape", "Transpose", "Split", "Slice", "Concat",
    "GlobalAveragePool", "AveragePool", "MaxPool", "ReduceMean", "Pad", "Softmax", "Squeeze", "Unsqueeze", "Identity",
    "Dropout", "Constant", "Shape", "Gather", "Cast", "ConstantOfShape", NULL};

static bool is_supported(const char *ops)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", ops);
    for (char *save = NULL, *t = strtok_r(buf, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
        bool found = false;
        for (int k = 0; supported[k] && !found; k++) found = !strcmp(supported[k], t);
        if (!found) return false;
    }
    return ops[0] != '\0';
}

enum { PASS, FAIL, REFUSED, N_OUTCOMES };

typedef struct {
    char op[64];
    int count[2][N_OUTCOMES]; /* per backend */
    int cases;
} op_row;

typedef struct {
    op_row rows[128];
    int n_rows;
    int wrong, unclear, unsupported_accepted, unsupported_refused;
} tally;

static op_row *row_for(tally *t, const char *ops)
{
    char op[64];
    snprintf(op, sizeof op, "%.63s", ops);
    for (int k = 0; k < t->n_rows; k++)
        if (!strcmp(t->rows[k].op, op)) return &t->rows[k];
    if (t->n_rows == 128) return &t->rows[127];
    op_row *r = &t->rows[t->n_rows++];
    memset(r, 0, sizeof *r);
    memcpy(r->op, op, sizeof r->op);
    return r;
}

static bool verbose(void)
{
    const char *v = getenv("MS_ONNX_CONFORMANCE_VERBOSE");
    return v && v[0] == '1';
}

static ms_status read_pb(const char *path, ms_onnx_tensor *t, ms_error *err)
{
    unsigned char *bytes;
    size_t size;
    ms_status s = ms_read_file(path, (size_t)256 << 20, &bytes, &size, err);
    if (s) return s;
    s = ms_onnx_read_tensor(bytes, size, path, t, err);
    free(bytes);
    return s;
}

static bool close_enough(const float *got, const float *want, int64_t n, double *worst)
{
    *worst = 0;
    for (int64_t k = 0; k < n; k++) {
        if (isnan(want[k]) && isnan(got[k])) continue;
        if (isinf(want[k]) && got[k] == want[k]) continue;
        double d = fabs((double)got[k] - want[k]), lim = 1e-7 + 1e-3 * fabs((double)want[k]);
        if (!(d <= lim)) {
            *worst = d;
            return false;
        }
    }
    return true;
}

/* A refusal is clear when it is an UNSUPPORTED or FORMAT error with a message. */
static bool clear_refusal(ms_status s, const ms_error *err)
{
    return (s == MS_ERR_UNSUPPORTED || s == MS_ERR_FORMAT || s == MS_ERR_INVALID) && strlen(err->msg) > 10;
}

/* One data set on one backend: PASS, FAIL or REFUSED. */
static int run_set(const char *dir, const char *name, const uint8_t *model, size_t size, const ms_onnx_info *info,
                   const char *set, const ms_backend *b, char *why, size_t why_size)
{
    ms_onnx_tensor ins[16] = {0}, want = {0};
    int n_in = 0, outcome = PASS;
    ms_error err = {0};
    ms_status s = MS_OK;
    char path[1200], names[512];
    snprintf(names, sizeof names, "%s", info->inputs);
    char *save = NULL;
    for (char *nm = strtok_r(names, ",", &save); nm && n_in < 16; nm = strtok_r(NULL, ",", &save), n_in++) {
        snprintf(path, sizeof path, "%s/%s/%s/input_%d.pb", dir, name, set, n_in);
        if ((s = read_pb(path, &ins[n_in], &err))) break;
        free(ins[n_in].name);
        ins[n_in].name = strdup(nm);
    }
    /* Inputs after the first that vary along dimension 0 like it are bound frame by
     * frame: the plan runs one frame of input 0 at a time with that frame of each. */
    int64_t B = !s && n_in >= 1 && ins[0].rank >= 1 ? ins[0].dims[0] : 1;
    bool per_frame = false;
    for (int k = 1; !s && k < n_in; k++) per_frame = per_frame || (ins[k].rank == ins[0].rank && ins[k].dims[0] == B && B > 1);
    int64_t frames = per_frame ? B : 1;
    ms_graph *g = NULL;
    if (!s && n_in < 1) s = ms_errorf(&err, MS_ERR_UNSUPPORTED, "the case has no input");
    for (int64_t f = 0; !s && f < frames && outcome != FAIL; f++) {
        ms_onnx_tensor bound[16];
        for (int k = 0; k < n_in; k++) {
            bound[k] = ins[k];
            if (per_frame && ins[k].rank == ins[0].rank && ins[k].dims[0] == B) {
                bound[k].dims[0] = 1;
                bound[k].numel = ins[k].numel / B;
                bound[k].data = ins[k].data + f * bound[k].numel;
            }
        }
        ms_onnx_options o = {.consts = bound + 1, .n_consts = n_in - 1};
        ms_graph_free(g);
        g = NULL;
        if ((s = ms_onnx_import(model, size, name, &o, &g, &err))) break;
        for (int k = 0; !s && k < info->n_outputs && k < g->n_outputs; k++) {
            snprintf(path, sizeof path, "%s/%s/%s/output_%d.pb", dir, name, set, k);
            if ((s = read_pb(path, &want, &err))) break;
            if (per_frame && (want.rank < 1 || want.dims[0] != B)) {
                s = ms_errorf(&err, MS_ERR_UNSUPPORTED, "%s: output %d does not keep dimension 0 (the batch)", name, k);
                ms_onnx_tensor_free(&want);
                break;
            }
            int64_t want_n = want.numel / frames;
            const float *want_data = want.data + f * want_n;
            int saved = g->outputs[0], saved_n = g->n_outputs;
            g->outputs[0] = g->outputs[k];
            g->n_outputs = 1;
            ms_infer_tensor in = {.ndim = bound[0].rank, .data = bound[0].data}, out = {0};
            if (bound[0].rank > MS_MAX_DIMS) s = ms_errorf(&err, MS_ERR_UNSUPPORTED, "input has %d dimensions", ins[0].rank);
            for (int d = 0; !s && d < bound[0].rank; d++) in.shape[d] = bound[0].dims[d];
            if (per_frame) {
                in.shape[0] = 1;
                in.data = ins[0].data + f * (ins[0].numel / B);
            }
            if (!s) s = ms_infer(b, g, 1, MS_PREC_FP32, &in, &out, &err);
            g->outputs[0] = saved;
            g->n_outputs = saved_n;
            if (!s) {
                int64_t n = 1;
                bool same = out.ndim == want.rank;
                for (int d = 0; d < out.ndim; d++) n *= out.shape[d];
                for (int d = per_frame ? 1 : 0; same && d < out.ndim; d++) same = out.shape[d] == want.dims[d];
                double worst = 0;
                if (!same || n != want_n) {
                    snprintf(why, why_size, "output %d: shape differs from the expected one", k);
                    outcome = FAIL;
                } else if (!close_enough(out.data, want_data, n, &worst)) {
                    snprintf(why, why_size, "output %d: off by %g", k, worst);
                    outcome = FAIL;
                }
            }
            free(out.data);
            ms_onnx_tensor_free(&want);
            if (outcome == FAIL) break;
        }
    }
    if (s) {
        outcome = clear_refusal(s, &err) ? REFUSED : FAIL;
        snprintf(why, why_size, "%s%s", outcome == FAIL ? "unclear error: " : "", err.msg);
    }
    ms_graph_free(g);
    for (int k = 0; k < n_in && k < 16; k++) ms_onnx_tensor_free(&ins[k]);
    return outcome;
}

static void run_case(const char *dir, const char *name, tally *t)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);
    unsigned char *model;
    size_t size;
    ms_error err = {0};
    if (ms_read_file(path, (size_t)64 << 20, &model, &size, &err)) return;
    ms_onnx_info info;
    if (ms_onnx_describe(model, size, name, &info, &err)) {
        free(model);
        return;
    }
    if (!is_supported(info.ops)) {
        ms_graph *g = NULL;
        ms_status s = ms_onnx_import(model, size, name, NULL, &g, &err);
        if (!s) {
            t->unsupported_accepted++;
            print_message("UNEXPECTED: %s (%s) imported although an op is outside the list\n", name, info.ops);
        } else {
            t->unsupported_refused++;
        }
        ms_graph_free(g);
        free(model);
        return;
    }
    op_row *r = row_for(t, info.ops);
    r->cases++;
    static const char *const backends[2] = {"ref", "cpu"};
    for (int bi = 0; bi < 2; bi++) {
        const ms_backend *b = ms_backend_find(backends[bi]);
        int outcome = PASS;
        char why[1200] = "";
        snprintf(path, sizeof path, "%s/%s", dir, name);
        DIR *d = opendir(path);
        int sets = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
            if (strncmp(e->d_name, "test_data_set_", 14)) continue;
            sets++;
            int o = run_set(dir, name, model, size, &info, e->d_name, b, why, sizeof why);
            if (o == FAIL || (o == REFUSED && outcome == PASS)) outcome = o;
        }
        if (d) closedir(d);
        if (!sets) continue;
        r->count[bi][outcome]++;
        if (outcome == FAIL) {
            t->wrong++;
            print_message("FAILED %s on %s: %s\n", name, backends[bi], why);
        } else if (verbose()) {
            print_message("%-8s %s on %s%s%s\n", outcome == PASS ? "passed" : "refused", name, backends[bi],
                          why[0] ? ": " : "", why);
        }
    }
    free(model);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_conformance(void **state)
{
    (void)state;
    DIR *d = opendir(NODE_DIR);
    if (!d) {
        print_message("skipped: %s not found (Debian package libonnx-testdata)\n", NODE_DIR);
        skip();
    }
    char **names = NULL;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "test_", 5)) continue;
        char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
        assert_non_null(nn);
        names = nn;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    for (int k = 0; k < n; k++) {
        run_case(NODE_DIR, names[k], t);
        free(names[k]);
    }
    free(names);
    int tot[2][N_OUTCOMES] = {{0}}, cases = 0;
    printf("| op | cases | ref passed | ref failed | ref refused | cpu passed | cpu failed | cpu refused |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < t->n_rows; k++) {
        const op_row *r = &t->rows[k];
        printf("| %s | %d | %d | %d | %d | %d | %d | %d |\n", r->op, r->cases, r->count[0][PASS], r->count[0][FAIL],
               r->count[0][REFUSED], r->count[1][PASS], r->count[1][FAIL], r->count[1][REFUSED]);
        cases += r->cases;
        for (int b = 0; b < 2; b++)
            for (int o = 0; o < N_OUTCOMES; o++) tot[b][o] += r->count[b][o];
    }
    printf("| all | %d | %d | %d | %d | %d | %d | %d |\n", cases, tot[0][PASS], tot[0][FAIL], tot[0][REFUSED], tot[1][PASS],
           tot[1][FAIL], tot[1][REFUSED]);
    printf("cases of other ops: %d refused at import, %d imported (must be 0)\n", t->unsupported_refused,
           t->unsupported_accepted);
    fflush(stdout);
    int wrong = t->wrong, accepted = t->unsupported_accepted, passed = tot[0][PASS] + tot[1][PASS];
    free(t);
    assert_int_equal(wrong, 0);
    assert_int_equal(accepted, 0);
    assert_true(passed > 100); /* the run really exercised the backends */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_conformance)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
