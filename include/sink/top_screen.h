/* The curses side of `gilsnoop top`: draws a struct top_view and turns
 * keys into actions.  It never samples and never reads the model, so a
 * paused display is just an old view drawn again. */
#ifndef GS_TOP_SCREEN_H
#define GS_TOP_SCREEN_H

#include <stddef.h>

#include "model/top_model.h"

/* What the user chose; owned by the caller, changed by the keys. */
struct top_ui {
	enum top_window window;
	enum top_col sort;
	int paused;
	int help;
	int exited;              /* the target exited: say so */
	size_t scroll;           /* first table row shown */
};

enum {
	TOP_ACT_REDRAW = 1,      /* draw the current view again */
	TOP_ACT_QUIT = 2,
	TOP_ACT_RESET = 4,       /* reset the model */
	TOP_ACT_PAUSE = 8,       /* ui->paused changed */
};

struct top_screen;

/* Take over the terminal on stdout; keys come from stdin, or /dev/tty
 * when stdin is not a terminal.  NO_COLOR (non-empty) turns colour off.
 * Returns NULL with the reason in gs_fail(). */
struct top_screen *top_screen_open(void);
/* Give the terminal back. */
void top_screen_close(struct top_screen *s);
/* The descriptor keys arrive on, for poll. */
int top_screen_fd(const struct top_screen *s);
/* Read every pending key (and resize) without blocking; returns
 * TOP_ACT_* flags. */
unsigned top_screen_keys(struct top_screen *s, struct top_ui *ui);
/* Erase and draw a whole frame; sorts v by the ui's window and column. */
void top_screen_draw(struct top_screen *s, struct top_view *v,
		     struct top_ui *ui, const struct top_info *info);

#endif
