/* Streamed chains: conv / depthwise / max-pool ops whose intermediate
 * tensors are never stored whole (docs/model-format.md, "Streamed tensors").
 * Each stage keeps a window of the input rows its next call reads and
 * computes a few output rows per call with the ordinary kernels on that
 * window (zero-point rows standing for the padding), so a chain computes
 * the kernels' bits. Internal to the runtime. */
#ifndef TM_RT_STREAM_H
#define TM_RT_STREAM_H

#include "tm_rt_kernels.h"
#include "tm_rt_model.h"

#define TM_RT_STREAM_STAGES 8 /* ops per chain at most */

typedef struct tm_rt_stage {
    int32_t n;          /* output rows per call */
    int32_t rows;       /* input rows of its window: (n - 1) * stride + kh */
    int32_t group;      /* output channels per call */
    int32_t direct;     /* the previous stage's output rows are this window */
    uint32_t win, out;  /* byte offsets of the window and the output rows in the
                         * chain's buffers (TM_RT_NONE: none) */
} tm_rt_stage;

typedef struct tm_rt_segment {
    uint32_t first, count; /* ops first .. first + count - 1 */
    uint32_t buf_bytes;    /* the windows and output rows */
    tm_rt_stage st[TM_RT_STREAM_STAGES];
} tm_rt_segment;

/* Fills the kernel arguments that depend only on shapes and parameters. */
void tm_rt_op_conv_shape(const tm_rt_op_desc *op, const tm_rt_tensor_desc *tensors,
                         tm_rt_conv_args *a);
/* The chain starting at op k (whose output is streamed) on a build of isa
 * (a tm_rt_isa; -1: this build), in the widest shape whose scratch is at
 * most peak (sizing: the model's tm_rt_model_scratch_need_for on isa;
 * invoke: the model's invoke_room; 0: its narrowest): NULL and sg filled,
 * or why it cannot run. */
const char *tm_rt_stream_plan(int isa, const tm_rt_op_desc *ops, uint32_t n_ops, uint32_t k,
                              const tm_rt_tensor_desc *tensors, size_t peak, tm_rt_segment *sg);
/* tm_rt_stream_plan on this build within peak, the shape it took kept in
 * *cs; and the chain cs names planned in that shape, one pass (what
 * tm_rt_stream_plan gave when it kept cs). Builds with TM_RT_STREAM_WIDEN. */
const char *tm_rt_stream_plan_keep(const tm_rt_op_desc *ops, uint32_t n_ops, uint32_t k,
                                   const tm_rt_tensor_desc *tensors, size_t peak, tm_rt_segment *sg,
                                   tm_rt_chain_shape *cs);
const char *tm_rt_stream_plan_kept(const tm_rt_op_desc *ops, uint32_t n_ops,
                                   const tm_rt_tensor_desc *tensors, const tm_rt_chain_shape *cs,
                                   tm_rt_segment *sg);
/* The chain's memory on a build of isa: its kernels' largest scratch, then
 * its buffers (buf_bytes). */
size_t tm_rt_stream_need(int isa, const tm_rt_op_desc *ops, const tm_rt_tensor_desc *tensors,
                         const tm_rt_segment *sg);
tm_rt_status tm_rt_stream_run(const tm_rt_model *m, const tm_rt_segment *sg, uint8_t *arena,
                              uint8_t *scratch);

#endif
