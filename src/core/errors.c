#include <stdio.h>
#include <string.h>

#include "core/errors.h"
#include "core/json.h"

int gs_verbose;

static char err_msg[1024];
static int err_code;

int gs_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof err_msg, fmt, ap);
	va_end(ap);
	/* The message is printed on one line whatever it quoted (paths
	 * and names come from the target), with no control characters. */
	for (char *p = err_msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	gs_text_clean(err_msg, sizeof err_msg, err_msg);
	err_code = code;
	return code;
}

const char *gs_last_error(void) { return err_msg; }
int gs_last_code(void) { return err_code; }

void gs_clear_error(void)
{
	err_msg[0] = 0;
	err_code = 0;
}

int gs_report_error(void)
{
	int code = err_code ? err_code : GS_EFAIL;
	fprintf(stderr, "gilsnoop: %s\n", err_msg[0] ? err_msg : "unknown error");
	return code;
}

void gs_debug(const char *fmt, ...)
{
	va_list ap;
	if (!gs_verbose)
		return;
	fputs("gilsnoop: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void gs_warn(const char *fmt, ...)
{
	va_list ap;
	fputs("gilsnoop: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
