/* units.c - checked parsing of numbers and sizes (see units.h).
 *
 * Runs with any privilege; no I/O, no allocation.  The strings parsed here
 * come from users (command line) and admins (labrun.conf), so nothing is
 * left to strtoull's leniency: no sign, no leading spaces, no trailing
 * garbage, no silent wrap-around.  Results are exact integers; a decimal size
 * such as "1.5G" is computed without floating point so that the same text
 * gives the same byte count on every machine.
 */
#include "build-config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "units.h"

/* Digits after the point in "1.5G".  40 are enough for exactness: the
 * smallest step a fraction can express, 1 byte of a T, is 2^-40 of it, whose
 * decimal expansion has 40 digits.  More would only cost time. */
#define MAX_FRACTION_DIGITS 40

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Accumulate the run of digits at *s into *v; advances *s.  -ERANGE on
 * overflow (the rest of the digits are still skipped so that the caller
 * can tell "too large" from "not a number"). */
static int digits(const char **s, uint64_t *v)
{
	int r = 0;
	uint64_t n = 0;
	for (; is_digit(**s); (*s)++) {
		unsigned d = (unsigned)(**s - '0');
		if (n > (UINT64_MAX - d) / 10)
			r = -ERANGE;
		else
			n = n * 10 + d;
	}
	*v = n;
	return r;
}

int lr_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !is_digit(*s))
		return -EINVAL;
	uint64_t v;
	int r = digits(&s, &v);
	if (*s != '\0')
		return -EINVAL;
	if (r < 0 || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Shift (log2 of the multiplier) for a unit suffix, or -1.  Accepts "K",
 * "KB", "KiB" in any case: people write all three and mean 1024. */
static int suffix_shift(const char *s)
{
	static const char units[] = "KMGT";
	if (*s == '\0')
		return 0;
	char c = (s[0] >= 'a' && s[0] <= 'z') ? (char)(s[0] - 'a' + 'A') : s[0];
	const char *u = strchr(units, c);
	if (!u)
		return -1;
	const char *rest = s + 1;
	if (*rest != '\0' && strcasecmp(rest, "B") != 0 && strcasecmp(rest, "iB") != 0)
		return -1;
	return 10 * (int)(u - units + 1);
}

/* floor(0.FRACTION * 2^shift), exactly: double the decimal fraction shift
 * times; each carry out of its first digit is one whole unit. */
static uint64_t fraction_part(const char *frac, size_t n, int shift)
{
	unsigned char d[MAX_FRACTION_DIGITS];
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)(frac[i] - '0');
	uint64_t whole = 0;
	for (int k = 0; k < shift; k++) {
		unsigned carry = 0;
		for (size_t i = n; i-- > 0;) {
			unsigned v = d[i] * 2u + carry;
			d[i] = (unsigned char)(v % 10);
			carry = v / 10;
		}
		whole = whole * 2 + carry;
	}
	return whole;
}

int lr_parse_size(const char *s, uint64_t *out)
{
	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "unlimited") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (!is_digit(*s))
		return -EINVAL; /* empty, sign, space, ".5G" */
	uint64_t whole;
	int range = digits(&s, &whole);

	const char *frac = NULL;
	size_t n_frac = 0;
	if (*s == '.') {
		frac = ++s;
		while (is_digit(*s))
			s++;
		n_frac = (size_t)(s - frac);
		if (n_frac == 0 || n_frac > MAX_FRACTION_DIGITS)
			return -EINVAL;
	}

	int shift = suffix_shift(s);
	if (shift < 0)
		return -EINVAL;
	/* "1.5" bytes means nothing; a fraction needs a unit to be a fraction of. */
	if (frac && shift == 0)
		return -EINVAL;
	if (range < 0)
		return range;

	if (shift > 0 && whole > (UINT64_MAX >> shift))
		return -ERANGE;
	uint64_t v = whole << shift;
	if (frac) {
		uint64_t part = fraction_part(frac, n_frac, shift);
		if (v > UINT64_MAX - part)
			return -ERANGE;
		v += part;
	}
	*out = v;
	return 0;
}

void lr_format_size(uint64_t bytes, char *buf, unsigned long len)
{
	static const char units[] = "TGMK";
	if (!buf || len == 0)
		return;
	if (bytes == UINT64_MAX) {
		snprintf(buf, len, "unlimited"); /* what lr_parse_size reads back */
		return;
	}
	for (int i = 0; bytes != 0 && i < 4; i++) {
		int shift = 10 * (4 - i);
		if ((bytes & ((UINT64_C(1) << shift) - 1)) == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(bytes >> shift),
				 units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}
