/* The frozen-prefix feature cache. The layers before a chokepoint are frozen, so their
 * output for a given image never changes during training: compute it once per image
 * (and per augmented copy) and train the suffix on the stored activations.
 *
 * One pass serves every requested chokepoint: the base network runs once per image up
 * to the deepest requested chokepoint, segment by segment, and the activation at each
 * requested chokepoint is kept (the next segment reads it back). Stores that do not fit
 * the memory limit go to an unlinked temporary file mapped into memory, so the kernel
 * pages them as needed. */
#ifndef MS_TRAIN_FEATURES_H
#define MS_TRAIN_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"
#include "media/convert.h"
#include "train/dataset.h"

/* How training pictures are fitted to the model input: the ImageNet-style centre crop.
 * Packages record it, so the runner fits its frames the same way. */
#define MS_TRAIN_RESIZE MS_RESIZE_CENTER_CROP

/* A float array in memory or in a mapped temporary file. */
typedef struct {
    float *data;
    size_t bytes;
    bool mapped;
} ms_store;

typedef struct {
    const char *backend;  /* forward backend for the prefix: "ref" or "cpu" */
    int threads;          /* workers for decoding and for the prefix */
    int batch;            /* frames per prefix run */
    int augment;          /* extra randomly cropped and flipped copies per training image */
    uint64_t seed;
    size_t memory_limit;  /* bytes of stores kept in memory; beyond, mapped files */
    bool progress;        /* a progress line on stderr */
} ms_feature_options;

typedef struct ms_feature_cache {
    int n_cps;
    int *cps;             /* requested chokepoints, increasing */
    int64_t *numel;       /* per chokepoint: floats per row */
    ms_store *stores;     /* per chokepoint: n_rows * numel floats */
    int64_t n_rows;       /* samples plus augmented copies */
    int64_t *row_sample;  /* the sample each row comes from */
    bool *row_augmented;
    double seconds_decode, seconds_prefix;  /* wall time of the two phases */
    double *segment_cpu;  /* per chokepoint slot: thread-seconds spent on the segment that
                           * ends there, over all rows (cost of the naive way, docs/trainer.md) */
    /* When set, the trainer gets every batch of slot k's rows from here instead of the
     * stores: `batch` rows into out, rows[i] for i < n and rows[0] after (the stores may
     * then be NULL). bench/train_cache.c runs the frozen prefix here, to measure the
     * naive way. ms_features_build leaves it NULL. */
    ms_status (*fill)(const struct ms_feature_cache *c, int k, const int64_t *rows, int64_t n, int batch, float *out,
                      ms_error *err);
    void *fill_ctx;
} ms_feature_cache;

/* Decodes every sample of d (and augmented copies of training images) into the base
 * model's input and runs the prefix. cps: chokepoint indices of base, increasing.
 * Fills in the frame rate of d's videos. */
ms_status ms_features_build(const ms_graph *base, ms_dataset *d, const int *cps, int n_cps,
                            const ms_feature_options *o, ms_feature_cache *out, ms_error *err);
void ms_features_free(ms_feature_cache *c);

/* Row r of chokepoint slot k (index into c->cps). */
static inline const float *ms_features_row(const ms_feature_cache *c, int k, int64_t r)
{
    return c->stores[k].data + r * c->numel[k];
}

ms_status ms_store_alloc(ms_store *s, size_t bytes, size_t *memory_left, ms_error *err);
void ms_store_free(ms_store *s);

#endif
