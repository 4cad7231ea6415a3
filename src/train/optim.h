/* Optimisers for the trainer: SGD with momentum and Adam, with weight decay on weights
 * (not biases), and the learning-rate schedules (constant, step, cosine). */
#ifndef MS_TRAIN_OPTIM_H
#define MS_TRAIN_OPTIM_H

#include <stdbool.h>

#include "backend/backend.h"

typedef enum { MS_OPT_SGD, MS_OPT_ADAM } ms_optimizer_kind;
typedef enum { MS_SCHED_CONSTANT, MS_SCHED_STEP, MS_SCHED_COSINE } ms_schedule_kind;

typedef struct {
    ms_optimizer_kind kind;
    double momentum;      /* SGD; Adam's beta1 is 0.9, beta2 0.999 */
    double weight_decay;  /* SGD: added to the gradient; Adam: decoupled (AdamW) */
    float **m, **v;       /* per parameter: momentum / first moment, second moment */
    double *lr_scale;     /* per parameter: its learning rate is lr * lr_scale (1 unless set) */
    int n;
    long step;
} ms_optimizer;

ms_status ms_optimizer_init(ms_optimizer *o, ms_optimizer_kind kind, double momentum, double weight_decay,
                            const ms_train_plan *plan, ms_error *err);
void ms_optimizer_free(ms_optimizer *o);

/* Parameter i of the plan learns at `scale` times the step's rate (fine-tuning moves
 * pretrained layers more gently than a fresh head). */
void ms_optimizer_scale_lr(ms_optimizer *o, int i, double scale);

/* One update of every parameter of plan from its gradient. */
void ms_optimizer_step(ms_optimizer *o, ms_train_plan *plan, double lr);

/* The learning rate at `step` of `total` (step decays tenfold at 1/2 and 3/4). */
double ms_schedule_lr(ms_schedule_kind kind, double lr, long step, long total);

int ms_optimizer_parse(const char *name);  /* -1 if unknown */
int ms_schedule_parse(const char *name);   /* -1 if unknown */
const char *ms_optimizer_name(ms_optimizer_kind k);
const char *ms_schedule_name(ms_schedule_kind k);

#endif
