/* Initialisers, optimisers and learning-rate schedules. */
#ifndef TM_OPTIM_H
#define TM_OPTIM_H

#include "tm_rng.h"
#include "tm_status.h"
#include "tm_tensor.h"

/* He (Kaiming) normal: std = sqrt(2 / fan_in). Glorot uniform:
 * limit = sqrt(6 / (fan_in + fan_out)). */
void tm_init_he_normal(tm_tensor *w, int fan_in, tm_rng *r);
void tm_init_glorot_uniform(tm_tensor *w, int fan_in, int fan_out, tm_rng *r);
void tm_init_constant(tm_tensor *w, float v);
/* Uniform in [-bound, bound). */
void tm_init_uniform(tm_tensor *w, float bound, tm_rng *r);

typedef enum { TM_OPT_SGD = 0, TM_OPT_ADAM, TM_OPT_ADAMW } tm_optim_kind;

typedef struct tm_optim_config {
    tm_optim_kind kind;
    float momentum;       /* SGD; 0 = plain SGD */
    int nesterov;         /* SGD */
    float beta1, beta2, eps;  /* Adam / AdamW */
    float weight_decay;   /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
} tm_optim_config;

void tm_optim_config_default(tm_optim_config *c, tm_optim_kind kind);

typedef struct tm_optimizer {
    tm_optim_config cfg;
    int n;                /* parameters */
    tm_tensor **params;   /* borrowed */
    int *decay;           /* per parameter: apply weight decay (0 for biases, BN) */
    float **m, **v;       /* moment buffers, owned; v is NULL for SGD, m for SGD
                             without momentum */
    long step;            /* updates done */
} tm_optimizer;

/* decay may be NULL (decay every parameter). */
tm_status tm_optim_new(tm_optimizer **out, const tm_optim_config *cfg, tm_tensor **params,
                       const int *decay, int n);
void tm_optim_free(tm_optimizer *o);
/* One update with learning rate lr from each parameter's grad. */
tm_status tm_optim_step(tm_optimizer *o, float lr);
void tm_optim_zero_grad(tm_optimizer *o);

typedef enum { TM_SCHED_CONSTANT = 0, TM_SCHED_STEP, TM_SCHED_COSINE } tm_schedule_kind;

typedef struct tm_schedule {
    tm_schedule_kind kind;
    float base_lr;
    int step_size;        /* STEP: epochs between decays */
    float gamma;          /* STEP: factor per decay */
    float min_lr;         /* COSINE: floor */
    int total_epochs;     /* COSINE: length of the half period */
    int warmup_epochs;    /* linear warm-up from base_lr / (warmup + 1) */
} tm_schedule;

/* Learning rate for a 0-based epoch. Warm-up epochs e < W ramp linearly:
 * base_lr * (e + 1) / (W + 1). The schedule proper then runs on e' = e - W:
 * STEP gives base_lr * gamma^floor(e' / step_size); COSINE goes from base_lr
 * at e' = 0 to min_lr at e = total_epochs (half period total_epochs - W, so
 * total_epochs counts the warm-up) and stays at min_lr afterwards. */
float tm_schedule_lr(const tm_schedule *s, int epoch);
/* TM_ERR_CONFIG naming the field when a schedule's values make no sense
 * (tm_schedule_lr itself cannot fail and clamps such values). */
tm_status tm_schedule_check(const tm_schedule *s);

#endif
