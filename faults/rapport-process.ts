/**
 * Rapport as `rapport start` runs it (worker/start.ts: worker, router, API and reconciler in one
 * process, on the Temporal server and PostgreSQL of TEMPORAL_ADDRESS and DATABASE_URL), with one fault
 * point armed: FAULTS_KILL_AT names it, and the process kills itself (SIGKILL: no clean-up, no
 * flush) the first time each event, send, task, run or page reaches it. A marker file in
 * FAULTS_MARKERS remembers each, so the process started again goes past it. `npm run faults` starts
 * it, and starts it again after each kill (faults/kill.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { InjectedSinks } from '@temporalio/worker';
import pino from 'pino';
import { parseConfig } from '../worker/config';
import { startRapport } from '../worker/start';
import type { FaultSinks, WorkflowFaultPoint } from './interceptors';

/** The points a process can be killed at; `import` is done from outside (faults/kill.ts). */
export type KillPoint =
  'before-route' | 'after-start' | 'in-flight' | 'after-send' | 'task-created' | 'continue-as-new' | 'segment-page';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const at = process.env.FAULTS_KILL_AT as KillPoint | undefined;
  const markers = need('FAULTS_MARKERS');
  const logger = pino(
    { level: process.env.FAULTS_LOG_LEVEL ?? 'silent' },
    pino.destination(process.env.FAULTS_LOG_FILE ?? 2),
  );
  /** Dies the first time `key` reaches the armed point, never again. */
  const reached = (point: KillPoint, key: string) => {
    if (point !== at) return;
    const marker = path.join(markers, `${point}.${key.replace(/[^\w.-]/g, '_')}`);
    if (fs.existsSync(marker)) return;
    fs.writeFileSync(marker, '');
    process.kill(process.pid, 'SIGKILL');
  };
  const sinks: InjectedSinks<FaultSinks> = {
    faults: {
      reached: { fn: (_info, point: WorkflowFaultPoint, key: string) => reached(point, key), callDuringReplay: false },
    },
  };
  const rapport = await startRapport(parseConfig(process.env), logger, {
    overrides: {
      onRoutePoint: (point, eventId) => reached(point, eventId),
      onSendPoint: (point, sendKey) => {
        if (point === 'in-flight' || point === 'after-send') reached(point, Buffer.from(sendKey).toString('hex'));
      },
      wrapActivities: (activities) => ({
        ...activities,
        async createTask(req: Parameters<typeof activities.createTask>[0]) {
          const taskId = await activities.createTask(req);
          reached('task-created', Buffer.from(req.taskKey).toString('hex'));
          return taskId;
        },
      }),
      ...(process.env.FAULTS_MAX_STEPS_PER_RUN ? { maxStepsPerRun: Number(process.env.FAULTS_MAX_STEPS_PER_RUN) } : {}),
    },
    worker: { workflowBundle: { codePath: need('FAULTS_BUNDLE') }, sinks },
  });
  process.stdout.write(`ready ${rapport.apiUrl}\n`);
  // For the soak: the process's memory by kind every 5 s, so a growing RSS can be told apart as the
  // JavaScript heap, buffers outside it, or native memory (Temporal's core, the allocator).
  const memoryFile = process.env.FAULTS_MEMORY_FILE;
  if (memoryFile) {
    const write = () => fs.writeFileSync(memoryFile, JSON.stringify(process.memoryUsage()));
    write();
    setInterval(write, 5000).unref();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
