/* Scratch plans of the SIMD kernels and the scratch every target's build
 * needs, computed on any host: the sizes are plain arithmetic on the
 * shapes, so they do not depend on the machine that asks. */
#include <string.h>

#include "tm_rt_isa.h"
#include "tm_rt_kernels_plan.h"

/* Cortex-M / R builds (32-bit ARM without NEON) leave the other targets'
 * plans out, about 900 bytes of flash they never use; -DTM_RT_ALL_ISA_SCRATCH
 * keeps them there too. */
#if !defined(TM_RT_ALL_ISA_SCRATCH) && (defined(TM_RT_SIMD) || !defined(__arm__))
#define TM_RT_ALL_ISA_SCRATCH 1
#endif

#if defined(TM_RT_ALL_ISA_SCRATCH)

size_t tm_rt_round(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

int tm_rt_plan_shapes_ok(const tm_rt_conv_args *a)
{
    return a && a->in_c >= 1 && a->in_h >= 1 && a->in_w >= 1 && a->out_c >= 1 && a->kh >= 1 &&
           a->kw >= 1 && a->stride >= 1 && a->out_h >= 1 && a->out_w >= 1 &&
           a->in_c <= (1 << 24) && a->in_h <= (1 << 24) && a->in_w <= (1 << 24) &&
           a->out_h <= (1 << 24) && a->out_w <= (1 << 24) && a->kh <= (1 << 12) &&
           a->kw <= (1 << 12) && (uint64_t)a->in_h * (uint64_t)a->in_w <= (1u << 30) &&
           (uint64_t)a->out_h * (uint64_t)a->out_w <= (1u << 30);
}

int tm_rt_dense_shaped(const tm_rt_conv_args *a)
{
    return a->in_h == 1 && a->in_w == 1 && a->kh == 1 && a->kw == 1 && a->out_h == 1 &&
           a->out_w == 1;
}

/* Tile sizes: one padded row segment of at most TILE_POS positions, with
 * more output rows while the int16 tile stays under TILE_BYTES. */
void tm_rt_conv_plan(const tm_rt_conv_args *a, tm_rt_plan *p)
{
    int flat = a->kh == 1 && a->kw == 1 && a->stride == 1 && a->pad_top == 0 &&
               a->pad_left == 0 && a->out_h == a->in_h && a->out_w == a->in_w;
    int cols;
    uint64_t tile;
    memset(p, 0, sizeof *p);
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
void tm_rt_dw_plan(const tm_rt_conv_args *a, tm_rt_plan *p)
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
void tm_rt_dense_plan(const tm_rt_conv_args *a, tm_rt_plan *p)
{
    size_t np = tm_rt_round((size_t)a->in_c, 32);
    memset(p, 0, sizeof *p);
    p->k = (size_t)a->in_c;
    p->tile_off = 0;
    p->w_off = tm_rt_round(np * 2, TM_RT_ALIGN);
    p->total = p->w_off + 4 * np + TM_RT_ALIGN;
}

/* SSE2 / SSE4.1 / AVX2 / NEON: the int16-tile kernels share one plan. */
static size_t tm_rt_scratch_int16(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    tm_rt_plan p;
    if (!tm_rt_plan_shapes_ok(a))
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
}

#endif /* TM_RT_ALL_ISA_SCRATCH */

#if defined(TM_RT_ALL_ISA_SCRATCH) || defined(TM_RT_DSP)
/* Cortex-M DSP extension: tm_rt_conv_dsp.c's columns. */
static size_t tm_rt_scratch_dsp(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
    if (!a || a->in_c < 1 || a->in_c > (1 << 24) || a->kh < 1 || a->kh > (1 << 12) || a->kw < 1 ||
        a->kw > (1 << 12) || (uint64_t)a->in_c * (uint64_t)a->kh * (uint64_t)a->kw > (1u << 24))
        return 0;
    return tm_rt_conv_dsp_scratch_bytes(a, kind);
}
#endif

#if defined(TM_RT_ALL_ISA_SCRATCH)
size_t tm_rt_kernel_scratch_bytes_for(tm_rt_isa isa, const tm_rt_conv_args *a,
                                      tm_rt_kernel_kind kind)
{
    switch (isa) {
    case TM_RT_ISA_SSE2:
    case TM_RT_ISA_SSE41:
    case TM_RT_ISA_AVX2:
    case TM_RT_ISA_NEON:
    case TM_RT_ISA_AVX512VNNI: /* the dot-product kernels fit the int16 plan */
    case TM_RT_ISA_DOTPROD:
        return tm_rt_scratch_int16(a, kind);
    case TM_RT_ISA_ARM_DSP:
        return tm_rt_scratch_dsp(a, kind);
    default:
        return 0;
    }
}

#endif

size_t tm_rt_kernel_scratch_bytes(const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
#if defined(TM_RT_SIMD)
    return tm_rt_scratch_int16(a, kind);
#elif defined(TM_RT_DSP)
    return tm_rt_scratch_dsp(a, kind);
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
