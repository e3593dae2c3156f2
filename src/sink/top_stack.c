/* The text of top's stacks (sink/top_stack.h). */
#include <stdio.h>
#include <string.h>

#include "sink/top_stack.h"
#include "sink/top_text.h"

/* Frames come from the target: keep them printable ASCII, as the rest
 * of top's text. */
static void ascii(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void gs_top_stack_brief(char *buf, size_t n, const struct gs_top_stack *s, size_t k)
{
	size_t len = 0;
	if (!n)
		return;
	buf[0] = 0;
	for (size_t i = 0; s->valid && i < s->n && i < k && len + 1 < n; i++) {
		/* "f (/long/path/app.py:3)" as "f (app.py:3)": the line has
		 * little room, and the stack view has the whole path. */
		const char *fr = s->frame[i], *open = strrchr(fr, '(');
		const char *slash = open ? strrchr(open, '/') : NULL;
		int r = slash ? snprintf(buf + len, n - len, "%s%.*s%s", i ? " < " : "",
					 (int)(open + 1 - fr), fr, slash + 1)
			: snprintf(buf + len, n - len, "%s%s", i ? " < " : "", fr);
		if (r < 0)
			break;
		len += (size_t)r < n - len ? (size_t)r : n - len - 1;
	}
	ascii(buf);
}

void gs_top_stack_title(char *buf, size_t n, const struct gs_top_stack *s, uint64_t now_ns)
{
	char name[64], d[16];
	snprintf(name, sizeof name, "%s", s->name);
	ascii(name);
	if (s->kept) {
		gs_top_fmt_dur(d, sizeof d, s->hold_ns);
		snprintf(buf, n, "Python stack of %d %s during the window's longest hold "
			 "(%s), taken %.1fs ago", (int)s->tid, name, d,
			 now_ns > s->taken_ns ? (double)(now_ns - s->taken_ns) / 1e9 : 0);
	} else {
		snprintf(buf, n, "Python stack of %d %s, now (%s)%s", (int)s->tid, name,
			 gs_role_name(s->role), s->partial ? ", partial" : "");
	}
}

void gs_top_stack_longest(char *buf, size_t n, const struct gs_top_stack *s)
{
	char name[64], d[16], fr[GS_TOP_FRAME_LEN * 2];
	buf[0] = 0;
	if (!s || !s->valid || !s->kept)
		return;
	snprintf(name, sizeof name, "%s", s->name);
	ascii(name);
	gs_top_fmt_dur(d, sizeof d, s->hold_ns);
	gs_top_stack_brief(fr, sizeof fr, s, 2);
	snprintf(buf, n, "longest hold %s  %d %s%s%s", d, (int)s->tid, name,
		 fr[0] ? "  at " : "", fr);
}
