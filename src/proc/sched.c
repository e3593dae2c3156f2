/* /proc/PID/task/TID/sched: se.exec_start, printed by the kernel's
 * PN() as milliseconds with six decimals ("%Ld.%06ld"). */
#include <sched.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc/readfile.h"
#include "proc/sched.h"

int gs_parse_sched_exec_start(const char *buf, size_t len, uint64_t *ns)
{
	static const char key[] = "se.exec_start";
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > sizeof key - 1 &&
		    memcmp(p, key, sizeof key - 1) == 0 &&
		    (p[sizeof key - 1] == ' ' || p[sizeof key - 1] == ':')) {
			const char *s = p + sizeof key - 1;
			uint64_t ms = 0, frac = 0;
			int nd = 0, ni = 0;
			while (s < le && (*s == ' ' || *s == '\t'))
				s++;
			if (s == le || *s++ != ':')
				return -1;
			while (s < le && (*s == ' ' || *s == '\t'))
				s++;
			for (; s < le && *s >= '0' && *s <= '9'; s++, ni++) {
				if (ms > (UINT64_MAX / 1000000u - 9) / 10)
					return -1;
				ms = ms * 10 + (uint64_t)(*s - '0');
			}
			if (!ni)
				return -1;
			if (s < le && *s == '.')
				for (s++; s < le && *s >= '0' && *s <= '9'; s++)
					if (nd < 6) {
						frac = frac * 10 + (uint64_t)(*s - '0');
						nd++;
					}
			while (nd < 6) {
				frac *= 10;
				nd++;
			}
			*ns = ms * 1000000u + frac;
			return 0;
		}
		p = nl ? nl + 1 : end;
	}
	return -1;
}

int gs_sched_exec_start(pid_t pid, pid_t tid, uint64_t *ns)
{
	char path[64], buf[8192];
	ssize_t n;

	if (tid)
		snprintf(path, sizeof path, "/proc/%d/task/%d/sched", (int)pid, (int)tid);
	else
		snprintf(path, sizeof path, "/proc/thread-self/sched");
	if ((n = gs_read_file(path, buf, sizeof buf)) <= 0)
		return -1;
	return gs_parse_sched_exec_start(buf, (size_t)n, ns);
}

int gs_sched_now_on(int cpu, uint64_t *ns)
{
	cpu_set_t old, one;
	int rc;

	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof old, &old) != 0)
		return -1;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof one, &one) != 0)
		return -1;
	/* Waking up on that CPU sets exec_start to its clock. */
	nanosleep(&(struct timespec){ 0, 1000 }, NULL);
	rc = gs_sched_exec_start(0, 0, ns);
	sched_setaffinity(0, sizeof old, &old);
	return rc;
}
