/* Node parameters the backward tests of both backends give a single op placed between
 * two trainable layers (test_ref_backward.c, test_dnnl_train.c): each sets what makes
 * the op non-trivial (strides, clamps, reduced axes, pads) on a node made by
 * ms_node_init. */
#ifndef MS_TESTS_BACKEND_OP_PARAMS_H
#define MS_TESTS_BACKEND_OP_PARAMS_H

#include "graph/graph.h"

/* 3x3 window, stride 2, SAME padding (avg and max pool). */
static inline void set_avg(ms_node *n)
{
    n->kernel_h = n->kernel_w = 3;
    n->stride_h = n->stride_w = 2;
    n->padding = MS_PAD_SAME;
}
static inline void set_clip(ms_node *n)
{
    n->act_min = 0;
    n->act_max = 0.5f;
}
static inline void set_mean(ms_node *n)
{
    n->axes_mask = 0x6; /* H and W */
    n->keep_dims = true;
}
static inline void set_mean_c(ms_node *n)
{
    n->axes_mask = 0x8; /* channels */
    n->keep_dims = false;
}
static inline void set_pad(ms_node *n)
{
    n->pads[1][0] = 1;
    n->pads[2][1] = 2;
    n->pads[3][0] = 1;
}
static inline void set_nothing(ms_node *n) { (void)n; }

#endif
