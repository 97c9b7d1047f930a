#include "tm_status.h"

#include <stdio.h>
#include <string.h>

#define TM_ERRBUF 1024

static _Thread_local char tm_errbuf[TM_ERRBUF];

tm_status tm_verror(tm_status s, const char *fmt, va_list ap)
{
    vsnprintf(tm_errbuf, sizeof tm_errbuf, fmt, ap);
    return s;
}

tm_status tm_error(tm_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tm_verror(s, fmt, ap);
    va_end(ap);
    return s;
}

tm_status tm_error_prefix(tm_status s, const char *fmt, ...)
{
    char prefix[TM_ERRBUF], old[TM_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tm_errbuf, sizeof old);
    size_t np = strlen(prefix);
    if (np >= sizeof tm_errbuf)
        np = sizeof tm_errbuf - 1;
    memcpy(tm_errbuf, prefix, np);
    size_t room = sizeof tm_errbuf - 1 - np, no = strlen(old);
    if (no > room)
        no = room;
    memcpy(tm_errbuf + np, old, no);
    tm_errbuf[np + no] = '\0';
    return s;
}

const char *tm_last_error(void)
{
    return tm_errbuf[0] ? tm_errbuf : "no error message recorded";
}

void tm_clear_error(void) { tm_errbuf[0] = '\0'; }

const char *tm_status_name(tm_status s)
{
    switch (s) {
    case TM_OK: return "ok";
    case TM_ERR_NOMEM: return "out of memory";
    case TM_ERR_ARG: return "invalid argument";
    case TM_ERR_SHAPE: return "shape mismatch";
    case TM_ERR_IO: return "i/o error";
    case TM_ERR_FORMAT: return "malformed file";
    case TM_ERR_CONFIG: return "experiment file error";
    case TM_ERR_NUMERIC: return "numeric error";
    case TM_ERR_THREAD: return "thread error";
    case TM_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
