/* Fault injection at the renames that publish outputs, for the fault tests
 * (tests/test_faults.c). Every rename that makes a file or folder visible goes
 * through tm_fault_rename; the environment chooses its Nth call in the process:
 *   TM_FAULT_RENAME=N  the Nth rename fails with EIO;
 *   TM_FAULT_KILL=N    the process kills itself (SIGKILL) just before it.
 * Unset, they cost one getenv per rename. */
#ifndef TM_FAULT_H
#define TM_FAULT_H

/* 1 when this rename is to be failed (errno is then EIO); may not return. */
int tm_fault_rename(void);
/* rename(2) behind the hook: -1 with errno EIO when injected. */
int tm_rename(const char *from, const char *to);

#endif
