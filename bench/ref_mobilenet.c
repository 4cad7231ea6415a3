/* Times the reference backend on MobileNetV1-shaped graphs with random weights, built
 * here by hand the way the TFLite models are laid out (BN folded into biases, ReLU6
 * fused, 7x7 average pool, 1x1 conv to 1001 logits, reshape, softmax), and prints
 * their MACs and parameters.
 *
 * Build and run (from the repository root, after a Release build in build-rel/):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/ref_mobilenet.c build-rel/libmainstream.a \
 *      $(pkg-config --libs libavformat libavcodec libswscale libavutil libcjson) -ldnnl -lm -lpthread \
 *      -o build-rel/bench_ref_mobilenet && build-rel/bench_ref_mobilenet [runs] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

#include "backend/backend.h"

static uint32_t seed = 1;

static float next_random(void)
{
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
}

/* A constant of the shape with values in [-scale, scale); -1 on allocation failure. */
static int random_constant(ms_graph *g, const char *name, int ndim, const int64_t *shape, float scale)
{
    int t = ms_graph_add_tensor(g, name, ndim, shape, MS_DT_F32);
    if (t < 0) return -1;
    size_t n = (size_t)ms_tensor_numel(&g->tensors[t]);
    float *v = malloc(n * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) v[i] = scale * next_random();
    g->tensors[t].data = v;
    return t;
}

/* Appends conv (+bias, ReLU6 unless `linear`) reading tensor x; returns its output. */
static int conv(ms_graph *g, int x, int64_t out_ch, int k, int64_t in_per_group, int groups, int stride, bool linear)
{
    char name[32];
    snprintf(name, sizeof name, "conv%d", g->n_nodes);
    float scale = 1.0f / (float)(k * k * in_per_group); /* keeps activations O(1) */
    int w = random_constant(g, "w", 4, (int64_t[]){out_ch, k, k, in_per_group}, 2.0f * scale);
    int b = random_constant(g, "b", 1, (int64_t[]){out_ch}, 0.1f);
    int y = ms_graph_add_tensor(g, name, 0, NULL, MS_DT_F32);
    if (w < 0 || b < 0 || y < 0) return -1;
    int i = ms_graph_add_node(g, MS_OP_CONV2D, name, (int[]){x, w, b}, 3, y);
    if (i < 0) return -1;
    ms_node *n = &g->nodes[i];
    n->groups = groups;
    n->stride_h = n->stride_w = stride;
    n->padding = MS_PAD_SAME;
    if (!linear) {
        n->act_min = 0;
        n->act_max = 6;
    }
    return y;
}

static ms_graph *mobilenet(float alpha, int res)
{
    static const struct { int out, stride; } blocks[13] = {
        {64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1},
        {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1},
    };
    ms_graph *g = ms_graph_new();
    if (!g) return NULL;
    int x = ms_graph_add_tensor(g, "input", 4, (int64_t[]){1, res, res, 3}, MS_DT_F32);
    int64_t c = (int64_t)(32 * alpha);
    int t = conv(g, x, c, 3, 3, 1, 2, false);
    for (int i = 0; i < 13 && t >= 0; i++) {
        int64_t out = (int64_t)(blocks[i].out * alpha);
        t = conv(g, t, c, 3, 1, (int)c, blocks[i].stride, false);
        if (t >= 0) t = conv(g, t, out, 1, c, 1, 1, false);
        c = out;
    }
    int pool = ms_graph_add_tensor(g, "pool", 0, NULL, MS_DT_F32);
    int pi = t < 0 || pool < 0 ? -1 : ms_graph_add_node(g, MS_OP_AVG_POOL, "pool", &t, 1, pool);
    if (pi >= 0) g->nodes[pi].kernel_h = g->nodes[pi].kernel_w = (res + 31) / 32;
    int logits4 = pi < 0 ? -1 : conv(g, pool, 1001, 1, c, 1, 1, true);
    int logits = ms_graph_add_tensor(g, "logits", 2, (int64_t[]){1, 1001}, MS_DT_F32);
    int prob = ms_graph_add_tensor(g, "prob", 0, NULL, MS_DT_F32);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    if (logits4 < 0 || logits < 0 || prob < 0 || !g->inputs || !g->outputs ||
        ms_graph_add_node(g, MS_OP_RESHAPE, "reshape", &logits4, 1, logits) < 0 ||
        ms_graph_add_node(g, MS_OP_SOFTMAX, "softmax", &logits, 1, prob) < 0) {
        ms_graph_free(g);
        return NULL;
    }
    g->inputs[0] = x;
    g->outputs[0] = prob;
    g->n_inputs = g->n_outputs = 1;
    return g;
}

static int bench(float alpha, int res, int runs)
{
    ms_graph *g = mobilenet(alpha, res);
    ms_error err;
    if (!g || ms_graph_infer_shapes(g, &err)) {
        fprintf(stderr, "bench: building MobileNet %.2f_%d failed: %s\n", alpha, res, g ? err.msg : "no memory");
        ms_graph_free(g);
        return 1;
    }
    ms_plan_options opts = {.batch = 1, .threads = 1, .precision = MS_PREC_FP32};
    ms_plan *plan;
    if (ms_plan_compile(ms_backend_find("ref"), g, &opts, &plan, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        ms_graph_free(g);
        return 1;
    }
    float *x = malloc((size_t)plan->in_numel * sizeof *x), *y = malloc((size_t)plan->out_numel * sizeof *y);
    for (int64_t i = 0; x && i < plan->in_numel; i++) x[i] = next_random();
    double best = 1e30;
    for (int r = 0; x && y && r < runs; r++) {
        double t0 = ms_now();
        ms_plan_run(plan, x, y, &err);
        double dt = ms_now() - t0;
        if (dt < best) best = dt;
    }
    printf("MobileNetV1 %.2f_%d: %d nodes, %.2f M MACs, %.3f M params, ref batch 1: best of %d runs %.1f ms\n",
           alpha, res, g->n_nodes, (double)ms_graph_macs(g) / 1e6, (double)ms_graph_params(g) / 1e6, runs,
           best * 1e3);
    free(x);
    free(y);
    ms_plan_free(plan);
    ms_graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    if (runs < 1) runs = 1;
    return bench(0.25f, 128, runs) | bench(1.0f, 224, runs);
}
