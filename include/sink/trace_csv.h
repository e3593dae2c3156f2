/* RFC 4180 rows as record --format csv writes them (see
 * docs/trace-format.md): the splitting half of reading them back. */
#ifndef GS_TRACE_CSV_H
#define GS_TRACE_CSV_H

#include <stddef.h>

/* Split the row [s, s+n) (without its line end) into fields decoded
 * into buf, which has room for n + maxf bytes; f[i] points at field i.
 * Returns the number of fields, -1 when there are more than maxf or a
 * quoted field is still open at the end, -2 for text after a closing
 * quote. */
int gs_csv_split(const char *s, size_t n, char *buf, const char **f, int maxf);

/* Whether [s, s+n) leaves a quoted field open, i.e. the row goes on
 * after the line end. */
int gs_csv_open_quote(const char *s, size_t n);

#endif
