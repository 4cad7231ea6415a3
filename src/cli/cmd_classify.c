/* `mainstream classify`: load a model (one or more chained .tflite files), compile it on
 * a backend for a batch of images, decode and normalise each image with the model's
 * input spec, run the batches and print each image's top classes; with --labels-csv,
 * also top-1 and top-5 accuracy against a file,class CSV. */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "base/file.h"
#include "cli/commands.h"
#include "formats/model.h"
#include "media/image.h"

#define MAX_MODELS 8
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
            "                           [--json] [--backend ref|cpu] [--batch N] [--threads N]\n"
            "                           [--resize crop|stretch] [--labels-csv FILE]\n"
            "                           [--mean R,G,B --std R,G,B] IMAGE...\n"
            "\n"
            "Prints the top K classes (index, score, label) of each image. Several --model files\n"
            "are chained (e.g. an embedding extractor, then its classifier head). --labels-csv\n"
            "reads file,class lines (class: the 1001-way index) and also reports top-1 and top-5\n"
            "accuracy; without IMAGE arguments it classifies every file the CSV lists, relative\n"
            "to the CSV's folder. Defaults: --top 5 --backend ref --batch 8 --threads 1\n"
            "--resize stretch (the whole image; crop: short side to size/0.875, centre crop).\n"
            "--mean/--std: per-channel normalisation on the pixels / 255 scale, for ONNX models\n"
            "that do not carry it in their metadata_props.\n");
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
    for (char *p = out->text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r') p[n - 1] = '\0';
        out->lines[out->n++] = p;
        p = nl ? nl + 1 : p + n;
    }
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

/* The class of `path` in the CSV, by file name; -1 if absent. */
static int csv_class(const lines *csv, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    for (int i = 1; i < csv->n; i++)
        if (!strncmp(csv->lines[i], base, n) && csv->lines[i][n] == ',') return atoi(csv->lines[i] + n + 1);
    return -1;
}

/* The images to classify: the command line's, or (none given) every row of the CSV. */
static ms_status collect_items(const options *o, int n_args, char **args, item **out, int *n_out,
                               ms_error *err)
{
    lines csv = {0};
    ms_status st = MS_OK;
    if (o->labels_csv) {
        st = read_lines(o->labels_csv, &csv, err);
        if (st != MS_OK) return st;
        if (csv.n < 1 || strcmp(csv.lines[0], "file,class"))
            st = ms_errorf(err, MS_ERR_FORMAT, "%s: line 1: expected the header \"file,class\"", o->labels_csv);
    }
    int n = n_args ? n_args : (csv.n > 0 ? csv.n - 1 : 0);
    item *items = calloc((size_t)(n ? n : 1), sizeof *items);
    if (st == MS_OK && !items) st = ms_errorf(err, MS_ERR_NOMEM, "no memory for %d images", n);
    char *dir_copy = o->labels_csv ? strdup(o->labels_csv) : NULL;
    const char *dir = dir_copy ? dirname(dir_copy) : ".";
    for (int i = 0; st == MS_OK && i < n; i++) {
        if (n_args) {
            items[i].path = strdup(args[i]);
        } else {
            const char *row = csv.lines[i + 1];
            const char *comma = strchr(row, ',');
            if (!comma || comma == row) {
                st = ms_errorf(err, MS_ERR_FORMAT, "%s: line %d: expected file,class", o->labels_csv, i + 2);
                break;
            }
            size_t len = strlen(dir) + 1 + (size_t)(comma - row) + 1;
            if ((items[i].path = malloc(len)))
                snprintf(items[i].path, len, "%s/%.*s", dir, (int)(comma - row), row);
        }
        if (!items[i].path) st = ms_errorf(err, MS_ERR_NOMEM, "no memory");
        else items[i].truth = o->labels_csv ? csv_class(&csv, items[i].path) : -1;
    }
    free(dir_copy);
    free_lines(&csv);
    if (st != MS_OK) {
        free_items(items, n);
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
        for (int b = 0; st == MS_OK && b < filled; b++)
            print_result(o, slots[b], out + (size_t)b * (size_t)plan->out_numel, (int)plan->out_numel,
                         labels, t);
        fflush(stdout);
    }
    free(slots);
    free(out);
    free(in);
    return st;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < lo || x > hi) {
        fprintf(stderr, "mainstream classify: %s must be an integer in [%d, %d], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Returns 0 and fills o, or the exit status for a usage error (2) or --help (0 with *done). */
static int parse_options(int argc, char **argv, options *o, bool *done)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},   {"labels", required_argument, NULL, 'l'},
        {"top", required_argument, NULL, 'k'},     {"json", no_argument, NULL, 'j'},
        {"backend", required_argument, NULL, 'b'}, {"batch", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'}, {"resize", required_argument, NULL, 'r'},
        {"labels-csv", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {"mean", required_argument, NULL, 'M'},    {"std", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    *o = (options){.backend = "ref", .top = 5, .batch = 8, .threads = 1, .resize = MS_RESIZE_STRETCH};
    *done = false;
    optind = 1;
    int c, mode;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o->n_models == MAX_MODELS) {
                fprintf(stderr, "mainstream classify: at most %d --model files\n", MAX_MODELS);
                return 2;
            }
            o->models[o->n_models++] = optarg;
            break;
        case 'l': o->labels_path = optarg; break;
        case 'c': o->labels_csv = optarg; break;
        case 'b': o->backend = optarg; break;
        case 'j': o->json = true; break;
        case 'k': if (parse_int("--top", optarg, 1, MAX_TOP, &o->top)) return 2; break;
        case 'n': if (parse_int("--batch", optarg, 1, 1024, &o->batch)) return 2; break;
        case 't': if (parse_int("--threads", optarg, 1, 1024, &o->threads)) return 2; break;
        case 'r':
            if ((mode = ms_resize_mode_parse(optarg)) < 0) {
                fprintf(stderr, "mainstream classify: --resize must be crop or stretch, got '%s'\n", optarg);
                return 2;
            }
            o->resize = (ms_resize_mode)mode;
            break;
        case 'M': o->mean = optarg; break;
        case 'S': o->std = optarg; break;
        case 'h': usage(stdout); *done = true; return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o->n_models || (optind == argc && !o->labels_csv)) {
        fprintf(stderr, "mainstream classify: need --model and at least one IMAGE (or --labels-csv)\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

int cmd_classify(int argc, char **argv)
{
    options o;
    bool done;
    int rc = parse_options(argc, argv, &o, &done);
    if (rc || done) return rc;
    const ms_backend *backend = ms_backend_find(o.backend);
    if (!backend) {
        fprintf(stderr, "mainstream classify: unknown backend '%s'\n", o.backend);
        return 2;
    }
    ms_error err = {0};
    ms_graph *g = NULL;
    ms_plan *plan = NULL;
    item *items = NULL;
    int n_items = 0;
    lines labels = {0};
    tally t = {0, 0, 0, 0};
    ms_status st = ms_model_load(o.models, o.n_models, &g, &err);
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
