/** Journeys: list, versions, publish, pause, resume, enrollments with where each customer is, cancel one. */
import { stringify } from 'yaml';
import { z } from 'zod';
import { liquidChecker } from '../../../../activities/render';
import { knownTopics, topicTexts } from '../../../../activities/topics';
import { getEnrollment, listJourneyEnrollments } from '../../../../activities/store/enrollments';
import { recordAudit } from '../../../../activities/store/audit';
import { listJourneys, publishVersion, setJourneyStatus } from '../../../../activities/store/journeys';
import { journeyVersions, publishImpact, versionPlan, versionSource } from '../../../../activities/store/versions';
import { compileJourney } from '../../../../definitions/compile';
import { templateLocalesReader, templateReader, toPlan } from '../../journeys/load';
import type { App } from '../app';
import { actorOf } from '../auth';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { cancelEnrollment } from '../../events/enrollments';
import { journeyReport } from '../../journeys/report';

const idParam = z.object({ id: z.string().min(1) });

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a day: YYYY-MM-DD (UTC)')
  // Date.parse takes 2026-02-30 for 2 March: only a day that reads back the same exists.
  .refine((d) => {
    const t = Date.parse(d);
    return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === d;
  }, 'expected a day that exists');

const reportQuery = z
  .object({
    version: z.coerce.number().int().min(1).optional(),
    since: day.optional(),
    until: day.optional(),
  })
  .refine((q) => !q.since || !q.until || q.since < q.until, { message: 'since must be before until', path: ['until'] });

const publishBody = z
  .object({
    /** The command line's compiled plan, with the templates it read; without it, the server's templates folder. */
    plan: z
      .object({
        definition: z.unknown(),
        templates: z.record(z.string(), z.unknown()),
        contentHash: z.string().regex(/^[0-9a-f]{64}$/),
      })
      .optional(),
    source: z.string(),
    sourcePath: z.string().nullable().optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();

export function journeyRoutes(app: App, deps: ApiDeps): void {
  // The subscription topics a journey may name, as `rapport validate` checks them.
  const topics = knownTopics(topicTexts(deps.channels?.textsDir));
  const { db } = deps;

  app.get(
    '/v1/journeys',
    {
      schema: {
        summary: 'Every journey, its newest version and status, and how many customers are inside now',
        tags: ['journeys'],
      },
    },
    async () => {
      const inside = await db
        .selectFrom('enrollments')
        .select(['journey_id', (eb) => eb.fn.countAll<string>().as('n')])
        .where('status', '=', 'active')
        .groupBy('journey_id')
        .execute();
      const counts = new Map(inside.map((r) => [r.journey_id, Number(r.n)]));
      return {
        journeys: (await listJourneys(db)).map((j) => ({ ...j, inside: counts.get(j.id) ?? 0 })),
      };
    },
  );

  app.get(
    '/v1/journeys/:id',
    {
      schema: {
        summary: 'A journey, its versions, and how many customers are at each step',
        tags: ['journeys'],
        params: idParam,
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const summary = (await listJourneys(db)).find((j) => j.id === id);
      if (!summary) return sendProblem(reply, 404, 'Not found', `no journey ${id}`);
      const enrollments = await db
        .selectFrom('enrollments')
        .select(['version', 'status', 'current_step', (eb) => eb.fn.countAll<string>().as('n')])
        .where('journey_id', '=', id)
        .groupBy(['version', 'status', 'current_step'])
        .orderBy('version')
        .execute();
      const plan = await versionPlan(db, id, summary.latestVersion);
      return {
        ...summary,
        // The newest version as published: what the console draws.
        definition: plan?.definition ?? null,
        versions: await journeyVersions(db, id),
        enrollments: enrollments.map((e) => ({
          version: e.version,
          status: e.status,
          step: e.current_step,
          customers: Number(e.n),
        })),
      };
    },
  );

  app.get(
    '/v1/journeys/:id/report',
    {
      schema: {
        summary:
          'Did it work: entered, each step and way out, messages by status, the goal, exits, and split paths compared',
        description:
          "Days are UTC, `since` inclusive and `until` exclusive, counted in the journey's own time. Without `version`, all versions together, laid out by the newest.",
        tags: ['journeys'],
        params: idParam,
        querystring: reportQuery,
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const versions = await journeyVersions(db, id);
      if (versions.length === 0) return sendProblem(reply, 404, 'Not found', `no journey ${id}`);
      const version = req.query.version ?? Math.max(...versions.map((v) => v.version));
      const plan = await versionPlan(db, id, version);
      if (!plan) return sendProblem(reply, 404, 'Not found', `journey ${id} has no version ${version}`);
      return journeyReport(db, plan.definition, req.query);
    },
  );

  app.get(
    '/v1/journeys/:id/source',
    {
      schema: {
        summary: 'The YAML a version of a journey was published from (the newest unless `version` is given)',
        tags: ['journeys'],
        params: idParam,
        querystring: z.object({ version: z.coerce.number().int().min(1).optional() }),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const row = await versionSource(db, id, req.query.version);
      if (!row) {
        return sendProblem(
          reply,
          404,
          'Not found',
          req.query.version ? `journey ${id} has no version ${req.query.version}` : `no journey ${id}`,
        );
      }
      return { journey: id, ...row };
    },
  );

  app.get(
    '/v1/journeys/:id/versions',
    { schema: { summary: 'The published versions of a journey', tags: ['journeys'], params: idParam } },
    async (req) => ({ versions: await journeyVersions(db, req.params.id) }),
  );

  app.get(
    '/v1/journeys/:id/enrollments',
    {
      schema: {
        summary: 'Customers in a journey, newest first, with the step each one is at',
        tags: ['journeys'],
        params: idParam,
        querystring: z.object({
          status: z.enum(['active', 'completed', 'exited', 'cancelled', 'failed']).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
      },
    },
    async (req) => ({
      enrollments: await listJourneyEnrollments(db, req.params.id, {
        status: req.query.status,
        limit: req.query.limit,
      }),
    }),
  );

  app.post(
    '/v1/enrollments/:id/cancel',
    {
      schema: {
        summary: 'Take one customer out of a journey now',
        tags: ['journeys'],
        params: idParam,
        body: z
          .object({ reason: z.string().min(1).max(500).optional() })
          .strict()
          .optional(),
      },
    },
    async (req, reply) => {
      const e = await getEnrollment(db, req.params.id);
      if (!e) return sendProblem(reply, 404, 'Not found', `no enrollment ${req.params.id}`);
      if (e.status !== 'active') return sendProblem(reply, 409, 'Conflict', `enrollment ${e.id} is ${e.status}`);
      await cancelEnrollment(
        deps,
        e.id,
        e.workflow_id,
        e.customer_id,
        e.journey_id,
        req.body?.reason ?? 'cancelled through the API',
      );
      return { enrollment: e.id, status: 'cancelled' };
    },
  );

  /** Publishes a compiled plan (the command line compiles and validates first); a dry run only shows the impact. */
  app.post(
    '/v1/journeys/publish',
    {
      schema: {
        summary: 'Publish a journey (a new version when its content changed)',
        tags: ['journeys'],
        body: publishBody,
      },
    },
    async (req, reply) => {
      const body = req.body;
      // The server compiles the source itself, with every check `rapport validate` makes; the templates
      // come with the request (the command line read them from its templates folder), or without a plan
      // (the console) from the server's own templates folder.
      const templates = body.plan?.templates;
      if (!templates && !deps.templatesDir) {
        return sendProblem(reply, 422, 'Invalid body', 'this server has no templates folder: send the compiled plan', [
          { path: 'plan', message: 'missing required field (expected object)' },
        ]);
      }
      const compiled = compileJourney(body.source, body.sourcePath ?? 'journey.yaml', {
        ...(templates
          ? {
              // A template's locale variants come as `<channel>:<name>@<locale>`, as the command line publishes them.
              readTemplate: (name, channel, locale) => {
                const t = templates[`${channel}:${name}${locale ? `@${locale}` : ''}`];
                return t === undefined ? undefined : stringify(t);
              },
              templateLocales: (name, channel) =>
                Object.keys(templates)
                  .filter((k) => k.startsWith(`${channel}:${name}@`))
                  .map((k) => k.slice(`${channel}:${name}@`.length))
                  .sort(),
            }
          : {
              readTemplate: templateReader(deps.templatesDir!),
              templateLocales: templateLocalesReader(deps.templatesDir!),
            }),
        liquid: liquidChecker,
        topics,
        ...(deps.allowHttpWebhooks ? { allowHttpWebhooks: true } : {}),
      });
      if (!compiled.ok) {
        return sendProblem(
          reply,
          422,
          'Invalid journey',
          `the journey has ${compiled.problems.length} problem(s)`,
          compiled.problems.map((p) => ({
            path: p.path,
            message: `${p.line}:${p.column}: ${p.message}`,
            line: p.line,
            column: p.column,
          })),
        );
      }
      const plan = toPlan(compiled.journey);
      const impact = await publishImpact(db, plan);
      // What `rapport validate` warns of (a translation without a variable its default reads), as text.
      const warnings = compiled.warnings.map(
        (w) => `${w.line}:${w.column}: ${w.path ? `${w.path}: ` : ''}${w.message}`,
      );
      if (body.dryRun) return { dryRun: true, ...impact, ...(warnings.length ? { warnings } : {}) };
      const { version, created } = await publishVersion(db, plan, body.source, body.sourcePath ?? null);
      // Publishing what is already the newest version changes nothing, and is not noted.
      if (created) {
        await recordAudit(db, {
          actor: actorOf(req),
          action: 'journey.publish',
          target: `journey:${plan.definition.journey}`,
          detail: { version, contentHash: plan.contentHash },
        });
      }
      await deps.onPublished?.(plan.definition.journey);
      return reply
        .code(created ? 201 : 200)
        .send({ dryRun: false, version, created, ...impact, ...(warnings.length ? { warnings } : {}) });
    },
  );

  for (const [action, status] of [
    ['pause', 'paused'],
    ['resume', 'active'],
  ] as const) {
    app.post(
      `/v1/journeys/:id/${action}`,
      {
        schema: {
          summary: `${action === 'pause' ? 'Pause' : 'Resume'} a journey’s new enrollments`,
          tags: ['journeys'],
          params: idParam,
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        if (!(await setJourneyStatus(db, id, status))) return sendProblem(reply, 404, 'Not found', `no journey ${id}`);
        await recordAudit(db, { actor: actorOf(req), action: `journey.${action}`, target: `journey:${id}` });
        await deps.onPublished?.(id);
        return { journey: id, status };
      },
    );
  }
}
