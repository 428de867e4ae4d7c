/**
 * The interpreter continues as new when Temporal suggests it (or after `maxStepsPerRun` steps):
 * the next run keeps the journey's place, its memory and the history of its steps.
 */
import { journeyWith, runJourney, timeSkippingServer } from '../test/helpers/journey-run';

const server = timeSkippingServer();

test('a journey that continues as new after every two steps keeps its place, memory and history', async () => {
  const { result, outcomes, calls } = await runJourney(
    server(),
    journeyWith(`  - { id: hello, type: send, channel: email, subject: Hi, text: Hello }
  - { id: later, type: wait, duration: 1d }
  - id: offer
    type: split
    paths:
      - { name: a, weight: 1000000, steps: [{ id: tag, type: update, tags: { add: [offer] } }] }
      - { name: holdout, weight: 1 }
  - { id: ask, type: webhook, url: "https://crm.example.com/hook", body: "{{ customer.firstName }}" }
  - { id: bye, type: send, channel: email, subject: Bye, text: Bye }
`),
    { maxStepsPerRun: 2 },
  );
  // Every step ran once, in order, across the runs.
  expect(outcomes.map((o) => o.stepId)).toEqual(['hello', 'later', 'offer', 'tag', 'ask', 'bye']);
  expect(calls.sends.map((s) => s.stepId)).toEqual(['hello', 'bye']);
  expect(calls.updates).toHaveLength(1);
  expect(calls.webhooks).toHaveLength(1);
  // The split chosen before a continue-as-new is the one remembered after it.
  expect(calls.splits).toEqual([{ stepId: 'offer', path: 'a', holdout: false }]);
  expect(result.outcome).toBe('completed');
});
