/** The interpreter's handler for each step kind; the mapped type makes a missing kind a compile error. */
import type { Step, StepKind, StepOf } from '../../definitions/schema/registry';
import type { StepContext, StepResult } from './context';
import { runBranch } from './branch';
import { runDigest } from './digest';
import { runExit } from './exit';
import { runSend } from './send';
import { runSplit } from './split';
import { runTask } from './task';
import { runUpdate } from './update';
import { runWait } from './wait';
import { runWaitFor } from './wait-for';
import { runWebhook } from './webhook';

type Handlers = { [K in StepKind]: (step: StepOf<K>, ctx: StepContext) => Promise<StepResult> };

const handlers: Handlers = {
  send: runSend,
  wait: runWait,
  wait_for: runWaitFor,
  digest: runDigest,
  branch: runBranch,
  split: runSplit,
  update: runUpdate,
  task: runTask,
  webhook: runWebhook,
  exit: runExit,
};

export function runStep(step: Step, ctx: StepContext): Promise<StepResult> {
  const handler = handlers[step.type] as (s: Step, c: StepContext) => Promise<StepResult>;
  return handler(step, ctx);
}

export type { StepContext, StepResult } from './context';
