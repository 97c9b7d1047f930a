/* TinyM2Net device runtime: common definitions. C99, libc + libm only, no
 * allocation: callers pass every buffer.
 *
 * Compile-time option TM_RT_NO_MESSAGES (define it for every runtime source,
 * e.g. -DTM_RT_NO_MESSAGES): every check and every status code stay exactly
 * as they are, but the human-readable reasons (about 3 KB of strings on a
 * Cortex-M4) are compiled out. tm_rt_model_error() then returns the name of
 * the last failure's status (tm_rt_status_name, e.g. "malformed input") and
 * tm_rt_frontend_check() returns "" instead of a reason. Meant for
 * microcontroller builds; the default build keeps the full messages. */
#ifndef TM_RT_H
#define TM_RT_H

#define TM_RT_VERSION_MAJOR 0
#define TM_RT_VERSION_MINOR 1

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

#endif
