/* test_escape.c - text from files made safe to print (lib/escape.c): what a
 * terminal would obey is written out, what it would show is kept.  Pure;
 * runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"

static void expect(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t len = lr_escape_text(out, sizeof(out), in, n);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
}

static void printable_ascii_is_kept(void **state)
{
	expect("/scratch 5G [lab] a=b #x", 24, "/scratch 5G [lab] a=b #x");
}

static void c0_controls_and_del_are_escaped(void **state)
{
	expect("a\x1b[2Jb", 6, "a\\x1b[2Jb");
	expect("x\ry\tz\n", 6, "x\\ry\\tz\\n");
	expect("\x07\x08\x7f", 3, "\\x07\\x08\\x7f");
	expect("a\0b", 3, "a\\x00b");
}

static void backslash_is_escaped_so_that_the_output_is_unambiguous(void **state)
{
	expect("a\\x1b", 5, "a\\\\x1b");
}

static void utf8_is_kept_but_c1_controls_and_bad_bytes_are_not(void **state)
{
	expect("caf\xc3\xa9 \xe2\x82\xac", 9, "caf\xc3\xa9 \xe2\x82\xac");
	/* U+009B, CSI in one character: a terminal obeys it. */
	expect("\xc2\x9b"
	       "31m",
	       5, "\\xc2\\x9b31m");
	/* A raw 0x9b (8-bit CSI), a cut sequence, an overlong '/', a surrogate. */
	expect("\x9b", 1, "\\x9b");
	expect("\xe2\x82", 2, "\\xe2\\x82");
	expect("\xc0\xaf", 2, "\\xc0\\xaf");
	expect("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
}

static void an_escape_is_never_cut_at_the_end(void **state)
{
	char out[6];
	/* "ab" then "\x1b" (4 bytes) does not fit in 5 + NUL: left out whole. */
	assert_int_equal(lr_escape_text(out, sizeof(out), "ab\x1b", 3), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(lr_escape_text(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
	assert_int_equal(lr_escape_text(out, 0, "abc", 3), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(printable_ascii_is_kept),
		cmocka_unit_test(c0_controls_and_del_are_escaped),
		cmocka_unit_test(backslash_is_escaped_so_that_the_output_is_unambiguous),
		cmocka_unit_test(utf8_is_kept_but_c1_controls_and_bad_bytes_are_not),
		cmocka_unit_test(an_escape_is_never_cut_at_the_end),
	};
	return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
