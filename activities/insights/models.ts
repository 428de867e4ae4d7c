/**
 * The customer value models of the customer base: fitted on every customer's orders
 * (`rapport insights fit`, POST /v1/insights/fit), kept in the database, and applied to a customer's
 * orders as they are whenever their facts are read (customer.predicted), so a prediction is never
 * older than the customer's last order.
 */
import type { Db } from '../db/database';
import { RecentResults } from '../recent-results';
import { type PredictedFacts, UNKNOWN_PREDICTION } from '../../definitions/facts';
import {
  type BgNbdParams,
  churnRisk,
  expectedPurchases,
  expectedSpend,
  fitBgNbd,
  fitGammaGamma,
  type GammaGammaParams,
  lifetimeValue,
  pAlive,
  populationSpend,
  type PurchaseSummary,
  summarize,
} from './clv';
import { fitRfm, type RfmBreakpoints } from './rfm';

export interface FittedModels {
  id: number;
  fittedAt: string;
  /** Orders up to this time were used. */
  periodEnd: string;
  /** Customers with at least one order then. */
  customers: number;
  bgnbd: BgNbdParams & { logLikelihood: number };
  gammaGamma: GammaGammaParams & { logLikelihood: number };
  /** The RFM quintile breakpoints over the same customers (absent from fits made before RFM). */
  rfm?: RfmBreakpoints;
}

/** Fewer customers than this cannot give a model worth acting on. */
const MIN_CUSTOMERS = 50;
/** How long the newest model is kept in memory before the database is asked again. */
const MODEL_TTL_MS = 60_000;

/** The newest fit, per database, as the recommendations keep theirs (activities/recent-results.ts). */
const cached = new WeakMap<Db, RecentResults<Promise<FittedModels | undefined>>>();
const LATEST = 'latest';

function cacheOf(db: Db): RecentResults<Promise<FittedModels | undefined>> {
  let cache = cached.get(db);
  if (!cache) cached.set(db, (cache = new RecentResults(1, MODEL_TTL_MS)));
  return cache;
}

/** Every customer's orders up to `end`, summarized for the models. */
async function summaries(db: Db, end: Date): Promise<PurchaseSummary[]> {
  const rows = await db
    .selectFrom('orders')
    .select(['customer_id', 'placed_at', 'total'])
    .where('placed_at', '<=', end)
    .orderBy('customer_id')
    .execute();
  const out: PurchaseSummary[] = [];
  let current: string | undefined;
  let purchases: { at: number; value: number }[] = [];
  const flush = () => {
    const s = purchases.length ? summarize(purchases, end.getTime()) : undefined;
    if (s) out.push(s);
    purchases = [];
  };
  for (const r of rows) {
    if (r.customer_id !== current) {
      flush();
      current = r.customer_id;
    }
    purchases.push({ at: new Date(r.placed_at).getTime(), value: Number(r.total) });
  }
  flush();
  return out;
}

/** Fits BG/NBD and Gamma-Gamma on every customer's orders up to `now`, and keeps the fit as the newest. */
export async function fitCustomerBase(
  db: Db,
  options: { now?: Date; progress?: (text: string) => void } = {},
): Promise<FittedModels> {
  const end = options.now ?? new Date();
  options.progress?.('reading every customer’s orders');
  const base = await summaries(db, end);
  if (base.length < MIN_CUSTOMERS) {
    throw new Error(`too few customers with orders to fit the models: ${base.length}, at least ${MIN_CUSTOMERS}`);
  }
  if (base.filter((c) => c.x > 0).length < MIN_CUSTOMERS / 5) {
    throw new Error(`too few customers who ordered twice to fit the models (at least ${MIN_CUSTOMERS / 5})`);
  }
  options.progress?.(`fitting BG/NBD and Gamma-Gamma on ${base.length} customers`);
  const bgnbd = fitBgNbd(base);
  const gammaGamma = fitGammaGamma(base);
  const rfm = await fitRfm(db, end);
  const row = await db
    .insertInto('insight_models')
    .values({
      period_end: end,
      customers: base.length,
      params: JSON.stringify({ bgnbd, gammaGamma, rfm }),
    })
    .returning(['id', 'fitted_at'])
    .executeTakeFirstOrThrow();
  const model: FittedModels = {
    id: row.id,
    fittedAt: new Date(row.fitted_at).toISOString(),
    periodEnd: end.toISOString(),
    customers: base.length,
    bgnbd,
    gammaGamma,
    ...(rfm ? { rfm } : {}),
  };
  cacheOf(db).set(LATEST, Promise.resolve(model), Date.now());
  return model;
}

/** The newest fit, or undefined before the first. Kept a minute in memory. */
export function latestModel(db: Db): Promise<FittedModels | undefined> {
  const cache = cacheOf(db);
  const now = Date.now();
  const kept = cache.get(LATEST, now);
  if (kept) return kept;
  const model = db
    .selectFrom('insight_models')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
    .then((r): FittedModels | undefined => {
      if (!r) return undefined;
      const params = r.params as Pick<FittedModels, 'bgnbd' | 'gammaGamma' | 'rfm'>;
      return {
        id: r.id,
        fittedAt: new Date(r.fitted_at).toISOString(),
        periodEnd: new Date(r.period_end).toISOString(),
        customers: r.customers,
        ...params,
      };
    });
  cache.set(LATEST, model, now);
  // A failed read is not kept: the next asks again.
  model.catch(() => cache.delete(LATEST));
  return model;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** What the newest model predicts of a customer from their orders as they are now. */
export async function predictedFor(db: Db, customerId: string, now = new Date()): Promise<PredictedFacts> {
  const model = await latestModel(db);
  if (!model) return UNKNOWN_PREDICTION;
  const orders = await db
    .selectFrom('orders')
    .select(['placed_at', 'total'])
    .where('customer_id', '=', customerId)
    .execute();
  return predictFrom(model, orders, now);
}

/** What a model predicts of a customer with these orders (all of theirs), as of `now`. */
export function predictFrom(
  model: FittedModels,
  orders: readonly { placed_at: Date | string; total: string | number }[],
  now: Date,
): PredictedFacts {
  const c = summarize(
    orders.map((o) => ({ at: new Date(o.placed_at).getTime(), value: Number(o.total) })),
    now.getTime(),
  );
  if (!c) return UNKNOWN_PREDICTION;
  const alive = pAlive(model.bgnbd, c);
  return {
    pAlive: round(alive, 4),
    orders90d: round(expectedPurchases(model.bgnbd, c, 90 / 7), 4),
    spend: round(expectedSpend(model.gammaGamma, c, populationSpend(model.gammaGamma)), 2),
    clv: round(lifetimeValue(model.bgnbd, model.gammaGamma, c), 2),
    churnRisk: churnRisk(alive),
  };
}
