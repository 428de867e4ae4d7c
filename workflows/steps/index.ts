/** The interpreter's handler for each step kind; the mapped type makes a missing kind a compile error. */
import type { StepKind } from '../../definitions/schema/registry';
import type { Step, StepOf } from '../../definitions/schema/journey';
import type { StepContext, StepResult } from './context';
import { runExit } from './exit';
import { runSend } from './send';
import { runWait } from './wait';

type Handlers = { [K in StepKind]: (step: StepOf<K>, ctx: StepContext) => Promise<StepResult> };

const handlers: Handlers = {
  send: runSend,
  wait: runWait,
  exit: runExit,
};

export function runStep(step: Step, ctx: StepContext): Promise<StepResult> {
  const handler = handlers[step.type] as (s: Step, c: StepContext) => Promise<StepResult>;
  return handler(step, ctx);
}

export type { StepContext, StepResult } from './context';
