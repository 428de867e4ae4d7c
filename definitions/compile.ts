/**
 * The compiler from a journey's YAML to a validated plan. It reports every problem in a file at once,
 * each with its line and column, its path (`steps[3].sms.text`) and what was expected.
 *
 * Pure: file access comes in through `CompileOptions`, so workflow code may import this module.
 */
import { isMap, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { checkCel, type CelPlace } from './cel';
import { CUSTOMER_FIELDS, METRIC_FIELDS } from './facts';
import { journeyDefinition, type EmailTemplate, type JourneyDefinition, type SmsTemplate } from './schema/journey';
import { stepKinds, type Step } from './schema/registry';
import { walk } from './steps';
import { closest } from './suggest';
import { parseTemplateFile, type TemplateChannel } from './templates';

export interface Problem {
  file: string;
  line: number;
  column: number;
  /** Where in the definition: `steps[3].on_timeout[0].sms.text`; empty for the file as a whole. */
  path: string;
  message: string;
}

export interface CompileOptions {
  /** The text of `definitions/templates/<name>.<channel>.yaml`, or undefined when there is none. */
  readTemplate(name: string, channel: TemplateChannel): string | undefined;
  /** Liquid, supplied by the caller (the engine lives outside this pure module). */
  liquid?: {
    /** The parse problem of a template, or undefined. */
    check(source: string): string | undefined;
    /** The variable paths a template reads, such as ['customer', 'firstName']. */
    variables(source: string): (string | number)[][];
  };
  /** Accept http:// webhook URLs (for tests and private networks; https is the rule). */
  allowHttpWebhooks?: boolean;
}

interface CompiledJourney {
  definition: JourneyDefinition;
  templates: Record<string, EmailTemplate | SmsTemplate>;
}

export type CompileResult = { ok: true; journey: CompiledJourney } | { ok: false; problems: Problem[] };

type PathSeg = string | number;

function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private pos(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** The deepest node on the path that exists, and whether it is the node itself. */
  private nodeAt(path: readonly PathSeg[]): YamlNode | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return node;
    }
    return undefined;
  }

  at(path: readonly PathSeg[]): { line: number; column: number } {
    const node = this.nodeAt(path);
    return node?.range ? this.pos(node.range[0]) : { line: 1, column: 1 };
  }

  /** Position of the character `offset` inside the scalar at `path` (for CEL errors). */
  inScalar(path: readonly PathSeg[], offset: number): { line: number; column: number } {
    const node = this.doc.getIn(path, true) as (YamlNode & { type?: string }) | undefined;
    if (!node?.range) return this.at(path);
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    const plain = node.type === 'PLAIN' || quoted === 1;
    return this.pos(node.range[0] + (plain ? quoted + offset : 0));
  }

  /** Position of a key inside the mapping at `path` (for unknown fields). */
  key(path: readonly PathSeg[], key: string): { line: number; column: number } {
    const node = this.doc.getIn(path, true);
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = pair.key as YamlNode | null;
        if (k && typeof k === 'object' && 'value' in k && k.value === key && k.range) return this.pos(k.range[0]);
      }
    }
    return this.at(path);
  }
}

function valueAt(data: unknown, path: readonly PathSeg[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** The keys a strict object schema at `path` accepts, found by walking the schema along the data. */
function allowedKeys(path: readonly PathSeg[], data: unknown): string[] {
  let schema: z.ZodType | undefined = journeyDefinition;
  for (let i = 0; i <= path.length && schema; i++) {
    schema = unwrap(schema, valueAt(data, path.slice(0, i)));
    if (i === path.length) break;
    const seg = path[i]!;
    const def = schema.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
    if (def.type === 'object' && typeof seg === 'string') schema = def.shape?.[seg];
    else if (def.type === 'array') schema = def.element;
    else schema = undefined;
  }
  if (!schema) return [];
  const def = schema.def as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape).filter((k) => k !== '$schema') : [];
}

function unwrap(schema: z.ZodType, value: unknown): z.ZodType {
  for (;;) {
    const def = schema.def as {
      type: string;
      innerType?: z.ZodType;
      getter?: () => z.ZodType;
      in?: z.ZodType;
      options?: z.ZodType[];
      discriminator?: string;
    };
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') schema = def.innerType!;
    else if (def.type === 'lazy') schema = def.getter!();
    else if (def.type === 'pipe') schema = def.in!;
    else if (def.type === 'union' && def.discriminator && value && typeof value === 'object') {
      const tag = (value as Record<string, unknown>)[def.discriminator];
      const match = def.options!.find((o) => {
        const shape = (o.def as { shape?: Record<string, z.ZodType> }).shape;
        const lit = shape?.[def.discriminator!]?.def as { values?: unknown[] } | undefined;
        return lit?.values?.includes(tag);
      });
      if (!match) return schema;
      schema = match;
    } else return schema;
  }
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): { path: PathSeg[]; message: string; key?: string }[] {
  const path = issue.path.filter((s): s is PathSeg => typeof s !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(path, data);
      return issue.keys.map((key) => {
        const guess = closest(key, allowed);
        return {
          path: [...path, key],
          key,
          message:
            `unknown field "${key}"` +
            (guess ? `; did you mean "${guess}"?` : allowed.length ? `; expected one of ${allowed.join(', ')}` : ''),
        };
      });
    }
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator === 'type') {
        const value = valueAt(data, path);
        if (value === undefined) return [{ path, message: `missing "type"; expected one of ${stepKinds.join(', ')}` }];
        const guess = typeof value === 'string' ? closest(value, stepKinds) : undefined;
        return [
          {
            path,
            message:
              `unknown step type ${JSON.stringify(value)}` +
              (guess ? `; did you mean "${guess}"?` : `; expected one of ${stepKinds.join(', ')}`),
          },
        ];
      }
      return [{ path, message: issue.message }];
    }
    case 'invalid_type': {
      const value = valueAt(data, path);
      if (value === undefined) {
        const field = path[path.length - 1];
        return [{ path, message: `missing required field "${String(field)}" (expected ${issue.expected})` }];
      }
      return [{ path, message: `expected ${issue.expected}, got ${Array.isArray(value) ? 'list' : typeof value}` }];
    }
    case 'invalid_value':
      return [
        {
          path,
          message: `got ${JSON.stringify(valueAt(data, path))}; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        },
      ];
    default:
      return [{ path, message: issue.message }];
  }
}

interface StepVisit {
  step: Record<string, unknown>;
  path: PathSeg[];
}

function isStepList(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.some((v) => v && typeof v === 'object' && 'type' in v);
}

/** Every step in the raw data, nested ones included, with its path, however malformed the rest is. */
function walkSteps(list: unknown, path: PathSeg[], out: StepVisit[] = []): StepVisit[] {
  if (!Array.isArray(list)) return out;
  list.forEach((s, i) => {
    if (!s || typeof s !== 'object') return;
    const step = s as Record<string, unknown>;
    out.push({ step, path: [...path, i] });
    for (const [key, value] of Object.entries(step)) findStepLists(value, [...path, i, key], out);
  });
  return out;
}

/** Step lists nested anywhere in a value: under on_event, otherwise, cases[].steps, paths[].steps, wait.on_timeout. */
function findStepLists(value: unknown, path: PathSeg[], out: StepVisit[]): void {
  if (isStepList(value)) walkSteps(value, path, out);
  else if (Array.isArray(value)) value.forEach((v, i) => findStepLists(v, [...path, i], out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) findStepLists(v, [...path, k], out);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function compileJourney(source: string, file: string, options: CompileOptions): CompileResult {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(doc, lines);
  const problems: Problem[] = [];
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
  const data: unknown = doc.toJS();

  const parsed = journeyDefinition.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const d of describeIssue(issue, data)) {
        add(d.path, d.message, d.key !== undefined ? loc.key(d.path.slice(0, -1), d.key) : loc.at(d.path));
      }
    }
  }

  // Checks across steps, on the raw data so they are reported alongside schema errors.
  const rawSteps = (data as Record<string, unknown>).steps;
  const visits = walkSteps(rawSteps, ['steps']);
  const seen = new Map<string, string>();
  for (const { step, path } of visits) {
    const id = str(step.id);
    if (!id) continue;
    const first = seen.get(id);
    if (first) add([...path, 'id'], `duplicate step id "${id}": already used at ${first}`);
    else seen.set(id, formatPath(path));
  }
  checkUnreachable(rawSteps, ['steps'], add);

  const templates: CompiledJourney['templates'] = {};
  for (const { step, path } of visits) {
    if (step.type === 'send') resolveSendContent(step, path, options, templates, add);
  }

  checkExpressions(data as Record<string, unknown>, visits, loc, add);
  checkTexts(visits, templates, options, add);
  {
    if (!options.allowHttpWebhooks) {
      for (const { step, path } of visits) {
        if (step.type === 'webhook' && typeof step.url === 'string' && step.url.startsWith('http://')) {
          add(
            [...path, 'url'],
            'expected an https:// URL (http is allowed only where configured for private networks)',
          );
        }
      }
    }
  }

  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, problems };
  }
  return { ok: true, journey: { definition: parsed.data, templates } };
}

function checkUnreachable(list: unknown, path: PathSeg[], add: (p: PathSeg[], m: string) => void): void {
  if (!Array.isArray(list)) return;
  const exitAt = list.findIndex((s) => s && typeof s === 'object' && (s as Record<string, unknown>).type === 'exit');
  if (exitAt >= 0 && exitAt < list.length - 1) {
    const exitId = str((list[exitAt] as Record<string, unknown>).id) ?? `step ${exitAt}`;
    add([...path, exitAt + 1], `unreachable: this step comes after the exit step "${exitId}"`);
  }
  list.forEach((s, i) => {
    if (!s || typeof s !== 'object') return;
    for (const [key, value] of Object.entries(s as Record<string, unknown>)) {
      if (Array.isArray(value)) checkUnreachable(value, [...path, i, key], add);
    }
  });
}

function resolveSendContent(
  step: Record<string, unknown>,
  path: PathSeg[],
  options: CompileOptions,
  templates: CompiledJourney['templates'],
  add: (p: PathSeg[], m: string) => void,
): void {
  const channel = step.channel;
  const block = (key: 'email' | 'sms'): Record<string, unknown> | undefined => {
    const b = step[key];
    return b && typeof b === 'object' ? (b as Record<string, unknown>) : undefined;
  };
  const needs: { channel: TemplateChannel; content: Record<string, unknown>; at: PathSeg[] }[] = [];
  if (channel === 'email')
    needs.push({ channel: 'email', content: block('email') ?? step, at: block('email') ? [...path, 'email'] : path });
  else if (channel === 'sms')
    needs.push({ channel: 'sms', content: block('sms') ?? step, at: block('sms') ? [...path, 'sms'] : path });
  else if (channel === 'preferred') {
    for (const c of ['email', 'sms'] as const) {
      const b = block(c);
      if (b) needs.push({ channel: c, content: b, at: [...path, c] });
      else if (str(step.template)) needs.push({ channel: c, content: { template: step.template }, at: path });
      else
        add(
          path,
          `a send on the preferred channel needs an "${c}:" block (or a template with both an email and an sms file)`,
        );
    }
  } else return; // the schema reports a bad channel

  for (const need of needs) {
    const template = str(need.content.template);
    if (template) {
      const text = options.readTemplate(template, need.channel);
      if (text === undefined) {
        add(
          [...need.at, 'template'],
          `unknown template "${template}": no definitions/templates/${template}.${need.channel}.yaml`,
        );
        continue;
      }
      const parsed = parseTemplateFile(text, need.channel);
      if ('problem' in parsed)
        add([...need.at, 'template'], `template ${template}.${need.channel}.yaml: ${parsed.problem}`);
      else templates[`${need.channel}:${template}`] = parsed.template;
    } else if (need.channel === 'email') {
      if (!str(need.content.subject) || !str(need.content.text)) {
        add(need.at, 'an email needs a template, or a subject and a text');
      }
    } else if (!str(need.content.text)) {
      add(need.at, 'an sms needs a template or a text');
    }
  }
}

type Add = (p: PathSeg[], m: string, at?: { line: number; column: number }) => void;

type Expr = { path: PathSeg[]; source: string; place: CelPlace; expect: 'bool' | 'timestamp' };

/** Every CEL expression of the journey, with where it stands and what it must give (on the raw data). */
function expressions(data: Record<string, unknown>, visits: StepVisit[]): Expr[] {
  const out: Expr[] = [];
  const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const push = (path: PathSeg[], v: unknown, place: CelPlace, expect: Expr['expect'] = 'bool') => {
    if (typeof v === 'string' && v.length > 0) out.push({ path, source: v, place, expect });
  };
  push(['trigger', 'when'], obj(data.trigger).when, 'trigger');
  push(['trigger', 'segment'], obj(data.trigger).segment, 'segment');
  push(['goal', 'when'], obj(data.goal).when, 'goal');
  for (const { step, path } of visits) {
    if (step.type === 'wait') push([...path, 'until_expr'], step.until_expr, 'step', 'timestamp');
    else if (step.type === 'wait_for') push([...path, 'when'], step.when, 'wait_for');
    else if (step.type === 'branch' && Array.isArray(step.cases)) {
      step.cases.forEach((c, i) => push([...path, 'cases', i, 'when'], obj(c).when, 'step'));
    }
  }
  return out;
}

function checkExpressions(data: Record<string, unknown>, visits: StepVisit[], loc: Locator, add: Add): void {
  for (const e of expressions(data, visits)) {
    const problem = checkCel(e.source, e.place, e.expect);
    if (problem) add(e.path, `CEL: ${problem.message}`, loc.inScalar(e.path, problem.offset));
  }
}

const CUSTOMER_FIELD_NAMES = Object.keys(CUSTOMER_FIELDS);
const METRIC_FIELD_NAMES = Object.keys(METRIC_FIELDS);
const EVENT_FIELDS = ['id', 'type', 'occurredAt', 'data'];

/** Checks the variables a template reads; returns the first unknown one, described. */
function unknownVariable(
  segments: (string | number)[],
  known: { waitFor: Set<string>; tasks: Set<string> },
): string | undefined {
  const [root, second, third] = segments.map(String);
  const guess = (word: string | undefined, options: readonly string[]) => {
    const g = word ? closest(word, options) : undefined;
    return g ? `; did you mean "${g}"?` : '';
  };
  switch (root) {
    case 'customer':
      if (second !== undefined && !CUSTOMER_FIELD_NAMES.includes(second))
        return `unknown variable customer.${second}${guess(second, CUSTOMER_FIELD_NAMES)}`;
      if (second === 'metrics' && third !== undefined && !METRIC_FIELD_NAMES.includes(third))
        return `unknown variable customer.metrics.${third}${guess(third, METRIC_FIELD_NAMES)}`;
      return undefined;
    case 'event':
      return second !== undefined && !EVENT_FIELDS.includes(second)
        ? `unknown variable event.${second}${guess(second, EVENT_FIELDS)}`
        : undefined;
    case 'events':
      return second !== undefined && !known.waitFor.has(second)
        ? `unknown variable events.${second}: no wait_for step has that id${guess(second, [...known.waitFor])}`
        : undefined;
    case 'tasks':
      return second !== undefined && !known.tasks.has(second)
        ? `unknown variable tasks.${second}: no task step has that id${guess(second, [...known.tasks])}`
        : undefined;
    case 'journey':
      return second !== undefined && !['id', 'version', 'enrolledAt', 'name'].includes(second)
        ? `unknown variable journey.${second}`
        : undefined;
    case 'now':
    case 'unsubscribeUrl':
      return undefined;
    default:
      return `unknown variable ${root ?? ''}${guess(root, ['customer', 'event', 'events', 'tasks', 'journey', 'now', 'unsubscribeUrl'])}; templates can read customer, event, events, tasks, journey, now and unsubscribeUrl`;
  }
}

/** Liquid in messages, titles, webhook bodies and set values: it parses, and reads only known variables. */
function checkTexts(
  visits: StepVisit[],
  templates: CompiledJourney['templates'],
  options: CompileOptions,
  add: Add,
): void {
  const liquid = options.liquid;
  if (!liquid) return;
  const known = { waitFor: new Set<string>(), tasks: new Set<string>() };
  for (const { step } of visits) {
    if (step.type === 'wait_for' && typeof step.id === 'string') known.waitFor.add(step.id);
    if (step.type === 'task' && typeof step.id === 'string') known.tasks.add(step.id);
  }
  const check = (path: PathSeg[], source: unknown, where = '') => {
    if (typeof source !== 'string') return;
    const problem = liquid.check(source);
    if (problem) {
      add(path, `${where}Liquid: ${problem}`);
      return;
    }
    for (const segments of liquid.variables(source)) {
      const unknown = unknownVariable(segments, known);
      if (unknown) {
        add(path, `${where}${unknown}`);
        return;
      }
    }
  };
  const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);
  for (const { step, path } of visits) {
    switch (step.type) {
      case 'send': {
        for (const key of ['subject', 'text', 'html']) check([...path, key], step[key]);
        for (const block of ['email', 'sms']) {
          const b = obj(step[block]);
          for (const key of ['subject', 'text', 'html']) check([...path, block, key], b?.[key]);
        }
        const names = [step.template, obj(step.email)?.template, obj(step.sms)?.template].filter(
          (n): n is string => typeof n === 'string' && n.length > 0,
        );
        for (const name of new Set(names)) {
          for (const channel of ['email', 'sms'] as const) {
            const t = templates[`${channel}:${name}`] as Record<string, string> | undefined;
            for (const [key, value] of Object.entries(t ?? {})) {
              check([...path, 'template'], value, `template ${name}.${channel}.yaml, ${key}: `);
            }
          }
        }
        break;
      }
      case 'task':
        check([...path, 'title'], step.title);
        check([...path, 'description'], step.description);
        break;
      case 'webhook':
        check([...path, 'body'], step.body);
        break;
      case 'update':
        for (const [key, value] of Object.entries(obj(obj(step.set)?.attributes) ?? {})) {
          check([...path, 'set', 'attributes', key], value);
        }
        break;
      default:
        break;
    }
  }
}

/** Calls `visit` for every step, nested ones included, with its path. */
export function forEachStep(
  steps: readonly Step[],
  path: PathSeg[],
  visit: (step: Step, path: PathSeg[]) => void,
): void {
  walk(steps, path, (step, at) => visit(step, at));
}
