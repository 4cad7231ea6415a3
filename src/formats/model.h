/* Loading a base model: one or more .tflite files chained into one network.
 *
 * Files are imported in order; each file after the first must have exactly one input,
 * which is joined to the previous network's single output (their shapes must match).
 * This is how the MobileNetV1 1.0_224 embedding extractor and its classifier head make
 * one classifier. g->source lists the files; g->fingerprint is the SHA-256 of the
 * bytes of all files, in order, so the same model files give the same fingerprint. */
#ifndef MS_FORMATS_MODEL_H
#define MS_FORMATS_MODEL_H

#include "base/error.h"
#include "graph/graph.h"

/* Files larger than this are refused. */
#define MS_MODEL_MAX_BYTES ((size_t)256 << 20)

ms_status ms_model_load(const char *const *paths, int n_paths, ms_graph **out, ms_error *err);

/* Appends `next` to `g`: next's only input becomes g's only output, next's outputs
 * become g's. `next` is consumed (freed) whether or not this succeeds. */
ms_status ms_model_chain(ms_graph *g, ms_graph *next, ms_error *err);

/* Sets the model's input normalisation from the command line: mean and std as three
 * comma-separated numbers each ("0.485,0.456,0.406"), per channel in the model's
 * channel order, on the scale of pixels / 255 (torchvision's convention). Either may be
 * NULL (mean 0, std 1); both NULL changes nothing. Errors name the option. */
ms_status ms_model_set_normalisation(ms_graph *g, const char *mean, const char *std, ms_error *err);

#endif
