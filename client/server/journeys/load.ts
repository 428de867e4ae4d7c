/** Reading journey files and their templates from disk, and turning them into publishable plans. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { compileJourney, type CompileResult, type Problem } from '../../../definitions/compile';
import type { JourneyPlan } from '../../../definitions/schema/journey';
import { parseScoring, type Scoring } from '../../../definitions/scoring';
import type { TemplateChannel } from '../../../definitions/templates';
import { liquidChecker } from '../../../activities/render';

export function templateReader(templatesDir: string) {
  return (name: string, channel: TemplateChannel): string | undefined => {
    const file = path.join(templatesDir, `${name}.${channel}.yaml`);
    if (!path.resolve(file).startsWith(path.resolve(templatesDir) + path.sep)) return undefined;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
}

export interface CompileFileOptions {
  allowHttpWebhooks?: boolean;
}

export function compileFile(
  file: string,
  templatesDir: string,
  options: CompileFileOptions = {},
): CompileResult & { source: string } {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const problem: Problem = { file, line: 1, column: 1, path: '', message: `cannot read: ${(e as Error).message}` };
    return { ok: false, problems: [problem], source: '' };
  }
  return {
    ...compileJourney(source, file, {
      readTemplate: templateReader(templatesDir),
      liquid: liquidChecker,
      ...(options.allowHttpWebhooks ? { allowHttpWebhooks: true } : {}),
    }),
    source,
  };
}

/** Sorted keys, so the hash depends on content only. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .filter((k) => k !== '$schema')
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function toPlan(compiled: Extract<CompileResult, { ok: true }>['journey']): JourneyPlan {
  const contentHash = createHash('sha256')
    .update(JSON.stringify(canonical({ definition: compiled.definition, templates: compiled.templates })))
    .digest('hex');
  return { definition: compiled.definition, templates: compiled.templates, contentHash };
}

export function journeyFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /\.ya?ml$/.test(n) && !n.endsWith('.scenarios.yaml'))
    .sort()
    .map((n) => path.join(dir, n));
}

/**
 * The lead scoring rules of `file`, read at start with the journeys; undefined when there is no such
 * file (nothing is scored). A file with mistakes throws a ScoringError naming each one.
 */
export function readScoringFile(file: string): Scoring | undefined {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the scoring file ${file}: ${(e as Error).message}`);
  }
  return parseScoring(source, file);
}
