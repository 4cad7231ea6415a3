/* Building a dataset from image folders, class folders and labelled videos, and the
 * seeded split of images into training and validation. */
#include "train/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/file.h"
#include "formats/labels.h"

#define MAX_TRAIN_FRAMES 100000000LL /* labels are kept per frame, a byte each */

void ms_dataset_free(ms_dataset *d)
{
    for (int i = 0; i < d->n_sources; i++) {
        free(d->sources[i].path);
        free(d->sources[i].labels);
    }
    free(d->sources);
    free(d->samples);
    *d = (ms_dataset){0};
}

uint64_t ms_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double ms_rand_uniform(uint64_t *state) { return (double)(ms_rand_next(state) >> 11) / 9007199254740992.0; }

static int add_source(ms_dataset *d, const char *path, bool video)
{
    ms_source *s = realloc(d->sources, ((size_t)d->n_sources + 1) * sizeof *s);
    if (!s) return -1;
    d->sources = s;
    char *p = strdup(path);
    if (!p) return -1;
    s[d->n_sources] = (ms_source){p, video, 0, NULL, 0};
    return d->n_sources++;
}

static ms_status add_sample(ms_dataset *d, ms_sample s, ms_error *err)
{
    if ((d->n_samples & (d->n_samples - 1)) == 0) { /* grow at powers of two */
        ms_sample *a = realloc(d->samples, (size_t)(d->n_samples ? 2 * d->n_samples : 1) * sizeof *a);
        if (!a) return ms_errorf(err, MS_ERR_NOMEM, "out of memory listing samples");
        d->samples = a;
    }
    d->samples[d->n_samples++] = s;
    return MS_OK;
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return false;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
           !strcasecmp(dot, ".bmp");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in dir, sorted, that pass keep(dir, name); *out is malloc'd, as is each name. */
static ms_status list_dir(const char *dir, bool (*keep)(const char *dir, const char *name), char ***out, int *n,
                          ms_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp) return ms_errorf(err, MS_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    int count = 0;
    struct dirent *e;
    ms_status s = MS_OK;
    while ((e = readdir(dp))) {
        if (!keep(dir, e->d_name)) continue;
        char **grown = realloc(names, ((size_t)count + 1) * sizeof *names);
        char *name = strdup(e->d_name);
        if (!grown || !name) {
            free(name);
            if (grown) names = grown;
            s = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        names = grown;
        names[count++] = name;
    }
    closedir(dp);
    if (s) {
        for (int i = 0; i < count; i++) free(names[i]);
        free(names);
        return s;
    }
    if (count) qsort(names, (size_t)count, sizeof *names, cmp_str); /* names is NULL when empty */
    *out = names;
    *n = count;
    return MS_OK;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static bool keep_image(const char *dir, const char *name)
{
    (void)dir;
    return is_image_name(name);
}

static bool keep_subdir(const char *dir, const char *name)
{
    if (name[0] == '.') return false;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ms_status ms_dataset_add_folder(ms_dataset *d, const char *dir, bool positive, ms_error *err)
{
    char **names;
    int n;
    ms_status s = list_dir(dir, keep_image, &names, &n, err);
    if (s) return s;
    if (n == 0) s = ms_errorf(err, MS_ERR_INVALID, "%s: no images (.jpg, .jpeg, .png, .bmp) in the folder", dir);
    char path[4096];
    for (int i = 0; i < n && !s; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        int src = add_source(d, path, false);
        s = src < 0 ? ms_errorf(err, MS_ERR_NOMEM, "out of memory listing %s", dir)
                    : add_sample(d, (ms_sample){src, 0, positive, true}, err);
    }
    free_names(names, n);
    return s;
}

ms_status ms_dataset_add_classes(ms_dataset *d, const char *dir, const char *positive_class, ms_error *err)
{
    char **names;
    int n;
    ms_status s = list_dir(dir, keep_subdir, &names, &n, err);
    if (s) return s;
    bool found = false;
    for (int i = 0; i < n; i++) found |= !strcmp(names[i], positive_class);
    if (!found) s = ms_errorf(err, MS_ERR_INVALID, "%s: no class folder named '%s' (--positive-class)", dir, positive_class);
    else if (n < 2) s = ms_errorf(err, MS_ERR_INVALID, "%s: needs at least two class folders, has %d", dir, n);
    char path[4096];
    for (int i = 0; i < n && !s; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        s = ms_dataset_add_folder(d, path, !strcmp(names[i], positive_class), err);
    }
    free_names(names, n);
    return s;
}

/* The labels of a "frame,present" file indexed by frame (-1 where a frame has no row)
 * in *labels, and the number of frames covered in *n. */
static ms_status parse_labels(const char *csv, int8_t **labels, int64_t *n, ms_error *err)
{
    *labels = NULL;
    *n = 0;
    ms_frame_labels fl;
    ms_status s = ms_frame_labels_load(csv, &fl, err);
    if (s) return s;
    int64_t count = fl.frames[fl.n - 1] + 1; /* frames increase, and there is a row */
    if (count > MAX_TRAIN_FRAMES) {
        ms_frame_labels_free(&fl);
        return ms_errorf(err, MS_ERR_INVALID, "%s: frame %lld: a training video has at most %lld frames", csv,
                         (long long)count - 1, MAX_TRAIN_FRAMES);
    }
    int8_t *lab = malloc((size_t)count);
    if (!lab) s = ms_errorf(err, MS_ERR_NOMEM, "%s: out of memory for %lld frame labels", csv, (long long)count);
    if (lab) memset(lab, -1, (size_t)count);
    for (int64_t i = 0; lab && i < fl.n; i++) lab[fl.frames[i]] = (int8_t)fl.present[i];
    ms_frame_labels_free(&fl);
    if (s) return s;
    *labels = lab;
    *n = count;
    return MS_OK;
}

ms_status ms_dataset_add_video(ms_dataset *d, const char *video, const char *labels_csv, double train_fraction,
                               int step, ms_error *err)
{
    int8_t *labels;
    int64_t n;
    if (step < 1) return ms_errorf(err, MS_ERR_INVALID, "%s: frame step %d must be >= 1", video, step);
    ms_status s = parse_labels(labels_csv, &labels, &n, err);
    if (s) return s;
    int src = add_source(d, video, true);
    if (src < 0) {
        free(labels);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory adding %s", video);
    }
    d->sources[src].labels = labels;
    d->sources[src].n_labels = n;
    int64_t labelled = 0;
    for (int64_t f = 0; f < n; f++) labelled += labels[f] >= 0;
    /* the split is by time: frames before the cut train, those after validate */
    int64_t cut = (int64_t)(train_fraction * (double)labelled + 0.5), seen = 0;
    for (int64_t f = 0; f < n && !s; f++) {
        if (labels[f] < 0) continue;
        bool train = seen++ < cut;
        if (f % step == 0) s = add_sample(d, (ms_sample){src, f, labels[f] == 1, train}, err);
    }
    return s;
}

ms_status ms_dataset_split_images(ms_dataset *d, double train_fraction, uint64_t seed, ms_error *err)
{
    for (int label = 0; label < 2; label++) {
        int64_t n = 0;
        for (int64_t i = 0; i < d->n_samples; i++)
            n += !d->sources[d->samples[i].source].video && d->samples[i].positive == label;
        /* a seeded permutation of this label's images: the first round(f*n) train */
        int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
        if (!idx) return ms_errorf(err, MS_ERR_NOMEM, "out of memory splitting the images");
        int64_t k = 0;
        for (int64_t i = 0; i < d->n_samples; i++)
            if (!d->sources[d->samples[i].source].video && d->samples[i].positive == label) idx[k++] = i;
        uint64_t st = seed * 2 + (uint64_t)label;
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)(ms_rand_next(&st) % (uint64_t)(i + 1)), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        int64_t cut = (int64_t)(train_fraction * (double)n + 0.5);
        for (int64_t i = 0; i < n; i++) d->samples[idx[i]].train = i < cut;
        free(idx);
    }
    return MS_OK;
}

void ms_dataset_counts(const ms_dataset *d, bool train, int64_t *positives, int64_t *negatives)
{
    *positives = *negatives = 0;
    for (int64_t i = 0; i < d->n_samples; i++)
        if (d->samples[i].train == train) (d->samples[i].positive ? positives : negatives)[0]++;
}
