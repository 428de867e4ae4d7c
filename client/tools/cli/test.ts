/** `rapport test`: runs scenario files and reports each expectation that does not hold. */
import path from 'node:path';
import { findScenarioFiles, runScenarioFile, type FileOutcome } from '../simulate/scenarios';
import { SimulationError } from '../simulate/simulate';
import { timeSkippingEnv } from '../testing/environment';
import { builtinJourneysDir } from '../../../paths';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export async function testCommand(
  files: string[],
  options: { coverage?: boolean; json?: boolean; templates?: string },
): Promise<void> {
  const list = files.length
    ? files
    : findScenarioFiles([
        builtinJourneysDir,
        ...(process.env.RAPPORT_JOURNEYS_DIRS ?? '').split(path.delimiter).filter(Boolean),
      ]);
  if (list.length === 0) {
    process.stderr.write('no scenario files (<journey>.scenarios.yaml) found\n');
    process.exitCode = 1;
    return;
  }
  const env = await timeSkippingEnv();
  const results: FileOutcome[] = [];
  let failed = 0;
  let total = 0;
  try {
    for (const file of list) {
      let r: FileOutcome;
      try {
        r = await runScenarioFile(file, { env, ...(options.templates ? { templatesDir: options.templates } : {}) });
      } catch (err) {
        if (!(err instanceof SimulationError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exitCode = 1;
        continue;
      }
      results.push(r);
      total += r.scenarios.length;
      failed += r.scenarios.filter((s) => !s.passed).length;
      if (options.json) continue;
      out(`${path.relative(process.cwd(), file)} (${path.basename(r.journeyFile)})`);
      for (const s of r.scenarios) {
        out(`  ${s.passed ? '✓' : '✗'} ${s.name}`);
        if (s.error) out(`      could not run: ${s.error}`);
        for (const f of s.failures) out(`      expected: ${f.expectation}\n      happened: ${f.happened}`);
      }
      if (options.coverage) {
        const { arms, reached, missed } = r.coverage;
        out(`  coverage: ${reached.length} of ${arms.length} steps and branches reached`);
        for (const m of missed) out(`      not reached: ${m}`);
      }
    }
  } finally {
    await env.teardown();
  }
  if (options.json) {
    out(
      JSON.stringify(
        results.map((r) => ({
          ...r,
          scenarios: r.scenarios.map(({ run: _run, ...s }) => s),
          ...(options.coverage ? {} : { coverage: undefined }),
        })),
        null,
        2,
      ),
    );
  } else out(`${total} scenario(s), ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}
