/* The curses side of `gilsnoop top`: draws a struct gs_top_view and turns
 * keys into actions.  It never samples and never reads the model, so a
 * paused display is just an old view drawn again. */
#ifndef GS_TOP_SCREEN_H
#define GS_TOP_SCREEN_H

#include <stddef.h>

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
};

enum {
	GS_TOP_ACT_REDRAW = 1,      /* draw the current view again */
	GS_TOP_ACT_QUIT = 2,
	GS_TOP_ACT_RESET = 4,       /* reset the model */
	GS_TOP_ACT_PAUSE = 8,       /* ui->paused changed */
	GS_TOP_ACT_FOCUS = 16,      /* ui->focus changed: take a new view */
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
/* Erase and draw a whole frame; sorts v by the ui's window and column. */
void gs_top_screen_draw(struct gs_top_screen *s, struct gs_top_view *v,
		     struct gs_top_ui *ui, const struct gs_top_info *info);

#endif
