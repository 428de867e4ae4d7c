/**
 * The customer value models in use: the CDNOW sample's orders imported as a shop would, the models
 * fitted through the API on the 39 weeks from 1997-01-01 (the published parameters come out), and a
 * journey that triggers on a customer's churn risk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHarness, type Harness } from '../../client/tools/testing/harness';
import type { FittedModels } from '../../activities/insights/models';
import { listAudit } from '../../activities/store/audit';
import { findCustomer } from '../../activities/store/customers';
import { projectRoot } from '../../paths';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    journeys: {
      'save.yaml': `
journey: save
name: Save a customer drifting away
category: service
trigger:
  event: churn.check
  when: "customer.predicted.churnRisk == 'high'"
steps:
  - id: hello
    type: send
    channel: email
    subject: "We miss you"
    text: "Come back."
`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
  h.stack.api.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}) });

test('before any orders there is no model, and fitting says why it cannot', async () => {
  expect((await api('GET', '/v1/insights')).statusCode).toBe(404);
  const fit = await api('POST', '/v1/insights/fit', {});
  expect(fit.statusCode).toBe(422);
  expect(fit.body).toContain('too few customers with orders to fit the models: 0');
});

test('the sample imported and fitted through the API: the published parameters, and journeys act on the predictions', async () => {
  const file = path.join(projectRoot, '..', 'shared', 'data', 'cdnow', 'CDNOW_sample.txt');
  const rows = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 5)
    .map(([id, , date, , dollars], i) => ({
      line: i + 1,
      fields: { externalSystem: 'cdnow', externalId: id, orderId: `cdnow-${i}`, occurredAt: date, total: dollars },
    }));
  for (let i = 0; i < rows.length; i += 500) {
    const r = await api('POST', '/v1/imports/orders', { rows: rows.slice(i, i + 500) });
    expect(r.statusCode).toBe(200);
    expect(r.json<{ errors: unknown[] }>().errors).toEqual([]);
  }

  const fitted = await api('POST', '/v1/insights/fit', { asOf: '1997-09-30T00:00:00Z' });
  expect(fitted.statusCode).toBe(200);
  const m = fitted.json<FittedModels>();
  expect(m.customers).toBe(2357);
  const sig3 = (v: number) => Number(v.toPrecision(3));
  expect([m.bgnbd.r, m.bgnbd.alpha, m.bgnbd.a, m.bgnbd.b].map(sig3)).toEqual([0.243, 4.41, 0.793, 2.43]);
  expect([m.gammaGamma.p, m.gammaGamma.q, m.gammaGamma.gamma].map(sig3)).toEqual([6.25, 3.74, 15.4]);
  expect((await api('GET', '/v1/insights')).json<FittedModels>().id).toBe(m.id);
  // The fit is in the audit trail (the refused one before is not), by its id and count of customers.
  expect((await listAudit(h.stack.db, { action: 'insights.fit', limit: 10 })).entries).toMatchObject([
    { actor: 'local', target: `insights:${m.id}`, detail: { customers: 2357, asOf: '1997-09-30T00:00:00Z' } },
  ]);

  // Today, decades after their last order: a customer who bought again and again and then stopped is
  // gone to the model; one who bought once tells it nothing.
  const orders = new Map<string, number>();
  for (const r of rows) orders.set(r.fields.externalId!, (orders.get(r.fields.externalId!) ?? 0) + 1);
  const often = [...orders].find(([, n]) => n >= 3)![0];
  const single = [...orders].find(([, n]) => n === 1)![0];
  const idOf = async (id: string) => (await findCustomer(h.stack.db, { externalId: { system: 'cdnow', id } }))!.id;
  const repeat = (await api('GET', `/v1/customers/${await idOf(often)}`)).json<{
    customer: { id: string; predicted: { pAlive: number; churnRisk: string; clv: number } };
  }>();
  expect(repeat.customer.predicted.churnRisk).toBe('high');
  expect(repeat.customer.predicted.pAlive).toBeLessThan(0.01);
  const once = (await api('GET', `/v1/customers/${await idOf(single)}`)).json<{
    customer: { id: string; predicted: { churnRisk: string } };
  }>();
  expect(once.customer.predicted.churnRisk).toBe('low');

  const gone = await h.send({ type: 'churn.check', customer: { id: repeat.customer.id } });
  expect(gone.enrolled.map((e) => e.journey)).toEqual(['save']);
  const kept = await h.send({ type: 'churn.check', customer: { id: once.customer.id } });
  expect(kept.enrolled).toEqual([]);
  expect(kept.notEnrolled).toEqual([{ journey: 'save', reason: 'trigger condition does not hold' }]);
  // 6,919 orders imported a batch at a time, then a fit: longer than most tests on a busy machine.
}, 600_000);
