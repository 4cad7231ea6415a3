/* ONNX import: the main graph of one .onnx file becomes an ms_graph.
 *
 * The file is read with protobuf-c through the schema Debian ships
 * (/usr/include/onnx/onnx.proto, compiled by protoc-c at build time). What the graph
 * holds (see docs/formats.md, "ONNX"):
 *   - the IR's layouts: ONNX is NCHW and the IR NHWC, so every 4-D activation is held
 *     as NHWC and every axis, pad, permutation and broadcast operand is mapped; conv
 *     weights [O, I/groups, KH, KW] become [O, KH, KW, I/groups] (depthwise: [C*m, KH,
 *     KW, 1] with groups = C, as TFLite has them);
 *   - dimension 0 of every activation is the batch: the file's value in ONNX shapes
 *     (Shape nodes see it), 1 in the IR; no op may change or mix it;
 *   - initializers and Constant nodes as constants; the Shape / Gather / Unsqueeze /
 *     Concat / Cast / Reshape ... chains exporters emit for a Reshape's target are
 *     evaluated at import, so those nodes leave no trace in the graph;
 *   - Identity and Dropout (inference) dropped; BatchNormalization as the IR's batch
 *     norm (ms_graph_fold_batch_norm folds it into a preceding convolution);
 *   - input_spec from metadata_props (mean, std, range, channel_order) or, without
 *     them, pixels / 255.
 * Anything outside the supported operators and attributes is refused with
 * MS_ERR_UNSUPPORTED naming the node; malformed files with MS_ERR_FORMAT. */
#ifndef MS_FORMATS_ONNX_H
#define MS_FORMATS_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "graph/graph.h"

#define MS_ONNX_MAX_RANK 8

/* A float tensor in ONNX's own layout (a test case's input or output). */
typedef struct {
    char *name;
    int rank;
    int64_t dims[MS_ONNX_MAX_RANK];
    int64_t numel;
    float *data;
} ms_onnx_tensor;

typedef struct {
    /* Graph inputs bound to these values become constants (the conformance test runs
     * one-input plans: every input but the first is given this way). */
    const ms_onnx_tensor *consts;
    int n_consts;
} ms_onnx_options;

/* Imports a .onnx file held in memory; `name` starts every message and becomes
 * g->source. opts may be NULL. The fingerprint is left for the caller (model.c). */
ms_status ms_onnx_import(const uint8_t *data, size_t size, const char *name, const ms_onnx_options *opts,
                         ms_graph **out, ms_error *err);

/* Whether a file is ONNX: by extension (.onnx), else by content (it does not start
 * with TFLite's "TFL3" identifier at offset 4 and looks like a protobuf ModelProto). */
bool ms_onnx_detect(const char *path, const uint8_t *data, size_t size);

/* What a model holds, without importing it: the distinct op types of its nodes (in
 * order of first use, joined by '+'), and the names of its graph inputs that are not
 * initializers and of its outputs (joined by ','). For tests and `inspect`-like tools. */
typedef struct {
    char ops[512];
    char inputs[512];
    char outputs[512];
    int n_inputs, n_outputs;
} ms_onnx_info;
ms_status ms_onnx_describe(const uint8_t *data, size_t size, const char *name, ms_onnx_info *info, ms_error *err);

/* Reads a serialised TensorProto (ONNX test data: input_0.pb) of float, double or
 * integer type as float32. */
ms_status ms_onnx_read_tensor(const uint8_t *data, size_t size, const char *name, ms_onnx_tensor *out,
                              ms_error *err);
void ms_onnx_tensor_free(ms_onnx_tensor *t);

#endif
