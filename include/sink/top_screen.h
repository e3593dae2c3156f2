/* The curses side of `gilsnoop top`: draws a struct gs_top_view and turns
 * keys into actions.  It never samples and never reads the model, so a
 * paused display is just an old view drawn again. */
#ifndef GS_TOP_SCREEN_H
#define GS_TOP_SCREEN_H

#include <stddef.h>

#include "sink/top_stack.h"
#include "sink/top_text.h"

/* What the user chose; owned by the caller, changed by the keys. */
struct gs_top_ui {
	enum gs_top_window window;
	enum gs_top_col sort;
	int paused;
	int help;
	int exited;              /* the target exited: say so */
	size_t scroll;           /* first table row shown */
	size_t focus;            /* several processes: 0 all of them, k the
				  * k-th alone (the c key) */
	size_t nprocs;           /* how many there are (set by the caller) */
	/* The selected thread: the row at index sel of the sorted table
	 * until the arrows pick one (sel_set), then that thread (sel_tid)
	 * wherever the sort moves it; gs_top_select() settles both. */
	pid_t sel_tid;
	size_t sel;
	int sel_set;
	/* '/' search by thread name (htop's F3): the text typed, whether
	 * it is being typed, and a search to run at the next selection
	 * (1: from the selected row, 2: from the one after it, for n). */
	char search[32];
	int searching;
	int find;
	int stack;               /* the stack view is open */
	int stack_kept;          /* ... on the window's longest hold */
};

enum {
	GS_TOP_ACT_REDRAW = 1,      /* draw the current view again */
	GS_TOP_ACT_QUIT = 2,
	GS_TOP_ACT_RESET = 4,       /* reset the model */
	GS_TOP_ACT_PAUSE = 8,       /* ui->paused changed */
	GS_TOP_ACT_FOCUS = 32,      /* ui->focus changed: take a new view */
	GS_TOP_ACT_STACK = 16,      /* the stack view opened or its thread
				     * changed: read the stack again */
};

struct gs_top_screen;

/* Take over the terminal on stdout; keys come from stdin, or /dev/tty
 * when stdin is not a terminal.  NO_COLOR (non-empty) turns colour off.
 * Returns NULL with the reason in gs_fail(). */
struct gs_top_screen *gs_top_screen_open(void);
/* Give the terminal back. */
void gs_top_screen_close(struct gs_top_screen *s);
/* The descriptor keys arrive on, for poll. */
int gs_top_screen_fd(const struct gs_top_screen *s);
/* Read every pending key (and resize) without blocking; returns
 * GS_TOP_ACT_* flags. */
unsigned gs_top_screen_keys(struct gs_top_screen *s, struct gs_top_ui *ui);
/* Sort v by the ui's window and column and settle the selection: the
 * selected thread's tid (0 when the table is empty). */
pid_t gs_top_select(struct gs_top_view *v, struct gs_top_ui *ui);
/* Erase and draw a whole frame; sorts v by the ui's window and column.
 * st: what the stack view shows (when ui->stack). */
void gs_top_screen_draw(struct gs_top_screen *s, struct gs_top_view *v,
		     struct gs_top_ui *ui, const struct gs_top_info *info,
		     const struct gs_top_stack *st);

#endif
