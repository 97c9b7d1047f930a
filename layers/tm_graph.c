#include "tm_graph.h"

#include <string.h>

/* Storage for any visitor's value, aligned for any of its members. */
typedef union {
    unsigned char b[TM_GRAPH_VALUE_BYTES];
    void *p;
    long long ll;
    double d;
} value;

static tm_status walk_chain(const tm_model *m, const tm_graph_visitor *v, void *ctx, int c,
                            value *skips, value *x)
{
    int n = tm_model_chain_len(m, c);
    for (int i = 0; i < n; i++) {
        const tm_layer *l = tm_model_layer(m, c, i);
        const value *skip = l->from >= 0 ? &skips[tm_model_layer(m, c, l->from)->slot] : NULL;
        value y;
        TM_TRY(v->layer(ctx, c, i, l, x, skip, &y));
        memcpy(x, &y, v->value_bytes);
        if (l->slot >= 0)
            memcpy(&skips[l->slot], &y, v->value_bytes);
    }
    return TM_OK;
}

tm_status tm_graph_walk(const tm_model *m, const tm_graph_visitor *v, void *ctx, void *out)
{
    if (v->value_bytes > TM_GRAPH_VALUE_BYTES)
        return tm_error(TM_ERR_INTERNAL, "graph walk: %zu-byte values (at most %d)",
                        v->value_bytes, TM_GRAPH_VALUE_BYTES);
    value skips[TM_GRAPH_MAX_SKIPS], outs[TM_MAX_BRANCHES], x;
    int n = m->spec.n_branches;
    for (int b = 0; b < n; b++) {
        TM_TRY(v->input(ctx, b, &outs[b]));
        TM_TRY(walk_chain(m, v, ctx, b, skips, &outs[b]));
    }
    if (n > 1) {
        /* The visitor sees n contiguous values of its own size. */
        value packed[TM_MAX_BRANCHES];
        for (int b = 0; b < n; b++)
            memcpy(packed[0].b + (size_t)b * v->value_bytes, &outs[b], v->value_bytes);
        TM_TRY(v->fusion(ctx, packed, n, &x));
    } else {
        x = outs[0];
    }
    TM_TRY(walk_chain(m, v, ctx, TM_MODEL_HEAD, skips, &x));
    memcpy(out, &x, v->value_bytes);
    return TM_OK;
}
