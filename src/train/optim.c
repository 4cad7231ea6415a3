/* SGD with momentum, Adam (with decoupled weight decay), and learning-rate schedules. */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ms_status ms_optimizer_init(ms_optimizer *o, ms_optimizer_kind kind, double momentum, double weight_decay,
                            const ms_train_plan *plan, ms_error *err)
{
    *o = (ms_optimizer){.kind = kind, .momentum = momentum, .weight_decay = weight_decay, .n = plan->n_params};
    o->m = calloc((size_t)o->n + 1, sizeof *o->m);
    o->v = calloc((size_t)o->n + 1, sizeof *o->v);
    o->lr_scale = malloc(((size_t)o->n + 1) * sizeof *o->lr_scale);
    bool ok = o->m && o->v && o->lr_scale;
    for (int i = 0; ok && i < o->n; i++) {
        o->lr_scale[i] = 1.0;
        o->m[i] = calloc((size_t)plan->params[i].numel + 1, sizeof(float));
        if (kind == MS_OPT_ADAM) o->v[i] = calloc((size_t)plan->params[i].numel + 1, sizeof(float));
        ok = o->m[i] && (kind != MS_OPT_ADAM || o->v[i]);
    }
    if (!ok) {
        ms_optimizer_free(o);
        return ms_errorf(err, MS_ERR_NOMEM, "out of memory for the optimiser state");
    }
    return MS_OK;
}

void ms_optimizer_free(ms_optimizer *o)
{
    for (int i = 0; i < o->n; i++) {
        if (o->m) free(o->m[i]);
        if (o->v) free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->lr_scale);
    *o = (ms_optimizer){0};
}

void ms_optimizer_scale_lr(ms_optimizer *o, int i, double scale)
{
    if (i >= 0 && i < o->n) o->lr_scale[i] = scale;
}

void ms_optimizer_step(ms_optimizer *o, ms_train_plan *plan, double base_lr)
{
    o->step++;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1.0 - pow(b1, (double)o->step), c2 = 1.0 - pow(b2, (double)o->step);
    for (int i = 0; i < o->n; i++) {
        ms_param *p = &plan->params[i];
        double lr = base_lr * o->lr_scale[i];
        double wd = p->slot == 1 ? o->weight_decay : 0.0;
        float *m = o->m[i], *v = o->v[i];
        for (int64_t k = 0; k < p->numel; k++) {
            double g = p->grad[k], w = p->value[k];
            if (o->kind == MS_OPT_SGD) {
                m[k] = (float)(o->momentum * m[k] + g + wd * w);
                p->value[k] = (float)(w - lr * m[k]);
            } else {
                m[k] = (float)(b1 * m[k] + (1 - b1) * g);
                v[k] = (float)(b2 * v[k] + (1 - b2) * g * g);
                double update = (m[k] / c1) / (sqrt(v[k] / c2) + eps);
                p->value[k] = (float)(w - lr * (update + wd * w));
            }
        }
    }
}

double ms_schedule_lr(ms_schedule_kind kind, double lr, long step, long total)
{
    if (total <= 0) return lr;
    double t = (double)step / (double)total;
    switch (kind) {
    case MS_SCHED_CONSTANT: return lr;
    case MS_SCHED_STEP: return lr * (t < 0.5 ? 1.0 : t < 0.75 ? 0.1 : 0.01);
    case MS_SCHED_COSINE: return lr * 0.5 * (1.0 + cos(M_PI * t));
    }
    return lr;
}

int ms_optimizer_parse(const char *name)
{
    return !strcmp(name, "sgd") ? MS_OPT_SGD : !strcmp(name, "adam") ? MS_OPT_ADAM : -1;
}

int ms_schedule_parse(const char *name)
{
    return !strcmp(name, "constant") ? MS_SCHED_CONSTANT
           : !strcmp(name, "step")   ? MS_SCHED_STEP
           : !strcmp(name, "cosine") ? MS_SCHED_COSINE
                                     : -1;
}

const char *ms_optimizer_name(ms_optimizer_kind k) { return k == MS_OPT_SGD ? "sgd" : "adam"; }

const char *ms_schedule_name(ms_schedule_kind k)
{
    return k == MS_SCHED_CONSTANT ? "constant" : k == MS_SCHED_STEP ? "step" : "cosine";
}
