/* Output and exit through ARM semihosting (runtime/tools/cortexm/startup.c). */
#ifndef TM_CM_SEMIHOST_H
#define TM_CM_SEMIHOST_H

void tm_cm_write(const char *s);
/* v in decimal (no libc printf on the device). */
void tm_cm_write_int(long v);
void tm_cm_exit(int code);

#endif
