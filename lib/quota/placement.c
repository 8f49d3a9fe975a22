/* placement.c - CPUs for a container from the hwloc topology (placement.h).
 *
 * 1. Each NUMA node's allowed physical cores, in hwloc's order.
 * 2. The nodes ranked: those holding more of the job's GPUs first, then
 *    larger (more allowed cores), then hwloc's order.
 * 3. One node when one has n cores, the best ranked of those.  Else the
 *    best ranked, then each time the node holding more GPUs, else nearest
 *    (NUMA latency) to those chosen, until they hold n cores.
 * 4. From the chosen nodes, the first hardware thread of every core, then
 *    the second threads, until there are n.
 * Cores without a NUMA node (a topology without one) count as one node.
 */
#include "build-config.h"

#include <errno.h>
#include <hwloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <strings.h>

#include "lazy.h"
#include "placement.h"

struct lr_topology {
	hwloc_topology_t topo;
};

int lr_topology_load(struct lr_topology **out, const char *xml, struct lr_error *err)
{
	struct lr_topology *t = calloc(1, sizeof(*t));
	if (!t)
		return lr_error_errno(err, ENOMEM, "topology");
	if (hwloc_topology_init(&t->topo) < 0) {
		free(t);
		const char *why = lr_lazy_failure(LR_SONAME_HWLOC); /* loaded now (lazy.h) */
		return why ? lr_error_set(err, ENOSYS, "hwloc: cannot load it: %s", why)
			   : lr_error_set(err, ENOMEM, "hwloc: cannot start a topology");
	}
	/* PCI and OS devices: where the GPUs are. */
	hwloc_topology_set_io_types_filter(t->topo, HWLOC_TYPE_FILTER_KEEP_ALL);
	if (xml && hwloc_topology_set_xml(t->topo, xml) < 0) {
		int e = errno ? errno : EINVAL;
		hwloc_topology_destroy(t->topo);
		free(t);
		return lr_error_errno(err, e, "topology %s", xml);
	}
	if (hwloc_topology_load(t->topo) < 0) {
		int e = errno ? errno : EINVAL;
		hwloc_topology_destroy(t->topo);
		free(t);
		return lr_error_errno(err, e, "topology %s", xml ? xml : "of this machine");
	}
	*out = t;
	return 0;
}

int lr_topology_save(const struct lr_topology *t, const char *path, struct lr_error *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return lr_error_set(err, ENAMETOOLONG, "%s: path too long", path);
	/* hwloc writes the file itself, with the process's umask: 0644. */
	mode_t old = umask(022);
	int r = hwloc_topology_export_xml(t->topo, tmp, 0);
	int e = errno ? errno : EIO;
	umask(old);
	if (r < 0 || rename(tmp, path) < 0) {
		e = r < 0 ? e : errno;
		unlink(tmp);
		return lr_error_errno(err, e, "save the topology to %s", path);
	}
	return 0;
}

void lr_topology_free(struct lr_topology *t)
{
	if (!t)
		return;
	hwloc_topology_destroy(t->topo);
	free(t);
}

struct node {
	hwloc_obj_t numa; /* NULL: the whole machine */
	hwloc_obj_t *cores;
	unsigned n_cores;
	unsigned gpus; /* of the job's GPUs local to this node */
	unsigned index;
};

/* NUMA latency between two nodes: hwloc's matrix where the topology has
 * one, else 10 within a package and 20 across (what Linux reports). */
static uint64_t node_distance(struct hwloc_distances_s *dist, const struct node *a,
			      const struct node *b)
{
	if (!a->numa || !b->numa)
		return 0;
	hwloc_uint64_t ab, ba;
	if (dist && hwloc_distances_obj_pair_values(dist, a->numa, b->numa, &ab, &ba) == 0)
		return ab < ba ? ab : ba;
	hwloc_obj_t pa = hwloc_get_ancestor_obj_by_type(NULL, HWLOC_OBJ_PACKAGE, a->numa);
	hwloc_obj_t pb = hwloc_get_ancestor_obj_by_type(NULL, HWLOC_OBJ_PACKAGE, b->numa);
	return pa && pa == pb ? 10 : 20;
}

static int by_rank(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	if (x->gpus != y->gpus)
		return x->gpus > y->gpus ? -1 : 1;
	if (x->n_cores != y->n_cores)
		return x->n_cores > y->n_cores ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void add_nodes(hwloc_topology_t topo, hwloc_obj_t io, hwloc_bitmap_t set)
{
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, io);
	if (anc && anc->nodeset)
		hwloc_bitmap_or(set, set, anc->nodeset);
}

/* The NUMA nodes of the GPU named name (an OS device name such as "cuda0",
 * or a PCI address "0000:41:00.0" / "41:00.0"), into set; -ENOENT when
 * unknown. */
static int gpu_nodes(hwloc_topology_t topo, const char *name, hwloc_bitmap_t set)
{
	hwloc_obj_t o = NULL;
	while ((o = hwloc_get_next_osdev(topo, o)))
		if (o->name && !strcmp(o->name, name)) {
			add_nodes(topo, o, set);
			return 0;
		}
	while ((o = hwloc_get_next_pcidev(topo, o))) {
		char full[32], bus[32];
		const struct hwloc_pcidev_attr_s *a = &o->attr->pcidev;
		snprintf(full, sizeof(full), "%04x:%02x:%02x.%01x", a->domain, a->bus, a->dev,
			 a->func);
		snprintf(bus, sizeof(bus), "%02x:%02x.%01x", a->bus, a->dev, a->func);
		if (!strcasecmp(full, name) || !strcasecmp(bus, name)) {
			add_nodes(topo, o, set);
			return 0;
		}
	}
	return -ENOENT;
}

int lr_place(const struct lr_topology *t, const char *allowed_list, unsigned n,
	     const char *const *gpus, size_t n_gpus, char *out, size_t len, struct lr_error *err)
{
	hwloc_topology_t topo = t->topo;
	int r = 0;
	hwloc_bitmap_t allowed = hwloc_bitmap_alloc(), gpu = hwloc_bitmap_alloc(),
		       chosen = hwloc_bitmap_alloc();
	struct node *nodes = NULL;
	unsigned n_nodes = 0;
	if (!allowed || !gpu || !chosen) {
		r = lr_error_errno(err, ENOMEM, "placement");
		goto out;
	}
	if (n == 0) {
		r = lr_error_set(err, EINVAL, "placement: 0 CPUs asked for");
		goto out;
	}
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
	if (allowed_list) {
		if (hwloc_bitmap_list_sscanf(allowed, allowed_list) < 0) {
			r = lr_error_set(err, EINVAL,
					 "allowed CPUs '%s': expected a list such as 0-7,16",
					 allowed_list);
			goto out;
		}
		hwloc_bitmap_and(allowed, allowed, all);
	} else {
		hwloc_bitmap_copy(allowed, all);
	}
	/* 1. Nodes and their allowed cores. */
	int depth = hwloc_get_type_depth(topo, HWLOC_OBJ_NUMANODE);
	unsigned total_numa =
		depth == HWLOC_TYPE_DEPTH_UNKNOWN
			? 0
			: (unsigned)hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	unsigned slots = total_numa ? total_numa : 1;
	nodes = calloc(slots, sizeof(*nodes));
	int n_all_cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	if (!nodes || n_all_cores <= 0) {
		r = n_all_cores <= 0 ? lr_error_set(err, EINVAL, "topology: no cores")
				     : lr_error_errno(err, ENOMEM, "placement");
		goto out;
	}
	for (unsigned i = 0; i < slots; i++) {
		struct node *nd = &nodes[n_nodes];
		nd->numa = total_numa ? hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i) : NULL;
		nd->index = i;
		if (!(nd->cores = calloc((size_t)n_all_cores, sizeof(*nd->cores)))) {
			r = lr_error_errno(err, ENOMEM, "placement");
			goto out;
		}
		for (int c = 0; c < n_all_cores; c++) {
			hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)c);
			if (!hwloc_bitmap_intersects(core->cpuset, allowed))
				continue;
			if (nd->numa && !hwloc_bitmap_isincluded(core->cpuset, nd->numa->cpuset))
				continue;
			nd->cores[nd->n_cores++] = core;
		}
		n_nodes++;
	}
	/* How many of the job's GPUs each node holds. */
	for (size_t g = 0; g < n_gpus; g++) {
		hwloc_bitmap_zero(gpu);
		if (gpu_nodes(topo, gpus[g], gpu) < 0) {
			r = lr_error_set(err, ENOENT, "GPU %s: not in the topology", gpus[g]);
			goto out;
		}
		for (unsigned i = 0; i < n_nodes; i++)
			if (nodes[i].numa && hwloc_bitmap_isset(gpu, nodes[i].numa->os_index))
				nodes[i].gpus++;
	}

	/* 2. Enough allowed threads at all? */
	unsigned threads = (unsigned)hwloc_bitmap_weight(allowed);
	if (n > threads) {
		r = lr_error_set(err, ENOSPC, "%u CPUs asked for, %u allowed (%s)", n, threads,
				 allowed_list ? allowed_list : "all of this node");
		goto out;
	}

	/* 3. One node with n cores, the best ranked; else a first node, then
	 * the nearest ones to those chosen, until they hold n cores (all when
	 * even that is too few: second threads then). */
	qsort(nodes, n_nodes, sizeof(*nodes), by_rank);
	unsigned use = 0;
	for (unsigned i = 0; i < n_nodes && !use; i++)
		if (nodes[i].n_cores >= n) {
			struct node pick = nodes[i];
			memmove(&nodes[1], &nodes[0], i * sizeof(*nodes));
			nodes[0] = pick;
			use = 1;
		}
	if (!use) {
		struct hwloc_distances_s *dist = NULL;
		unsigned nr = 1;
		if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, &dist,
						HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) < 0 ||
		    nr == 0)
			dist = NULL;
		unsigned have = nodes[0].n_cores;
		use = 1;
		while (use < n_nodes && have < n) {
			unsigned best = use;
			uint64_t best_d = UINT64_MAX;
			for (unsigned i = use; i < n_nodes; i++) {
				uint64_t d = UINT64_MAX;
				for (unsigned j = 0; j < use; j++) {
					uint64_t dij = node_distance(dist, &nodes[i], &nodes[j]);
					if (dij < d)
						d = dij;
				}
				/* by_rank order breaks ties: GPUs, size, index */
				if (nodes[i].gpus > nodes[best].gpus ||
				    (nodes[i].gpus == nodes[best].gpus && d < best_d)) {
					best = i;
					best_d = d;
				}
			}
			struct node pick = nodes[best];
			memmove(&nodes[use + 1], &nodes[use], (best - use) * sizeof(*nodes));
			nodes[use++] = pick;
			have += pick.n_cores;
		}
		if (dist)
			hwloc_distances_release(topo, dist);
	}

	/* 4. First threads of every core, then second threads, and so on. */
	unsigned got = 0;
	for (unsigned round = 0; got < n; round++) {
		bool any = false;
		for (unsigned i = 0; i < use && got < n; i++)
			for (unsigned c = 0; c < nodes[i].n_cores && got < n; c++) {
				hwloc_bitmap_t pus = hwloc_bitmap_dup(nodes[i].cores[c]->cpuset);
				if (!pus) {
					r = lr_error_errno(err, ENOMEM, "placement");
					goto out;
				}
				hwloc_bitmap_and(pus, pus, allowed);
				int pu = hwloc_bitmap_first(pus);
				for (unsigned k = 0; pu >= 0 && k < round; k++)
					pu = hwloc_bitmap_next(pus, pu);
				hwloc_bitmap_free(pus);
				if (pu < 0)
					continue;
				any = true;
				hwloc_bitmap_set(chosen, (unsigned)pu);
				got++;
			}
		if (!any)
			break;
	}
	if (got < n) {
		r = lr_error_set(err, ENOSPC, "%u CPUs asked for, %u found", n, got);
		goto out;
	}
	if (hwloc_bitmap_list_snprintf(out, len, chosen) >= (int)len)
		r = lr_error_set(err, ENAMETOOLONG, "placement: the CPU list is too long");
out:
	for (unsigned i = 0; i < n_nodes; i++)
		free(nodes[i].cores);
	free(nodes);
	hwloc_bitmap_free(allowed);
	hwloc_bitmap_free(gpu);
	hwloc_bitmap_free(chosen);
	return r;
}
