/* Native function names: suffixes and the functions that matter. */
#include <string.h>

#include "stack/symname.h"

/* A suffix word GCC or LLVM appends to a clone or a split part. */
static int suffix_word(const char *w, size_t n)
{
	static const char *const words[] = {
		"cold", "constprop", "isra", "part", "lto_priv", "localalias",
		"llvm", "clone", "specialized",
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
			return 1;
	return 0;
}

static int digits(const char *w, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (w[i] < '0' || w[i] > '9')
			return 0;
	return 1;
}

/* The rest of the name after a '.' is nothing but suffix words, each
 * perhaps followed by a number. */
static int all_suffixes(const char *s, size_t n)
{
	int need_word = 1;
	while (n) {
		const char *dot = memchr(s, '.', n);
		size_t w = dot ? (size_t)(dot - s) : n;
		if (suffix_word(s, w))
			need_word = 0;
		else if (need_word || !digits(s, w))
			return 0;
		if (!dot)
			return 1;
		s += w + 1;
		n -= w + 1;
		if (!n)
			return 0; /* a trailing '.' */
	}
	return 0;
}

size_t gs_symname_base(const char *name, char *buf, size_t n)
{
	size_t len = 0;
	if (!n)
		return 0;
	if (!name) {
		buf[0] = 0;
		return 0;
	}
	const char *at = strchr(name, '@');
	len = at ? (size_t)(at - name) : strlen(name);
	/* The first '.' (not leading: "._foo" is a name) after which only
	 * suffixes follow is where the function's own name ends. */
	for (size_t i = 1; i < len; i++)
		if (name[i] == '.' && all_suffixes(name + i + 1, len - i - 1)) {
			len = i;
			break;
		}
	if (len >= n)
		len = n - 1;
	memcpy(buf, name, len);
	buf[len] = 0;
	return len;
}

enum gs_fn_kind gs_symname_kind(const char *name)
{
	static const char *const gil[] = {
		"take_gil", "drop_gil", "PyEval_RestoreThread", "PyEval_SaveThread",
		"PyEval_AcquireThread", "PyEval_ReleaseThread", "PyEval_AcquireLock",
		"PyEval_ReleaseLock", "PyGILState_Ensure", "PyGILState_Release",
		"_PyThreadState_Attach", "_PyThreadState_Detach",
		"_PyEval_AcquireLock", "_PyEval_ReleaseLock",
		/* The eval breaker's handler: where a running thread that
		 * was asked to drop the GIL waits to take it back. */
		"_Py_HandlePending", "eval_frame_handle_pending",
	};
	char base[256];
	if (!name)
		return GS_FN_OTHER;
	gs_symname_base(name, base, sizeof base);
	if (strstr(base, "_PyEval_EvalFrameDefault") ||
	    strncmp(base, "_TAIL_CALL_", 11) == 0)
		return GS_FN_EVAL;
	for (size_t i = 0; i < sizeof gil / sizeof gil[0]; i++)
		if (strcmp(base, gil[i]) == 0)
			return GS_FN_GIL;
	return GS_FN_OTHER;
}
