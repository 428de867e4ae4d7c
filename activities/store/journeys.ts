import type { ExpressionBuilder } from 'kysely';
import type { Db } from '../db/database';
import type { Database, JourneyStatus } from '../db/schema';
import type { JourneyPlan } from '../../definitions/schema/journey';

export interface PublishedVersion {
  journeyId: string;
  status: JourneyStatus;
  version: number;
  contentHash: string;
  plan: JourneyPlan;
  publishedAt: string;
}

export interface JourneySummary {
  id: string;
  name: string;
  status: JourneyStatus;
  latestVersion: number;
  trigger: JourneyPlan['definition']['trigger'];
  category: JourneyPlan['definition']['category'];
}

/**
 * Stores a plan as the next version of its journey. Content identical to the newest version is a
 * no-op. Versions are never changed or deleted: customers inside finish on theirs.
 */
export async function publishVersion(
  db: Db,
  plan: JourneyPlan,
  source: string,
  sourcePath: string | null,
): Promise<{ version: number; created: boolean }> {
  const journeyId = plan.definition.journey;
  return db.transaction().execute(async (tx) => {
    await tx
      .insertInto('journeys')
      .values({ id: journeyId, status: 'active', updated_at: new Date() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    // Serializes concurrent publishers of one journey.
    await tx.selectFrom('journeys').select('id').where('id', '=', journeyId).forUpdate().execute();
    const latest = await tx
      .selectFrom('journey_versions')
      .select(['version', 'content_hash'])
      .where('journey_id', '=', journeyId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (latest && latest.content_hash === plan.contentHash) return { version: latest.version, created: false };
    const version = (latest?.version ?? 0) + 1;
    await tx
      .insertInto('journey_versions')
      .values({
        journey_id: journeyId,
        version,
        content_hash: plan.contentHash,
        definition: JSON.stringify(plan),
        source,
        source_path: sourcePath,
      })
      .execute();
    return { version, created: true };
  });
}

/** The newest version number of the journey of the row `v`. */
function latestVersionOf(eb: ExpressionBuilder<Database & { v: Database['journey_versions'] }, 'v'>) {
  return eb
    .selectFrom('journey_versions as w')
    .select((w) => w.fn.max('w.version').as('m'))
    .whereRef('w.journey_id', '=', 'v.journey_id');
}

function toPublished(row: {
  status: JourneyStatus;
  journey_id: string;
  version: number;
  content_hash: string;
  definition: unknown;
  published_at: Date;
}): PublishedVersion {
  return {
    journeyId: row.journey_id,
    status: row.status,
    version: row.version,
    contentHash: row.content_hash,
    plan: row.definition as JourneyPlan,
    publishedAt: row.published_at.toISOString(),
  };
}

/**
 * The newest version number and status of every journey, without the plans: what routing reads for
 * each event (a version's plan never changes, so the intake keeps plans once read).
 */
export interface PublishedVersionNumber {
  journeyId: string;
  version: number;
  status: JourneyStatus;
}

export async function latestVersionNumbers(db: Db): Promise<PublishedVersionNumber[]> {
  const rows = await db
    .selectFrom('journey_versions as v')
    .innerJoin('journeys as j', 'j.id', 'v.journey_id')
    .select(['v.journey_id', 'v.version', 'j.status'])
    .where((eb) => eb('v.version', '=', latestVersionOf(eb)))
    .orderBy('v.journey_id')
    .execute();
  return rows.map((r) => ({ journeyId: r.journey_id, version: r.version, status: r.status }));
}

/** The newest version of every journey, paused ones included (they take no new enrollments). */
export async function latestVersions(db: Db): Promise<PublishedVersion[]> {
  const rows = await db
    .selectFrom('journey_versions as v')
    .innerJoin('journeys as j', 'j.id', 'v.journey_id')
    .select(['v.journey_id', 'v.version', 'v.content_hash', 'v.definition', 'v.published_at', 'j.status'])
    .where((eb) => eb('v.version', '=', latestVersionOf(eb)))
    .orderBy('v.journey_id')
    .execute();
  return rows.map(toPublished);
}

export async function listJourneys(db: Db): Promise<JourneySummary[]> {
  const rows = await db
    .selectFrom('journey_versions as v')
    .innerJoin('journeys as j', 'j.id', 'v.journey_id')
    .select(['v.journey_id', 'v.version', 'v.definition', 'j.status'])
    .where((eb) => eb('v.version', '=', latestVersionOf(eb)))
    .orderBy('v.journey_id')
    .execute();
  return rows.map((r) => {
    const plan = r.definition as JourneyPlan;
    return {
      id: r.journey_id,
      name: plan.definition.name,
      status: r.status,
      latestVersion: r.version,
      trigger: plan.definition.trigger,
      category: plan.definition.category,
    };
  });
}

export async function setJourneyStatus(db: Db, journeyId: string, status: JourneyStatus): Promise<boolean> {
  const r = await db
    .updateTable('journeys')
    .set({ status, updated_at: new Date() })
    .where('id', '=', journeyId)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
