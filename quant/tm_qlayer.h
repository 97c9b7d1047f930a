/* The quantised half of the layer descriptor table (layers/tm_layer_desc.h):
 * per layer kind, how QAT plans it, its QAT forward, its lowering to
 * runtime ops and the bytes the model file stores for it. Indexed by
 * tm_layer_kind; tm_qlayer.c holds the table and its completeness check. */
#ifndef TM_QLAYER_H
#define TM_QLAYER_H

#include "tm_lower.h"

/* A QAT value: the float tensor and the quantisation of the last point it
 * passed (what an average pool snaps back to). */
typedef struct tm_qval {
    tm_tensor *t;
    tm_qparams qp;
} tm_qval;

/* A lowered value: a runtime tensor and its shape and quantisation. */
typedef struct tm_tref {
    int32_t index;
    int c, h, w;
    tm_qparams qp;
} tm_tref;

typedef struct tm_lower_ctx {
    tm_rt_builder *b;
    const tm_qat *q;
} tm_lower_ctx;

typedef enum {
    TM_QPLAN_WEIGHT,    /* weights at 8 or 4 bits, an observed output; absorbs bn and act */
    TM_QPLAN_FOLD_BN,   /* folds into the weight layer before it */
    TM_QPLAN_FOLD_ACT,  /* becomes the activation of the layer before it */
    TM_QPLAN_PLAIN,     /* keeps its input's quantisation */
    TM_QPLAN_OUTPUT     /* an observed output without weights (add); absorbs act */
} tm_qplan;

typedef struct tm_qlayer_desc {
    tm_qplan plan;
    /* Not called for a layer QAT merged into another (FOLD_* kinds). */
    tm_status (*forward)(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                         const tm_qval *skip, tm_qval *y);
    tm_status (*lower)(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                       tm_tref *y);
    /* The model file's bytes for the layer (size report); NULL: none. */
    long (*packed_bytes)(const tm_qat *q, int c, int i);
} tm_qlayer_desc;

const tm_qlayer_desc *tm_qlayer_desc_of(tm_layer_kind k);

/* The kinds' parts, in tm_qat.c, tm_lower.c and tm_size_report.c. */
tm_status tm_qat_forward_weight(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                                const tm_qval *skip, tm_qval *y);
tm_status tm_qat_forward_maxpool(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                                 const tm_qval *skip, tm_qval *y);
tm_status tm_qat_forward_avgpool(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                                 const tm_qval *skip, tm_qval *y);
tm_status tm_qat_forward_float(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                               const tm_qval *skip, tm_qval *y);
tm_status tm_qat_forward_add(tm_qat *q, tm_tape *t, int c, int i, const tm_qval *x,
                             const tm_qval *skip, tm_qval *y);
tm_status tm_lower_add(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                       tm_tref *y);
tm_status tm_lower_weight(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                          tm_tref *y);
tm_status tm_lower_pool(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                        tm_tref *y);
tm_status tm_lower_pass(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                        tm_tref *y);
long tm_size_weight_bytes(const tm_qat *q, int c, int i);

#endif
