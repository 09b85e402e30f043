// WebRTC transport between two Node endpoints (node-datachannel, 127.0.0.1 only): time to
// connect, round trip p50/p99 with one 64-byte frame in flight, echoed frames/s with 64 in
// flight, and one-way frames/s. Figures depend on the machine; compare ratios taken in one run.
import type { Connection } from '../../lib/env/transport.js';
import { systemClock } from '../../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcTransport } from '../../lib/transports/webrtc/transport.js';
import { MemorySignalHub } from '../../lib/transports/webrtc/signal-memory.js';
import { nodeWrtc } from '../webrtc-node.js';
import { echoRoundTrips, sendOneWay } from './tcp-bench.js';

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
    const echoed = await echoRoundTrips(conn, seconds, 64);
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

