/* A loop of known length for checking the instruction counter
 * (runtime/tools/icount_selftest.sh): tm_icount_loop(n) executes exactly
 * 3 * n + 2 instructions for n >= 1 (mov; then n times add, subs, b.ne; ret). */
#include <stdio.h>
#include <stdlib.h>

__asm__(".text\n"
        ".global tm_icount_loop\n"
        ".type tm_icount_loop, %function\n"
        "tm_icount_loop:\n"
        "  mov x1, #0\n"
        "1: add x1, x1, x0\n"
        "  subs x0, x0, #1\n"
        "  b.ne 1b\n"
        "  ret\n"
        ".size tm_icount_loop, .-tm_icount_loop\n");
long tm_icount_loop(long n);

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
    printf("%ld\n", tm_icount_loop(n));
    return 0;
}
