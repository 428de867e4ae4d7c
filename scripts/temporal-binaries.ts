/** `tsx scripts/temporal-binaries.ts [install|where]`: installs or shows the Temporal binaries Rapport uses. */
import { ensureBinaries, findBinary, PINNED, type BinaryName } from '../worker/temporal/binaries';

const command = process.argv[2] ?? 'install';
if (command === 'install') {
  const result = ensureBinaries((line) => console.log(line));
  if (result.problem) console.warn(result.problem);
  for (const [name, p] of Object.entries(result.found)) console.log(`${name}: ${p}`);
} else if (command === 'where') {
  for (const name of Object.keys(PINNED) as BinaryName[]) console.log(`${name}: ${findBinary(name) ?? 'not found'}`);
} else {
  console.error(`unknown command "${command}"; use install or where`);
  process.exit(2);
}
