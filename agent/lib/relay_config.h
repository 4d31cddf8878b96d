/* moq-relayd configuration: command-line options and the config file.
 *
 * The config file holds `key = value` lines whose keys are the long option
 * names without "--" (e.g. `cache-groups = 8`, `plaintext = true`); '#'
 * starts a comment; blank lines are ignored. The file is read first and the
 * command line overrides it. An unknown key or a bad value is an error that
 * names the file and line. */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RELAY_CONFIG_STR_MAX 512

struct relay_config {
	char listen_host[256];
	uint16_t listen_port;
	bool plaintext;
	char cert[RELAY_CONFIG_STR_MAX];
	char key[RELAY_CONFIG_STR_MAX];
	char dev_cert[RELAY_CONFIG_STR_MAX]; /* DIR for a development cert, "" = off */
	char upstream[RELAY_CONFIG_STR_MAX]; /* URL, "" = none */
	char upstream_host[256];	     /* parsed from upstream */
	uint16_t upstream_port;
	char upstream_path[RELAY_CONFIG_STR_MAX];
	char upstream_ca[RELAY_CONFIG_STR_MAX];
	bool upstream_insecure;
	bool upstream_wt;	  /* upstream is https://: MoQT over WebTransport */
	uint64_t cache_groups;	  /* per track */
	uint64_t cache_bytes;	  /* per track */
	uint64_t sub_queue_bytes; /* per subscriber session */
	/* limits (docs/relay.md "Limits") */
	uint64_t max_sessions;		     /* downstream sessions at once */
	uint64_t max_handshakes;	     /* downstream handshakes in progress */
	uint64_t max_subscriptions;	     /* subscriptions per session */
	uint64_t max_tracks;		     /* tracks carried at once */
	uint64_t max_name_bytes;	     /* Full Track Name (<= 4096) */
	uint64_t max_namespace_fields;	     /* Track Namespace fields (<= 32) */
	uint64_t max_request_rate;	     /* new requests/s per session, 0 = off */
	uint64_t max_rendezvous;	     /* SUBSCRIBEs held for a publisher */
	uint64_t max_rendezvous_wait_ms;     /* longest hold, 0 = never hold */
	int log_level;			     /* enum moq_log_level */
	int log_format;			     /* enum moq_log_format */
	char qlog_dir[RELAY_CONFIG_STR_MAX]; /* "" = no qlog */
	/* authorization (relay_auth.h): both roles / publish / subscribe */
	char auth_token[RELAY_CONFIG_STR_MAX];
	char auth_token_file[RELAY_CONFIG_STR_MAX];
	char publish_token[RELAY_CONFIG_STR_MAX];
	char publish_token_file[RELAY_CONFIG_STR_MAX];
	char subscribe_token[RELAY_CONFIG_STR_MAX];
	char subscribe_token_file[RELAY_CONFIG_STR_MAX];
	uint64_t stats_interval_ms;		   /* 0 = off */
	char metrics_listen[RELAY_CONFIG_STR_MAX]; /* HOST:PORT, "" = off */
	uint64_t drain_timeout_ms;
	uint64_t idle_timeout_ms;
	bool fast_path;
	char bpf_pin_dir[RELAY_CONFIG_STR_MAX];
	uint64_t heartbeat_timeout_ms;
	/* fast path: upstream stream bytes kept for gap fills and
	 * retransmissions, per stream and in total (docs/relay.md Limits) */
	uint64_t fp_stream_bytes;
	uint64_t fp_raw_bytes;
	uint64_t fp_tick_ms;	   /* fast-path service tick (docs/fast-path-agent.md) */
	bool fp_no_ack_ping;	   /* ACK + PING packets not consumed in the kernel */
	bool fp_no_tls_acks;	   /* TLS: no rx keys in the kernel, no ACKs consumed */
	uint64_t max_ack_delay_ms; /* advertised to clients; 0: relay_config_max_ack_delay */
	char ctl_socket[108];	   /* control socket path, "" = none */
	bool ctl_socket_explicit;  /* given by --ctl-socket / the file */
	char config_file[RELAY_CONFIG_STR_MAX];
	bool help;
	bool version;
};

/* Defaults. */
void relay_config_defaults(struct relay_config *c);
/* Full parse: defaults, then --config FILE (if given), then the command
 * line, then validation (relay_config_check) and the auth token file. 0, or
 * -1 with a message in err. Sets c->help / c->version and returns 0 without
 * validating when asked for those. */
int relay_config_parse(struct relay_config *c, int argc, char **argv, char *err, size_t errlen);
/* Apply one option by long name (without "--"). value NULL for a flag given
 * without a value. 0 or -1 with a message. */
int relay_config_set(struct relay_config *c, const char *name, const char *value, char *err,
		     size_t errlen);
/* Read a config file into c. 0 or -1 with "FILE:LINE: ..." in err. */
int relay_config_load_file(struct relay_config *c, const char *path, char *err, size_t errlen);
/* Parse config text (for tests); origin names it in messages. */
int relay_config_load_text(struct relay_config *c, const char *text, const char *origin, char *err,
			   size_t errlen);
/* Cross-option checks (TLS files, fast path, upstream URL, token file). */
int relay_config_check(struct relay_config *c, char *err, size_t errlen);
/* The max_ack_delay the relay advertises, in ms: --max-ack-delay, else
 * RELAY_FP_MAX_ACK_DELAY_MS when the fast path consumes ACK + PING packets
 * (the agent holds their PINGs, fp_pinghold.h), else 0 (ngtcp2's 25). */
#define RELAY_FP_MAX_ACK_DELAY_MS 100
uint64_t relay_config_max_ack_delay(const struct relay_config *c);
/* --help text. */
void relay_config_usage(FILE *f, const char *prog);

/* Parse "moqt://host:port[/path]" or "host:port" ("[v6]:port" too). */
int relay_config_parse_url(const char *url, char *host, size_t hostlen, uint16_t *port, char *path,
			   size_t pathlen);
/* Parse "1024", "64k", "16M", "1G" (binary multiples). */
int relay_config_parse_size(const char *s, uint64_t *out);

#endif
