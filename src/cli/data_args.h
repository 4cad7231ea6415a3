/* The options shared by `train`, `evaluate` and bench/train_cache.c: the base model files and where the
 * labelled data comes from. */
#ifndef MS_CLI_DATA_ARGS_H
#define MS_CLI_DATA_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "cli/args.h"
#include "train/dataset.h"

#define MS_MAX_MODEL_FILES 8

typedef struct {
    const char *models[MS_MAX_MODEL_FILES];
    int n_models;
    const char *positive, *negative;       /* --positive DIR --negative DIR */
    const char *classes, *positive_class;  /* --classes DIR --positive-class NAME */
    const char *video, *labels;            /* --video FILE --labels CSV */
    const char *val_video, *val_labels;    /* --val-video FILE --val-labels CSV */
    double train_fraction;                 /* --train-fraction F; < 0: the default */
    int frame_step;                        /* --frame-step N: every N-th video frame (1) */
    const char *mean, *std;                /* --mean R,G,B --std R,G,B (ms_model_set_normalisation) */
} ms_data_args;

/* The data options in the shared command-line style (cli/args.h): MS_DATA_OPTIONS goes in
 * a command's option table, and ms_data_option takes the codes it returns. */
enum {
    MS_DATA_OPT_POSITIVE = 0x2000, MS_DATA_OPT_NEGATIVE, MS_DATA_OPT_CLASSES, MS_DATA_OPT_POSITIVE_CLASS,
    MS_DATA_OPT_VIDEO, MS_DATA_OPT_LABELS, MS_DATA_OPT_VAL_VIDEO, MS_DATA_OPT_VAL_LABELS,
    MS_DATA_OPT_TRAIN_FRACTION, MS_DATA_OPT_FRAME_STEP, MS_DATA_OPT_MEAN, MS_DATA_OPT_STD,
};
#define MS_DATA_OPTIONS                                                                                        \
    {"positive", required_argument, NULL, MS_DATA_OPT_POSITIVE},                                              \
        {"negative", required_argument, NULL, MS_DATA_OPT_NEGATIVE},                                          \
        {"classes", required_argument, NULL, MS_DATA_OPT_CLASSES},                                            \
        {"positive-class", required_argument, NULL, MS_DATA_OPT_POSITIVE_CLASS},                              \
        {"video", required_argument, NULL, MS_DATA_OPT_VIDEO}, {"labels", required_argument, NULL, MS_DATA_OPT_LABELS}, \
        {"val-video", required_argument, NULL, MS_DATA_OPT_VAL_VIDEO},                                        \
        {"val-labels", required_argument, NULL, MS_DATA_OPT_VAL_LABELS},                                      \
        {"train-fraction", required_argument, NULL, MS_DATA_OPT_TRAIN_FRACTION},                              \
        {"frame-step", required_argument, NULL, MS_DATA_OPT_FRAME_STEP},                                      \
        {"mean", required_argument, NULL, MS_DATA_OPT_MEAN}, {"std", required_argument, NULL, MS_DATA_OPT_STD}

/* code is what ms_cli_next returned, value its optarg: stores a data option (0, or the
 * usage error's 2); -1 when code is not a data option. */
int ms_data_option(ms_cli *c, ms_data_args *a, int code, const char *value);

/* --optimizer adam|sgd for the commands that train: an ms_optimizer_kind in *out; 0, or
 * the usage error's 2. */
int ms_data_optimizer(ms_cli *c, const char *value, int *out);

/* Checks that exactly one data source was given (with its pair), then lists it. With
 * evaluate_all, every sample counts as validation data; otherwise images are split with
 * the seed and a video by time (default fraction 0.8 for images, 0.6 for a video, 1
 * when a validation video is given). */
ms_status ms_data_load(const ms_data_args *a, uint64_t seed, bool evaluate_all, ms_dataset *d, ms_error *err);

#endif
