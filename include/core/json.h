/* Escaping for the text outputs.  Thread names and paths come from the
 * target and may hold quotes, control characters or invalid UTF-8. */
#ifndef GS_JSON_H
#define GS_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal, quotes included.  Invalid UTF-8
 * bytes become U+FFFD. */
void gs_json_str(FILE *f, const char *s);

/* Length (1-4) of the valid UTF-8 sequence at s, or 0 when the bytes
 * there are not valid UTF-8 (overlong forms and surrogates included). */
int gs_utf8_len(const char *s);

/* Copy src into dst (n bytes, NUL included) for plain-text output: it
 * stays on one line and holds nothing a terminal acts on.  Control
 * characters (C0, DEL and the C1 range U+0080-U+009F) and bytes that are
 * not valid UTF-8 become '?'; valid UTF-8 is kept.  A character that
 * does not fit whole is left out.  dst may be src (cleaning in place).
 * Returns dst. */
char *gs_text_clean(char *dst, size_t n, const char *src);

#endif
