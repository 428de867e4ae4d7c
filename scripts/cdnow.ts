/**
 * Converts the CDNOW purchase records (../shared/data/cdnow/) into an orders CSV for
 * `rapport import orders`: one row per purchase, the customer named by their CDNOW id.
 *
 *   npm run cdnow -- ../shared/data/cdnow/CDNOW_master.txt data/cdnow-orders.csv
 *   npm run rapport -- import orders data/cdnow-orders.csv --system cdnow
 *
 * Both files work and name customers alike: the sample's first column is the customer's id in the
 * master file (its second is the customer's rank in the sample). Order ids are the customer id and the purchase's
 * rank among that customer's rows, so converting again gives the same ids and importing again
 * changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface CdnowPurchase {
  customer: string;
  date: string;
  cds: number;
  dollars: number;
}

/** The purchases of a CDNOW file, in file order. */
export function readCdnow(file: string): CdnowPurchase[] {
  const rows: CdnowPurchase[] = [];
  for (const [i, raw] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    const cols = raw.trim().split(/\s+/);
    if (cols.length < 4 || !/^\d+$/.test(cols[0]!)) continue; // the header, blank lines
    // master: id date cds dollars; sample: id rank-in-sample date cds dollars
    const [customer, date, cds, dollars] = cols.length >= 5 ? [cols[0], ...cols.slice(2)] : cols;
    if (!customer || !/^\d{8}$/.test(date ?? '')) throw new Error(`${file}:${i + 1}: expected a CDNOW purchase row`);
    rows.push({ customer: String(Number(customer)), date: date!, cds: Number(cds), dollars: Number(dollars) });
  }
  return rows;
}

/** The purchases as order rows, as `rapport import orders` reads them (with `--system cdnow`). */
export function cdnowOrders(
  purchases: CdnowPurchase[],
): { externalId: string; orderId: string; occurredAt: string; quantity: number; total: string }[] {
  const rank = new Map<string, number>();
  return purchases.map((p) => {
    const n = (rank.get(p.customer) ?? 0) + 1;
    rank.set(p.customer, n);
    return {
      externalId: p.customer,
      orderId: `cdnow-${p.customer}-${n}`,
      occurredAt: p.date,
      quantity: p.cds,
      total: p.dollars.toFixed(2),
    };
  });
}

export function cdnowOrdersCsv(purchases: CdnowPurchase[]): string {
  const lines = ['externalId,orderId,occurredAt,quantity,total'];
  for (const o of cdnowOrders(purchases)) {
    lines.push(`${o.externalId},${o.orderId},${o.occurredAt},${o.quantity},${o.total}`);
  }
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    process.stderr.write('usage: npm run cdnow -- <CDNOW_master.txt|CDNOW_sample.txt> <out.csv>\n');
    process.exit(2);
  }
  const purchases = readCdnow(input);
  fs.mkdirSync(path.dirname(path.resolve(output)), { recursive: true });
  fs.writeFileSync(output, cdnowOrdersCsv(purchases));
  const customers = new Set(purchases.map((p) => p.customer)).size;
  process.stdout.write(`${output}: ${purchases.length} orders of ${customers} customers\n`);
}
