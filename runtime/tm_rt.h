/* TinyM2Net device runtime: common definitions. C99, libc + libm only, no
 * allocation: callers pass every buffer.
 *
 * Compile-time option TM_RT_NO_MESSAGES (define it for every runtime source,
 * e.g. -DTM_RT_NO_MESSAGES): every check and every status code stay exactly
 * as they are, but the human-readable reasons (about 3 KB of strings on a
 * Cortex-M4) are compiled out. tm_rt_model_error(m) then returns the name of
 * the model's last failure's status (tm_rt_status_name, e.g. "malformed input") and
 * tm_rt_frontend_check() returns "" instead of a reason. Meant for
 * microcontroller builds; the default build keeps the full messages. */
#ifndef TM_RT_H
#define TM_RT_H

#define TM_RT_VERSION_MAJOR 0
#define TM_RT_VERSION_MINOR 2

typedef enum tm_rt_status {
    TM_RT_OK = 0,
    TM_RT_ERR_ARG,        /* invalid argument */
    TM_RT_ERR_BUFFER,     /* caller's buffer too small */
    TM_RT_ERR_FORMAT,     /* malformed model or input */
    TM_RT_ERR_UNSUPPORTED /* valid but not supported by this build */
} tm_rt_status;

const char *tm_rt_status_name(tm_rt_status s);

/* A reason string that TM_RT_NO_MESSAGES replaces by "": never NULL, so a
 * check that returns NULL for "valid" works the same in both builds. */
#ifdef TM_RT_NO_MESSAGES
#define TM_RT_MSG(text) ""
#else
#define TM_RT_MSG(text) text
#endif

/* Why the last call on one object (a model, a builder) failed: held in that
 * object, so two models opened by two threads keep their own reasons. */
typedef struct tm_rt_error {
#ifdef TM_RT_NO_MESSAGES
    tm_rt_status status;
#else
    char text[112];          /* "what index: reason"; "" = no error */
#endif
} tm_rt_error;

/* Records "what index: reason" (index < 0: none; what NULL: the reason
 * alone) and returns s. With TM_RT_NO_MESSAGES only s is recorded. */
tm_rt_status tm_rt_error_set(tm_rt_error *e, tm_rt_status s, const char *what, long index,
                             const char *reason);
/* The text, the status's name under TM_RT_NO_MESSAGES, or "no error". */
const char *tm_rt_error_text(const tm_rt_error *e);

#endif
