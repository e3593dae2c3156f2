#include <stdio.h>
#include <time.h>

#include "core/clock.h"

uint64_t gs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void gs_wall_of(uint64_t mono_ns, struct timespec *out)
{
	struct timespec real;
	uint64_t now = gs_now_ns();
	clock_gettime(CLOCK_REALTIME, &real);
	int64_t back = (int64_t)(now - mono_ns);   /* negative: the future */
	int64_t ns = (int64_t)real.tv_sec * 1000000000ll + real.tv_nsec - back;
	out->tv_sec = (time_t)(ns / 1000000000ll);
	out->tv_nsec = (long)(ns % 1000000000ll);
	if (out->tv_nsec < 0) {
		out->tv_nsec += 1000000000l;
		out->tv_sec--;
	}
}

void gs_wall_fmt(char *buf, size_t n, const struct timespec *ts)
{
	struct tm tm;
	char date[32], off[8];
	time_t t = ts->tv_sec;
	if (!n)
		return;
	buf[0] = 0;
	if (!localtime_r(&t, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) ||
	    strftime(off, sizeof off, "%z", &tm) != 5)
		return;
	/* ISO 8601 wants the offset's colon, which %z leaves out. */
	snprintf(buf, n, "%s.%03ld%.3s:%s", date, ts->tv_nsec / 1000000, off, off + 3);
}
