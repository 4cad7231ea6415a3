/* The M-Package: everything an app brings to a deployment, in one safetensors file.
 *
 * For each chokepoint c it was trained at, the package holds the fine-tuned weights of
 * every convolution and fully-connected layer of the base model after the cut (up to the
 * base classifier, which the app does not use) and of the app's own head, which replaces
 * the classifier: flatten -> fully connected K->1 -> sigmoid, one probability per frame.
 * Tensors are named "cpNN/LAYER/weight" and "cpNN/LAYER/bias", NN the chokepoint index
 * (two digits at least), LAYER the base node's name or "head".
 *
 * The safetensors metadata has one key, "mainstream", whose value is a JSON document:
 * format version, app name, base model fingerprint (hex SHA-256), input spec, accuracy
 * curve (per trained chokepoint: tpr, fpr, validation positives and negatives, decision
 * threshold), event statistics and training settings. docs/formats.md ("M-Package")
 * describes every field.
 *
 * Writing: ms_mpackage_new, ms_mpackage_put_branch per chokepoint (with its curve point),
 * fill events and training, ms_mpackage_save (atomic). Reading: ms_mpackage_load (every
 * length, offset, dtype and shape checked), ms_mpackage_check_base, ms_mpackage_branch. */
#ifndef MS_FORMATS_MPACKAGE_H
#define MS_FORMATS_MPACKAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"

#define MS_MPACKAGE_VERSION 1
/* Packages larger than this are refused. */
#define MS_MPACKAGE_MAX_BYTES ((size_t)1 << 30)
/* Node name of the app's head inside a branch (its fully-connected layer). */
#define MS_MPACKAGE_HEAD "head"

/* One point of the accuracy curve: the app's per-frame accuracy when it branches off
 * the base model at chokepoint `chokepoint`, measured on validation frames. */
typedef struct {
    int chokepoint;     /* index into ms_graph_chokepoints(base) */
    double tpr, fpr;    /* true- and false-positive rate at `threshold` */
    int64_t positives;  /* validation frames with the event */
    int64_t negatives;  /* validation frames without it */
    double threshold;   /* a frame is positive when the score is >= threshold */
} ms_curve_point;

/* The app's events as measured on a labelled video; known == false when the app was
 * trained on images only (then the deployer must supply them). */
typedef struct {
    bool known;
    double length_mean_ms;  /* mean event length */
    double *lengths_ms;     /* every observed event length, in order (the distribution) */
    int n_lengths;
    double frequency;       /* fraction of frames that are inside an event */
    double events_per_minute;
    double correlation;     /* r of c = (1 - p) + p*r, see docs/trainer.md */
    int64_t frames;         /* labelled frames the statistics come from */
    double seconds;         /* and their duration */
} ms_event_stats;

typedef struct {
    char optimizer[16];     /* "sgd" or "adam" */
    char schedule[16];      /* "cosine", "step" or "constant" */
    int epochs;             /* upper limit; early stopping may end sooner */
    int batch;
    double lr, momentum, weight_decay;
    uint64_t seed;
    bool augment;
    int64_t train_frames, val_frames;
    double base_lr_scale;   /* the pretrained layers' learning rate over the head's */
} ms_train_settings;

typedef struct {
    char *name;             /* "cp07/MobilenetV1/Conv2d_9_pointwise/weight" */
    int ndim;
    int64_t shape[MS_MAX_DIMS];
    float *data;
} ms_mpackage_tensor;

typedef struct {
    char *path;             /* file it was loaded from (for messages); NULL if built */
    int version;
    char *app;
    uint8_t base_fingerprint[32];
    ms_input_spec input;
    char resize[8];         /* how pictures were fitted to the input in training: "crop" or
                               "stretch" (media/convert.h); the runner must fit frames alike */
    ms_curve_point *curve;  /* one per trained chokepoint, by increasing chokepoint */
    int n_curve;
    ms_event_stats events;
    ms_train_settings training;
    ms_mpackage_tensor *tensors;
    int n_tensors;
} ms_mpackage;

/* True for the nodes of the app's own head ("head" and "head/..."), which every
 * chokepoint's branch ends in; the other nodes come from the base model. */
bool ms_mpackage_is_head_node(const char *name);

/* An empty package for an app on base model `base` (its fingerprint and input spec). */
ms_status ms_mpackage_new(const char *app, const ms_graph *base, ms_mpackage **out, ms_error *err);
void ms_mpackage_free(ms_mpackage *p);

/* Reads and validates a package: safetensors framing, header JSON, every tensor's dtype
 * (F32 only), shape and data offsets, the metadata fields, and that every curve point
 * has its head tensors. Messages name the file and the field. */
ms_status ms_mpackage_load(const char *path, ms_mpackage **out, ms_error *err);
/* The same checks on a package already in memory (size bytes); path names it in messages. */
ms_status ms_mpackage_parse(const uint8_t *buf, size_t size, const char *path, ms_mpackage **out, ms_error *err);

/* Writes p to path atomically (nothing is left behind on failure). */
ms_status ms_mpackage_save(const ms_mpackage *p, const char *path, ms_error *err);

/* Fails, naming both fingerprints, unless p was trained on base. */
ms_status ms_mpackage_check_base(const ms_mpackage *p, const ms_graph *base, ms_error *err);

/* The trained chokepoints: p->curve[i].chokepoint for i < p->n_curve, increasing.
 * Returns the curve point for chokepoint c, or NULL when p was not trained there. */
const ms_curve_point *ms_mpackage_point(const ms_mpackage *p, int chokepoint);

/* The app's network from chokepoint `chokepoint` of base to its score: a stand-alone
 * graph whose input is that chokepoint's tensor and whose output is [1, 1], the
 * probability that the frame shows the event. The base layers after the cut carry the
 * package's fine-tuned weights. Fails when p was not trained at that chokepoint, when
 * its base fingerprint differs, or when a tensor is missing or has the wrong shape. */
ms_status ms_mpackage_branch(const ms_mpackage *p, const ms_graph *base, int chokepoint,
                             ms_graph **out, ms_error *err);

/* The same network before training: base weights and a head of zeros (what the trainer
 * starts from). */
ms_status ms_branch_from_base(const ms_graph *base, int chokepoint, ms_graph **out, ms_error *err);

/* True for the branch nodes whose weights the app owns: every convolution and
 * fully-connected node (their inputs 1 and 2, weight and bias when present). */
bool ms_branch_node_trainable(const ms_node *n);

/* Stores the weights of every trainable node of `branch` (built by ms_branch_from_base
 * for the same chokepoint, then trained) and the curve point; replaces any earlier
 * entry for that chokepoint. */
ms_status ms_mpackage_put_branch(ms_mpackage *p, const ms_graph *branch, const ms_curve_point *point,
                                 ms_error *err);

/* Parses and formats 64 hex digits. */
ms_status ms_fingerprint_parse(const char *hex, uint8_t out[32]);
void ms_fingerprint_hex(const uint8_t fp[32], char out[65]);

#endif
