// WebRTC transport between two Node endpoints (node-datachannel, 127.0.0.1 only): time to
// connect, round trip p50/p99 with one 64-byte frame in flight, echoed frames/s with 64 in
// flight, and one-way frames/s. Figures depend on the machine; compare ratios taken in one run.
import type { Connection } from '../../lib/env/transport.js';
import { systemClock } from '../../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcTransport } from '../../lib/transports/webrtc/transport.js';
import { MemorySignalHub } from '../../lib/transports/webrtc/signal-memory.js';
import { nodeWrtc } from '../webrtc-node.js';
import { echoRoundTrips, sendOneWay } from './tcp-bench.js';
import { roundTrips, roundTripLine, type RoundTrips } from './dsm-workloads.js';

const frameBytes = 64;

/** Prints connect time, round trip p50/p99 and frames/s over Node↔Node data channels, ~`seconds` per figure; returns the round trips. */
export async function webrtcBench(print: (line: string) => void, seconds = 2): Promise<RoundTrips> {
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
    const trips = await roundTrips(conn, seconds, frameBytes);
    print(roundTripLine('webrtc round trip, Node ↔ Node', trips));
    const echoed = await echoRoundTrips(conn, seconds, 64);
    print(`webrtc echoed frames, 64 in flight: ${Math.round(echoed).toLocaleString('en')}/s`);
    conn.abort();
    return trips;
  } finally {
    await client.close();
    await server.close();
  }
}
