import type { Db } from '../db/database';
import type { JourneyPlan } from '../../definitions/schema/journey';
import { walk } from '../../definitions/steps';

export interface VersionInfo {
  version: number;
  contentHash: string;
  publishedAt: string;
  sourcePath: string | null;
}

export async function journeyVersions(db: Db, journeyId: string): Promise<VersionInfo[]> {
  const rows = await db
    .selectFrom('journey_versions')
    .select(['version', 'content_hash', 'published_at', 'source_path'])
    .where('journey_id', '=', journeyId)
    .orderBy('version')
    .execute();
  return rows.map((r) => ({
    version: r.version,
    contentHash: r.content_hash,
    publishedAt: r.published_at.toISOString(),
    sourcePath: r.source_path,
  }));
}

/** The YAML a version was published from: the newest version's unless one is given. */
export async function versionSource(
  db: Db,
  journeyId: string,
  version?: number,
): Promise<{ version: number; source: string; sourcePath: string | null } | undefined> {
  const row = await db
    .selectFrom('journey_versions')
    .select(['version', 'source', 'source_path'])
    .where('journey_id', '=', journeyId)
    .$if(version !== undefined, (q) => q.where('version', '=', version!))
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { version: row.version, source: row.source, sourcePath: row.source_path } : undefined;
}

export async function versionPlan(db: Db, journeyId: string, version: number): Promise<JourneyPlan | undefined> {
  const row = await db
    .selectFrom('journey_versions')
    .select('definition')
    .where('journey_id', '=', journeyId)
    .where('version', '=', version)
    .executeTakeFirst();
  return row?.definition as JourneyPlan | undefined;
}

export interface PublishImpact {
  journey: string;
  currentVersion: number | null;
  unchanged: boolean;
  /** Customers inside, by version and the step they are at. */
  waiting: { version: number; step: string | null; customers: number; stepInNewVersion: boolean }[];
  stepsAdded: string[];
  stepsRemoved: string[];
  note: string;
}

function stepIds(plan: JourneyPlan): string[] {
  const ids: string[] = [];
  walk(plan.definition.steps, ['steps'], (s) => ids.push(s.id));
  return ids;
}

/** What publishing `plan` would change for the customers inside the journey now. */
export async function publishImpact(db: Db, plan: JourneyPlan): Promise<PublishImpact> {
  const journey = plan.definition.journey;
  const latest = await db
    .selectFrom('journey_versions')
    .select(['version', 'content_hash', 'definition'])
    .where('journey_id', '=', journey)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  const counts = await db
    .selectFrom('enrollments')
    .select(['version', 'current_step', (eb) => eb.fn.countAll<string>().as('n')])
    .where('journey_id', '=', journey)
    .where('status', '=', 'active')
    .groupBy(['version', 'current_step'])
    .orderBy('version')
    .orderBy('current_step')
    .execute();
  const newIds = new Set(stepIds(plan));
  const oldIds = latest ? stepIds(latest.definition as JourneyPlan) : [];
  const waiting = counts.map((c) => ({
    version: c.version,
    step: c.current_step,
    customers: Number(c.n),
    stepInNewVersion: c.current_step !== null && newIds.has(c.current_step),
  }));
  const inside = waiting.reduce((n, w) => n + w.customers, 0);
  return {
    journey,
    currentVersion: latest?.version ?? null,
    unchanged: latest?.content_hash === plan.contentHash,
    waiting,
    stepsAdded: [...newIds].filter((id) => !oldIds.includes(id)),
    stepsRemoved: oldIds.filter((id) => !newIds.has(id)),
    note:
      inside === 0
        ? 'No customer is inside this journey.'
        : `${inside} customer(s) inside stay on the version they started with; only new enrollments use the new version.`,
  };
}
