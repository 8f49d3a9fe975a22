/* units.h - checked parsing of numbers and sizes (never atoi). Any privilege. */
#ifndef LABRUN_UNITS_H
#define LABRUN_UNITS_H

#include <stdint.h>

/* "123", "64K", "1.5G", "2T", "512M", suffixes K M G T (powers of 1024,
 * case-insensitive, optional trailing "B" or "iB"), "unlimited" -> UINT64_MAX.
 * Returns 0 or -EINVAL / -ERANGE; *out set only on success. */
int lr_parse_size(const char *s, uint64_t *out);

/* Base-10 unsigned integer, whole string, within [min, max]. */
int lr_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Format bytes as "1G", "512M", "1536K" (exact when possible). */
void lr_format_size(uint64_t bytes, char *buf, unsigned long len);

#endif
