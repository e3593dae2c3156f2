/* forkbench: what reusing a parent's layout saves when a forked child is
 * picked up (--children).
 *
 *   forkbench PARENT CHILD N   attach to CHILD N times the full way
 *                              (gs_target_attach: maps, ELF, version,
 *                              layout from the cache) and N times from
 *                              PARENT's target (gs_target_attach_forked),
 *                              interleaved
 *
 * Prints one line of "key=value" pairs: the median of each, in
 * microseconds, and how many of the forked attaches reused the layout.
 * Not part of make check: build with `make bench/forkbench`. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/errors.h"
#include "runtime/target.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: forkbench PARENT CHILD N\n");
		return 2;
	}
	pid_t parent = atoi(argv[1]), child = atoi(argv[2]);
	int n = atoi(argv[3]);
	if (n < 1 || n > 10000)
		return 2;
	struct gs_target p, t;
	if (gs_target_attach(&p, parent))
		return gs_report_error();
	double *full = calloc((size_t)n, sizeof *full), *fork = calloc((size_t)n, sizeof *fork);
	int reused_n = 0;
	if (!full || !fork)
		return 1;
	for (int i = 0; i < n; i++) {
		int reused;
		uint64_t t0 = gs_now_ns();
		if (gs_target_attach(&t, child))
			return gs_report_error();
		uint64_t t1 = gs_now_ns();
		if (gs_target_attach_forked(&t, child, &p, &reused))
			return gs_report_error();
		uint64_t t2 = gs_now_ns();
		full[i] = (double)(t1 - t0) / 1e3;
		fork[i] = (double)(t2 - t1) / 1e3;
		reused_n += reused;
	}
	qsort(full, (size_t)n, sizeof *full, cmp);
	qsort(fork, (size_t)n, sizeof *fork, cmp);
	printf("full_us=%.1f forked_us=%.1f ratio=%.1f reused=%d/%d\n", full[n / 2],
	       fork[n / 2], fork[n / 2] > 0 ? full[n / 2] / fork[n / 2] : 0, reused_n, n);
	free(full);
	free(fork);
	return 0;
}
