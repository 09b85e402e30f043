// A node process's view of the network: every listener and connection it opens is tracked, so a
// crash can take them all down at once (the OS closing a dead process's sockets), and a pause
// can hold every inbound event until the process runs again.
import { TypedEventTarget } from '../../lib/env/events.js';
import { ClusterluckError, stacklessError } from '../../lib/env/errors.js';
import type { Connection, ConnectionEvents, ConnectionStatus, Listener, ListenerEvents, Transport } from '../../lib/env/transport.js';

/** Controls of a {@link processTransport}. */
export interface ProcessTransport {
  readonly transport: Transport;
  /** The process died: its listeners close and its connections reset. */
  kill(): void;
  /** Holds inbound events until `resume()`. */
  pause(): void;
  resume(): void;
}

/** Wraps `inner` for one simulated process. */
export function processTransport(inner: Transport): ProcessTransport {
  const listeners = new Set<Listener>();
  const conns = new Set<ProcessConnection>();
  let paused = false;
  let dead = false;
  const held: (() => void)[] = [];
  const deliver = (fn: () => void): void => {
    if (dead) return;
    if (paused) held.push(fn);
    else fn();
  };
  const wrap = (c: Connection): ProcessConnection => {
    const pc = new ProcessConnection(c, deliver, () => conns.delete(pc));
    conns.add(pc);
    return pc;
  };
  const transport: Transport = {
    name: inner.name,
    frameBytesMax: inner.frameBytesMax,
    async listen(address) {
      if (dead) throw new ClusterluckError('NOT_RUNNING', 'process is dead');
      const l = await inner.listen(address);
      listeners.add(l);
      const outer = new ProcessListener(l);
      l.addEventListener('connection', (e) => {
        const pc = wrap(e.detail);
        deliver(() => outer.emit('connection', pc));
      });
      return outer;
    },
    async dial(address, options) {
      if (dead) throw new ClusterluckError('NOT_RUNNING', 'process is dead');
      return wrap(await inner.dial(address, options));
    },
  };
  return {
    transport,
    kill() {
      dead = true;
      held.length = 0;
      for (const l of listeners) void l.close();
      for (const c of conns) c.inner.abort(stacklessError('CONNECTION_CLOSED', 'process died'));
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const fn of held.splice(0)) fn();
    },
  };
}

class ProcessListener extends TypedEventTarget<ListenerEvents> implements Listener {
  readonly #inner: Listener;
  constructor(inner: Listener) {
    super();
    this.#inner = inner;
    inner.addEventListener('close', () => this.dispatchEvent(new Event('close')));
  }
  get address(): string {
    return this.#inner.address;
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

class ProcessConnection extends TypedEventTarget<ConnectionEvents> implements Connection {
  readonly inner: Connection;
  /** The inner connection's, when it has one: it runs in this process's turn, as the send that asked for it. */
  readonly beforeFlush?: (fn: () => void) => void;
  constructor(inner: Connection, deliver: (fn: () => void) => void, forget: () => void) {
    super();
    this.inner = inner;
    if (inner.beforeFlush !== undefined) this.beforeFlush = (fn) => inner.beforeFlush?.(fn);
    inner.addEventListener('message', (e) => deliver(() => this.emit('message', e.detail)));
    inner.addEventListener('drain', () => deliver(() => this.dispatchEvent(new Event('drain'))));
    inner.addEventListener('close', (e) => {
      forget();
      deliver(() => this.emit('close', e.detail));
    });
  }
  get id(): string { return this.inner.id; }
  get localAddress(): string { return this.inner.localAddress; }
  get remoteAddress(): string { return this.inner.remoteAddress; }
  get outbound(): boolean { return this.inner.outbound; }
  get status(): ConnectionStatus { return this.inner.status; }
  get bufferedBytes(): number { return this.inner.bufferedBytes; }
  send(frame: Uint8Array): boolean { return this.inner.send(frame); }
  close(): Promise<void> { return this.inner.close(); }
  abort(error?: Error): void { this.inner.abort(error); }
}
