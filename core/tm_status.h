/* Status codes and the last-error message. Library code never exits: every
 * fallible call returns a tm_status and leaves a human-readable reason that
 * names the thing and the cause in a thread-local buffer. */
#ifndef TM_STATUS_H
#define TM_STATUS_H

#include <stdarg.h>

typedef enum tm_status {
    TM_OK = 0,
    TM_ERR_NOMEM,      /* allocation failed */
    TM_ERR_ARG,        /* invalid argument from the caller */
    TM_ERR_SHAPE,      /* tensor shapes do not fit */
    TM_ERR_IO,         /* file missing, unreadable or unwritable */
    TM_ERR_FORMAT,     /* file exists but its content is malformed */
    TM_ERR_CONFIG,     /* experiment file: unknown key, bad value */
    TM_ERR_NUMERIC,    /* NaN or infinity appeared */
    TM_ERR_THREAD,     /* thread creation failed */
    TM_ERR_INTERNAL    /* a bug: an invariant did not hold */
} tm_status;

/* Records a formatted message for the calling thread and returns s, so
 * callers can write `return tm_error(TM_ERR_IO, "%s: %s", path, why);`. */
tm_status tm_error(tm_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
tm_status tm_verror(tm_status s, const char *fmt, va_list ap);

/* Prepends context ("loading x.h5: ") to the current message; returns s. */
tm_status tm_error_prefix(tm_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

const char *tm_last_error(void);
void tm_clear_error(void);
const char *tm_status_name(tm_status s);

/* Propagates a failing status unchanged. */
#define TM_TRY(expr)                      \
    do {                                  \
        tm_status tm_try_s_ = (expr);     \
        if (tm_try_s_ != TM_OK)           \
            return tm_try_s_;             \
    } while (0)

#endif
