/* The decoder thread of one stream and its one-slot mailbox (see stream.h). */
#include "run/stream.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "media/video.h"
#include "run/sample.h"

#define MAX_BACKOFF_S 8.0
#define MAX_PACE_S 2.0

struct ms_stream {
    char *name, *url;
    ms_video_options options;
    ms_stream_config cfg;
    ms_notifier *notify;
    size_t frame_floats;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cond; /* the mailbox emptied, or stop */
    bool stop;
    double rate;
    bool rate_changed;
    bool full;
    ms_frame slot;
    ms_stream_status status;
};

const char *ms_stream_state_name(ms_stream_state s)
{
    static const char *names[] = {"opening", "running", "reconnecting", "ended", "failed"};
    return names[s];
}

void ms_notifier_init(ms_notifier *n)
{
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cond, NULL);
    n->seq = 0;
}

void ms_notifier_destroy(ms_notifier *n)
{
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->mu);
}

uint64_t ms_notifier_seq(ms_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    uint64_t s = n->seq;
    pthread_mutex_unlock(&n->mu);
    return s;
}

static void notify(ms_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    n->seq++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

void ms_notifier_signal(ms_notifier *n) { notify(n); }

static struct timespec deadline_after(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double whole = floor(seconds);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void ms_notifier_wait(ms_notifier *n, uint64_t seen, double timeout_s)
{
    struct timespec ts = deadline_after(timeout_s);
    pthread_mutex_lock(&n->mu);
    while (n->seq == seen)
        if (pthread_cond_timedwait(&n->cond, &n->mu, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&n->mu);
}

/* Sleeps up to `seconds` unless stopped first; returns false when stopped. */
static bool sleep_unless_stopped(ms_stream *s, double seconds)
{
    struct timespec ts = deadline_after(seconds);
    pthread_mutex_lock(&s->mu);
    while (!s->stop)
        if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT) break;
    bool stopped = s->stop;
    pthread_mutex_unlock(&s->mu);
    return !stopped;
}

static void set_state(ms_stream *s, ms_stream_state state, const char *error)
{
    pthread_mutex_lock(&s->mu);
    s->status.state = state;
    if (error) snprintf(s->status.error, sizeof s->status.error, "%s", error);
    pthread_mutex_unlock(&s->mu);
    notify(s->notify);
}

/* Puts a converted frame into the mailbox (swapping buffers with *work). Live: replaces
 * an untaken frame. Offline: waits for the executor. Returns false when stopped. */
static bool publish(ms_stream *s, ms_frame *work)
{
    pthread_mutex_lock(&s->mu);
    if (!s->cfg.live)
        while (s->full && !s->stop) pthread_cond_wait(&s->cond, &s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    if (s->full) s->status.dropped++;
    ms_frame old = s->slot;
    s->slot = *work;
    *work = old;
    s->full = true;
    pthread_mutex_unlock(&s->mu);
    notify(s->notify);
    return true;
}

/* Offline: waits until the executor took the mailbox's frame; false when stopped. */
static bool wait_slot_free(ms_stream *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->full && !s->stop) pthread_cond_wait(&s->cond, &s->mu);
    bool stopped = s->stop;
    pthread_mutex_unlock(&s->mu);
    return !stopped;
}

typedef struct {
    ms_sampler sampler;
    int64_t offered;      /* the last frame offered; -1: none yet */
    double rate;
    int64_t next_index;   /* stream frame index across reopenings */
    double time_offset;   /* added to a reopened stream's timestamps */
    double last_seconds;
    int64_t damaged_before; /* packets skipped by earlier openings */
    double pace_start;    /* wall clock of the first frame (live files) */
    double pace_first_pts;
    ms_frame work;
} decode_state;

/* Whether the root sampler wants this frame; picks up a new rate first. */
static bool wanted(ms_stream *s, decode_state *d, int64_t index)
{
    pthread_mutex_lock(&s->mu);
    if (s->rate_changed || d->rate != s->rate) {
        d->rate = s->rate;
        s->rate_changed = false;
        ms_sampler_init(&d->sampler, d->rate > 0 ? d->rate : s->status.fps, s->status.fps);
        /* the phase goes on from the last frame offered: whether the new rate arrived
         * before or after a frame, the same frames are offered after it */
        if (d->offered >= 0) ms_sampler_resume(&d->sampler, d->offered);
    }
    pthread_mutex_unlock(&s->mu);
    bool take = ms_sampler_take(&d->sampler, index);
    if (take) d->offered = index;
    return take;
}

/* Live: waits until the frame is due (its time after the first frame's, on the wall
 * clock). A file is thus delivered as a camera would deliver it; a camera's frames are
 * due as they arrive, and an HTTP file is not read faster than its rate. A time jump of
 * more than MAX_PACE_S (a camera resetting its clock) starts the clock again. */
static bool pace(ms_stream *s, decode_state *d, double pts)
{
    if (!s->cfg.live) return true;
    double now = ms_now();
    double wait = d->pace_start < 0 ? 0 : d->pace_start + (pts - d->pace_first_pts) - now;
    if (d->pace_start < 0 || wait > MAX_PACE_S || wait < -MAX_PACE_S) {
        d->pace_start = now;
        d->pace_first_pts = pts;
        return true;
    }
    return wait <= 0 || sleep_unless_stopped(s, wait);
}

/* Decodes one opened video until it ends, fails or the runner stops. Returns MS_OK at
 * the end of the stream, an error otherwise; *stopped when stopped. */
static ms_status decode_all(ms_stream *s, ms_video *v, decode_state *d, bool *stopped, ms_error *err)
{
    *stopped = false;
    d->pace_start = -1;
    double base = d->time_offset;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            *stopped = true;
            return MS_OK;
        }
        int64_t local_index;
        double pts;
        bool end;
        ms_status st = ms_video_next(v, &s->cfg.spec, s->cfg.resize, NULL, &local_index, &pts, &end, err);
        pthread_mutex_lock(&s->mu);
        s->status.damaged = d->damaged_before + ms_video_skipped(v);
        if (st == MS_OK && !end) s->status.decoded++;
        pthread_mutex_unlock(&s->mu);
        if (st != MS_OK) return st;
        if (end) return MS_OK;
        /* a rate given in the deployment overrides the container's timing (image
         * sequences have none of their own) */
        if (s->cfg.fps > 0) pts = (double)local_index / s->cfg.fps;
        int64_t index = d->next_index++;
        double seconds = base + pts;
        d->last_seconds = seconds;
        /* offline: whether a frame is wanted is decided once the executor has taken the
         * previous one, so a rate it sets on taking a frame applies from the next one */
        if (!s->cfg.live && !wait_slot_free(s)) {
            *stopped = true;
            return MS_OK;
        }
        if (!wanted(s, d, index)) continue;
        if (!pace(s, d, pts)) {
            *stopped = true;
            return MS_OK;
        }
        if ((st = ms_video_convert(v, &s->cfg.spec, s->cfg.resize, d->work.pixels, err)) != MS_OK) return st;
        d->work.index = index;
        d->work.seconds = seconds;
        d->work.wall_s = ms_wall_now();
        if (!publish(s, &d->work)) {
            *stopped = true;
            return MS_OK;
        }
    }
}

/* Opens the stream and learns its rate; a rate nobody knows is an error. */
static ms_status open_video(ms_stream *s, ms_video **v, ms_error *err)
{
    if (ms_video_open_with(s->url, &s->options, v, err)) return err->status;
    double fps = s->cfg.fps > 0 ? s->cfg.fps : ms_video_get_info(*v)->fps;
    if (!(fps > 0) || !isfinite(fps)) {
        ms_video_close(*v);
        *v = NULL;
        return ms_errorf(err, MS_ERR_FORMAT, "%s: the frame rate is unknown; give the stream an \"fps\"", s->url);
    }
    pthread_mutex_lock(&s->mu);
    if (s->status.fps != fps) s->rate_changed = true;
    s->status.fps = fps;
    pthread_mutex_unlock(&s->mu);
    return MS_OK;
}

/* One opening: open, decode to the end. *progress tells whether any frame came. */
static ms_status run_once(ms_stream *s, decode_state *d, bool *stopped, bool *progress, ms_error *err)
{
    ms_video *v = NULL;
    *stopped = false;
    *progress = false;
    if (open_video(s, &v, err)) return err->status;
    set_state(s, MS_STREAM_RUNNING, NULL);
    int64_t before = d->next_index;
    ms_status st = decode_all(s, v, d, stopped, err);
    *progress = d->next_index > before;
    d->damaged_before += ms_video_skipped(v);
    const ms_video_info *info = ms_video_get_info(v);
    if (st == MS_OK && !*stopped && !s->cfg.network && info->n_frames > 0 && d->next_index < info->n_frames)
        ms_warn("stream '%s': %s ended after %lld of the %lld frames its container announces (truncated?)", s->name,
                s->url, (long long)d->next_index, (long long)info->n_frames);
    ms_video_close(v);
    return st;
}

static void *stream_main(void *arg)
{
    ms_stream *s = arg;
    decode_state d = {.offered = -1, .work = {.pixels = malloc(s->frame_floats * sizeof(float))}};
    if (!d.work.pixels) {
        set_state(s, MS_STREAM_FAILED, "out of memory for a frame buffer");
        return NULL;
    }
    int failures = 0;
    double backoff = s->cfg.retry_s;
    for (;;) {
        ms_error err = {0};
        bool stopped, progress;
        ms_status st = run_once(s, &d, &stopped, &progress, &err);
        if (stopped) break;
        /* a file, or options FFmpeg did not take: reopening would not change anything */
        if (!s->cfg.network || st == MS_ERR_INVALID) {
            if (st == MS_OK) set_state(s, MS_STREAM_ENDED, NULL);
            else set_state(s, MS_STREAM_FAILED, err.msg);
            break;
        }
        /* A network stream: whatever happened, try again after a back-off. */
        if (progress) {
            failures = 0;
            backoff = s->cfg.retry_s;
        }
        const char *why = st == MS_OK ? "the stream ended" : err.msg;
        if (++failures > s->cfg.retries) {
            char msg[1100];
            snprintf(msg, sizeof msg, "%s (gave up after %d attempt%s)", why, failures, failures == 1 ? "" : "s");
            set_state(s, MS_STREAM_FAILED, msg);
            break;
        }
        ms_warn("stream '%s': %s; reopening in %.2g s (attempt %d of %d)", s->name, why, backoff, failures,
                s->cfg.retries);
        set_state(s, MS_STREAM_RECONNECTING, why);
        pthread_mutex_lock(&s->mu);
        s->status.reopenings++;
        pthread_mutex_unlock(&s->mu);
        d.time_offset = d.last_seconds + 1.0 / (s->status.fps > 0 ? s->status.fps : 1.0);
        if (!sleep_unless_stopped(s, backoff)) break;
        backoff = fmin(backoff * 2, MAX_BACKOFF_S);
    }
    free(d.work.pixels);
    return NULL;
}

ms_status ms_stream_start(const ms_stream_config *cfg, ms_notifier *notifier, ms_stream **out, ms_error *err)
{
    *out = NULL;
    ms_stream *s = calloc(1, sizeof *s);
    if (!s) return ms_errorf(err, MS_ERR_NOMEM, "stream '%s': out of memory", cfg->name);
    s->cfg = *cfg;
    s->notify = notifier;
    s->frame_floats = (size_t)cfg->spec.height * (size_t)cfg->spec.width * (size_t)cfg->spec.channels;
    s->name = strdup(cfg->name);
    s->url = strdup(cfg->url);
    s->slot.pixels = malloc(s->frame_floats * sizeof(float));
    bool options = ms_video_options_copy(cfg->options, &s->options);
    if (!s->name || !s->url || !s->slot.pixels || !options) {
        free(s->name);
        free(s->url);
        free(s->slot.pixels);
        ms_video_options_free(&s->options);
        free(s);
        return ms_errorf(err, MS_ERR_NOMEM, "stream '%s': out of memory", cfg->name);
    }
    s->cfg.name = s->name;
    s->cfg.url = s->url;
    s->cfg.options = &s->options;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->status.state = MS_STREAM_OPENING;
    if (pthread_create(&s->thread, NULL, stream_main, s) != 0) {
        ms_stream_stop(s);
        return ms_errorf(err, MS_ERR_IO, "stream '%s': cannot start its decoder thread", cfg->name);
    }
    s->thread_started = true;
    *out = s;
    return MS_OK;
}

void ms_stream_set_rate(ms_stream *s, double rate)
{
    pthread_mutex_lock(&s->mu);
    if (s->rate != rate) {
        s->rate = rate;
        s->rate_changed = true;
    }
    pthread_mutex_unlock(&s->mu);
}

bool ms_stream_take(ms_stream *s, ms_frame *f)
{
    pthread_mutex_lock(&s->mu);
    bool got = s->full;
    if (got) {
        float *mine = f->pixels;
        *f = s->slot;
        s->slot.pixels = mine;
        s->full = false;
        s->status.delivered++;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->mu);
    return got;
}

void ms_stream_get_status(ms_stream *s, ms_stream_status *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->status;
    pthread_mutex_unlock(&s->mu);
}

bool ms_stream_finished(ms_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool done = !s->full && (s->status.state == MS_STREAM_ENDED || s->status.state == MS_STREAM_FAILED);
    pthread_mutex_unlock(&s->mu);
    return done;
}

void ms_stream_stop(ms_stream *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started) pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->slot.pixels);
    free(s->name);
    free(s->url);
    ms_video_options_free(&s->options);
    free(s);
}
