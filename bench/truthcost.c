/* What tests/truth/libgiltruth.so costs a target per mutex call.
 *
 *   bench/truthcost [N]
 *
 * Times N lock/unlock pairs of an uncontended mutex (default 10^7) and
 * prints ns per pair.  Run it plain, then with
 * LD_PRELOAD=tests/truth/libgiltruth.so GS_TRUTH_OUT=FILE: it then times
 * the pairs once on a mutex that is not the armed one (what every mutex
 * of a target but the GIL's pays) and once more after arming the
 * library with its own mutex's address, as the accuracy test arms it
 * with the GIL's (every pair logged: two events).  bench/README.md
 * quotes the figures. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double pairs(pthread_mutex_t *m, long n)
{
	uint64_t t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* Write the header fields the test writes (giltruth.py arm()). */
static int arm(const char *path, pthread_mutex_t *m, const int *locked)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	uint64_t l = (uint64_t)(uintptr_t)locked, a = (uint64_t)(uintptr_t)m;
	int ok = pwrite(fd, &l, 8, 16) == 8 && pwrite(fd, &a, 8, 8) == 8;
	close(fd);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000L;
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	static int locked = 1;
	if (n <= 0) {
		fprintf(stderr, "truthcost: N must be a positive count\n");
		return 2;
	}
	pairs(&m, n / 10); /* warm up */
	printf("plain mutex: %.1f ns per lock/unlock pair\n", pairs(&m, n));
	const char *out = getenv("GS_TRUTH_OUT");
	if (out && getenv("LD_PRELOAD")) {
		if (arm(out, &m, &locked) != 0) {
			fprintf(stderr, "truthcost: cannot arm %s\n", out);
			return 1;
		}
		printf("armed mutex: %.1f ns per lock/unlock pair (two events logged)\n",
		       pairs(&m, n));
	}
	return 0;
}
