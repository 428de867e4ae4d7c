/**
 * The journey interpreter: one workflow per customer per journey, walking the published version of
 * the definition it was started with (it travels in the input, so republishing never moves a
 * customer already inside).
 */
import { defineQuery, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Step } from '../definitions/schema/journey';
import { SA_STEP } from '../definitions/search-attributes';
import { acts } from './activities';
import { runStep, type StepContext } from './steps';
import type { JourneyInput, JourneyResult, JourneyState, StepOutcomeKind } from './types';

export const journeyStateQuery = defineQuery<JourneyState>('journeyState');

export async function journeyWorkflow(input: JourneyInput): Promise<JourneyResult> {
  const state: JourneyState = {
    journey: input.plan.definition.journey,
    version: input.version,
    customerId: input.customerId,
    enrollmentId: input.enrollmentId,
    enrolledAt: new Date(workflowInfo().startTime).toISOString(),
    status: 'active',
    currentStep: null,
    history: [],
  };
  setHandler(journeyStateQuery, () => state);

  const visits = new Map<string, number>();
  const ctx: StepContext = {
    input,
    state,
    acts,
    visits: (id) => visits.get(id) ?? 0,
    record(stepId, type, outcome: StepOutcomeKind, detail) {
      state.history.push({
        stepId,
        type,
        at: new Date().toISOString(),
        outcome,
        ...(detail !== undefined ? { detail } : {}),
      });
    },
  };

  const runList = async (steps: readonly Step[]): Promise<{ exit: string } | undefined> => {
    for (const step of steps) {
      state.currentStep = step.id;
      upsertSearchAttributes([{ key: SA_STEP, value: step.id }]);
      const result = await runStep(step, ctx);
      visits.set(step.id, (visits.get(step.id) ?? 0) + 1);
      if ('exit' in result) return result;
    }
    return undefined;
  };

  const exited = await runList(input.plan.definition.steps);
  state.status = exited ? 'exited' : 'completed';
  state.currentStep = null;
  upsertSearchAttributes([{ key: SA_STEP, value: exited ? 'exited' : 'completed' }]);
  await acts.finishEnrollment({
    enrollmentId: input.enrollmentId,
    customerId: input.customerId,
    journeyId: state.journey,
    outcome: state.status,
    ...(exited ? { reason: exited.exit } : {}),
    at: new Date().toISOString(),
  });
  return { outcome: state.status, ...(exited ? { reason: exited.exit } : {}), history: state.history };
}
