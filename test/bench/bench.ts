// `npm run bench`: prints the figures the issues ask for. Benchmarks, not tests: these machines
// are shared and noisy, so compare ratios taken in one run rather than absolute numbers.
import { dsmBench, type BenchTransport } from './dsm-bench.js';
import { gossipBench } from './gossip-bench.js';
import { kernelBench } from './kernel-bench.js';
import { processBench } from './process-bench.js';
import { ringBench } from './ring-bench.js';
import { simBench } from './sim-bench.js';
import { tabBench } from './tab-bench.js';
import { webrtcBench } from './webrtc-bench.js';
import { w4Processes } from './w4-bench.js';
import { roundTripTarget } from './dsm-workloads.js';

let seconds = 10;
let transport: BenchTransport = 'memory';
let vsRedis = false;

const sections: Record<string, (print: (line: string) => void) => Promise<void>> = {
  ring: ringBench,
  kernel: (print) => kernelBench(print),
  gossip: gossipBench,
  sim: (print) => simBench(print),
  dsm: async (print) => {
    // Over TCP, as users deploy it: every owner in its own process, beside Redis in its own.
    if (transport === 'tcp') {
      await processBench(print, seconds, vsRedis);
      await w4Processes(print, seconds, vsRedis);
      return;
    }
    if (transport === 'memory') {
      await dsmBench(print, { seconds, transport, vsRedis });
      return;
    }
    // Over WebRTC, the data channel's own round trip first (it bounds W1), between the same two
    // ends as the W1 after it: two Node nodes, then a Chromium tab and a Node node.
    const nodeTrips = await webrtcBench(print);
    const ours = await dsmBench(print, { seconds, transport, vsRedis });
    const tab = await tabBench(print, seconds);
    print(roundTripTarget('Node ↔ Node', ours.W1, nodeTrips));
    print(roundTripTarget('tab → Node', tab.w1.perSecond, tab.roundTrips));
  },
  w4: (print) => w4Processes(print, seconds, vsRedis),
};

const help = `usage: npm run bench [-- --only NAME[,NAME...]] [--seconds S] [--transport memory|tcp|webrtc] [--vs-redis]

Runs the benchmarks and prints their figures.
Sections: ${Object.keys(sections).join(', ')}.

  --only NAMES   run just these sections (w4: W4 through acquire, owner in its own process, beside a
                 minimal FIFO server; with --vs-redis, Redis too)
  --seconds S    length of each timed DSM workload (default 10); with tcp and w4 every server first
                 runs each workload unmeasured (min(2, S/2) s; W1 1,000 cycles) to compile its hot paths
  --transport T  run the DSM workloads over memory (default: every node in this process), TCP on
                 127.0.0.1, or WebRTC on loopback (implies --only dsm). tcp runs them as users deploy
                 them: the owners are clusterluck node processes (one in memory, one with a data
                 directory) and the caller a member in this process; W1–W3 print throughput, latency
                 and the CPU each process spent per cycle, with the caller on a non-owner and on the
                 owner; then W4 through acquire beside a minimal FIFO server in its own process.
                 webrtc: data-channel round trip, W1–W4 between two Node nodes (node-datachannel),
                 then W1 and W4 from a Chromium tab to a Node owner
  --vs-redis     also run them through redis-semaphore on a local redis-server (its own process; with
                 tcp, also with appendfsync always beside the durable owner) and print the ratios
  --help         this text`;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(help);
  const secondsAt = argv.indexOf('--seconds');
  if (secondsAt >= 0) seconds = Number(argv[secondsAt + 1]);
  if (!(seconds > 0)) {
    console.error(`--seconds must be a positive number, got ${String(argv[secondsAt + 1])}`);
    process.exitCode = 2;
    return;
  }
  const t = argv.indexOf('--transport');
  if (t >= 0) {
    const value = argv[t + 1];
    if (value !== 'memory' && value !== 'tcp' && value !== 'webrtc') {
      console.error(`--transport must be memory, tcp or webrtc, got ${String(value)}`);
      process.exitCode = 2;
      return;
    }
    transport = value;
  }
  vsRedis = argv.includes('--vs-redis');
  const narrowed = t >= 0 || vsRedis;
  const at = argv.indexOf('--only');
  const only = at >= 0 ? (argv[at + 1] ?? '').split(',') : narrowed ? ['dsm'] : Object.keys(sections);
  const unknown = only.filter((name) => !(name in sections));
  if (unknown.length > 0) {
    console.error(`unknown section(s): ${unknown.join(', ')}; choose from ${Object.keys(sections).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  console.log(`clusterluck bench — node ${process.version}, ${new Date().toISOString()}`);
  for (const name of only) {
    console.log(`\n## ${name}`);
    await sections[name]?.((line) => console.log(`  ${line}`));
  }
}

await main(process.argv.slice(2));
// The in-process PeerJS server of the WebRTC sections (the `peer` package) re-arms two timers for
// ever and offers no way to stop them, so this process would never exit on its own after them.
if ((transport as BenchTransport) === 'webrtc') process.exit();
