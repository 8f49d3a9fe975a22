/* test_placement.c - lib/quota/placement.c on the hwloc topologies of
 * tests/fixtures/ (see the .txt beside each): the exact CPUs chosen for a
 * number of CPUs, an allowed set and the job's GPUs.  Runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "placement.h"

#ifndef LR_FIXTURES
#error "LR_FIXTURES must name tests/fixtures (Makefile.am)"
#endif

/* place(FIXTURE, ALLOWED, N, EXPECTED, GPU...): lr_place gives EXPECTED. */
static void check(const char *fixture, const char *allowed, unsigned n, const char *want,
		  const char *const *gpus, size_t n_gpus)
{
	struct lr_topology *t;
	struct lr_error err = {0};
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", LR_FIXTURES, fixture);
	if (lr_topology_load(&t, path, &err) < 0)
		fail_msg("%s", err.msg);
	char got[256];
	if (lr_place(t, allowed, n, gpus, n_gpus, got, sizeof(got), &err) < 0)
		fail_msg("%s, %u CPUs: %s", fixture, n, err.msg);
	lr_topology_free(t);
	if (strcmp(got, want))
		fail_msg("%s, %u CPUs of %s near %zu GPU(s): got %s, want %s", fixture, n,
			 allowed ? allowed : "all", n_gpus, got, want);
}

#define GPUS(...)                                                                                  \
	(const char *const[]){__VA_ARGS__},                                                        \
		sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)
#define NO_GPUS NULL, 0

static const char *const two = "two-socket-8gpu.xml";
static const char *const smt = "one-socket-smt.xml";
static const char *const asym = "asymmetric.xml";

static void whole_cores_of_one_node_when_they_fit(void **state)
{
	(void)state;
	check(two, NULL, 1, "0", NO_GPUS);
	check(two, NULL, 4, "0-3", NO_GPUS);
	check(two, NULL, 8, "0-7", NO_GPUS); /* one thread per core, not 0-3,32-35 */
	check(smt, NULL, 8, "0-7", NO_GPUS);
}

static void the_node_of_the_jobs_gpus(void **state)
{
	(void)state;
	check(two, NULL, 4, "8-11", GPUS("nvidia2"));
	check(two, NULL, 4, "16-19", GPUS("cuda5"));	    /* a CUDA OS device name */
	check(two, NULL, 8, "24-31", GPUS("0000:c1:00.0")); /* a PCI address */
	check(two, NULL, 2, "24-25", GPUS("c2:00.0"));
	check(asym, NULL, 2, "6-7", GPUS("nvidia0"));
}

static void more_cores_than_a_node_the_nearest_node_next(void **state)
{
	(void)state;
	/* NUMA 3 holds the GPU; NUMA 2 shares its package (latency 11, not 20). */
	check(two, NULL, 12, "16-19,24-31", GPUS("nvidia6"));
	check(two, NULL, 12, "0-11", NO_GPUS);
	check(two, NULL, 16, "0-15", NO_GPUS);
	check(two, NULL, 24, "0-23", NO_GPUS);
}

static void gpus_on_two_nodes_take_both_first(void **state)
{
	(void)state;
	check(two, NULL, 16, "0-7,16-23", GPUS("nvidia1", "nvidia5"));
	check(two, NULL, 20, "0-11,16-23", GPUS("nvidia1", "nvidia5"));
}

static void hyperthreads_only_when_every_allowed_core_is_taken(void **state)
{
	(void)state;
	check(smt, NULL, 10, "0-9", NO_GPUS); /* cores 0-7, then siblings 8 and 9 */
	check(smt, NULL, 16, "0-15", NO_GPUS);
	check(two, NULL, 34, "0-33", NO_GPUS);
	/* Two cores near the GPU and four CPUs asked for: whole cores of
	 * another node come before the GPU node's hyperthreads. */
	check(asym, NULL, 4, "0-3", GPUS("nvidia0"));
	check(asym, NULL, 8, "0-7", NO_GPUS);
	check(asym, NULL, 10, "0-9", NO_GPUS);
}

static void only_allowed_cpus(void **state)
{
	(void)state;
	check(two, "0-3,8-31", 10, "0-3,8-13", GPUS("nvidia0"));
	check(two, "32-39", 4, "32-35", NO_GPUS); /* only second threads allowed */
	check(smt, "2,10,3,11", 3, "2-3,10", NO_GPUS);
	check(two, "40-47,8", 2, "8,41", NO_GPUS);
}

static void refusals(void **state)
{
	(void)state;
	struct lr_topology *t;
	struct lr_error err = {0};
	char path[512], out[64];
	snprintf(path, sizeof(path), "%s/%s", LR_FIXTURES, smt);
	assert_int_equal(lr_topology_load(&t, path, &err), 0);
	assert_int_equal(lr_place(t, NULL, 17, NULL, 0, out, sizeof(out), &err), -ENOSPC);
	assert_string_equal(err.msg, "17 CPUs asked for, 16 allowed (all of this node)");
	assert_int_equal(lr_place(t, "0-3", 5, NULL, 0, out, sizeof(out), &err), -ENOSPC);
	assert_string_equal(err.msg, "5 CPUs asked for, 4 allowed (0-3)");
	assert_int_equal(lr_place(t, "x", 1, NULL, 0, out, sizeof(out), &err), -EINVAL);
	assert_int_equal(lr_place(t, NULL, 0, NULL, 0, out, sizeof(out), &err), -EINVAL);
	const char *const gpu[] = {"nvidia0"};
	assert_int_equal(lr_place(t, NULL, 1, gpu, 1, out, sizeof(out), &err), -ENOENT);
	assert_string_equal(err.msg, "GPU nvidia0: not in the topology");
	lr_topology_free(t);
	assert_true(lr_topology_load(&t, LR_FIXTURES "/no-such.xml", &err) < 0);
	assert_non_null(strstr(err.msg, "no-such.xml"));
}

static void this_machine(void **state)
{
	(void)state;
	struct lr_topology *t;
	struct lr_error err = {0};
	char out[64];
	assert_int_equal(lr_topology_load(&t, NULL, &err), 0);
	assert_int_equal(lr_place(t, NULL, 1, NULL, 0, out, sizeof(out), &err), 0);
	lr_topology_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_cores_of_one_node_when_they_fit),
		cmocka_unit_test(the_node_of_the_jobs_gpus),
		cmocka_unit_test(more_cores_than_a_node_the_nearest_node_next),
		cmocka_unit_test(gpus_on_two_nodes_take_both_first),
		cmocka_unit_test(hyperthreads_only_when_every_allowed_core_is_taken),
		cmocka_unit_test(only_allowed_cpus),
		cmocka_unit_test(refusals),
		cmocka_unit_test(this_machine),
	};
	return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
