/* The reference backward kernels: for each op, the gradients of a loss with respect to
 * its inputs (and to its weights and bias) given the gradient with respect to its
 * output. They sit beside the forward kernels of kernels.h and use the same views.
 *
 * Conventions, the same for every kernel:
 *   - gradients ACCUMULATE (+=) into dx, dw, db, so a tensor read by several nodes
 *     (a residual) collects every contribution; the caller zeroes them first;
 *   - a NULL gradient pointer means "not needed" and that part is skipped;
 *   - ops with a fused activation (conv, fc, pooling, add, mean) take dz, the gradient
 *     with respect to the value BEFORE the clamp; ref_act_backward makes it from dy and
 *     the forward output y;
 *   - they cannot fail: shapes are the forward pass's, already checked. */
#ifndef MS_BACKEND_REF_BACKWARD_H
#define MS_BACKEND_REF_BACKWARD_H

#include "backend/backend.h"
#include "backend/ref/kernels.h"

/* True when the node clamps its output (a fused activation or a clip). */
bool ref_has_act(const ms_node *n);

/* dz = dy where act_min < y < act_max, 0 where the clamp held y at a bound (dz is
 * written, not accumulated: it is scratch). Also the backward of CLIP, ReLU, ReLU6. */
void ref_act_backward(const ms_node *n, const ref_tensor *y, const ref_tensor *dy, ref_tensor *dz);

/* backward_conv.c */
void ref_conv2d_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *dz,
                         ref_tensor *dx, ref_tensor *dw, ref_tensor *db);
void ref_fully_connected_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *w, const ref_tensor *dz,
                                  ref_tensor *dx, ref_tensor *dw, ref_tensor *db);

/* backward_pool.c: max pooling sends each gradient to the first maximal cell of its
 * window, as the forward kernel picks it. */
void ref_avg_pool_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *dx);
void ref_max_pool_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *dz, ref_tensor *dx);
void ref_global_avg_pool_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *dx);
void ref_mean_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *dx);

/* backward_elementwise.c. Batch norm is frozen (inference statistics): only dx. */
void ref_batch_norm_backward(const ms_node *n, const ref_tensor *scale, const ref_tensor *variance,
                             const ref_tensor *dz, ref_tensor *dx);
void ref_add_backward(const ms_node *n, const ref_tensor *dz, ref_tensor *da, ref_tensor *db);
void ref_softmax_backward(const ms_node *n, const ref_tensor *y, const ref_tensor *dy, ref_tensor *dx);
void ref_sigmoid_backward(const ms_node *n, const ref_tensor *y, const ref_tensor *dy, ref_tensor *dx);
/* concat: inputs' gradients in order (NULL entries skipped); pad: the crop of dy;
 * reshape and copy: dy as it lies. */
void ref_concat_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *const *dx);
void ref_pad_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *dx);
void ref_copy_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *dx);

/* backward_onnx.c: add, sub, mul, div with broadcasting (a and b: the forward inputs);
 * leaky ReLU, hard sigmoid, hard swish (x: the forward input); transpose and slice. */
void ref_binary_backward(const ms_node *n, const ref_tensor *a, const ref_tensor *b, const ref_tensor *dz,
                         ref_tensor *da, ref_tensor *db);
void ref_activation_backward(const ms_node *n, const ref_tensor *x, const ref_tensor *dy, ref_tensor *dx);
void ref_gather_backward(const ms_node *n, const ref_tensor *dy, ref_tensor *dx);

/* Losses, averaged over the batch (dim 0), with the gradient with respect to the
 * LOGITS (the input of the final sigmoid or softmax), which is exact where the chain
 * through a saturated sigmoid would lose every digit.
 *   bce: z [N, K] logits, t [N, K] targets in [0, 1]:
 *        loss = mean over N of sum_k  max(z,0) - z*t + log(1 + exp(-|z|)),
 *        dz += (sigmoid(z) - t) / N
 *   softmax cross-entropy: z [N, C] logits, label[n] a class index, beta the softmax's:
 *        loss = mean over N of  logsumexp(beta*z) - beta*z[label],
 *        dz += beta * (softmax(beta*z) - onehot(label)) / N
 * Return the loss. */
double ref_bce_with_logits(const ref_tensor *z, const float *t, ref_tensor *dz);
double ref_softmax_xent(const ref_tensor *z, float beta, const float *label, ref_tensor *dz);
/* The train plans' loss (every backend's, so that they agree): checks the targets (BCE:
 * each in [0, 1]; softmax: each a class index), then adds the loss's gradient to dz and
 * sets *loss. `source` names the graph in messages. */
ms_status ref_loss_grad(ms_loss kind, const ref_tensor *z, float beta, const float *target, ref_tensor *dz,
                        double *loss, const char *source, ms_error *err);

/* ref.c: a private copy of g with every activation's batch dimension set to batch (the
 * graph's is 1) and shapes inferred afresh. */
ms_status ref_copy_graph(const ms_graph *g, int batch, ms_graph **out, ms_error *err);

/* train.c: the ref backend's train plan (backend.h's training interface). */
ms_status ref_train_compile(const ms_graph *g, const ms_plan_options *opts, ms_loss loss, ms_train_plan **out,
                            ms_error *err);
ms_status ref_train_forward(ms_train_plan *plan, const float *in, float *out, ms_error *err);
ms_status ref_train_backward(ms_train_plan *plan, const float *target, double *loss, ms_error *err);
void ref_train_free(ms_train_plan *plan);

#endif
