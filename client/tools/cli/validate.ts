import path from 'node:path';
import { formatProblem } from '../../../definitions/compile';
import { builtinTemplatesDir } from '../../../paths';
import { compileFile, orphanVariants } from '../../server/journeys/load';

/**
 * `rapport validate <files...>`: every problem in every file, then exit 1 if there were any. Warnings
 * are printed too, marked as such, and leave the exit code alone.
 */
export function validateCommand(files: string[], options: { templates?: string; json?: boolean }): void {
  const templatesDir = path.resolve(options.templates ?? builtinTemplatesDir);
  // The deployment's texts folder, as `rapport start` reads it, for the topics it adds.
  const textsDir = process.env.RAPPORT_TEXTS_DIR || undefined;
  const results = files.map((f) => ({ file: f, result: compileFile(f, templatesDir, { textsDir }) }));
  // A translation left without its default, whether or not these journeys name it.
  const orphans = orphanVariants(templatesDir);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        [
          ...results.map(({ file, result }) => ({
            file,
            ok: result.ok,
            problems: result.ok ? [] : result.problems,
            warnings: result.warnings ?? [],
          })),
          ...orphans.map((p) => ({ file: p.file, ok: false, problems: [p], warnings: [] })),
        ],
        null,
        2,
      )}\n`,
    );
  } else {
    for (const { file, result } of results) {
      if (result.ok) process.stdout.write(`${file}: ok (${result.journey.definition.journey})\n`);
      else for (const p of result.problems) process.stdout.write(`${formatProblem(p)}\n`);
      // Warnings do not fail the command: a translation may leave a variable out on purpose.
      for (const w of result.warnings ?? []) process.stdout.write(`${formatProblem(w)} (warning)\n`);
    }
    for (const p of orphans) process.stdout.write(`${formatProblem(p)}\n`);
  }
  if (results.some(({ result }) => !result.ok) || orphans.length > 0) process.exitCode = 1;
}
