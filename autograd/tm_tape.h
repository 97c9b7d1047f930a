/* The tape: ops run eagerly and, when gradients are enabled and an input
 * needs one, append a node holding their backward function and saved state.
 * tm_tape_backward walks the nodes in reverse; every backward *accumulates*
 * into its inputs' grad buffers. Activations, their gradients and saved
 * state live in the tape's arena and vanish at tm_tape_reset, so one step
 * costs no malloc once the arena has grown. */
#ifndef TM_TAPE_H
#define TM_TAPE_H

#include <stddef.h>

#include "tm_arena.h"
#include "tm_rng.h"
#include "tm_status.h"
#include "tm_tensor.h"
#include "tm_threads.h"

#define TM_TAPE_MAX_IN 8

typedef struct tm_tape tm_tape;
typedef struct tm_tape_node tm_tape_node;
typedef tm_status (*tm_backward_fn)(tm_tape *tape, tm_tape_node *node);

struct tm_tape_node {
    const char *op;          /* op name, for error messages */
    tm_backward_fn backward;
    tm_tensor *in[TM_TAPE_MAX_IN];
    int n_in;
    tm_tensor *out;
    void *ctx;               /* op-specific saved state, in the arena */
};

struct tm_tape {
    tm_arena arena;
    tm_tape_node *nodes;
    int n_nodes, cap_nodes;
    int grad_enabled;        /* 0 = no-gradient mode: nothing is recorded */
    int training;            /* 1 = dropout active, batch norm uses batch stats */
    tm_pool *pool;           /* borrowed; NULL runs single-threaded */
    tm_rng rng;              /* dropout masks and other op randomness */
};

tm_status tm_tape_init(tm_tape *t, tm_pool *pool, unsigned long long seed);
void tm_tape_free(tm_tape *t);
/* Forgets the nodes and every arena tensor (parameters are not touched). */
void tm_tape_reset(tm_tape *t);
/* Returns the previous setting. */
int tm_tape_set_grad_enabled(tm_tape *t, int on);

/* Would an op over these inputs record a node? */
int tm_tape_needs_grad(const tm_tape *t, tm_tensor *const *in, int n_in);
/* An op's output, in the arena; requires_grad when tm_tape_needs_grad. */
tm_status tm_tape_output(tm_tape *t, tm_tensor **out, int ndim, const int *shape,
                         tm_tensor *const *in, int n_in);
/* Scratch or saved state for an op, in the arena (uninitialised). */
void *tm_tape_alloc(tm_tape *t, size_t bytes);
/* Appends a node when out->requires_grad; a no-op otherwise. */
tm_status tm_tape_record(tm_tape *t, const char *op, tm_backward_fn backward,
                         tm_tensor *const *in, int n_in, tm_tensor *out, void *ctx);

/* Seeds d(loss)/d(loss) = 1 for a one-element loss and runs backward. */
tm_status tm_tape_backward(tm_tape *t, tm_tensor *loss);
/* Runs backward with out->grad already holding the seed gradient. */
tm_status tm_tape_backward_from(tm_tape *t, tm_tensor *out);

#endif
