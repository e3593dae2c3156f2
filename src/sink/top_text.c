/* top's text (sink/top_text.h): columns, layout, header lines and rows,
 * the same for batch mode and the screen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "proc/taskstat.h"
#include "sink/top_text.h"

#define NS 1000000000ull

static const char *const col_names[GS_TOP_NCOL] = {
	"TID", "NAME", "STATE", "HELD%", "OFFC%", "WAIT%", "HAND%", "RUN%", "IDLE%",
	"LONGEST", "WAITp99",
};

const char *gs_top_col_name(enum gs_top_col c)
{
	return c < GS_TOP_NCOL ? col_names[c] : "?";
}

int gs_top_parse_col(const char *s)
{
	static const char *const keys[GS_TOP_NCOL] = {
		"tid", "name", "state", "held", "offcpu", "wait", "handoff", "run",
		"idle", "longest", "waitp99",
	};
	for (int c = 0; c < GS_TOP_NCOL; c++)
		if (!strcasecmp(s, keys[c]) || !strcasecmp(s, col_names[c]))
			return c;
	return -1;
}

/* qsort has no context argument: the key of the sort in progress. */
static enum gs_top_window sort_w;
static enum gs_top_col sort_c;

/* Holders first, then the roles that matter most for contention. */
static int role_rank(const struct gs_top_row *r)
{
	static const int rank[GS_ROLE_COUNT] = {
		[GS_ROLE_HELD] = 0, [GS_ROLE_HELD_OFFCPU] = 1, [GS_ROLE_WAITING] = 2,
		[GS_ROLE_HANDOFF] = 3, [GS_ROLE_RUNNING] = 4, [GS_ROLE_IDLE] = 5,
		[GS_ROLE_UNKNOWN] = 6,
	};
	return r->gone ? 7 : rank[r->role < GS_ROLE_COUNT ? r->role : GS_ROLE_UNKNOWN];
}

static double sort_value(const struct gs_top_row *r)
{
	const struct gs_top_figures *f = &r->w[sort_w];
	switch (sort_c) {
	case GS_TOP_COL_HELD: return f->pct[GS_TOP_SH_HELD];
	case GS_TOP_COL_OFFCPU: return f->pct[GS_TOP_SH_OFFCPU];
	case GS_TOP_COL_WAIT: return f->pct[GS_TOP_SH_WAIT];
	case GS_TOP_COL_HANDOFF: return f->pct[GS_TOP_SH_HANDOFF];
	case GS_TOP_COL_RUN: return f->pct[GS_TOP_SH_RUN];
	case GS_TOP_COL_IDLE: return f->pct[GS_TOP_SH_IDLE];
	case GS_TOP_COL_LONGEST: return (double)f->longest_hold_ns;
	case GS_TOP_COL_WAITP99: return (double)f->wait_p99_ns;
	default: return 0;
	}
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct gs_top_row *a = pa, *b = pb;
	int c = 0;
	switch (sort_c) {
	case GS_TOP_COL_TID:
		break;
	case GS_TOP_COL_NAME:
		c = strcmp(a->name, b->name);
		break;
	case GS_TOP_COL_STATE:
		c = role_rank(a) - role_rank(b);
		break;
	default: {
		/* Largest first; threads not seen in the window last. */
		int sa = a->w[sort_w].observed_ns != 0, sb = b->w[sort_w].observed_ns != 0;
		if (sa != sb)
			return sb - sa;
		double x = sort_value(a), y = sort_value(b);
		c = (x < y) - (x > y);
	}
	}
	return c ? c : (a->tid > b->tid) - (a->tid < b->tid);
}

void gs_top_view_sort(struct gs_top_view *v, enum gs_top_window w, enum gs_top_col c)
{
	sort_w = w;
	sort_c = c;
	if (v->n > 1)
		qsort(v->rows, v->n, sizeof *v->rows, cmp_rows);
}

/* ------------------------------------------------------------ text */

#define TID_W 7
#define STATE_W 14 /* "holding-offcpu" */
#define PCT_W 5
#define DUR_W 7
#define MIN_NAME 6
#define MAX_NAME 15
/* Once DETAIL has GROW_DETAIL (a syscall name, "clock_nanosleep"), NAME
 * grows to WIDE_NAME: room for a comm and its Python name,
 * "python3 (MainThread)". */
#define WIDE_NAME 31
#define GROW_DETAIL 16
/* HAND% gives way first on a narrow terminal: thread names are worth
 * more than a share that is mostly 0. */
#define HAND_MIN_NAME 7
#define MIN_DETAIL 8
#define MAX_DETAIL 40

static int is_share(enum gs_top_col c)
{
	return c >= GS_TOP_COL_HELD && c <= GS_TOP_COL_IDLE;
}

void gs_top_layout(int cols, struct gs_top_layout *l)
{
	/* Everything but NAME and HAND%: TID, STATE, five shares, two
	 * durations and the spaces between them. */
	int fixed = TID_W + 1 + 1 + STATE_W + 5 * (1 + PCT_W) + 2 * (1 + DUR_W);
	int hand = cols - fixed - (1 + PCT_W) >= HAND_MIN_NAME;
	if (hand)
		fixed += 1 + PCT_W;
	int name = cols - fixed;
	memset(l, 0, sizeof *l);
	l->name_w = name < MIN_NAME ? MIN_NAME : name > MAX_NAME ? MAX_NAME : name;
	int rest = cols - fixed - l->name_w - 1;
	if (rest >= MIN_DETAIL) {
		int grow = rest > GROW_DETAIL ? rest - GROW_DETAIL : 0;
		if (grow > WIDE_NAME - l->name_w)
			grow = WIDE_NAME - l->name_w;
		l->name_w += grow;
		rest -= grow;
		l->detail_w = rest > MAX_DETAIL ? MAX_DETAIL : rest;
	}
	int x = 0;
	for (int c = 0; c < GS_TOP_NCOL; c++) {
		int w = c == GS_TOP_COL_TID ? TID_W : c == GS_TOP_COL_NAME ? l->name_w
			: c == GS_TOP_COL_STATE ? STATE_W
			: c == GS_TOP_COL_HANDOFF && !hand ? 0
			: is_share((enum gs_top_col)c) ? PCT_W : DUR_W;
		l->col_x[c] = x;
		l->col_w[c] = w;
		if (w)
			x += w + 1;
	}
	l->state_x = l->col_x[GS_TOP_COL_STATE];
	l->state_w = STATE_W;
}

void gs_top_layout_pids(int cols, struct gs_top_layout *l)
{
	gs_top_layout(cols - (TID_W + 1), l);
	for (int c = 0; c < GS_TOP_NCOL; c++)
		l->col_x[c] += TID_W + 1;
	l->state_x += TID_W + 1;
	l->pid_w = TID_W;
}

static void pct_text(char *buf, size_t n, double v)
{
	if (v < 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f%%", 100 * v);
}

void gs_top_fmt_procline(char *buf, size_t n, const struct gs_top_procline *p, int cols)
{
	char now[16], ses[16], holder[96];
	pct_text(now, sizeof now, p->util_now);
	pct_text(ses, sizeof ses, p->util_session);
	if (p->exited)
		snprintf(holder, sizeof holder, "exited");
	else if (p->holder_tid)
		snprintf(holder, sizeof holder, "holder %d %s", (int)p->holder_tid,
			 p->holder_name);
	else
		snprintf(holder, sizeof holder, "no holder");
	if (p->gil >= 0) {
		/* One GIL of a process that has several: under its line. */
		snprintf(buf, n, "%c%7s   GIL %-9d GIL %6s now %6s session  switches %.0f/s  "
			 "waiters %u  threads %zu  %s", p->focus ? '>' : ' ', "", p->gil,
			 now, ses, p->switches_now, p->waiters_now, p->nthreads, holder);
		if (cols > 0 && (size_t)cols < n)
			buf[cols] = 0;
		return;
	}
	snprintf(buf, n, "%c%7d %-15.15s GIL %6s now %6s session  switches %.0f/s  "
		 "waiters %u  threads %zu  %s", p->focus ? '>' : ' ', (int)p->pid, p->cmd,
		 now, ses, p->switches_now, p->waiters_now, p->nthreads, holder);
	if (cols > 0 && (size_t)cols < n)
		buf[cols] = 0;
}

void gs_top_fmt_dur(char *buf, size_t n, uint64_t ns)
{
	double v = (double)ns;
	if (!ns)
		snprintf(buf, n, "-");
	else if (v < 1e3)
		snprintf(buf, n, "<1us");
	else if (v < 999.5e3)
		snprintf(buf, n, "%.0fus", v / 1e3);
	else if (v < 9.995e6)
		snprintf(buf, n, "%.2fms", v / 1e6);
	else if (v < 999.95e6)
		snprintf(buf, n, "%.1fms", v / 1e6);
	else if (v < 99.995e9)
		snprintf(buf, n, "%.2fs", v / 1e9);
	else
		snprintf(buf, n, "%.0fs", v / 1e9);
}

const char *gs_top_row_state(const struct gs_top_row *r)
{
	return r->gone ? "exited" : gs_role_name(r->role);
}

static void strip(char *buf)
{
	size_t k = strlen(buf);
	while (k && buf[k - 1] == ' ')
		buf[--k] = 0;
}

/* The cells of a row, cell[c] for each column, then DETAIL (NULL: none)
 * laid out by l: NAME and STATE to the left, numbers to the right. */
static void put_cells(char *buf, size_t n, const struct gs_top_layout *l,
		      const char *pid, const char *const cell[GS_TOP_NCOL], const char *det)
{
	size_t k = 0;
	buf[0] = 0;
	if (l->pid_w && n) {
		int r = snprintf(buf, n, "%*s", l->pid_w, pid);
		k = r > 0 ? (size_t)r : 0;
	}
	for (int c = 0; c < GS_TOP_NCOL && k < n; c++) {
		int w = l->col_w[c];
		if (!w)
			continue;
		int left = c == GS_TOP_COL_NAME || c == GS_TOP_COL_STATE;
		int r = left ? snprintf(buf + k, n - k, "%s%-*.*s", k ? " " : "", w, w, cell[c])
			: snprintf(buf + k, n - k, "%s%*s", k ? " " : "", w, cell[c]);
		k += r > 0 ? (size_t)r : 0;
	}
	if (l->detail_w && det && k < n)
		snprintf(buf + k, n - k, " %-.*s", l->detail_w, det);
	strip(buf);
}

void gs_top_fmt_colhead(char *buf, size_t n, const struct gs_top_layout *l)
{
	const char *cell[GS_TOP_NCOL];
	for (int c = 0; c < GS_TOP_NCOL; c++)
		cell[c] = col_names[c];
	put_cells(buf, n, l, "PID", cell, "DETAIL");
}

static void detail(const struct gs_top_row *r, char *buf, size_t n)
{
	buf[0] = 0;
	if (r->gone || (r->role != GS_ROLE_HELD_OFFCPU && r->role != GS_ROLE_IDLE))
		return;
	const char *name = r->syscall_nr >= 0 ? gs_syscall_name(r->syscall_nr) : NULL;
	if (name)
		snprintf(buf, n, "%s", name);
	else if (r->syscall_nr >= 0)
		snprintf(buf, n, "syscall %ld", r->syscall_nr);
	else if (r->state == 'D')
		snprintf(buf, n, "D state");
	else if (r->syscall_nr == GS_SYSCALL_NONE)
		snprintf(buf, n, "no syscall");
}

void gs_top_fmt_row(char *buf, size_t n, const struct gs_top_layout *l,
		    const struct gs_top_row *r, enum gs_top_window w)
{
	static const enum gs_top_share share[GS_TOP_NCOL] = {
		[GS_TOP_COL_HELD] = GS_TOP_SH_HELD, [GS_TOP_COL_OFFCPU] = GS_TOP_SH_OFFCPU,
		[GS_TOP_COL_WAIT] = GS_TOP_SH_WAIT, [GS_TOP_COL_HANDOFF] = GS_TOP_SH_HANDOFF,
		[GS_TOP_COL_RUN] = GS_TOP_SH_RUN, [GS_TOP_COL_IDLE] = GS_TOP_SH_IDLE,
	};
	const struct gs_top_figures *f = &r->w[w];
	char text[GS_TOP_NCOL][24], det[64];
	const char *cell[GS_TOP_NCOL];
	for (int c = 0; c < GS_TOP_NCOL; c++) {
		cell[c] = text[c];
		if (!is_share((enum gs_top_col)c))
			continue;
		if (f->observed_ns)
			snprintf(text[c], sizeof text[c], "%.1f", f->pct[share[c]]);
		else
			snprintf(text[c], sizeof text[c], "-");
	}
	snprintf(text[GS_TOP_COL_TID], sizeof text[GS_TOP_COL_TID], "%d", (int)r->tid);
	cell[GS_TOP_COL_NAME] = r->name;
	cell[GS_TOP_COL_STATE] = gs_top_row_state(r);
	gs_top_fmt_dur(text[GS_TOP_COL_LONGEST], sizeof text[0], f->longest_hold_ns);
	gs_top_fmt_dur(text[GS_TOP_COL_WAITP99], sizeof text[0], f->wait_p99_ns);
	detail(r, det, sizeof det);
	char pid[16];
	snprintf(pid, sizeof pid, "%d", (int)r->pid);
	put_cells(buf, n, l, pid, cell, det);
}

static void fmt_elapsed(char *buf, size_t n, uint64_t ns)
{
	unsigned long s = (unsigned long)(ns / NS);
	if (s < 3600)
		snprintf(buf, n, "%lu:%02lu", s / 60, s % 60);
	else
		snprintf(buf, n, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

static void fmt_pct(char *buf, size_t n, double v)
{
	if (v < 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f%%", 100 * v);
}

static void holder_line(char *buf, size_t n, const struct gs_top_header *h,
			const char *frames)
{
	if (!h->holder_tid) {
		snprintf(buf, n, "holder  %s", h->gil_locked
			 ? "a thread not listed yet" : "none, the GIL is free");
		return;
	}
	/* The code first: on a narrow terminal the path is what gets cut. */
	int k = snprintf(buf, n, "holder  %d %s  %s%s%s", (int)h->holder_tid, h->holder_name,
			 frames && frames[0] ? "at " : "", frames ? frames : "",
			 frames && frames[0] ? "  " : "");
	if (k < 0 || (size_t)k >= n)
		return;
	buf += k;
	n -= (size_t)k;
	if (h->holder_role == GS_ROLE_HELD) {
		snprintf(buf, n, "on CPU");
		return;
	}
	const char *sc = h->holder_syscall >= 0 ? gs_syscall_name(h->holder_syscall) : NULL;
	char nr[32] = "";
	if (!sc && h->holder_syscall >= 0)
		snprintf(nr, sizeof nr, "syscall %ld", h->holder_syscall);
	snprintf(buf, n, "off CPU%s%s%s%s%s%s", sc || nr[0] ? " in " : "",
		 sc ? sc : nr, h->holder_path[0] ? " " : "", h->holder_path,
		 h->holder_wchan[0] ? " wchan=" : "", h->holder_wchan);
}

static const char *const blocks[8] = {
	"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
};
static const char ascii_blocks[] = "_.-:=+*#";

/* Keep an ASCII line within cols columns and printable: paths and wchan
 * come from the target. */
static void clip(char *buf, int cols)
{
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (cols > 0 && strlen(buf) > (size_t)cols)
		buf[cols] = 0;
}

void gs_top_fmt_header(char *buf, size_t n, int i, const struct gs_top_view *v,
		    enum gs_top_window w, const struct gs_top_info *info, int cols)
{
	const struct gs_top_header *h = &v->h;
	char a[32], b[32], c[48];
	buf[0] = 0;
	switch (i) {
	case 0:
		fmt_elapsed(a, sizeof a, h->elapsed_ns);
		if (info->rate_hz > 0)
			snprintf(b, sizeof b, "%.0f Hz", info->rate_hz);
		else
			snprintf(b, sizeof b, "max rate");
		c[0] = 0;
		if (info->wall.tv_sec) {
			c[0] = c[1] = ' ';
			gs_wall_fmt(c + 2, sizeof c - 2, &info->wall);
		}
		snprintf(buf, n, "gilsnoop top  pid %d  Python %s  up %s  %s  window: %s%s",
			 (int)info->pid, info->pyver, a, b, gs_top_window_name(w), c);
		break;
	case 1:
		fmt_pct(a, sizeof a, h->util_now);
		fmt_pct(b, sizeof b, h->util_session);
		snprintf(buf, n, "GIL held  now %s  session %s  switches %.0f/s  "
			 "waiters %u (avg %.1f)", a, b, h->switches_now, h->waiters_now,
			 h->waiters_avg);
		break;
	case 2: {
		static const char label[] = "last 60s ";
		int cells = GS_TOP_SPARK;
		if (cols > 0 && cols < (int)sizeof label) {
			snprintf(buf, n, "%.*s", cols, label);
			return;
		}
		if (cols > 0 && cols - (int)sizeof label + 1 < cells)
			cells = cols - (int)sizeof label + 1;
		if (cells < 0)
			cells = 0;
		size_t k = (size_t)snprintf(buf, n, "%s", label);
		for (int s = GS_TOP_SPARK - cells; s < GS_TOP_SPARK && k + 4 < n; s++) {
			double u = h->spark[s];
			if (u < 0) {
				buf[k++] = ' ';
				continue;
			}
			int lv = (int)(u * 7 + 0.5);
			lv = lv < 0 ? 0 : lv > 7 ? 7 : lv;
			if (info->utf8) {
				memcpy(buf + k, blocks[lv], 3);
				k += 3;
			} else {
				buf[k++] = ascii_blocks[lv];
			}
		}
		buf[k] = 0;
		return; /* already fits cols */
	}
	case 3:
		if (h->interval_us)
			snprintf(a, sizeof a, "%.1fms", (double)h->interval_us / 1000);
		else
			snprintf(a, sizeof a, "?");
		if (info->rate_hz > 0)
			snprintf(b, sizeof b, "of %.0f Hz", info->rate_hz);
		else
			snprintf(b, sizeof b, "(max)");
		snprintf(c, sizeof c, "%.0f", h->rate_now);
		snprintf(buf, n, "interval %s  sampling %s/s %s  missed %.0f/s, %llu total"
			 "  threads %zu", a, c, b, h->missed_now,
			 (unsigned long long)h->missed_total, h->nthreads);
		break;
	case 4:
		holder_line(buf, n, h, info->holder_frames);
		break;
	}
	clip(buf, cols);
}
