/* The runtime's real FFT and audio front end against FFTW3, a plain double
 * DFT, hand/numpy values and an independent double-precision C pipeline. */
#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tm_rt_fft.h"
#include "tm_rt_frontend.h"
#include "tm_test_util.h"

static const double PI = 3.14159265358979323846;

/* ---- FFT ------------------------------------------------------------------ */

static void plan_for(tm_rt_fft_plan *p, int n, void **buf)
{
    size_t bytes = tm_rt_fft_plan_bytes(n);
    ck_assert_uint_gt(bytes, 0);
    *buf = malloc(bytes);
    ck_assert_ptr_nonnull(*buf);
    ck_assert_int_eq(tm_rt_fft_plan_init(p, n, *buf, bytes), TM_RT_OK);
}

/* max |a - b| / max |b| over n/2+1 interleaved complex bins */
static double rel_err_c(const float *a, const double *b, int bins)
{
    double num = 0, den = 0;
    for (int k = 0; k < bins; k++) {
        double dr = a[2 * k] - b[2 * k], di = a[2 * k + 1] - b[2 * k + 1];
        double e = sqrt(dr * dr + di * di), m = hypot(b[2 * k], b[2 * k + 1]);
        num = e > num ? e : num;
        den = m > den ? m : den;
    }
    return num / den;
}

START_TEST(fft_matches_fftw_and_double_dft)
{
    tm_rng r;
    tm_rng_seed(&r, 11);
    for (int n = 2; n <= TM_RT_FFT_MAX_N; n *= 2) {
        int bins = n / 2 + 1;
        tm_rt_fft_plan plan;
        void *buf;
        plan_for(&plan, n, &buf);
        float *x = malloc(sizeof(float) * n), *work = malloc(sizeof(float) * n);
        float *out = malloc(sizeof(float) * 2 * bins);
        float *fin = fftwf_malloc(sizeof(float) * n);
        fftwf_complex *fout = fftwf_malloc(sizeof(fftwf_complex) * bins);
        double *ref = malloc(sizeof(double) * 2 * bins);
        fftwf_plan fp = fftwf_plan_dft_r2c_1d(n, fin, fout, FFTW_ESTIMATE);
        for (int rep = 0; rep < 3; rep++) {
            for (int i = 0; i < n; i++)
                x[i] = 2.0f * tm_rng_uniform(&r) - 1.0f;
            memcpy(work, x, sizeof(float) * n);
            ck_assert_int_eq(tm_rt_fft_forward(&plan, work, out), TM_RT_OK);

            memcpy(fin, x, sizeof(float) * n);
            fftwf_execute(fp);
            for (int k = 0; k < bins; k++) {
                ref[2 * k] = fout[k][0];
                ref[2 * k + 1] = fout[k][1];
            }
            double e_fftw = rel_err_c(out, ref, bins);
            ck_assert_msg(e_fftw < 6e-7, "n=%d: relative error %g against FFTW", n, e_fftw);

            if (n > 4096)
                continue;
            /* plain DFT in double, angles from an exact integer index */
            double *ct = malloc(sizeof(double) * n), *st = malloc(sizeof(double) * n);
            for (int j = 0; j < n; j++) {
                ct[j] = cos(2 * PI * j / n);
                st[j] = sin(2 * PI * j / n);
            }
            for (int k = 0; k < bins; k++) {
                double re = 0, im = 0;
                for (int j = 0; j < n; j++) {
                    int idx = (int)(((int64_t)j * k) % n);
                    re += x[j] * ct[idx];
                    im -= x[j] * st[idx];
                }
                ref[2 * k] = re;
                ref[2 * k + 1] = im;
            }
            free(ct);
            free(st);
            double e_dft = rel_err_c(out, ref, bins);
            ck_assert_msg(e_dft < 4e-7, "n=%d: relative error %g against a double DFT", n, e_dft);
            /* imaginary parts of DC and Nyquist are exactly 0 */
            ck_assert_float_eq(out[1], 0.0f);
            ck_assert_float_eq(out[2 * (bins - 1) + 1], 0.0f);
        }
        fftwf_destroy_plan(fp);
        fftwf_free(fin);
        fftwf_free(fout);
        free(x);
        free(work);
        free(out);
        free(ref);
        free(buf);
    }
}
END_TEST

START_TEST(fft_power_is_the_squared_magnitude)
{
    tm_rng r;
    tm_rng_seed(&r, 12);
    int n = 512, bins = n / 2 + 1;
    tm_rt_fft_plan plan;
    void *buf;
    plan_for(&plan, n, &buf);
    float x[512], w1[512], w2[512], out[2 * 257], pw[257];
    for (int i = 0; i < n; i++)
        x[i] = 2.0f * tm_rng_uniform(&r) - 1.0f;
    memcpy(w1, x, sizeof x);
    memcpy(w2, x, sizeof x);
    ck_assert_int_eq(tm_rt_fft_forward(&plan, w1, out), TM_RT_OK);
    ck_assert_int_eq(tm_rt_fft_power(&plan, w2, pw), TM_RT_OK);
    for (int k = 0; k < bins; k++) {
        float m = out[2 * k] * out[2 * k] + out[2 * k + 1] * out[2 * k + 1];
        ck_assert_msg(pw[k] == m, "bin %d: power %g, |X|^2 %g", k, pw[k], m);
    }
    free(buf);
}
END_TEST

START_TEST(fft_simd_gives_the_reference_bits)
{
    /* Every size, inputs of mixed scale with zeros, both outputs. */
    tm_rng r;
    tm_rng_seed(&r, 77);
    for (int n = 2; n <= TM_RT_FFT_MAX_N; n *= 2) {
        tm_rt_fft_plan plan;
        void *buf;
        plan_for(&plan, n, &buf);
        float *x = malloc(sizeof(float) * n * 4), *w1 = x + n, *w2 = x + 2 * n;
        float *o1 = malloc(sizeof(float) * (n + 2) * 2), *o2 = o1 + n + 2;
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(o1);
        for (int trial = 0; trial < 20; trial += n <= 4096 ? 1 : 5) { /* every scale group above 4096 */
            float scale = trial < 10 ? 1.0f : (float)ldexp(1.0, (trial - 10) * 12 - 60);
            for (int i = 0; i < n; i++)
                x[i] = (i + trial) % 7 == 0 ? 0.0f : scale * (2.0f * tm_rng_uniform(&r) - 1.0f);
            for (int power = 0; power < 2; power++) {
                memcpy(w1, x, sizeof(float) * n);
                memcpy(w2, x, sizeof(float) * n);
                int len = power ? n / 2 + 1 : n + 2;
                if (power) {
                    ck_assert_int_eq(tm_rt_fft_power(&plan, w1, o1), TM_RT_OK);
                    ck_assert_int_eq(tm_rt_fft_power_ref(&plan, w2, o2), TM_RT_OK);
                } else {
                    ck_assert_int_eq(tm_rt_fft_forward(&plan, w1, o1), TM_RT_OK);
                    ck_assert_int_eq(tm_rt_fft_forward_ref(&plan, w2, o2), TM_RT_OK);
                }
                ck_assert_msg(memcmp(o1, o2, sizeof(float) * len) == 0,
                              "n=%d trial %d %s: not the reference's bits", n, trial,
                              power ? "power" : "forward");
            }
        }
        free(x);
        free(o1);
        free(buf);
    }
}
END_TEST

START_TEST(fft_pure_tone_peaks_at_its_bin)
{
    int n = 1024, bins = n / 2 + 1;
    tm_rt_fft_plan plan;
    void *buf;
    plan_for(&plan, n, &buf);
    float x[1024], pw[513];
    const double freqs[3] = {37.0, 100.3, 511.0};
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < n; i++)
            x[i] = (float)(0.8 * sin(2 * PI * freqs[f] * i / n + 0.3));
        ck_assert_int_eq(tm_rt_fft_power(&plan, x, pw), TM_RT_OK);
        int best = 0;
        for (int k = 1; k < bins; k++)
            if (pw[k] > pw[best])
                best = k;
        ck_assert_int_eq(best, (int)floor(freqs[f] + 0.5));
        if (freqs[f] == 37.0) {
            /* an on-bin sine of amplitude A has |X| = A n / 2 and no leakage */
            double expect = 0.8 * n / 2;
            ck_assert_double_lt(fabs(sqrt(pw[37]) - expect) / expect, 1e-5);
            for (int k = 0; k < bins; k++)
                if (k != 37)
                    ck_assert_double_lt(pw[k], 1e-7 * pw[37]);
        }
    }
    free(buf);
}
END_TEST

START_TEST(fft_rejects_bad_sizes_and_small_buffers)
{
    const int bad[] = {0, 1, 3, 6, 100, -8, 131072};
    char buf[64];
    tm_rt_fft_plan p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_uint_eq(tm_rt_fft_plan_bytes(bad[i]), 0);
        ck_assert_int_eq(tm_rt_fft_plan_init(&p, bad[i], buf, sizeof buf), TM_RT_ERR_ARG);
    }
    size_t need = tm_rt_fft_plan_bytes(8);
    ck_assert_uint_le(need, sizeof buf);
    ck_assert_int_eq(tm_rt_fft_plan_init(&p, 8, buf, need - 1), TM_RT_ERR_BUFFER);
    ck_assert_int_eq(tm_rt_fft_plan_init(&p, 8, NULL, need), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_fft_plan_init(NULL, 8, buf, need), TM_RT_ERR_ARG);
    /* any alignment works and gives the same bits */
    static unsigned char big[4096 + 64];
    tm_rt_fft_plan a, b;
    ck_assert_int_eq(tm_rt_fft_plan_init(&a, 256, big, tm_rt_fft_plan_bytes(256)), TM_RT_OK);
    ck_assert_int_eq(tm_rt_fft_plan_init(&b, 256, big + 2048 + 3, tm_rt_fft_plan_bytes(256)),
                     TM_RT_OK);
    float x1[256], x2[256], o1[258], o2[258];
    for (int i = 0; i < 256; i++)
        x1[i] = x2[i] = (float)sin(0.37 * i * i);
    tm_rt_fft_forward(&a, x1, o1);
    tm_rt_fft_forward(&b, x2, o2);
    ck_assert_int_eq(memcmp(o1, o2, sizeof o1), 0);
    ck_assert_int_eq(tm_rt_fft_forward(&a, x1, NULL), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_fft_power(NULL, x1, o1), TM_RT_ERR_ARG);
}
END_TEST

/* ---- front end helpers ---------------------------------------------------- */

/* The engineering guide's reference audio input: 1 s at 8 kHz, 13 MFCC x 61 frames. */
static tm_rt_frontend_config ref_config(void)
{
    tm_rt_frontend_config c;
    memset(&c, 0, sizeof c);
    c.sample_rate = 8000;
    c.window_length = 256;
    c.hop_length = 128;
    c.n_fft = 256;
    c.n_mels = 40;
    c.n_mfcc = 13;
    c.fmin = 20.0f;
    c.fmax = 4000.0f;
    c.window = TM_RT_WINDOW_HANN;
    c.log_floor = 1e-6f;
    c.num_samples = 8000;
    return c;
}

/* Initialises fe; the caller frees the returned workspace. */
static void *make_fe(tm_rt_frontend *fe, const tm_rt_frontend_config *c)
{
    const char *why = tm_rt_frontend_check(c);
    ck_assert_msg(why == NULL, "config rejected: %s", why ? why : "");
    size_t bytes = tm_rt_frontend_workspace_bytes(c);
    ck_assert_uint_gt(bytes, 0);
    void *ws = malloc(bytes);
    ck_assert_ptr_nonnull(ws);
    ck_assert_int_eq(tm_rt_frontend_init(fe, c, ws, bytes), TM_RT_OK);
    return ws;
}

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* n_mels + 2 edge frequencies, as docs/frontend.md defines them */
static void mel_edges(const tm_rt_frontend_config *c, double *e)
{
    double lo = hz_to_mel(c->fmin), hi = hz_to_mel(c->fmax);
    for (int i = 0; i < c->n_mels + 2; i++)
        e[i] = mel_to_hz(lo + (hi - lo) * i / (c->n_mels + 1));
    e[0] = c->fmin;
    e[c->n_mels + 1] = c->fmax;
}

/* Dense weight of band b at bin k, read from the front end's sparse table. */
static float fe_weight(const tm_rt_frontend *fe, int b, int k)
{
    size_t off = 0;
    for (int i = 0; i < b; i++)
        off += (size_t)fe->mel_len[i];
    int j = k - fe->mel_start[b];
    return j >= 0 && j < fe->mel_len[b] ? fe->mel_weights[off + (size_t)j] : 0.0f;
}

/* Deterministic test signal: three sines plus a broadband chirp. */
static void test_signal(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * PI * 440 * i / 8000) + 0.3 * sin(2 * PI * 1234.5 * i / 8000) +
                       0.1 * sin(2 * PI * 3000 * i / 8000 + 0.7) + 0.05 * sin(0.01 * i * i));
}

/* Straightforward double pipeline (direct DFT, dense triangles, log, DCT
 * by definition), written independently of the runtime. out[c * T + t]. */
static void reference_frontend(const tm_rt_frontend_config *c, const float *x, double *out)
{
    int W = c->window_length, N = c->n_fft, M = c->n_mels, K = c->n_mfcc, bins = N / 2 + 1;
    int T = 1 + (c->num_samples - W) / c->hop_length;
    double *e = malloc(sizeof(double) * (M + 2)), *frame = malloc(sizeof(double) * W);
    double *pw = malloc(sizeof(double) * bins), *lm = malloc(sizeof(double) * M);
    mel_edges(c, e);
    double a0 = c->window == TM_RT_WINDOW_HANN ? 0.5 : 0.54;
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < W; i++)
            frame[i] = x[t * c->hop_length + i] * (a0 - (1 - a0) * cos(2 * PI * i / W));
        for (int k = 0; k < bins; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < W; i++) {
                double ang = 2 * PI * (double)(((int64_t)i * k) % N) / N;
                re += frame[i] * cos(ang);
                im -= frame[i] * sin(ang);
            }
            pw[k] = re * re + im * im;
        }
        for (int b = 0; b < M; b++) {
            double s = 0;
            for (int k = 0; k < bins; k++) {
                double f = (double)k * c->sample_rate / N;
                double w = fmin((f - e[b]) / (e[b + 1] - e[b]), (e[b + 2] - f) / (e[b + 2] - e[b + 1]));
                if (w > 0)
                    s += w * pw[k];
            }
            lm[b] = log(s + c->log_floor);
        }
        if (K == 0) {
            for (int b = 0; b < M; b++)
                out[b * T + t] = lm[b];
        } else {
            for (int k = 0; k < K; k++) {
                double s = 0;
                for (int m = 0; m < M; m++)
                    s += lm[m] * cos(PI * k * (2 * m + 1) / (2.0 * M));
                out[k * T + t] = s * sqrt((k == 0 ? 1.0 : 2.0) / M);
            }
        }
    }
    free(e);
    free(frame);
    free(pw);
    free(lm);
}

/* ---- front end ------------------------------------------------------------ */

START_TEST(frame_count_follows_the_rule)
{
    tm_rt_frontend_config c = ref_config();
    ck_assert_uint_eq(tm_rt_frontend_frames(&c), 61);
    ck_assert_uint_eq(tm_rt_frontend_output_size(&c), 13 * 61);
    c.n_mfcc = 0;
    ck_assert_uint_eq(tm_rt_frontend_output_size(&c), 40 * 61);
    c.num_samples = 256;
    ck_assert_uint_eq(tm_rt_frontend_frames(&c), 1);
    c.num_samples = 383; /* one sample short of a second frame */
    ck_assert_uint_eq(tm_rt_frontend_frames(&c), 1);
    c.num_samples = 384;
    ck_assert_uint_eq(tm_rt_frontend_frames(&c), 2);
    c.num_samples = 8000;
    c.window_length = 200;
    c.hop_length = 80;
    c.n_fft = 0;
    ck_assert_uint_eq(tm_rt_frontend_frames(&c), 1 + (8000 - 200) / 80);
    tm_rt_frontend fe;
    void *ws = make_fe(&fe, &c);
    ck_assert_int_eq(fe.n_fft, 256);
    ck_assert_int_eq(fe.frames, 98);
    ck_assert_int_eq(fe.n_coef, 40);
    free(ws);
}
END_TEST

START_TEST(mel_filters_are_htk_triangles_covering_fmin_to_fmax)
{
    tm_rt_frontend_config cs[3];
    cs[0] = ref_config();
    cs[1] = ref_config();
    cs[1].n_fft = 512;
    cs[1].fmin = 0.0f;
    cs[1].n_mels = 64;
    cs[2] = ref_config();
    cs[2].n_fft = 4096;
    cs[2].n_mels = 10;
    cs[2].fmin = 300.0f;
    cs[2].fmax = 3400.0f;
    cs[2].n_mfcc = 10;
    for (int ci = 0; ci < 3; ci++) {
        const tm_rt_frontend_config *c = &cs[ci];
        tm_rt_frontend fe;
        void *ws = make_fe(&fe, c);
        int M = c->n_mels, N = c->n_fft, bins = N / 2 + 1;
        double df = (double)c->sample_rate / N;
        double e[128];
        mel_edges(c, e);
        for (int b = 0; b < M; b++) {
            double lo = e[b], mid = e[b + 1], hi = e[b + 2];
            int best = -1;
            float bestw = 0;
            for (int k = 0; k < bins; k++) {
                double f = k * df;
                double w = fmax(0.0, fmin((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
                float got = fe_weight(&fe, b, k);
                ck_assert_msg(fabs(got - w) < 1e-6, "config %d band %d bin %d: %g, expected %g",
                              ci, b, k, got, w);
                ck_assert_float_le(got, 1.0f);
                if (got > bestw) {
                    bestw = got;
                    best = k;
                }
            }
            /* the peak sits on a bin flanking the centre and is at least the
             * nearest bin's value, within half a bin of the centre */
            ck_assert_int_ge(best, 0);
            ck_assert_double_lt(fabs(best * df - mid), df);
            double bound = 1.0 - (df / 2) / fmin(mid - lo, hi - mid);
            ck_assert_double_ge(bestw, bound - 1e-6);
            for (int j = 0; j < fe.mel_len[b]; j++)
                ck_assert_float_gt(fe_weight(&fe, b, fe.mel_start[b] + j), 0.0f);
        }
        for (int k = 0; k < bins; k++) {
            double f = k * df, total = 0;
            for (int b = 0; b < M; b++)
                total += fe_weight(&fe, b, k);
            if (f <= c->fmin || f >= c->fmax)
                ck_assert_msg(total == 0.0, "config %d bin %d (%g Hz) outside fmin..fmax", ci, k, f);
            else
                ck_assert_msg(total > 0.0, "config %d bin %d (%g Hz) not covered", ci, k, f);
            /* without area normalisation neighbouring triangles sum to 1 */
            if (f >= e[1] && f <= e[M])
                ck_assert_msg(fabs(total - 1.0) < 1e-6, "config %d bin %d: weights sum to %g", ci,
                              k, total);
        }
        free(ws);
    }
}
END_TEST

START_TEST(mel_filter_is_one_at_its_centre)
{
    /* one band whose centre is 1000 Hz, exactly FFT bin 1 at 8 kHz / 8 */
    tm_rt_frontend_config c = ref_config();
    c.window_length = 8;
    c.hop_length = 8;
    c.n_fft = 8;
    c.n_mels = 1;
    c.n_mfcc = 0;
    c.fmin = 0.0f;
    c.fmax = (float)mel_to_hz(2 * hz_to_mel(1000.0));
    tm_rt_frontend fe;
    void *ws = make_fe(&fe, &c);
    ck_assert_int_eq(fe.mel_start[0], 1);
    ck_assert_int_ge(fe.mel_len[0], 1);
    ck_assert_float_eq_tol(fe.mel_weights[0], 1.0f, 1e-6f);
    free(ws);
}
END_TEST

/* Expected values: float64 numpy (np.fft.rfft, dense triangles, np.log, DCT-II
 * ortho via Makhoul's FFT method, independent of the cosine-matrix formula). */
static const float tiny_x[16] = {0.25f,        0.21371672f,  0.6165049f,   0.5837526f,
                                 -0.37452057f, -0.059526697f, -0.622617f,  -0.42461172f,
                                 0.29291436f,  0.08430437f,  0.37649605f,  0.4071678f,
                                 -0.33811384f, -0.12415509f, -0.40284553f, -0.65520775f};

START_TEST(tiny_config_matches_hand_values)
{
    /* 8 kHz, n_fft 8 (bins 0, 1000, .., 4000 Hz), 2 mels over 0..4000 Hz:
     * mel(4000) = 2146.06, so the centres are mel 715.35 -> 620.6 Hz and
     * mel 1430.7 -> 1791.3 Hz; band 0 at 1000 Hz is (1791.3 - 1000) /
     * (1791.3 - 620.6) = 0.67592 and band 1 is 1 - that. */
    tm_rt_frontend_config c = ref_config();
    c.window_length = 8;
    c.hop_length = 4;
    c.n_fft = 8;
    c.n_mels = 2;
    c.n_mfcc = 0;
    c.fmin = 0.0f;
    c.num_samples = 16;
    const double fb[2][5] = {{0, 0.6759170157, 0, 0, 0},
                             {0, 0.3240829843, 0.9055223144, 0.4527611572, 0}};
    const double logmel[2][3] = {{-0.2479203687, -0.7012673117, -0.8521883852},
                                 {-0.0731464332, -0.4239356084, -0.5903552818}};
    const double mfcc[2][3] = {{-0.2270285128, -0.795638615, -1.0200324091},
                               {-0.123583835, -0.1961031281, -0.1851439629}};
    const double mfcc_hamming[2][3] = {{-0.0846877174, -0.6526102755, -0.8676053822},
                                       {-0.0485099782, -0.1253972464, -0.099067934}};
    tm_rt_frontend fe;
    void *ws = make_fe(&fe, &c);
    ck_assert_int_eq(fe.frames, 3);
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 5; k++)
            ck_assert_double_lt(fabs(fe_weight(&fe, b, k) - fb[b][k]), 1e-6);
    float out[6];
    ck_assert_int_eq(tm_rt_frontend_run(&fe, tiny_x, out), TM_RT_OK);
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 3; t++)
            ck_assert_double_lt(fabs(out[b * 3 + t] - logmel[b][t]), 1e-6);
    free(ws);

    c.n_mfcc = 2;
    ws = make_fe(&fe, &c);
    ck_assert_int_eq(tm_rt_frontend_run(&fe, tiny_x, out), TM_RT_OK);
    for (int k = 0; k < 2; k++)
        for (int t = 0; t < 3; t++)
            ck_assert_double_lt(fabs(out[k * 3 + t] - mfcc[k][t]), 1e-6);
    free(ws);

    c.window = TM_RT_WINDOW_HAMMING;
    ws = make_fe(&fe, &c);
    ck_assert_int_eq(tm_rt_frontend_run(&fe, tiny_x, out), TM_RT_OK);
    for (int k = 0; k < 2; k++)
        for (int t = 0; t < 3; t++)
            ck_assert_double_lt(fabs(out[k * 3 + t] - mfcc_hamming[k][t]), 1e-6);
    free(ws);
}
END_TEST

START_TEST(mfcc_matches_numpy_and_a_double_pipeline)
{
    tm_rt_frontend_config c = ref_config();
    /* numpy float64 values for frames 0, 30 and 60 of test_signal */
    const double np_frames[3][13] = {
        {-14.2852032994, -18.034547147, -8.0057655302, -9.1897906065, -7.0352497499,
         -10.819538616, -7.6443704342, 7.4464343473, 9.7725023356, 5.8429143105, 0.2738795768,
         2.4548619293, -2.5010005394},
        {-8.49389737, -11.9046414708, -4.9523730084, -5.861838745, -4.6545652913,
         -8.2098520791, -6.1466996548, 6.8450230294, 8.1947354824, 4.8373233145,
         -0.2324111235, 1.8322022788, -2.8821924187},
        {-0.0779088234, 2.940694905, -4.2276661141, -0.1212485148, -2.7902411308,
         -2.8231096883, -5.9799825915, 6.1901194033, 3.0221875106, 3.7056332372,
         -2.5301814883, 1.8836391791, -2.5463539411}};
    const int np_t[3] = {0, 30, 60};
    float *x = malloc(sizeof(float) * 8000);
    test_signal(x, 8000);
    tm_rt_frontend fe;
    void *ws = make_fe(&fe, &c);
    float out[13 * 61];
    ck_assert_int_eq(tm_rt_frontend_run(&fe, x, out), TM_RT_OK);
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < 13; k++) {
            double got = out[k * 61 + np_t[f]], want = np_frames[f][k];
            ck_assert_msg(fabs(got - want) < 1e-3, "frame %d coef %d: %.7f, numpy %.7f", np_t[f],
                          k, got, want);
        }
    double *ref = malloc(sizeof(double) * 13 * 61);
    reference_frontend(&c, x, ref);
    double worst = 0;
    for (int i = 0; i < 13 * 61; i++)
        worst = fmax(worst, fabs(out[i] - ref[i]));
    ck_assert_msg(worst < 1e-3, "MFCC differ from the double pipeline by %g", worst);
    free(ws);

    /* log-mel output, and a Hamming window with an automatic n_fft */
    c.n_mfcc = 0;
    c.window = TM_RT_WINDOW_HAMMING;
    c.window_length = 200;
    c.n_fft = 0;
    ws = make_fe(&fe, &c);
    int T = fe.frames;
    float *lm = malloc(sizeof(float) * 40 * T);
    double *lref = malloc(sizeof(double) * 40 * T);
    ck_assert_int_eq(tm_rt_frontend_run(&fe, x, lm), TM_RT_OK);
    c.n_fft = 256;
    reference_frontend(&c, x, lref);
    worst = 0;
    for (int i = 0; i < 40 * T; i++)
        worst = fmax(worst, fabs(lm[i] - lref[i]));
    ck_assert_msg(worst < 2e-4, "log-mel differs from the double pipeline by %g", worst);
    free(ws);
    free(lm);
    free(lref);
    free(ref);
    free(x);
}
END_TEST

START_TEST(tone_lands_in_the_nearest_mel_band)
{
    tm_rt_frontend_config c = ref_config();
    c.n_mfcc = 0;
    tm_rt_frontend fe;
    void *ws = make_fe(&fe, &c);
    double e[42];
    mel_edges(&c, e);
    float *x = malloc(sizeof(float) * 8000);
    float *out = malloc(sizeof(float) * 40 * 61);
    const double tones[3] = {250.0, 1000.0, 2718.0};
    for (int ti = 0; ti < 3; ti++) {
        for (int i = 0; i < 8000; i++)
            x[i] = (float)(0.5 * sin(2 * PI * tones[ti] * i / 8000));
        ck_assert_int_eq(tm_rt_frontend_run(&fe, x, out), TM_RT_OK);
        int nearest = 0;
        for (int b = 1; b < 40; b++)
            if (fabs(e[b + 1] - tones[ti]) < fabs(e[nearest + 1] - tones[ti]))
                nearest = b;
        for (int t = 0; t < 61; t += 20) {
            int best = 0;
            for (int b = 1; b < 40; b++)
                if (out[b * 61 + t] > out[best * 61 + t])
                    best = b;
            ck_assert_msg(best == nearest, "%g Hz frame %d: band %d, nearest centre band %d",
                          tones[ti], t, best, nearest);
        }
    }
    free(x);
    free(out);
    free(ws);
}
END_TEST

START_TEST(int16_input_equals_scaled_float_bit_for_bit)
{
    tm_rt_frontend_config c = ref_config();
    tm_rng r;
    tm_rng_seed(&r, 5);
    int16_t *s = malloc(sizeof(int16_t) * 8000);
    float *x = malloc(sizeof(float) * 8000);
    for (int i = 0; i < 8000; i++) {
        s[i] = (int16_t)((int)tm_rng_below(&r, 65536) - 32768);
        if (i == 100)
            s[i] = -32768;
        if (i == 101)
            s[i] = 32767;
        x[i] = s[i] / 32768.0f;
    }
    tm_rt_frontend fe;
    void *ws = make_fe(&fe, &c);
    float a[13 * 61], b[13 * 61];
    ck_assert_int_eq(tm_rt_frontend_run_i16(&fe, s, a), TM_RT_OK);
    ck_assert_int_eq(tm_rt_frontend_run(&fe, x, b), TM_RT_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    for (int i = 0; i < 13 * 61; i++)
        ck_assert(isfinite(a[i]));
    free(ws);
    free(s);
    free(x);
}
END_TEST

START_TEST(workspace_size_and_alignment)
{
    tm_rt_frontend_config c = ref_config();
    size_t bytes = tm_rt_frontend_workspace_bytes(&c);
    ck_assert_uint_gt(bytes, 0);
    unsigned char *raw = malloc(bytes + 64);
    tm_rt_frontend fe;
    ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, raw, bytes - 1), TM_RT_ERR_BUFFER);
    ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, raw, 0), TM_RT_ERR_BUFFER);
    ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, NULL, bytes), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_frontend_init(NULL, &c, raw, bytes), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_frontend_init(&fe, NULL, raw, bytes), TM_RT_ERR_ARG);

    float *x = malloc(sizeof(float) * 8000);
    test_signal(x, 8000);
    float first[13 * 61], out[13 * 61];
    for (int shift = 0; shift < 16; shift++) {
        memset(raw, 0xA5, bytes + 64);
        ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, raw + shift, bytes), TM_RT_OK);
        ck_assert_int_eq(tm_rt_frontend_run(&fe, x, out), TM_RT_OK);
        if (shift == 0)
            memcpy(first, out, sizeof out);
        else
            ck_assert_int_eq(memcmp(first, out, sizeof out), 0);
    }
    /* a second run on the same object gives the same bits (scratch is rewritten) */
    ck_assert_int_eq(tm_rt_frontend_run(&fe, x, out), TM_RT_OK);
    ck_assert_int_eq(memcmp(first, out, sizeof out), 0);

    ck_assert_int_eq(tm_rt_frontend_run(&fe, NULL, out), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_frontend_run(&fe, x, NULL), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_frontend_run_i16(&fe, NULL, out), TM_RT_ERR_ARG);
    tm_rt_frontend blank;
    memset(&blank, 0, sizeof blank);
    ck_assert_int_eq(tm_rt_frontend_run(&blank, x, out), TM_RT_ERR_ARG);
    free(raw);
    free(x);
}
END_TEST

typedef struct bad_case {
    const char *what;
    void (*mutate)(tm_rt_frontend_config *c);
} bad_case;

#define BAD(name, stmt, msg)                                                             \
    static void bad_##name(tm_rt_frontend_config *c) { stmt; }
#define BAD_LIST(X)                                                                      \
    X(sr0, c->sample_rate = 0, "sample_rate must be positive")                           \
    X(win1, c->window_length = 1, "window_length")                                       \
    X(winbig, (c->window_length = 70000, c->n_fft = 0, c->num_samples = 80000), "window_length") \
    X(hop0, c->hop_length = 0, "hop_length")                                             \
    X(nfft300, c->n_fft = 300, "n_fft must be 0")                                        \
    X(nfftneg, c->n_fft = -256, "n_fft must be 0")                                       \
    X(nfftsmall, c->n_fft = 128, "n_fft is smaller than window_length")                  \
    X(nfftbig, c->n_fft = 131072, "n_fft exceeds")                                       \
    X(short_input, c->num_samples = 255, "num_samples is shorter than window_length")    \
    X(mels0, c->n_mels = 0, "n_mels must be positive")                                   \
    X(mfccneg, c->n_mfcc = -1, "n_mfcc")                                                 \
    X(mfccbig, c->n_mfcc = 41, "n_mfcc")                                                 \
    X(fminneg, c->fmin = -1.0f, "fmin")                                                  \
    X(fminnan, c->fmin = NAN, "fmin")                                                    \
    X(fmaxlow, c->fmax = 20.0f, "fmax must exceed fmin")                                 \
    X(fmaxnan, c->fmax = NAN, "fmax must exceed fmin")                                   \
    X(fmaxnyq, c->fmax = 4000.5f, "fmax exceeds sample_rate/2")                          \
    X(window, c->window = 7, "window must be")                                           \
    X(floor0, c->log_floor = 0.0f, "log_floor")                                          \
    X(floorinf, c->log_floor = INFINITY, "log_floor")                                    \
    X(floornan, c->log_floor = NAN, "log_floor")                                         \
    X(manymels, c->n_mels = 120, "n_mels too large for n_fft")
BAD_LIST(BAD)
#define BAD_ENTRY(name, stmt, msg) {msg, bad_##name},
static const bad_case bad_cases[] = {BAD_LIST(BAD_ENTRY)};

START_TEST(invalid_configs_name_the_field)
{
    tm_rt_frontend_config good = ref_config();
    ck_assert_ptr_null(tm_rt_frontend_check(&good));
    ck_assert_int_eq(tm_rt_frontend_validate(&good), TM_RT_OK);
    ck_assert_str_eq(tm_rt_frontend_check(NULL), "config is NULL");
    ck_assert_int_eq(tm_rt_frontend_validate(NULL), TM_RT_ERR_ARG);
    ck_assert_uint_eq(tm_rt_frontend_output_size(NULL), 0);
    static unsigned char ws[1 << 16];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        tm_rt_frontend_config c = ref_config();
        bad_cases[i].mutate(&c);
        const char *why = tm_rt_frontend_check(&c);
        ck_assert_msg(why && strstr(why, bad_cases[i].what), "case %zu: got \"%s\", want \"%s\"",
                      i, why ? why : "(null)", bad_cases[i].what);
        ck_assert_int_eq(tm_rt_frontend_validate(&c), TM_RT_ERR_ARG);
        ck_assert_uint_eq(tm_rt_frontend_frames(&c), 0);
        ck_assert_uint_eq(tm_rt_frontend_output_size(&c), 0);
        ck_assert_uint_eq(tm_rt_frontend_workspace_bytes(&c), 0);
        tm_rt_frontend fe;
        ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, ws, sizeof ws), TM_RT_ERR_ARG);
    }
    /* fmax at exactly sample_rate/2 and fmin 0 are fine */
    good.fmin = 0.0f;
    good.fmax = 4000.0f;
    ck_assert_ptr_null(tm_rt_frontend_check(&good));
}
END_TEST

START_TEST(log_is_accurate_and_handles_special_values)
{
    ck_assert_float_eq(tm_rt_frontend_log(1.0f), 0.0f);
    ck_assert(isinf(tm_rt_frontend_log(0.0f)) && tm_rt_frontend_log(0.0f) < 0);
    ck_assert(isnan(tm_rt_frontend_log(-1.0f)));
    ck_assert(isnan(tm_rt_frontend_log(NAN)));
    ck_assert(isinf(tm_rt_frontend_log(INFINITY)));
    double worst = 0;
    /* a geometric sweep over normals and subnormals, plus the region near 1 */
    for (double x = 1e-44; x < 3e38; x *= 1.0000137) {
        float xf = (float)x;
        double want = log((double)xf), got = tm_rt_frontend_log(xf);
        double err = fabs(got - want) / fmax(fabs(want), 1e-30);
        worst = fmax(worst, err);
    }
    for (int i = -100000; i <= 100000; i++) {
        float xf = 1.0f + i * 1e-6f;
        double want = log((double)xf), got = tm_rt_frontend_log(xf);
        if (want != 0)
            worst = fmax(worst, fabs(got - want) / fabs(want));
        else
            ck_assert_double_eq(got, 0.0);
    }
    ck_assert_msg(worst < 3e-7, "worst relative error %g", worst);
}
END_TEST

/* tm_rt_frontend_ready (what lets tm_rt_model_set_audio skip rebuilding the
 * tables): yes for the same config at the same address with unchanged
 * tables, no after a table byte changes, for another config, or for a copy
 * at another address; the output after a skipped init is bit-identical. */
START_TEST(ready_only_for_the_same_unchanged_tables)
{
    tm_rt_frontend_config c = ref_config();
    size_t n = tm_rt_frontend_workspace_bytes(&c);
    unsigned char *ws = calloc(1, n), *ws2 = calloc(1, n);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(ws2);
    tm_rt_frontend fe, moved;
    memset(&fe, 0, sizeof fe);
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n), 0);
    ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, ws, n), TM_RT_OK);
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n), 1);
    size_t out_n = tm_rt_frontend_output_size(&c);
    float *pcm = malloc(sizeof(float) * 8000), *a = malloc(sizeof(float) * out_n),
          *b = malloc(sizeof(float) * out_n);
    ck_assert_ptr_nonnull(pcm);
    for (int i = 0; i < 8000; i++)
        pcm[i] = (float)sin(0.01 * i) * 0.3f;
    ck_assert_int_eq(tm_rt_frontend_run(&fe, pcm, a), TM_RT_OK);
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n), 1); /* run leaves them */
    ck_assert_int_eq(tm_rt_frontend_run(&fe, pcm, b), TM_RT_OK);
    ck_assert_mem_eq(a, b, sizeof(float) * out_n);

    tm_rt_frontend_config other = c;
    other.n_mfcc = 12;
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &other, ws, n), 0);
    memcpy(ws2, ws, n);
    moved = fe;
    ck_assert_int_eq(tm_rt_frontend_ready(&moved, &c, ws2, n), 0);
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n - 64), 0);
    /* a changed table byte (the window is the first table) */
    float *win = (float *)(void *)fe.window;
    float keep = win[3];
    win[3] += 1.0f;
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n), 0);
    win[3] = keep;
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n), 1);
    unsigned char *dct = (unsigned char *)(void *)fe.dct;
    dct[5] ^= 1;
    ck_assert_int_eq(tm_rt_frontend_ready(&fe, &c, ws, n), 0);
    free(pcm);
    free(a);
    free(b);
    free(ws);
    free(ws2);
}
END_TEST

Suite *frontend_suite(void)
{
    Suite *s = suite_create("frontend");
    TCase *tc = tcase_create("frontend");
    tcase_add_test(tc, fft_matches_fftw_and_double_dft);
    tcase_add_test(tc, fft_power_is_the_squared_magnitude);
    tcase_add_test(tc, fft_simd_gives_the_reference_bits);
    tcase_add_test(tc, fft_pure_tone_peaks_at_its_bin);
    tcase_add_test(tc, fft_rejects_bad_sizes_and_small_buffers);
    tcase_add_test(tc, frame_count_follows_the_rule);
    tcase_add_test(tc, mel_filters_are_htk_triangles_covering_fmin_to_fmax);
    tcase_add_test(tc, mel_filter_is_one_at_its_centre);
    tcase_add_test(tc, tiny_config_matches_hand_values);
    tcase_add_test(tc, mfcc_matches_numpy_and_a_double_pipeline);
    tcase_add_test(tc, tone_lands_in_the_nearest_mel_band);
    tcase_add_test(tc, int16_input_equals_scaled_float_bit_for_bit);
    tcase_add_test(tc, workspace_size_and_alignment);
    tcase_add_test(tc, invalid_configs_name_the_field);
    tcase_add_test(tc, log_is_accurate_and_handles_special_values);
    tcase_add_test(tc, ready_only_for_the_same_unchanged_tables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tm_test_run(frontend_suite()); }
