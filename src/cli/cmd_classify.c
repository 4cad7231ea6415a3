/* `mainstream classify`: load a model (one or more chained .tflite files, or an ONNX
 * file), compile it on a backend for a batch of images, decode and normalise each image
 * with the model's input spec, run the batches and print each image's top classes; with
 * --labels-csv, also top-1 and top-5 accuracy against a file,class CSV. A model that ends
 * in a fully-connected layer's logits (torchvision's Linear) gets a softmax here. */
#include <math.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "base/file.h"
#include "base/text.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "formats/labels.h"
#include "formats/model.h"
#include "media/image.h"

#define MAX_MODELS MS_CLI_MAX_MODELS
#define MAX_TOP 100
#define MAX_TEXT_BYTES ((size_t)16 << 20)

typedef struct {
    const char *models[MAX_MODELS];
    int n_models;
    const char *labels_path;
    const char *labels_csv;
    const char *backend;
    int top, batch, threads;
    bool json;
    bool logits; /* the model's output is logits: scores are their softmax, computed here */
    ms_resize_mode resize;
    const char *mean, *std; /* --mean, --std: ms_model_set_normalisation */
} options;

/* Lines of a text file, split in place. */
typedef struct {
    char *text;
    char **lines;
    int n;
} lines;

/* One image of the run: its path and, with --labels-csv, its true class (-1 unknown). */
typedef struct {
    char *path;
    int truth;
} item;

typedef struct {
    int images, top1, top5, failed;
} tally;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream classify --model FILE [--model FILE]... [--labels FILE] [--top K]\n"
            "                           [--json] [--backend ref|cpu|cuda] [--batch N] [--threads N]\n"
            "                           [--resize crop|stretch] [--labels-csv FILE]\n"
            "                           [--mean R,G,B --std R,G,B] IMAGE...\n"
            "\n"
            "Prints the top K classes (index, score, label) of each image. Several --model files\n"
            "are chained (e.g. an embedding extractor, then its classifier head). --labels-csv\n"
            "reads file,class lines (class: the 1001-way index) and also reports top-1 and top-5\n"
            "accuracy; without IMAGE arguments it classifies every file the CSV lists, relative\n"
            "to the CSV's folder. Defaults: --top 5 --backend cpu (oneDNN; ref: the plain-C\n"
            "reference) --batch 8 --threads (every core) --resize stretch (the whole image; crop:\n"
            "short side to size/0.875, centre crop). A model must end in a softmax, or in a\n"
            "fully-connected layer's logits (ONNX Gemm or MatMul, e.g. torchvision's Linear),\n"
            "whose softmax is printed (a note says so); anything else is refused: an embedding\n"
            "extractor needs its head.\n"
            "--mean/--std: per-channel normalisation on the pixels / 255 scale, for ONNX models\n"
            "that do not carry it in their metadata_props.\n"
            "\n"
            "Example:\n"
            "  m=$MAINSTREAM_DATA/models\n"
            "  mainstream classify --model $m/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite \\\n"
            "      --model $m/mobilenet_v1_1.0_224_quant_head_layers.tflite --labels $m/imagenet_labels.txt \\\n"
            "      --top 3 $MAINSTREAM_DATA/images/cat.bmp\n");
}

static ms_status read_lines(const char *path, lines *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    size_t size;
    ms_status st = ms_read_file(path, MAX_TEXT_BYTES, (unsigned char **)&out->text, &size, err);
    if (st != MS_OK) return st;
    int cap = 1;
    for (size_t i = 0; i < size; i++) cap += out->text[i] == '\n';
    out->lines = malloc(sizeof *out->lines * (size_t)cap);
    if (!out->lines) {
        free(out->text);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: no memory", path);
    }
    char *cursor = out->text, *line;
    while ((line = ms_text_next_line(&cursor))) out->lines[out->n++] = line;
    return MS_OK;
}

static void free_lines(lines *l)
{
    free(l->lines);
    free(l->text);
}

static void free_items(item *items, int n)
{
    for (int i = 0; i < n; i++) free(items[i].path);
    free(items);
}

/* The images to classify: the command line's, or (none given) every row of the CSV,
 * relative to its folder unless absolute. */
static ms_status collect_items(const options *o, int n_args, char **args, item **out, int *n_out,
                               ms_error *err)
{
    ms_class_labels csv = {0};
    ms_status st = MS_OK;
    if (o->labels_csv && (st = ms_class_labels_load(o->labels_csv, &csv, err))) return st;
    int n = n_args ? n_args : csv.n;
    item *items = calloc((size_t)(n ? n : 1), sizeof *items);
    if (!items) st = ms_errorf(err, MS_ERR_NOMEM, "no memory for %d images", n);
    char *dir_copy = o->labels_csv ? strdup(o->labels_csv) : NULL;
    const char *dir = dir_copy ? dirname(dir_copy) : ".";
    for (int i = 0; st == MS_OK && i < n; i++) {
        if (n_args) {
            items[i].path = strdup(args[i]);
            items[i].truth = o->labels_csv ? ms_class_labels_find(&csv, args[i]) : -1;
        } else {
            const char *f = csv.files[i];
            size_t len = strlen(dir) + 1 + strlen(f) + 1;
            if (f[0] == '/') items[i].path = strdup(f);
            else if ((items[i].path = malloc(len))) snprintf(items[i].path, len, "%s/%s", dir, f);
            items[i].truth = csv.classes[i];
        }
        if (!items[i].path) st = ms_errorf(err, MS_ERR_NOMEM, "no memory");
    }
    if (o->labels_csv && !dir_copy && st == MS_OK) st = ms_errorf(err, MS_ERR_NOMEM, "no memory");
    free(dir_copy);
    ms_class_labels_free(&csv);
    if (st != MS_OK) {
        if (items) free_items(items, n);
        return st;
    }
    *out = items;
    *n_out = n;
    return MS_OK;
}

/* Indices of the k largest scores, largest first. */
static void top_k(const float *scores, int n, int k, int *idx)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int c = 0; c < n; c++) {
            bool taken = false;
            for (int t = 0; t < j; t++) taken |= idx[t] == c;
            if (!taken && (best < 0 || scores[c] > scores[best])) best = c;
        }
        idx[j] = best;
    }
}

static const char *label_of(const lines *labels, int c)
{
    return labels && c < labels->n ? labels->lines[c] : "";
}

static void print_result(const options *o, const item *it, const float *scores, int n_classes,
                         const lines *labels, tally *t)
{
    int k = o->top < n_classes ? o->top : n_classes;
    int ranked = k > 5 ? k : (n_classes < 5 ? n_classes : 5); /* top-5 accuracy needs 5 */
    int idx[MAX_TOP] = {0};
    top_k(scores, n_classes, ranked, idx);
    if (it->truth >= 0) {
        t->images++;
        t->top1 += idx[0] == it->truth;
        for (int j = 0; j < ranked && j < 5; j++) t->top5 += idx[j] == it->truth;
    }
    if (o->json) {
        cJSON *obj = cJSON_CreateObject(), *top = cJSON_CreateArray();
        cJSON_AddStringToObject(obj, "image", it->path);
        if (o->logits) cJSON_AddStringToObject(obj, "scores", "softmax of the logits");
        if (it->truth >= 0) cJSON_AddNumberToObject(obj, "truth", it->truth);
        for (int j = 0; j < k; j++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "class", idx[j]);
            cJSON_AddStringToObject(e, "label", label_of(labels, idx[j]));
            cJSON_AddNumberToObject(e, "score", scores[idx[j]]);
            cJSON_AddItemToArray(top, e);
        }
        cJSON_AddItemToObject(obj, "top", top);
        char *s = cJSON_PrintUnformatted(obj);
        if (s) printf("%s\n", s);
        free(s);
        cJSON_Delete(obj);
        return;
    }
    printf("%s\n", it->path);
    for (int j = 0; j < k; j++)
        printf("  %4d  %.6f  %s\n", idx[j], scores[idx[j]], label_of(labels, idx[j]));
}

static void print_tally(const options *o, const tally *t)
{
    double n = t->images ? t->images : 1;
    if (o->json)
        printf("{\"images\": %d, \"top1\": %.4f, \"top5\": %.4f, \"failed\": %d}\n", t->images,
               t->top1 / n, t->top5 / n, t->failed);
    else
        printf("top-1 %.2f%% (%d/%d)  top-5 %.2f%% (%d/%d)  failed %d\n", 100 * t->top1 / n, t->top1,
               t->images, 100 * t->top5 / n, t->top5, t->images, t->failed);
}

/* Decodes images into the batch until it is full or the list ends; images that fail
 * are reported and skipped. Returns how many slots were filled, their items in `slots`. */
static int fill_batch(const ms_graph *g, const options *o, const item *items, int n, int *next,
                      float *in, int64_t in_numel, int batch, const item **slots, tally *t)
{
    int filled = 0;
    while (filled < batch && *next < n) {
        const item *it = &items[(*next)++];
        if (o->labels_csv && it->truth < 0) {
            fprintf(stderr, "mainstream classify: %s: not listed in %s\n", it->path, o->labels_csv);
            t->failed++;
            continue;
        }
        ms_error err;
        if (ms_image_load(it->path, &g->input_spec, o->resize, in + (size_t)filled * (size_t)in_numel,
                          &err) != MS_OK) {
            fprintf(stderr, "mainstream classify: %s\n", err.msg);
            t->failed++;
            continue;
        }
        slots[filled++] = it;
    }
    /* A short last batch: the unused slots run on zeros and their scores are ignored. */
    memset(in + (size_t)filled * (size_t)in_numel, 0, sizeof(float) * (size_t)(batch - filled) * (size_t)in_numel);
    return filled;
}

/* The softmax of n logits, in place (the largest subtracted first, so exp never overflows). */
static void softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (x[i] = expf(x[i] - max));
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / sum);
}

static ms_status classify_all(const ms_graph *g, ms_plan *plan, const options *o, const item *items,
                              int n, const lines *labels, tally *t, ms_error *err)
{
    const int batch = plan->opts.batch;
    float *in = malloc(sizeof(float) * (size_t)batch * (size_t)plan->in_numel);
    float *out = malloc(sizeof(float) * (size_t)batch * (size_t)plan->out_numel);
    const item **slots = malloc(sizeof *slots * (size_t)batch);
    ms_status st = MS_OK;
    if (!in || !out || !slots) st = ms_errorf(err, MS_ERR_NOMEM, "no memory for a batch of %d", batch);
    for (int next = 0; st == MS_OK && next < n;) {
        int filled = fill_batch(g, o, items, n, &next, in, plan->in_numel, batch, slots, t);
        if (!filled) break;
        st = ms_plan_run(plan, in, out, err);
        for (int b = 0; st == MS_OK && b < filled; b++) {
            float *scores = out + (size_t)b * (size_t)plan->out_numel;
            if (o->logits) softmax(scores, (int)plan->out_numel);
            print_result(o, slots[b], scores, (int)plan->out_numel, labels, t);
        }
        fflush(stdout);
    }
    free(slots);
    free(out);
    free(in);
    return st;
}

/* Returns 0 and fills o, or the exit status of --help (0) or a usage error (2) with *done. */
static int parse_options(int argc, char **argv, options *o, bool *done)
{
    static const struct option opts[] = {
        {"labels", required_argument, NULL, 'l'},  {"top", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},          {"backend", required_argument, NULL, 'b'},
        {"batch", required_argument, NULL, 'n'},   {"threads", required_argument, NULL, 't'},
        {"resize", required_argument, NULL, 'r'},  {"labels-csv", required_argument, NULL, 'c'},
        {"mean", required_argument, NULL, 'M'},    {"std", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    /* every core by default: classifying a folder is a throughput job */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){.backend = "cpu", .top = 5, .batch = 8, .threads = cores > 0 ? (int)cores : 1,
                   .resize = MS_RESIZE_STRETCH};
    *done = true;
    ms_cli c;
    int code, mode, bad = 0;
    ms_cli_begin(&c, "classify", usage, opts, "");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        switch (code) {
        case MS_CLI_EXIT: return c.exit_code;
        case 'l': o->labels_path = optarg; break;
        case 'c': o->labels_csv = optarg; break;
        case 'b':
            bad = ms_cli_backend(&c, optarg, &o->backend);
            break;
        case 'j': o->json = true; break;
        case 'k': bad = ms_cli_int(&c, optarg, 1, MAX_TOP, &o->top); break;
        case 'n': bad = ms_cli_int(&c, optarg, 1, 1024, &o->batch); break;
        case 't': bad = ms_cli_int(&c, optarg, 1, 1024, &o->threads); break;
        case 'r':
            if ((mode = ms_resize_mode_parse(optarg)) < 0) bad = ms_cli_fail(&c, "--resize: '%s' is not crop or stretch", optarg);
            else o->resize = (ms_resize_mode)mode;
            break;
        case 'M': o->mean = optarg; break;
        case 'S': o->std = optarg; break;
        }
    }
    if (bad) return bad;
    if (!c.n_models) return ms_cli_fail(&c, "no --model given");
    if (optind == argc && !o->labels_csv) return ms_cli_fail(&c, "no IMAGE given (nor --labels-csv)");
    memcpy(o->models, c.models, sizeof *o->models * (size_t)c.n_models);
    o->n_models = c.n_models;
    *done = false;
    return 0;
}

/* The node that computes tensor t, or NULL (an input or a constant). */
static const ms_node *producer_of(const ms_graph *g, int t)
{
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (g->nodes[i].output == t) return &g->nodes[i];
    return NULL;
}

/* A fully-connected layer whose output is the graph's, looking through a bias ADD (an
 * ONNX MatMul then Add); NULL when the output node is anything else. */
static const ms_node *logits_layer(const ms_graph *g, const ms_node *last)
{
    if (last && last->kind == MS_OP_ADD && last->n_inputs == 2 && !isfinite(last->act_max) &&
        !isfinite(last->act_min)) {
        int bias = g->tensors[last->inputs[1]].data ? 1 : g->tensors[last->inputs[0]].data ? 0 : -1;
        if (bias >= 0) last = producer_of(g, last->inputs[1 - bias]);
    }
    return last && last->kind == MS_OP_FULLY_CONNECTED ? last : NULL;
}

/* classify prints a class distribution. A softmax output is one. A fully-connected
 * layer's logits (no activation after it, two or more classes, the output one value per
 * class) become one by a softmax here (*logits). Anything else (an embedding extractor's
 * features, an app's sigmoid, a rectified or single-value layer) is refused, naming what
 * the model ends in. */
static ms_status check_classifier(const ms_graph *g, bool *logits, ms_error *err)
{
    const ms_node *last = ms_graph_output_node(g), *fc = logits_layer(g, last);
    const char *src = g->source ? g->source : "the model";
    *logits = false;
    if (last && last->kind == MS_OP_SOFTMAX) return MS_OK;
    if (fc) {
        const ms_tensor *w = &g->tensors[fc->inputs[1]], *y = &g->tensors[g->outputs[0]];
        int64_t classes = w->ndim == 2 ? w->shape[0] : 0;
        if (isfinite(fc->act_min) || isfinite(fc->act_max))
            return ms_errorf(err, MS_ERR_INVALID,
                             "%s: the output is not a class distribution (the model ends in a fully_connected "
                             "layer with a fused activation, not logits or softmax)", src);
        if (classes < 2 || ms_tensor_numel(y) != classes)
            return ms_errorf(err, MS_ERR_INVALID,
                             "%s: the output is not a class distribution (the model ends in a fully_connected "
                             "layer of %lld outputs giving %lld values, not two or more class logits)",
                             src, (long long)classes, (long long)ms_tensor_numel(y));
        *logits = true;
        return MS_OK;
    }
    return ms_errorf(err, MS_ERR_INVALID,
                     "%s: the output is not a class distribution (the model ends in %s, not softmax or a fully-"
                     "connected layer's logits): chain a classifier head with another --model",
                     src, last ? ms_op_name(last->kind) : "no single computed output");
}

int cmd_classify(int argc, char **argv)
{
    options o;
    bool done;
    int rc = parse_options(argc, argv, &o, &done);
    if (done) return rc;
    const ms_backend *backend = NULL;
    ms_error err = {0};
    ms_graph *g = NULL;
    ms_plan *plan = NULL;
    item *items = NULL;
    int n_items = 0;
    lines labels = {0};
    tally t = {0, 0, 0, 0};
    ms_status st = ms_backend_get(o.backend, &backend, &err);
    if (st == MS_OK) st = ms_model_load(o.models, o.n_models, &g, &err);
    if (st == MS_OK) st = check_classifier(g, &o.logits, &err);
    if (st == MS_OK) st = ms_model_set_normalisation(g, o.mean, o.std, &err);
    if (st == MS_OK && o.labels_path) st = read_lines(o.labels_path, &labels, &err);
    if (st == MS_OK) st = collect_items(&o, argc - optind, argv + optind, &items, &n_items, &err);
    if (st == MS_OK) {
        const ms_input_spec *s = &g->input_spec;
        ms_plan_options po = {.batch = n_items < o.batch ? (n_items ? n_items : 1) : o.batch, .threads = o.threads,
                              .precision = MS_PREC_FP32};
        st = ms_plan_compile(backend, g, &po, &plan, &err);
        if (st == MS_OK && plan->in_numel != (int64_t)s->height * s->width * s->channels)
            st = ms_errorf(&err, MS_ERR_UNSUPPORTED, "%s: input is not an image (%d x %d x %d pixels)",
                           g->source, s->height, s->width, s->channels);
    }
    if (st == MS_OK && o.logits && !o.json)
        printf("note: the model ends in a fully-connected layer's logits; scores are their softmax\n");
    if (st == MS_OK)
        st = classify_all(g, plan, &o, items, n_items, o.labels_path ? &labels : NULL, &t, &err);
    if (st == MS_OK && o.labels_csv) print_tally(&o, &t);
    if (st != MS_OK) fprintf(stderr, "mainstream classify: %s\n", err.msg);
    ms_plan_free(plan);
    free_items(items, n_items);
    free_lines(&labels);
    ms_graph_free(g);
    return st != MS_OK || t.failed ? 1 : 0;
}
