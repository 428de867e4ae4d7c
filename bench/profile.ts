/**
 * Where the CPU time of a benchmark goes: reads V8 CPU profiles (from `node --cpu-prof`) and prints
 * self time by package (our folders, each dependency, PGlite's WebAssembly, idle, garbage
 * collection) and the functions with the most self time.
 *
 *   npm run bench:profile -- --only ingestion    # profiles into bench/results/profiles/
 *   npx tsx bench/profile.ts bench/results/profiles/*.cpuprofile
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const root = path.resolve(__dirname, '..');

/** The package a frame belongs to: a dependency, a folder of ours, Node itself, or V8's own entries. */
function packageOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName || '(native)';
  if (url.startsWith('wasm:')) return 'WebAssembly (PGlite)';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1]!;
  if (url.startsWith('node:')) return 'node';
  const file = url.replace(/^file:\/\//, '');
  if (file.startsWith(root)) return path.relative(root, file).split(path.sep).slice(0, 2).join('/');
  return file.includes('workflow-bundle') ? 'workflow bundle' : file;
}

function frameName(frame: CallFrame): string {
  const where = frame.url.replace(/^.*node_modules\//, '').replace(`file://${root}/`, '');
  return `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
}

export function summarize(profile: CpuProfile, top = 15): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    total += dt;
    byPackage.set(packageOf(frame), (byPackage.get(packageOf(frame)) ?? 0) + dt);
    byFunction.set(frameName(frame), (byFunction.get(frameName(frame)) ?? 0) + dt);
  });
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([k, us]) => `${(us / 1000).toFixed(0).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`,
      );
  return [
    `${(total / 1e6).toFixed(1)} s sampled`,
    'self time by package:',
    ...rows(byPackage),
    'self time by function:',
    ...rows(byFunction),
  ].join('\n');
}

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: tsx bench/profile.ts <file.cpuprofile>...\n');
    process.exit(2);
  }
  for (const file of files) {
    process.stdout.write(`== ${file}\n${summarize(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile)}\n\n`);
  }
}
