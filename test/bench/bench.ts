// `npm run bench`: prints the figures the issues ask for. Benchmarks, not tests: these machines
// are shared and noisy, so compare ratios taken in one run rather than absolute numbers.
import { gossipBench } from './gossip-bench.js';
import { kernelBench } from './kernel-bench.js';
import { ringBench } from './ring-bench.js';

const sections: Record<string, (print: (line: string) => void) => Promise<void>> = {
  ring: ringBench,
  kernel: (print) => kernelBench(print),
  gossip: gossipBench,
};

const help = `usage: npm run bench [-- --only NAME[,NAME...]]

Runs the benchmarks and prints their figures.
Sections: ${Object.keys(sections).join(', ')}.

  --only NAMES   run just these sections
  --help         this text`;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(help);
  const at = argv.indexOf('--only');
  const only = at >= 0 ? (argv[at + 1] ?? '').split(',') : Object.keys(sections);
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
