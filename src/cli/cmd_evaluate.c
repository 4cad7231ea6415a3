/* `mainstream evaluate`: measures an M-Package's per-chokepoint accuracy (tpr and fpr at
 * the package's decision threshold) on the labelled data given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/data_args.h"
#include "formats/model.h"
#include "formats/mpackage.h"
#include "train/features.h"
#include "train/trainer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream evaluate --package APP.mpkg --model FILE [--model FILE]... DATA [--json]\n"
            "\n"
            "Runs the app at every chokepoint it was trained at on all the labelled frames of\n"
            "DATA (the same data options as train; no split: every frame counts) and prints\n"
            "the true- and false-positive rates. --json prints\n"
            "{\"chokepoints\": [{\"index\", \"tpr\", \"fpr\", \"positives\", \"negatives\"}, ...]}.\n"
            "Options: --batch N (16)  --threads T (every core)  --memory-mb M (2048)  --backend cpu|ref (cpu)\n"
            "         --mean R,G,B --std R,G,B (input normalisation, pixels / 255 scale; see train)\n"
            "         -q, -v (fewer or more log messages)\n"
            "\n"
            "Example:\n"
            "  mainstream evaluate --package out/default/person.mpkg \\\n"
            "      --model $MAINSTREAM_DATA/models/mobilenet_v1_0.25_128_quant.tflite \\\n"
            "      --video $MAINSTREAM_DATA/videos/person.mp4 --labels $MAINSTREAM_DATA/videos/person.labels.csv\n");
}

typedef struct {
    ms_data_args data;
    const char *package, *backend;
    bool json;
    int batch, threads;
    double memory_mb;
} eval_args;

/* -1 when parsed, else the exit status (0 after --help, 2 on a usage error). */
static int parse(int argc, char **argv, eval_args *a)
{
    static const struct option opts[] = {
        MS_DATA_OPTIONS,
        {"package", required_argument, NULL, 'p'}, {"backend", required_argument, NULL, 'b'},
        {"batch", required_argument, NULL, 'n'},   {"threads", required_argument, NULL, 't'},
        {"memory-mb", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN); /* scoring every frame is a throughput job */
    *a = (eval_args){.data.train_fraction = -1, .backend = "cpu", .batch = 16, .threads = cores > 0 ? (int)cores : 1,
                     .memory_mb = 2048};
    ms_cli c;
    int code, bad = 0, mb = 0;
    ms_cli_begin(&c, "evaluate", usage, opts, "");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        if (code == MS_CLI_EXIT) return c.exit_code;
        if ((bad = ms_data_option(&c, &a->data, code, optarg)) >= 0) continue;
        bad = 0;
        switch (code) {
        case 'p': a->package = optarg; break;
        case 'b':
            bad = ms_cli_backend(&c, optarg, &a->backend);
            break;
        case 'n': bad = ms_cli_int(&c, optarg, 1, 1000000, &a->batch); break;
        case 't': bad = ms_cli_int(&c, optarg, 1, 1024, &a->threads); break;
        case 'm':
            bad = ms_cli_int(&c, optarg, 1, 1000000, &mb);
            a->memory_mb = mb;
            break;
        case 'j': a->json = true; break;
        }
    }
    if (bad) return bad;
    if (optind < argc) return ms_cli_fail(&c, "unexpected argument '%s' (give each model file its own --model)", argv[optind]);
    if (!a->package || !c.n_models) return ms_cli_fail(&c, "--package and --model are required");
    memcpy(a->data.models, c.models, sizeof *c.models * (size_t)c.n_models);
    a->data.n_models = c.n_models;
    return -1;
}

static ms_status print_json(const ms_curve_point *pts, int n, ms_error *err)
{
    cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "chokepoints") : NULL;
    bool ok = arr != NULL && ms_json_add_version(root, 1);
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
