/**
 * Every step kind's spec, by its `type`. Each kind is one file here, its schema and its spec side by
 * side; a kind added to the schema registry does not compile until it has a spec here. `walk()` visits every step of a list,
 * nested ones included, through each kind's arms.
 */
import type { Step, StepKind } from '../schema/registry';
import { branch } from './branch';
import { digest } from './digest';
import { exit } from './exit';
import { send } from './send';
import type { Arm, CheckContext, PathSeg, StepSpec, Written } from './spec';
import { split } from './split';
import { task } from './task';
import { update } from './update';
import { wait } from './wait';
import { waitFor } from './wait-for';
import { webhook } from './webhook';

export type { Arm, CheckContext, PathSeg, StepSpec, Written };
export { text } from './spec';

export const stepSpecs = {
  send,
  wait,
  wait_for: waitFor,
  digest,
  branch,
  split,
  update,
  task,
  webhook,
  exit,
} satisfies { [K in StepKind]: StepSpec<K> };

/** The specs as functions of any step: each is called with a step of its own kind only. */
interface AnySpec extends WrittenSpec {
  shape: StepSpec<StepKind>['shape'];
  label(s: Step): string;
  arms(s: Step): Arm[];
  events(s: Step): string[];
}
const specs = stepSpecs as unknown as Record<StepKind, AnySpec>;

/** What the compiler reads of a kind's spec, for a step as written. */
type WrittenSpec = Pick<StepSpec<StepKind>, 'expressions' | 'texts' | 'exposes' | 'check'>;

/** The spec of a step as written, by its `type`; undefined for a type that is no kind (the schema says so). */
export function writtenSpec(step: Written): WrittenSpec | undefined {
  const type = step.type;
  return typeof type === 'string' && Object.hasOwn(stepSpecs, type) ? specs[type as StepKind] : undefined;
}

/** A step's spec, applied to it. */
export function specOf(step: Step): {
  shape: StepSpec<StepKind>['shape'];
  label(): string;
  arms(): Arm[];
  events(): string[];
} {
  // The registry pairs each kind with its spec (checked above), so the step fits its kind's spec.
  const spec = specs[step.type];
  return {
    shape: spec.shape,
    label: () => spec.label(step),
    arms: () => spec.arms(step),
    events: () => spec.events(step),
  };
}

/** A step's ways out (see StepSpec.arms). */
export function armsOf(step: Step): Arm[] {
  return specOf(step).arms();
}

/** What a step does, in a few words, after its id: `welcome: send email: welcome/hello`. */
export function stepLabel(step: Step): string {
  return `${step.id}: ${specOf(step).label()}`;
}

/** The event types a step waits for. */
export function eventsOf(step: Step): string[] {
  return specOf(step).events();
}

/**
 * Visits every step of `steps`, nested ones included, in order, with its path (`['steps', 2,
 * 'on_timeout', 0]`) and the arm of its parent it runs in (undefined at the top).
 */
export function walk(
  steps: readonly Step[],
  path: PathSeg[],
  visit: (step: Step, path: PathSeg[], arm?: { parent: Step; arm: Arm }) => void,
  within?: { parent: Step; arm: Arm },
): void {
  steps.forEach((step, i) => {
    visit(step, [...path, i], within);
    for (const arm of armsOf(step)) {
      if (arm.path) walk(arm.steps, [...path, i, ...arm.path], visit, { parent: step, arm });
    }
  });
}

/** The nested step lists of a step, with their paths relative to it. */
export function childLists(step: Step): { path: PathSeg[]; steps: readonly Step[] }[] {
  return armsOf(step).flatMap((a) => (a.path ? [{ path: a.path, steps: a.steps }] : []));
}
