/* Still images: a one-frame stream decoded strictly, then converted once. */
#include "media/image.h"

#include <stdlib.h>

#include "media/video.h"

/* Opens path and decodes its picture, leaving it as the stream's current frame. */
static ms_status decode_picture(const char *path, ms_video **v, ms_error *err)
{
    ms_status st = ms_video_open_image(path, v, err);
    if (st != MS_OK) return st;
    bool end;
    st = ms_video_next(*v, NULL, MS_RESIZE_STRETCH, NULL, NULL, NULL, &end, err);
    if (st != MS_OK) {
        ms_video_close(*v);
        *v = NULL;
    }
    return st;
}

ms_status ms_image_load(const char *path, const ms_input_spec *spec, ms_resize_mode mode,
                        float *out, ms_error *err)
{
    ms_video *v;
    ms_status st = decode_picture(path, &v, err);
    if (st != MS_OK) return st;
    st = ms_video_convert(v, spec, mode, out, err);
    ms_video_close(v);
    return st;
}

ms_status ms_image_load_rgb(const char *path, ms_rgb_image *out, ms_error *err)
{
    *out = (ms_rgb_image){0, 0, 0, NULL};
    ms_video *v;
    ms_status st = decode_picture(path, &v, err);
    if (st != MS_OK) return st;
    const ms_video_info *info = ms_video_get_info(v);
    ms_frame_converter conv = {0};
    st = ms_convert_frame_to_rgb(&conv, ms_video_frame(v), info->width, info->height, path, err);
    if (st == MS_OK) {
        *out = (ms_rgb_image){info->width, info->height, conv.stride, conv.pixels};
        conv.pixels = NULL; /* now the caller's */
    }
    ms_converter_free(&conv);
    ms_video_close(v);
    return st;
}

void ms_rgb_image_free(ms_rgb_image *img)
{
    free(img->pixels);
    img->pixels = NULL;
}
