/* Shared between the ONNX importer's files: onnx.c reads the model, its initializers,
 * inputs, outputs and metadata; onnx_node.c reads one node (attributes, inputs, the
 * output) and adds values; onnx_ops.c turns each node into IR nodes; onnx_fold.c
 * evaluates the nodes whose inputs are all constants (shape computations). */
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

typedef const Onnx__NodeProto ox_node_t;

/* onnx_node.c: attributes. ox_attr: attribute `name`, or NULL. ox_known_attrs refuses
 * attributes not in the comma-separated list `known`. The typed readers leave the
 * default when the attribute is absent and fail naming it when its type differs. */
const Onnx__AttributeProto *ox_attr(ox_node_t *n, const char *name);
ms_status ox_known_attrs(ox_ctx *c, ox_node_t *n, const char *known);
ms_status ox_attr_int(ox_ctx *c, ox_node_t *n, const char *name, int64_t def, int64_t *v);
ms_status ox_attr_float(ox_ctx *c, ox_node_t *n, const char *name, float def, float *v); /* finite */
/* At most max ints; *count = -1 when absent. */
ms_status ox_attr_ints(ox_ctx *c, ox_node_t *n, const char *name, int64_t *vals, int max, int *count);
/* Exactly two ints (strides, dilations); v unchanged when absent. */
ms_status ox_attr_pair(ox_ctx *c, ox_node_t *n, const char *name, int64_t *v);
ms_status ox_attr_string(ox_ctx *c, ox_node_t *n, const char *name, const char *def, char *buf, size_t size);
/* An operand that older opsets give as attribute `name` and newer ones as constant input
 * k: the attribute when present, else the input when present (ints: *count = -1 when
 * neither is; float: def). */
ms_status ox_ints_operand(ox_ctx *c, ox_node_t *n, const char *name, size_t k, int64_t *vals, int max, int *count);
ms_status ox_float_operand(ox_ctx *c, ox_node_t *n, const char *name, size_t k, float def, float *v);

/* onnx_node.c: inputs and outputs. ox_input: input k (any value; a channel shuffle in
 * flight only for the ops that continue it); _act / _const require an activation or a
 * constant; ox_const_ints: up to max integer values of constant input k (shape
 * operands, axes, pads); ox_const_scalar: its one value. ox_one_output: the node has
 * exactly one output, not computed before. */
bool ox_has_input(ox_node_t *n, size_t k);
ms_status ox_input(ox_ctx *c, ox_node_t *n, size_t k, ox_value **v);
ms_status ox_input_act(ox_ctx *c, ox_node_t *n, size_t k, ox_value **v);
ms_status ox_input_const(ox_ctx *c, ox_node_t *n, size_t k, ox_value **v);
ms_status ox_const_ints(ox_ctx *c, ox_node_t *n, size_t k, int64_t *vals, int max, int *count);
ms_status ox_const_scalar(ox_ctx *c, ox_node_t *n, size_t k, float *val);
ms_status ox_one_output(ox_ctx *c, ox_node_t *n);
/* Axis a of rank dimensions, negative counting from the end, as 0..rank-1. */
ms_status ox_norm_axis(ox_ctx *c, int64_t a, int rank, int *out);

/* onnx_node.c: values. */
int64_t ox_numel(int rank, const int64_t *dims);
double ox_cval(const ox_value *v, int64_t k); /* element k of a constant */
/* The NumPy broadcast of a's and b's dims (right-aligned; a dimension of 1 stretches). */
ms_status ox_broadcast(ox_ctx *c, const ox_value *a, const ox_value *b, int *rank, int64_t *dims);
/* Makes `name` another name of an existing value (constants copied). */
ms_status ox_alias(ox_ctx *c, const char *name, const ox_value *src);
/* A constant value (the arrays f or i handed over). */
ms_status ox_add_const(ox_ctx *c, const char *name, int rank, const int64_t *dims, float *f, int64_t *i);

/* onnx_fold.c: ops evaluated at import into constants (the output named by the node).
 * Shape, Constant, ConstantOfShape, Gather (constants only) and Cast (of an activation
 * to float: an alias) are folded whole; binary ops, Transpose and Concat when every
 * input is a constant (ox_fold_transpose: perm p, result dims given; ox_fold_concat:
 * along axis ax into dims). */
ms_status ox_fold_shape(ox_ctx *c, ox_node_t *n);
ms_status ox_fold_constant(ox_ctx *c, ox_node_t *n);
ms_status ox_fold_constant_of_shape(ox_ctx *c, ox_node_t *n);
ms_status ox_fold_gather(ox_ctx *c, ox_node_t *n);
ms_status ox_fold_cast(ox_ctx *c, ox_node_t *n);
ms_status ox_fold_binary(ox_ctx *c, ox_node_t *n, const ox_value *a, const ox_value *b);
ms_status ox_fold_transpose(ox_ctx *c, ox_node_t *n, const ox_value *x, const int64_t *p, const int64_t *dims);
ms_status ox_fold_concat(ox_ctx *c, ox_node_t *n, int rank, int ax, const int64_t *dims);

/* Appends the IR nodes for one ONNX node, or folds it into constants. */
ms_status ox_add_node(ox_ctx *c, const Onnx__NodeProto *node, int index);

/* The IR dimension holding ONNX axis a of a rank-r activation (NCHW -> NHWC for r == 4). */
int ox_ir_axis(int rank, int a);
/* IR shape of an activation with ONNX dims (rank <= 4): layout mapped, dimension 0 = 1. */
void ox_ir_shape(int rank, const int64_t *dims, int64_t *ir);

#endif
