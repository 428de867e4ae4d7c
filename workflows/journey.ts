/**
 * The journey interpreter: one workflow per customer per journey, walking the published version of
 * the definition it was started with (it travels in the input, so republishing never moves a
 * customer already inside). Its place is a stack of frames, so it can continue as new between any
 * two steps without losing it.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  ContinueAsNew,
  continueAsNew,
  log,
  patched,
  setHandler,
  TemporalFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { evaluateCondition } from '../definitions/cel';
import { durationMs } from '../definitions/duration';
import type { CustomerFacts, Facts } from '../definitions/facts';
import type { JourneyDefinition, Step } from '../definitions/schema/journey';
import { SA_STEP } from '../definitions/search-attributes';
import { exitEventTypes, segmentLeftType } from '../definitions/triggers';
import { acts as localRecordActs, LOCAL_RECORDS_PATCH, remoteRecordActs } from './activities';
import { journeyEventSignal, journeyStateQuery, taskCompletedSignal, type JourneyWorkflow } from './messages';
import { runStep, type StepContext } from './steps';
import { outcomeKind } from './steps/context';
import type { JourneyReportBatch } from '../activities/store/journey-stats';
import type {
  EnrollmentOutcome,
  EventSignal,
  JourneyInput,
  JourneyMemory,
  JourneyResult,
  JourneyState,
  PathSeg,
  TaskSignal,
} from './types';

const HISTORY_KEPT = 200;

/** Behind it, an enrollment whose steps ran out listens for its goal until the goal's window closes. */
const GOAL_WINDOW_PATCH = 'goal-window';
/**
 * Since this change, the step search attribute starts as the run's own (the router sets it to the
 * first step when it starts the journey), so it is upserted only when it changes; and this one patch
 * stands for the three before it (records-local, goal-window, failures-recorded), so a new journey
 * records one patch marker instead of up to three. Journeys started before replay as they ran.
 */
const KNOWN_STEP_ATTRIBUTE_PATCH = 'known-step-attribute';
/** Since this change, a step that fails for good ends the enrollment as `failed`, recorded. */
const FAILURES_RECORDED_PATCH = 'failures-recorded';
/** The step search attribute of an enrollment whose steps ran out and which waits for its goal. */
const GOAL_WINDOW_STEP = 'goal-window';
const INBOX_KEPT = 50;
const SEEN_KEPT = 200;
const COMPLETIONS_KEPT = 50;

/** The step list at a path such as ['steps', 2, 'on_timeout']. */
function listAt(def: JourneyDefinition, path: PathSeg[]): Step[] {
  let cur: unknown = def;
  for (const seg of path) cur = (cur as Record<string | number, unknown>)[seg];
  return (cur as Step[] | undefined) ?? [];
}

export async function journeyWorkflow(input: JourneyInput): Promise<JourneyResult> {
  const def = input.plan.definition;
  const exitTypes = exitEventTypes(def);
  // Records (markStep, loadCustomer, finishEnrollment...) run as local activities, and the step
  // search attribute changes only where a customer waits. Journeys started before this replay as
  // they ran: records as activities, the attribute at every step.
  const current = patched(KNOWN_STEP_ATTRIBUTE_PATCH);
  const localRecords = current || patched(LOCAL_RECORDS_PATCH);
  const acts = localRecords ? localRecordActs : remoteRecordActs;
  // The attribute as this run started with it: a journey that waits at its first step (or at the
  // step it continued as new at) need not set it again.
  let stepAttribute: string | undefined = current ? workflowInfo().typedSearchAttributes.get(SA_STEP) : undefined;
  const setStepAttribute = (value: string) => {
    if (value === stepAttribute) return;
    stepAttribute = value;
    upsertSearchAttributes([{ key: SA_STEP, value }]);
  };
  const memory: JourneyMemory = input.memory ?? {
    stack: [{ path: ['steps'], index: 0 }],
    visits: {},
    events: {},
    tasks: {},
    splits: {},
    history: [],
    inbox: [],
    nextSeq: 0,
    goalMetAt: null,
    enrolledAt: new Date(workflowInfo().startTime).toISOString(),
    runs: 0,
    seenEvents: [],
    completions: {},
  };
  memory.seenEvents ??= [];
  memory.completions ??= {};
  memory.unreported ??= [];
  memory.runs += 1;
  const state: JourneyState = {
    journey: def.journey,
    version: input.version,
    customerId: input.customerId,
    enrollmentId: input.enrollmentId,
    enrolledAt: memory.enrolledAt,
    status: 'active',
    currentStep: null,
    waitingFor: null,
    goalMet: memory.goalMetAt !== null,
    splits: memory.splits,
    history: memory.history,
    runs: memory.runs,
  };
  // A goal met (with exit) or an exit event in an earlier run ends this one at once.
  let interrupt: { outcome: EnrollmentOutcome; reason: string } | undefined = memory.interrupt ?? undefined;
  let lastCustomer: CustomerFacts | undefined;

  /**
   * The step records not yet counted in the journey's report, to go with the record written now; they
   * leave the list only once that record is written (`reported`), so a record that fails for good
   * leaves them for the enrollment's last one.
   */
  const takeReport = (): JourneyReportBatch => ({
    journeyId: def.journey,
    version: input.version,
    enrolledAt: memory.enrolledAt,
    at: new Date().toISOString(),
    group: input.holdout ?? 'treated',
    steps: memory.unreported!.slice(),
  });
  const reported = (batch: JourneyReportBatch) => memory.unreported!.splice(0, batch.steps.length);

  const facts = (customer?: CustomerFacts): Facts => ({
    ...(customer ? { customer } : {}),
    event: input.event,
    events: memory.events,
    tasks: memory.tasks,
    journey: { id: def.journey, version: input.version, enrolledAt: memory.enrolledAt },
    now: new Date().toISOString(),
  });

  setHandler(journeyStateQuery, () => state);

  setHandler(journeyEventSignal, async ({ event, customer }: EventSignal) => {
    // An event routed twice (a retry after a failure) is taken once.
    if (event.id) {
      if (memory.seenEvents.includes(event.id)) return;
      memory.seenEvents.push(event.id);
      if (memory.seenEvents.length > SEEN_KEPT) memory.seenEvents.splice(0, memory.seenEvents.length - SEEN_KEPT);
    }
    lastCustomer = customer;
    if (exitTypes.includes(event.type)) {
      interrupt ??= {
        outcome: 'exited',
        reason: event.type === segmentLeftType(def.journey) ? 'left the segment' : `exit event ${event.type}`,
      };
      return;
    }
    const goal = def.goal;
    if (goal && event.type === goal.event && memory.goalMetAt === null && goalWindowOpen()) {
      let met = true;
      if (goal.when) {
        try {
          met = evaluateCondition(goal.when, 'goal', { ...facts(customer), event });
        } catch (err) {
          log.warn('goal condition failed; not met', { error: (err as Error).message });
          met = false;
        }
      }
      if (met) {
        memory.goalMetAt = new Date().toISOString();
        state.goalMet = true;
        await acts.recordGoal({
          enrollmentId: input.enrollmentId,
          customerId: input.customerId,
          journeyId: def.journey,
          eventId: event.id ?? null,
          eventType: event.type,
          at: memory.goalMetAt,
          // The steps stay for the main loop's next record; the paths taken count the goal by path.
          report: {
            journeyId: def.journey,
            version: input.version,
            enrolledAt: memory.enrolledAt,
            at: memory.goalMetAt,
            group: input.holdout ?? 'treated',
            steps: [],
            splits: { ...memory.splits },
          },
        });
        if (goal.exit !== false) interrupt ??= { outcome: 'goal', reason: `goal met: ${event.type}` };
      }
    }
    memory.inbox.push({ seq: memory.nextSeq++, event, customer });
    if (memory.inbox.length > INBOX_KEPT) memory.inbox.splice(0, memory.inbox.length - INBOX_KEPT);
  });

  setHandler(taskCompletedSignal, (t: TaskSignal) => {
    const known = memory.tasks[t.stepId];
    if (!known || known.id !== t.taskId) {
      // Completed before this journey recorded the task (the task was visible the moment it was
      // written): kept, and taken when the task step records it.
      memory.completions[t.taskId] = { outcome: t.outcome, note: t.note, completedAt: t.completedAt };
      const kept = Object.keys(memory.completions);
      for (const old of kept.slice(0, Math.max(0, kept.length - COMPLETIONS_KEPT))) delete memory.completions[old];
      return;
    }
    memory.tasks[t.stepId] = {
      id: t.taskId,
      status: 'completed',
      outcome: t.outcome,
      note: t.note,
      completedAt: t.completedAt,
    };
  });

  function goalWindowOpen(): boolean {
    const within = def.goal?.within;
    return !within || Date.now() <= Date.parse(memory.enrolledAt) + durationMs(within);
  }

  const ctx: StepContext = {
    input,
    def,
    memory,
    state,
    acts,
    visits: (id) => memory.visits[id] ?? 0,
    record(stepId, result, detail) {
      const at = new Date().toISOString();
      memory.unreported!.push({ stepId, visit: memory.visits[stepId] ?? 0, at, result });
      memory.history.push({
        stepId,
        type: result.kind,
        at,
        outcome: outcomeKind(result),
        ...(detail ? { detail } : {}),
        result,
      });
      if (memory.history.length > HISTORY_KEPT) memory.history.splice(0, memory.history.length - HISTORY_KEPT);
    },
    facts,
    async loadCustomer() {
      const c = await acts.loadCustomer({ customerId: input.customerId });
      if (c) lastCustomer = c;
      if (!lastCustomer) throw new Error(`customer ${input.customerId} not found`);
      return lastCustomer;
    },
    async waitUntil(what, ready, timeoutMs) {
      state.waitingFor = what;
      if (localRecords) setStepAttribute(state.currentStep ?? '');
      const batch = takeReport();
      await acts.markStep({
        enrollmentId: input.enrollmentId,
        stepId: state.currentStep ?? '',
        waitingFor: what,
        report: batch,
      });
      reported(batch);
      const check = () => interrupt !== undefined || ready();
      const held = timeoutMs === undefined ? (await condition(check), true) : await condition(check, timeoutMs);
      state.waitingFor = null;
      return held && interrupt === undefined && ready();
    },
    interrupted: () => interrupt !== undefined,
  };

  /** Walks the steps from where the enrollment is, and ends it. */
  async function walk(): Promise<JourneyResult> {
    let stepsThisRun = 0;
    let exitedAt: string | undefined;
    while (memory.stack.length > 0 && !interrupt) {
      const top = memory.stack[memory.stack.length - 1]!;
      const list = listAt(def, top.path);
      if (top.index >= list.length) {
        memory.stack.pop();
        const parent = memory.stack[memory.stack.length - 1];
        if (parent) parent.index += 1;
        continue;
      }
      const suggested = workflowInfo().continueAsNewSuggested;
      if (suggested || (input.maxStepsPerRun !== undefined && stepsThisRun >= input.maxStepsPerRun)) {
        await condition(allHandlersFinished);
        // A handler that finished just now may have ended the enrollment.
        if (interrupt) break;
        await continueAsNew<typeof journeyWorkflow>({ ...input, memory: { ...memory, interrupt: null } });
      }
      const step = list[top.index]!;
      state.currentStep = step.id;
      if (!localRecords) upsertSearchAttributes([{ key: SA_STEP, value: step.id }]);
      const result = await runStep(step, ctx);
      memory.visits[step.id] = (memory.visits[step.id] ?? 0) + 1;
      stepsThisRun += 1;
      if ('exit' in result) {
        exitedAt = result.exit;
        break;
      }
      if ('enter' in result) memory.stack.push({ path: [...top.path, top.index, ...result.enter], index: 0 });
      else top.index += 1;
    }

    // The steps ran out, but the goal's window may still be open: the enrollment keeps listening for its
    // goal and its exit events until the window closes, so a conversion after the last step still
    // counts. Nothing is sent meanwhile. Journeys that reached their end before this replay as they ran.
    const stepsRanOut = !interrupt && exitedAt === undefined;
    const within = def.goal?.within;
    if (stepsRanOut && within && memory.goalMetAt === null && (current || patched(GOAL_WINDOW_PATCH))) {
      const closesAt = Date.parse(memory.enrolledAt) + durationMs(within);
      if (closesAt > Date.now()) {
        state.currentStep = null;
        state.waitingFor = `its goal (${def.goal!.event}) until ${new Date(closesAt).toISOString()}`;
        setStepAttribute(GOAL_WINDOW_STEP);
        const batch = takeReport();
        await acts.markStep({
          enrollmentId: input.enrollmentId,
          stepId: null,
          waitingFor: state.waitingFor,
          report: batch,
        });
        reported(batch);
        await condition(() => interrupt !== undefined || memory.goalMetAt !== null, closesAt - Date.now());
        state.waitingFor = null;
      }
    }

    // A goal met after the last step ends the enrollment as completed, with its goal met; an exit event
    // in the window ends it as exited.
    const ended = stepsRanOut && interrupt?.outcome !== 'exited' ? undefined : interrupt;
    const outcome: EnrollmentOutcome = ended?.outcome ?? (exitedAt !== undefined ? 'exited' : 'completed');
    const reason = ended?.reason ?? exitedAt;
    state.status = outcome;
    state.currentStep = null;
    setStepAttribute(outcome);
    await condition(allHandlersFinished);
    await acts.finishEnrollment({
      enrollmentId: input.enrollmentId,
      customerId: input.customerId,
      journeyId: def.journey,
      outcome,
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
      report: takeReport(),
    });
    return { outcome, ...(reason ? { reason } : {}), goalMet: memory.goalMetAt !== null, history: memory.history };
  }

  try {
    return await walk();
  } catch (err) {
    // Continuing as new is not a failure.
    if (err instanceof ContinueAsNew || !(current || patched(FAILURES_RECORDED_PATCH))) throw err;
    // A step that failed for good (an activity out of retries, a template or condition that cannot
    // be evaluated): the enrollment is recorded as failed, with the reason, and the run fails with
    // it, so the customer may enter again by the journey's rules. Journeys that failed before this
    // replay as they ran.
    const reason = `step ${state.currentStep ?? '(none)'} failed: ${failureMessage(err)}`;
    state.status = 'failed';
    await acts.finishEnrollment({
      enrollmentId: input.enrollmentId,
      customerId: input.customerId,
      journeyId: def.journey,
      outcome: 'failed',
      reason,
      at: new Date().toISOString(),
      report: takeReport(),
    });
    // An error of the workflow's own code would otherwise fail only its task, retried for ever.
    throw err instanceof TemporalFailure ? err : ApplicationFailure.nonRetryable(reason, 'StepFailed');
  }
}

/** What a failure says, down to its cause: an activity's failure names the activity's error. */
function failureMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  let cause = err instanceof Error ? err.cause : undefined;
  while (cause instanceof Error) {
    if (cause.message && !message.includes(cause.message)) message += `: ${cause.message}`;
    cause = cause.cause;
  }
  return message;
}

// The definition callers start it by (workflows/messages.ts) is this function's type.
journeyWorkflow satisfies JourneyWorkflow;
