/**
 * Journey documents fuzzed (fast-check): 10,000 documents made from the valid ones Rapport ships by
 * changing their structure (a key removed, renamed or given another value, a step repeated, a list
 * emptied) or their text (characters inserted, deleted, replaced). Validation never crashes, and
 * every problem it reports names a line inside the document, a column, and a path (empty only for a
 * YAML syntax error or a document that is not a mapping, which concern the file as a whole).
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { liquidChecker } from '../../activities/render';
import { templateReader } from '../../client/server/journeys/load';
import { compileJourney } from '../../definitions/compile';
import { builtinJourneysDir, builtinTemplatesDir, projectRoot } from '../../paths';

const seeds = [
  ...fs
    .readdirSync(builtinJourneysDir)
    .filter((f) => f.endsWith('.yaml') && !f.endsWith('.scenarios.yaml'))
    .map((f) => path.join(builtinJourneysDir, f)),
  path.join(projectRoot, 'test', 'fixtures', 'format', 'example.yaml'),
  ...fs
    .readdirSync(path.join(projectRoot, 'test', 'fixtures', 'journeys'))
    .map((f) => path.join(projectRoot, 'test', 'fixtures', 'journeys', f)),
].map((file) => fs.readFileSync(file, 'utf8'));
// Each seed parsed once; a document's mutations work on a copy.
const parsedSeeds = seeds.map((source) => parse(source) as Json);

// The templates are read once: the documents change, the template files do not.
const readTemplate = templateReader(builtinTemplatesDir);
const templates = new Map<string, ReturnType<typeof readTemplate>>();
const options = {
  readTemplate: (...args: Parameters<typeof readTemplate>) => {
    const key = JSON.stringify(args);
    if (!templates.has(key)) templates.set(key, readTemplate(...args));
    return templates.get(key);
  },
  liquid: liquidChecker,
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Seg = string | number;

/** Every path in a value, the root included. */
function pathsOf(value: Json, at: Seg[] = []): Seg[][] {
  const out: Seg[][] = [at];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...at, k]));
  }
  return out;
}

/** Values a mutation puts in place of another: odd scalars, expressions, templates, structures. */
const strangeValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    0,
    -1,
    1e308,
    '',
    ' ',
    'send',
    'wait',
    'branch',
    '3d',
    '-1d',
    '99999999999d',
    '25:61',
    'customer.email ==',
    'customer.metrics.orderCount > "x"',
    '{{ customer.firstName',
    '{% if %}',
    '{{ customer.nope | nofilter }}',
    'https://',
    'http://example.com/hook',
    'a'.repeat(5000),
    '\u0000',
    '💥',
    [],
    {},
    [null],
    { type: 'exit' },
    { id: 'x', type: 'nope' },
  ),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

type Mutation =
  | { op: 'delete' | 'duplicate' | 'empty'; pick: number }
  | { op: 'replace'; pick: number; value: Json }
  | { op: 'rename'; pick: number; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete' as const, 'duplicate' as const, 'empty' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), value: strangeValue }),
  fc.record({
    op: fc.constant('rename' as const),
    pick: fc.nat(),
    key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('type', 'id', 'steps', 'when', 'timeout', 'cases')),
  }),
);

function mutate(doc: Json, m: Mutation): Json {
  const paths = pathsOf(doc);
  const at = paths[m.pick % paths.length]!;
  if (at.length === 0) return m.op === 'replace' ? m.value : doc;
  const parentPath = at.slice(0, -1);
  const last = at[at.length - 1]!;
  let parent: Json = doc;
  for (const seg of parentPath) parent = (parent as Record<Seg, Json>)[seg]!;
  const container = parent as Record<Seg, Json> & Json[];
  switch (m.op) {
    case 'delete':
      if (Array.isArray(container)) container.splice(last as number, 1);
      else delete container[last];
      break;
    case 'duplicate':
      if (Array.isArray(container)) container.splice(last as number, 0, structuredClone(container[last as number]!));
      else container[`${String(last)}_copy`] = structuredClone(container[last]);
      break;
    case 'empty': {
      const v = container[last];
      container[last] = Array.isArray(v) ? [] : v !== null && typeof v === 'object' ? {} : '';
      break;
    }
    case 'replace':
      container[last] = m.value;
      break;
    case 'rename':
      if (!Array.isArray(container) && m.key !== last) {
        container[m.key] = container[last]!;
        delete container[last];
      }
      break;
  }
  return doc;
}

type TextEdit = { at: number; del: number; insert: string };
const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  at: fc.nat(),
  del: fc.nat({ max: 8 }),
  insert: fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.constantFrom(':', '- ', '\n', '  ', '{', '[', '"', "'", '#', '&a', '*a', '!!', '\t'),
  ),
});

function edit(source: string, e: TextEdit): string {
  const at = e.at % (source.length + 1);
  return source.slice(0, at) + e.insert + source.slice(at + e.del);
}

/** A document made from a seed: structural mutations, text edits, or both. */
const document = fc
  .record({
    seed: fc.nat({ max: seeds.length - 1 }),
    mutations: fc.array(mutation, { maxLength: 4 }),
    edits: fc.array(textEdit, { maxLength: 3 }),
  })
  .map(({ seed, mutations, edits }) => {
    let doc: Json = structuredClone(parsedSeeds[seed]!);
    for (const m of mutations) doc = mutate(doc, m);
    let source = mutations.length > 0 ? stringify(doc) : seeds[seed]!;
    for (const e of edits) source = edit(source, e);
    return source;
  });

test('10,000 fuzzed journey documents: validation never crashes, and every problem has a line, a column and a path', () => {
  let refused = 0;
  let accepted = 0;
  fc.assert(
    fc.property(document, (source) => {
      const result = compileJourney(source, 'fuzzed.yaml', options);
      if (result.ok) {
        accepted += 1;
        return;
      }
      refused += 1;
      expect(result.problems.length).toBeGreaterThan(0);
      const lineCount = source.split('\n').length;
      for (const p of result.problems) {
        expect(p.file).toBe('fuzzed.yaml');
        expect(p.message.length).toBeGreaterThan(0);
        expect(Number.isInteger(p.line) && p.line >= 1 && p.line <= lineCount + 1).toBe(true);
        expect(Number.isInteger(p.column) && p.column >= 1).toBe(true);
        expect(typeof p.path).toBe('string');
        // Only a problem of the file as a whole has no path.
        if (p.path === '') expect(p.message).toMatch(/^(YAML: |expected a journey: a mapping)/);
      }
    }),
    { numRuns: 10_000, seed: 20261202 },
  );
  // The documents are mostly broken, and some changes leave a valid journey: both kinds are tried.
  expect(refused).toBeGreaterThan(5_000);
  expect(accepted).toBeGreaterThan(0);
});
