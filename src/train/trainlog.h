/* The training log: what `mainstream train` writes beside the package, for people to
 * look at rather than read. The CSV has one row per chokepoint and epoch
 * (chokepoint,epoch,train_loss,val_loss,val_acc,val_tpr,val_fpr,seconds,best: best is 1
 * on the epoch whose weights were kept); the SVG plots the app's accuracy curve, tpr
 * and fpr on the validation frames against the chokepoint. Both are written atomically. */
#ifndef MS_TRAIN_TRAINLOG_H
#define MS_TRAIN_TRAINLOG_H

#include <stdio.h>

#include "base/error.h"
#include "train/trainer.h"

void ms_trainlog_write_csv(FILE *out, const ms_cp_result *res, int n);
void ms_trainlog_write_svg(FILE *out, const char *app, const ms_cp_result *res, int n);

/* PREFIX.epochs.csv and PREFIX.curve.svg. */
ms_status ms_trainlog_save(const char *prefix, const char *app, const ms_cp_result *res, int n, ms_error *err);

#endif
