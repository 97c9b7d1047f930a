#include <math.h>

#include "tm_optim.h"

float tm_schedule_lr(const tm_schedule *s, int epoch)
{
    int w = s->warmup_epochs > 0 ? s->warmup_epochs : 0;
    if (epoch < 0)
        epoch = 0;
    if (epoch < w)
        return (float)((double)s->base_lr * (epoch + 1) / (w + 1));
    int e = epoch - w;
    switch (s->kind) {
    case TM_SCHED_STEP:
        if (s->step_size <= 0)
            return s->base_lr;
        return (float)((double)s->base_lr * pow((double)s->gamma, (double)(e / s->step_size)));
    case TM_SCHED_COSINE: {
        int half = s->total_epochs - w;
        if (half <= 0 || e >= half)
            return s->min_lr;
        double c = 0.5 * (1.0 + cos(3.141592653589793 * e / half));
        return (float)(s->min_lr + ((double)s->base_lr - s->min_lr) * c);
    }
    case TM_SCHED_CONSTANT:
    default:
        return s->base_lr;
    }
}

tm_status tm_schedule_check(const tm_schedule *s)
{
    if (!s)
        return tm_error(TM_ERR_ARG, "schedule: NULL");
    if (s->kind != TM_SCHED_CONSTANT && s->kind != TM_SCHED_STEP && s->kind != TM_SCHED_COSINE)
        return tm_error(TM_ERR_CONFIG, "schedule: unknown kind %d", (int)s->kind);
    if (!isfinite(s->base_lr) || s->base_lr < 0.0f)
        return tm_error(TM_ERR_CONFIG, "schedule: base_lr %g must be finite and >= 0",
                        (double)s->base_lr);
    if (s->warmup_epochs < 0)
        return tm_error(TM_ERR_CONFIG, "schedule: warmup_epochs %d must be >= 0", s->warmup_epochs);
    if (s->kind == TM_SCHED_STEP) {
        if (s->step_size <= 0)
            return tm_error(TM_ERR_CONFIG, "schedule: step_size %d must be > 0", s->step_size);
        if (!isfinite(s->gamma) || s->gamma <= 0.0f)
            return tm_error(TM_ERR_CONFIG, "schedule: gamma %g must be finite and > 0",
                            (double)s->gamma);
    }
    if (s->kind == TM_SCHED_COSINE) {
        if (!isfinite(s->min_lr) || s->min_lr < 0.0f || s->min_lr > s->base_lr)
            return tm_error(TM_ERR_CONFIG, "schedule: min_lr %g must be in [0, base_lr %g]",
                            (double)s->min_lr, (double)s->base_lr);
        if (s->total_epochs <= s->warmup_epochs)
            return tm_error(TM_ERR_CONFIG,
                            "schedule: total_epochs %d must exceed warmup_epochs %d for cosine",
                            s->total_epochs, s->warmup_epochs);
    }
    return TM_OK;
}
