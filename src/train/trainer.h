/* Fine-tuning an app at every requested chokepoint on the cached prefix features: for
 * each chokepoint, the base layers after the cut (with the base weights to start) and
 * a binary head, trained with binary cross-entropy on class-balanced batches, with early
 * stopping on the validation loss (the best epoch's weights are kept). Chokepoints are
 * independent, so worker threads may train several at once (shallowest, the longest,
 * first; one thread goes deepest first), and each train plan may itself use several
 * threads (the cpu backend's oneDNN plans do; docs/trainer.md says which is faster). */
#ifndef MS_TRAIN_TRAINER_H
#define MS_TRAIN_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/mpackage.h"
#include "train/dataset.h"
#include "train/features.h"
#include "train/optim.h"

typedef struct {
    const char *backend;     /* training backend ("cpu" or "ref") */
    int threads;             /* chokepoints trained at once */
    int plan_threads;        /* threads inside each train plan (0 means 1) */
    int batch;
    int epochs;              /* at most */
    int patience;            /* epochs without a better validation loss before stopping */
    ms_optimizer_kind optimizer;
    ms_schedule_kind schedule;
    double lr, momentum, weight_decay;
    double base_lr_scale;    /* the base layers learn at lr * this, the new head at lr */
    uint64_t seed;
    bool progress;           /* a progress line on stderr */
} ms_trainer_options;

/* One epoch of one chokepoint, for the training log (train/trainlog.h). */
typedef struct {
    int epoch;               /* from 1 */
    double train_loss, val_loss, val_acc;
    double val_tpr, val_fpr; /* at threshold 0.5 on the validation rows (0 when there are none) */
    double seconds;          /* since the chokepoint's training started */
} ms_epoch_log;

typedef struct {
    ms_curve_point point;    /* measured on the validation rows at threshold 0.5 */
    ms_epoch_log *epochs;    /* epochs_run entries (freed by ms_cp_results_free) */
    int epochs_run, best_epoch;
    double val_loss;
    double seconds;          /* training time of this chokepoint */
    double step_seconds;     /* of which forward, backward and update of training batches */
    double step_cpu;         /* the same steps' CPU time on the training thread (threads
                              * inside a multi-threaded plan are not counted) */
    double val_seconds;      /* of which validation (the rest: compiling, gathering rows) */
    int64_t rows_validated;  /* rows through validation forwards */
    int64_t rows_trained;    /* rows through forward + backward */
    float *scores;           /* per sample: a validation sample's score from the best epoch's
                              * validation pass; NaN for training samples */
} ms_cp_result;

/* Trains at every chokepoint of fc and stores each branch and curve point in pkg.
 * results: fc->n_cps entries, filled in (free their scores with ms_cp_results_free). */
ms_status ms_train_chokepoints(const ms_graph *base, const ms_dataset *d, const ms_feature_cache *fc,
                               const ms_trainer_options *o, ms_mpackage *pkg, ms_cp_result *results, ms_error *err);
void ms_cp_results_free(ms_cp_result *results, int n);

/* The scores of `branch` (the network from chokepoint slot k of fc to the app's score)
 * on every sample row of fc, computed with a forward plan of `backend`. */
ms_status ms_branch_scores(const ms_graph *branch, const ms_feature_cache *fc, int k, int n_samples,
                           const char *backend, int batch, float *scores, ms_error *err);

/* tpr and fpr at threshold over the samples whose split matches `train` (or all
 * samples when all is true). */
ms_curve_point ms_curve_point_from_scores(const ms_dataset *d, const float *scores, double threshold, bool all,
                                          bool train, int chokepoint);

#endif
