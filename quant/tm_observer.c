#include <math.h>

#include "tm_quant.h"

void tm_observer_init(tm_observer *o, tm_observer_kind kind, float momentum)
{
    o->kind = kind;
    o->momentum = momentum;
    o->min = 0.0f;
    o->max = 0.0f;
    o->batches = 0;
}

void tm_observer_update(tm_observer *o, const float *x, size_t n)
{
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v))
            continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo > hi)
        return;
    if (o->batches == 0) {
        o->min = lo;
        o->max = hi;
    } else if (o->kind == TM_OBS_EMA) {
        /* Until 1 / momentum batches are seen this is their plain mean, so
         * the first batch does not dominate a short calibration. */
        float m = o->momentum, mean_w = 1.0f / (float)(o->batches + 1);
        m = mean_w > m ? mean_w : m;
        o->min = (1.0f - m) * o->min + m * lo;
        o->max = (1.0f - m) * o->max + m * hi;
    } else {
        o->min = lo < o->min ? lo : o->min;
        o->max = hi > o->max ? hi : o->max;
    }
    o->batches++;
}

tm_qparams tm_observer_qparams(const tm_observer *o)
{
    return tm_qparams_from_range(o->min, o->max, TM_QMIN_INT8, TM_QMAX_INT8);
}
