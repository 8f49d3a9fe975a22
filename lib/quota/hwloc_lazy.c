/* hwloc_lazy.c - the hwloc functions placement.c calls, loaded from
 * libhwloc when a quota first needs the machine's topology (lazy.h says
 * why: a start without a lab quota never does).  Each is declared by
 * hwloc.h, which checks the definitions here against it.  Without the
 * library, hwloc_topology_init() fails and placement.c reports it; the
 * others are only reached through a loaded topology.
 */
#include "build-config.h"

#include <errno.h>
#include <hwloc.h>
#include <hwloc/distances.h>

#include "lazy.h"

static struct lr_lazy_lib hwloc = {.soname = LR_SONAME_HWLOC};

int hwloc_topology_init(hwloc_topology_t *topologyp)
{
	static int (*fn)(hwloc_topology_t *);
	if (!fn)
		fn = (int (*)(hwloc_topology_t *))lr_lazy_sym(&hwloc, "hwloc_topology_init");
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(topologyp);
}

LR_LAZY(hwloc, int, hwloc_topology_load, -1, (hwloc_topology_t topology), (topology))
LR_LAZY_VOID(hwloc, hwloc_topology_destroy, (hwloc_topology_t topology), (topology))
LR_LAZY(hwloc, int, hwloc_topology_set_xml, -1,
	(hwloc_topology_t __hwloc_restrict topology, const char *__hwloc_restrict xmlpath),
	(topology, xmlpath))
LR_LAZY(hwloc, int, hwloc_topology_set_io_types_filter, -1,
	(hwloc_topology_t topology, enum hwloc_type_filter_e filter), (topology, filter))
LR_LAZY(hwloc, int, hwloc_topology_export_xml, -1,
	(hwloc_topology_t topology, const char *xmlpath, unsigned long flags),
	(topology, xmlpath, flags))
LR_LAZY(hwloc, hwloc_const_cpuset_t, hwloc_topology_get_topology_cpuset, NULL,
	(hwloc_topology_t topology), (topology))
LR_LAZY(hwloc, int, hwloc_get_type_depth, HWLOC_TYPE_DEPTH_UNKNOWN,
	(hwloc_topology_t topology, hwloc_obj_type_t type), (topology, type))
LR_LAZY(hwloc, unsigned, hwloc_get_nbobjs_by_depth, 0, (hwloc_topology_t topology, int depth),
	(topology, depth))
LR_LAZY(hwloc, hwloc_obj_t, hwloc_get_obj_by_depth, NULL,
	(hwloc_topology_t topology, int depth, unsigned idx), (topology, depth, idx))
LR_LAZY(hwloc, int, hwloc_distances_get_by_type, -1,
	(hwloc_topology_t topology, hwloc_obj_type_t type, unsigned *nr,
	 struct hwloc_distances_s **distances, unsigned long kind, unsigned long flags),
	(topology, type, nr, distances, kind, flags))
LR_LAZY_VOID(hwloc, hwloc_distances_release,
	     (hwloc_topology_t topology, struct hwloc_distances_s *distances),
	     (topology, distances))

LR_LAZY(hwloc, hwloc_bitmap_t, hwloc_bitmap_alloc, NULL, (void), ())
LR_LAZY_VOID(hwloc, hwloc_bitmap_free, (hwloc_bitmap_t bitmap), (bitmap))
LR_LAZY(hwloc, hwloc_bitmap_t, hwloc_bitmap_dup, NULL, (hwloc_const_bitmap_t bitmap), (bitmap))
LR_LAZY(hwloc, int, hwloc_bitmap_copy, -1, (hwloc_bitmap_t dst, hwloc_const_bitmap_t src),
	(dst, src))
LR_LAZY_VOID(hwloc, hwloc_bitmap_zero, (hwloc_bitmap_t bitmap), (bitmap))
LR_LAZY(hwloc, int, hwloc_bitmap_set, -1, (hwloc_bitmap_t bitmap, unsigned id), (bitmap, id))
LR_LAZY(hwloc, int, hwloc_bitmap_isset, 0, (hwloc_const_bitmap_t bitmap, unsigned id), (bitmap, id))
LR_LAZY(hwloc, int, hwloc_bitmap_first, -1, (hwloc_const_bitmap_t bitmap), (bitmap))
LR_LAZY(hwloc, int, hwloc_bitmap_next, -1, (hwloc_const_bitmap_t bitmap, int prev), (bitmap, prev))
LR_LAZY(hwloc, int, hwloc_bitmap_weight, -1, (hwloc_const_bitmap_t bitmap), (bitmap))
LR_LAZY(hwloc, int, hwloc_bitmap_and, -1,
	(hwloc_bitmap_t res, hwloc_const_bitmap_t bitmap1, hwloc_const_bitmap_t bitmap2),
	(res, bitmap1, bitmap2))
LR_LAZY(hwloc, int, hwloc_bitmap_or, -1,
	(hwloc_bitmap_t res, hwloc_const_bitmap_t bitmap1, hwloc_const_bitmap_t bitmap2),
	(res, bitmap1, bitmap2))
LR_LAZY(hwloc, int, hwloc_bitmap_intersects, 0,
	(hwloc_const_bitmap_t bitmap1, hwloc_const_bitmap_t bitmap2), (bitmap1, bitmap2))
LR_LAZY(hwloc, int, hwloc_bitmap_isincluded, 0,
	(hwloc_const_bitmap_t sub_bitmap, hwloc_const_bitmap_t super_bitmap),
	(sub_bitmap, super_bitmap))
LR_LAZY(hwloc, int, hwloc_bitmap_list_snprintf, -1,
	(char *__hwloc_restrict buf, size_t buflen, hwloc_const_bitmap_t bitmap),
	(buf, buflen, bitmap))
LR_LAZY(hwloc, int, hwloc_bitmap_list_sscanf, -1,
	(hwloc_bitmap_t bitmap, const char *__hwloc_restrict string), (bitmap, string))
