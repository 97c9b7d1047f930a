/* Model file: validation on open, execution, input setters, CRC-32.
 * docs/model-format.md is the byte-level description; every rule checked
 * here is listed there. */
#include <float.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

#include "tm_rt_isa.h"
#include "tm_rt_kernels.h"
#include "tm_rt_model.h"
#include "tm_rt_stream.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the TinyM2Net model format is little-endian; big-endian hosts are not supported"
#endif

/* The records are read in place, so their layout is part of the format. */
typedef char tm_rt_assert_header[sizeof(tm_rt_file_header) == 112 ? 1 : -1];
typedef char tm_rt_assert_tensor[sizeof(tm_rt_tensor_desc) == 24 ? 1 : -1];
typedef char tm_rt_assert_op[sizeof(tm_rt_op_desc) == 84 ? 1 : -1];
typedef char tm_rt_assert_input[sizeof(tm_rt_input_desc) == 128 ? 1 : -1];

/* The front end's state takes this fixed slot at the end of an audio
 * workspace, so the planned bytes do not depend on the pointer size. */
#define TM_RT_FE_SLOT 256
typedef char tm_rt_assert_fe_slot[sizeof(tm_rt_frontend) <= TM_RT_FE_SLOT ? 1 : -1];

#define TM_RT_ALIGN16(x) (((x) + 15u) & ~(size_t)15u)

/* ---- error text ------------------------------------------------------------ */

/* Into the model being opened (m in scope). Without messages the strings are
 * not evaluated, so they are not in the image. */
#ifndef TM_RT_NO_MESSAGES
#define TM_RT_FAIL(s, what, index, reason) tm_rt_error_set(&m->error, s, what, index, reason)
#else
#define TM_RT_FAIL(s, what, index, reason) tm_rt_error_set(&m->error, s, NULL, -1, NULL)
#endif

const char *tm_rt_model_error(const tm_rt_model *m)
{
    return m ? tm_rt_error_text(&m->error) : "NULL model";
}

#define TM_RT_BAD(what, index, reason) TM_RT_FAIL(TM_RT_ERR_FORMAT, what, index, reason)

/* ---- CRC-32 (IEEE 802.3, reflected, as zlib) --------------------------------- */

/* Half-byte table: 64 bytes of constants instead of 1 KiB on the device. */
static const uint32_t tm_rt_crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

static uint32_t tm_rt_crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ tm_rt_crc_nibble[crc & 15u];
        crc = (crc >> 4) ^ tm_rt_crc_nibble[crc & 15u];
    }
    return crc;
}

uint32_t tm_rt_crc32(const void *data, size_t n)
{
    if (!data)
        return 0;
    return tm_rt_crc_update(0xFFFFFFFFu, (const uint8_t *)data, n) ^ 0xFFFFFFFFu;
}

/* CRC of a file image with its header's crc32 field read as zero. */
static uint32_t tm_rt_file_crc(const uint8_t *p, size_t n)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    const size_t at = offsetof(tm_rt_file_header, crc32);
    uint32_t crc = tm_rt_crc_update(0xFFFFFFFFu, p, at);
    crc = tm_rt_crc_update(crc, zero, 4);
    crc = tm_rt_crc_update(crc, p + at + 4, n - at - 4);
    return crc ^ 0xFFFFFFFFu;
}

uint32_t tm_rt_model_file_crc(const void *file, size_t n)
{
    if (!file || n < sizeof(tm_rt_file_header))
        return 0;
    return tm_rt_file_crc((const uint8_t *)file, n);
}

/* ---- helpers shared with the builder ------------------------------------------ */

static size_t tm_rt_elems(const tm_rt_tensor_desc *t)
{
    return (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

static int tm_rt_is_weight_op(uint32_t type)
{
    return type == TM_RT_OP_CONV || type == TM_RT_OP_DEPTHWISE || type == TM_RT_OP_DENSE;
}

void tm_rt_op_conv_shape(const tm_rt_op_desc *op, const tm_rt_tensor_desc *tensors,
                         tm_rt_conv_args *a)
{
    const tm_rt_tensor_desc *in = &tensors[op->inputs[0]], *out = &tensors[op->output];
    memset(a, 0, sizeof *a);
    a->bits = op->bits;
    a->in_zp = in->zero_point;
    a->out_zp = out->zero_point;
    a->act_min = op->act_min;
    a->act_max = op->act_max;
    if (op->type == TM_RT_OP_DENSE) {
        a->in_c = (int)tm_rt_elems(in);
        a->in_h = a->in_w = 1;
        a->out_c = out->c;
        a->kh = a->kw = a->stride = 1;
        a->out_h = a->out_w = 1;
        return;
    }
    a->in_c = in->c;
    a->in_h = in->h;
    a->in_w = in->w;
    a->out_c = out->c;
    a->kh = op->kh;
    a->kw = op->kw;
    a->stride = op->stride;
    a->pad_top = op->pad_top;
    a->pad_left = op->pad_left;
    a->out_h = out->h;
    a->out_w = out->w;
}

/* Per kind: the generic bound is ~20x too large for depthwise layers. */
static tm_rt_kernel_kind tm_rt_op_kind(const tm_rt_op_desc *op)
{
    return op->type == TM_RT_OP_DEPTHWISE ? TM_RT_KERNEL_DEPTHWISE
           : op->type == TM_RT_OP_DENSE   ? TM_RT_KERNEL_DENSE
                                          : TM_RT_KERNEL_CONV;
}

#if defined(TM_RT_SIMD) || !defined(__arm__) || defined(TM_RT_ALL_ISA_SCRATCH)
size_t tm_rt_model_op_scratch_bytes_for(int isa, const tm_rt_op_desc *op,
                                        const tm_rt_tensor_desc *tensors)
{
    if (!op || !tensors || !tm_rt_is_weight_op(op->type))
        return 0;
    tm_rt_conv_args a;
    tm_rt_op_conv_shape(op, tensors, &a);
    return tm_rt_kernel_scratch_bytes_for((tm_rt_isa)isa, &a, tm_rt_op_kind(op));
}
#endif

size_t tm_rt_model_op_scratch_bytes(const tm_rt_op_desc *op, const tm_rt_tensor_desc *tensors)
{
    if (!op || !tensors || !tm_rt_is_weight_op(op->type))
        return 0;
    tm_rt_conv_args a;
    tm_rt_op_conv_shape(op, tensors, &a);
    return tm_rt_kernel_scratch_bytes(&a, tm_rt_op_kind(op));
}

size_t tm_rt_model_input_workspace_bytes(const tm_rt_input_desc *in)
{
    if (!in || in->kind != TM_RT_INPUT_AUDIO)
        return 0;
    const tm_rt_frontend_config *c = &in->fe;
    size_t fe = tm_rt_frontend_workspace_bytes(c), out = tm_rt_frontend_output_size(c);
    if (fe == 0 || out == 0 || out > TM_RT_MAX_TENSOR_BYTES || fe > TM_RT_MAX_REGION_BYTES)
        return 0;
    return TM_RT_FE_SLOT + TM_RT_ALIGN16(out * sizeof(float)) + fe;
}


void tm_rt_model_lifetimes(const tm_rt_op_desc *ops, uint32_t n_ops,
                           const tm_rt_input_desc *inputs, uint32_t n_inputs, int32_t output,
                           uint32_t n_tensors, int32_t *first, int32_t *last)
{
    for (uint32_t t = 0; t < n_tensors; t++) {
        first[t] = INT32_MAX;
        last[t] = INT32_MIN;
    }
    for (uint32_t i = 0; i < n_inputs; i++) {
        int32_t t = inputs[i].tensor;
        if (t >= 0 && (uint32_t)t < n_tensors) {
            first[t] = -1;
            if (last[t] < -1)
                last[t] = -1;
        }
    }
    for (uint32_t k = 0; k < n_ops; k++) {
        const tm_rt_op_desc *op = &ops[k];
        int32_t step = (int32_t)k;
        for (int32_t j = 0; j < op->n_inputs && j < TM_RT_MAX_OP_INPUTS; j++) {
            int32_t t = op->inputs[j];
            if (t < 0 || (uint32_t)t >= n_tensors)
                continue;
            if (first[t] > step)
                first[t] = step;
            if (last[t] < step)
                last[t] = step;
        }
        int32_t t = op->output;
        if (t >= 0 && (uint32_t)t < n_tensors) {
            if (first[t] > step)
                first[t] = step;
            if (last[t] < step)
                last[t] = step;
        }
    }
    if (output >= 0 && (uint32_t)output < n_tensors) {
        if (first[output] > (int32_t)n_ops)
            first[output] = (int32_t)n_ops;
        last[output] = (int32_t)n_ops;
    }
}

/* ---- validation --------------------------------------------------------------- */

static int tm_rt_finite(float x)
{
    return x >= -FLT_MAX && x <= FLT_MAX;
}

/* A blob range of bytes, aligned, inside the blob. */
static int tm_rt_blob_ok(uint32_t off, uint64_t bytes, uint32_t align, uint32_t blob_bytes)
{
    return off != TM_RT_NONE && off % align == 0 && (uint64_t)off + bytes <= blob_bytes;
}

/* Some bottom padding in 0..k-1 gives exactly `out` positions. */
static int tm_rt_out_dim_ok(int32_t in, int32_t k, int32_t s, int32_t pad, int32_t out)
{
    if (out < 1)
        return 0;
    for (int32_t pb = 0; pb < k; pb++) {
        int64_t span = (int64_t)in + pad + pb - k;
        if (span >= 0 && span / s + 1 == out)
            return 1;
    }
    return 0;
}

#ifndef TM_RT_NO_MESSAGES
static const char *tm_rt_op_name(uint32_t type)
{
    switch (type) {
    case TM_RT_OP_CONV: return "op (conv)";
    case TM_RT_OP_DEPTHWISE: return "op (depthwise)";
    case TM_RT_OP_DENSE: return "op (dense)";
    case TM_RT_OP_MAXPOOL: return "op (maxpool)";
    case TM_RT_OP_AVGPOOL: return "op (avgpool)";
    case TM_RT_OP_GLOBALAVGPOOL: return "op (globalavgpool)";
    case TM_RT_OP_CONCAT: return "op (concat)";
    case TM_RT_OP_REQUANTIZE: return "op (requantize)";
    case TM_RT_OP_ADD: return "op (add)";
    }
    return "op";
}
#endif

/* mult/shift arrays of n int32 each: in range, and values the requantiser
 * is defined for (Q31 mult in [2^30, 2^31) or 0; shift in -31..31). */
static const char *tm_rt_check_requant(const tm_rt_op_desc *op, const uint8_t *blob,
                                       uint32_t blob_bytes, uint32_t n)
{
    if (!tm_rt_blob_ok(op->mult, (uint64_t)n * 4u, 4, blob_bytes))
        return TM_RT_MSG("mult range outside the blob or unaligned");
    if (!tm_rt_blob_ok(op->shift, (uint64_t)n * 4u, 4, blob_bytes))
        return TM_RT_MSG("shift range outside the blob or unaligned");
    const int32_t *mult = (const int32_t *)(const void *)(blob + op->mult);
    const int32_t *shift = (const int32_t *)(const void *)(blob + op->shift);
    for (uint32_t i = 0; i < n; i++) {
        if (mult[i] != 0 && mult[i] < (INT32_C(1) << 30))
            return TM_RT_MSG("a mult is neither 0 nor a Q31 value in [2^30, 2^31)");
        if (shift[i] < -31 || shift[i] > 31)
            return TM_RT_MSG("a shift is outside -31..31");
    }
    return NULL;
}

/* Everything about one op that its own record and tensors decide. */
static const char *tm_rt_check_op(const tm_rt_op_desc *op, const tm_rt_tensor_desc *T,
                                  uint32_t n_tensors, const uint8_t *blob, uint32_t blob_bytes)
{
    if (op->type < TM_RT_OP_CONV || op->type > TM_RT_OP_ADD)
        return TM_RT_MSG("unknown op type");
    if (op->version != 1)
        return TM_RT_MSG("unknown op version (this runtime knows version 1)");
    int add = op->type == TM_RT_OP_ADD;
    int32_t want_in = op->type == TM_RT_OP_CONCAT ? -1 : 1 + add;
    if (want_in < 0 ? (op->n_inputs < 1 || op->n_inputs > TM_RT_MAX_OP_INPUTS)
                    : op->n_inputs != want_in)
        return op->type == TM_RT_OP_CONCAT ? TM_RT_MSG("concat needs 1..4 inputs")
               : add                       ? TM_RT_MSG("add needs 2 inputs")
                                           : TM_RT_MSG("n_inputs must be 1 for this op type");
    for (int32_t j = 0; j < TM_RT_MAX_OP_INPUTS; j++) {
        if (j < op->n_inputs) {
            if (op->inputs[j] < 0 || (uint32_t)op->inputs[j] >= n_tensors)
                return TM_RT_MSG("input tensor index out of range");
            if (op->inputs[j] == op->output)
                return TM_RT_MSG("output tensor is also an input");
        } else if (op->inputs[j] != -1) {
            return TM_RT_MSG("unused input slots must be -1");
        }
    }
    if (op->output < 0 || (uint32_t)op->output >= n_tensors)
        return TM_RT_MSG("output tensor index out of range");
    if (op->act_min < -128 || op->act_max > 127 || op->act_min > op->act_max)
        return TM_RT_MSG("act_min..act_max must be a non-empty range within -128..127");

    const tm_rt_tensor_desc *in = &T[op->inputs[0]], *out = &T[op->output];
    int weights = tm_rt_is_weight_op(op->type);
    int spatial = op->type == TM_RT_OP_CONV || op->type == TM_RT_OP_DEPTHWISE ||
                  op->type == TM_RT_OP_MAXPOOL || op->type == TM_RT_OP_AVGPOOL;

    if (weights ? (op->bits != 4 && op->bits != 8) : op->bits != 0)
        return weights ? TM_RT_MSG("bits must be 4 or 8")
                       : TM_RT_MSG("bits must be 0 for an op without weights");
    if (spatial) {
        if (op->kh < 1 || op->kw < 1 || op->kh > TM_RT_MAX_KERNEL || op->kw > TM_RT_MAX_KERNEL)
            return TM_RT_MSG("kernel size outside 1..64");
        if (op->stride < 1 || op->stride > TM_RT_MAX_STRIDE)
            return TM_RT_MSG("stride outside 1..64");
        if (op->pad_top < 0 || op->pad_left < 0 || op->pad_top >= op->kh ||
            op->pad_left >= op->kw)
            return TM_RT_MSG("pads must be >= 0 and smaller than the kernel");
    } else {
        if ((op->kh != 0 && op->kh != 1) || (op->kw != 0 && op->kw != 1) ||
            (op->stride != 0 && op->stride != 1) || op->pad_top != 0 || op->pad_left != 0)
            return TM_RT_MSG("kh, kw, stride must be 0 or 1 and pads 0 for an op without a window");
    }

    if (!weights) {
        if (op->weights != TM_RT_NONE || op->weights_bytes != 0 || op->bias != TM_RT_NONE)
            return TM_RT_MSG("weights and bias must be absent (TM_RT_NONE, 0 bytes)");
        if ((op->type != TM_RT_OP_CONCAT && op->type != TM_RT_OP_REQUANTIZE && !add) &&
            (op->mult != TM_RT_NONE || op->shift != TM_RT_NONE))
            return TM_RT_MSG("mult and shift must be absent (TM_RT_NONE) for a pool");
    }

    switch (op->type) {
    case TM_RT_OP_CONV:
    case TM_RT_OP_DEPTHWISE: {
        if (op->type == TM_RT_OP_DEPTHWISE && out->c != in->c)
            return TM_RT_MSG("depthwise output channels differ from its input's");
        if (!tm_rt_out_dim_ok(in->h, op->kh, op->stride, op->pad_top, out->h))
            return TM_RT_MSG("output height does not follow from input, kernel, stride and pad");
        if (!tm_rt_out_dim_ok(in->w, op->kw, op->stride, op->pad_left, out->w))
            return TM_RT_MSG("output width does not follow from input, kernel, stride and pad");
        uint64_t row = (uint64_t)op->kh * (uint64_t)op->kw;
        if (op->type == TM_RT_OP_CONV)
            row *= (uint64_t)in->c;
        uint64_t row_bytes = op->bits == 8 ? row : (row + 1) / 2;
        if ((uint64_t)op->weights_bytes != row_bytes * (uint64_t)out->c)
            return TM_RT_MSG("weights_bytes does not match the shape and bits");
        break;
    }
    case TM_RT_OP_DENSE: {
        if (out->h != 1 || out->w != 1)
            return TM_RT_MSG("dense output must be a vector (h = w = 1)");
        uint64_t row = tm_rt_elems(in);
        uint64_t row_bytes = op->bits == 8 ? row : (row + 1) / 2;
        if ((uint64_t)op->weights_bytes != row_bytes * (uint64_t)out->c)
            return TM_RT_MSG("weights_bytes does not match out x in at the bits");
        break;
    }
    case TM_RT_OP_MAXPOOL:
    case TM_RT_OP_AVGPOOL:
        if (op->kh != op->kw)
            return TM_RT_MSG("pool window must be square (kh == kw)");
        if (op->pad_top != 0 || op->pad_left != 0)
            return TM_RT_MSG("pools take no padding");
        if (out->c != in->c || in->h < op->kh || in->w < op->kw ||
            out->h != (in->h - op->kh) / op->stride + 1 ||
            out->w != (in->w - op->kw) / op->stride + 1)
            return TM_RT_MSG("output shape does not follow from input, window and stride");
        break;
    case TM_RT_OP_GLOBALAVGPOOL:
        if (out->c != in->c || out->h != 1 || out->w != 1)
            return TM_RT_MSG("output must be in_c x 1 x 1");
        break;
    case TM_RT_OP_CONCAT: {
        uint64_t sum = 0;
        int vec = out->h == 1 && out->w == 1;
        for (int32_t j = 0; j < op->n_inputs; j++) {
            const tm_rt_tensor_desc *t = &T[op->inputs[j]];
            if (vec) {
                sum += tm_rt_elems(t);
            } else {
                if (t->h != out->h || t->w != out->w)
                    return TM_RT_MSG("inputs' height and width differ from the output's");
                sum += (uint64_t)t->c;
            }
        }
        if (sum != (uint64_t)out->c)
            return TM_RT_MSG("output channels differ from the sum of the inputs'");
        break;
    }
    case TM_RT_OP_ADD:
        if (tm_rt_elems(&T[op->inputs[1]]) != tm_rt_elems(out))
            return TM_RT_MSG("input and output sizes differ");
        /* fall through */
    case TM_RT_OP_REQUANTIZE:
        if (tm_rt_elems(in) != tm_rt_elems(out))
            return TM_RT_MSG("input and output sizes differ");
        break;
    }

    if (op->type == TM_RT_OP_MAXPOOL || op->type == TM_RT_OP_AVGPOOL ||
        op->type == TM_RT_OP_GLOBALAVGPOOL) {
        if (out->scale != in->scale || out->zero_point != in->zero_point)
            return TM_RT_MSG("pool output scale and zero point must equal the input's");
    }

    if (weights) {
        if (!tm_rt_blob_ok(op->weights, op->weights_bytes, 4, blob_bytes) ||
            op->weights_bytes == 0)
            return TM_RT_MSG("weights range outside the blob or unaligned");
        if (op->bias != TM_RT_NONE &&
            !tm_rt_blob_ok(op->bias, (uint64_t)out->c * 4u, 4, blob_bytes))
            return TM_RT_MSG("bias range outside the blob or unaligned");
        return tm_rt_check_requant(op, blob, blob_bytes, (uint32_t)out->c);
    }
    /* An add's third multiplier takes the sum to the output scale. */
    if (op->type == TM_RT_OP_CONCAT || op->type == TM_RT_OP_REQUANTIZE || add)
        return tm_rt_check_requant(op, blob, blob_bytes, (uint32_t)(op->n_inputs + add));
    return NULL;
}

/* A streamed tensor is written by a conv, depthwise or max pool and read
 * only by the op right after it, one of the same kinds with one input. */
static const char *tm_rt_check_streamed(const tm_rt_op_desc *O, uint32_t k,
                                        const tm_rt_tensor_desc *T, const int16_t *writer)
{
    const tm_rt_op_desc *op = &O[k];
    int stage = (op->type == TM_RT_OP_CONV || op->type == TM_RT_OP_DEPTHWISE ||
                 op->type == TM_RT_OP_MAXPOOL) && op->n_inputs == 1;
    if (T[op->output].arena_offset == TM_RT_STREAMED && !stage)
        return TM_RT_MSG("only conv, depthwise and max pool may write a streamed tensor");
    for (int32_t j = 0; j < op->n_inputs; j++)
        if (T[op->inputs[j]].arena_offset == TM_RT_STREAMED &&
            (!stage || writer[op->inputs[j]] != (int32_t)k - 1))
            return TM_RT_MSG("reads a streamed tensor that the op before it did not write, or "
                             "is not a conv, depthwise or max pool");
    return NULL;
}

/* One section of count records of rec bytes at off: aligned, after `after`,
 * inside the file. Returns its end, or 0 when bad. */
static uint64_t tm_rt_section(uint32_t off, uint64_t count, uint32_t rec, uint32_t align,
                              uint64_t after, uint64_t file_bytes)
{
    uint64_t end = (uint64_t)off + count * rec;
    if (off % align != 0 || off < after || end > file_bytes)
        return 0;
    return end;
}

/* The front end's check costs O(n_mels) log/pow calls: a corrupted n_mels
 * of 2^31 would stall open, so first bound it by the FFT bins (a band
 * without a bin is invalid anyway). */
static const char *tm_rt_audio_precheck(const tm_rt_frontend_config *c)
{
    int32_t nfft = c->n_fft;
    if (nfft <= 0 || nfft > TM_RT_FFT_MAX_N) {
        nfft = 2;
        while (nfft < c->window_length && nfft < TM_RT_FFT_MAX_N)
            nfft *= 2;
    }
    if (c->n_mels > nfft / 2 + 1)
        return TM_RT_MSG("n_mels exceeds n_fft/2 + 1: a mel band would hold no FFT bin");
    return NULL;
}

tm_rt_status tm_rt_model_open(tm_rt_model *m, const void *data, size_t size)
{
    static const uint16_t probe = 1;
    if (!m)
        return TM_RT_ERR_ARG;
    memset(m, 0, sizeof *m);
    if (!data)
        return TM_RT_FAIL(TM_RT_ERR_ARG, "model", -1, "NULL data");
    if (*(const uint8_t *)&probe != 1)
        return TM_RT_FAIL(TM_RT_ERR_UNSUPPORTED, "model", -1,
                          "big-endian host: the format is little-endian");
    if ((uintptr_t)data % 4u != 0)
        return TM_RT_FAIL(TM_RT_ERR_ARG, "model", -1, "data is not 4-byte aligned");
    const uint8_t *p = (const uint8_t *)data;
    if (size < sizeof(tm_rt_file_header))
        return TM_RT_BAD("header", -1, "file shorter than the header");
    tm_rt_file_header h;
    memcpy(&h, p, sizeof h);
    if (h.magic != TM_RT_MAGIC)
        return TM_RT_BAD("header", -1, "bad magic (not a TinyM2Net model)");
    /* Version 1 had no audio fit rule: running it would guess. */
    if (h.version == 1)
        return TM_RT_BAD("header", -1, "format version 1 (no audio fit rule, input columns or "
                                       "label column): export the model again");
    if (h.version != TM_RT_FORMAT_VERSION)
        return TM_RT_BAD("header", -1, "unsupported format version (this runtime reads 2)");
    if (h.header_bytes != sizeof(tm_rt_file_header))
        return TM_RT_BAD("header", -1, "header_bytes is not 112");
    if ((uint64_t)h.file_bytes > (uint64_t)size)
        return TM_RT_BAD("header", -1, "file is truncated (shorter than file_bytes)");
    if ((uint64_t)h.file_bytes != (uint64_t)size)
        return TM_RT_BAD("header", -1, "file is longer than file_bytes");
    if (tm_rt_file_crc(p, size) != h.crc32)
        return TM_RT_BAD("header", -1, "CRC-32 mismatch (file corrupted)");
    if (h.flags & ~TM_RT_FLAG_STREAM)
        return TM_RT_BAD("header", -1, "unknown flags");
    if (memchr(h.label_column, '\0', TM_RT_NAME_LEN) == NULL)
        return TM_RT_BAD("header", -1, "label_column is not NUL-terminated");
    if (h.n_tensors < 1 || h.n_tensors > TM_RT_MAX_TENSORS)
        return TM_RT_BAD("header", -1, "n_tensors outside 1..256");
    if (h.n_ops < 1 || h.n_ops > TM_RT_MAX_OPS)
        return TM_RT_BAD("header", -1, "n_ops outside 1..256");
    if (h.n_inputs < 1 || h.n_inputs > TM_RT_MAX_MODEL_INPUTS)
        return TM_RT_BAD("header", -1, "n_inputs outside 1..4");
    if (h.n_classes < 1 || h.n_classes > TM_RT_MAX_CLASSES)
        return TM_RT_BAD("header", -1, "n_classes outside 1..256");
    if (h.arena_bytes > TM_RT_MAX_REGION_BYTES || h.scratch_bytes > TM_RT_MAX_REGION_BYTES ||
        h.workspace_bytes > TM_RT_MAX_REGION_BYTES)
        return TM_RT_BAD("header", -1, "arena, scratch or workspace bytes above 2^30");

    uint64_t end = tm_rt_section(h.tensors_offset, h.n_tensors, sizeof(tm_rt_tensor_desc), 4,
                                 h.header_bytes, h.file_bytes);
    if (!end)
        return TM_RT_BAD("tensor table", -1, "offset unaligned, overlapping or past the end");
    end = tm_rt_section(h.ops_offset, h.n_ops, sizeof(tm_rt_op_desc), 4, end, h.file_bytes);
    if (!end)
        return TM_RT_BAD("op table", -1, "offset unaligned, overlapping or past the end");
    end = tm_rt_section(h.inputs_offset, h.n_inputs, sizeof(tm_rt_input_desc), 4, end,
                        h.file_bytes);
    if (!end)
        return TM_RT_BAD("input table", -1, "offset unaligned, overlapping or past the end");
    end = tm_rt_section(h.classes_offset, h.n_classes, TM_RT_NAME_LEN, 4, end, h.file_bytes);
    if (!end)
        return TM_RT_BAD("class names", -1, "offset unaligned, overlapping or past the end");
    if (!tm_rt_section(h.blob_offset, h.blob_bytes, 1, 16, end, h.file_bytes) ||
        (uint64_t)h.blob_offset + h.blob_bytes != h.file_bytes)
        return TM_RT_BAD("blob", -1, "offset not 16-aligned, overlapping, or not ending the file");

    const tm_rt_tensor_desc *T = (const tm_rt_tensor_desc *)(const void *)(p + h.tensors_offset);
    const tm_rt_op_desc *O = (const tm_rt_op_desc *)(const void *)(p + h.ops_offset);
    const tm_rt_input_desc *I = (const tm_rt_input_desc *)(const void *)(p + h.inputs_offset);
    const char(*C)[TM_RT_NAME_LEN] = (const char(*)[TM_RT_NAME_LEN])(const void *)(p + h.classes_offset);
    const uint8_t *blob = p + h.blob_offset;

    for (uint32_t t = 0; t < h.n_tensors; t++) {
        const tm_rt_tensor_desc *d = &T[t];
        if (d->c < 1 || d->h < 1 || d->w < 1 || d->c > TM_RT_MAX_DIM || d->h > TM_RT_MAX_DIM ||
            d->w > TM_RT_MAX_DIM)
            return TM_RT_BAD("tensor", (long)t, "a dimension is outside 1..65535");
        uint64_t n = (uint64_t)d->c * (uint64_t)d->h * (uint64_t)d->w;
        if (n > TM_RT_MAX_TENSOR_BYTES)
            return TM_RT_BAD("tensor", (long)t, "c*h*w above 2^24");
        if (!(d->scale > 0.0f) || !tm_rt_finite(d->scale))
            return TM_RT_BAD("tensor", (long)t, "scale must be finite and > 0");
        if (d->zero_point < -128 || d->zero_point > 127)
            return TM_RT_BAD("tensor", (long)t, "zero_point outside -128..127");
        if ((uint64_t)d->arena_offset + n > h.arena_bytes &&
            !(d->arena_offset == TM_RT_STREAMED && (h.flags & TM_RT_FLAG_STREAM)))
            return TM_RT_BAD("tensor", (long)t, "arena_offset + size past arena_bytes");
    }
    if (h.output < 0 || (uint32_t)h.output >= h.n_tensors)
        return TM_RT_BAD("header", -1, "output tensor index out of range");
    if (tm_rt_elems(&T[h.output]) != h.n_classes)
        return TM_RT_BAD("header", -1, "output tensor size differs from n_classes");
    if (T[h.output].arena_offset == TM_RT_STREAMED)
        return TM_RT_BAD("header", -1, "output tensor is streamed");

    /* Which op writes each tensor (-2: a model input, -1: none). */
    int16_t writer[TM_RT_MAX_TENSORS];
    for (uint32_t t = 0; t < h.n_tensors; t++)
        writer[t] = -1;
    for (uint32_t i = 0; i < h.n_inputs; i++) {
        const tm_rt_input_desc *d = &I[i];
        if (memchr(d->name, '\0', TM_RT_NAME_LEN) == NULL)
            return TM_RT_BAD("input", (long)i, "name is not NUL-terminated");
        if (memchr(d->column, '\0', TM_RT_NAME_LEN) == NULL)
            return TM_RT_BAD("input", (long)i, "column is not NUL-terminated");
        if (d->kind < TM_RT_INPUT_FEATURES || d->kind > TM_RT_INPUT_IMAGE)
            return TM_RT_BAD("input", (long)i, "unknown kind");
        if (d->kind == TM_RT_INPUT_AUDIO ? d->fit != TM_RT_FIT_START && d->fit != TM_RT_FIT_CENTER
                                         : d->fit != 0)
            return TM_RT_BAD("input", (long)i, "fit is not start (0) or center (1) for audio, "
                                               "or not 0 for another kind");
        if (d->tensor < 0 || (uint32_t)d->tensor >= h.n_tensors)
            return TM_RT_BAD("input", (long)i, "tensor index out of range");
        if (writer[d->tensor] == -2)
            return TM_RT_BAD("input", (long)i, "tensor already filled by another input");
        if (T[d->tensor].arena_offset == TM_RT_STREAMED)
            return TM_RT_BAD("input", (long)i, "tensor is streamed");
        writer[d->tensor] = -2;
        if (!tm_rt_finite(d->mean) || !tm_rt_finite(d->std) || !(d->std >= 0.0f))
            return TM_RT_BAD("input", (long)i, "mean and std must be finite, std >= 0");
        if (d->kind == TM_RT_INPUT_AUDIO) {
            const tm_rt_frontend_config *c = &d->fe;
            const char *why = tm_rt_audio_precheck(c);
            if (!why)
                why = tm_rt_frontend_check(c);
            if (why)
                return TM_RT_BAD("input (audio front end)", (long)i, why);
            if (tm_rt_frontend_output_size(c) != tm_rt_elems(&T[d->tensor]))
                return TM_RT_BAD("input", (long)i, "tensor size differs from frames x coefs");
            size_t need = tm_rt_model_input_workspace_bytes(d);
            if (need == 0 || need > h.workspace_bytes)
                return TM_RT_BAD("input", (long)i, "workspace_bytes too small for the front end");
        }
    }
    /* The file's scratch_bytes is the largest any build may need; the memory
     * reserves only what this build's kernels use. */
    uint32_t scratch_need = 0;
    for (uint32_t k = 0; k < h.n_ops; k++) {
        const tm_rt_op_desc *op = &O[k];
        const char *why = tm_rt_check_op(op, T, h.n_tensors, blob, h.blob_bytes);
        if (why)
            return TM_RT_BAD(tm_rt_op_name(op->type), (long)k, why);
        for (int32_t j = 0; j < op->n_inputs; j++)
            if (writer[op->inputs[j]] == -1)
                return TM_RT_BAD(tm_rt_op_name(op->type), (long)k,
                                 "reads a tensor that no earlier op or input wrote");
        if (writer[op->output] != -1)
            return TM_RT_BAD(tm_rt_op_name(op->type), (long)k,
                             "writes a tensor already written (model input or earlier op)");
        writer[op->output] = (int16_t)k;
        why = tm_rt_check_streamed(O, k, T, writer);
        if (why)
            return TM_RT_BAD(tm_rt_op_name(op->type), (long)k, why);
        /* A streamed chain's ops run on row windows: their need is the chain's, below. */
        if (T[op->output].arena_offset == TM_RT_STREAMED ||
            T[op->inputs[0]].arena_offset == TM_RT_STREAMED)
            continue;
        size_t need = tm_rt_model_op_scratch_bytes(op, T);
        if (need > h.scratch_bytes)
            return TM_RT_BAD(tm_rt_op_name(op->type), (long)k,
                             "needs more kernel scratch than scratch_bytes");
        scratch_need = need > scratch_need ? (uint32_t)need : scratch_need;
    }
    if (writer[h.output] < 0)
        return TM_RT_BAD("header", -1, "output tensor is not written by any op");
    if (h.flags & TM_RT_FLAG_STREAM) {
        for (uint32_t k = 0; k < h.n_ops; k++) {
            tm_rt_segment sg;
            if (T[O[k].output].arena_offset != TM_RT_STREAMED)
                continue;
            const char *why = tm_rt_stream_plan(-1, O, h.n_ops, k, T, 0, &sg);
            if (why)
                return TM_RT_BAD(tm_rt_op_name(O[k].type), (long)k, why);
            k += sg.count - 1;
        }
        size_t need = tm_rt_model_scratch_need_for(-1, O, h.n_ops, T);
        if (need > h.scratch_bytes)
            return TM_RT_BAD("header", -1, "streamed chains need more scratch than scratch_bytes");
        scratch_need = need > scratch_need ? (uint32_t)need : scratch_need;
    }
    for (uint32_t k = 0; k < h.n_classes; k++)
        if (memchr(C[k], '\0', TM_RT_NAME_LEN) == NULL)
            return TM_RT_BAD("class name", (long)k, "not NUL-terminated");

    /* Tensors live at the same time must not share arena bytes. */
    int32_t first[TM_RT_MAX_TENSORS], last[TM_RT_MAX_TENSORS];
    tm_rt_model_plan_lifetimes(O, h.n_ops, I, h.n_inputs, h.output, T, h.n_tensors, first, last);
    for (uint32_t a = 0; a < h.n_tensors; a++) {
        if (first[a] > last[a])
            continue;
        uint64_t a0 = T[a].arena_offset, a1 = a0 + tm_rt_elems(&T[a]);
        for (uint32_t b = a + 1; b < h.n_tensors; b++) {
            if (first[b] > last[b] || first[a] > last[b] || first[b] > last[a])
                continue;
            uint64_t b0 = T[b].arena_offset, b1 = b0 + tm_rt_elems(&T[b]);
            if (a0 < b1 && b0 < a1)
                return TM_RT_BAD("tensor", (long)b,
                                 "shares arena bytes with a tensor live at the same time");
        }
    }

    m->data = p;
    m->size = size;
    m->n_tensors = h.n_tensors;
    m->n_ops = h.n_ops;
    m->n_inputs = h.n_inputs;
    m->n_classes = h.n_classes;
    m->tensors = T;
    m->ops = O;
    m->inputs = I;
    m->class_names = C;
    m->label_column = (const char *)(p + offsetof(tm_rt_file_header, label_column));
    m->blob = blob;
    m->blob_bytes = h.blob_bytes;
    m->output = h.output;
    m->flags = h.flags;
    m->arena_bytes = h.arena_bytes;
    m->scratch_bytes = h.scratch_bytes;
    m->scratch_need = scratch_need;
    m->workspace_bytes = h.workspace_bytes;
#if defined(TM_RT_STREAM_WIDEN)
    /* set_audio puts its features first in the workspace, the front end
     * after them: the smallest such block is free while ops run */
    uint32_t feat = 0;
    for (uint32_t i = 0; i < h.n_inputs; i++)
        if (I[i].kind == TM_RT_INPUT_AUDIO) {
            uint32_t n = (uint32_t)TM_RT_ALIGN16(tm_rt_elems(&T[I[i].tensor]) * sizeof(float));
            feat = feat == 0 || n < feat ? n : feat;
        }
    m->invoke_room = (uint32_t)TM_RT_ALIGN16((size_t)scratch_need) + feat;
    /* the chains' widened shapes, searched once (the check above planned
     * every chain, so this cannot fail; if it did, the chains from there on
     * would be searched at each invoke) */
    for (uint32_t k = 0; k < h.n_ops && m->n_kept < TM_RT_KEPT_CHAINS; k++) {
        tm_rt_segment sg;
        if (T[O[k].output].arena_offset != TM_RT_STREAMED)
            continue;
        if (tm_rt_stream_plan_keep(O, h.n_ops, k, T, m->invoke_room, &sg, &m->kept[m->n_kept]))
            break;
        m->n_kept++;
        k += sg.count - 1;
    }
#endif
    return TM_RT_OK;
}

/* ---- memory --------------------------------------------------------------------- */

size_t tm_rt_model_memory_bytes(const tm_rt_model *m)
{
    if (!m || !m->data)
        return 0;
    return 15u + TM_RT_ALIGN16((size_t)m->arena_bytes) + TM_RT_ALIGN16((size_t)m->scratch_need) +
           (size_t)m->workspace_bytes;
}

/* mem -> its 16-aligned start, where the arena begins; scratch and the
 * workspace follow at 16-aligned offsets. */
static uint8_t *tm_rt_arena(const void *mem)
{
    return (uint8_t *)(((uintptr_t)mem + 15u) & ~(uintptr_t)15u);
}

static uint8_t *tm_rt_scratch(const tm_rt_model *m, const void *mem)
{
    return tm_rt_arena(mem) + TM_RT_ALIGN16((size_t)m->arena_bytes);
}

static uint8_t *tm_rt_workspace(const tm_rt_model *m, const void *mem)
{
    return tm_rt_scratch(m, mem) + TM_RT_ALIGN16((size_t)m->scratch_need);
}

int8_t *tm_rt_model_tensor(const tm_rt_model *m, void *mem, int32_t tensor)
{
    if (!m || !m->data || !mem || tensor < 0 || (uint32_t)tensor >= m->n_tensors ||
        m->tensors[tensor].arena_offset == TM_RT_STREAMED)
        return NULL;
    return (int8_t *)(tm_rt_arena(mem) + m->tensors[tensor].arena_offset);
}

size_t tm_rt_model_input_floats(const tm_rt_model *m, int input)
{
    if (!m || !m->data || input < 0 || (uint32_t)input >= m->n_inputs)
        return 0;
    const tm_rt_input_desc *d = &m->inputs[input];
    if (d->kind == TM_RT_INPUT_AUDIO)
        return (size_t)d->fe.num_samples;
    return tm_rt_elems(&m->tensors[d->tensor]);
}

/* ---- inputs ---------------------------------------------------------------------- */

/* v = (x - mean) / std (when std > 0), then quantised with the tensor's
 * scale and zero point; in chunks so no float copy of the input is needed. */
static void tm_rt_standardise_quantise(const tm_rt_input_desc *d, const tm_rt_tensor_desc *t,
                                       const float *x, size_t n, int8_t *out)
{
    float chunk[64];
    for (size_t i = 0; i < n; i += 64) {
        size_t k = n - i < 64 ? n - i : 64;
        for (size_t j = 0; j < k; j++) {
            float v = x[i + j];
            if (d->std > 0.0f)
                v = (v - d->mean) / d->std;
            chunk[j] = v;
        }
        tm_rt_quantize_input(chunk, k, t->scale, t->zero_point, out + i);
    }
}

tm_rt_status tm_rt_model_set_features(const tm_rt_model *m, void *mem, int input,
                                      const float *features)
{
    if (!m || !m->data || !mem || !features || input < 0 || (uint32_t)input >= m->n_inputs)
        return TM_RT_ERR_ARG;
    const tm_rt_input_desc *d = &m->inputs[input];
    const tm_rt_tensor_desc *t = &m->tensors[d->tensor];
    tm_rt_standardise_quantise(d, t, features, tm_rt_elems(t),
                               tm_rt_model_tensor(m, mem, d->tensor));
    return TM_RT_OK;
}

tm_rt_status tm_rt_model_set_image(const tm_rt_model *m, void *mem, int input,
                                   const float *pixels)
{
    if (!m || !m->data || input < 0 || (uint32_t)input >= m->n_inputs ||
        m->inputs[input].kind != TM_RT_INPUT_IMAGE)
        return TM_RT_ERR_ARG;
    return tm_rt_model_set_features(m, mem, input, pixels);
}

/* pcm or pcm16 (exactly one): the front end, then standardisation and
 * quantisation into the input tensor. */
static tm_rt_status tm_rt_set_audio(const tm_rt_model *m, void *mem, int input, const float *pcm,
                                    const int16_t *pcm16)
{
    if (!m || !m->data || !mem || (!pcm && !pcm16) || input < 0 ||
        (uint32_t)input >= m->n_inputs || m->inputs[input].kind != TM_RT_INPUT_AUDIO)
        return TM_RT_ERR_ARG;
    const tm_rt_input_desc *d = &m->inputs[input];
    const tm_rt_tensor_desc *t = &m->tensors[d->tensor];
    size_t n = tm_rt_elems(t);
    uint8_t *ws = tm_rt_workspace(m, mem);
    const tm_rt_frontend_config *c = &d->fe;
    /* [features][front end's workspace][its state at the end]: the features
     * follow the scratch, so invoke can use them. ws + at is 16-aligned, so
     * the front end's regions end 15 bytes before fb does. */
    float *feat = (float *)(void *)ws;
    size_t at = TM_RT_ALIGN16(n * sizeof(float));
    if (at + TM_RT_FE_SLOT > m->workspace_bytes)
        return TM_RT_ERR_BUFFER;
    size_t fb = m->workspace_bytes - TM_RT_FE_SLOT - at;
    tm_rt_frontend *fe = (tm_rt_frontend *)(void *)(ws + ((at + fb) & ~(size_t)15u));
    /* The tables depend only on the config: built once per block, not per call. */
    tm_rt_status s = TM_RT_OK;
    if (!tm_rt_frontend_ready(fe, c, ws + at, fb))
        s = tm_rt_frontend_init(fe, c, ws + at, fb);
    if (s == TM_RT_OK)
        s = tm_rt_frontend_run_pcm(fe, pcm, pcm16, feat);
    if (s != TM_RT_OK)
        return s;
    tm_rt_standardise_quantise(d, t, feat, n, tm_rt_model_tensor(m, mem, d->tensor));
    return TM_RT_OK;
}

tm_rt_status tm_rt_model_set_audio(const tm_rt_model *m, void *mem, int input, const float *pcm)
{
    return tm_rt_set_audio(m, mem, input, pcm, NULL);
}

tm_rt_status tm_rt_model_set_audio_i16(const tm_rt_model *m, void *mem, int input,
                                       const int16_t *pcm)
{
    return tm_rt_set_audio(m, mem, input, NULL, pcm);
}

/* ---- execution ------------------------------------------------------------------ */

static void tm_rt_clamp(int8_t *x, size_t n, int32_t lo, int32_t hi)
{
    if (lo <= -128 && hi >= 127)
        return;
    for (size_t i = 0; i < n; i++)
        x[i] = (int8_t)(x[i] < lo ? lo : x[i] > hi ? hi : x[i]);
}

/* The streamed chain starting at op *k, which then names its last op. */
static tm_rt_status tm_rt_model_invoke_stream(const tm_rt_model *m, uint32_t *k, uint8_t *arena,
                                              uint8_t *scratch)
{
    tm_rt_segment sg;
#if defined(TM_RT_STREAM_WIDEN)
    uint32_t i = 0;
    while (i < m->n_kept && m->kept[i].op != *k)
        i++;
    if (i < m->n_kept ? tm_rt_stream_plan_kept(m->ops, m->n_ops, m->tensors, &m->kept[i], &sg)
                      : tm_rt_stream_plan(-1, m->ops, m->n_ops, *k, m->tensors, m->invoke_room, &sg))
        return TM_RT_ERR_FORMAT;
#else
    if (tm_rt_stream_plan(-1, m->ops, m->n_ops, *k, m->tensors, m->invoke_room, &sg))
        return TM_RT_ERR_FORMAT;
#endif
    *k += sg.count - 1;
    return tm_rt_stream_run(m, &sg, arena, scratch);
}

tm_rt_status tm_rt_model_invoke(const tm_rt_model *m, void *mem)
{
    if (!m || !m->data || !mem)
        return TM_RT_ERR_ARG;
    uint8_t *arena = tm_rt_arena(mem);
    int8_t *scratch = (int8_t *)tm_rt_scratch(m, mem);
    for (uint32_t k = 0; k < m->n_ops; k++) {
        const tm_rt_op_desc *op = &m->ops[k];
        const tm_rt_tensor_desc *in = &m->tensors[op->inputs[0]];
        const tm_rt_tensor_desc *out = &m->tensors[op->output];
        if (out->arena_offset == TM_RT_STREAMED) {
            tm_rt_status s = tm_rt_model_invoke_stream(m, &k, arena, (uint8_t *)scratch);
            if (s != TM_RT_OK)
                return s;
            continue;
        }
        const int8_t *x = (const int8_t *)(arena + in->arena_offset);
        int8_t *y = (int8_t *)(arena + out->arena_offset);
        const int32_t *mult = op->mult == TM_RT_NONE
                                  ? NULL
                                  : (const int32_t *)(const void *)(m->blob + op->mult);
        const int32_t *shift = op->shift == TM_RT_NONE
                                   ? NULL
                                   : (const int32_t *)(const void *)(m->blob + op->shift);
        tm_rt_status s = TM_RT_OK;
        switch (op->type) {
        case TM_RT_OP_CONV:
        case TM_RT_OP_DEPTHWISE:
        case TM_RT_OP_DENSE: {
            tm_rt_conv_args a;
            tm_rt_op_conv_shape(op, m->tensors, &a);
            a.input = x;
            a.output = y;
            a.weights = m->blob + op->weights;
            a.bias = op->bias == TM_RT_NONE
                         ? NULL
                         : (const int32_t *)(const void *)(m->blob + op->bias);
            a.mult = mult;
            a.shift = shift;
            a.scratch = m->scratch_need ? scratch : NULL;
            s = op->type == TM_RT_OP_CONV        ? tm_rt_conv(&a)
                : op->type == TM_RT_OP_DEPTHWISE ? tm_rt_depthwise(&a)
                                                 : tm_rt_dense(&a);
            break;
        }
        case TM_RT_OP_MAXPOOL:
            s = tm_rt_maxpool(x, in->c, in->h, in->w, op->kh, op->stride, y, out->h, out->w);
            tm_rt_clamp(y, tm_rt_elems(out), op->act_min, op->act_max);
            break;
        case TM_RT_OP_AVGPOOL:
            s = tm_rt_avgpool(x, in->c, in->h, in->w, op->kh, op->stride, y, out->h, out->w);
            tm_rt_clamp(y, tm_rt_elems(out), op->act_min, op->act_max);
            break;
        case TM_RT_OP_GLOBALAVGPOOL:
            s = tm_rt_global_avgpool(x, in->c, in->h, in->w, y);
            tm_rt_clamp(y, tm_rt_elems(out), op->act_min, op->act_max);
            break;
        case TM_RT_OP_CONCAT:
        case TM_RT_OP_REQUANTIZE: {
            size_t at = 0;
            for (int32_t j = 0; j < op->n_inputs; j++) {
                const tm_rt_tensor_desc *t = &m->tensors[op->inputs[j]];
                size_t n = tm_rt_elems(t);
                tm_rt_requantize((const int8_t *)(arena + t->arena_offset), n, t->zero_point,
                                 mult[j], shift[j], out->zero_point, y + at);
                at += n;
            }
            tm_rt_clamp(y, at, op->act_min, op->act_max);
            break;
        }
        case TM_RT_OP_ADD: {
            const tm_rt_tensor_desc *b = &m->tensors[op->inputs[1]];
            tm_rt_add(x, in->zero_point, (const int8_t *)(arena + b->arena_offset), b->zero_point,
                      tm_rt_elems(out), mult, shift, out->zero_point, op->act_min, op->act_max, y);
            break;
        }
        default:
            s = TM_RT_ERR_FORMAT;
        }
        if (s != TM_RT_OK)
            return s;
    }
    return TM_RT_OK;
}

const int8_t *tm_rt_model_logits(const tm_rt_model *m, const void *mem)
{
    if (!m || !m->data || !mem)
        return NULL;
    return (const int8_t *)(tm_rt_arena(mem) + m->tensors[m->output].arena_offset);
}

void tm_rt_model_scores(const tm_rt_model *m, const void *mem, float *probs)
{
    const int8_t *logits = tm_rt_model_logits(m, mem);
    if (!logits || !probs)
        return;
    const tm_rt_tensor_desc *t = &m->tensors[m->output];
    tm_rt_softmax(logits, (int)m->n_classes, t->scale, t->zero_point, probs);
}
