/**
 * What each step kind declares about itself, once: its label, its node on the graph, its ways out
 * (the nested step lists, with the names coverage, the graph and the page give them) and the events
 * it waits for. The interpreter's nested paths, the graph, the page, scenario coverage and the
 * router's question "does this journey listen to that event?" are all read from these.
 */
import type { CelPlace } from '../cel';
import type { EmailTemplate, SmsTemplate } from '../schema/journey';
import type { Step, StepKind, StepOf } from '../schema/registry';

export type PathSeg = string | number;

/** One way out of a step. */
export interface Arm {
  /** Its name in coverage, after the step's kind and id: `case 1`, `otherwise`, `on_event`, `path a`, `completed`. */
  name: string;
  /** The list of steps it runs, relative to the step; null for an arm without a list of its own. */
  path: PathSeg[] | null;
  steps: readonly Step[];
  /** Its label on the graph's edge. */
  edge: string;
  /** Its label above its lane on the page. */
  lane: string;
}

/**
 * A step as written in the YAML, before the schema has accepted it: the compiler reads it this way so
 * that it reports every problem of a file at once, schema errors and the rest.
 */
export type Written = Record<string, unknown>;

/** A CEL expression in a step: where it stands (relative to the step), where it is evaluated, what it gives. */
export interface CelField {
  at: PathSeg[];
  place: CelPlace;
  expect: 'bool' | 'timestamp';
}

/** What a step kind's own checks get from the compiler. */
export interface CheckContext {
  /** Reports a problem at `path` (from the journey's root). */
  problem(path: PathSeg[], message: string): void;
  /** Reports a warning at `path`: worth fixing, but the journey still compiles. */
  warn(path: PathSeg[], message: string): void;
  /** The text of a message template file (of a locale variant, with `locale`), or undefined when there is none. */
  readTemplate(name: string, channel: 'email' | 'sms', locale?: string): string | undefined;
  /** The locales a message template has a variant in (`welcome.email.fr.yaml` gives `fr`). */
  templateLocales(name: string, channel: 'email' | 'sms'): string[];
  /** Keeps a parsed template for the compiled journey, by `<channel>:<name>` (`@<locale>` for a variant). */
  keepTemplate(key: string, template: EmailTemplate | SmsTemplate): void;
  /** The variables a Liquid text reads, as dotted paths (`customer.firstName`); none without Liquid. */
  variables(source: string): string[];
  /** Checks a Liquid text: it parses and reads only known variables (`where` prefixes the message). */
  checkText(path: PathSeg[], source: unknown, where?: string): void;
  /** Whether http:// webhook URLs are accepted. */
  allowHttpWebhooks: boolean;
}

export interface StepSpec<K extends StepKind> {
  /** What the step does, in a few words. */
  label(step: StepOf<K>): string;
  /** Its node on the graph: an action, a decision (several ways out), a wait, or the end. */
  shape: 'action' | 'decision' | 'wait' | 'end';
  /** Its ways out that run steps of their own; none when the step just goes on to the next. */
  arms(step: StepOf<K>): Arm[];
  /** The event types it waits for. */
  events(step: StepOf<K>): string[];
  /** Its CEL expressions, found in the step as written. */
  expressions(step: Written): CelField[];
  /** Where its Liquid texts stand in the step as written (each checked by the compiler). */
  texts(step: Written): PathSeg[][];
  /**
   * The variable later texts read its result under, if any: `events.<id>` (one event), `tasks.<id>`,
   * or `digests`, a list of events read as `events.<id>.items` and `events.<id>.count`.
   */
  exposes?: 'events' | 'tasks' | 'digests';
  /** Checks of its own beyond its schema, on the step as written at `path`. */
  check?(step: Written, path: PathSeg[], context: CheckContext): void;
}

export const noArms = (): Arm[] => [];
export const noEvents = (): string[] => [];
export const noExpressions = (): CelField[] => [];
export const noTexts = (): PathSeg[][] => [];

/** A field of a written step that is a mapping, or an empty one. */
export function mapping(value: unknown): Written {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Written) : {};
}

/** A field of a written step that is text, or undefined when it is not, or empty. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A field of a written step that is a list, or an empty one. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
