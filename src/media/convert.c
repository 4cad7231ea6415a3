/* Picture -> model input: one cached libswscale context per source and output geometry,
 * a centred crop, and the normalisation arithmetic. */
#include "media/convert.h"

#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media/ffmpeg.h"

/* Area averaging when shrinking (every source pixel counts, like PIL's antialiased
 * resize the Coral examples use), bilinear when enlarging; exact rounding and full
 * chroma resolution so that the result does not depend on SIMD shortcuts. */
#define SCALE_FLAGS (SWS_AREA | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP)

/* The ImageNet evaluation convention: a 224 crop from a picture whose short side is 256. */
#define CROP_FRACTION 0.875

int ms_resize_mode_parse(const char *name)
{
    if (!strcmp(name, "stretch")) return MS_RESIZE_STRETCH;
    if (!strcmp(name, "crop")) return MS_RESIZE_CENTER_CROP;
    return -1;
}

const char *ms_resize_mode_name(ms_resize_mode mode)
{
    return mode == MS_RESIZE_STRETCH ? "stretch" : "crop";
}

ms_status ms_resize_geometry_for(int src_w, int src_h, const ms_input_spec *spec,
                                 ms_resize_mode mode, ms_resize_geometry *g, ms_error *err)
{
    if (spec->height < 1 || spec->width < 1 || spec->height > 16384 || spec->width > 16384)
        return ms_errorf(err, MS_ERR_INVALID, "input spec: size %dx%d out of range", spec->width,
                         spec->height);
    if (spec->channels != 1 && spec->channels != 3)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "input spec: %d channels (need 1 or 3)",
                         spec->channels);
    if (src_w < 1 || src_h < 1)
        return ms_errorf(err, MS_ERR_FORMAT, "picture size %dx%d is empty", src_w, src_h);
    if (mode == MS_RESIZE_STRETCH) {
        *g = (ms_resize_geometry){spec->width, spec->height, 0, 0};
        return MS_OK;
    }
    int target = (int)lround((spec->height < spec->width ? spec->height : spec->width) / CROP_FRACTION);
    double s = (double)target / (src_w < src_h ? src_w : src_h);
    long rw = lround(src_w * s), rh = lround(src_h * s);
    if (rw < spec->width) rw = spec->width;
    if (rh < spec->height) rh = spec->height;
    if (rw > 16 * target || rh > 16 * target)
        return ms_errorf(err, MS_ERR_UNSUPPORTED, "picture %dx%d is too elongated to crop", src_w,
                         src_h);
    g->resize_w = (int)rw;
    g->resize_h = (int)rh;
    g->crop_x = (int)(rw - spec->width) / 2;
    g->crop_y = (int)(rh - spec->height) / 2;
    return MS_OK;
}

void ms_normalise(const uint8_t *pixels, int stride, const ms_input_spec *spec, float *out)
{
    const int c = spec->channels;
    float mean[4], scale[4];
    for (int k = 0; k < 4; k++) {
        bool pc = spec->per_channel && k < 3;
        mean[k] = pc ? spec->chan_mean[k] : spec->mean;
        scale[k] = pc ? spec->chan_scale[k] : spec->scale;
    }
    for (int y = 0; y < spec->height; y++) {
        const uint8_t *row = pixels + (size_t)y * (size_t)stride;
        float *o = out + (size_t)y * (size_t)spec->width * (size_t)c;
        for (int x = 0; x < spec->width; x++, row += c, o += c) {
            if (c == 3 && spec->bgr) {
                o[0] = ((float)row[2] - mean[0]) * scale[0];
                o[1] = ((float)row[1] - mean[1]) * scale[1];
                o[2] = ((float)row[0] - mean[2]) * scale[2];
            } else {
                for (int k = 0; k < c; k++) o[k] = ((float)row[k] - mean[k < 4 ? k : 3]) * scale[k < 4 ? k : 3];
            }
        }
    }
}

/* The JPEG flavours of YUV are the plain ones at full range; swscale wants them named so. */
static enum AVPixelFormat plain_yuv(enum AVPixelFormat f, int *full_range)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

typedef struct {
    const uint8_t *const *data;
    const int *linesize;
    int w, h;
    enum AVPixelFormat fmt;
    int full_range;
    int colorspace; /* SWS_CS_* */
} source;

static ms_status prepare(ms_frame_converter *c, const source *s, int dst_w, int dst_h,
                         enum AVPixelFormat dst_fmt, const char *what, ms_error *err)
{
    if (c->sws && c->src_w == s->w && c->src_h == s->h && c->src_fmt == (int)s->fmt &&
        c->src_full_range == s->full_range && c->src_colorspace == s->colorspace &&
        c->dst_w == dst_w && c->dst_h == dst_h && c->dst_fmt == (int)dst_fmt)
        return MS_OK;
    sws_freeContext(c->sws);
    c->sws = NULL;
    if (c->dst_w != dst_w || c->dst_h != dst_h || c->dst_fmt != (int)dst_fmt || !c->pixels) {
        free(c->pixels);
        int bpp = dst_fmt == AV_PIX_FMT_GRAY8 ? 1 : 3;
        c->stride = dst_w * bpp;
        c->pixels = malloc((size_t)c->stride * (size_t)dst_h);
        c->dst_w = c->dst_h = 0;
        if (!c->pixels)
            return ms_errorf(err, MS_ERR_NOMEM, "%s: no memory for a %dx%d picture", what, dst_w, dst_h);
        c->dst_w = dst_w;
        c->dst_h = dst_h;
        c->dst_fmt = (int)dst_fmt;
    }
    ms_ffmpeg_clear_log();
    c->sws = sws_getContext(s->w, s->h, s->fmt, dst_w, dst_h, dst_fmt, SCALE_FLAGS, NULL, NULL, NULL);
    if (!c->sws) {
        const char *name = av_get_pix_fmt_name(s->fmt);
        return ms_ffmpeg_error(err, MS_ERR_UNSUPPORTED, AVERROR(EINVAL), what,
                               name ? name : "unknown pixel format");
    }
    const int *coefs = sws_getCoefficients(s->colorspace);
    sws_setColorspaceDetails(c->sws, coefs, s->full_range, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                             0, 1 << 16, 1 << 16);
    c->src_w = s->w;
    c->src_h = s->h;
    c->src_fmt = (int)s->fmt;
    c->src_full_range = s->full_range;
    c->src_colorspace = s->colorspace;
    return MS_OK;
}

static ms_status scale(ms_frame_converter *c, const source *s, int dst_w, int dst_h,
                       enum AVPixelFormat dst_fmt, const char *what, ms_error *err)
{
    ms_status st = prepare(c, s, dst_w, dst_h, dst_fmt, what, err);
    if (st != MS_OK) return st;
    uint8_t *dst[4] = {c->pixels, NULL, NULL, NULL};
    int dst_stride[4] = {c->stride, 0, 0, 0};
    int rows = sws_scale(c->sws, s->data, s->linesize, 0, s->h, dst, dst_stride);
    if (rows != dst_h) return ms_errorf(err, MS_ERR_FORMAT, "%s: scaling to %dx%d failed", what, dst_w, dst_h);
    return MS_OK;
}

static ms_status convert(ms_frame_converter *c, const source *s, const ms_input_spec *spec,
                         ms_resize_mode mode, float *out, const char *what, ms_error *err)
{
    ms_resize_geometry g = {0, 0, 0, 0};
    ms_status st = ms_resize_geometry_for(s->w, s->h, spec, mode, &g, err);
    if (st != MS_OK) return ms_error_prefix(err, "%s", what);
    enum AVPixelFormat dst_fmt = spec->channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
    st = scale(c, s, g.resize_w, g.resize_h, dst_fmt, what, err);
    if (st != MS_OK) return st;
    const uint8_t *window = c->pixels + (size_t)g.crop_y * (size_t)c->stride +
                            (size_t)g.crop_x * (size_t)spec->channels;
    ms_normalise(window, c->stride, spec, out);
    return MS_OK;
}

static int sws_colorspace(enum AVColorSpace cs)
{
    switch (cs) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_DEFAULT; /* BT.601, also what JPEG uses */
    }
}

static source frame_source(const AVFrame *f)
{
    int full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat fmt = plain_yuv((enum AVPixelFormat)f->format, &full);
    return (source){(const uint8_t *const *)f->data, f->linesize, f->width, f->height, fmt, full,
                    sws_colorspace(f->colorspace)};
}

ms_status ms_convert_frame(ms_frame_converter *c, const AVFrame *frame, const ms_input_spec *spec,
                           ms_resize_mode mode, float *out, const char *what, ms_error *err)
{
    source s = frame_source(frame);
    return convert(c, &s, spec, mode, out, what, err);
}

ms_status ms_convert_rgb(ms_frame_converter *c, const uint8_t *rgb, int width, int height,
                         int stride, const ms_input_spec *spec, ms_resize_mode mode, float *out,
                         const char *what, ms_error *err)
{
    const uint8_t *data[4] = {rgb, NULL, NULL, NULL};
    int linesize[4] = {stride, 0, 0, 0};
    source s = {data, linesize, width, height, AV_PIX_FMT_RGB24, 1, SWS_CS_DEFAULT};
    return convert(c, &s, spec, mode, out, what, err);
}

ms_status ms_convert_frame_to_rgb(ms_frame_converter *c, const AVFrame *frame, int width,
                                  int height, const char *what, ms_error *err)
{
    source s = frame_source(frame);
    return scale(c, &s, width, height, AV_PIX_FMT_RGB24, what, err);
}

void ms_converter_free(ms_frame_converter *c)
{
    sws_freeContext(c->sws);
    free(c->pixels);
    memset(c, 0, sizeof *c);
}
