/* Test helper: fixture packets (see bpf_pkt.h). */
#include "bpf_pkt.h"

#include <arpa/inet.h>
#include <string.h>

#include "varint.h"

static const uint8_t tag[16] = "moq-plaintext-v1";

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

size_t bpf_pkt_build(uint8_t *out, size_t cap, const struct bpf_pkt_spec *s)
{
	size_t pn_len = s->pn_len ? (size_t)s->pn_len : 4;
	size_t quic = 1 + 8 + pn_len + s->frames_len + (s->no_tag ? 0 : 16);
	size_t l2 = s->vlan ? 18 : 14, l3 = s->family == 6 ? 40 : 20;
	size_t len = l2 + l3 + 8 + quic, o = 0, ip, udp;
	uint32_t cs;

	if (len > cap)
		return 0;
	memset(out, 0, len);
	memcpy(out, s->eth_dst, 6);
	memcpy(out + 6, s->eth_src, 6);
	o = 12;
	if (s->vlan) {
		put16(out + o, 0x8100);
		put16(out + o + 2, 100);
		o += 4;
	}
	put16(out + o, s->family == 6 ? 0x86dd : 0x0800);
	o += 2;
	ip = o;
	if (s->family == 6) {
		out[ip] = 0x60;
		put16(out + ip + 4, (uint16_t)(8 + quic));
		out[ip + 6] = 17;
		out[ip + 7] = 64;
		memcpy(out + ip + 8, s->saddr, 16);
		memcpy(out + ip + 24, s->daddr, 16);
	} else {
		out[ip] = 0x45;
		put16(out + ip + 2, (uint16_t)(20 + 8 + quic));
		put16(out + ip + 6, 0x4000);
		out[ip + 8] = 64;
		out[ip + 9] = 17;
		memcpy(out + ip + 12, s->saddr, 4);
		memcpy(out + ip + 16, s->daddr, 4);
		put16(out + ip + 10, fold(sum16(out + ip, 20, 0)));
	}
	udp = ip + l3;
	put16(out + udp, s->sport);
	put16(out + udp + 2, s->dport);
	put16(out + udp + 4, (uint16_t)(8 + quic));
	o = udp + 8;
	out[o] = s->first ? s->first : 0x43;
	memcpy(out + o + 1, s->dcid, 8);
	for (size_t i = 0; i < pn_len; i++)
		out[o + 9 + i] = (uint8_t)(s->pn >> (8 * (pn_len - 1 - i)));
	o += 9 + pn_len;
	if (s->frames_len)
		memcpy(out + o, s->frames, s->frames_len);
	o += s->frames_len;
	if (!s->no_tag)
		memcpy(out + o, tag, 16);
	/* UDP checksum over the pseudo header */
	if (s->family == 6)
		cs = sum16(out + ip + 8, 32, 0);
	else
		cs = sum16(out + ip + 12, 8, 0);
	cs += 17 + (uint32_t)(8 + quic);
	cs = sum16(out + udp, 8 + quic, cs);
	if (!(s->family != 6 && s->zero_udp_csum)) {
		uint16_t c = fold(cs);
		put16(out + udp + 6, c ? c : 0xffff);
	}
	return len;
}

int bpf_pkt_csum_ok(const uint8_t *p, size_t len)
{
	size_t o = 12, ip, udp, ulen;
	uint16_t et;
	uint32_t cs;
	int v6;

	if (len < 14)
		return 0;
	et = (uint16_t)(p[o] << 8 | p[o + 1]);
	if (et == 0x8100) {
		o += 4;
		et = (uint16_t)(p[o] << 8 | p[o + 1]);
	}
	ip = o + 2;
	v6 = et == 0x86dd;
	if (!v6 && fold(sum16(p + ip, 20, 0)) != 0)
		return 0;
	udp = ip + (v6 ? 40 : 20);
	if (udp + 8 > len)
		return 0;
	ulen = (size_t)(p[udp + 4] << 8 | p[udp + 5]);
	if (udp + ulen > len)
		return 0;
	if (!v6 && p[udp + 6] == 0 && p[udp + 7] == 0)
		return 1;
	cs = v6 ? sum16(p + ip + 8, 32, 0) : sum16(p + ip + 12, 8, 0);
	cs += 17 + (uint32_t)ulen;
	cs = sum16(p + udp, ulen, cs);
	return fold(cs) == 0;
}

size_t bpf_frame_qv(uint8_t *b, size_t pos, uint64_t v, size_t width)
{
	int n = quic_varint_encode_width(b + pos, 16, v, width);
	return n > 0 ? pos + (size_t)n : pos;
}

size_t bpf_frame_vi(uint8_t *b, size_t pos, uint64_t v, size_t width)
{
	int n = width ? moq_vi_encode_width(b + pos, 16, v, width) : moq_vi_encode(b + pos, 16, v);
	return n > 0 ? pos + (size_t)n : pos;
}

size_t bpf_frame_stream_hdr(uint8_t *b, size_t pos, uint8_t flags, uint64_t sid, uint64_t off,
			    uint64_t len)
{
	b[pos++] = 0x08 | (flags & 7);
	pos = bpf_frame_qv(b, pos, sid, 4);
	if (flags & 4)
		pos = bpf_frame_qv(b, pos, off, quic_varint_len(off));
	if (flags & 2)
		pos = bpf_frame_qv(b, pos, len, 2);
	return pos;
}

size_t bpf_frame_subgroup(uint8_t *b, size_t pos, uint8_t type, uint64_t alias, uint64_t group,
			  uint64_t subgroup, uint8_t prio)
{
	pos = bpf_frame_vi(b, pos, type, 0);
	pos = bpf_frame_vi(b, pos, alias, 0);
	pos = bpf_frame_vi(b, pos, group, 0);
	if ((type & 0x06) == 0x04)
		pos = bpf_frame_vi(b, pos, subgroup, 0);
	if (!(type & 0x20))
		b[pos++] = prio;
	return pos;
}

size_t bpf_frame_ack(uint8_t *b, size_t pos, int nranges, int ecn)
{
	b[pos++] = ecn ? 0x03 : 0x02;
	pos = bpf_frame_qv(b, pos, 1000, 2); /* largest */
	pos = bpf_frame_qv(b, pos, 25, 1);   /* delay */
	pos = bpf_frame_qv(b, pos, (uint64_t)nranges, 1);
	pos = bpf_frame_qv(b, pos, 3, 1); /* first range */
	for (int i = 0; i < nranges; i++) {
		pos = bpf_frame_qv(b, pos, 2, 1);  /* gap */
		pos = bpf_frame_qv(b, pos, 70, 2); /* range */
	}
	if (ecn) {
		pos = bpf_frame_qv(b, pos, 5, 1);
		pos = bpf_frame_qv(b, pos, 0, 1);
		pos = bpf_frame_qv(b, pos, 1, 4);
	}
	return pos;
}
