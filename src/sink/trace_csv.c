/* CSV rows: splitting them (include/sink/trace_csv.h) and reading
 * them into the reader's summary (include/sink/trace_read.h). */
#include <stdlib.h>
#include <string.h>

#include "sink/trace_csv.h"
#include "sink/trace_read.h"

/* Bound on one row held across lines. */
#define CSV_MAX_ROW (64 * 1024)
#define CSV_FIELDS 10  /* the 10th, pid, is new in multi-process files */

int gs_csv_split(const char *s, size_t n, char *buf, const char **f, int maxf)
{
	size_t i = 0, o = 0;
	int nf = 0;
	for (;;) {
		if (nf == maxf)
			return -1;
		f[nf++] = buf + o;
		if (i < n && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return -1;
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						buf[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				buf[o++] = s[i++];
			}
		} else {
			while (i < n && s[i] != ',')
				buf[o++] = s[i++];
		}
		buf[o++] = 0;
		if (i >= n)
			return nf;
		if (s[i] != ',')
			return -2;
		i++;
	}
}

int gs_csv_open_quote(const char *s, size_t n)
{
	int open = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '"')
			open = !open;
	return open;
}

static int csv_row(struct gs_trace_reader *r, const char *s, size_t n)
{
	const char *f[CSV_FIELDS + 1];
	char *buf = malloc(n + CSV_FIELDS + 2);
	uint64_t tid, ts, dur, samples, pid = 0;
	int rc = -1, nf;
	if (!buf)
		return -1;
	nf = gs_csv_split(s, n, buf, f, CSV_FIELDS + 1);
	if ((nf == CSV_FIELDS - 1 ||
	     (nf == CSV_FIELDS && !gs_tread_u64(f[9], strlen(f[9]), &pid) &&
	      pid <= 0x7fffffff)) &&
	    !gs_tread_u64(f[0], strlen(f[0]), &tid) && tid > 0 && tid <= 0x7fffffff &&
	    !gs_tread_us_to_ns(f[3], strlen(f[3]), &ts) &&
	    !gs_tread_us_to_ns(f[4], strlen(f[4]), &dur) && ts <= UINT64_MAX - dur &&
	    !gs_tread_u64(f[5], strlen(f[5]), &samples)) {
		enum gs_role role = gs_trace_role_parse(f[2]);
		if (role != GS_ROLE_UNKNOWN) {
			gs_tread_interval(r, (pid_t)pid, (pid_t)tid, 0, f[1], role, ts, ts + dur,
				     samples, f[6], f[7], f[8], NULL);
			rc = 0;
		}
	}
	free(buf);
	return rc;
}

static void drop_pending(struct gs_trace_reader *r)
{
	free(r->pending);
	r->pending = NULL;
	r->pending_len = 0;
}

/* A CSV line, without its line end.  A quoted field may hold line
 * ends: the row is then gathered over several lines. */
void gs_tread_csv_line(struct gs_trace_reader *r, const char *s, size_t n)
{
	if (n && s[n - 1] == '\r' && !r->pending)
		n--;
	if (r->pending) {
		size_t need = r->pending_len + 1 + n;
		char *p = need <= CSV_MAX_ROW ? realloc(r->pending, need + 1) : NULL;
		if (!p) {
			drop_pending(r);
			gs_tread_bad(r, r->line_no);
			return;
		}
		p[r->pending_len] = '\n';
		memcpy(p + r->pending_len + 1, s, n);
		r->pending = p;
		r->pending_len = need;
		s = p;
		n = need;
		if (!gs_csv_open_quote(s, n) && n && s[n - 1] == '\r')
			n--;
	}
	if (gs_csv_open_quote(s, n)) {
		if (!r->pending) {
			if (n > CSV_MAX_ROW || !(r->pending = malloc(n + 1))) {
				gs_tread_bad(r, r->line_no);
				return;
			}
			memcpy(r->pending, s, n);
			r->pending_len = n;
		}
		return;
	}
	if (csv_row(r, s, n))
		gs_tread_bad(r, r->line_no);
	drop_pending(r);
}

void gs_tread_csv_finish(struct gs_trace_reader *r)
{
	if (r->pending) {
		gs_tread_bad(r, r->line_no);
		drop_pending(r);
	}
}
