/** The update step on its own: the change it asks for, keyed so a retry changes nothing twice. */
import { journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

test('asks for the change to the record, once, with a key of its own', async () => {
  const { outcomes, calls } = await runJourney(
    server(),
    journeyWith(`  - id: promote
    type: update
    set: { lifecycleStage: repeat_customer, attributes: { tier: '{{ event.data.tier }}' } }
    tags: { add: [vip], remove: [new] }
`),
    { data: { tier: 'gold' } },
  );
  expect(calls.updates).toHaveLength(1);
  expect(calls.updates[0]).toMatchObject({
    stepId: 'promote',
    set: { lifecycleStage: 'repeat_customer', attributes: { tier: '{{ event.data.tier }}' } },
    tags: { add: ['vip'], remove: ['new'] },
  });
  expect(calls.updates[0]!.changeKey).toMatch(/^update:enr_\d+:promote:0$/);
  expect(outcomes[0]!.result).toEqual({ kind: 'update' });
});
