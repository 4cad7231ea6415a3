/* Shared between the TFLite importer's two halves: tflite.c reads the model, its
 * tensors and buffers; tflite_ops.c turns each operator into IR nodes. */
#ifndef MS_FORMATS_TFLITE_INTERNAL_H
#define MS_FORMATS_TFLITE_INTERNAL_H

#include <stdbool.h>

#include "formats/flatbuf.h"
#include "graph/graph.h"

/* Field ids of the schema tables we read (tensorflow/lite/schema/schema.fbs; a union
 * takes two ids, its type and its value). */
enum { TFL_MODEL_VERSION = 0, TFL_MODEL_OPCODES = 1, TFL_MODEL_SUBGRAPHS = 2,
       TFL_MODEL_BUFFERS = 4 };
enum { TFL_SG_TENSORS = 0, TFL_SG_INPUTS = 1, TFL_SG_OUTPUTS = 2, TFL_SG_OPERATORS = 3 };
enum { TFL_T_SHAPE = 0, TFL_T_TYPE = 1, TFL_T_BUFFER = 2, TFL_T_NAME = 3, TFL_T_QUANT = 4,
       TFL_T_IS_VARIABLE = 5, TFL_T_SPARSITY = 6 };
enum { TFL_Q_SCALE = 2, TFL_Q_ZERO_POINT = 3, TFL_Q_DETAILS_TYPE = 4, TFL_Q_DIM = 6 };
enum { TFL_B_DATA = 0, TFL_B_OFFSET = 1, TFL_B_SIZE = 2 };
enum { TFL_OC_DEPRECATED_CODE = 0, TFL_OC_CUSTOM = 1, TFL_OC_CODE = 3 };
enum { TFL_OP_OPCODE = 0, TFL_OP_INPUTS = 1, TFL_OP_OUTPUTS = 2, TFL_OP_OPTIONS_TYPE = 3,
       TFL_OP_OPTIONS = 4 };

/* TensorType values. */
enum { TFL_FLOAT32 = 0, TFL_INT32 = 2, TFL_UINT8 = 3, TFL_INT64 = 4, TFL_INT8 = 9 };

/* How a file tensor has been used so far: depthwise weights are transposed in place,
 * so one tensor cannot serve both as a depthwise weight and as anything else. */
enum { TFL_USE_NONE, TFL_USE_PLAIN, TFL_USE_DEPTHWISE };

typedef struct {
    const char *name; /* file name, for messages */
    ms_fb fb;
    ms_fb_vec opcodes, buffers, tensors, operators;
    ms_graph *g;
    int *tensor_id;   /* file tensor index -> graph tensor id, or -1 before first use */
    unsigned char *use;
    bool *produced;   /* per graph tensor: a graph input or the output of an earlier node */
    int n_produced;   /* length of `produced` */
    char where[96];   /* what is being read, e.g. "operator 3 input 1: ", for messages */
    ms_error *err;
} tfl_ctx;

/* Sets err to "<file>: <where><message>" and returns code. */
ms_status tfl_fail(tfl_ctx *c, ms_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an error set by the flatbuffer reader with "<file>: <where><what>". */
ms_status tfl_prefix(tfl_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The graph tensor for file tensor `index`, added (with its constant data) on first use.
 * `depthwise` asks for a depthwise weight in the IR's layout. */
ms_status tfl_tensor(tfl_ctx *c, int32_t index, bool depthwise, int *id);

/* Reads a small constant int32/int64 operand (RESHAPE shape, MEAN axes, PAD paddings)
 * without adding it to the graph: at most max values into vals, their count in *n. */
ms_status tfl_const_ints(tfl_ctx *c, int32_t index, int64_t *vals, int max, int *n);

/* Whether graph tensor id is a graph input or an earlier node's output, and marking it. */
bool tfl_is_produced(const tfl_ctx *c, int id);
ms_status tfl_set_produced(tfl_ctx *c, int id);

/* Appends the IR nodes for operator `index` of the main subgraph. */
ms_status tfl_add_operator(tfl_ctx *c, uint32_t index);

#endif
