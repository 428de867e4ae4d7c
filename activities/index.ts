/**
 * Every activity, built from its dependencies so tests can pass real or stand-in ones.
 * Workflow code imports only the `Activities` type from here.
 */
import type { Logger } from 'pino';
import type { Db } from './db/database';
import type { Mailer } from './channels/email';
import type { SmsSender } from './channels/sms';
import { createMessaging } from './messaging';
import { finishEnrollment } from './store/enrollments';
import { appendTimeline } from './store/timeline';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  sms: SmsSender;
  mailFrom: string;
  logger: Logger;
}

export interface FinishRequest {
  enrollmentId: string;
  customerId: string;
  journeyId: string;
  outcome: 'completed' | 'exited';
  reason?: string;
  at: string;
}

export function createActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    ...createMessaging(deps),

    async finishEnrollment(req: FinishRequest): Promise<void> {
      await finishEnrollment(db, req.enrollmentId, req.outcome, req.reason ?? req.outcome, req.at);
      await appendTimeline(db, {
        customerId: req.customerId,
        at: req.at,
        kind: 'enrollment',
        summary: `${req.outcome === 'completed' ? 'completed' : 'left'} journey ${req.journeyId}${req.reason ? ` (${req.reason})` : ''}`,
        ref: `end:${req.enrollmentId}`,
        data: { journey: req.journeyId, enrollment: req.enrollmentId, outcome: req.outcome },
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { SendRequest, SendOutcome } from './messaging';
