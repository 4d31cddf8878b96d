/* H.264 Annex-B parsing (see h264.h). */
#include "media/h264.h"

#include <stdlib.h>
#include <string.h>

/* Offset of the next 00 00 01 at or after from, or len. */
static size_t find_start3(const uint8_t *buf, size_t len, size_t from)
{
	size_t i = from;
	while (i + 3 <= len) {
		const uint8_t *p = memchr(buf + i, 0x01, len - i);
		if (!p)
			return len;
		size_t j = (size_t)(p - buf);
		if (j >= i + 2 && buf[j - 1] == 0 && buf[j - 2] == 0)
			return j - 2;
		i = j + 1;
	}
	return len;
}

int moq_h264_next_nal(const uint8_t *buf, size_t len, size_t *pos, struct moq_h264_nal *nal)
{
	size_t i = *pos;
	/* skip leading zero bytes (zero_byte / trailing_zero_8bits) */
	size_t z = i;
	while (z < len && buf[z] == 0)
		z++;
	if (z >= len) {
		*pos = len;
		return 0;
	}
	if (buf[z] != 0x01 || z - i < 2)
		return -1;
	nal->start = z >= i + 3 ? z - 3 : z - 2;
	if (nal->start < i)
		nal->start = i;
	nal->hdr = z + 1;
	if (nal->hdr >= len)
		return -1; /* start code with nothing after it */
	size_t next = find_start3(buf, len, nal->hdr);
	size_t end = next;
	/* zeros before the next start code: a 4-byte start code's zero_byte
	 * or trailing_zero_8bits; not part of this NAL */
	while (end > nal->hdr + 1 && buf[end - 1] == 0)
		end--;
	nal->end = end;
	nal->type = buf[nal->hdr] & 0x1f;
	nal->ref_idc = (buf[nal->hdr] >> 5) & 0x3;
	/* next NAL's start code begins after our end; include the extra zero
	 * (4-byte start code) in the next NAL's range */
	*pos = end;
	return 1;
}

void moq_h264_parser_init(struct moq_h264_parser *p, const uint8_t *buf, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->len = len;
}

/* Does this NAL begin a new access unit, given the current AU already
 * has a VCL NAL unit? (H.264 7.4.1.2.3, simplified: first_mb_in_slice ==
 * 0 marks the first slice of a primary coded picture.) */
static bool starts_new_au(const struct moq_h264_parser *p, const struct moq_h264_nal *n)
{
	uint8_t t = n->type;
	if (t == MOQ_H264_NAL_AUD || t == MOQ_H264_NAL_SPS || t == MOQ_H264_NAL_PPS ||
	    t == MOQ_H264_NAL_SEI || (t >= 14 && t <= 18))
		return true;
	if (moq_h264_nal_is_vcl(t)) {
		/* first_mb_in_slice is ue(v): value 0 is the single bit '1' */
		if (n->hdr + 1 < n->end && (p->buf[n->hdr + 1] & 0x80))
			return true;
	}
	return false;
}

static void au_add(struct moq_h264_au *au, const struct moq_h264_nal *n)
{
	if (!au->nals)
		au->off = n->start;
	au->len = n->end - au->off;
	au->nals++;
	if (moq_h264_nal_is_vcl(n->type))
		au->vcl_nals++;
	if (n->type == MOQ_H264_NAL_IDR)
		au->idr = true;
	if (n->type == MOQ_H264_NAL_SPS)
		au->has_sps = true;
	if (n->type == MOQ_H264_NAL_PPS)
		au->has_pps = true;
}

int moq_h264_next_au(struct moq_h264_parser *p, struct moq_h264_au *au)
{
	if (p->error)
		return -1;
	memset(au, 0, sizeof(*au));
	if (p->have_pending) {
		au_add(au, &p->pending);
		p->have_pending = false;
	}
	for (;;) {
		struct moq_h264_nal n;
		int rc = moq_h264_next_nal(p->buf, p->len, &p->pos, &n);
		if (rc < 0) {
			p->error = -1;
			return -1;
		}
		if (rc == 0)
			break;
		if (au->vcl_nals && starts_new_au(p, &n)) {
			p->pending = n;
			p->have_pending = true;
			return 1;
		}
		au_add(au, &n);
	}
	return au->nals ? 1 : 0;
}

int moq_h264_index_build(struct moq_h264_index *ix, const uint8_t *buf, size_t len)
{
	memset(ix, 0, sizeof(*ix));
	struct moq_h264_parser p;
	moq_h264_parser_init(&p, buf, len);
	size_t cap = 0, gcap = 0;
	struct moq_h264_au au;
	int rc;
	while ((rc = moq_h264_next_au(&p, &au)) == 1) {
		if (!au.vcl_nals && ix->n_aus) {
			/* trailing non-VCL NALs: keep them with the last AU */
			struct moq_h264_au *last = &ix->aus[ix->n_aus - 1];
			last->len = au.off + au.len - last->off;
			last->nals += au.nals;
			continue;
		}
		if (ix->n_aus == cap) {
			cap = cap ? cap * 2 : 256;
			void *n = realloc(ix->aus, cap * sizeof(*ix->aus));
			if (!n)
				goto nomem;
			ix->aus = n;
		}
		if (au.idr || ix->n_aus == 0) {
			if (ix->n_gops == gcap) {
				gcap = gcap ? gcap * 2 : 32;
				void *n = realloc(ix->gop_start, gcap * sizeof(*ix->gop_start));
				if (!n)
					goto nomem;
				ix->gop_start = n;
			}
			ix->gop_start[ix->n_gops++] = ix->n_aus;
		}
		if (au.idr)
			ix->n_idr++;
		ix->aus[ix->n_aus++] = au;
	}
	if (rc < 0 || ix->n_aus == 0) {
		moq_h264_index_free(ix);
		return -1;
	}
	return 0;
nomem:
	moq_h264_index_free(ix);
	return -2;
}

void moq_h264_index_free(struct moq_h264_index *ix)
{
	free(ix->aus);
	free(ix->gop_start);
	memset(ix, 0, sizeof(*ix));
}

size_t moq_h264_index_gop_len(const struct moq_h264_index *ix, size_t g)
{
	if (g >= ix->n_gops)
		return 0;
	size_t end = g + 1 < ix->n_gops ? ix->gop_start[g + 1] : ix->n_aus;
	return end - ix->gop_start[g];
}
