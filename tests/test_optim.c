/* Initialisers, optimisers and schedules. The expected parameter values come
 * from PyTorch 1.13 (torch.optim.SGD / Adam / AdamW, two steps, a decayed
 * weight and an undecayed bias), computed with:
 *   w0 = [[0.5,-1,2],[0.25,0,-0.75]], b0 = [0.1,-0.2,0.3], lr 0.1, weight_decay 0.1
 *   on w only, grads g1 then g2 as below; print(w, b) after opt.step() twice. */
#include <math.h>
#include <string.h>

#include "tm_optim.h"
#include "tm_test_util.h"

static const float w0[6] = {0.5f, -1.0f, 2.0f, 0.25f, 0.0f, -0.75f};
static const float b0[3] = {0.1f, -0.2f, 0.3f};
static const float g1w[6] = {0.2f, -0.4f, 1.0f, 0.0f, 3.0f, -0.5f};
static const float g1b[3] = {0.5f, -0.25f, 0.0f};
static const float g2w[6] = {-0.1f, 0.3f, 0.7f, 0.2f, -1.5f, 0.25f};
static const float g2b[3] = {0.05f, 0.6f, -0.9f};

static const float expect_sgd_momentum[9] = {0.457749993f, -0.925499976f, 1.6832f, 0.222774997f, -0.416999996f, -0.65882498f, 0.0f, -0.212500006f, 0.390000015f};
static const float expect_sgd_nesterov[9] = {0.442652494f, -0.904304981f, 1.50813198f, 0.200565249f, -0.517169952f, -0.629500747f, -0.0449999981f, -0.246250004f, 0.471000016f};
static const float expect_adam[9] = {0.352220535f, -0.867054164f, 1.80184722f, 0.0683484748f, -0.12637648f, -0.609018803f, -0.0740810484f, -0.142934173f, 0.374413699f};
static const float expect_adamw[9] = {0.364416301f, -0.872167468f, 1.76362789f, 0.170611322f, -0.125633702f, -0.60944134f, -0.0740810484f, -0.142934173f, 0.374413699f};

static void run_two_steps(const tm_optim_config *cfg, const float *expect)
{
    int ws[2] = {2, 3}, bs[1] = {3};
    tm_tensor *w = NULL, *b = NULL;
    TM_CK(tm_tensor_new(&w, 2, ws, 1));
    TM_CK(tm_tensor_new(&b, 1, bs, 1));
    memcpy(w->data, w0, sizeof w0);
    memcpy(b->data, b0, sizeof b0);
    tm_tensor *params[2] = {w, b};
    int decay[2] = {1, 0};
    tm_optimizer *o = NULL;
    TM_CK(tm_optim_new(&o, cfg, params, decay, 2));
    memcpy(w->grad, g1w, sizeof g1w);
    memcpy(b->grad, g1b, sizeof g1b);
    TM_CK(tm_optim_step(o, 0.1f));
    tm_optim_zero_grad(o);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(w->grad[i], 0.0f);
    memcpy(w->grad, g2w, sizeof g2w);
    memcpy(b->grad, g2b, sizeof g2b);
    TM_CK(tm_optim_step(o, 0.1f));
    ck_assert_int_eq(o->step, 2);
    for (int i = 0; i < 9; i++) {
        float got = i < 6 ? w->data[i] : b->data[i - 6];
        ck_assert_msg(fabsf(got - expect[i]) <= 2e-6f * (1.0f + fabsf(expect[i])),
                      "kind %d element %d: got %.9g, PyTorch %.9g", (int)cfg->kind, i,
                      (double)got, (double)expect[i]);
    }
    tm_optim_free(o);
    tm_tensor_free(w);
    tm_tensor_free(b);
}

START_TEST(sgd_momentum_matches_pytorch)
{
    tm_optim_config c;
    tm_optim_config_default(&c, TM_OPT_SGD);
    c.momentum = 0.9f;
    c.weight_decay = 0.1f;
    run_two_steps(&c, expect_sgd_momentum);
    c.nesterov = 1;
    run_two_steps(&c, expect_sgd_nesterov);
}
END_TEST

START_TEST(adam_matches_pytorch)
{
    tm_optim_config c;
    tm_optim_config_default(&c, TM_OPT_ADAM);
    c.weight_decay = 0.1f;
    run_two_steps(&c, expect_adam);
}
END_TEST

START_TEST(adamw_matches_pytorch)
{
    tm_optim_config c;
    tm_optim_config_default(&c, TM_OPT_ADAMW);
    ck_assert_float_eq(c.weight_decay, 0.01f);
    c.weight_decay = 0.1f;
    run_two_steps(&c, expect_adamw);
}
END_TEST

/* f(x) = sum a_i (x_i - c_i)^2 with condition number 10. */
static void minimise_quadratic(tm_optim_kind kind, float momentum, int nesterov, float lr, int iters)
{
    const float a[4] = {1.0f, 0.5f, 2.0f, 0.2f}, c[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    int shape[1] = {4};
    tm_tensor *x = NULL;
    TM_CK(tm_tensor_new(&x, 1, shape, 1));
    tm_optim_config cfg;
    tm_optim_config_default(&cfg, kind);
    cfg.momentum = momentum;
    cfg.nesterov = nesterov;
    cfg.weight_decay = 0.0f;
    tm_optimizer *o = NULL;
    TM_CK(tm_optim_new(&o, &cfg, &x, NULL, 1));
    /* Unused moment buffers are absent, so checkpoint code can tell what to save. */
    ck_assert_int_eq(o->v == NULL, kind == TM_OPT_SGD);
    ck_assert_int_eq(o->m == NULL, kind == TM_OPT_SGD && momentum == 0.0f);
    double f0 = 0;
    for (int i = 0; i < 4; i++)
        f0 += a[i] * c[i] * c[i];
    for (int it = 0; it < iters; it++) {
        tm_optim_zero_grad(o);
        for (int i = 0; i < 4; i++)
            x->grad[i] = 2.0f * a[i] * (x->data[i] - c[i]);
        /* Adam's steps scale with lr, so decay it to settle on the minimum. */
        float l = kind == TM_OPT_SGD ? lr : lr * (1.0f - (float)it / iters);
        TM_CK(tm_optim_step(o, l));
    }
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabsf(x->data[i] - c[i]) < 1e-3f, "kind %d momentum %g: x[%d] = %g, want %g",
                      (int)kind, (double)momentum, i, (double)x->data[i], (double)c[i]);
    ck_assert_double_gt(f0, 1.0);
    tm_optim_free(o);
    tm_tensor_free(x);
}

START_TEST(optimisers_minimise_a_quadratic)
{
    minimise_quadratic(TM_OPT_SGD, 0.0f, 0, 0.2f, 400);
    minimise_quadratic(TM_OPT_SGD, 0.9f, 0, 0.05f, 400);
    minimise_quadratic(TM_OPT_SGD, 0.9f, 1, 0.05f, 400);
    minimise_quadratic(TM_OPT_ADAM, 0.0f, 0, 0.1f, 2000);
    minimise_quadratic(TM_OPT_ADAMW, 0.0f, 0, 0.1f, 2000);
}
END_TEST

START_TEST(nan_gradient_is_rejected_and_nothing_moves)
{
    int s[1] = {3};
    tm_tensor *p0 = NULL, *p1 = NULL;
    TM_CK(tm_tensor_new(&p0, 1, s, 1));
    TM_CK(tm_tensor_new(&p1, 1, s, 1));
    for (int i = 0; i < 3; i++) {
        p0->data[i] = (float)i;
        p1->data[i] = (float)-i;
        p0->grad[i] = 1.0f;
        p1->grad[i] = 1.0f;
    }
    p1->grad[2] = NAN;
    tm_tensor *params[2] = {p0, p1};
    tm_optim_config c;
    tm_optim_config_default(&c, TM_OPT_ADAM);
    tm_optimizer *o = NULL;
    TM_CK(tm_optim_new(&o, &c, params, NULL, 2));
    ck_assert_int_eq(tm_optim_step(o, 0.1f), TM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "parameter 1"));
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "NaN"));
    ck_assert_int_eq(o->step, 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(p0->data[i], (float)i);
        ck_assert_float_eq(p1->data[i], (float)-i);
        ck_assert_float_eq(o->m[0][i], 0.0f);
        ck_assert_float_eq(o->v[0][i], 0.0f);
    }
    p1->grad[2] = -INFINITY;
    ck_assert_int_eq(tm_optim_step(o, 0.1f), TM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "infinity"));
    p1->grad[2] = 1.0f;
    TM_CK(tm_optim_step(o, 0.1f));
    ck_assert_float_lt(p0->data[0], 0.0f);
    ck_assert_int_eq(tm_optim_step(o, NAN), TM_ERR_ARG);
    tm_optim_free(o);
    tm_tensor_free(p0);
    tm_tensor_free(p1);
}
END_TEST

START_TEST(bad_configs_are_rejected)
{
    int s[1] = {2};
    tm_tensor *p = NULL, *nog = NULL;
    TM_CK(tm_tensor_new(&p, 1, s, 1));
    TM_CK(tm_tensor_new(&nog, 1, s, 0));
    tm_optimizer *o = NULL;
    tm_optim_config c;
    tm_optim_config_default(&c, TM_OPT_SGD);
    c.nesterov = 1;
    ck_assert_int_eq(tm_optim_new(&o, &c, &p, NULL, 1), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "Nesterov"));
    ck_assert_ptr_null(o);
    tm_optim_config_default(&c, TM_OPT_ADAM);
    c.beta2 = 1.0f;
    ck_assert_int_eq(tm_optim_new(&o, &c, &p, NULL, 1), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "beta2"));
    tm_optim_config_default(&c, TM_OPT_ADAM);
    tm_tensor *two[2] = {p, nog};
    ck_assert_int_eq(tm_optim_new(&o, &c, two, NULL, 2), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "parameter 1"));
    tm_tensor_free(p);
    tm_tensor_free(nog);
}
END_TEST

START_TEST(schedules_at_given_epochs)
{
    tm_schedule s = {0};
    s.kind = TM_SCHED_CONSTANT;
    s.base_lr = 0.01f;
    ck_assert_float_eq(tm_schedule_lr(&s, 0), 0.01f);
    ck_assert_float_eq(tm_schedule_lr(&s, 99), 0.01f);
    TM_CK(tm_schedule_check(&s));

    s.kind = TM_SCHED_STEP;
    s.base_lr = 0.1f;
    s.step_size = 3;
    s.gamma = 0.5f;
    TM_CK(tm_schedule_check(&s));
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 0), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 2), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 3), 0.05f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 6), 0.025f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 8), 0.025f, 1e-7f);

    /* torch.optim.lr_scheduler.CosineAnnealingLR(T_max=10, eta_min=0.001). */
    s.kind = TM_SCHED_COSINE;
    s.min_lr = 0.001f;
    s.total_epochs = 10;
    TM_CK(tm_schedule_check(&s));
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 0), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 5), 0.0505f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 2), 0.0905463412f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 10), 0.001f, 1e-9f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 15), 0.001f, 1e-9f);

    /* Warm-up ramps to base_lr, then the cosine runs over the remaining epochs. */
    s.warmup_epochs = 2;
    s.total_epochs = 12;
    TM_CK(tm_schedule_check(&s));
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 0), 0.1f / 3, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 1), 0.2f / 3, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 2), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 7), 0.0505f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 12), 0.001f, 1e-9f);

    s.kind = TM_SCHED_STEP;
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 4), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(tm_schedule_lr(&s, 5), 0.05f, 1e-7f);

    s.step_size = 0;
    ck_assert_int_eq(tm_schedule_check(&s), TM_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "step_size"));
    s.kind = TM_SCHED_COSINE;
    s.total_epochs = 2;
    ck_assert_int_eq(tm_schedule_check(&s), TM_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "total_epochs"));
}
END_TEST

static void moments(const tm_tensor *t, double *mean, double *var, double *absmax)
{
    double s = 0, s2 = 0, mx = 0;
    for (size_t i = 0; i < t->size; i++) {
        s += t->data[i];
        s2 += (double)t->data[i] * t->data[i];
        if (fabs(t->data[i]) > mx)
            mx = fabs(t->data[i]);
    }
    *mean = s / t->size;
    *var = s2 / t->size - *mean * *mean;
    *absmax = mx;
}

START_TEST(initialisers_have_the_right_statistics)
{
    tm_rng r;
    tm_rng_seed(&r, 11);
    int shape[4] = {64, 32, 3, 3}; /* fan_in 288, fan_out 576 */
    tm_tensor *w = NULL;
    TM_CK(tm_tensor_new(&w, 4, shape, 0));
    double mean, var, mx;

    tm_init_he_normal(w, 32 * 9, &r);
    moments(w, &mean, &var, &mx);
    double want = 2.0 / 288;
    ck_assert_double_lt(fabs(mean), 0.003);
    ck_assert_msg(fabs(var / want - 1.0) < 0.03, "He variance %g, want %g", var, want);

    tm_init_glorot_uniform(w, 32 * 9, 64 * 9, &r);
    moments(w, &mean, &var, &mx);
    double limit = sqrt(6.0 / (288 + 576));
    want = limit * limit / 3.0;
    ck_assert_double_lt(fabs(mean), 0.002);
    ck_assert_msg(fabs(var / want - 1.0) < 0.03, "Glorot variance %g, want %g", var, want);
    ck_assert_double_le(mx, limit);
    ck_assert_double_gt(mx, 0.99 * limit);

    tm_init_constant(w, 0.25f);
    moments(w, &mean, &var, &mx);
    ck_assert_double_eq(mean, 0.25);
    ck_assert_double_eq_tol(var, 0.0, 1e-12);
    tm_tensor_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, sgd_momentum_matches_pytorch);
    tcase_add_test(tc, adam_matches_pytorch);
    tcase_add_test(tc, adamw_matches_pytorch);
    tcase_add_test(tc, optimisers_minimise_a_quadratic);
    tcase_add_test(tc, nan_gradient_is_rejected_and_nothing_moves);
    tcase_add_test(tc, bad_configs_are_rejected);
    tcase_add_test(tc, schedules_at_given_epochs);
    tcase_add_test(tc, initialisers_have_the_right_statistics);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
