#include "tm_tape.h"

#include <stdlib.h>
#include <string.h>

tm_status tm_tape_init(tm_tape *t, tm_pool *pool, unsigned long long seed)
{
    memset(t, 0, sizeof *t);
    tm_arena_init(&t->arena, 0);
    t->grad_enabled = 1;
    t->training = 1;
    t->pool = pool;
    tm_rng_seed(&t->rng, seed);
    return TM_OK;
}

void tm_tape_free(tm_tape *t)
{
    tm_arena_free(&t->arena);
    free(t->nodes);
    t->nodes = NULL;
    t->n_nodes = t->cap_nodes = 0;
}

void tm_tape_reset(tm_tape *t)
{
    t->n_nodes = 0;
    tm_arena_reset(&t->arena);
}

int tm_tape_set_grad_enabled(tm_tape *t, int on)
{
    int old = t->grad_enabled;
    t->grad_enabled = on;
    return old;
}

int tm_tape_needs_grad(const tm_tape *t, tm_tensor *const *in, int n_in)
{
    if (!t->grad_enabled)
        return 0;
    for (int i = 0; i < n_in; i++)
        if (in[i] && in[i]->requires_grad)
            return 1;
    return 0;
}

tm_status tm_tape_output(tm_tape *t, tm_tensor **out, int ndim, const int *shape,
                         tm_tensor *const *in, int n_in)
{
    return tm_arena_tensor(&t->arena, out, ndim, shape, tm_tape_needs_grad(t, in, n_in));
}

void *tm_tape_alloc(tm_tape *t, size_t bytes) { return tm_arena_alloc(&t->arena, bytes); }

tm_status tm_tape_record(tm_tape *t, const char *op, tm_backward_fn backward,
                         tm_tensor *const *in, int n_in, tm_tensor *out, void *ctx)
{
    if (!out->requires_grad)
        return TM_OK;
    if (n_in > TM_TAPE_MAX_IN)
        return tm_error(TM_ERR_INTERNAL, "%s: %d inputs, the tape holds at most %d", op, n_in,
                        TM_TAPE_MAX_IN);
    if (t->n_nodes == t->cap_nodes) {
        int cap = t->cap_nodes ? t->cap_nodes * 2 : 64;
        tm_tape_node *n = realloc(t->nodes, sizeof *n * (size_t)cap);
        if (!n)
            return tm_error(TM_ERR_NOMEM, "tape: out of memory for %d nodes", cap);
        t->nodes = n;
        t->cap_nodes = cap;
    }
    tm_tape_node *node = &t->nodes[t->n_nodes++];
    node->op = op;
    node->backward = backward;
    node->n_in = n_in;
    for (int i = 0; i < n_in; i++)
        node->in[i] = in[i];
    node->out = out;
    node->ctx = ctx;
    return TM_OK;
}

tm_status tm_tape_backward_from(tm_tape *t, tm_tensor *out)
{
    if (!out->requires_grad || !out->grad)
        return tm_error(TM_ERR_ARG, "backward: the tensor does not require a gradient");
    for (int i = t->n_nodes - 1; i >= 0; i--) {
        tm_tape_node *n = &t->nodes[i];
        if (!n->out->grad)
            continue;
        tm_status s = n->backward(t, n);
        if (s != TM_OK)
            return tm_error_prefix(s, "backward of %s: ", n->op);
    }
    return TM_OK;
}

tm_status tm_tape_backward(tm_tape *t, tm_tensor *loss)
{
    if (loss->size != 1)
        return tm_error(TM_ERR_SHAPE, "backward: the loss has %zu elements, expected 1",
                        loss->size);
    if (!loss->requires_grad || !loss->grad)
        return tm_error(TM_ERR_ARG, "backward: the loss does not depend on any parameter");
    loss->grad[0] = 1.0f;
    return tm_tape_backward_from(t, loss);
}
