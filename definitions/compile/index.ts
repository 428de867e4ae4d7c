/**
 * The compiler from a journey's YAML to a validated plan. It reports every problem in a file at once,
 * each with its line and column, its path (`steps[3].sms.text`) and what was expected.
 *
 * Pure: file access comes in through `CompileOptions`, so workflow code may import this module.
 */
import { isMap, LineCounter, parseDocument, visit } from 'yaml';
import { celBoundsProblem } from '../cel-bounds';
import { checkCel, type CelPlace } from '../cel';
import { journeyDefinition, type EmailTemplate, type JourneyDefinition, type SmsTemplate } from '../schema/journey';
import { text, writtenSpec, type CheckContext, type PathSeg } from '../steps';
import type { TemplateChannel } from '../templates';
import { describeIssue, formatPath, Locator, valueAt } from './locate';
import { unknownVariable } from './texts';
import { walkSteps } from './written';
import { topicProblems } from '../topics';

export interface Problem {
  file: string;
  line: number;
  column: number;
  /** Where in the definition: `steps[3].on_timeout[0].sms.text`; empty for the file as a whole. */
  path: string;
  message: string;
}

export interface CompileOptions {
  /**
   * The text of `definitions/templates/<name>.<channel>.yaml`, or with `locale` of its variant
   * `<name>.<channel>.<locale>.yaml`; undefined when there is none.
   */
  readTemplate(name: string, channel: TemplateChannel, locale?: string): string | undefined;
  /** The locales `<name>.<channel>` has a variant in; none when absent. */
  templateLocales?(name: string, channel: TemplateChannel): string[];
  /** Liquid, supplied by the caller (the engine lives outside this pure module). */
  liquid?: {
    /** The parse problem of a template, or undefined. */
    check(source: string): string | undefined;
    /** The variable paths a template reads, such as ['customer', 'firstName']. */
    variables(source: string): (string | number)[][];
  };
  /** Accept http:// webhook URLs (for tests and private networks; https is the rule). */
  allowHttpWebhooks?: boolean;
  /** The subscription topics messages may carry (the keys of the topics texts); absent: any topic id. */
  topics?: ReadonlySet<string>;
}

interface CompiledJourney {
  definition: JourneyDefinition;
  templates: Record<string, EmailTemplate | SmsTemplate>;
}

/** Warnings are worth a look but do not stop a journey from compiling (a translation that drops a variable). */
export type CompileResult =
  | { ok: true; journey: CompiledJourney; warnings: Problem[] }
  | { ok: false; problems: Problem[]; warnings?: Problem[] };

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

export function compileJourney(source: string, file: string, options: CompileOptions): CompileResult {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(doc, lines);
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const add = (path: readonly PathSeg[], message: string, at = loc.at(path)) =>
    problems.push({ file, ...at, path: formatPath(path), message });

  for (const err of doc.errors) {
    const { line, col } = lines.linePos(err.pos[0]);
    problems.push({ file, line, column: col, path: '', message: `YAML: ${err.message.split('\n')[0]}` });
  }
  if (problems.length > 0) return { ok: false, problems };
  if (!isMap(doc.contents)) {
    add([], 'expected a journey: a mapping with journey, name, category, trigger and steps');
    return { ok: false, problems };
  }
  // An alias whose anchor is not set before it is not among the parser's errors; reading it is.
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) === undefined) {
        const { line, col } = lines.linePos(node.range?.[0] ?? 0);
        problems.push({
          file,
          line,
          column: col,
          path: '',
          message: `YAML: the alias *${node.source} has no anchor &${node.source} before it`,
        });
      }
    },
  });
  if (problems.length > 0) return { ok: false, problems };
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    add([], `YAML: ${(err as Error).message}`);
    return { ok: false, problems };
  }

  const parsed = journeyDefinition.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const d of describeIssue(issue, data)) {
        add(d.path, d.message, d.key !== undefined ? loc.key(d.path.slice(0, -1), d.key) : loc.at(d.path));
      }
    }
  }

  // Checks across steps and each kind's own, on the data as written so that they are reported
  // alongside schema errors.
  const written = data as Record<string, unknown>;
  const visits = walkSteps(written.steps, ['steps']).map((v) => ({ ...v, spec: writtenSpec(v.step) }));
  const seen = new Map<string, string>();
  for (const { step, path } of visits) {
    const id = text(step.id);
    if (!id) continue;
    const first = seen.get(id);
    if (first) add([...path, 'id'], `duplicate step id "${id}": already used at ${first}`);
    else seen.set(id, formatPath(path));
  }
  checkUnreachable(written.steps, ['steps'], add);
  for (const p of topicProblems(written, visits, options.topics)) add(p.path, p.message);

  // CEL: the journey's own expressions, then each step's.
  const expressions: { path: PathSeg[]; place: CelPlace; expect: 'bool' | 'timestamp' | 'key' }[] = [
    { path: ['trigger', 'when'], place: 'trigger', expect: 'bool' },
    { path: ['entry', 'key'], place: 'key', expect: 'key' },
    { path: ['trigger', 'segment'], place: 'segment', expect: 'bool' },
    { path: ['goal', 'when'], place: 'goal', expect: 'bool' },
    ...visits.flatMap(({ step, path, spec }) =>
      (spec?.expressions(step) ?? []).map((e) => ({ ...e, path: [...path, ...e.at] })),
    ),
  ];
  for (const e of expressions) {
    const expression = text(valueAt(data, e.path));
    if (!expression) continue;
    const problem = checkCel(expression, e.place, e.expect) ?? celBoundsProblem(expression);
    if (problem) add(e.path, `CEL: ${problem.message}`, loc.inScalar(e.path, problem.offset));
  }

  // Liquid: each text parses and reads only variables that exist, results of steps included.
  const known = { events: new Set<string>(), tasks: new Set<string>(), digests: new Set<string>() };
  for (const { step, spec } of visits) {
    if (spec?.exposes && typeof step.id === 'string') known[spec.exposes].add(step.id);
  }
  const liquid = options.liquid;
  const checkText = (path: PathSeg[], source: unknown, where = '') => {
    if (!liquid || typeof source !== 'string') return;
    const problem = liquid.check(source);
    if (problem) return void add(path, `${where}Liquid: ${problem}`);
    for (const segments of liquid.variables(source)) {
      const unknown = unknownVariable(segments, known);
      if (unknown) return void add(path, `${where}${unknown}`);
    }
  };

  const templates: CompiledJourney['templates'] = {};
  const context: CheckContext = {
    problem: (path, message) => add(path, message),
    warn: (path, message) => warnings.push({ file, ...loc.at(path), path: formatPath(path), message }),
    readTemplate: (name, channel, locale) => options.readTemplate(name, channel, locale),
    templateLocales: (name, channel) => options.templateLocales?.(name, channel) ?? [],
    keepTemplate: (key, template) => {
      templates[key] = template;
    },
    variables: (source) => {
      if (!liquid || liquid.check(source)) return [];
      return liquid.variables(source).map((segments) => segments.join('.'));
    },
    checkText,
    allowHttpWebhooks: options.allowHttpWebhooks ?? false,
  };
  for (const { step, path, spec } of visits) {
    if (!spec) continue; // the schema reports an unknown kind
    for (const at of spec.texts(step)) checkText([...path, ...at], valueAt(step, at));
    spec.check?.(step, path, context);
  }

  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, problems, warnings };
  }
  return { ok: true, journey: { definition: parsed.data, templates }, warnings };
}

function checkUnreachable(list: unknown, path: PathSeg[], add: (p: PathSeg[], m: string) => void): void {
  if (!Array.isArray(list)) return;
  const exitAt = list.findIndex((s) => s && typeof s === 'object' && (s as Record<string, unknown>).type === 'exit');
  if (exitAt >= 0 && exitAt < list.length - 1) {
    const exitId = text((list[exitAt] as Record<string, unknown>).id) ?? `step ${exitAt}`;
    add([...path, exitAt + 1], `unreachable: this step comes after the exit step "${exitId}"`);
  }
  list.forEach((s, i) => {
    if (!s || typeof s !== 'object') return;
    for (const [key, value] of Object.entries(s as Record<string, unknown>)) {
      if (Array.isArray(value)) checkUnreachable(value, [...path, i, key], add);
    }
  });
}
