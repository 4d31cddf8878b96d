/* libFuzzer target: OBJECT_DATAGRAM and padding datagram decoding.
 * Properties checked: decode never reads outside the datagram; a decoded
 * datagram re-encodes (minimal varints, never longer) and decodes to the
 * same fields; classification agrees with the decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "moq_err.h"
#include "varint.h"

static void same(const struct moq_object_datagram *a, const struct moq_object_datagram *b)
{
	if (a->type != b->type || a->track_alias != b->track_alias || a->group_id != b->group_id ||
	    a->object_id != b->object_id || a->object_status != b->object_status ||
	    a->has_properties != b->has_properties || a->end_of_group != b->end_of_group ||
	    a->zero_object_id != b->zero_object_id || a->default_priority != b->default_priority ||
	    a->has_status != b->has_status ||
	    (!a->default_priority && a->publisher_priority != b->publisher_priority) ||
	    a->properties.len != b->properties.len || a->payload.len != b->payload.len)
		abort();
	if (a->properties.len && memcmp(a->properties.ptr, b->properties.ptr, a->properties.len))
		abort();
	if (a->payload.len && memcmp(a->payload.ptr, b->payload.ptr, a->payload.len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moq_object_datagram d, e;
	uint64_t type;
	size_t pad;
	/* an exactly sized copy: ASan catches reads past the datagram */
	uint8_t *in = malloc(size ? size : 1);
	if (size)
		memcpy(in, data, size);

	int rc = moq_object_datagram_decode(&d, in, size);
	int kind = moq_vi_decode(&type, in, size) > 0 ? moq_datagram_type_classify(type)
						      : MOQ_ERR_MALFORMED;
	if (rc == MOQ_ERR_NEED_MORE)
		abort(); /* datagrams are complete units */
	if (rc >= 0) {
		if ((size_t)rc != size || kind != MOQ_DATA_OBJECT_DATAGRAM)
			abort();
		moq_object_properties_check(d.properties.ptr, d.properties.len);
		uint8_t *out = malloc(size + 16);
		int n = moq_object_datagram_encode(out, size + 16, &d);
		if (n < 0 || (size_t)n > size)
			abort();
		if (moq_object_datagram_decode(&e, out, (size_t)n) != n)
			abort();
		same(&d, &e);
		free(out);
	} else if (kind == MOQ_DATA_OBJECT_DATAGRAM && rc == MOQ_ERR_UNKNOWN_TYPE) {
		abort();
	}

	rc = moq_padding_datagram_decode(&pad, in, size);
	if (rc >= 0 && (kind != MOQ_DATA_PADDING_DATAGRAM || (size_t)rc != size))
		abort();
	free(in);
	return 0;
}
