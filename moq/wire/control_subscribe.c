/* SUBSCRIBE / TRACK_STATUS, SUBSCRIBE_OK, PUBLISH, PUBLISH_DONE. */
#include "control_wire.h"

int ctrl_dec_subscribe(struct moq_rd *r, struct moq_subscribe *m, enum moq_param_ctx ctx)
{
	int rc;

	if ((rc = rd_vi(r, &m->request_id, "request ID truncated")) ||
	    (rc = rd_namespace(r, &m->track_namespace)) ||
	    (rc = rd_track_name(r, &m->track_name, &m->track_namespace)))
		return rc;
	return rd_params(r, &m->params, ctx);
}

void ctrl_enc_subscribe(struct moq_wr *w, const struct moq_subscribe *m, enum moq_param_ctx ctx)
{
	wr_vi(w, m->request_id);
	wr_namespace(w, &m->track_namespace);
	wr_track_name(w, m->track_name, &m->track_namespace);
	wr_params(w, &m->params, ctx);
}

int ctrl_dec_subscribe_ok(struct moq_rd *r, struct moq_subscribe_ok *m)
{
	int rc;

	if ((rc = rd_vi(r, &m->track_alias, "SUBSCRIBE_OK: track alias truncated")) ||
	    (rc = rd_params(r, &m->params, MOQ_PCTX_SUBSCRIBE_OK)))
		return rc;
	return rd_properties(r, &m->track_properties);
}

void ctrl_enc_subscribe_ok(struct moq_wr *w, const struct moq_subscribe_ok *m)
{
	wr_vi(w, m->track_alias);
	wr_params(w, &m->params, MOQ_PCTX_SUBSCRIBE_OK);
	wr_properties(w, m->track_properties);
}

int ctrl_dec_publish(struct moq_rd *r, struct moq_publish *m)
{
	int rc;

	if ((rc = rd_vi(r, &m->request_id, "PUBLISH: request ID truncated")) ||
	    (rc = rd_namespace(r, &m->track_namespace)) ||
	    (rc = rd_track_name(r, &m->track_name, &m->track_namespace)) ||
	    (rc = rd_vi(r, &m->track_alias, "PUBLISH: track alias truncated")) ||
	    (rc = rd_params(r, &m->params, MOQ_PCTX_PUBLISH)))
		return rc;
	return rd_properties(r, &m->track_properties);
}

void ctrl_enc_publish(struct moq_wr *w, const struct moq_publish *m)
{
	wr_vi(w, m->request_id);
	wr_namespace(w, &m->track_namespace);
	wr_track_name(w, m->track_name, &m->track_namespace);
	wr_vi(w, m->track_alias);
	wr_params(w, &m->params, MOQ_PCTX_PUBLISH);
	wr_properties(w, m->track_properties);
}

int ctrl_dec_publish_done(struct moq_rd *r, struct moq_publish_done *m)
{
	int rc;

	if ((rc = rd_vi(r, &m->status_code, "PUBLISH_DONE: status code truncated")) ||
	    (rc = rd_vi(r, &m->stream_count, "PUBLISH_DONE: stream count truncated")))
		return rc;
	return rd_reason(r, &m->error_reason);
}

void ctrl_enc_publish_done(struct moq_wr *w, const struct moq_publish_done *m)
{
	wr_vi(w, m->status_code);
	wr_vi(w, m->stream_count);
	wr_reason(w, m->error_reason);
}
