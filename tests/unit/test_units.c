/* test_units.c - checked parsing and formatting of numbers and sizes
 * (lib/units.c).  Pure functions; runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "units.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

static uint64_t size_of(const char *s)
{
	uint64_t v = 12345;
	int r = lr_parse_size(s, &v);
	if (r != 0)
		fail_msg("lr_parse_size(\"%s\") = %d, expected 0", s, r);
	return v;
}

/* The error, and that *out was left alone. */
static void assert_size_error(const char *s, int expected)
{
	uint64_t v = 12345;
	int r = lr_parse_size(s, &v);
	if (r != expected)
		fail_msg("lr_parse_size(\"%s\") = %d, expected %d", s ? s : "(null)", r, expected);
	assert_int_equal(v, 12345);
}

static void parses_plain_bytes(void **state)
{
	assert_int_equal(size_of("0"), 0);
	assert_int_equal(size_of("123"), 123);
	assert_int_equal(size_of("007"), 7);
}

static void parses_each_suffix_as_a_power_of_1024(void **state)
{
	assert_int_equal(size_of("64K"), 64 * KiB);
	assert_int_equal(size_of("512M"), 512 * MiB);
	assert_int_equal(size_of("2G"), 2 * GiB);
	assert_int_equal(size_of("3T"), 3 * TiB);
}

static void accepts_suffixes_in_any_case_with_b_or_ib(void **state)
{
	assert_int_equal(size_of("64k"), 64 * KiB);
	assert_int_equal(size_of("64KB"), 64 * KiB);
	assert_int_equal(size_of("64KiB"), 64 * KiB);
	assert_int_equal(size_of("64kib"), 64 * KiB);
	assert_int_equal(size_of("1gb"), GiB);
	assert_int_equal(size_of("1tIb"), TiB);
}

static void parses_decimals_exactly_rounding_down(void **state)
{
	assert_int_equal(size_of("1.5G"), 1610612736);
	assert_int_equal(size_of("0.5K"), 512);
	assert_int_equal(size_of("1.001K"), 1025); /* 1025.024 */
	assert_int_equal(size_of("0.25M"), 256 * KiB);
	assert_int_equal(size_of("0.0009765625K"), 1); /* exactly 1/1024 */
	/* 2^-40 has 40 decimal digits: one byte of a T, exactly, and a hair less. */
	assert_int_equal(size_of("0.0000000000009094947017729282379150390625T"), 1);
	assert_int_equal(size_of("0.0000000000009094947017729282379150390624T"), 0);
}

static void rejects_a_decimal_without_a_unit(void **state)
{
	assert_size_error("1.5", -EINVAL);
}

static void parses_unlimited(void **state)
{
	assert_true(size_of("unlimited") == UINT64_MAX);
}

static void reports_overflow_as_erange(void **state)
{
	assert_size_error("16777216T", -ERANGE); /* 2^64 */
	assert_size_error("18446744073709551616", -ERANGE);
	assert_size_error("99999999999999999999999", -ERANGE);
	assert_size_error("16777216.5T", -ERANGE);
	/* Right up to the edge is fine. */
	assert_true(size_of("18446744073709551615") == UINT64_MAX);
	assert_true(size_of("16777215T") == UINT64_MAX - TiB + 1);
	assert_true(size_of("16777215.99999999999999999999T") == UINT64_MAX);
}

static void rejects_empty_signs_spaces_and_garbage(void **state)
{
	const char *bad[] = {"",      "-1",  "+1",    " 1",   "1 ",   "1 G",	    "1G ",
			     "1.G",   ".5G", "1..5G", "0x10", "1e3",  "1Q",	    "1KK",
			     "1KiBs", "1B",  "K",     "G1",   "1,5G", "unlimitedx", "1.5.5G"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_size_error(bad[i], -EINVAL);
	assert_size_error(NULL, -EINVAL);
}

static void rejects_more_fraction_digits_than_can_matter(void **state)
{
	/* 41 digits: more than any 2^-n of a T needs. */
	assert_size_error("0.00000000000000000000000000000000000000001T", -EINVAL);
}

static void parses_uint_within_range(void **state)
{
	uint64_t v = 7;
	assert_int_equal(lr_parse_uint("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(lr_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void rejects_uint_out_of_range_or_malformed(void **state)
{
	uint64_t v = 7;
	assert_int_equal(lr_parse_uint("101", 0, 100, &v), -ERANGE);
	assert_int_equal(lr_parse_uint("4", 5, 100, &v), -ERANGE);
	assert_int_equal(lr_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(lr_parse_uint("", 0, 100, &v), -EINVAL);
	assert_int_equal(lr_parse_uint("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(lr_parse_uint(" 1", 0, 100, &v), -EINVAL);
	assert_int_equal(lr_parse_uint("1x", 0, 100, &v), -EINVAL);
	assert_int_equal(lr_parse_uint("1K", 0, 10000, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void assert_format(uint64_t bytes, const char *want)
{
	char buf[32];
	lr_format_size(bytes, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void formats_with_the_largest_exact_unit(void **state)
{
	assert_format(0, "0");
	assert_format(100, "100");
	assert_format(1025, "1025");
	assert_format(KiB, "1K");
	assert_format(1536 * KiB, "1536K");
	assert_format(512 * MiB, "512M");
	assert_format(GiB, "1G");
	assert_format(1610612736, "1536M");
	assert_format(2 * TiB, "2T");
	assert_format(1024 * TiB, "1024T");
	assert_format(UINT64_MAX, "unlimited");
}

static void formats_into_a_short_buffer_without_overrun(void **state)
{
	char buf[4] = {'x', 'x', 'x', 'x'};
	lr_format_size(123456, buf, 3);
	assert_string_equal(buf, "12");
	assert_int_equal(buf[3], 'x');
}

static void formatted_sizes_parse_back(void **state)
{
	const uint64_t sizes[] = {0, 1, 1023, KiB, 1536 * KiB, 3 * GiB, 5 * TiB, UINT64_MAX};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char buf[32];
		lr_format_size(sizes[i], buf, sizeof(buf));
		assert_true(size_of(buf) == sizes[i]);
	}
}

int main(void)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_plain_bytes),
		cmocka_unit_test(parses_each_suffix_as_a_power_of_1024),
		cmocka_unit_test(accepts_suffixes_in_any_case_with_b_or_ib),
		cmocka_unit_test(parses_decimals_exactly_rounding_down),
		cmocka_unit_test(rejects_a_decimal_without_a_unit),
		cmocka_unit_test(parses_unlimited),
		cmocka_unit_test(reports_overflow_as_erange),
		cmocka_unit_test(rejects_empty_signs_spaces_and_garbage),
		cmocka_unit_test(rejects_more_fraction_digits_than_can_matter),
		cmocka_unit_test(parses_uint_within_range),
		cmocka_unit_test(rejects_uint_out_of_range_or_malformed),
		cmocka_unit_test(formats_with_the_largest_exact_unit),
		cmocka_unit_test(formats_into_a_short_buffer_without_overrun),
		cmocka_unit_test(formatted_sizes_parse_back),
	};
	return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
