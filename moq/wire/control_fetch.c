/* FETCH (standalone, relative joining, absolute joining) and FETCH_OK. */
#include "control_wire.h"

int ctrl_dec_fetch(struct moq_rd *r, struct moq_fetch *m)
{
	struct moq_standalone_fetch *s = &m->standalone;
	struct moq_joining_fetch *j = &m->joining;
	int rc;

	if ((rc = rd_vi(r, &m->request_id, "FETCH: request ID truncated")) ||
	    (rc = rd_vi(r, &m->fetch_type, "FETCH: fetch type truncated")))
		return rc;
	switch (m->fetch_type) {
	case MOQ_FETCH_STANDALONE:
		if ((rc = rd_namespace(r, &s->track_namespace)) ||
		    (rc = rd_track_name(r, &s->track_name, &s->track_namespace)) ||
		    (rc = rd_location(r, &s->start_location, "FETCH: start location truncated")) ||
		    (rc = rd_location(r, &s->end_location, "FETCH: end location truncated")))
			return rc;
		break;
	case MOQ_FETCH_RELATIVE_JOINING:
	case MOQ_FETCH_ABSOLUTE_JOINING:
		if ((rc =
			 rd_vi(r, &j->joining_request_id, "FETCH: joining request ID truncated")) ||
		    (rc = rd_vi(r, &j->joining_start, "FETCH: joining start truncated")))
			return rc;
		break;
	default:
		return rd_fail(r, MOQ_ERR_MALFORMED, "FETCH: fetch type is not 1, 2 or 3",
			       m->fetch_type);
	}
	return rd_params(r, &m->params, MOQ_PCTX_FETCH);
}

void ctrl_enc_fetch(struct moq_wr *w, const struct moq_fetch *m)
{
	const struct moq_standalone_fetch *s = &m->standalone;
	const struct moq_joining_fetch *j = &m->joining;

	wr_vi(w, m->request_id);
	wr_vi(w, m->fetch_type);
	switch (m->fetch_type) {
	case MOQ_FETCH_STANDALONE:
		wr_namespace(w, &s->track_namespace);
		wr_track_name(w, s->track_name, &s->track_namespace);
		wr_location(w, s->start_location);
		wr_location(w, s->end_location);
		break;
	case MOQ_FETCH_RELATIVE_JOINING:
	case MOQ_FETCH_ABSOLUTE_JOINING:
		wr_vi(w, j->joining_request_id);
		wr_vi(w, j->joining_start);
		break;
	default:
		wr_fail(w, MOQ_ERR_INVALID);
		return;
	}
	wr_params(w, &m->params, MOQ_PCTX_FETCH);
}

int ctrl_dec_fetch_ok(struct moq_rd *r, struct moq_fetch_ok *m)
{
	int rc;

	if ((rc = rd_u8(r, &m->end_of_track, "FETCH_OK: end of track truncated")))
		return rc;
	if (m->end_of_track > 1)
		return rd_fail(r, MOQ_ERR_MALFORMED, "FETCH_OK: end of track is not 0 or 1",
			       m->end_of_track);
	if ((rc = rd_location(r, &m->end_location, "FETCH_OK: end location truncated")) ||
	    (rc = rd_params(r, &m->params, MOQ_PCTX_FETCH_OK)))
		return rc;
	return rd_properties(r, &m->track_properties);
}

void ctrl_enc_fetch_ok(struct moq_wr *w, const struct moq_fetch_ok *m)
{
	if (m->end_of_track > 1) {
		wr_fail(w, MOQ_ERR_INVALID);
		return;
	}
	wr_u8(w, m->end_of_track);
	wr_location(w, m->end_location);
	wr_params(w, &m->params, MOQ_PCTX_FETCH_OK);
	wr_properties(w, m->track_properties);
}
