/**
 * Every activity, built from its dependencies so tests can pass real or stand-in ones.
 * Workflow code imports only the `Activities` type from here.
 */
import { activityInfo } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Db } from './db/database';
import type { Mailer } from './channels/email';
import type { SmsSender } from './channels/sms';
import { createJourneyRecords } from './journey-records';
import { createMessaging, type MessagingDeps } from './messaging';
import { createWebhooks, type WebhookPolicy } from './webhook';
import type { PolicySettings } from './policy';
import { createSegmentActivities, type ScheduledEnroll } from './segments';
import type { SegmentWatch } from './segment-watch';
import { createInsightActivities } from './insights/refresh';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  sms: SmsSender;
  mailFrom: string;
  replyTo?: MessagingDeps['replyTo'];
  unsubscribe?: MessagingDeps['unsubscribe'];
  logger: Logger;
  webhooks?: WebhookPolicy;
  policy?: PolicySettings;
  onSendPoint?: MessagingDeps['onSendPoint'];
  sendRate?: MessagingDeps['sendRate'];
  /** Enrolls a customer by a scheduled run's event (the event intake); needed by scheduled journeys. */
  enroll?: ScheduledEnroll;
  /** Follows customers' segments and lifecycle stages as they change (the event intake's). */
  segments?: SegmentWatch;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createMessaging(deps),
    ...createJourneyRecords(
      deps.db,
      () => activityInfo().workflowExecution?.workflowId ?? 'unknown',
      deps.segments,
      deps.logger,
    ),
    ...createWebhooks(deps.db, deps.webhooks ?? { allowHosts: [], allowPrivate: false }),
    ...createSegmentActivities(deps.db, deps.enroll),
    ...createInsightActivities(deps.db, deps.segments),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { SendRequest, SendOutcome } from './messaging';
export type { FinishRequest } from './journey-records';
