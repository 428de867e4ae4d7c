/**
 * The benchmark's workflow bundle: Rapport's workflows, and the same journey written by hand as a
 * plain Temporal workflow calling the same activities, for the interpreter's overhead.
 */
import { sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA_STEP } from '../definitions/search-attributes';
import { acts } from '../workflows/activities';

export * from '../workflows';

export interface RawInput {
  customerId: string;
  enrollmentId: string;
  /** Adds what Rapport's interpreter does besides the journey's own activities. */
  with?: { searchAttributes?: boolean; records?: boolean };
}

const event = { id: 'bench', type: 'bench.start', occurredAt: '2026-01-01T00:00:00Z', data: {} };

/** send, wait 1s, branch on the customer's orders, send, update: what bench-journey.yaml says. */
export async function rawJourneyWorkflow(input: RawInput): Promise<string> {
  const base = {
    customerId: input.customerId,
    journeyId: 'bench-raw',
    version: 1,
    category: 'transactional' as const,
    channel: 'email' as const,
    event,
    events: {},
    tasks: {},
    enrolledAt: new Date().toISOString(),
  };
  const send = (stepId: string, subject: string) =>
    acts.sendMessage({
      ...base,
      keyBase: `send:${input.enrollmentId}:${stepId}:1`,
      stepId,
      email: { subject, text: 'Hello {{ customer.firstName }}.' },
      at: new Date().toISOString(),
    });
  // Rapport sets the step search attribute where a customer waits, and to the outcome at the end.
  const step = (id: string) => {
    if (input.with?.searchAttributes) upsertSearchAttributes([{ key: SA_STEP, value: id }]);
  };
  await send('hello', 'Hello');
  step('pause');
  if (input.with?.records)
    await acts.markStep({ enrollmentId: input.enrollmentId, stepId: 'pause', waitingFor: 'timer' });
  await sleep('1s');
  const customer = await acts.loadCustomer({ customerId: input.customerId });
  if ((customer?.metrics.orderCount ?? 0) > 0) await send('buyer', 'For our buyers');
  else await send('browser', 'For our browsers');
  const now = new Date().toISOString();
  await acts.updateCustomer({
    customerId: input.customerId,
    journeyId: 'bench-raw',
    stepId: 'mark',
    changeKey: `update:${workflowInfo().workflowId}:mark`,
    set: { attributes: { benchDone: 'yes' } },
    facts: {
      ...(customer ? { customer } : {}),
      event,
      journey: { id: 'bench-raw', version: 1, enrolledAt: base.enrolledAt },
      now,
    },
    at: now,
  });
  step('completed');
  if (input.with?.records) {
    await acts.finishEnrollment({
      enrollmentId: input.enrollmentId,
      customerId: input.customerId,
      journeyId: 'bench-raw',
      outcome: 'completed',
      at: new Date().toISOString(),
    });
  }
  return 'completed';
}
