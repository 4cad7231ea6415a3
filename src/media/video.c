/* Streams decoded with libavformat and libavcodec, frame by frame in order, with one
 * cached converter per model input size; FFmpeg options for the open, each checked to be
 * taken by it. */
#include "media/video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <stdlib.h>
#include <string.h>

#include "media/ffmpeg.h"

#define MAX_CONVERTERS 4
#define NETWORK_TIMEOUT_US "10000000"

typedef struct {
    int height, width, channels;
    ms_resize_mode mode;
    ms_frame_converter conv;
} cached_converter;

struct ms_video {
    char *url;
    bool image;
    AVFormatContext *fc;
    AVCodecContext *dec;
    int stream;
    AVPacket *pkt;
    AVFrame *frame;
    bool have_frame;
    bool flushing;
    bool ended;
    int64_t next_index;
    int64_t skipped;
    ms_video_info info;
    cached_converter convs[MAX_CONVERTERS];
    int n_convs, next_evict;
};

/* Image demuxers are "image2" (chosen by file extension) and the "*_pipe" ones (chosen
 * by content). Anything else, e.g. "tty" which renders a .txt file as a picture, is not
 * an image. */
static bool is_image_demuxer(const char *name)
{
    size_t n = strlen(name);
    return !strcmp(name, "image2") || (n > 5 && !strcmp(name + n - 5, "_pipe"));
}

static ms_status open_decoder(ms_video *v, ms_error *err)
{
    AVStream *st = v->fc->streams[v->stream];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "%s: no decoder for codec %s", v->url,
                         avcodec_get_name(st->codecpar->codec_id));
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return ms_errorf(err, MS_ERR_NOMEM, "%s: no memory for a decoder", v->url);
    int ret = avcodec_parameters_to_context(v->dec, st->codecpar);
    if (ret < 0) return ms_ffmpeg_error(err, MS_ERR_FORMAT, ret, v->url, "reading codec parameters");
    v->dec->pkt_timebase = st->time_base;
    v->dec->max_pixels = MS_MEDIA_MAX_PIXELS;
    if (v->image) v->dec->err_recognition |= AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM;
    ret = avcodec_open2(v->dec, codec, NULL);
    if (ret < 0) return ms_ffmpeg_error(err, MS_ERR_FORMAT, ret, v->url, "opening the decoder");
    return MS_OK;
}

static ms_status find_stream(ms_video *v, ms_error *err)
{
    if (!v->image) {
        /* Reading stream info decodes a few frames: the pixel limit applies there too. */
        AVDictionary **opts = calloc(v->fc->nb_streams ? v->fc->nb_streams : 1, sizeof *opts);
        if (!opts) return ms_errorf(err, MS_ERR_NOMEM, "%s: no memory", v->url);
        for (unsigned i = 0; i < v->fc->nb_streams; i++)
            av_dict_set_int(&opts[i], "max_pixels", MS_MEDIA_MAX_PIXELS, 0);
        int ret = avformat_find_stream_info(v->fc, opts);
        for (unsigned i = 0; i < v->fc->nb_streams; i++) av_dict_free(&opts[i]);
        free(opts);
        if (ret < 0) return ms_ffmpeg_error(err, MS_ERR_FORMAT, ret, v->url, "reading stream info");
    }
    int idx = av_find_best_stream(v->fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (idx < 0) return ms_errorf(err, MS_ERR_FORMAT, "%s: no video stream", v->url);
    v->stream = idx;
    for (unsigned i = 0; i < v->fc->nb_streams; i++)
        if ((int)i != idx) v->fc->streams[i]->discard = AVDISCARD_ALL;
    return MS_OK;
}

static void fill_info(ms_video *v)
{
    AVStream *st = v->fc->streams[v->stream];
    v->info.width = st->codecpar->width;
    v->info.height = st->codecpar->height;
    AVRational fr = av_guess_frame_rate(v->fc, st, NULL);
    v->info.fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    v->info.n_frames = st->nb_frames > 0 ? st->nb_frames : -1;
    if (v->image) v->info.n_frames = 1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        v->info.duration = (double)st->duration * av_q2d(st->time_base);
    else if (v->fc->duration != AV_NOPTS_VALUE && v->fc->duration > 0)
        v->info.duration = (double)v->fc->duration / AV_TIME_BASE;
    else
        v->info.duration = -1;
}

bool ms_video_options_add(ms_video_options *o, const char *key, const char *value)
{
    char **k = realloc(o->keys, (size_t)(o->n + 1) * sizeof *k);
    if (k) o->keys = k;
    char **v = k ? realloc(o->values, (size_t)(o->n + 1) * sizeof *v) : NULL;
    if (v) o->values = v;
    char *kc = v ? strdup(key) : NULL, *vc = kc ? strdup(value) : NULL;
    if (!vc) {
        free(kc);
        return false;
    }
    o->keys[o->n] = kc;
    o->values[o->n++] = vc;
    return true;
}

void ms_video_options_free(ms_video_options *o)
{
    for (int i = 0; i < o->n; i++) {
        free(o->keys[i]);
        free(o->values[i]);
    }
    free(o->keys);
    free(o->values);
    memset(o, 0, sizeof *o);
}

bool ms_video_options_copy(const ms_video_options *src, ms_video_options *dst)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; src && i < src->n; i++)
        if (!ms_video_options_add(dst, src->keys[i], src->values[i])) {
            ms_video_options_free(dst);
            return false;
        }
    return true;
}

bool ms_video_option_known(const char *key)
{
    const AVClass *fc = avformat_get_class();
    return av_opt_find2(&fc, key, NULL, AV_OPT_FLAG_DECODING_PARAM, AV_OPT_SEARCH_CHILDREN | AV_OPT_SEARCH_FAKE_OBJ,
                        NULL) != NULL;
}

/* After the open: a user option left in the dictionary was taken by nothing. */
static ms_status check_used(const ms_video *v, const ms_video_options *user, const AVDictionary *left, ms_error *err)
{
    for (int i = 0; user && i < user->n; i++)
        if (av_dict_get(left, user->keys[i], NULL, 0))
            return ms_errorf(err, MS_ERR_INVALID, "%s: options.%s: not used by FFmpeg's %s demuxer or its protocol",
                             v->url, user->keys[i], v->fc->iformat->name);
    return MS_OK;
}

static ms_status open_error(const char *url, int ret, const ms_video_options *user, ms_error *err)
{
    if (user && user->n > 0 && ret == AVERROR(EINVAL)) /* most likely a value FFmpeg refused */
        return ms_ffmpeg_error(err, MS_ERR_INVALID, ret, url, "cannot open with its options");
    return ms_ffmpeg_error(err, ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) ? MS_ERR_IO : MS_ERR_FORMAT, ret, url,
                           "cannot open");
}

static ms_status open_stream(const char *url, bool image, const ms_video_options *user, ms_video **out,
                             ms_error *err)
{
    *out = NULL;
    ms_ffmpeg_init();
    ms_ffmpeg_clear_log();
    ms_video *v = calloc(1, sizeof *v);
    if (!v || !(v->url = strdup(url))) {
        free(v);
        return ms_errorf(err, MS_ERR_NOMEM, "%s: no memory", url);
    }
    v->image = image;
    AVDictionary *opts = NULL;
    if (image) av_dict_set(&opts, "pattern_type", "none", 0); /* a '%' in a name is literal */
    if (strstr(url, "://")) av_dict_set(&opts, "rw_timeout", NETWORK_TIMEOUT_US, 0);
    for (int i = 0; user && i < user->n; i++) av_dict_set(&opts, user->keys[i], user->values[i], 0);
    int ret = avformat_open_input(&v->fc, url, NULL, &opts);
    ms_status st = ret < 0 ? open_error(url, ret, user, err) : check_used(v, user, opts, err);
    av_dict_free(&opts);
    if (st == MS_OK && image && !is_image_demuxer(v->fc->iformat->name))
        st = ms_errorf(err, MS_ERR_FORMAT, "%s: not an image (FFmpeg reads it as %s)", url,
                       v->fc->iformat->long_name ? v->fc->iformat->long_name : v->fc->iformat->name);
    if (st == MS_OK) st = find_stream(v, err);
    if (st == MS_OK) st = open_decoder(v, err);
    if (st == MS_OK) {
        v->pkt = av_packet_alloc();
        v->frame = av_frame_alloc();
        if (!v->pkt || !v->frame) st = ms_errorf(err, MS_ERR_NOMEM, "%s: no memory", url);
    }
    if (st != MS_OK) {
        ms_video_close(v);
        return st;
    }
    fill_info(v);
    *out = v;
    return MS_OK;
}

ms_status ms_video_open(const char *url, ms_video **out, ms_error *err)
{
    return open_stream(url, false, NULL, out, err);
}

ms_status ms_video_open_with(const char *url, const ms_video_options *opts, ms_video **out, ms_error *err)
{
    return open_stream(url, false, opts, out, err);
}

ms_status ms_video_open_image(const char *path, ms_video **out, ms_error *err)
{
    return open_stream(path, true, NULL, out, err);
}

const ms_video_info *ms_video_get_info(const ms_video *v) { return &v->info; }

const AVFrame *ms_video_frame(const ms_video *v) { return v->have_frame ? v->frame : NULL; }

int64_t ms_video_skipped(const ms_video *v) { return v->skipped; }

/* A decoder's verdict on one packet or frame: images must be perfect; a video stream
 * gets past a damaged packet (a live camera drops some) and goes on with the next. */
static ms_status decode_failure(ms_video *v, int ret, const char *doing, bool *skip, ms_error *err)
{
    *skip = false;
    if (!v->image && ret == AVERROR_INVALIDDATA) {
        v->skipped++;
        *skip = true;
        return MS_OK;
    }
    return ms_ffmpeg_error(err, MS_ERR_FORMAT, ret, v->url, doing);
}

/* Feeds packets until the decoder yields a frame (*got) or the stream ends. */
static ms_status decode_one(ms_video *v, bool *got, ms_error *err)
{
    bool skip;
    *got = false;
    for (;;) {
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret == 0) {
            *got = true;
            return MS_OK;
        }
        if (ret == AVERROR_EOF) return MS_OK;
        if (ret != AVERROR(EAGAIN)) {
            ms_status st = decode_failure(v, ret, "decoding", &skip, err);
            if (!skip) return st;
            continue;
        }
        ret = av_read_frame(v->fc, v->pkt);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(v->fc->pb))) {
            ret = avcodec_send_packet(v->dec, NULL); /* drain what the decoder holds */
            if (ret < 0 && ret != AVERROR_EOF)
                return ms_ffmpeg_error(err, MS_ERR_FORMAT, ret, v->url, "flushing the decoder");
            continue;
        }
        if (ret < 0) return ms_ffmpeg_error(err, MS_ERR_IO, ret, v->url, "reading");
        if (v->pkt->stream_index != v->stream) {
            av_packet_unref(v->pkt);
            continue;
        }
        ret = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (ret < 0) {
            ms_status st = decode_failure(v, ret, "decoding", &skip, err);
            if (!skip) return st;
        }
    }
}

static double frame_seconds(const ms_video *v, int64_t index)
{
    const AVStream *st = v->fc->streams[v->stream];
    int64_t ts = v->frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) return v->info.fps > 0 ? (double)index / v->info.fps : 0;
    if (st->start_time != AV_NOPTS_VALUE) ts -= st->start_time;
    return (double)ts * av_q2d(st->time_base);
}

ms_status ms_video_next(ms_video *v, const ms_input_spec *spec, ms_resize_mode mode, float *out,
                        int64_t *frame_index, double *pts_seconds, bool *end, ms_error *err)
{
    *end = false;
    if (v->ended) {
        *end = true;
        return MS_OK;
    }
    ms_ffmpeg_clear_log();
    av_frame_unref(v->frame);
    v->have_frame = false;
    bool got;
    ms_status st = decode_one(v, &got, err);
    if (st != MS_OK) return st;
    if (!got) {
        v->ended = true;
        *end = true;
        if (v->image && v->next_index == 0)
            return ms_errorf(err, MS_ERR_FORMAT, "%s: no picture in the file", v->url);
        return MS_OK;
    }
    if (v->image && (v->frame->decode_error_flags || (v->frame->flags & AV_FRAME_FLAG_CORRUPT)))
        return ms_ffmpeg_error(err, MS_ERR_FORMAT, AVERROR_INVALIDDATA, v->url, "corrupt picture");
    v->have_frame = true;
    v->info.width = v->frame->width;
    v->info.height = v->frame->height;
    int64_t index = v->next_index++;
    if (frame_index) *frame_index = index;
    if (pts_seconds) *pts_seconds = frame_seconds(v, index);
    if (!out) return MS_OK;
    return ms_video_convert(v, spec, mode, out, err);
}

static ms_frame_converter *converter_for(ms_video *v, const ms_input_spec *spec, ms_resize_mode mode)
{
    for (int i = 0; i < v->n_convs; i++) {
        cached_converter *c = &v->convs[i];
        if (c->height == spec->height && c->width == spec->width && c->channels == spec->channels &&
            c->mode == mode)
            return &c->conv;
    }
    int slot = v->n_convs < MAX_CONVERTERS ? v->n_convs++ : v->next_evict++ % MAX_CONVERTERS;
    cached_converter *c = &v->convs[slot];
    ms_converter_free(&c->conv);
    c->height = spec->height;
    c->width = spec->width;
    c->channels = spec->channels;
    c->mode = mode;
    return &c->conv;
}

ms_status ms_video_convert(ms_video *v, const ms_input_spec *spec, ms_resize_mode mode, float *out,
                           ms_error *err)
{
    if (!v->have_frame) return ms_errorf(err, MS_ERR_INVALID, "%s: no decoded frame to convert", v->url);
    return ms_convert_frame(converter_for(v, spec, mode), v->frame, spec, mode, out, v->url, err);
}

void ms_video_close(ms_video *v)
{
    if (!v) return;
    for (int i = 0; i < v->n_convs; i++) ms_converter_free(&v->convs[i].conv);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fc);
    free(v->url);
    free(v);
}
