/* gs_json_str (include/json.h): the output must be one valid JSON string
 * literal whose decoded value is the input, with every invalid UTF-8 byte
 * replaced by U+FFFD.  Escaping style (\n or \u000a, escaped '/' or not)
 * is the writer's choice, so most checks decode the output and compare
 * the value rather than the bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "unit.h"

static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	gs_json_str(f, s);
	fclose(f);
	return buf;
}

static int put_utf8(char **o, uint32_t cp)
{
	unsigned char *p = (unsigned char *)*o;
	if (cp < 0x80) {
		*p++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*p++ = (unsigned char)(0xc0 | (cp >> 6));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (unsigned char)(0xe0 | (cp >> 12));
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp <= 0x10ffff) {
		*p++ = (unsigned char)(0xf0 | (cp >> 18));
		*p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		return -1;
	}
	*o = (char *)p;
	return 0;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static int utf8_valid_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		unsigned hi = s[0] == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned lo = s[0] == 0xf0 ? 0x90 : 0x80;
		unsigned hi = s[0] == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* Decode a JSON string literal that must fill all of lit.  Returns a
 * malloc'd UTF-8 string, or NULL with *why set when lit is not a valid
 * literal (raw control character, bad escape, invalid UTF-8, lone
 * surrogate, stray quote, trailing bytes). */
static char *json_decode(const char *lit, const char **why)
{
	size_t n = strlen(lit);
	char *out = malloc(n * 2 + 4), *o = out;
	const unsigned char *p = (const unsigned char *)lit;

	*why = NULL;
	if (!out) {
		*why = "out of memory";
		return NULL;
	}
	if (*p++ != '"') {
		*why = "does not start with a quote";
		goto bad;
	}
	for (;;) {
		if (*p == 0) {
			*why = "no closing quote";
			goto bad;
		}
		if (*p == '"') {
			p++;
			break;
		}
		if (*p < 0x20) {
			*why = "raw control character";
			goto bad;
		}
		if (*p != '\\') {
			int l = utf8_valid_len(p);
			if (!l) {
				*why = "output is not valid UTF-8";
				goto bad;
			}
			memcpy(o, p, (size_t)l);
			o += l;
			p += l;
			continue;
		}
		p++;
		switch (*p) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (hex4((const char *)p + 1, &cp)) {
				*why = "bad \\u escape";
				goto bad;
			}
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				*why = "lone low surrogate";
				goto bad;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p[1] != '\\' || p[2] != 'u' ||
				    hex4((const char *)p + 3, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff) {
					*why = "lone high surrogate";
					goto bad;
				}
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0) {
				*why = "\\u0000 cannot come from a C string";
				goto bad;
			}
			put_utf8(&o, cp);
			break;
		}
		default:
			*why = "unknown escape";
			goto bad;
		}
		p++;
	}
	if (*p != 0) {
		*why = "bytes after the closing quote";
		goto bad;
	}
	*o = 0;
	return out;
bad:
	free(out);
	return NULL;
}

/* The output of gs_json_str(s) must be valid and decode to want. */
static void check_value(const char *s, const char *want, const char *name)
{
	char *lit = json_of(s);
	const char *why = "gs_json_str wrote nothing";
	char *got = lit ? json_decode(lit, &why) : NULL;
	if (!got) {
		UNIT_CHECK(got != NULL, name);
		UNIT_DIAG("  invalid literal (%s):", why);
		printf("#   ");
		unit_print_escaped_(lit);
		putchar('\n');
	} else {
		UNIT_EQ_STR(got, want, name);
	}
	free(got);
	free(lit);
}

static void check_exact(const char *s, const char *want, const char *name)
{
	char *lit = json_of(s);
	UNIT_EQ_STR(lit, want, name);
	free(lit);
}

#define FFFD "\xef\xbf\xbd"

int main(void)
{
	/* Where there is only one sensible spelling, check the bytes. */
	check_exact("", "\"\"", "empty string");
	check_exact("abc", "\"abc\"", "plain ASCII is copied");
	check_exact("a\"b", "\"a\\\"b\"", "quote is escaped as \\\"");
	check_exact("a\\b", "\"a\\\\b\"", "backslash is escaped as \\\\");
	check_exact("Thread-1 (worker)", "\"Thread-1 (worker)\"",
		    "spaces and parentheses are copied");

	/* Control characters: any valid escape, never a raw byte. */
	check_value("a\nb", "a\nb", "newline round-trips");
	check_value("\t\r\b\f", "\t\r\b\f", "tab, CR, BS, FF round-trip");
	check_value("\x01\x1f", "\x01\x1f", "other C0 controls round-trip");
	check_value("x\x7fy", "x\x7fy", "DEL round-trips");
	check_value("/usr/lib/x.so", "/usr/lib/x.so", "slashes round-trip");
	check_value("\"\\\"\\", "\"\\\"\\", "runs of quotes and backslashes");

	/* Valid UTF-8 survives, raw or escaped. */
	check_value("h\xc3\xa9llo", "h\xc3\xa9llo", "2-byte UTF-8 kept");
	check_value("\xe2\x82\xac", "\xe2\x82\xac", "3-byte UTF-8 kept");
	check_value("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", "4-byte UTF-8 kept");
	check_value("\xef\xbf\xbd", FFFD, "a real U+FFFD is kept");
	check_value("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "U+10FFFF kept");

	/* Invalid bytes: one U+FFFD each (these cases have one answer
	 * whether the writer replaces per byte or per maximal subpart). */
	check_value("\xff", FFFD, "0xff becomes U+FFFD");
	check_value("a\x80z", "a" FFFD "z", "lone continuation byte");
	check_value("\xc3(", FFFD "(", "lead byte followed by ASCII");
	check_value("\xc0\xaf", FFFD FFFD, "overlong '/' is two U+FFFD");
	check_value("\xed\xa0\x80", FFFD FFFD FFFD,
		    "UTF-8 encoded surrogate is invalid");
	check_value("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD,
		    "code point above U+10FFFF is invalid");
	check_value("\xfe\xfe\"", FFFD FFFD "\"",
		    "invalid bytes then a quote");

	/* A truncated sequence at the end: the count of U+FFFD may differ
	 * by reading of the contract; the output must stay valid and
	 * the valid prefix must survive. */
	{
		char *lit = json_of("ok\xe2\x82");
		const char *why = "gs_json_str wrote nothing";
		char *got = lit ? json_decode(lit, &why) : NULL;
		UNIT_CHECK(got != NULL, "truncated sequence at end gives a valid literal");
		UNIT_CHECK(got && strncmp(got, "ok" FFFD, 5) == 0 &&
			   strspn(got + 2, FFFD) == strlen(got + 2),
			   "truncated sequence at end becomes U+FFFD");
		free(got);
		free(lit);
	}

	/* Long input: no fixed-size buffer inside. */
	{
		/* 100000 % 7 == 5: the string never ends inside the é. */
		size_t n = 100000;
		char *s = malloc(n + 1);
		if (UNIT_CHECK(s != NULL, "allocate long input")) {
			for (size_t i = 0; i < n; i++)
				s[i] = (char)("ab\"\\\n\xc3\xa9"[i % 7]);
			s[n] = 0;
			check_value(s, s, "100000-byte string round-trips");
			free(s);
		}
	}

	/* The writer emits exactly one literal: two calls concatenate. */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (UNIT_CHECK(f != NULL, "open_memstream")) {
			gs_json_str(f, "a");
			fputc(',', f);
			gs_json_str(f, "b");
			fclose(f);
			UNIT_EQ_STR(buf, "\"a\",\"b\"", "no newline or padding around the literal");
			free(buf);
		}
	}

	/* Also through a fixed buffer (fmemopen): nothing relies on the
	 * stream growing. */
	{
		char buf[64] = { 0 };
		FILE *f = fmemopen(buf, sizeof buf, "w");
		if (UNIT_CHECK(f != NULL, "fmemopen")) {
			gs_json_str(f, "tab\there");
			fclose(f);
			const char *why = NULL;
			char *got = json_decode(buf, &why);
			UNIT_EQ_STR(got, "tab\there", "writes to a fmemopen stream");
			free(got);
		}
	}

	/* gs_text_clean (plain-text outputs): one line, no terminal
	 * controls, valid UTF-8 kept, a character that does not fit left
	 * out whole. */
	{
		char out[64];
		UNIT_EQ_STR(gs_text_clean(out, sizeof out, "a\nb\tc\x1b[0m\x7f"),
			    "a?b?c?[0m?", "C0 controls and DEL become '?'");
		UNIT_EQ_STR(gs_text_clean(out, sizeof out, "bad\xff\xc3(\xc3"),
			    "bad?" "?(?", "each invalid UTF-8 byte becomes '?'");
		UNIT_EQ_STR(gs_text_clean(out, sizeof out, "\xc3\xa9t\xc3\xa9 \"q\" \\"),
			    "\xc3\xa9t\xc3\xa9 \"q\" \\", "valid UTF-8, quotes, backslashes kept");
		UNIT_EQ_STR(gs_text_clean(out, sizeof out, "c1\xc2\x9b" "31m\xc2\xa0"),
			    "c1?31m\xc2\xa0", "a C1 control (U+009B) is one '?'; U+00A0 is kept");
		UNIT_EQ_STR(gs_text_clean(out, 5, "abc\xc3\xa9"), "abc",
			    "a character that does not fit is left out whole");
		UNIT_EQ_STR(gs_text_clean(out, sizeof out, NULL), "", "NULL is empty");
		char in_place[] = "x\ny\xff";
		UNIT_EQ_STR(gs_text_clean(in_place, sizeof in_place, in_place), "x?y?",
			    "cleans in place");
	}

	return unit_done();
}
