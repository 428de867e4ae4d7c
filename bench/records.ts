/** Customer upserts and timeline writes per second, on PGlite and on PostgreSQL. */
import { migrate, openDatabase } from '../activities/db/database';
import { upsertCustomer } from '../activities/store/customers';
import { appendTimeline } from '../activities/store/timeline';
import { startPostgres } from '../test/helpers/postgres';
import type { BenchContext, Figure } from './common';
import { round } from './common';

export async function recordsBench(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.n(3000, 200);
  const figures: Figure[] = [];
  const postgres = await startPostgres();
  try {
    for (const [engine, url] of [
      ['PGlite', undefined],
      ['PostgreSQL', postgres.url],
    ] as const) {
      const database = await openDatabase({ url });
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
      );
    }
  } finally {
    await postgres.stop();
  }
  return figures;
}
