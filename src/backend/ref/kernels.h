/* The reference kernels: one plain C function per op, float32, NHWC, batch first. They
 * are the ground truth every other backend is tested against, so each is written to be
 * checked by reading it: straight loops over the output, sums in double, no tiling.
 *
 * Every kernel takes the node (for its attributes) and views of its tensors whose
 * shapes are already inferred and scaled to the batch; it cannot fail. */
#ifndef MS_BACKEND_REF_KERNELS_H
#define MS_BACKEND_REF_KERNELS_H

#include "graph/graph.h"

typedef struct {
    float *data;
    int ndim;
    int64_t shape[MS_MAX_DIMS];
} ref_tensor;

int64_t ref_numel(const ref_tensor *t);

/* The fused activation: clamps to [lo, hi] and lets NaN through (so errors upstream
 * stay visible instead of turning into a bound). */
static inline float ref_clamp(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* conv.c: b may be NULL (no bias). */
void ref_conv2d(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *b, ref_tensor *y);
void ref_fully_connected(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *b,
                         ref_tensor *y);

/* pool.c */
void ref_avg_pool(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_max_pool(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_global_avg_pool(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_mean(const ms_node *n, const ref_tensor *x, ref_tensor *y);
/* The walk ref_mean and its backward share: x's shape padded to 4-D and split into kept
 * and reduced extents, with the strides of x; returns the cells averaged per output. */
int64_t ref_mean_geometry(const ms_node *n, const ref_tensor *x, int64_t kept[4], int64_t reduced[4],
                          int64_t stride[4]);

/* elementwise.c */
void ref_batch_norm(const ms_node *n, const ref_tensor *x, const ref_tensor *scale, const ref_tensor *offset,
                    const ref_tensor *mean, const ref_tensor *variance, ref_tensor *y);
void ref_clip(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_add(const ms_node *n, const ref_tensor *a, const ref_tensor *b, ref_tensor *y);
void ref_softmax(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_sigmoid(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_binary(const ms_node *n, const ref_tensor *a, const ref_tensor *b, ref_tensor *y); /* mul, sub, div */
void ref_activation(const ms_node *n, const ref_tensor *x, ref_tensor *y); /* leaky relu, hard sigmoid/swish */

/* layout.c: inputs is an array of n->n_inputs views. */
void ref_concat(const ms_node *n, const ref_tensor *const *inputs, ref_tensor *y);
void ref_pad(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_copy(const ms_node *n, const ref_tensor *x, ref_tensor *y); /* reshape and copy */
void ref_transpose(const ms_node *n, const ref_tensor *x, ref_tensor *y);
void ref_slice(const ms_node *n, const ref_tensor *x, ref_tensor *y);

/* forward.c: runs node n's kernel; in holds views of its n->n_inputs inputs. */
void ref_forward_node(const ms_node *n, const ref_tensor **in, ref_tensor *y);

#endif
