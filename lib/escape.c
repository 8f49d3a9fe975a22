/* escape.c - text from files made safe to print (escape.h). */
#include "build-config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

/* The length of the valid UTF-8 sequence at s (at most n bytes) that is
 * not a C1 control, or 0 when it is not one (overlong forms, surrogates
 * and code points past U+10FFFF are not valid, RFC 3629). */
static size_t utf8_printable(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
	if (overlong || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

/* in into out as lr_escape_text() does; with named, backslash is escaped
 * and \n \t \r have their names, else every control is \xHH and
 * backslash stays (lr_escape_controls()). */
static size_t escape(char *out, size_t size, const char *in, size_t n, bool named)
{
	if (!size)
		return 0;
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char esc[8];
		const char *piece;
		size_t plen;
		size_t u = s[i] >= 0x80 ? utf8_printable(s + i, n - i) : 0;
		if (u) {
			piece = in + i;
			plen = u;
		} else if (s[i] >= 0x20 && s[i] < 0x7f && (s[i] != '\\' || !named)) {
			piece = in + i;
			plen = 1;
		} else {
			u = 1;
			piece = esc;
			switch (named ? s[i] : 0) {
			case '\\': plen = (size_t)snprintf(esc, sizeof(esc), "\\\\"); break;
			case '\n': plen = (size_t)snprintf(esc, sizeof(esc), "\\n"); break;
			case '\t': plen = (size_t)snprintf(esc, sizeof(esc), "\\t"); break;
			case '\r': plen = (size_t)snprintf(esc, sizeof(esc), "\\r"); break;
			default: plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", s[i]); break;
			}
		}
		if (o + plen >= size)
			break; /* whole pieces only */
		memcpy(out + o, piece, plen);
		o += plen;
		i += u ? u : 1;
	}
	out[o] = '\0';
	return o;
}

size_t lr_escape_text(char *out, size_t size, const char *in, size_t n)
{
	return escape(out, size, in, n, true);
}

size_t lr_escape_controls(char *out, size_t size, const char *in, size_t n)
{
	return escape(out, size, in, n, false);
}

size_t lr_escape_str(char *out, size_t size, const char *in)
{
	return lr_escape_text(out, size, in, strlen(in));
}
