#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"

/* Length of the valid UTF-8 sequence at s, or 0 when it is invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
	else return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int gs_utf8_len(const char *s)
{
	return utf8_len((const unsigned char *)s);
}

char *gs_text_clean(char *dst, size_t n, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t k = 0;

	if (!n)
		return dst;
	while (*s) {
		int len = utf8_len(s);
		/* U+0080-U+009F (C2 80-C2 9F) are the C1 controls: CSI among
		 * them starts an escape sequence in many terminals. */
		int bad = len == 0 || *s < 0x20 || *s == 0x7f ||
			  (len == 2 && s[0] == 0xc2 && s[1] < 0xa0);
		size_t step = len ? (size_t)len : 1;
		size_t put = bad ? 1 : (size_t)len;
		if (k + put >= n)
			break;
		if (bad)
			dst[k] = '?';
		else
			memmove(dst + k, s, put);
		k += put;
		s += step;
	}
	dst[k] = 0;
	return dst;
}

void gs_json_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	fputc('"', f);
	while (*s) {
		/* The bytes that go out as they are, in one write. */
		const unsigned char *run = s;
		int n;
		while (*s && *s != '"' && *s != '\\' && *s >= 0x20 && *s != 0x7f &&
		       (n = utf8_len(s)) > 0)
			s += n;
		if (s > run)
			fwrite(run, 1, (size_t)(s - run), f);
		if (!*s)
			break;
		unsigned c = *s++;
		switch (c) {
		case '"': fputs("\\\"", f); continue;
		case '\\': fputs("\\\\", f); continue;
		case '\n': fputs("\\n", f); continue;
		case '\r': fputs("\\r", f); continue;
		case '\t': fputs("\\t", f); continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputs("\\ufffd", f); /* not UTF-8 */
	}
	fputc('"', f);
}
