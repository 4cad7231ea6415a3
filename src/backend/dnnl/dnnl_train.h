/* Internals of the oneDNN train plan shared by its files: the plan, the compile context,
 * the buffer and gradient helpers (dnnl_train_mem.c) and the per-op forward
 * (dnnl_train_fwd.c) and backward (dnnl_train_bwd.c) lowerings. dnnl_train.c says how
 * the plan is laid out. */
#ifndef MS_BACKEND_DNNL_TRAIN_H
#define MS_BACKEND_DNNL_TRAIN_H

#include "backend/dnnl/dnnl_internal.h"

/* What a node's backward needs from its forward. */
typedef struct {
    dnnl_primitive_desc_t hint; /* the forward primitive descriptor */
    dnnl_memory_desc_t src_md, w_md;
    dnnl_memory_t src, w;       /* input 0 and the weights as the forward read them */
    dnnl_memory_t ws;           /* max pooling's workspace */
    dnnl_memory_t scale;        /* frozen batch norm's per-channel factor */
    dnnl_memory_desc_t scale_md;
    int w_param, b_param;       /* index in params, or -1 */
} dt_rec;

/* A forward value converted to another layout, kept for the backward pass. */
typedef struct {
    int t;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    int buf;
} dt_copy;

typedef struct {
    ms_train_plan base;
    dn_plan *p;
    ms_graph *g;          /* private copy at the batch size; params[].value point into it */
    int n_fwd;            /* steps [0, n_fwd) are the forward pass, the rest the backward */
    int input, logits, last;
    int in_buf, logits_buf, dlogits_buf;
} dt_plan;

typedef struct {
    dn_ctx c;             /* c.vals: the forward value of every tensor */
    dt_plan *tp;
    dn_node *nodes;       /* for messages (dn_fail names c.node) */
    dt_rec *recs;
    dn_value *grads;      /* per tensor; ready where a gradient is needed */
    bool *needs, *written;
    dt_copy *copies;
    int n_copies;
    bool backward;        /* lowering the backward pass (conversions are temporary) */
} dt_ctx;

/* The operation descriptors are unions in all but name: the largest of them. */
typedef union {
    dnnl_convolution_desc_t conv;
    dnnl_inner_product_desc_t ip;
} dt_weighted_op;

/* dnnl_train_mem.c */
const char *dt_gname(const ms_graph *g);
ms_status dt_nomem(dt_ctx *x);
ms_status dt_unsupported(dt_ctx *x, const ms_node *n, const char *why);
bool dt_has_params(const ms_node *n);
/* The ops whose forward clamps to [act_min, act_max] (the ref backend's list). */
bool dt_clamps(const ms_node *n);
bool dt_same_md(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);
/* A buffer of its own (never reused, zeroed once) holding md; buf may be NULL. */
ms_status dt_persistent(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, int *buf);
/* A buffer that lives until dt_release_temps (after each node's backward). */
ms_status dt_temp(dt_ctx *x, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, int *buf);
void dt_release_temps(dt_ctx *x);
/* A memory object over a caller-visible array (a parameter's value or gradient). */
ms_status dt_user_mem(dt_ctx *x, const dnnl_memory_desc_t *md, float *data, dnnl_memory_t *mem);
/* Makes tensor t's forward value a fresh buffer of its own in layout md. */
ms_status dt_new_value(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *mem);
/* Tensor t's forward value in layout want: its own memory, a conversion made in the
 * forward pass (kept for the backward), or, in the backward pass, a temporary one. */
ms_status dt_value_as(dt_ctx *x, int t, const dnnl_memory_desc_t *want, dnnl_memory_t *mem, int *buf);
/* A gradient (have, in have_md) in layout want, converted into a temporary if needed. */
ms_status dt_grad_as(dt_ctx *x, int t, const dnnl_memory_desc_t *have_md, dnnl_memory_t have,
                     const dnnl_memory_desc_t *want, dnnl_memory_t *mem);
/* Adds a contribution (mem in layout md) to t's gradient: the first is copied, the next
 * ones summed in. Nothing when t needs no gradient. */
ms_status dt_grad_add(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t mem);
/* Where a primitive writes its input gradient for t in layout md (*mem NULL when t
 * needs none): t's own buffer when it is the first contribution in t's layout, else a
 * temporary that dt_grad_commit adds. */
ms_status dt_grad_target(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, bool *direct);
ms_status dt_grad_commit(dt_ctx *x, int t, const dnnl_memory_desc_t *md, dnnl_memory_t mem, bool direct);
/* A primitive descriptor for desc with attr (destroyed here) and a forward hint. */
ms_status dt_make_pd(dt_ctx *x, const void *desc, dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                     dnnl_primitive_desc_t *pd);
/* A scratchpad attribute with node n's clamp as a post-op when it has one. */
ms_status dt_node_attr(dt_ctx *x, const ms_node *n, dnnl_primitive_attr_t *attr);
/* Emits pd (destroyed) after keeping a copy as node i's backward hint. */
ms_status dt_emit_keep(dt_ctx *x, int i, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args, int n_args);

/* dnnl_train_fwd.c: geometry shared with the backward, and each node's forward. */
void dt_weight_mds(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *user, dnnl_memory_desc_t *any,
                   dnnl_memory_desc_t *bias);
ms_status dt_weighted_desc(dt_ctx *x, const ms_node *n, dnnl_prop_kind_t prop, void *desc);
void dt_pool_geometry(const dt_ctx *x, const ms_node *n, dnnl_alg_kind_t *alg, dnnl_dims_t kernel,
                      dnnl_dims_t strides, dnnl_dims_t pl, dnnl_dims_t pr);
void dt_mean_md(const dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *src, dnnl_memory_desc_t *red);
/* Emits dst = src0 (alg) src1 with attr (destroyed here). */
ms_status dt_binary(dt_ctx *x, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *a_md, dnnl_memory_t a,
                    const dnnl_memory_desc_t *b_md, dnnl_memory_t b, const dnnl_memory_desc_t *d_md,
                    dnnl_memory_t d, dnnl_primitive_attr_t attr);
ms_status dt_pad_interior(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *sub);
void dt_eltwise_alg(const ms_node *n, dnnl_alg_kind_t *alg, float *a, float *b);
/* A binary node's operands: a computed, of the output's shape (mul swaps its operands
 * to get one), b a constant or a computed value of the output's rank that broadcasts. */
ms_status dt_binary_operands(dt_ctx *x, const ms_node *n, int *a, int *b);
/* Transpose and slice: the IR-order descriptors of the input and output plain bytes and
 * the input seen through the gather in the output's dimensions. */
ms_status dt_gather_mds(dt_ctx *x, const ms_node *n, dnnl_memory_desc_t *in_ir, dnnl_memory_desc_t *out_ir,
                        dnnl_memory_desc_t *view);
ms_status dt_binary_second(dt_ctx *x, const ms_node *n, int b, const dnnl_memory_desc_t *like,
                           dnnl_memory_desc_t *md, dnnl_memory_t *mem);
ms_status dt_forward_node(dt_ctx *x, int i);

/* dnnl_train_bwd.c: node i's backward, from its output's finished gradient. */
ms_status dt_backward_node(dt_ctx *x, int i);

#endif
