/* The options shared by `train` and `evaluate`: the base model files and where the
 * labelled data comes from. */
#ifndef MS_CLI_DATA_ARGS_H
#define MS_CLI_DATA_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
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

/* argv[*i] is --model: consumes the files after it (up to the next option or -o),
 * appending them to models[*n] (at most max in all); 1 when done, -1 (message printed)
 * when there are none or too many. */
int ms_model_args(int argc, char **argv, int *i, const char **models, int *n, int max);

/* If argv[*i] is one of these options, consumes it and its values (advancing *i) and
 * returns 1; returns 0 for any other argument; -1 (message printed) when a value is
 * missing or wrong. */
int ms_data_arg(ms_data_args *a, int argc, char **argv, int *i);

/* Checks that exactly one data source was given (with its pair), then lists it. With
 * evaluate_all, every sample counts as validation data; otherwise images are split with
 * the seed and a video by time (default fraction 0.8 for images, 0.6 for a video, 1
 * when a validation video is given). */
ms_status ms_data_load(const ms_data_args *a, uint64_t seed, bool evaluate_all, ms_dataset *d, ms_error *err);

#endif
