/* Splitting CSV rows (include/sink/trace_csv.h). */
#include "sink/trace_csv.h"

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
