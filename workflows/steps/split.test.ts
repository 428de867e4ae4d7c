/** The split step on its own: a path is chosen, recorded, and run; a holdout runs nothing. */
import { journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const steps = (aWeight: number, holdoutWeight: number) => `  - id: offer
    type: split
    paths:
      - name: a
        weight: ${aWeight}
        steps:
          - { id: offer-a, type: update, tags: { add: [offer-a] } }
      - { name: holdout, weight: ${holdoutWeight} }
  - { id: after, type: update, tags: { add: [after] } }
`;

test('the chosen path is recorded and its steps run', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps(1_000_000, 1)));
  expect(outcomes[0]!.result).toEqual({ kind: 'split', path: 'a' });
  expect(calls.splits).toEqual([{ stepId: 'offer', path: 'a', holdout: false }]);
  expect(calls.updates.map((u) => u.stepId)).toEqual(['offer-a', 'after']);
});

test('a customer held out runs none of the steps of a path, and goes on', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps(1, 1_000_000)));
  expect(outcomes[0]!.result).toEqual({ kind: 'split', path: 'holdout' });
  expect(calls.splits).toEqual([{ stepId: 'offer', path: 'holdout', holdout: true }]);
  expect(calls.updates.map((u) => u.stepId)).toEqual(['after']);
});
