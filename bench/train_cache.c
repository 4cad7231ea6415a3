/* Measures what the frozen-prefix feature cache saves in training by running the three
 * ways of docs/trainer.md ("Cost") one after another on the same data, epochs, batches
 * and seeds, each timed by wall clock and by the process's CPU time:
 *
 *   cache  what `mainstream train` does: ms_features_build (decode every image, then one
 *          forward of the base per image up to the deepest chokepoint, keeping every
 *          requested chokepoint's activation), then ms_train_chokepoints (per chokepoint:
 *          the training steps, a validation forward after every epoch, the final scores).
 *   floor  the cache run's features pass plus its training steps alone (forward, backward
 *          and update of the training batches, as the trainer times them inside the cache
 *          run: ms_cp_result.step_seconds and step_cpu); no validation, no scoring.
 *   naive  the original's way: ms_features_build at chokepoint 0 only (the decoded,
 *          fitted input images), then ms_train_chokepoints on a cache whose fill hook runs
 *          the frozen prefix (a plan of the base from its input to the chokepoint, same
 *          backend, batch and plan threads) on the batch's images before every training
 *          step, validation batch and scoring batch, for each chokepoint separately.
 *
 * Early stopping is off (patience = epochs), so both training runs do every epoch; the
 * batches come from the trainer's seeded shuffles, so cache and naive train on the same
 * rows in the same order and should end with the same weights up to float rounding (the
 * two prefixes are different oneDNN plans). The bench prints the largest differences.
 *
 * usage: bench_train_cache --model FILE [--model FILE]... DATA [--chokepoints all|LIST] [--epochs 3]
 *                          [--batch 32] [--threads 1] [--backend cpu|ref]
 *                          [--optimizer adam|sgd] [--seed 1]
 * DATA as for `mainstream train` (--positive DIR --negative DIR, --classes DIR
 * --positive-class NAME, --video FILE --labels CSV, --train-fraction F, ...: the same
 * option set, MS_DATA_OPTIONS, parsed the same way); the split is the same for the same
 * seed. LIST: indices and ranges, e.g. 7-15 or 0,3,8-10. Threads as in
 * `mainstream train`: min(threads, chokepoints) chokepoints at once, the rest inside
 * each plan.
 *
 * Output: a table, then machine-readable lines (seconds):
 *   cost <cache|floor|naive|decode> <wall> <cpu>     (floor wall: nan with several
 *                                                     chokepoints trained at once)
 *   ratio <naive/cache|cache/floor> <wall> <cpu>
 *   agree <max |weight difference|> <max |weight|> <max |change by training|>
 *         <max |val loss difference|> <max |score difference|>
 *   cp <chokepoint> <cache training s> <steps s> <validation s> <naive training s> */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/clock.h"
#include "cli/data_args.h"
#include "formats/model.h"
#include "formats/mpackage.h"
#include "graph/cut.h"
#include "train/features.h"
#include "train/trainer.h"

typedef struct {
    ms_data_args data;
    const char *chokepoints, *backend;
    int epochs, batch, threads, optimizer;
    uint64_t seed;
} bench_args;

/* A moment (or a span) in wall-clock and process CPU seconds. */
typedef struct {
    double wall, cpu;
} span;

static span clock_now(void) { return (span){ms_now(), ms_process_cpu_now()}; }

static span since(span t0)
{
    span t = clock_now();
    return (span){t.wall - t0.wall, t.cpu - t0.cpu};
}

static span plus(span a, span b)
{
    return (span){a.wall + b.wall, a.cpu + b.cpu};
}

/* ---- the naive way: the frozen prefix at every batch ---- */

typedef struct {
    const ms_feature_cache *inputs; /* chokepoint 0 only: the fitted input images */
    int64_t in_numel;
    ms_graph **prefixes;            /* per slot: base nodes before the cut; NULL at chokepoint 0 */
    ms_plan **plans;                /* per slot: a plain-in, plain-out plan of prefixes[k] */
    float **batch_in;               /* per slot: a batch of input images (slots run on one thread each) */
    int n;
} naive_prefix;

static ms_status naive_fill(const ms_feature_cache *c, int k, const int64_t *rows, int64_t n, int batch, float *out,
                            ms_error *err)
{
    const naive_prefix *np = c->fill_ctx;
    ms_plan *p = np->plans[k];
    if (p && p->opts.batch != batch)
        return ms_errorf(err, MS_ERR_INVALID, "the prefix plan of chokepoint %d runs batches of %d, not %d", c->cps[k],
                         p->opts.batch, batch);
    float *x = p ? np->batch_in[k] : out;
    for (int i = 0; i < batch; i++)
        memcpy(x + i * np->in_numel, ms_features_row(np->inputs, 0, rows[i < n ? i : 0]),
               (size_t)np->in_numel * sizeof(float));
    return p ? ms_plan_run(p, x, out, err) : MS_OK;
}

static void naive_free(naive_prefix *np)
{
    for (int k = 0; k < np->n; k++) {
        if (np->plans) ms_plan_free(np->plans[k]);
        if (np->prefixes) ms_graph_free(np->prefixes[k]);
        if (np->batch_in) free(np->batch_in[k]);
    }
    free(np->plans);
    free(np->prefixes);
    free(np->batch_in);
    *np = (naive_prefix){0};
}

/* Compiles the prefix of every requested chokepoint and sets up view, the cache the
 * trainer reads: the requested chokepoints, the rows of inputs, filled by naive_fill. */
static ms_status naive_init(const ms_graph *base, const ms_chokepoint *all, const ms_feature_cache *inputs,
                            const int *cps, const int64_t *numel, int n, const char *backend, int batch,
                            int plan_threads, naive_prefix *np, ms_feature_cache *view, ms_error *err)
{
    *np = (naive_prefix){inputs, inputs->numel[0], calloc((size_t)n, sizeof(ms_graph *)),
                         calloc((size_t)n, sizeof(ms_plan *)), calloc((size_t)n, sizeof(float *)), n};
    if (!np->prefixes || !np->plans || !np->batch_in) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    ms_plan_options po = {.batch = batch, .threads = plan_threads, .precision = MS_PREC_FP32};
    ms_status s = MS_OK;
    for (int k = 0; k < n && !s; k++) {
        if (all[cps[k]].node_end == 0) continue;
        s = ms_graph_segment(base, 0, all[cps[k]].node_end, &np->prefixes[k], err);
        if (!s) s = ms_plan_compile(ms_backend_find(backend), np->prefixes[k], &po, &np->plans[k], err);
        if (!s && !(np->batch_in[k] = malloc((size_t)(np->in_numel * batch) * sizeof(float))))
            s = ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    *view = (ms_feature_cache){.n_cps = n, .cps = (int *)cps, .numel = (int64_t *)numel, .n_rows = inputs->n_rows,
                               .row_sample = inputs->row_sample, .row_augmented = inputs->row_augmented,
                               .fill = naive_fill, .fill_ctx = np};
    return s;
}

/* ---- comparing the two trainings ---- */

typedef struct {
    double weight, weight_scale, val_loss, score;
    double moved;  /* largest change of a weight by training (cache run): the check is not empty */
} agreement;

/* The largest difference between the weights pkg holds for chokepoint cp and the base's. */
static ms_status largest_move(const ms_mpackage *pkg, const ms_graph *base, int cp, double *moved, ms_error *err)
{
    ms_graph *trained = NULL, *initial = NULL;
    ms_status s = ms_mpackage_branch(pkg, base, cp, &trained, err);
    if (!s) s = ms_branch_from_base(base, cp, &initial, err);
    for (int i = 0; !s && i < trained->n_nodes; i++) {
        const ms_node *n = &trained->nodes[i];
        if (!ms_branch_node_trainable(n)) continue;
        for (int slot = 1; slot < n->n_inputs && slot <= 2; slot++) {
            const ms_tensor *x = &trained->tensors[n->inputs[slot]];
            const ms_tensor *y = &initial->tensors[initial->nodes[i].inputs[slot]];
            for (int64_t e = 0; e < ms_tensor_numel(x); e++)
                *moved = fmax(*moved, fabs((double)x->data[e] - y->data[e]));
        }
    }
    ms_graph_free(trained);
    ms_graph_free(initial);
    return s;
}

static ms_status compare(const ms_graph *base, const int *cps, const ms_mpackage *a, const ms_mpackage *b,
                         const ms_cp_result *ra, const ms_cp_result *rb, int n_cps, int64_t n_samples, agreement *ag,
                         ms_error *err)
{
    *ag = (agreement){0};
    if (a->n_tensors != b->n_tensors)
        return ms_errorf(err, MS_ERR_INVALID, "the runs trained %d and %d tensors", a->n_tensors, b->n_tensors);
    for (int t = 0; t < a->n_tensors; t++) {
        const ms_mpackage_tensor *x = &a->tensors[t], *y = &b->tensors[t];
        int64_t n = 1;
        for (int d = 0; d < x->ndim; d++) n *= x->shape[d];
        bool same = !strcmp(x->name, y->name) && x->ndim == y->ndim;
        for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == y->shape[d];
        if (!same)
            return ms_errorf(err, MS_ERR_INVALID, "the runs trained different tensors (%s, %s)", x->name, y->name);
        for (int64_t i = 0; i < n; i++) {
            ag->weight = fmax(ag->weight, fabs((double)x->data[i] - y->data[i]));
            ag->weight_scale = fmax(ag->weight_scale, fabs((double)x->data[i]));
        }
    }
    for (int k = 0; k < n_cps; k++) {
        ag->val_loss = fmax(ag->val_loss, fabs(ra[k].val_loss - rb[k].val_loss));
        for (int64_t i = 0; i < n_samples; i++)
            ag->score = fmax(ag->score, fabs((double)ra[k].scores[i] - rb[k].scores[i]));
        ms_status s = largest_move(a, base, cps[k], &ag->moved, err);
        if (s) return s;
    }
    return MS_OK;
}

/* ---- arguments: the shared command-line style (src/cli/args.c, getopt_long), with the
 * data options of `mainstream train` (MS_DATA_OPTIONS) ---- */

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_train_cache --model FILE [--model FILE]... DATA [--chokepoints all|LIST] [--epochs 3]\n"
                 "                         [--batch 32] [--threads 1] [--backend cpu|ref] [--optimizer adam|sgd]\n"
                 "                         [--seed 1]\n"
                 "DATA: --positive DIR --negative DIR | --classes DIR --positive-class NAME |\n"
                 "      --video FILE --labels CSV  [--val-video FILE --val-labels CSV] [--train-fraction F]\n"
                 "      [--frame-step N] [--mean R,G,B --std R,G,B]\n"
                 "LIST: chokepoint indices and ranges, e.g. 7-15 or 0,3,8-10\n"
                 "Options as in mainstream train: --opt value or --opt=value, unambiguous prefixes, any order.\n");
}

/* -1 when parsed, else the exit status (0 after --help, 2 on a usage error). */
static int parse(int argc, char **argv, bench_args *a)
{
    enum { O_CHOKEPOINTS = 1, O_BACKEND, O_EPOCHS, O_BATCH, O_THREADS, O_SEED, O_OPTIMIZER };
    static const struct option opts[] = {
        MS_DATA_OPTIONS,
        {"chokepoints", required_argument, NULL, O_CHOKEPOINTS}, {"backend", required_argument, NULL, O_BACKEND},
        {"epochs", required_argument, NULL, O_EPOCHS},           {"batch", required_argument, NULL, O_BATCH},
        {"threads", required_argument, NULL, O_THREADS},         {"seed", required_argument, NULL, O_SEED},
        {"optimizer", required_argument, NULL, O_OPTIMIZER},     {NULL, 0, NULL, 0}};
    *a = (bench_args){.data.train_fraction = -1, .chokepoints = "all", .backend = "cpu", .epochs = 3, .batch = 32,
                      .threads = 1, .optimizer = MS_OPT_ADAM, .seed = 1};
    ms_cli c;
    int code, bad = 0;
    ms_cli_begin(&c, "bench_train_cache", usage, opts, "");
    c.standalone = true;
    while (!bad && (code = ms_cli_next(&c, argc, argv)) != MS_CLI_DONE) {
        if (code == MS_CLI_EXIT) return c.exit_code;
        if ((bad = ms_data_option(&c, &a->data, code, optarg)) >= 0) continue;
        bad = 0;
        switch (code) {
        case O_CHOKEPOINTS: a->chokepoints = optarg; break;
        case O_BACKEND: bad = ms_cli_backend(&c, optarg, &a->backend); break;
        case O_EPOCHS: bad = ms_cli_int(&c, optarg, 1, 100000, &a->epochs); break;
        case O_BATCH: bad = ms_cli_int(&c, optarg, 1, 4096, &a->batch); break;
        case O_THREADS: bad = ms_cli_int(&c, optarg, 1, 1024, &a->threads); break;
        case O_SEED: bad = ms_cli_seed(&c, optarg, &a->seed); break;
        case O_OPTIMIZER: bad = ms_data_optimizer(&c, optarg, &a->optimizer); break;
        }
    }
    if (bad) return bad;
    if (optind < argc) return ms_cli_fail(&c, "unexpected argument '%s' (give each model file its own --model)", argv[optind]);
    if (!c.n_models) return ms_cli_fail(&c, "--model is required");
    if (!ms_backend_find(a->backend)) return ms_cli_fail(&c, "--backend: '%s' is not cpu or ref", a->backend);
    memcpy(a->data.models, c.models, sizeof *c.models * (size_t)c.n_models);
    a->data.n_models = c.n_models;
    return -1;
}

/* "all" or indices and ranges of a model with n chokepoints, into increasing *out. */
static ms_status parse_chokepoints(const char *spec, int n, int **out, int *count, ms_error *err)
{
    *count = 0;
    bool *want = calloc((size_t)n + 1, sizeof *want);
    *out = calloc((size_t)n + 1, sizeof **out);
    if (!want || !*out) {
        free(want);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    }
    bool ok = true;
    if (!strcmp(spec, "all")) {
        for (int i = 0; i < n; i++) want[i] = true;
    } else {
        for (const char *p = spec; ok && *p;) {
            char *end;
            long lo = strtol(p, &end, 10), hi = lo;
            ok = end != p;
            if (ok && *end == '-') {
                const char *q = end + 1;
                hi = strtol(q, &end, 10);
                ok = end != q;
            }
            ok = ok && (!*end || *end == ',') && lo >= 0 && lo <= hi && hi < n;
            for (long c = lo; ok && c <= hi; c++) want[c] = true;
            p = *end ? end + 1 : end;
            ok = ok && (*p || !*end); /* no trailing comma */
        }
    }
    for (int i = 0; ok && i < n; i++)
        if (want[i]) (*out)[(*count)++] = i;
    free(want);
    if (!ok || !*count)
        return ms_errorf(err, MS_ERR_INVALID, "--chokepoints: '%s' is not 'all' or indices and ranges of 0..%d", spec,
                         n - 1);
    return MS_OK;
}

/* ---- the runs ---- */

typedef struct {
    span total, inputs;  /* whole run; its features pass (cache) or input pass (naive) */
    ms_cp_result *res;
    ms_mpackage *pkg;
} run_result;

static void run_free(run_result *r, int n_cps)
{
    ms_cp_results_free(r->res, n_cps);
    free(r->res);
    ms_mpackage_free(r->pkg);
}

static ms_status run_cache(const ms_graph *base, ms_dataset *d, const int *cps, int n_cps,
                           const ms_feature_options *fo, const ms_trainer_options *to, run_result *r,
                           ms_feature_cache *fc, ms_error *err)
{
    span t0 = clock_now();
    ms_status s = ms_features_build(base, d, cps, n_cps, fo, fc, err);
    r->inputs = since(t0);
    if (!s) s = ms_mpackage_new("cache", base, &r->pkg, err);
    if (!s) s = ms_train_chokepoints(base, d, fc, to, r->pkg, r->res, err);
    r->total = since(t0);
    return s;
}

static ms_status run_naive(const ms_graph *base, const ms_chokepoint *all, ms_dataset *d, const int *cps,
                           const int64_t *numel, int n_cps, const ms_feature_options *fo, const ms_trainer_options *to,
                           run_result *r, ms_error *err)
{
    const int zero = 0;
    ms_feature_cache inputs = {0}, view = {0};
    naive_prefix np = {0};
    span t0 = clock_now();
    ms_status s = ms_features_build(base, d, &zero, 1, fo, &inputs, err);
    r->inputs = since(t0);
    if (!s)
        s = naive_init(base, all, &inputs, cps, numel, n_cps, to->backend, to->batch,
                       to->plan_threads > 1 ? to->plan_threads : 1, &np, &view, err);
    if (!s) s = ms_mpackage_new("naive", base, &r->pkg, err);
    if (!s) s = ms_train_chokepoints(base, d, &view, to, r->pkg, r->res, err);
    r->total = since(t0);
    naive_free(&np);
    ms_features_free(&inputs);
    return s;
}

/* ---- report ---- */

/* The sums over chokepoints of a run's training loops, steps and validation (wall). */
typedef struct {
    double loops, steps, steps_cpu, val;
} loop_sums;

static loop_sums sum_loops(const ms_cp_result *res, int n)
{
    loop_sums t = {0, 0, 0, 0};
    for (int k = 0; k < n; k++) {
        t.loops += res[k].seconds;
        t.steps += res[k].step_seconds;
        t.steps_cpu += res[k].step_cpu;
        t.val += res[k].val_seconds;
    }
    return t;
}

/* With several chokepoints trained at once, the per-chokepoint wall times overlap: their
 * sums are thread-seconds, and the floor has no wall time (its CPU time still holds:
 * each plan runs on its training thread). */
static void print_report(const bench_args *a, const ms_dataset *d, const ms_feature_cache *fc,
                         const ms_trainer_options *to, const run_result *cache, const run_result *naive,
                         const agreement *ag)
{
    int64_t tp, tn, vp, vn;
    ms_dataset_counts(d, true, &tp, &tn);
    ms_dataset_counts(d, false, &vp, &vn);
    loop_sums c = sum_loops(cache->res, fc->n_cps), n = sum_loops(naive->res, fc->n_cps);
    bool overlap = to->threads > 1;
    span floor = plus(cache->inputs, (span){overlap ? NAN : c.steps, c.steps_cpu});
    printf("%s: %lld training images (%lld positive), %lld validation (%lld positive); %d chokepoints (%d..%d), "
           "%d epochs, batch %d, %s backend, %d thread(s): %d chokepoint(s) at once, %d per plan\n",
           a->data.models[0], (long long)(tp + tn), (long long)tp, (long long)(vp + vn), (long long)vp, fc->n_cps,
           fc->cps[0], fc->cps[fc->n_cps - 1], a->epochs, a->batch, a->backend, a->threads, to->threads,
           to->plan_threads);
    printf("way        wall s    cpu s  made of (%s)\n",
           overlap ? "wall s; training parts: thread-seconds summed over chokepoints trained at once" : "wall s");
    printf("cache   %8.2f %8.2f  features pass %.2f (decode %.2f + prefix %.2f); training steps %.2f, validation "
           "%.2f, plan compiles and row copies %.2f",
           cache->total.wall, cache->total.cpu, cache->inputs.wall, fc->seconds_decode, fc->seconds_prefix, c.steps,
           c.val, c.loops - c.steps - c.val);
    if (!overlap) printf("; final scoring and setup %.2f", cache->total.wall - cache->inputs.wall - c.loops);
    printf("\nfloor   %8.2f %8.2f  features pass %.2f + training steps %.2f (cpu: features pass %.2f + steps' "
           "thread time %.2f)\n",
           floor.wall, floor.cpu, cache->inputs.wall, c.steps, cache->inputs.cpu, c.steps_cpu);
    printf("naive   %8.2f %8.2f  decode %.2f; training steps %.2f, validation with its prefix %.2f, plan compiles "
           "and the training batches' prefix %.2f",
           naive->total.wall, naive->total.cpu, naive->inputs.wall, n.steps, n.val, n.loops - n.steps - n.val);
    if (!overlap)
        printf("; final scoring (with the prefix), prefix compiles and setup %.2f",
               naive->total.wall - naive->inputs.wall - n.loops);
    printf("\nnaive/cache %.2f wall, %.2f cpu; cache/floor %.2f wall, %.2f cpu (decode, in all three: %.2f wall)\n",
           naive->total.wall / cache->total.wall, naive->total.cpu / cache->total.cpu, cache->total.wall / floor.wall,
           cache->total.cpu / floor.cpu, naive->inputs.wall);
    printf("cache against naive: largest weight difference %.3g (largest weight %.3g, largest change by training "
           "%.3g), validation loss %.3g, score %.3g\n",
           ag->weight, ag->weight_scale, ag->moved, ag->val_loss, ag->score);
    printf("chokepoint  cache train s  steps s  val s  naive train s  val loss cache  naive\n");
    for (int k = 0; k < fc->n_cps; k++)
        printf("%10d  %13.2f  %7.2f  %5.2f  %13.2f  %14.5f  %.5f\n", fc->cps[k], cache->res[k].seconds,
               cache->res[k].step_seconds, cache->res[k].val_seconds, naive->res[k].seconds, cache->res[k].val_loss,
               naive->res[k].val_loss);
    printf("cost cache %.3f %.3f\ncost floor %.3f %.3f\ncost naive %.3f %.3f\ncost decode %.3f %.3f\n",
           cache->total.wall, cache->total.cpu, floor.wall, floor.cpu, naive->total.wall, naive->total.cpu,
           naive->inputs.wall, naive->inputs.cpu);
    printf("ratio naive/cache %.3f %.3f\nratio cache/floor %.3f %.3f\n", naive->total.wall / cache->total.wall,
           naive->total.cpu / cache->total.cpu, cache->total.wall / floor.wall, cache->total.cpu / floor.cpu);
    printf("agree %.6g %.6g %.6g %.6g %.6g\n", ag->weight, ag->weight_scale, ag->moved, ag->val_loss, ag->score);
    for (int k = 0; k < fc->n_cps; k++)
        printf("cp %d %.3f %.3f %.3f %.3f\n", fc->cps[k], cache->res[k].seconds, cache->res[k].step_seconds,
               cache->res[k].val_seconds, naive->res[k].seconds);
}

static int bench(const bench_args *a)
{
    ms_error err;
    ms_graph *base = NULL;
    ms_chokepoint *all = NULL;
    ms_dataset d = {0};
    ms_feature_cache fc = {0};
    run_result cache = {0}, naive = {0};
    int *cps = NULL, n_cps = 0, n_all = 0;
    int64_t *numel = NULL;
    ms_status s = ms_model_load(a->data.models, a->data.n_models, &base, &err);
    if (!s) s = ms_graph_chokepoints(base, &all, &n_all, &err);
    if (!s) s = parse_chokepoints(a->chokepoints, n_all, &cps, &n_cps, &err);
    if (!s) s = ms_data_load(&a->data, a->seed, false, &d, &err);
    int64_t vp = 0, vn = 0;
    ms_dataset_counts(&d, false, &vp, &vn);
    if (!s && vp + vn == 0) s = ms_errorf(&err, MS_ERR_INVALID, "the validation split is empty: lower --train-fraction");
    if (!s) {
        numel = calloc((size_t)n_cps, sizeof *numel);
        cache.res = calloc((size_t)n_cps, sizeof *cache.res);
        naive.res = calloc((size_t)n_cps, sizeof *naive.res);
        if (!numel || !cache.res || !naive.res) s = ms_errorf(&err, MS_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; !s && k < n_cps; k++) numel[k] = ms_tensor_numel(&base->tensors[all[cps[k]].tensor]);
    /* mainstream train's threads and defaults; patience = epochs: no early stopping */
    int at_once = a->threads < n_cps ? a->threads : n_cps > 0 ? n_cps : 1;
    int per_plan = strcmp(a->backend, "ref") && a->threads / at_once > 1 ? a->threads / at_once : 1;
    ms_feature_options fo = {.backend = a->backend, .threads = a->threads, .batch = a->batch, .seed = a->seed,
                             .memory_limit = (size_t)2048 << 20};
    ms_trainer_options to = {.backend = a->backend,
                             .threads = at_once,
                             .plan_threads = per_plan,
                             .batch = a->batch,
                             .epochs = a->epochs,
                             .patience = a->epochs,
                             .optimizer = (ms_optimizer_kind)a->optimizer,
                             .schedule = MS_SCHED_COSINE,
                             .lr = a->optimizer == MS_OPT_SGD ? 1e-2 : 1e-3,
                             .momentum = 0.9,
                             .weight_decay = 1e-4,
                             .base_lr_scale = 1,
                             .seed = a->seed};
    if (!s) s = run_cache(base, &d, cps, n_cps, &fo, &to, &cache, &fc, &err);
    if (!s) s = run_naive(base, all, &d, cps, numel, n_cps, &fo, &to, &naive, &err);
    agreement ag;
    if (!s) s = compare(base, cps, cache.pkg, naive.pkg, cache.res, naive.res, n_cps, d.n_samples, &ag, &err);
    if (!s) print_report(a, &d, &fc, &to, &cache, &naive, &ag);
    if (s) fprintf(stderr, "bench_train_cache: %s\n", err.msg);
    run_free(&cache, n_cps);
    run_free(&naive, n_cps);
    ms_features_free(&fc);
    ms_dataset_free(&d);
    free(numel);
    free(cps);
    free(all);
    ms_graph_free(base);
    return s ? 1 : 0;
}

int main(int argc, char **argv)
{
    bench_args a;
    int r = parse(argc, argv, &a);
    return r >= 0 ? r : bench(&a);
}
