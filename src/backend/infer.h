/* Whole-network inference on a batch given in the model's own layout (NCHW for ONNX
 * models, NHWC for TFLite): converts to the IR's NHWC at the edges, compiles a plan for
 * the batch (dimension 0 of the input) and runs it once. */
#ifndef MS_BACKEND_INFER_H
#define MS_BACKEND_INFER_H

#include "backend/backend.h"

typedef struct {
    int ndim;
    int64_t shape[MS_MAX_DIMS];
    float *data;
} ms_infer_tensor;

/* in: the input with its shape (dimension 0 = the batch, the rest the model's); out gets
 * the first graph output in the model's layout (data malloc'd, the caller frees it). */
ms_status ms_infer(const ms_backend *b, const ms_graph *g, int threads, ms_precision precision,
                   const ms_infer_tensor *in, ms_infer_tensor *out, ms_error *err);

#endif
