/* Bit-exactness of the dispatched kernels (the DSP ones on Cortex-M4/M7)
 * against the plain C references, on the device under QEMU: random shapes
 * and values, int8 and int4 weights; conv (1x1 to 5x5, kh != kw, strides
 * 1-3, any padding, dense-shaped; a quarter int4 rows ending in 1 to 4 taps
 * of a group of 8, as k = 9: 3x3 over one channel), depthwise (1 to 40 channels, odd counts
 * included, the same kernels, strides and paddings, rows wide enough for the
 * four-output path) and dense (with and without scratch, inputs over one
 * and several of its chunks) and max pool. Most channels take the DSP kernels' short
 * requantisation; a share gets shifts, multipliers or biases outside it
 * (shift >= 0 or below -21, mult <= 0, |bias| near 2^31 so the sum may wrap)
 * to test the exact fallback too; a quarter are ReLU layers as calibrated
 * (out_zp = act_min = -128, act_max = 127). Prints one line per kind and exits
 * non-zero on the first mismatch. Needs no model: cm_inputs.h / cm_model.h
 * are not used. */
#include <stdint.h>
#include <string.h>

#include "semihost.h"
#include "tm_rt_kernels.h"

static uint32_t seed = 2024u;
static uint32_t rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
}
static int range(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static int8_t in[16384], out_a[16384], out_b[16384];
static uint8_t w[8192];
static int32_t bias[64], mult[64], shift[64];
static int8_t scratch[1 << 16] __attribute__((aligned(16)));

static void put(const char *s) { tm_cm_write(s); }

int main(void)
{
    static const char *names[3] = {"conv", "depthwise", "dense"};
    long cases[3] = {0, 0, 0};
    put("kernels isa ");
    put(tm_rt_kernels_isa());
    put("\n");
    for (int it = 0; it < 4000; it++) {
        /* depthwise twice as often: two kinds of its paths */
        tm_rt_kernel_kind kind = (tm_rt_kernel_kind)((int[]){0, 1, 2, 1}[it % 4]);
        int dw = kind == TM_RT_KERNEL_DEPTHWISE;
        tm_rt_conv_args a;
        memset(&a, 0, sizeof a);
        a.bits = rnd() & 1 ? 8 : 4;
        a.kh = kind == TM_RT_KERNEL_DENSE ? 1 : (int[]){1, 3, 3, 3, 5, 2}[rnd() % 6];
        a.kw = kind == TM_RT_KERNEL_DENSE ? 1 : (rnd() % 4 ? a.kh : (int[]){1, 3, 5, 2}[rnd() % 4]);
        a.stride = kind == TM_RT_KERNEL_DENSE ? 1 : (rnd() % 4 ? range(1, 2) : 3);
        a.in_c = kind == TM_RT_KERNEL_DENSE ? range(1, 300) : dw ? range(1, 40) : range(1, 12);
        a.in_h = kind == TM_RT_KERNEL_DENSE ? 1 : range(a.kh, dw ? 16 : 12);
        a.in_w = kind == TM_RT_KERNEL_DENSE ? 1 : range(a.kw, dw ? 24 : 12);
        a.out_c = dw ? a.in_c : range(1, 40);
        if (kind == TM_RT_KERNEL_DENSE && rnd() % 4 == 0) {
            /* inputs in more than one of the DSP dense's 512-input chunks */
            a.in_c = range(513, 1600);
            a.out_c = range(1, 5);
        }
        if (kind == TM_RT_KERNEL_CONV && rnd() % 4 == 0) {
            /* int4 rows whose last group has 1 to 4 taps (the half group of
             * tm_rt_conv_dsp.c): k = 9 (the first 3x3 conv of one channel),
             * 18, 25, 36, 1x1 with 1-4 or 9-12 channels... */
            static const unsigned char shp[10][3] = {{1, 3, 3}, {1, 3, 3}, {2, 3, 3}, {1, 5, 5}, {4, 3, 3},
                                                     {3, 1, 1}, {4, 1, 1}, {12, 1, 1}, {9, 1, 1}, {20, 1, 1}};
            const unsigned char *sh = shp[rnd() % 10];
            a.bits = rnd() % 8 ? 4 : 8;
            a.in_c = sh[0];
            a.kh = sh[1];
            a.kw = sh[2];
            a.stride = rnd() % 4 ? 1 : 2;
            a.in_h = range(a.kh, 12);
            a.in_w = range(a.kw, 12);
        }
        int same = kind != TM_RT_KERNEL_DENSE && (rnd() & 1);
        a.pad_top = same ? (a.kh - 1) / 2 : (kind != TM_RT_KERNEL_DENSE && rnd() % 3 == 0 ? range(0, a.kh - 1) : 0);
        a.pad_left = same ? (a.kw - 1) / 2 : (kind != TM_RT_KERNEL_DENSE && rnd() % 3 == 0 ? range(0, a.kw - 1) : 0);
        a.out_h = (a.in_h + 2 * a.pad_top - a.kh) / a.stride + 1;
        a.out_w = (a.in_w + 2 * a.pad_left - a.kw) / a.stride + 1;
        if (kind == TM_RT_KERNEL_CONV && (rnd() % 8) == 0) { /* dense-shaped conv */
            a.kh = a.kw = a.in_h = a.in_w = a.out_h = a.out_w = a.stride = 1;
            a.pad_top = a.pad_left = 0;
        }
        size_t k = kind == TM_RT_KERNEL_DEPTHWISE ? (size_t)a.kh * a.kw
                                                  : (size_t)a.in_c * a.kh * a.kw;
        size_t rb = tm_rt_weight_row_bytes(k, a.bits);
        size_t nin = (size_t)a.in_c * a.in_h * a.in_w, nout = (size_t)a.out_c * a.out_h * a.out_w;
        if (nin > sizeof in || nout > sizeof out_a || rb * (size_t)a.out_c > sizeof w)
            continue;
        for (size_t i = 0; i < nin; i++)
            in[i] = (int8_t)(rnd() % 8 == 0 ? (rnd() & 1 ? 127 : -128) : (int)(rnd() & 255) - 128);
        for (size_t i = 0; i < rb * (size_t)a.out_c; i++)
            w[i] = (uint8_t)(a.bits == 8 ? (uint8_t)(int8_t)range(-127, 127) : (uint8_t)rnd());
        /* half the layers have no odd channel, their shifts as calibrated
         * models' (-11 to -1; -12 in one layer of eight, which keeps an int4
         * layer off the 4096 x jobs) and, in half of those, biases small
         * enough for 4096 x sums up to 257 taps: the DSP conv's
         * whole-tile jobs */
        int normal = rnd() & 1, deep = normal && rnd() % 8 == 0, small = normal && (rnd() & 1);
        for (int c = 0; c < a.out_c; c++) {
            uint32_t odd = normal ? 15 : rnd() % 16;
            bias[c] = odd == 0 ? (int32_t)(rnd() << 8 ^ rnd()) : small ? range(-1000, 1000) : range(-100000, 100000);
            mult[c] = odd == 1 ? 0 : odd == 2 ? -(int32_t)(rnd() & 0x3FFFFFFFu)
                                   : (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
            shift[c] = odd == 3 ? range(-31, -22) : odd == 4 ? range(0, 3) : normal ? range(deep ? -12 : -11, -1) : range(-21, -1);
        }
        a.input = in;
        a.in_zp = range(-128, 127);
        a.weights = w;
        a.bias = rnd() % 4 ? bias : NULL;
        a.out_zp = range(-128, 127);
        a.mult = mult;
        a.shift = shift;
        a.act_min = rnd() & 1 ? -128 : (rnd() & 1 ? a.out_zp : range(-128, 127));
        a.act_max = rnd() & 1 ? 127 : range(a.act_min, 127);
        if (rnd() % 4 == 0) {
            /* a calibrated ReLU layer: out_zp -128, no clamp past int8's
             * (the DSP conv's plain jobs) */
            a.out_zp = a.act_min = -128;
            a.act_max = 127;
        }
        size_t need = tm_rt_kernel_scratch_bytes(&a, kind);
        if (need > sizeof scratch)
            continue;
        /* dense also without scratch (its in-place path) */
        a.scratch = need && !(kind == TM_RT_KERNEL_DENSE && rnd() % 4 == 0) ? scratch : NULL;
        a.output = out_a;
        tm_rt_status s1 = kind == TM_RT_KERNEL_CONV        ? tm_rt_conv(&a)
                          : kind == TM_RT_KERNEL_DEPTHWISE ? tm_rt_depthwise(&a)
                                                           : tm_rt_dense(&a);
        a.output = out_b;
        tm_rt_status s2 = kind == TM_RT_KERNEL_CONV        ? tm_rt_conv_ref(&a)
                          : kind == TM_RT_KERNEL_DEPTHWISE ? tm_rt_depthwise_ref(&a)
                                                           : tm_rt_dense_ref(&a);
        if (s1 != s2 || (s1 == TM_RT_OK && memcmp(out_a, out_b, nout) != 0)) {
            put("MISMATCH ");
            put(names[kind]);
            put(" case ");
            tm_cm_write_int(it);
            put(" bits ");
            tm_cm_write_int(a.bits);
            put(" k ");
            tm_cm_write_int((long)k);
            put("\n");
            return 1;
        }
        cases[kind]++;
    }
    for (int i = 0; i < 3; i++) {
        put(names[i]);
        put(": ");
        tm_cm_write_int(cases[i]);
        put(" random cases equal to the reference\n");
    }
    /* max pool: mostly the models' 2x2 stride 2 (rows of 1 to 40 outputs,
     * odd widths and heights), some other sizes and strides */
    long pools = 0;
    for (int it = 0; it < 1000; it++) {
        int size = rnd() % 4 ? 2 : range(1, 3), stride = size == 2 && rnd() % 4 ? 2 : range(1, 3);
        int c = range(1, 8), h = range(size, 24), w = range(size, 81);
        int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
        size_t nin = (size_t)c * h * w, nout = (size_t)c * oh * ow;
        for (size_t i = 0; i < nin; i++)
            in[i] = (int8_t)(rnd() % 8 == 0 ? (rnd() & 1 ? 127 : -128) : (int)(rnd() & 255) - 128);
        tm_rt_status s1 = tm_rt_maxpool(in, c, h, w, size, stride, out_a, oh, ow);
        tm_rt_status s2 = tm_rt_maxpool_ref(in, c, h, w, size, stride, out_b, oh, ow);
        if (s1 != s2 || (s1 == TM_RT_OK && memcmp(out_a, out_b, nout) != 0)) {
            put("MISMATCH maxpool case ");
            tm_cm_write_int(it);
            put("\n");
            return 1;
        }
        pools++;
    }
    put("maxpool: ");
    tm_cm_write_int(pools);
    put(" random cases equal to the reference\n");
    return 0;
}
