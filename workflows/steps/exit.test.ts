/** The exit step on its own: the enrollment ends there, with its reason. */
import { journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

test('ends the enrollment with its reason; nothing after it runs', async () => {
  const { outcomes, result, calls } = await runJourney(
    server(),
    journeyWith(`  - id: check
    type: branch
    cases:
      - when: customer.metrics.orderCount >= 1
        steps:
          - { id: stop, type: exit, reason: already a customer }
  - { id: never, type: update, tags: { add: [never] } }
`),
  );
  expect(outcomes.map((o) => o.result)).toEqual([
    { kind: 'branch', case: 1 },
    { kind: 'exit', reason: 'already a customer' },
  ]);
  expect(result).toMatchObject({ outcome: 'exited', reason: 'already a customer' });
  expect(calls.updates).toEqual([]);
  expect(calls.finished).toEqual([expect.objectContaining({ outcome: 'exited', reason: 'already a customer' })]);
});
