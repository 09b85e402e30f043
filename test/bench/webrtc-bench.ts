// WebRTC transport between two Node endpoints (node-datachannel, 127.0.0.1 only): time to
// connect, round trip p50/p99 with one 64-byte frame in flight, echoed frames/s with 64 in
// flight, and one-way frames/s. Figures depend on the machine; compare ratios taken in one run.
import type { Connection } from '../../lib/env/transport.js';
import { systemClock } from '../../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcTransport } from '../../lib/transports/webrtc.js';
import { MemorySignalHub } from '../../lib/transports/webrtc-signal-memory.js';
import { nodeWrtc } from '../webrtc-node.js';

const frameBytes = 64;

/** Prints connect time, round trip p50/p99 and frames/s over Node↔Node data channels, ~`seconds` per figure. */
export async function webrtcBench(print: (line: string) => void, seconds = 2): Promise<void> {
  const hub = new MemorySignalHub();
  const make = (): WebRtcTransport => webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), wrtc: nodeWrtc });
  const [client, server] = [make(), make()];
  const listener = await server.listen('bench-server');
  let received = 0;
  let echo = false;
  listener.addEventListener('connection', ({ detail: conn }) => {
    conn.addEventListener('message', ({ detail }) => {
      received++;
      if (echo && conn.status === 'open') conn.send(detail);
    });
  });
  const dial = (): Promise<Connection> => client.dial('bench-server', { signal: AbortSignal.timeout(15_000) });
  try {
    const connectMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      (await dial()).abort();
      connectMs.push(performance.now() - started);
    }
    print(`webrtc connect (node-datachannel, loopback): ${connectMs.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    const oneWay = await dial();
    const rate = await sendOneWay(oneWay, seconds, () => received);
    print(`webrtc one-way, ${frameBytes}-byte frames: ${Math.round(rate).toLocaleString('en')} frames/s`);
    oneWay.abort();
    echo = true;
    const conn = await dial();
    const trips = await roundTrips(conn, seconds);
    const ms = (q: number): string => (quantile(trips, q) * 1000).toFixed(0);
    print(`webrtc round trip, 1 in flight: p50 ${ms(0.5)} µs, p99 ${ms(0.99)} µs (${trips.length.toLocaleString('en')} trips, ${Math.round(trips.length / seconds).toLocaleString('en')}/s)`);
    const echoed = await echoRate(conn, seconds, 64);
    print(`webrtc echoed frames, 64 in flight: ${Math.round(echoed).toLocaleString('en')}/s`);
    conn.abort();
  } finally {
    await client.close();
    await server.close();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Sends as fast as backpressure allows for `seconds`, then waits until all arrived; frames/s. */
async function sendOneWay(conn: Connection, seconds: number, receivedNow: () => number): Promise<number> {
  const frame = new Uint8Array(frameBytes).fill(7);
  const before = receivedNow();
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0;
  while (performance.now() < end) {
    let open = true;
    for (let i = 0; i < 1024 && open; i++, sent++) open = conn.send(frame);
    if (!open) await new Promise((resolve) => conn.addEventListener('drain', resolve, { once: true }));
    else await new Promise((resolve) => setImmediate(resolve));
  }
  while (receivedNow() - before < sent) await new Promise((resolve) => setTimeout(resolve, 1));
  return sent / ((performance.now() - start) / 1000);
}

/** One frame at a time for `seconds`; each round trip in ms, sorted. */
function roundTrips(conn: Connection, seconds: number): Promise<number[]> {
  const frame = new Uint8Array(frameBytes).fill(9);
  const trips: number[] = [];
  const end = performance.now() + seconds * 1000;
  return new Promise((resolve) => {
    let sentAt = performance.now();
    const onMessage = (): void => {
      const now = performance.now();
      trips.push(now - sentAt);
      if (now < end) {
        sentAt = performance.now();
        conn.send(frame);
        return;
      }
      conn.removeEventListener('message', onMessage);
      resolve(trips.sort((a, b) => a - b));
    };
    conn.addEventListener('message', onMessage);
    conn.send(frame);
  });
}

/** Keeps `inFlight` frames echoing for `seconds`; echoed frames/s. */
function echoRate(conn: Connection, seconds: number, inFlight: number): Promise<number> {
  const frame = new Uint8Array(frameBytes).fill(9);
  const start = performance.now();
  const end = start + seconds * 1000;
  let done = 0;
  let outstanding = 0;
  return new Promise((resolve) => {
    conn.addEventListener('message', () => {
      done++;
      outstanding--;
      if (performance.now() < end) {
        outstanding++;
        conn.send(frame);
      } else if (outstanding === 0) {
        resolve(done / ((performance.now() - start) / 1000));
      }
    });
    for (; outstanding < inFlight; outstanding++) conn.send(frame);
  });
}
