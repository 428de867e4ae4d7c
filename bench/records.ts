/**
 * Customer upserts and timeline writes per second, and the CDNOW sample's orders imported as
 * `rapport import orders` sends them (batches of 1,000), on PGlite and on PostgreSQL.
 */
import path from 'node:path';
import { migrate, openDatabase } from '../activities/db/database';
import { upsertCustomer } from '../activities/store/customers';
import { importOrders, IMPORT_BATCH_MAX } from '../activities/store/imports';
import { appendTimeline } from '../activities/store/timeline';
import { projectRoot } from '../paths';
import { cdnowOrders, readCdnow } from '../scripts/cdnow';
import { startPostgres } from '../test/helpers/postgres';
import type { BenchContext, Figure } from './common';
import { round } from './common';

export async function recordsBench(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.n(3000, 200);
  const figures: Figure[] = [];
  const purchases = readCdnow(path.join(projectRoot, '..', 'shared', 'data', 'cdnow', 'CDNOW_sample.txt')).slice(
    0,
    ctx.n(Infinity, 500),
  );
  // As `rapport import orders --system cdnow` sends them: every column a string, as read from the CSV.
  const orderRows = cdnowOrders(purchases).map((o, i) => ({
    line: i + 2,
    fields: { externalSystem: 'cdnow', ...o, quantity: String(o.quantity) },
  }));
  const customers = new Set(purchases.map((p) => p.customer)).size;
  const postgres = await startPostgres();
  try {
    for (const [engine, url] of [
      ['PGlite', undefined],
      ['PostgreSQL', postgres.url],
    ] as const) {
      let statements = 0;
      const database = await openDatabase({ url, onQuery: () => statements++ });
      await migrate(database.db);
      ctx.progress(`records: ${engine}, ${n} upserts`);
      let t = performance.now();
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const { customer } = await upsertCustomer(
          database.db,
          { email: `bench${i}@example.com` },
          { firstName: `C${i}` },
        );
        ids.push(customer.id);
      }
      const upserts = n / ((performance.now() - t) / 1000);
      // An update of an existing customer, found by email.
      t = performance.now();
      for (let i = 0; i < n; i++) {
        await upsertCustomer(database.db, { email: `bench${i}@example.com` }, { lastName: 'Again' });
      }
      const updates = n / ((performance.now() - t) / 1000);
      ctx.progress(`records: ${engine}, ${n} timeline writes`);
      t = performance.now();
      for (let i = 0; i < n; i++) {
        await appendTimeline(database.db, {
          customerId: ids[i % ids.length]!,
          at: new Date(),
          kind: 'message',
          summary: `email sent: bench ${i}`,
          ref: `bench:${i}`,
          data: { status: 'sent', step: 'bench' },
        });
      }
      const timeline = n / ((performance.now() - t) / 1000);
      ctx.progress(`records: ${engine}, an import of ${orderRows.length} CDNOW orders`);
      t = performance.now();
      statements = 0;
      for (let i = 0; i < orderRows.length; i += IMPORT_BATCH_MAX) {
        const report = await importOrders(database.db, orderRows.slice(i, i + IMPORT_BATCH_MAX));
        if (report.errors.length) throw new Error(`the CDNOW import refused rows: ${JSON.stringify(report.errors[0])}`);
      }
      const imported = orderRows.length / ((performance.now() - t) / 1000);
      const importStatements = statements / orderRows.length;
      await database.close();
      figures.push(
        {
          benchmark: 'records',
          name: `${engine}: new customers`,
          value: round(upserts),
          unit: 'per s',
          note: `${n}, one after another`,
        },
        { benchmark: 'records', name: `${engine}: customer updates`, value: round(updates), unit: 'per s' },
        { benchmark: 'records', name: `${engine}: timeline writes`, value: round(timeline), unit: 'per s' },
        {
          benchmark: 'records',
          name: `${engine}: orders imported`,
          value: round(imported),
          unit: 'per s',
          note: `${orderRows.length} CDNOW orders of ${customers} customers, batches of ${IMPORT_BATCH_MAX}`,
        },
        {
          benchmark: 'records',
          name: `${engine}: statements per imported order`,
          value: round(importStatements),
          unit: '',
        },
      );
    }
  } finally {
    await postgres.stop();
  }
  return figures;
}
