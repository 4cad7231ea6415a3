/* Turning a decoded picture into a model input: resize (libswscale, area filter) to the
 * model's size, either stretched or ImageNet-style (short side to size/0.875, then a
 * centred crop), then normalise every byte as x = (pixel - mean) * scale into a float
 * HWC buffer in the channel order the model wants. Images and video frames both come
 * through here, so a model sees the same preprocessing whatever the source. */
#ifndef MS_MEDIA_CONVERT_H
#define MS_MEDIA_CONVERT_H

#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"

struct AVFrame;
struct SwsContext;

typedef enum {
    MS_RESIZE_STRETCH,     /* the whole picture to height x width, aspect ratio not kept */
    MS_RESIZE_CENTER_CROP, /* short side to min(height, width) / 0.875, then centre crop */
} ms_resize_mode;

/* Parses "stretch" or "crop"; returns -1 for anything else. */
int ms_resize_mode_parse(const char *name);
const char *ms_resize_mode_name(ms_resize_mode mode);

/* Where the model's input comes from: the picture is scaled to resize_w x resize_h and
 * the input is the spec's height x width window at (crop_x, crop_y). */
typedef struct {
    int resize_w, resize_h;
    int crop_x, crop_y;
} ms_resize_geometry;

ms_status ms_resize_geometry_for(int src_w, int src_h, const ms_input_spec *spec,
                                 ms_resize_mode mode, ms_resize_geometry *g, ms_error *err);

/* x = (pixel - mean) * scale over a height x width window of packed 8-bit pixels
 * (RGB, or grey when the spec has one channel), written HWC; bgr swaps R and B. */
void ms_normalise(const uint8_t *pixels, int stride, const ms_input_spec *spec, float *out);

/* A scaler kept between calls: it is rebuilt only when the source or the output
 * geometry changes, so a video stream pays for the set-up once. Zero-initialise. */
typedef struct {
    struct SwsContext *sws;
    int src_w, src_h, src_fmt, src_full_range, src_colorspace;
    int dst_w, dst_h, dst_fmt;
    uint8_t *pixels; /* dst_w x dst_h packed RGB24 or GRAY8 */
    int stride;
} ms_frame_converter;

/* Converts a decoded frame to the model input (spec->height * width * channels floats).
 * `what` names the source in error messages. */
ms_status ms_convert_frame(ms_frame_converter *c, const struct AVFrame *frame,
                           const ms_input_spec *spec, ms_resize_mode mode, float *out,
                           const char *what, ms_error *err);

/* The same from packed RGB24 bytes (stride bytes per row). */
ms_status ms_convert_rgb(ms_frame_converter *c, const uint8_t *rgb, int width, int height,
                         int stride, const ms_input_spec *spec, ms_resize_mode mode, float *out,
                         const char *what, ms_error *err);

/* Scales a frame to packed RGB24 at width x height; the result stays in c->pixels
 * (c->stride bytes per row) until the next call. */
ms_status ms_convert_frame_to_rgb(ms_frame_converter *c, const struct AVFrame *frame, int width,
                                  int height, const char *what, ms_error *err);

void ms_converter_free(ms_frame_converter *c);

#endif
