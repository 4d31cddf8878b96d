/* fp_mapsync: open, check and mmap the pinned fast-path maps (fp_mapsync.h). */
#include "fp_mapsync.h"
#include "fp_bpffs.h"
#include "fp_pinlock.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct map_spec {
	const char *name;
	uint32_t type, key, value, entries; /* entries 0: not checked */
	uint32_t mmapable;
};

static const struct map_spec specs[FP_MAP_MAX] = {
    [FP_MAP_CONFIG] = {"moq_config", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_config), 1, 0},
    [FP_MAP_UPSTREAMS] = {"moq_upstreams", BPF_MAP_TYPE_HASH, sizeof(struct moq_cid),
			  sizeof(struct moq_upstream), MOQ_MAX_UPSTREAMS, 0},
    [FP_MAP_UP_STREAMS] = {"moq_up_streams", BPF_MAP_TYPE_LRU_HASH,
			   sizeof(struct moq_up_stream_key), sizeof(struct moq_up_stream),
			   MOQ_MAX_UP_STREAMS, 0},
    [FP_MAP_TRACKS] = {"moq_tracks", BPF_MAP_TYPE_HASH, sizeof(struct moq_track_key),
		       sizeof(struct moq_track_subs), MOQ_MAX_TRACKS, 0},
    [FP_MAP_SUBSCRIBERS] = {"moq_subscribers", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_subscriber),
			    MOQ_MAX_SUBSCRIBERS, 0},
    [FP_MAP_SUB_BY_CID] = {"moq_sub_by_cid", BPF_MAP_TYPE_HASH, sizeof(struct moq_cid), 4,
			   MOQ_MAX_SUB_CIDS, 0},
    [FP_MAP_SUBSCRIPTIONS] = {"moq_subscriptions", BPF_MAP_TYPE_HASH,
			      sizeof(struct moq_subscription_key), sizeof(struct moq_subscription),
			      MOQ_MAX_SUBSCRIPTIONS, 0},
    [FP_MAP_DOWN_STREAMS] = {"moq_down_streams", BPF_MAP_TYPE_LRU_HASH,
			     sizeof(struct moq_down_stream_key), sizeof(struct moq_down_stream),
			     MOQ_MAX_DOWN_STREAMS, 0},
    [FP_MAP_CONN_SEQ] = {"moq_conn_seq", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_conn_seq),
			 MOQ_MAX_SUBSCRIBERS, 1},
    [FP_MAP_GATE] = {"moq_gate", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_gate),
		     MOQ_MAX_SUBSCRIBERS, 1},
    [FP_MAP_SUB_STATS] = {"moq_sub_stats", BPF_MAP_TYPE_PERCPU_ARRAY, 4,
			  sizeof(struct moq_sub_stats), MOQ_MAX_SUBSCRIBERS, 0},
    [FP_MAP_STATS] = {"moq_stats", BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct moq_stat),
		      MOQ_STATS_ENTRIES, 0},
    [FP_MAP_EVENTS] = {"moq_events", BPF_MAP_TYPE_RINGBUF, 0, 0, MOQ_EVENTS_BYTES, 0},
    [FP_MAP_CREDIT] = {"moq_credit", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_credit),
		       MOQ_MAX_SUBSCRIBERS, 1},
    [FP_MAP_STREAM_CREDIT] = {"moq_stream_credit", BPF_MAP_TYPE_HASH,
			      sizeof(struct moq_down_stream_key), sizeof(__u64),
			      MOQ_MAX_DOWN_STREAMS, 0},
    [FP_MAP_PN_WINDOWS] = {"moq_pn_windows", BPF_MAP_TYPE_HASH, 4, sizeof(struct moq_pn_window),
			   MOQ_MAX_UPSTREAMS, 0},
    [FP_MAP_ACKS] = {"moq_acks", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_acks),
		     MOQ_MAX_SUBSCRIBERS, 1},
    [FP_MAP_SENT_LOG] = {"moq_sent_log", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct moq_sent_log),
			 MOQ_MAX_SUBSCRIBERS, 1},
    [FP_MAP_CLONE_CACHE] = {"moq_clone_cache", BPF_MAP_TYPE_ARRAY, 4,
			    sizeof(struct moq_clone_cache),
			    MOQ_MAX_SUBSCRIBERS *MOQ_CLONE_CACHE_WAYS, 1},
};

#define FIX_HINT                                                                                   \
	"attach the fast path first (it pins the maps), e.g. 'tc qdisc add dev IF clsact; "        \
	"tc filter add dev IF egress bpf da obj /usr/local/lib/moq-relay/relay.bpf.o sec "         \
	"tc/subscriber_egress' (see docs/fast-path.md; inside a netns use 'nsenter "               \
	"--net=/run/netns/NS tc ...', not 'ip netns exec'), then check that the pin is there "     \
	"with 'ls DIR/moq_config'"
#define REPIN_HINT                                                                                 \
	"the pinned maps come from another build of tc-progs/moq_maps.h: detach the filters, "     \
	"'rm %s/moq_*', and re-attach every program from this build's relay.bpf.o with tc "        \
	"filter add ... bpf da obj relay.bpf.o sec tc/... (docs/fast-path.md)"

const char *fp_map_name(enum fp_map_id id)
{
	return id < FP_MAP_MAX ? specs[id].name : "?";
}

uint64_t fp_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *map_mmap(int fd, size_t value, size_t entries, size_t *len)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t n = value * entries;
	void *p;

	n = (n + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = n;
	return p;
}

void fp_maps_close(struct fp_maps *m)
{
	if (m->seq)
		munmap(m->seq, m->seq_len);
	if (m->gate)
		munmap(m->gate, m->gate_len);
	if (m->credit)
		munmap(m->credit, m->credit_len);
	if (m->acks)
		munmap(m->acks, m->acks_len);
	if (m->sent)
		munmap(m->sent, m->sent_len);
	if (m->cc)
		munmap(m->cc, m->cc_len);
	free(m->dsq_k);
	free(m->dsq_v);
	for (int i = 0; i < FP_MAP_MAX; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < FP_MAP_MAX; i++)
		m->fd[i] = -1;
	m->lock_fd = -1;
}

int fp_maps_lock(struct fp_maps *m, const char *dir, char *err, size_t errlen)
{
	int fd = fp_pinlock_take(dir ? dir : MOQ_PIN_DIR, err, errlen);

	if (fd < 0)
		return fd;
	m->lock_fd = fd;
	return 0;
}

int fp_maps_open(struct fp_maps *m, const char *dir, char *err, size_t errlen)
{
	char path[512];
	struct moq_config cfg;
	uint32_t zero = 0;
	int rv;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < FP_MAP_MAX; i++)
		m->fd[i] = -1;
	m->lock_fd = -1;
	if (!dir)
		dir = MOQ_PIN_DIR;
	rv = fp_bpffs_check(dir, err, errlen);
	if (rv)
		return rv;
	for (int i = 0; i < FP_MAP_MAX; i++) {
		const struct map_spec *s = &specs[i];
		struct bpf_map_info info;
		uint32_t ilen = sizeof(info);

		snprintf(path, sizeof(path), "%s/%s", dir, s->name);
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] < 0) {
			rv = -errno;
			snprintf(err, errlen, "fast path: cannot open pinned map %s: %s; " FIX_HINT,
				 path, strerror(-rv));
			goto fail;
		}
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(m->fd[i], &info, &ilen)) {
			rv = -errno;
			snprintf(err, errlen, "fast path: cannot read map info of %s: %s", path,
				 strerror(-rv));
			goto fail;
		}
		if (info.type != s->type || (s->key && info.key_size != s->key) ||
		    (s->value && info.value_size != s->value) || info.max_entries != s->entries ||
		    (s->mmapable && !(info.map_flags & BPF_F_MMAPABLE))) {
			int k = snprintf(
			    err, errlen,
			    "fast path: map %s is type %u key %u value %u entries %u flags "
			    "0x%x, this agent expects type %u key %u value %u entries %u%s; ",
			    path, info.type, info.key_size, info.value_size, info.max_entries,
			    info.map_flags, s->type, s->key, s->value, s->entries,
			    s->mmapable ? " mmapable" : "");
			if (k >= 0 && (size_t)k < errlen)
				snprintf(err + k, errlen - (size_t)k, REPIN_HINT, dir);
			rv = -EPROTO;
			goto fail;
		}
	}
	if (bpf_map_lookup_elem(m->fd[FP_MAP_CONFIG], &zero, &cfg)) {
		rv = -errno;
		snprintf(err, errlen, "fast path: cannot read %s/moq_config: %s", dir,
			 strerror(-rv));
		goto fail;
	}
	/* 0: nobody wrote it yet; another value: an agent of another build */
	if (cfg.layout_version && cfg.layout_version != MOQ_MAPS_LAYOUT_VERSION) {
		int k =
		    snprintf(err, errlen,
			     "fast path: moq_config.layout_version is %u, this agent speaks %u; ",
			     cfg.layout_version, MOQ_MAPS_LAYOUT_VERSION);
		if (k >= 0 && (size_t)k < errlen)
			snprintf(err + k, errlen - (size_t)k, REPIN_HINT, dir);
		rv = -EPROTO;
		goto fail;
	}
	m->cfg = cfg;
	m->seq = map_mmap(m->fd[FP_MAP_CONN_SEQ], sizeof(struct moq_conn_seq), MOQ_MAX_SUBSCRIBERS,
			  &m->seq_len);
	m->gate = map_mmap(m->fd[FP_MAP_GATE], sizeof(struct moq_gate), MOQ_MAX_SUBSCRIBERS,
			   &m->gate_len);
	m->credit = map_mmap(m->fd[FP_MAP_CREDIT], sizeof(struct moq_credit), MOQ_MAX_SUBSCRIBERS,
			     &m->credit_len);
	m->acks = map_mmap(m->fd[FP_MAP_ACKS], sizeof(struct moq_acks), MOQ_MAX_SUBSCRIBERS,
			   &m->acks_len);
	m->sent = map_mmap(m->fd[FP_MAP_SENT_LOG], sizeof(struct moq_sent_log), MOQ_MAX_SUBSCRIBERS,
			   &m->sent_len);
	m->cc = map_mmap(m->fd[FP_MAP_CLONE_CACHE], sizeof(struct moq_clone_cache),
			 MOQ_MAX_SUBSCRIBERS * MOQ_CLONE_CACHE_WAYS, &m->cc_len);
	if (!m->seq || !m->gate || !m->credit || !m->acks || !m->sent || !m->cc) {
		rv = -errno;
		snprintf(err, errlen,
			 "fast path: cannot mmap %s/moq_conn_seq, moq_gate, moq_credit, moq_acks, "
			 "moq_sent_log or moq_clone_cache: %s",
			 dir, strerror(-rv));
		goto fail;
	}
	return 0;
fail:
	fp_maps_close(m);
	return rv;
}

struct moq_conn_seq *fp_maps_seq(struct fp_maps *m, uint32_t slot)
{
	return m->seq && slot < MOQ_MAX_SUBSCRIBERS ? &m->seq[slot] : NULL;
}

struct moq_gate *fp_maps_gate(struct fp_maps *m, uint32_t slot)
{
	return m->gate && slot < MOQ_MAX_SUBSCRIBERS ? &m->gate[slot] : NULL;
}

struct moq_credit *fp_maps_credit(struct fp_maps *m, uint32_t slot)
{
	return m->credit && slot < MOQ_MAX_SUBSCRIBERS ? &m->credit[slot] : NULL;
}

struct moq_acks *fp_maps_acks(struct fp_maps *m, uint32_t slot)
{
	return m->acks && slot < MOQ_MAX_SUBSCRIBERS ? &m->acks[slot] : NULL;
}

struct moq_sent_log *fp_maps_sent_log(struct fp_maps *m, uint32_t slot)
{
	return m->sent && slot < MOQ_MAX_SUBSCRIBERS ? &m->sent[slot] : NULL;
}

struct moq_clone_cache *fp_maps_clone_cache(struct fp_maps *m, uint32_t slot, uint32_t w)
{
	return m->cc && slot < MOQ_MAX_SUBSCRIBERS && w < MOQ_CLONE_CACHE_WAYS
		   ? &m->cc[slot * MOQ_CLONE_CACHE_WAYS + w]
		   : NULL;
}

static int write_cfg(struct fp_maps *m)
{
	uint32_t zero = 0;
	return bpf_map_update_elem(m->fd[FP_MAP_CONFIG], &zero, &m->cfg, BPF_ANY) ? -errno : 0;
}

int fp_maps_start(struct fp_maps *m, uint32_t generation, uint64_t timeout_ns, uint16_t relay_port,
		  char *err, size_t errlen)
{
	int rv;

	memset(&m->cfg, 0, sizeof(m->cfg));
	m->cfg.layout_version = MOQ_MAPS_LAYOUT_VERSION;
	m->cfg.flags = MOQ_CFG_F_ENABLED;
	m->cfg.generation = generation;
	m->cfg.heartbeat_timeout_ns = timeout_ns;
	m->cfg.heartbeat_ns = fp_monotonic_ns();
	m->cfg.relay_port_be = htons(relay_port);
	rv = write_cfg(m);
	if (rv)
		snprintf(err, errlen, "fast path: cannot write moq_config: %s", strerror(-rv));
	return rv;
}

int fp_maps_set_up_port(struct fp_maps *m, uint16_t port)
{
	if (m->cfg.up_port_be == htons(port))
		return 0;
	m->cfg.up_port_be = htons(port);
	return write_cfg(m);
}

int fp_maps_heartbeat(struct fp_maps *m, uint64_t now_ns)
{
	m->cfg.heartbeat_ns = now_ns;
	return write_cfg(m);
}

int fp_maps_stop(struct fp_maps *m)
{
	m->cfg.flags &= ~MOQ_CFG_F_ENABLED;
	return write_cfg(m);
}
