/* libFuzzer harness: the /proc parsers, on arbitrary bytes that are not
 * NUL-terminated (the headers take a pointer and a length):
 * gs_maps_parse (include/procmaps.h) and gs_parse_stat,
 * gs_parse_syscall, gs_parse_schedstat (include/taskstat.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/errors.h"
#include "proc/maps.h"
#include "proc/taskstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct gs_maps m;
	struct gs_taskstat ts;

	if (gs_maps_parse(s, size, &m) == 0) {
		for (size_t i = 0; i < m.n; i++) {
			const struct gs_map *g = &m.v[i];
			FUZZ_ASSERT(g->start <= g->end, "start <= end");
			FUZZ_ASSERT(memchr(g->path, 0, sizeof g->path) != NULL,
				    "path is terminated");
			FUZZ_ASSERT(strlen(g->perms) == 4, "four permission letters");
			FUZZ_ASSERT(g->deleted == 0 || g->deleted == 1, "deleted is 0/1");
		}
		gs_maps_free(&m);
		FUZZ_ASSERT(m.v == NULL && m.n == 0, "free empties the list");
	} else {
		FUZZ_ASSERT(m.v == NULL && m.n == 0, "a failed parse leaves nothing");
	}

	memset(&ts, 0, sizeof ts);
	(void)gs_parse_stat(s, size, &ts);
	(void)gs_parse_syscall(s, size, &ts);
	if (ts.syscall_nr >= 0)
		(void)gs_syscall_name(ts.syscall_nr);
	(void)gs_parse_schedstat(s, size, &ts);
	/* Each parser on its own share of the input, too. */
	if (size >= 3) {
		size_t a = size / 3, b = 2 * size / 3;
		(void)gs_parse_stat(s, a, &ts);
		(void)gs_parse_syscall(s + a, b - a, &ts);
		(void)gs_parse_schedstat(s + b, size - b, &ts);
	}
	gs_clear_error();
	return 0;
}
