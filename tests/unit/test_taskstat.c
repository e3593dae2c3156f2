/* /proc parsers and the role classifier, fed with text in the exact
 * shapes the kernel prints. */
#include <string.h>
#include <sys/syscall.h>

#include "sample/classify.h"
#include "proc/taskstat.h"
#include "unit.h"

static void test_stat(void)
{
	struct gs_taskstat ts = { 0 };
	/* comm with spaces and a ')' must not shift the fields. */
	const char *line = "4242 (evil) name) S 1 4242 4242 0 -1 4194368 100 0 0 0 "
		"5 6 0 0 20 0 3 0 123 1000 200 18446744073709551615 1 1 0 0 0 0 0 "
		"4096 0 0 0 0 17 1 0 0 0 0 0\n";
	UNIT_EQ_INT(gs_parse_stat(line, strlen(line), &ts), 0, "stat parses");
	UNIT_EQ_INT(ts.state, 'S', "stat state after a comm with ')'");
	UNIT_EQ_INT(ts.processor, 1, "stat processor is field 39");
	UNIT_CHECK(gs_parse_stat("12 (x", 5, &ts) < 0, "truncated stat rejected");
	UNIT_CHECK(gs_parse_stat("12 (x) R 1 2", 12, &ts) < 0, "short stat rejected");
	/* Found by fuzz/fuzz_procfs: when the buffer ends in the digits of
	 * field 39, nothing past len may be read (here: more digits). */
	{
		char cut[200] = "1 (x) R";
		for (int i = 0; i < 35; i++)
			strcat(cut, " 0");
		strcat(cut, " 7");
		size_t n = strlen(cut);
		strcat(cut, "99999");
		UNIT_EQ_INT(gs_parse_stat(cut, n, &ts), 0, "stat cut after field 39 parses");
		UNIT_EQ_INT(ts.processor, 7, "processor read within len only");
	}
}

static void test_syscall(void)
{
	struct gs_taskstat ts = { 0 };
	const char *fx = "202 0x7f0000001048 0x89 0x0 0x7ffd00000000 0x0 0xffffffff 0x7ffd0 0x7f00\n";
	UNIT_EQ_INT(gs_parse_syscall(fx, strlen(fx), &ts), 0, "futex line parses");
	UNIT_EQ_INT(ts.syscall_nr, 202, "futex nr");
	UNIT_CHECK(ts.syscall_args[0] == 0x7f0000001048ull, "futex address");
	UNIT_CHECK(ts.syscall_args[1] == 0x89, "futex op");
	UNIT_EQ_INT(gs_parse_syscall("running\n", 8, &ts), 0, "running parses");
	UNIT_EQ_INT(ts.syscall_nr, GS_SYSCALL_RUNNING, "running");
	UNIT_EQ_INT(gs_parse_syscall("-1 0x7ffd 0x7f00\n", 17, &ts), 0, "no-syscall parses");
	UNIT_EQ_INT(ts.syscall_nr, GS_SYSCALL_NONE, "blocked outside a syscall");
	UNIT_CHECK(gs_parse_syscall("garbage", 7, &ts) < 0, "garbage rejected");
	UNIT_CHECK(gs_parse_syscall("7 0x1", 5, &ts) < 0, "too few args rejected");
}

static void test_schedstat(void)
{
	struct gs_taskstat ts = { 0 };
	UNIT_EQ_INT(gs_parse_schedstat("123456 789 10\n", 14, &ts), 0, "schedstat parses");
	UNIT_CHECK(ts.run_ns == 123456 && ts.wait_ns == 789, "schedstat values");
	UNIT_CHECK(gs_parse_schedstat("x", 1, &ts) < 0, "bad schedstat rejected");
}

static void test_names(void)
{
	UNIT_EQ_STR(gs_syscall_name(202), "futex", "syscall 202 is futex");
	UNIT_EQ_STR(gs_syscall_name(75), "fdatasync", "syscall 75 is fdatasync");
	UNIT_CHECK(gs_syscall_name(-1) == NULL, "negative nr has no name");
	UNIT_CHECK(gs_syscall_name(100000) == NULL, "huge nr has no name");
}

static void test_classify(void)
{
	struct gs_gil_addrs g = { 0 };
	g.base = 0x1000;
	g.cond = 0x1020; g.cond_end = 0x1050;
	g.mutex = 0x1050; g.mutex_end = 0x1078;
	g.switch_cond = 0x1078; g.switch_cond_end = 0x10a8;
	g.switch_mutex = 0x10a8; g.switch_mutex_end = 0x10d0;
	struct gs_gil_words w = { .locked = 1, .last_holder = 0xaaa0 };
	struct gs_taskstat run = { .state = 'R', .syscall_nr = GS_SYSCALL_RUNNING };
	struct gs_taskstat sleep = { .state = 'S', .syscall_nr = SYS_nanosleep };
	struct gs_taskstat wait = { .state = 'S', .syscall_nr = SYS_futex,
				    .syscall_args = { 0x1048 } };
	struct gs_taskstat handoff = { .state = 'S', .syscall_nr = SYS_futex,
				       .syscall_args = { 0x10a0 } };
	struct gs_classify_in in = { .tstate = 0xaaa0, .holds_gil = -1,
				     .gil_requested = -1, .now = &run };

	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_HELD, "holder on CPU");
	in.now = &sleep;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_HELD_OFFCPU, "holder asleep");
	in.holds_gil = 0;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_UNKNOWN,
		    "holds_gil disagreeing with the GIL words is a torn sample");
	in.holds_gil = -1;
	w.locked = 0;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_IDLE,
		    "last_holder after release is not holding");
	w.locked = 1;
	in.tstate = 0xbbb0;
	in.now = &wait;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_WAITING, "futex on cond is waiting");
	in.now = &handoff;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_HANDOFF, "futex on switch_cond is handoff");
	in.now = &run;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_RUNNING, "running without the GIL");
	in.tstate = 0;
	in.now = &sleep;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_IDLE, "native thread asleep is idle");
	in.tstate = 0xaaa0;
	in.now = &wait;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_WAITING,
		    "a named holder already on the GIL futex has let go");

	struct gs_taskstat prev = { .state = 'R', .run_ns = 100, .wait_ns = 50 };
	struct gs_taskstat preempted = { .state = 'R', .run_ns = 100, .wait_ns = 90,
					 .syscall_nr = GS_SYSCALL_RUNNING };
	in.now = &preempted;
	in.prev = &prev;
	UNIT_EQ_INT(gs_classify(&g, &w, &in), GS_ROLE_HELD_OFFCPU,
		    "runnable holder that only queued is off CPU");
}

int main(void)
{
	test_stat();
	test_syscall();
	test_schedstat();
	test_names();
	test_classify();
	return unit_done();
}
