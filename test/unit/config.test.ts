import path from 'node:path';
import { ConfigError, journeyDirs, parseConfig } from '../../worker/config';
import { projectRoot } from '../../worker/temporal/binaries';

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
    RAPPORT_JOURNEYS_DIRS: '/srv/journeys',
    RAPPORT_PUBLISH_BUILTINS: 'false',
  });
  expect(c).toMatchObject({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'journeys' });
  expect(journeyDirs(c)).toEqual(['/srv/journeys']);
});

test('mutual TLS needs both the certificate and the key', () => {
  expect(() => parseConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/cert.pem' })).toThrow(/expected both/);
});
