/**
 * Scenario expectations are read once into a typed form and checked against the steps' recorded
 * outcomes, never against their wording: a run whose step details say something else entirely
 * passes and fails the same expectations.
 */
import {
  checkExpectation,
  parseExpectation,
  reachedArms,
  type Expectation,
} from '../../client/tools/simulate/scenarios';
import { SimulationError, type SimulatedStep, type SimulationResult } from '../../client/tools/simulate/simulate';
import type { StepOutcome } from '../../workflows/types';

const enrolledAt = '2026-12-01T09:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(enrolledAt) + hours * 3_600_000).toISOString();

function step(id: string, hours: number, result: StepOutcome): SimulatedStep {
  // The wording is deliberately unlike what the workflow writes: nothing may read it.
  return {
    at: at(hours),
    local: '',
    offset: '',
    step: id,
    type: result.kind,
    outcome: 'x',
    detail: 'reworded',
    result,
  };
}

function run(steps: SimulatedStep[], extra: Partial<SimulationResult> = {}): SimulationResult {
  return {
    journey: 'j',
    version: 1,
    customer: { id: 'cus_1', timezone: 'UTC' },
    enrolledAt,
    outcome: 'completed',
    reason: null,
    goalMet: false,
    steps,
    messages: [],
    timeline: [],
    captured: [],
    events: [],
    ...extra,
  };
}

test('expectations are parsed into their typed form, with the offset in milliseconds', () => {
  expect(parseExpectation('by +3d: email onboarding/tips sent')).toEqual({
    text: 'by +3d: email onboarding/tips sent',
    kind: 'sent',
    channel: 'email',
    what: 'onboarding/tips',
    by: 3 * 86_400_000,
  });
  expect(parseExpectation('branch vip took case 2')).toMatchObject({ kind: 'branch', step: 'vip', case: 2 });
  expect(parseExpectation('branch vip took otherwise')).toMatchObject({ kind: 'branch', step: 'vip', case: null });
  expect(parseExpectation('split offer took holdout')).toMatchObject({ kind: 'split', step: 'offer', path: 'holdout' });
  expect(parseExpectation('goal met by +9d')).toMatchObject({ kind: 'goal met', by: 9 * 86_400_000 });
  expect(parseExpectation('exited "unsubscribed"')).toMatchObject({ kind: 'exited', words: 'unsubscribed' });
  expect(parseExpectation('no sms')).toMatchObject({ kind: 'not sent', channel: 'sms', what: undefined, by: Infinity });
});

test('a wording the runner does not know, or a bad offset, is refused with the forms it knows', () => {
  expect(() => parseExpectation('the customer is delighted')).toThrow(SimulationError);
  expect(() => parseExpectation('the customer is delighted')).toThrow(/expected forms such as "email onboarding/);
  expect(() => parseExpectation('by +soon: completed')).toThrow(/\+soon is not an offset such as \+3d/);
});

test('branches, splits and sends are checked against the recorded outcomes', () => {
  const r = run([
    step('vip', 0, { kind: 'branch', case: 2 }),
    step('offer', 1, { kind: 'split', path: 'holdout' }),
    step('nudge', 2, { kind: 'send', status: 'skipped', channel: 'sms', reason: 'no consent for marketing sms' }),
  ]);
  const check = (text: string) => checkExpectation(r, parseExpectation(text));
  expect(check('branch vip took case 2')).toBeUndefined();
  expect(check('branch vip took case 1')).toBe('it took reworded');
  expect(check('branch other took otherwise')).toBe('branch other was not reached');
  expect(check('split offer took holdout')).toBeUndefined();
  expect(check('split offer took treatment')).toBe('it took path holdout');
  expect(check('sms sent')).toBe('no sms was sent; nudge skipped: no consent for marketing sms');
  expect(check('by +1h: step offer reached')).toBeUndefined();
  expect(check('by +30m: step nudge reached')).toBe('steps reached: vip, offer, nudge');
});

test('a digest is checked against the count it recorded', () => {
  const r = run([step('replies', 0, { kind: 'digest', status: 'closed', event: 'comment.added', count: 3 })]);
  const check = (text: string) => checkExpectation(r, parseExpectation(text));
  expect(parseExpectation('digest replies gathered 3')).toMatchObject({ kind: 'digest', step: 'replies', count: 3 });
  expect(check('digest replies gathered 3')).toBeUndefined();
  expect(check('digest replies gathered 2')).toBe('it gathered 3');
  expect(check('digest other gathered 1')).toBe('digest other was not reached');
});

test('tasks and goals are found by their timeline references, not their summaries', () => {
  const r = run([], {
    goalMet: true,
    timeline: [
      { at: at(5), kind: 'task', summary: 'anything', data: { step: 'call' }, ref: 'created:tsk_1' },
      { at: at(30), kind: 'enrollment', summary: 'anything', data: {}, ref: 'goal:enr_1' },
    ],
  });
  const check = (text: string) => checkExpectation(r, parseExpectation(text));
  expect(check('task call created')).toBeUndefined();
  expect(check('by +1h: task call created')).toBe('created later, at +0d 5h');
  expect(check('goal met by +2d')).toBeUndefined();
  expect(check('goal met by +1d')).toBe('goal met later, at +1d 6h');
});

test('coverage reads each arm from the outcome of its step', () => {
  const r = run([
    step('vip', 0, { kind: 'branch', case: null }),
    step('activated', 1, { kind: 'wait_for', status: 'timeout', event: 'app.activated' }),
    step('call', 2, { kind: 'task', status: 'completed', taskId: 'tsk_1', outcome: 'resolved' }),
    step('offer', 3, { kind: 'split', path: 'a' }),
    step('hook', 4, { kind: 'webhook', status: 'failed', httpStatus: 500, reason: 'crm answered 500' }),
  ]);
  expect(reachedArms(r).sort()).toEqual(
    [
      'step vip',
      'branch vip otherwise',
      'step activated',
      'wait_for activated on_timeout',
      'step call',
      'task call completed',
      'step offer',
      'split offer path a',
      'step hook',
    ].sort(),
  );
});

test('every kind of expectation has a check', () => {
  const r = run([]);
  const kinds: Expectation['kind'][] = [];
  for (const text of [
    'email sent',
    'no email',
    'task t created',
    'step s reached',
    'branch b took otherwise',
    'split s took p',
    'digest d gathered 3',
    'goal met',
    'goal not met',
    'completed',
    'exited',
  ]) {
    const e = parseExpectation(text);
    kinds.push(e.kind);
    expect(() => checkExpectation(r, e)).not.toThrow();
  }
  expect(new Set(kinds).size).toBe(11);
});
