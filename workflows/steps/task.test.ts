/** The task step on its own: created; with wait, completed in time or not. */
import { taskCompletedSignal } from '../messages';
import { journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const waiting = `  - id: call
    type: task
    team: success
    title: 'Call {{ customer.firstName }}'
    wait:
      timeout: 2d
      on_timeout:
        - { id: escalate, type: update, tags: { add: [escalated] } }
`;

test('a task without wait is created and the journey goes on', async () => {
  const { outcomes, calls } = await runJourney(
    server(),
    journeyWith(`  - { id: call, type: task, team: success, title: Call, due: 1d }
`),
  );
  expect(calls.tasks).toHaveLength(1);
  expect(calls.tasks[0]).toMatchObject({ stepId: 'call', team: 'success', title: 'Call' });
  expect(Date.parse(calls.tasks[0]!.dueAt ?? '') - Date.parse(calls.tasks[0]!.at)).toBe(86_400_000);
  expect(outcomes[0]!.result).toEqual({ kind: 'task', status: 'created', taskId: 'tsk_1', outcome: null });
});

test('a task completed in time records its outcome', async () => {
  // Completed once the journey has created it and waits for it.
  let created!: () => void;
  const taskCreated = new Promise<void>((resolve) => (created = resolve));
  const { outcomes, calls } = await runJourney(server(), journeyWith(waiting), {
    activities: {
      createTask: () => {
        created();
        return Promise.resolve('tsk_1');
      },
    },
    during: async (handle) => {
      await taskCreated;
      await handle.signal(taskCompletedSignal, {
        stepId: 'call',
        taskId: 'tsk_1',
        outcome: 'reached',
        note: null,
        completedAt: new Date().toISOString(),
      });
    },
  });
  expect(outcomes[0]!.result).toEqual({ kind: 'task', status: 'completed', taskId: 'tsk_1', outcome: 'reached' });
  expect(calls.timedOutTasks).toEqual([]);
  expect(calls.updates).toEqual([]);
});

test('a task not completed in time is marked so, and on_timeout runs', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(waiting));
  expect(outcomes[0]!.result).toEqual({ kind: 'task', status: 'timeout', taskId: 'tsk_1', outcome: null });
  expect(calls.timedOutTasks).toEqual(['tsk_1']);
  expect(calls.updates.map((u) => u.stepId)).toEqual(['escalate']);
});
