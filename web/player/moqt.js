// MoQT draft-18 framing for the web player: vi64 integers, the messages a
// subscriber needs (SETUP, SUBSCRIBE, SUBSCRIBE_OK, REQUEST_ERROR,
// PUBLISH_DONE) and the subgroup stream reader. Mirrors moq/wire/ in C.

export const MSG = { SUBSCRIBE: 0x3, SUBSCRIBE_OK: 0x4, REQUEST_ERROR: 0x5, PUBLISH_DONE: 0xb, GOAWAY: 0x10, SETUP: 0x2f00 };

// vi64: the count of leading 1 bits of the first byte gives the extra bytes
// (draft-18 "Variable-Length Integers"). Values here stay below 2^53.
export function viEncode(v) {
  let n = 1;
  while (n < 8 && v >= 2 ** (7 * n)) n++;
  if (n === 8 && v >= 2 ** 56) n = 9;
  const out = new Uint8Array(n);
  let x = BigInt(v);
  for (let i = n - 1; i >= (n === 9 ? 1 : 0); i--) { out[i] = Number(x & 0xffn); x >>= 8n; }
  if (n < 9) out[0] |= (0xff00 >> (n - 1)) & 0xff;
  else out[0] = 0xff;
  return out;
}

// Returns [value, length] or null when more bytes are needed.
export function viDecode(b, off = 0) {
  if (off >= b.length) return null;
  const first = b[off];
  let n = 1;
  while (n < 9 && (first & (0x80 >> (n - 1)))) n++;
  if (off + n > b.length) return null;
  let v = n === 9 ? 0n : BigInt(first & (0xff >> n));
  for (let i = 1; i < n; i++) v = (v << 8n) | BigInt(b[off + i]);
  return [Number(v), n];
}

function concat(parts) {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const enc = new TextEncoder();
function lenBytes(s) { const b = typeof s === 'string' ? enc.encode(s) : s; return concat([viEncode(b.length), b]); }

// Control Message { Type (vi64), Length (16), Payload }
export function frame(type, payload) {
  const h = viEncode(type);
  const out = new Uint8Array(h.length + 2 + payload.length);
  out.set(h, 0);
  out[h.length] = payload.length >> 8;
  out[h.length + 1] = payload.length & 0xff;
  out.set(payload, h.length + 2);
  return out;
}

// SETUP: setup options as a Key-Value-Pair block (delta-coded types, odd
// types length-prefixed). Over WebTransport no PATH or AUTHORITY.
export function setup(token, impl) {
  const kv = [];
  let prev = 0;
  if (token) {
    // Token { Alias Type 0x3 USE_VALUE, Token Type 0, Token Value }
    const t = concat([viEncode(3), viEncode(0), enc.encode(token)]);
    kv.push(viEncode(3 - prev), lenBytes(t)); prev = 3;
  }
  if (impl) { kv.push(viEncode(7 - prev), lenBytes(impl)); prev = 7; }
  return frame(MSG.SETUP, concat(kv));
}

// SUBSCRIBE: Request ID, namespace, track name, parameters; the filter
// NEXT_GROUP_START makes playback start on a keyframe (one group per GOP).
export function subscribe(requestId, ns, track) {
  const parts = [viEncode(requestId), viEncode(ns.length)];
  for (const f of ns) parts.push(lenBytes(f));
  parts.push(lenBytes(track));
  parts.push(viEncode(1), viEncode(0x21), lenBytes(viEncode(0x1)));
  return frame(MSG.SUBSCRIBE, concat(parts));
}

// Collects bytes of a stream and hands out whole control messages.
export class MessageReader {
  constructor() { this.buf = new Uint8Array(0); }
  push(chunk) { this.buf = concat([this.buf, chunk]); }
  next() {
    const t = viDecode(this.buf, 0);
    if (!t || this.buf.length < t[1] + 2) return null;
    const len = (this.buf[t[1]] << 8) | this.buf[t[1] + 1];
    const end = t[1] + 2 + len;
    if (this.buf.length < end) return null;
    const msg = { type: t[0], payload: this.buf.subarray(t[1] + 2, end) };
    this.buf = this.buf.slice(end);
    return msg;
  }
}

export function reasonOf(payload, off) {
  const l = viDecode(payload, off);
  if (!l) return '';
  return new TextDecoder().decode(payload.subarray(off + l[1], off + l[1] + l[0]));
}

// Subgroup stream: SUBGROUP_HEADER { Type (0b0XX1XXXX), Track Alias, Group
// ID, [Subgroup ID], [Publisher Priority (8)] } then objects { Object ID
// Delta, [Properties], Payload Length, [Status], Payload }. Calls
// onObject({alias, group, object, payload}) for each whole object.
export class SubgroupReader {
  constructor(onObject) { this.onObject = onObject; this.buf = new Uint8Array(0); this.hdr = null; this.prev = -1; }
  push(chunk) {
    this.buf = this.buf.length ? concat([this.buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      const n = this.hdr ? this.object(off) : this.header(off);
      if (n <= 0) break;
      off += n;
    }
    this.buf = this.buf.slice(off);
  }
  header(off) {
    const b = this.buf;
    let o = off;
    const t = viDecode(b, o); if (!t) return 0; o += t[1];
    const type = t[0];
    if ((type & 0x90) !== 0x10) throw new Error('not a subgroup stream (type 0x' + type.toString(16) + ')');
    const a = viDecode(b, o); if (!a) return 0; o += a[1];
    const g = viDecode(b, o); if (!g) return 0; o += g[1];
    let sub = 0;
    const mode = (type >> 1) & 3;
    if (mode === 2) { const s = viDecode(b, o); if (!s) return 0; o += s[1]; sub = s[0]; }
    if (!(type & 0x20)) { if (o >= b.length) return 0; o += 1; }
    this.hdr = { type, alias: a[0], group: g[0], subgroup: sub, props: !!(type & 1) };
    return o - off;
  }
  object(off) {
    const b = this.buf;
    let o = off;
    const d = viDecode(b, o); if (!d) return 0; o += d[1];
    if (this.hdr.props) {
      const pl = viDecode(b, o); if (!pl) return 0; o += pl[1] + pl[0];
      if (o > b.length) return 0;
    }
    const l = viDecode(b, o); if (!l) return 0; o += l[1];
    if (l[0] === 0) { const s = viDecode(b, o); if (!s) return 0; o += s[1]; }
    if (o + l[0] > b.length) return 0;
    const id = this.prev < 0 ? d[0] : this.prev + d[0] + 1;
    this.prev = id;
    if (l[0] > 0)
      this.onObject({ alias: this.hdr.alias, group: this.hdr.group, object: id, payload: b.slice(o, o + l[0]) });
    return o + l[0] - off;
  }
}
