/* The layer descriptor table: what one layer kind means in float. Its
 * quantised half (QAT forward, lowering, packed bytes) is quant/tm_qlayer.h,
 * indexed by the same kind; the graph walker (tm_graph.h) visits the layers.
 * A new kind is a row of TM_LAYER_KINDS, a descriptor here, a quantised form
 * there, its runtime kernel and its tests (docs/architecture.md). */
#ifndef TM_LAYER_DESC_H
#define TM_LAYER_DESC_H

#include "tm_model.h"

typedef struct tm_layer_desc {
    const char *name;  /* the experiment file's `type` */
    const char *keys;  /* the keys its section takes */
    /* From l->in_shape / in_ndim (and, for an add, the shape of l->from's
     * output in `skip`): out_shape / out_ndim, the parameters and l->macs.
     * Shape errors name the file, line and layer. */
    tm_status (*build)(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r);
    /* The float forward on the tape, which records the backward; skip is
     * the output of l->from for an add, NULL otherwise. */
    tm_status (*forward)(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                         tm_tensor *skip, tm_tensor **y);
} tm_layer_desc;

#define TM_LAYER_DESC_DECL_(K, n) extern const tm_layer_desc tm_layer_##n;
TM_LAYER_KINDS(TM_LAYER_DESC_DECL_)
#undef TM_LAYER_DESC_DECL_

/* The descriptor of kind k (NULL when k is not a kind). */
const tm_layer_desc *tm_layer_desc_of(tm_layer_kind k);
/* "conv, depthwise, ...": every kind's name, for messages. */
const char *tm_layer_kind_list(void);

/* Shared by the descriptors: a shape error naming file:line, the layer and its input. */
tm_status tm_layer_error(const tm_model *m, const tm_layer *l, const char *why);

#endif
