#include "moq_err.h"

const char *moq_strerror(int err)
{
	switch (err) {
	case MOQ_ERR_NEED_MORE:
		return "need more bytes";
	case MOQ_ERR_MALFORMED:
		return "malformed";
	case MOQ_ERR_LIMIT:
		return "limit exceeded";
	case MOQ_ERR_BUFFER:
		return "output buffer too small";
	case MOQ_ERR_RANGE:
		return "value out of range";
	case MOQ_ERR_UNKNOWN_TYPE:
		return "unknown type";
	case MOQ_ERR_KVP_FORMAT:
		return "key-value-pair formatting error";
	case MOQ_ERR_DUPLICATE:
		return "duplicate parameter";
	case MOQ_ERR_INVALID:
		return "invalid argument";
	default:
		return err >= 0 ? "ok" : "unknown error";
	}
}
