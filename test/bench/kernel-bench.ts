// Kernel call round trips per second over the memory transport, HMAC signing on.
import { silentLogger } from '../../lib/env/logger.js';
import { GenServer } from '../../lib/kernel/gen-server.js';
import { NetKernel } from '../../lib/kernel/net-kernel.js';
import { cryptoRandom } from '../../lib/platform/crypto-random.js';
import { nodeHmac } from '../../lib/platform/hmac.node.js';
import type { HmacFactory } from '../../lib/env/crypto.js';
import { portableHmac } from '../../lib/kernel/frame.js';
import { systemClock } from '../../lib/platform/system-clock.js';
import { MemoryNetwork } from '../../lib/transports/memory-network.js';

class Echo extends GenServer {
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('echo', (data) => data);
  }
}

/** Prints kernel round trips per second, one call in flight and 64 in flight. */
export async function kernelBench(print: (line: string) => void, seconds = 2): Promise<void> {
  for (const [name, hmac] of [['native HMAC', nodeHmac], ['portable HMAC', portableHmac]] as [string, HmacFactory][]) {
    await kernelRun(print, seconds, name, hmac);
  }
}

async function kernelRun(print: (line: string) => void, seconds: number, hmacName: string, hmac: HmacFactory): Promise<void> {
  const network = new MemoryNetwork();
  const env = () => ({ clock: systemClock(), random: cryptoRandom(), transport: network.transport(), logger: silentLogger });
  const a = new NetKernel({ env: env(), id: 'a', address: 'a', cookie: 'bench', hmac });
  const b = new NetKernel({ env: env(), id: 'b', address: 'b', cookie: 'bench', hmac });
  await Promise.all([a.start(), b.start()]);
  new Echo(b).start('echo');
  a.connect(b.self);
  const payload = { id: 'semaphore-42', holder: 'holder-7', timeout: 1000 };
  for (const inFlight of [1, 64]) {
    let done = 0;
    const end = performance.now() + seconds * 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < end) {
        await a.call({ node: 'b', name: 'echo' }, 'echo', payload);
        done++;
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: inFlight }, worker));
    const rate = done / ((performance.now() - start) / 1000);
    print(`kernel call round trips, memory transport, ${hmacName}, ${inFlight} in flight: ${Math.round(rate).toLocaleString('en')}/s`);
  }
  const local = performance.now() + seconds * 1000;
  let localDone = 0;
  const t0 = performance.now();
  while (performance.now() < local) {
    await b.call({ node: 'b', name: 'echo' }, 'echo', payload);
    localDone++;
  }
  print(`kernel call round trips, same node (no network), 1 in flight: ${Math.round(localDone / ((performance.now() - t0) / 1000)).toLocaleString('en')}/s`);
  await Promise.all([a.stop(), b.stop()]);
}
