/* The one bucket scheme behind every latency percentile (core/hist.h). */
#include <string.h>

#include "core/hist.h"

#define SUB_BITS 4 /* log2(GS_HIST_SUB) */

/* The small histogram's range in gs_hist buckets: [SMALL_LO, SMALL_HI]
 * are its own, 2^10 to 2^37 - 1 ns; index 0 takes everything below
 * (read back as bucket SMALL_LO - 1, whose upper bound is 1023 ns) and
 * the last index everything above (read back as the last bucket, whose
 * bound is clamped to the maximum). */
#define SMALL_LO (7 * GS_HIST_SUB)        /* bucket of 2^10 */
#define SMALL_HI (34 * GS_HIST_SUB - 1)   /* bucket of 2^37 - 1 */

static unsigned bucket(uint64_t v)
{
	if (v < GS_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - SUB_BITS;
	return (shift + 1) * GS_HIST_SUB + (unsigned)((v >> shift) & (GS_HIST_SUB - 1));
}

/* The upper bound of bucket b, so quantiles never understate latency. */
static uint64_t upper(unsigned b)
{
	if (b < GS_HIST_SUB)
		return b;
	unsigned shift = b / GS_HIST_SUB - 1;
	uint64_t base = (uint64_t)(GS_HIST_SUB + b % GS_HIST_SUB) << shift;
	return base + ((1ull << shift) - 1);
}

void gs_hist_add(struct gs_hist *h, uint64_t v)
{
	h->b[bucket(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

uint64_t gs_hist_quantile(const struct gs_hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n + 0.5);
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < GS_HIST_BUCKETS; b++) {
		seen += h->b[b];
		if (seen >= want) {
			uint64_t v = upper(b);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void gs_hist_merge(struct gs_hist *into, const struct gs_hist *from)
{
	for (unsigned b = 0; b < GS_HIST_BUCKETS; b++)
		into->b[b] += from->b[b];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

void gs_hist_small_add(struct gs_hist_small *h, uint64_t v)
{
	unsigned b = bucket(v);
	unsigned i = b < SMALL_LO ? 0 : b > SMALL_HI ? GS_HIST_SMALL_BUCKETS - 1
		: b - SMALL_LO + 1;
	if (h->b[i] == UINT16_MAX)
		return;
	h->b[i]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

void gs_hist_merge_small(struct gs_hist *into, const struct gs_hist_small *from)
{
	if (!from->n)
		return;
	into->b[SMALL_LO - 1] += from->b[0];
	for (unsigned i = 1; i + 1 < GS_HIST_SMALL_BUCKETS; i++)
		into->b[SMALL_LO + i - 1] += from->b[i];
	into->b[GS_HIST_BUCKETS - 1] += from->b[GS_HIST_SMALL_BUCKETS - 1];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}
