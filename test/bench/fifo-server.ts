// The reference for W4: a minimal FIFO semaphore server, one process, newline-delimited JSON over
// TCP on 127.0.0.1. `{"op":"acquire","id":…,"req":…}` queues (grants are pushed as `{"req":…}`),
// `{"op":"release","id":…}` frees a slot for the head. n is 2 for every semaphore. Run:
// node --import tsx test/bench/fifo-server.ts PORT
import { createServer, type Socket } from 'node:net';

const n = 2;
const sems = new Map<string, { held: number; queue: { socket: Socket; req: number }[] }>();

function pump(s: { held: number; queue: { socket: Socket; req: number }[] }): void {
  while (s.held < n && s.queue.length > 0) {
    const w = s.queue.shift() as { socket: Socket; req: number };
    if (w.socket.destroyed) continue;
    s.held++;
    w.socket.write(`${JSON.stringify({ req: w.req })}\n`);
  }
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const m = JSON.parse(buffered.slice(0, nl)) as { op: string; id: string; req: number };
      buffered = buffered.slice(nl + 1);
      const s = sems.get(m.id) ?? sems.set(m.id, { held: 0, queue: [] }).get(m.id) as { held: number; queue: { socket: Socket; req: number }[] };
      if (m.op === 'acquire') s.queue.push({ socket, req: m.req });
      else s.held--;
      pump(s);
    }
  });
  socket.on('error', () => undefined);
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
