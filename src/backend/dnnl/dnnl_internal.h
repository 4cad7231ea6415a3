/* Internals of the oneDNN backend shared by its files: the plan (a list of primitives
 * with their arguments, run in order), the compile context that lowers graph nodes into
 * it, and the helpers every op lowering uses.
 *
 * Memory: activations live in buffers that the compiler hands out and takes back as
 * tensors die (liveness over the topological node order), so a plan's footprint is a few
 * activation-sized buffers, not one per tensor. Buffers are virtual while compiling (an id
 * and a size that may still grow); they are allocated once at the end and every memory
 * object then gets its data handle. The plan's input and output are the caller's arrays:
 * memory objects bound to them get their handles at each run. */
#ifndef MS_BACKEND_DNNL_INTERNAL_H
#define MS_BACKEND_DNNL_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>

#include "backend/backend.h"

/* Buffer ids below 0 are not in the pool. */
enum { DN_BUF_INPUT = -1, DN_BUF_OUTPUT = -2, DN_BUF_SCRATCH = -3, DN_BUF_OWNED = -4 };

typedef struct {
    size_t size;
    int refs;    /* values (tensor views) still using it while compiling */
    bool pinned; /* never reused: holds zero padding that must stay zero */
    void *data;
} dn_buf;

typedef struct {
    dnnl_memory_t mem;
    int buf; /* a pool id, or one of DN_BUF_* */
} dn_mem;

typedef struct {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t *args;
    int n_args;
    int node;        /* the graph node it was made for, -1 for the plan's own (input, output) */
    ms_op_kind kind; /* that node's op, for messages */
} dn_step;

typedef struct {
    ms_plan base;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dn_step *steps;
    int n_steps;
    dn_mem *mems;
    int n_mems;
    dn_buf *bufs;
    int n_bufs;
    void *scratch;
    size_t scratch_size;
    /* The primitives are built for `frames` frames and run opts.batch / frames times over
     * consecutive frames of a batch (see dnnl_backend.c, "Frames per run"). */
    int frames;
    /* The input's layout at the primitives' batch: plain f32, or the output layout of the
     * plan it reads (input_from), which run takes as it is. */
    dnnl_memory_desc_t in_md;
    /* The output's layout at the primitives' batch: plain f32 unless base.native_out. A u8
     * output carries its quantisation, for consumers and for converting it to plain. */
    dnnl_memory_desc_t out_md;
    float out_scale;
    int32_t out_zp;
} dn_plan;

/* The current form of one graph tensor while compiling: its layout and data type (f32,
 * or u8 in int8 plans) and the memory object over the buffer that holds it. */
typedef struct {
    bool ready;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    int buf;
} dn_value;

/* A node as the compiler sees it after fusion: activations of a following clip moved in,
 * a zero pad in front of a convolution moved into its padding. */
typedef struct {
    ms_node n;
    int in0;     /* first input (a pad's input when the pad was fused) */
    int index;   /* in the graph's node list */
    bool skip;   /* fused into another node */
} dn_node;

typedef struct {
    dn_plan *p;
    const ms_graph *g;
    int batch;
    ms_precision precision;
    bool native_output; /* the graph output stays in the layout its producer chose */
    dn_value *vals;   /* per tensor */
    int *last_use;    /* per tensor: last node reading it; n_nodes for the output */
    int *temps;       /* buffers to give back once the current node is lowered */
    int n_temps;
    const dn_node *node; /* being lowered, for messages */
    const char *phase;   /* what is being built when no node is ("the plan's input"), for messages */
    ms_error *err;
} dn_ctx;

/* Reports a failed oneDNN call as MS_ERR_BACKEND naming the node being lowered (its name
 * and op), or the phase of the plan when no node is. */
ms_status dn_fail(dn_ctx *c, dnnl_status_t s, const char *what);
/* Reports an allocation of ours that failed while compiling, as MS_ERR_NOMEM naming the
 * node or phase the same way. */
ms_status dn_nomem(dn_ctx *c);
#define DN_TRY(c, call, what)                              \
    do {                                                   \
        dnnl_status_t dn_s_ = (call);                      \
        if (dn_s_ != dnnl_success) return dn_fail(c, dn_s_, what); \
    } while (0)

/* The plain (NHWC / row-major) descriptor of tensor t at the plan's batch size; 4-D
 * tensors get oneDNN's logical order N, C, H, W with the nhwc tag. */
void dn_plain_md(const dn_ctx *c, int t, dnnl_data_type_t dt, dnnl_memory_desc_t *md);
/* IR dimension d of an ndim-D tensor as oneDNN's index (4-D NHWC: N, C, H, W). */
int dn_dim(int ndim, int d);
/* Constant t's plain descriptor right-aligned to ndim dimensions (1s in front: it
 * broadcasts). */
void dn_const_md(const dn_ctx *c, int t, int ndim, dnnl_memory_desc_t *md);
/* The same dimensions with format_tag any, for primitives to choose a layout. */
void dn_any_md(const dnnl_memory_desc_t *plain, dnnl_data_type_t dt, dnnl_memory_desc_t *md);

/* An attribute with a user-provided scratchpad (one per plan, see dn_emit). */
ms_status dn_attr(dn_ctx *c, dnnl_primitive_attr_t *attr);
/* Adds the activation [lo, hi] (scaled by 1/scale, for int8 outputs) as an eltwise
 * post-op; nothing when there is none. */
ms_status dn_attr_act(dn_ctx *c, dnnl_primitive_attr_t attr, float lo, float hi, float scale);

/* A memory object over buffer buf (a pool id or DN_BUF_*), registered in the plan. */
ms_status dn_mem_new(dn_ctx *c, const dnnl_memory_desc_t *md, int buf, dnnl_memory_t *out);
/* A memory object holding its own copy of data (constants), in layout md, converted
 * from the plain f32 array src in layout src_md. */
ms_status dn_const(dn_ctx *c, const dnnl_memory_desc_t *src_md, const void *src,
                   const dnnl_memory_desc_t *md, dnnl_memory_t *out);

/* Takes a buffer of at least size bytes from the pool (it holds one reference). */
int dn_buf_take(dn_ctx *c, size_t size, bool pinned);
void dn_buf_put(dn_ctx *c, int buf);

/* Creates the primitive for pd, appends it with args (DNNL_ARG_SCRATCHPAD is added
 * here) to the plan; the pd is destroyed either way. */
ms_status dn_emit(dn_ctx *c, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args, int n_args);

/* Tensor t in layout want: its value's memory when the layouts agree, else a reorder
 * (quantising or dequantising when the data types differ) into a buffer that lives until
 * the current node is lowered. */
ms_status dn_input(dn_ctx *c, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *out);
/* The same, also telling which buffer holds the result (for views of it). */
ms_status dn_input_buf(dn_ctx *c, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *out,
                       int *buf);
/* The layout an f32 op reads tensor t in: its value's own when that is f32, else plain. */
void dn_f32_md(const dn_ctx *c, int t, dnnl_memory_desc_t *md);
/* Appends a reorder of tensor t's data from src into dst (converting data types with
 * t's quantisation). */
ms_status dn_reorder(dn_ctx *c, int t, const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                     const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst);
/* The same with explicit quantisation (real = scale * (q - zp)). */
ms_status dn_reorder_quant(dn_ctx *c, float scale, int32_t zp, const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                           const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst);
/* Gives tensor t a fresh buffer in layout md and makes it t's value. */
ms_status dn_output(dn_ctx *c, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
/* Makes tensor t a view (descriptor md) of buffer buf, taking a reference on it. */
ms_status dn_alias(dn_ctx *c, int t, int buf, const dnnl_memory_desc_t *md);

/* Binds tensor t's value to the caller's output: converted to plain f32, or, for a
 * native output, in its own layout (copied when it does not live in the output). */
ms_status dn_final_output(dn_ctx *c, int t);
/* Whether md keeps each frame's bytes together, frame after frame (dimension 0
 * outermost and unblocked), so a frame can be copied alone and the batch changed. */
bool dn_frames_contiguous(const dnnl_memory_desc_t *md);
/* md with dimension 0 (the batch) set to batch; only for dn_frames_contiguous layouts. */
void dn_with_batch(const dnnl_memory_desc_t *md, int64_t batch, dnnl_memory_desc_t *out);

/* The descriptor actually chosen by a primitive for one argument. */
const dnnl_memory_desc_t *dn_pd_md(dnnl_primitive_desc_t pd, dnnl_query_t what);

/* Allocates every buffer at its final size (pinned ones zeroed) and binds each memory
 * object to its own; the end of compiling. */
ms_status dn_finish(dn_ctx *c);
/* Destroys a plan's primitives, memories and buffers, and the plan. */
void dn_plan_free(ms_plan *base);

/* Op lowerings (dnnl_ops.c, dnnl_int8.c). */
ms_status dn_lower_node(dn_ctx *c, const dn_node *n);
extern const ms_backend ms_backend_dnnl;
ms_status dn_lower_conv_int8(dn_ctx *c, const dn_node *n, bool *done);

/* dnnl_train.c: the train plan (backend.h's training interface), float32 only. */
ms_status dn_train_compile(const ms_graph *g, const ms_plan_options *opts, ms_loss loss, ms_train_plan **out,
                           ms_error *err);
ms_status dn_train_forward(ms_train_plan *plan, const float *in, float *out, ms_error *err);
ms_status dn_train_backward(ms_train_plan *plan, const float *target, double *loss, ms_error *err);
void dn_train_free(ms_train_plan *plan);

#endif
