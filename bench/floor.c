/* What any sampler that sleeps between samples pays per sample on this
 * machine, next to a running target: the floor under gilsnoop's own
 * CPU time per sample (bench/cost.py).
 *
 *     bench/floor PID [SECONDS]
 *
 * Three loops at 1000 Hz (absolute clock_nanosleep steps, as the
 * sampler paces itself), SECONDS each (default 3): the wakeup alone;
 * plus one 64-byte process_vm_readv of PID's memory (the start of its
 * [heap]); plus one pread of a kept-open /proc/PID/task/PID/stat.
 * Prints the CPU time (user + system, getrusage) per iteration of each.
 * Start the target first: a target that keeps the CPUs busy makes every
 * wakeup a context switch away from it, which is what the sampler
 * meets. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static unsigned long heap_start(pid_t pid)
{
	char path[64], line[512];
	unsigned long lo = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "[heap]")) {
			lo = strtoul(line, NULL, 16);
			break;
		}
	fclose(f);
	return lo;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench/floor PID [SECONDS]\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[1]);
	double secs = argc > 2 ? atof(argv[2]) : 3.0;
	long n = (long)(secs * 1000);
	unsigned long addr = heap_start(pid);
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pid <= 0 || n <= 0 || !addr || fd < 0) {
		fprintf(stderr, "bench/floor: process %s: no [heap] or no %s\n", argv[1], path);
		return 1;
	}
	static const char *const what[] = {
		"wakeup (clock_nanosleep, 1 ms steps)",
		"+ one 64 B process_vm_readv",
		"+ one pread of task stat",
	};
	for (int mode = 0; mode < 3; mode++) {
		char buf[512];
		struct timespec t;
		long failed = 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		double c0 = cpu_us();
		for (long i = 0; i < n; i++) {
			t.tv_nsec += 1000000;
			if (t.tv_nsec >= 1000000000) {
				t.tv_nsec -= 1000000000;
				t.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
			if (mode >= 1) {
				struct iovec l = { buf, 64 }, r = { (void *)addr, 64 };
				failed += process_vm_readv(pid, &l, 1, &r, 1, 0) != 64;
			}
			if (mode >= 2)
				failed += pread(fd, buf, sizeof buf, 0) <= 0;
		}
		printf("%-40s %6.1f us CPU per iteration%s\n", what[mode],
		       (cpu_us() - c0) / (double)n, failed ? "  (some reads failed)" : "");
	}
	close(fd);
	return 0;
}
