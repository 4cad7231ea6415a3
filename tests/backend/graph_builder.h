/* Small random graphs for the backward tests of both backends (test_ref_backward.c,
 * test_dnnl_train.c): a builder that adds activations, random constants, nodes and
 * convolutions to a graph with one NHWC input, and the parameters that make a single op
 * placed between two trainable layers non-trivial (strides, clamps, reduced axes, pads).
 * The including file defines BUILDER_SEED, the start of its own random sequence, so
 * each file's graphs stay what they were. */
#ifndef MS_TESTS_BACKEND_GRAPH_BUILDER_H
#define MS_TESTS_BACKEND_GRAPH_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"
#include "testutil.h"

#ifndef BUILDER_SEED
#error "define BUILDER_SEED before including graph_builder.h"
#endif

static uint32_t rng = BUILDER_SEED;
static inline float rnd(void) /* uniform in [-1, 1) */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 23) - 1.0f;
}

typedef struct {
    ms_graph *g;
    int x, serial;
} builder;

static inline builder start(int64_t h, int64_t w, int64_t c)
{
    builder b = {ms_graph_new(), -1, 0};
    assert_non_null(b.g);
    int64_t shape[4] = {1, h, w, c};
    b.x = ms_test_tensor(b.g, "x", 4, shape);
    ms_test_set_io(b.g, b.x, b.x);
    return b;
}

static inline int act(builder *b)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", b->serial++);
    return ms_test_tensor(b->g, name, 0, NULL);
}

static inline int constant(builder *b, int ndim, const int64_t *shape, float scale)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = scale * rnd();
    char name[32];
    snprintf(name, sizeof name, "c%d", b->serial++);
    int t = ms_test_constant(b->g, name, ndim, shape, v);
    free(v);
    return t;
}

static inline ms_node *add(builder *b, ms_op_kind kind, const int *in, int n_in, int *out)
{
    *out = act(b);
    char name[32];
    snprintf(name, sizeof name, "n%d", b->serial++);
    return ms_test_node(b->g, kind, name, in, n_in, *out);
}

/* Makes t the output, infers every shape and returns t. */
static inline const ms_tensor *infer(builder *b, int t)
{
    ms_error err;
    b->g->outputs[0] = t;
    if (ms_graph_infer_shapes(b->g, &err)) fail_msg("%s", err.msg);
    return &b->g->tensors[t];
}

/* conv with k x k kernel, stride, groups, dilation, SAME padding, optional ReLU6 */
static inline int conv(builder *b, int x, int64_t out_c, int k, int stride, int groups, int dilation, bool relu6)
{
    const ms_tensor *in = infer(b, x);
    int64_t ws[4] = {out_c, k, k, in->shape[3] / groups}, bs[1] = {out_c};
    int inputs[3] = {x, constant(b, 4, ws, 0.5f), constant(b, 1, bs, 0.2f)}, y;
    ms_node *n = add(b, MS_OP_CONV2D, inputs, 3, &y);
    n->stride_h = n->stride_w = stride;
    n->groups = groups;
    n->dilation_h = n->dilation_w = dilation;
    n->padding = MS_PAD_SAME;
    if (relu6) {
        n->act_min = 0;
        n->act_max = 6;
    }
    return y;
}

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
