/* TFLite import: the main subgraph of one .tflite file becomes an ms_graph.
 *
 * What the graph holds (see src/graph/graph.h for the layouts):
 *   - only the tensors that nodes and the graph's inputs and outputs use (shape
 *     operands of RESHAPE, MEAN axes and PAD paddings become node attributes);
 *   - constants in float32 `data`, dequantised with their own scale and zero point
 *     (per channel where the file says so); int32 biases of CONV_2D, DEPTHWISE_CONV_2D
 *     and FULLY_CONNECTED with scale input_scale * weight_scale[c], as TFLite computes;
 *   - for every non-float constant the file's bytes in `qdata`, in the IR's layout
 *     (depthwise weights transposed like `data`), and every tensor's quantisation;
 *   - depthwise weights [1, KH, KW, C*mult] as [C*mult, KH, KW, 1] with groups = C_in;
 *   - input_spec from the input tensor: uint8 pixels p give x = (p - zero_point) * scale;
 *     int8 models take p - 128, so mean = zero_point + 128; float models: p / 255 (the
 *     MLCommons Tiny Visual Wake Words reference feeds RGB pixels rescaled by 1/255, and
 *     a float .tflite file does not record its normalisation).
 * Tensor shapes are the file's, and ms_graph_infer_shapes must agree with every one of
 * them (SAME padding is resolved there). */
#ifndef MS_FORMATS_TFLITE_H
#define MS_FORMATS_TFLITE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"

/* Imports a .tflite file held in memory; `name` (the file name) starts every error
 * message and becomes g->source. The fingerprint is left for the caller (model.c). */
ms_status ms_tflite_import(const uint8_t *data, size_t size, const char *name, ms_graph **out,
                           ms_error *err);

#endif
