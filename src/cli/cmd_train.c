/* `mainstream train`: fine-tunes an app at every requested chokepoint of a base model
 * and writes its M-Package (weights, accuracy curve, event statistics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/data_args.h"
#include "formats/model.h"
#include "formats/mpackage.h"
#include "graph/cut.h"
#include "train/events.h"
#include "train/features.h"
#include "train/trainer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream train --model FILE... DATA [options] -o APP.mpkg\n"
            "\n"
            "Fine-tunes a binary classifier (the app) on a base model at every requested\n"
            "chokepoint: the layers before the cut stay frozen (their activations are computed\n"
            "once per image and cached), the layers after it and a new head (flatten -> fully\n"
            "connected -> sigmoid) are trained. Writes an M-Package with every chokepoint's\n"
            "weights, its accuracy curve (tpr, fpr on the validation split) and, from a video,\n"
            "the event statistics.\n"
            "\n"
            "DATA, one of:\n"
            "  --positive DIR --negative DIR      two folders of images\n"
            "  --classes DIR --positive-class NAME  a folder per class\n"
            "  --video FILE --labels CSV          a video with \"frame,present\" labels\n"
            "  [--val-video FILE --val-labels CSV]  a second video, for validation only\n"
            "options:\n"
            "  --chokepoints all|LIST   e.g. 3,7,15 (default all)\n"
            "  --epochs N (10)  --batch N (16)  --patience N (3: early stopping)\n"
            "  --optimizer sgd|adam (adam)  --lr X (1e-3 adam, 1e-2 sgd)  --momentum X (0.9)\n"
            "  --base-lr-scale X (1: the base layers after the cut learn at lr * X, the head at lr)\n"
            "  --weight-decay X (1e-4)  --schedule cosine|step|constant (cosine)\n"
            "  --augment N (0: extra cropped/flipped copies per training image)\n"
            "  --train-fraction F (0.8 images, 0.6 video, 1 with --val-video)\n"
            "  --frame-step N (1: every labelled video frame; N: every N-th)\n"
            "  --seed S (1)  --threads T (1)  --memory-mb M (2048: feature cache in memory)\n"
            "  --backend cpu|ref (cpu: oneDNN; runs the prefix, the training and the scoring)\n"
            "  --cp-threads N (chokepoints trained at once; default min(T, chokepoints); on cpu\n"
            "                 each train plan gets T / N threads)\n"
            "  --app NAME\n"
            "  --mean R,G,B --std R,G,B  input normalisation on the pixels / 255 scale (ONNX models\n"
            "                 without it in their metadata; e.g. 0.485,0.456,0.406 and 0.229,0.224,0.225)\n");
}

typedef struct {
    ms_data_args data;
    const char *chokepoints, *output, *app, *backend;
    int epochs, batch, patience, augment, threads, cp_threads;
    int optimizer, schedule;
    double lr, momentum, weight_decay, base_lr_scale, memory_mb;
    uint64_t seed;
} train_args;

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    *out = strtod(v, &end);
    if (*end || !(*out >= lo && *out <= hi)) {
        fprintf(stderr, "%s: '%s' is not a number in [%g, %g]\n", opt, v, lo, hi);
        return -1;
    }
    return 0;
}

static int parse(int argc, char **argv, train_args *a)
{
    *a = (train_args){.data.train_fraction = -1, .chokepoints = "all", .backend = "cpu", .epochs = 10, .batch = 16,
                      .patience = 3, .threads = 1, .optimizer = MS_OPT_ADAM, .schedule = MS_SCHED_COSINE, .lr = -1,
                      .momentum = 0.9, .weight_decay = 1e-4, .base_lr_scale = 1, .memory_mb = 2048, .seed = 1};
    for (int i = 1; i < argc; i++) {
        int r = ms_data_arg(&a->data, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        const char *opt = argv[i];
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "train: unknown option or missing value: %s\n", opt);
            return 2;
        }
        const char *v = argv[++i];
        double x = 0;
        int bad = 0;
        if (!strcmp(opt, "-o")) a->output = v;
        else if (!strcmp(opt, "--chokepoints")) a->chokepoints = v;
        else if (!strcmp(opt, "--app")) a->app = v;
        else if (!strcmp(opt, "--backend")) a->backend = v;
        else if (!strcmp(opt, "--epochs")) bad = parse_num(opt, v, 1, 100000, &x), a->epochs = (int)x;
        else if (!strcmp(opt, "--batch")) bad = parse_num(opt, v, 1, 4096, &x), a->batch = (int)x;
        else if (!strcmp(opt, "--patience")) bad = parse_num(opt, v, 1, 100000, &x), a->patience = (int)x;
        else if (!strcmp(opt, "--augment")) bad = parse_num(opt, v, 0, 100, &x), a->augment = (int)x;
        else if (!strcmp(opt, "--threads")) bad = parse_num(opt, v, 1, 1024, &x), a->threads = (int)x;
        else if (!strcmp(opt, "--cp-threads")) bad = parse_num(opt, v, 1, 1024, &x), a->cp_threads = (int)x;
        else if (!strcmp(opt, "--lr")) bad = parse_num(opt, v, 1e-12, 100, &a->lr);
        else if (!strcmp(opt, "--momentum")) bad = parse_num(opt, v, 0, 1, &a->momentum);
        else if (!strcmp(opt, "--weight-decay")) bad = parse_num(opt, v, 0, 1, &a->weight_decay);
        else if (!strcmp(opt, "--base-lr-scale")) bad = parse_num(opt, v, 1e-6, 1e3, &a->base_lr_scale);
        else if (!strcmp(opt, "--memory-mb")) bad = parse_num(opt, v, 0, 1e9, &a->memory_mb);
        else if (!strcmp(opt, "--seed")) bad = parse_num(opt, v, 0, 9007199254740992.0, &x), a->seed = (uint64_t)x;
        else if (!strcmp(opt, "--optimizer")) {
            if ((a->optimizer = ms_optimizer_parse(v)) < 0) bad = fprintf(stderr, "--optimizer: '%s' is not sgd or adam\n", v);
        } else if (!strcmp(opt, "--schedule")) {
            if ((a->schedule = ms_schedule_parse(v)) < 0)
                bad = fprintf(stderr, "--schedule: '%s' is not cosine, step or constant\n", v);
        } else {
            fprintf(stderr, "train: unknown option %s\n", opt);
            return 2;
        }
        if (bad) return 2;
        if ((!strcmp(opt, "--epochs") || !strcmp(opt, "--batch") || !strcmp(opt, "--patience") ||
             !strcmp(opt, "--augment") || !strcmp(opt, "--threads") || !strcmp(opt, "--cp-threads")) &&
            x != (int)x) {
            fprintf(stderr, "%s: '%s' is not a whole number\n", opt, v);
            return 2;
        }
    }
    if (!a->data.n_models || !a->output) {
        fprintf(stderr, "train: --model and -o are required (see mainstream train --help)\n");
        return 2;
    }
    if (a->lr < 0) a->lr = a->optimizer == MS_OPT_SGD ? 1e-2 : 1e-3;
    if (!ms_backend_find(a->backend)) {
        fprintf(stderr, "--backend: '%s' is not cpu or ref\n", a->backend);
        return 2;
    }
    return -1;
}

/* "all" or a comma-separated list of chokepoint indices of a model with n of them. */
static ms_status parse_chokepoints(const char *spec, int n, int **out, int *count, ms_error *err)
{
    *out = calloc((size_t)n + 1, sizeof **out);
    *count = 0;
    if (!*out) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    bool *want = calloc((size_t)n + 1, sizeof *want);
    if (!want) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    if (!strcmp(spec, "all")) {
        for (int i = 0; i < n; i++) want[i] = true;
    } else {
        for (const char *p = spec; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || (*end && *end != ',') || v < 0 || v >= n) {
                free(want);
                return ms_errorf(err, MS_ERR_INVALID, "--chokepoints: '%s' is not 'all' or a list of indices 0..%d", spec,
                                 n - 1);
            }
            want[v] = true;
            p = *end ? end + 1 : end;
        }
    }
    for (int i = 0; i < n; i++)
        if (want[i]) (*out)[(*count)++] = i;
    free(want);
    return MS_OK;
}

/* Event statistics from every labelled frame of the videos, and the miss correlation of
 * the trained classifiers, pooled over chokepoints, on the validation samples (with
 * --frame-step, consecutive samples are that many frames apart). */
static ms_status video_events(const ms_dataset *d, const ms_cp_result *res, int n_cps, ms_event_stats *ev, ms_error *err)
{
    int64_t most = d->n_samples;
    for (int src = 0; src < d->n_sources; src++)
        if (d->sources[src].n_labels > most) most = d->sources[src].n_labels;
    bool *present = malloc((size_t)most + 1), *detected = malloc((size_t)most + 1);
    if (!present || !detected) {
        free(present);
        free(detected);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    ms_status s = MS_OK;
    ms_miss_counts mc = {0};
    for (int src = 0; src < d->n_sources && !s; src++) {
        const ms_source *so = &d->sources[src];
        if (!so->video) continue;
        for (int64_t f = 0; f < so->n_labels; f++) present[f] = so->labels[f] == 1;
        s = ms_events_add(present, so->n_labels, so->fps, ev, err);
        for (int k = 0; k < n_cps && !s; k++) {
            int64_t n = 0;
            for (int64_t i = 0; i < d->n_samples; i++)
                if (d->samples[i].source == src && !d->samples[i].train) {
                    present[n] = d->samples[i].positive;
                    detected[n++] = res[k].scores[i] >= 0.5f;
                }
            ms_miss_count(present, detected, n, &mc);
        }
    }
    ev->correlation = ms_miss_correlation(&mc);
    free(present);
    free(detected);
    return s;
}

/* Thread-seconds of the cache against the naive way (a full forward at every step, for
 * each chokepoint separately: the prefix of chokepoint c again for every row trained or
 * validated there) and the floor (one forward per image, then only the suffixes'
 * forward, backward and update), docs/trainer.md. */
static void print_costs(const ms_feature_cache *fc, const ms_cp_result *res, int n_cps)
{
    double prefix = 0, training = 0, steps = 0, naive = 0, upto = 0;
    for (int k = 0; k < n_cps; k++) prefix += fc->segment_cpu[k];
    for (int k = 0; k < n_cps; k++) {
        upto += fc->segment_cpu[k] / (double)fc->n_rows; /* prefix of chokepoint k, per row */
        training += res[k].seconds;
        steps += res[k].step_seconds;
        naive += res[k].seconds + upto * (double)(res[k].rows_trained + res[k].rows_validated);
    }
    printf("cost (thread-seconds): cache %.1f (prefix %.1f + training %.1f), floor %.1f, naive %.1f: "
           "naive/cache %.2f, cache/floor %.2f\n",
           prefix + training, prefix, training, prefix + steps, naive, naive / (prefix + training),
           (prefix + training) / (prefix + steps));
}

static char *app_name(const char *output)
{
    const char *base = strrchr(output, '/');
    base = base ? base + 1 : output;
    char *name = strdup(base);
    if (name && strchr(name, '.')) *strchr(name, '.') = '\0';
    return name;
}

static int run(const train_args *a)
{
    ms_error err;
    ms_graph *base = NULL;
    ms_dataset d = {0};
    ms_feature_cache fc = {0};
    ms_mpackage *pkg = NULL;
    ms_chokepoint *all = NULL;
    ms_cp_result *res = NULL;
    int *cps = NULL, n_cps = 0, n_all = 0;
    char *name = a->app ? strdup(a->app) : app_name(a->output);
    bool tty = isatty(2);
    ms_status s = name ? MS_OK : ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
    if (!s) s = ms_model_load(a->data.models, a->data.n_models, &base, &err);
    if (!s) s = ms_model_set_normalisation(base, a->data.mean, a->data.std, &err);
    if (!s) s = ms_graph_chokepoints(base, &all, &n_all, &err);
    if (!s) s = parse_chokepoints(a->chokepoints, n_all, &cps, &n_cps, &err);
    if (!s) s = ms_data_load(&a->data, a->seed, false, &d, &err);
    int64_t tp, tn, vp, vn;
    ms_dataset_counts(&d, true, &tp, &tn);
    ms_dataset_counts(&d, false, &vp, &vn);
    if (!s && vp + vn == 0)
        s = ms_errorf(&err, MS_ERR_INVALID, "the validation split is empty: lower --train-fraction or add --val-video");
    ms_feature_options fo = {a->backend, a->threads, a->batch, a->augment, a->seed, (size_t)(a->memory_mb * 1048576.0),
                             tty};
    if (!s) s = ms_features_build(base, &d, cps, n_cps, &fo, &fc, &err);
    if (!s) s = ms_mpackage_new(name, base, &pkg, &err);
    if (!s) snprintf(pkg->resize, sizeof pkg->resize, "%s", ms_resize_mode_name(MS_TRAIN_RESIZE));
    if (!s && !(res = calloc((size_t)n_cps, sizeof *res))) s = ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
    /* Chokepoints are independent, so threads go to training several at once first
     * (no synchronisation; measured faster than OpenMP threads inside the cpu plans on
     * a loaded machine, docs/trainer.md "Threads"); threads left over when there are
     * fewer chokepoints than threads go inside each cpu plan (ref plans use one). */
    int at_once = a->cp_threads ? a->cp_threads : a->threads < n_cps ? a->threads : n_cps > 0 ? n_cps : 1;
    int per_plan = strcmp(a->backend, "ref") && a->threads / at_once > 1 ? a->threads / at_once : 1;
    ms_trainer_options to = {.backend = a->backend,
                             .threads = at_once,
                             .plan_threads = per_plan,
                             .batch = a->batch,
                             .epochs = a->epochs,
                             .patience = a->patience,
                             .optimizer = (ms_optimizer_kind)a->optimizer,
                             .schedule = (ms_schedule_kind)a->schedule,
                             .lr = a->lr,
                             .momentum = a->momentum,
                             .weight_decay = a->weight_decay,
                             .base_lr_scale = a->base_lr_scale,
                             .seed = a->seed,
                             .progress = tty};
    if (!s) s = ms_train_chokepoints(base, &d, &fc, &to, pkg, res, &err);
    if (!s) {
        bool video = false;
        for (int i = 0; i < d.n_sources; i++) video |= d.sources[i].video;
        if (video) s = video_events(&d, res, n_cps, &pkg->events, &err);
        pkg->training = (ms_train_settings){.epochs = a->epochs,
                                            .batch = a->batch,
                                            .lr = a->lr,
                                            .momentum = a->momentum,
                                            .weight_decay = a->weight_decay,
                                            .seed = a->seed,
                                            .augment = a->augment > 0,
                                            .train_frames = tp + tn,
                                            .val_frames = vp + vn,
                                            .base_lr_scale = a->base_lr_scale};
        snprintf(pkg->training.optimizer, sizeof pkg->training.optimizer, "%s", ms_optimizer_name(a->optimizer));
        snprintf(pkg->training.schedule, sizeof pkg->training.schedule, "%s", ms_schedule_name(a->schedule));
    }
    if (!s) s = ms_mpackage_save(pkg, a->output, &err);
    if (!s) {
        printf("app %s: %lld training frames (%lld positive), %lld validation (%lld positive); features %.1f s decode + "
               "%.1f s prefix for %lld rows\n",
               name, (long long)(tp + tn), (long long)tp, (long long)(vp + vn), (long long)vp, fc.seconds_decode,
               fc.seconds_prefix, (long long)fc.n_rows);
        /* img/s: rows trained per second of the chokepoint's whole training (validation
         * included); step img/s: per second of forward, backward and update alone */
        printf("chokepoint    tpr    fpr  epochs  seconds   img/s  step img/s\n");
        for (int k = 0; k < n_cps; k++)
            printf("%10d  %5.3f  %5.3f  %6d  %7.2f  %6.0f  %10.1f\n", res[k].point.chokepoint, res[k].point.tpr,
                   res[k].point.fpr, res[k].epochs_run, res[k].seconds,
                   res[k].seconds > 0 ? res[k].rows_trained / res[k].seconds : 0,
                   res[k].step_seconds > 0 ? res[k].rows_trained / res[k].step_seconds : 0);
        print_costs(&fc, res, n_cps);
        if (pkg->events.known)
            printf("events: %d, mean length %.0f ms, frequency %.3f, %.2f per minute, correlation %.3f\n",
                   pkg->events.n_lengths, pkg->events.length_mean_ms, pkg->events.frequency,
                   pkg->events.events_per_minute, pkg->events.correlation);
    }
    if (s) fprintf(stderr, "mainstream train: %s\n", err.msg);
    ms_cp_results_free(res, n_cps);
    free(res);
    ms_mpackage_free(pkg);
    ms_features_free(&fc);
    ms_dataset_free(&d);
    free(all);
    free(cps);
    ms_graph_free(base);
    free(name);
    return s ? 1 : 0;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int r = parse(argc, argv, &a);
    return r >= 0 ? r : run(&a);
}
