/* MoQT draft-18 data plane wire codec: unidirectional stream types,
 * SUBGROUP_HEADER and subgroup objects, OBJECT_DATAGRAM, FETCH_HEADER and
 * fetch objects, padding, object properties.
 *
 * Conventions (docs/contributing.md): encoders return bytes written or a
 * negative MOQ_ERR_*; decoders return bytes consumed, MOQ_ERR_NEED_MORE for a
 * valid but incomplete prefix, or a final error. Byte strings in decoded
 * structs (properties, payload) are struct moq_bytes views into the input.
 * Every "(i)"/"(vi64)" field, including stream and datagram types, is a MoQT
 * vi64; non-minimal encodings are accepted, encoders write minimal ones.
 *
 * Struct field names follow the draft's field names in snake_case so that
 * tools can print them directly (track_alias, group_id, subgroup_id,
 * object_id, publisher_priority, object_status, payload_length, properties,
 * end_of_group, ...).
 *
 * Error mapping: MOQ_ERR_MALFORMED = the draft's PROTOCOL_VIOLATION (invalid
 * type variant, invalid status, properties on a non-Normal object, id
 * overflow, bad KVP block); MOQ_ERR_UNKNOWN_TYPE = a stream or datagram type
 * the draft does not define (the session must be closed as well);
 * MOQ_ERR_LIMIT = a length above an implementation limit documented here.
 *
 * Datagrams are complete units: a datagram decoder never returns
 * MOQ_ERR_NEED_MORE; a truncated datagram is MOQ_ERR_MALFORMED.
 *
 * See docs/codec.md "Data plane" for the choices made where the draft is
 * ambiguous. */

#ifndef MOQ_DATA_H
#define MOQ_DATA_H

/* The data plane codec, one header per module: */
#include "data_datagram.h"
#include "data_fetch.h"
#include "data_stream_type.h"
#include "data_subgroup.h"

#endif
