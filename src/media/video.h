/* A decoded stream: a video file or URL (RTSP, HTTP, anything FFmpeg opens) is opened
 * once and its frames come out in order, each converted to a model input on request.
 * Still images are one-frame streams opened with ms_video_open_image. */
#ifndef MS_MEDIA_VIDEO_H
#define MS_MEDIA_VIDEO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"
#include "media/convert.h"

struct AVFrame;
typedef struct ms_video ms_video;

typedef struct {
    int width, height; /* coded picture size; 0 until known (images: after the first frame) */
    double fps;        /* average frame rate; 0 when the container does not say */
    int64_t n_frames;  /* frames in the stream as the container reports them; -1 unknown */
    double duration;   /* seconds; -1 unknown */
} ms_video_info;

ms_status ms_video_open(const char *url, ms_video **out, ms_error *err);

/* FFmpeg options for opening a stream, given to avformat_open_input as its dictionary
 * ("rtsp_transport" = "tcp", "timeout" = "5000000", ...): n key / value pairs, owned by
 * whoever holds the struct. {0} is no options. */
typedef struct {
    int n;
    char **keys, **values;
} ms_video_options;

/* Appends a pair (copied); false when out of memory. */
bool ms_video_options_add(ms_video_options *o, const char *key, const char *value);
/* Deep copy into *dst (which is overwritten); false when out of memory (dst left empty). */
bool ms_video_options_copy(const ms_video_options *src, ms_video_options *dst);
void ms_video_options_free(ms_video_options *o);

/* Whether any part of FFmpeg that opening an input goes through (the format layer, a
 * demuxer, the I/O layer, a protocol) has a decoding option of this name. Which of them
 * takes it depends on the input, so an option it knows may still be left unused by a
 * given open; that is refused there (ms_video_open_with). */
bool ms_video_option_known(const char *key);

/* Opens url with FFmpeg options (NULL: none). Every option must be taken by the open: one
 * that FFmpeg leaves unused (not an option of this input's demuxer or protocol) fails it
 * with MS_ERR_INVALID, "URL: options.KEY: not used by FFmpeg's DEMUXER demuxer or its
 * protocol", and so does a value FFmpeg refuses. A user option overrides the network
 * read timeout set by default (rw_timeout, 10 s). */
ms_status ms_video_open_with(const char *url, const ms_video_options *opts, ms_video **out, ms_error *err);

/* Opens a still image (JPEG, PNG, BMP, ...): refuses files FFmpeg would read as
 * anything but an image, and decodes strictly, so a truncated or corrupt picture is an
 * error instead of a partly grey frame. */
ms_status ms_video_open_image(const char *path, ms_video **out, ms_error *err);

const ms_video_info *ms_video_get_info(const ms_video *v);

/* Decodes the next frame. On success *end tells whether the stream ended (then no frame
 * was produced); otherwise *frame_index (0, 1, 2, ... in decoding order) and
 * *pts_seconds (presentation time from the stream start) describe the frame, and when
 * out is not NULL the frame is resized and normalised into it (spec->height * width *
 * channels floats). out == NULL decodes without converting, for frames a sampler skips.
 * frame_index and pts_seconds may be NULL. Packets a video decoder rejects are skipped
 * (counted in ms_video_skipped); an image decoder's rejection is an error. */
ms_status ms_video_next(ms_video *v, const ms_input_spec *spec, ms_resize_mode mode, float *out,
                        int64_t *frame_index, double *pts_seconds, bool *end, ms_error *err);

/* Converts the last decoded frame again, e.g. for a second model input size. */
ms_status ms_video_convert(ms_video *v, const ms_input_spec *spec, ms_resize_mode mode, float *out,
                           ms_error *err);

/* The last decoded frame (valid until the next ms_video_next), NULL before the first. */
const struct AVFrame *ms_video_frame(const ms_video *v);

/* Packets dropped because the decoder could not decode them. */
int64_t ms_video_skipped(const ms_video *v);

void ms_video_close(ms_video *v);

#endif
