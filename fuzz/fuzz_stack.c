/* libFuzzer harness: the parsers of the native-stack stage on arbitrary
 * bytes: gs_ehhdr_parse (include/stack/ehframe.h: .eh_frame_hdr read
 * from the target's memory), gs_symname_base and gs_symname_kind
 * (include/stack/symname.h: symbol names from the target's objects),
 * gs_parse_sched_exec_start (include/proc/sched.h), gs_merge_plan and
 * gs_merge_eval_by_anchor (include/stack/merge.h) on flags, stack
 * pointers and anchors taken from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc/sched.h"
#include "stack/ehframe.h"
#include "stack/merge.h"
#include "stack/symname.h"

#define MAXF 256

static void merge(const uint8_t *d, size_t n)
{
	unsigned char ev[MAXF], en[MAXF];
	size_t first[MAXF], count[MAXF], nn = 0, np = 0;
	struct gs_merge m;

	/* Bits 0-1 of each byte: native frame / its eval flag; bits 2-3:
	 * Python frame / its entry flag. */
	for (size_t i = 0; i < n && (nn < MAXF && np < MAXF); i++) {
		if (d[i] & 1)
			ev[nn++] = (d[i] >> 1) & 1;
		if (d[i] & 4)
			en[np++] = (d[i] >> 3) & 1;
	}
	gs_merge_plan(ev, nn, en, np, first, count, &m);
	size_t evals = 0, entries = 0, next = 0, owned = 0;
	for (size_t i = 0; i < nn; i++)
		evals += ev[i];
	for (size_t j = 0; j < np; j++)
		entries += en[j];
	FUZZ_ASSERT(m.eval_frames == evals && m.entries == entries, "counts are counts");
	for (size_t i = 0; i < nn; i++) {
		if (!m.ok || !ev[i]) {
			FUZZ_ASSERT(count[i] == 0, "only eval frames of a merge own frames");
			continue;
		}
		FUZZ_ASSERT(count[i] >= 1, "every eval frame owns a frame");
		FUZZ_ASSERT(first[i] == next, "groups follow each other in order");
		FUZZ_ASSERT(first[i] + count[i] <= np, "groups stay in the stack");
		FUZZ_ASSERT(en[first[i] + count[i] - 1], "a group ends at an entry frame");
		for (size_t k = first[i]; k + 1 < first[i] + count[i]; k++)
			FUZZ_ASSERT(!en[k], "no entry frame inside a group");
		next = first[i] + count[i];
		owned += count[i];
	}
	if (m.ok)
		FUZZ_ASSERT(owned == np, "a merge places every Python frame");
	else
		FUZZ_ASSERT(evals != entries || (np && !en[np - 1]), "refused only for a reason");
}

/* Eval frames from anchors: stack pointers and anchors from the input. */
static void anchors(const uint8_t *d, size_t n)
{
	uint64_t sp[MAXF], an[16];
	unsigned char inl[MAXF], ev[MAXF];
	size_t nn = 0, na = 0;
	uint64_t at = 0x1000;
	for (size_t i = 0; i + 1 < n && nn < MAXF; i += 2) {
		at += d[i] & 0x7f;      /* mostly up, as a stack goes */
		if (d[i] & 0x80)
			at -= d[i + 1];     /* and sometimes down */
		sp[nn] = at;
		inl[nn++] = d[i + 1] & 1;
		if ((d[i + 1] & 6) == 6 && na < 16)
			an[na++] = at + (d[i + 1] >> 3);
	}
	memset(ev, 0, sizeof ev);
	if (gs_merge_eval_by_anchor(sp, inl, nn, at + 64, an, na, ev)) {
		size_t marked = 0;
		for (size_t i = 0; i < nn; i++) {
			if (!ev[i])
				continue;
			marked++;
			FUZZ_ASSERT(!inl[i], "an inlined call is no eval frame");
		}
		FUZZ_ASSERT(marked == na, "one frame per anchor");
	} else {
		for (size_t i = 0; i < nn; i++)
			FUZZ_ASSERT(!ev[i], "a refusal marks nothing");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gs_ehhdr h;
	uint64_t addr = 0x7f0000001000ull, ns;

	if (gs_ehhdr_parse(data, size, addr, &h) == 0) {
		FUZZ_ASSERT(h.table >= addr + 4 && h.table - addr <= size,
			    "the table starts inside what was read");
		if (h.searchable)
			FUZZ_ASSERT(h.fde_count > 0 && h.fde_count < (1u << 28),
				    "a searchable table has a sane count");
	}

	char *s = malloc(size + 1), base[128];
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	size_t bl = gs_symname_base(s, base, sizeof base);
	FUZZ_ASSERT(bl == strlen(base) && bl < sizeof base, "length returned");
	FUZZ_ASSERT(strncmp(base, s, bl) == 0, "the base is a prefix of the name");
	(void)gs_symname_kind(s);
	free(s);

	(void)gs_parse_sched_exec_start((const char *)data, size, &ns);

	merge(data, size);
	anchors(data, size);
	return 0;
}
