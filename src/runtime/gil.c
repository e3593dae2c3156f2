/* Where the main interpreter's GIL is. */
#include <string.h>

#include "core/errors.h"
#include "layout/layout.h"
#include "runtime/gil.h"
#include "runtime/process.h"
#include "runtime/threads.h"

struct static_gil {
	const char *name;
	uint64_t value, size;
};

static int gil_36(struct gs_target *t, struct gs_elf *e)
{
	struct static_gil s[] = {
		{ "gil_locked", 0, 0 }, { "gil_last_holder", 0, 0 },
		{ "gil_switch_number", 0, 0 }, { "gil_cond", 0, 0 },
		{ "gil_mutex", 0, 0 }, { "switch_cond", 0, 0 },
		{ "switch_mutex", 0, 0 }, { "gil_interval", 0, 0 },
		{ "interp_head", 0, 0 },
	};
	uint64_t b = t->obj.load_bias;

	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		if (gs_elf_symbol(e, s[i].name, &s[i].value, &s[i].size) != 0) {
			gs_debug("3.6 static %s missing from %s", s[i].name,
				 t->obj.open_path);
			return gs_fail(GS_EUNSUPPORTED, "Python 3.6 without a symbol "
				       "table (stripped) is not supported: "
				       "gilsnoop needs the static GIL variables "
				       "from .symtab");
		}
		gs_debug("3.6 static %s at 0x%llx size %llu", s[i].name,
			 (unsigned long long)(b + s[i].value),
			 (unsigned long long)s[i].size);
	}
	struct gs_gil_addrs *g = &t->gil;
	memset(g, 0, sizeof *g);
	g->locked = b + s[0].value;
	g->last_holder = b + s[1].value;
	g->switch_number = b + s[2].value;
	g->cond = b + s[3].value;
	g->cond_end = g->cond + s[3].size;
	g->mutex = b + s[4].value;
	g->mutex_end = g->mutex + s[4].size;
	g->switch_cond = b + s[5].value;
	g->switch_cond_end = g->switch_cond + s[5].size;
	g->switch_mutex = b + s[6].value;
	g->switch_mutex_end = g->switch_mutex + s[6].size;
	g->interval = b + s[7].value;
	t->interp_head_addr = b + s[8].value;
	return 0;
}

static int need_field(const struct gs_target *t, struct gs_field f,
		      const char *name)
{
	if (f.off != GS_NOFF)
		return 0;
	return gs_fail(GS_EUNSUPPORTED, "the layout for Python %s (%s) lacks %s",
		       t->ver.str, gs_layout_source_name(t->source), name);
}

/* The main interpreter is created first and new ones are pushed at the
 * head, so without a `main` pointer it is the last one in the list. */
static int main_interp(struct gs_target *t, uint64_t *out)
{
	uint64_t p, last = 0;
	int rc;

	if (t->layout.rt_interpreters_main.off != GS_NOFF) {
		uint64_t a = t->runtime_addr + (uint64_t)t->layout.rt_interpreters_main.off;
		if ((rc = gs_target_read_u64(t, "interpreters.main", a, out)))
			return rc;
		return *out ? 0 : gs_target_not_initialised(t);
	}
	if ((rc = need_field(t, t->layout.interp_next, "PyInterpreterState.next")))
		return rc;
	if ((rc = gs_target_read_u64(t, "interpreters.head", t->interp_head_addr, &p)))
		return rc;
	for (int n = 0; p; n++) {
		if (n == GS_MAX_INTERPS)
			return gs_fail(GS_EFAIL, "the interpreter list of process "
				       "%d does not end within %d entries",
				       (int)t->pid, GS_MAX_INTERPS);
		last = p;
		if ((rc = gs_target_read_u64(t, "PyInterpreterState.next",
				   p + (uint64_t)t->layout.interp_next.off, &p)))
			return rc;
	}
	*out = last;
	return last ? 0 : gs_target_not_initialised(t);
}

int gs_resolve_gil(struct gs_target *t, struct gs_elf *e)
{
	int rc;
	uint64_t head;

	if (t->ver.minor == 6) {
		if ((rc = gil_36(t, e)))
			return rc;
	} else {
		if ((rc = need_field(t, t->layout.rt_interpreters_head,
				     "_PyRuntime.interpreters.head")))
			return rc;
		t->interp_head_addr = t->runtime_addr +
				      (uint64_t)t->layout.rt_interpreters_head.off;
		if (t->layout.rt_gil.off != GS_NOFF) {
			gs_gil_addrs_from_base(&t->layout, t->runtime_addr +
					       (uint64_t)t->layout.rt_gil.off, &t->gil);
		} else {
			uint64_t interp, gil;
			if ((rc = need_field(t, t->layout.interp_ceval_gil,
					     "PyInterpreterState.ceval.gil")))
				return rc;
			if ((rc = main_interp(t, &interp)))
				return rc;
			if ((rc = gs_target_read_u64(t, "ceval.gil", interp +
					   (uint64_t)t->layout.interp_ceval_gil.off,
					   &gil)))
				return rc;
			gs_debug("main interpreter 0x%llx, ceval.gil -> 0x%llx",
				 (unsigned long long)interp, (unsigned long long)gil);
			if (!gil)
				return gs_target_not_initialised(t);
			gs_gil_addrs_from_base(&t->layout, gil, &t->gil);
			t->main_interp = interp;
		}
	}
	if ((rc = gs_target_read_u64(t, "the interpreter list head", t->interp_head_addr,
			   &head)))
		return rc;
	gs_debug("interpreter list head at 0x%llx -> 0x%llx",
		 (unsigned long long)t->interp_head_addr, (unsigned long long)head);
	if (!head)
		return gs_target_not_initialised(t);

	if (!t->gil.locked)
		return gs_fail(GS_EUNSUPPORTED, "the layout for Python %s (%s) "
			       "lacks _gil_runtime_state.locked", t->ver.str,
			       gs_layout_source_name(t->source));
	int32_t locked;
	if (gs_mem_read_i32(&t->mem, t->gil.locked, &locked) != 0)
		return gs_target_mem_fail(t, "the GIL", t->gil.locked);
	gs_debug("GIL at 0x%llx: locked at 0x%llx reads %d",
		 (unsigned long long)t->gil.base,
		 (unsigned long long)t->gil.locked, (int)locked);
	if (locked == -1) {
		if (t->ver.minor == 6)
			return gs_fail(GS_ENOTPY, "Python 3.6 process %d has no GIL "
				       "yet: 3.6 creates it when the first thread "
				       "starts", (int)t->pid);
		return gs_target_not_initialised(t);
	}
	if (locked != 0 && locked != 1)
		return gs_fail(GS_EUNSUPPORTED, "the GIL of process %d reads "
			       "locked=%d: the layout for Python %s (%s) does not "
			       "match this build", (int)t->pid, (int)locked,
			       t->ver.str, gs_layout_source_name(t->source));
	return 0;
}

