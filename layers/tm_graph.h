/* The one walk over a model's graph: each branch from its input through its
 * layers (an add also reads the output of the earlier layer it names), the
 * fusion of the branches' outputs (skipped with one branch), then the head.
 * Float training (tm_model_forward), QAT (quant/tm_qat.c) and lowering
 * (quant/tm_lower.c) are visitors of it; shapes were checked when the model
 * was built. Each visitor passes its own value along (a float tensor, a
 * tensor with its quantisation, a runtime tensor index...). */
#ifndef TM_GRAPH_H
#define TM_GRAPH_H

#include "tm_model.h"

/* Bytes a visitor's value may take, and outputs kept for adds per model. */
#define TM_GRAPH_VALUE_BYTES 64
#define TM_GRAPH_MAX_SKIPS 16

typedef struct tm_graph_visitor {
    size_t value_bytes;  /* <= TM_GRAPH_VALUE_BYTES */
    /* Branch b's input value into x. */
    tm_status (*input)(void *ctx, int b, void *x);
    /* Layer i of chain c (a branch, or TM_MODEL_HEAD): y from x, and for an
     * add from skip, the value of layer l->from. */
    tm_status (*layer)(void *ctx, int c, int i, const tm_layer *l, const void *x,
                       const void *skip, void *y);
    /* The branches' n output values (contiguous) into y; only for n > 1. */
    tm_status (*fusion)(void *ctx, const void *outs, int n, void *y);
} tm_graph_visitor;

/* Walks the graph; the head's last value goes to out. */
tm_status tm_graph_walk(const tm_model *m, const tm_graph_visitor *v, void *ctx, void *out);

#endif
