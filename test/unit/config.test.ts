import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, journeyDirs, parseConfig, publicUrl, unsubscribeSecrets } from '../../worker/config';
import { projectRoot } from '../../paths';

test('defaults run everything embedded', () => {
  const c = parseConfig({});
  expect(c.TEMPORAL_ADDRESS).toBeUndefined();
  expect(c.DATABASE_URL).toBeUndefined();
  expect(c.SMTP_URL).toBeUndefined();
  expect(c.RAPPORT_PORT).toBe(3000);
  expect(c.TEMPORAL_UI_PORT).toBe(8233);
  expect(c.RAPPORT_DATA_DIR).toBe(path.join(projectRoot, 'data'));
  expect(journeyDirs(c)).toEqual([path.join(projectRoot, 'definitions', 'journeys')]);
});

test('every bad value is reported at once, by name, with what was expected and what was given', () => {
  let error: unknown;
  try {
    parseConfig({
      RAPPORT_PORT: 'eighty',
      TEMPORAL_ADDRESS: 'http://temporal:7233',
      DATABASE_URL: 'mysql://db/rapport',
      SMTP_URL: 'mail.example.com',
      LOG_LEVEL: 'loud',
      TEMPORAL_TLS: 'maybe',
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems;
  expect(problems).toHaveLength(6);
  expect(problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^RAPPORT_PORT: .*port.*\(got "eighty"\)$/),
      expect.stringMatching(/^TEMPORAL_ADDRESS: expected host:port.*\(got "http:\/\/temporal:7233"\)$/),
      expect.stringMatching(/^DATABASE_URL: expected a URL such as postgres:\/\//),
      expect.stringMatching(/^SMTP_URL: expected a URL such as smtp:\/\//),
      expect.stringMatching(/^LOG_LEVEL: .*\(got "loud"\)$/),
      expect.stringMatching(/^TEMPORAL_TLS: expected true or false/),
    ]),
  );
  expect((error as Error).message).toContain("Rapport's configuration has 6 problem(s)");
});

test('a cluster, PostgreSQL and SMTP are taken as given', () => {
  const c = parseConfig({
    TEMPORAL_ADDRESS: 'temporal.internal:7233',
    TEMPORAL_NAMESPACE: 'journeys',
    TEMPORAL_API_KEY: 'key',
    DATABASE_URL: 'postgres://rapport:secret@db:5432/rapport',
    SMTP_URL: 'smtp://user:pass@smtp.example.com:587',
    RAPPORT_PUBLIC_URL: 'https://journeys.example.com',
    RAPPORT_JOURNEYS_DIRS: '/srv/journeys',
    RAPPORT_PUBLISH_BUILTINS: 'false',
  });
  expect(c).toMatchObject({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'journeys' });
  expect(journeyDirs(c)).toEqual(['/srv/journeys']);
});

test('mutual TLS needs both the certificate and the key', () => {
  expect(() => parseConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/cert.pem' })).toThrow(/expected both/);
});

test('Twilio needs the account, its token and a sender; each mistake is named', () => {
  const sid = `AC${'0'.repeat(32)}`;
  expect(() => parseConfig({ TWILIO_ACCOUNT_SID: sid })).toThrow(/TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/);
  expect(() => parseConfig({ TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: 'x' })).toThrow(
    /TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID/,
  );
  expect(() => parseConfig({ TWILIO_ACCOUNT_SID: 'AC123', TWILIO_FROM: '0612345678' })).toThrow(
    /TWILIO_ACCOUNT_SID: expected an Account SID[\s\S]*TWILIO_FROM: expected a phone number in E.164 form/,
  );
  const c = parseConfig({
    TWILIO_ACCOUNT_SID: sid,
    TWILIO_AUTH_TOKEN: 'x',
    TWILIO_FROM: '+15005550006',
    RAPPORT_PUBLIC_URL: 'https://journeys.example.com',
  });
  expect(c.TWILIO_FROM).toBe('+15005550006');
});

test('a problem with a secret names the setting and never shows the secret', () => {
  const problem = (env: NodeJS.ProcessEnv): string => {
    try {
      parseConfig(env);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('expected a configuration problem');
  };
  const short = problem({ RAPPORT_UNSUBSCRIBE_SECRET: 'hunter2-hunter2' });
  expect(short).toMatch(
    /RAPPORT_UNSUBSCRIBE_SECRET: expected at least 32 characters.*\(got a value of 15 characters, not shown\)/,
  );
  expect(short).not.toContain('hunter2');
  // A URL keeps what helps (its scheme, host, user) and loses its password.
  const url = problem({ DATABASE_URL: 'mysql://rapport:s3cr3t-pass@db:3306/rapport' });
  expect(url).toContain('(got "mysql://rapport:***@db:3306/rapport")');
  expect(url).not.toContain('s3cr3t-pass');
  // Other values are shown as given, to say what was wrong.
  expect(problem({ RAPPORT_PORT: 'eighty' })).toContain('(got "eighty")');
});

test('an unsubscribe secret is long enough, and without one a secret is generated once and kept', () => {
  expect(() => parseConfig({ RAPPORT_UNSUBSCRIBE_SECRET: 'short' })).toThrow(
    /RAPPORT_UNSUBSCRIBE_SECRET: expected at least 32 characters/,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-config-'));
  try {
    const c = parseConfig({ RAPPORT_DATA_DIR: dir });
    const first = unsubscribeSecrets(c);
    expect(first).toMatchObject({ generated: true, previous: [] });
    expect(first.current.length).toBeGreaterThanOrEqual(32);
    expect(unsubscribeSecrets(c).current).toBe(first.current);
    expect(fs.statSync(path.join(dir, 'unsubscribe.secret')).mode & 0o077).toBe(0);
    const given = parseConfig({
      RAPPORT_DATA_DIR: dir,
      RAPPORT_UNSUBSCRIBE_SECRET: 'x'.repeat(40),
      RAPPORT_UNSUBSCRIBE_PREVIOUS_SECRETS: `${'y'.repeat(40)}, ${'z'.repeat(40)}`,
    });
    expect(unsubscribeSecrets(given)).toEqual({
      current: 'x'.repeat(40),
      previous: ['y'.repeat(40), 'z'.repeat(40)],
      generated: false,
    });
    expect(publicUrl(given)).toBe('http://127.0.0.1:3000');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a process of one role needs the shared PostgreSQL and Temporal server, and says which is missing', () => {
  expect(parseConfig({}).RAPPORT_ROLE).toBe('all');
  expect(() => parseConfig({ RAPPORT_ROLE: 'api', TEMPORAL_ADDRESS: 'temporal:7233' })).toThrow(
    /RAPPORT_ROLE=api \(--role\).*expected DATABASE_URL \(a PostgreSQL server\)$/s,
  );
  expect(() => parseConfig({ RAPPORT_ROLE: 'worker' })).toThrow(
    /expected DATABASE_URL \(a PostgreSQL server\) and TEMPORAL_ADDRESS \(a Temporal server\)/,
  );
  expect(() => parseConfig({ RAPPORT_ROLE: 'router' })).toThrow(/RAPPORT_ROLE: expected all, api or worker/);
  const shared = { DATABASE_URL: 'postgres://db/rapport', TEMPORAL_ADDRESS: 'temporal:7233' };
  expect(parseConfig({ ...shared, RAPPORT_ROLE: 'worker' }).RAPPORT_ROLE).toBe('worker');
});

test('with SMTP or Twilio set, the public URL is required, and https unless on this machine', () => {
  const problems = (env: NodeJS.ProcessEnv) => {
    try {
      parseConfig(env);
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };
  const smtp = { SMTP_URL: 'smtp://smtp.example.com:587' };
  expect(problems(smtp)).toEqual([
    expect.stringMatching(
      /^RAPPORT_PUBLIC_URL: expected the address customers and Twilio reach Rapport at, since SMTP_URL is set.*http:\/\/127\.0\.0\.1:3000/,
    ),
  ]);
  const sid = `AC${'1'.repeat(32)}`;
  expect(problems({ TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: 't', TWILIO_FROM: '+15005550006' })).toEqual([
    expect.stringMatching(/^RAPPORT_PUBLIC_URL: .*since TWILIO_ACCOUNT_SID is set/),
  ]);
  expect(problems({ ...smtp, RAPPORT_PUBLIC_URL: 'http://journeys.example.com' })).toEqual([
    expect.stringMatching(/^RAPPORT_PUBLIC_URL: expected https:\/\/.*\(got "http:\/\/journeys\.example\.com"\)$/),
  ]);
  expect(problems({ ...smtp, RAPPORT_PUBLIC_URL: 'HTTP://journeys.example.com' })).toHaveLength(1);
  expect(problems({ ...smtp, RAPPORT_PUBLIC_URL: 'https://journeys.example.com' })).toEqual([]);
  expect(problems({ ...smtp, RAPPORT_PUBLIC_URL: 'http://127.0.0.1:3000' })).toEqual([]);
  expect(problems({ ...smtp, RAPPORT_PUBLIC_URL: 'http://localhost:3000' })).toEqual([]);
  // Without a provider, mail and SMS go to the outbox: no public URL is needed.
  expect(problems({})).toEqual([]);
});

test('sending limits: per channel and per sender, none by default, a bad item named', () => {
  expect(parseConfig({}).RAPPORT_SEND_RATE).toBeUndefined();
  const c = parseConfig({
    RAPPORT_SEND_RATE: 'sms=1/s, sms:+15005550006=1/s, sms:MG0123=30/s, email=20/s, email:News@Acme.example=5/min',
  });
  expect(c.RAPPORT_SEND_RATE).toEqual({
    channels: {
      sms: { perSecond: 1, capacity: 1, text: '1/s' },
      email: { perSecond: 20, capacity: 20, text: '20/s' },
    },
    senders: {
      'sms:+15005550006': { perSecond: 1, capacity: 1, text: '1/s' },
      'sms:MG0123': { perSecond: 30, capacity: 30, text: '30/s' },
      'email:news@acme.example': { perSecond: 5 / 60, capacity: 1, text: '5/min' },
    },
  });
  for (const [bad, item] of [
    ['sms=1/s, fax=3/s', 'fax=3/s'],
    ['email=0/s', 'email=0/s'],
    ['sms=1 per second', 'sms=1 per second'],
    ['sms=1/s, sms=2/s', 'sms=2/s'],
  ] as const) {
    expect(() => parseConfig({ RAPPORT_SEND_RATE: bad })).toThrow(
      expect.objectContaining({
        problems: [expect.stringContaining(`RAPPORT_SEND_RATE: item "${item}"`)],
      }) as Error,
    );
  }
});
