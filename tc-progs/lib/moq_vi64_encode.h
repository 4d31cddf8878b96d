/* moq_vi64_encode_width: MoQT vi64 at a fixed encoded width (the egress
 * program rewrites a track alias in place). */
#ifndef MOQ_VI64_ENCODE_H
#define MOQ_VI64_ENCODE_H

#include "bpf_common.h"

/* Encodes v in exactly width (1..9) bytes into out[9]; -1 if it does not
 * fit. */
static __always_inline int moq_vi64_encode_width(__u8 *out, __u64 v, __u32 width)
{
	__u64 be;

	if (width < 1 || width > 9)
		return -1;
	if (width == 9) {
		out[0] = 0xff;
		be = __builtin_bswap64(v);
		__builtin_memcpy(out + 1, &be, 8);
		return 0;
	}
	if (v >> (7 * width))
		return -1;
	/* width-1 leading ones, a zero, then 7*width value bits */
	v |= (0xff00ull >> (width - 1) & 0xff) << (8 * (width - 1));
	v <<= 64 - 8 * width;
	be = __builtin_bswap64(v);
	__builtin_memcpy(out, &be, 8);
	return 0;
}

#endif
