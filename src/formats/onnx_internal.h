/* Shared between the ONNX importer's halves: onnx.c reads the model, its initializers,
 * inputs, outputs and metadata; onnx_ops.c turns each node into IR nodes (or folds it
 * into a constant). */
#ifndef MS_FORMATS_ONNX_INTERNAL_H
#define MS_FORMATS_ONNX_INTERNAL_H

#include <stdbool.h>

#include "formats/onnx.h"
#include "onnx.pb-c.h"

/* Constants and activations larger than this are refused (1 GiB of float32). */
#define OX_MAX_ELEMENTS ((int64_t)1 << 28)
/* Constants computed at import (folding, ConstantOfShape) are at most this large (64 MiB
 * of float32): a small file must not make the importer allocate gigabytes. */
#define OX_MAX_FOLDED ((int64_t)1 << 24)
/* Largest kernel, stride, dilation or pad accepted. */
#define OX_MAX_WINDOW 4096

/* A named ONNX value: a constant (held here, in ONNX's layout) or an activation (an IR
 * tensor, NHWC when 4-D, dimension 0 = 1 in the IR and `batch` here). */
typedef struct {
    const char *name;
    bool is_const;
    int rank;
    int64_t dims[MS_ONNX_MAX_RANK];
    int64_t numel;
    bool is_int;  /* constant of integer or bool type: values in i, else in f */
    float *f;
    int64_t *i;
    int tensor;   /* activation: IR tensor id */
    /* A channel shuffle in flight (ShuffleNet: Reshape [N,C,H,W] -> [N,g,C/g,H,W],
     * Transpose (0,2,1,3,4), Reshape back): 1 after the first reshape, 2 after the
     * transpose; `tensor` is still the 4-D input. Only those ops may read it. */
    int shuffle;
} ox_value;

typedef struct {
    const char *name; /* file name, for messages */
    ms_graph *g;
    int opset;
    int64_t batch;    /* dimension 0 of the graph input, as the file gives it */
    ox_value *vals;   /* allocated once for every value the graph can name, so pointers
                         into it stay valid while nodes add values */
    int n_vals, cap_vals;
    const Onnx__NodeProto *node; /* being imported, for messages */
    int node_index;
    ms_error *err;
} ox_ctx;

ms_status ox_fail(ox_ctx *c, ms_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "<file>: node N 'name' (OpType): message" */
ms_status ox_node_fail(ox_ctx *c, ms_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The value called name, or NULL. */
ox_value *ox_find(ox_ctx *c, const char *name);
/* Adds a value (name not copied: it lives in the unpacked model). */
ms_status ox_add_value(ox_ctx *c, const ox_value *v);
/* A constant from a TensorProto (external data refused, sizes checked). */
ms_status ox_tensor_value(ox_ctx *c, const Onnx__TensorProto *t, const char *what, ox_value *v);
void ox_value_free(ox_value *v);

/* Appends the IR nodes for one ONNX node, or folds it into constants. */
ms_status ox_add_node(ox_ctx *c, const Onnx__NodeProto *node, int index);

/* The IR dimension holding ONNX axis a of a rank-r activation (NCHW -> NHWC for r == 4). */
int ox_ir_axis(int rank, int a);
/* IR shape of an activation with ONNX dims (rank <= 4): layout mapped, dimension 0 = 1. */
void ox_ir_shape(int rank, const int64_t *dims, int64_t *ir);

#endif
