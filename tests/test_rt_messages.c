/* Status codes of the runtime's failures, and their messages, in both
 * builds: this source runs as test_rt_messages (the default runtime, full
 * messages) and as test_rt_messages_off (tests/CMakeLists.txt: the runtime's
 * sources compiled in with -DTM_RT_NO_MESSAGES, as for a microcontroller).
 * Every case expects one status code in both programs, so the two builds
 * agree; the full build also checks each case hits the check it names, the
 * other that no reason text is left. Self-contained (runtime + Check). */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_frontend.h"
#include "tm_rt_kernels.h"
#include "tm_rt_model.h"
#include "tm_rt_test_example.h"
#include "tools/tm_rt_example_model.h"

#ifdef TM_RT_NO_MESSAGES
#define TERSE 1
#else
#define TERSE 0
#endif


typedef struct built {
    uint8_t *bytes; /* malloc'd (so 4-byte aligned), exactly size bytes */
    size_t size;
} built;

static built build_example(int which, uint32_t seed)
{
    static tm_rt_builder b;
    built r;
    r.bytes = tm_rt_test_example(&b, which, seed, 4, &r.size);
    return r;
}

static void reseal(uint8_t *bytes, size_t size)
{
    uint32_t crc = tm_rt_model_file_crc(bytes, size);
    memcpy(bytes + offsetof(tm_rt_file_header, crc32), &crc, 4);
}

static void put32(uint8_t *bytes, size_t at, uint32_t v)
{
    memcpy(bytes + at, &v, 4);
}

static uint32_t get32(const uint8_t *bytes, size_t at)
{
    uint32_t v;
    memcpy(&v, bytes + at, 4);
    return v;
}

/* Opens a 4-byte aligned copy of the first n bytes. */
/* The object whose reason check_message reads: the model the last
 * open_copy or open used, or a builder. */
static tm_rt_model M;
static const tm_rt_builder *B;

static tm_rt_status open_copy(const uint8_t *bytes, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, bytes, n);
    tm_rt_status s = tm_rt_model_open(&M, copy, n);
    free(copy);
    return s;
}

/* The message of the last failure: with messages it names the check
 * (reason, when given, is part of it); without, it is the status's name. */
static void check_message(const char *label, tm_rt_status s, const char *reason)
{
    const char *msg = B ? tm_rt_builder_error(B) : tm_rt_model_error(&M);
    if (TERSE) {
        ck_assert_msg(strcmp(msg, tm_rt_status_name(s)) == 0, "%s: message '%s', expected '%s'",
                      label, msg, tm_rt_status_name(s));
    } else {
        ck_assert_msg(strcmp(msg, tm_rt_status_name(s)) != 0 && strcmp(msg, "no error") != 0,
                      "%s: no reason in '%s'", label, msg);
        if (reason)
            ck_assert_msg(strstr(msg, reason) != NULL, "%s: message '%s', expected '%s'", label,
                          msg, reason);
    }
}

static void expect(const char *label, tm_rt_status got, tm_rt_status want, const char *reason)
{
    ck_assert_msg(got == want, "%s: status %s, expected %s", label, tm_rt_status_name(got),
                  tm_rt_status_name(want));
    check_message(label, got, reason);
}

/* ---- arguments -------------------------------------------------------------- */

START_TEST(arguments_and_the_initial_state)
{
    /* Each model holds its own reason: a model not opened has none. */
    tm_rt_model fresh;
    memset(&fresh, 0, sizeof fresh);
    ck_assert_str_eq(tm_rt_model_error(&fresh), "no error");
    ck_assert_str_eq(tm_rt_model_error(NULL), "NULL model");
    built b = build_example(EX_CHAIN, 1);
    ck_assert_int_eq(tm_rt_model_open(NULL, b.bytes, b.size), TM_RT_ERR_ARG);
    expect("NULL data", tm_rt_model_open(&M, NULL, b.size), TM_RT_ERR_ARG, "NULL data");
    uint8_t *shifted = malloc(b.size + 4);
    ck_assert_ptr_nonnull(shifted);
    memcpy(shifted + 1, b.bytes, b.size);
    expect("unaligned", tm_rt_model_open(&M, shifted + 1, b.size), TM_RT_ERR_ARG,
           "4-byte aligned");
    /* Another model's failure and success leave this one's reason alone. */
    tm_rt_model other;
    ck_assert_int_eq(tm_rt_model_open(&other, NULL, b.size), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_model_open(&other, b.bytes, b.size), TM_RT_OK);
    ck_assert_str_eq(tm_rt_model_error(&other), "no error");
    check_message("another model", TM_RT_ERR_ARG, "4-byte aligned");
    /* A success clears the model's own reason. */
    ck_assert_int_eq(tm_rt_model_open(&M, b.bytes, b.size), TM_RT_OK);
    ck_assert_str_eq(tm_rt_model_error(&M), "no error");
    free(shifted);
    free(b.bytes);
}
END_TEST

/* ---- valid models open and run ---------------------------------------------------- */

START_TEST(valid_models_open_and_run)
{
    for (int which = 0; which < 2; which++) {
        built b = build_example(which, 7);
        tm_rt_model m;
        ck_assert_int_eq(tm_rt_model_open(&m, b.bytes, b.size), TM_RT_OK);
        void *mem = malloc(tm_rt_model_memory_bytes(&m));
        ck_assert_ptr_nonnull(mem);
        float in[1024];
        size_t at[TM_RT_MAX_MODEL_INPUTS];
        tm_rt_example_inputs(&m, 3, in, sizeof in / sizeof in[0], at);
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            const float *x = in + at[i];
            tm_rt_status s = m.inputs[i].kind == TM_RT_INPUT_AUDIO
                                 ? tm_rt_model_set_audio(&m, mem, (int)i, x)
                             : m.inputs[i].kind == TM_RT_INPUT_IMAGE
                                 ? tm_rt_model_set_image(&m, mem, (int)i, x)
                                 : tm_rt_model_set_features(&m, mem, (int)i, x);
            ck_assert_int_eq(s, TM_RT_OK);
        }
        ck_assert_int_eq(tm_rt_model_invoke(&m, mem), TM_RT_OK);
        ck_assert_ptr_nonnull(tm_rt_model_logits(&m, mem));
        free(mem);
        free(b.bytes);
    }
}
END_TEST

/* ---- truncated and corrupted files -------------------------------------------------- */

START_TEST(truncated_files_are_rejected)
{
    for (int which = 0; which < 2; which++) {
        built b = build_example(which, 11);
        char label[64];
        for (size_t n = 0; n < b.size; n++) {
            snprintf(label, sizeof label, "example %d cut to %zu bytes", which, n);
            expect(label, open_copy(b.bytes, n), TM_RT_ERR_FORMAT,
                   n < sizeof(tm_rt_file_header) ? "shorter than the header" : "truncated");
        }
        /* Cut with file_bytes and the CRC made to match: a table or the
         * blob then runs past the end. */
        uint8_t *w = malloc(b.size);
        ck_assert_ptr_nonnull(w);
        for (size_t n = sizeof(tm_rt_file_header); n < b.size; n += 4) {
            memcpy(w, b.bytes, n);
            put32(w, offsetof(tm_rt_file_header, file_bytes), (uint32_t)n);
            reseal(w, n);
            snprintf(label, sizeof label, "example %d sealed at %zu bytes", which, n);
            expect(label, open_copy(w, n), TM_RT_ERR_FORMAT, NULL);
        }
        free(w);
        free(b.bytes);
    }
}
END_TEST

START_TEST(corrupted_bytes_are_rejected)
{
    for (int which = 0; which < 2; which++) {
        built b = build_example(which, 13);
        uint8_t *w = malloc(b.size);
        ck_assert_ptr_nonnull(w);
        char label[64];
        for (size_t at = 0; at < b.size; at++) {
            for (int bit = 0; bit < 8; bit += 3) {
                memcpy(w, b.bytes, b.size);
                w[at] ^= (uint8_t)(1u << bit);
                snprintf(label, sizeof label, "example %d byte %zu bit %d", which, at, bit);
                /* magic, version, header_bytes and file_bytes are checked
                 * before the CRC. */
                expect(label, open_copy(w, b.size), TM_RT_ERR_FORMAT,
                       at < offsetof(tm_rt_file_header, crc32) ? NULL : "CRC-32");
            }
        }
        free(w);
        free(b.bytes);
    }
}
END_TEST

/* ---- one edit per kind of check, CRC resealed -------------------------------------- */

#define FLOAT_BITS(f) ((union { float x; uint32_t u; }){.x = (f)}.u)

START_TEST(each_check_keeps_its_status)
{
    built b = build_example(EX_TWO_BRANCH, 2);
    uint8_t *w = malloc(b.size);
    ck_assert_ptr_nonnull(w);
    tm_rt_file_header H;
    memcpy(&H, b.bytes, sizeof H);
    /* Tensors: 0 img, 1 aud, 2 c1, 3 d1, 4 p1, 5 m1, 6 v1, 7 c2, 8 a2, 9 v2,
     * 10 cat, 11 out. Ops: 0 conv, 1 depthwise, 2 pointwise, 3 maxpool,
     * 4 dense, 5 conv, 6 avgpool, 7 dense (no bias), 8 concat, 9 dense. */
#define HDR(f) offsetof(tm_rt_file_header, f)
#define TEN(t, f) (H.tensors_offset + (size_t)(t) * sizeof(tm_rt_tensor_desc) + \
                   offsetof(tm_rt_tensor_desc, f))
#define OP(k, f) (H.ops_offset + (size_t)(k) * sizeof(tm_rt_op_desc) + offsetof(tm_rt_op_desc, f))
#define INP(i, f) (H.inputs_offset + (size_t)(i) * sizeof(tm_rt_input_desc) + \
                   offsetof(tm_rt_input_desc, f))
#define CASE(label, reason, ...)                                             \
    do {                                                                     \
        memcpy(w, b.bytes, b.size);                                          \
        __VA_ARGS__;                                                         \
        reseal(w, b.size);                                                   \
        expect(label, open_copy(w, b.size), TM_RT_ERR_FORMAT, reason);       \
    } while (0)

    /* Header. */
    CASE("magic", "magic", put32(w, HDR(magic), 0x12345678u));
    CASE("version", "version", put32(w, HDR(version), 3));
    CASE("version 1", "export the model again", put32(w, HDR(version), 1));
    CASE("label column", "label_column", memset(w + HDR(label_column), 'a', TM_RT_NAME_LEN));
    CASE("header_bytes", "header_bytes", put32(w, HDR(header_bytes), 84));
    CASE("file_bytes", "longer than file_bytes", put32(w, HDR(file_bytes), H.file_bytes - 4));
    CASE("flags", "flags", put32(w, HDR(flags), 2));
    CASE("n_tensors", "n_tensors", put32(w, HDR(n_tensors), 0));
    CASE("n_ops", "n_ops", put32(w, HDR(n_ops), 0));
    CASE("n_inputs", "n_inputs", put32(w, HDR(n_inputs), 5));
    CASE("n_classes", "n_classes", put32(w, HDR(n_classes), 0));
    CASE("arena 2^30+1", "above 2^30", put32(w, HDR(arena_bytes), (1u << 30) + 1));
    /* Sections. */
    CASE("tensor table", "tensor table", put32(w, HDR(tensors_offset), 82));
    CASE("op table", "op table", put32(w, HDR(ops_offset), H.tensors_offset));
    CASE("input table", "input table", put32(w, HDR(inputs_offset), H.ops_offset));
    CASE("class table", "class names", put32(w, HDR(classes_offset), H.file_bytes));
    CASE("blob", "blob", put32(w, HDR(blob_offset), H.blob_offset + 4));
    /* Tensors and the output. */
    CASE("tensor c 0", "dimension", put32(w, TEN(4, c), 0));
    CASE("tensor too big", "2^24", (put32(w, TEN(4, c), 65535), put32(w, TEN(4, h), 65535)));
    CASE("tensor scale", "scale", put32(w, TEN(2, scale), 0x7FC00000u));
    CASE("tensor zero point", "zero_point", put32(w, TEN(2, zero_point), 200));
    CASE("arena offset", "past arena_bytes", put32(w, TEN(3, arena_offset), H.arena_bytes));
    CASE("live overlap", "shares arena bytes",
         put32(w, TEN(3, arena_offset), get32(w, TEN(2, arena_offset))));
    CASE("output index", "output tensor index", put32(w, HDR(output), 99));
    CASE("output size", "n_classes", put32(w, HDR(output), 6));
    /* Inputs, and the audio front end's own checks. */
    CASE("input name", "NUL", memset(w + INP(0, name), 'a', TM_RT_NAME_LEN));
    CASE("input kind", "kind", put32(w, INP(0, kind), 7));
    CASE("input column", "column", memset(w + INP(0, column), 'a', TM_RT_NAME_LEN));
    CASE("image fit", "fit", put32(w, INP(0, fit), 1));
    CASE("audio fit", "fit", put32(w, INP(1, fit), 2));
    CASE("input tensor", "tensor index", put32(w, INP(0, tensor), 12));
    CASE("input same tensor", "already filled", put32(w, INP(1, tensor), 0));
    CASE("input std", "std", put32(w, INP(1, std), FLOAT_BITS(-1.0f)));
    CASE("audio n_mels", "n_mels exceeds", put32(w, INP(1, fe.n_mels), 1000));
    CASE("audio fmax", "fmax exceeds", put32(w, INP(1, fe.fmax), FLOAT_BITS(5000.0f)));
    CASE("audio hop", "hop_length", put32(w, INP(1, fe.hop_length), 0));
    CASE("audio window", "window must be", put32(w, INP(1, fe.window), 9));
    CASE("audio frames", "frames x coefs", put32(w, INP(1, fe.n_mfcc), 5));
    CASE("audio workspace", "workspace", put32(w, HDR(workspace_bytes), H.workspace_bytes - 1));
    /* Ops. */
    CASE("op type", "unknown op type", put32(w, OP(0, type), 99));
    CASE("op version", "version", put32(w, OP(0, version), 2));
    CASE("conv n_inputs", "n_inputs", put32(w, OP(0, n_inputs), 2));
    CASE("concat n_inputs", "1..4", put32(w, OP(8, n_inputs), 5));
    CASE("unused slot", "unused input slots", put32(w, OP(0, inputs[2]), 0));
    CASE("op input index", "input tensor index", put32(w, OP(0, inputs[0]), 0xFFFFFFF0u));
    CASE("op output index", "output tensor index", put32(w, OP(0, output), 12));
    CASE("in place", "also an input", put32(w, OP(0, output), 0));
    CASE("act range", "act_min", put32(w, OP(0, act_max), 200));
    CASE("conv bits", "bits must be 4 or 8", put32(w, OP(0, bits), 5));
    CASE("pool bits", "bits must be 0", put32(w, OP(3, bits), 8));
    CASE("kernel", "kernel size", put32(w, OP(0, kh), 0));
    CASE("stride", "stride", put32(w, OP(0, stride), 0));
    CASE("pads", "pads", put32(w, OP(0, pad_top), 3));
    CASE("dense window", "0 or 1", put32(w, OP(9, kh), 3));
    CASE("pool weights", "absent", put32(w, OP(3, weights), 0));
    CASE("pool mult", "absent", put32(w, OP(3, mult), 0));
    CASE("depthwise channels", "depthwise output channels", put32(w, OP(1, output), 4));
    CASE("conv height", "output height", put32(w, OP(0, stride), 2));
    CASE("conv width", "output width", put32(w, TEN(2, w), 3));
    CASE("weights_bytes", "weights_bytes",
         put32(w, OP(0, weights_bytes), get32(w, OP(0, weights_bytes)) + 1));
    CASE("dense output", "vector", put32(w, OP(4, output), 4));
    CASE("pool square", "square", put32(w, OP(3, kw), 1));
    CASE("pool padding", "no padding", put32(w, OP(3, pad_top), 1));
    CASE("pool shape", "output shape", put32(w, OP(3, stride), 1));
    CASE("pool scale", "scale and zero point", put32(w, TEN(5, scale), FLOAT_BITS(0.5f)));
    CASE("concat sum", "sum", put32(w, OP(8, inputs[1]), 6));
    CASE("weights range", "weights range", put32(w, OP(0, weights), H.blob_bytes));
    CASE("bias range", "bias range", put32(w, OP(0, bias), get32(w, OP(0, bias)) + 2));
    CASE("mult range", "mult range", put32(w, OP(9, mult), H.blob_bytes));
    CASE("shift range", "shift range", put32(w, OP(9, shift), TM_RT_NONE));
    CASE("mult value", "mult", put32(w, H.blob_offset + get32(w, OP(0, mult)), 5));
    CASE("shift value", "shift", put32(w, H.blob_offset + get32(w, OP(0, shift)), 40));
    CASE("op name", "op (depthwise) 1: ", put32(w, OP(1, stride), 0));
    /* Ops 3 and 4 swapped: the dense reads m1 before the maxpool writes it. */
    CASE("read before write", "no earlier op", {
        uint8_t tmp[sizeof(tm_rt_op_desc)];
        memcpy(tmp, w + OP(3, type), sizeof tmp);
        memcpy(w + OP(3, type), w + OP(4, type), sizeof tmp);
        memcpy(w + OP(4, type), tmp, sizeof tmp);
    });
    CASE("class name", "class name",
         memset(w + H.classes_offset + 2 * TM_RT_NAME_LEN, 'x', TM_RT_NAME_LEN));
    /* The untouched file still opens. */
    memcpy(w, b.bytes, b.size);
    ck_assert_int_eq(open_copy(w, b.size), TM_RT_OK);
    free(w);
    free(b.bytes);
}
END_TEST

/* ---- the front end's check and the builder ------------------------------------------ */

START_TEST(frontend_check_and_builder)
{
    tm_rt_input_desc in;
    memset(&in, 0, sizeof in);
    tm_rt_ex_audio_config(&in);
    tm_rt_frontend_config c = in.fe;
    ck_assert_ptr_null(tm_rt_frontend_check(&c));
    ck_assert_int_eq(tm_rt_frontend_validate(&c), TM_RT_OK);
    c.fmax = 5000.0f;
    const char *why = tm_rt_frontend_check(&c);
    ck_assert_ptr_nonnull(why);
    if (TERSE)
        ck_assert_str_eq(why, "");
    else
        ck_assert_ptr_nonnull(strstr(why, "fmax exceeds"));
    ck_assert_int_eq(tm_rt_frontend_validate(&c), TM_RT_ERR_ARG);
    ck_assert_ptr_nonnull(tm_rt_frontend_check(NULL));

    /* The builder holds its reason the same way. */
    static tm_rt_builder b;
    static uint32_t buf[TM_RT_EXAMPLE_MAX_BYTES / 4];
    size_t size = 0;
    B = &b;
    expect("builder buffer", tm_rt_example_two_branch(&b, buf, 600, 1, &size), TM_RT_ERR_BUFFER,
           "too small");
    tm_rt_builder_init(&b, buf, sizeof buf);
    ck_assert_int_eq(tm_rt_builder_tensor(&b, 0, 4, 4, 0.1f, 0), -1);
    check_message("builder tensor", TM_RT_ERR_ARG, "tensor 0: dimensions");
}
END_TEST

int main(void)
{
    Suite *s = suite_create(TERSE ? "rt_messages_off" : "rt_messages");
    TCase *tc = tcase_create("status");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, arguments_and_the_initial_state);
    tcase_add_test(tc, valid_models_open_and_run);
    tcase_add_test(tc, truncated_files_are_rejected);
    tcase_add_test(tc, corrupted_bytes_are_rejected);
    tcase_add_test(tc, each_check_keeps_its_status);
    tcase_add_test(tc, frontend_check_and_builder);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
