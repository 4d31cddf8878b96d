/* Local connection IDs: a hash table per endpoint, a list per connection.
 * See cid.h. */
#include "quic/cid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quic/base.h"

static size_t cid_hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return (size_t)h;
}

struct moq_quic_conn *moq_quic__cid_find(struct moq_quic_endpoint *ep, const uint8_t *d, size_t n)
{
	if (!ep->nct)
		return NULL;
	for (struct cid_entry *e = ep->ct[cid_hash(d, n) & (ep->nct - 1)]; e; e = e->next)
		if (e->cid.datalen == n && !memcmp(e->cid.data, d, n))
			return e->conn;
	return NULL;
}

static int cid_grow(struct moq_quic_endpoint *ep)
{
	size_t n = ep->nct ? ep->nct * 2 : 256;
	struct cid_entry **t = calloc(n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < ep->nct; i++) {
		struct cid_entry *e = ep->ct[i], *next;
		for (; e; e = next) {
			size_t b = cid_hash(e->cid.data, e->cid.datalen) & (n - 1);
			next = e->next;
			e->next = t[b];
			t[b] = e;
		}
	}
	free(ep->ct);
	ep->ct = t;
	ep->nct = n;
	return 0;
}

int moq_quic__cid_add(struct moq_quic_endpoint *ep, struct moq_quic_conn *c, const ngtcp2_cid *cid)
{
	struct cid_entry *e;
	size_t b;

	if (moq_quic__cid_find(ep, cid->data, cid->datalen))
		return -EEXIST;
	if (ep->ncids + 1 > ep->nct && cid_grow(ep))
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cid = *cid;
	e->conn = c;
	b = cid_hash(cid->data, cid->datalen) & (ep->nct - 1);
	e->next = ep->ct[b];
	ep->ct[b] = e;
	e->cnext = c->cids;
	c->cids = e;
	ep->ncids++;
	return 0;
}

static void cid_unlink(struct moq_quic_endpoint *ep, struct cid_entry *e)
{
	size_t b = cid_hash(e->cid.data, e->cid.datalen) & (ep->nct - 1);
	for (struct cid_entry **pp = &ep->ct[b]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			ep->ncids--;
			return;
		}
}

void moq_quic__cid_remove(struct moq_quic_conn *c, const ngtcp2_cid *cid)
{
	for (struct cid_entry **pp = &c->cids; *pp; pp = &(*pp)->cnext) {
		struct cid_entry *e = *pp;
		if (ngtcp2_cid_eq(&e->cid, cid)) {
			cid_unlink(c->ep, e);
			*pp = e->cnext;
			free(e);
			return;
		}
	}
}

void moq_quic__cid_remove_all(struct moq_quic_conn *c)
{
	while (c->cids) {
		struct cid_entry *e = c->cids;
		c->cids = e->cnext;
		cid_unlink(c->ep, e);
		free(e);
	}
}

static int cid_cb_new(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
		      void *user_data)
{
	struct moq_quic_conn *c = user_data;

	moq_quic__cid_new_local(c->ep, cid, cidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, c->ep->cfg.reset_secret,
							 sizeof(c->ep->cfg.reset_secret), cid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (moq_quic__cid_add(c->ep, c, cid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cid_cb_remove(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
	moq_quic__cid_remove(user_data, cid);
	return 0;
}

void moq_quic__cid_new_local(struct moq_quic_endpoint *ep, ngtcp2_cid *cid, size_t cidlen)
{
	cid->datalen = cidlen;
	do
		moq_quic__rand(cid->data, cidlen);
	while (moq_quic__cid_find(ep, cid->data, cidlen));
}

void moq_quic__cid_callbacks(ngtcp2_callbacks *cb)
{
	cb->get_new_connection_id = cid_cb_new;
	cb->remove_connection_id = cid_cb_remove;
}
