#include "tm_qlayer.h"

#define WEIGHT {TM_QPLAN_WEIGHT, tm_qat_forward_weight, tm_lower_weight, tm_size_weight_bytes}

static const tm_qlayer_desc tm_qlayer_conv = WEIGHT;
static const tm_qlayer_desc tm_qlayer_depthwise = WEIGHT;
static const tm_qlayer_desc tm_qlayer_separable = WEIGHT;
static const tm_qlayer_desc tm_qlayer_dense = WEIGHT;
static const tm_qlayer_desc tm_qlayer_maxpool = {TM_QPLAN_PLAIN, tm_qat_forward_maxpool,
                                                 tm_lower_pool, NULL};
static const tm_qlayer_desc tm_qlayer_avgpool = {TM_QPLAN_PLAIN, tm_qat_forward_avgpool,
                                                 tm_lower_pool, NULL};
static const tm_qlayer_desc tm_qlayer_globalavgpool = {TM_QPLAN_PLAIN, tm_qat_forward_avgpool,
                                                       tm_lower_pool, NULL};
/* CHW bytes already are the flat vector: dense and concat read c*h*w. */
static const tm_qlayer_desc tm_qlayer_flatten = {TM_QPLAN_PLAIN, tm_qat_forward_float,
                                                 tm_lower_pass, NULL};
static const tm_qlayer_desc tm_qlayer_dropout = {TM_QPLAN_PLAIN, tm_qat_forward_float,
                                                 tm_lower_pass, NULL};
static const tm_qlayer_desc tm_qlayer_batchnorm = {TM_QPLAN_FOLD_BN, NULL, NULL, NULL};
static const tm_qlayer_desc tm_qlayer_relu = {TM_QPLAN_FOLD_ACT, NULL, NULL, NULL};
static const tm_qlayer_desc tm_qlayer_relu6 = {TM_QPLAN_FOLD_ACT, NULL, NULL, NULL};
/* Its three multipliers are requantisation, not weights: no size row. */
static const tm_qlayer_desc tm_qlayer_add = {TM_QPLAN_OUTPUT, tm_qat_forward_add, tm_lower_add,
                                             NULL};

/* A kind of TM_LAYER_KINDS without its tm_qlayer_<name> does not compile. */
#define TM_QLAYER_ROW_(K, n) [TM_LAYER_##K] = &tm_qlayer_##n,
static const tm_qlayer_desc *const descs[] = {TM_LAYER_KINDS(TM_QLAYER_ROW_)};
#undef TM_QLAYER_ROW_
_Static_assert(sizeof descs / sizeof *descs == TM_LAYER_KIND_COUNT,
               "a layer kind without a quantised form");

const tm_qlayer_desc *tm_qlayer_desc_of(tm_layer_kind k)
{
    return (int)k >= 0 && k < TM_LAYER_KIND_COUNT ? descs[k] : NULL;
}
