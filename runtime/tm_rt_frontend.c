#include "tm_rt_frontend.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define TM_RT_FE_MAGIC 0x544d4645u /* "TMFE" */
#define TM_RT_FE_ALIGN 16

static const double tm_rt_fe_pi = 3.14159265358979323846264338327950288;

/* Where DCT coefficient k of band b lives: band-major where SSE2 computes
 * four coefficients at a time, coefficient-major (contiguous per output)
 * elsewhere; the same values either way. */
#if defined(__SSE2__)
#define TM_RT_FE_DCT_AT(k, b, K, M) ((size_t)(b) * (size_t)(K) + (size_t)(k))
#else
#define TM_RT_FE_DCT_AT(k, b, K, M) ((size_t)(k) * (size_t)(M) + (size_t)(b))
#endif

/* ---- natural log from basic float operations ------------------------------ */

float tm_rt_frontend_log(float x)
{
    if (!(x > 0.0f))
        return x == 0.0f ? -INFINITY : NAN;
    if (x == INFINITY)
        return x;
    uint32_t u;
    int e = 0;
    memcpy(&u, &x, sizeof u);
    if (u < 0x00800000u) { /* subnormal: scale into the normal range */
        x *= 8388608.0f;
        memcpy(&u, &x, sizeof u);
        e = -23;
    }
    e += (int)(u >> 23) - 127;
    u = (u & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &u, sizeof m);
    if (m > 1.41421356f) { /* keep m in [sqrt(1/2), sqrt(2)] so |s| <= 0.172 */
        m *= 0.5f;
        e += 1;
    }
    /* log(m) = 2 atanh(s), s = (m-1)/(m+1); the series to s^9 is below float
     * rounding for |s| <= 0.172. ln 2 is split so e * ln2_hi is exact. */
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float s2 = s * s;
    float poly = 0.33333334f + s2 * (0.2f + s2 * (0.14285715f + s2 * 0.11111111f));
    float logm = 2.0f * s + 2.0f * s * s2 * poly;
    const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
    float ef = (float)e;
    return ef * ln2_hi + (logm + ef * ln2_lo);
}

#if defined(__SSE2__)
/* x[i] = tm_rt_frontend_log(x[i]), i < n, four at a time with the scalar
 * function's float operations lane by lane (special values and subnormals,
 * rare in a power spectrum plus a floor, go to the scalar function). */
static void tm_rt_fe_log_all(float *x, int n)
{
    int i = 0;
    const __m128 one = _mm_set1_ps(1.0f), two = _mm_set1_ps(2.0f), half = _mm_set1_ps(0.5f),
                 sqrt2 = _mm_set1_ps(1.41421356f), c3 = _mm_set1_ps(0.33333334f),
                 c5 = _mm_set1_ps(0.2f), c7 = _mm_set1_ps(0.14285715f),
                 c9 = _mm_set1_ps(0.11111111f), hi = _mm_set1_ps(6.9313812256e-01f),
                 lo = _mm_set1_ps(9.0580006145e-06f);
    const __m128i mant = _mm_set1_epi32(0x007fffff), expo1 = _mm_set1_epi32(0x3f800000),
                  bias = _mm_set1_epi32(127), normal = _mm_set1_epi32(0x00800000),
                  maxnormal = _mm_set1_epi32(0x7f7fffff);
    for (; i + 4 <= n; i += 4) {
        __m128i u = _mm_castps_si128(_mm_loadu_ps(x + i));
        /* the fast lanes hold positive normal finite floats: 0x00800000 <= u <= 0x7f7fffff */
        __m128i bad = _mm_or_si128(_mm_cmplt_epi32(u, normal), _mm_cmpgt_epi32(u, maxnormal));
        if (_mm_movemask_epi8(bad)) {
            for (int j = 0; j < 4; j++)
                x[i + j] = tm_rt_frontend_log(x[i + j]);
            continue;
        }
        __m128i e = _mm_sub_epi32(_mm_srli_epi32(u, 23), bias);
        __m128 m = _mm_castsi128_ps(_mm_or_si128(_mm_and_si128(u, mant), expo1));
        __m128 big = _mm_cmpgt_ps(m, sqrt2);
        m = _mm_or_ps(_mm_and_ps(big, _mm_mul_ps(m, half)), _mm_andnot_ps(big, m));
        e = _mm_sub_epi32(e, _mm_castps_si128(big)); /* + 1 where big (mask is -1) */
        __m128 f = _mm_sub_ps(m, one);
        __m128 sv = _mm_div_ps(f, _mm_add_ps(two, f));
        __m128 s2 = _mm_mul_ps(sv, sv);
        __m128 poly = _mm_add_ps(
            c3, _mm_mul_ps(s2, _mm_add_ps(c5, _mm_mul_ps(s2, _mm_add_ps(c7, _mm_mul_ps(s2, c9))))));
        __m128 logm = _mm_add_ps(_mm_mul_ps(two, sv), _mm_mul_ps(_mm_mul_ps(_mm_mul_ps(two, sv), s2), poly));
        __m128 ef = _mm_cvtepi32_ps(e);
        _mm_storeu_ps(x + i, _mm_add_ps(_mm_mul_ps(ef, hi), _mm_add_ps(logm, _mm_mul_ps(ef, lo))));
    }
    for (; i < n; i++)
        x[i] = tm_rt_frontend_log(x[i]);
}
#endif

/* ---- configuration -------------------------------------------------------- */

static int tm_rt_fe_nfft(const tm_rt_frontend_config *c)
{
    if (c->n_fft != 0)
        return c->n_fft;
    int n = 1;
    while (n < c->window_length && n <= TM_RT_FFT_MAX_N)
        n <<= 1;
    return n;
}

static double tm_rt_hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double tm_rt_mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* Edge i of n_mels + 2 points equally spaced in mel from fmin to fmax; the
 * end points are fmin and fmax exactly. */
static double tm_rt_mel_edge(const tm_rt_frontend_config *c, int i)
{
    if (i == 0)
        return c->fmin;
    if (i == c->n_mels + 1)
        return c->fmax;
    double lo = tm_rt_hz_to_mel(c->fmin), hi = tm_rt_hz_to_mel(c->fmax);
    return tm_rt_mel_to_hz(lo + (hi - lo) * i / (c->n_mels + 1));
}

static double tm_rt_tri(double f, double lo, double mid, double hi)
{
    double up = (f - lo) / (mid - lo), down = (hi - f) / (hi - mid);
    double w = up < down ? up : down;
    return w > 0.0 ? w : 0.0;
}

/* Bins k with non-zero weight in band b: start .. start + len - 1 (len 0 when
 * the band falls between bins). edges holds edge b .. b+2. */
static void tm_rt_band_range(const tm_rt_frontend_config *c, int nfft, const double *edges,
                             int32_t *start, int32_t *len)
{
    double df = (double)c->sample_rate / nfft;
    int last = nfft / 2;
    int k0 = (int)floor(edges[0] / df), k1 = (int)ceil(edges[2] / df);
    if (k0 < 0)
        k0 = 0;
    if (k1 > last)
        k1 = last;
    *start = 0;
    *len = 0;
    for (int k = k0; k <= k1; k++) {
        if (tm_rt_tri(k * df, edges[0], edges[1], edges[2]) > 0.0) {
            if (*len == 0)
                *start = k;
            (*len)++;
        }
    }
}

typedef struct tm_rt_fe_layout {
    size_t window, fft, fft_bytes, mel_start, mel_len, mel_w, dct, frame, power, mel, total;
    int empty_band, edges_bad; /* from the band edges: a band holds no bin; edges coincide */
} tm_rt_fe_layout;

static int tm_rt_fe_carve(size_t *off, size_t count, size_t elem, size_t *at)
{
    size_t a = (*off + (TM_RT_FE_ALIGN - 1)) & ~(size_t)(TM_RT_FE_ALIGN - 1);
    if (a < *off || (elem && count > (SIZE_MAX - a) / elem))
        return 0;
    *at = a;
    *off = a + count * elem;
    return 1;
}

/* Region offsets for a config whose fields are already in range; 0 when the
 * sizes overflow size_t. The count of mel weights comes from the band edges
 * (setting L->empty_band and L->edges_bad), or with tables (the aligned
 * start of a workspace of avail bytes: tm_rt_frontend_ready) from the band
 * lengths init stored there, as the edges take log and pow in double
 * precision, in software on a Cortex-M4F; 0 when those lengths would lie
 * past the workspace. */
static int tm_rt_fe_plan_layout(const tm_rt_frontend_config *c, tm_rt_fe_layout *L,
                                const unsigned char *tables, size_t avail)
{
    int nfft = tm_rt_fe_nfft(c), M = c->n_mels;
    size_t weights = 0, off = 0;
    L->empty_band = 0;
    L->edges_bad = 0;
    L->fft_bytes = tm_rt_fft_plan_bytes(nfft);
    int ok = tm_rt_fe_carve(&off, (size_t)c->window_length, sizeof(float), &L->window) &&
             tm_rt_fe_carve(&off, L->fft_bytes, 1, &L->fft) &&
             tm_rt_fe_carve(&off, (size_t)M, sizeof(int32_t), &L->mel_start) &&
             tm_rt_fe_carve(&off, (size_t)M, sizeof(int32_t), &L->mel_len);
    if (!ok)
        return 0;
    if (tables) {
        /* lengths that are not init's give other offsets than fe's
         * pointers, or fail the tables' checksum */
        const int32_t *len = (const int32_t *)(const void *)(tables + L->mel_len);
        if (off + (TM_RT_FE_ALIGN - 1) > avail) /* off is small: init checked this config */
            return 0;
        for (int b = 0; b < M; b++)
            weights += (size_t)len[b];
    } else {
        double e[3];
        e[0] = tm_rt_mel_edge(c, 0);
        e[1] = tm_rt_mel_edge(c, 1);
        for (int b = 0; b < M; b++) {
            e[2] = tm_rt_mel_edge(c, b + 2);
            if (!(e[0] < e[1] && e[1] < e[2]))
                L->edges_bad = 1;
            int32_t start, len;
            tm_rt_band_range(c, nfft, e, &start, &len);
            if (len == 0)
                L->empty_band = 1;
            weights += (size_t)len;
            e[0] = e[1];
            e[1] = e[2];
        }
    }
    ok = tm_rt_fe_carve(&off, weights, sizeof(float), &L->mel_w);
    if (ok && (size_t)c->n_mfcc > SIZE_MAX / (size_t)M)
        ok = 0;
    ok = ok && tm_rt_fe_carve(&off, (size_t)c->n_mfcc * (size_t)M, sizeof(float), &L->dct) &&
         tm_rt_fe_carve(&off, (size_t)nfft, sizeof(float), &L->frame) &&
         tm_rt_fe_carve(&off, (size_t)nfft / 2 + 1, sizeof(float), &L->power) &&
         tm_rt_fe_carve(&off, (size_t)M, sizeof(float), &L->mel);
    if (!ok || off > SIZE_MAX - (TM_RT_FE_ALIGN - 1))
        return 0;
    L->total = off + (TM_RT_FE_ALIGN - 1);
    return 1;
}

const char *tm_rt_frontend_check(const tm_rt_frontend_config *c)
{
    if (!c)
        return TM_RT_MSG("config is NULL");
    if (c->sample_rate <= 0)
        return TM_RT_MSG("sample_rate must be positive");
    if (c->window_length < 2 || c->window_length > TM_RT_FFT_MAX_N)
        return TM_RT_MSG("window_length must be in 2..65536");
    if (c->hop_length <= 0)
        return TM_RT_MSG("hop_length must be positive");
    if (c->n_fft != 0 && !tm_rt_fft_size_ok(c->n_fft)) {
        if (c->n_fft > TM_RT_FFT_MAX_N)
            return TM_RT_MSG("n_fft exceeds 65536");
        return TM_RT_MSG("n_fft must be 0 (next power of two) or a power of two");
    }
    if (c->n_fft != 0 && c->n_fft < c->window_length)
        return TM_RT_MSG("n_fft is smaller than window_length");
    if (c->num_samples < c->window_length)
        return TM_RT_MSG("num_samples is shorter than window_length");
    if (c->n_mels <= 0)
        return TM_RT_MSG("n_mels must be positive");
    if (c->n_mfcc < 0 || c->n_mfcc > c->n_mels)
        return TM_RT_MSG("n_mfcc must be 0 (log-mel) or in 1..n_mels");
    if (!(c->fmin >= 0.0f) || !isfinite(c->fmin))
        return TM_RT_MSG("fmin must be finite and >= 0");
    if (!(c->fmax > c->fmin))
        return TM_RT_MSG("fmax must exceed fmin");
    if ((double)c->fmax > c->sample_rate / 2.0)
        return TM_RT_MSG("fmax exceeds sample_rate/2");
    if (c->window != TM_RT_WINDOW_HANN && c->window != TM_RT_WINDOW_HAMMING)
        return TM_RT_MSG("window must be TM_RT_WINDOW_HANN or TM_RT_WINDOW_HAMMING");
    if (!(c->log_floor > 0.0f) || !isfinite(c->log_floor))
        return TM_RT_MSG("log_floor must be finite and > 0");
    tm_rt_fe_layout L;
    if (!tm_rt_fe_plan_layout(c, &L, NULL, 0))
        return TM_RT_MSG("n_mels and n_mfcc need more workspace than size_t can address");
    if (L.edges_bad)
        return TM_RT_MSG("n_mels too large for fmin..fmax: mel band edges coincide");
    if (L.empty_band)
        return TM_RT_MSG("n_mels too large for n_fft: a mel band holds no FFT bin");
    size_t frames = 1 + (size_t)(c->num_samples - c->window_length) / (size_t)c->hop_length;
    size_t coefs = (size_t)tm_rt_frontend_coefs(c);
    if (frames > SIZE_MAX / coefs / sizeof(float))
        return TM_RT_MSG("num_samples gives an output too large to address");
    return NULL;
}

tm_rt_status tm_rt_frontend_validate(const tm_rt_frontend_config *c)
{
    return tm_rt_frontend_check(c) ? TM_RT_ERR_ARG : TM_RT_OK;
}

size_t tm_rt_frontend_frames(const tm_rt_frontend_config *c)
{
    if (tm_rt_frontend_check(c))
        return 0;
    return 1 + (size_t)(c->num_samples - c->window_length) / (size_t)c->hop_length;
}

size_t tm_rt_frontend_output_size(const tm_rt_frontend_config *c)
{
    size_t frames = tm_rt_frontend_frames(c);
    return frames ? frames * (size_t)tm_rt_frontend_coefs(c) : 0;
}

size_t tm_rt_frontend_workspace_bytes(const tm_rt_frontend_config *c)
{
    if (tm_rt_frontend_check(c))
        return 0;
    tm_rt_fe_layout L;
    if (!tm_rt_fe_plan_layout(c, &L, NULL, 0))
        return 0;
    return L.total;
}

/* ---- init ----------------------------------------------------------------- */

/* FNV-1a style over the table bytes [base, base + L.frame), four words per
 * step in independent lanes (cheap next to rebuilding the tables). */
static uint32_t tm_rt_fe_tables_sum(const unsigned char *base, size_t n)
{
    uint32_t h[4] = {2166136261u, 2166136261u, 2166136261u, 2166136261u}, w[4];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        memcpy(w, base + i, 16);
        for (int j = 0; j < 4; j++)
            h[j] = (h[j] ^ w[j]) * 16777619u;
    }
    for (; i + 4 <= n; i += 4) {
        memcpy(w, base + i, 4);
        h[0] = (h[0] ^ w[0]) * 16777619u;
    }
    return ((h[0] * 16777619u ^ h[1]) * 16777619u ^ h[2]) * 16777619u ^ h[3];
}

tm_rt_status tm_rt_frontend_init(tm_rt_frontend *fe, const tm_rt_frontend_config *c,
                                 void *workspace, size_t bytes)
{
    if (!fe || !workspace || tm_rt_frontend_check(c))
        return TM_RT_ERR_ARG;
    tm_rt_fe_layout L;
    if (!tm_rt_fe_plan_layout(c, &L, NULL, 0))
        return TM_RT_ERR_ARG;
    if (bytes < L.total)
        return TM_RT_ERR_BUFFER;
    memset(fe, 0, sizeof *fe);
    unsigned char *base = (unsigned char *)(((uintptr_t)workspace + (TM_RT_FE_ALIGN - 1)) &
                                            ~(uintptr_t)(TM_RT_FE_ALIGN - 1));
    int nfft = tm_rt_fe_nfft(c), W = c->window_length, M = c->n_mels;

    float *win = (float *)(base + L.window);
    double a0 = c->window == TM_RT_WINDOW_HANN ? 0.5 : 0.54;
    for (int i = 0; i < W; i++)
        win[i] = (float)(a0 - (1.0 - a0) * cos(2.0 * tm_rt_fe_pi * i / W));

    tm_rt_status st = tm_rt_fft_plan_init(&fe->fft, nfft, base + L.fft, L.fft_bytes);
    if (st != TM_RT_OK)
        return st;

    int32_t *mstart = (int32_t *)(base + L.mel_start);
    int32_t *mlen = (int32_t *)(base + L.mel_len);
    float *mw = (float *)(base + L.mel_w);
    double df = (double)c->sample_rate / nfft;
    double e[3];
    e[0] = tm_rt_mel_edge(c, 0);
    e[1] = tm_rt_mel_edge(c, 1);
    size_t off = 0;
    for (int b = 0; b < M; b++) {
        e[2] = tm_rt_mel_edge(c, b + 2);
        tm_rt_band_range(c, nfft, e, &mstart[b], &mlen[b]);
        for (int j = 0; j < mlen[b]; j++)
            mw[off + j] = (float)tm_rt_tri((mstart[b] + j) * df, e[0], e[1], e[2]);
        off += (size_t)mlen[b];
        e[0] = e[1];
        e[1] = e[2];
    }

    float *dct = NULL;
    if (c->n_mfcc > 0) {
        dct = (float *)(base + L.dct);
        for (int k = 0; k < c->n_mfcc; k++) {
            double scale = sqrt((k == 0 ? 1.0 : 2.0) / M);
            for (int m = 0; m < M; m++)
                dct[TM_RT_FE_DCT_AT(k, m, c->n_mfcc, M)] =
                    (float)(scale * cos(tm_rt_fe_pi * k * (2.0 * m + 1.0) / (2.0 * M)));
        }
    }

    fe->cfg = *c;
    fe->n_fft = nfft;
    fe->frames = (int)(1 + (c->num_samples - W) / c->hop_length);
    fe->n_coef = tm_rt_frontend_coefs(c);
    fe->window = win;
    fe->mel_start = mstart;
    fe->mel_len = mlen;
    fe->mel_weights = mw;
    fe->dct = dct;
    fe->frame = (float *)(base + L.frame);
    fe->power = (float *)(base + L.power);
    fe->mel = (float *)(base + L.mel);
    fe->tables_sum = tm_rt_fe_tables_sum(base, L.frame);
    fe->magic = TM_RT_FE_MAGIC;
    return TM_RT_OK;
}

int tm_rt_frontend_ready(const tm_rt_frontend *fe, const tm_rt_frontend_config *c,
                         const void *workspace, size_t bytes)
{
    /* init sets the magic only after checking this same config. */
    if (!fe || !c || !workspace || fe->magic != TM_RT_FE_MAGIC ||
        memcmp(&fe->cfg, c, sizeof *c) != 0)
        return 0;
    tm_rt_fe_layout L;
    const unsigned char *base =
        (const unsigned char *)(((uintptr_t)workspace + (TM_RT_FE_ALIGN - 1)) &
                                ~(uintptr_t)(TM_RT_FE_ALIGN - 1));
    if (!tm_rt_fe_plan_layout(c, &L, base, bytes) || bytes < L.total)
        return 0;
    if ((const unsigned char *)fe->window != base + L.window ||
        (const unsigned char *)fe->frame != base + L.frame ||
        (const unsigned char *)fe->mel != base + L.mel)
        return 0;
    return tm_rt_fe_tables_sum(base, L.frame) == fe->tables_sum;
}

/* ---- run ------------------------------------------------------------------ */

/* Exactly one of pf / pi is non-NULL. */
tm_rt_status tm_rt_frontend_run_pcm(const tm_rt_frontend *fe, const float *pf, const int16_t *pi,
                                    float *out)
{
    if (!fe || fe->magic != TM_RT_FE_MAGIC || !out || (!pf && !pi))
        return TM_RT_ERR_ARG;
    const tm_rt_frontend_config *c = &fe->cfg;
    int W = c->window_length, N = fe->n_fft, M = c->n_mels, T = fe->frames;
    int hop = c->hop_length, K = c->n_mfcc;
    float floor_ = c->log_floor;
    float *frame = fe->frame, *power = fe->power, *mel = fe->mel;
    const float *win = fe->window;
    for (int t = 0; t < T; t++) {
        size_t s0 = (size_t)t * (size_t)hop;
        if (pf) {
            for (int i = 0; i < W; i++)
                frame[i] = pf[s0 + i] * win[i];
        } else {
            for (int i = 0; i < W; i++)
                frame[i] = ((float)pi[s0 + i] * (1.0f / 32768.0f)) * win[i];
        }
        for (int i = W; i < N; i++)
            frame[i] = 0.0f;
        tm_rt_status st = tm_rt_fft_power(&fe->fft, frame, power);
        if (st != TM_RT_OK)
            return st;
        const float *w = fe->mel_weights;
        for (int b = 0; b < M; b++) {
            const float *p = power + fe->mel_start[b];
            int len = fe->mel_len[b];
            float acc = 0.0f;
            int j = 0;
#if (defined(__SSE2__) || defined(__ARM_NEON)) && !defined(__OPTIMIZE_SIZE__)
            /* unrolled, the sum in the same order (the same float bits); on
             * the Cortex-M4 it cost 10.9 K instructions a row more */
            for (; j + 4 <= len; j += 4) {
                acc += w[j] * p[j];
                acc += w[j + 1] * p[j + 1];
                acc += w[j + 2] * p[j + 2];
                acc += w[j + 3] * p[j + 3];
            }
#endif
            for (; j < len; j++)
                acc += w[j] * p[j];
            w += len;
            mel[b] = acc + floor_;
#if !defined(__SSE2__)
            mel[b] = tm_rt_frontend_log(mel[b]);
#endif
        }
#if defined(__SSE2__)
        tm_rt_fe_log_all(mel, M);
#endif
        if (K > 0) {
            int k = 0;
#if defined(__SSE2__)
            /* Up to sixteen coefficients a pass over the bands, four a
             * vector, each lane summed over the bands in the reference's
             * order: the same float operations. A last vector of 1 to 3
             * coefficients reads up to 3 floats past the table, into the
             * per-call buffers the layout puts after it (frame, power, mel:
             * at least 5 floats); those lanes are dropped. */
            for (; k < K; k += 16) {
                __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                float v[16];
                int nk = K - k < 16 ? K - k : 16;
                const float *d = fe->dct + TM_RT_FE_DCT_AT(k, 0, K, M);
#define TM_RT_FE_DCT_ADD(acc, j) acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(d + (j)), m))
                switch ((nk + 3) / 4) {
                case 4:
                    for (int b = 0; b < M; b++, d += TM_RT_FE_DCT_AT(0, 1, K, M)) {
                        __m128 m = _mm_set1_ps(mel[b]);
                        TM_RT_FE_DCT_ADD(a0, 0);
                        TM_RT_FE_DCT_ADD(a1, 4);
                        TM_RT_FE_DCT_ADD(a2, 8);
                        TM_RT_FE_DCT_ADD(a3, 12);
                    }
                    break;
                case 3:
                    for (int b = 0; b < M; b++, d += TM_RT_FE_DCT_AT(0, 1, K, M)) {
                        __m128 m = _mm_set1_ps(mel[b]);
                        TM_RT_FE_DCT_ADD(a0, 0);
                        TM_RT_FE_DCT_ADD(a1, 4);
                        TM_RT_FE_DCT_ADD(a2, 8);
                    }
                    break;
                case 2:
                    for (int b = 0; b < M; b++, d += TM_RT_FE_DCT_AT(0, 1, K, M)) {
                        __m128 m = _mm_set1_ps(mel[b]);
                        TM_RT_FE_DCT_ADD(a0, 0);
                        TM_RT_FE_DCT_ADD(a1, 4);
                    }
                    break;
                default:
                    for (int b = 0; b < M; b++, d += TM_RT_FE_DCT_AT(0, 1, K, M)) {
                        __m128 m = _mm_set1_ps(mel[b]);
                        TM_RT_FE_DCT_ADD(a0, 0);
                    }
                }
#undef TM_RT_FE_DCT_ADD
                _mm_storeu_ps(v, a0);
                _mm_storeu_ps(v + 4, a1);
                _mm_storeu_ps(v + 8, a2);
                _mm_storeu_ps(v + 12, a3);
                for (int i = 0; i < nk; i++)
                    out[(size_t)(k + i) * T + t] = v[i];
            }
#endif
            for (; k < K; k++) {
                float acc = 0.0f;
                for (int b = 0; b < M; b++)
                    acc += fe->dct[TM_RT_FE_DCT_AT(k, b, K, M)] * mel[b];
                out[(size_t)k * T + t] = acc;
            }
        } else {
            for (int b = 0; b < M; b++)
                out[(size_t)b * T + t] = mel[b];
        }
    }
    return TM_RT_OK;
}
