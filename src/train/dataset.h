/* Labelled data for training an app: a list of samples (an image file, or a frame of a
 * video), each with a binary label and a place in the training or validation split.
 *
 * Three sources: a folder of positive and a folder of negative images; a folder with
 * one sub-folder per class, one of which is the positive class; a video with a
 * frame-label CSV ("frame,present" rows). Images are split at random (seeded, per
 * class, so both splits keep the class balance); videos by time (the first fraction of
 * frames trains, the rest validates), never by random frames, which would put nearly
 * identical neighbouring frames on both sides. A second, validation-only video can be
 * added. Listing is sorted by name, so the same files and seed give the same split. */
#ifndef MS_TRAIN_DATASET_H
#define MS_TRAIN_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef struct {
    int source;     /* index into ms_dataset.sources */
    int64_t frame;  /* frame index within a video source; 0 for an image */
    bool positive;
    bool train;     /* in the training split (else validation) */
} ms_sample;

typedef struct {
    char *path;     /* image file or video */
    bool video;
    double fps;     /* videos: frames per second (0 until decoded) */
    int8_t *labels; /* videos: every frame's label from the CSV (1, 0, -1 unlabelled) */
    int64_t n_labels;
} ms_source;

typedef struct {
    ms_source *sources;
    int n_sources;
    ms_sample *samples;
    int64_t n_samples;
} ms_dataset;

void ms_dataset_free(ms_dataset *d);

/* Adds every image (.jpg .jpeg .png .bmp, any case) of dir with the given label. */
ms_status ms_dataset_add_folder(ms_dataset *d, const char *dir, bool positive, ms_error *err);

/* Adds every class folder of dir: images under dir/positive_class are positive, those
 * of every other sub-folder negative. Fails when positive_class is not a sub-folder. */
ms_status ms_dataset_add_classes(ms_dataset *d, const char *dir, const char *positive_class, ms_error *err);

/* Adds the labelled frames of a video (a "frame,present" label file, formats/labels.h;
 * at most 1e8 frames), every step-th frame (1: all). train_fraction of its frames, from the
 * start, go to training; the rest to validation (1: all training, 0: all validation).
 * The source keeps every frame's label, for the event statistics. */
ms_status ms_dataset_add_video(ms_dataset *d, const char *video, const char *labels_csv, double train_fraction,
                               int step, ms_error *err);

/* Splits the image samples: per label, a seeded shuffle puts round(train_fraction * n)
 * into training. Video samples keep the split they were added with. */
ms_status ms_dataset_split_images(ms_dataset *d, double train_fraction, uint64_t seed, ms_error *err);

/* Counts by split and label. */
void ms_dataset_counts(const ms_dataset *d, bool train, int64_t *positives, int64_t *negatives);

/* A small seeded generator (splitmix64), shared by the trainer's shuffles. */
uint64_t ms_rand_next(uint64_t *state);
double ms_rand_uniform(uint64_t *state); /* [0, 1) */

#endif
