/* Streaming decoder for one unidirectional MoQT data stream (subgroup, fetch
 * or padding stream; the type is read from the stream itself).
 *
 * Feed the stream bytes in pieces of any size (1 byte at a time works); each
 * call returns at most one event:
 *
 *   struct moq_data_event ev;
 *   size_t used;
 *   int rc;
 *   while ((rc = moq_data_reader_feed(r, p, n, &used, &ev)) == 1) {
 *           p += used; n -= used;
 *           handle(&ev);
 *   }
 *   if (rc != MOQ_ERR_NEED_MORE) fail(rc);   // whole piece consumed
 *   ... on FIN: moq_data_reader_finish(r, &ev) == 1 -> ev is STREAM_END
 *
 * Events, in order: HEADER once, then per object OBJECT, zero or more
 * PAYLOAD chunks, OBJECT_END; on fetch streams END_OF_RANGE markers between
 * objects; STREAM_END from moq_data_reader_finish.
 *
 * Views in an event (properties, payload) are valid until the next call on
 * the reader and until the fed piece is released: payload chunks always
 * point into the fed piece (never copied); a properties block points into
 * the fed piece when the whole object header is in it, else into the
 * reader's buffer (copied once; the header is at most
 * MOQ_DATA_READER_FIXED_MAX + max_properties bytes).
 *
 * No allocation: the reader uses one caller-supplied buffer for headers that
 * are split across pieces. Errors are sticky. */
#ifndef MOQ_DATA_READER_H
#define MOQ_DATA_READER_H

#include "data.h"

/* Largest object header without its properties block: fetch object
 * flags + group delta + subgroup + object delta (4 x 9) + priority (1) +
 * properties length (9) + payload length (9) + status (9). Stream headers
 * (type + 3 vi64 + priority) are smaller. */
#define MOQ_DATA_READER_FIXED_MAX 64

/* Buffer size needed for a given max_properties_length. */
#define MOQ_DATA_READER_BUF_SIZE(max_props) ((size_t)(max_props) + MOQ_DATA_READER_FIXED_MAX)

/* Default payload length limit (per object). */
#define MOQ_DATA_READER_DEFAULT_MAX_PAYLOAD (64ull << 20)

struct moq_data_reader_config {
	/* Objects whose Object Payload Length exceeds this: MOQ_ERR_LIMIT.
	 * 0 = MOQ_DATA_READER_DEFAULT_MAX_PAYLOAD. */
	uint64_t max_payload_length;
	/* Properties blocks longer: MOQ_ERR_LIMIT. 0 = as large as the buffer
	 * allows, capped at MOQ_MAX_OBJECT_PROPERTIES. */
	size_t max_properties_length;
	/* Group Order of the FETCH, for fetch streams (enum moq_group_order;
	 * 0 = ascending). */
	uint8_t fetch_group_order;
};

enum moq_data_event_type {
	MOQ_DATA_EV_HEADER = 1,	  /* stream header decoded; ev.stream set */
	MOQ_DATA_EV_OBJECT,	  /* object fields before the payload */
	MOQ_DATA_EV_PAYLOAD,	  /* ev.payload: next chunk of the payload */
	MOQ_DATA_EV_OBJECT_END,	  /* all payload_length bytes delivered */
	MOQ_DATA_EV_END_OF_RANGE, /* fetch End of Range marker (ev.fetch_object) */
	MOQ_DATA_EV_STREAM_END,	  /* FIN at an object boundary */
};

/* "HEADER", "OBJECT", "PAYLOAD", "OBJECT_END", "END_OF_RANGE", "STREAM_END". */
const char *moq_data_event_name(int type);

struct moq_data_event {
	uint8_t type;	      /* enum moq_data_event_type */
	uint8_t stream;	      /* enum moq_data_type: SUBGROUP_HEADER, FETCH_HEADER,
			       * PADDING or SETUP */
	uint64_t stream_type; /* the wire type of the stream */
	/* Subgroup streams, every event: the header, with subgroup_id
	 * resolved once the first object is known (subgroup_id_known). */
	struct moq_subgroup_header subgroup;
	/* Fetch streams, every event. */
	struct moq_fetch_header fetch;
	/* OBJECT (and PAYLOAD / OBJECT_END: the current object, with an empty
	 * properties view: the OBJECT event's view is stale by then). */
	struct moq_subgroup_object subgroup_object; /* subgroup streams */
	struct moq_fetch_object fetch_object;	    /* fetch streams */
	/* PAYLOAD: the chunk and its offset inside the object payload. */
	struct moq_bytes payload;
	uint64_t payload_offset;
};

struct moq_data_reader {
	/* configuration */
	uint64_t max_payload;
	size_t max_props;
	uint8_t *buf;
	size_t cap;
	/* state */
	int state;
	int err;     /* sticky error, 0 if none */
	size_t blen; /* bytes held in buf */
	uint64_t stream_type;
	uint8_t stream;
	struct moq_subgroup_ctx sub;
	struct moq_fetch_ctx fetch;
	struct moq_fetch_header fetch_hdr;
	struct moq_subgroup_object sobj;
	struct moq_fetch_object fobj;
	uint64_t payload_left;
	uint64_t payload_off;
	uint64_t padding_bytes; /* padding stream: bytes discarded */
};

/* buf/buflen: the split-header buffer, at least
 * MOQ_DATA_READER_BUF_SIZE(max properties). cfg may be NULL (defaults).
 * Returns 0 or MOQ_ERR_INVALID (buffer smaller than
 * MOQ_DATA_READER_BUF_SIZE(1), or than needed for cfg->max_properties_length). */
int moq_data_reader_init(struct moq_data_reader *r, const struct moq_data_reader_config *cfg,
			 uint8_t *buf, size_t buflen);

/* Feed up to inlen bytes. Returns 1 with *ev filled and *consumed bytes
 * used (possibly 0: call again with the rest, including inlen 0);
 * MOQ_ERR_NEED_MORE when the whole piece was used (*consumed == inlen) and
 * no further event is possible without more bytes; or a final error:
 * MOQ_ERR_MALFORMED, MOQ_ERR_UNKNOWN_TYPE, MOQ_ERR_LIMIT, or MOQ_ERR_INVALID
 * for bytes after a SETUP (control stream) type, which this reader does not
 * decode. */
int moq_data_reader_feed(struct moq_data_reader *r, const uint8_t *in, size_t inlen,
			 size_t *consumed, struct moq_data_event *ev);

/* The stream ended with FIN. Returns 1 with a STREAM_END event when the
 * stream ended at an object boundary after a complete header, else
 * MOQ_ERR_MALFORMED (FIN inside the header or an object: the draft's
 * PROTOCOL_VIOLATION), or the sticky error. */
int moq_data_reader_finish(struct moq_data_reader *r, struct moq_data_event *ev);

/* Bytes of padding discarded so far on a padding stream. */
static inline uint64_t moq_data_reader_padding(const struct moq_data_reader *r)
{
	return r->padding_bytes;
}

#endif
