/* Data augmentation on a model input (HWC floats, already resized and normalised): a
 * random crop of 80-100% of each side, scaled back to full size bilinearly, and a
 * horizontal flip with probability one half. Seeded, so a copy is reproducible. */
#ifndef MS_TRAIN_AUGMENT_H
#define MS_TRAIN_AUGMENT_H

#include <stdint.h>

/* dst and src are h * w * c floats; they must not overlap. */
void ms_augment(const float *src, float *dst, int h, int w, int c, uint64_t seed);

#endif
