/* One input stream of the runner: a decoder thread that opens a file, URL or image
 * sequence (through media/video.h), decodes every frame once, converts the frames the
 * stem tree will sample (once, to the base model's input size) and hands them over
 * through a one-slot mailbox.
 *
 * live:    frames are paced at their timestamps (a file as a camera would deliver it; a
 *          camera's frames are due as they arrive); when the executor has not taken
 *          the previous frame, the new one replaces it (newest wins) and the old one
 *          counts as dropped. A network stream that fails or ends
 *          is reopened after a back-off (doubling, at most 8 s) up to `retries` times in
 *          a row.
 * offline: no pacing and no dropping: the decoder waits for the executor, so every
 *          sampled frame is processed and runs are deterministic.
 * Frame indices count decoded frames from the start (across reopenings), so the
 * sampling rule of sample.h sees one monotonic index. */
#ifndef MS_RUN_STREAM_H
#define MS_RUN_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"
#include "media/convert.h"
#include "media/video.h"

typedef enum {
    MS_STREAM_OPENING,
    MS_STREAM_RUNNING,
    MS_STREAM_RECONNECTING,
    MS_STREAM_ENDED,  /* the file ended: no more frames */
    MS_STREAM_FAILED, /* an error the stream did not recover from */
} ms_stream_state;

const char *ms_stream_state_name(ms_stream_state s);

/* Wakes the executor when any stream has a frame or changes state. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t seq;
} ms_notifier;

void ms_notifier_init(ms_notifier *n);
void ms_notifier_destroy(ms_notifier *n);
uint64_t ms_notifier_seq(ms_notifier *n);
/* Bumps seq and wakes the waiters (a stream's frame, or a command for the executor). */
void ms_notifier_signal(ms_notifier *n);
/* Waits until seq differs from `seen` or timeout_s passes. */
void ms_notifier_wait(ms_notifier *n, uint64_t seen, double timeout_s);

typedef struct {
    const char *name;
    const char *url;
    bool network;
    int retries;
    double retry_s;
    double fps;            /* 0: the stream's own rate */
    const ms_video_options *options; /* FFmpeg options for every opening (copied); NULL: none */
    ms_input_spec spec;    /* the base model's input */
    ms_resize_mode resize;
    bool live;
} ms_stream_config;

typedef struct {
    int64_t index;   /* frame index in the stream */
    double seconds;  /* presentation time from the stream's start */
    double wall_s;   /* wall clock (ms_wall_now) when the decoder handed it over: its arrival */
    float *pixels;   /* spec.height * width * channels floats, owned by whoever holds it */
} ms_frame;

/* What the executor may read about a stream at any time (a snapshot). */
typedef struct {
    ms_stream_state state;
    double fps;        /* the rate frames are sampled against; 0 until known */
    int64_t decoded;   /* frames decoded */
    int64_t delivered; /* frames handed to the executor */
    int64_t dropped;   /* sampled frames replaced in the mailbox before the executor took them */
    int64_t damaged;   /* packets the decoder skipped */
    int reopenings;
    char error[1200];  /* the last error, "" if none */
} ms_stream_status;

typedef struct ms_stream ms_stream;

/* Starts the decoder thread. The config's strings are copied. */
ms_status ms_stream_start(const ms_stream_config *cfg, ms_notifier *notify, ms_stream **out, ms_error *err);

/* The rate at which the decoder offers frames (the stem tree's root rate); 0 offers
 * every frame. Takes effect from the next decoded frame. */
void ms_stream_set_rate(ms_stream *s, double rate);

/* Takes the mailbox's frame if there is one: swaps f->pixels (a buffer of the frame's
 * size that the caller owns) with the mailbox's and fills index and seconds. */
bool ms_stream_take(ms_stream *s, ms_frame *f);

void ms_stream_get_status(ms_stream *s, ms_stream_status *out);

/* Whether the stream will never deliver another frame (ended or failed, mailbox empty). */
bool ms_stream_finished(ms_stream *s);

/* Stops the decoder (if running), joins it and frees everything. */
void ms_stream_stop(ms_stream *s);

#endif
