/* The model IR: tensors, ops and a graph whose nodes are in topological order.
 *
 * Layout conventions (the same as TFLite's, so importing is a copy):
 *   activations  NHWC, float32; shape[0] is the batch (1 in a graph, N when a backend
 *                compiles for a batch of N)
 *   conv weights [O, KH, KW, I/groups]  (depthwise: [C*mult, KH, KW, 1], groups = C)
 *   fc weights   [O, I]
 *   biases       [O]
 * Constant tensors hold their values as float32 in `data`; quantised models also keep
 * the raw quantised bytes and their parameters (the int8 backend reads them). */
#ifndef MS_GRAPH_GRAPH_H
#define MS_GRAPH_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define MS_MAX_DIMS 4

typedef enum { MS_DT_F32, MS_DT_U8, MS_DT_I8, MS_DT_I32, MS_DT_I64 } ms_dtype;

/* Affine quantisation: real = scale * (q - zero_point). n == 0: not quantised;
 * n == 1: per tensor; n > 1: per channel along `axis`. */
typedef struct {
    int n;
    float *scale;
    int32_t *zero_point;
    int axis;
} ms_quant;

typedef struct {
    char *name;
    int ndim;
    int64_t shape[MS_MAX_DIMS];
    ms_dtype dtype;   /* element type in the source model */
    ms_quant quant;   /* quantisation in the source model (activations too) */
    float *data;      /* constant values in float32; NULL for activations */
    void *qdata;      /* constant values as stored in the source model; NULL if none */
    size_t qbytes;
} ms_tensor;

typedef enum {
    MS_OP_CONV2D,          /* in: x, w, [b]; stride, dilation, padding, groups */
    MS_OP_FULLY_CONNECTED, /* in: x [N, I] (or anything flattening to it), w [O, I], [b] */
    MS_OP_BATCH_NORM,      /* in: x, scale, offset, mean, variance; epsilon (inference) */
    MS_OP_CLIP,            /* ReLU (0, inf), ReLU6 (0, 6), any clip: act_min, act_max */
    MS_OP_AVG_POOL,        /* kernel, stride, padding; averages over valid (non-pad) cells */
    MS_OP_MAX_POOL,
    MS_OP_GLOBAL_AVG_POOL, /* NHWC -> N11C */
    MS_OP_MEAN,            /* mean over axes (axes mask); keep_dims */
    MS_OP_ADD,             /* in: a, b (same shape, or b broadcast as [C]) */
    MS_OP_CONCAT,          /* in: any number; axis */
    MS_OP_PAD,             /* constant zero padding: pads[dim][0 before, 1 after] */
    MS_OP_RESHAPE,         /* also flatten and squeeze: output shape is the output tensor's */
    MS_OP_SOFTMAX,         /* over the last axis; beta */
    MS_OP_SIGMOID,
    MS_OP_COPY,            /* QUANTIZE / DEQUANTIZE of a float graph: values pass unchanged */
    /* Added for ONNX. Binary ops broadcast like NumPy (shapes right-aligned, a dimension
     * of 1 stretches); ADD does too. */
    MS_OP_MUL,
    MS_OP_SUB,
    MS_OP_DIV,
    MS_OP_TRANSPOSE,       /* y.shape[d] = x.shape[perm[d]]; perm[0] == 0 (the batch stays) */
    MS_OP_SLICE,           /* y[i] = x[starts + i * steps] per dimension; shape: the output's */
    MS_OP_LEAKY_RELU,      /* x < 0 ? alpha * x : x */
    MS_OP_HARD_SIGMOID,    /* clamp(alpha * x + beta, 0, 1) */
    MS_OP_HARD_SWISH,      /* x * clamp(x / 6 + 1/2, 0, 1) */
    MS_OP_COUNT
} ms_op_kind;

typedef enum { MS_PAD_VALID, MS_PAD_SAME, MS_PAD_EXPLICIT } ms_padding;

typedef struct {
    ms_op_kind kind;
    char *name;
    int *inputs;   /* tensor ids */
    int n_inputs;
    int output;    /* tensor id */

    /* convolution and pooling */
    int kernel_h, kernel_w;    /* pooling window; for conv taken from the weights */
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int groups;
    ms_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* resolved by ms_graph_infer_shapes */

    /* fused activation of conv / fc / add / pooling, and the clip op: output is clamped
     * to [act_min, act_max]; -INFINITY/INFINITY when there is none */
    float act_min, act_max;

    int axis;           /* concat, softmax */
    unsigned axes_mask; /* mean: bit d set = reduce dimension d */
    bool keep_dims;     /* mean */
    int pads[MS_MAX_DIMS][2]; /* pad */
    float epsilon;      /* batch norm */
    float beta;         /* softmax; hard sigmoid's offset */
    float alpha;        /* leaky relu's slope; hard sigmoid's slope */
    int perm[MS_MAX_DIMS];      /* transpose */
    int64_t starts[MS_MAX_DIMS], steps[MS_MAX_DIMS]; /* slice */
} ms_node;

/* How raw pixels become the model's input: x = (pixel - mean) * scale, channels RGB. */
typedef struct {
    int height, width, channels;
    float mean;
    float scale;
    bool bgr;
    /* Per-channel normalisation (ONNX models: mean and std per channel, from the file's
     * metadata or the command line): when set, x_c = (pixel - chan_mean[c]) *
     * chan_scale[c] replaces mean and scale. */
    bool per_channel;
    float chan_mean[3], chan_scale[3];
    const char *origin; /* where the spec came from, for `inspect` (a static string) */
} ms_input_spec;

typedef struct {
    ms_tensor *tensors;
    int n_tensors;
    ms_node *nodes; /* topological order */
    int n_nodes;
    int *inputs;
    int n_inputs;
    int *outputs;
    int n_outputs;
    ms_input_spec input_spec;
    char *source; /* file name(s) the graph came from, for messages */
    uint8_t fingerprint[32]; /* SHA-256 of the source model bytes, in order */
    bool nchw; /* the source model's 4-D inputs and outputs are NCHW (ONNX): the IR holds
                  them as NHWC, and `infer` converts at the edges */
} ms_graph;

/* Construction. Every function returns a tensor or node id, or -1 on allocation failure. */
ms_graph *ms_graph_new(void);
void ms_graph_free(ms_graph *g);
int ms_graph_add_tensor(ms_graph *g, const char *name, int ndim, const int64_t *shape,
                        ms_dtype dtype);
int ms_graph_add_node(ms_graph *g, ms_op_kind kind, const char *name, const int *inputs,
                      int n_inputs, int output);

/* Fills in node defaults (stride 1, dilation 1, groups 1, no activation, beta 1). */
void ms_node_init(ms_node *n, ms_op_kind kind);

/* Checks every node's input shapes, resolves SAME padding and sets every activation
 * tensor's shape from the inputs. Errors name the node and the mismatch. */
ms_status ms_graph_infer_shapes(ms_graph *g, ms_error *err);

int64_t ms_tensor_numel(const ms_tensor *t);
/* Makes a constant plain float32: frees its quantised bytes and parameters, which no
 * longer describe its float values once they have been changed (folded, trained). */
void ms_tensor_drop_quantised(ms_tensor *t);
int64_t ms_node_macs(const ms_graph *g, const ms_node *n);
int64_t ms_graph_macs(const ms_graph *g);
int64_t ms_graph_params(const ms_graph *g); /* elements of constant tensors used by nodes */

/* Whether a training plan handles every node. With onnx_ops (the ref backend), every op
 * trains. Without (the cpu backend): SLICE trains without negative steps; ADD trains
 * when its first input has the output's shape and its second that shape or one value
 * per channel; MUL, SUB and DIV when one operand (the first; either for MUL) is
 * computed with the output's shape and the other is a constant or a computed value of
 * the output's rank, which broadcasts. */
ms_status ms_graph_check_trainable(const ms_graph *g, bool onnx_ops, ms_error *err);

const char *ms_op_name(ms_op_kind kind);
const char *ms_dtype_name(ms_dtype t);
int ms_graph_find_tensor(const ms_graph *g, const char *name);
/* The node that computes the graph's single output, looking through COPY and RESHAPE
 * nodes (which pass values unchanged); NULL when there is no single computed output.
 * A classifier's is a SOFTMAX: its output is a class distribution. */
const ms_node *ms_graph_output_node(const ms_graph *g);

#endif
