/* `mainstream evaluate`: measures an M-Package's per-chokepoint accuracy (tpr and fpr at
 * the package's decision threshold) on the labelled data given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "cli/commands.h"
#include "cli/data_args.h"
#include "formats/model.h"
#include "formats/mpackage.h"
#include "train/features.h"
#include "train/trainer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream evaluate --package APP.mpkg --model FILE... DATA [--json]\n"
            "\n"
            "Runs the app at every chokepoint it was trained at on all the labelled frames of\n"
            "DATA (the same data options as train; no split: every frame counts) and prints\n"
            "the true- and false-positive rates. --json prints\n"
            "{\"chokepoints\": [{\"index\", \"tpr\", \"fpr\", \"positives\", \"negatives\"}, ...]}.\n"
            "Options: --batch N (16)  --threads T (1)  --memory-mb M (2048)  --backend cpu|ref (cpu)\n"
            "         --mean R,G,B --std R,G,B (input normalisation, pixels / 255 scale; see train)\n");
}

typedef struct {
    ms_data_args data;
    const char *package, *backend;
    bool json;
    int batch, threads;
    double memory_mb;
} eval_args;

static int parse(int argc, char **argv, eval_args *a)
{
    *a = (eval_args){.data.train_fraction = -1, .backend = "cpu", .batch = 16, .threads = 1, .memory_mb = 2048};
    for (int i = 1; i < argc; i++) {
        int r = ms_data_arg(&a->data, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        const char *opt = argv[i];
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(opt, "--json")) {
            a->json = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "evaluate: unknown option or missing value: %s\n", opt);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        long n = 0;
        if (!strcmp(opt, "--package")) a->package = v;
        else if (!strcmp(opt, "--backend")) a->backend = v;
        else if (!strcmp(opt, "--batch") || !strcmp(opt, "--threads") || !strcmp(opt, "--memory-mb")) {
            n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000) {
                fprintf(stderr, "%s: '%s' is not a whole number in [1, 1000000]\n", opt, v);
                return 2;
            }
            if (!strcmp(opt, "--batch")) a->batch = (int)n;
            else if (!strcmp(opt, "--threads")) a->threads = (int)n;
            else a->memory_mb = (double)n;
        } else {
            fprintf(stderr, "evaluate: unknown option %s\n", opt);
            return 2;
        }
    }
    if (!a->package || !a->data.n_models) {
        fprintf(stderr, "evaluate: --package and --model are required (see mainstream evaluate --help)\n");
        return 2;
    }
    return -1;
}

static ms_status print_json(const ms_curve_point *pts, int n, ms_error *err)
{
    cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "chokepoints") : NULL;
    bool ok = arr != NULL;
    for (int i = 0; ok && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(arr, o) && cJSON_AddNumberToObject(o, "index", pts[i].chokepoint) &&
             cJSON_AddNumberToObject(o, "tpr", pts[i].tpr) && cJSON_AddNumberToObject(o, "fpr", pts[i].fpr) &&
             cJSON_AddNumberToObject(o, "positives", (double)pts[i].positives) &&
             cJSON_AddNumberToObject(o, "negatives", (double)pts[i].negatives);
    }
    ms_status s = ok ? ms_json_write("-", root, false, err) : ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    cJSON_Delete(root);
    return s;
}

static int run(const eval_args *a)
{
    ms_error err;
    ms_mpackage *p = NULL;
    ms_graph *base = NULL, *branch = NULL;
    ms_dataset d = {0};
    ms_feature_cache fc = {0};
    int *cps = NULL;
    float *scores = NULL;
    ms_curve_point *pts = NULL;
    ms_status s = ms_mpackage_load(a->package, &p, &err);
    if (!s) s = ms_model_load(a->data.models, a->data.n_models, &base, &err);
    if (!s) s = ms_model_set_normalisation(base, a->data.mean, a->data.std, &err);
    if (!s) s = ms_mpackage_check_base(p, base, &err);
    if (!s && p->n_curve < 1) s = ms_errorf(&err, MS_ERR_INVALID, "%s: the package has no chokepoints", a->package);
    if (!s) s = ms_data_load(&a->data, 1, true, &d, &err);
    if (!s) {
        cps = malloc((size_t)p->n_curve * sizeof *cps);
        pts = calloc((size_t)p->n_curve, sizeof *pts);
        scores = malloc((size_t)d.n_samples * sizeof *scores);
        if (!cps || !pts || !scores) s = ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
        for (int i = 0; !s && i < p->n_curve; i++) cps[i] = p->curve[i].chokepoint;
    }
    ms_feature_options fo = {a->backend, a->threads, a->batch, 0, 1, (size_t)(a->memory_mb * 1048576.0), isatty(2)};
    if (!s) s = ms_features_build(base, &d, cps, p->n_curve, &fo, &fc, &err);
    for (int k = 0; !s && k < p->n_curve; k++) {
        s = ms_mpackage_branch(p, base, cps[k], &branch, &err);
        if (!s) s = ms_branch_scores(branch, &fc, k, (int)d.n_samples, a->backend, a->batch, scores, &err);
        if (!s) pts[k] = ms_curve_point_from_scores(&d, scores, p->curve[k].threshold, true, false, cps[k]);
        ms_graph_free(branch);
        branch = NULL;
    }
    if (!s && a->json) s = print_json(pts, p->n_curve, &err);
    if (!s && !a->json) {
        printf("chokepoint    tpr    fpr  positives  negatives\n");
        for (int k = 0; k < p->n_curve; k++)
            printf("%10d  %5.3f  %5.3f  %9lld  %9lld\n", pts[k].chokepoint, pts[k].tpr, pts[k].fpr,
                   (long long)pts[k].positives, (long long)pts[k].negatives);
    }
    if (s) fprintf(stderr, "mainstream evaluate: %s\n", err.msg);
    free(pts);
    free(scores);
    free(cps);
    ms_features_free(&fc);
    ms_dataset_free(&d);
    ms_graph_free(base);
    ms_mpackage_free(p);
    return s ? 1 : 0;
}

int cmd_evaluate(int argc, char **argv)
{
    eval_args a;
    int r = parse(argc, argv, &a);
    return r >= 0 ? r : run(&a);
}
