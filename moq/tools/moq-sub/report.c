/* moq-sub: totals over tracks and connections, exit status, the summary
 * (text on stderr, --json on stdout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/cli.h"
#include "session/session.h"
#include "sub.h"

/* Gaps so far; at the end (final) with --count also objects never received. */
uint64_t track_missing(const struct sub *u, const struct track *t, bool final)
{
	if (u->count && final)
		return moq_seqwin_missing_of(&t->win, u->count);
	return moq_seqwin_missing(&t->win);
}

uint64_t track_received(const struct sub *u, const struct track *t, bool final)
{
	uint64_t in;

	if (!u->count || !final)
		return t->objects;
	/* the same N sequence numbers objects_missing counts from */
	in = u->count - moq_seqwin_missing_of(&t->win, u->count);
	return in < t->objects ? in : t->objects;
}

uint64_t track_beyond(const struct sub *u, const struct track *t, bool final)
{
	return t->objects - track_received(u, t, final);
}

double elapsed_s(const struct sub *u)
{
	uint64_t start = u->ready_ns ? u->ready_ns : u->start_ns;
	uint64_t end = u->end_ns ? u->end_ns : moq_loop_now();
	return end > start ? (double)(end - start) / 1e9 : 0.0;
}

/* Adds connection u's tracks to tt (latencies when tt->lat). */
void sum_conn(const struct sub *u, struct totals *tt, bool final)
{
	for (size_t i = 0; i < u->ntracks; i++) {
		const struct track *t = &u->tracks[i];
		tt->objects += track_received(u, t, final);
		tt->beyond += track_beyond(u, t, final);
		tt->missing += track_missing(u, t, final);
		tt->bytes += t->bytes;
		tt->errors += t->integrity_errors;
		tt->groups += t->groups.complete;
		tt->duplicates += t->duplicates;
		tt->late += t->late;
		if (tt->lat)
			moq_hist_merge(tt->lat, t->lat);
	}
}

/* Totals over every connection. */
void sum(struct sub *u, struct totals *tt, bool final)
{
	memset(tt, 0, sizeof(*tt));
	tt->lat = moq_hist_new();
	for (size_t i = 0; i < u->nconns; i++)
		sum_conn(u->conns[i], tt, final);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_latency_json(FILE *f, const struct moq_hist *h)
{
	fprintf(f, "{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
		h ? moq_hist_percentile(h, 50) / 1e3 : 0.0,
		h ? moq_hist_percentile(h, 90) / 1e3 : 0.0,
		h ? moq_hist_percentile(h, 99) / 1e3 : 0.0,
		h ? moq_hist_percentile(h, 100) / 1e3 : 0.0, h ? moq_hist_mean(h) / 1e3 : 0.0);
}

int exit_code_of(struct sub *const *cs, size_t n, const struct totals *tt)
{
	bool refused = false, failed = false, lost = false;
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < cs[k]->ntracks; i++)
			if (cs[k]->tracks[i].refused)
				refused = true;
		failed |= cs[k]->conn_failed;
		lost |= cs[k]->conn_lost;
	}
	if (failed)
		return MOQ_EXIT_CONNECT;
	if (tt->errors)
		return MOQ_EXIT_CHECK;
	if (refused)
		return MOQ_EXIT_REFUSED;
	if (cs[0]->count && tt->missing)
		return MOQ_EXIT_CHECK;
	if (lost)
		return MOQ_EXIT_CONNECT;
	return MOQ_EXIT_OK;
}

int exit_code(struct sub *u, const struct totals *tt)
{
	return exit_code_of(u->conns, u->nconns, tt);
}

/* --connections: "connections", "connections_ok" and per connection its
 * objects, missing objects, integrity errors and exit code. */
static void report_connections_json(FILE *f, struct sub *u)
{
	size_t ok = 0;
	for (size_t k = 0; k < u->nconns; k++) {
		struct totals ct = {0};
		sum_conn(u->conns[k], &ct, true);
		ok += exit_code_of(&u->conns[k], 1, &ct) == MOQ_EXIT_OK;
	}
	fprintf(f, "\"connections\":%zu,\"connections_ok\":%zu,\"per_connection\":[", u->nconns,
		ok);
	for (size_t k = 0; k < u->nconns; k++) {
		struct totals ct = {0};
		sum_conn(u->conns[k], &ct, true);
		fprintf(f,
			"%s{\"objects_received\":%llu,\"objects_missing\":%llu,"
			"\"integrity_errors\":%llu,\"exit_code\":%d}",
			k ? "," : "", (unsigned long long)ct.objects,
			(unsigned long long)ct.missing, (unsigned long long)ct.errors,
			exit_code_of(&u->conns[k], 1, &ct));
	}
	fputs("],", f);
}

void report(struct sub *u, int code, const struct totals *tt)
{
	double dur = elapsed_s(u);
	if (u->json) {
		FILE *f = stdout;
		fprintf(f,
			"{\"objects_received\":%llu,\"objects_missing\":%llu,\"bytes\":%llu,"
			"\"integrity_errors\":%llu,\"groups_complete\":%llu,\"duplicates\":%llu,"
			"\"late\":%llu,\"latency_us\":",
			(unsigned long long)tt->objects, (unsigned long long)tt->missing,
			(unsigned long long)tt->bytes, (unsigned long long)tt->errors,
			(unsigned long long)tt->groups, (unsigned long long)tt->duplicates,
			(unsigned long long)tt->late);
		print_latency_json(f, tt->lat);
		if (u->count)
			fprintf(f, ",\"objects_beyond_count\":%llu",
				(unsigned long long)tt->beyond);
		fprintf(f, ",\"duration_s\":%.3f,\"objects_per_s\":%.1f,\"mbytes_per_s\":%.3f", dur,
			dur > 0 ? (double)tt->objects / dur : 0.0,
			dur > 0 ? (double)tt->bytes / dur / 1e6 : 0.0);
		if (u->output_path)
			fprintf(f, ",\"output_bytes\":%llu", (unsigned long long)u->output_bytes);
		if (u->key_update_every) {
			uint64_t ku = 0;
			for (size_t k = 0; k < u->nconns; k++)
				ku += u->conns[k]->key_updates;
			fprintf(f, ",\"key_updates\":%llu", (unsigned long long)ku);
		}
		fprintf(f, ",\"exit_code\":%d,", code);
		if (u->connections)
			report_connections_json(f, u);
		fprintf(f, "\"tracks\":[");
		for (size_t i = 0; i < u->ntracks; i++) {
			struct track *t = &u->tracks[i];
			fprintf(f, "%s{\"name\":", i ? "," : "");
			json_str(f, t->name);
			fprintf(
			    f,
			    ",\"subscribed\":%s,\"publish_done\":%s,\"objects_received\":%llu,"
			    "\"objects_missing\":%llu,\"bytes\":%llu,\"integrity_errors\":%llu,"
			    "\"groups_complete\":%llu,\"duplicates\":%llu,\"datagrams\":%llu,"
			    "\"latency_us\":",
			    t->established ? "true" : "false", t->publish_done ? "true" : "false",
			    (unsigned long long)track_received(u, t, true),
			    (unsigned long long)track_missing(u, t, true),
			    (unsigned long long)t->bytes, (unsigned long long)t->integrity_errors,
			    (unsigned long long)t->groups.complete,
			    (unsigned long long)t->duplicates, (unsigned long long)t->datagrams);
			print_latency_json(f, t->lat);
			if (u->count)
				fprintf(f, ",\"objects_beyond_count\":%llu",
					(unsigned long long)track_beyond(u, t, true));
			fprintf(f,
				",\"streams\":%llu,\"streams_reset\":%llu,\"resets_delivery_"
				"timeout\":%llu,",
				(unsigned long long)t->streams,
				(unsigned long long)t->streams_reset,
				(unsigned long long)t->resets_timeout);
			if (t->publish_done)
				fprintf(
				    f,
				    "\"publish_done_status\":%llu,\"publish_done_streams\":%llu,",
				    (unsigned long long)t->done_status,
				    (unsigned long long)t->done_streams);
			fprintf(f, "\"subgroup_objects\":[");
			for (int k = 0; k < 8; k++)
				fprintf(f, "%s%llu", k ? "," : "",
					(unsigned long long)t->sg_objects[k]);
			fputs("]}", f);
		}
		fprintf(f, "]}\n");
		fflush(f);
	}
	const struct moq_hist *h = tt->lat;
	fprintf(stderr,
		"%s: done in %.2f s: %llu objects, %llu missing, %llu integrity errors, %llu bytes "
		"(%.2f MB/s), %llu groups complete, latency p50 %.0f us p90 %.0f us p99 %.0f us "
		"max %.0f us; exit %d\n",
		prog, dur, (unsigned long long)tt->objects, (unsigned long long)tt->missing,
		(unsigned long long)tt->errors, (unsigned long long)tt->bytes,
		dur > 0 ? (double)tt->bytes / dur / 1e6 : 0.0, (unsigned long long)tt->groups,
		h ? moq_hist_percentile(h, 50) / 1e3 : 0.0,
		h ? moq_hist_percentile(h, 90) / 1e3 : 0.0,
		h ? moq_hist_percentile(h, 99) / 1e3 : 0.0,
		h ? moq_hist_percentile(h, 100) / 1e3 : 0.0, code);
	if (tt->beyond)
		fprintf(stderr, "%s: %llu more objects arrived past --count (not counted above)\n",
			prog, (unsigned long long)tt->beyond);
}
