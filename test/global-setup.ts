/** Installs the Temporal binaries once before any test file runs; a missing binary fails the run, loudly. */
import { ensureBinaries } from '../worker/temporal/binaries';

export default function globalSetup(): void {
  const { found, problem } = ensureBinaries((line) => process.stdout.write(`\n${line}\n`));
  if (!found.temporal || !found['temporal-test-server']) {
    throw new Error(
      `The Temporal binaries the tests need are missing: ${problem ?? 'not found'}\n` +
        'Install them with `npx tsx scripts/temporal-binaries.ts install`, or point TEMPORAL_CLI_PATH and ' +
        'TEMPORAL_TEST_SERVER_PATH at them.',
    );
  }
}
