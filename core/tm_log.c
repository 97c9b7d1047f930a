#include "tm_log.h"

#include <stdarg.h>
#include <stdio.h>

static tm_log_level current = TM_LOG_INFO;

void tm_log_set_level(tm_log_level level) { current = level; }
tm_log_level tm_log_get_level(void) { return current; }

void tm_log(tm_log_level level, const char *fmt, ...)
{
    static const char *tag[] = {"debug", "info", "warning", "error"};
    if (level < current || level >= TM_LOG_QUIET)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (level != TM_LOG_INFO)
        fprintf(stderr, "%s: ", tag[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
