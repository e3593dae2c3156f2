/* Minimal unit-test macros.  Each check prints one TAP-like line,
 *     ok N - name
 *     not ok N - name
 *     #   file:line: what went wrong
 * which tests/run-tests counts one by one.  main() ends with
 * `return unit_done();`, which prints the plan and gives the exit status.
 *
 * Header only: every function is static inline so a test that does not
 * use one gets no unused-function warning under -Werror. */
#ifndef GS_UNIT_H
#define GS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_count_;
static int unit_failed_;

static inline int unit_report_(int ok, const char *name)
{
	unit_count_++;
	if (!ok)
		unit_failed_++;
	printf("%sok %d - %s\n", ok ? "" : "not ", unit_count_, name);
	fflush(stdout);
	return ok;
}

/* Print a string for a diagnostic line, with control characters and
 * non-ASCII bytes escaped so the line stays one line. */
static inline void unit_print_escaped_(const char *s)
{
	if (!s) {
		fputs("(null)", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static inline int unit_check_(int ok, const char *name, const char *file,
			      int line, const char *expr)
{
	if (!unit_report_(ok, name))
		printf("#   %s:%d: check failed: %s\n", file, line, expr);
	return ok;
}

static inline int unit_eq_int_(long long got, long long want, const char *name,
			       const char *file, int line, const char *expr)
{
	int ok = got == want;
	if (!unit_report_(ok, name))
		printf("#   %s:%d: %s: got %lld (0x%llx), expected %lld (0x%llx)\n",
		       file, line, expr, got, (unsigned long long)got, want,
		       (unsigned long long)want);
	return ok;
}

static inline int unit_eq_str_(const char *got, const char *want,
			       const char *name, const char *file, int line,
			       const char *expr)
{
	int ok = (got == NULL && want == NULL) ||
		 (got != NULL && want != NULL && strcmp(got, want) == 0);
	if (!unit_report_(ok, name)) {
		printf("#   %s:%d: %s:\n#     got      ", file, line, expr);
		unit_print_escaped_(got);
		printf("\n#     expected ");
		unit_print_escaped_(want);
		putchar('\n');
	}
	return ok;
}

/* Each macro evaluates to 1 when the check passed, so a test can skip
 * dependent checks: if (UNIT_CHECK(p != NULL, "...")) use(p); */
#define UNIT_CHECK(cond, name) \
	unit_check_(!!(cond), (name), __FILE__, __LINE__, #cond)
#define UNIT_EQ_INT(got, want, name) \
	unit_eq_int_((long long)(got), (long long)(want), (name), __FILE__, \
		     __LINE__, #got " == " #want)
#define UNIT_EQ_STR(got, want, name) \
	unit_eq_str_((got), (want), (name), __FILE__, __LINE__, \
		     #got " == " #want)

/* A free-form diagnostic line. */
#define UNIT_DIAG(...) \
	do { fputs("# ", stdout); printf(__VA_ARGS__); putchar('\n'); } while (0)

/* Print the plan; the exit status for main(). */
static inline int unit_done(void)
{
	printf("1..%d\n", unit_count_);
	if (unit_failed_)
		printf("# %d of %d checks failed\n", unit_failed_, unit_count_);
	fflush(stdout);
	return unit_failed_ ? 1 : 0;
}

#endif
