#include "tm_rt.h"

#include <stddef.h>

const char *tm_rt_status_name(tm_rt_status s)
{
    switch (s) {
    case TM_RT_OK: return "ok";
    case TM_RT_ERR_ARG: return "invalid argument";
    case TM_RT_ERR_BUFFER: return "buffer too small";
    case TM_RT_ERR_FORMAT: return "malformed input";
    case TM_RT_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

#ifndef TM_RT_NO_MESSAGES

static size_t tm_rt_err_put(tm_rt_error *e, size_t at, const char *s)
{
    while (*s && at + 1 < sizeof e->text)
        e->text[at++] = *s++;
    e->text[at] = '\0';
    return at;
}

tm_rt_status tm_rt_error_set(tm_rt_error *e, tm_rt_status s, const char *what, long index,
                             const char *reason)
{
    size_t at = 0;
    if (!e)
        return s;
    if (what) {
        at = tm_rt_err_put(e, at, what);
        if (index >= 0) {
            char rev[24];
            int n = 0;
            unsigned long v = (unsigned long)index;
            do {
                rev[n++] = (char)('0' + v % 10u);
                v /= 10u;
            } while (v && n < (int)sizeof rev);
            char num[26];
            num[0] = ' ';
            for (int i = 0; i < n; i++)
                num[1 + i] = rev[n - 1 - i];
            num[1 + n] = '\0';
            at = tm_rt_err_put(e, at, num);
        }
        at = tm_rt_err_put(e, at, ": ");
    }
    tm_rt_err_put(e, at, reason ? reason : "error");
    return s;
}

const char *tm_rt_error_text(const tm_rt_error *e)
{
    return e && e->text[0] ? e->text : "no error";
}

#else /* TM_RT_NO_MESSAGES: only the status is kept. */

tm_rt_status tm_rt_error_set(tm_rt_error *e, tm_rt_status s, const char *what, long index,
                             const char *reason)
{
    (void)what;
    (void)index;
    (void)reason;
    if (e)
        e->status = s;
    return s;
}

const char *tm_rt_error_text(const tm_rt_error *e)
{
    return e && e->status != TM_RT_OK ? tm_rt_status_name(e->status) : "no error";
}

#endif
