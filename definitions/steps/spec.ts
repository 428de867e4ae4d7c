/**
 * What each step kind declares about itself, once: its label, its node on the graph, its ways out
 * (the nested step lists, with the names coverage, the graph and the page give them) and the events
 * it waits for. The interpreter's nested paths, the graph, the page, scenario coverage and the
 * router's question "does this journey listen to that event?" are all read from these.
 */
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

export interface StepSpec<K extends StepKind> {
  /** What the step does, in a few words. */
  label(step: StepOf<K>): string;
  /** Its node on the graph: an action, a decision (several ways out), a wait, or the end. */
  shape: 'action' | 'decision' | 'wait' | 'end';
  /** Its ways out that run steps of their own; none when the step just goes on to the next. */
  arms(step: StepOf<K>): Arm[];
  /** The event types it waits for. */
  events(step: StepOf<K>): string[];
}

export const noArms = (): Arm[] => [];
export const noEvents = (): string[] => [];
