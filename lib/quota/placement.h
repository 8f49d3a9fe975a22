/* placement.h - choosing the CPUs a container gets (DESIGN.md §5): N of
 * the allowed ones, one per physical core before any core's second
 * hardware thread, on as few NUMA nodes as possible, those of the job's
 * GPUs first.  The topology comes from hwloc: this machine's, or an XML
 * file (tests/fixtures/).
 *
 * Runs with any privilege; reads the topology only.
 */
#ifndef LABRUN_PLACEMENT_H
#define LABRUN_PLACEMENT_H

#include <stddef.h>

#include "error.h"

struct lr_topology;

/* This machine's topology (xml NULL) or the one saved in xml, with the
 * PCI and OS devices (GPUs) kept. */
int lr_topology_load(struct lr_topology **out, const char *xml, struct lr_error *err);
void lr_topology_free(struct lr_topology *t);

/* Save t as XML at path (atomically), for lr_topology_load() to read back
 * in a tenth of the time discovery takes. */
int lr_topology_save(const struct lr_topology *t, const char *path, struct lr_error *err);

/* Choose n CPUs (hardware threads, by OS number) among allowed (a Linux
 * cpu list such as "0-7,32-39"; NULL: every CPU), near the GPUs named in
 * gpus (hwloc OS device names such as "cuda1", or PCI addresses such as
 * "0000:41:00.0"; an unknown name is an error).  Writes the choice as a cpu list into out.  -ENOSPC
 * with a message when fewer than n CPUs are allowed. */
int lr_place(const struct lr_topology *t, const char *allowed, unsigned n, const char *const *gpus,
	     size_t n_gpus, char *out, size_t len, struct lr_error *err);

#endif
