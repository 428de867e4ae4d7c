import path from 'node:path';
import { formatProblem } from '../../../definitions/compile';
import { builtinTemplatesDir } from '../../../paths';
import { compileFile } from '../../server/journeys/load';

/** `rapport validate <files...>`: every problem in every file, then exit 1 if there were any. */
export function validateCommand(files: string[], options: { templates?: string; json?: boolean }): void {
  const templatesDir = path.resolve(options.templates ?? builtinTemplatesDir);
  const results = files.map((f) => ({ file: f, result: compileFile(f, templatesDir) }));
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        results.map(({ file, result }) => ({ file, ok: result.ok, problems: result.ok ? [] : result.problems })),
        null,
        2,
      )}\n`,
    );
  } else {
    for (const { file, result } of results) {
      if (result.ok) process.stdout.write(`${file}: ok (${result.journey.definition.journey})\n`);
      else for (const p of result.problems) process.stdout.write(`${formatProblem(p)}\n`);
    }
  }
  if (results.some(({ result }) => !result.ok)) process.exitCode = 1;
}
