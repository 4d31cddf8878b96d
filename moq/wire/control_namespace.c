/* PUBLISH_NAMESPACE, NAMESPACE, NAMESPACE_DONE, SUBSCRIBE_NAMESPACE,
 * SUBSCRIBE_TRACKS, PUBLISH_BLOCKED. */
#include "control_wire.h"

int ctrl_dec_publish_namespace(struct moq_rd *r, struct moq_publish_namespace *m)
{
	int rc;

	if ((rc = rd_vi(r, &m->request_id, "PUBLISH_NAMESPACE: request ID truncated")) ||
	    (rc = rd_namespace(r, &m->track_namespace)))
		return rc;
	return rd_params(r, &m->params, MOQ_PCTX_PUBLISH_NAMESPACE);
}

void ctrl_enc_publish_namespace(struct moq_wr *w, const struct moq_publish_namespace *m)
{
	wr_vi(w, m->request_id);
	wr_namespace(w, &m->track_namespace);
	wr_params(w, &m->params, MOQ_PCTX_PUBLISH_NAMESPACE);
}

int ctrl_dec_namespace_msg(struct moq_rd *r, struct moq_namespace_msg *m)
{
	return rd_namespace(r, &m->track_namespace_suffix);
}

void ctrl_enc_namespace_msg(struct moq_wr *w, const struct moq_namespace_msg *m)
{
	wr_namespace(w, &m->track_namespace_suffix);
}

int ctrl_dec_subscribe_namespace(struct moq_rd *r, struct moq_subscribe_namespace *m,
				 enum moq_param_ctx ctx)
{
	int rc;

	if ((rc = rd_vi(r, &m->request_id, "request ID truncated")) ||
	    (rc = rd_namespace(r, &m->track_namespace_prefix)))
		return rc;
	return rd_params(r, &m->params, ctx);
}

void ctrl_enc_subscribe_namespace(struct moq_wr *w, const struct moq_subscribe_namespace *m,
				  enum moq_param_ctx ctx)
{
	wr_vi(w, m->request_id);
	wr_namespace(w, &m->track_namespace_prefix);
	wr_params(w, &m->params, ctx);
}

int ctrl_dec_publish_blocked(struct moq_rd *r, struct moq_publish_blocked *m)
{
	int rc;

	if ((rc = rd_namespace(r, &m->track_namespace_suffix)))
		return rc;
	return rd_track_name(r, &m->track_name, &m->track_namespace_suffix);
}

void ctrl_enc_publish_blocked(struct moq_wr *w, const struct moq_publish_blocked *m)
{
	wr_namespace(w, &m->track_namespace_suffix);
	wr_track_name(w, m->track_name, &m->track_namespace_suffix);
}
