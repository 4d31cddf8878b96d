/* moq-relayd: the fast path wiring (fastpath.h, docs/fast-path-agent.md).
 *
 * The relayd_fp_* entry points the relay calls, the QUIC packet hooks
 * (every ngtcp2 packet renumbered in the send hook, every received
 * packet's ACKs translated in the recv hook) and the ACK translation
 * callbacks, subscriber slots in the pinned maps, start and stop. The
 * stream state machine, the media writer and the event consumer are in
 * the fp_*.c files next to this one (fp_internal.h). */
#include "fastpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "fp_internal.h"
#include "lib/fp_ackring.h"
#include "lib/fp_mapwrite.h"
#include "lib/fp_neigh.h"
#include "lib/fp_netlink.h"
#include "lib/fp_route.h"
#include "log.h"
#include "quic/quic.h"
#include "relayd.h"
#include "varint.h"

#define MOD "fastpath"

/* The hooks' context comes through their user pointer: the conn's session
 * once it has one (then peer -> fp_conn -> relayd), else the endpoint's
 * acceptor (a connection still in its handshake: not hooked). */
static struct fp_conn *conn_fc(struct moq_quic_conn *c, void *user)
{
	struct peer *p;

	if (!user || moq_quic_conn_user(c) != user)
		return NULL;
	p = moq_session_user(user);
	/* after relayd_fp_stop the maps are gone: nothing is hooked */
	if (!p || !p->fp || !p->fp->d->fp)
		return NULL;
	/* a TLS connection whose packets ngtcp2 protects itself (another
	 * cipher suite): nothing to renumber or translate, it stays in
	 * userspace (docs/fast-path-tls.md) */
	if (p->fp->d->fp->tls && !moq_quic_conn_shim_protected(c))
		return NULL;
	return p->fp;
}

/* ---- maps ---------------------------------------------------------------- */

static void track_sync(struct relayd *d, struct relay_track *tr)
{
	struct relayd_fp *fp = d->fp;
	struct peer *up = tr->up_peer;
	struct moq_track_key k = {0};
	struct moq_track_subs *v = fp->tsbuf;

	if (!up || !up->fp || !up->fp->upstream_registered)
		return;
	k.conn_id = up->fp->conn_id;
	k.track_alias = tr->up_alias;
	v->count = 0;
	v->default_priority = 128;
	for (struct relay_sub *s = tr->subs; s; s = s->next) {
		struct peer *p = s->peer;

		if (!s->fast || !p->fp || p->fp->slot < 0 || v->count >= MOQ_MAX_FANOUT)
			continue;
		v->slots[v->count++] = (uint32_t)p->fp->slot;
	}
	fp_maps_put_track(&fp->maps, &k, v);
}

static int sockaddr_to(const struct sockaddr *sa, int *family, uint8_t addr[16], uint16_t *port_be)
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		*family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
		*port_be = in->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		*port_be = in6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			*family = AF_INET;
			memcpy(addr, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, &in6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* The CIDs ngtcp2 currently uses for fc's connection (ngtcp2_conn_get_scid:
 * neither the client-chosen original DCID nor retired ones), at most 8 of
 * MOQ_CID_LEN bytes. */
static size_t up_cids_now(struct fp_conn *fc, uint8_t out[8][MOQ_CID_LEN])
{
	ngtcp2_conn *ng = moq_quic_conn_ngtcp2(fc->qc);
	ngtcp2_cid *all;
	size_t n, k = 0;

	if (!ng)
		return 0;
	n = ngtcp2_conn_get_scid(ng, NULL);
	all = n ? calloc(n, sizeof(*all)) : NULL;
	if (!all)
		return 0;
	n = ngtcp2_conn_get_scid(ng, all);
	for (size_t i = 0; i < n && k < 8; i++)
		if (all[i].datalen == MOQ_CID_LEN)
			memcpy(out[k++], all[i].data, MOQ_CID_LEN);
	free(all);
	return k;
}

static bool cid_in(const uint8_t (*set)[MOQ_CID_LEN], size_t n, const uint8_t *cid)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(set[i], cid, MOQ_CID_LEN))
			return true;
	return false;
}

/* The relay's address a publisher at addr (family) sends to: the socket's
 * when it is bound to one, else the route's source address toward the
 * publisher. false when neither is known (the kernel then does not check
 * the destination). */
static bool relay_addr_for(struct moq_quic_endpoint *ep, int family, const uint8_t addr[16],
			   uint8_t out[16])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fam, ifindex;
	uint16_t port_be;
	static const uint8_t zero[16];

	if (!moq_quic_endpoint_local_addr(ep, &ss, &len) &&
	    !sockaddr_to((const struct sockaddr *)&ss, &fam, out, &port_be) && fam == family &&
	    memcmp(out, zero, family == AF_INET ? 4 : 16))
		return true;
	return fp_route_lookup(family, addr, &ifindex, out) == 0;
}

static struct fp_conn *fc_new(struct relayd *d, struct peer *p);

/* The relay's own client connection to its --upstream relay, once its
 * session is up: an fp_conn for its identity and CIDs (not hooked: the
 * upstream endpoint renumbers nothing), and its local UDP port in
 * moq_config so that the kernel looks at packets to it. */
static struct fp_conn *up_relay_conn(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;
	uint16_t port = d->up_ep ? moq_quic_endpoint_port(d->up_ep) : 0;
	int rc;

	if (!p->s || !moq_session_conn(p->s) || !port)
		return NULL;
	if (!p->fp && !fc_new(d, p))
		return NULL;
	rc = fp_maps_set_up_port(&fp->maps, port);
	if (rc) {
		moq_warn(MOD, "cannot write the upstream port to moq_config: %s", strerror(-rc));
		return NULL;
	}
	return p->fp;
}

/* Register p's current CIDs in moq_upstreams and unregister the ones it no
 * longer uses (the kernel clones only what arrives on those). p is a
 * publisher's connection, or the relay's own to its --upstream relay. */
void relayd_fp_upstream(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;
	struct fp_conn *fc = p ? p->fp : NULL;
	uint8_t now[8][MOQ_CID_LEN];
	size_t n, keep = 0;
	struct moq_upstream u = {0};
	const struct sockaddr *sa;
	socklen_t salen;
	int family;
	uint16_t port_be;

	if (fp && p && p->is_upstream)
		fc = up_relay_conn(d, p);
	if (!fp || !fc)
		return;
	if (fp->tls && !fc->up_tls) {
		/* the kernel opens its packets: rx keys of both phases go in
		 * before any moq_upstreams entry names the connection */
		int rc =
		    moq_session_is_webtransport(p->s) ? -EPROTONOSUPPORT : fp_tls_up_export(fc);

		if (rc) {
			if (!fc->up_refusal_logged)
				moq_warn(MOD,
					 "%s: its packets cannot be opened in the kernel (%s): "
					 "relayed in userspace",
					 moq_session_name(p->s),
					 rc == -EPROTONOSUPPORT ? "WebTransport session"
					 : rc == -ENOTSUP
					     ? "TLS cipher suite is not TLS_AES_128_GCM_SHA256"
					     : strerror(-rc));
			fc->up_refusal_logged = true;
			return;
		}
		fc->up_tls = true;
	}
	sa = moq_quic_conn_peer(fc->qc, &salen);
	if (!sa || sockaddr_to(sa, &family, u.saddr, &port_be))
		return;
	u.conn_id = fc->conn_id;
	u.generation = fp->generation;
	u.family = family == AF_INET ? MOQ_AF_INET : MOQ_AF_INET6;
	u.sport_be = port_be;
	if (relay_addr_for(p->is_upstream ? d->up_ep : d->ep, family, u.saddr, u.daddr))
		u.flags |= MOQ_UP_F_DADDR;
	if (p->is_upstream)
		u.flags |= MOQ_UP_F_PEER_SERVER; /* its media streams are ids 4n+3 */
	if (fc->up_tls)
		u.flags |= MOQ_UP_F_TLS; /* opened in the kernel before cloning */
	/* the packet-number window first: without it the kernel clones
	 * nothing of the connection. Written once per connection and agent
	 * run (an earlier run's entry was cleared at start): resetting it
	 * later would let packets already seen through again. */
	if (!fc->pn_window) {
		/* TLS: the kernel expands 1-byte packet numbers against the
		 * largest, so it starts at what the connection received */
		uint64_t largest;
		bool seed = fc->up_tls && !moq_quic_conn_rx_largest_pn(fc->qc, &largest);
		int rc =
		    seed ? fp_maps_seed_pn_window(&fp->maps, fc->conn_id, fp->generation, largest)
			 : fp_maps_reset_pn_window(&fp->maps, fc->conn_id, fp->generation);

		if (!rc && seed) {
			moq_info(MOD, "%s: packet-number window seeded at %llu",
				 moq_session_name(p->s), (unsigned long long)largest);
			/* the kernel's window moves by itself from here */
			moq_quic_conn_rx_pn_untrack(fc->qc);
		}
		if (rc) {
			moq_warn(MOD, "%s: cannot write moq_pn_windows (%s): userspace relay",
				 moq_session_name(p->s), strerror(-rc));
			return;
		}
		fc->pn_window = true;
	}
	n = up_cids_now(fc, now);
	for (size_t j = 0; j < fc->n_up_cids; j++) {
		if (cid_in(now, n, fc->up_cids[j]))
			memmove(fc->up_cids[keep++], fc->up_cids[j], MOQ_CID_LEN);
		else
			fp_maps_del_upstream(&fp->maps, fc->up_cids[j]);
	}
	fc->n_up_cids = keep;
	for (size_t i = 0; i < n; i++) {
		struct moq_cid cid;
		int rc;

		if (cid_in((const uint8_t(*)[MOQ_CID_LEN])fc->up_cids, fc->n_up_cids, now[i]))
			continue;
		memcpy(cid.cid, now[i], MOQ_CID_LEN);
		rc = fp_maps_put_upstream(&fp->maps, &cid, &u);
		if (rc) {
			moq_warn(MOD, "%s: cannot register the publisher in moq_upstreams: %s",
				 moq_session_name(p->s), strerror(-rc));
			continue;
		}
		memcpy(fc->up_cids[fc->n_up_cids++], cid.cid, MOQ_CID_LEN);
	}
	fc->upstream_registered = fc->n_up_cids > 0;
}

/* The connection's idle timeout (RFC 9000 10.1): the smaller of ours and
 * the subscriber's max_idle_timeout (0 = none). */
static uint64_t fc_idle_timeout_ms(struct fp_conn *fc)
{
	uint64_t ms = fc->d->cfg.idle_timeout_ms;
	ngtcp2_conn *ng = moq_quic_conn_ngtcp2(fc->qc);
	const ngtcp2_transport_params *tp = ng ? ngtcp2_conn_get_remote_transport_params(ng) : NULL;

	if (tp && tp->max_idle_timeout && (!ms || tp->max_idle_timeout / 1000000 < ms))
		ms = tp->max_idle_timeout / 1000000;
	return ms ? ms : 30000;
}

/* Give a subscriber connection a slot: subscriber entry, CIDs, counters. */
static int fc_slot_alloc(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	ngtcp2_conn *ng = moq_quic_conn_ngtcp2(fc->qc);
	const ngtcp2_transport_params *tp = ng ? ngtcp2_conn_get_remote_transport_params(ng) : NULL;
	struct moq_subscriber sub = {0};
	const struct sockaddr *sa;
	socklen_t salen;
	uint8_t daddr[16], src[16], ids[8][20], dcid[20];
	size_t lens[8], n;
	uint16_t dport_be;
	int family, ifindex = 0, rc;
	uint32_t slot = UINT32_MAX;

	if (!tp)
		return -EAGAIN;
	fc->slow_reason = fp_tls_sub_refusal(fc);
	if (fc->slow_reason) {
		if (moq_session_is_webtransport(fc->p->s))
			fp->wt_userspace++;
		else
			fp->tls_userspace++;
		return -EPROTONOSUPPORT;
	}
	sa = moq_quic_conn_peer(fc->qc, &salen);
	if (!sa || sockaddr_to(sa, &family, daddr, &dport_be))
		return -EAFNOSUPPORT;
	if (moq_quic_conn_dcid(fc->qc, dcid) != MOQ_CID_LEN)
		return -EPROTO;
	rc = fp_route_lookup(family, daddr, &ifindex, src);
	if (rc) {
		moq_warn(MOD, "%s: no route to the subscriber (%s): served in userspace",
			 moq_session_name(fc->p->s), strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < MOQ_MAX_SUBSCRIBERS; i++) {
		uint32_t s = (fp->next_slot + i) % MOQ_MAX_SUBSCRIBERS;

		if (!fp->slots[s]) {
			slot = s;
			break;
		}
	}
	if (slot == UINT32_MAX)
		return -ENOSPC;
	fp->next_slot = (slot + 1) % MOQ_MAX_SUBSCRIBERS;
	/* a reused slot must not inherit its previous connection's streams
	 * (their reset marks would hide the new subscriber's streams) */
	if (fp->slot_used[slot]) {
		int n = fp_maps_purge_slot(&fp->maps, slot);

		if (n < 0)
			moq_warn(MOD, "slot %u: cannot purge its moq_down_streams entries: %s",
				 slot, strerror(-n));
	}
	fp->slot_used[slot] = true;
	/* TLS: the kernel seals with the connection's tx keys, installed
	 * before the slot is active (then kept current by fp_tls.c) */
	if (fp->tls) {
		fc->slot = (int)slot;
		rc = fp_tls_sub_export(fc);
		fc->slot = -1;
		if (rc) {
			fc->slow_reason = "its TLS keys could not be installed in the kernel";
			return rc;
		}
		fc->tls_slot = true;
	}

	/* counters: a reused slot starts at 0, then takes the private
	 * counter's value (fp_pnspace_rebind) */
	struct moq_conn_seq *seq = fp_maps_seq(&fp->maps, slot);
	struct moq_gate *g = fp_maps_gate(&fp->maps, slot);
	uint64_t opened = moq_quic_conn_uni_opened(fc->qc);

	__atomic_store_n(&seq->next_pn, 0, __ATOMIC_SEQ_CST);
	fp_pnspace_rebind(&fc->ps, seq);
	__atomic_store_n(&seq->next_uni, opened, __ATOMIC_SEQ_CST);
	fc->first_media_uni = opened;
	if (!fc->peer_max_uni)
		fc->peer_max_uni = tp->initial_max_streams_uni;
	__atomic_store_n(&seq->max_uni, fc->peer_max_uni ? fc->peer_max_uni : 1, __ATOMIC_SEQ_CST);
	g->enabled = 0;
	__atomic_store_n(&g->budget, 0, __ATOMIC_SEQ_CST);
	/* flow control (issue 17 finding 2b): the kernel forwards no stream
	 * byte beyond the subscriber's credit; the connection credit starts
	 * with what the media plane reserved and has not used */
	{
		struct moq_credit *cr = fp_maps_credit(&fp->maps, slot);

		cr->enabled = 0;
		fc->stream0 = tp->initial_max_stream_data_uni;
		for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
			fs->max_sd = fc->stream0;
		fc->cr_added = fp_conn_media_limit(fc);
		fc->cr_prepaid = 0;
		__atomic_store_n(&cr->conn, (int64_t)fc->cr_added - (int64_t)fc->media_used,
				 __ATOMIC_SEQ_CST);
		__atomic_store_n(&cr->stream0, fc->stream0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&cr->enabled, 1, __ATOMIC_SEQ_CST);
		fc->credit_on = true;
	}
	/* what the kernel logged for an earlier connection on this slot */
	fp_sentlog_skip(fp_maps_sent_log(&fp->maps, slot));
	fc->trk.cfg.max_ack_delay_ns = tp->max_ack_delay;
	fc->trk.cfg.ack_delay_exponent = (uint32_t)tp->ack_delay_exponent;

	sub.flags = MOQ_SUB_F_ACTIVE | (fc->tls_slot ? MOQ_SUB_F_TLS : 0);
	sub.generation = fp->generation;
	sub.ifindex = (uint32_t)ifindex;
	sub.family = family == AF_INET ? MOQ_AF_INET : MOQ_AF_INET6;
	sub.sport_be = htons(moq_quic_endpoint_port(fc->d->ep));
	sub.dport_be = dport_be;
	memcpy(sub.saddr, src, 16);
	memcpy(sub.daddr, daddr, 16);
	memcpy(sub.dcid, dcid, MOQ_CID_LEN);
	memcpy(fc->dcid, dcid, MOQ_CID_LEN);
	fp_if_mac(ifindex, sub.eth_src);
	if (fp_neigh_lookup(NULL, family, daddr, ifindex, sub.eth_dst) == 0)
		sub.flags |= MOQ_SUB_F_L2_LEARNED;
	n = moq_quic_conn_scids(fc->qc, ids, lens, 8);
	{
		uint8_t cids[8][MOQ_CID_LEN];
		size_t nc = 0;

		for (size_t i = 0; i < n; i++) {
			if (lens[i] != MOQ_CID_LEN)
				continue;
			if (!sub.scid[0] && !sub.scid[1])
				memcpy(sub.scid, ids[i], MOQ_CID_LEN);
			memcpy(cids[nc++], ids[i], MOQ_CID_LEN);
		}
		fp_maps_put_sub_cids(&fp->maps, (const uint8_t(*)[MOQ_CID_LEN])cids, nc, slot);
	}
	fc->family = family;
	fc->slot = (int)slot;
	fp->slots[slot] = fc;
	if (slot + 1 > fp->slot_hi)
		fp->slot_hi = slot + 1;
	rc = fp_maps_put_subscriber(&fp->maps, slot, &sub);
	if (rc) {
		moq_warn(MOD, "slot %u: cannot write moq_subscribers: %s", slot, strerror(-rc));
		return rc;
	}
	fc->info.slot = slot;
	fc->info.conn_id = fc->conn_id;
	{
		char host[INET6_ADDRSTRLEN] = "?";

		inet_ntop(family, daddr, host, sizeof(host));
		snprintf(fc->info.peer, sizeof(fc->info.peer), "%s:%u", host, ntohs(dport_be));
	}
	/* the kernel may consume media ACKs from here: every ack-eliciting
	 * ngtcp2 packet not yet acknowledged is guarded first. A TLS slot
	 * only with its rx keys in the kernel (fp_tls.c): without them the
	 * ingress passes its ACKs and the ring stays off */
	{
		struct moq_acks *a = fp_maps_acks(&fp->maps, slot);

		if (a && fc->tls_slot && !fc->sub_rx_keys) {
			fp_ackring_disable(a);
		} else if (a) {
			fp_ackring_disable(a);
			fp_pnspace_set_guard(&fc->ps, a);
			fp_ackring_set_pass_ms(a, fp_ackring_pass_ms(fc_idle_timeout_ms(fc)));
			fp_ackring_enable(a);
			/* ACK + PING too: fp_acks.c feeds ngtcp2 the PINGs */
			if (fp->ack_ping)
				fp_ackring_enable_ping(a);
		}
	}
	moq_info(MOD, "%s: fast path slot %u (ifindex %d, first media stream %llu%s)",
		 moq_session_name(fc->p->s), slot, ifindex, (unsigned long long)(4 * opened + 3),
		 fc->tls_slot ? ", TLS: sealed in the kernel" : "");
	return 0;
}

static void fc_slot_release(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	uint32_t slot;
	struct moq_subscriber sub = {0};
	uint8_t ids[8][20];
	size_t lens[8], n;

	if (fc->slot < 0)
		return;
	slot = (uint32_t)fc->slot;
	/* only for a connection that is going (relayd_fp_peer_gone): its held
	 * PINGs are dropped, not fed (this may run inside an ngtcp2 callback,
	 * which must not re-enter ngtcp2) */
	fc->ph.n = 0;
	{
		struct moq_acks *a = fp_maps_acks(&fp->maps, slot);

		/* records left unread belong to a connection that is going */
		if (a) {
			fp_ackring_disable(a);
			__atomic_store_n(&a->tail, __atomic_load_n(&a->head, __ATOMIC_ACQUIRE),
					 __ATOMIC_RELEASE);
		}
		fp_pnspace_set_guard(&fc->ps, NULL);
	}
	fp_maps_put_subscriber(&fp->maps, slot, &sub);
	/* inactive first, then its keys go: a clone in flight finds either
	 * the keys or no entry, never an entry without keys it would need */
	if (fc->tls_slot) {
		fp_tls_sub_wipe(fc);
		fc->tls_slot = false;
	}
	n = moq_quic_conn_scids(fc->qc, ids, lens, 8);
	{
		uint8_t cids[8][MOQ_CID_LEN];
		size_t nc = 0;

		for (size_t i = 0; i < n; i++)
			if (lens[i] == MOQ_CID_LEN)
				memcpy(cids[nc++], ids[i], MOQ_CID_LEN);
		fp_maps_del_sub_cids(&fp->maps, (const uint8_t(*)[MOQ_CID_LEN])cids, nc);
	}
	{
		struct moq_gate *g = fp_maps_gate(&fp->maps, slot);
		struct moq_conn_seq *seq = fp_maps_seq(&fp->maps, slot);

		g->enabled = 0;
		__atomic_store_n(&g->budget, 0, __ATOMIC_SEQ_CST);
		{
			struct moq_credit *cr = fp_maps_credit(&fp->maps, slot);

			__atomic_store_n(&cr->enabled, 0, __ATOMIC_SEQ_CST);
			__atomic_store_n(&cr->conn, 0, __ATOMIC_SEQ_CST);
			fc->credit_on = false;
		}
		/* the pnspace keeps numbering on a private counter from here */
		fc->priv.next_pn = __atomic_load_n(&seq->next_pn, __ATOMIC_SEQ_CST);
		fp_pnspace_rebind(&fc->ps, &fc->priv);
		__atomic_store_n(&seq->next_pn, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&seq->next_uni, 0, __ATOMIC_SEQ_CST);
	}
	fp->slots[slot] = NULL;
	fc->slot = -1;
}

/* ---- ACK translation callbacks ---------------------------------------- */

static void ax_on_media_ack(void *user, const struct fp_wire_ack *ack)
{
	struct fp_conn *fc = user;
	struct fp_trk_summary sum;
	uint64_t now = fp_now_ns();

	if (fc->slot < 0)
		return;
	fp_tracker_on_ack(&fc->trk, ack, now, &sum);
	fp_cc_on_losses(&fc->cc, &sum, now);
	fp_conn_process_lost(fc);
	fp_conn_pump_pending(fc);
	fp_conn_gate_update(fc);
	fp_conn_arm_timer(fc);
}

static int ax_is_media_stream(void *user, uint64_t sid)
{
	struct fp_conn *fc = user;

	return fc->slot >= 0 && (sid & 3) == 3 && (sid >> 2) >= fc->first_media_uni;
}

static void ax_on_stop_sending(void *user, uint64_t sid, uint64_t code)
{
	struct fp_conn *fc = user;
	struct fp_stream *fs = fp_stream_find_down(fc, sid);

	(void)code;
	if (fs)
		fp_stream_reset(fc, fs, MOQ_RESET_CANCELLED);
}

static void ax_on_max_streams_uni(void *user, uint64_t max)
{
	struct fp_conn *fc = user;

	if (max > fc->peer_max_uni)
		fc->peer_max_uni = max;
	if (fc->slot >= 0) {
		struct moq_conn_seq *seq = fp_maps_seq(&fc->d->fp->maps, (uint32_t)fc->slot);

		__atomic_store_n(&seq->max_uni, fc->peer_max_uni, __ATOMIC_SEQ_CST);
	}
}

/* The subscriber's MAX_STREAM_DATA for a media stream: the kernel
 * (moq_stream_credit) and the writer may send up to it. */
static void ax_on_max_stream_data(void *user, uint64_t sid, uint64_t max)
{
	struct fp_conn *fc = user;
	struct fp_stream *fs = fp_stream_find_down(fc, sid);

	if (fs)
		fp_stream_credit_raise(fc, fs, max);
}

static const struct fp_ackx_ops ax_ops = {
    .on_media_ack = ax_on_media_ack,
    .is_media_stream = ax_is_media_stream,
    .on_stop_sending = ax_on_stop_sending,
    .on_max_stream_data = ax_on_max_stream_data,
    .on_max_streams_uni = ax_on_max_streams_uni,
};

/* ---- packet hooks ------------------------------------------------------ */

static int fp_send_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap,
			uint64_t ng_pn, void *user)
{
	struct fp_conn *fc = conn_fc(c, user);

	(void)cap;
	if (!fc)
		return 0;
	if (fp_pnspace_on_send(&fc->ps, pkt, *len, MOQ_CID_LEN, ng_pn, NULL) < 0) {
		fc->d->fp->hook_drops++;
		return -1;
	}
	return 0;
}

static int fp_recv_hook(struct moq_quic_conn *c, uint8_t *pkt, size_t *len, size_t cap, void *user)
{
	struct fp_conn *fc = conn_fc(c, user);
	ngtcp2_conn *ng;
	int rc;

	if (!fc)
		return 0;
	if (*len > MOQ_CID_LEN)
		memcpy(fc->rx_dcid, pkt + 1, MOQ_CID_LEN);
	ng = moq_quic_conn_ngtcp2(c);
	if (!fc->flow_set && ng) {
		const ngtcp2_transport_params *tp = ngtcp2_conn_get_remote_transport_params(ng);

		if (tp) {
			fp_ackx_set_flow(fc->x, tp->initial_max_data, FP_NG_WINDOW);
			fc->flow_set = true;
		}
	}
	if (fc->flow_set && ng)
		fp_ackx_set_ng_used(fc->x, fc->x->ng_max_data - ngtcp2_conn_get_max_data_left(ng));
	/* this subscriber's sent log first: an ACK may cover packets logged
	 * but not read yet; then the ACKs the kernel consumed for it, which
	 * arrived before this packet (the other slots wait for the tick) */
	if (fc->slot >= 0) {
		fp_drain_conn(fc);
		fp_conn_drain_acks(fc);
		/* an ACK + PING the kernel passed (guarded): the agent
		 * answers its PING (fp_acks.c), ngtcp2 reads the ACK */
		fp_conn_take_ping(fc, pkt, *len);
		/* and the held PINGs when this packet makes ngtcp2 send an
		 * ACK anyway (one ACK covers them all); an ACK-only packet
		 * (e.g. of the relay's own PING) leaves them held */
		if (fc->ph.n && fp_pkt_ack_eliciting(pkt, *len, MOQ_CID_LEN))
			fp_conn_feed_pings(fc);
	}
	rc = fp_ackx_packet(fc->x, pkt, len, cap);
	if (rc < 0) {
		moq_dbg(MOD, "dropped a received packet: %s", fp_ackx_reason_str(-rc));
		fc->d->fp->hook_drops++;
		return -1;
	}
	return 0;
}

void relayd_fp_hooks(struct relayd *d, struct moq_quic_callbacks *cb)
{
	(void)d;
	cb->send_hook = fp_send_hook;
	cb->recv_hook = fp_recv_hook;
}

/* ---- upstream raw bytes ------------------------------------------------ */

/* The newest group whose stream the relay has seen on tr. A joiner is
 * served the group in progress only while no newer group has started: the
 * finished subgroups of an older group are no longer kept, and half a
 * group is worse than none. */
static uint64_t track_newest_group(const struct relayd_fp *fp, const struct relay_track *tr)
{
	uint64_t g = 0;

	for (const struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->tr == tr && r->group > g)
			g = r->group;
	return g;
}

/* Is r owed to subscriber s although the kernel did not forward its start?
 * Its range says so, or (unfiltered) it is the group in progress at the
 * join and no newer group has started. */
static bool raw_owed(const struct relayd_fp *fp, const struct relay_sub *s, const struct fp_raw *r)
{
	return relay_range_contains(&s->range, r->group, 0) || s->wait_group_start ||
	       (!s->has_filter && r->group + 1 >= s->range.start.group &&
		r->group >= track_newest_group(fp, r->tr));
}

/* Serve r to the fast subscribers of its track (only to `only` if set);
 * the sent logs and the ring are drained (raw_pump) or were drained since
 * r's bytes were read (fp_pass_end). */
static void raw_serve(struct relayd *d, struct fp_raw *r, struct relay_sub *only)
{
	struct relayd_fp *fp = d->fp;

	if (!r->tr || r->ignored)
		return;
	/* the last stream finishing below must not free r under this loop
	 * (nor under the caller): callers free it with fp_raw_maybe_free */
	r->refs++;
	for (struct relay_sub *s = r->tr->subs; s; s = s->next) {
		struct peer *p = s->peer;
		struct fp_conn *fc = p->fp;
		struct fp_stream *fs;

		if (!s->fast || !fc || fc->slot < 0 || (only && s != only))
			continue;
		fs = fp_stream_find_up(fc, r->up_conn, r->up_sid);
		if (!fs) {
			/* the kernel did not forward its start to this
			 * subscriber: the agent serves all of it, or none */
			struct moq_down_stream_key hk = {.slot = (uint32_t)fc->slot,
							 .conn_id = r->up_conn,
							 .up_stream_id = r->up_sid};
			struct moq_down_stream hv;

			/* an entry means the stream was served (or dropped)
			 * already; its state is gone with it. Except a start
			 * the gate dropped (reset, no id) whose event never
			 * came (moq_events full: event_lost): nobody decided
			 * on it, so decide now as fc_event would have. A
			 * stream not owed to s is one the agent skipped
			 * itself (a joiner's older group: its fs is freed
			 * when the raw ends, the raw may be served again). */
			if (!fp_maps_get_down_stream(&fp->maps, &hk, &hv)) {
				if (hv.stream_id != MOQ_DS_NONE || !(hv.flags & MOQ_DS_F_RESET) ||
				    !raw_owed(fp, s, r) ||
				    !fp_gate_drop_queues(fc, r->prio_class, fc->obj_to_ns))
					continue;
				fs = fp_stream_new(fc, r->up_conn, r->up_sid);
				if (!fs)
					continue;
				fp->starts_unseen++;
				fp_stream_gate_dropped(fc, fs, r->prio_class);
			} else {
				fs = fp_stream_new(fc, r->up_conn, r->up_sid);
				if (!fs)
					continue;
				/* a joiner is served a stream from its start only */
				fp_stream_take_over(fc, fs, raw_owed(fp, s, r) && !r->base);
			}
		}
		fp_stream_set_raw(fs, r);
		fp_stream_count(fc, fs, s);
		fp_stream_learn_timeouts(fc, fs, s);
		fc->class_seen_ns[r->prio_class] = fp_now_ns();
		if (!fs->alias_known) {
			fs->down_alias = s->alias;
			fs->alias_known = true;
		}
		fp_stream_fill(fc, fs);
		fp_stream_maybe_done(fc, fs);
		fp_conn_gate_update(fc);
		fp_conn_arm_timer(fc);
	}
	r->refs--;
}

static void raw_pump(struct relayd *d, struct fp_raw *r, struct relay_sub *only)
{
	fp_drain(d->fp);
	raw_serve(d, r, only);
}

/* End of a loop pass that read upstream bytes: one drain of every sent log
 * and the exception ring, then every raw that got bytes (or its HEADER) in
 * the pass is served once, whatever the number of packets (issue 18: no
 * bookkeeping per upstream packet per subscriber). The ordering fact holds
 * as before: the drain follows the reads. */
static void fp_pass_end(struct moq_loop *loop, void *arg)
{
	struct relayd_fp *fp = arg;
	struct relayd *d = fp->d;
	size_t n = 0;

	(void)loop;
	fp->pass_armed = false;
	if (!fp->raws_due)
		return;
	fp_drain(fp);
	fp->passes++;
	for (struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->pump_due && n < fp->due_cap)
			fp->due[n++] = r;
	/* held (refs) since they became due: none is freed under this loop */
	for (size_t i = 0; i < n; i++) {
		struct fp_raw *r = fp->due[i];

		r->pump_due = false;
		fp->raws_due--;
		raw_serve(d, r, NULL);
		r->refs--;
		if (r->ended)
			fp_raw_maybe_free(fp, r);
	}
	fp_maps_flush(&fp->maps);
}

/* Serve r at the end of this pass (fp_pass_end); now when that cannot be
 * arranged (no memory). */
static void raw_pump_later(struct relayd *d, struct fp_raw *r)
{
	struct relayd_fp *fp = d->fp;

	if (!r->pump_due) {
		if (fp->raws_due == fp->due_cap) {
			size_t cap = fp->due_cap ? 2 * fp->due_cap : 64;
			struct fp_raw **a = realloc(fp->due, cap * sizeof(*a));

			if (!a)
				goto now;
			fp->due = a;
			fp->due_cap = cap;
		}
		r->pump_due = true;
		r->refs++;
		fp->raws_due++;
	}
	if (!fp->pass_armed) {
		if (moq_loop_defer(d->loop, fp_pass_end, fp)) {
			fp_pass_end(d->loop, fp);
			return;
		}
		fp->pass_armed = true;
	}
	return;
now:
	fp_pass_end(d->loop, fp);
	raw_pump(d, r, NULL);
	if (r->ended)
		fp_raw_maybe_free(fp, r);
}

/* Work a pass left for its end is done before anything that depends on the
 * streams' state (a subscription or peer ending, stream counts). */
static void fp_flush_pass(struct relayd *d)
{
	if (d->fp && d->fp->raws_due)
		fp_pass_end(d->loop, d->fp);
}

void relayd_fp_raw(struct relayd *d, struct peer *p, struct moq_rx *rx, uint64_t off,
		   const uint8_t *data, size_t len, int fin)
{
	struct relayd_fp *fp = d->fp;
	uint64_t sid = (uint64_t)moq_rx_stream_id(rx);
	struct fp_raw *r;

	if (!fp || !p->fp_conn_id)
		return;
	r = fp_raw_find(fp, p->fp_conn_id, sid);
	if (!r) {
		if (off != 0)
			return; /* a stream older than our interest */
		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		r->up_conn = p->fp_conn_id;
		r->up_sid = sid;
		r->next = fp->raws;
		fp->raws = r;
	}
	if (r->ended)
		return;
	if (len)
		fp->raw_reads++;
	if (!r->ignored && len && off == r->len) {
		if (fp_raw_append(fp, r, data, len))
			r->ignored = true; /* out of memory: subscribers get resets below */
		else
			fp_raw_mark(r, fp_now_ns());
	}
	if (fin) {
		r->fin = true;
		r->ended = true;
		r->fin_ns = fp_now_ns();
	}
	raw_pump_later(d, r);
}

void relayd_fp_rx_header(struct relayd *d, struct peer *p, struct relay_rx *st)
{
	struct relayd_fp *fp = d->fp;
	struct fp_raw *r;
	uint64_t v;
	int a, b;

	if (!fp || !p->fp_conn_id)
		return;
	r = fp_raw_find(fp, p->fp_conn_id, (uint64_t)moq_rx_stream_id(st->rx));
	if (!r || r->tr)
		return;
	r->tr = st->track;
	r->group = st->group; /* relay_forward_event filled it from the HEADER */
	r->prio_class =
	    (uint8_t)((st->hdr.default_priority ? 128 : st->hdr.publisher_priority) >> 5);
	/* kept even when the track has no fast subscriber yet: one joining
	 * while this stream is in progress is owed it (the first subscriber
	 * of a track races the stream's HEADER) */
	/* where the Track Alias sits in the bytes: type, then alias */
	a = r->len && !r->base ? moq_vi_decode(&v, r->buf, r->len) : -1;
	b = a > 0 ? moq_vi_decode(&r->up_alias, r->buf + a, r->len - (size_t)a) : -1;
	if (a > 0 && b > 0) {
		r->alias_off = (size_t)a;
		r->alias_w = (size_t)b;
	}
	fp_raws_retire_older(fp, st->track, st->group);
	raw_pump_later(d, r);
}

void relayd_fp_rx_object(struct relayd *d, struct peer *p, struct relay_rx *st)
{
	struct fp_raw *r;

	if (!d->fp || !p->fp_conn_id)
		return;
	r = fp_raw_find(d->fp, p->fp_conn_id, (uint64_t)moq_rx_stream_id(st->rx));
	if (r)
		r->objects++;
}

void relayd_fp_delivered(struct relayd *d, uint64_t *objects, uint64_t *bytes)
{
	*objects = d->fp ? d->fp->objects_delivered : 0;
	*bytes = d->fp ? d->fp->object_bytes_delivered : 0;
}

/* tr is about to be freed: its raws forget it (their bytes are served no
 * more; an ended, unreferenced one is freed now, the others when they end
 * or their publisher goes). */
void relayd_fp_track_gone(struct relayd *d, struct relay_track *tr)
{
	struct relayd_fp *fp = d->fp;

	fp_flush_pass(d);
	if (!fp)
		return;
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->tr != tr)
			continue;
		r->tr = NULL;
		if (r->fin && r->refs)
			r->orphan = true; /* still delivered to its streams */
		else
			r->ignored = true;
		fp_raw_maybe_free(fp, r);
	}
}

void relayd_fp_rx_reset(struct relayd *d, struct peer *up, struct moq_rx *rx)
{
	struct relayd_fp *fp = d->fp;
	struct fp_raw *r;

	fp_flush_pass(d);
	if (!fp || !up || !up->fp_conn_id)
		return;
	r = fp_raw_find(fp, up->fp_conn_id, (uint64_t)moq_rx_stream_id(rx));
	if (!r || r->ended)
		return;
	r->ended = true;
	r->refs++; /* not freed by its last stream inside the loop */
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];
		struct fp_stream *fs = fc ? fp_stream_find_up(fc, r->up_conn, r->up_sid) : NULL;

		if (fs) {
			fp_stream_reset(fc, fs, MOQ_RESET_CANCELLED);
			fp_stream_maybe_done(fc, fs);
		}
	}
	r->refs--;
	fp_raw_maybe_free(fp, r);
}

/* ---- datagrams --------------------------------------------------------- */

/* Userspace has an upstream datagram for fast subscriber s: did the kernel
 * forward it? Its clone's event was written before the original reached
 * the socket, so after a drain it is among the recent ones if it exists. */
static bool fp_datagram_missed(void *arg, struct relay_sub *s, const struct moq_object_datagram *d)
{
	struct relayd *rd = arg;
	struct peer *p = s->peer, *up = s->track ? s->track->up_peer : NULL;
	struct fp_conn *fc = p->fp;

	if (!rd->fp || !fc || fc->slot < 0)
		return false;
	/* its log (forwarded) and the ring (gate-dropped on purpose) */
	fp_drain_conn(fc);
	fp_drain_exceptions(rd->fp);
	for (unsigned i = 0; i < 256; i++) {
		const struct fp_dg *g = &fc->dg[i];

		if (up && g->conn == up->fp_conn_id && g->alias == d->track_alias &&
		    g->group == d->group_id && g->object == d->object_id)
			return false;
	}
	fc->info.agent_packets++;
	return true;
}

/* ---- subscribers ------------------------------------------------------- */

bool relayd_fp_conn_is_fast(const struct peer *p)
{
	return p && p->fp && p->fp->mode == FC_FAST;
}

void relayd_fp_sub_established(struct relayd *d, struct relay_sub *sub)
{
	struct relayd_fp *fp = d->fp;
	struct peer *p = sub->peer;
	struct fp_conn *fc = p->fp;
	struct relay_track *tr = sub->track;
	struct peer *up = tr->up_peer;

	fp_flush_pass(d);
	/* a joiner is served the group in progress from what was read */
	relayd_fp_intake_kick(d);
	if (!fp || !fc || p->is_upstream)
		return;
	if (fc->mode == FC_UNDECIDED) {
		int rc = fc_slot_alloc(fc);

		fc->mode = rc ? FC_SLOW : FC_FAST;
		if (rc)
			moq_warn(MOD, "%s: not on the fast path (%s): userspace relay",
				 moq_session_name(p->s),
				 fc->slow_reason ? fc->slow_reason : strerror(-rc));
	}
	if (fc->mode != FC_FAST)
		return;
	sub->fast = true;
	{
		struct moq_subscription_info info;

		if (sub->req && moq_request_subscription(sub->req, &info) == 0)
			fc->obj_to_ns = fp_ms_to_ns(info.object_delivery_timeout);
	}
	if (up)
		relayd_fp_upstream(d, up);
	if (up && up->fp && up->fp->upstream_registered) {
		struct moq_subscription_key k = {.slot = (uint32_t)fc->slot,
						 .conn_id = up->fp->conn_id,
						 .track_alias = tr->up_alias};
		/* a filter's start group: the kernel opens no stream of an
		 * earlier group (unfiltered: the relay serves the group in
		 * progress too, raw_owed) */
		struct moq_subscription v = {.track_alias = sub->alias,
					     .start_group =
						 sub->has_filter ? sub->range.start.group : 0};

		int rc = fp_maps_put_subscription(&fp->maps, &k, &v);

		if (rc) {
			/* the kernel clones nothing for it (its clones to this
			 * slot find no entry and are dropped): the agent's
			 * writer serves the whole subscription (raw_pump) */
			fp->sub_map_fallbacks++;
			fc->agent_subs = true;
			moq_warn(MOD,
				 "%s: moq_subscriptions update failed (%s; %llu failed so far): "
				 "this subscription is served in userspace",
				 moq_session_name(p->s), strerror(-rc),
				 (unsigned long long)fp->maps.failures[FP_MAP_SUBSCRIPTIONS]);
		}
		track_sync(d, tr);
	}
	fp_conn_gate_update(fc);
	/* streams of the track already in progress (or of its latest group) */
	for (struct fp_raw *r = fp->raws; r; r = r->next)
		if (r->tr == tr && !r->ignored)
			raw_pump(d, r, sub);
}

void relayd_fp_sub_gone(struct relayd *d, struct relay_sub *sub)
{
	struct relayd_fp *fp = d->fp;
	struct peer *p = sub->peer;
	struct fp_conn *fc = p ? p->fp : NULL;
	struct relay_track *tr = sub->track;
	struct peer *up = tr ? tr->up_peer : NULL;

	fp_flush_pass(d);
	relayd_fp_intake_kick(d);
	if (!fp || !fc || !sub->fast)
		return;
	sub->fast = false;
	if (fc->slot < 0 || !tr)
		return;
	if (up && up->fp) {
		struct moq_subscription_key k = {.slot = (uint32_t)fc->slot,
						 .conn_id = up->fp->conn_id,
						 .track_alias = tr->up_alias};

		fp_maps_del_subscription(&fp->maps, &k);
	}
	/* track_sync counts fast subs: this one is no longer */
	track_sync(d, tr);
	fp_drain(fp);
	for (struct fp_stream *fs = fc->streams, *n; fs; fs = n) {
		n = fs->next;
		if (!fs->raw || fs->raw->tr != tr)
			continue;
		fp_stream_count(fc, fs, sub);
		/* the track ended: what its publisher finished is delivered
		 * in full (retransmitted too), like the session's streams */
		if (sub->track_ended && fs->raw->fin)
			continue;
		fp_stream_reset(fc, fs, MOQ_RESET_CANCELLED);
		fp_stream_maybe_done(fc, fs);
	}
}

uint64_t relayd_fp_sub_streams(struct relayd *d, struct relay_sub *sub)
{
	struct peer *p = sub->peer;
	struct fp_conn *fc = p ? p->fp : NULL;

	fp_flush_pass(d);
	if (!d->fp || !fc || !sub->fast)
		return 0;
	fp_drain(d->fp);
	for (struct fp_stream *fs = fc->streams; fs; fs = fs->next)
		if (fs->raw && fs->raw->tr == sub->track)
			fp_stream_count(fc, fs, sub);
	return sub->fast_streams;
}

/* ---- connections ------------------------------------------------------- */

static void fc_timer_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct fp_conn *fc = arg;
	struct fp_trk_summary sum;
	int probes = 0, rc;
	uint64_t now = fp_now_ns();

	(void)loop;
	(void)t;
	if (fc->slot < 0)
		return;
	/* this slot's log only (an ACK below may cover what it holds): a scan
	 * of every slot per timer made 1,000 subscribers' timers cost ~280,000
	 * log checks a second (issue 18). The exception ring waits for the
	 * next tick or pass, which drain every log before it. */
	fp_drain_conn(fc);
	/* ACKs the kernel consumed may already cover what the timer is about
	 * to declare lost or probe for */
	fp_conn_drain_acks(fc);
	now = fp_now_ns();
	rc = fp_tracker_on_timeout(&fc->trk, now, &sum, &probes);
	if (rc == 1) {
		fp_cc_on_losses(&fc->cc, &sum, now);
		fp_conn_process_lost(fc);
	} else if (rc == 2) {
		struct fp_media_pkt old[2];
		size_t n = fp_tracker_oldest(&fc->trk, old, probes < 2 ? (size_t)probes : 2);

		for (size_t i = 0; i < n; i++) {
			struct fp_stream *fs = fp_stream_find_down(fc, old[i].sid);

			if (!fs || old[i].kind == FP_TRK_KIND_DATAGRAM)
				continue;
			if (old[i].kind == FP_KIND_RESET)
				fp_stream_send_reset(fc, fs, fs->reset_code);
			else if (fs->state != FS_KERNEL && fs->state != FS_AGENT)
				continue;
			else if (fp_stream_expired(fs, old[i].offset))
				fp_stream_reset(fc, fs, MOQ_RESET_DELIVERY_TIMEOUT);
			else if (!fp_stream_reset_if_gone(fc, fs, old[i].offset))
				fp_stream_write(fc, fs, old[i].offset, old[i].len, old[i].fin);
		}
	}
	fp_conn_pump_pending(fc);
	fp_conn_gate_update(fc);
	fp_conn_arm_timer(fc);
}

/* p's fp_conn: hooks, pnspace, tracker, ACK translation (a subscriber's
 * duties; the upstream connection uses only its identity and CIDs). */
static struct fp_conn *fc_new(struct relayd *d, struct peer *p)
{
	struct fp_conn *fc;
	struct fp_tracker_cfg tc = {.cap = 16384};

	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return NULL;
	fc->x = calloc(1, sizeof(*fc->x));
	if (!fc->x || fp_pnspace_init(&fc->ps, &fc->priv, 8192) ||
	    fp_tracker_init(&fc->trk, &tc, &fp_trk_ops, fc)) {
		free(fc->x);
		free(fc);
		return NULL;
	}
	fc->d = d;
	fc->p = p;
	fc->qc = moq_session_conn(p->s);
	fc->conn_id = p->fp_conn_id;
	fc->slot = -1;
	fp_ackx_init(fc->x, &fc->ps, MOQ_CID_LEN, &ax_ops, fc);
	{
		/* RFC 9002's 10-packet initial window is a SHOULD; a relay's
		 * subscriber joins a stream already running at the publisher's
		 * rate, and a window that small makes the gate reset streams
		 * before the first ACKs arrive (docs/fast-path-agent.md) */
		struct fp_cc_cfg ccfg = {.initial_window = FP_INITIAL_WINDOW};

		fp_cc_init(&fc->cc, &ccfg);
	}
	fc->timer = moq_timer_new(d->loop, fc_timer_cb, fc);
	p->fp = fc;
	return fc;
}

void relayd_fp_peer_new(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;

	if (!fp)
		return;
	p->fp_conn_id = ++fp->next_conn_id;
	/* our client connection to an upstream relay has no session yet: its
	 * fp_conn comes with its first fast subscriber (relayd_fp_upstream) */
	if (p->is_upstream || !p->s)
		return;
	fc_new(d, p);
}

/* The cumulative counters of src added to dst (stats line totals). */
static void info_add(struct fp_sub_info *dst, const struct fp_sub_info *src)
{
	dst->kernel_packets += src->kernel_packets;
	dst->kernel_bytes += src->kernel_bytes;
	dst->agent_packets += src->agent_packets;
	dst->agent_bytes += src->agent_bytes;
	dst->retransmits += src->retransmits;
	dst->lost += src->lost;
	dst->gate_drops += src->gate_drops;
	dst->gate_queued += src->gate_queued;
	dst->resets_sent += src->resets_sent;
}

void relayd_fp_peer_gone(struct relayd *d, struct peer *p)
{
	struct relayd_fp *fp = d->fp;
	struct fp_conn *fc = p->fp;

	fp_flush_pass(d);
	if (!fp)
		return;
	/* its upstream streams end */
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->up_conn == p->fp_conn_id && !r->ended) {
			r->ended = true;
			r->refs++; /* freed by the loop below, not inside this one */
			for (uint32_t i = 0; i < fp->slot_hi; i++) {
				struct fp_conn *o = fp->slots[i];
				struct fp_stream *fs =
				    o ? fp_stream_find_up(o, r->up_conn, r->up_sid) : NULL;

				if (fs && !(fs->fin_done && fs->filled >= r->len)) {
					fp_stream_reset(o, fs, MOQ_RESET_CANCELLED);
					fp_stream_maybe_done(o, fs);
				}
			}
			r->refs--;
		}
	}
	for (struct fp_raw *r = fp->raws, *n; r; r = n) {
		n = r->next;
		if (r->up_conn == p->fp_conn_id && !r->refs)
			fp_raw_free(fp, r);
	}
	if (!fc)
		return;
	info_add(&fp->gone, &fc->info);
	for (size_t i = 0; i < fc->n_up_cids; i++)
		fp_maps_del_upstream(&fp->maps, fc->up_cids[i]);
	if (fc->up_tls) /* after its entries: nothing names the keys any more */
		fp_tls_up_wipe(fc);
	fc->up_tls = false;
	if (fc->pn_window)
		fp_maps_del_pn_window(&fp->maps, fc->conn_id);
	while (fc->streams)
		fp_stream_free(fc, fc->streams);
	fc_slot_release(fc);
	moq_timer_free(fc->timer);
	fp_tracker_free(&fc->trk);
	fp_pnspace_free(&fc->ps);
	free(fc->x);
	free(fc);
	p->fp = NULL;
}

/* ---- start / stop ------------------------------------------------------ */

/* Does the pinned moq_tls_keys hold a key? A plaintext relay loads the
 * key installer (and with it the kernel's BTF: ~1,400 system calls) only
 * when there is one to wipe. */
static bool tls_keys_left(const char *pin_dir)
{
	struct moq_tls_key_id first;
	char path[512];
	bool any;
	int fd;

	snprintf(path, sizeof(path), "%s/moq_tls_keys", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false; /* the installer could not open it either */
	any = !bpf_map_get_next_key(fd, NULL, &first);
	close(fd);
	return any;
}

/* A restarted agent clears what an earlier run left in the maps, TLS keys
 * included (also when this run is plaintext and the maps have them). */
static void clear_stale(struct relayd_fp *fp, const char *pin_dir)
{
	uint64_t t0 = fp_monotonic_ns();
	size_t n = fp_maps_clear_stale(&fp->maps);
	struct fp_keys k;
	int nk = 0;
	char err[256];

	if (fp->tls)
		nk = fp_tls_clear_stale(&fp->keys);
	else if (tls_keys_left(pin_dir) && !fp_keys_open(&k, pin_dir, err, sizeof(err))) {
		nk = fp_tls_clear_stale(&k);
		fp_keys_close(&k);
	}
	if (nk > 0)
		moq_info(MOD, "wiped the TLS keys an earlier run left");
	else if (nk < 0)
		moq_warn(MOD, "cannot wipe the TLS keys an earlier run left: %s", strerror(-nk));

	if (n)
		moq_info(MOD, "cleared %zu map entries an earlier run left, in %.1f ms", n,
			 (double)(fp_monotonic_ns() - t0) / 1e6);
}

/* The fast-path service tick: every --fast-path-tick while a subscriber is on
 * the fast path (its bookkeeping runs here in batches: fp_service), every
 * poll_ns otherwise (heartbeat). */
static void poll_cb(struct moq_loop *loop, struct moq_timer *t, void *arg)
{
	struct relayd_fp *fp = ((struct relayd *)arg)->fp;

	(void)loop;
	/* the held publishers first: their packets' pass end comes after
	 * this (deferred), the service below drains what came before */
	fp_intake_pass(arg);
	fp_service(arg); /* reads the kernel's ACK aggregates too */
	moq_timer_set_in(t, fp_intake_period(fp));
}

int relayd_fp_start(struct relayd *d, char *err, size_t errlen)
{
	struct relayd_fp *fp;
	struct timespec ts;

	if (!d->cfg.fast_path)
		return 0;
	fp = calloc(1, sizeof(*fp));
	if (!fp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fp->d = d;
	fp->tsbuf = calloc(1, sizeof(*fp->tsbuf));
	if (!fp->tsbuf || fp_maps_open(&fp->maps, d->cfg.bpf_pin_dir, err, errlen)) {
		free(fp->tsbuf);
		free(fp);
		return -1;
	}
	/* before clear_stale: a second daemon must not wipe a live one's maps */
	if (fp_maps_lock(&fp->maps, d->cfg.bpf_pin_dir, err, errlen)) {
		fp_maps_close(&fp->maps);
		free(fp->tsbuf);
		free(fp);
		return -1;
	}
	/* TLS relay: the key maps and their installer (docs/fast-path-tls.md) */
	if (!d->cfg.plaintext) {
		if (fp_keys_open(&fp->keys, d->cfg.bpf_pin_dir, err, errlen)) {
			fp_maps_close(&fp->maps);
			free(fp->tsbuf);
			free(fp);
			return -1;
		}
		fp->tls = true;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fp->generation = (uint32_t)(ts.tv_sec ^ ts.tv_nsec ^ (unsigned)getpid()) | 1u;
	clear_stale(fp, d->cfg.bpf_pin_dir);
	if (fp_maps_start(&fp->maps, fp->generation, d->cfg.heartbeat_timeout_ms * 1000000ull,
			  moq_quic_endpoint_port(d->ep), err, errlen))
		goto fail;
	fp->rb = ring_buffer__new(fp->maps.fd[FP_MAP_EVENTS], fp_on_ring_event, fp, NULL);
	if (!fp->rb) {
		snprintf(err, errlen, "cannot read the moq_events ring buffer: %s",
			 strerror(errno));
		fp_maps_stop(&fp->maps);
		goto fail;
	}
	fp->hb_every_ns = d->cfg.heartbeat_timeout_ms * 1000000ull / 4;
	fp->last_hb_ns = fp_monotonic_ns();
	fp->poll_ns = fp->hb_every_ns < FP_POLL_NS ? fp->hb_every_ns : FP_POLL_NS;
	fp->tick_ns = d->cfg.fp_tick_ms * 1000000ull;
	fp->ack_ping = !d->cfg.fp_no_ack_ping;
	fp->no_tls_rx = d->cfg.fp_no_tls_acks;
	fp->ping_mad_ns = relay_config_max_ack_delay(&d->cfg) * 1000000ull;
	if (!fp->ping_mad_ns)
		fp->ping_mad_ns = 25000000ull; /* ngtcp2's default, advertised */
	if (d->cfg.max_sessions * d->cfg.max_subscriptions > MOQ_MAX_SUBSCRIPTIONS)
		moq_warn(MOD,
			 "--max-sessions x --max-subscriptions (%llu) exceeds moq_subscriptions "
			 "(%u entries): subscriptions beyond it are served in userspace",
			 (unsigned long long)(d->cfg.max_sessions * d->cfg.max_subscriptions),
			 MOQ_MAX_SUBSCRIPTIONS);
	fp->raw_stream_max = d->cfg.fp_stream_bytes;
	fp->raw_total_max = d->cfg.fp_raw_bytes;
	d->fp = fp;
	d->fwd.fast_datagram_missed = fp_datagram_missed;
	d->fwd.fast_arg = d;
	/* the programs submit without wakeups (one epoll wakeup per packet
	 * cost more than the forwarding saved): events are drained before
	 * every received packet is processed, before upstream bytes are
	 * read, and by this poll timer */
	fp->poll_timer = moq_timer_new(d->loop, poll_cb, d);
	moq_timer_set_in(fp->poll_timer, fp->poll_ns);
	moq_warn(MOD, "fast path on%s: maps in %s, generation %u, heartbeat timeout %llu ms",
		 fp->tls ? " (TLS: AES-128-GCM subscribers sealed in the kernel)" : "",
		 d->cfg.bpf_pin_dir, fp->generation,
		 (unsigned long long)d->cfg.heartbeat_timeout_ms);
	return 0;
fail:
	if (fp->tls)
		fp_keys_close(&fp->keys);
	fp_maps_close(&fp->maps);
	free(fp->tsbuf);
	free(fp);
	return -1;
}

void relayd_fp_stop(struct relayd *d)
{
	struct relayd_fp *fp = d->fp;

	if (!fp)
		return;
	fp_maps_stop(&fp->maps);
	if (fp->tls) {
		/* no key stays in the maps after a clean stop */
		int rc = fp_keys_wipe_all(&fp->keys);

		if (rc)
			moq_warn(MOD, "cannot wipe the TLS keys at stop: %s", strerror(-rc));
		fp_keys_close(&fp->keys);
	}
	ring_buffer__free(fp->rb);
	moq_timer_free(fp->poll_timer);
	moq_loop_defer_cancel(d->loop, fp);
	while (fp->raws)
		fp_raw_free(fp, fp->raws);
	free(fp->due);
	fp_maps_close(&fp->maps);
	fp_netlink_close(); /* the route/neighbour lookups' kept socket */
	free(fp->tsbuf);
	free(fp);
	d->fp = NULL;
}

uint32_t relayd_fp_snapshot(struct relayd *d, struct fp_sub_info *out, uint32_t max)
{
	struct relayd_fp *fp = d->fp;
	uint32_t n = 0;

	if (!fp)
		return 0;
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (!fc)
			continue;
		if (n < max) {
			struct fp_sub_info *o = &out[n];
			struct moq_gate *g = fp_maps_gate(&fp->maps, i);

			*o = fc->info;
			o->budget = __atomic_load_n(&g->budget, __ATOMIC_RELAXED);
			o->cwnd = fc->cc.cwnd;
			o->bytes_in_flight = fc->cc.bytes_in_flight;
			o->srtt_us = fc->trk.has_rtt ? fc->trk.smoothed_rtt / 1000 : 0;
			o->min_rtt_us = fc->trk.has_rtt ? fc->trk.min_rtt / 1000 : 0;
		}
		n++;
	}
	return n;
}

void relayd_fp_raw_info(struct relayd *d, struct fp_raw_info *out)
{
	struct relayd_fp *fp = d->fp;

	memset(out, 0, sizeof(*out));
	if (!fp)
		return;
	out->bytes = fp->raw_bytes;
	out->evicted_bytes = fp->raw_evicted_bytes;
	out->evictions = fp->raw_evictions;
	out->gone_resets = fp->raw_gone_resets;
}

void relayd_fp_book_info(struct relayd *d, struct fp_book_info *out)
{
	struct relayd_fp *fp = d->fp;

	memset(out, 0, sizeof(*out));
	if (!fp)
		return;
	out->ring_events = fp->events;
	out->log_entries = fp->log_stats.entries;
	out->log_full = fp->log_full;
	out->pass_ends = fp->passes;
	out->map_batches = fp->maps.dsq_batches;
}

void relayd_fp_tls_info(struct relayd *d, struct fp_tls_info *out)
{
	struct relayd_fp *fp = d->fp;

	memset(out, 0, sizeof(*out));
	if (!fp || !fp->tls)
		return;
	out->tls = 1;
	out->userspace_suite = fp->tls_userspace;
	out->userspace_wt = fp->wt_userspace;
	out->key_exports = fp->key_exports;
	out->key_changes = fp->key_changes;
	out->key_failures = fp->key_failures;
}

void relayd_fp_map_failures(struct relayd *d, struct fp_map_failures *out)
{
	struct relayd_fp *fp = d->fp;

	memset(out, 0, sizeof(*out));
	if (!fp)
		return;
	for (int i = 0; i < FP_MAP_MAX && i < FP_INFO_MAPS; i++) {
		out->map[out->n] = fp_map_name((enum fp_map_id)i);
		out->count[out->n++] = fp->maps.failures[i];
	}
	out->sub_fallbacks = fp->sub_map_fallbacks;
}

static int tls_stats(struct relayd_fp *fp, char *buf, size_t len);

int relayd_fp_stats_line(struct relayd *d, char *buf, size_t len)
{
	struct relayd_fp *fp = d->fp;
	struct fp_sub_info t;
	uint32_t subs = 0;

	if (!fp)
		return 0;
	t = fp->gone;
	for (uint32_t i = 0; i < fp->slot_hi; i++) {
		struct fp_conn *fc = fp->slots[i];

		if (!fc)
			continue;
		subs++;
		info_add(&t, &fc->info);
	}
	uint64_t all = t.kernel_packets + t.agent_packets;
	uint64_t map_failures = 0;

	for (int i = 0; i < FP_MAP_MAX; i++)
		map_failures += fp->maps.failures[i];

	int n = snprintf(
	    buf, len,
	    "fastpath subs=%u kernel_pkts=%llu agent_pkts=%llu kernel_share=%.2f%% "
	    "retransmits=%llu lost=%llu gate_drops=%llu gate_queued=%llu resets=%llu "
	    "hook_drops=%llu "
	    "events=%llu orphan_events=%llu log_entries=%llu log_full=%llu raw_reads=%llu "
	    "pass_ends=%llu "
	    "map_batches=%llu raw_bytes=%zu raw_evicted=%llu raw_gone_resets=%llu "
	    "starts_unseen=%llu "
	    "ack_pings=%llu ack_ping_errors=%llu ping_batches=%llu ping_acks=%llu pings_taken=%llu "
	    "map_failures=%llu "
	    "intake_held=%u intake_reads=%llu intake_pkts=%llu intake_releases=%llu "
	    "bad_events=%llu",
	    subs, (unsigned long long)t.kernel_packets, (unsigned long long)t.agent_packets,
	    all ? 100.0 * (double)t.kernel_packets / (double)all : 0.0,
	    (unsigned long long)t.retransmits, (unsigned long long)t.lost,
	    (unsigned long long)t.gate_drops, (unsigned long long)t.gate_queued,
	    (unsigned long long)t.resets_sent, (unsigned long long)fp->hook_drops,
	    (unsigned long long)fp->events, (unsigned long long)fp->orphan_events,
	    (unsigned long long)fp->log_stats.entries, (unsigned long long)fp->log_full,
	    (unsigned long long)fp->raw_reads, (unsigned long long)fp->passes,
	    (unsigned long long)fp->maps.dsq_batches, fp->raw_bytes,
	    (unsigned long long)fp->raw_evicted_bytes, (unsigned long long)fp->raw_gone_resets,
	    (unsigned long long)fp->starts_unseen, (unsigned long long)fp->ack_pings,
	    (unsigned long long)fp->ack_ping_errors, (unsigned long long)fp->ping_batches,
	    (unsigned long long)fp->ping_acks, (unsigned long long)fp->pings_taken,
	    (unsigned long long)map_failures, fp->intake_held, (unsigned long long)fp->intake_reads,
	    (unsigned long long)fp->intake_pkts, (unsigned long long)fp->intake_releases,
	    (unsigned long long)fp->bad_events);

	if (n > 0 && (size_t)n < len)
		n += tls_stats(fp, buf + n, len - (size_t)n);
	return n;
}

/* The stats line's TLS part (TLS relays only). */
static int tls_stats(struct relayd_fp *fp, char *buf, size_t len)
{
	if (!fp->tls || !len)
		return 0;
	return snprintf(buf, len,
			" tls_userspace=%llu wt_userspace=%llu key_exports=%llu key_changes=%llu "
			"key_failures=%llu",
			(unsigned long long)fp->tls_userspace, (unsigned long long)fp->wt_userspace,
			(unsigned long long)fp->key_exports, (unsigned long long)fp->key_changes,
			(unsigned long long)fp->key_failures);
}

const char *relayd_fp_conn_mode(const struct peer *p, const char **note)
{
	const struct fp_conn *fc = p ? p->fp : NULL;

	*note = NULL;
	if (!p || !p->d->fp || p->is_upstream)
		return NULL;
	if (!fc)
		return "userspace";
	*note = fc->slow_reason;
	switch (fc->mode) {
	case FC_FAST:
		*note = fc->tls_slot ? "TLS, sealed in the kernel" : NULL;
		return "kernel";
	case FC_SLOW:
		return "userspace";
	default:
		return "undecided";
	}
}
