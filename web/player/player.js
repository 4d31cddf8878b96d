// Web player: WebTransport to the relay, MoQT SETUP + SUBSCRIBE, the
// demo's H.264 objects through WebCodecs onto a canvas, live figures.
// Parameters come from the page URL:
//   ?url=https://HOST:PORT/PATH  relay (WebTransport)
//   &hash=HEX                    SHA-256 of its certificate (moq-relayd --dev-cert)
//   &ns=demo&track=video         what to play
//   &token=T                     AUTHORIZATION TOKEN, if the relay wants one
//   &seconds=N                   stop after N seconds of playback (tests)
import { MSG, MessageReader, SubgroupReader, reasonOf, setup, subscribe, viDecode } from './moqt.js';
import { codecString, parsePayload } from './media.js';

const q = new URLSearchParams(location.search);
const stats = {
  state: 'starting', error: null, objects: 0, keyframes: 0, frames_decoded: 0, decode_errors: 0,
  skipped_before_keyframe: 0, dropped: 0, first_seq: null, last_seq: null, sent: 0,
  max_gap_ms: 0, max_gap_at_s: null, latency_ms: null, latency_max_ms: 0, latency_p50_ms: null, latency_p99_ms: null,
  codec: null, playing_s: 0, streams: 0,
};
const latencies = [];
function percentiles() {
  if (!latencies.length) return;
  const v = latencies.slice().sort((a, b) => a - b);
  stats.latency_p50_ms = v[Math.floor(0.5 * (v.length - 1))];
  stats.latency_p99_ms = v[Math.floor(0.99 * (v.length - 1))];
}
window.moqStats = stats;
const $ = (id) => document.getElementById(id);
const canvas = $('video');
const ctx2d = canvas.getContext('2d');

function show() {
  percentiles();
  const s = stats;
  $('state').textContent = s.state + (s.error ? ': ' + s.error : '');
  $('objects').textContent = s.objects;
  $('decoded').textContent = s.frames_decoded;
  $('dropped').textContent = s.dropped + s.decode_errors;
  $('latency').textContent = s.latency_ms === null ? '-' : s.latency_ms.toFixed(1) + ' ms';
  $('gap').textContent = s.max_gap_ms.toFixed(0) + ' ms';
  $('json').textContent = JSON.stringify(s);
}
setInterval(show, 250);

function fail(what, e) {
  if (stats.state === 'done' || stats.state === 'stopping') return;
  stats.state = 'failed';
  stats.error = what + ': ' + (e && e.message ? e.message : String(e));
  document.title = 'moq player: failed';
  show();
}

function hexBytes(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

let decoder = null, lastFrameAt = 0, firstFrameAt = 0;

function onFrame(frame) {
  const now = performance.now();
  if (lastFrameAt && stats.state === 'playing' && now - lastFrameAt > stats.max_gap_ms) {
    stats.max_gap_ms = now - lastFrameAt;
    stats.max_gap_at_s = (lastFrameAt - firstFrameAt) / 1000; // where in the run
  }
  if (!firstFrameAt) firstFrameAt = now;
  lastFrameAt = now;
  stats.frames_decoded++;
  if (canvas.width !== frame.displayWidth) { canvas.width = frame.displayWidth; canvas.height = frame.displayHeight; }
  ctx2d.drawImage(frame, 0, 0);
  frame.close();
}

function onObject(o) {
  stats.objects++;
  const p = parsePayload(o.payload);
  if (!p || p.kind !== 1) return;
  if (!decoder) {
    if (!p.keyframe) { stats.skipped_before_keyframe++; return; }
    const codec = codecString(p.body);
    if (!codec) { fail('media', 'keyframe without SPS'); return; }
    stats.codec = codec;
    decoder = new VideoDecoder({ output: onFrame, error: (e) => { stats.decode_errors++; fail('decoder', e); } });
    decoder.configure({ codec, optimizeForLatency: true });
    stats.first_seq = p.seq;
    stats.state = 'playing';
  }
  if (stats.last_seq !== null && p.seq > stats.last_seq + 1) stats.dropped += p.seq - stats.last_seq - 1;
  if (stats.last_seq === null || p.seq > stats.last_seq) stats.last_seq = p.seq;
  stats.sent = stats.last_seq - stats.first_seq + 1;
  if (p.keyframe) stats.keyframes++;
  const lat = Date.now() - Number(p.realNs / 1000000n);
  stats.latency_ms = lat;
  stats.latency_max_ms = Math.max(stats.latency_max_ms, lat);
  if (latencies.length < 100000) latencies.push(lat);
  try {
    decoder.decode(new EncodedVideoChunk({ type: p.keyframe ? 'key' : 'delta', timestamp: p.seq * 33333, data: p.body }));
  } catch (e) { stats.decode_errors++; fail('decode', e); }
}

async function readUni(stream) {
  const reader = stream.getReader();
  const first = await reader.read();
  if (first.done) return;
  const t = viDecode(first.value, 0);
  if (t && t[0] === MSG.SETUP) { // the relay's control stream: SETUP, later GOAWAY
    for (;;) { const r = await reader.read(); if (r.done) return; }
  }
  stats.streams++;
  const sg = new SubgroupReader(onObject);
  sg.push(first.value);
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    sg.push(r.value);
  }
}

async function acceptStreams(wt) {
  const r = wt.incomingUnidirectionalStreams.getReader();
  for (;;) {
    const { value, done } = await r.read();
    if (done) return;
    readUni(value).catch((e) => { if (stats.state === 'playing') console.log('stream', e); });
  }
}

async function main() {
  const url = q.get('url');
  const hash = q.get('hash');
  const ns = (q.get('ns') || 'demo').split('/');
  const track = q.get('track') || 'video';
  const seconds = Number(q.get('seconds') || 0);
  $('target').textContent = url + ' ' + ns.join('/') + ' / ' + track;
  if (!url) { fail('usage', 'give ?url=https://HOST:PORT/&hash=SHA256'); return; }
  if (!('WebTransport' in window) || !('VideoDecoder' in window)) { fail('browser', 'needs WebTransport and WebCodecs'); return; }
  const opts = { protocols: ['moqt-18'] };
  if (hash) opts.serverCertificateHashes = [{ algorithm: 'sha-256', value: hexBytes(hash) }];
  const wt = new WebTransport(url, opts);
  wt.closed.then((c) => { if (stats.state !== 'done' && stats.state !== 'stopping') fail('session closed', (c && c.reason) || 'closed'); })
    .catch((e) => fail('session', e));
  stats.state = 'connecting';
  await wt.ready;
  stats.state = 'setup';
  acceptStreams(wt).catch((e) => fail('streams', e));
  const ctrl = await wt.createUnidirectionalStream();
  const cw = ctrl.getWriter();
  await cw.write(setup(q.get('token'), 'moq-relay web player'));
  const req = await wt.createBidirectionalStream();
  const w = req.writable.getWriter();
  await w.write(subscribe(0, ns, track));
  stats.state = 'subscribing';
  const rd = req.readable.getReader();
  const mr = new MessageReader();
  if (seconds > 0) {
    const t0 = performance.now();
    const tick = setInterval(() => {
      if (firstFrameAt) stats.playing_s = (performance.now() - firstFrameAt) / 1000;
      if (stats.playing_s >= seconds && stats.state === 'playing') {
        clearInterval(tick);
        if (lastFrameAt) stats.max_gap_ms = Math.max(stats.max_gap_ms, performance.now() - lastFrameAt);
        stats.state = 'stopping';
        wt.close({ closeCode: 0, reason: 'player done' });
        // frames still in the decoder count too; then report
        decoder.flush().catch(() => {}).finally(() => {
          stats.state = 'done';
          document.title = 'moq player: done';
          show();
        });
      } else if (!firstFrameAt && performance.now() - t0 > 15000) {
        clearInterval(tick);
        fail('timeout', 'no frame within 15 s');
      }
    }, 100);
  }
  for (;;) {
    const { value, done } = await rd.read();
    if (done) return;
    mr.push(value);
    for (let m = mr.next(); m; m = mr.next()) {
      if (m.type === MSG.SUBSCRIBE_OK) {
        stats.alias = viDecode(m.payload, 0)[0];
        if (stats.state === 'subscribing') stats.state = 'waiting for a keyframe';
      } else if (m.type === MSG.REQUEST_ERROR) {
        const c = viDecode(m.payload, 0);
        const r = viDecode(m.payload, c[1]); // Retry Interval
        fail('SUBSCRIBE refused', 'code 0x' + c[0].toString(16) + ' ' + reasonOf(m.payload, c[1] + r[1]));
        return;
      } else if (m.type === MSG.PUBLISH_DONE) {
        if (stats.state !== 'done') fail('track', 'PUBLISH_DONE');
      }
    }
  }
}

document.title = 'moq player: starting';
main().catch((e) => fail('connect', e));
