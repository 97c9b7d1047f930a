/* Finite-difference gradient checking for ops and small graphs. */
#ifndef TM_GRADCHECK_H
#define TM_GRADCHECK_H

#include "tm_tape.h"

/* Builds the graph under test on `t` from `inputs` and returns its output. */
typedef tm_status (*tm_gradcheck_fn)(tm_tape *t, tm_tensor **inputs, int n_inputs, void *ctx,
                                     tm_tensor **out);

typedef struct tm_gradcheck_report {
    double max_abs_err;   /* largest |analytic - numeric| */
    double max_rel_err;   /* same, relative to max(|analytic|, |numeric|, 1e-3) */
    int worst_input;
    size_t worst_index;
    size_t checked;       /* elements compared */
} tm_gradcheck_report;

/* Compares analytic gradients of L = sum(out * r), r a fixed random tensor,
 * with central differences of step eps for every element of every input
 * that requires a gradient. Inputs are heap tensors (tm_tensor_new).
 * Returns TM_ERR_NUMERIC with a message naming the worst element when the
 * relative error exceeds tol. The tape's rng is rewound before each
 * evaluation so random ops (dropout) see the same mask. */
tm_status tm_gradcheck(tm_tape *t, tm_gradcheck_fn fn, void *ctx, tm_tensor **inputs,
                       int n_inputs, double eps, double tol, tm_gradcheck_report *rep);

#endif
