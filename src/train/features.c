/* Building the feature cache: decode every sample (images in parallel, videos in
 * order), add augmented copies, then run the base network's prefix once per row,
 * segment by segment between the requested chokepoints, on worker threads. */
#include "train/features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/clock.h"
#include "graph/cut.h"
#include "media/image.h"
#include "media/video.h"
#include "train/augment.h"

ms_status ms_store_alloc(ms_store *s, size_t bytes, size_t *memory_left, ms_error *err)
{
    *s = (ms_store){NULL, bytes, false};
    size_t n = bytes ? bytes : sizeof(float);
    if (n <= *memory_left) {
        s->data = malloc(n);
        if (!s->data) return ms_errorf(err, MS_ERR_NOMEM, "out of memory for %zu bytes of features", n);
        *memory_left -= n;
        return MS_OK;
    }
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/ms-features-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return ms_errorf(err, MS_ERR_IO, "%s: cannot create a feature file", path);
    unlink(path); /* gone when unmapped, whatever happens */
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)n) == 0) p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return ms_errorf(err, MS_ERR_IO, "%s: cannot map %zu bytes of features", path, n);
    s->data = p;
    s->mapped = true;
    return MS_OK;
}

void ms_store_free(ms_store *s)
{
    if (s->mapped) munmap(s->data, s->bytes ? s->bytes : sizeof(float));
    else free(s->data);
    *s = (ms_store){0};
}

void ms_features_free(ms_feature_cache *c)
{
    for (int k = 0; k < c->n_cps; k++) ms_store_free(&c->stores[k]);
    free(c->stores);
    free(c->cps);
    free(c->numel);
    free(c->row_sample);
    free(c->row_augmented);
    free(c->segment_cpu);
    *c = (ms_feature_cache){0};
}

/* ---- shared state of the worker threads ---- */

typedef struct {
    const ms_graph *base;
    ms_dataset *d;
    const ms_feature_options *o;
    ms_feature_cache *c;
    float *input;           /* n_rows * in_numel */
    int64_t in_numel;
    ms_graph **segments;    /* per requested chokepoint: the nodes since the previous one; NULL: none */
    pthread_mutex_t lock;
    int64_t next;           /* next work item */
    int64_t done, total;
    ms_status status;
    ms_error err;
    double started;
} job;

static void report(job *j, const char *what)
{
    if (!j->o->progress) return;
    double dt = ms_now() - j->started;
    fprintf(stderr, "\r%s: %lld/%lld (%.0f/s)   ", what, (long long)j->done, (long long)j->total,
            dt > 0 ? (double)j->done / dt : 0.0);
    if (j->done == j->total) fputc('\n', stderr);
}

/* Takes the next item, or -1 when there is none or a worker failed. */
static int64_t take(job *j)
{
    pthread_mutex_lock(&j->lock);
    int64_t i = j->status ? -1 : j->next < j->total ? j->next++ : -1;
    pthread_mutex_unlock(&j->lock);
    return i;
}

static void finish(job *j, int64_t count, ms_status s, const ms_error *err, const char *what)
{
    pthread_mutex_lock(&j->lock);
    if (s && !j->status) {
        j->status = s;
        j->err = *err;
    }
    j->done += count;
    if (!s) report(j, what);
    pthread_mutex_unlock(&j->lock);
}

static ms_status run_workers(job *j, void *(*fn)(void *), int64_t total, ms_error *err)
{
    j->next = j->done = 0;
    j->total = total;
    j->started = ms_now();
    int n = j->o->threads > 1 ? j->o->threads : 1;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!t) return ms_errorf(err, MS_ERR_NOMEM, "out of memory starting workers");
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&t[started], NULL, fn, j)) break;
    if (started == 0) fn(j); /* no thread could start: do the work here */
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    free(t);
    if (j->status) {
        *err = j->err;
        return j->status;
    }
    return MS_OK;
}

/* ---- decoding ---- */

static void *decode_images(void *arg)
{
    job *j = arg;
    const ms_input_spec *spec = &j->base->input_spec;
    for (int64_t r; (r = take(j)) >= 0;) {
        const ms_sample *s = &j->d->samples[r];
        ms_error err;
        ms_status st = MS_OK;
        bool video = j->d->sources[s->source].video; /* decoded in order elsewhere */
        if (!video)
            st = ms_image_load(j->d->sources[s->source].path, spec, MS_TRAIN_RESIZE, j->input + r * j->in_numel, &err);
        finish(j, video ? 0 : 1, st, &err, "decoding");
    }
    return NULL;
}

/* Decodes video source `src` in order, converting the labelled frames into their rows. */
static ms_status decode_video(job *j, int src, ms_error *err)
{
    ms_dataset *d = j->d;
    int64_t max_frame = -1;
    for (int64_t r = 0; r < d->n_samples; r++)
        if (d->samples[r].source == src && d->samples[r].frame > max_frame) max_frame = d->samples[r].frame;
    int64_t *row = malloc((size_t)(max_frame + 1) * sizeof *row);
    if (!row) return ms_errorf(err, MS_ERR_NOMEM, "out of memory decoding %s", d->sources[src].path);
    for (int64_t f = 0; f <= max_frame; f++) row[f] = -1;
    for (int64_t r = 0; r < d->n_samples; r++)
        if (d->samples[r].source == src) row[d->samples[r].frame] = r;
    ms_video *v = NULL;
    ms_status s = ms_video_open(d->sources[src].path, &v, err);
    int64_t f = 0;
    for (bool end = false; !s && f <= max_frame; f++) {
        float *out = row[f] >= 0 ? j->input + row[f] * j->in_numel : NULL;
        s = ms_video_next(v, &j->base->input_spec, MS_TRAIN_RESIZE, out, NULL, NULL, &end, err);
        if (!s && end) s = ms_errorf(err, MS_ERR_INVALID, "%s: the labels name frame %lld but the video has %lld frames",
                                     d->sources[src].path, (long long)max_frame, (long long)f);
        if (!s && out) finish(j, 1, MS_OK, err, "decoding");
    }
    if (!s) d->sources[src].fps = ms_video_get_info(v)->fps;
    if (v) ms_video_close(v);
    free(row);
    return s;
}

static void *make_augmented(void *arg)
{
    job *j = arg;
    const ms_input_spec *sp = &j->base->input_spec;
    for (int64_t r; (r = take(j)) >= 0;) {
        int64_t row = j->d->n_samples + r;
        ms_augment(j->input + j->c->row_sample[row] * j->in_numel, j->input + row * j->in_numel, sp->height, sp->width,
                   sp->channels, j->o->seed * 0x9e3779b97f4a7c15ull + (uint64_t)row);
        finish(j, 1, MS_OK, NULL, "augmenting");
    }
    return NULL;
}

/* ---- the prefix ---- */

/* The segments are chained in the backend's layout (input_from, native_output): each
 * reads the previous one's native output, and the cache gets the plain values of each
 * (ms_plan_output_to_plain), so no boundary converts back from plain floats. */
static void *run_prefix(void *arg)
{
    job *j = arg;
    ms_feature_cache *c = j->c;
    int B = j->o->batch;
    ms_plan **plans = calloc((size_t)c->n_cps, sizeof *plans);
    unsigned char **native = calloc((size_t)c->n_cps, sizeof *native); /* per plan: B frames of its output */
    float *pad_in = malloc((size_t)(j->in_numel * B) * sizeof(float));
    ms_error err;
    ms_status s = plans && native && pad_in ? MS_OK : ms_errorf(&err, MS_ERR_NOMEM, "out of memory for the prefix");
    ms_plan_options po = {.batch = B, .threads = 1, .precision = MS_PREC_FP32, .native_output = true};
    const ms_backend *be = ms_backend_find(j->o->backend);
    for (int k = 0; k < c->n_cps && !s; k++) {
        if (!j->segments[k]) continue;
        s = ms_plan_compile(be, j->segments[k], &po, &plans[k], &err);
        if (!s) native[k] = malloc((size_t)(plans[k]->out_bytes * B));
        if (!s && !native[k]) s = ms_errorf(&err, MS_ERR_NOMEM, "out of memory for the prefix");
        po.input_from = plans[k];
    }
    if (s) finish(j, 0, s, &err, "features");
    for (int64_t b; !s && (b = take(j)) >= 0;) {
        int64_t r0 = b * B, n = c->n_rows - r0 < B ? c->n_rows - r0 : B;
        const float *src = j->input + r0 * j->in_numel;
        const void *x = NULL; /* the next plan's input; NULL until a plan has run */
        for (int k = 0; k < c->n_cps && !s; k++) {
            double t0 = ms_now();
            float *dst = c->stores[k].data + r0 * c->numel[k];
            if (plans[k]) {
                if (!x && n == B) {
                    x = src;
                } else if (!x) { /* a short last batch: pad with zeros */
                    memset(pad_in, 0, (size_t)(j->in_numel * B) * sizeof(float));
                    memcpy(pad_in, src, (size_t)(j->in_numel * n) * sizeof(float));
                    x = pad_in;
                }
                s = ms_plan_run(plans[k], x, native[k], &err);
                if (!s) s = ms_plan_output_to_plain(plans[k], native[k], (int)n, dst, &err);
                x = native[k];
            } else if (dst != src) {
                memcpy(dst, src, (size_t)(c->numel[k] * n) * sizeof(float));
            }
            src = dst;
            pthread_mutex_lock(&j->lock);
            c->segment_cpu[k] += ms_now() - t0;
            pthread_mutex_unlock(&j->lock);
        }
        finish(j, n, s, &err, "features");
    }
    for (int k = 0; k < c->n_cps; k++) {
        if (plans) ms_plan_free(plans[k]);
        if (native) free(native[k]);
    }
    free(plans);
    free(native);
    free(pad_in);
    return NULL;
}

static ms_status make_segments(job *j, ms_error *err)
{
    ms_chokepoint *all;
    int n;
    ms_status s = ms_graph_chokepoints(j->base, &all, &n, err);
    if (s) return s;
    ms_feature_cache *c = j->c;
    int prev_end = 0;
    for (int k = 0; k < c->n_cps && !s; k++) {
        if (c->cps[k] < 0 || c->cps[k] >= n || (k > 0 && c->cps[k] <= c->cps[k - 1])) {
            s = ms_errorf(err, MS_ERR_INVALID, "%s: chokepoint %d is not one of 0..%d in increasing order",
                          j->base->source ? j->base->source : "model", c->cps[k], n - 1);
            break;
        }
        const ms_chokepoint *cp = &all[c->cps[k]];
        c->numel[k] = ms_tensor_numel(&j->base->tensors[cp->tensor]);
        if (cp->node_end > prev_end) s = ms_graph_segment(j->base, prev_end, cp->node_end, &j->segments[k], err);
        prev_end = cp->node_end;
    }
    free(all);
    return s;
}

static ms_status build(job *j, ms_error *err)
{
    ms_feature_cache *c = j->c;
    ms_dataset *d = j->d;
    const ms_feature_options *o = j->o;
    int64_t n_aug = 0;
    for (int64_t r = 0; r < d->n_samples; r++) n_aug += d->samples[r].train ? o->augment : 0;
    c->n_rows = d->n_samples + n_aug;
    c->row_sample = malloc((size_t)(c->n_rows + 1) * sizeof *c->row_sample);
    c->row_augmented = calloc((size_t)(c->n_rows + 1), sizeof *c->row_augmented);
    c->numel = calloc((size_t)c->n_cps + 1, sizeof *c->numel);
    c->stores = calloc((size_t)c->n_cps + 1, sizeof *c->stores);
    c->segment_cpu = calloc((size_t)c->n_cps + 1, sizeof *c->segment_cpu);
    j->segments = calloc((size_t)c->n_cps + 1, sizeof *j->segments);
    if (!c->row_sample || !c->row_augmented || !c->numel || !c->stores || !c->segment_cpu || !j->segments)
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory for the feature cache");
    int64_t row = d->n_samples;
    for (int64_t r = 0; r < d->n_samples; r++) {
        c->row_sample[r] = r;
        for (int a = 0; a < (d->samples[r].train ? o->augment : 0); a++) {
            c->row_sample[row] = r;
            c->row_augmented[row++] = true;
        }
    }
    ms_status s = make_segments(j, err);
    if (s) return s;
    size_t memory_left = o->memory_limit;
    for (int k = 0; k < c->n_cps && !s; k++)
        s = ms_store_alloc(&c->stores[k], (size_t)(c->numel[k] * c->n_rows) * sizeof(float), &memory_left, err);
    if (s) return s;
    /* The input rows: chokepoint 0's store when it is requested, else a scratch store. */
    ms_store scratch = {0};
    if (c->cps[0] == 0) {
        j->input = c->stores[0].data;
    } else {
        if ((s = ms_store_alloc(&scratch, (size_t)(j->in_numel * c->n_rows) * sizeof(float), &memory_left, err)))
            return s;
        j->input = scratch.data;
    }
    double t0 = ms_now();
    s = run_workers(j, decode_images, d->n_samples, err);
    for (int src = 0; src < d->n_sources && !s; src++)
        if (d->sources[src].video) s = decode_video(j, src, err);
    if (!s && n_aug) s = run_workers(j, make_augmented, n_aug, err);
    double t1 = ms_now();
    if (!s) s = run_workers(j, run_prefix, (c->n_rows + o->batch - 1) / o->batch, err);
    c->seconds_decode = t1 - t0;
    c->seconds_prefix = ms_now() - t1;
    if (scratch.data) ms_store_free(&scratch);
    return s;
}

ms_status ms_features_build(const ms_graph *base, ms_dataset *d, const int *cps, int n_cps,
                            const ms_feature_options *o, ms_feature_cache *out, ms_error *err)
{
    *out = (ms_feature_cache){0};
    if (n_cps < 1 || d->n_samples < 1 || o->batch < 1)
        return ms_errorf(err, MS_ERR_INVALID, "features need at least one chokepoint, sample and batch");
    if (!ms_backend_find(o->backend)) return ms_errorf(err, MS_ERR_INVALID, "unknown backend '%s'", o->backend);
    out->cps = malloc((size_t)n_cps * sizeof *out->cps);
    if (!out->cps) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    memcpy(out->cps, cps, (size_t)n_cps * sizeof *cps);
    out->n_cps = n_cps;
    const ms_input_spec *sp = &base->input_spec;
    job j = {.base = base, .d = d, .o = o, .c = out,
             .in_numel = (int64_t)sp->height * sp->width * sp->channels};
    pthread_mutex_init(&j.lock, NULL);
    ms_status s = build(&j, err);
    pthread_mutex_destroy(&j.lock);
    for (int k = 0; j.segments && k < n_cps; k++) ms_graph_free(j.segments[k]);
    free(j.segments);
    if (s) ms_features_free(out);
    return s;
}
