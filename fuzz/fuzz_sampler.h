/* The input format of fuzz_sampler.c, shared with gen_seeds.c which writes
 * its seeds: a fake target (memory and /proc) and a script of changes,
 * one sample per step.
 *
 *   byte 0      Python minor version: 6 + b % 10
 *   byte 1      flags (SAM_F_*)
 *   bytes 2-3   pthread_tid_off (little-endian) when SAM_F_PTHREAD_OFF
 *   byte 4      number of tasks: 1 + b % SAM_MAX_TASKS
 *   bytes 5-6   length of the memory image (little-endian)
 *   byte 7      reserved
 *   then        4 bytes per task: its tid (little-endian); the first
 *               task's is the pid
 *   then        the memory image: regions as in fuzz_remote.h (8-byte
 *               address, 2-byte length, that many bytes); where regions
 *               overlap the later one is read
 *   then        steps until the input ends (at most SAM_MAX_STEPS): one
 *               byte, the number of operations (b % 16), the operations,
 *               and one sample.  An operation is a byte (SAM_OP_*, mod
 *               SAM_OP_N) and its arguments:
 *     SAM_OP_MEM     addr(8) len(1) bytes   write target memory (where a
 *                                           region covers it)
 *     SAM_OP_LATER   reads(1) addr(8) len(1) bytes   the same, once that
 *                                           many more reads have been
 *                                           served: memory that changes
 *                                           during a sample
 *     SAM_OP_TEXT    task(1) file(1) len(1) bytes    the text of
 *                                           /proc/PID/task/TID/FILE
 *                                           (SAM_FILE_*)
 *     SAM_OP_TID     task(1) tid(4)         the task's tid from now on; 0:
 *                                           gone from the task list
 *     SAM_OP_GONE    task(1)                its open files read 0 bytes
 *     SAM_OP_CLOCK   ms(2)                  the clock moves on
 *     SAM_OP_NLINK                          /proc/PID/task's link count
 *                                           changes
 *     SAM_OP_FDLINK  len(1) bytes           what /proc/PID/fd/N links to
 *                                           (empty: no such fd)
 *     SAM_OP_WORDS   on(1)                  words-only mode
 *
 * A task's files start as "running", on a CPU, with a schedstat that
 * moves at every read unless a SAM_FILE_SCHEDSTAT text was given.  The
 * target's layout is the one gilsnoop would use for that version (as in
 * fuzz_remote.h), its runtime at REM_RUNTIME, its GIL found as locate.c
 * finds it (fuzz_target_init()). */
#ifndef GS_FUZZ_SAMPLER_H
#define GS_FUZZ_SAMPLER_H

#define SAM_HDR 8
#define SAM_MAX_TASKS 8
#define SAM_MAX_STEPS 256
#define SAM_TEXT_MAX 255

enum {
	SAM_F_PTHREAD_OFF = 1, /* set t->pthread_tid_off from bytes 2-3 */
};

enum {
	SAM_OP_MEM, SAM_OP_LATER, SAM_OP_TEXT, SAM_OP_TID, SAM_OP_GONE,
	SAM_OP_CLOCK, SAM_OP_NLINK, SAM_OP_FDLINK, SAM_OP_WORDS, SAM_OP_N
};

enum {
	SAM_FILE_STAT, SAM_FILE_SYSCALL, SAM_FILE_SCHEDSTAT, SAM_FILE_COMM,
	SAM_FILE_WCHAN, SAM_FILE_N
};

#endif
