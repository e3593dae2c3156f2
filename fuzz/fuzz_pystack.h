/* The input format of fuzz_pystack.c, shared with gen_seeds.c which
 * writes its seeds.
 *
 *   byte 0       Python minor version: 6 + b % 10
 *   byte 1       flags (PYS_F_*)
 *   bytes 2-3    capacity of the frame array (little-endian), % 300
 *   bytes 4-11   the thread state's address
 *   bytes 12-19  an interpreter's address, for the thread names
 *   then         the target's memory as regions, as fuzz_remote.h says:
 *                8-byte address, 2-byte length, that many bytes.
 *
 * The layout is the one gilsnoop would use for that version (generated
 * table; the whole _Py_DebugOffsets of a real build for 3.14 and 3.15). */
#ifndef GS_FUZZ_PYSTACK_H
#define GS_FUZZ_PYSTACK_H

#define PYS_HDR 20

enum {
	PYS_F_NAMES = 1,  /* also read the thread names of the interpreter */
	PYS_F_TWICE = 2,  /* read the stack twice: the cached path */
	PYS_F_NORETRY = 4, /* gs_pystack_set_retries(r, 0) */
};

#endif
