#include <stdio.h>
int main(void) { puts("tinym2net"); return 0; }
