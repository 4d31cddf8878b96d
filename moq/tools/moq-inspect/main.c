/* moq-inspect: decode MoQT (draft-18) wire bytes to JSON lines, and encode
 * the same JSON back to wire bytes. See docs/moq-inspect.md. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

#define EXIT_INPUT 1 /* malformed / truncated input, bad JSON */
#define EXIT_USAGE 2 /* bad options, unreadable file */

static const char usage_text[] =
    "Usage: moq-inspect --kind KIND [--hex] [options] [FILE]\n"
    "       moq-inspect --encode [--kind KIND] [--hex] [options] [FILE]\n"
    "\n"
    "Decode MoQ Transport (draft-ietf-moq-transport-18) wire bytes into one\n"
    "JSON object per line, or (--encode) turn those JSON lines back into\n"
    "wire bytes. Reads FILE, or standard input when FILE is absent or '-'.\n"
    "\n"
    "Options:\n"
    "  -k, --kind KIND   what the bytes are (required to decode):\n"
    "                      control   control messages (SETUP, SUBSCRIBE, ...)\n"
    "                      subgroup  a subgroup stream: SUBGROUP_HEADER, OBJECTs\n"
    "                      fetch     a fetch stream: FETCH_HEADER, OBJECTs and\n"
    "                                END_OF_*_RANGE markers\n"
    "                      datagram  OBJECT_DATAGRAM / PADDING_DATAGRAM; the\n"
    "                                whole input is one datagram, or with --hex\n"
    "                                each non-empty line is one datagram\n"
    "                      varint    a sequence of MoQT vi64 varints\n"
    "                      stream    any unidirectional stream: the stream\n"
    "                                type picks subgroup, fetch, control\n"
    "                                (SETUP) or a PADDING stream\n"
    "                    With --encode KIND is optional: it follows from the\n"
    "                    first object's \"type\".\n"
    "  -x, --hex         input (decode) or output (encode) is hex text instead\n"
    "                    of raw bytes; whitespace is ignored and '#' starts a\n"
    "                    comment that runs to the end of the line\n"
    "  -e, --encode      read JSON objects (one per line, as printed by the\n"
    "                    decoder) and write the wire bytes; encoding is\n"
    "                    canonical (minimal varints)\n"
    "  -q, --quic        with --kind varint: RFC 9000 QUIC varints instead\n"
    "      --group-order ascending|descending\n"
    "                    fetch streams: the FETCH's Group Order, needed to\n"
    "                    resolve Group ID Delta (default ascending)\n"
    "  -h, --help        show this help\n"
    "\n"
    "Output (decode): one JSON object per line. \"type\" is the draft's name\n"
    "(SUBSCRIBE, SUBGROUP_HEADER, OBJECT, OBJECT_DATAGRAM, FETCH_HEADER, ...),\n"
    "fields are the draft's field names in snake_case, \"offset\" is the byte\n"
    "offset of the message in the input. Byte strings are JSON strings when\n"
    "every byte is printable ASCII (0x20-0x7e), else {\"hex\":\"...\"}. Track\n"
    "namespaces are arrays of such strings. Parameters, properties and setup\n"
    "options are arrays of {\"name\",\"type\",\"value\"}. A message whose\n"
    "bytes are not the canonical encoding (non-minimal varints) carries\n"
    "\"non_canonical\":true; encoding it gives the canonical bytes.\n"
    "\n"
    "Errors: input that can never decode prints\n"
    "  {\"error\":\"malformed\",\"offset\":N,\"reason\":\"...\"}\n"
    "and input that ends inside a message prints\n"
    "  {\"error\":\"truncated\",\"offset\":N,\"reason\":\"...\"}\n"
    "(N: byte offset of the failing field or message), after the lines\n"
    "decoded so far; bad hex text prints {\"error\":\"bad_hex\",...}. With\n"
    "--encode, bad JSON prints {\"error\":\"bad_json\",\"offset\":N,\"line\":L,\n"
    "\"reason\":\"...\"} on standard error (N: byte offset in the JSON text).\n"
    "\n"
    "Exit status: 0 success, 1 malformed/truncated input or bad JSON,\n"
    "2 bad usage or unreadable input file.\n"
    "\n"
    "Examples:\n"
    "  echo '03 00 0e 00 01 04 6c 69 76 65 05 76 69 64 65 6f 00' |\n"
    "      moq-inspect --kind control --hex\n"
    "  moq-inspect --kind subgroup stream.bin | moq-inspect --encode > copy.bin\n"
    "  echo '8025 3f' | moq-inspect --kind varint --hex\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("moq-inspect: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'moq-inspect --help' for the options.\n", stderr);
	exit(EXIT_USAGE);
}

void insp_fail(struct insp_err *e, const char *kind, size_t offset, const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	e->offset = offset;
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
}

void insp_emit(struct json_writer *w)
{
	if (w->oom) {
		fputs("moq-inspect: out of memory\n", stderr);
		exit(EXIT_INPUT);
	}
	fwrite(w->buf, 1, w->len, stdout);
	fputc('\n', stdout);
	json_writer_reset(w);
}

static void print_error(FILE *f, const char *kind, size_t offset, long line, const char *reason)
{
	struct json_writer w;

	json_writer_init(&w);
	json_begin_object(&w);
	json_kv_cstring(&w, "error", kind);
	json_kv_u64(&w, "offset", offset);
	if (line > 0)
		json_kv_u64(&w, "line", (uint64_t)line);
	json_kv_cstring(&w, "reason", reason);
	json_end_object(&w);
	fwrite(w.buf, 1, w.len, f);
	fputc('\n', f);
	json_writer_free(&w);
}

/* ---- input -------------------------------------------------------------------- */

static int read_all(const char *path, uint8_t **out, size_t *outlen)
{
	FILE *f = stdin;
	size_t cap = 65536, len = 0;
	uint8_t *buf;

	if (path && strcmp(path, "-")) {
		f = fopen(path, "rb");
		if (!f) {
			fprintf(stderr, "moq-inspect: cannot open %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	buf = malloc(cap + 1);
	for (;;) {
		size_t n;
		if (!buf) {
			fputs("moq-inspect: out of memory reading input\n", stderr);
			return -1;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
		if (len == cap) {
			uint8_t *q = realloc(buf, cap * 2 + 1);
			if (!q)
				free(buf); /* reported at the top of the loop */
			buf = q;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "moq-inspect: cannot read %s: %s\n", path ? path : "standard input",
			strerror(errno));
		if (f != stdin)
			fclose(f);
		free(buf);
		return -1;
	}
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text -> bytes in place (out may alias text). With line_ends != NULL,
 * records the byte count at the end of every non-empty line (datagrams).
 * Returns 0 or -1 with *e set (kind "bad_hex", offset into the text). */
static int hex_to_bytes(uint8_t *text, size_t len, size_t *outlen, size_t **line_ends,
			size_t *nlines, struct insp_err *e)
{
	size_t i, n = 0, line_start_n = 0, cap = 0;
	int hi = -1;
	size_t hi_at = 0;

	for (i = 0; i <= len; i++) {
		int c = i < len ? text[i] : '\n';
		int v;

		if (c == '#') {
			while (i < len && text[i] != '\n')
				i++;
			c = '\n';
		}
		if (c == '\n' || c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			if (hi >= 0) {
				insp_fail(e, "bad_hex", hi_at,
					  "lone hex digit at text offset %zu: write every byte as "
					  "two adjacent digits",
					  hi_at);
				return -1;
			}
			if (c == '\n' && line_ends && n > line_start_n) {
				if (*nlines == cap) {
					size_t *q;
					cap = cap ? cap * 2 : 16;
					q = realloc(*line_ends, cap * sizeof(*q));
					if (!q) {
						insp_fail(e, "bad_hex", i, "out of memory");
						return -1;
					}
					*line_ends = q;
				}
				(*line_ends)[(*nlines)++] = n;
				line_start_n = n;
			}
			continue;
		}
		v = hexval(c);
		if (v < 0) {
			if (c >= 0x20 && c < 0x7f)
				insp_fail(e, "bad_hex", i,
					  "'%c' at text offset %zu is not a hex digit (expected "
					  "0-9, a-f, whitespace or # comments)",
					  c, i);
			else
				insp_fail(e, "bad_hex", i,
					  "byte 0x%02x at text offset %zu is not a hex digit (raw "
					  "bytes? drop --hex)",
					  c, i);
			return -1;
		}
		if (hi < 0) {
			hi = v;
			hi_at = i;
		} else {
			text[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	*outlen = n;
	return 0;
}

/* ---- decode ------------------------------------------------------------------- */

static int run_decode(const struct insp_opts *o, uint8_t *in, size_t len)
{
	struct json_writer w;
	struct insp_err e = {0};
	size_t *ends = NULL, nends = 0;
	int rc = 0;

	if (o->hex &&
	    hex_to_bytes(in, len, &len, o->kind == KIND_DATAGRAM ? &ends : NULL, &nends, &e)) {
		print_error(stdout, e.kind, e.offset, 0, e.reason);
		free(ends);
		return EXIT_INPUT;
	}
	json_writer_init(&w);
	switch (o->kind) {
	case KIND_VARINT:
		rc = varint_decode_all(o, in, len, 0, &w, &e);
		break;
	case KIND_CONTROL:
		rc = control_decode_all(o, in, len, 0, &w, &e);
		break;
	case KIND_SUBGROUP:
		rc = subgroup_decode_all(o, in, len, 0, &w, &e);
		break;
	case KIND_FETCH:
		rc = fetch_decode_all(o, in, len, 0, &w, &e);
		break;
	case KIND_STREAM:
		rc = stream_decode_all(o, in, len, 0, &w, &e);
		break;
	case KIND_DATAGRAM:
		if (!o->hex) {
			rc = datagram_decode_one(o, in, len, 0, &w, &e);
		} else {
			size_t i, start = 0;
			for (i = 0; i < nends && rc == 0; i++) {
				rc = datagram_decode_one(o, in + start, ends[i] - start, start, &w,
							 &e);
				start = ends[i];
			}
		}
		break;
	default:
		break;
	}
	fflush(stdout);
	if (rc) {
		json_writer_reset(&w);
		print_error(stdout, e.kind, e.offset, 0, e.reason);
	}
	json_writer_free(&w);
	free(ends);
	return rc ? EXIT_INPUT : 0;
}

/* ---- encode ------------------------------------------------------------------- */

static long line_of(const uint8_t *text, size_t at)
{
	long line = 1;
	size_t i;

	for (i = 0; i < at; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static enum insp_kind kind_of_type(const char *t)
{
	if (!strcmp(t, "varint") || !strcmp(t, "quic_varint"))
		return KIND_VARINT;
	if (!strcmp(t, "SUBGROUP_HEADER"))
		return KIND_SUBGROUP;
	if (!strcmp(t, "FETCH_HEADER"))
		return KIND_FETCH;
	if (!strcmp(t, "OBJECT_DATAGRAM") || !strcmp(t, "PADDING_DATAGRAM"))
		return KIND_DATAGRAM;
	if (!strcmp(t, "PADDING"))
		return KIND_PADDING;
	if (!strcmp(t, "OBJECT") || !strncmp(t, "END_OF_", 7))
		return KIND_NONE; /* belongs to a stream: needs its header first */
	return KIND_CONTROL;
}

static void write_hex_line(const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		putchar(hex[p[i] >> 4]);
		putchar(hex[p[i] & 15]);
	}
	putchar('\n');
}

static int run_encode(struct insp_opts *o, const uint8_t *text, size_t len)
{
	struct bytebuf out = {0};
	struct jctx c = {0};
	size_t off = 0, nobj = 0;
	size_t *ends = NULL, nends = 0, cap = 0;
	int rc = 0;

	data_encode_begin();
	for (;;) {
		struct json_value *v = NULL;
		struct json_error je = {0};
		size_t used = 0;
		int r = json_parse_next((const char *)text + off, len - off, &v, &used, &je);

		if (r == 0)
			break;
		if (r < 0) {
			size_t at = off + je.offset;
			print_error(stderr, "bad_json", at, line_of(text, at), je.msg);
			rc = EXIT_INPUT;
			break;
		}
		jctx_reset(&c);
		c.base = off;
		if (v->type != JSON_OBJECT) {
			jerr(&c, v, "expected a JSON object per message, got %s",
			     json_type_name(v->type));
			r = -1;
		} else {
			const struct json_value *t = json_get(v, "type");
			if (!t || t->type != JSON_STRING) {
				jerr(&c, t ? t : v,
				     "every object needs a string \"type\" (the message name)");
				r = -1;
			} else if ((o->kind == KIND_NONE || o->kind == KIND_STREAM) && nobj == 0) {
				enum insp_kind k = kind_of_type(t->str.ptr);
				/* --kind stream: a stream header line, else a control stream */
				if (o->kind == KIND_STREAM &&
				    (k == KIND_VARINT || k == KIND_DATAGRAM))
					k = KIND_CONTROL;
				o->kind = k;
				if (o->kind == KIND_NONE) {
					jerr(&c, t,
					     "%.40s lines follow a SUBGROUP_HEADER or FETCH_HEADER "
					     "line (or pass --kind subgroup|fetch)",
					     t->str.ptr);
					r = -1;
				}
			}
		}
		if (r > 0) {
			switch (o->kind) {
			case KIND_VARINT:
				r = varint_encode_one(o, &c, v, &out);
				break;
			case KIND_SUBGROUP:
				r = subgroup_encode_one(o, &c, v, &out);
				break;
			case KIND_FETCH:
				r = fetch_encode_one(o, &c, v, &out);
				break;
			case KIND_DATAGRAM:
				r = datagram_encode_one(o, &c, v, &out);
				break;
			case KIND_PADDING:
				r = padding_encode_one(o, &c, v, &out);
				break;
			default:
				r = control_encode_one(o, &c, v, &out);
				break;
			}
		}
		json_free(v);
		if (r < 0) {
			print_error(stderr, "bad_json", c.err_at, line_of(text, c.err_at), c.err);
			rc = EXIT_INPUT;
			break;
		}
		if (nends == cap) {
			size_t *q;
			cap = cap ? cap * 2 : 64;
			q = realloc(ends, cap * sizeof(*q));
			if (!q) {
				rc = EXIT_INPUT;
				break;
			}
			ends = q;
		}
		ends[nends++] = out.len;
		nobj++;
		off += used;
	}
	jctx_reset(&c);
	if (rc == 0) {
		if (o->hex) {
			size_t i, start = 0;
			for (i = 0; i < nends; i++) {
				if (ends[i] > start)
					write_hex_line(out.p + start, ends[i] - start);
				start = ends[i];
			}
		} else if (out.len) {
			fwrite(out.p, 1, out.len, stdout);
		}
		fflush(stdout);
	}
	free(ends);
	bytebuf_free(&out);
	return rc;
}

/* ---- main ----------------------------------------------------------------------- */

static enum insp_kind parse_kind(const char *s)
{
	if (!strcmp(s, "control"))
		return KIND_CONTROL;
	if (!strcmp(s, "subgroup"))
		return KIND_SUBGROUP;
	if (!strcmp(s, "datagram"))
		return KIND_DATAGRAM;
	if (!strcmp(s, "fetch"))
		return KIND_FETCH;
	if (!strcmp(s, "varint"))
		return KIND_VARINT;
	if (!strcmp(s, "stream"))
		return KIND_STREAM;
	usage_error(
	    "unknown --kind '%s' (expected control, subgroup, fetch, datagram, varint or stream)",
	    s);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kind", required_argument, NULL, 'k'},
	    {"hex", no_argument, NULL, 'x'},
	    {"encode", no_argument, NULL, 'e'},
	    {"quic", no_argument, NULL, 'q'},
	    {"group-order", required_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct insp_opts o = {0};
	uint8_t *in;
	size_t len;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:xeqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o.kind = parse_kind(optarg);
			break;
		case 'x':
			o.hex = true;
			break;
		case 'e':
			o.encode = true;
			break;
		case 'q':
			o.quic = true;
			break;
		case 'g':
			if (!strcmp(optarg, "ascending"))
				o.descending = false;
			else if (!strcmp(optarg, "descending"))
				o.descending = true;
			else
				usage_error(
				    "unknown --group-order '%s' (expected ascending or descending)",
				    optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			usage_error("option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				usage_error("unknown option -%c", optopt);
			usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc - 1)
		usage_error("at most one input file, got '%s' and '%s'", argv[optind],
			    argv[optind + 1]);
	if (optind < argc)
		o.path = argv[optind];
	if (!o.encode && o.kind == KIND_NONE)
		usage_error("say what the bytes are with --kind "
			    "control|subgroup|fetch|datagram|varint|stream");
	if (o.quic && o.kind != KIND_VARINT && !(o.encode && o.kind == KIND_NONE))
		usage_error("--quic only applies to --kind varint");
	if (o.descending && o.kind != KIND_FETCH && o.kind != KIND_STREAM && o.kind != KIND_NONE)
		usage_error("--group-order only applies to --kind fetch");

	if (read_all(o.path, &in, &len))
		return EXIT_USAGE;
	if (o.encode)
		rc = run_encode(&o, in, len);
	else
		rc = run_decode(&o, in, len);
	free(in);
	return rc;
}
