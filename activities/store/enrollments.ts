import type { Db } from '../db/database';
import type { EnrollmentRow, EnrollmentStatus } from '../db/schema';

export interface EnrollmentView {
  id: string;
  journeyId: string;
  version: number;
  workflowId: string;
  status: EnrollmentStatus;
  currentStep: string | null;
  goalMet: boolean;
  outcome: string | null;
  startedAt: string;
  endedAt: string | null;
}

function toEnrollmentView(r: EnrollmentRow): EnrollmentView {
  return {
    id: r.id,
    journeyId: r.journey_id,
    version: r.version,
    workflowId: r.workflow_id,
    status: r.status,
    currentStep: r.current_step,
    goalMet: r.goal_met,
    outcome: r.outcome,
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at?.toISOString() ?? null,
  };
}

export async function listEnrollments(db: Db, customerId: string): Promise<EnrollmentView[]> {
  const rows = await db
    .selectFrom('enrollments')
    .selectAll()
    .where('customer_id', '=', customerId)
    .orderBy('started_at')
    .execute();
  return rows.map(toEnrollmentView);
}

export async function finishEnrollment(
  db: Db,
  enrollmentId: string,
  status: Exclude<EnrollmentStatus, 'active'>,
  outcome: string,
  at: Date | string,
): Promise<void> {
  await finishing(db, enrollmentId, status, outcome, at).execute();
}

/** The update that ends an enrollment, to run alone (finishEnrollment) or with the report's counts. */
export function finishing(
  db: Db,
  enrollmentId: string,
  status: Exclude<EnrollmentStatus, 'active'>,
  outcome: string,
  at: Date | string,
) {
  return db
    .updateTable('enrollments')
    .set({ status, outcome, ended_at: at, current_step: null })
    .where('id', '=', enrollmentId)
    .where('status', '=', 'active');
}

/** A journey's enrollments, newest first, with where each customer is. */
export async function listJourneyEnrollments(
  db: Db,
  journeyId: string,
  options: { status?: EnrollmentStatus | undefined; limit?: number } = {},
): Promise<(EnrollmentView & { customerId: string })[]> {
  let q = db.selectFrom('enrollments').selectAll().where('journey_id', '=', journeyId);
  if (options.status) q = q.where('status', '=', options.status);
  const rows = await q
    .orderBy('started_at', 'desc')
    .limit(options.limit ?? 100)
    .execute();
  return rows.map((r) => ({ ...toEnrollmentView(r), customerId: r.customer_id }));
}

export async function getEnrollment(db: Db, id: string) {
  return db.selectFrom('enrollments').selectAll().where('id', '=', id).executeTakeFirst();
}
