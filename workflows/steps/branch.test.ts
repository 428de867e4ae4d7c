/** The branch step on its own: the first case that holds, otherwise, or none. */
import { customer, journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const steps = (otherwise: boolean) => `  - id: vip
    type: branch
    cases:
      - when: customer.metrics.orderCount >= 10
        steps:
          - { id: gold, type: update, tags: { add: [gold] } }
      - when: customer.metrics.orderCount >= 3
        steps:
          - { id: silver, type: update, tags: { add: [silver] } }
${otherwise ? '    otherwise:\n      - { id: bronze, type: update, tags: { add: [bronze] } }\n' : ''}`;
const withOrders = (orderCount: number) => customer({ metrics: { ...customer().metrics, orderCount } });

test('the first case that holds is taken, and its steps run', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps(true)), { customer: withOrders(12) });
  expect(outcomes[0]!.result).toEqual({ kind: 'branch', case: 1 });
  expect(calls.updates.map((u) => u.stepId)).toEqual(['gold']);
});

test('a later case is taken when the first does not hold', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps(true)), { customer: withOrders(4) });
  expect(outcomes[0]!.result).toEqual({ kind: 'branch', case: 2 });
  expect(calls.updates.map((u) => u.stepId)).toEqual(['silver']);
});

test('otherwise runs when no case holds', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps(true)), { customer: withOrders(1) });
  expect(outcomes[0]!.result).toEqual({ kind: 'branch', case: null });
  expect(calls.updates.map((u) => u.stepId)).toEqual(['bronze']);
});

test('without otherwise, a customer no case holds for goes straight on', async () => {
  const { outcomes, calls, result } = await runJourney(server(), journeyWith(steps(false)), {
    customer: withOrders(1),
  });
  expect(outcomes[0]!.result).toEqual({ kind: 'branch', case: null });
  expect(calls.updates).toEqual([]);
  expect(result.outcome).toBe('completed');
});
