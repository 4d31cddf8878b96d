/* moq-relayd: the encrypted fast path's keys (docs/fast-path-tls.md).
 *
 * On a TLS relay the kernel seals every clone for a fast subscriber with
 * that connection's current 1-RTT tx keys, opens the subscriber's small
 * packets with its current rx keys to consume its media ACKs, and opens
 * every publisher packet with the publisher connection's rx keys of both
 * key phases before cloning it. This file moves those keys from the QUIC layer
 * (moq_quic_conn_1rtt_keys) into the pinned key maps (lib/fp_keys), follows
 * every key change the layer reports (on_keys_changed, called before the
 * layer's first packet under new tx keys leaves) and wipes them when the
 * connection leaves the fast path. Any failure leaves the connection's keys
 * wiped, never stale: the kernel then drops its clones (NO_KEYS) and the
 * agent fills the gaps, or passes the publisher's packets to userspace. */
#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>

#include "fastpath.h"
#include "fp_internal.h"
#include "lib/fp_keys.h"
#include "log.h"
#include "moq_maps.h"
#include "quic/quic.h"
#include "relayd.h"

#define MOD "fastpath"

static void key_from(struct fp_tls_key *o, const struct moq_quic_1rtt_keys *k)
{
	memcpy(o->key, k->key, sizeof(o->key));
	memcpy(o->iv, k->iv, sizeof(o->iv));
	memcpy(o->hp, k->hp, sizeof(o->hp));
	o->phase = k->phase & 1;
}

const char *fp_tls_sub_refusal(const struct fp_conn *fc)
{
	if (!fc->d->fp->tls)
		return NULL;
	/* the kernel writes native MoQT streams; WebTransport wraps them */
	if (moq_session_is_webtransport(fc->p->s))
		return "WebTransport session";
	if (!moq_quic_conn_shim_protected(fc->qc))
		return "TLS cipher suite is not TLS_AES_128_GCM_SHA256";
	return NULL;
}

/* fc's current rx keys (the subscriber's packets): the kernel opens its
 * small packets and consumes its media ACKs. The slot's rx window is
 * seeded with what the layer received before the first set. No rx keys
 * yet (a server gets them after the tx keys) is not an error: the kernel
 * passes everything until a key change re-exports. */
static int sub_export_rx(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	struct moq_quic_1rtt_keys k;
	struct fp_tls_key t;
	uint64_t largest = 0;
	int rc;

	rc = moq_quic_conn_1rtt_keys(fc->qc, 0, 0, &k);
	if (rc == -ENOENT)
		return 0;
	if (!rc && !fc->sub_rx_keys) {
		int any = !moq_quic_conn_rx_largest_pn(fc->qc, &largest);

		rc = fp_keys_sub_rx_seed(&fp->keys, (uint32_t)fc->slot, largest, any);
	}
	if (!rc) {
		key_from(&t, &k);
		rc = fp_keys_set_sub_rx(&fp->keys, (uint32_t)fc->slot, &t);
		explicit_bzero(&t, sizeof(t));
	}
	explicit_bzero(&k, sizeof(k));
	if (!rc)
		fc->sub_rx_keys = true;
	return rc;
}

void fp_tls_sub_rx_sync(struct fp_conn *fc)
{
	uint64_t largest;

	if (fc->sub_rx_keys && fc->slot >= 0 && !moq_quic_conn_rx_largest_pn(fc->qc, &largest))
		fp_keys_sub_rx_raise(&fc->d->fp->keys, (uint32_t)fc->slot, largest);
}

int fp_tls_sub_export(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	struct moq_quic_1rtt_keys k;
	struct fp_tls_key t;
	uint8_t phase = 0;
	int rc;

	if (fc->slot < 0)
		return -EINVAL;
	rc = moq_quic_conn_1rtt_keys(fc->qc, 1, 0, &k);
	if (!rc) {
		key_from(&t, &k);
		phase = t.phase;
		rc = fp_keys_set_sub(&fp->keys, (uint32_t)fc->slot, &t);
		explicit_bzero(&t, sizeof(t));
	}
	explicit_bzero(&k, sizeof(k));
	if (!rc && !fp->no_tls_rx)
		rc = sub_export_rx(fc);
	if (rc) {
		fp->key_failures++;
		fp_tls_sub_wipe(fc);
		return rc;
	}
	fc->sub_keys = true;
	fc->tx_phase = phase;
	fp->key_exports++;
	return 0;
}

void fp_tls_sub_wipe(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	int rc;

	if (fc->slot < 0 || !fp->tls)
		return;
	rc = fp_keys_wipe_sub(&fp->keys, (uint32_t)fc->slot);
	if (rc && rc != -ENOENT)
		moq_warn(MOD, "slot %d: cannot wipe its TLS keys: %s", fc->slot, strerror(-rc));
	fc->sub_keys = false;
	fc->sub_rx_keys = false;
}

int fp_tls_up_export(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	int rc = 0;

	for (int next = 0; next <= 1 && !rc; next++) {
		struct moq_quic_1rtt_keys k;
		struct fp_tls_key t;

		rc = moq_quic_conn_1rtt_keys(fc->qc, 0, next, &k);
		if (!rc) {
			key_from(&t, &k);
			rc = fp_keys_set_up(&fp->keys, fc->conn_id, &t);
			explicit_bzero(&t, sizeof(t));
		}
		explicit_bzero(&k, sizeof(k));
	}
	if (rc) {
		fp->key_failures++;
		fp_tls_up_wipe(fc);
		return rc;
	}
	fc->up_keys = true;
	fp->key_exports++;
	return 0;
}

void fp_tls_up_wipe(struct fp_conn *fc)
{
	struct relayd_fp *fp = fc->d->fp;
	int rc;

	if (!fp->tls)
		return;
	rc = fp_keys_wipe_up(&fp->keys, fc->conn_id);
	if (rc && rc != -ENOENT)
		moq_warn(MOD, "connection %u: cannot wipe its TLS keys: %s", fc->conn_id,
			 strerror(-rc));
	fc->up_keys = false;
}

int fp_tls_clear_stale(struct fp_keys *k)
{
	struct moq_tls_key_id first;
	int rc;

	if (bpf_map_get_next_key(k->keys_fd, NULL, &first))
		return 0; /* nothing left */
	rc = fp_keys_wipe_all(k);
	return rc ? rc : 1;
}

/* The layer installed new 1-RTT keys (a key update in either direction):
 * the kernel gets them before the layer's first packet under new tx keys
 * leaves, so that kernel-sent and agent-sent packets switch phase
 * together. */
static void fp_on_keys_changed(struct moq_quic_conn *c, void *user)
{
	struct peer *p;
	struct fp_conn *fc;
	struct relayd_fp *fp;

	if (!user || moq_quic_conn_user(c) != user)
		return; /* still in its handshake: exported when it gets a slot */
	p = moq_session_user(user);
	fc = p ? p->fp : NULL;
	fp = fc ? fc->d->fp : NULL;
	if (!fp || !fp->tls || fc->qc != c)
		return;
	fp->key_changes++;
	if (fc->tls_slot && fc->slot >= 0) {
		int rc = fp_tls_sub_export(fc);

		if (rc)
			moq_warn(MOD,
				 "%s: cannot re-export its TLS keys after a key update (%s): the "
				 "kernel drops its clones, the agent serves it",
				 moq_session_name(p->s), strerror(-rc));
		else
			moq_dbg(MOD, "%s: slot %d tx keys now phase %u", moq_session_name(p->s),
				fc->slot, (unsigned)fc->tx_phase);
	}
	if (fc->up_tls) {
		int rc = fp_tls_up_export(fc);

		if (rc)
			moq_warn(MOD,
				 "%s: cannot re-export its TLS rx keys after a key update (%s): "
				 "its packets go to userspace",
				 moq_session_name(p->s), strerror(-rc));
	}
}

void relayd_fp_key_callbacks(struct relayd *d, struct moq_quic_callbacks *cb)
{
	if (d->cfg.fast_path && !d->cfg.plaintext)
		cb->on_keys_changed = fp_on_keys_changed;
}
