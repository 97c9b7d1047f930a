#include "tm_gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static tm_status eval_loss(tm_tape *t, const tm_rng *rng0, tm_gradcheck_fn fn, void *ctx,
                           tm_tensor **inputs, int n, const float *r, size_t rn, double *loss)
{
    tm_tape_reset(t);
    t->rng = *rng0;
    int old = tm_tape_set_grad_enabled(t, 0);
    tm_tensor *out = NULL;
    tm_status s = fn(t, inputs, n, ctx, &out);
    tm_tape_set_grad_enabled(t, old);
    if (s != TM_OK)
        return s;
    if (out->size != rn)
        return tm_error(TM_ERR_INTERNAL, "gradcheck: output size changed between calls");
    double acc = 0.0;
    for (size_t i = 0; i < rn; i++)
        acc += (double)out->data[i] * r[i];
    *loss = acc;
    return TM_OK;
}

tm_status tm_gradcheck(tm_tape *t, tm_gradcheck_fn fn, void *ctx, tm_tensor **inputs,
                       int n_inputs, double eps, double tol, tm_gradcheck_report *rep)
{
    memset(rep, 0, sizeof *rep);
    const tm_rng rng0 = t->rng;
    tm_rng pr;
    tm_rng_seed(&pr, 12345);

    /* Analytic pass. */
    tm_tape_reset(t);
    for (int i = 0; i < n_inputs; i++)
        tm_tensor_zero_grad(inputs[i]);
    tm_tensor *out = NULL;
    TM_TRY(fn(t, inputs, n_inputs, ctx, &out));
    if (!out->requires_grad)
        return tm_error(TM_ERR_ARG, "gradcheck: output does not require a gradient");
    size_t rn = out->size;
    float *r = malloc(rn * sizeof *r);
    if (!r)
        return tm_error(TM_ERR_NOMEM, "gradcheck: out of memory");
    for (size_t i = 0; i < rn; i++) {
        r[i] = tm_rng_uniform(&pr) * 2.0f - 1.0f;
        out->grad[i] = r[i];
    }
    tm_status s = tm_tape_backward_from(t, out);
    if (s != TM_OK) {
        free(r);
        return s;
    }
    /* Keep analytic grads aside: numeric evaluation reuses the tape. */
    float **an = calloc((size_t)n_inputs, sizeof *an);
    for (int i = 0; an && i < n_inputs; i++) {
        if (!inputs[i]->requires_grad)
            continue;
        an[i] = malloc(inputs[i]->size * sizeof(float));
        if (!an[i]) {
            s = tm_error(TM_ERR_NOMEM, "gradcheck: out of memory");
            goto done;
        }
        memcpy(an[i], inputs[i]->grad, inputs[i]->size * sizeof(float));
    }
    if (!an) {
        free(r);
        return tm_error(TM_ERR_NOMEM, "gradcheck: out of memory");
    }
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]->requires_grad)
            continue;
        for (size_t j = 0; j < inputs[i]->size; j++) {
            float keep = inputs[i]->data[j];
            double lp, lm;
            inputs[i]->data[j] = keep + (float)eps;
            s = eval_loss(t, &rng0, fn, ctx, inputs, n_inputs, r, rn, &lp);
            if (s == TM_OK) {
                inputs[i]->data[j] = keep - (float)eps;
                s = eval_loss(t, &rng0, fn, ctx, inputs, n_inputs, r, rn, &lm);
            }
            inputs[i]->data[j] = keep;
            if (s != TM_OK)
                goto done;
            double num = (lp - lm) / (2.0 * eps);
            double a = an[i][j];
            double abs_err = fabs(a - num);
            double scale = fmax(fmax(fabs(a), fabs(num)), 1e-3);
            double rel = abs_err / scale;
            rep->checked++;
            if (abs_err > rep->max_abs_err)
                rep->max_abs_err = abs_err;
            if (rel > rep->max_rel_err) {
                rep->max_rel_err = rel;
                rep->worst_input = i;
                rep->worst_index = j;
            }
        }
    }
    if (rep->max_rel_err > tol)
        s = tm_error(TM_ERR_NUMERIC,
                     "gradcheck: input %d element %zu: relative error %.3g exceeds %.3g "
                     "(analytic %.6g)",
                     rep->worst_input, rep->worst_index, rep->max_rel_err, tol,
                     (double)an[rep->worst_input][rep->worst_index]);
done:
    for (int i = 0; i < n_inputs; i++)
        free(an[i]);
    free(an);
    free(r);
    tm_tape_reset(t);
    t->rng = rng0;
    return s;
}
