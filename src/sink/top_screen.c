/* gilsnoop top on a terminal: one whole frame per refresh (erase, draw,
 * one doupdate), so rows that come and go, and resizes, never leave
 * stale text behind.  curses only ever sees the frame, never a sample. */
#include <curses.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/errors.h"
#include "sink/top_screen.h"

struct gs_top_screen {
	SCREEN *scr;
	FILE *in;                /* /dev/tty when we opened it */
	int own_in;
	int colour;
	int resized;             /* clear the physical screen on next draw */
};

enum { PAIR_HELD = 1, PAIR_OFFCPU, PAIR_WAIT, PAIR_HANDOFF, PAIR_RUN,
       PAIR_SORT };

/* Lines around the table: the header, one GIL line per process when
 * there are several (at most MAX_PROC_LINES), the message line. */
#define MAX_PROC_LINES 8
static int proc_lines;
#define MSG_LINE (GS_TOP_HEAD_LINES + proc_lines)
#define TABLE_HEAD (GS_TOP_HEAD_LINES + proc_lines + 1)
#define TABLE_TOP (GS_TOP_HEAD_LINES + proc_lines + 2)

struct gs_top_screen *gs_top_screen_open(void)
{
	struct gs_top_screen *s = calloc(1, sizeof *s);
	if (!s) {
		gs_fail(GS_EFAIL, "out of memory");
		return NULL;
	}
	s->in = stdin;
	if (!isatty(STDIN_FILENO)) {
		if (!(s->in = fopen("/dev/tty", "r"))) {
			free(s);
			gs_fail(GS_EUSAGE, "no terminal to read keys from: use -b for "
				"batch output");
			return NULL;
		}
		s->own_in = 1;
	}
	/* newterm, not initscr: initscr exits the program on a bad TERM. */
	if (!(s->scr = newterm(NULL, stdout, s->in))) {
		const char *term = getenv("TERM");
		gs_fail(GS_EUSAGE, "cannot drive terminal type '%s': set TERM, or use -b "
			"for batch output", term ? term : "");
		if (s->own_in)
			fclose(s->in);
		free(s);
		return NULL;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	timeout(0);
	set_escdelay(25);
	curs_set(0);
	const char *nc = getenv("NO_COLOR");
	s->colour = has_colors() && !(nc && *nc);
	if (s->colour) {
		start_color();
		use_default_colors();
		init_pair(PAIR_HELD, COLOR_GREEN, -1);
		init_pair(PAIR_OFFCPU, COLOR_YELLOW, -1);
		init_pair(PAIR_WAIT, COLOR_RED, -1);
		init_pair(PAIR_HANDOFF, COLOR_MAGENTA, -1);
		init_pair(PAIR_RUN, COLOR_CYAN, -1);
		init_pair(PAIR_SORT, COLOR_BLACK, COLOR_CYAN);
	}
	return s;
}

void gs_top_screen_close(struct gs_top_screen *s)
{
	if (!s)
		return;
	endwin();
	delscreen(s->scr);
	if (s->own_in)
		fclose(s->in);
	free(s);
}

int gs_top_screen_fd(const struct gs_top_screen *s)
{
	return fileno(s->in);
}

static size_t table_rows(void)
{
	return LINES > TABLE_TOP + 1 ? (size_t)(LINES - TABLE_TOP - 1) : 0;
}

/* Keys that leave the stack view or the help screen. */
static int is_back(int ch)
{
	return ch == 27 || ch == KEY_BACKSPACE || ch == 127 || ch == KEY_LEFT;
}

unsigned gs_top_screen_keys(struct gs_top_screen *s, struct gs_top_ui *ui)
{
	unsigned act = 0;
	int ch;
	size_t page = table_rows() ? table_rows() : 1;
	while ((ch = getch()) != ERR) {
		if (ch == KEY_RESIZE) {
			s->resized = 1;
			act |= GS_TOP_ACT_REDRAW;
			continue;
		}
		/* q quits from every screen, like htop's F10. */
		if (ch == 'q' || ch == 'Q' || ch == KEY_F(10))
			return act | GS_TOP_ACT_QUIT;
		if (ui->help) {
			ui->help = 0;
			act |= GS_TOP_ACT_REDRAW;
			continue;
		}
		if (ui->searching) {
			size_t k = strlen(ui->search);
			if (ch == 27) {
				ui->search[0] = 0;
				ui->searching = 0;
			} else if (ch == '\r' || ch == '\n' || ch == KEY_ENTER) {
				ui->searching = 0;
			} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
				if (k)
					ui->search[k - 1] = 0;
			} else if (ch >= 0x20 && ch < 0x7f && k + 1 < sizeof ui->search) {
				ui->search[k] = (char)ch;
				ui->search[k + 1] = 0;
				ui->find = 1;
			}
			act |= GS_TOP_ACT_REDRAW;
			continue;
		}
		if (ui->stack && (is_back(ch) || ch == '\r' || ch == '\n' || ch == KEY_ENTER ||
				  (ch == 's' && !ui->stack_kept) ||
				  (ch == 'l' && ui->stack_kept))) {
			ui->stack = 0;
			act |= GS_TOP_ACT_REDRAW;
			continue;
		}
		switch (ch) {
		case 'p': case 'P': case 'Z':
			ui->paused = !ui->paused;
			act |= GS_TOP_ACT_PAUSE | GS_TOP_ACT_REDRAW;
			break;
		case '>': case '.': case KEY_F(6):
			ui->sort = (enum gs_top_col)((ui->sort + 1) % GS_TOP_NCOL);
			act |= GS_TOP_ACT_REDRAW;
			break;
		case '<': case ',':
			ui->sort = (enum gs_top_col)((ui->sort + GS_TOP_NCOL - 1) % GS_TOP_NCOL);
			act |= GS_TOP_ACT_REDRAW;
			break;
		case 'w':
			ui->window = (enum gs_top_window)((ui->window + 1) % GS_TOP_NWIN);
			act |= GS_TOP_ACT_REDRAW | (ui->stack_kept ? GS_TOP_ACT_STACK : 0);
			break;
		case 'W':
			ui->window = (enum gs_top_window)((ui->window + GS_TOP_NWIN - 1) % GS_TOP_NWIN);
			act |= GS_TOP_ACT_REDRAW | (ui->stack_kept ? GS_TOP_ACT_STACK : 0);
			break;
		case 'r': case 'R':
			act |= GS_TOP_ACT_RESET | GS_TOP_ACT_REDRAW;
			break;
		case 'c': case 'C':
			/* Collapse to one process, the next one at each press,
			 * and back to all of them. */
			if (ui->nprocs > 1) {
				ui->focus = (ui->focus + (ch == 'c' ? 1 : ui->nprocs)) %
					(ui->nprocs + 1);
				ui->scroll = 0;
				act |= GS_TOP_ACT_FOCUS | GS_TOP_ACT_REDRAW;
			}
			break;
		case 'h': case 'H': case '?': case KEY_F(1):
			ui->help = 1;
			act |= GS_TOP_ACT_REDRAW;
			break;
		case '\r': case '\n': case KEY_ENTER: case 's':
			ui->stack = 1;
			ui->stack_kept = 0;
			act |= GS_TOP_ACT_STACK | GS_TOP_ACT_REDRAW;
			break;
		case 'l':
			ui->stack = 1;
			ui->stack_kept = 1;
			act |= GS_TOP_ACT_STACK | GS_TOP_ACT_REDRAW;
			break;
		case '/': case KEY_F(3):
			ui->searching = 1;
			ui->search[0] = 0;
			act |= GS_TOP_ACT_REDRAW;
			break;
		case 'n':
			if (ui->search[0]) {
				ui->find = 2;
				act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			}
			break;
		/* The arrows move the selection; the table scrolls to keep it
		 * in sight.  In the stack view they move to the next thread's
		 * stack. */
		case KEY_UP: case 'k':
			ui->sel = ui->sel ? ui->sel - 1 : 0;
			ui->sel_tid = 0;
			ui->sel_set = 1;
			ui->stack_kept = 0;
			act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			break;
		case KEY_DOWN: case 'j':
			ui->sel++;
			ui->sel_tid = 0;
			ui->sel_set = 1;
			ui->stack_kept = 0;
			act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			break;
		case KEY_PPAGE:
			ui->sel = ui->sel > page ? ui->sel - page : 0;
			ui->sel_tid = 0;
			ui->sel_set = 1;
			act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			break;
		case KEY_NPAGE: case ' ':
			ui->sel += page;
			ui->sel_tid = 0;
			ui->sel_set = 1;
			act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			break;
		case KEY_HOME: case 'g':
			ui->sel = 0;
			ui->sel_tid = 0;
			ui->sel_set = 1;
			act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			break;
		case KEY_END: case 'G':
			ui->sel = (size_t)-1 / 2;
			ui->sel_tid = 0;
			ui->sel_set = 1;
			act |= GS_TOP_ACT_REDRAW | (ui->stack ? GS_TOP_ACT_STACK : 0);
			break;
		case 12: /* ^L: the terminal was scribbled on */
			s->resized = 1;
			act |= GS_TOP_ACT_REDRAW;
			break;
		default:
			break;
		}
	}
	return act;
}

pid_t gs_top_select(struct gs_top_view *v, struct gs_top_ui *ui)
{
	gs_top_view_sort(v, ui->window, ui->sort);
	if (!v->n) {
		ui->sel = 0;
		return 0;
	}
	if (ui->sel_set && ui->sel_tid)
		for (size_t i = 0; i < v->n; i++)
			if (v->rows[i].tid == ui->sel_tid) {
				ui->sel = i;
				break;
			}
	if (ui->find && ui->search[0]) {
		/* The first name holding the text, case aside, from the
		 * selected row (or the one after it), wrapping around. */
		size_t from = ui->sel < v->n ? ui->sel : 0;
		for (size_t k = 0; k < v->n; k++) {
			size_t i = (from + k + (ui->find == 2)) % v->n;
			if (strcasestr(v->rows[i].name, ui->search)) {
				ui->sel = i;
				ui->sel_set = 1;
				ui->sel_tid = v->rows[i].tid;
				break;
			}
		}
	}
	ui->find = 0;
	if (ui->sel_set && ui->sel_tid && ui->sel < v->n &&
	    v->rows[ui->sel].tid == ui->sel_tid)
		return ui->sel_tid;
	/* A selected thread that went away leaves its place selected. */
	if (ui->sel >= v->n)
		ui->sel = v->n - 1;
	ui->sel_tid = v->rows[ui->sel].tid;
	return ui->sel_tid;
}

/* Put ASCII text at (y, 0), cut at the screen edge.  The last column of
 * the last line is left alone: writing it would scroll the screen. */
static void put_line(int y, const char *text)
{
	if (y < 0 || y >= LINES)
		return;
	int n = COLS - (y == LINES - 1);
	if (n > 0)
		mvaddnstr(y, 0, text, n);
}

static void draw_help(const struct gs_top_ui *ui)
{
	static const char *const lines[] = {
		"gilsnoop top - Help (any key returns; q quits)",
		"",
		"  q  F10        quit, from any screen",
		"  Up Down  k j  select the previous / next thread",
		"  PgUp PgDn Space  Home End  g G   select a page away / first / last",
		"  Enter  s      the selected thread's Python stack, read now (the",
		"                process is not stopped); again, Esc or Left: back",
		"  l             the Python stack of the window's longest hold",
		"  /  F3   n     select the next thread whose name holds a text; n again",
		"  < >  , .  F6  sort by the previous / next column",
		"  w / W         window: the last 1s, 10s, or all (since start or reset)",
		"  p  Z          pause: the display freezes, sampling continues",
		"  r             reset: forget every figure and count from now",
		"  c / C         several processes: the next / previous one alone;",
		"                past the last, all of them again",
		"  ^L            redraw",
		"  h  ?  F1      this help",
		"",
		"Columns, as shares of the time each thread was seen in the window:",
		"  HELD%  holds the GIL, on or off CPU   OFFC%  holds it off CPU",
		"  WAIT%  blocked waiting for the GIL    HAND%  hands it off (82+ cols)",
		"  RUN%   on a CPU without it            IDLE%  blocked elsewhere",
		"  LONGEST  longest hold   WAITp99  99th percentile GIL wait",
		"  DETAIL   the syscall of an idle or off-CPU thread (wide terminals)",
		"States: holding, holding-offcpu, waiting, handoff, running, idle, ...",
	};
	erase();
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		put_line((int)i, lines[i]);
	char buf[128];
	snprintf(buf, sizeof buf, "sort: %s  window: %s%s", gs_top_col_name(ui->sort),
		 gs_top_window_name(ui->window), ui->paused ? "  PAUSED" : "");
	put_line(LINES - 1, buf);
}

static void draw_stack(const struct gs_top_ui *ui, const struct gs_top_stack *st,
		       const struct gs_top_info *info)
{
	char buf[GS_TOP_FRAME_LEN + 16];
	erase();
	if (!st || !st->valid) {
		put_line(0, ui->stack_kept ? "No hold of this window lasted long enough "
			 "to keep a stack (10 ms)" : "No Python stack");
		if (st && st->error[0]) {
			snprintf(buf, sizeof buf, "  %s", st->error);
			put_line(2, buf);
		}
	} else {
		gs_top_stack_title(buf, sizeof buf, st, info->now_ns);
		put_line(0, buf);
		mvchgat(0, 0, -1, A_BOLD, 0, NULL);
		if (!st->n)
			put_line(2, "  (no Python frames: the thread runs no Python code)");
		int y = 2;
		for (size_t i = 0; i < st->n && y < LINES - 1; i++, y++) {
			char fr[GS_TOP_FRAME_LEN];
			snprintf(fr, sizeof fr, "%s", st->frame[i]);
			for (char *p = fr; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
			snprintf(buf, sizeof buf, "%3zu  %.190s", i, fr);
			put_line(y, buf);
		}
		if (st->total > st->n && y < LINES - 1) {
			snprintf(buf, sizeof buf, "     ... outer frames not shown");
			put_line(y, buf);
		}
	}
	snprintf(buf, sizeof buf, "innermost first   Up/Down other threads   %s  "
		 "Esc back   q quit", ui->stack_kept ? "l" : "Enter/s");
	put_line(LINES - 1, buf);
}

static attr_t state_attr(const struct gs_top_screen *s, const struct gs_top_row *r)
{
	if (r->gone)
		return A_DIM;
	if (!s->colour)
		return r->role == GS_ROLE_HELD || r->role == GS_ROLE_HELD_OFFCPU ? A_BOLD
			: A_NORMAL;
	switch (r->role) {
	case GS_ROLE_HELD: return COLOR_PAIR(PAIR_HELD) | A_BOLD;
	case GS_ROLE_HELD_OFFCPU: return COLOR_PAIR(PAIR_OFFCPU) | A_BOLD;
	case GS_ROLE_WAITING: return COLOR_PAIR(PAIR_WAIT);
	case GS_ROLE_HANDOFF: return COLOR_PAIR(PAIR_HANDOFF);
	case GS_ROLE_RUNNING: return COLOR_PAIR(PAIR_RUN);
	case GS_ROLE_IDLE: return A_DIM;
	default: return A_NORMAL;
	}
}

/* Recolour cells already written, clipped to the screen. */
static void paint(int y, int x, int w, attr_t a)
{
	if (x >= COLS || w <= 0)
		return;
	if (x + w > COLS)
		w = COLS - x;
	mvchgat(y, x, w, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
}

void gs_top_screen_draw(struct gs_top_screen *s, struct gs_top_view *v,
		     struct gs_top_ui *ui, const struct gs_top_info *info,
		     const struct gs_top_stack *st)
{
	char buf[1024];
	if (s->resized) {
		/* After a resize the terminal's contents are unknown. */
		clearok(curscr, TRUE);
		s->resized = 0;
	}
	if (ui->help) {
		draw_help(ui);
		refresh();
		return;
	}
	gs_top_select(v, ui);
	if (ui->stack) {
		draw_stack(ui, st, info);
		refresh();
		return;
	}
	erase();
	proc_lines = info->nprocs > MAX_PROC_LINES ? MAX_PROC_LINES : (int)info->nprocs;
	for (int i = 0; i < proc_lines && GS_TOP_HEAD_LINES + i < LINES; i++) {
		if (i == MAX_PROC_LINES - 1 && info->nprocs > MAX_PROC_LINES)
			snprintf(buf, sizeof buf, "  ... %zu more processes (c shows each alone)",
				 info->nprocs - (MAX_PROC_LINES - 1));
		else
			gs_top_fmt_procline(buf, sizeof buf, &info->procs[i], COLS);
		put_line(GS_TOP_HEAD_LINES + i, buf);
		if (info->procs[i].focus)
			mvchgat(GS_TOP_HEAD_LINES + i, 0, -1, A_BOLD, 0, NULL);
	}
	for (int i = 0; i < GS_TOP_HEAD_LINES && i < LINES; i++) {
		gs_top_fmt_header(buf, sizeof buf, i, v, ui->window, info, COLS);
		if (i == 2)
			mvaddstr(i, 0, buf); /* sized to COLS, multibyte */
		else
			put_line(i, buf);
	}
	if (LINES > 0)
		mvchgat(0, 0, -1, A_BOLD, 0, NULL);

	if (ui->exited)
		snprintf(buf, sizeof buf, "process %d exited: final figures shown; q quits",
			 (int)info->pid);
	else if (ui->paused)
		snprintf(buf, sizeof buf, "PAUSED: display frozen, sampling continues; "
			 "p resumes");
	else
		buf[0] = 0;
	if (buf[0] && MSG_LINE < LINES) {
		put_line(MSG_LINE, buf);
		paint(MSG_LINE, 0, (int)strlen(buf), A_REVERSE | A_BOLD);
	} else if (info->longest && info->longest[0] && MSG_LINE < LINES) {
		snprintf(buf, sizeof buf, "%s  (l: its stack)", info->longest);
		put_line(MSG_LINE, buf);
	}

	struct gs_top_layout l;
	if (info->pid_column && !ui->focus)
		gs_top_layout_pids(COLS, &l);
	else
		gs_top_layout(COLS, &l);
	if (TABLE_HEAD < LINES) {
		gs_top_fmt_colhead(buf, sizeof buf, &l);
		put_line(TABLE_HEAD, buf);
		mvchgat(TABLE_HEAD, 0, -1, A_REVERSE, 0, NULL);
		/* The sort column stands out without colour too. */
		paint(TABLE_HEAD, l.col_x[ui->sort], l.col_w[ui->sort],
		      s->colour ? COLOR_PAIR(PAIR_SORT) | A_BOLD : A_BOLD | A_UNDERLINE);
	}

	size_t rows = table_rows();
	/* The selection stays in sight. */
	if (rows && ui->sel < ui->scroll)
		ui->scroll = ui->sel;
	else if (rows && ui->sel >= ui->scroll + rows)
		ui->scroll = ui->sel - rows + 1;
	if (v->n <= rows)
		ui->scroll = 0;
	else if (ui->scroll > v->n - rows)
		ui->scroll = v->n - rows;
	for (size_t i = 0; i < rows && ui->scroll + i < v->n; i++) {
		const struct gs_top_row *r = &v->rows[ui->scroll + i];
		int y = TABLE_TOP + (int)i;
		gs_top_fmt_row(buf, sizeof buf, &l, r, ui->window);
		put_line(y, buf);
		if (r->holder)
			mvchgat(y, 0, -1, A_BOLD, 0, NULL);
		paint(y, l.state_x, l.state_w, state_attr(s, r));
		if (ui->scroll + i == ui->sel)
			mvchgat(y, 0, -1, A_REVERSE | (r->holder ? A_BOLD : 0), 0, NULL);
	}

	char pos[64] = "";
	if (v->n > rows && rows)
		snprintf(pos, sizeof pos, "  rows %zu-%zu/%zu", ui->scroll + 1,
			 ui->scroll + rows < v->n ? ui->scroll + rows : v->n, v->n);
	if (ui->searching)
		snprintf(buf, sizeof buf, "search: %s_   (Enter keeps, Esc cancels, n next)",
			 ui->search);
	else
		snprintf(buf, sizeof buf, "q quit  p %s  Enter stack  </> sort: %s  w window: %s  "
			 "r reset  %sh help%s", ui->paused ? "resume" : "pause",
			 gs_top_col_name(ui->sort), gs_top_window_name(ui->window),
			 ui->nprocs > 1 ? "c process  " : "", pos);
	if (LINES > TABLE_TOP)
		put_line(LINES - 1, buf);
	refresh();
}
