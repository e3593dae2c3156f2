/* A located CPython runtime inside a live process: the object that holds
 * it, its version, its resolved layout and the absolute addresses the
 * readers start from.  Produced by gs_target_attach() (locate.c) and
 * read-only afterwards. */
#ifndef GS_TARGET_H
#define GS_TARGET_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout/layout.h"
#include "proc/mem.h"

struct gs_version {
	int major, minor, micro;
	uint32_t hex;      /* PY_VERSION_HEX, 0 when unknown */
	char str[32];      /* "3.11.7" */
	const char *how;   /* where the version was read from */
};

/* The ELF object (executable or libpython) that holds the runtime. */
struct gs_object {
	char path[PATH_MAX];      /* as named in /proc/PID/maps */
	char open_path[PATH_MAX]; /* opened through /proc/PID/root */
	uint64_t load_bias;       /* runtime address = st_value + load_bias */
	uint64_t base;            /* lowest mapped address of the object */
	char build_id[80];        /* hex, empty when absent */
	int is_shared;            /* ET_DYN (PIE or shared library) */
	int is_exe;               /* the object is the main executable */
	int has_symtab;           /* .symtab present (not stripped) */
};

/* What exec changes: the executable, and where the kernel put the new
 * image's stack and heap (randomised per exec).  0 when unreadable. */
struct gs_proc_ident {
	uint64_t exe_dev, exe_ino;      /* stat of /proc/PID/exe */
	uint64_t start_stack, start_brk; /* /proc/PID/stat fields 28 and 47 */
};

struct gs_target {
	pid_t pid;
	char root[64];              /* "/proc/PID/root" */
	struct gs_mem mem;
	struct gs_object obj;
	struct gs_version ver;
	enum gs_build build;
	struct gs_layout layout;
	enum gs_layout_source source;
	char source_detail[PATH_MAX + 64]; /* e.g. the debug file used */

	uint64_t runtime_addr;      /* &_PyRuntime; 0 on 3.6 */
	uint64_t interp_head_addr;  /* address of the first-interpreter pointer */
	struct gs_gil_addrs gil;    /* the main interpreter's GIL */
	uint64_t main_interp;       /* its PyInterpreterState; 0 before 3.12 */
	/* Offset of the kernel tid inside glibc's struct pthread, found at
	 * attach time (thread_id is a pthread_t before 3.11); -1 if unused. */
	int64_t pthread_tid_off;
	struct gs_proc_ident ident; /* as at attach */
};

/* Locate the runtime in process pid.  Returns 0, or an exit code with
 * the message recorded by gs_fail(). */
int gs_target_attach(struct gs_target *t, pid_t pid);
/* Attach to pid, forked from parent (attached already): while pid has
 * not exec'd since the fork (the same executable, stack and heap start
 * as parent's, the runtime's object mapped at the same address) the
 * parent's located runtime and layout are copied, nothing parsed again
 * (*reused = 1); otherwise a full gs_target_attach().  Returns as
 * gs_target_attach. */
int gs_target_attach_forked(struct gs_target *t, pid_t pid,
			    const struct gs_target *parent, int *reused);
void gs_target_detach(struct gs_target *t);

/* Whether process t->pid still runs the runtime found at attach.
 * Returns 0 when it does, or GS_ENOPROC with the reason recorded:
 * "process N exited", or "process N exec'd PATH" with *execd set (execd
 * may be NULL).  A few small /proc reads and one 4-byte
 * process_vm_readv: for a periodic check, not for every sample. */
int gs_target_check(const struct gs_target *t, int *execd);

#endif
