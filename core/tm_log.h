/* Leveled logging to stderr. Library code logs; it never exits. */
#ifndef TM_LOG_H
#define TM_LOG_H

typedef enum { TM_LOG_DEBUG, TM_LOG_INFO, TM_LOG_WARN, TM_LOG_ERROR, TM_LOG_QUIET } tm_log_level;

void tm_log_set_level(tm_log_level level);
tm_log_level tm_log_get_level(void);
void tm_log(tm_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define tm_debug(...) tm_log(TM_LOG_DEBUG, __VA_ARGS__)
#define tm_info(...) tm_log(TM_LOG_INFO, __VA_ARGS__)
#define tm_warn(...) tm_log(TM_LOG_WARN, __VA_ARGS__)

#endif
