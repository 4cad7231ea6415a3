/* Random crop (bilinear rescale) and horizontal flip of a model input. */
#include "train/augment.h"

#include "train/dataset.h"

void ms_augment(const float *src, float *dst, int h, int w, int c, uint64_t seed)
{
    uint64_t st = seed;
    double sh = 0.8 + 0.2 * ms_rand_uniform(&st), sw = 0.8 + 0.2 * ms_rand_uniform(&st);
    double ch = sh * (h - 1), cw = sw * (w - 1);
    double y0 = ms_rand_uniform(&st) * ((h - 1) - ch), x0 = ms_rand_uniform(&st) * ((w - 1) - cw);
    int flip = ms_rand_uniform(&st) < 0.5;
    for (int y = 0; y < h; y++) {
        double fy = y0 + (h > 1 ? ch * y / (h - 1) : 0);
        int iy = (int)fy;
        if (iy >= h - 1) iy = h > 1 ? h - 2 : 0;
        double ay = h > 1 ? fy - iy : 0;
        for (int x = 0; x < w; x++) {
            int sx = flip ? w - 1 - x : x;
            double fx = x0 + (w > 1 ? cw * sx / (w - 1) : 0);
            int ix = (int)fx;
            if (ix >= w - 1) ix = w > 1 ? w - 2 : 0;
            double ax = w > 1 ? fx - ix : 0;
            int iy1 = h > 1 ? iy + 1 : iy, ix1 = w > 1 ? ix + 1 : ix;
            for (int k = 0; k < c; k++) {
                double a = src[((int64_t)iy * w + ix) * c + k], b = src[((int64_t)iy * w + ix1) * c + k];
                double e = src[((int64_t)iy1 * w + ix) * c + k], f = src[((int64_t)iy1 * w + ix1) * c + k];
                double top = a + (b - a) * ax, bottom = e + (f - e) * ax;
                dst[((int64_t)y * w + x) * c + k] = (float)(top + (bottom - top) * ay);
            }
        }
    }
}
