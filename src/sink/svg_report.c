/* report --svg (sink/svg_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "model/culprit.h"
#include "sink/culprit_print.h"
#include "sink/svg_report.h"

#define WIDTH 1200
#define X0 170            /* plot's left edge: lane labels to its left */
#define PLOT_W (WIDTH - X0 - 20)
#define LANE_H 18
#define LANE_GAP 4
#define WAIT_H 56
#define FLAME_ROW 16
#define FLAME_MIN_PX (1.0 / 3)
#define CHAR_PX 6.6       /* of the 11 px monospace text */

static const char *const colour[GS_ROLE_COUNT] = {
	[GS_ROLE_UNKNOWN] = "#ffffff", [GS_ROLE_HELD] = "#2ca02c",
	[GS_ROLE_HELD_OFFCPU] = "#ff7f0e", [GS_ROLE_WAITING] = "#d62728",
	[GS_ROLE_HANDOFF] = "#9467bd", [GS_ROLE_RUNNING] = "#1f77b4",
	[GS_ROLE_IDLE] = "#dddddd",
};

/* Text from the target or a file, as XML character data: one line,
 * no control characters, markup escaped. */
static void xml(FILE *f, const char *s)
{
	char buf[1024];
	gs_text_clean(buf, sizeof buf, s ? s : "");
	for (const char *p = buf; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*p, f);
		}
	}
}

/* s cut to at most n characters (UTF-8 aware), "..." when cut. */
static void xml_fit(FILE *f, const char *s, size_t n)
{
	char buf[512];
	size_t k = 0, chars = 0;
	gs_text_clean(buf, sizeof buf, s ? s : "");
	while (buf[k] && chars < n) {
		int l = gs_utf8_len(buf + k);
		k += l > 0 ? (size_t)l : 1;
		chars++;
	}
	if (buf[k] && n >= 3) {
		/* Make room for the dots. */
		size_t back = 0;
		for (size_t i = 0; i < k && back < 3; i++)
			if (((unsigned char)buf[k - 1 - i] & 0xc0) != 0x80)
				back++;
		size_t cut = k;
		while (back && cut > 0) {
			cut--;
			if (((unsigned char)buf[cut] & 0xc0) != 0x80)
				back--;
		}
		buf[cut] = 0;
		xml(f, buf);
		fputs("...", f);
		return;
	}
	buf[k] = 0;
	xml(f, buf);
}

/* "f (/long/path/app.py:3)" as "f (app.py:3)", for labels (titles keep
 * the whole path). */
static const char *short_frame(char *buf, size_t n, const char *fr)
{
	const char *open = fr ? strrchr(fr, '(') : NULL;
	const char *slash = open ? strrchr(open, '/') : NULL;
	if (!slash)
		snprintf(buf, n, "%s", fr ? fr : "");
	else
		snprintf(buf, n, "%.*s%s", (int)(open + 1 - fr), fr, slash + 1);
	return buf;
}

static const struct gs_thread_summary *thread(const struct gs_summary *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return &s->t[i];
	return NULL;
}

static void lane_label(char *buf, size_t n, const struct gs_summary *s,
		       const struct gs_timeline_lane *l)
{
	const struct gs_thread_summary *t = thread(s, l->tid);
	if (!l->tid)
		snprintf(buf, n, "(other threads)");
	else
		snprintf(buf, n, "%s (%d)", t && t->name[0] ? t->name : "?", (int)l->tid);
}

static double x_of(const struct gs_timeline *t, uint64_t ns)
{
	if (!t->ncols || ns <= t->base_ns)
		return X0;
	double span = (double)t->ncols * (double)t->col_ns;
	double x = X0 + PLOT_W * ((double)(ns - t->base_ns) / span);
	return x > X0 + PLOT_W ? X0 + PLOT_W : x;
}

static double secs(uint64_t ns) { return (double)ns / 1e9; }

/* A round step (1, 2 or 5 times a power of ten) of at least min_s. */
static double tick_step(double min_s)
{
	double p = 1e-6;
	static const double m[] = { 1, 2, 5, 10 };
	while (p * 10 <= min_s && p < 1e9)
		p *= 10;
	for (size_t i = 0; i < 4; i++)
		if (m[i] * p >= min_s)
			return m[i] * p;
	return 10 * p;
}

/* Ticks in seconds from the first interval. */
static void axis(FILE *f, const struct gs_timeline *t, int y, int h)
{
	double span = secs(t->last_ns - t->first_ns);
	double step = tick_step(span / 10);
	fprintf(f, "<g class=\"axis\" font-size=\"10\" fill=\"#555\">\n");
	for (int i = 0; i * step <= span + 1e-9 && i < 100; i++) {
		double x = x_of(t, t->first_ns + (uint64_t)(i * step * 1e9));
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ccc\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%gs</text>\n",
			x, y, x, y + h, x, y + h + 12, i * step);
	}
	fprintf(f, "</g>\n");
}

static void waiters(FILE *f, const struct gs_timeline *t, int y)
{
	double most = 1;
	for (size_t c = 0; c < t->ncols; c++) {
		double w = gs_timeline_waiters(t, c);
		if (w > most)
			most = w;
	}
	double top = (double)(uint64_t)most < most ? (double)(uint64_t)most + 1 : most;
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">"
		"waiters (mean)</text>\n", X0 - 6, y + WAIT_H / 2 + 4);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#777\" "
		"text-anchor=\"end\">%g</text>\n", X0 - 6, y + 8, top);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
		"stroke=\"#ccc\"/>\n", X0, y, PLOT_W, WAIT_H);
	fprintf(f, "<path fill=\"#d62728\" fill-opacity=\"0.5\" stroke=\"#d62728\" "
		"stroke-width=\"0.5\" d=\"M%d %d", X0, y + WAIT_H);
	double cw = (double)PLOT_W / (double)(t->ncols ? t->ncols : 1);
	for (size_t c = 0; c < t->ncols; c++) {
		double h = WAIT_H * gs_timeline_waiters(t, c) / top;
		fprintf(f, "L%.1f %.1fL%.1f %.1f", X0 + c * cw, y + WAIT_H - h,
			X0 + (c + 1) * cw, y + WAIT_H - h);
	}
	fprintf(f, "L%.1f %dZ\"/>\n", X0 + t->ncols * cw, y + WAIT_H);
}

static void lanes(FILE *f, const struct gs_summary *s, const struct gs_timeline *t, int y)
{
	double cw = (double)PLOT_W / (double)(t->ncols ? t->ncols : 1);
	char label[96];
	for (size_t l = 0; l < t->nlanes; l++) {
		int ly = y + (int)l * (LANE_H + LANE_GAP);
		lane_label(label, sizeof label, s, &t->lane[l]);
		fprintf(f, "<g class=\"lane\" data-tid=\"%d\"><title>", (int)t->lane[l].tid);
		xml(f, label);
		fprintf(f, "</title>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" "
			"text-anchor=\"end\">", X0 - 6, ly + LANE_H - 5);
		xml_fit(f, label, 25);
		fputs("</text>\n", f);
		for (size_t c = 0; c < t->ncols;) {
			enum gs_role r = gs_timeline_role(t, l, c);
			size_t e = c + 1;
			while (e < t->ncols && gs_timeline_role(t, l, e) == r)
				e++;
			if (r != GS_ROLE_UNKNOWN)
				fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
					"fill=\"%s\"/>\n", X0 + c * cw, ly, (e - c) * cw, LANE_H,
					colour[r]);
			c = e;
		}
		fputs("</g>\n", f);
	}
}

static int lane_index(const struct gs_timeline *t, pid_t pid, pid_t tid)
{
	for (size_t l = 0; l < t->nlanes; l++)
		if (t->lane[l].tid == tid && t->lane[l].pid == pid)
			return (int)l;
	return -1;
}

#define LABEL_ROWS 2
#define LABEL_H 11
#define LABEL_CHARS 44

/* Where labels already went: per row of the band over the lanes, the x
 * ranges taken. */
struct band {
	double x0[LABEL_ROWS][GS_CULPRIT_LONGEST], x1[LABEL_ROWS][GS_CULPRIT_LONGEST];
	size_t n[LABEL_ROWS];
};

/* A free row of the band for a label over [x0, x1), or -1. */
static int band_row(struct band *b, double x0, double x1)
{
	for (int r = 0; r < LABEL_ROWS; r++) {
		int free_ = b->n[r] < GS_CULPRIT_LONGEST;
		for (size_t i = 0; free_ && i < b->n[r]; i++)
			if (x0 < b->x1[r][i] && b->x0[r][i] < x1)
				free_ = 0;
		if (free_) {
			b->x0[r][b->n[r]] = x0;
			b->x1[r][b->n[r]++] = x1;
			return r;
		}
	}
	return -1;
}

/* A marker over [s, e) of a lane: an outlined box, and with a band a
 * label in it ("#1 294.5ms function (file:line)") over the box, when
 * a row has room. */
static void mark(FILE *f, const struct gs_timeline *t, int y, int lane, uint64_t s,
		 uint64_t e, const char *stroke, const char *what, const char *frame,
		 struct band *band, const char *tag)
{
	double x = x_of(t, s), w = x_of(t, e) - x;
	int ly = y + lane * (LANE_H + LANE_GAP);
	if (w < 2)
		w = 2;
	fprintf(f, "<g class=\"mark\"><title>");
	xml(f, what);
	if (frame && frame[0]) {
		fputs(" at ", f);
		xml(f, frame);
	}
	fprintf(f, "</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		"fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>", x, ly - 1, w,
		LANE_H + 2, stroke);
	if (band) {
		char text[GS_CULPRIT_FRAME_MAX + 64], sf[GS_CULPRIT_FRAME_MAX];
		snprintf(text, sizeof text, "%s %s", tag, short_frame(sf, sizeof sf, frame));
		size_t chars = strlen(text) < LABEL_CHARS ? strlen(text) : LABEL_CHARS;
		double tx = x + chars * CHAR_PX * 0.82 > WIDTH ? WIDTH - chars * CHAR_PX * 0.82 : x;
		int r = band_row(band, tx, tx + chars * CHAR_PX * 0.82 + 6);
		if (r >= 0) {
			int by = y - 6 - (LABEL_ROWS - 1 - r) * LABEL_H;
			fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
				"stroke=\"%s\" stroke-width=\"0.5\"/>", x, by + 1, x, ly - 1, stroke);
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" fill=\"%s\">",
				tx, by, stroke);
			xml_fit(f, text, LABEL_CHARS);
			fputs("</text>", f);
		}
	}
	fputs("</g>\n", f);
}

static void marks(FILE *f, const struct gs_summary *s, const struct gs_timeline *t, int y)
{
	char what[160];
	const char *fr[1];
	for (size_t i = 0; i < t->nstalls; i++) {
		const struct gs_timeline_stall *st = &t->stalls[i];
		int l = lane_index(t, st->pid, st->tid);
		if (l < 0)
			continue;
		snprintf(what, sizeof what, "stall: %s %.1f ms",
			 st->role == GS_ROLE_WAITING ? "GIL wait" : "GIL hold",
			 (double)(st->end_ns - st->start_ns) / 1e6);
		fr[0] = NULL;
		if (s->culprit)
			gs_culprit_frames(s->culprit, st->stack, fr, 1);
		mark(f, t, y, l, st->start_ns, st->end_ns,
		     st->role == GS_ROLE_WAITING ? "#8b0000" : "#000000", what, fr[0], NULL,
		     NULL);
	}
	struct band band;
	memset(&band, 0, sizeof band);
	size_t nl = 0;
	const struct gs_culprit_hold *h = s->culprit ? gs_culprit_longest(s->culprit, &nl)
		: NULL;
	for (size_t i = 0; h && i < nl; i++) {
		int l = lane_index(t, h[i].pid, h[i].tid);
		if (l < 0)
			continue;
		snprintf(what, sizeof what, "longest hold #%zu: %.1f ms (%zu waited)", i + 1,
			 (double)(h[i].end_ns - h[i].start_ns) / 1e6, h[i].nwaiters);
		fr[0] = NULL;
		gs_culprit_frames(s->culprit, h[i].stack, fr, 1);
		char tag[48];
		snprintf(tag, sizeof tag, "#%zu %.1fms", i + 1,
			 (double)(h[i].end_ns - h[i].start_ns) / 1e6);
		mark(f, t, y, l, h[i].start_ns, h[i].end_ns, "#000000", what, fr[0], &band,
		     tag);
	}
}

/* ------------------------------------------------------ flame graph */

struct node {
	const char *name;         /* NULL: the root */
	size_t parent, child, next; /* indices; 0: none (0 is the root) */
	uint64_t ns[2];
	int depth;
};

struct tree {
	struct node *v;
	size_t n, cap;
	int depth;
	int samples;              /* weights are stack samples, not ns */
};

static size_t node_child(struct tree *tr, size_t p, const char *name)
{
	for (size_t c = tr->v[p].child; c; c = tr->v[c].next)
		if (!strcmp(tr->v[c].name, name))
			return c;
	if (tr->n == tr->cap) {
		size_t cap = tr->cap * 2;
		struct node *v = realloc(tr->v, cap * sizeof *v);
		if (!v)
			return 0;
		tr->v = v;
		tr->cap = cap;
	}
	size_t c = tr->n++;
	tr->v[c] = (struct node){ name, p, 0, tr->v[p].child, { 0, 0 }, tr->v[p].depth + 1 };
	tr->v[p].child = c;
	if (tr->v[c].depth > tr->depth)
		tr->depth = tr->v[c].depth;
	return c;
}

/* One stack's weight (on CPU, off CPU) added along its path. */
static int add_stack(struct tree *tr, const struct gs_summary *s, uint32_t id,
		     const uint64_t w[2])
{
	const char *fr[GS_STACK_MAX_DEPTH];
	size_t n = gs_culprit_frames(s->culprit, id, fr, GS_STACK_MAX_DEPTH);
	size_t p = 0;
	if (n > GS_STACK_MAX_DEPTH)
		n = GS_STACK_MAX_DEPTH;
	for (int r = 0; r < 2; r++)
		tr->v[0].ns[r] += w[r];
	for (size_t k = n; k-- > 0;) {
		if (!fr[k] || !(p = node_child(tr, p, fr[k])))
			return -1;
		for (int r = 0; r < 2; r++)
			tr->v[p].ns[r] += w[r];
	}
	return 0;
}

/* The holder's stacks: from the stack samples taken while holding
 * (record --stacks) when there are any, else from the holds that carry
 * a stack (--long-hold), weighted by their length. */
static int build(struct tree *tr, const struct gs_summary *s, const struct gs_timeline *t)
{
	memset(tr, 0, sizeof *tr);
	tr->cap = 256;
	if (!(tr->v = calloc(tr->cap, sizeof *tr->v)))
		return -1;
	tr->n = 1;
	const struct gs_stack_counts *sc = &s->stack_counts;
	for (size_t i = 0; i < sc->n; i++) {
		const struct gs_stack_count *c = &sc->v[i];
		if (!gs_role_holds(c->role) || !c->stack)
			continue;
		uint64_t w[2] = { 0, 0 };
		w[c->role == GS_ROLE_HELD_OFFCPU] = c->count;
		tr->samples = 1;
		if (add_stack(tr, s, c->stack, w))
			return -1;
	}
	for (size_t i = 1; !tr->samples && i < t->nstacks; i++) {
		const struct gs_timeline_stack *st = &t->stacks[i];
		if (st->stack && st->ns[0] + st->ns[1] && add_stack(tr, s, st->stack, st->ns))
			return -1;
	}
	return 0;
}

/* "12.5 ms held" or "42 samples". */
static void weight(char *buf, size_t n, const struct tree *tr, uint64_t w)
{
	if (tr->samples)
		snprintf(buf, n, "%llu stack sample%s", (unsigned long long)w, w == 1 ? "" : "s");
	else
		snprintf(buf, n, "%.1f ms held", (double)w / 1e6);
}

static void flame_box(FILE *f, const struct tree *tr, size_t i, double x, double w,
		      int y0, uint64_t total)
{
	const struct node *nd = &tr->v[i];
	uint64_t ns = nd->ns[0] + nd->ns[1];
	if (w < FLAME_MIN_PX)
		return;
	int y = y0 + (tr->depth - nd->depth) * FLAME_ROW;
	double off = ns ? (double)nd->ns[1] / (double)ns : 0;
	/* green (on CPU) to orange (off CPU) */
	int r = (int)(44 + off * (255 - 44)), g = (int)(160 + off * (127 - 160)),
	    b = (int)(44 + off * (14 - 44));
	fprintf(f, "<g class=\"frame\"><title>");
	xml(f, nd->name ? nd->name : "all holds with a stack");
	char wt[64];
	weight(wt, sizeof wt, tr, ns);
	fprintf(f, ": %s (%.1f%%), %.0f%% of it off CPU</title>"
		"<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
		"stroke=\"#fff\" stroke-width=\"0.5\"/>", wt,
		total ? 100.0 * (double)ns / (double)total : 0, 100 * off, x, y, w,
		FLAME_ROW - 1, r, g, b);
	if (w > 3 * CHAR_PX) {
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">", x + 2,
			y + FLAME_ROW - 4);
		xml_fit(f, nd->name ? nd->name : "all holds", (size_t)((w - 4) / CHAR_PX));
		fputs("</text>", f);
	}
	fputs("</g>\n", f);
	double cx = x;
	for (size_t c = nd->child; c; c = tr->v[c].next) {
		uint64_t cn = tr->v[c].ns[0] + tr->v[c].ns[1];
		double cw = ns ? w * (double)cn / (double)ns : 0;
		flame_box(f, tr, c, cx, cw, y0, total);
		cx += cw;
	}
}

/* Returns the height used. */
static int flame(FILE *f, const struct gs_summary *s, const struct gs_timeline *t, int y,
		 int *err)
{
	struct tree tr;
	if (build(&tr, s, t)) {
		free(tr.v);
		*err = 1;
		return 0;
	}
	uint64_t total = tr.v[0].ns[0] + tr.v[0].ns[1];
	if (!total) {
		free(tr.v);
		return 0;
	}
	char wt[64];
	weight(wt, sizeof wt, &tr, total);
	fprintf(f, "<text x=\"10\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">"
		"Holder flame graph: %s under each Python stack (%s; green on CPU, "
		"orange off CPU)</text>\n", y + 14,
		tr.samples ? "the holder's stack samples" : "time the GIL was held", wt);
	flame_box(f, &tr, 0, 10, WIDTH - 20, y + 22, total);
	int h = 22 + (tr.depth + 1) * FLAME_ROW + 10;
	free(tr.v);
	return h;
}

/* -------------------------------------------------------------- all */

int gs_svg_report(FILE *f, const struct gs_summary *s, const struct gs_timeline *t,
		  const char *title)
{
	char v[1024];
	int err = 0;
	/* The verdict, a line per clause. */
	char *clause[8];
	size_t nclause = 0;
	gs_culprit_verdict(v, sizeof v, s);
	if (!v[0])
		snprintf(v, sizeof v, "No thread waited for the GIL.");
	for (char *p = v; p && nclause < 8;) {
		clause[nclause++] = p;
		if ((p = strstr(p, "; ")))
			*p = 0, p += 2;
	}
	int y_wait = 52 + 13 * (int)nclause, y_lanes = y_wait + WAIT_H + 20 + LABEL_ROWS * LABEL_H + 6;
	int lanes_h = (int)t->nlanes * (LANE_H + LANE_GAP);
	int y_flame = y_lanes + lanes_h + 40;
	/* The flame graph's height is known once drawn: it goes into a
	 * group, and the picture's height is padded for the deepest stack
	 * the table may hold. */
	struct tree probe;
	int flame_h = 0;
	if (!build(&probe, s, t) && probe.v[0].ns[0] + probe.v[0].ns[1])
		flame_h = 22 + (probe.depth + 1) * FLAME_ROW + 10;
	free(probe.v);
	int height = y_flame + flame_h + 10;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"monospace\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
		WIDTH, height, WIDTH, height);
	fputs("<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", f);
	xml(f, title);
	fputs("</text>\n", f);
	fprintf(f, "<text x=\"10\" y=\"34\" font-size=\"11\">Python %s, pid %d, %.2f s, "
		"GIL utilisation %.1f%%; columns of %.3g ms</text>\n",
		s->run.python_version[0] ? s->run.python_version : "?", (int)s->run.pid,
		secs(gs_summary_wall_ns(s)), 100 * gs_summary_utilisation(s),
		(double)t->col_ns / 1e6);
	for (size_t i = 0; i < nclause; i++) {
		fprintf(f, "<text class=\"verdict\" x=\"10\" y=\"%d\" font-size=\"11\" "
			"fill=\"#a00\">", 50 + 13 * (int)i);
		xml(f, clause[i]);
		fputs("</text>\n", f);
	}

	if (t->ncols) {
		waiters(f, t, y_wait);
		axis(f, t, y_lanes - 4, lanes_h + 4);
		lanes(f, s, t, y_lanes);
		marks(f, s, t, y_lanes);
	}
	/* legend */
	static const enum gs_role order[] = { GS_ROLE_HELD, GS_ROLE_HELD_OFFCPU,
		GS_ROLE_WAITING, GS_ROLE_HANDOFF, GS_ROLE_RUNNING, GS_ROLE_IDLE };
	int lx = X0, ly = y_lanes + lanes_h + 18;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *name = gs_role_name(order[i]);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\" font-size=\"10\">%s</text>\n", lx, ly,
			colour[order[i]], lx + 13, ly + 9, name);
		lx += 13 + (int)(strlen(name) * 6.1) + 14;
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\">boxes: stalls (&#8805; %g ms%s) "
		"and the longest holds (#1..)</text>\n", lx, ly + 9, (double)t->stall_ns / 1e6,
		t->more_stalls ? ", the longest only" : "");
	flame(f, s, t, y_flame, &err);
	fputs("</svg>\n", f);
	return err ? -1 : 0;
}
