/**
 * Every step kind, by its `type`. Adding a kind here makes the compiler, the interpreter and the
 * graph fail to compile until each handles it (they are typed as records over `StepKind`).
 */
import { exitStep } from './steps/exit';
import { sendStep } from './steps/send';
import { waitStep } from './steps/wait';

export const stepSchemas = {
  send: sendStep,
  wait: waitStep,
  exit: exitStep,
} as const;

export type StepKind = keyof typeof stepSchemas;
export const stepKinds = Object.keys(stepSchemas) as StepKind[];
