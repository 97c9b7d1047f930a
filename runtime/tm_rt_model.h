/* The device model: one little-endian file (docs/model-format.md) that the
 * runtime validates completely on open and then executes in place, with
 * every activation in one caller-given arena planned by the exporter.
 *
 * Building (tm_rt_builder_*) also lives here, writing into caller memory, so
 * the training side's integer simulation and the exporter produce and run
 * exactly the bytes the device runs. Nothing here allocates. */
#ifndef TM_RT_MODEL_H
#define TM_RT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tm_rt.h"
#include "tm_rt_frontend.h"

#define TM_RT_MAGIC 0x4E324D54u /* "TM2N" little-endian */
#define TM_RT_FORMAT_VERSION 2
#define TM_RT_MAX_OP_INPUTS 4
#define TM_RT_MAX_MODEL_INPUTS 4
#define TM_RT_NAME_LEN 32
#define TM_RT_NONE 0xFFFFFFFFu
/* Header flags. STREAM: some tensors are streamed (arena_offset
 * TM_RT_STREAMED): conv / depthwise / max-pool chains run row by row, never
 * storing those tensors whole (docs/model-format.md, "Streamed tensors"). */
#define TM_RT_FLAG_STREAM 1u
#define TM_RT_STREAMED TM_RT_NONE
#define TM_RT_BUILDER_FORCE_STREAM 0x80000000u /* a builder flag only (tests) */

typedef enum tm_rt_op_type {
    TM_RT_OP_CONV = 1,          /* includes pointwise (1x1) */
    TM_RT_OP_DEPTHWISE = 2,
    TM_RT_OP_DENSE = 3,
    TM_RT_OP_MAXPOOL = 4,
    TM_RT_OP_AVGPOOL = 5,
    TM_RT_OP_GLOBALAVGPOOL = 6,
    TM_RT_OP_CONCAT = 7,        /* along channels (vectors: features); inputs requantised */
    TM_RT_OP_REQUANTIZE = 8,    /* one tensor to another scale */
    TM_RT_OP_ADD = 9            /* two tensors of one size added (residual), requantised */
} tm_rt_op_type;

typedef enum tm_rt_input_kind {
    TM_RT_INPUT_FEATURES = 0,   /* ready features (float), standardised then quantised */
    TM_RT_INPUT_AUDIO = 1,      /* PCM samples through the front end */
    TM_RT_INPUT_IMAGE = 2       /* pixels 0..1, CHW */
} tm_rt_input_kind;

/* File records: only 4-byte fields, so they are read in place. */
typedef struct tm_rt_tensor_desc {
    int32_t c, h, w;            /* vectors: c = features, h = w = 1 */
    float scale;
    int32_t zero_point;
    uint32_t arena_offset;      /* bytes; the tensor holds c*h*w int8 */
} tm_rt_tensor_desc;

typedef struct tm_rt_op_desc {
    uint32_t type, version;     /* every op type starts at version 1 */
    int32_t n_inputs;
    int32_t inputs[TM_RT_MAX_OP_INPUTS];
    int32_t output;
    int32_t kh, kw, stride, pad_top, pad_left;
    int32_t bits;               /* weights: 8 or 4; 0 for ops without weights */
    int32_t act_min, act_max;
    uint32_t weights, weights_bytes;  /* blob offsets, TM_RT_NONE when absent */
    uint32_t bias;              /* int32 x out channels */
    uint32_t mult, shift;       /* int32 x out channels (concat/requantize: x inputs) */
} tm_rt_op_desc;

typedef struct tm_rt_input_desc {
    char name[TM_RT_NAME_LEN];
    int32_t kind;               /* tm_rt_input_kind */
    int32_t tensor;             /* the int8 tensor it fills */
    float mean, std;            /* standardisation of features (std 0 = none) */
    tm_rt_frontend_config fe;   /* audio: the front end (zeros for other kinds) */
    /* For the host that decodes files (version 2): audio's tm_rt_input_fit,
     * 0 for other kinds; the manifest column holding the input's file
     * ("" = the name). The runtime itself reads neither. */
    int32_t fit;
    char column[TM_RT_NAME_LEN];
} tm_rt_input_desc;

/* How audio was cut or padded to num_samples in training. */
typedef enum tm_rt_input_fit {
    TM_RT_FIT_START = 0,        /* the first num_samples; zeros after the end */
    TM_RT_FIT_CENTER = 1        /* cut or pad equally on both sides */
} tm_rt_input_fit;

/* The widened shape of a streamed chain (tm_rt_stream.c) that open keeps,
 * so an invoke plans the chain in one pass instead of searching again. */
#define TM_RT_KEPT_CHAINS 4
typedef struct tm_rt_chain_shape {
    uint32_t op;                /* the chain's first op */
    int32_t rows, prod, group;  /* rows per call of the last op and of producers,
                                 * channels per call of a grouped conv */
} tm_rt_chain_shape;

/* An opened model: views into the caller's bytes. */
typedef struct tm_rt_model {
    const uint8_t *data;
    size_t size;
    uint32_t n_tensors, n_ops, n_inputs, n_classes;
    const tm_rt_tensor_desc *tensors;
    const tm_rt_op_desc *ops;
    const tm_rt_input_desc *inputs;
    const char (*class_names)[TM_RT_NAME_LEN];
    const char *label_column;   /* the manifest's label column, "" = unknown */
    const uint8_t *blob;
    uint32_t blob_bytes;
    int32_t output;             /* tensor of the logits */
    uint32_t flags;             /* the header's (TM_RT_FLAG_*) */
    uint32_t arena_bytes;       /* activations, as planned */
    uint32_t scratch_bytes;     /* the file's kernel scratch: the bound over builds */
    uint32_t scratch_need;      /* this build's kernels' scratch and the streamed chains'
                                 * row windows (<= scratch_bytes): what the memory
                                 * reserves after the activations */
    uint32_t workspace_bytes;   /* front end, after the scratch */
    uint32_t invoke_room;       /* align16(scratch_need) plus the workspace's leading
                                 * feature floats, which no invoke needs: room a streamed
                                 * chain may widen into (0 where TM_RT_STREAM_WIDEN,
                                 * tm_rt_isa.h, is not defined) */
    uint32_t n_kept;            /* chains in kept (the first TM_RT_KEPT_CHAINS; 0
                                 * where TM_RT_STREAM_WIDEN is not defined) */
    tm_rt_chain_shape kept[TM_RT_KEPT_CHAINS];
    tm_rt_error error;          /* why open failed (tm_rt_model_error) */
} tm_rt_model;

/* Checks magic, version, CRC-32, and the bounds of every offset, size,
 * tensor index, shape and op parameter; TM_RT_ERR_FORMAT otherwise. The
 * bytes must stay alive and 4-byte aligned while the model is used. */
tm_rt_status tm_rt_model_open(tm_rt_model *m, const void *data, size_t size);
/* Why tm_rt_model_open failed on m: "what index: reason", text held in m;
 * built with TM_RT_NO_MESSAGES (tm_rt.h), only the status's name. */
const char *tm_rt_model_error(const tm_rt_model *m);
/* Total bytes the caller must give tm_rt_model_invoke and the input setters:
 * 15 + align16(arena_bytes) + align16(scratch_need) + workspace_bytes, so it
 * depends on the build (a build without SIMD kernels needs scratch only for
 * the row windows of streamed chains). */
size_t tm_rt_model_memory_bytes(const tm_rt_model *m);

tm_rt_status tm_rt_model_set_features(const tm_rt_model *m, void *mem, int input,
                                      const float *features);
tm_rt_status tm_rt_model_set_audio(const tm_rt_model *m, void *mem, int input,
                                   const float *pcm);
/* The same from 16-bit PCM as microphones and codecs give it (num_samples
 * values): sample s is s / 32768, so the features equal set_audio's on the
 * scaled floats bit for bit, with no float copy of the clip. */
tm_rt_status tm_rt_model_set_audio_i16(const tm_rt_model *m, void *mem, int input,
                                       const int16_t *pcm);
tm_rt_status tm_rt_model_set_image(const tm_rt_model *m, void *mem, int input,
                                   const float *pixels);
tm_rt_status tm_rt_model_invoke(const tm_rt_model *m, void *mem);
/* int8 logits (n_classes) of the last invoke, and their softmax. */
const int8_t *tm_rt_model_logits(const tm_rt_model *m, const void *mem);
void tm_rt_model_scores(const tm_rt_model *m, const void *mem, float *probs);

uint32_t tm_rt_crc32(const void *data, size_t n);

/* ---- building ---------------------------------------------------------- */

#define TM_RT_BUILDER_MAX_TENSORS 256
#define TM_RT_BUILDER_MAX_OPS 256

typedef struct tm_rt_builder {
    uint8_t *buf;               /* caller's output buffer */
    size_t cap, blob_used;
    tm_rt_tensor_desc tensors[TM_RT_BUILDER_MAX_TENSORS];
    tm_rt_op_desc ops[TM_RT_BUILDER_MAX_OPS];
    tm_rt_input_desc inputs[TM_RT_MAX_MODEL_INPUTS];
    char class_names[256][TM_RT_NAME_LEN];
    char label_column[TM_RT_NAME_LEN];
    uint32_t n_tensors, n_ops, n_inputs, n_classes;
    int32_t output;
    /* TM_RT_FLAG_STREAM (init's default): finish streams the chains when
     * that lowers this build's RAM; with TM_RT_BUILDER_FORCE_STREAM too,
     * always; 0 plans every tensor in the arena as before. */
    uint32_t flags;
    tm_rt_status status;        /* first error, sticky */
    tm_rt_error error;          /* its reason (tm_rt_builder_error) */
    /* Set by a successful finish (the same values go into the file header). */
    uint32_t arena_bytes, scratch_bytes, workspace_bytes;
    size_t file_bytes;
} tm_rt_builder;

/* buf/cap: the output buffer. The blob grows at its start and finish moves
 * it behind the tables, so cap must reach tm_rt_builder_bound() by then. */
void tm_rt_builder_init(tm_rt_builder *b, void *buf, size_t cap);
/* Appends bytes to the blob (4-byte aligned); returns the offset or TM_RT_NONE. */
uint32_t tm_rt_builder_blob(tm_rt_builder *b, const void *data, size_t bytes);
/* Returns the tensor index (arena_offset is planned by finish). */
int32_t tm_rt_builder_tensor(tm_rt_builder *b, int32_t c, int32_t h, int32_t w, float scale,
                             int32_t zero_point);
int32_t tm_rt_builder_op(tm_rt_builder *b, const tm_rt_op_desc *op);
int32_t tm_rt_builder_input(tm_rt_builder *b, const tm_rt_input_desc *in);
void tm_rt_builder_class(tm_rt_builder *b, const char *name);
/* The manifest's label column (at most 31 bytes; NULL or "" = unknown). */
void tm_rt_builder_label_column(tm_rt_builder *b, const char *name);
void tm_rt_builder_output(tm_rt_builder *b, int32_t tensor);
/* The three multipliers (mult[3], shift[3]) of an add op for input scales sa,
 * sb and output scale so, as TFLite: sa / 2m, sb / 2m and 2m / (2^20 so) with
 * m = max(sa, sb), so each input keeps 20 bits of headroom. */
void tm_rt_add_multipliers(double sa, double sb, double so, int32_t *mult, int32_t *shift);
/* Plans the arena (tensors whose lifetimes do not overlap share bytes),
 * sizes scratch and workspace, lays the file out, writes the CRC; the file
 * size goes to *size. */
tm_rt_status tm_rt_builder_finish(tm_rt_builder *b, size_t *size);
/* Bytes the file will take with what has been added so far: the output
 * buffer given to init must hold this much when finish is called. */
size_t tm_rt_builder_bound(const tm_rt_builder *b);
/* The reason of the builder's first error ("no error" while status is OK). */
const char *tm_rt_builder_error(const tm_rt_builder *b);
/* init, then everything of the opened model m (its blob at the same
 * offsets): set flags and finish to plan the same model again. */
void tm_rt_builder_from_model(tm_rt_builder *b, const tm_rt_model *m, void *buf, size_t cap);

/* ---- additions: file header, limits, helpers (docs/model-format.md) ---- */

/* The fixed header at offset 0 of the file (little-endian uint32 fields). */
typedef struct tm_rt_file_header {
    uint32_t magic;             /* TM_RT_MAGIC */
    uint32_t version;           /* TM_RT_FORMAT_VERSION */
    uint32_t header_bytes;      /* sizeof(tm_rt_file_header) = 112 */
    uint32_t file_bytes;        /* whole file */
    uint32_t crc32;             /* of the whole file with this field read as 0 */
    uint32_t flags;             /* TM_RT_FLAG_* (0 or TM_RT_FLAG_STREAM) */
    uint32_t n_tensors, n_ops, n_inputs, n_classes;
    int32_t output;
    uint32_t arena_bytes, scratch_bytes, workspace_bytes;
    uint32_t tensors_offset, ops_offset, inputs_offset, classes_offset;
    uint32_t blob_offset, blob_bytes;
    char label_column[TM_RT_NAME_LEN]; /* NUL-terminated, "" = unknown */
} tm_rt_file_header;

#define TM_RT_MAX_TENSORS TM_RT_BUILDER_MAX_TENSORS
#define TM_RT_MAX_OPS TM_RT_BUILDER_MAX_OPS
#define TM_RT_MAX_CLASSES 256
#define TM_RT_MAX_DIM 65535                 /* each of c, h, w */
#define TM_RT_MAX_TENSOR_BYTES (1u << 24)   /* c*h*w */
#define TM_RT_MAX_KERNEL 64                 /* kh, kw */
#define TM_RT_MAX_STRIDE 64
#define TM_RT_MAX_REGION_BYTES (1u << 30)   /* arena, scratch, workspace each */

/* The tensor's int8 data inside mem (the block given to invoke), or NULL for
 * a bad index or a streamed tensor (never stored whole): the way to read intermediate activations, or to write an
 * input already quantised. */
int8_t *tm_rt_model_tensor(const tm_rt_model *m, void *mem, int32_t tensor);
/* Floats the input's setter reads: c*h*w for features and images,
 * num_samples for audio; 0 for a bad index. */
size_t tm_rt_model_input_floats(const tm_rt_model *m, int input);
/* Workspace tm_rt_model_set_audio needs for this input (front end state,
 * its tables and the float features); 0 for other kinds or a bad config. */
size_t tm_rt_model_input_workspace_bytes(const tm_rt_input_desc *in);
/* Kernel scratch the op needs (0 for ops without weights); the op's tensor
 * indices must be valid for tensors. */
size_t tm_rt_model_op_scratch_bytes(const tm_rt_op_desc *op, const tm_rt_tensor_desc *tensors);
/* The same for a build of another instruction set (a tm_rt_isa value, see
 * tm_rt_kernels.h), asked on any host, so an exporter can tell each
 * target's RAM. Left out of Cortex-M / R builds unless TM_RT_ALL_ISA_SCRATCH. */
size_t tm_rt_model_op_scratch_bytes_for(int isa, const tm_rt_op_desc *op,
                                        const tm_rt_tensor_desc *tensors);
/* What the memory reserves after the arena on a build of isa (a tm_rt_isa
 * value; -1: this build): the largest op scratch, a streamed chain counting
 * its row windows and its kernels' scratch on those windows. The ops and
 * tensors must be an opened model's (or pass its checks). isa >= 0 is left
 * out of Cortex-M / R builds like the function above. */
size_t tm_rt_model_scratch_need_for(int isa, const tm_rt_op_desc *ops, uint32_t n_ops,
                                    const tm_rt_tensor_desc *tensors);
/* Tensor lifetimes in op steps, the rule the builder plans with and open
 * checks: a model input is live from -1 (before op 0), the output up to
 * n_ops (after the last op), any other tensor from the op writing it to the
 * last op reading it; first > last marks a tensor nothing uses. */
void tm_rt_model_lifetimes(const tm_rt_op_desc *ops, uint32_t n_ops,
                           const tm_rt_input_desc *inputs, uint32_t n_inputs, int32_t output,
                           uint32_t n_tensors, int32_t *first, int32_t *last);
/* The same with a streamed chain's ops as one step: its first op's inputs
 * live to its last op, its last op's output from its first op, and the
 * streamed tensors marked unused (they take no arena bytes). */
void tm_rt_model_plan_lifetimes(const tm_rt_op_desc *ops, uint32_t n_ops,
                                const tm_rt_input_desc *inputs, uint32_t n_inputs,
                                int32_t output, const tm_rt_tensor_desc *tensors,
                                uint32_t n_tensors, int32_t *first, int32_t *last);
/* CRC-32 of a file image with its header's crc32 field read as zero. */
uint32_t tm_rt_model_file_crc(const void *file, size_t size);

#endif
