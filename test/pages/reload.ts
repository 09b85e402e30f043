// A one-node clusterluck in a page, persisting to IndexedDB: the reload test drives it through
// `window.clusterluck` before and after a page reload.
import { HashRing } from '../../lib/core/hash-ring.js';
import { DSMServer } from '../../lib/dsm/dsm-server.js';
import { silentLogger } from '../../lib/env/logger.js';
import { NetKernel } from '../../lib/kernel/net-kernel.js';
import { cryptoRandom } from '../../lib/platform/crypto-random.js';
import { idbStorage } from '../../lib/platform/storage/idb-storage.browser.js';
import { systemClock } from '../../lib/platform/system-clock.js';
import { MemoryNetwork } from '../../lib/transports/memory-network.js';

const kernel = new NetKernel({
  env: { clock: systemClock(), random: cryptoRandom(), transport: new MemoryNetwork().transport(), logger: silentLogger },
  id: 'tab', address: 'tab', cookie: 'page',
});
await kernel.start();
const ring = new HashRing().insert(kernel.self);
const dsm = new DSMServer({ ring: () => ring }, kernel, { disk: true, storage: idbStorage('clusterluck-reload', 'dsm'), fsyncInterval: 0 }).start();
await dsm.load();

Object.assign(globalThis, {
  clusterluck: {
    create: (id: string, n: number) => dsm.create(id, n),
    post: (id: string, holder: string, ms: number) => dsm.post(id, holder, ms),
    read: (id: string) => dsm.read(id),
  },
});
document.title = 'ready';
