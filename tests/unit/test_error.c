/* test_error.c - one-line error messages (lib/error.c): built on the way up,
 * a hint where an errno misleads, and never a byte a terminal would obey
 * (issue 12: names from images, archives and others' files are quoted in
 * messages).  Runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

static void a_prefix_adds_context_on_the_way_up(void **state)
{
	(void)state;
	struct lr_error err = {0};
	assert_int_equal(lr_error_errno(&err, ENOENT, "layer.json"), -ENOENT);
	assert_int_equal(lr_error_prefix(&err, "layer %d", 2), -ENOENT);
	assert_string_equal(err.msg, "layer 2: layer.json: No such file or directory");
}

static void out_of_descriptors_says_raise_ulimit(void **state)
{
	(void)state;
	struct lr_error err = {0};
	lr_error_errno(&err, EMFILE, "/etc/labrun");
	assert_non_null(strstr(err.msg, "Too many open files"));
	assert_non_null(strstr(err.msg, "ulimit -n"));
}

static void control_characters_from_a_name_are_escaped(void **state)
{
	(void)state;
	struct lr_error err = {0};
	/* ESC ] 0 ; title BEL, a CR that hides the line, a BS, a newline. */
	lr_error_set(&err, EINVAL, "member %s: refused", "\x1b]0;pwned\x07x\ry\bz\n");
	assert_string_equal(err.msg, "member \\x1b]0;pwned\\x07x\\x0dy\\x08z\\x0a: refused");
}

static void c1_controls_and_bytes_that_are_not_utf8_are_escaped(void **state)
{
	(void)state;
	struct lr_error err = {0};
	/* U+009B (CSI as a C1 control), a lone 0x9b, 0xff, DEL. */
	lr_error_set(&err, EINVAL, "%s",
		     "a\xc2\x9b"
		     "b\x9b"
		     "c\xff"
		     "d\x7f");
	assert_string_equal(err.msg, "a\\xc2\\x9bb\\x9bc\\xffd\\x7f");
}

static void utf8_text_and_backslashes_are_kept(void **state)
{
	(void)state;
	struct lr_error err = {0};
	lr_error_set(&err, EINVAL, "%s", "caf\xc3\xa9 \xe4\xb8\xad C:\\dir \\x1b");
	assert_string_equal(err.msg, "caf\xc3\xa9 \xe4\xb8\xad C:\\dir \\x1b");
}

static void a_message_escaped_once_reads_the_same_after_a_prefix(void **state)
{
	(void)state;
	struct lr_error err = {0};
	lr_error_set(&err, EINVAL, "name %s", "\x1b[2J");
	assert_string_equal(err.msg, "name \\x1b[2J");
	lr_error_prefix(&err, "import");
	assert_string_equal(err.msg, "import: name \\x1b[2J");
}

static void a_prefix_with_control_characters_is_escaped_too(void **state)
{
	(void)state;
	struct lr_error err = {0};
	lr_error_set(&err, EINVAL, "bad");
	lr_error_prefix(&err, "image %s", "x\x1b[31m.sqfs");
	assert_string_equal(err.msg, "image x\\x1b[31m.sqfs: bad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_prefix_adds_context_on_the_way_up),
		cmocka_unit_test(out_of_descriptors_says_raise_ulimit),
		cmocka_unit_test(control_characters_from_a_name_are_escaped),
		cmocka_unit_test(c1_controls_and_bytes_that_are_not_utf8_are_escaped),
		cmocka_unit_test(utf8_text_and_backslashes_are_kept),
		cmocka_unit_test(a_message_escaped_once_reads_the_same_after_a_prefix),
		cmocka_unit_test(a_prefix_with_control_characters_is_escaped_too),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
