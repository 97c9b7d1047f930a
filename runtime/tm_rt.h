/* TinyM2Net device runtime: common definitions. C99, libc + libm only, no
 * allocation: callers pass every buffer. */
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

#endif
