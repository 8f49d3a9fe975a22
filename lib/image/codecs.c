/* codecs.c - the five decompressors libsquashfuse calls, loaded from
 * their libraries when a layer first needs one (lazy.h says why).
 *
 * libsquashfuse is linked in statically (configure.ac), so its calls to
 * uncompress(), LZ4_decompress_safe() and the rest resolve to these; each
 * is declared by the library's own header, which checks the definitions
 * here against it.  A library that cannot be loaded fails the call the
 * way the library reports a failure; squash.c's message then names the
 * library (lr_lazy_failure() of the layer's codec).
 */
#include "build-config.h"

#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>
#include <zlib.h>
#include <zstd.h>

#include "lazy.h"

static struct lr_lazy_lib zlib = {.soname = LR_SONAME_Z};
static struct lr_lazy_lib xz = {.soname = LR_SONAME_LZMA};
static struct lr_lazy_lib lzo = {.soname = LR_SONAME_LZO2};
static struct lr_lazy_lib lz4 = {.soname = LR_SONAME_LZ4};
static struct lr_lazy_lib zstd = {.soname = LR_SONAME_ZSTD};

LR_LAZY(zlib, int, uncompress, Z_MEM_ERROR,
	(Bytef * dest, uLongf *destLen, const Bytef *source, uLong sourceLen),
	(dest, destLen, source, sourceLen))

LR_LAZY(xz, lzma_ret, lzma_stream_buffer_decode, LZMA_PROG_ERROR,
	(uint64_t * memlimit, uint32_t flags, const lzma_allocator *allocator, const uint8_t *in,
	 size_t *in_pos, size_t in_size, uint8_t *out, size_t *out_pos, size_t out_size),
	(memlimit, flags, allocator, in, in_pos, in_size, out, out_pos, out_size))

LR_LAZY(lzo, int, lzo1x_decompress_safe, LZO_E_ERROR,
	(const lzo_bytep src, lzo_uint src_len, lzo_bytep dst, lzo_uintp dst_len, lzo_voidp wrkmem),
	(src, src_len, dst, dst_len, wrkmem))

LR_LAZY(lz4, int, LZ4_decompress_safe, -1,
	(const char *src, char *dst, int compressedSize, int dstCapacity),
	(src, dst, compressedSize, dstCapacity))

/* (size_t)-1 is an error code to ZSTD_isError(), which says so itself
 * when the library is missing. */
LR_LAZY(zstd, size_t, ZSTD_decompress, (size_t)-1,
	(void *dst, size_t dstCapacity, const void *src, size_t compressedSize),
	(dst, dstCapacity, src, compressedSize))
LR_LAZY(zstd, unsigned, ZSTD_isError, 1, (size_t code), (code))
