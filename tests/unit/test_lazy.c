/* test_lazy.c - libraries loaded when first used (lib/lazy.h): the
 * decompressors and hwloc answer through their loaded library, and a
 * library that cannot be loaded fails the call with a reason that names
 * it, never a crash.  Runs as any user. */
#include "build-config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <hwloc.h>
#include <lz4.h>
#include <zlib.h>
#include <zstd.h>

#include "lazy.h"

static void a_missing_library_fails_the_call_and_is_named(void **state)
{
	(void)state;
	struct lr_lazy_lib none = {.soname = "liblabrun-no-such-library.so.0"};
	const char *so = none.soname;
	assert_null(lr_lazy_sym(&none, "anything"));
	assert_non_null(lr_lazy_failure(so));
	assert_non_null(strstr(lr_lazy_failure(so), "liblabrun-no-such-library.so.0"));
	/* Tried once: the next call fails at once, the same way. */
	assert_null(lr_lazy_sym(&none, "anything"));
	struct lr_lazy_lib z = {.soname = LR_SONAME_Z};
	assert_null(lr_lazy_sym(&z, "no_such_function_in_zlib"));
	assert_non_null(strstr(lr_lazy_failure(LR_SONAME_Z), "no_such_function_in_zlib"));
	/* Each library its own: the missing one's failure is not lz4's, whose
	 * errors (a corrupt block) stay errors of the data. */
	assert_non_null(strstr(lr_lazy_failure(so), "liblabrun-no-such-library.so.0"));
	assert_null(lr_lazy_failure(LR_SONAME_LZ4));
	assert_null(lr_lazy_failure(LR_SONAME_HWLOC));
	/* A layer's codec by the superblock's id. */
	assert_string_equal(lr_lazy_codec_soname(5), LR_SONAME_LZ4);
	assert_string_equal(lr_lazy_codec_soname(1), LR_SONAME_Z);
	assert_null(lr_lazy_codec_soname(7));
}

/* Round trips through the real libraries, called by the names libsquashfuse
 * calls: the definitions in codecs.c, which load them. */
static void the_decompressors_answer_through_their_libraries(void **state)
{
	(void)state;
	static const char text[] = "labrun labrun labrun labrun labrun labrun";
	char packed[256], out[sizeof(text)];

	uLongf zlen = sizeof(packed);
	assert_int_equal(compress((Bytef *)packed, &zlen, (const Bytef *)text, sizeof(text)), Z_OK);
	uLongf olen = sizeof(out);
	assert_int_equal(uncompress((Bytef *)out, &olen, (Bytef *)packed, zlen), Z_OK);
	assert_memory_equal(out, text, sizeof(text));

	int n = LZ4_compress_default(text, packed, sizeof(text), sizeof(packed));
	assert_true(n > 0);
	assert_int_equal(LZ4_decompress_safe(packed, out, n, sizeof(out)), sizeof(text));

	size_t zn = ZSTD_compress(packed, sizeof(packed), text, sizeof(text), 1);
	assert_false(ZSTD_isError(zn));
	size_t got = ZSTD_decompress(out, sizeof(out), packed, zn);
	assert_false(ZSTD_isError(got));
	assert_int_equal(got, sizeof(text));
	/* A corrupt frame is an error code, as from the library itself. */
	packed[0] ^= 0xff;
	assert_true(ZSTD_isError(ZSTD_decompress(out, sizeof(out), packed, zn)));
}

static void hwloc_loads_when_a_topology_is_first_made(void **state)
{
	(void)state;
	hwloc_topology_t t;
	assert_int_equal(hwloc_topology_init(&t), 0);
	assert_int_equal(hwloc_topology_load(t), 0);
	assert_true(hwloc_get_nbobjs_by_depth(t, 0) == 1); /* the machine */
	hwloc_bitmap_t b = hwloc_bitmap_alloc();
	assert_non_null(b);
	assert_int_equal(hwloc_bitmap_set(b, 3), 0);
	assert_true(hwloc_bitmap_isset(b, 3));
	assert_int_equal(hwloc_bitmap_weight(b), 1);
	hwloc_bitmap_free(b);
	hwloc_topology_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_missing_library_fails_the_call_and_is_named),
		cmocka_unit_test(the_decompressors_answer_through_their_libraries),
		cmocka_unit_test(hwloc_loads_when_a_topology_is_first_made),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
