/* How the SIMD kernels carve their scratch: tile geometry and byte offsets,
 * from the shapes alone. Plain C, compiled on every host
 * (tm_rt_kernels_scratch.c), so one machine can size the scratch of every
 * target's build. Internal to the runtime. */
#ifndef TM_RT_KERNELS_PLAN_H
#define TM_RT_KERNELS_PLAN_H

#include <stddef.h>

#include "tm_rt_kernels.h"

/* The same on every SIMD target, so a model's scratch size does not depend
 * on which one computed it. */
#define TM_RT_PAD_X 16         /* output positions are padded to this */
#define TM_RT_TILE_POS 1024    /* conv: output positions per tile */
#define TM_RT_TILE_BYTES 65536 /* conv: tile rows are added while under this */
#define TM_RT_ALIGN 64

typedef struct tm_rt_plan {
    int s, eih, eiw, eoh, eow; /* effective geometry (1x1 stride 1: one flat row) */
    int nx, nr, hb, pw;        /* tile: output columns, output rows, input rows, row width */
    size_t k;                  /* taps per output channel */
    size_t tile_off, toff_off, w_off, tmp_off, total; /* bytes from the aligned start */
    size_t nq, plane;          /* depthwise stride 1: flat positions, plane elements */
} tm_rt_plan;

size_t tm_rt_round(size_t v, size_t m);
/* Shapes the SIMD kernels size (a loader asks before any buffer exists);
 * other shapes need no scratch, the kernels reject them. */
int tm_rt_plan_shapes_ok(const tm_rt_conv_args *a);
/* A 1x1 conv of a 1x1 input is a dense layer, and runs as one. */
int tm_rt_dense_shaped(const tm_rt_conv_args *a);
void tm_rt_conv_plan(const tm_rt_conv_args *a, tm_rt_plan *p);
void tm_rt_dw_plan(const tm_rt_conv_args *a, tm_rt_plan *p);
void tm_rt_dense_plan(const tm_rt_conv_args *a, tm_rt_plan *p);

#endif
