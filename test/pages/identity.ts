// A tab that starts `createBrowserNode` without an `id` (the default), alone in its cluster: the
// identity test reads which member it came up as, across reloads and beside other tabs.
import { createBrowserNode, MemorySignalHub } from '../../lib/index.js';

const node = await createBrowserNode({ cookie: 'identity', storageName: 'identity-test', signaling: new MemorySignalHub().signaller() });
Object.assign(globalThis, { identity: { id: node.self.id, stop: () => node.stop() } });
document.title = 'ready';
