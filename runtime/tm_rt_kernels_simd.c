/* Dispatched conv / depthwise / dense: AVX2, SSE2 (SSE4.1 where the build
 * allows) or NEON, chosen at compile time; the reference otherwise.
 *
 * All three take the same route: the input is widened once into an int16
 * copy with the zero point subtracted (so padding is a plain 0), laid out so
 * that every kernel tap reads a contiguous run of output positions (stride
 * s: each input row is split into s column phases). The hot loops then
 * vectorise over output positions: x86 multiplies two taps at a time with
 * madd_epi16 on interleaved int16 pairs, NEON one tap at a time with
 * vmlal_lane_s16. Accumulators are int32 and wrap like the reference's, and
 * the vector requantisation is gemmlowp's, so results match
 * tm_rt_*_ref bit for bit. */
#include <string.h>

#include "tm_rt_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>
#define TM_RT_X86 1
#define TM_RT_VX 16
#elif defined(__SSE2__)
#include <emmintrin.h>
#if defined(__SSE4_1__)
#include <smmintrin.h>
#endif
#define TM_RT_X86 1
#define TM_RT_VX 8
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define TM_RT_NEON 1
#define TM_RT_VX 8
#endif

#if defined(TM_RT_X86) || defined(TM_RT_NEON)
#define TM_RT_SIMD 1
#endif

#if defined(__GNUC__)
#define TM_RT_INLINE static inline __attribute__((always_inline))
#else
#define TM_RT_INLINE static inline
#endif

/* Plan constants are the same on every SIMD target, so a model's scratch
 * size does not depend on which one computed it. */
#define TM_RT_PAD_X 16       /* output positions are padded to this */
#define TM_RT_TILE_POS 1024  /* conv: output positions per tile */
#define TM_RT_TILE_BYTES 65536 /* conv: tile rows are added while under this */
#define TM_RT_ALIGN 64

#if defined(TM_RT_SIMD)
static size_t tm_rt_round(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

/* ---- plans: how the scratch is carved ------------------------------------ */

typedef struct tm_rt_plan {
    int s, eih, eiw, eoh, eow; /* effective geometry (1x1 stride 1: one flat row) */
    int nx, nr, hb, pw;        /* tile: output columns, output rows, input rows, row width */
    size_t k;                  /* taps per output channel */
    size_t tile_off, toff_off, w_off, tmp_off, total; /* bytes from the aligned start */
    size_t nq, plane;           /* depthwise stride 1: flat positions, plane elements */
} tm_rt_plan;

/* Tile sizes: one padded row segment of at most TILE_POS positions, with
 * more output rows while the int16 tile stays under TILE_BYTES. */
static void tm_rt_conv_plan(const tm_rt_conv_args *a, tm_rt_plan *p)
{
    int flat = a->kh == 1 && a->kw == 1 && a->stride == 1 && a->pad_top == 0 &&
               a->pad_left == 0 && a->out_h == a->in_h && a->out_w == a->in_w;
    int cols;
    uint64_t tile;
    p->s = a->stride;
    p->eih = flat ? 1 : a->in_h;
    p->eiw = flat ? a->in_h * a->in_w : a->in_w;
    p->eoh = flat ? 1 : a->out_h;
    p->eow = flat ? a->out_h * a->out_w : a->out_w;
    p->nx = p->eow < TM_RT_TILE_POS ? p->eow : TM_RT_TILE_POS;
    cols = (int)tm_rt_round((size_t)p->nx, TM_RT_PAD_X);
    p->pw = (int)tm_rt_round((size_t)cols + (size_t)(a->kw - 1) / (size_t)p->s, 16);
    p->nr = 1;
    while (p->nr < p->eoh && (p->nr + 1) * cols <= TM_RT_TILE_POS &&
           (uint64_t)a->in_c * (uint64_t)(p->nr * p->s + a->kh) * (uint64_t)p->s *
                   (uint64_t)p->pw * 2u <= TM_RT_TILE_BYTES)
        p->nr++;
    p->hb = (p->nr - 1) * p->s + a->kh;
    p->k = (size_t)a->in_c * (size_t)a->kh * (size_t)a->kw;
    tile = (uint64_t)a->in_c * (uint64_t)p->hb * (uint64_t)p->s * (uint64_t)p->pw * 2u;
    p->tile_off = 0;
    p->toff_off = tm_rt_round((size_t)tile, TM_RT_ALIGN);
    p->w_off = p->toff_off + tm_rt_round((p->k + 1) * 4, TM_RT_ALIGN);
    p->total = p->w_off + tm_rt_round((p->k + 2) * 64, TM_RT_ALIGN) + TM_RT_ALIGN;
}

/* Depthwise: one channel's whole padded plane at a time. Stride 1 uses one
 * flat grid of rows pw = out_w + kw - 1 wide: output q = y * pw + x is
 * computed for every q (columns x >= out_w are dropped when the rows are
 * copied out of the int8 staging buffer), so short rows cost nothing
 * extra. Other strides go row by row over column phases. */
static void tm_rt_dw_plan(const tm_rt_conv_args *a, tm_rt_plan *p)
{
    memset(p, 0, sizeof *p);
    p->s = a->stride;
    p->eih = a->in_h;
    p->eiw = a->in_w;
    p->eoh = a->out_h;
    p->eow = a->out_w;
    p->nx = a->out_w;
    p->nr = a->out_h;
    p->hb = (a->out_h - 1) * p->s + a->kh;
    p->k = (size_t)a->kh * (size_t)a->kw;
    if (p->s == 1) {
        p->pw = a->out_w + a->kw - 1;
        p->nq = tm_rt_round((size_t)a->out_h * (size_t)p->pw, 32);
        p->plane = tm_rt_round(p->nq + (size_t)(a->kh - 1) * (size_t)p->pw + (size_t)a->kw, 16);
    } else {
        int cols = (int)tm_rt_round((size_t)a->out_w, TM_RT_PAD_X);
        p->pw = (int)tm_rt_round((size_t)cols + (size_t)(a->kw - 1) / (size_t)p->s, 16);
        p->plane = (size_t)p->hb * (size_t)p->s * (size_t)p->pw;
    }
    p->tile_off = 0;
    p->toff_off = tm_rt_round(p->plane * 2u, TM_RT_ALIGN);
    p->w_off = p->toff_off + tm_rt_round((p->k + 1) * 4, TM_RT_ALIGN);
    p->tmp_off = p->w_off + tm_rt_round((p->k + 2) * 4, TM_RT_ALIGN);
    p->total = p->tmp_off + tm_rt_round(p->nq, TM_RT_ALIGN) + TM_RT_ALIGN;
}

/* Dense: the int16 input, then four unpacked 4-bit rows. */
static void tm_rt_dense_plan(const tm_rt_conv_args *a, tm_rt_plan *p)
{
    size_t np = tm_rt_round((size_t)a->in_c, 32);
    memset(p, 0, sizeof *p);
    p->k = (size_t)a->in_c;
    p->tile_off = 0;
    p->w_off = tm_rt_round(np * 2, TM_RT_ALIGN);
    p->total = p->w_off + 4 * np + TM_RT_ALIGN;
}

#endif /* TM_RT_SIMD */

/* A 1x1 conv of a 1x1 input is a dense layer, and runs as one. */
static int tm_rt_dense_shaped(const tm_rt_conv_args *a)
{
    return a->in_h == 1 && a->in_w == 1 && a->kh == 1 && a->kw == 1 && a->out_h == 1 &&
           a->out_w == 1;
}

size_t tm_rt_kernel_scratch_bytes(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
#if defined(TM_RT_SIMD)
    tm_rt_plan p;
    /* Shapes only (a loader asks before any buffer exists); nonsense sizes
     * need nothing, the kernels reject them. */
    if (!a || a->in_c < 1 || a->in_h < 1 || a->in_w < 1 || a->out_c < 1 || a->kh < 1 ||
        a->kw < 1 || a->stride < 1 || a->out_h < 1 || a->out_w < 1 || a->in_c > (1 << 24) ||
        a->in_h > (1 << 24) || a->in_w > (1 << 24) || a->out_h > (1 << 24) ||
        a->out_w > (1 << 24) || a->kh > (1 << 12) || a->kw > (1 << 12) ||
        (uint64_t)a->in_h * (uint64_t)a->in_w > (1u << 30) ||
        (uint64_t)a->out_h * (uint64_t)a->out_w > (1u << 30))
        return 0;
    if (kind == TM_RT_KERNEL_DENSE || (kind == TM_RT_KERNEL_CONV && tm_rt_dense_shaped(a)))
        tm_rt_dense_plan(a, &p);
    else if (kind == TM_RT_KERNEL_CONV)
        tm_rt_conv_plan(a, &p);
    else if (kind == TM_RT_KERNEL_DEPTHWISE)
        tm_rt_dw_plan(a, &p);
    else
        return 0;
    return p.total;
#elif defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON)
    if (!a || a->in_c < 1 || a->in_c > (1 << 24) || a->kh < 1 || a->kh > (1 << 12) || a->kw < 1 ||
        a->kw > (1 << 12) || (uint64_t)a->in_c * (uint64_t)a->kh * (uint64_t)a->kw > (1u << 24))
        return 0;
    return tm_rt_conv_dsp_scratch_bytes(a, kind);
#else
    (void)a;
    (void)kind;
    return 0;
#endif
}

size_t tm_rt_conv_scratch_bytes(const tm_rt_conv_args *a)
{
    size_t need = tm_rt_kernel_scratch_bytes(a, TM_RT_KERNEL_CONV), n;
    if (a && a->in_c == a->out_c) {
        n = tm_rt_kernel_scratch_bytes(a, TM_RT_KERNEL_DEPTHWISE);
        need = n > need ? n : need;
    }
    if (a && tm_rt_dense_shaped(a)) {
        n = tm_rt_kernel_scratch_bytes(a, TM_RT_KERNEL_DENSE);
        need = n > need ? n : need;
    }
    return need;
}

#if !defined(TM_RT_SIMD) && defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON)

/* Cortex-M with the DSP extension: tm_rt_conv_dsp.c */
tm_rt_status tm_rt_conv(const tm_rt_conv_args *a) { return tm_rt_conv_dsp(a, TM_RT_KERNEL_CONV); }
tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a) { return tm_rt_depthwise_dsp(a); }
tm_rt_status tm_rt_dense(const tm_rt_conv_args *a) { return tm_rt_dense_dsp(a); }

#elif !defined(TM_RT_SIMD)

tm_rt_status tm_rt_conv(const tm_rt_conv_args *a) { return tm_rt_conv_ref(a); }
tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a) { return tm_rt_depthwise_ref(a); }
tm_rt_status tm_rt_dense(const tm_rt_conv_args *a) { return tm_rt_dense_ref(a); }

#else

/* ---- helpers shared by every SIMD target --------------------------------- */

static int32_t tm_rt_w(const void *w, int bits, size_t row_bytes, int row, size_t idx)
{
    if (bits == 8)
        return ((const int8_t *)w)[(size_t)row * row_bytes + idx];
    {
        uint8_t b = ((const uint8_t *)w)[(size_t)row * row_bytes + idx / 2];
        int32_t nib = (idx & 1) ? (b >> 4) : (b & 15);
        return nib >= 8 ? nib - 16 : nib;
    }
}

static int32_t tm_rt_wrap32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static int8_t *tm_rt_aligned(int8_t *p)
{
    size_t mis = (size_t)((uintptr_t)p % TM_RT_ALIGN);
    return mis ? p + (TM_RT_ALIGN - mis) : p;
}

/* Per-channel requantisation constants (shift clamped as tm_rt_requant). */
typedef struct tm_rt_rq {
    int32_t mult, ls, rs, zp, amin, amax, bias;
} tm_rt_rq;

static void tm_rt_rq_init(tm_rt_rq *q, const tm_rt_conv_args *a, int c)
{
    int32_t sh = a->shift[c] > 31 ? 31 : (a->shift[c] < -31 ? -31 : a->shift[c]);
    q->mult = a->mult[c];
    q->ls = sh > 0 ? sh : 0;
    q->rs = sh > 0 ? 0 : -sh;
    q->zp = a->out_zp;
    q->amin = a->act_min;
    q->amax = a->act_max;
    q->bias = a->bias ? a->bias[c] : 0;
}

static int8_t tm_rt_rq_scalar(const tm_rt_rq *q, int32_t acc)
{
    int64_t v = (int64_t)tm_rt_requant(acc, q->mult, q->ls - q->rs) + q->zp;
    return (int8_t)(v < q->amin ? q->amin : (v > q->amax ? q->amax : v));
}

static void tm_rt_unpack4_scalar(const uint8_t *src, size_t from, size_t n, int8_t *dst)
{
    size_t i;
    for (i = from; i < n; i++) {
        int32_t nib = (i & 1) ? (src[i / 2] >> 4) : (src[i / 2] & 15);
        dst[i] = (int8_t)(nib >= 8 ? nib - 16 : nib);
    }
}

#endif /* TM_RT_SIMD */

/* ======================================================================== */
#if defined(TM_RT_X86)

#if defined(__AVX2__)
typedef __m256i tm_v;
#define V_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define V_SET1(x) _mm256_set1_epi32(x)
#define V_ADD _mm256_add_epi32
#define V_MADD _mm256_madd_epi16
#define V_UNPLO _mm256_unpacklo_epi16
#define V_UNPHI _mm256_unpackhi_epi16
#else
typedef __m128i tm_v;
#define V_LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define V_SET1(x) _mm_set1_epi32(x)
#define V_ADD _mm_add_epi32
#define V_MADD _mm_madd_epi16
#define V_UNPLO _mm_unpacklo_epi16
#define V_UNPHI _mm_unpackhi_epi16
#endif

/* 8 int8 -> 8 int16 (SSE2 lacks pmovsxbw). */
static __m128i tm_rt_s8to16(__m128i v)
{
#if defined(__SSE4_1__)
    return _mm_cvtepi8_epi16(v);
#else
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
#endif
}

/* dst[i] = src[i] - zp */
TM_RT_INLINE void tm_rt_widen(int16_t *dst, const int8_t *src, int n, int32_t zp)
{
    int i = 0;
#if defined(__AVX2__)
    __m256i z = _mm256_set1_epi16((short)zp);
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(
                                                 (const __m128i *)(const void *)(src + i))),
                                             z));
    if (i < n && n >= 16) { /* the last 16 again, overlapping */
        _mm256_storeu_si256((__m256i *)(void *)(dst + n - 16),
                            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(
                                                 (const __m128i *)(const void *)(src + n - 16))),
                                             z));
        return;
    }
#endif
    {
        __m128i z8 = _mm_set1_epi16((short)zp);
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(void *)(dst + i),
                             _mm_sub_epi16(tm_rt_s8to16(_mm_loadl_epi64(
                                               (const __m128i *)(const void *)(src + i))),
                                           z8));
        if (i < n && n >= 8) /* the last 8 again, overlapping */
            _mm_storeu_si128((__m128i *)(void *)(dst + n - 8),
                             _mm_sub_epi16(tm_rt_s8to16(_mm_loadl_epi64(
                                               (const __m128i *)(const void *)(src + n - 8))),
                                           z8));
        else
            for (; i < n; i++)
                dst[i] = (int16_t)(src[i] - zp);
    }
}

/* Small zero fills without a memset call. */
static void tm_rt_zero(int16_t *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_setzero_si128());
    for (; i < n; i++)
        dst[i] = 0;
}

/* 4-bit row -> int8, 32 weights per step (sign extension: (n ^ 8) - 8). */
static void tm_rt_unpack4(const uint8_t *src, size_t n, int8_t *dst)
{
    size_t i = 0;
    const __m128i m = _mm_set1_epi8(15), e = _mm_set1_epi8(8);
    for (; i + 32 <= n; i += 32) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i / 2));
        __m128i lo = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(v, m), e), e);
        __m128i hi = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m), e), e);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_unpacklo_epi8(lo, hi));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_unpackhi_epi8(lo, hi));
    }
    tm_rt_unpack4_scalar(src, i, n, dst);
}

/* Vector requantisation constants of one channel. */
typedef struct tm_rt_rqv {
    tm_rt_rq q;
    int common; /* no left shift, a right shift, mult >= 0 */
    __m128i ls, rs;
#if defined(__AVX2__)
    __m256i mult, lo, hi, mask, half, zp16, amin16, amax16;
#else
    __m128i mult, lo, hi, mask, half, zp16, amin16, amax16;
#endif
} tm_rt_rqv;

static void tm_rt_rqv_init(tm_rt_rqv *v, const tm_rt_conv_args *a, int c)
{
    uint32_t mask;
    tm_rt_rq_init(&v->q, a, c);
    mask = v->q.rs ? ((uint32_t)1 << v->q.rs) - 1u : 0u;
    v->common = v->q.ls == 0 && v->q.rs > 0 && v->q.mult >= 0;
    v->ls = _mm_cvtsi32_si128(v->q.ls);
    v->rs = _mm_cvtsi32_si128(v->q.rs);
#if defined(__AVX2__)
    v->mult = _mm256_set1_epi32(v->q.mult);
    v->lo = _mm256_set1_epi32(v->q.ls ? -(int32_t)(((uint32_t)1 << 31) >> v->q.ls) : INT32_MIN);
    v->hi = _mm256_set1_epi32((int32_t)(0x7fffffffu >> v->q.ls));
    v->mask = _mm256_set1_epi32((int32_t)mask);
    v->half = _mm256_set1_epi32((int32_t)(mask >> 1));
    v->zp16 = _mm256_set1_epi16((short)v->q.zp);
    v->amin16 = _mm256_set1_epi16((short)v->q.amin);
    v->amax16 = _mm256_set1_epi16((short)v->q.amax);
#else
    v->mult = _mm_set1_epi32(v->q.mult);
    v->lo = _mm_set1_epi32(v->q.ls ? -(int32_t)(((uint32_t)1 << 31) >> v->q.ls) : INT32_MIN);
    v->hi = _mm_set1_epi32((int32_t)(0x7fffffffu >> v->q.ls));
    v->mask = _mm_set1_epi32((int32_t)mask);
    v->half = _mm_set1_epi32((int32_t)(mask >> 1));
    v->zp16 = _mm_set1_epi16((short)v->q.zp);
    v->amin16 = _mm_set1_epi16((short)v->q.amin);
    v->amax16 = _mm_set1_epi16((short)v->q.amax);
#endif
}

#if defined(__AVX2__)
/* Saturating left shift. */
TM_RT_INLINE __m256i tm_rt_rq_left(__m256i x, const tm_rt_rqv *v)
{
    __m256i up = _mm256_cmpgt_epi32(x, v->hi), dn = _mm256_cmpgt_epi32(v->lo, x);
    x = _mm256_sll_epi32(x, v->ls);
    x = _mm256_blendv_epi8(x, _mm256_set1_epi32(INT32_MAX), up);
    return _mm256_blendv_epi8(x, _mm256_set1_epi32(INT32_MIN), dn);
}

/* floor((x * mult + 2^30) / 2^31): bits 31..62 of each 64-bit sum (the
 * MIN * MIN saturation is the caller's). */
TM_RT_INLINE __m256i tm_rt_rq_high(__m256i x, const tm_rt_rqv *v)
{
    const __m256i nudge = _mm256_set1_epi64x(1LL << 30);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, v->mult), nudge);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), v->mult), nudge);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
}

/* Rounding right shift, half away from zero (gemmlowp's SSE form). */
TM_RT_INLINE __m256i tm_rt_rq_right(__m256i r, const tm_rt_rqv *v)
{
    __m256i rem = _mm256_and_si256(r, v->mask);
    __m256i thr = _mm256_sub_epi32(v->half, _mm256_cmpgt_epi32(_mm256_setzero_si256(), r));
    return _mm256_sub_epi32(_mm256_sra_epi32(r, v->rs), _mm256_cmpgt_epi32(rem, thr));
}

/* tm_rt_requant on 8 lanes, every case. */
static __m256i tm_rt_rq_vec(__m256i x, const tm_rt_rqv *v)
{
    __m256i r;
    if (v->q.ls)
        x = tm_rt_rq_left(x, v);
    r = tm_rt_rq_high(x, v);
    if (v->q.mult == INT32_MIN)
        r = _mm256_blendv_epi8(r, _mm256_set1_epi32(INT32_MAX),
                               _mm256_cmpeq_epi32(x, _mm256_set1_epi32(INT32_MIN)));
    if (v->q.rs)
        r = tm_rt_rq_right(r, v);
    return r;
}

/* lo holds positions 0-3 | 8-11, hi 4-7 | 12-15 (unpack order). */
TM_RT_INLINE void tm_rt_store(__m256i lo, __m256i hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    __m256i p;
    __m128i b;
    if (v->common) {
        lo = tm_rt_rq_right(tm_rt_rq_high(lo, v), v);
        hi = tm_rt_rq_right(tm_rt_rq_high(hi, v), v);
    } else {
        lo = tm_rt_rq_vec(lo, v);
        hi = tm_rt_rq_vec(hi, v);
    }
    p = _mm256_adds_epi16(_mm256_packs_epi32(lo, hi), v->zp16);
    p = _mm256_min_epi16(_mm256_max_epi16(p, v->amin16), v->amax16);
    b = _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packs_epi16(p, p), 0x08));
    if (n >= 16) {
        _mm_storeu_si128((__m128i *)(void *)out, b);
    } else {
        int8_t t[16];
        _mm_storeu_si128((__m128i *)(void *)t, b);
        memcpy(out, t, (size_t)n);
    }
}

static int32_t tm_rt_hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* 16 int8 weights -> int16 */
#define V_W16(p) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p)))

#else /* SSE */

/* Signed 32x32->64 products of the even lanes. */
TM_RT_INLINE __m128i tm_rt_mul_even(__m128i a, __m128i b)
{
#if defined(__SSE4_1__)
    return _mm_mul_epi32(a, b);
#else
    /* Unsigned product minus the two's complement corrections. */
    __m128i p = _mm_mul_epu32(a, b);
    __m128i c = _mm_add_epi32(_mm_and_si128(_mm_srai_epi32(a, 31), b),
                              _mm_and_si128(_mm_srai_epi32(b, 31), a));
    return _mm_sub_epi64(p, _mm_slli_epi64(c, 32));
#endif
}

/* The same for b >= 0 (every multiplier tm_rt_quantize_multiplier makes). */
TM_RT_INLINE __m128i tm_rt_mul_even_pos(__m128i a, __m128i b)
{
#if defined(__SSE4_1__)
    return _mm_mul_epi32(a, b);
#else
    __m128i c = _mm_and_si128(_mm_srai_epi32(a, 31), b);
    return _mm_sub_epi64(_mm_mul_epu32(a, b), _mm_slli_epi64(c, 32));
#endif
}

TM_RT_INLINE __m128i tm_rt_select(__m128i a, __m128i b, __m128i mask) /* mask ? b : a */
{
    return _mm_or_si128(_mm_andnot_si128(mask, a), _mm_and_si128(mask, b));
}

TM_RT_INLINE __m128i tm_rt_rq_left(__m128i x, const tm_rt_rqv *v)
{
    __m128i up = _mm_cmpgt_epi32(x, v->hi), dn = _mm_cmplt_epi32(x, v->lo);
    x = _mm_sll_epi32(x, v->ls);
    x = tm_rt_select(x, _mm_set1_epi32(INT32_MAX), up);
    return tm_rt_select(x, _mm_set1_epi32(INT32_MIN), dn);
}

TM_RT_INLINE __m128i tm_rt_rq_high(__m128i x, const tm_rt_rqv *v, int pos)
{
    const __m128i nudge = _mm_set1_epi64x(1LL << 30);
    __m128i xo = _mm_srli_epi64(x, 32), pe, po;
    if (pos) {
        pe = _mm_add_epi64(tm_rt_mul_even_pos(x, v->mult), nudge);
        po = _mm_add_epi64(tm_rt_mul_even_pos(xo, v->mult), nudge);
    } else {
        pe = _mm_add_epi64(tm_rt_mul_even(x, v->mult), nudge);
        po = _mm_add_epi64(tm_rt_mul_even(xo, v->mult), nudge);
    }
#if defined(__SSE4_1__)
    return _mm_blend_epi16(_mm_srli_epi64(pe, 31), _mm_slli_epi64(po, 1), 0xCC);
#else
    return tm_rt_select(_mm_slli_epi64(po, 1), _mm_srli_epi64(pe, 31), _mm_set_epi32(0, -1, 0, -1));
#endif
}

TM_RT_INLINE __m128i tm_rt_rq_right(__m128i r, const tm_rt_rqv *v)
{
    __m128i rem = _mm_and_si128(r, v->mask);
    __m128i thr = _mm_sub_epi32(v->half, _mm_cmplt_epi32(r, _mm_setzero_si128()));
    return _mm_sub_epi32(_mm_sra_epi32(r, v->rs), _mm_cmpgt_epi32(rem, thr));
}

static __m128i tm_rt_rq_vec(__m128i x, const tm_rt_rqv *v)
{
    __m128i r;
    if (v->q.ls)
        x = tm_rt_rq_left(x, v);
    r = tm_rt_rq_high(x, v, 0);
    if (v->q.mult == INT32_MIN)
        r = tm_rt_select(r, _mm_set1_epi32(INT32_MAX),
                         _mm_cmpeq_epi32(x, _mm_set1_epi32(INT32_MIN)));
    if (v->q.rs)
        r = tm_rt_rq_right(r, v);
    return r;
}

TM_RT_INLINE void tm_rt_store(__m128i lo, __m128i hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    __m128i p;
    if (v->common) {
        lo = tm_rt_rq_right(tm_rt_rq_high(lo, v, 1), v);
        hi = tm_rt_rq_right(tm_rt_rq_high(hi, v, 1), v);
    } else {
        lo = tm_rt_rq_vec(lo, v);
        hi = tm_rt_rq_vec(hi, v);
    }
    p = _mm_adds_epi16(_mm_packs_epi32(lo, hi), v->zp16);
    p = _mm_min_epi16(_mm_max_epi16(p, v->amin16), v->amax16);
    p = _mm_packs_epi16(p, p);
    if (n >= 8) {
        _mm_storel_epi64((__m128i *)(void *)out, p);
    } else {
        int8_t t[16];
        _mm_storeu_si128((__m128i *)(void *)t, p);
        memcpy(out, t, (size_t)n);
    }
}

static int32_t tm_rt_hsum(__m128i s)
{
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

#define V_W16(p) tm_rt_s8to16(_mm_loadl_epi64((const __m128i *)(const void *)(p)))

#endif /* AVX2 / SSE */

/* Two taps' weights as one madd operand: low half tap t, high half t + 1. */
static int32_t tm_rt_pair(int32_t w0, int32_t w1)
{
    return tm_rt_wrap32((uint32_t)(uint16_t)(int16_t)w0 | ((uint32_t)(uint16_t)(int16_t)w1 << 16));
}

#define TM_RT_NB 4 /* output channels per conv block */

/* Conv: weights of channels c0..c0+3 as pairs, [pair][4], each already
 * broadcast to a whole vector so the madds read them straight from memory. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, tm_v *wp)
{
    size_t np = (k + 1) / 2, j;
    int c;
    for (c = 0; c < TM_RT_NB; c++)
        for (j = 0; j < np; j++) {
            int32_t w0 = 0, w1 = 0;
            if (c0 + c < a->out_c) {
                w0 = tm_rt_w(a->weights, a->bits, rb, c0 + c, 2 * j);
                w1 = 2 * j + 1 < k ? tm_rt_w(a->weights, a->bits, rb, c0 + c, 2 * j + 1) : 0;
            }
            wp[j * TM_RT_NB + (size_t)c] = V_SET1(tm_rt_pair(w0, w1));
        }
}

static void tm_rt_pack_dw(const tm_rt_conv_args *a, size_t k, size_t rb, int c, int32_t *wp)
{
    size_t np = (k + 1) / 2, j;
    for (j = 0; j < np; j++)
        wp[j] = tm_rt_pair(tm_rt_w(a->weights, a->bits, rb, c, 2 * j),
                           2 * j + 1 < k ? tm_rt_w(a->weights, a->bits, rb, c, 2 * j + 1) : 0);
}

/* One output row segment of four channels: n positions from base. */
static void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k, const tm_v *wp,
                           const tm_rt_rqv *rq, int nvalid, int8_t *const *out, int n)
{
    size_t np = (k + 1) / 2, j;
    int x;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        tm_v a0l = V_SET1(rq[0].q.bias), a0h = a0l, a1l = V_SET1(rq[1].q.bias), a1h = a1l;
        tm_v a2l = V_SET1(rq[2].q.bias), a2h = a2l, a3l = V_SET1(rq[3].q.bias), a3h = a3l;
        const tm_v *w = wp;
        for (j = 0; j < np; j++, w += TM_RT_NB) {
            tm_v u = V_LOAD(base + toff[2 * j] + xs), v = V_LOAD(base + toff[2 * j + 1] + xs);
            tm_v lo = V_UNPLO(u, v), hi = V_UNPHI(u, v);
            a0l = V_ADD(a0l, V_MADD(lo, w[0]));
            a0h = V_ADD(a0h, V_MADD(hi, w[0]));
            a1l = V_ADD(a1l, V_MADD(lo, w[1]));
            a1h = V_ADD(a1h, V_MADD(hi, w[1]));
            a2l = V_ADD(a2l, V_MADD(lo, w[2]));
            a2h = V_ADD(a2h, V_MADD(hi, w[2]));
            a3l = V_ADD(a3l, V_MADD(lo, w[3]));
            a3h = V_ADD(a3h, V_MADD(hi, w[3]));
        }
        tm_rt_store(a0l, a0h, &rq[0], out[0] + xs, n - xs);
        if (nvalid > 1)
            tm_rt_store(a1l, a1h, &rq[1], out[1] + xs, n - xs);
        if (nvalid > 2)
            tm_rt_store(a2l, a2h, &rq[2], out[2] + xs, n - xs);
        if (nvalid > 3)
            tm_rt_store(a3l, a3h, &rq[3], out[3] + xs, n - xs);
    }
}

/* One depthwise output row: two vectors at a time while they fit. */
static void tm_rt_dw_row(const int16_t *base, const int32_t *toff, size_t k, const int32_t *wp,
                         const tm_rt_rqv *rq, int8_t *out, int n)
{
    size_t np = (k + 1) / 2, j;
    int x = 0;
    for (; x + 2 * TM_RT_VX <= n; x += 2 * TM_RT_VX) {
        tm_v al = V_SET1(rq->q.bias), ah = al, bl = al, bh = al;
        for (j = 0; j < np; j++) {
            const int16_t *p0 = base + toff[2 * j] + x, *p1 = base + toff[2 * j + 1] + x;
            tm_v ww = V_SET1(wp[j]);
            tm_v u = V_LOAD(p0), v = V_LOAD(p1), s = V_LOAD(p0 + TM_RT_VX),
                 t = V_LOAD(p1 + TM_RT_VX);
            al = V_ADD(al, V_MADD(V_UNPLO(u, v), ww));
            ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), ww));
            bl = V_ADD(bl, V_MADD(V_UNPLO(s, t), ww));
            bh = V_ADD(bh, V_MADD(V_UNPHI(s, t), ww));
        }
        tm_rt_store(al, ah, rq, out + x, n - x);
        tm_rt_store(bl, bh, rq, out + x + TM_RT_VX, n - x - TM_RT_VX);
    }
    for (; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        tm_v al = V_SET1(rq->q.bias), ah = al;
        for (j = 0; j < np; j++) {
            tm_v u = V_LOAD(base + toff[2 * j] + xs), v = V_LOAD(base + toff[2 * j + 1] + xs);
            tm_v ww = V_SET1(wp[j]);
            al = V_ADD(al, V_MADD(V_UNPLO(u, v), ww));
            ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), ww));
        }
        tm_rt_store(al, ah, rq, out + xs, n - xs);
    }
}

/* 3x3 stride 1 on the flat plane: the taps sit at fixed distances from
 * three row pointers, so offsets and weights stay in registers (the int8
 * stores would otherwise force them to be reloaded every vector). Pairs as
 * tm_rt_tap_offsets: (0,1) (2,pw) (pw+1,pw+2) (2pw,2pw+1) (2pw+2, weight 0).
 * n is a multiple of the vector width (the flat plane's nq). */
static void tm_rt_dw_row3(const int16_t *base, int pw, const int32_t *wp, const tm_rt_rqv *rq,
                          int8_t *out, int n)
{
    const tm_v w0 = V_SET1(wp[0]), w1 = V_SET1(wp[1]), w2 = V_SET1(wp[2]), w3 = V_SET1(wp[3]),
               w4 = V_SET1(wp[4]), b = V_SET1(rq->q.bias);
    const tm_rt_rqv q = *rq; /* a local copy: the int8 stores cannot alias it */
    int x;
    for (x = 0; x + TM_RT_VX <= n; x += TM_RT_VX) {
        const int16_t *r0 = base + x, *r1 = r0 + pw, *r2 = r1 + pw;
        tm_v u = V_LOAD(r0), v = V_LOAD(r0 + 1);
        tm_v al = V_ADD(b, V_MADD(V_UNPLO(u, v), w0)), ah = V_ADD(b, V_MADD(V_UNPHI(u, v), w0));
        u = V_LOAD(r0 + 2);
        v = V_LOAD(r1);
        al = V_ADD(al, V_MADD(V_UNPLO(u, v), w1));
        ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), w1));
        u = V_LOAD(r1 + 1);
        v = V_LOAD(r1 + 2);
        al = V_ADD(al, V_MADD(V_UNPLO(u, v), w2));
        ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), w2));
        u = V_LOAD(r2);
        v = V_LOAD(r2 + 1);
        al = V_ADD(al, V_MADD(V_UNPLO(u, v), w3));
        ah = V_ADD(ah, V_MADD(V_UNPHI(u, v), w3));
        u = V_LOAD(r2 + 2); /* its partner's weight is 0: pair it with itself */
        al = V_ADD(al, V_MADD(V_UNPLO(u, u), w4));
        ah = V_ADD(ah, V_MADD(V_UNPHI(u, u), w4));
        tm_rt_store(al, ah, &q, out + x, TM_RT_VX);
    }
}

/* Dense rows o0..o0+nrow-1 (nrow 1 or 4); w[r] are int8 rows of length
 * >= vec (4-bit rows come unpacked and zero-padded), xin is int16, zero
 * beyond in_c. Positions [vec, in_c) are added one by one. */
static void tm_rt_dense_rows(const tm_rt_conv_args *a, const int16_t *xin, const int8_t *const *w,
                             int nrow, int vec, int o0)
{
    int32_t acc[4] = {0, 0, 0, 0};
    int i, r;
    if (nrow == 4) {
        tm_v s0 = V_SET1(0), s1 = s0, s2 = s0, s3 = s0;
        for (i = 0; i + TM_RT_VX <= vec; i += TM_RT_VX) {
            tm_v x = V_LOAD(xin + i);
            s0 = V_ADD(s0, V_MADD(x, V_W16(w[0] + i)));
            s1 = V_ADD(s1, V_MADD(x, V_W16(w[1] + i)));
            s2 = V_ADD(s2, V_MADD(x, V_W16(w[2] + i)));
            s3 = V_ADD(s3, V_MADD(x, V_W16(w[3] + i)));
        }
        acc[0] = tm_rt_hsum(s0);
        acc[1] = tm_rt_hsum(s1);
        acc[2] = tm_rt_hsum(s2);
        acc[3] = tm_rt_hsum(s3);
    } else {
        tm_v s0 = V_SET1(0);
        for (i = 0; i + TM_RT_VX <= vec; i += TM_RT_VX)
            s0 = V_ADD(s0, V_MADD(V_LOAD(xin + i), V_W16(w[0] + i)));
        acc[0] = tm_rt_hsum(s0);
    }
    for (r = 0; r < nrow; r++) {
        uint32_t u = (uint32_t)acc[r] + (uint32_t)(a->bias ? a->bias[o0 + r] : 0);
        tm_rt_rq q;
        for (i = vec / TM_RT_VX * TM_RT_VX; i < a->in_c; i++)
            u += (uint32_t)(xin[i] * w[r][i]);
        tm_rt_rq_init(&q, a, o0 + r);
        q.bias = 0;
        a->output[o0 + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
    }
}

/* ======================================================================== */
#elif defined(TM_RT_NEON)

TM_RT_INLINE void tm_rt_widen(int16_t *dst, const int8_t *src, int n, int32_t zp)
{
    int i = 0;
    int16x8_t z = vdupq_n_s16((int16_t)zp);
    for (; i + 8 <= n; i += 8)
        vst1q_s16(dst + i, vsubq_s16(vmovl_s8(vld1_s8(src + i)), z));
    if (i < n && n >= 8) /* the last 8 again, overlapping */
        vst1q_s16(dst + n - 8, vsubq_s16(vmovl_s8(vld1_s8(src + n - 8)), z));
    else
        for (; i < n; i++)
            dst[i] = (int16_t)(src[i] - zp);
}

static void tm_rt_zero(int16_t *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        vst1q_s16(dst + i, vdupq_n_s16(0));
    for (; i < n; i++)
        dst[i] = 0;
}

static void tm_rt_unpack4(const uint8_t *src, size_t n, int8_t *dst)
{
    size_t i = 0;
    const uint8x16_t m = vdupq_n_u8(15), e = vdupq_n_u8(8);
    for (; i + 32 <= n; i += 32) {
        uint8x16_t v = vld1q_u8(src + i / 2);
        int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vandq_u8(v, m), e)),
                                vreinterpretq_s8_u8(e));
        int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vshrq_n_u8(v, 4), e)),
                                vreinterpretq_s8_u8(e));
        int8x16x2_t z = vzipq_s8(lo, hi);
        vst1q_s8(dst + i, z.val[0]);
        vst1q_s8(dst + i + 16, z.val[1]);
    }
    tm_rt_unpack4_scalar(src, i, n, dst);
}

typedef struct tm_rt_rqv {
    tm_rt_rq q;
    int32x4_t ls, nrs, mult;
    int16x8_t zp16, amin16, amax16;
} tm_rt_rqv;

static void tm_rt_rqv_init(tm_rt_rqv *v, const tm_rt_conv_args *a, int c)
{
    tm_rt_rq_init(&v->q, a, c);
    v->ls = vdupq_n_s32(v->q.ls);
    v->nrs = vdupq_n_s32(-v->q.rs);
    v->mult = vdupq_n_s32(v->q.mult);
    v->zp16 = vdupq_n_s16((int16_t)v->q.zp);
    v->amin16 = vdupq_n_s16((int16_t)v->q.amin);
    v->amax16 = vdupq_n_s16((int16_t)v->q.amax);
}

/* gemmlowp's NEON MultiplyByQuantizedMultiplier: vqrdmulh is exactly the
 * saturating rounding doubling high multiply; the fixup makes vrshl's
 * round-half-up a round-half-away. */
TM_RT_INLINE int32x4_t tm_rt_rq_vec(int32x4_t x, const tm_rt_rqv *v)
{
    if (v->q.ls)
        x = vqshlq_s32(x, v->ls);
    x = vqrdmulhq_s32(x, v->mult);
    if (v->q.rs) {
        int32x4_t fix = vshrq_n_s32(vandq_s32(x, v->nrs), 31);
        x = vrshlq_s32(vqaddq_s32(x, fix), v->nrs);
    }
    return x;
}

TM_RT_INLINE void tm_rt_store(int32x4_t lo, int32x4_t hi, const tm_rt_rqv *v, int8_t *out, int n)
{
    int16x8_t p = vcombine_s16(vqmovn_s32(tm_rt_rq_vec(lo, v)), vqmovn_s32(tm_rt_rq_vec(hi, v)));
    int8x8_t b;
    p = vqaddq_s16(p, v->zp16);
    p = vminq_s16(vmaxq_s16(p, v->amin16), v->amax16);
    b = vqmovn_s16(p);
    if (n >= 8) {
        vst1_s8(out, b);
    } else {
        int8_t t[8];
        vst1_s8(t, b);
        memcpy(out, t, (size_t)n);
    }
}

static int32_t tm_rt_hsum(int32x4_t v)
{
    int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    s = vpadd_s32(s, s);
    return vget_lane_s32(s, 0);
}

#define TM_RT_NB 8 /* output channels per conv block */

/* Conv: weights of channels c0..c0+7 per tap, [tap][8] int16. */
static void tm_rt_pack_conv(const tm_rt_conv_args *a, size_t k, size_t rb, int c0, int16_t *wk)
{
    size_t t;
    int c;
    for (t = 0; t < k; t++)
        for (c = 0; c < TM_RT_NB; c++)
            wk[t * TM_RT_NB + (size_t)c] =
                (int16_t)(c0 + c < a->out_c ? tm_rt_w(a->weights, a->bits, rb, c0 + c, t) : 0);
}

static void tm_rt_pack_dw(const tm_rt_conv_args *a, size_t k, size_t rb, int c, int16_t *wk)
{
    size_t t;
    for (t = 0; t < k; t++)
        wk[t] = (int16_t)tm_rt_w(a->weights, a->bits, rb, c, t);
}

#define TM_RT_MLA(i, wv, ln)                                                                 \
    do {                                                                                     \
        acc[i][0] = vmlal_lane_s16(acc[i][0], xl, wv, ln);                                   \
        acc[i][1] = vmlal_lane_s16(acc[i][1], xh, wv, ln);                                   \
    } while (0)

static void tm_rt_conv_row(const int16_t *base, const int32_t *toff, size_t k, const int16_t *wk,
                           const tm_rt_rqv *rq, int nvalid, int8_t *const *out, int n)
{
    size_t t;
    int x, c;
    for (x = 0; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        int32x4_t acc[TM_RT_NB][2];
        for (c = 0; c < TM_RT_NB; c++)
            acc[c][0] = acc[c][1] = vdupq_n_s32(rq[c].q.bias);
        for (t = 0; t < k; t++) {
            int16x8_t xv = vld1q_s16(base + toff[t] + xs), wv = vld1q_s16(wk + t * TM_RT_NB);
            int16x4_t xl = vget_low_s16(xv), xh = vget_high_s16(xv);
            int16x4_t wl = vget_low_s16(wv), wh = vget_high_s16(wv);
            TM_RT_MLA(0, wl, 0);
            TM_RT_MLA(1, wl, 1);
            TM_RT_MLA(2, wl, 2);
            TM_RT_MLA(3, wl, 3);
            TM_RT_MLA(4, wh, 0);
            TM_RT_MLA(5, wh, 1);
            TM_RT_MLA(6, wh, 2);
            TM_RT_MLA(7, wh, 3);
        }
        for (c = 0; c < nvalid; c++)
            tm_rt_store(acc[c][0], acc[c][1], &rq[c], out[c] + xs, n - xs);
    }
}

static void tm_rt_dw_row(const int16_t *base, const int32_t *toff, size_t k, const int16_t *wk,
                         const tm_rt_rqv *rq, int8_t *out, int n)
{
    size_t t;
    int x = 0;
    for (; x + 2 * TM_RT_VX <= n; x += 2 * TM_RT_VX) {
        int32x4_t a0 = vdupq_n_s32(rq->q.bias), a1 = a0, b0 = a0, b1 = a0;
        for (t = 0; t < k; t++) {
            int16x8_t u = vld1q_s16(base + toff[t] + x), v = vld1q_s16(base + toff[t] + x + 8);
            a0 = vmlal_n_s16(a0, vget_low_s16(u), wk[t]);
            a1 = vmlal_n_s16(a1, vget_high_s16(u), wk[t]);
            b0 = vmlal_n_s16(b0, vget_low_s16(v), wk[t]);
            b1 = vmlal_n_s16(b1, vget_high_s16(v), wk[t]);
        }
        tm_rt_store(a0, a1, rq, out + x, n - x);
        tm_rt_store(b0, b1, rq, out + x + 8, n - x - 8);
    }
    for (; x < n; x += TM_RT_VX) {
        int xs = x + TM_RT_VX > n && n >= TM_RT_VX ? n - TM_RT_VX : x; /* overlap, no tail */
        int32x4_t a0 = vdupq_n_s32(rq->q.bias), a1 = a0;
        for (t = 0; t < k; t++) {
            int16x8_t u = vld1q_s16(base + toff[t] + xs);
            a0 = vmlal_n_s16(a0, vget_low_s16(u), wk[t]);
            a1 = vmlal_n_s16(a1, vget_high_s16(u), wk[t]);
        }
        tm_rt_store(a0, a1, rq, out + xs, n - xs);
    }
}

static void tm_rt_dense_rows(const tm_rt_conv_args *a, const int16_t *xin, const int8_t *const *w,
                             int nrow, int vec, int o0)
{
    int32_t acc[4] = {0, 0, 0, 0};
    int i, r;
    for (r = 0; r < nrow; r++) {
        int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
        for (i = 0; i + 8 <= vec; i += 8) {
            int16x8_t x = vld1q_s16(xin + i), ww = vmovl_s8(vld1_s8(w[r] + i));
            s0 = vmlal_s16(s0, vget_low_s16(x), vget_low_s16(ww));
            s1 = vmlal_s16(s1, vget_high_s16(x), vget_high_s16(ww));
        }
        acc[r] = tm_rt_hsum(vaddq_s32(s0, s1));
    }
    for (r = 0; r < nrow; r++) {
        uint32_t u = (uint32_t)acc[r] + (uint32_t)(a->bias ? a->bias[o0 + r] : 0);
        tm_rt_rq q;
        for (i = vec / 8 * 8; i < a->in_c; i++)
            u += (uint32_t)(xin[i] * w[r][i]);
        tm_rt_rq_init(&q, a, o0 + r);
        q.bias = 0;
        a->output[o0 + r] = tm_rt_rq_scalar(&q, tm_rt_wrap32(u));
    }
}

#endif /* NEON */

/* ======================================================================== */
#if defined(TM_RT_SIMD)

#if defined(TM_RT_X86)
typedef tm_v tm_rt_cwt;   /* packed conv weights: x86 broadcast pairs, NEON int16 */
typedef int32_t tm_rt_dwt; /* packed depthwise weights: x86 pairs, NEON int16 */
#else
typedef int16_t tm_rt_cwt;
typedef int16_t tm_rt_dwt;
#endif

/* One padded input row as s column phases of pw values; src NULL = padding. */
static void tm_rt_fill_row(int16_t *dst, const int8_t *src, int in_w, int col0, int s, int pw,
                           int32_t zp)
{
    int r, j;
    for (r = 0; r < s; r++, dst += pw) {
        int c0 = col0 + r;
        if (!src) {
            tm_rt_zero(dst, pw);
        } else if (s == 1) {
            int lo = c0 < 0 ? -c0 : 0, hi = in_w - c0 < pw ? in_w - c0 : pw;
            if (hi < lo)
                hi = lo;
            if (lo > pw)
                lo = hi = pw;
            tm_rt_zero(dst, lo);
            if (hi > lo)
                tm_rt_widen(dst + lo, src + c0 + lo, hi - lo, zp);
            tm_rt_zero(dst + hi, pw - hi);
        } else {
            for (j = 0; j < pw; j++) {
                long ix = (long)c0 + (long)j * s;
                dst[j] = (int16_t)(ix >= 0 && ix < in_w ? src[ix] - zp : 0);
            }
        }
    }
}

/* Tap t = (ci, ky, kx) reads phase kx % s, kx / s columns on. */
static void tm_rt_tap_offsets(int cin, int kh, int kw, int s, int hb, int pw, int32_t *toff)
{
    size_t t = 0;
    int ci, ky, kx;
    for (ci = 0; ci < cin; ci++)
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++)
                toff[t++] = (int32_t)((((size_t)ci * hb + ky) * s + kx % s) * pw + kx / s);
    toff[t] = toff[t - 1]; /* partner of an odd last tap (weight 0) */
}

static tm_rt_status tm_rt_dense_run(const tm_rt_conv_args *a);

tm_rt_status tm_rt_conv(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_CONV);
    tm_rt_plan p;
    int8_t *base;
    int16_t *tile;
    int32_t *toff;
    tm_rt_cwt *wts;
    size_t rb, plane;
    int y0, x0, cb, r, ci, i, c;
    if (st != TM_RT_OK)
        return st;
    if (tm_rt_dense_shaped(a))
        return tm_rt_dense_run(a);
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_conv_plan(a, &p);
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (tm_rt_cwt *)(void *)(base + p.w_off);
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)p.eih * (size_t)p.eiw;
    tm_rt_tap_offsets(a->in_c, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    for (y0 = 0; y0 < p.eoh; y0 += p.nr) {
        int nr = p.eoh - y0 < p.nr ? p.eoh - y0 : p.nr;
        int hb = (nr - 1) * p.s + a->kh;
        for (x0 = 0; x0 < p.eow; x0 += p.nx) {
            int nx = p.eow - x0 < p.nx ? p.eow - x0 : p.nx;
            for (ci = 0; ci < a->in_c; ci++)
                for (i = 0; i < hb; i++) {
                    int iy = y0 * p.s - a->pad_top + i;
                    const int8_t *src =
                        iy >= 0 && iy < p.eih ? a->input + ci * plane + (size_t)iy * p.eiw : NULL;
                    tm_rt_fill_row(tile + (((size_t)ci * p.hb + i) * p.s) * p.pw, src, p.eiw,
                                   x0 * p.s - a->pad_left, p.s, p.pw, a->in_zp);
                }
            for (cb = 0; cb < a->out_c; cb += TM_RT_NB) {
                tm_rt_rqv rq[TM_RT_NB];
                int nvalid = a->out_c - cb < TM_RT_NB ? a->out_c - cb : TM_RT_NB;
                tm_rt_pack_conv(a, p.k, rb, cb, wts);
                for (c = 0; c < TM_RT_NB; c++)
                    tm_rt_rqv_init(&rq[c], a, c < nvalid ? cb + c : cb);
                for (r = 0; r < nr; r++) {
                    int8_t *out[TM_RT_NB];
                    for (c = 0; c < nvalid; c++)
                        out[c] = a->output + ((size_t)(cb + c) * p.eoh + (size_t)(y0 + r)) * p.eow +
                                 x0;
                    tm_rt_conv_row(tile + (size_t)r * p.s * p.s * p.pw, toff, p.k, wts, rq,
                                   nvalid, out, nx);
                }
            }
        }
    }
    return TM_RT_OK;
}

/* n bytes; rows of 16 (8) or more move 16 (8) at a time, the last
 * overlapping. */
static void tm_rt_copy_row(int8_t *d, const int8_t *s, int n)
{
    int i = 0;
    if (n >= 16) {
        for (; i + 16 <= n; i += 16)
            memcpy(d + i, s + i, 16);
        if (i < n)
            memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        for (; i + 8 <= n; i += 8)
            memcpy(d + i, s + i, 8);
        if (i < n)
            memcpy(d + n - 8, s + n - 8, 8);
    } else {
        for (; i < n; i++)
            d[i] = s[i];
    }
}

tm_rt_status tm_rt_depthwise(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_DEPTHWISE);
    tm_rt_plan p;
    int8_t *base, *tmp;
    int16_t *tile;
    int32_t *toff;
    tm_rt_dwt *wts;
    size_t rb, plane;
    int c, i, y;
    if (st != TM_RT_OK)
        return st;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_dw_plan(a, &p);
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (tm_rt_dwt *)(void *)(base + p.w_off);
    tmp = base + p.tmp_off;
    rb = tm_rt_weight_row_bytes(p.k, a->bits);
    plane = (size_t)a->in_h * (size_t)a->in_w;
    tm_rt_tap_offsets(1, a->kh, a->kw, p.s, p.hb, p.pw, toff);
    if (p.s == 1)
        tm_rt_zero(tile, (int)p.plane); /* borders stay zero: every channel writes the same interior */
    for (c = 0; c < a->in_c; c++) {
        tm_rt_rqv rq;
        const int8_t *in = a->input + c * plane;
        int8_t *out = a->output + c * (size_t)a->out_h * a->out_w;
        tm_rt_pack_dw(a, p.k, rb, c, wts);
        tm_rt_rqv_init(&rq, a, c);
        if (p.s == 1) {
            int n = a->in_w < p.pw - a->pad_left ? a->in_w : p.pw - a->pad_left;
            for (i = 0; i < a->in_h && i + a->pad_top < p.hb; i++)
                tm_rt_widen(tile + (size_t)(i + a->pad_top) * p.pw + a->pad_left,
                            in + (size_t)i * a->in_w, n, a->in_zp);
#if defined(TM_RT_X86)
            if (a->kh == 3 && a->kw == 3 && p.nq % TM_RT_VX == 0)
                tm_rt_dw_row3(tile, p.pw, wts, &rq, tmp, (int)p.nq);
            else
#endif
                tm_rt_dw_row(tile, toff, p.k, wts, &rq, tmp, (int)p.nq);
            for (y = 0; y < a->out_h; y++)
                tm_rt_copy_row(out + (size_t)y * a->out_w, tmp + (size_t)y * p.pw, a->out_w);
            continue;
        }
        for (i = 0; i < p.hb; i++) {
            int iy = i - a->pad_top;
            const int8_t *src = iy >= 0 && iy < a->in_h ? in + (size_t)iy * a->in_w : NULL;
            tm_rt_fill_row(tile + (size_t)i * p.s * p.pw, src, a->in_w, -a->pad_left, p.s, p.pw,
                           a->in_zp);
        }
        for (y = 0; y < a->out_h; y++)
            tm_rt_dw_row(tile + (size_t)y * p.s * p.s * p.pw, toff, p.k, wts, &rq,
                         out + (size_t)y * a->out_w, a->out_w);
    }
    return TM_RT_OK;
}

/* Dense on checked arguments. */
static tm_rt_status tm_rt_dense_run(const tm_rt_conv_args *a)
{
    tm_rt_plan p;
    int8_t *base, *unp;
    int16_t *xin;
    size_t rb, np;
    int o, r, vec;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_dense_plan(a, &p);
    base = tm_rt_aligned(a->scratch);
    xin = (int16_t *)(void *)(base + p.tile_off);
    unp = base + p.w_off;
    np = tm_rt_round((size_t)a->in_c, 32);
    rb = tm_rt_weight_row_bytes((size_t)a->in_c, a->bits);
    tm_rt_widen(xin, a->input, a->in_c, a->in_zp);
    memset(xin + a->in_c, 0, (np - (size_t)a->in_c) * sizeof *xin);
    /* 8-bit rows are read in place up to the last whole vector; unpacked
     * 4-bit rows are zero-padded, so vectors run to the end. */
    vec = a->bits == 8 ? a->in_c / TM_RT_VX * TM_RT_VX : (int)np;
    for (o = 0; o < a->out_c;) {
        int nrow = a->out_c - o >= 4 ? 4 : 1;
        const int8_t *w[4];
        for (r = 0; r < nrow; r++) {
            if (a->bits == 8) {
                w[r] = (const int8_t *)a->weights + (size_t)(o + r) * rb;
            } else {
                int8_t *d = unp + (size_t)r * np;
                tm_rt_unpack4((const uint8_t *)a->weights + (size_t)(o + r) * rb, (size_t)a->in_c,
                              d);
                memset(d + a->in_c, 0, np - (size_t)a->in_c);
                w[r] = d;
            }
        }
        tm_rt_dense_rows(a, xin, w, nrow, vec, o);
        o += nrow;
    }
    return TM_RT_OK;
}

tm_rt_status tm_rt_dense(const tm_rt_conv_args *a)
{
    tm_rt_status st = tm_rt_conv_check(a, TM_RT_KERNEL_DENSE);
    return st != TM_RT_OK ? st : tm_rt_dense_run(a);
}

#endif /* TM_RT_SIMD */

const char *tm_rt_kernels_isa(void)
{
#if defined(__AVX2__)
    return "avx2";
#elif defined(__SSE4_1__)
    return "sse4.1";
#elif defined(__SSE2__)
    return "sse2";
#elif defined(__ARM_NEON)
    return "neon";
#elif defined(__ARM_FEATURE_DSP)
    return "arm-dsp";
#else
    return "reference";
#endif
}

int tm_rt_kernels_macs_per_instruction(void)
{
#if defined(__AVX2__)
    return 16; /* vpmaddwd */
#elif defined(__SSE2__)
    return 8; /* pmaddwd */
#elif defined(__ARM_NEON)
    return 4; /* smlal by lane */
#elif defined(__ARM_FEATURE_DSP)
    return 2; /* smlad */
#else
    return 1;
#endif
}
