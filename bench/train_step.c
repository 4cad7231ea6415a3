/* Times one training step of the trainer's branch for bench/run_train_step.sh: for every
 * model, chokepoint and thread count asked for, builds the branch the trainer trains at
 * that chokepoint (ms_branch_from_base: the base layers after the cut, then flatten ->
 * fully connected K->1 -> sigmoid, the head at zero), compiles a train plan with binary
 * cross-entropy, and times --warmup then --steps steps on one batch with random 0/1
 * targets. A step is ms_train_forward, ms_train_backward and ms_optimizer_step, each
 * timed on its own.
 *
 * The batch is what the trainer's feature cache would hold: the base network's prefix
 * (run on the cpu backend) applied to --images (the first `batch` images of a folder,
 * sorted by name, repeated if fewer) or, without it, to uniform noise in [-1, 1). Real
 * activations matter: the ref backend's backward pass skips zero gradients, so its time
 * depends on how many ReLU6 outputs are clipped.
 *
 * Output, one line each (fields separated by spaces; ms are medians unless named min):
 *   branch <model> <cp> in=HxWxC params=N macs=M        the branch, once per chokepoint
 *   layer <model> <cp> <i> <op> key=value...             its nodes, for torch_train_peer.py
 *   ours <model> <backend> <optimizer> <cp> <batch> <threads> <step ms> <min step ms>
 *        <forward ms> <backward ms> <update ms> <rows/s> <params> <first loss> <last loss>
 *   ours <model> <backend> <optimizer> <cp> <batch> <threads> unsupported
 * The last form (and a '#' line with the reason) when the backend cannot train.
 *
 * usage: bench_train_step [--backend ref|cpu] [--chokepoints 11,13,15] [--batch 32]
 *                         [--threads 1,2] [--steps 10] [--warmup 2] [--optimizer adam|sgd]
 *                         [--images DIR] [--describe] NAME=FILE[+FILE]...
 * --describe prints the branch and layer lines only (no plan, no timing). FILE+FILE
 * chains files into one network (MobileNetV1 1.0_224's extractor and head). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/plan_time.h"
#include "base/clock.h"
#include "formats/model.h"
#include "formats/mpackage.h"
#include "graph/cut.h"
#include "media/image.h"
#include "train/dataset.h"
#include "train/features.h"
#include "train/optim.h"

enum { MAX_LIST = 32, MAX_FILES = 4 };

typedef struct {
    int v[MAX_LIST];
    int n;
} int_list;

typedef struct {
    const ms_backend *backend;
    ms_optimizer_kind optimizer;
    double lr;
    int_list cps, threads;
    int batch, steps, warmup;
    const char *images; /* folder of input images, or NULL for noise */
    bool describe;
} bench_options;

static int parse_list(const char *s, int min, int_list *l)
{
    l->n = 0;
    while (*s && l->n < MAX_LIST) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < min || v > 1 << 20 || (*end && *end != ',')) return -1;
        l->v[l->n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return l->n && !*s ? 0 : -1;
}

/* "HxWxC" (or "K") of a tensor without its batch dimension. */
static const char *dims(const ms_tensor *t, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = 0;
    for (int d = 1; d < t->ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, d > 1 ? "x%lld" : "%lld", (long long)t->shape[d]);
    return buf;
}

/* Elements of the trainable weights and biases, as the trainer counts them. */
static int64_t branch_params(const ms_graph *g)
{
    int64_t n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *nd = &g->nodes[i];
        if (!ms_branch_node_trainable(nd)) continue;
        for (int slot = 1; slot < nd->n_inputs && slot <= 2; slot++) n += ms_tensor_numel(&g->tensors[nd->inputs[slot]]);
    }
    return n;
}

/* The branch and one line per node: what torch_train_peer.py rebuilds. */
static void describe(const char *model, int cp, const ms_graph *g)
{
    char a[64], b[64];
    printf("branch %s %d in=%s params=%lld macs=%lld\n", model, cp, dims(&g->tensors[g->inputs[0]], a, sizeof a),
           (long long)branch_params(g), (long long)ms_graph_macs(g));
    for (int i = 0; i < g->n_nodes; i++) {
        const ms_node *n = &g->nodes[i];
        printf("layer %s %d %d %s in=%s out=%s", model, cp, i, ms_op_name(n->kind),
               dims(&g->tensors[n->inputs[0]], a, sizeof a), dims(&g->tensors[n->output], b, sizeof b));
        if (n->kind == MS_OP_CONV2D || n->kind == MS_OP_AVG_POOL || n->kind == MS_OP_MAX_POOL) {
            int kh = n->kernel_h, kw = n->kernel_w;
            if (n->kind == MS_OP_CONV2D) {
                const ms_tensor *w = &g->tensors[n->inputs[1]];
                kh = (int)w->shape[1];
                kw = (int)w->shape[2];
            }
            printf(" k=%dx%d stride=%dx%d dilation=%dx%d groups=%d pad=%d,%d,%d,%d", kh, kw, n->stride_h, n->stride_w,
                   n->dilation_h, n->dilation_w, n->groups, n->pad_top, n->pad_bottom, n->pad_left, n->pad_right);
        }
        if (ms_branch_node_trainable(n)) printf(" bias=%d", n->n_inputs > 2);
        if (isfinite(n->act_min) || isfinite(n->act_max)) printf(" act=%g,%g", n->act_min, n->act_max);
        putchar('\n');
    }
}

/* A batch of base inputs: images of o->images (cycled) or noise in [-1, 1). */
static ms_status base_inputs(const ms_graph *base, const bench_options *o, float **out, ms_error *err)
{
    int64_t numel = ms_tensor_numel(&base->tensors[base->inputs[0]]);
    float *x = malloc((size_t)(numel * o->batch) * sizeof *x);
    *out = x;
    if (!x) return ms_errorf(err, MS_ERR_NOMEM, "out of memory for a batch of %d inputs", o->batch);
    if (!o->images) {
        uint64_t rng = 0x5eed;
        for (int64_t i = 0; i < numel * o->batch; i++) x[i] = (float)(2.0 * ms_rand_uniform(&rng) - 1.0);
        return MS_OK;
    }
    ms_dataset d = {0};
    ms_status s = ms_dataset_add_folder(&d, o->images, true, err);
    if (!s && !d.n_samples) s = ms_errorf(err, MS_ERR_INVALID, "%s: no images (.jpg .jpeg .png .bmp)", o->images);
    for (int i = 0; !s && i < o->batch; i++)
        s = ms_image_load(d.sources[d.samples[i % d.n_samples].source].path, &base->input_spec, MS_TRAIN_RESIZE,
                          x + i * numel, err);
    ms_dataset_free(&d);
    return s;
}

/* The activations at chokepoint cp of the batch `in` (base inputs): the base layers
 * before the cut, run on the cpu backend. *act is malloc'd. */
static ms_status prefix_activations(const ms_graph *base, int cp, const float *in, int batch, float **act,
                                    ms_error *err)
{
    *act = NULL;
    ms_chokepoint *cps;
    int n;
    ms_status s = ms_graph_chokepoints(base, &cps, &n, err);
    if (s) return s;
    int cut = cps[cp].node_end; /* cp was checked by ms_branch_from_base */
    int64_t numel = ms_tensor_numel(&base->tensors[cps[cp].tensor]);
    free(cps);
    if (!(*act = malloc((size_t)(numel * batch) * sizeof **act)))
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory for the activations at chokepoint %d", cp);
    if (cut == 0) {
        memcpy(*act, in, (size_t)(numel * batch) * sizeof **act);
        return MS_OK;
    }
    ms_graph *prefix = NULL;
    ms_plan *plan = NULL;
    ms_plan_options po = {.batch = batch, .threads = 1, .precision = MS_PREC_FP32};
    s = ms_graph_segment(base, 0, cut, &prefix, err);
    if (!s) s = ms_plan_compile(ms_backend_find("cpu"), prefix, &po, &plan, err);
    if (!s) s = ms_plan_run(plan, in, *act, err);
    ms_plan_free(plan);
    ms_graph_free(prefix);
    return s;
}

typedef struct {
    double step, fwd, bwd, upd; /* ms */
} step_time;

/* Warm-up steps, then o->steps timed steps on the same batch; medians into *med, the
 * fastest step into *min_step, the loss of the first and of the last step. */
static ms_status time_steps(ms_train_plan *tp, ms_optimizer *opt, const bench_options *o, const float *in,
                            const float *target, step_time *med, double *min_step, double loss[2], ms_error *err)
{
    int n = o->steps;
    double *t = malloc(4 * (size_t)n * sizeof *t);
    if (!t) return ms_errorf(err, MS_ERR_NOMEM, "out of memory for the timings");
    ms_status s = MS_OK;
    for (int i = -o->warmup; !s && i < n; i++) {
        double l, t0 = (ms_now() * 1e3);
        s = ms_train_forward(tp, in, NULL, err);
        double t1 = (ms_now() * 1e3);
        if (!s) s = ms_train_backward(tp, target, &l, err);
        double t2 = (ms_now() * 1e3);
        if (s) break;
        ms_optimizer_step(opt, tp, o->lr);
        double t3 = (ms_now() * 1e3);
        if (i == -o->warmup) loss[0] = l;
        loss[1] = l;
        if (i < 0) continue;
        t[i] = t3 - t0;
        t[n + i] = t1 - t0;
        t[2 * n + i] = t2 - t1;
        t[3 * n + i] = t3 - t2;
    }
    if (!s) {
        *med = (step_time){ms_median(t, n), ms_median(t + n, n), ms_median(t + 2 * n, n), ms_median(t + 3 * n, n)};
        *min_step = t[0]; /* sorted by ms_median() */
    }
    free(t);
    return s;
}

/* One cell: a train plan of branch g at one thread count, trained on `in` (a batch of
 * activations at cp). Returns 0, or 1 on error. */
static int bench_cell(const char *model, int cp, const ms_graph *g, const float *in, int threads,
                      const bench_options *o)
{
    const char *opt_name = ms_optimizer_name(o->optimizer);
    ms_plan_options po = {.batch = o->batch, .threads = threads, .precision = MS_PREC_FP32};
    ms_train_plan *tp = NULL;
    ms_optimizer opt = {0};
    ms_error err;
    ms_status s = ms_train_compile(o->backend, g, &po, MS_LOSS_BCE, &tp, &err);
    if (s == MS_ERR_UNSUPPORTED) {
        printf("# %s: %s\n", model, err.msg);
        printf("ours %s %s %s %d %d %d unsupported\n", model, o->backend->name, opt_name, cp, o->batch, threads);
        return 0;
    }
    float *target = NULL;
    if (!s) s = ms_optimizer_init(&opt, o->optimizer, 0.9, 1e-4, tp, &err); /* train's defaults */
    if (!s) {
        target = malloc((size_t)(tp->out_numel * o->batch) * sizeof *target);
        if (!target) s = ms_errorf(&err, MS_ERR_NOMEM, "out of memory for a batch of %d", o->batch);
    }
    int64_t params = 0;
    for (int i = 0; !s && i < tp->n_params; i++) params += tp->params[i].numel;
    if (!s && params != branch_params(g))
        s = ms_errorf(&err, MS_ERR_INVALID, "the train plan has %lld parameters, the branch %lld", (long long)params,
                      (long long)branch_params(g));
    step_time med = {0};
    double min_step = 0, loss[2] = {0};
    if (!s) {
        uint64_t rng = 0x5eed0000u + (uint64_t)cp;
        for (int64_t i = 0; i < tp->out_numel * o->batch; i++) target[i] = (float)(ms_rand_next(&rng) & 1);
        s = time_steps(tp, &opt, o, in, target, &med, &min_step, loss, &err);
    }
    if (!s)
        printf("ours %s %s %s %d %d %d %.3f %.3f %.3f %.3f %.3f %.1f %lld %.5f %.5f\n", model, tp->backend->name,
               opt_name, cp, o->batch, threads, med.step, min_step, med.fwd, med.bwd, med.upd,
               o->batch * 1e3 / med.step, (long long)params, loss[0], loss[1]);
    else
        fprintf(stderr, "bench_train_step: %s chokepoint %d: %s\n", model, cp, err.msg);
    fflush(stdout);
    free(target);
    ms_optimizer_free(&opt);
    ms_train_free(tp);
    return s ? 1 : 0;
}

/* Every chokepoint and thread count of one NAME=FILE[+FILE]. */
static int bench_model(const char *spec, const bench_options *o)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    char *eq = strchr(buf, '=');
    if (!eq || eq == buf) {
        fprintf(stderr, "bench_train_step: '%s' is not NAME=FILE[+FILE]\n", spec);
        return 2;
    }
    *eq = 0;
    const char *files[MAX_FILES];
    int n = 0;
    for (char *f = strtok(eq + 1, "+"); f && n < MAX_FILES; f = strtok(NULL, "+")) files[n++] = f;
    ms_error err;
    ms_graph *base = NULL;
    if (ms_model_load(files, n, &base, &err)) {
        fprintf(stderr, "bench_train_step: %s\n", err.msg);
        return 1;
    }
    float *in = NULL;
    ms_status s = o->describe ? MS_OK : base_inputs(base, o, &in, &err);
    int rc = 0;
    for (int c = 0; !s && !rc && c < o->cps.n; c++) {
        int cp = o->cps.v[c];
        ms_graph *g = NULL;
        float *act = NULL;
        s = ms_branch_from_base(base, cp, &g, &err);
        if (!s) describe(buf, cp, g);
        fflush(stdout);
        if (!s && !o->describe) s = prefix_activations(base, cp, in, o->batch, &act, &err);
        for (int t = 0; !s && !rc && !o->describe && t < o->threads.n; t++)
            rc = bench_cell(buf, cp, g, act, o->threads.v[t], o);
        free(act);
        ms_graph_free(g);
    }
    if (s) {
        fprintf(stderr, "bench_train_step: %s: %s\n", buf, err.msg);
        rc = 1;
    }
    free(in);
    ms_graph_free(base);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_train_step [--backend ref|cpu] [--chokepoints 11,13,15] [--batch 32]\n"
                    "                        [--threads 1,2] [--steps 10] [--warmup 2] [--optimizer adam|sgd]\n"
                    "                        [--images DIR] [--describe] NAME=FILE[+FILE]...\n");
}

int main(int argc, char **argv)
{
    bench_options o = {.backend = ms_backend_find("ref"), .optimizer = MS_OPT_ADAM, .cps = {{11, 13, 15}, 3},
                       .threads = {{1}, 1}, .batch = 32, .steps = 10, .warmup = 2};
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--describe")) {
            o.describe = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0, kind;
        if (!strcmp(opt, "--backend")) bad = !(o.backend = ms_backend_find(v));
        else if (!strcmp(opt, "--optimizer")) bad = (kind = ms_optimizer_parse(v)) < 0, o.optimizer = (ms_optimizer_kind)kind;
        else if (!strcmp(opt, "--chokepoints")) bad = parse_list(v, 0, &o.cps);
        else if (!strcmp(opt, "--threads")) bad = parse_list(v, 1, &o.threads);
        else if (!strcmp(opt, "--batch")) bad = (o.batch = atoi(v)) < 1;
        else if (!strcmp(opt, "--steps")) bad = (o.steps = atoi(v)) < 1;
        else if (!strcmp(opt, "--warmup")) bad = (o.warmup = atoi(v)) < 0;
        else if (!strcmp(opt, "--images")) o.images = v;
        else bad = 1;
        if (bad) {
            fprintf(stderr, "bench_train_step: bad option %s %s\n", opt, v);
            return 2;
        }
    }
    if (i >= argc) {
        usage();
        return 2;
    }
    o.lr = o.optimizer == MS_OPT_SGD ? 1e-2 : 1e-3; /* mainstream train's defaults */
    for (; i < argc; i++) {
        int rc = bench_model(argv[i], &o);
        if (rc) return rc;
    }
    return 0;
}
