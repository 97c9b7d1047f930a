#include "tm_rt.h"

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
