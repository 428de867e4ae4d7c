import type { Logger } from 'pino';
import { formatProblem, type Problem } from '../../../definitions/compile';
import type { Db } from '../../../activities/db/database';
import { publishVersion } from '../../../activities/store/journeys';
import { compileFile, journeyFiles, toPlan, type CompileFileOptions } from './load';

export interface Published {
  journey: string;
  version: number;
  created: boolean;
  file: string;
}

class InvalidJourneysError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`${problems.length} problem(s) in journey definitions:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'InvalidJourneysError';
  }
}

/**
 * Validates every journey file in the folders and publishes those whose content changed.
 * Nothing is published unless every file validates.
 */
export async function publishFolders(
  db: Db,
  dirs: string[],
  templatesDir: string,
  logger?: Logger,
  options: CompileFileOptions = {},
): Promise<Published[]> {
  const compiled = dirs
    .flatMap(journeyFiles)
    .map((file) => ({ file, result: compileFile(file, templatesDir, options) }));
  const problems = compiled.flatMap(({ result }) => (result.ok ? [] : result.problems));
  if (problems.length > 0) throw new InvalidJourneysError(problems);
  for (const { result } of compiled) {
    for (const w of result.warnings ?? []) logger?.warn({ warning: formatProblem(w) }, 'journey warning');
  }
  const out: Published[] = [];
  for (const { file, result } of compiled) {
    if (!result.ok) continue;
    const plan = toPlan(result.journey);
    const { version, created } = await publishVersion(db, plan, result.source, file);
    out.push({ journey: plan.definition.journey, version, created, file });
    logger?.info(
      { journey: plan.definition.journey, version },
      created ? 'published a new journey version' : 'journey unchanged',
    );
  }
  return out;
}
