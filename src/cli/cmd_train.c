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
#include "train/trainlog.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mainstream train --model FILE [--model FILE]... DATA [options] -o APP.mpkg\n"
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
            "  --seed S (1)  --threads T (every core)  --memory-mb M (2048: feature cache in memory)\n"
            "  --backend cpu|ref (cpu: oneDNN; runs the prefix, the training and the scoring)\n"
            "  --cp-threads N (chokepoints trained at once; default min(T, chokepoints); on cpu\n"
            "                 each train plan gets T / N threads)\n"
            "  --app NAME\n"
            "  --log PREFIX (default: -o without its extension) writes PREFIX.epochs.csv (per\n"
            "                 chokepoint and epoch: losses, val accuracy, tpr, fpr) and\n"
            "                 PREFIX.curve.svg (tpr and fpr against the chokepoint); --no-log: neither\n"
            "  --mean R,G,B --std R,G,B  input normalisation on the pixels / 255 scale (ONNX models\n"
            "                 without it in their metadata; e.g. 0.485,0.456,0.406 and 0.229,0.224,0.225)\n"
            "  -o, --output APP.mpkg;  -q, -v (fewer or more log messages)\n"
            "\n"
            "Example:\n"
            "  d=$MAINSTREAM_DATA\n"
            "  mainstream train --model $d/models/mobilenet_v1_0.25_128_quant.tflite --video $d/videos/car.mp4 \\\n"
            "      --labels $d/videos/car.labels.csv --chokepoints 11,13,15 --epochs 3 -o car.mpkg\n");
}

typedef struct {
    ms_data_args data;
    const char *chokepoints, *output, *app, *backend, *log;
    bool no_log;
    int epochs, batch, patience, augment, threads, cp_threads;
    int optimizer, schedule;
    double lr, momentum, weight_decay, base_lr_scale, memory_mb;
    uint64_t seed;
} train_args;

static long online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* -1 when parsed, else the exit status (0 after --help, 2 on a usage error). */
static int parse(int argc, char **argv, train_args *a)
{
    enum { O_CHOKEPOINTS = 1, O_APP, O_BACKEND, O_EPOCHS, O_BATCH, O_PATIENCE, O_AUGMENT, O_THREADS, O_CP_THREADS,
           O_LR, O_MOMENTUM, O_WEIGHT_DECAY, O_BASE_LR_SCALE, O_MEMORY_MB, O_SEED, O_OPTIMIZER, O_SCHEDULE, O_LOG,
           O_NO_LOG };
    static const struct option opts[] = {
        MS_DATA_OPTIONS,
        {"chokepoints", required_argument, NULL, O_CHOKEPOINTS}, {"app", required_argument, NULL, O_APP},
        {"backend", required_argument, NULL, O_BACKEND},         {"epochs", required_argument, NULL, O_EPOCHS},
        {"batch", required_argument, NULL, O_BATCH},             {"patience", required_argument, NULL, O_PATIENCE},
        {"augment", required_argument, NULL, O_AUGMENT},         {"threads", required_argument, NULL, O_THREADS},
        {"cp-threads", required_argument, NULL, O_CP_THREADS},   {"lr", required_argument, NULL, O_LR},
        {"momentum", required_argument, NULL, O_MOMENTUM},       {"weight-decay", required_argument, NULL, O_WEIGHT_DECAY},
        {"base-lr-scale", required_argument, NULL, O_BASE_LR_SCALE}, {"memory-mb", required_argument, NULL, O_MEMORY_MB},
        {"seed", required_argument, NULL, O_SEED},               {"optimizer", required_argument, NULL, O_OPTIMIZER},
        {"schedule", required_argument, NULL, O_SCHEDULE},       {"log", required_argument, NULL, O_LOG},
        {"no-log", no_argument, NULL, O_NO_LOG},                 {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    *a = (train_args){.data.train_fraction = -1, .chokepoints = "all", .backend = "cpu", .epochs = 10, .batch = 16,
                      .patience = 3, .threads = (int)online_cores(), .optimizer = MS_OPT_ADAM,
                      .schedule = MS_SCHED_COSINE, .lr = -1, .momentum = 0.9, .weight_decay = 1e-4,
                      .base_lr_scale = 1, .memory_mb = 2048, .seed = 1};
    ms_cli c;
    int code, bad = 0;
    ms_cli_begin(&c, "train", usage, opts, "o:");
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        if (code == MS_CLI_EXIT) return c.exit_code;
        if ((bad = ms_data_option(&c, &a->data, code, optarg)) >= 0) continue;
        bad = 0;
        switch (code) {
        case 'o': a->output = optarg; break;
        case O_CHOKEPOINTS: a->chokepoints = optarg; break;
        case O_APP: a->app = optarg; break;
        case O_LOG: a->log = optarg; break;
        case O_NO_LOG: a->no_log = true; break;
        case O_BACKEND:
            bad = ms_cli_backend(&c, optarg, &a->backend);
            break;
        case O_EPOCHS: bad = ms_cli_int(&c, optarg, 1, 100000, &a->epochs); break;
        case O_BATCH: bad = ms_cli_int(&c, optarg, 1, 4096, &a->batch); break;
        case O_PATIENCE: bad = ms_cli_int(&c, optarg, 1, 100000, &a->patience); break;
        case O_AUGMENT: bad = ms_cli_int(&c, optarg, 0, 100, &a->augment); break;
        case O_THREADS: bad = ms_cli_int(&c, optarg, 1, 1024, &a->threads); break;
        case O_CP_THREADS: bad = ms_cli_int(&c, optarg, 1, 1024, &a->cp_threads); break;
        case O_LR: bad = ms_cli_number(&c, optarg, 1e-12, 100, &a->lr); break;
        case O_MOMENTUM: bad = ms_cli_number(&c, optarg, 0, 1, &a->momentum); break;
        case O_WEIGHT_DECAY: bad = ms_cli_number(&c, optarg, 0, 1, &a->weight_decay); break;
        case O_BASE_LR_SCALE: bad = ms_cli_number(&c, optarg, 1e-6, 1e3, &a->base_lr_scale); break;
        case O_MEMORY_MB: bad = ms_cli_number(&c, optarg, 0, 1e9, &a->memory_mb); break;
        case O_SEED: bad = ms_cli_seed(&c, optarg, &a->seed); break;
        case O_OPTIMIZER: bad = ms_data_optimizer(&c, optarg, &a->optimizer); break;
        case O_SCHEDULE:
            if ((a->schedule = ms_schedule_parse(optarg)) < 0)
                bad = ms_cli_fail(&c, "--schedule: '%s' is not cosine, step or constant", optarg);
            break;
        }
    }
    if (bad) return bad;
    if (optind < argc) return ms_cli_fail(&c, "unexpected argument '%s' (give each model file its own --model)", argv[optind]);
    if (!c.n_models || !a->output) return ms_cli_fail(&c, "--model and -o are required");
    memcpy(a->data.models, c.models, sizeof *c.models * (size_t)c.n_models);
    a->data.n_models = c.n_models;
    if (a->lr < 0) a->lr = a->optimizer == MS_OPT_SGD ? 1e-2 : 1e-3;
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

/* PREFIX.epochs.csv and PREFIX.curve.svg; PREFIX defaults to -o without its extension. */
static ms_status save_log(const train_args *a, const char *app, const ms_cp_result *res, int n, ms_error *err)
{
    if (a->log) return ms_trainlog_save(a->log, app, res, n, err);
    char *prefix = strdup(a->output);
    if (!prefix) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    char *dot = strrchr(prefix, '.'), *slash = strrchr(prefix, '/');
    if (dot && (!slash || dot > slash + 1)) *dot = '\0';
    ms_status s = ms_trainlog_save(prefix, app, res, n, err);
    free(prefix);
    return s;
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
    if (!s && !a->no_log) s = save_log(a, name, res, n_cps, &err);
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
