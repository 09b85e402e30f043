// The keystone of the design, enforced: only lib/platform/ and the Node-only files touch real
// time, randomness, Buffer or node: modules; imports point down the layers and never cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Files allowed to touch the real world. */
const realWorld = [/^lib\/platform\//, /^lib\/transports\/tcp/, /^lib\/node\.ts$/, /^lib\/cli/, /\.node\.ts$/];

const banned: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, 'Date.now'],
  [/\bperformance\.now\s*\(/, 'performance.now'],
  [/\bsetTimeout\s*\(/, 'setTimeout'],
  [/\bsetInterval\s*\(/, 'setInterval'],
  [/\bMath\.random\s*\(/, 'Math.random'],
  [/\bBuffer\b/, 'Buffer'],
  [/\bfrom\s+['"]node:/, 'a node: import'],
  [/\bimport\s*\(\s*['"]node:/, 'a node: import'],
  [/\brequire\s*\(/, 'require'],
];

/** Directories of lib/ and the layers each may import (besides itself). */
const layers: Record<string, string[]> = {
  env: [],
  core: ['env', 'constants.ts'],
  table: ['env', 'core', 'constants.ts'],
  kernel: ['env', 'core', 'constants.ts'],
  transports: ['env', 'core', 'constants.ts'],
  gossip: ['env', 'core', 'kernel', 'constants.ts'],
  // dsm: DSMServer.calculateWaitTime is a static with no Env, so it defaults to crypto randomness.
  dsm: ['env', 'core', 'kernel', 'gossip', 'table', 'constants.ts', 'platform/crypto-random.ts'],
  cluster: ['env', 'core', 'kernel', 'gossip', 'dsm', 'table', 'constants.ts'],
  platform: ['env', 'core', 'table', 'constants.ts'],
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Source with comments and string contents blanked, so docs may mention what code may not use. */
export function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** The banned things a file's source uses. */
export function violations(source: string): string[] {
  const code = codeOnly(source);
  return banned.filter(([re]) => re.test(code)).map(([, what]) => what);
}

function importsOf(file: string): string[] {
  const code = codeOnly(readFileSync(file, 'utf8'));
  const specs = [...code.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return specs
    .map((m) => m[1] ?? m[2] ?? '')
    .filter((s) => s.startsWith('.'))
    .map((s) => normalize(join(dirname(file), s.replace(/\.js$/, '.ts'))));
}

/** Every import cycle among `files`, as lists of paths. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

const rel = (p: string): string => relative(root, p).split('\\').join('/');

describe('tidy', () => {
  const libFiles = walk(join(root, 'lib'));
  const simFiles = walk(join(root, 'sim'));

  it('the checks themselves catch a planted violation and a planted cycle', () => {
    expect(violations('const t = Date.now(); import x from "node:fs";')).toEqual(['Date.now', 'a node: import']);
    expect(violations('// Date.now() in a comment\n/* setTimeout( */ const ok = 1;')).toEqual([]);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('nothing outside lib/platform and the Node-only files touches real time, randomness, Buffer or node:', () => {
    const bad = [...libFiles, ...simFiles]
      .map((f) => [rel(f), violations(readFileSync(f, 'utf8'))] as const)
      .filter(([f, v]) => v.length > 0 && !realWorld.some((re) => re.test(f)))
      .map(([f, v]) => `${f}: ${v.join(', ')}`);
    expect(bad).toEqual([]);
  });

  it('imports point down the layers, and lib/ never imports sim/, demo/ or test/', () => {
    const bad: string[] = [];
    for (const file of libFiles) {
      const from = rel(file).split('/');
      for (const target of importsOf(file)) {
        const to = rel(target).split('/');
        if (to[0] !== 'lib') bad.push(`${rel(file)} imports ${rel(target)}`);
        const fromLayer = from.length > 2 ? from[1] : undefined;
        const toLayer = to.length > 2 ? to[1] : to[1];
        if (fromLayer === undefined || toLayer === fromLayer) continue;
        const allowed = layers[fromLayer];
        const ok = allowed === undefined || allowed.includes(toLayer ?? '') || allowed.includes(to.slice(1).join('/'));
        if (!ok) bad.push(`${rel(file)} (${fromLayer}) imports ${rel(target)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('there is no import cycle in lib/ or sim/', () => {
    const graph = new Map([...libFiles, ...simFiles].map((f) => [f, importsOf(f)]));
    expect(cycles(graph).map((c) => c.map(rel).join(' → '))).toEqual([]);
  });
});
