/* Parsing the data options of `train`, `evaluate` and bench/train_cache.c (MS_DATA_OPTIONS,
 * in the shared getopt_long style of cli/args.h), and listing the data. */
#include "cli/data_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/optim.h"

ms_status ms_data_load(const ms_data_args *a, uint64_t seed, bool evaluate_all, ms_dataset *d, ms_error *err)
{
    *d = (ms_dataset){0};
    int sources = (a->positive || a->negative) + (a->classes || a->positive_class) + (a->video || a->labels);
    if (sources != 1)
        return ms_errorf(err, MS_ERR_INVALID,
                         "give one data source: --positive DIR --negative DIR, --classes DIR --positive-class NAME, "
                         "or --video FILE --labels CSV");
    if ((a->positive && !a->negative) || (a->negative && !a->positive))
        return ms_errorf(err, MS_ERR_INVALID, "--positive and --negative go together");
    if ((a->classes && !a->positive_class) || (a->positive_class && !a->classes))
        return ms_errorf(err, MS_ERR_INVALID, "--classes and --positive-class go together");
    if ((a->video && !a->labels) || (a->labels && !a->video))
        return ms_errorf(err, MS_ERR_INVALID, "--video and --labels go together");
    if (!a->val_video != !a->val_labels)
        return ms_errorf(err, MS_ERR_INVALID, "--val-video and --val-labels go together");
    double f = a->train_fraction;
    int step = a->frame_step > 0 ? a->frame_step : 1;
    if (f < 0) f = a->val_video ? 1.0 : a->video ? 0.6 : 0.8;
    if (evaluate_all) f = 0;
    ms_status s;
    if (a->positive) {
        if (!(s = ms_dataset_add_folder(d, a->positive, true, err))) s = ms_dataset_add_folder(d, a->negative, false, err);
    } else if (a->classes) {
        s = ms_dataset_add_classes(d, a->classes, a->positive_class, err);
    } else {
        s = ms_dataset_add_video(d, a->video, a->labels, f, step, err);
    }
    if (!s && a->val_video) s = ms_dataset_add_video(d, a->val_video, a->val_labels, 0.0, step, err);
    if (!s) s = ms_dataset_split_images(d, f, seed, err);
    if (s) ms_dataset_free(d);
    return s;
}

int ms_data_optimizer(ms_cli *c, const char *value, int *out)
{
    int kind = ms_optimizer_parse(value);
    if (kind < 0) return ms_cli_fail(c, "%s: '%s' is not adam or sgd", c->opt, value);
    *out = kind;
    return 0;
}

int ms_data_option(ms_cli *c, ms_data_args *a, int code, const char *value)
{
    const char **slots[] = {&a->positive, &a->negative, &a->classes, &a->positive_class,
                            &a->video,    &a->labels,   &a->val_video, &a->val_labels};
    if (code >= MS_DATA_OPT_POSITIVE && code <= MS_DATA_OPT_VAL_LABELS) {
        *slots[code - MS_DATA_OPT_POSITIVE] = value;
        return 0;
    }
    if (code == MS_DATA_OPT_FRAME_STEP) return ms_cli_int(c, value, 1, 100000, &a->frame_step);
    if (code == MS_DATA_OPT_TRAIN_FRACTION) return ms_cli_number(c, value, 0, 1, &a->train_fraction);
    if (code == MS_DATA_OPT_MEAN) a->mean = value;
    else if (code == MS_DATA_OPT_STD) a->std = value;
    else return -1;
    return 0;
}
