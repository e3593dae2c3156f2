/* What a native function name means for the GIL story: the function a
 * symbol belongs to once the suffixes of GCC's clones and split parts
 * are gone ("take_gil.constprop.0.cold" is take_gil), whether it is the
 * eval loop (where Python frames hang in a native stack) and whether it
 * takes or drops the GIL. */
#ifndef GS_SYMNAME_H
#define GS_SYMNAME_H

#include <stddef.h>

/* name without a symbol version ("@GLIBC_2.2.5") and without trailing
 * clone/part suffixes (.cold, .cold.N, .constprop.N, .isra.N, .part.N,
 * .lto_priv.N, .localalias, .llvm.N), into buf.  Returns the length of
 * the result (which is cut to fit n). */
size_t gs_symname_base(const char *name, char *buf, size_t n);

enum gs_fn_kind {
	GS_FN_OTHER = 0,
	GS_FN_EVAL,  /* an eval-loop frame: _PyEval_EvalFrameDefault, or a
		      * _TAIL_CALL_ handler of a tail-calling build (3.14+) */
	GS_FN_GIL,   /* takes, drops or waits for the GIL: take_gil,
		      * drop_gil, PyEval_RestoreThread, PyEval_SaveThread,
		      * PyGILState_Ensure, _PyThreadState_Attach, and the
		      * eval breaker's _Py_HandlePending... */
};

/* The kind of the function named (a raw symbol name; NULL is OTHER). */
enum gs_fn_kind gs_symname_kind(const char *name);

#endif
