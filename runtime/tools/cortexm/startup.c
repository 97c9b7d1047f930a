/* Bare-metal start for the Cortex-M harness: the vector table, a reset
 * handler that copies .data, clears .bss, turns the FPU on and calls main,
 * and ARM semihosting (BKPT 0xAB, which QEMU serves with
 * -semihosting-config enable=on) for output and the exit status. No
 * library start-up code is used, so what runs is what is here. */
#include <stdint.h>

#include "semihost.h"

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _stack_top;
int main(void);

static int tm_cm_call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void tm_cm_write(const char *s)
{
    tm_cm_call(0x04, s); /* SYS_WRITE0 */
}

void tm_cm_write_int(long v)
{
    char b[24], *p = b + sizeof b - 1;
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    *p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    tm_cm_write(p);
}

void tm_cm_exit(int code)
{
    /* SYS_EXIT_EXTENDED: reason ADP_Stopped_ApplicationExit, then the code */
    uint32_t block[2] = {0x20026u, (uint32_t)code};
    tm_cm_call(0x20, block);
    for (;;) {
    }
}

void tm_cm_reset(void)
{
    uint32_t *src = &_data_load, *dst = &_data_start;
    while (dst < &_data_end)
        *dst++ = *src++;
    for (dst = &_bss_start; dst < &_bss_end;)
        *dst++ = 0;
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 (the FPU) before any float code */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
    tm_cm_exit(main());
}

static void tm_cm_fault(void)
{
    tm_cm_write("cortexm: fault (HardFault, MemManage, BusFault or UsageFault)\n");
    tm_cm_exit(3);
}

__attribute__((section(".vectors"), used)) static const void *const tm_cm_vectors[16] = {
    &_stack_top, (const void *)tm_cm_reset, (const void *)tm_cm_fault, (const void *)tm_cm_fault,
    (const void *)tm_cm_fault, (const void *)tm_cm_fault, (const void *)tm_cm_fault, 0, 0, 0, 0,
    (const void *)tm_cm_fault, (const void *)tm_cm_fault, 0, (const void *)tm_cm_fault,
    (const void *)tm_cm_fault};
