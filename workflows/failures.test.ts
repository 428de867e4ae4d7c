/**
 * A step that fails for good ends the enrollment as `failed`, recorded with its reason, and the run
 * fails with it, instead of the enrollment staying active for ever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { Activities, FinishRequest } from '../activities';
import { journeyWith, runJourney, timeSkippingServer } from '../test/helpers/journey-run';

const server = timeSkippingServer();

const steps = `  - { id: call, type: task, team: success, title: 'Call {{ customer.firstName }}' }
  - id: vip
    type: branch
    cases:
      - when: customer.metrics.orderCount >= 10
        steps: [{ id: gold, type: update, tags: { add: [gold] } }]
  - { id: thanks, type: send, channel: email, subject: Thanks, text: Thanks }
`;

async function failedRun(activities: Partial<Activities>) {
  const finished: FinishRequest[] = [];
  const sends: string[] = [];
  const failure = await runJourney(server(), journeyWith(steps), {
    activities: {
      ...activities,
      finishEnrollment: (req) => Promise.resolve(void finished.push(req)),
      sendMessage: (req) => {
        sends.push(req.stepId);
        return Promise.resolve({ status: 'sent', channel: 'email', sendKey: req.keyBase });
      },
    },
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { failure, finished, sends };
}

test('an activity that fails for good: the enrollment is recorded failed, with the step and the reason', async () => {
  const { failure, finished, sends } = await failedRun({
    createTask: () => Promise.reject(ApplicationFailure.nonRetryable('unknown filter "shout" in the title')),
  });
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(finished).toHaveLength(1);
  expect(finished[0]).toMatchObject({ outcome: 'failed' });
  expect(finished[0]!.reason).toMatch(/^step call failed: .*unknown filter "shout" in the title/);
  // Nothing after the failed step ran.
  expect(sends).toEqual([]);
});

test('an error of the workflow itself fails the run, recorded, instead of retrying its task for ever', async () => {
  // The customer is gone when the branch loads them to evaluate its case.
  const { failure, finished } = await failedRun({ loadCustomer: () => Promise.resolve(null) });
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
  expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'StepFailed', nonRetryable: true });
  expect(finished.map((f) => [f.outcome, f.reason])).toEqual([
    ['failed', 'step vip failed: customer cus_test not found'],
  ]);
});
