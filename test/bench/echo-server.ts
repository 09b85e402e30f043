// The floor under W1: a Node process that does nothing but write back what it reads, over TCP on
// 127.0.0.1. A request answered by any Node owner costs at least this round trip. Run:
// node --import tsx test/bench/echo-server.ts PORT
import { createServer } from 'node:net';

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => undefined);
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
