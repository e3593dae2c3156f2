/* A tiny stand-in for libpython, for the fuzz_elf and fuzz_dwarf seed
 * corpora (fuzz/build.sh compiles it once per version and DWARF flavour):
 * the three types gilsnoop reads (_PyRuntimeState, PyInterpreterState,
 * PyThreadState) and the GIL struct, with the members and the nesting
 * each CPython version has, plus the symbols, the .PyRuntime section and
 * the PY_VERSION string that locate.c looks for.  Only the shapes
 * matter; the fields gilsnoop ignores are reduced to padding.
 *
 *   cc -DPYMINOR=12 -g -shared -nostdlib pyobj.c */
#include <pthread.h>
#include <stdint.h>

#ifndef PYMINOR
#define PYMINOR 12
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

typedef struct { uintptr_t _value; } _Py_atomic_address;
typedef struct { int _value; } _Py_atomic_int;

struct _gil_runtime_state {
	unsigned long interval;
	_Py_atomic_address last_holder;
	_Py_atomic_int locked;
	unsigned long switch_number;
	pthread_cond_t cond;
	pthread_mutex_t mutex;
	pthread_cond_t switch_cond;
	pthread_mutex_t switch_mutex;
};

struct _ts;

typedef struct _is {
#if PYMINOR >= 12
	struct _is *next;
	long _pad0[4];
	struct pythreads {
		uint64_t next_unique_id;
		struct _ts *head;
		long count;
	} threads;
	int64_t id;
	long _pad1[6];
	struct _ceval_state {
		int recursion_limit;
		struct _gil_runtime_state *gil;
		int own_gil;
	} ceval;
	long _pad2[8];
	struct _gil_runtime_state _gil;
	uint64_t _code_object_generation;
#elif PYMINOR >= 11
	struct _is *next;
	struct pythreads {
		uint64_t next_unique_id;
		struct _ts *head;
		long count;
	} threads;
	int64_t id;
#else
	struct _is *next;
	struct _ts *tstate_head;
#if PYMINOR >= 7
	int64_t id;
#endif
#endif
	long _tail[4];
} PyInterpreterState;

typedef struct _ts {
	struct _ts *prev;
	struct _ts *next;
	PyInterpreterState *interp;
#if PYMINOR == 13
	struct {
		unsigned int initialized:1;
		unsigned int bound:1;
		unsigned int unbound:1;
		unsigned int bound_gilstate:1;
		unsigned int active:1;
		unsigned int holds_gil:1;
		unsigned int finalizing:1;
		unsigned int cleared:1;
		unsigned int finalized:1;
		unsigned int :23;
	} _status;
	int _whence;
	int state;
#elif PYMINOR >= 14
	struct {
		unsigned int initialized:1;
		unsigned int bound:1;
		unsigned int :30;
	} _status;
	int holds_gil;
#if PYMINOR >= 15
	int gil_requested;
#endif
	int _whence;
	int state;
#endif
	long _pad[10];
	unsigned long thread_id;
#if PYMINOR >= 11
	unsigned long native_thread_id;
#endif
	long _tail[4];
} PyThreadState;

#if PYMINOR >= 7
typedef struct pyruntimestate {
	int _initialized;
	long _pad[6];
	struct pyinterpreters {
		void *mutex;
		PyInterpreterState *head;
		PyInterpreterState *main;
		int64_t next_id;
	} interpreters;
#if PYMINOR <= 11
	struct _ceval_runtime_state {
		int recursion_limit;
		int tracing_possible;
		struct _gil_runtime_state gil;
	} ceval;
#endif
	long _tail[4];
} _PyRuntimeState;

#if PYMINOR >= 12
__attribute__((section(".PyRuntime")))
#endif
_PyRuntimeState _PyRuntime = { 1, { 0 }, { 0, 0, 0, 0 }, };
#else
/* 3.6: the GIL is a set of statics, and the list head too. */
static struct {
	long gil_locked;
	_Py_atomic_address gil_last_holder;
	unsigned long gil_switch_number;
	unsigned long interval;
	pthread_cond_t gil_cond;
	pthread_mutex_t gil_mutex;
	pthread_cond_t switch_cond;
	pthread_mutex_t switch_mutex;
} gil_statics = { -1, { 0 }, 0, 5000, };
static PyInterpreterState *interp_head;
_Py_atomic_address _PyThreadState_Current;
PyInterpreterState **py_interp_head(void) { return &interp_head; }
long *py_gil(void) { return &gil_statics.gil_locked; }
#endif

PyInterpreterState py_main_interp;
PyThreadState py_main_tstate;

#if PYMINOR >= 11
const unsigned long Py_Version = 0x03000000ul | (PYMINOR << 16) | 0x01f0;
#endif
const char py_version_string[] = "3." STR(PYMINOR) ".1 (main, Jan  1 2024, 00:00:00) [GCC]";
