/**
 * The messages Rapport's workflows take, each defined once: the workflows set their handlers with
 * these definitions, and every caller (the router, the API's routes, the test harness, tools, tests
 * and benchmarks) signals, asks and starts with the same ones, so a name or a payload's type cannot
 * drift apart. It imports only @temporalio/workflow, whose definitions are plain values usable
 * anywhere, and types.
 *
 *   await client.workflow.getHandle(id).signal(journeyEventSignal, { event, customer });
 *   const state = await handle.query(journeyStateQuery);
 *   await client.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, { args: [input], … });
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  EventSignal,
  InsightsRefreshInput,
  InsightsRefreshState,
  JourneyInput,
  JourneyResult,
  JourneyState,
  SegmentRunInput,
  SegmentRunState,
  TaskSignal,
} from './types';

/** The journey interpreter: one run per customer per journey. */
export type JourneyWorkflow = (input: JourneyInput) => Promise<JourneyResult>;
export const JOURNEY_WORKFLOW = 'journeyWorkflow';

/** One run of a scheduled journey over its segment. */
export type SegmentRunWorkflow = (input: SegmentRunInput) => Promise<SegmentRunState>;
export const SEGMENT_RUN_WORKFLOW = 'segmentRunWorkflow';

/** A refresh of the customer value models, and of everyone's segments and lifecycle stages. */
export type InsightsRefreshWorkflow = (input: InsightsRefreshInput) => Promise<InsightsRefreshState>;
export const INSIGHTS_REFRESH_WORKFLOW = 'insightsRefreshWorkflow';

/** Where an enrollment is: its step, what it waits for, its history. */
export const journeyStateQuery = defineQuery<JourneyState>('journeyState');
/** A customer's event, for wait_for steps, the goal and exit events. */
export const journeyEventSignal = defineSignal<[EventSignal]>('journeyEvent');
/** A task of this enrollment was completed through the API. */
export const taskCompletedSignal = defineSignal<[TaskSignal]>('taskCompleted');

/** A segment run's progress. */
export const segmentRunStateQuery = defineQuery<SegmentRunState>('segmentRunState');

/** A refresh's progress. */
export const insightsRefreshStateQuery = defineQuery<InsightsRefreshState>('insightsRefreshState');
