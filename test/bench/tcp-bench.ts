// TCP transport throughput on 127.0.0.1: 64-byte frames one way, and echoed round trips with 1 and
// 64 frames in flight. Figures depend on the machine; compare ratios taken in one run.
import type { Connection } from '../../lib/env/transport.js';
import { tcpTransport } from '../../lib/transports/tcp.js';

const frameBytes = 64;

/** Prints one-way frames/s and echo round trips/s (1 and 64 in flight) over 127.0.0.1, ~`seconds` each. */
export async function tcpBench(print: (line: string) => void, seconds = 2): Promise<void> {
  const transport = tcpTransport();
  const listener = await transport.listen('127.0.0.1:0');
  let received = 0;
  let echo = false;
  const accepted: Connection[] = [];
  listener.addEventListener('connection', ({ detail: conn }) => {
    accepted.push(conn);
    conn.addEventListener('message', ({ detail }) => {
      received++;
      if (echo && conn.status === 'open') conn.send(detail);
    });
  });
  const dial = (): Promise<Connection> => transport.dial(listener.address, { signal: AbortSignal.timeout(5000) });
  try {
    const oneWay = await dial();
    const rate = await sendOneWay(oneWay, seconds, () => received);
    print(`tcp one-way, ${frameBytes}-byte frames: ${Math.round(rate).toLocaleString('en')} frames/s`);
    oneWay.abort();
    echo = true;
    for (const inFlight of [1, 64]) {
      const conn = await dial();
      const trips = await echoRoundTrips(conn, seconds, inFlight);
      print(`tcp echo round trips, ${frameBytes}-byte frames, ${inFlight} in flight: ${Math.round(trips).toLocaleString('en')}/s`);
      conn.abort();
    }
  } finally {
    for (const conn of accepted) conn.abort();
    await listener.close();
  }
}

/** Sends as fast as backpressure allows for `seconds`, then waits until all arrived; frames/s. */
export async function sendOneWay(conn: Connection, seconds: number, receivedNow: () => number): Promise<number> {
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

/** Keeps `inFlight` frames echoing for `seconds`; round trips/s. */
export function echoRoundTrips(conn: Connection, seconds: number, inFlight: number): Promise<number> {
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
