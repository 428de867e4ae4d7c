/** Reading journey files and their templates from disk, and turning them into publishable plans. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { compileJourney, type CompileResult, type Problem } from '../../../definitions/compile';
import type { JourneyPlan } from '../../../definitions/schema/journey';
import { parseScoring, type Scoring } from '../../../definitions/scoring';
import type { TemplateChannel } from '../../../definitions/templates';
import { liquidChecker } from '../../../activities/render';
import { knownTopics, topicTexts } from '../../../activities/topics';

export function templateReader(templatesDir: string) {
  return (name: string, channel: TemplateChannel, locale?: string): string | undefined => {
    const file = path.join(templatesDir, `${name}.${channel}${locale ? `.${locale}` : ''}.yaml`);
    if (!path.resolve(file).startsWith(path.resolve(templatesDir) + path.sep)) return undefined;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** `<name>.<channel>.<locale>.yaml`: a template's variant in a locale (`fr`, `fr-CA`, `pt_BR`). */
const VARIANT_FILE = /^(.+)\.(email|sms)\.([A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*)\.yaml$/;

/** The locales a template has a variant in, as spelled in the file names, sorted. */
export function templateLocalesReader(templatesDir: string) {
  return (name: string, channel: TemplateChannel): string[] => {
    const file = path.join(templatesDir, name);
    if (!path.resolve(file).startsWith(path.resolve(templatesDir) + path.sep)) return [];
    let names: string[];
    try {
      names = fs.readdirSync(path.dirname(file));
    } catch {
      return [];
    }
    const base = path.basename(file);
    return names
      .map((n) => VARIANT_FILE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null && m[1] === base && m[2] === channel)
      .map((m) => m[3]!)
      .sort();
  };
}

/**
 * Locale variants in the templates folder whose default is missing (`welcome.email.fr.yaml` without
 * `welcome.email.yaml`): no journey can send them, since a send names the default. Each is a problem
 * of its own file, so `rapport validate` reports one a journey does not name as well.
 */
export function orphanVariants(templatesDir: string): Problem[] {
  let names: string[];
  try {
    names = fs.readdirSync(templatesDir, { recursive: true, encoding: 'utf8' });
  } catch {
    return [];
  }
  const present = new Set(names.map((n) => n.split(path.sep).join('/')));
  return [...present].sort().flatMap((n) => {
    const m = VARIANT_FILE.exec(n);
    if (!m || present.has(`${m[1]}.${m[2]}.yaml`)) return [];
    const file = path.join(templatesDir, n);
    return [{ file, line: 1, column: 1, path: '', message: `${n} has no default ${m[1]}.${m[2]}.yaml` }];
  });
}

export interface CompileFileOptions {
  allowHttpWebhooks?: boolean;
  /** A folder of texts whose topics.yaml adds subscription topics to the built-in ones. */
  textsDir?: string | undefined;
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
    return { ok: false, problems: [problem], warnings: [], source: '' };
  }
  return {
    ...compileJourney(source, file, {
      readTemplate: templateReader(templatesDir),
      templateLocales: templateLocalesReader(templatesDir),
      liquid: liquidChecker,
      topics: knownTopics(topicTexts(options.textsDir)),
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
