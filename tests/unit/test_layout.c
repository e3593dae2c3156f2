/* gs_layout_init and gs_layout_missing (include/layout.h): a fresh layout
 * has every field absent; a layout with every field present is complete
 * for every supported version; dropping a field every reader needs makes
 * it incomplete, and the answer names a field. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "layout/layout.h"
#include "unit.h"

#define F(name) { #name, offsetof(struct gs_layout, name) }
static const struct {
	const char *name;
	size_t off;
} fields[] = {
	F(rt_interpreters_head), F(rt_interpreters_main), F(rt_gil),
	F(interp_next), F(interp_threads_head), F(interp_id),
	F(interp_ceval_gil), F(interp_gil),
	F(ts_next), F(ts_interp), F(ts_thread_id), F(ts_native_thread_id),
	F(ts_holds_gil), F(ts_state), F(ts_gil_requested),
	F(gil_interval), F(gil_last_holder), F(gil_locked),
	F(gil_switch_number), F(gil_cond), F(gil_mutex), F(gil_switch_cond),
	F(gil_switch_mutex),
};
#undef F
#define NFIELDS (sizeof fields / sizeof fields[0])

static struct gs_field *field(struct gs_layout *l, size_t i)
{
	return (struct gs_field *)((char *)l + fields[i].off);
}

static void complete_layout(struct gs_layout *l)
{
	gs_layout_init(l);
	for (size_t i = 0; i < NFIELDS; i++) {
		field(l, i)->off = (int64_t)(8 * (i + 1));
		field(l, i)->size = 8;
	}
	l->holds_gil_mask = 0x20;
	l->gil_size = 208;
}

static void test_init(void)
{
	struct gs_layout l;
	char name[96];

	/* Garbage first, so init has to write every field. */
	memset(&l, 0x5a, sizeof l);
	gs_layout_init(&l);
	for (size_t i = 0; i < NFIELDS; i++) {
		snprintf(name, sizeof name, "init: %s is GS_NOFF", fields[i].name);
		UNIT_EQ_INT(field(&l, i)->off, GS_NOFF, name);
	}
}

static void test_missing(void)
{
	struct gs_layout l;
	char name[96];

	for (int minor = 6; minor <= 15; minor++) {
		gs_layout_init(&l);
		const char *miss = gs_layout_missing(&l, 3, minor);
		snprintf(name, sizeof name, "3.%d: empty layout is incomplete", minor);
		if (UNIT_CHECK(miss != NULL, name)) {
			snprintf(name, sizeof name, "3.%d: the answer is a field name", minor);
			UNIT_CHECK(miss[0] != 0, name);
		}

		complete_layout(&l);
		snprintf(name, sizeof name, "3.%d: full layout is complete", minor);
		UNIT_EQ_STR(gs_layout_missing(&l, 3, minor), NULL, name);
	}

	/* Fields without which no version's thread list can be walked. */
	static const char *const always[] = { "ts_next", "interp_threads_head" };
	/* Fields without which 3.7+ cannot tell who holds the GIL. */
	static const char *const gil[] = { "gil_locked", "gil_last_holder" };

	for (int minor = 6; minor <= 15; minor++) {
		for (size_t i = 0; i < NFIELDS; i++) {
			int needed = 0;
			for (size_t k = 0; k < 2; k++)
				if (!strcmp(fields[i].name, always[k]) ||
				    (minor >= 7 && !strcmp(fields[i].name, gil[k])))
					needed = 1;
			if (!needed)
				continue;
			complete_layout(&l);
			field(&l, i)->off = GS_NOFF;
			field(&l, i)->size = 0;
			const char *miss = gs_layout_missing(&l, 3, minor);
			snprintf(name, sizeof name, "3.%d: missing %s is noticed",
				 minor, fields[i].name);
			if (UNIT_CHECK(miss != NULL, name)) {
				snprintf(name, sizeof name,
					 "3.%d: missing %s is the field named",
					 minor, fields[i].name);
				/* Named as the struct gs_layout member, so that
				 * a debug message can be grepped for. */
				UNIT_EQ_STR(miss, fields[i].name, name);
			}
		}
	}
}

int main(void)
{
	test_init();
	test_missing();
	return unit_done();
}
