/* Depthwise conv on x86-64 (SSE2, SSE4.1 or AVX2): one channel's padded
 * int16 plane at a time, two taps per madd_epi16; 3x3 stride 1 has its own
 * row code. */
#include "tm_rt_simd.h"

#if defined(TM_RT_X86)

static void tm_rt_pack_dw(const tm_rt_conv_args *a, size_t k, size_t rb, int c, int32_t *wp)
{
    size_t np = (k + 1) / 2, j;
    for (j = 0; j < np; j++)
        wp[j] = tm_rt_pair(tm_rt_w(a->weights, a->bits, rb, c, 2 * j),
                           2 * j + 1 < k ? tm_rt_w(a->weights, a->bits, rb, c, 2 * j + 1) : 0);
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

tm_rt_status tm_rt_depthwise_x86(const tm_rt_conv_args *a)
{
    tm_rt_plan p, pq;
    int8_t *base, *tmp;
    int16_t *tile;
    int32_t *toff;
    int32_t *wts;
    size_t rb, plane;
    int c, i, y;
    if (!a->scratch)
        return TM_RT_ERR_ARG;
    tm_rt_dw_plan(a, &pq);
    p = pq; /* a copy whose address does not escape: its fields stay in registers */
    base = tm_rt_aligned(a->scratch);
    tile = (int16_t *)(void *)(base + p.tile_off);
    toff = (int32_t *)(void *)(base + p.toff_off);
    wts = (int32_t *)(void *)(base + p.w_off);
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
            if (a->kh == 3 && a->kw == 3 && p.nq % TM_RT_VX == 0)
                tm_rt_dw_row3(tile, p.pw, wts, &rq, tmp, (int)p.nq);
            else
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

#endif /* TM_RT_X86 */
