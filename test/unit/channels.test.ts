/**
 * The channels' pure parts: unsubscribe tokens, SMS keywords, segment counting, and how provider
 * failures are classified.
 */
import twilio from 'twilio';
import { classifySmtpError } from '../../activities/channels/email';
import { classifyTwilioError, smsSegments } from '../../activities/channels/sms';
import { smsKeyword } from '../../activities/channels/sms-keywords';
import { signUnsubscribe, unsubscribeKeys, verifyUnsubscribe } from '../../activities/channels/unsubscribe';

describe('unsubscribe tokens', () => {
  const keys = unsubscribeKeys('a-secret-of-at-least-thirty-two-characters');
  const token = signUnsubscribe(keys, { customerId: 'cus_01', sendKeyHash: 'abc123' });

  test('a token verifies and names the customer, and no address', () => {
    const v = verifyUnsubscribe(keys, token);
    expect(v).toMatchObject({ ok: true, payload: { c: 'cus_01', l: 'marketing', s: 'abc123', v: 1 } });
    expect(token).not.toMatch(/@/);
  });

  test('a tampered payload or signature is refused', () => {
    const [body, sig] = token.split('.') as [string, string];
    const otherBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), c: 'cus_02' }),
    ).toString('base64url');
    expect(verifyUnsubscribe(keys, `${otherBody}.${sig}`)).toEqual({ ok: false, reason: 'bad signature' });
    const flipped = sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A');
    expect(verifyUnsubscribe(keys, `${body}.${flipped}`)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyUnsubscribe(keys, 'not-a-token')).toEqual({ ok: false, reason: 'malformed token' });
    expect(verifyUnsubscribe(keys, '.')).toEqual({ ok: false, reason: 'malformed token' });
  });

  test('a token of another instance (another secret) is refused', () => {
    const foreign = signUnsubscribe(unsubscribeKeys('some-other-secret-of-thirty-two-chars!!'), {
      customerId: 'cus_01',
      sendKeyHash: 'abc123',
    });
    expect(verifyUnsubscribe(keys, foreign)).toMatchObject({ ok: false });
  });

  test('after rotation, links signed with the previous secret keep working', () => {
    const rotated = unsubscribeKeys('the-new-secret-of-thirty-two-characters', [
      'a-secret-of-at-least-thirty-two-characters',
    ]);
    expect(verifyUnsubscribe(rotated, token).ok).toBe(true);
    const fresh = signUnsubscribe(rotated, { customerId: 'cus_01', sendKeyHash: 'x' });
    expect(verifyUnsubscribe(keys, fresh).ok).toBe(false);
  });
});

describe('SMS keywords', () => {
  test.each([
    'STOP',
    'stop',
    ' Stop ',
    'stop.',
    'STOPALL',
    'stop all',
    'Stop All',
    'UNSUBSCRIBE',
    'unsubscribe',
    'CANCEL',
    'cancel',
    'END',
    'end',
    'QUIT',
    'Quit!',
    'REVOKE',
    'revoke',
    'OPT OUT',
    'opt out',
    'Opt-Out',
    'optout',
    'opt  out',
  ])('%j opts out', (text) => {
    expect(smsKeyword(text)).toBe('stop');
  });

  test.each(['START', 'start', 'Unstop', ' UNSTOP '])('%j opts in again', (text) => {
    expect(smsKeyword(text)).toBe('start');
  });

  test.each(['HELP', 'help', 'Help?', 'INFO'])('%j asks for help', (text) => {
    expect(smsKeyword(text)).toBe('help');
  });

  test.each(['Thanks!', 'stop sending me these at night', 'the end', 'STOPPED', ''])('%j is a message', (text) => {
    expect(smsKeyword(text)).toBeUndefined();
  });
});

test('SMS segments and encoding', () => {
  expect(smsSegments('Your order has shipped.')).toEqual({ encoding: 'GSM-7', segments: 1 });
  expect(smsSegments('x'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1 });
  expect(smsSegments('x'.repeat(161))).toEqual({ encoding: 'GSM-7', segments: 2 });
  // One character outside GSM-7 makes the whole message UCS-2: 70 characters a segment alone, 67 once split.
  expect(smsSegments('ж'.repeat(70))).toEqual({ encoding: 'UCS-2', segments: 1 });
  expect(smsSegments('ж'.repeat(71))).toEqual({ encoding: 'UCS-2', segments: 2 });
  expect(smsSegments(`${'x'.repeat(70)}ж`)).toEqual({ encoding: 'UCS-2', segments: 2 });
  expect(smsSegments('Merci 🎉')).toEqual({ encoding: 'UCS-2', segments: 1 });
  expect(smsSegments('é🎉'.repeat(40))).toEqual({ encoding: 'UCS-2', segments: 2 }); // 120 UTF-16 units
  expect(smsSegments('é🎉'.repeat(50))).toEqual({ encoding: 'UCS-2', segments: 3 }); // 150
});

describe('SMTP failures', () => {
  test('5xx is permanent; 550-553 also suppress the address', () => {
    expect(classifySmtpError({ responseCode: 550, response: '550 no such user' }, false)).toMatchObject({
      kind: 'permanent',
      code: 550,
      suppress: 'hard_bounce',
    });
    expect(classifySmtpError({ responseCode: 554, response: '554 rejected' }, true)).toMatchObject({
      kind: 'permanent',
      suppress: undefined,
    });
  });

  test('4xx is retried, whenever it comes', () => {
    // 421 and 451 are how relays say "too fast, later".
    expect(classifySmtpError({ responseCode: 421 }, false).kind).toBe('retryable');
    expect(classifySmtpError({ responseCode: 451 }, false).kind).toBe('retryable');
    expect(classifySmtpError({ responseCode: 452 }, true).kind).toBe('retryable');
  });

  test('a broken connection is retried before the message was handed over, and ambiguous after', () => {
    expect(classifySmtpError({ code: 'ECONNECTION', message: 'Connection closed' }, false).kind).toBe('retryable');
    expect(classifySmtpError({ code: 'ETIMEDOUT', message: 'Timeout' }, true).kind).toBe('ambiguous');
  });
});

describe('Twilio failures', () => {
  const rest = (status: number, code: number) =>
    new twilio.RestException({ statusCode: status, body: { code, message: 'x', status } });

  test('21211 and 21610 are permanent; 21610 suppresses SMS', () => {
    expect(classifyTwilioError(rest(400, 21211))).toMatchObject({ kind: 'permanent', code: 21211 });
    expect(classifyTwilioError(rest(400, 21610))).toMatchObject({ kind: 'permanent', suppress: 'stop' });
  });

  test('429 and 5xx are retried', () => {
    expect(classifyTwilioError(rest(429, 20429)).kind).toBe('retryable');
    expect(classifyTwilioError(rest(500, 20500)).kind).toBe('retryable');
    expect(classifyTwilioError(rest(503, 20503)).kind).toBe('retryable');
  });

  test('a timeout is ambiguous; a refused connection never reached Twilio', () => {
    expect(classifyTwilioError(Object.assign(new Error('timeout'), { code: 'ECONNABORTED' })).kind).toBe('ambiguous');
    expect(classifyTwilioError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).kind).toBe('retryable');
  });
});
