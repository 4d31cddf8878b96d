#include <string.h>

#include "ctrl_samples.h"

const uint64_t ctrl_sample_types[] = {
    MOQ_CTRL_SETUP,
    MOQ_CTRL_GOAWAY,
    MOQ_CTRL_SUBSCRIBE,
    MOQ_CTRL_SUBSCRIBE_OK,
    MOQ_CTRL_PUBLISH,
    MOQ_CTRL_PUBLISH_OK,
    MOQ_CTRL_PUBLISH_DONE,
    MOQ_CTRL_FETCH,
    MOQ_CTRL_FETCH_OK,
    MOQ_CTRL_TRACK_STATUS,
    MOQ_CTRL_PUBLISH_NAMESPACE,
    MOQ_CTRL_SUBSCRIBE_NAMESPACE,
    MOQ_CTRL_SUBSCRIBE_TRACKS,
    MOQ_CTRL_NAMESPACE,
    MOQ_CTRL_NAMESPACE_DONE,
    MOQ_CTRL_PUBLISH_BLOCKED,
    MOQ_CTRL_REQUEST_UPDATE,
    MOQ_CTRL_REQUEST_OK,
    MOQ_CTRL_REQUEST_ERROR,
};
const size_t ctrl_sample_ntypes = sizeof(ctrl_sample_types) / sizeof(ctrl_sample_types[0]);

#define B(s) ((struct moq_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static const char *field_names[32] = {
    "f0",  "f1",  "f2",	 "f3",	"f4",  "f5",  "f6",  "f7",  "f8",  "f9",  "f10",
    "f11", "f12", "f13", "f14", "f15", "f16", "f17", "f18", "f19", "f20", "f21",
    "f22", "f23", "f24", "f25", "f26", "f27", "f28", "f29", "f30", "f31",
};

void ctrl_sample_namespace(struct moq_namespace *ns, size_t nfields)
{
	ns->nfields = nfields;
	for (size_t i = 0; i < nfields && i < 32; i++) {
		ns->fields[i].ptr = (const uint8_t *)field_names[i];
		ns->fields[i].len = strlen(field_names[i]);
	}
}

/* Track Properties: DEFAULT_PUBLISHER_PRIORITY (0x0E) = 7, an odd app one. */
static const uint8_t props[] = {0x0e, 0x07, 0x2b, 0x03, 'a', 'b', 'c'};

static void ns_example(struct moq_namespace *ns)
{
	ns->nfields = 2;
	ns->fields[0] = B("example.net");
	ns->fields[1] = B("team2");
}

static void token_register(struct moq_params *p)
{
	struct moq_auth_token t = {.alias_type = MOQ_ALIAS_REGISTER,
				   .token_alias = 5,
				   .token_type = 1,
				   .token_value = B("secret")};
	moq_params_add_token(p, &t);
	t = (struct moq_auth_token){.alias_type = MOQ_ALIAS_USE_ALIAS, .token_alias = 4};
	moq_params_add_token(p, &t);
}

static void subscriber_params(struct moq_params *p, int group_order)
{
	struct moq_subscription_filter f = {.filter_type = MOQ_FILTER_ABSOLUTE_RANGE,
					    .start_location = {10, 2},
					    .end_group_delta = 5};
	moq_params_init(p);
	moq_params_add_u64(p, MOQ_PARAM_OBJECT_DELIVERY_TIMEOUT, 1500);
	moq_params_add_u64(p, MOQ_PARAM_SUBGROUP_DELIVERY_TIMEOUT, 3000);
	moq_params_add_u64(p, MOQ_PARAM_FORWARD, 1);
	moq_params_add_u64(p, MOQ_PARAM_SUBSCRIBER_PRIORITY, 200);
	moq_params_add_filter(p, &f);
	if (group_order)
		moq_params_add_u64(p, MOQ_PARAM_GROUP_ORDER, MOQ_GROUP_ORDER_DESCENDING);
	moq_params_add_u64(p, MOQ_PARAM_NEW_GROUP_REQUEST, 0);
}

void ctrl_sample(struct moq_ctrl_msg *m, uint64_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case MOQ_CTRL_SETUP: {
		struct moq_setup *s = &m->setup;
		/* type-sorted: PATH, TOKEN, MAX_CACHE, AUTHORITY, IMPL, grease */
		static const uint8_t tok[] = {0x03, 0x00, 'x', 'y'}; /* USE_VALUE t=0 */
		s->options[s->num_options++] =
		    (struct moq_kvp){.type = MOQ_SETUP_PATH, .bytes = B("/live?x=1")};
		s->options[s->num_options++] = (struct moq_kvp){
		    .type = MOQ_SETUP_AUTHORIZATION_TOKEN, .bytes = {tok, sizeof(tok)}};
		s->options[s->num_options++] =
		    (struct moq_kvp){.type = MOQ_SETUP_MAX_AUTH_TOKEN_CACHE_SIZE, .value = 4096};
		s->options[s->num_options++] =
		    (struct moq_kvp){.type = MOQ_SETUP_AUTHORITY, .bytes = B("relay:443")};
		s->options[s->num_options++] = (struct moq_kvp){
		    .type = MOQ_SETUP_MOQT_IMPLEMENTATION, .bytes = B("moq-relay/0.1")};
		s->options[s->num_options++] = (struct moq_kvp){.type = 0x9D, .bytes = B("")};
		s->options[s->num_options++] = (struct moq_kvp){.type = 0x11C, .value = 77};
		break;
	}
	case MOQ_CTRL_GOAWAY:
		m->goaway.new_session_uri = B("moqt://other.example:443/live");
		m->goaway.timeout = 5000;
		m->goaway.has_request_id = true;
		m->goaway.request_id = 9;
		break;
	case MOQ_CTRL_SUBSCRIBE:
		m->subscribe.request_id = 2;
		ns_example(&m->subscribe.track_namespace);
		m->subscribe.track_name = B("video/hd");
		subscriber_params(&m->subscribe.params, 1);
		moq_params_add_u64(&m->subscribe.params, MOQ_PARAM_RENDEZVOUS_TIMEOUT, 250);
		token_register(&m->subscribe.params);
		break;
	case MOQ_CTRL_SUBSCRIBE_OK:
		m->subscribe_ok.track_alias = 17;
		moq_params_init(&m->subscribe_ok.params);
		moq_params_add_u64(&m->subscribe_ok.params, MOQ_PARAM_EXPIRES, 60000);
		moq_params_add_location(&m->subscribe_ok.params, MOQ_PARAM_LARGEST_OBJECT,
					(struct moq_location){1000000, 3});
		m->subscribe_ok.track_properties = (struct moq_bytes){props, sizeof(props)};
		break;
	case MOQ_CTRL_PUBLISH:
		m->publish.request_id = 3;
		ns_example(&m->publish.track_namespace);
		m->publish.track_name = B("");
		m->publish.track_alias = 1;
		moq_params_init(&m->publish.params);
		token_register(&m->publish.params);
		moq_params_add_u64(&m->publish.params, MOQ_PARAM_EXPIRES, 1);
		moq_params_add_location(&m->publish.params, MOQ_PARAM_LARGEST_OBJECT,
					(struct moq_location){0, 0});
		moq_params_add_u64(&m->publish.params, MOQ_PARAM_FORWARD, 0);
		m->publish.track_properties = (struct moq_bytes){props, sizeof(props)};
		break;
	case MOQ_CTRL_PUBLISH_OK:
		subscriber_params(&m->publish_ok.params, 1);
		moq_params_add_u64(&m->publish_ok.params, MOQ_PARAM_EXPIRES, 30000);
		break;
	case MOQ_CTRL_PUBLISH_DONE:
		m->publish_done.status_code = MOQ_PUBDONE_TRACK_ENDED;
		m->publish_done.stream_count = (1ull << 62) - 1;
		m->publish_done.error_reason = B("track ended");
		break;
	case MOQ_CTRL_FETCH: {
		struct moq_fetch *f = &m->fetch;
		struct moq_auth_token t = {
		    .alias_type = MOQ_ALIAS_USE_VALUE, .token_type = 0x9D, .token_value = B("jwt")};
		f->request_id = 4;
		f->fetch_type = MOQ_FETCH_STANDALONE;
		ns_example(&f->standalone.track_namespace);
		f->standalone.track_name = B("audio");
		f->standalone.start_location = (struct moq_location){1, 0};
		f->standalone.end_location = (struct moq_location){5, 0};
		moq_params_init(&f->params);
		moq_params_add_token(&f->params, &t);
		moq_params_add_u64(&f->params, MOQ_PARAM_FILL_TIMEOUT, 0);
		moq_params_add_u64(&f->params, MOQ_PARAM_SUBSCRIBER_PRIORITY, 0);
		moq_params_add_u64(&f->params, MOQ_PARAM_GROUP_ORDER, MOQ_GROUP_ORDER_ASCENDING);
		break;
	}
	case MOQ_CTRL_FETCH_OK:
		m->fetch_ok.end_of_track = 1;
		m->fetch_ok.end_location = (struct moq_location){5, 1};
		moq_params_init(&m->fetch_ok.params);
		m->fetch_ok.track_properties = (struct moq_bytes){props, sizeof(props)};
		break;
	case MOQ_CTRL_TRACK_STATUS:
		m->track_status.request_id = 6;
		ns_example(&m->track_status.track_namespace);
		m->track_status.track_name = B("meta");
		moq_params_init(&m->track_status.params);
		token_register(&m->track_status.params);
		break;
	case MOQ_CTRL_PUBLISH_NAMESPACE:
		m->publish_namespace.request_id = 8;
		ns_example(&m->publish_namespace.track_namespace);
		moq_params_init(&m->publish_namespace.params);
		token_register(&m->publish_namespace.params);
		break;
	case MOQ_CTRL_SUBSCRIBE_NAMESPACE:
		m->subscribe_namespace.request_id = 10;
		ctrl_sample_namespace(&m->subscribe_namespace.track_namespace_prefix, 1);
		moq_params_init(&m->subscribe_namespace.params);
		token_register(&m->subscribe_namespace.params);
		break;
	case MOQ_CTRL_SUBSCRIBE_TRACKS:
		m->subscribe_tracks.request_id = 12;
		m->subscribe_tracks.track_namespace_prefix.nfields = 0;
		moq_params_init(&m->subscribe_tracks.params);
		token_register(&m->subscribe_tracks.params);
		moq_params_add_u64(&m->subscribe_tracks.params, MOQ_PARAM_FORWARD, 0);
		break;
	case MOQ_CTRL_NAMESPACE:
		ctrl_sample_namespace(&m->namespace.track_namespace_suffix, 3);
		break;
	case MOQ_CTRL_NAMESPACE_DONE:
		ctrl_sample_namespace(&m->namespace_done.track_namespace_suffix, 1);
		break;
	case MOQ_CTRL_PUBLISH_BLOCKED:
		ctrl_sample_namespace(&m->publish_blocked.track_namespace_suffix, 2);
		m->publish_blocked.track_name = B("blocked");
		break;
	case MOQ_CTRL_REQUEST_UPDATE: {
		struct moq_namespace ns;
		m->request_update.request_id = 14;
		subscriber_params(&m->request_update.params, 0);
		token_register(&m->request_update.params);
		ns_example(&ns);
		moq_params_add_namespace_prefix(&m->request_update.params, &ns);
		break;
	}
	case MOQ_CTRL_REQUEST_OK:
		moq_params_init(&m->request_ok.params);
		moq_params_add_u64(&m->request_ok.params, MOQ_PARAM_EXPIRES, 10);
		moq_params_add_location(&m->request_ok.params, MOQ_PARAM_LARGEST_OBJECT,
					(struct moq_location){7, 8});
		m->request_ok.track_properties = (struct moq_bytes){props, sizeof(props)};
		break;
	case MOQ_CTRL_REQUEST_ERROR:
		m->request_error.error_code = MOQ_REQERR_REDIRECT;
		m->request_error.retry_interval = 1001;
		m->request_error.error_reason = B("moved");
		m->request_error.redirect.connect_uri = B("moqt://b.example/live");
		ns_example(&m->request_error.redirect.track_namespace);
		m->request_error.redirect.track_name = B("video/hd");
		break;
	}
}
