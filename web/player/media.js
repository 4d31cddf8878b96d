// The demo's object payloads (moq/media/payload.h): a 64-byte header
// ("MQP1", kind, flags, lengths, sequence number, send times, ids, CRC32C)
// and, for kind 1, one H.264 Annex-B access unit.

export function parsePayload(p) {
  if (p.length < 64 || p[0] !== 0x4d || p[1] !== 0x51 || p[2] !== 0x50 || p[3] !== 0x31) return null;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return {
    kind: p[5],
    keyframe: !!(p[6] & 1),
    total: v.getUint32(8),
    seq: Number(v.getBigUint64(16)),
    realNs: v.getBigUint64(32),
    group: Number(v.getBigUint64(40)),
    body: p.subarray(64),
  };
}

// NAL units of an Annex-B access unit: [type, offset of the header byte].
export function nalUnits(au) {
  const out = [];
  for (let i = 0; i + 3 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && (au[i + 2] === 1 || (au[i + 2] === 0 && au[i + 3] === 1))) {
      const h = au[i + 2] === 1 ? i + 3 : i + 4;
      if (h < au.length) out.push([au[h] & 0x1f, h]);
      i = h;
    }
  }
  return out;
}

// "avc1.PPCCLL" from the SPS (profile_idc, constraint flags, level_idc).
export function codecString(au) {
  for (const [type, h] of nalUnits(au)) {
    if (type === 7 && h + 3 < au.length) {
      const hex = (x) => x.toString(16).padStart(2, '0');
      return 'avc1.' + hex(au[h + 1]) + hex(au[h + 2]) + hex(au[h + 3]);
    }
  }
  return null;
}
