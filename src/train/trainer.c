/* The training loop at one chokepoint, and the worker threads that run it for each. */
#include "train/trainer.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

void ms_cp_results_free(ms_cp_result *results, int n)
{
    for (int i = 0; results && i < n; i++) {
        free(results[i].scores);
        free(results[i].epochs);
        results[i].scores = NULL;
        results[i].epochs = NULL;
    }
}

ms_curve_point ms_curve_point_from_scores(const ms_dataset *d, const float *scores, double threshold, bool all,
                                          bool train, int chokepoint)
{
    int64_t tp = 0, fp = 0, pos = 0, neg = 0;
    for (int64_t i = 0; i < d->n_samples; i++) {
        if (!all && d->samples[i].train != train) continue;
        bool said = scores[i] >= threshold;
        if (d->samples[i].positive) {
            pos++;
            tp += said;
        } else {
            neg++;
            fp += said;
        }
    }
    return (ms_curve_point){chokepoint, pos ? (double)tp / (double)pos : 0, neg ? (double)fp / (double)neg : 0, pos,
                            neg, threshold};
}

/* Copies the feature rows `rows` (n of them) of slot k into a batch of B, the missing
 * ones filled with the first row (or has the cache's fill hook compute them). */
static ms_status gather(const ms_feature_cache *fc, int k, const int64_t *rows, int64_t n, int B, float *in,
                        ms_error *err)
{
    if (fc->fill) return fc->fill(fc, k, rows, n, B, in, err);
    int64_t numel = fc->numel[k];
    for (int64_t i = 0; i < B; i++)
        memcpy(in + i * numel, ms_features_row(fc, k, rows[i < n ? i : 0]), (size_t)numel * sizeof(float));
    return MS_OK;
}

/* Runs the feature rows `rows` (n <= batch) through a train or a forward plan. */
static ms_status forward_rows(ms_train_plan *tp, ms_plan *fp, const ms_feature_cache *fc, int k, const int64_t *rows,
                              int64_t n, float *in, float *out, ms_error *err)
{
    int B = tp ? tp->opts.batch : fp->opts.batch;
    ms_status s = gather(fc, k, rows, n, B, in, err);
    if (s) return s;
    return tp ? ms_train_forward(tp, in, out, err) : ms_plan_run(fp, in, out, err);
}

ms_status ms_branch_scores(const ms_graph *branch, const ms_feature_cache *fc, int k, int n_samples,
                           const char *backend, int batch, float *scores, ms_error *err)
{
    ms_plan *plan;
    ms_plan_options po = {.batch = batch, .threads = 1, .precision = MS_PREC_FP32};
    const ms_backend *be = ms_backend_find(backend);
    if (!be) return ms_errorf(err, MS_ERR_INVALID, "unknown backend '%s'", backend);
    ms_status s = ms_plan_compile(be, branch, &po, &plan, err);
    if (s) return s;
    float *in = malloc((size_t)(fc->numel[k] * batch) * sizeof(float)), *out = malloc((size_t)batch * sizeof(float));
    int64_t *rows = malloc((size_t)batch * sizeof *rows);
    if (!in || !out || !rows) s = ms_errorf(err, MS_ERR_NOMEM, "out of memory scoring");
    for (int64_t r0 = 0; !s && r0 < n_samples; r0 += batch) {
        int64_t n = n_samples - r0 < batch ? n_samples - r0 : batch;
        for (int64_t i = 0; i < n; i++) rows[i] = r0 + i;
        s = forward_rows(NULL, plan, fc, k, rows, n, in, out, err);
        for (int64_t i = 0; !s && i < n; i++) scores[r0 + i] = out[i];
    }
    free(in);
    free(out);
    free(rows);
    ms_plan_free(plan);
    return s;
}

/* ---- one chokepoint ---- */

typedef struct {
    const ms_graph *base;
    const ms_dataset *d;
    const ms_feature_cache *fc;
    const ms_trainer_options *o;
    int k;                    /* slot in fc */
    ms_cp_result *res;
    ms_graph *branch;         /* trained weights end up here */
    pthread_mutex_t *print;
} cp_job;

typedef struct {
    ms_train_plan *tp;
    ms_optimizer opt;
    float *in, *target, *out;
    int64_t *pos, *neg, *val, *batch_rows;
    int64_t n_pos, n_neg, n_val;
    float *val_scores;        /* the last validation pass's score of every validation row */
    float **best;             /* best epoch's parameters */
} cp_state;

static void state_free(cp_state *st)
{
    if (st->best)
        for (int i = 0; st->tp && i < st->tp->n_params; i++) free(st->best[i]);
    free(st->best);
    ms_optimizer_free(&st->opt);
    ms_train_free(st->tp);
    free(st->in);
    free(st->target);
    free(st->out);
    free(st->pos);
    free(st->neg);
    free(st->val);
    free(st->val_scores);
    free(st->batch_rows);
}

static void shuffle(int64_t *a, int64_t n, uint64_t *rng)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(ms_rand_next(rng) % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static ms_status state_init(cp_job *j, cp_state *st, ms_error *err)
{
    const ms_feature_cache *fc = j->fc;
    int B = j->o->batch;
    ms_plan_options po = {.batch = B, .threads = j->o->plan_threads > 1 ? j->o->plan_threads : 1, .precision = MS_PREC_FP32};
    ms_status s = ms_train_compile(ms_backend_find(j->o->backend), j->branch, &po, MS_LOSS_BCE, &st->tp, err);
    if (s) return s;
    if ((s = ms_optimizer_init(&st->opt, j->o->optimizer, j->o->momentum, j->o->weight_decay, st->tp, err))) return s;
    for (int i = 0; i < st->tp->n_params; i++)
        if (!ms_mpackage_is_head_node(j->branch->nodes[st->tp->params[i].node].name))
            ms_optimizer_scale_lr(&st->opt, i, j->o->base_lr_scale);
    size_t rows = (size_t)fc->n_rows + 1;
    st->in = malloc((size_t)(fc->numel[j->k] * B) * sizeof(float));
    st->target = malloc((size_t)B * sizeof(float));
    st->out = malloc((size_t)B * sizeof(float));
    st->pos = malloc(rows * sizeof *st->pos);
    st->neg = malloc(rows * sizeof *st->neg);
    st->val = malloc(rows * sizeof *st->val);
    st->val_scores = malloc(rows * sizeof *st->val_scores);
    st->batch_rows = malloc((size_t)B * sizeof *st->batch_rows);
    st->best = calloc((size_t)st->tp->n_params + 1, sizeof *st->best);
    if (!st->in || !st->target || !st->out || !st->pos || !st->neg || !st->val || !st->val_scores || !st->batch_rows ||
        !st->best)
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory training chokepoint %d", fc->cps[j->k]);
    for (int i = 0; i < st->tp->n_params; i++)
        if (!(st->best[i] = malloc((size_t)st->tp->params[i].numel * sizeof(float))))
            return ms_errorf(err, MS_ERR_NOMEM, "out of memory training chokepoint %d", fc->cps[j->k]);
    for (int64_t r = 0; r < fc->n_rows; r++) {
        const ms_sample *smp = &j->d->samples[fc->row_sample[r]];
        if (!smp->train) st->val[st->n_val++] = r;
        else if (smp->positive) st->pos[st->n_pos++] = r;
        else st->neg[st->n_neg++] = r;
    }
    if (!st->n_pos || !st->n_neg)
        return ms_errorf(err, MS_ERR_INVALID, "the training split needs positive and negative frames (has %lld and %lld)",
                         (long long)st->n_pos, (long long)st->n_neg);
    return MS_OK;
}

/* Mean binary cross-entropy and accuracy at 0.5 over the validation rows. */
static ms_status validate(cp_job *j, cp_state *st, double *loss, double *acc, double *tpr, double *fpr, ms_error *err)
{
    int B = j->o->batch;
    double sum = 0;
    int64_t right = 0, tp = 0, fp = 0, pos_rows = 0;
    for (int64_t r0 = 0; r0 < st->n_val; r0 += B) {
        int64_t n = st->n_val - r0 < B ? st->n_val - r0 : B;
        ms_status s = forward_rows(st->tp, NULL, j->fc, j->k, st->val + r0, n, st->in, st->out, err);
        if (s) return s;
        for (int64_t i = 0; i < n; i++) {
            st->val_scores[r0 + i] = st->out[i];
            bool pos = j->d->samples[j->fc->row_sample[st->val[r0 + i]]].positive;
            double p = fmin(fmax(st->out[i], 1e-7), 1 - 1e-7);
            sum -= pos ? log(p) : log(1 - p);
            right += (st->out[i] >= 0.5f) == pos;
            tp += pos && st->out[i] >= 0.5f;
            fp += !pos && st->out[i] >= 0.5f;
            pos_rows += pos;
        }
    }
    *loss = st->n_val ? sum / (double)st->n_val : 0;
    *acc = st->n_val ? (double)right / (double)st->n_val : 0;
    *tpr = pos_rows ? (double)tp / (double)pos_rows : 0;
    *fpr = st->n_val - pos_rows ? (double)fp / (double)(st->n_val - pos_rows) : 0;
    return MS_OK;
}

/* One epoch of class-balanced batches: half positives, half negatives, each class
 * walked in a fresh seeded order and wrapped around when it runs out. */
static ms_status epoch(cp_job *j, cp_state *st, int e, long steps, long *step, double *train_loss, ms_error *err)
{
    const ms_trainer_options *o = j->o;
    int B = o->batch;
    uint64_t rng = o->seed ^ ((uint64_t)j->fc->cps[j->k] << 32) ^ (uint64_t)e * 0x9e3779b97f4a7c15ull;
    shuffle(st->pos, st->n_pos, &rng);
    shuffle(st->neg, st->n_neg, &rng);
    int64_t ip = 0, in = 0;
    double sum = 0;
    for (long b = 0; b < steps; b++) {
        for (int i = 0; i < B; i++) {
            bool pos = i < B / 2 || (B == 1 && (b & 1));
            st->batch_rows[i] = pos ? st->pos[ip++ % st->n_pos] : st->neg[in++ % st->n_neg];
            st->target[i] = pos ? 1.0f : 0.0f;
        }
        double loss;
        ms_status s = gather(j->fc, j->k, st->batch_rows, B, B, st->in, err);
        double t0 = ms_now(), c0 = ms_thread_cpu_now();
        if (!s) s = ms_train_forward(st->tp, st->in, NULL, err);
        if (!s) s = ms_train_backward(st->tp, st->target, &loss, err);
        if (s) return s;
        ms_optimizer_step(&st->opt, st->tp, ms_schedule_lr(o->schedule, o->lr, (*step)++, steps * o->epochs));
        j->res->step_seconds += ms_now() - t0;
        j->res->step_cpu += ms_thread_cpu_now() - c0;
        sum += loss;
    }
    *train_loss = sum / (double)steps;
    return MS_OK;
}

static void snapshot(cp_state *st, bool restore)
{
    for (int i = 0; i < st->tp->n_params; i++) {
        ms_param *p = &st->tp->params[i];
        if (restore) memcpy(p->value, st->best[i], (size_t)p->numel * sizeof(float));
        else memcpy(st->best[i], p->value, (size_t)p->numel * sizeof(float));
    }
}

/* The best epoch's validation scores become the chokepoint's scores: the weights kept
 * are that epoch's, so scoring the validation rows again would repeat its pass. */
static void keep_scores(cp_job *j, const cp_state *st)
{
    for (int64_t i = 0; i < st->n_val; i++) j->res->scores[j->fc->row_sample[st->val[i]]] = st->val_scores[i];
}

static ms_status train_one(cp_job *j, ms_error *err)
{
    const ms_trainer_options *o = j->o;
    int cp = j->fc->cps[j->k];
    ms_status s = ms_branch_from_base(j->base, cp, &j->branch, err);
    if (s) return s;
    cp_state st = {0};
    double t0 = ms_now();
    s = state_init(j, &st, err);
    long steps = (long)((st.n_pos + st.n_neg) / o->batch), step = 0;
    if (steps < 1) steps = 1;
    double best = INFINITY;
    int bad = 0;
    if (!s && !(j->res->scores = malloc(((size_t)j->d->n_samples + 1) * sizeof(float))))
        s = ms_errorf(err, MS_ERR_NOMEM, "out of memory training chokepoint %d", cp);
    if (!s && !(j->res->epochs = calloc((size_t)(o->epochs > 0 ? o->epochs : 1), sizeof *j->res->epochs)))
        s = ms_errorf(err, MS_ERR_NOMEM, "out of memory training chokepoint %d", cp);
    for (int64_t i = 0; !s && i < j->d->n_samples; i++) j->res->scores[i] = NAN;
    for (int e = 0; !s && e < o->epochs && bad < o->patience; e++) {
        double train_loss = 0, val_loss = 0, acc = 0, tpr = 0, fpr = 0;
        s = epoch(j, &st, e, steps, &step, &train_loss, err);
        double v0 = ms_now();
        if (!s) s = validate(j, &st, &val_loss, &acc, &tpr, &fpr, err);
        j->res->val_seconds += ms_now() - v0;
        if (s) break;
        j->res->epochs[e] = (ms_epoch_log){e + 1, train_loss, val_loss, acc, tpr, fpr, ms_now() - t0};
        j->res->epochs_run = e + 1;
        j->res->rows_trained += steps * o->batch;
        j->res->rows_validated += st.n_val;
        if (val_loss < best - 1e-6 || !st.n_val) {
            best = val_loss;
            j->res->best_epoch = e + 1;
            bad = 0;
            snapshot(&st, false);
            keep_scores(j, &st);
        } else {
            bad++;
        }
        if (o->progress) {
            pthread_mutex_lock(j->print);
            double dt = ms_now() - t0;
            fprintf(stderr, "\rcp %02d epoch %d/%d  loss %.4f  val loss %.4f  val acc %.3f  %.0f img/s   %s", cp, e + 1,
                    o->epochs, train_loss, val_loss, acc, dt > 0 ? (double)j->res->rows_trained / dt : 0.0,
                    o->threads > 1 ? "\n" : "");
            pthread_mutex_unlock(j->print);
        }
    }
    if (!s) {
        snapshot(&st, true);
        j->res->val_loss = best;
        j->res->seconds = ms_now() - t0;
        for (int i = 0; i < st.tp->n_params; i++) {
            const ms_param *p = &st.tp->params[i];
            ms_tensor *t = &j->branch->tensors[j->branch->nodes[p->node].inputs[p->slot]];
            memcpy(t->data, p->value, (size_t)p->numel * sizeof(float));
        }
    }
    state_free(&st);
    if (!s) j->res->point = ms_curve_point_from_scores(j->d, j->res->scores, 0.5, false, false, cp);
    return s;
}

/* ---- the chokepoints on worker threads ---- */

typedef struct {
    cp_job *jobs;
    int n, next;
    pthread_mutex_t lock, print;
    ms_status status;
    ms_error err;
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int i = p->status ? -1 : p->next < p->n ? p->next++ : -1;
        pthread_mutex_unlock(&p->lock);
        if (i < 0) return NULL;
        ms_error err;
        ms_status s = train_one(&p->jobs[i], &err);
        if (s) {
            pthread_mutex_lock(&p->lock);
            if (!p->status) {
                p->status = s;
                p->err = err;
                ms_error_prefix(&p->err, "chokepoint %d", p->jobs[i].fc->cps[p->jobs[i].k]);
            }
            pthread_mutex_unlock(&p->lock);
        }
    }
}

ms_status ms_train_chokepoints(const ms_graph *base, const ms_dataset *d, const ms_feature_cache *fc,
                               const ms_trainer_options *o, ms_mpackage *pkg, ms_cp_result *results, ms_error *err)
{
    if (o->batch < 1 || o->epochs < 1 || o->patience < 1 || o->lr <= 0)
        return ms_errorf(err, MS_ERR_INVALID, "batch, epochs, patience and learning rate must be positive");
    if (!ms_backend_find(o->backend)) return ms_errorf(err, MS_ERR_INVALID, "unknown backend '%s'", o->backend);
    pool p = {calloc((size_t)fc->n_cps, sizeof(cp_job)), fc->n_cps, 0, PTHREAD_MUTEX_INITIALIZER,
              PTHREAD_MUTEX_INITIALIZER, MS_OK, {0}};
    if (!p.jobs) return ms_errorf(err, MS_ERR_NOMEM, "out of memory");
    memset(results, 0, (size_t)fc->n_cps * sizeof *results);
    /* One thread goes deepest first (the order in which a shared cache would be filled);
     * several take the most expensive (shallowest) first, so that the longest job does
     * not start last. */
    for (int i = 0; i < fc->n_cps; i++) {
        int k = o->threads > 1 ? i : fc->n_cps - 1 - i;
        p.jobs[i] = (cp_job){base, d, fc, o, k, &results[k], NULL, &p.print};
    }
    int nt = o->threads < fc->n_cps ? o->threads : fc->n_cps;
    pthread_t *t = calloc((size_t)(nt > 0 ? nt : 1), sizeof *t);
    int started = 0;
    for (; t && started < nt; started++)
        if (pthread_create(&t[started], NULL, worker, &p)) break;
    if (started == 0) worker(&p);
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    free(t);
    if (o->progress && o->threads <= 1) fputc('\n', stderr);
    ms_status s = p.status;
    if (s) *err = p.err;
    for (int i = 0; i < fc->n_cps; i++) {
        if (!s) s = ms_mpackage_put_branch(pkg, p.jobs[i].branch, &p.jobs[i].res->point, err);
        ms_graph_free(p.jobs[i].branch);
    }
    free(p.jobs);
    if (s) ms_cp_results_free(results, fc->n_cps);
    return s;
}
