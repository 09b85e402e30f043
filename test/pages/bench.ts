// The tab of the tab bench: the data channel's round trip to a Node echo, then a browser node that
// joins the Node member `n` and runs W1 and W4 (through `acquire`) from here against semaphores `n` owns
// (`window.bench.run`).
import { createBrowserNode, peerjsSignaller, systemClock, webrtcTransport } from '../../lib/index.js';
import { roundTrips, w1, w4Acquire, type RoundTrips, type W1Figures, type W4Figures } from '../bench/dsm-workloads.js';

async function run(o: { port: number; seconds: number; echo: string }): Promise<{ roundTrips: RoundTrips; w1: W1Figures; w4: W4Figures }> {
  const clock = systemClock();
  const transport = webrtcTransport({ signaller: peerjsSignaller({ host: '127.0.0.1', port: o.port, clock }), clock });
  const conn = await transport.dial(o.echo, { signal: AbortSignal.timeout(15_000) });
  if (!crossOriginIsolated) throw new Error('the bench page must be served cross-origin isolated: its round trip is timed with performance.now()');
  const trips = await roundTrips(conn, Math.min(o.seconds, 2));
  conn.abort();
  await transport.close();
  const node = await createBrowserNode({
    id: 'tab', cookie: 'bench', storageName: 'bench', seed: 'n', signaling: { host: '127.0.0.1', port: o.port, path: '/' },
    dsm: { minWaitTimeout: 1, maxWaitTimeout: 10 },
  });
  while (node.gossip.ring().size() < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  const ownedByN = (prefix: string): string => {
    for (let i = 0; ; i++) if (node.gossip.find(`${prefix}-${i}`).id === 'n') return `${prefix}-${i}`;
  };
  const figures = { roundTrips: trips, w1: await w1(node.dsm, ownedByN('w1')), w4: await w4Acquire(node.dsm, ownedByN('w4'), o.seconds) };
  await node.stop();
  return figures;
}

Object.assign(globalThis, { bench: { run } });
document.title = 'ready';
