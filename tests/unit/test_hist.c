/* core/hist.h: quantiles never understate and overstate by less than
 * 1/16, and a gs_hist_small read through a gs_hist gives what a gs_hist
 * fed the same values gives. */
#include <stdint.h>
#include <string.h>

#include "core/hist.h"
#include "unit.h"

static struct gs_hist h, h2;
static struct gs_hist_small sm;

int main(void)
{
	UNIT_EQ_INT(gs_hist_quantile(&h, 0.99), 0, "empty: 0");
	/* 1..100 ms: p50 is 50 ms, p99 99 ms, both bounded above. */
	for (uint64_t v = 1; v <= 100; v++)
		gs_hist_add(&h, v * 1000000);
	uint64_t p50 = gs_hist_quantile(&h, 0.5), p99 = gs_hist_quantile(&h, 0.99);
	UNIT_CHECK(p50 >= 50000000 && p50 < 50000000 + 50000000 / 16, "p50 within 1/16 above");
	UNIT_CHECK(p99 >= 99000000 && p99 <= 100000000, "p99 within bounds, at most the max");
	UNIT_EQ_INT(gs_hist_quantile(&h, 1), 100000000, "p100 is the maximum");
	UNIT_EQ_INT(h.n, 100, "count");

	/* Every value, exact or not, comes back at or above itself. */
	static const uint64_t vals[] = { 0, 1, 15, 16, 17, 1023, 1024, 1500, 999999,
					 123456789, 1ull << 37, (1ull << 37) + 5,
					 1ull << 50, UINT64_MAX };
	int ok = 1, exact = 1;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		memset(&h2, 0, sizeof h2);
		gs_hist_add(&h2, vals[i]);
		gs_hist_add(&h2, vals[i] / 2);
		uint64_t q = gs_hist_quantile(&h2, 0.5);
		if (q < vals[i] / 2 || q - vals[i] / 2 > vals[i] / 2 / 16 + 1)
			ok = 0;
		if (vals[i] < 16 && q != vals[i] / 2)
			exact = 0;
	}
	UNIT_CHECK(ok, "any value comes back within 1/16 above it");
	UNIT_CHECK(exact, "values below 16 ns are exact");

	/* The small one, merged, answers like the big one in its range. */
	memset(&h, 0, sizeof h);
	memset(&h2, 0, sizeof h2);
	for (uint64_t v = 1000; v < 200000000000ull; v = v * 3 / 2 + 7) {
		gs_hist_add(&h, v);
		gs_hist_small_add(&sm, v);
	}
	gs_hist_merge_small(&h2, &sm);
	UNIT_EQ_INT(h2.n, h.n, "merged count");
	UNIT_EQ_INT(h2.max, h.max, "merged maximum");
	int same = 1;
	for (double q = 0.05; q < 1; q += 0.05) {
		uint64_t a = gs_hist_quantile(&h, q), b = gs_hist_quantile(&h2, q);
		/* Below 1 us the small one rounds up to 1023 ns. */
		if (a != b && !(a < 1024 && b == 1023))
			same = 0;
	}
	UNIT_CHECK(same, "small: the same quantiles from 1 us up");
	memset(&sm, 0, sizeof sm);
	memset(&h2, 0, sizeof h2);
	gs_hist_small_add(&sm, 300ull * 1000000000);
	gs_hist_small_add(&sm, 400ull * 1000000000);
	gs_hist_merge_small(&h2, &sm);
	UNIT_EQ_INT(gs_hist_quantile(&h2, 0.5), 400ull * 1000000000,
		    "past 137 s: the maximum, never less");
	memset(&sm, 0, sizeof sm);
	for (int i = 0; i < 70000; i++)
		gs_hist_small_add(&sm, 5000);
	UNIT_EQ_INT(sm.n, 65535, "a full bucket takes no more");

	memset(&h2, 0, sizeof h2);
	gs_hist_add(&h2, 7);
	gs_hist_merge(&h2, &h);
	UNIT_EQ_INT(h2.n, h.n + 1, "merge adds counts");
	UNIT_EQ_INT(gs_hist_quantile(&h2, 0), 7, "merge keeps buckets");
	return unit_done();
}
