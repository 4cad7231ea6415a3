/* Still images as model inputs: decode a JPEG, PNG or BMP (anything FFmpeg reads as an
 * image), resize and normalise it per the model's input spec. */
#ifndef MS_MEDIA_IMAGE_H
#define MS_MEDIA_IMAGE_H

#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"
#include "media/convert.h"

/* Decodes path into out: spec->height * spec->width * spec->channels floats, HWC. */
ms_status ms_image_load(const char *path, const ms_input_spec *spec, ms_resize_mode mode,
                        float *out, ms_error *err);

typedef struct {
    int width, height;
    int stride;       /* bytes per row */
    uint8_t *pixels;  /* packed RGB24, malloc'd */
} ms_rgb_image;

/* Decodes path to RGB24 at its own size. Free with ms_rgb_image_free. */
ms_status ms_image_load_rgb(const char *path, ms_rgb_image *out, ms_error *err);
void ms_rgb_image_free(ms_rgb_image *img);

#endif
