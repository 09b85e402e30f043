// A PeerJS server (the `peer` package) on 127.0.0.1 that a test can stop and start again on the same port.
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PeerServer } from 'peer';

/** A PeerJS server on a fixed port that can be stopped and started again there, as a restarted one. */
export async function restartablePeerServer(): Promise<{ port: number; start(): Promise<void>; stop(): Promise<void> }> {
  let current: Server | undefined;
  const sockets = new Set<Socket>();
  let fixed = 0;
  const start = async (): Promise<void> => {
    current = await new Promise<Server>((resolve) => {
      PeerServer({ host: '127.0.0.1', port: fixed, path: '/', expire_timeout: 300 }, (s) => resolve(s as Server));
    });
    current.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    fixed = (current.address() as AddressInfo).port;
  };
  await start();
  return {
    port: fixed,
    start,
    async stop() {
      const s = current;
      current = undefined;
      if (s === undefined) return;
      for (const socket of sockets) socket.destroy(); // upgraded WebSockets are no longer the server's
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    },
  };
}

