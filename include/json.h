/* Escaping for the text outputs.  Thread names and paths come from the
 * target and may hold quotes, control characters or invalid UTF-8. */
#ifndef GS_JSON_H
#define GS_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal, quotes included.  Invalid UTF-8
 * bytes become U+FFFD. */
void gs_json_str(FILE *f, const char *s);

#endif
